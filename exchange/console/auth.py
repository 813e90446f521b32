"""Signing in and out, the start page and the language switch."""

from __future__ import annotations

from flask import g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as Redirect

from exchange.admin.accounts import SignInRefused, authenticate, record_logout
from exchange.console.blueprint import ROLES, VIA, bp, hub, requires
from exchange.console.i18n import LANGUAGES
from exchange.errors import RateLimited


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
    the_hub = hub()
    now = the_hub.now()
    try:
        operator = authenticate(
            the_hub.sessions,
            request.form.get("name", ""),
            request.form.get("password", ""),
            address=request.remote_addr or "unknown",
            via=VIA,
            now=now,
        )
    except RateLimited:
        error = gettext("Too many failed sign-ins: wait 15 minutes and try again.")
        return render_template("console/login.html", error=error), 429
    except SignInRefused:
        error = gettext("Name or password not accepted.")
        return render_template("console/login.html", error=error), 401
    language = session.get("lang")
    session.clear()
    session.update(account=operator.id, since=now.isoformat(), seen=now.isoformat())
    if language in LANGUAGES:
        session["lang"] = language
    return redirect(_back_in_console(request.args.get("next", "")))


@bp.post("/logout")
@requires(*ROLES)
def logout() -> Redirect:
    """Sign out, logged under the account id."""
    the_hub = hub()
    with the_hub.sessions.begin() as db:
        record_logout(db, g.operator, via=VIA, now=the_hub.now())
    session.clear()
    return redirect(url_for("console.login"))


@bp.post("/language")
def language() -> Redirect:
    """Switch the console's language for this browser session (signed in or not)."""
    chosen = request.form.get("lang", "")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return redirect(_back_in_console(request.form.get("next", "")))


def _back_in_console(target: str) -> str:
    """``target`` if it is a page of the console, else the start page: never off the site."""
    return target if target.startswith("/admin/") else url_for("console.home")
