"""The figures as the offices report them (``/v1/stats``: as of a cut-off, for one report's
scope) and the shared results with their use (``/v1/shares``) — over what the caller sent or
received.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import func, or_, select, tuple_

from exchange.api.auth import authenticate_partner
from exchange.api.cursors import decode_cursor, encode_cursor
from exchange.api.schemas import (
    ShareDetailSchema,
    SharePageSchema,
    ShareQuerySchema,
    StatsQuerySchema,
    StatsSchema,
    SubjectQuerySchema,
)
from exchange.errors import BadRequest, NotFound, SchemaInvalid
from exchange.hub import current_hub
from exchange.store.models import ShareUse
from exchange.supervision.figures import stats
from exchange.supervision.lifecycles.share import parse_decisions
from exchange.supervision.reads import time_text, timeline
from exchange.supervision.scope import LEDGER_FILTERS, Period
from exchange.supervision.states import ShareState

blp = Blueprint("figures", __name__, url_prefix="/v1", description="Figures and shared results")
blp.before_request(authenticate_partner)


def period_of(args: dict[str, Any]) -> Period:
    """The period, cut-off and scope of a figures or report query; ``from`` after ``to`` is
    refused naming ``from``.
    """
    period = Period(
        args.get("from_"),
        args.get("to"),
        as_of=args.get("as_of"),
        unit=args.get("unit"),
        **{name: args.get(name) for name in LEDGER_FILTERS},
    )
    if period.start and period.end and period.start > period.end:
        raise SchemaInvalid(errors={"from": ["Must not be after `to`."]})
    return period


@blp.route("/stats", methods=["GET"])
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, StatsSchema)
def figures(args: dict[str, Any]) -> Any:
    """Referral, rectification, share and plan figures over what the caller sent or received,
    as of ``as_of`` (default today), within the filters.
    """
    return stats(g.reader, g.partner_id, period_of(args), current_hub().now())


def _visible_uses() -> Any:
    # The sender sees every use of its shares; a recipient its own once released.
    return select(ShareUse).where(
        or_(
            ShareUse.sender == g.partner_id,
            (ShareUse.recipient == g.partner_id)
            & ShareUse.state.in_([ShareState.RELEASED, ShareState.USED]),
        )
    )


def use_view(use: ShareUse) -> dict[str, Any]:
    """One recipient's use of a shared result, as partners see it."""
    return {
        "share_id": use.share_id,
        "message_id": use.message_id,
        "from": use.sender,
        "recipient": use.recipient,
        "share_type": use.share_type,
        "audit_timing": use.audit_timing,
        "state": use.state,
        "sent_at": time_text(use.sent_at),
        "used_for": (use.used_for or "").split(),
        "decisions": parse_decisions(use.decisions),
        "used_on": use.used_on.isoformat() if use.used_on else None,
        "feedbacks": use.feedbacks,
        "plan_projects": use.plan_projects,
        "plan_joint_projects": use.plan_joint_projects,
    }


@blp.route("/shares", methods=["GET"])
@blp.arguments(ShareQuerySchema, location="query")
@blp.response(200, SharePageSchema)
def shares(args: dict[str, Any]) -> Any:
    """Shared results the caller sent or received: one row per recipient's use."""
    query = _visible_uses()
    for name in ("share_type", "state"):
        if name in args:
            query = query.where(getattr(ShareUse, name) == args[name])
    if args.get("page", 1) != 1:
        raise SchemaInvalid(errors={"page": ["Pages are reached by cursor now: follow `next`."]})
    order = (ShareUse.sent_at, ShareUse.message_id, ShareUse.recipient)
    if "cursor" in args:
        after = decode_cursor(args["cursor"], "shares", g.partner_id, (datetime, str, str))
        query = query.where(tuple_(*order) < tuple_(*after))
    size = args["page_size"]
    uses = list(g.reader.scalars(query.order_by(*(c.desc() for c in order)).limit(size + 1)))
    page: dict[str, Any] = {"items": [use_view(u) for u in uses[:size]], "page_size": size}
    page["next"] = None
    if len(uses) > size:
        last = uses[size - 1]
        page["next"] = encode_cursor(
            "shares", g.partner_id, (last.sent_at, last.message_id, last.recipient)
        )
    if args["total"]:
        page["total"] = g.reader.scalar(select(func.count()).select_from(query.subquery())) or 0
    return page


@blp.route("/shares/<business_key:share_id>", methods=["GET"])
@blp.arguments(SubjectQuerySchema, location="query")
@blp.response(200, ShareDetailSchema)
def share(args: dict[str, Any], share_id: str) -> Any:
    """One shared result: each visible recipient's use, and its timeline."""
    query = _visible_uses().where(ShareUse.share_id == share_id)
    if "sender" in args:
        query = query.where(ShareUse.sender == args["sender"])
    uses = list(g.reader.scalars(query.order_by(ShareUse.recipient)))
    if not uses:
        raise NotFound("No such shared result for you.")
    senders = {u.sender for u in uses}
    if len(senders) > 1:
        choices = ", ".join(sorted(senders))
        raise BadRequest(f"Several senders use {share_id}: add ?sender= (one of {choices}).")
    sender = senders.pop()
    parties = None if sender == g.partner_id else [g.partner_id]
    return {
        "share_id": share_id,
        "from": sender,
        "message_id": uses[0].message_id,
        "uses": [use_view(u) for u in uses],
        "timeline": timeline(g.reader, "share", sender, share_id, parties),
    }
