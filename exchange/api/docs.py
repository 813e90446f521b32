"""A browsable API page rendered from the OpenAPI document (works offline: no CDN scripts)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

blp = Blueprint("docs", __name__)


@blp.get("/v1/docs")
def api_page() -> str:
    """Every operation with its parameters, bodies and responses, and every schema."""
    spec = current_app.extensions["exchange_api"].spec.to_dict()
    return render_template("api.html", spec=spec)
