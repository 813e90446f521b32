"""The review queue and a held message's detail, with the approve and reject forms (issue 11,
item 2). The decisions are ``exchange.transport.review.decide``'s, made as the signed-in
reviewer account; every refusal comes back to the page as a translated message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _gettext
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as Redirect

from exchange.console.blueprint import bp, hub, requires
from exchange.console.oversight.detail import message_detail
from exchange.errors import (
    BadRequest,
    ClassifiedContentRefused,
    ExchangeError,
    InvalidTransition,
    NotFound,
    RouteNotAllowed,
)
from exchange.store.models import Message, PartnerKey
from exchange.transport.review import decide, pending, review_version
from keys import KeysError, VerifyingKey, jws, static_resolver
from keys.protocol import MESSAGE_TYP
from schemas import CLASSIFICATIONS, MESSAGE_TYPE_LABELS
from schemas.canonical import canonical_bytes
from schemas.identity import body_of
from schemas.registry import ALL_MESSAGE_TYPES


def gettext(text: str) -> str:
    """The translation of ``text``, typed."""
    return str(_gettext(text))


TYPE_NAMES = {
    "clue.referral.v1": _l("Clue referral"),
    "clue.feedback.v1": _l("Clue feedback"),
    "result.share.v1": _l("Shared result"),
    "result.feedback.v1": _l("Result feedback"),
    "rectification.status.v1": _l("Rectification status"),
    "hub.notice.v1": _l("Hub notice"),
}


@dataclass(frozen=True)
class QueueRow:
    """One held transfer as the queue lists it."""

    id: str
    type: str
    sender: str
    recipients: list[str]
    classification: str
    received_at: datetime
    approvals: int
    required: int


@dataclass(frozen=True)
class Field:
    """One payload field for the page: its bilingual label and a text, or nested fields, or
    a list of either.
    """

    label: str
    text: str | None = None
    children: list[Field] | None = None
    items: list[Field] | None = None


def type_label(type_: str) -> str:
    """Chinese first, then the English name (or the wire type when unknown)."""
    chinese = MESSAGE_TYPE_LABELS.get(type_, type_)
    name = str(TYPE_NAMES[type_]) if type_ in TYPE_NAMES else chinese
    return chinese if name == chinese else f"{chinese} {name}"


def classification_label(code: str) -> str:
    """The classification's Chinese label and its code."""
    return f"{CLASSIFICATIONS.get(code, code)} {code}"


def queue_rows(session: Session) -> list[QueueRow]:
    """The transfers held for review, oldest first."""
    return [
        QueueRow(
            m.id,
            m.type,
            m.sender,
            [d.recipient for d in m.deliveries],
            m.classification,
            m.received_at,
            sum(r.decision == "approved" for r in m.reviews),
            m.required_approvals,
        )
        for m in pending(session)
    ]


def payload_fields(schema: Schema, data: Any) -> list[Field]:
    """The payload as labelled fields, in the schema's order; unknown keys last, by name."""
    if not isinstance(data, dict):
        return [Field("", text=_text(data))]
    shown = []
    for name, field in schema.fields.items():
        key = field.data_key or name
        if key in data:
            shown.append(_field(_label(field, key), field, data[key]))
    shown += [
        Field(key, text=_text(value))
        for key, value in sorted(data.items())
        if key not in {f.data_key or n for n, f in schema.fields.items()}
    ]
    return shown


def _label(field: fields.Field[Any], key: str) -> str:
    description = str(field.metadata.get("description") or key)
    return description


def _field(label: str, field: fields.Field[Any] | None, value: Any) -> Field:
    if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
        if isinstance(value, list):
            items = [Field("", children=payload_fields(field.schema, v)) for v in value]
            return Field(label, items=items)
        return Field(label, children=payload_fields(field.schema, value))
    if isinstance(value, list):
        inner = field.inner if isinstance(field, fields.List) else None
        return Field(label, items=[_field("", inner, v) for v in value])
    if isinstance(value, dict):
        return Field(label, children=[_field(k, None, v) for k, v in value.items()])
    labels = field.metadata.get("labels") if field is not None else None
    if isinstance(labels, dict) and isinstance(value, str) and value in labels:
        return Field(label, text=f"{labels[value]} ({value})")
    return Field(label, text=_text(value))


def _text(value: Any) -> str:
    if value is True:
        return gettext("yes")
    if value is False:
        return gettext("no")
    return "" if value is None else str(value)


