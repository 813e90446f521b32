"""Discovery: the adapters installed under the entry-point group ``exchange.adapters``.

One entry point per body (``audit = "adapters.audit:AuditAdapter"``); another package may add a
body's adapter of its own (``audit-yanliang``) by declaring one in its metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Final

from adapters.errors import EdgeError

if TYPE_CHECKING:
    # Only for the annotations: adapters.base re-exports this module's names.
    from adapters.base import Adapter

ENTRY_POINT_GROUP: Final = "exchange.adapters"
"""The entry-point group adapters are installed under, one entry point per body."""


def load_adapters() -> dict[str, Callable[..., Adapter]]:
    """Every installed adapter (entry-point group ``exchange.adapters``), by entry-point name.

    The four built in are named by their body; a package may add more (``audit-yanliang``).
    EdgeError when two packages claim one name for different adapters.
    """
    found: dict[str, Callable[..., Adapter]] = {}
    claimed: dict[str, str] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry.name in claimed:
            if claimed[entry.name] != entry.value:
                raise EdgeError(f"adapter {entry.name!r} is installed twice: {entry.value}")
            continue
        claimed[entry.name] = entry.value
        found[entry.name] = entry.load()
    return found


def adapter_for(name: str, *, partner_id: str, partners: Mapping[str, str]) -> Adapter:
    """The installed adapter ``name`` (``audit``…), made for ``partner_id`` and its directory."""
    installed = load_adapters()
    if name not in installed:
        names = ", ".join(sorted(installed)) or "none"
        raise EdgeError(f"no adapter installed for {name!r} (installed: {names})")
    return installed[name](partner_id=partner_id, partners=partners)
