"""The console's two languages: Chinese (zh-CN) by default, English on request (Flask-Babel).

Pages are written with English source strings — ``{{ _('Review queue') }}`` in templates,
``gettext("...")`` in Python — and ``translations/zh_Hans_CN/LC_MESSAGES/messages.po`` gives their
Chinese. English needs no catalog: it is the source. The ``.po`` file is what is kept;
``make`` compiles it to the ``.mo`` that gettext reads (``pybabel compile``), and the hub
compiles a missing or stale one when it starts, so an install made without ``make`` still
speaks Chinese. ``make catalogs`` extracts new strings into the ``.po`` (``babel.cfg``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import session
from flask_babel import lazy_gettext as _l

TRANSLATIONS = Path(__file__).with_name("translations")
# Choices as Babel parses them: ``zh_CN`` is the locale ``zh_Hans_CN``, the catalog's folder name.
LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"
# What each account role is called on the pages.
ROLE_NAMES = {"admin": _l("Administrator"), "reviewer": _l("Reviewer"), "observer": _l("Observer")}
# What each message status is called on the pages.
STATE_NAMES = {
    "pending_review": _l("Pending review"),
    "released": _l("Released"),
    "rejected": _l("Rejected"),
}
# What each push state of a delivery (``exchange.transport.outbox``) is called on the pages.
PUSH_STATE_NAMES = {
    "pending": _l("Waiting to be pushed"),
    "sending": _l("Being pushed"),
    "pushed": _l("Pushed"),
    "dead": _l("Dead letter"),
    "cancelled": _l("Cancelled"),
}

_log = logging.getLogger(__name__)


def select_locale() -> str:
    """The language chosen in this browser session, else Chinese."""
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def html_lang(locale: str) -> str:
    """The BCP 47 tag of a language choice (``zh_CN`` → ``zh-CN``), for ``<html lang>``."""
    return locale.replace("_", "-")


def compile_catalogs(root: Path = TRANSLATIONS) -> None:
    """Compile every ``.po`` under ``root`` whose ``.mo`` is missing or older than it."""
    for po in sorted(root.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            _compile(po, mo)
        except OSError as error:  # a read-only install: the pages fall back to English
            _log.warning("cannot compile %s: %s", po, error)


def _compile(po: Path, mo: Path) -> None:
    """Write ``mo`` from ``po`` atomically (several workers may start at once)."""
    with po.open("rb") as source:
        catalog = read_po(source)
    handle, temporary = tempfile.mkstemp(dir=mo.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as target:
            write_mo(target, catalog)
        os.replace(temporary, mo)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
