"""The partners and keys pages (issue 11 item 3): admins register partners, add and revoke
keys, set or rotate a webhook secret (shown once, on the page that answers the action),
suspend and reinstate; observers read. Every action is ``exchange.admin``'s, logged under the
admin's account id.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as Redirect

from exchange.admin.partners import add_key, add_partner, revoke_key, set_partner_status
from exchange.admin.webhooks import remove_webhook, set_webhook
from exchange.console.admin_forms import (
    BODY_NAMES,
    FormRefused,
    public_key,
    refuse,
    refused_by_domain,
    text_field,
    utc_time,
)
from exchange.console.blueprint import bp, hub, requires
from exchange.console.oversight.partners import PartnerRow, partner_rows
from exchange.errors import BadRequest, ExchangeError
from exchange.store.models import Partner, PartnerKey
from exchange.trust.destinations import MAX_URL_LENGTH, check_webhook_url
from schemas import KID_RE, PARTNER_ID_RE, partner_of

Page = str | tuple[str, int] | Redirect
# An action: given the transaction and the form, what to say and the secret to show once.
Act = Callable[[Session, dict[str, str]], tuple[str, str | None]]

PARTNER_ID = _l("Partner id")
PARTNER_NAME = _l("Name of the body")
KID = _l("Key id (kid)")
PUBLIC_KEY = _l("Public key")
WEBHOOK_URL = _l("Webhook URL")
NOT_BEFORE = _l("Valid from")
NOT_AFTER = _l("Valid until")


@bp.get("/partners")
@requires("admin", "observer")
def partners() -> Page:
    """Every partner with its status, keys and webhook; the form to add one (admins)."""
    return _list_page({}, {})


def _list_page(errors: dict[str, str], form: dict[str, str], status: int = 200) -> Page:
    with hub().readers() as db:
        rows = partner_rows(db, hub().now())
    page = render_template(
        "console/partners.html", rows=rows, errors=errors, form=form, bodies=BODY_NAMES
    )
    return page, status


@bp.post("/partners")
@requires("admin")
def partners_add() -> Page:
    """Register a partner with its first key, and its webhook when one is given."""
    form = request.form.to_dict()
    the_hub, now = hub(), hub().now()
    try:
        partner_id = text_field(form, "partner_id", str(PARTNER_ID), max_length=80)
        if not PARTNER_ID_RE.match(partner_id):
            refuse(
                "partner_id",
                gettext(
                    "%(field)s: body, dot, lower-case name (e.g. audit.yanliang).",
                    field=PARTNER_ID,
                ),
            )
        name = text_field(form, "name", str(PARTNER_NAME), max_length=200)
        key, jwk_kid = public_key(form, "public_key", str(PUBLIC_KEY))
        kid = _kid(form, partner_id, jwk_kid or f"{partner_id}#1")
        url, allow_internal = _webhook(form, required=False)
        with the_hub.sessions.begin() as db:
            if db.get(Partner, partner_id) is not None:
                refuse(
                    "partner_id",
                    gettext("%(field)s: %(id)s exists.", field=PARTNER_ID, id=partner_id),
                    409,
                )
            actor = g.operator.actor
            add_partner(db, partner_id, name=name, kid=kid, public_key=key, actor=actor, now=now)
            secret = None
            if url:
                secret = set_webhook(
                    db, partner_id, url, trust=the_hub.trust, actor=actor, now=now,
                    allow_internal=allow_internal,
                )  # fmt: skip
    except FormRefused as refusal:
        return _list_page(refusal.errors, form, refusal.status)
    except ExchangeError as refusal:
        return _list_page(refused_by_domain(refusal).errors, form, 409)
    done = gettext("Partner %(id)s added with key %(kid)s.", id=partner_id, kid=kid)
    if secret is None:
        flash(done)
        return redirect(url_for("console.partner", partner_id=partner_id))
    return _partner_page(partner_id, done=done, secret=secret)


@bp.get("/partners/<partner_id>")
@requires("admin", "observer")
def partner(partner_id: str) -> Page:
    """One partner: its keys, its webhook, the admin's actions on them."""
    return _partner_page(partner_id)


