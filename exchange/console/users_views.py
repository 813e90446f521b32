"""The users page (admins only, issue 11 item 1's console side): list the accounts, add one,
disable one, reset a password — set by the admin or generated and shown once — with the rules
of ``exchange users``; the last active admin cannot be disabled. Each change is logged under
the admin's account id.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as Redirect

from exchange.admin.accounts import ROLES, add_account, disable_account, reset_password
from exchange.console.admin_forms import (
    BODY_NAMES,
    FormRefused,
    new_password,
    refuse,
    refused_by_domain,
    text_field,
)
from exchange.console.blueprint import bp, hub, requires
from exchange.console.oversight.users import account_rows
from exchange.errors import ExchangeError
from exchange.store.models import Account

Page = str | tuple[str, int] | Redirect

ACCOUNT_NAME = _l("Name")
MAX_ACCOUNT_ID = 2**31 - 1


@bp.get("/users")
@requires("admin")
def users() -> Page:
    """Every account with its role, body and status; the form to add one."""
    return _page()


def _page(
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    done: str | None = None,
    password: str | None = None,
) -> Page:
    with hub().readers() as db:
        rows = account_rows(db)
    page = render_template(
        "console/users.html",
        rows=rows,
        roles=ROLES,
        bodies=BODY_NAMES,
        errors=errors or {},
        form=form or {},
        done=done,
        password=password,
    )
    return page, status


@bp.post("/users")
@requires("admin")
def users_add() -> Page:
    """Add an account with an initial password (typed twice, or generated and shown once)."""
    form = request.form.to_dict()
    try:
        name = text_field(form, "name", str(ACCOUNT_NAME), max_length=120)
        role = form.get("role", "")
        if role not in ROLES:
            refuse("role", gettext("Role: choose one."))
        body = form.get("body") or None
        if body is not None and body not in BODY_NAMES:
            refuse("body", gettext("Body: not one of the list."))
        password, generated = new_password(form)
        with hub().sessions.begin() as db:
            added = add_account(
                db, name, role=role, body=body, password=password, actor=g.operator.actor,
                now=hub().now(),
            )  # fmt: skip
    except FormRefused as refusal:
        return _page(errors=refusal.errors, form=form, status=refusal.status)
    except ExchangeError as refusal:  # the name taken (as compared)
        message = gettext("%(field)s: an account of that name exists.", field=ACCOUNT_NAME)
        if "exists" not in refusal.detail:
            message = refused_by_domain(refusal).errors[""]
        return _page(errors={"name": message}, form=form, status=409)
    done = gettext("Account %(id)d (%(name)s) added.", id=added.id, name=added.name)
    return _shown(done, password if generated else None)


def _shown(done: str, password: str | None) -> Page:
    """After an action: a generated password on the page answered (once), else back to the list."""
    if password is not None:
        return _page(done=done, password=password)
    flash(done)
    return redirect(url_for("console.users"))


def _account(account_id: int) -> Account | None:
    if account_id > MAX_ACCOUNT_ID:  # not looked up: beyond the column's integers
        return None
    with hub().readers() as db:
        return db.get(Account, account_id)


def _missing(account_id: int) -> Page:
    message = gettext("No account %(id)d.", id=account_id)
    return _page(errors={"": message}, status=404)


@bp.post("/users/<int:account_id>/disable")
@requires("admin")
def users_disable(account_id: int) -> Page:
    """Disable an account (its sessions end); never the last active admin."""
    account = _account(account_id)
    if account is None:
        return _missing(account_id)
    try:
        with hub().sessions.begin() as db:
            disable_account(
                db, account.name, actor=g.operator.actor, now=hub().now(), keep_an_admin=True
            )
    except ExchangeError as refusal:
        if "last active admin" in refusal.detail:
            message = gettext(
                "Account %(id)d is the last active administrator: add another one first.",
                id=account_id,
            )
        elif "already disabled" in refusal.detail:
            message = gettext("Account %(id)d is already disabled.", id=account_id)
        else:
            message = refused_by_domain(refusal).errors[""]
        return _page(errors={"": message}, status=409)
    return _shown(gettext("Account %(id)d disabled.", id=account_id), None)


@bp.post("/users/<int:account_id>/password")
@requires("admin")
def users_password(account_id: int) -> Page:
    """Set a new password (the account's sessions end): typed twice, or generated, shown once."""
    account = _account(account_id)
    if account is None:
        return _missing(account_id)
    form = request.form.to_dict()
    try:
        password, generated = new_password(form)
        with hub().sessions.begin() as db:
            reset_password(
                db, account.name, password=password, actor=g.operator.actor, now=hub().now()
            )
    except FormRefused as refusal:
        errors = {f"{k}-{account_id}" if k else k: v for k, v in refusal.errors.items()}
        return _page(errors=errors, status=refusal.status)
    except ExchangeError as refusal:
        return _page(errors=refused_by_domain(refusal).errors, status=409)
    done = gettext("Password of account %(id)d reset.", id=account_id)
    return _shown(done, password if generated else None)
