"""gunicorn's own refusals as problem documents: the hub's gunicorn worker.

gunicorn refuses some requests before the application sees them — a request line over
``limit_request_line`` (414), too many or too large header fields (431), a request line or
header it cannot parse (400) — and writes an HTML page for each. In the hub's workers that
page is an RFC 9457 problem document like every other refusal, naming the limit.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from exchange.api.problems import PROBLEM_MEDIA_TYPE, problem_document
from exchange.errors import BadRequest, ExchangeError


class ProblemThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's threaded worker (gthread), answering its own refusals as problem JSON."""

    def init_process(self) -> None:
        """Write gunicorn's refusals as problem documents, then run as gthread does."""
        limits = self.cfg

        def write_problem(sock: Any, status: int, reason: str, message: str) -> None:
            body = json.dumps(_problem(status, reason, message, limits)).encode("utf-8")
            head = (
                f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
                f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n"
                "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n"
            )
            util.write_nonblock(sock, head.encode("latin-1") + body)

        # gunicorn's handle_error writes through util.write_error; this process is the hub's.
        util.write_error = write_problem
        super().init_process()


def _problem(status: int, reason: str, message: str, cfg: Any) -> dict[str, Any]:
    if status == 414:
        detail = f"The request line may not exceed {cfg.limit_request_line} bytes."
    elif status == 431:
        detail = (
            f"At most {cfg.limit_request_fields} header fields, "
            f"each of at most {cfg.limit_request_field_size} bytes."
        )
    else:
        # gunicorn's message quotes what it could not parse: the reason says enough.
        detail = f"{reason}: the HTTP server could not read the request."
    error = BadRequest(detail) if status < 500 else ExchangeError()
    return problem_document(error, status=status)