def _partner_page(
    partner_id: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    done: str | None = None,
    secret: str | None = None,
) -> Page:
    row, allow_internal = None, False
    if PARTNER_ID_RE.match(partner_id):  # else not looked up: PostgreSQL refuses a NUL
        with hub().readers() as db:
            found = db.get(Partner, partner_id)
            row = _row(db, partner_id)
            allow_internal = bool(found and found.webhook_allow_internal)
    if row is None:
        message = gettext("No partner %(id)s.", id=partner_id)
        return render_template("console/partner_missing.html", message=message), 404
    page = render_template(
        "console/partner.html",
        row=row,
        now=hub().now(),
        allow_internal=allow_internal,
        errors=errors or {},
        form=form or {},
        done=done,
        secret=secret,
        bodies=BODY_NAMES,
    )
    return page, status


def _row(db: Session, partner_id: str) -> PartnerRow | None:
    return next((r for r in partner_rows(db, hub().now()) if r.id == partner_id), None)


def _action(partner_id: str, act: Act) -> Page:
    """Run one action on an existing partner in one transaction; its refusal on the page."""
    form = request.form.to_dict()
    if not PARTNER_ID_RE.match(partner_id):
        return _partner_page(partner_id)
    with hub().readers() as db:
        if db.get(Partner, partner_id) is None:
            return _partner_page(partner_id)
    try:
        with hub().sessions.begin() as db:
            outcome = act(db, form)
    except FormRefused as refusal:
        return _partner_page(partner_id, errors=refusal.errors, form=form, status=refusal.status)
    except ExchangeError as refusal:
        domain = refused_by_domain(refusal)
        return _partner_page(partner_id, errors=domain.errors, form=form, status=domain.status)
    done, secret = outcome
    if secret is not None:
        return _partner_page(partner_id, done=done, secret=secret)
    flash(done)
    return redirect(url_for("console.partner", partner_id=partner_id))


@bp.post("/partners/<partner_id>/keys")
@requires("admin")
def partner_key_add(partner_id: str) -> Page:
    """Add a key (a pasted PEM or JWK), valid from now or a given time until an optional end."""

    def act(db: Session, form: dict[str, str]) -> tuple[str, str | None]:
        key, jwk_kid = public_key(form, "public_key", str(PUBLIC_KEY))
        kid = _kid(form, partner_id, jwk_kid)
        if db.get(PartnerKey, kid) is not None:
            refuse("kid", gettext("%(field)s: %(kid)s exists.", field=KID, kid=kid), 409)
        now = hub().now()
        not_before = utc_time(form, "not_before", str(NOT_BEFORE)) or now
        not_after = utc_time(form, "not_after", str(NOT_AFTER))
        if not_after is not None and not_after <= not_before:
            refuse(
                "not_after",
                gettext("%(field)s: must come after the start.", field=NOT_AFTER),
            )
        add_key(
            db, partner_id, kid=kid, public_key=key, not_before=not_before,
            not_after=not_after, actor=g.operator.actor, now=now,
        )  # fmt: skip
        return gettext("Key %(kid)s added.", kid=kid), None

    return _action(partner_id, act)


@bp.post("/partners/<partner_id>/keys/revoke")
@requires("admin")
def partner_key_revoke(partner_id: str) -> Page:
    """Revoke one of the partner's keys now."""

    def act(db: Session, form: dict[str, str]) -> tuple[str, str | None]:
        kid = form.get("kid", "")
        key = db.get(PartnerKey, kid) if KID_RE.match(kid) else None
        if key is None or key.partner_id != partner_id:
            refuse("kid", gettext("%(field)s: no such key of this partner.", field=KID), 404)
        if key.revoked_at is not None:
            refuse("kid", gettext("Key %(kid)s is already revoked.", kid=kid), 409)
        revoke_key(db, kid, actor=g.operator.actor, now=hub().now())
        return gettext("Key %(kid)s revoked.", kid=kid), None

    return _action(partner_id, act)


