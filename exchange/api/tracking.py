"""Lifecycles for partners: referrals and the rectification ledger — each answering only with
what the caller sent or received (the figures are ``exchange.api.figures``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import ColumnElement, Select, Subquery, func, not_, or_, select

from exchange.api.auth import authenticate_partner
from exchange.api.cursors import SortKey, decode_cursor, encode_cursor
from exchange.api.schemas import (
    LedgerItemDetailSchema,
    LedgerPageSchema,
    LedgerQuerySchema,
    ReferralDetailSchema,
    ReferralPageSchema,
    ReferralQuerySchema,
    SubjectQuerySchema,
)
from exchange.errors import BadRequest, NotFound, SchemaInvalid
from exchange.hub import current_hub
from exchange.store.models import ReferralCase
from exchange.store.plans import read_in_index_order
from exchange.supervision.days import china_today
from exchange.supervision.overdue import ledger_overdue, referral_overdue
from exchange.supervision.reads import (
    REFERRAL_ORDER,
    case_view,
    item_view,
    ledger_page_query,
    ledger_timeline,
    listed_items,
    referral_page,
    timeline,
)
from exchange.supervision.visibility import cases_seen, seen_items, seen_rows

blp = Blueprint("tracking", __name__, url_prefix="/v1", description="Lifecycles and figures")
blp.before_request(authenticate_partner)


def _after(args: dict[str, Any], list_name: str, shape: tuple[type, ...]) -> SortKey | None:
    """The sort key the page starts after: none for the first page, else the cursor's."""
    if args.get("page", 1) != 1:
        raise SchemaInvalid(errors={"page": ["Pages are reached by cursor now: follow `next`."]})
    if "cursor" not in args:
        return None
    return decode_cursor(args["cursor"], list_name, g.partner_id, shape)


def _count(query: Select[Any, Any] | Select[Any]) -> int:
    return int(g.reader.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _page(
    args: dict[str, Any], items: list[Any], list_name: str, last_key: SortKey | None
) -> dict[str, Any]:
    page: dict[str, Any] = {"items": items, "page_size": args["page_size"], "next": None}
    if last_key is not None:
        page["next"] = encode_cursor(list_name, g.partner_id, last_key)
    return page


@blp.route("/referrals", methods=["GET"])
@blp.arguments(ReferralQuerySchema, location="query")
@blp.response(200, ReferralPageSchema)
def referrals(args: dict[str, Any]) -> Any:
    """Referrals the caller sent or received: one row per recipient's handling, newest first,
    a page at a time (``next`` is the cursor of the next page).
    """
    today = china_today(current_hub().now())
    before = _after(args, "referrals", (datetime, str, str))
    conditions: list[ColumnElement[bool]] = []
    if "state" in args:
        conditions.append(ReferralCase.state == args["state"])
    if "overdue" in args:
        overdue = referral_overdue(ReferralCase.__table__.c, today)
        conditions.append(overdue if args["overdue"] else not_(overdue))
    size = args["page_size"]
    cases = referral_page(g.reader, g.partner_id, today, conditions, before=before, limit=size + 1)
    more = len(cases) > size
    last = cases[size - 1][0] if more else None
    page = _page(
        args,
        [case_view(c, late) for c, late in cases[:size]],
        "referrals",
        None if last is None else tuple(getattr(last, name) for name in REFERRAL_ORDER),
    )
    if args["total"]:
        page["total"] = _count(cases_seen(g.partner_id, today).where(*conditions))
    return page


@blp.route("/referrals/<business_key:referral_id>", methods=["GET"])
@blp.arguments(SubjectQuerySchema, location="query")
@blp.response(200, ReferralDetailSchema)
def referral(args: dict[str, Any], referral_id: str) -> Any:
    """One referral: each visible recipient's handling, and its timeline."""
    today = china_today(current_hub().now())
    query = cases_seen(g.partner_id, today).where(ReferralCase.referral_id == referral_id)
    if "sender" in args:
        query = query.where(ReferralCase.sender == args["sender"])
    cases = list(g.reader.execute(query.order_by(ReferralCase.recipient)))
    senders = {c.sender for c, _ in cases}
    if not cases:
        raise NotFound("No such referral for you.")
    if len(senders) > 1:
        choices = ", ".join(sorted(senders))
        raise BadRequest(f"Several senders use {referral_id}: add ?sender= (one of {choices}).")
    sender = senders.pop()
    # The sender sees every recipient's steps; a recipient only its own.
    parties = None if sender == g.partner_id else [g.partner_id]
    return {
        "referral_id": referral_id,
        "from": sender,
        "message_id": cases[0][0].message_id,
        "cases": [case_view(c, late) for c, late in cases],
        "timeline": timeline(g.reader, "referral", sender, referral_id, parties),
    }


@blp.route("/ledger", methods=["GET"])
@blp.arguments(LedgerQuerySchema, location="query")
@blp.response(200, LedgerPageSchema)
def ledger(args: dict[str, Any]) -> Any:
    """Ledger items the caller owns or received status lines of (整改台账), each as of the
    latest line the caller sent or received.
    """
    today = china_today(current_hub().now())
    before = _after(args, "ledger", (str, str))
    postgresql = g.reader.get_bind().dialect.name == "postgresql"
    seen = listed_items(g.partner_id, today, lateral=postgresql)
    size = args["page_size"]
    query = ledger_page_query(
        seen, _ledger_filters(seen, args, today), after=before, limit=size + 1
    )
    read_in_index_order(g.reader)
    items = seen_rows(g.reader, query)
    more = len(items) > size
    last = items[size - 1] if more else None
    page = _page(
        args,
        [item_view(i) for i in items[:size]],
        "ledger",
        None if last is None else (last.owner, last.ledger_item_id),
    )
    if args["total"]:
        everything = seen_items(g.partner_id, today)
        page["total"] = _count(select(everything).where(*_ledger_filters(everything, args, today)))
    return page


def _ledger_filters(seen: Subquery, args: dict[str, Any], today: Any) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        seen.c[name] == args[name] for name in ("source", "status", "owner") if name in args
    ]
    if "unit" in args:
        conditions.append(or_(seen.c.unit_uscc == args["unit"], seen.c.unit_name == args["unit"]))
    if "overdue" in args:
        overdue = ledger_overdue(seen.c, today)
        conditions.append(overdue if args["overdue"] else not_(overdue))
    return conditions


@blp.route("/ledger/<business_key:ledger_item_id>", methods=["GET"])
@blp.arguments(SubjectQuerySchema, location="query")
@blp.response(200, LedgerItemDetailSchema)
def ledger_item(args: dict[str, Any], ledger_item_id: str) -> Any:
    """One ledger item, as of the latest line the caller sent or received, and its timeline
    over those lines.
    """
    today = china_today(current_hub().now())
    seen = seen_items(g.partner_id, today)
    query = select(seen).where(seen.c.ledger_item_id == ledger_item_id)
    if "sender" in args:
        query = query.where(seen.c.owner == args["sender"])
    items = seen_rows(g.reader, query)
    if not items:
        raise NotFound("No such ledger item for you.")
    if len(items) > 1:
        owners = ", ".join(sorted(i.owner for i in items))
        raise BadRequest(f"Several owners use {ledger_item_id}: add ?sender= (one of {owners}).")
    item = items[0]
    return {
        **item_view(item),
        "timeline": ledger_timeline(g.reader, g.partner_id, item.owner, ledger_item_id),
    }
