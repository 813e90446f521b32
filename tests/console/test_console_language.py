"""The console's languages (issue 11, item 5): Chinese by default, English on request, every
string of the pages translated, the catalog compiled from the kept ``.po`` file.
"""

from __future__ import annotations

import os
from pathlib import Path

import requests
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from exchange.console.i18n import TRANSLATIONS, compile_catalogs
from exchange.hub import Hub
from tests.console.test_console_auth import add, sign_in, token

ROOT = Path(__file__).resolve().parents[2]
# The extraction keywords of `make catalogs`: gettext's, and the lazy form the console uses.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}
PO = TRANSLATIONS / "zh_Hans_CN/LC_MESSAGES/messages.po"


def switch(client: requests.Session, base_url: str, lang: str, back: str) -> requests.Response:
    data = {"lang": lang, "next": back, "csrf_token": token(client, f"{base_url}/admin/login")}
    return client.post(f"{base_url}/admin/language", data=data, allow_redirects=False)


def test_sign_in_page_is_chinese_until_english_is_chosen(base_url: str) -> None:
    client = requests.Session()
    page = client.get(f"{base_url}/admin/login")
    assert '<html lang="zh-CN">' in page.text and "登录" in page.text
    assert "Sign in" not in page.text
    moved = switch(client, base_url, "en", "/admin/login")
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/admin/login")
    page = client.get(f"{base_url}/admin/login")
    assert '<html lang="en">' in page.text and "Sign in" in page.text and "登录" not in page.text
    switch(client, base_url, "zh_CN", "/admin/login")
    assert "登录" in client.get(f"{base_url}/admin/login").text


def test_the_choice_survives_sign_in_and_an_unknown_one_changes_nothing(
    hub: Hub, base_url: str
) -> None:
    add(hub, "语言", "observer")
    client = requests.Session()
    switch(client, base_url, "en", "/admin/login")
    login = f"{base_url}/admin/login"
    data = {"name": "语言", "password": "correct horse battery staple 42"}
    client.post(login, data={**data, "csrf_token": token(client, login)}, allow_redirects=False)
    home = client.get(f"{base_url}/admin/")
    assert "Welcome, 语言" in home.text and "Observer" in home.text
    switch(client, base_url, "fr", "/admin/")
    assert "Welcome" in client.get(f"{base_url}/admin/").text
    chinese = sign_in(base_url, "语言")
    assert "欢迎，语言" in chinese.get(f"{base_url}/admin/").text


def test_an_off_site_next_is_not_followed(base_url: str) -> None:
    client = requests.Session()
    moved = switch(client, base_url, "en", "//evil.example/admin/")
    assert moved.headers["Location"].endswith("/admin/")
    assert "evil" not in moved.headers["Location"]


def test_every_string_of_the_pages_has_its_chinese() -> None:
    with PO.open("rb") as source:
        catalog = read_po(source)
    method_map = [
        ("exchange/console/**.py", "python"),
        ("exchange/console/templates/**.html", "jinja2"),
    ]
    found = {
        message[2] if isinstance(message[2], str) else message[2][0]
        for message in extract_from_dir(str(ROOT), method_map, keywords=KEYWORDS)
    }
    assert len(found) > 20
    untranslated = sorted(text for text in found if not getattr(catalog.get(text), "string", ""))
    assert untranslated == []


def test_a_stale_catalog_is_compiled_again(tmp_path: Path) -> None:
    folder = tmp_path / "zh_Hans_CN/LC_MESSAGES"
    folder.mkdir(parents=True)
    po = folder / "messages.po"
    po.write_text(PO.read_text(encoding="utf-8"), encoding="utf-8")
    compile_catalogs(tmp_path)
    mo = folder / "messages.mo"
    first = mo.read_bytes()
    assert "管理控制台".encode() in first
    po.write_text(PO.read_text(encoding="utf-8").replace("管理控制台", "控制台"), encoding="utf-8")
    os.utime(po, (mo.stat().st_mtime + 5, mo.stat().st_mtime + 5))
    compile_catalogs(tmp_path)
    assert "管理控制台".encode() not in mo.read_bytes()


def test_a_refusal_is_a_page_in_the_operators_language(hub: Hub, base_url: str) -> None:
    add(hub, "拒绝", "observer")
    client = sign_in(base_url, "拒绝")
    refused = client.get(f"{base_url}/admin/users", allow_redirects=False)
    assert refused.status_code == 403 and "无权操作" in refused.text
    switch(client, base_url, "en", "/admin/")
    refused = client.get(f"{base_url}/admin/users", allow_redirects=False)
    assert refused.status_code == 403 and "Your role may not open this page" in refused.text
