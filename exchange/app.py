"""``create_app``: the Flask hub with its partner API, OpenAPI document and error rendering."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.routing import BaseConverter

from exchange.api.limits import init_limits
from exchange.api.openapi import ExchangeApi, describe_messages, problems_table
from exchange.api.problems import http_problem_response, problem_response
from exchange.config import Config
from exchange.errors import BadRequest, ExchangeError, Unavailable
from exchange.hub import Hub
from exchange.metrics import count_request
from exchange.store.db import store_unavailable

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    422: "schema-invalid",
    429: "rate-limited",
    503: "unavailable",
}


def create_app(config: Config | None = None) -> Flask:
    """Build the hub application; configuration comes from the environment by default."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config.update(
        API_TITLE="Joint-supervision exchange 贯通协同监督数据交换",
        API_VERSION="1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/v1",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=config.max_batch_bytes + 4096,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.url_map.converters.update(message_id=MessageIdConverter, business_key=BusinessKeyConverter)
    app.extensions["exchange"] = Hub(config)

    api = ExchangeApi(
        app, spec_kwargs={"info": {"description": _API_DESCRIPTION + "\n\n" + problems_table()}}
    )
    app.extensions["exchange_api"] = api
    from exchange.api import (
        directory,
        docs,
        figures,
        health,
        inbox,
        log,
        messages,
        reports,
        tracking,
    )

    for blueprint in (
        messages.blp,
        inbox.blp,
        log.blp,
        tracking.blp,
        figures.blp,
        reports.blp,
        directory.blp,
    ):
        api.register_blueprint(blueprint)
    describe_messages(api)
    app.register_blueprint(health.blp)
    app.register_blueprint(docs.blp)
    from exchange.console import init_console

    init_console(app)
    _register_error_handlers(app)
    init_limits(app, config)
    app.teardown_request(_close_reader)
    app.after_request(_count_request)
    app.after_request(_security_headers)
    return app


# Documents for anyone to read and cache: the rest of /v1/ can carry names, amounts, ID masks.
_CACHEABLE = ("/v1/openapi.json", "/v1/docs")


def _count_request(response: Response) -> Response:
    """Requests by route (the URL rule, so ids never become labels), method and status."""
    rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
    count_request(rule, request.method, response.status_code)
    return response


def _security_headers(response: Response) -> Response:
    """No content sniffing anywhere; no shared or browser cache for partner data."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    path = request.path
    if path.startswith("/v1/") and not path.startswith(_CACHEABLE):
        response.headers["Cache-Control"] = "no-store"
    return response


class MessageIdConverter(BaseConverter):
    """A path segment that can be a message id (PROTOCOL §2); any other is not found."""

    regex = r"[A-Za-z0-9_-]{16,64}"


class BusinessKeyConverter(BaseConverter):
    """A path segment that can be a business key: 1..128 characters, no space or control
    character (schemas.fields.BusinessKey); any other is not found, unread by the store.
    """

    regex = r"[^\s\x00-\x1f\x7f/]{1,128}"


def _close_reader(_error: BaseException | None) -> None:
    reader = g.pop("reader", None)
    if reader is not None:
        reader.close()


def _register_error_handlers(app: Flask) -> None:
    # Registered after flask-smorest's own, so these win.
    app.register_error_handler(ExchangeError, problem_response)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        code = _HTTP_CODES.get(error.code or 500, "bad-request")
        messages = getattr(error, "data", {}).get("messages") if hasattr(error, "data") else None
        errors = _flatten(messages) if messages else None
        detail = error.description
        if isinstance(error, RequestEntityTooLarge):
            # Werkzeug refuses on Content-Length (or while streaming) before the body is read.
            detail = f"The body may not exceed {current_app.config['MAX_CONTENT_LENGTH']} bytes."
        headers: dict[str, str] = {}
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(sorted(error.valid_methods))  # RFC 9110 §15.5.6
        if code == "schema-invalid":
            in_request = isinstance(messages, dict) and set(messages) <= _PARAMETER_LOCATIONS
            detail = "Invalid request parameters." if in_request else None
        return http_problem_response(
            code, detail, status=error.code or 500, errors=errors, headers=headers
        )

    @app.errorhandler(DataError)
    def _unstorable(error: DataError) -> Response:
        # The schemas refuse what a column cannot hold; should a value slip past them, it is
        # the client's input, not the hub's failure.
        log.warning("value refused by the store: %s", error.orig.__class__.__name__)
        return problem_response(BadRequest("A value cannot be stored."))

    @app.errorhandler(DBAPIError)
    def _database(error: DBAPIError) -> Response:
        if not store_unavailable(error):
            return _unexpected(error)
        log.warning("database unavailable: %s", error.__class__.__name__)
        return problem_response(Unavailable("The store is unavailable; retry."))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(ExchangeError())


# webargs' locations: the first level of its error messages.
_PARAMETER_LOCATIONS = frozenset({"query", "path", "view_args", "headers"})
_LOCATIONS = _PARAMETER_LOCATIONS | {"json", "form"}


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Webargs' nested messages → ``{"json.path": [...]}`` (the location level is dropped)."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if not prefix and key in _LOCATIONS:
                flat.update(_flatten(value, ""))
                continue
            path = (
                f"{prefix}[{key}]"
                if isinstance(key, int)
                else (f"{prefix}.{key}" if prefix else str(key))
            )
            flat.update(_flatten(value, path))
    else:
        flat[prefix] = [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]
    return flat


_API_DESCRIPTION = """\
贯通协同监督数据交换中心：审计机关、纪检监察机关、巡视巡察机构、组织人事部门之间交换经签名、经校验的消息
（问题线索移送、线索办理情况反馈、成果共享、成果运用情况反馈、整改状态）。

The hub through which audit (审计机关), discipline inspection (纪检监察机关), inspection tours
(巡视巡察机构) and personnel (组织人事部门) exchange signed, schema-validated messages.

- 每个 `/v1/` 请求都带 RFC 9421 签名 (`sig1`, `ed25519`，覆盖 `@method` `@path` `@query`
  和 `content-digest`)。Every request under `/v1/` carries an RFC 9421 signature.
- 每条消息都带对其 JCS 字节 (RFC 8785) 的分离式 JWS (Ed25519)。Every message carries a detached
  JWS over `JCS(envelope)`; the components `Envelope` and `…Payload` below are the message types.
- 错误一律为 RFC 9457 问题文档，字段错误按 JSON 路径给出。Errors are RFC 9457 problem documents,
  with field errors by JSON path:"""
