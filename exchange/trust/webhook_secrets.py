"""Partners' webhook secrets (Standard Webhooks ``whsec_…``): made here, sealed in the store
(bound to their partner), opened only to sign a push.
"""

from __future__ import annotations

import base64
import secrets

from exchange.trust.hub_keys import HubTrust

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_…`` secret stands for."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def seal_secret(trust: HubTrust, partner_id: str, secret: str) -> bytes:
    """A secret sealed for the store, openable only for its partner."""
    return trust.sealing.seal(secret.encode(), aad=_secret_aad(partner_id))


def _secret_aad(partner_id: str) -> bytes:
    # Bound to the partner: a sealed secret copied to another partner's row does not open.
    return f"webhook-secret:{partner_id}".encode()


def open_secret(trust: HubTrust, partner_id: str, sealed: bytes) -> bytes:
    """The HMAC key of a partner's sealed webhook secret."""
    return secret_key(trust.sealing.open(sealed, aad=_secret_aad(partner_id)).decode())
