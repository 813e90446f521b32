"""The ``exchange`` command: set up, serve, manage partners and keys, send, pull, review."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import requests
from flask import current_app
from flask.cli import FlaskGroup
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from exchange.admin.partners import add_key, add_partner, revoke_key, set_partner_status
from exchange.app import create_app
from exchange.config import Config
from exchange.errors import (
    BadRequest,
    ClassifiedContentRefused,
    DuplicateConflict,
    ExchangeError,
    InvalidJson,
    InvalidTransition,
    KeyNotAccepted,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RequestSignatureInvalid,
    RouteNotAllowed,
    SchemaInvalid,
    SenderMismatch,
    SignatureInvalid,
    Unavailable,
    UnregisteredKey,
)
from exchange.hub import Hub
from exchange.store.models import Partner
from exchange.transparency.evidence import export_evidence
from exchange.transparency.log import StoredTree, checkpoint_due, format_time, sign_checkpoint
from exchange.transparency.verify import IntegrityFailure, verify_store
from exchange.transport.notices import notice_line, run_notices
from exchange.transport.outbox import (
    PUSH_STATES,
    Dispatcher,
    Tally,
    WebhookSender,
    push_deliveries,
    remove_webhook,
    resend,
    set_webhook,
)
from exchange.transport.review import decide, pending
from keys import (
    EvidenceInvalid,
    KeysError,
    SigningKey,
    load_signing_key,
    load_verifying_key,
    save_signing_key,
    verify_evidence,
)
from schemas import BODIES, KID_RE, JsonInvalid, body_of, parse_json

DEFAULT_URL = "http://127.0.0.1:8080"


def _hub() -> Hub:
    the_hub: Hub = current_app.extensions["exchange"]
    return the_hub


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.group(
    cls=FlaskGroup,
    create_app=lambda: create_app(),
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
def main() -> None:
    """Joint-supervision exchange hub (贯通协同监督数据交换)."""


# The app comes from the environment ($EXCHANGE_*), never from Flask's own -A/-e/--debug options.
main.params = [p for p in main.params if p.name not in ("app", "env_file", "debug")]


@main.command(with_appcontext=False)
def init() -> None:
    """Create the store under $EXCHANGE_HOME (schema migrations, hub keys) if absent."""
    config = Config.from_env()
    created = Hub(config).initialise()
    for name in created:
        click.echo(f"created {config.keys_dir / name}")
    click.echo(f"store ready at {config.database_url}")


@main.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option(
    "--threads", default=8, show_default=True, type=int, help="request threads per worker"
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the hub: gunicorn when installed, else Flask's development server.

    gunicorn runs threaded workers (gthread): a slow client holds one thread, never a whole
    worker, and idle keep-alive connections wait in the worker's poller, not in a thread."""
    config = Config.from_env()
    metrics_dir = config.home / "run" / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if shutil.which("gunicorn") or _has_module("gunicorn"):
        click.echo(
            f"serving with gunicorn ({workers} workers × {threads} threads) on http://{host}:{port}"
        )
        sys.stdout.flush()
        os.execv(
            sys.executable,
            [sys.executable, "-m", "gunicorn", *_gunicorn_args(host, port, workers, threads)],
        )
    click.echo(
        f"gunicorn is not installed: serving with Flask's development server on "
        f"http://{host}:{port} (not for production)"
    )
    create_app(config).run(host=host, port=port, threaded=True)


