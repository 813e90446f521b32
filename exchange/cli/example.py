"""``exchange example TYPE [--from ID] [--to ID …] [--in-reply-to ID]``: a valid sample envelope
to start from. It is the partner CLI's own command (``exchange-partner example``, in
``adapters.cli``), so that an operator and a partner's engineer print the same thing; it needs
no store.
"""

from __future__ import annotations

from adapters.cli import example

__all__ = ["example"]
