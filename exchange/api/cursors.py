"""Opaque list cursors: the sort key of a page's last row, for the one list and partner it
came from (keyset pagination; no offsets, so a page costs the same at any depth).

A cursor is base64url without padding (RFC 4648 §5) of the JSON array ``[list, partner,
*key]``. It is opaque to partners but not secret: it names only what the caller already saw,
and every page is filtered by what the caller may see whatever the cursor says.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Final

from exchange.errors import BadRequest

SortKey = tuple[str | int | datetime, ...]
"""A row's position in its list: the values of the list's unique sort key, in order."""

# Longer than any key of ours (ids are at most 128 characters): refused before decoding.
_LONGEST: Final = 1024


def encode_cursor(list_name: str, partner_id: str, key: SortKey) -> str:
    """The cursor that continues ``list_name`` for ``partner_id`` after the row at ``key``."""
    values = [_encode_value(value) for value in key]
    text = json.dumps([list_name, partner_id, *values], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, list_name: str, partner_id: str, shape: tuple[type, ...]) -> SortKey:
    """The sort key in ``cursor``, if it is one of ``list_name`` for ``partner_id`` with values
    of ``shape`` (``str``, ``int`` or ``datetime``); a 400 naming ``cursor`` otherwise.
    """
    decoded = _json_array(cursor)
    if decoded[:2] != [list_name, partner_id]:
        raise _refusal("This cursor belongs to another list or partner.")
    values = decoded[2:]
    if len(values) != len(shape):
        raise _refusal("Not a cursor of this list.")
    return tuple(_decode_value(value, kind) for value, kind in zip(values, shape, strict=True))


def _json_array(cursor: str) -> list[object]:
    if len(cursor) > _LONGEST or not cursor.isascii():
        raise _refusal("Not a cursor this hub gave.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError included
        raise _refusal("Not a cursor this hub gave.") from None
    if not isinstance(decoded, list) or len(decoded) < 2:
        raise _refusal("Not a cursor this hub gave.")
    return decoded


def _encode_value(value: str | int | datetime) -> str | int:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _decode_value(value: object, kind: type) -> str | int | datetime:
    # bool is an int to Python, never to a cursor of ours.
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 2**63:  # a BIGINT column: nothing a database could overflow on
            return value
    elif kind is str and isinstance(value, str) and len(value) <= 200:
        return value
    elif kind is datetime and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment.astimezone(UTC)
    raise _refusal("Not a cursor of this list.")


def _refusal(detail: str) -> BadRequest:
    return BadRequest(detail, errors={"cursor": [detail]})