def _gunicorn_args(host: str, port: int, workers: int, threads: int) -> list[str]:
    """The gunicorn command line of ``exchange serve``."""
    return [
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--bind",
        f"{host}:{port}",
        "--access-logfile",
        "-",
        # A worker that stops answering its arbiter for 60 s is replaced.
        "--timeout",
        "60",
        # Idle keep-alive connections are closed after 5 s (they wait in the poller).
        "--keep-alive",
        "5",
        "--graceful-timeout",
        "30",
        # gunicorn's own bounds on the request line and headers (answered 4xx beyond).
        "--limit-request-line",
        "8190",
        "--limit-request-fields",
        "100",
        "--limit-request-field_size",
        "8190",
        "exchange.app:create_app()",
    ]


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@main.command(with_appcontext=False)
@click.option("--kid", required=True, help="key id, e.g. audit.yanliang#2026-11")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--passphrase-env", default=None, help="encrypt with the passphrase in this variable")
def keygen(kid: str, out_dir: Path, passphrase_env: str | None) -> None:
    """Generate an Ed25519 key pair: <out>/<kid>.pem (private, 0600) and .pub.pem."""
    if not KID_RE.match(kid):
        _fail(f"not a key id: {kid!r} (expected <partner id>#<label>)")
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = kid.replace("#", "_")
    private_path, public_path = out_dir / f"{stem}.pem", out_dir / f"{stem}.pub.pem"
    if private_path.exists():
        _fail(f"{private_path} exists; not overwriting")
    passphrase = os.environ[passphrase_env].encode() if passphrase_env else None
    key = SigningKey.generate()
    save_signing_key(private_path, key, passphrase)
    public_path.write_bytes(key.public_key.to_pem())
    click.echo(f"private key: {private_path}\npublic key:  {public_path}")


@main.group()
def partners() -> None:
    """Register and list partners."""


@partners.command("add")
@click.argument("partner_id")
@click.option("--name", required=True, help="the body's name, e.g. 燕良区审计局")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--kid", default=None, help="defaults to <partner id>#1")
@click.option("--webhook", default=None, help="URL for push delivery")
@click.option(
    "--allow-internal",
    is_flag=True,
    help="let the webhook be on a loopback or link-local address (this machine)",
)
def partners_add(
    partner_id: str,
    name: str,
    key_path: Path,
    kid: str | None,
    webhook: str | None,
    allow_internal: bool,
) -> None:
    """Register a partner with its first public key (and its webhook, whose secret is shown
    once)."""
    kid = kid or f"{partner_id}#1"
    public_key = _load_public(key_path)
    the_hub = _hub()
    secret = None
    with _refusals(), the_hub.sessions.begin() as session:
        now = the_hub.now()
        add_partner(
            session,
            partner_id,
            name=name,
            kid=kid,
            public_key=public_key,
            actor="cli",
            now=now,
        )
        if webhook is not None:
            secret = set_webhook(
                session,
                partner_id,
                webhook,
                trust=the_hub.trust,
                actor="cli",
                now=now,
                allow_internal=allow_internal,
            )
    click.echo(f"added {partner_id} ({BODIES[body_of(partner_id)]}) with key {kid}")
    if secret is not None:
        _show_secret(webhook, secret)


def _show_secret(url: str | None, secret: str) -> None:
    click.echo(f"webhook {url}\nwebhook secret (shown once; give it to the partner): {secret}")


@partners.command("webhook")
@click.argument("partner_id")
@click.argument("url", required=False)
@click.option("--remove", is_flag=True, help="remove the webhook: the partner pulls")
@click.option(
    "--allow-internal",
    is_flag=True,
    help="let the webhook be on a loopback or link-local address (this machine)",
)
def partners_webhook(partner_id: str, url: str | None, remove: bool, allow_internal: bool) -> None:
    """Set a partner's webhook URL with a new secret (shown once), re-enabling one a 410
    disabled; or remove it."""
    if remove == (url is not None):
        _fail("give either a URL or --remove")
    the_hub = _hub()
    with _refusals(), the_hub.sessions.begin() as session:
        if url is None:
            cancelled = remove_webhook(session, partner_id, actor="cli", now=the_hub.now())
        else:
            secret = set_webhook(
                session,
                partner_id,
                url,
                trust=the_hub.trust,
                actor="cli",
                now=the_hub.now(),
                allow_internal=allow_internal,
            )
    if url is None:
        click.echo(f"{partner_id} pulls; {cancelled} pending pushes cancelled")
    else:
        _show_secret(url, secret)


