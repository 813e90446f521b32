"""``exchange-partner``: a partner's own commands — make a key, print a sample envelope, send
envelope files, pull the inbox.

The hub's ``exchange`` command needs Flask and a database; this one needs neither, so a partner
installs the edge alone on its 前置机.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import click
import requests

from adapters.client import ExchangeClient
from adapters.errors import EdgeError, HubError
from keys import KeysError, SigningKey, load_signing_key, save_signing_key
from schemas import (
    KID_RE,
    MESSAGE_ID_RE,
    PARTNER_ID_RE,
    JsonInvalid,
    MessageInvalid,
    examples,
    parse_json,
    validate_envelope,
)

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "EXCHANGE_URL"
HOME_ENV = "EXCHANGE_PARTNER_HOME"
"""Where keygen writes keys and pull remembers its cursor: ``~/.exchange-partner`` by default,
outside any source tree."""
PASSPHRASE_ENV = "EXCHANGE_CLIENT_KEY_PASSPHRASE"
"""Where ``send`` and ``pull`` find the passphrase of an encrypted private key."""

EXAMPLE_BUILDERS: Final[dict[str, Callable[..., dict[str, Any]]]] = {
    "clue.referral.v1": examples.referral_example,
    "clue.feedback.v1": examples.clue_feedback_example,
    "result.share.v1": examples.share_example,
    "result.feedback.v1": examples.result_feedback_example,
    "rectification.status.v1": examples.rectification_example,
}
"""The sample builder (``schemas.examples``) of each message type a partner sends."""


@click.group()
def main() -> None:
    """Partner side of the joint-supervision exchange (贯通协同监督数据交换): keys, examples, send,
    pull.
    """


def partner_home() -> Path:
    """``$EXCHANGE_PARTNER_HOME``, else ``~/.exchange-partner``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".exchange-partner")


@main.command()
@click.option("--kid", required=True, help="key id, e.g. audit.yanliang#2026-11")
@click.option(
    "--out",
    "out_dir",
    default=lambda: str(partner_home() / "keys"),
    show_default=f"${HOME_ENV}/keys, else ~/.exchange-partner/keys",
    type=click.Path(path_type=Path),
)
@click.option("--passphrase-env", default=None, help="encrypt with the passphrase in this variable")
def keygen(kid: str, out_dir: Path, passphrase_env: str | None) -> None:
    """Generate an Ed25519 key pair: <out>/<kid>.pem (private, 0600) and .pub.pem."""
    if not KID_RE.match(kid):
        raise click.ClickException(f"not a key id: {kid!r} (expected <partner id>#<label>)")
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = kid.replace("#", "_")
    private_path, public_path = out_dir / f"{stem}.pem", out_dir / f"{stem}.pub.pem"
    if private_path.exists():
        raise click.ClickException(f"{private_path} exists; not overwriting")
    passphrase = os.environ[passphrase_env].encode() if passphrase_env else None
    key = SigningKey.generate()
    save_signing_key(private_path, key, passphrase)
    public_path.write_bytes(key.public_key.to_pem())
    click.echo(f"private key: {private_path}\npublic key:  {public_path}")


_KEY_OPTION = click.option(
    "--key",
    "key_path",
    default=None,
    type=click.Path(exists=True, path_type=Path),
    help="your private key [default: the one keygen wrote for --as]",
)
"""``send``'s and ``pull``'s private key: a file, else where ``keygen`` put the kid's."""


class Refused(click.ClickException):
    """A refused argument, said in one line (``Error: …``), with click's usage exit status 2."""

    exit_code = 2


def example_envelope(
    message_type: str,
    *,
    sender: str | None = None,
    recipients: Sequence[str] = (),
    in_reply_to: str | None = None,
    message_id: str | None = None,
    sent_at: str | None = None,
) -> dict[str, Any]:
    """A valid sample envelope of a partner message type, with a fresh id and ``sent_at``
    unless given; ``sender``, ``recipients`` and ``in_reply_to`` replace the sample's own.

    KeyError for a type partners do not send; MessageInvalid when the result would not
    validate (a sender among its recipients, say).
    """
    build = EXAMPLE_BUILDERS[message_type]
    given = {
        "sender": sender,
        "recipients": tuple(recipients) or None,
        "in_reply_to": in_reply_to,
        "id": message_id,
        "sent_at": sent_at,
    }
    envelope = build(**{name: value for name, value in given.items() if value is not None})
    validate_envelope(envelope)
    return envelope