@bp.post("/partners/<partner_id>/webhook")
@requires("admin")
def partner_webhook(partner_id: str) -> Page:
    """Set the webhook, or rotate its secret: a new secret, shown once on the page answered."""

    def act(db: Session, form: dict[str, str]) -> tuple[str, str | None]:
        url, allow_internal = _webhook(form, required=True)
        secret = set_webhook(
            db, partner_id, url, trust=hub().trust, actor=g.operator.actor, now=hub().now(),
            allow_internal=allow_internal,
        )  # fmt: skip
        return gettext("Webhook set with a new secret."), secret

    return _action(partner_id, act)


@bp.post("/partners/<partner_id>/webhook/remove")
@requires("admin")
def partner_webhook_remove(partner_id: str) -> Page:
    """Remove the webhook: the partner pulls; its pending pushes are cancelled."""

    def act(db: Session, form: dict[str, str]) -> tuple[str, str | None]:
        if (found := db.get(Partner, partner_id)) is not None and found.webhook_url is None:
            refuse("", gettext("%(id)s has no webhook.", id=partner_id), 409)
        cancelled = remove_webhook(db, partner_id, actor=g.operator.actor, now=hub().now())
        message = gettext(
            "Webhook removed: the partner pulls; %(count)d pending pushes cancelled.",
            count=cancelled,
        )
        return message, None

    return _action(partner_id, act)


@bp.post("/partners/<partner_id>/status")
@requires("admin")
def partner_status(partner_id: str) -> Page:
    """Suspend the partner (its keys are refused, nothing is routed to it) or reinstate it."""

    def act(db: Session, form: dict[str, str]) -> tuple[str, str | None]:
        status = form.get("status", "")
        if status not in ("suspended", "active"):
            refuse("status", gettext("Status: suspended or active."))
        found = db.get(Partner, partner_id)
        if found is not None and found.status == status:
            refuse("status", gettext("%(id)s is already in that state.", id=partner_id), 409)
        set_partner_status(db, partner_id, status, actor=g.operator.actor, now=hub().now())
        if status == "suspended":
            return gettext("%(id)s suspended.", id=partner_id), None
        return gettext("%(id)s reinstated.", id=partner_id), None

    return _action(partner_id, act)


def _kid(form: dict[str, str], partner_id: str, default: str | None) -> str:
    kid = text_field(form, "kid", str(KID), max_length=150, required=default is None)
    kid = kid or str(default)
    if not KID_RE.match(kid) or partner_of(kid) != partner_id:
        refuse(
            "kid",
            gettext("%(field)s: must be %(id)s#<label>.", field=KID, id=partner_id),
        )
    return kid


def _webhook(form: dict[str, str], *, required: bool) -> tuple[str, bool]:
    """The webhook URL as ``check_webhook_url`` accepts it, and whether internal is allowed."""
    url = text_field(form, "webhook_url", str(WEBHOOK_URL), max_length=MAX_URL_LENGTH,
                     required=required)  # fmt: skip
    allow_internal = form.get("allow_internal") == "on"
    if not url:
        return "", allow_internal
    try:
        check_webhook_url(url, allow_internal=allow_internal)
    except BadRequest as refusal:
        refuse("webhook_url", _webhook_refusal(refusal.detail))
    return url, allow_internal


def _webhook_refusal(detail: str) -> str:
    """The translated reason of ``check_webhook_url``'s refusal."""
    if "user-info" in detail:
        return str(gettext("%(field)s: may not carry a user name or password.", field=WEBHOOK_URL))
    if "loopback" in detail:
        return str(
            gettext(
                "%(field)s: a loopback or link-local address; refused unless internal "
                "destinations are allowed.",
                field=WEBHOOK_URL,
            )
        )
    return str(gettext("%(field)s: not an http or https URL.", field=WEBHOOK_URL))
