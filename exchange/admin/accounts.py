"""Operator accounts: admins, reviewers and observers, their argon2 passwords, sign-in with
throttling — every change and every sign-in logged under the account's id, never a name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Final, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Table, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from exchange.errors import BadRequest, InvalidTransition, NotFound, RateLimited
from exchange.store.models import Account, LoginAttempt
from exchange.transparency.window import LogWindow, session_window
from keys.protocol import LogAction
from schemas import BODIES

ACCOUNTS = cast(Table, Account.__table__)
ATTEMPTS = cast(Table, LoginAttempt.__table__)

ROLES: Final = ("admin", "reviewer", "observer")
MIN_PASSWORD_LENGTH: Final = 10
# OWASP's authentication guidance: a few tries per account, more per address (offices share
# one), within a sliding window.
THROTTLE_WINDOW: Final = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT: Final = 5
MAX_FAILURES_PER_ADDRESS: Final = 20
UNKNOWN_ACTOR: Final = "account:unknown"

_HASHER = PasswordHasher()
# The stored hash of an account without a password: no password verifies against it (argon2's
# encoded hashes begin "$argon2"), and nothing is hashed to make it.
_NO_PASSWORD: Final = "!"


@cache
def _dummy_hash() -> str:
    """Verified against when the name has no account, so that both refusals take as long;
    made on first use (an argon2 hash costs every process that imports this a fifth of a second).
    """
    return _HASHER.hash("not a password of anyone")


class SignInRefused(BadRequest):
    """The name or the password is wrong, or the account is disabled (one opaque refusal)."""

    default_detail = "Wrong name or password."


@dataclass(frozen=True)
class Operator:
    """A signed-in account: what the console and the review commands act as."""

    id: int
    name: str
    role: str
    body: str | None

    @property
    def actor(self) -> str:
        """How log entries name it (PROTOCOL §7: never a person's name)."""
        return f"account:{self.id}"


def operator_of(account: Account) -> Operator:
    """The operator an account row stands for."""
    return Operator(account.id, account.name, account.role, account.body)


def display_name(name: str) -> str:
    """The name as kept: NFKC, runs of spaces as one, none at either end; or BadRequest."""
    shown = " ".join(unicodedata.normalize("NFKC", name).split())
    if not shown:
        raise BadRequest("An account needs a name.")
    if len(shown) > 120:
        raise BadRequest("An account name has at most 120 characters.")
    if any(unicodedata.category(c).startswith("C") for c in shown):
        raise BadRequest("An account name may not hold control or invisible characters.")
    return shown


def name_key(name: str) -> str:
    """The name as compared: "张三", "张三 " and "ＺＨＡＮＧ" vs "zhang" are each one name."""
    return display_name(name).casefold()


def add_account(
    session: Session,
    name: str,
    *,
    role: str,
    body: str | None,
    password: str | None,
    actor: str,
    now: datetime,
) -> Operator:
    """Create an account (its id is the next number); refuse a name already taken.
    ``password=None``: an account that cannot sign in until a password is set for it.
    """
    shown, key = display_name(name), name_key(name)
    if role not in ROLES:
        raise BadRequest(f"Not a role: {role!r} (one of {', '.join(ROLES)}).")
    if body is not None and body not in BODIES:
        raise BadRequest(f"Not a body: {body!r} (one of {', '.join(BODIES)}).")
    if password is not None:
        _check_password(password)
    with session_window(session, now) as window:
        if session.scalar(select(Account.id).where(Account.name_key == key)) is not None:
            raise BadRequest(f"An account named {shown!r} exists.")
        # Under the log lock: no other writer takes the same number.
        account_id = int(session.scalar(select(func.max(Account.id))) or 0) + 1
        window.changes.insert(
            ACCOUNTS,
            [
                {
                    "id": account_id,
                    "name": shown,
                    "name_key": key,
                    "role": role,
                    "body": body,
                    "password_hash": _NO_PASSWORD if password is None else _HASHER.hash(password),
                    "status": "active",
                    "created_at": now,
                    "password_changed_at": now,
                }
            ],
        )
        window.log.append(
            at=now,
            actor=actor,
            action=LogAction.ACCOUNT_ADDED,
            account_id=account_id,
            role=role,
        )
    return Operator(account_id, shown, role, body)


def accounts(session: Session) -> list[Account]:
    """Every account, by id."""
    return list(session.scalars(select(Account).order_by(Account.id)))


def find_account(session: Session, name: str) -> Account:
    """The account of a name (compared as ``name_key``), or NotFound."""
    account = session.scalar(select(Account).where(Account.name_key == name_key(name)))
    if account is None:
        raise NotFound(f"No account named {display_name(name)!r}.")
    return account


def scripted_reviewer(
    session: Session, name: str, *, body: str | None = None, now: datetime
) -> Operator:
    """The reviewer account of that name, made without a password when missing: the
    reviewers of the demo and of tests, who act without signing in (`exchange users reset`
    gives one a password).
    """
    try:
        return operator_of(find_account(session, name))
    except NotFound:
        return add_account(
            session, name, role="reviewer", body=body, password=None, actor="cli", now=now
        )


def disable_account(
    session: Session, name: str, *, actor: str, now: datetime, keep_an_admin: bool = False
) -> Operator:
    """Disable an account: it can no longer sign in, and its sessions end. ``keep_an_admin``
    (the console's rule) refuses to disable the last active admin, checked under the log lock.
    """
    with session_window(session, now) as window:
        account = find_account(session, name)
        if account.status == "disabled":
            raise InvalidTransition(f"Account {account.id} is already disabled.")
        if keep_an_admin and account.role == "admin" and _active_admins(session) <= 1:
            raise InvalidTransition(
                f"Account {account.id} is the last active admin: add another admin first."
            )
        window.changes.update(ACCOUNTS, {"id": account.id, "status": "disabled"})
        window.log.append(
            at=now, actor=actor, action=LogAction.ACCOUNT_DISABLED, account_id=account.id
        )
    return operator_of(account)


def _active_admins(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).where(Account.role == "admin", Account.status == "active")
        )
        or 0
    )


