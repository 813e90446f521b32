"""Lifecycles for partners: referrals and the rectification ledger — each answering only with
what the caller sent or received (the figures are ``exchange.api.figures``).
"""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import func, not_, or_, select

from exchange.api.auth import authenticate_partner
from exchange.api.schemas import (
    LedgerItemDetailSchema,
    LedgerPageSchema,
    LedgerQuerySchema,
    ReferralDetailSchema,
    ReferralPageSchema,
    ReferralQuerySchema,
    SubjectQuerySchema,
)
from exchange.errors import BadRequest, NotFound
from exchange.hub import current_hub
from exchange.store.models import ReferralCase
from exchange.supervision.days import china_today
from exchange.supervision.overdue import ledger_overdue, referral_overdue
from exchange.supervision.reads import case_view, item_view, ledger_timeline, timeline
from exchange.supervision.visibility import cases_seen, seen_items, seen_rows

blp = Blueprint("tracking", __name__, url_prefix="/v1", description="Lifecycles and figures")
blp.before_request(authenticate_partner)


def _page(query: Any, order: Any, args: dict[str, Any]) -> tuple[list[Any], int]:
    session = g.reader
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page, size = args["page"], args["page_size"]
    rows = list(session.execute(query.order_by(*order).offset((page - 1) * size).limit(size)))
    return rows, int(total)


@blp.route("/referrals", methods=["GET"])
@blp.arguments(ReferralQuerySchema, location="query")
@blp.response(200, ReferralPageSchema)
def referrals(args: dict[str, Any]) -> Any:
    """Referrals the caller sent or received: one row per recipient's handling."""
    today = china_today(current_hub().now())
    query = cases_seen(g.partner_id, today)
    if "state" in args:
        query = query.where(ReferralCase.state == args["state"])
    if "overdue" in args:
        overdue = referral_overdue(ReferralCase.__table__.c, today)
        query = query.where(overdue if args["overdue"] else not_(overdue))
    cases, total = _page(
        query, (ReferralCase.sent_at.desc(), ReferralCase.message_id, ReferralCase.recipient), args
    )
    return {
        "items": [case_view(c, late) for c, late in cases],
        "page": args["page"],
        "page_size": args["page_size"],
        "total": total,
    }


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
    seen = seen_items(g.partner_id, today)
    query = select(seen)
    for name in ("source", "status", "owner"):
        if name in args:
            query = query.where(seen.c[name] == args[name])
    if "unit" in args:
        query = query.where(or_(seen.c.unit_uscc == args["unit"], seen.c.unit_name == args["unit"]))
    if "overdue" in args:
        overdue = ledger_overdue(seen.c, today)
        query = query.where(overdue if args["overdue"] else not_(overdue))
    session = g.reader
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page, size = args["page"], args["page_size"]
    items = seen_rows(
        session,
        query.order_by(seen.c.owner, seen.c.ledger_item_id).offset((page - 1) * size).limit(size),
    )
    return {
        "items": [item_view(i) for i in items],
        "page": page,
        "page_size": size,
        "total": int(total),
    }


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
