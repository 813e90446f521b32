"""Partner ids, key ids and the five bodies (PROTOCOL.md §1; DOMAIN.md, Version 1 additions)."""

from __future__ import annotations

import re
from typing import Final

BODIES: Final[dict[str, str]] = {
    "audit": "审计机关",
    "discipline": "纪检监察机关",
    "inspection": "巡视巡察机构",
    "personnel": "组织人事部门",
    "authority": "行政主管部门",
}
"""Body id → Chinese label; the first segment of every partner id."""

HUB_PARTNER_ID: Final = "hub"
"""The partner id under which the hub signs its own receipts and notices."""

PARTNER_ID_RE: Final = re.compile(
    r"\A(?:audit|discipline|inspection|personnel|authority)\.[a-z0-9][a-z0-9-]{0,62}\Z"
)
"""A partner's id: body, dot, lower-case name (`audit.yanliang`)."""

KID_RE: Final = re.compile(
    r"\A(?P<partner>(?:audit|discipline|inspection|personnel|authority)\.[a-z0-9][a-z0-9-]{0,62}|hub)"
    r"#(?P<label>[A-Za-z0-9._-]{1,64})\Z"
)
"""A key id: `<partner id>#<label>`, the hub's own keys as `hub#<label>`."""


def partner_of(kid: str) -> str:
    """Return the partner id of a key id; ValueError when the kid is malformed."""
    match = KID_RE.match(kid) if isinstance(kid, str) else None
    if match is None:
        raise ValueError("malformed key id")
    return match["partner"]


def body_of(partner_id: str) -> str:
    """Return the body (`audit`, `discipline`…) of a partner id; `hub` for the hub."""
    if partner_id == HUB_PARTNER_ID:
        return HUB_PARTNER_ID
    if not isinstance(partner_id, str) or PARTNER_ID_RE.match(partner_id) is None:
        raise ValueError("malformed partner id")
    return partner_id.split(".", 1)[0]
