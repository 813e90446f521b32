"""``exchange partners``: register partners, set their webhooks, suspend and reinstate."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from exchange.admin.partners import add_partner, set_partner_status, set_rate_limit
from exchange.admin.webhooks import remove_webhook, set_webhook
from exchange.cli.common import fail, hub, load_public, plural, refusals
from exchange.store.models import Partner
from exchange.transparency.log import format_time
from schemas import BODIES, body_of


@click.group(cls=AppGroup)
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
    once).
    """
    kid = kid or f"{partner_id}#1"
    the_hub = hub()
    public_key = load_public(key_path)
    secret = None
    with refusals(), the_hub.sessions.begin() as session:
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
    disabled; or remove it.
    """
    if remove == (url is not None):
        fail("give either a URL or --remove")
    the_hub = hub()
    with refusals(), the_hub.sessions.begin() as session:
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
        click.echo(
            f"{partner_id} pulls; {plural(cancelled, 'pending push', 'pending pushes')} cancelled"
        )
    else:
        _show_secret(url, secret)


@partners.command("list")
def partners_list() -> None:
    """List partners and their keys."""
    with hub().readers() as session:
        registered = list(session.scalars(select(Partner).order_by(Partner.id)))
        if not registered:
            click.echo("no partners yet: register one with `exchange partners add`")
        for partner in registered:
            webhook = f"\twebhook={partner.webhook_url}" if partner.webhook_url else ""
            if partner.webhook_url and partner.webhook_disabled_at:
                webhook += f" (disabled by a 410 at {format_time(partner.webhook_disabled_at)})"
            limit = f"\trate limit {partner.rate_limit}" if partner.rate_limit else ""
            click.echo(f"{partner.id}\t{partner.status}\t{partner.name}{webhook}{limit}")
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
    the_hub = hub()
    with refusals(), the_hub.sessions.begin() as session:
        set_partner_status(session, partner_id, status, actor="cli", now=the_hub.now())
    click.echo(f"{partner_id} is {status}")


@partners.command("set-limit")
@click.argument("partner_id")
@click.argument("limit", required=False)
@click.option("--default", "to_default", is_flag=True, help="back to EXCHANGE_RATELIMIT_PARTNER")
def partners_set_limit(partner_id: str, limit: str | None, to_default: bool) -> None:
    """Give a partner its own rate limit, e.g. ``3000/minute`` or ``50/second;2000/minute``
    (each hub process reads it at the partner's next request).
    """
    if to_default == (limit is not None):
        fail("give either a limit (e.g. 3000/minute) or --default")
    the_hub = hub()
    with refusals(), the_hub.sessions.begin() as session:
        set_rate_limit(session, partner_id, limit)
    click.echo(f"{partner_id}: rate limit {limit or 'the hub default'}")
