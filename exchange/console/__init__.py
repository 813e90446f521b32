"""The admin console (issue 11): server-rendered pages at ``/admin/`` over ``exchange.admin``.

How to add a page:

- Register a view on ``bp`` and guard it with ``@requires(...)`` naming the roles that may see
  it (``"admin"``, ``"reviewer"``, ``"observer"``); the check is made on the server for every
  request, anonymous users are sent to sign in, other roles get 403.
- Render a template that ``{% extends "console/base.html" %}`` and fills ``{% block title %}``
  and ``{% block content %}``; page scripts go in ``{% block scripts %}`` as
  ``<script src=...>`` from ``static/`` (the CSP refuses inline scripts and styles).
- Every POST form carries ``{{ csrf_token_field() }}``; Flask-WTF refuses a POST without it.
- ``g.operator`` is the signed-in ``Operator``; log entries name ``g.operator.actor``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFProtect, generate_csrf
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as Redirect

from exchange.admin.accounts import SignInRefused, authenticate, record_logout, signed_in
from exchange.errors import RateLimited
from exchange.hub import Hub

P = ParamSpec("P")
R = TypeVar("R")

IDLE_TIMEOUT = timedelta(minutes=30)
ROLES = ("admin", "reviewer", "observer")
VIA = "console"

bp = Blueprint(
    "console", __name__, url_prefix="/admin", template_folder="templates", static_folder="static"
)
_csrf = CSRFProtect()

# CSP Level 3: nothing inline, everything from the hub itself; no framing (RFC 7034 intent).
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _hub() -> Hub:
    hub: Hub = current_app.extensions["exchange"]
    return hub


def requires(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Let only a signed-in operator with one of ``roles`` through; others to sign-in or 403."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, unknown

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            operator = g.get("operator")
            if operator is None:
                return redirect(url_for("console.login", next=request.path))  # type: ignore[return-value]
            if operator.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorate


@bp.before_request
def _load_operator() -> None:
    """The operator of this session, if it is still current and not idle too long."""
    if request.method == "POST":
        _csrf.protect()  # the console only; the API's POSTs are signed requests, not sessions
    g.operator = None
    account_id, since, seen = (session.get(k) for k in ("account", "since", "seen"))
    if account_id is None or since is None or seen is None:
        return
    now = _hub().now()
    if now - datetime.fromisoformat(seen) > IDLE_TIMEOUT:
        session.clear()
        return
    with _hub().readers() as db:
        g.operator = signed_in(db, int(account_id), datetime.fromisoformat(since))
    if g.operator is None:
        session.clear()
        return
    session["seen"] = now.isoformat()


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _template_helpers() -> dict[str, object]:
    def csrf_token_field() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(
            escape(generate_csrf())
        )

    return {"csrf_token_field": csrf_token_field, "operator": g.get("operator")}


@bp.get("/")
@requires(*ROLES)
def home() -> str:
    """The signed-in operator's start page."""
    return render_template("console/home.html")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Redirect | tuple[str, int]:
    """Sign in by name and password; failures are throttled and logged by account id."""
    if request.method == "GET":
        return render_template("console/login.html", error=None)
    hub = _hub()
    now = hub.now()
    try:
        operator = authenticate(
            hub.sessions,
            request.form.get("name", ""),
            request.form.get("password", ""),
            address=request.remote_addr or "unknown",
            via=VIA,
            now=now,
        )
    except RateLimited:
        error = "Too many failed sign-ins: wait 15 minutes and try again. 登录失败次数过多。"
        return render_template("console/login.html", error=error), 429
    except SignInRefused:
        error = "Name or password not accepted. 用户名或密码不正确。"
        return render_template("console/login.html", error=error), 401
    session.clear()
    session.update(account=operator.id, since=now.isoformat(), seen=now.isoformat())
    target = request.args.get("next", "")
    if not target.startswith("/admin/") or target.startswith("//"):
        target = url_for("console.home")
    return redirect(target)


@bp.post("/logout")
@requires(*ROLES)
def logout() -> Redirect:
    """Sign out, logged under the account id."""
    hub = _hub()
    with hub.sessions.begin() as db:
        record_logout(db, g.operator, via=VIA, now=hub.now())
    session.clear()
    return redirect(url_for("console.login"))


def init_console(app: Flask) -> None:
    """Register the console on the hub app: session cookie settings, CSRF, the blueprint."""
    secure = os.environ.get("EXCHANGE_SECURE_COOKIES", "") not in ("", "0", "false")
    app.config.update(
        # A fixed secret keeps sessions across restarts and workers; else one per process.
        SECRET_KEY=os.environ.get("EXCHANGE_CONSOLE_SECRET") or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_PATH="/admin",
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    _csrf.init_app(app)
    app.register_blueprint(bp)
    app.add_url_rule("/", "root", lambda: redirect(url_for("console.home")))
