"""The console's blueprint and what every page shares: the operator of the session, the role
guard, the security headers, the helpers every template may call.

How to add a page: register a view on ``bp`` in a module of this package, guard it with
``@requires(...)``, and import the module in ``exchange/console/__init__.py`` (which registers
the blueprint). ``hub()`` is the running hub, taken from the app as Flask extensions are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import (
    Blueprint,
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
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFProtect, generate_csrf
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from exchange.admin.accounts import signed_in
from exchange.console.i18n import (
    LANGUAGES,
    PUSH_STATE_NAMES,
    ROLE_NAMES,
    STATE_NAMES,
    html_lang,
    select_locale,
)
from exchange.hub import Hub

P = ParamSpec("P")
R = TypeVar("R")

IDLE_TIMEOUT = timedelta(minutes=30)
ROLES = ("admin", "reviewer", "observer")
VIA = "console"

bp = Blueprint(
    "console", __name__, url_prefix="/admin", template_folder="templates", static_folder="static"
)
csrf = CSRFProtect()

# CSP Level 3: nothing inline, everything from the hub itself; no framing (RFC 7034 intent).
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

# The sections of the console, in the order of the top bar: (endpoint, label, roles that see it).
# A section shows once its view is registered.
NAV = (
    ("console.review_queue", _l("Review queue"), ("reviewer", "admin", "observer")),
    ("console.messages", _l("Messages"), ROLES),
    ("console.deliveries", _l("Deliveries"), ("admin", "observer")),
    ("console.log_browser", _l("Transparency log"), ROLES),
    ("console.dashboard", _l("Dashboard"), ROLES),
    ("console.partners", _l("Partners and keys"), ("admin", "observer")),
    ("console.agreements", _l("Agreements"), ROLES),
    ("console.users", _l("Users"), ("admin",)),
)


def hub() -> Hub:
    """The hub this app serves."""
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


# The console's own pages for refusals, in the operator's language (not Flask's English ones).
_REFUSALS = {
    400: (_l("Request refused"), _l("The form was stale or incomplete: open the page again.")),
    403: (_l("Not allowed"), _l("Your role may not open this page or do this.")),
    404: (_l("Not found"), _l("There is no such page or record.")),
    405: (_l("Not allowed"), _l("This page does not take that kind of request.")),
}


def _refusal_page(error: HTTPException) -> tuple[str, int]:
    code = error.code or 400
    title, message = _REFUSALS[code]
    return render_template("console/error.html", title=title, message=message), code


for _code in _REFUSALS:
    bp.register_error_handler(_code, _refusal_page)


@bp.before_request
def _load_operator() -> None:
    """The operator of this session, if it is still current and not idle too long."""
    if request.method == "POST":
        csrf.protect()  # the console only; the API's POSTs are signed requests, not sessions
    g.operator = None
    account_id, since, seen = (session.get(k) for k in ("account", "since", "seen"))
    if account_id is None or since is None or seen is None:
        return
    now = hub().now()
    if now - datetime.fromisoformat(seen) > IDLE_TIMEOUT:
        session.clear()
        return
    with hub().readers() as db:
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

    def nav_links() -> list[tuple[str, object]]:
        operator = g.get("operator")
        if operator is None:
            return []
        return [
            (endpoint, label)
            for endpoint, label, roles in NAV
            if operator.role in roles and endpoint in current_app.view_functions
        ]

    return {
        "csrf_token_field": csrf_token_field,
        "nav_links": nav_links,
        "operator": g.get("operator"),
        "languages": LANGUAGES,
        "role_names": ROLE_NAMES,
        "state_names": STATE_NAMES,
        "push_state_names": PUSH_STATE_NAMES,
        "html_lang": html_lang(select_locale()),
    }
