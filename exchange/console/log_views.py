"""The console's transparency log browser: the newest checkpoint, the entries newest first in
keyset pages, and per entry the inclusion proof the page checks itself
(``static/oversight-verify.js``) — ``exchange.console.oversight.log``.
"""

from __future__ import annotations

from typing import Final

from flask import abort, jsonify, render_template, request
from flask.wrappers import Response

from exchange.console.blueprint import ROLES, bp, hub, requires
from exchange.console.oversight.log import entries_page, entry_proof, newest_checkpoint

PAGE: Final = 50


@bp.get("/log")
@requires(*ROLES)
def log_browser() -> str:
    """The newest checkpoint and a page of entries below ``before`` (from the newest)."""
    raw = request.args.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) < 19 else None
    with hub().read_engine.connect() as connection:
        checkpoint = newest_checkpoint(connection)
        rows = entries_page(connection, before=before, limit=PAGE + 1)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render_template(
        "console/log.html",
        checkpoint=checkpoint,
        rows=rows,
        next_before=rows[-1].index if more else None,
        bad_cursor=bool(raw) and before is None,
    )


@bp.get("/log/<int:index>/proof")
@requires(*ROLES)
def log_proof(index: int) -> Response:
    """Entry ``index`` with its audit path in the newest checkpoint's tree, and its root."""
    if index >= 2**63:
        abort(404)
    with hub().read_engine.connect() as connection:
        proof = entry_proof(connection, index)
    if proof is None:
        abort(404)
    return jsonify(proof)
