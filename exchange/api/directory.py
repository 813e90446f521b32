"""The partner directory: ``GET /v1/partners``."""

from __future__ import annotations

import logging
from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from exchange.api.auth import authenticate_partner
from exchange.api.schemas import PartnersSchema
from exchange.store.models import Partner, PartnerKey
from exchange.transparency.log import format_time
from keys import KeyFormatError, VerifyingKey

_log = logging.getLogger(__name__)

blp = Blueprint("partners", __name__, url_prefix="/v1", description="Partner directory")
blp.before_request(authenticate_partner)


@blp.route("/partners", methods=["GET"])
@blp.response(200, PartnersSchema)
def partners() -> Any:
    """Every partner with its public keys and their windows."""
    # The request's read session, opened by authentication and closed at teardown.
    rows = g.reader.scalars(
        select(Partner).options(selectinload(Partner.keys)).order_by(Partner.id)
    )
    return {"partners": [partner_view(p) for p in rows]}


def partner_view(partner: Partner) -> dict[str, Any]:
    """A partner as the directory shows it."""
    return {
        "id": partner.id,
        "name": partner.name,
        "body": partner.body,
        "status": partner.status,
        "keys": [view for view in map(_key_view, partner.keys) if view is not None],
    }


def _key_view(key: PartnerKey) -> dict[str, Any] | None:
    try:
        jwk = VerifyingKey.from_raw(key.public_key).to_jwk(key.kid)
    except KeyFormatError:
        # Written behind the hub's back (it refuses such keys): it verifies nothing, so it is
        # not shown; `exchange log verify` names what it signed.
        _log.error("partner key %s in the store is not a key the hub registers", key.kid)
        return None
    return {
        "kid": key.kid,
        "jwk": jwk,
        "not_before": format_time(key.not_before),
        "not_after": format_time(key.not_after) if key.not_after else None,
        "revoked_at": format_time(key.revoked_at) if key.revoked_at else None,
    }
