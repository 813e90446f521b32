"""Writing secret files: atomically, readable by the owner only."""

from __future__ import annotations

import contextlib
import os
import tempfile

StrPath = str | os.PathLike[str]


def write_private_file(path: StrPath, data: bytes) -> None:
    """Write data to path with mode 0o600, replacing any existing file atomically."""
    target = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target) or ".", prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_file(path: StrPath) -> bytes:
    """Read a whole file as bytes."""
    with open(path, "rb") as handle:
        return handle.read()