def reset_password(
    session: Session, name: str, *, password: str, actor: str, now: datetime
) -> Operator:
    """Set a new password; every session begun before now ends."""
    _check_password(password)
    with session_window(session, now) as window:
        account = find_account(session, name)
        window.changes.update(
            ACCOUNTS,
            {"id": account.id, "password_hash": _HASHER.hash(password), "password_changed_at": now},
        )
        window.log.append(
            at=now, actor=actor, action=LogAction.ACCOUNT_PASSWORD_RESET, account_id=account.id
        )
    return operator_of(account)


def authenticate(
    sessions: sessionmaker[Session],
    name: str,
    password: str,
    *,
    address: str,
    via: str,
    now: datetime,
) -> Operator:
    """Verify a name and password and return the operator, or raise SignInRefused (or
    RateLimited after too many failures); the attempt is logged and kept either way.
    """
    try:
        key = name_key(name)
    except BadRequest:
        raise SignInRefused() from None
    with sessions.begin() as session, session_window(session, now) as window:
        account = session.scalar(select(Account).where(Account.name_key == key))
        actor = UNKNOWN_ACTOR if account is None else f"account:{account.id}"
        reason = _refusal(session, window, account, key, password, address=address, now=now)
        if reason is None:
            assert account is not None
            window.log.append(at=now, actor=actor, action=LogAction.ACCOUNT_LOGIN, via=via)
        else:
            window.changes.insert(ATTEMPTS, [{"name_key": key, "address": address, "at": now}])
            window.log.append(
                at=now, actor=actor, action=LogAction.ACCOUNT_LOGIN_FAILED, via=via, reason=reason
            )
    if reason == "throttled":
        raise RateLimited(
            "Too many failed sign-ins: wait 15 minutes and try again.",
            retry_after=int(THROTTLE_WINDOW.total_seconds()),
        )
    if reason is not None:
        raise SignInRefused()
    assert account is not None
    return operator_of(account)


def record_logout(session: Session, operator: Operator, *, via: str, now: datetime) -> None:
    """Log that an operator signed out."""
    with session_window(session, now) as window:
        window.log.append(at=now, actor=operator.actor, action=LogAction.ACCOUNT_LOGOUT, via=via)


def signed_in(session: Session, account_id: int, since: datetime) -> Operator | None:
    """The operator of a session begun at ``since``, if its account is still active and its
    password unchanged since; else None (the session is over).
    """
    account = session.get(Account, account_id)
    if account is None or account.status != "active" or account.password_changed_at > since:
        return None
    return operator_of(account)


def _refusal(
    session: Session,
    window: LogWindow,
    account: Account | None,
    key: str,
    password: str,
    *,
    address: str,
    now: datetime,
) -> str | None:
    """Why a sign-in fails (``throttled``, ``unknown``, ``password``, ``disabled``), or None."""
    since = now - THROTTLE_WINDOW
    by_name, by_address = session.execute(
        select(
            func.count().filter(LoginAttempt.name_key == key),
            func.count().filter(LoginAttempt.address == address),
        ).where(
            LoginAttempt.at > since,
            or_(LoginAttempt.name_key == key, LoginAttempt.address == address),
        )
    ).one()
    if by_name >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS:
        return "throttled"
    if account is None:
        _verify(_dummy_hash(), password)
        return "unknown"
    if not _verify(account.password_hash, password):
        return "password"
    if account.status != "active":
        return "disabled"
    if _HASHER.check_needs_rehash(account.password_hash):
        window.changes.update(ACCOUNTS, {"id": account.id, "password_hash": _HASHER.hash(password)})
    return None


def _verify(password_hash: str, password: str) -> bool:
    if password_hash == _NO_PASSWORD:
        # As long as a wrong password takes: the refusal does not tell that none is set.
        _verify(_dummy_hash(), password)
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > 1024:
        raise BadRequest("A password has at most 1024 characters.")
