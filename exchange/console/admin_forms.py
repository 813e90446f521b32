"""What the console's administration pages (partners and keys, users) share: reading a form's
fields, refusing one with a translated message that names it, a pasted public key, a password
the admin sets or has generated, and the names of bodies and refusals on the pages.

A refusal is raised before anything is written, or inside the transaction that then rolls
back: a refused form leaves nothing behind.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from exchange.admin.accounts import MIN_PASSWORD_LENGTH
from exchange.errors import ExchangeError, NotFound
from keys import KeysError, VerifyingKey

# What each body is called on the pages (schemas.BODIES holds the Chinese only).
BODY_NAMES = {
    "audit": _l("Audit office"),
    "discipline": _l("Discipline inspection and supervision"),
    "inspection": _l("Inspection tours"),
    "personnel": _l("Organisation and personnel"),
    "authority": _l("Competent authority"),
}
MAX_KEY_TEXT = 10_000
MAX_PASSWORD_LENGTH = 1024


class FormRefused(Exception):
    """A form refused: a translated message per field (``""`` for the form), and the status
    of the page that says so (400 bad input, 404 nothing of that id, 409 not in this state).
    """

    def __init__(self, errors: dict[str, str], status: int = 400) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status = status


def refuse(field: str, message: str, status: int = 400) -> NoReturn:
    """Refuse the form for one field."""
    raise FormRefused({field: message}, status)


def refused_by_domain(refusal: ExchangeError) -> FormRefused:
    """A refusal of ``exchange.admin`` that the page's own checks did not foresee (a race):
    translated framing around the domain's own words.
    """
    status = 404 if isinstance(refusal, NotFound) else 409
    return FormRefused({"": gettext("Refused: %(detail)s", detail=refusal.detail)}, status)


def text_field(
    form: Mapping[str, str], field: str, label: str, *, max_length: int, required: bool = True
) -> str:
    """The field's text, spaces trimmed; refused when required and empty, too long, or holding
    control characters.
    """
    value = form.get(field, "").strip()
    if not value:
        if required:
            refuse(field, gettext("%(field)s: this field is required.", field=label))
        return ""
    if len(value) > max_length:
        refuse(
            field,
            gettext("%(field)s: at most %(count)d characters.", field=label, count=max_length),
        )
    if any(unicodedata.category(c).startswith("C") for c in value):
        refuse(
            field, gettext("%(field)s: control or invisible characters are refused.", field=label)
        )
    return value


def public_key(form: Mapping[str, str], field: str, label: str) -> tuple[VerifyingKey, str | None]:
    """The pasted public key — a PEM block, or a JWK (or a JWK Set of one key) — and the kid a
    JWK names, if any. A private key is refused: it stays on the partner's machine.
    """
    pasted = form.get(field, "").strip()
    if not pasted:
        refuse(field, gettext("%(field)s: this field is required.", field=label))
    if len(pasted) > MAX_KEY_TEXT:
        refuse(field, gettext("%(field)s: not an Ed25519 public key.", field=label))
    if "PRIVATE KEY" in pasted:
        refuse(field, _private_refusal(label))
    if not pasted.startswith("{"):
        try:
            return VerifyingKey.from_pem(pasted.encode()), None
        except KeysError:
            refuse(field, _key_refusal(label))
    try:
        jwk = _one_jwk(json.loads(pasted))
    except ValueError:
        refuse(field, _key_refusal(label))
    if "d" in jwk:
        refuse(field, _private_refusal(label))
    try:
        key = VerifyingKey.from_jwk(jwk)
    except KeysError:
        refuse(field, _key_refusal(label))
    kid = jwk.get("kid")
    return key, kid if isinstance(kid, str) else None


def _one_jwk(document: Any) -> dict[str, Any]:
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        if len(document["keys"]) != 1:
            raise ValueError("a JWK Set of more than one key")
        document = document["keys"][0]
    if not isinstance(document, dict):
        raise ValueError("not a JWK")
    return document


def _key_refusal(label: str) -> str:
    return str(
        gettext("%(field)s: not an Ed25519 public key (paste a PEM block or a JWK).", field=label)
    )


def _private_refusal(label: str) -> str:
    return str(
        gettext(
            "%(field)s: this is a private key. Paste the partner's public key; the private key "
            "stays on the partner's machine.",
            field=label,
        )
    )


def utc_time(form: Mapping[str, str], field: str, label: str) -> datetime | None:
    """A date (``2026-12-31``) or a date and time (``2026-12-31T08:00``), in UTC; None when
    empty.
    """
    value = form.get(field, "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        refuse(field, gettext("%(field)s: not a date (YYYY-MM-DD, UTC).", field=label))
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    return moment.replace(tzinfo=UTC)


def new_password(form: Mapping[str, str]) -> tuple[str, bool]:
    """The password the admin typed twice, or one generated when both fields are empty; and
    whether it was generated (then the page shows it once).
    """
    password, again = form.get("password", ""), form.get("password_again", "")
    if not password and not again:
        return secrets.token_urlsafe(15), True
    if len(password) < MIN_PASSWORD_LENGTH:
        refuse(
            "password",
            gettext(
                "Password: at least %(count)d characters (or leave both fields empty to have "
                "one generated).",
                count=MIN_PASSWORD_LENGTH,
            ),
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        refuse(
            "password",
            gettext(
                "%(field)s: at most %(count)d characters.",
                field=gettext("Password"),
                count=MAX_PASSWORD_LENGTH,
            ),
        )
    if password != again:
        refuse("password_again", gettext("Password again: the two passwords differ."))
    return password, False
