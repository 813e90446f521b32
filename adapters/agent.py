"""``exchange-agent``: the partner's side of the exchange, run on its 前置机.

It watches ``outbox/`` for native files, converts each with the body's adapter, signs and sends
the messages (in batches), and moves the file to ``sent/`` or ``failed/`` (with a
``.error.json`` beside it). It pulls the inbox, verifies every signature, receipt and inclusion
proof, writes each message in the body's native form to ``inbox/`` and acks it. Its state lives
on disk, so a restart neither loses nor duplicates anything:

- before a file's messages are sent, their ids and ``sent_at`` are fixed in ``state/``; sent
  again after a crash, the hub answers the identical resubmission with the same receipt;
- an inbox message is written under its id before it is acked; pulled again, it is rewritten
  with the same content and acked again (acking twice is harmless);
- the newest checkpoint seen is kept, and every later one must extend it.

No Flask and no SQLAlchemy here: a partner installs the edge without the hub.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import sys
import threading
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from pathlib import Path
from typing import Any

import requests

from adapters.base import Adapter
from adapters.client import ExchangeClient, SendResult
from adapters.discovery import adapter_for
from adapters.errors import EdgeError, HubError, VerificationFailed
from keys import (
    WEBHOOK_HEADERS,
    WebhookSignatureInvalid,
    load_signing_key,
    verify_webhook,
    webhook_secret_key,
)

log = logging.getLogger("exchange.agent")

FOLDERS = ("outbox", "sent", "failed", "inbox", "state")
BACKOFF_MAX = 60.0


class AgentConfigError(EdgeError):
    """The agent's TOML configuration is unusable."""