@partners.command("list")
def partners_list() -> None:
    """List partners and their keys."""
    with _hub().readers() as session:
        for partner in session.scalars(select(Partner).order_by(Partner.id)):
            webhook = f"\twebhook={partner.webhook_url}" if partner.webhook_url else ""
            if partner.webhook_url and partner.webhook_disabled_at:
                webhook += f" (disabled by a 410 at {format_time(partner.webhook_disabled_at)})"
            click.echo(f"{partner.id}\t{partner.status}\t{partner.name}{webhook}")
            for key in partner.keys:
                state = "revoked" if key.revoked_at else "active"
                until = f" until {key.not_after:%Y-%m-%d}" if key.not_after else ""
                click.echo(f"  {key.kid}\t{state}\tfrom {key.not_before:%Y-%m-%d}{until}")


@partners.command("suspend")
@click.argument("partner_id")
def partners_suspend(partner_id: str) -> None:
    """Suspend a partner: its keys are refused and nothing more is routed to it."""
    _set_status(partner_id, "suspended")


@partners.command("reinstate")
@click.argument("partner_id")
def partners_reinstate(partner_id: str) -> None:
    """Reinstate a suspended partner."""
    _set_status(partner_id, "active")


def _set_status(partner_id: str, status: str) -> None:
    the_hub = _hub()
    with _refusals(), the_hub.sessions.begin() as session:
        set_partner_status(session, partner_id, status, actor="cli", now=the_hub.now())
    click.echo(f"{partner_id} is {status}")


@main.group("keys")
def keys_group() -> None:
    """Add and revoke partner keys."""


@keys_group.command("add")
@click.argument("partner_id")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--kid", required=True)
@click.option("--not-before", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None)
@click.option("--not-after", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None)
def keys_add(
    partner_id: str,
    key_path: Path,
    kid: str,
    not_before: datetime | None,
    not_after: datetime | None,
) -> None:
    """Add a key to a partner (dates are UTC)."""
    public_key = _load_public(key_path)
    the_hub = _hub()
    now = the_hub.now()
    with _refusals(), the_hub.sessions.begin() as session:
        add_key(
            session,
            partner_id,
            kid=kid,
            public_key=public_key,
            not_before=not_before.replace(tzinfo=UTC) if not_before else now,
            not_after=not_after.replace(tzinfo=UTC) if not_after else None,
            actor="cli",
            now=now,
        )
    click.echo(f"added key {kid}")


@keys_group.command("revoke")
@click.argument("kid")
def keys_revoke(kid: str) -> None:
    """Revoke a key now: signatures by it are refused from this moment."""
    the_hub = _hub()
    with _refusals(), the_hub.sessions.begin() as session:
        revoke_key(session, kid, actor="cli", now=the_hub.now())
    click.echo(f"revoked {kid}")


@main.group()
def review() -> None:
    """Approve or reject messages held for review."""


@review.command("list")
def review_list() -> None:
    """Messages waiting for review."""
    with _hub().readers() as session:
        for message in pending(session):
            approvals = sum(1 for r in message.reviews if r.decision == "approved")
            click.echo(
                f"{message.id}\t{message.type}\t{message.sender} → "
                f"{','.join(d.recipient for d in message.deliveries)}\t"
                f"{approvals}/{message.required_approvals} approvals"
            )


@review.command("approve")
@click.argument("message_id")
@click.option("--as", "reviewer", required=True, help="the reviewer's name")
def review_approve(message_id: str, reviewer: str) -> None:
    """Approve; the message is released once enough distinct reviewers approved."""
    _decide(message_id, reviewer, approve=True, reason=None)