def envelope_text(envelope: dict[str, Any]) -> str:
    """An envelope as ``example`` prints it: indented JSON, Chinese unescaped, a final newline."""
    return json.dumps(envelope, ensure_ascii=False, indent=2) + "\n"


def _partner_id(option: str, value: str) -> str:
    if PARTNER_ID_RE.match(value) is None:
        raise Refused(
            f"{option}: not a partner id: {value!r} (expected <body>.<name>, e.g. audit.yanliang)"
        )
    return value


@main.command(
    short_help="Print a valid sample envelope of TYPE, to edit and send.",
    help="Print a valid sample envelope of TYPE (a fresh id and sent_at) to edit and `send`.\n\n"
    f"TYPE is one of {', '.join(EXAMPLE_BUILDERS)}. The sample's sender and recipients are "
    "the yanliang partners; --from and --to (repeated for several) replace them. A feedback "
    "answers the message named by --in-reply-to (else a made-up id the hub refuses); --id "
    "gives the message an id of your choosing.",
)
@click.argument("message_type", metavar="TYPE")
@click.option("--from", "sender", default=None, metavar="ID", help="the sender's partner id")
@click.option(
    "--to", "recipients", multiple=True, metavar="ID", help="a recipient's partner id (repeatable)"
)
@click.option(
    "--in-reply-to", default=None, metavar="MESSAGE_ID", help="the message this one answers"
)
@click.option(
    "--id",
    "message_id",
    default=None,
    metavar="MESSAGE_ID",
    help="this message's id (else a fresh one)",
)
def example(
    message_type: str,
    sender: str | None,
    recipients: tuple[str, ...],
    in_reply_to: str | None,
    message_id: str | None,
) -> None:
    """Print a valid sample envelope of TYPE."""
    if message_type not in EXAMPLE_BUILDERS:
        raise Refused(
            f"unknown message type {message_type!r}; one of: {', '.join(EXAMPLE_BUILDERS)}"
        )
    if sender is not None:
        _partner_id("--from", sender)
    for recipient in recipients:
        _partner_id("--to", recipient)
    if in_reply_to is not None and MESSAGE_ID_RE.match(in_reply_to) is None:
        raise Refused(f"--in-reply-to: not a message id: {in_reply_to!r}")
    if message_id is not None and MESSAGE_ID_RE.match(message_id) is None:
        raise Refused(f"--id: not a message id: {message_id!r} (16 to 64 of A-Z a-z 0-9 - _)")
    try:
        envelope = example_envelope(
            message_type,
            sender=sender,
            recipients=recipients,
            in_reply_to=in_reply_to,
            message_id=message_id,
        )
    except MessageInvalid as invalid:
        problems = "; ".join(f"{path}: {' '.join(m)}" for path, m in invalid.errors.items())
        raise Refused(f"the envelope would not be valid ({problems})") from None
    click.echo(envelope_text(envelope), nl=False)


