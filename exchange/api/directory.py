"""The partner directory: ``GET /v1/partners``."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from exchange.api.auth import authenticate_partner
from exchange.api.schemas import PartnersSchema
from exchange.store.models import Partner
from exchange.transparency.log import format_time
from keys import VerifyingKey

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
        "keys": [
            {
                "kid": k.kid,
                "jwk": VerifyingKey.from_raw(k.public_key).to_jwk(k.kid),
                "not_before": format_time(k.not_before),
                "not_after": format_time(k.not_after) if k.not_after else None,
                "revoked_at": format_time(k.revoked_at) if k.revoked_at else None,
            }
            for k in partner.keys
        ],
    }