@review.command("reject")
@click.argument("message_id")
@click.option("--as", "reviewer", required=True, help="the reviewer's name")
@click.option("--reason", required=True)
def review_reject(message_id: str, reviewer: str, reason: str) -> None:
    """Reject: the message is never released."""
    _decide(message_id, reviewer, approve=False, reason=reason)


def _decide(message_id: str, reviewer: str, *, approve: bool, reason: str | None) -> None:
    the_hub = _hub()
    with _refusals(), the_hub.sessions.begin() as session:
        status = decide(
            session,
            message_id,
            reviewer=reviewer,
            approve=approve,
            reason=reason,
            now=the_hub.now(),
            trust=the_hub.trust,
        ).status
    click.echo(f"{message_id}: {status}")


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn the hub's refusals into a one-line CLI error."""
    try:
        yield
    except ExchangeError as refusal:
        raise click.ClickException(refusal.detail) from None


@main.command(with_appcontext=False)
@click.option("--as", "kid", required=True, help="your key id")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--url",
    default=lambda: os.environ.get("EXCHANGE_URL", DEFAULT_URL),
    show_default="$EXCHANGE_URL or http://127.0.0.1:8080",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def send(kid: str, key_path: Path, url: str, files: tuple[Path, ...]) -> None:
    """Sign and send envelope files (JSON); print each verified receipt.

    Each file is sent on its own: a refused or unreadable one is reported on stderr (with the
    hub's problem document) and the rest are still sent; the exit status is 1 if any failed.
    """
    from adapters import EdgeError, ExchangeClient, HubError

    client = ExchangeClient(url, kid, _load_private(key_path))
    failed = False
    for path in files:
        try:
            envelope = parse_json(path.read_bytes())
            if not isinstance(envelope, dict):
                raise JsonInvalid("An envelope is a JSON object.")
            result = client.send(envelope)
        except (JsonInvalid, HubError, EdgeError, requests.RequestException) as failure:
            failed = True
            problem = failure.problem if isinstance(failure, HubError) else str(failure)
            click.echo(
                json.dumps({"file": str(path), "error": problem}, ensure_ascii=False), err=True
            )
            continue
        click.echo(
            json.dumps(
                {
                    "file": str(path),
                    "id": result.id,
                    "status": result.status,
                    "log_index": result.log_index,
                },
                ensure_ascii=False,
            )
        )
    if failed:
        sys.exit(1)


@main.command(with_appcontext=False)
@click.option("--as", "kid", required=True, help="your key id")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--url", default=lambda: os.environ.get("EXCHANGE_URL", DEFAULT_URL))
@click.option("--after", default=None, help="cursor to continue from")
@click.option("--ack/--no-ack", default=True, show_default=True, help="acknowledge what is pulled")
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(path_type=Path),
    help="write each message to <out>/<id>.json instead of printing",
)
def pull(
    kid: str, key_path: Path, url: str, after: str | None, ack: bool, out_dir: Path | None
) -> None:
    """Pull the inbox (verifying every signature and receipt), print or save, and ack."""
    from adapters import ExchangeClient

    client = ExchangeClient(url, kid, _load_private(key_path))
    cursor = after
    while True:
        page = client.inbox(after=cursor, limit=100)
        for item in page.items:
            record: dict[str, Any] = {
                "cursor": item.cursor,
                "envelope": item.envelope,
                "signature": item.signature,
                "receipt": item.receipt,
            }
            if out_dir is not None:
                out_dir.mkdir(parents=True, exist_ok=True)
                (out_dir / f"{item.envelope['id']}.json").write_text(
                    json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8"
                )
            else:
                click.echo(json.dumps(record, ensure_ascii=False))
        unacked = [i.envelope["id"] for i in page.items if not i.acked]
        if ack and unacked:
            client.ack(unacked)
        if page.items:
            cursor = page.items[-1].cursor
        if page.next is None:
            break
    click.echo(f"cursor: {cursor}", err=True)


def _load_public(path: Path) -> Any:
    try:
        return load_verifying_key(path)
    except KeysError as bad:
        _fail(f"{path}: not an Ed25519 key ({bad})")


