"""Partner ids, key ids and bodies (PROTOCOL.md §1)."""

from __future__ import annotations

import pytest

from schemas import BODIES, KID_RE, PARTNER_ID_RE, body_of, partner_of


def test_bodies_with_chinese_labels() -> None:
    assert BODIES == {
        "audit": "审计机关",
        "discipline": "纪检监察机关",
        "inspection": "巡视巡察机构",
        "personnel": "组织人事部门",
        "authority": "行政主管部门",  # DOMAIN.md, Version 1 additions: the fifth body
    }


@pytest.mark.parametrize(
    "partner_id",
    ["audit.yanliang", "discipline.yanliang", "inspection.x", "personnel.0-a", "audit." + "a" * 63],
)
def test_good_partner_ids(partner_id: str) -> None:
    assert PARTNER_ID_RE.match(partner_id)


@pytest.mark.parametrize(
    "partner_id",
    [
        "hub",
        "audit",
        "audit.",
        "audit.-yanliang",
        "audit.Yanliang",
        "audit.yan_liang",
        "audit.yanliang.sub",
        "finance.yanliang",
        "audit." + "a" * 64,
        "audit.yanliang\n",
    ],
)
def test_bad_partner_ids(partner_id: str) -> None:
    assert not PARTNER_ID_RE.match(partner_id)


@pytest.mark.parametrize(
    ("kid", "partner"),
    [
        ("audit.yanliang#2026-11", "audit.yanliang"),
        ("discipline.yanliang#k1.A_b-c", "discipline.yanliang"),
        ("hub#2026-11", "hub"),
        ("personnel.x#" + "z" * 64, "personnel.x"),
    ],
)
def test_partner_of(kid: str, partner: str) -> None:
    assert KID_RE.match(kid)
    assert partner_of(kid) == partner


@pytest.mark.parametrize(
    "kid",
    [
        "audit.yanliang",
        "audit.yanliang#",
        "audit.yanliang#a#b",
        "audit.yanliang#has space",
        "Audit.yanliang#1",
        "hubx#1",
        "#1",
        "personnel.x#" + "z" * 65,
        "audit.yanliang#1\n",
    ],
)
def test_partner_of_malformed(kid: str) -> None:
    with pytest.raises(ValueError) as caught:
        partner_of(kid)
    assert kid not in str(caught.value)


def test_body_of() -> None:
    assert body_of("audit.yanliang") == "audit"
    assert body_of("personnel.lintong-2") == "personnel"
    assert body_of("hub") == "hub"
    with pytest.raises(ValueError):
        body_of("finance.yanliang")