@dataclass(frozen=True)
class AgentConfig:
    """``agent.toml``: where the hub is, who the agent speaks as, where its folders are."""

    hub_url: str
    kid: str
    key_file: Path
    adapter: str
    folder: Path
    poll_seconds: float = 5.0
    batch_size: int = 100
    key_passphrase_env: str | None = None
    partners: dict[str, str] = field(default_factory=dict)
    # ``[webhook] listen = "127.0.0.1:9100"``: also take pushes there (PROTOCOL §7); with
    # ``secret_env``, the `v1` HMAC must match too, not only the hub's `v1a` signature.
    webhook_listen: str | None = None
    webhook_secret_env: str | None = None

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        """Read and check a TOML file (relative paths are relative to the file)."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as bad:
            raise AgentConfigError(f"{path}: {bad}") from None
        missing = [k for k in ("hub_url", "kid", "key_file", "adapter", "folder") if k not in raw]
        if missing:
            raise AgentConfigError(f"{path}: missing {', '.join(missing)}")
        base = path.parent
        return cls(
            hub_url=str(raw["hub_url"]),
            kid=str(raw["kid"]),
            key_file=base / str(raw["key_file"]),
            adapter=str(raw["adapter"]),
            folder=base / str(raw["folder"]),
            poll_seconds=float(raw.get("poll_seconds", 5.0)),
            batch_size=int(raw.get("batch_size", 100)),
            key_passphrase_env=raw.get("key_passphrase_env"),
            partners={str(k): str(v) for k, v in raw.get("partners", {}).items()},
            webhook_listen=raw.get("webhook", {}).get("listen"),
            webhook_secret_env=raw.get("webhook", {}).get("secret_env"),
        )


class Agent:
    """One partner's agent: outbox → hub, hub → inbox, with its state on disk."""

    def __init__(
        self,
        config: AgentConfig,
        client: ExchangeClient,
        adapter: Adapter,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.adapter = adapter
        self.clock = clock or (lambda: datetime.now(UTC))
        self.folders = {name: config.folder / name for name in FOLDERS}
        for folder in self.folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        self._checkpoint_file = self.folders["state"] / "checkpoint.json"
        # The pull loop and the webhook endpoint share the client and the inbox folder.
        self._taking = threading.Lock()
        if self._checkpoint_file.exists():
            signed = json.loads(self._checkpoint_file.read_text())["signed"]
            self.client.last_checkpoint = self.client.read_checkpoint(signed)

    # -- sending -------------------------------------------------------------------------
    def send_outbox(self) -> int:
        """Send every file waiting in ``outbox/``; return how many were moved out."""
        moved = 0
        for path in sorted(p for p in self.folders["outbox"].iterdir() if p.is_file()):
            if path.name.startswith("."):
                continue
            self._send_file(path)
            moved += 1
        return moved

    def _send_file(self, path: Path) -> None:
        plan = self._plan(path)
        if isinstance(plan, EdgeError):
            self._fail(path, {"error": str(plan)})
            return
        results: list[SendResult | HubError] = []
        for start in range(0, len(plan), self.config.batch_size):
            chunk = plan[start : start + self.config.batch_size]
            results.extend(self.client.send_batch(chunk) if len(chunk) > 1 else self._one(chunk))
        refused = [
            {"id": e["id"], "problem": r.problem}
            for e, r in zip(plan, results, strict=True)
            if isinstance(r, HubError)
        ]
        receipts = [
            {"id": r.id, "status": r.status, "log_index": r.log_index, "receipt": r.receipt}
            for r in results
            if isinstance(r, SendResult)
        ]
        if refused:
            self._fail(path, {"refused": refused, "accepted": receipts})
            return
        _write_json(self.folders["sent"] / f"{path.name}.receipts.json", receipts)
        path.replace(self.folders["sent"] / path.name)
        self._plan_file(path).unlink(missing_ok=True)
        log.info("sent %s: %d messages, log %s", path.name, len(receipts), _indices(receipts))

    def _one(self, chunk: list[dict[str, Any]]) -> list[SendResult | HubError]:
        try:
            return [self.client.send(chunk[0])]
        except HubError as refusal:
            if refusal.status >= 500:
                raise
            return [refusal]

    def _plan(self, path: Path) -> list[dict[str, Any]] | EdgeError:
        """The file's envelopes with ids and times fixed once (so a resend is identical)."""
        saved = self._plan_file(path)
        if saved.exists():
            plan: list[dict[str, Any]] = json.loads(saved.read_text())
            return plan
        try:
            drafts = self.adapter.to_messages(path)
        except EdgeError as error:
            return error
        # The file's name and bytes name its messages: the same file always gives the same ids.
        digest = hashlib.sha256(path.name.encode() + b"\0" + path.read_bytes()).hexdigest()[:32]
        sent_at = self.clock().astimezone(UTC).isoformat().replace("+00:00", "Z")
        plan = []
        for n, draft in enumerate(drafts):
            envelope = dict(draft)
            envelope.setdefault("id", f"agent-{digest}-{n:04d}")
            envelope.setdefault("sent_at", sent_at)
            plan.append(envelope)
        _write_json(saved, plan)
        return plan

    def _plan_file(self, path: Path) -> Path:
        return self.folders["state"] / f"{path.name}.plan.json"

    def _fail(self, path: Path, error: dict[str, Any]) -> None:
        _write_json(self.folders["failed"] / f"{path.name}.error.json", error)
        path.replace(self.folders["failed"] / path.name)
        self._plan_file(path).unlink(missing_ok=True)
        log.warning("failed %s: %s", path.name, json.dumps(error, ensure_ascii=False)[:300])

    # -- receiving -----------------------------------------------------------------------
    def receive(self) -> int:
        """Pull, verify, write natively, ack; return how many messages were taken in."""
        taken = 0
        while True:
            page = self.client.inbox(unacked=True, limit=self.config.batch_size)
            if not page.items:
                return taken
            with self._taking:
                for item in page.items:
                    self._prove(item.receipt, item.envelope["id"], item.envelope_sha256)
                    self._write_native(item.envelope, "pulled")
                self.client.ack([item.envelope["id"] for item in page.items])
                taken += len(page.items)
                self._save_checkpoint()

    def take_push(self, body: bytes) -> str:
        """A webhook's body ``{envelope, signature, receipt}``: verify it all as a pulled
        message, write it natively, ack it; return the message id.
        """
        document = json.loads(body)
        envelope, signature, receipt = (
            document["envelope"],
            document["signature"],
            document["receipt"],
        )
        digest = self.client.verify_message(envelope, signature)
        with self._taking:
            self._prove(receipt, envelope["id"], digest)
            self._write_native(envelope, "pushed")
            self.client.ack([envelope["id"]])
            self._save_checkpoint()
        return str(envelope["id"])

    def _write_native(self, envelope: Mapping[str, Any], how: str) -> None:
        native = self.adapter.from_message(envelope)
        _write_json(self.folders["inbox"] / f"{_safe(envelope['id'])}.json", native)
        log.info(
            "received %s (%s) from %s, %s", envelope["id"], envelope["type"], envelope["from"], how
        )

    def _prove(self, receipt: str, message_id: str, digest: str) -> None:
        claims = self.client.verify_receipt(receipt, message_id=message_id, digest=digest)
        result = SendResult(
            message_id, str(claims["status"]), receipt, int(claims["log_index"]), claims
        )
        self.client.prove_receipt(result)

    def _save_checkpoint(self) -> None:
        if self.client.last_checkpoint is not None:
            _write_json(self._checkpoint_file, self.client.last_checkpoint.as_json())

    # -- running -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Send and receive until ``stop`` is set; back off while the hub is unreachable."""
        if self.config.webhook_listen:
            server = webhook_server(self, self.config.webhook_listen)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            log.info("taking pushes on http://%s/", self.config.webhook_listen)
        delay = self.config.poll_seconds
        while not stop.is_set():
            try:
                self.send_outbox()
                self.receive()
                delay = self.config.poll_seconds
            except (requests.RequestException, HubError) as down:
                if isinstance(down, HubError) and down.status < 500:
                    raise
                delay = min(max(delay * 2, 1.0), BACKOFF_MAX)
                log.warning("hub unavailable (%s); retrying in %.0f s", down, delay)
            stop.wait(delay)


class _PushHandler(BaseHTTPRequestHandler):
    """Checks a push's signatures (PROTOCOL §7) before the agent looks at its body."""

    agent: Agent
    secret: bytes | None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        message_id = self.headers.get("webhook-id", "")
        try:
            # The hub's v1a always; the v1 HMAC too once the agent holds the webhook secret.
            pushed = verify_webhook(
                {name: self.headers.get(name, "") for name in WEBHOOK_HEADERS},
                body,
                secret=self.secret,
                hub_keys=self.agent.client.hub_keys().values(),
                now=self.agent.clock(),
            )
            taken = self.agent.take_push(pushed.body)
            if taken != pushed.message_id:
                raise VerificationFailed("webhook-id names another message")
        except (
            WebhookSignatureInvalid,
            VerificationFailed,
            ValueError,
            KeyError,
            TypeError,
        ) as refused:
            log.warning("push %s refused: %s", message_id, refused)
            self.send_response(400)
            self.end_headers()
            return
        except (requests.RequestException, HubError) as down:
            log.warning("push %s not taken (hub: %s); it will come again", message_id, down)
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the agent logs one line per message itself."""


def webhook_server(agent: Agent, listen: str) -> ThreadingHTTPServer:
    """The agent's push endpoint on ``host:port``."""
    host, _, port = listen.rpartition(":")
    secret_text = os.environ.get(agent.config.webhook_secret_env or "", "")
    handler = type(
        "PushHandler",
        (_PushHandler,),
        {"agent": agent, "secret": webhook_secret_key(secret_text) if secret_text else None},
    )
    return ThreadingHTTPServer((host, int(port)), handler)


def _indices(receipts: Sequence[Mapping[str, Any]]) -> str:
    indices = [r["log_index"] for r in receipts]
    return f"{min(indices)}..{max(indices)}" if indices else "-"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _write_json(path: Path, document: Any) -> None:
    """Write atomically: a reader (or a restart) sees the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str))
    os.replace(temporary, path)


def main(argv: Sequence[str] | None = None) -> None:
    """``exchange-agent --config agent.toml [--once]``."""
    parser = argparse.ArgumentParser(prog="exchange-agent", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--once", action="store_true", help="send and receive once, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        config = AgentConfig.load(args.config)
        passphrase = os.environ.get(config.key_passphrase_env or "", "").encode() or None
        key = load_signing_key(config.key_file, passphrase)
        adapter = load_adapter(config)
    except (EdgeError, OSError) as bad:
        sys.exit(f"exchange-agent: {bad}")
    agent = Agent(config, ExchangeClient(config.hub_url, config.kid, key), adapter)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.once:
        agent.send_outbox()
        agent.receive()
        return
    try:
        agent.run(stop)
    except KeyboardInterrupt:
        pass
    except (HubError, VerificationFailed) as fatal:
        sys.exit(f"exchange-agent: {fatal}")


def load_adapter(config: AgentConfig) -> Adapter:
    """The adapter named in the config: an ``exchange.adapters`` entry point (``audit``), or a
    ``module:Class`` path (an adapter under development).
    """
    partner_id = config.kid.split("#")[0]
    if ":" not in config.adapter:
        return adapter_for(config.adapter, partner_id=partner_id, partners=config.partners)
    module, _, name = config.adapter.partition(":")
    factory = getattr(import_module(module), name)
    adapter: Adapter = factory(partner_id=partner_id, partners=config.partners)
    return adapter


if __name__ == "__main__":
    main()
