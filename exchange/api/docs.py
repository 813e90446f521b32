"""The API page: Swagger UI over the hub's OpenAPI document, from the hub's own static files
(no CDN: the bodies' networks are often closed).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, make_response, render_template

blp = Blueprint("docs", __name__, static_folder="static", static_url_path="/v1/docs/static")

# The page's own scripts only; Swagger UI sets inline styles on its elements.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@blp.get("/v1/docs")
def api_page() -> Response:
    """Every operation with its parameters, bodies, examples and answers, and every schema."""
    title = current_app.extensions["exchange_api"].spec.title
    response = make_response(render_template("api.html", title=title))
    response.headers["Content-Security-Policy"] = _CSP
    return response