def _load_private(path: Path) -> SigningKey:
    passphrase = os.environ.get("EXCHANGE_CLIENT_KEY_PASSPHRASE")
    try:
        return load_signing_key(path, passphrase.encode() if passphrase else None)
    except KeysError as bad:
        raise click.ClickException(f"{path}: cannot load the private key ({bad})") from bad


@main.group("log")
def log_group() -> None:
    """Check the transparency log and sign checkpoints."""


@log_group.command("verify")
def log_verify() -> None:
    """Recompute every entry, the tree, every checkpoint and every message digest."""
    the_hub = _hub()
    with the_hub.readers() as session:
        size = StoredTree(session.connection()).size()
        try:
            with click.progressbar(length=size, label="checking the log", file=sys.stderr) as bar:
                report = verify_store(session, the_hub.trust, progress=bar.update)
        except IntegrityFailure as failure:
            click.echo(f"FAILED at log index {failure.index}: {failure.reason}", err=True)
            sys.exit(1)
    click.echo(
        f"ok: {report.entries} entries, {report.checkpoints} checkpoints, "
        f"{report.messages} messages; root {report.root_hash}"
    )


@log_group.command("checkpoint")
def log_checkpoint() -> None:
    """Sign a checkpoint of the log as it is now."""
    the_hub = _hub()
    with the_hub.sessions.begin() as session:
        checkpoint = sign_checkpoint(session, the_hub.notary, the_hub.now())
    click.echo(f"checkpoint: tree_size {checkpoint.tree_size}, root {checkpoint.root_hash.hex()}")


@main.group("notices")
def notices_group() -> None:
    """Hub notices: reminders of overdue feedback and rectification (rejections go at review)."""


@notices_group.command("run-once")
def notices_run_once() -> None:
    """Send the overdue notices due now; print one line per notice (kind, about, recipients)."""
    the_hub = _hub()
    for line in _send_notices(the_hub, the_hub.now()):
        click.echo(line)


def _send_notices(the_hub: Hub, now: datetime) -> list[str]:
    with the_hub.sessions.begin() as session:
        return [notice_line(the_hub.trust, m) for m in run_notices(session, the_hub.trust, now)]


@main.command()
@click.option("--once", is_flag=True, help="run the due jobs once and exit")
@click.option("--interval", default=5.0, show_default=True, help="seconds between rounds")
@click.option("--batch", default=20, show_default=True, help="pushes claimed at a time")
def worker(once: bool, interval: float, batch: int) -> None:
    """Run the hub's scheduled jobs: a checkpoint at least every 60 s while the log grows, the
    hub notices that are due (overdue feedback and rectification, once a week each), and the
    pushes to partners' webhooks. Several workers may run at once."""
    the_hub = _hub()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    dispatcher = Dispatcher(the_hub.sessions, the_hub.trust, WebhookSender(), batch_size=batch)
    while True:
        now = the_hub.now()
        with the_hub.sessions.begin() as session:
            if checkpoint_due(session.connection(), now):
                checkpoint = sign_checkpoint(session, the_hub.notary, now)
                click.echo(f"{format_time(now)} checkpoint tree_size {checkpoint.tree_size}")
        for line in _send_notices(the_hub, now):
            click.echo(f"{format_time(now)} notice {line}")
        try:
            busy = _push(the_hub, dispatcher, stopping, seconds=max(interval, 10.0))
        except DBAPIError as failure:
            # A deadlock victim or a lost connection: what was claimed is claimed again once
            # its lease runs out; the next round goes on.
            click.echo(f"{format_time(the_hub.now())} deliveries failed: {failure.orig}", err=True)
            busy = False
        if once or stopping.is_set() or (not busy and stopping.wait(interval)):
            dispatcher.sender.close()
            return


