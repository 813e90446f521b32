"""The console's message pages: the search (keyset pages, no counts), one message's detail
(envelope, timeline, deliveries and acks) and its evidence bundle to download — over
``exchange.console.oversight.messages`` / ``detail`` and ``exchange.transparency.evidence``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Final

from flask import Response, abort, render_template, request, url_for
from flask_babel import gettext

from exchange.console.blueprint import ROLES, bp, hub, requires
from exchange.console.i18n import STATE_NAMES
from exchange.console.oversight.detail import message_detail
from exchange.console.oversight.messages import (
    LARGEST_PAGE,
    MessageFilter,
    MessagePage,
    search_messages,
)
from exchange.errors import ExchangeError, NotFound
from exchange.transparency.evidence import export_evidence

STATES: Final = tuple(STATE_NAMES)  # the states a search may ask for, as the pages name them
_LONGEST: Final = 200
_TEXT_FILTERS: Final = ("message_id", "business_key", "partner", "type")


class FilterRefused(ValueError):
    """A filter the search cannot take; its text is shown on the page."""


def filter_of(args: dict[str, str]) -> MessageFilter:
    """The search's filter from the form's fields (empty ones keep everything)."""
    given = {name: (args.get(name) or "").strip() or None for name in (*_TEXT_FILTERS, "state")}
    for value in given.values():
        if value is not None and len(value) > _LONGEST:
            raise FilterRefused(gettext("A filter is longer than %(n)s characters.", n=_LONGEST))
    if given["state"] is not None and given["state"] not in STATES:
        raise FilterRefused(gettext("Unknown state: %(state)s.", state=given["state"]))
    days = {name: _day(args.get(name, "")) for name in ("from", "to")}
    if days["from"] and days["to"] and days["from"] > days["to"]:
        raise FilterRefused(gettext("“From” is after “to”."))
    return MessageFilter(**given, received_from=days["from"], received_to=days["to"])


def _day(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FilterRefused(
            gettext("Not a date (YYYY-MM-DD): %(text)s.", text=text.strip())
        ) from None


def _size(args: dict[str, str]) -> int:
    """Rows per page: ``size`` when given (1 to the search's largest page), else 50."""
    raw = args.get("size", "")
    if not raw:
        return 50
    if not raw.isdigit() or not 1 <= int(raw) <= LARGEST_PAGE:
        raise FilterRefused(gettext("Rows per page: 1 to %(n)s.", n=LARGEST_PAGE))
    return int(raw)


@bp.get("/messages")
@requires(*ROLES)
def messages() -> tuple[str, int]:
    """The message search: a page of rows and a link to the next page."""
    args = request.args.to_dict()
    page: MessagePage | None = None
    error = None
    try:
        found = filter_of(args)
        with hub().readers() as session:
            page = search_messages(
                session, found, cursor=args.get("cursor") or None, page_size=_size(args)
            )
    except FilterRefused as refused:
        error = str(refused)
    except ExchangeError:
        error = gettext("This page link is not valid: start the search again.")
    next_url = None
    if page is not None and page.next is not None:
        kept: dict[str, Any] = {k: v for k, v in args.items() if k != "cursor" and v}
        next_url = url_for("console.messages", **kept, cursor=page.next)
    status = 400 if error else 200
    page_html = render_template(
        "console/messages.html",
        args=args,
        states=STATES,
        page=page,
        error=error,
        next_url=next_url,
    )
    return page_html, status


@bp.get("/messages/<message_id>")
@requires(*ROLES)
def message(message_id: str) -> str:
    """One message: envelope facts, timeline, deliveries and acks."""
    the_hub = hub()
    try:
        with the_hub.readers() as session:
            view = message_detail(session, the_hub.trust, message_id)
    except NotFound:
        abort(404)
    return render_template("console/message.html", message_id=message_id, view=view)


@bp.get("/messages/<message_id>/evidence")
@requires(*ROLES)
def message_evidence(message_id: str) -> Response:
    """The message's evidence bundle (``exchange-evidence/1``), as a file."""
    the_hub = hub()
    try:
        with the_hub.sessions.begin() as session:
            bundle = export_evidence(
                session, the_hub.trust, the_hub.notary, message_id, now=the_hub.now()
            )
    except NotFound:
        abort(404)
    response = Response(
        json.dumps(bundle, ensure_ascii=False, indent=2), content_type="application/json"
    )
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in message_id)
    response.headers["Content-Disposition"] = f'attachment; filename="evidence-{safe}.json"'
    return response
