"""Passwords for the CLI: from a file (``--password-file``) or typed at a hidden prompt."""

from __future__ import annotations

import getpass
from pathlib import Path

from exchange.cli.common import Refused


def read_password(path: Path | None, *, confirm: bool = False) -> str:
    """The password: the file's first line, or typed (twice when ``confirm``); one line and
    exit 2 when there is none.
    """
    if path is not None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as unreadable:
            raise Refused(f"{path}: cannot read the password ({unreadable}).") from None
        if not lines or not lines[0]:
            raise Refused(f"{path}: the first line holds no password.")
        return lines[0]
    try:
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Password again: ") != password:
            raise Refused("The passwords differ.")
    except EOFError:
        raise Refused("No password: type one, or give --password-file.") from None
    return password
