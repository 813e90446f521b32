"""Partners' webhook secrets (Standard Webhooks ``whsec_…``): made here, sealed in the store
(bound to their partner), opened only to sign a push.
"""

from __future__ import annotations

from exchange.trust.hub_keys import HubTrust
from keys.webhooks import new_webhook_secret, webhook_secret_key

__all__ = ["new_webhook_secret", "open_secret", "seal_secret", "secret_aad"]


def seal_secret(trust: HubTrust, partner_id: str, secret: str) -> bytes:
    """A secret sealed for the store, openable only for its partner."""
    return trust.sealing.seal(secret.encode(), aad=secret_aad(partner_id))


def secret_aad(partner_id: str) -> bytes:
    """The associated data a partner's webhook secret is sealed with."""
    # Bound to the partner: a sealed secret copied to another partner's row does not open.
    return f"webhook-secret:{partner_id}".encode()


def open_secret(trust: HubTrust, partner_id: str, sealed: bytes) -> bytes:
    """The HMAC key of a partner's sealed webhook secret."""
    return webhook_secret_key(trust.sealing.open(sealed, aad=secret_aad(partner_id)).decode())