def _push(the_hub: Hub, dispatcher: Dispatcher, stopping: threading.Event, seconds: float) -> bool:
    """Push batches until none is due, for at most ``seconds`` (the other jobs wait meanwhile);
    return whether the last batch was full (more may be due at once)."""
    tally, started, full = Tally(), the_hub.now(), False
    while not stopping.is_set():
        batch = dispatcher.run_once(the_hub.now())
        tally.add(batch)
        full = batch.claimed == dispatcher.batch_size
        if not full or (the_hub.now() - started).total_seconds() >= seconds:
            break
    if tally.claimed:
        click.echo(f"{format_time(the_hub.now())} deliveries {tally}")
    return full


@main.group("deliveries")
def deliveries_group() -> None:
    """Pushes to partners' webhooks: list them, resend dead-lettered ones."""


@deliveries_group.command("list")
@click.option(
    "--state",
    type=click.Choice([*PUSH_STATES, "all"]),
    default="dead",
    show_default=True,
    help="pending (retrying included), sending, pushed, dead (dead-lettered), cancelled",
)
@click.option("--partner", default=None, help="only the pushes to this partner")
@click.option("--limit", default=100, show_default=True)
def deliveries_list(state: str, partner: str | None, limit: int) -> None:
    """Pushes, latest attempt first: message, recipient, state, attempts, last attempt, next
    attempt, last error."""
    with _hub().readers() as session:
        for d in push_deliveries(
            session, state=None if state == "all" else state, recipient=partner, limit=limit
        ):
            click.echo(
                "\t".join(
                    (
                        d.message_id,
                        d.recipient,
                        str(d.push_state),
                        f"{d.attempts} attempts",
                        f"last {format_time(d.last_attempt_at)}" if d.last_attempt_at else "-",
                        f"next {format_time(d.next_attempt_at)}" if d.next_attempt_at else "-",
                        d.last_error or "-",
                    )
                )
            )


@deliveries_group.command("resend")
@click.argument("message_ids", nargs=-1)
@click.option("--dead", is_flag=True, help="every dead-lettered push (instead of message ids)")
@click.option("--to", "recipient", default=None, help="only the push to this partner")
def deliveries_resend(message_ids: tuple[str, ...], dead: bool, recipient: str | None) -> None:
    """Queue pushes again (the retry schedule starts over): those of the given messages, or
    with --dead every dead-lettered one. The next worker round sends them."""
    if dead == bool(message_ids):
        _fail("give message ids or --dead")
    the_hub = _hub()
    with _refusals(), the_hub.sessions.begin() as session:
        queued = [
            d
            for message_id in (message_ids or (None,))
            for d in resend(
                session, message_id, recipient=recipient, actor="cli", now=the_hub.now()
            )
        ]
    for d in queued:
        click.echo(f"{d.message_id}\t{d.recipient}\tqueued")
    click.echo(f"{len(queued)} pushes queued", err=True)


@main.group("evidence")
def evidence_group() -> None:
    """Export a message's evidence bundle; verify one offline."""


@evidence_group.command("export")
@click.argument("message_id")
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path))
def evidence_export(message_id: str, out_path: Path) -> None:
    """Write the evidence bundle of MESSAGE_ID to a JSON file."""
    the_hub = _hub()
    with _refusals(), the_hub.sessions.begin() as session:
        bundle = export_evidence(
            session, the_hub.trust, the_hub.notary, message_id, now=the_hub.now()
        )
    out_path.write_text(json.dumps(bundle, ensure_ascii=False, indent=2) + "\n")
    click.echo(f"wrote {out_path} ({len(bundle['log'])} log entries)")