def signature_status(
    session: Session, message: Message, envelope: dict[str, Any]
) -> dict[str, Any]:
    """The signer's key, whether it is active or revoked, and whether the JWS verifies."""
    key = session.get(PartnerKey, message.signer_kid)
    verified = False
    if key is not None:
        signer = {key.kid: VerifyingKey.from_raw(key.public_key)}
        try:
            jws.verify_detached(
                message.signature,
                canonical_bytes(envelope),
                static_resolver(signer),
                typ=MESSAGE_TYP,
            )
            verified = True
        except KeysError:
            verified = False
    return {
        "kid": message.signer_kid,
        "known": key is not None,
        "revoked": key is not None and key.revoked_at is not None,
        "verified": verified,
    }


def _agreement(message: Message, recipients: list[str]) -> Any:
    try:
        return hub().agreements.for_route(
            message.type, body_of(message.sender), {body_of(r) for r in recipients}
        )
    except (RouteNotAllowed, ValueError):
        return None


@bp.get("/review/")
@requires("reviewer", "admin", "observer")
def review_queue() -> str:
    """The transfers waiting for review."""
    with hub().readers() as session:
        rows = queue_rows(session)
    return render_template(
        "console/review_queue.html",
        rows=rows,
        now=hub().now(),
        type_label=type_label,
        classification_label=classification_label,
    )


@bp.get("/review/<message_id>")
@requires("reviewer", "admin", "observer")
def review_detail(message_id: str) -> str | tuple[str, int]:
    """A held message: payload, signature, agreement, timeline; the forms for a reviewer."""
    return _detail(message_id, error=None, status=200)


def _detail(message_id: str, *, error: str | None, status: int) -> tuple[str, int]:
    the_hub = hub()
    with the_hub.readers() as session:
        message = session.get(Message, message_id)
        if message is None:
            abort(404)
        view = message_detail(session, the_hub.trust, message_id)
        envelope = view["envelope"]
        recipients = [d["recipient"] for d in view["deliveries"]]
        schema_class = ALL_MESSAGE_TYPES.get(message.type)
        payload = envelope.get("payload")
        shown = (
            payload_fields(schema_class(), payload)
            if schema_class is not None
            else [_field("payload", None, payload)]
        )
        page = render_template(
            "console/review_detail.html",
            message=message,
            envelope=envelope,
            recipients=recipients,
            fields=shown,
            signature=signature_status(session, message, envelope),
            agreement=_agreement(message, recipients),
            events=view["events"],
            reviews=list(message.reviews),
            version=review_version(message),
            approvals=sum(r.decision == "approved" for r in message.reviews),
            type_label=type_label,
            classification_label=classification_label,
            error=error,
            reason=request.form.get("reason", ""),
        )
    return page, status


@bp.post("/review/<message_id>/approve")
@requires("reviewer")
def review_approve(message_id: str) -> Redirect | tuple[str, int]:
    """Approve as the signed-in reviewer."""
    return _decide(message_id, approve=True)


@bp.post("/review/<message_id>/reject")
@requires("reviewer")
def review_reject(message_id: str) -> Redirect | tuple[str, int]:
    """Reject, with a reason, as the signed-in reviewer."""
    return _decide(message_id, approve=False)


def _decide(message_id: str, *, approve: bool) -> Redirect | tuple[str, int]:
    the_hub = hub()
    reason = None if approve else request.form.get("reason", "")
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        return _detail(
            message_id, error=gettext("The form is incomplete: reload the page."), status=400
        )
    try:
        with the_hub.sessions.begin() as session:
            decision = decide(
                session,
                message_id,
                reviewer=g.operator,
                approve=approve,
                reason=reason,
                now=the_hub.now(),
                trust=the_hub.trust,
                version=version,
            )
    except NotFound:
        abort(404)
    except ExchangeError as refused:
        return _detail(message_id, error=refusal_text(refused), status=409)
    messages = {
        "released": gettext("Approved: the message is released to its recipients."),
        "rejected": gettext("Rejected: the sender is told the reason."),
    }
    flash(messages.get(decision.status, gettext("Approved: it needs another reviewer's approval.")))
    return redirect(url_for("console.review_queue"))


def refusal_text(refused: ExchangeError) -> str:
    """A refusal of ``decide`` in the reader's language."""
    detail = refused.detail
    if isinstance(refused, ClassifiedContentRefused):
        return gettext("The reason carries a state-secret marker: write it without one.")
    if isinstance(refused, BadRequest):
        if refused.errors and "reason" in refused.errors:
            return gettext("A rejection needs a reason.")
        if "own body" in detail:
            return gettext("You may not decide on a message sent by your own body.")
        return gettext("Your account may not decide on this message.")
    if isinstance(refused, InvalidTransition):
        if "already reviewed" in detail:
            return gettext("You have already decided on this message.")
        if "Another reviewer" in detail:
            return gettext(
                "Another reviewer decided on this message while you were reading it; "
                "look at it again."
            )
        return gettext("This message is no longer waiting for review.")
    return gettext("The decision was refused.")
