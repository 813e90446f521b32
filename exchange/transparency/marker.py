"""The resume marker of ``exchange log verify --since last``: the newest checkpoint a clean run
verified, kept in a file of the hub's home (the operator's record, beside the hub's keys).

The marker is only a starting point: a resumed run checks that the checkpoint it names still
has the root it had, that the hub signed it, and that the stored hashes before it fold to it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from exchange.errors import ExchangeError
from exchange.transparency.log import format_time

MARKER_FILE = "log-verified.json"


class MarkerUnreadable(ExchangeError):
    """The marker file is there but does not say which checkpoint was verified."""


@dataclass(frozen=True)
class VerifiedMark:
    """Checkpoint ``tree_size`` with ``root_hash`` passed a run of ``log verify`` at
    ``verified_at``.
    """

    tree_size: int
    root_hash: bytes
    verified_at: datetime


def read_mark(home: Path) -> VerifiedMark | None:
    """The marker in ``home``, or None when no clean run has written one."""
    path = home / MARKER_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        mark = VerifiedMark(
            tree_size=int(document["tree_size"]),
            root_hash=bytes.fromhex(document["root_hash"]),
            verified_at=datetime.fromisoformat(document["verified_at"].replace("Z", "+00:00")),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise MarkerUnreadable(f"{path} is not a log verify marker: delete it") from None
    if mark.tree_size < 1 or len(mark.root_hash) != 32:
        raise MarkerUnreadable(f"{path} is not a log verify marker: delete it")
    return mark


def write_mark(home: Path, mark: VerifiedMark) -> None:
    """Replace the marker in ``home`` at once (a crash leaves the old one or the new one)."""
    path = home / MARKER_FILE
    draft = path.with_suffix(".tmp")
    document = {
        "tree_size": mark.tree_size,
        "root_hash": mark.root_hash.hex(),
        "verified_at": format_time(mark.verified_at),
    }
    draft.write_text(json.dumps(document) + "\n", encoding="utf-8")
    os.replace(draft, path)