@evidence_group.command("verify", context_settings={"ignore_unknown_options": False})
@click.argument("bundle_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--hub-keys",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the hub's JWK Set to trust (e.g. a saved /.well-known/jwks.json)",
)
def evidence_verify(bundle_path: Path, hub_keys: Path | None) -> None:
    """Check an evidence bundle offline: no hub, no database, no network."""
    try:
        bundle = json.loads(bundle_path.read_text())
        pinned = json.loads(hub_keys.read_text()) if hub_keys else None
    except ValueError as bad:
        _fail(f"not JSON: {bad}")
    try:
        verified = verify_evidence(bundle, hub_keys=pinned)
    except EvidenceInvalid as invalid:
        click.echo(f"INVALID: {invalid}", err=True)
        sys.exit(1)
    checkpoint = verified.checkpoint
    click.echo(
        f"ok: message {verified.message_id} from {verified.envelope['from']} "
        f"signed by {verified.sender_kid}; {len(verified.entries)} log entries proved in "
        f"tree {checkpoint['tree_size']} ({checkpoint['origin']}); "
        f"acked by {', '.join(verified.acked_by) or 'no one yet'}"
        + ("" if pinned else "; hub key taken from the bundle (pin it with --hub-keys)")
    )


@main.group("report")
def report_group() -> None:
    """Write the 整改台账 or the 移送线索台账 as a spreadsheet (XLSX or CSV)."""


def _report_options(command: Callable[..., None]) -> Callable[..., None]:
    dates = click.DateTime(["%Y-%m-%d"])
    options = (
        click.option(
            "--format",
            "extension",
            type=click.Choice(["xlsx", "csv"]),
            default=None,
            help="xlsx (with the sheet 汇总) or csv (the rows); default: the --out suffix",
        ),
        click.option("--out", "out_path", required=True, type=click.Path(path_type=Path)),
        click.option("--from", "start", type=dates, default=None, help="first Beijing date"),
        click.option("--to", "end", type=dates, default=None, help="last Beijing date"),
        click.option("--partner", default=None, help="only what this partner sent or received"),
    )
    for option in reversed(options):
        command = option(command)
    return command


@report_group.command("ledger")
@_report_options
def report_ledger(
    extension: str | None,
    out_path: Path,
    start: datetime | None,
    end: datetime | None,
    partner: str | None,
) -> None:
    """整改台账: one row per ledger item (--from/--to: the day first reported)."""
    _write_report("ledger", extension, out_path, start, end, partner)


@report_group.command("referrals")
@_report_options
def report_referrals(
    extension: str | None,
    out_path: Path,
    start: datetime | None,
    end: datetime | None,
    partner: str | None,
) -> None:
    """移送线索台账: one row per recipient's handling of a referral (--from/--to: the day sent)."""
    _write_report("referrals", extension, out_path, start, end, partner)


def _write_report(
    kind: str,
    extension: str | None,
    out_path: Path,
    start: datetime | None,
    end: datetime | None,
    partner: str | None,
) -> None:
    from exchange.supervision.figures import Period
    from exchange.supervision.reports import FORMATS, REPORTS

    extension = extension or out_path.suffix.removeprefix(".").lower()
    if extension not in FORMATS:
        _fail("give --format xlsx or csv (or an --out file ending in .xlsx or .csv)")
    period = Period(start.date() if start else None, end.date() if end else None)
    if period.start and period.end and period.start > period.end:
        _fail("--from must not be after --to")
    the_hub = _hub()
    with the_hub.readers() as session:
        if partner is not None and session.get(Partner, partner) is None:
            _fail(f"no such partner: {partner}")
        report = REPORTS[kind](session, the_hub.trust, partner, period, the_hub.now())
    out_path.write_bytes(report.render(extension))
    click.echo(f"wrote {out_path} ({len(report.table.rows)} rows)")


@main.command(with_appcontext=False)
def demo() -> None:
    """A round of joint supervision: a hub and four partner agents as real processes."""
    from exchange.demo import run_demo

    started = time.monotonic()
    summary = run_demo(click.echo)
    click.echo(f"summary ({time.monotonic() - started:.0f} s):")
    for name, value in summary.items():
        click.echo(f"  {name}: {json.dumps(value, ensure_ascii=False)}")
