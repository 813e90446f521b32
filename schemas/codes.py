"""Check characters of the two national codes: USCC (GB 32100-2015) and ID number (GB 11643)."""

from __future__ import annotations

import datetime as dt
from typing import Final

USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of a USCC, in code-value order (I, O, S, V and Z are never used)."""

_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"


def uscc_check_character(body: str) -> str:
    """Return the check character for the first 17 characters of a USCC.

    ValueError when `body` is not 17 characters of the USCC alphabet.
    """
    if len(body) != 17 or any(char not in USCC_ALPHABET for char in body):
        raise ValueError("a USCC body is 17 characters of the USCC alphabet")
    total = sum(USCC_ALPHABET.index(char) * w for char, w in zip(body, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    """Say what is wrong with a USCC (a message fit for the sender), or None when it is valid."""
    if len(value) != 18:
        return "Must be 18 characters."
    if any(char not in USCC_ALPHABET for char in value):
        return "Must use only digits and the letters A-H, J-N, P-R, T, U, W-Y (upper case)."
    if uscc_check_character(value[:17]) != value[17]:
        return "Invalid check character."
    return None


def id_number_check_character(body: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for the first 17 digits of an ID number.

    ValueError when `body` is not 17 ASCII digits.
    """
    if len(body) != 17 or not body.isascii() or not body.isdigit():
        raise ValueError("an ID number body is 17 digits")
    total = sum(int(char) * w for char, w in zip(body, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def id_number_problem(value: str, *, today: dt.date | None = None) -> str | None:
    """Say what is wrong with a citizen ID number, or None when it is valid.

    The birth date (characters 7–14) must be a real date from 1900 up to `today`.
    """
    if len(value) != 18:
        return "Must be 18 characters."
    body, check = value[:17], value[17]
    if not body.isascii() or not body.isdigit() or check not in "0123456789X":
        return "Must be 17 digits followed by a digit or X (upper case)."
    try:
        birth = dt.date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return "Invalid birth date."
    if birth.year < 1900 or birth > (today or dt.date.today()):
        return "Invalid birth date."
    if id_number_check_character(body) != check:
        return "Invalid check character."
    return None


def mask_id_number(value: str) -> str:
    """Mask an 18-character ID number, keeping the first 3 and the last 4 characters.

    `110105199001011234` → `110***********1234`; ValueError for any other length.
    """
    if len(value) != 18:
        raise ValueError("an ID number has 18 characters")
    return value[:3] + "*" * 11 + value[-4:]
