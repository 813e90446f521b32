"""The console's deliveries page: pushes to partners' webhooks by state, dead letters first,
and (admins only) resending one message's pushes — ``exchange.console.oversight.deliveries``.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as Redirect

from exchange.console.blueprint import bp, hub, requires
from exchange.console.oversight.deliveries import STATES, pushes, resend_push
from exchange.errors import ExchangeError
from exchange.transport.outbox import DEAD


@bp.get("/deliveries")
@requires("admin", "observer")
def deliveries() -> str:
    """Pushes in one state (dead letters unless asked), latest attempt first."""
    state = request.args.get("state", DEAD)
    error = None
    if state not in STATES:
        error = gettext("Unknown state: %(state)s.", state=state)
        state = DEAD
    with hub().readers() as session:
        rows = pushes(session, state=state)
    return render_template(
        "console/deliveries.html", rows=rows, state=state, states=STATES, error=error
    )


@bp.post("/deliveries/resend")
@requires("admin")
def resend() -> Redirect:
    """Queue one message's push again (to one recipient when given); flash what happened."""
    message_id = request.form.get("message_id", "")
    recipient = request.form.get("recipient") or None
    the_hub = hub()
    try:
        with the_hub.sessions.begin() as session:
            queued = resend_push(
                session, message_id, recipient=recipient, actor=g.operator.actor, now=the_hub.now()
            )
    except ExchangeError as refused:
        flash(gettext("Not resent: %(why)s", why=refused.detail), "error")
    else:
        for queued_id, to in queued:
            flash(
                gettext(
                    "Queued again: %(message)s to %(recipient)s.", message=queued_id, recipient=to
                ),
                "done",
            )
    return redirect(url_for("console.deliveries"))