@main.command()
@click.option("--as", "kid", required=True, help="your key id")
@_KEY_OPTION
@click.option(
    "--url",
    default=lambda: os.environ.get(URL_ENV, DEFAULT_URL),
    show_default=f"${URL_ENV} or {DEFAULT_URL}",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def send(kid: str, key_path: Path | None, url: str, files: tuple[Path, ...]) -> None:
    """Sign and send envelope files (JSON); print each verified receipt.

    Each file is sent on its own: a refused or unreadable one is reported on stderr (with the
    hub's problem document) and the rest are still sent; the exit status is 1 if any failed.
    """
    client = ExchangeClient(url, kid, _private_key(kid, key_path))
    failed = False
    for path in files:
        try:
            envelope = parse_json(path.read_bytes())
            if not isinstance(envelope, dict):
                raise JsonInvalid("An envelope is a JSON object.")
            result = client.send(envelope)
        except requests.RequestException as failure:
            raise click.ClickException(_unreachable(url, failure)) from None
        except (JsonInvalid, HubError, EdgeError) as failure:
            failed = True
            problem = failure.problem if isinstance(failure, HubError) else str(failure)
            _echo_json({"file": str(path), "error": problem}, err=True)
            continue
        _echo_json(
            {
                "file": str(path),
                "id": result.id,
                "status": result.status,
                "log_index": result.log_index,
            }
        )
    if failed:
        sys.exit(1)


@main.command()
@click.option("--as", "kid", required=True, help="your key id")
@_KEY_OPTION
@click.option(
    "--url",
    default=lambda: os.environ.get(URL_ENV, DEFAULT_URL),
    show_default=f"${URL_ENV} or {DEFAULT_URL}",
)
@click.option(
    "--after", default=None, help="start after this cursor (instead of the remembered one)"
)
@click.option("--from-start", is_flag=True, help="replay the whole inbox, acked messages included")
@click.option("--ack/--no-ack", default=True, show_default=True, help="acknowledge what is pulled")
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(path_type=Path),
    help="write each message to <out>/<id>.json instead of printing",
)
def pull(
    kid: str,
    key_path: Path | None,
    url: str,
    after: str | None,
    from_start: bool,
    ack: bool,
    out_dir: Path | None,
) -> None:
    """Pull the inbox like a mailbox: what is new and not yet acked, verifying every signature
    and receipt; print each message (or save it), ack it, and remember where it stopped.
    """
    client = ExchangeClient(url, kid, _private_key(kid, key_path))
    remembered = _cursor_file(kid)
    cursor = None if from_start else after or _read_cursor(remembered)
    pulled = 0
    try:
        while True:
            page = client.inbox(after=cursor, limit=100, unacked=not from_start)
            for item in page.items:
                _deliver(item, out_dir)
            unacked = [i.envelope["id"] for i in page.items if not i.acked]
            if ack and unacked:
                client.ack(unacked)
            pulled += len(page.items)
            if page.items:
                cursor = page.items[-1].cursor
                if ack:
                    _write_cursor(remembered, cursor)
            if page.next is None:
                break
    except requests.RequestException as failure:
        raise click.ClickException(_unreachable(url, failure)) from None
    if pulled == 0:
        click.echo("no new messages", err=True)
    else:
        acked = " and acked" if ack else " (not acked)"
        click.echo(f"{_count(pulled, 'message')} pulled{acked}; cursor {cursor}", err=True)


def _deliver(item: Any, out_dir: Path | None) -> None:
    record: dict[str, Any] = {
        "cursor": item.cursor,
        "envelope": item.envelope,
        "signature": item.signature,
        "receipt": item.receipt,
    }
    if out_dir is None:
        _echo_json(record)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{item.envelope['id']}.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8"
    )


def _cursor_file(kid: str) -> Path:
    return partner_home() / "cursors" / f"{kid.replace('#', '_')}.cursor"


def _read_cursor(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return text if text.isdigit() else None


def _write_cursor(path: Path, cursor: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(cursor + "\n", encoding="ascii")
    temporary.replace(path)


def _unreachable(url: str, failure: requests.RequestException) -> str:
    cause = type(failure).__name__
    return (
        f"cannot reach the hub at {url} ({cause}): is it running? "
        f"Give its address with --url or {URL_ENV}."
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _private_key(kid: str, path: Path | None) -> SigningKey:
    if path is None:
        path = partner_home() / "keys" / f"{kid.replace('#', '_')}.pem"
        if not path.exists():
            raise Refused(f"no key for {kid} at {path}: give it with --key, or run keygen first")
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        return load_signing_key(path, passphrase.encode() if passphrase else None)
    except KeysError as bad:
        raise click.ClickException(f"{path}: cannot load the private key ({bad})") from bad


def _echo_json(document: dict[str, Any], *, err: bool = False) -> None:
    click.echo(json.dumps(document, ensure_ascii=False), err=err)


if __name__ == "__main__":
    main()
