"""The agreements page (read-only, every role): the agreements the hub routes by — who may
send which type to whom, the approvals a message needs first, what a reply answers — and the
classifications the hub carries.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l

from exchange.console.admin_forms import BODY_NAMES
from exchange.console.blueprint import ROLES, bp, hub, requires
from exchange.console.oversight.agreements import agreement_rows
from schemas import CLASSIFICATIONS

TYPE_NAMES = {
    "clue.referral.v1": _l("Clue referral"),
    "clue.feedback.v1": _l("Feedback on a referred clue"),
    "result.share.v1": _l("Shared result"),
    "result.feedback.v1": _l("Feedback on a shared result"),
    "rectification.status.v1": _l("Rectification status"),
    "hub.notice.v1": _l("Hub notice"),
}
CLASSIFICATION_NAMES = {
    "public": _l("Public"),
    "internal": _l("Internal"),
    "sensitive": _l("Sensitive"),
}


@bp.get("/agreements")
@requires(*ROLES)
def agreements() -> str:
    """The agreements in force, by type and sender body."""
    assert set(CLASSIFICATION_NAMES) == set(CLASSIFICATIONS)
    return render_template(
        "console/agreements.html",
        rows=agreement_rows(hub().agreements),
        types=TYPE_NAMES,
        bodies=BODY_NAMES,
        classifications=CLASSIFICATION_NAMES,
        source=hub().config.agreements_path,
    )
