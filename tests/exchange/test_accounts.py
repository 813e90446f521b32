"""Operator accounts: names compared as one, argon2 passwords, throttled sign-ins, and review
by distinct accounts — each refusal leaving the store as it was.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from exchange.admin import accounts
from exchange.admin.accounts import (
    MAX_FAILURES_PER_ACCOUNT,
    MAX_FAILURES_PER_ADDRESS,
    Operator,
    SignInRefused,
    add_account,
    authenticate,
    disable_account,
    reset_password,
    scripted_reviewer,
    signed_in,
)
from exchange.errors import BadRequest, ClassifiedContentRefused, InvalidTransition, RateLimited
from exchange.hub import Hub
from exchange.store.models import Account, LogEntry, LoginAttempt, Message, Review
from exchange.transport.review import decide
from schemas import examples
from tests.support import PartnerKeys

PASSWORD = "correct horse battery"


def add(hub: Hub, name: str, role: str = "reviewer", body: str | None = None) -> Operator:
    with hub.sessions.begin() as session:
        return add_account(
            session, name, role=role, body=body, password=PASSWORD, actor="cli", now=hub.now()
        )


def log_size(hub: Hub) -> int:
    with hub.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LogEntry)) or 0)


def entries(hub: Hub) -> list[dict[str, object]]:
    with hub.sessions() as session:
        rows = session.scalars(select(LogEntry.entry).order_by(LogEntry.index))
        return [json.loads(bytes(row)) for row in rows]


def held_referral(base_url: str, partners: dict[str, PartnerKeys]) -> str:
    referral = examples.referral_example()
    assert partners["audit"].client(base_url).send(referral).status == "pending_review"
    return str(referral["id"])


def approve(hub: Hub, message_id: str, reviewer: Operator, version: int | None = None) -> str:
    with hub.sessions.begin() as session:
        return decide(
            session,
            message_id,
            reviewer=reviewer,
            approve=True,
            reason=None,
            now=hub.now(),
            trust=hub.trust,
            version=version,
        ).status


def reviews_of(hub: Hub, message_id: str) -> list[tuple[str, str]]:
    with hub.sessions() as session:
        rows = session.scalars(select(Review).where(Review.message_id == message_id))
        return [(r.reviewer, r.decision) for r in rows]


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ("张三", "张三 "),
        ("张三", " 张三"),
        ("张三", "张三\u3000"),
        ("张 三", "张　三"),
        ("张 三", "张  三"),
    ],
)
def test_a_name_with_other_spaces_is_the_same_account(hub: Hub, first: str, again: str) -> None:
    add(hub, first)
    before = log_size(hub)
    with pytest.raises(BadRequest, match="exists"):
        add(hub, again)
    assert log_size(hub) == before
    with hub.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 1


def test_latin_names_compare_without_case_or_width(hub: Hub) -> None:
    add(hub, "Zhang Wei")
    with pytest.raises(BadRequest, match="exists"):
        add(hub, "ｚｈａｎｇ　ｗｅｉ")


@pytest.mark.parametrize(
    ("name", "role", "body", "password", "says"),
    [
        ("", "reviewer", None, PASSWORD, "needs a name"),
        ("   ", "reviewer", None, PASSWORD, "needs a name"),
        ("张\u200b三", "reviewer", None, PASSWORD, "control or invisible"),
        ("张三", "superuser", None, PASSWORD, "Not a role"),
        ("张三", "reviewer", "police", PASSWORD, "Not a body"),
        ("张三", "reviewer", None, "short", "at least 10"),
    ],
)
def test_bad_accounts_are_refused_and_nothing_is_stored(
    hub: Hub, name: str, role: str, body: str | None, password: str, says: str
) -> None:
    with pytest.raises(BadRequest, match=says), hub.sessions.begin() as session:
        add_account(
            session, name, role=role, body=body, password=password, actor="cli", now=hub.now()
        )
    with hub.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 0
    assert log_size(hub) == 0


def test_passwords_are_argon2_hashes(hub: Hub) -> None:
    add(hub, "张三")
    with hub.sessions() as session:
        stored = session.scalars(select(Account.password_hash)).one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_four_eyes_count_accounts_not_names(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    message_id = held_referral(base_url, partners)
    zhang = add(hub, "张三")
    assert approve(hub, message_id, zhang) == "pending_review"
    # The same account again, whatever name it comes under.
    same = Operator(zhang.id, "张三 ", "reviewer", None)
    before = log_size(hub)
    with pytest.raises(InvalidTransition, match="already reviewed"):
        approve(hub, message_id, same)
    assert log_size(hub) == before
    assert reviews_of(hub, message_id) == [(f"account:{zhang.id}", "approved")]
    li = add(hub, "李四")
    assert approve(hub, message_id, li) == "released"


def test_log_entries_name_accounts_by_id_never_by_name(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    message_id = held_referral(base_url, partners)
    zhang, li = add(hub, "张审核"), add(hub, "李复核")
    approve(hub, message_id, zhang)
    approve(hub, message_id, li)
    authenticate(hub.sessions, "张审核", PASSWORD, address="127.0.0.1", via="cli", now=hub.now())
    logged = entries(hub)
    text = json.dumps(logged, ensure_ascii=False)
    assert "张审核" not in text and "李复核" not in text
    approvals = [e["actor"] for e in logged if e["action"] == "message:review:approved"]
    assert approvals == [f"account:{zhang.id}", f"account:{li.id}"]
    added = [e for e in logged if e["action"] == "account:added"]
    assert [(e["account_id"], e["role"]) for e in added] == [
        (zhang.id, "reviewer"),
        (li.id, "reviewer"),
    ]
    assert [e["actor"] for e in logged if e["action"] == "account:login"] == [zhang.actor]


def test_a_reviewer_of_the_senders_body_may_not_decide(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    message_id = held_referral(base_url, partners)
    own = add(hub, "审计局审核员", body="audit")
    before = log_size(hub)
    with pytest.raises(BadRequest, match="own body"):
        approve(hub, message_id, own)
    assert reviews_of(hub, message_id) == []
    assert log_size(hub) == before
    # A reviewer tied to another body may.
    other = add(hub, "纪委审核员", body="discipline")
    assert approve(hub, message_id, other) == "pending_review"


@pytest.mark.parametrize("role", ["admin", "observer"])
def test_only_reviewers_decide(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys], role: str
) -> None:
    message_id = held_referral(base_url, partners)
    account = add(hub, "某人", role=role)
    with pytest.raises(BadRequest, match="not a reviewer"):
        approve(hub, message_id, account)
    assert reviews_of(hub, message_id) == []


def test_a_disabled_reviewer_may_not_decide_nor_sign_in(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    message_id = held_referral(base_url, partners)
    zhang = add(hub, "张三")
    with hub.sessions.begin() as session:
        disable_account(session, "张三 ", actor="cli", now=hub.now())
    with pytest.raises(BadRequest, match="not an active account"):
        approve(hub, message_id, zhang)
    with pytest.raises(SignInRefused):
        authenticate(hub.sessions, "张三", PASSWORD, address="10.0.0.1", via="cli", now=hub.now())
    failed = [e for e in entries(hub) if e["action"] == "account:login-failed"]
    assert [(e["actor"], e["reason"]) for e in failed] == [(zhang.actor, "disabled")]
    assert reviews_of(hub, message_id) == []


def test_a_stale_decision_loses_to_the_one_that_came_first(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    """Both reviewers read the referral with no decision (version 0); the second to decide
    is refused with a clear message and leaves nothing.
    """
    message_id = held_referral(base_url, partners)
    zhang, li = add(hub, "张三"), add(hub, "李四")
    assert approve(hub, message_id, zhang, version=0) == "pending_review"
    before = log_size(hub)
    with pytest.raises(InvalidTransition, match="while you were reading it"):
        approve(hub, message_id, li, version=0)
    assert log_size(hub) == before
    assert approve(hub, message_id, li, version=1) == "released"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_rejection_needs_a_reason(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys], reason: str | None
) -> None:
    message_id = held_referral(base_url, partners)
    zhang = add(hub, "张三")
    with pytest.raises(BadRequest, match="needs a reason"), hub.sessions.begin() as session:
        decide(
            session,
            message_id,
            reviewer=zhang,
            approve=False,
            reason=reason,
            now=hub.now(),
            trust=hub.trust,
        )
    assert reviews_of(hub, message_id) == []


@pytest.mark.parametrize("reason", ["材料涉及机密，不宜移送", "属于绝 密事项", "秘\u200b密"])
def test_a_reason_with_a_classified_marker_is_refused(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys], reason: str
) -> None:
    message_id = held_referral(base_url, partners)
    zhang = add(hub, "张三")
    before = log_size(hub)
    with pytest.raises(ClassifiedContentRefused), hub.sessions.begin() as session:
        decide(
            session,
            message_id,
            reviewer=zhang,
            approve=False,
            reason=reason,
            now=hub.now(),
            trust=hub.trust,
        )
    assert reviews_of(hub, message_id) == []
    assert log_size(hub) == before
    with hub.sessions() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.status == "pending_review"


def test_wrong_passwords_are_counted_logged_and_throttled(hub: Hub) -> None:
    zhang = add(hub, "张三")
    now = hub.now()
    for _ in range(MAX_FAILURES_PER_ACCOUNT):
        with pytest.raises(SignInRefused):
            authenticate(hub.sessions, "张三", "wrong password!", address="a", via="cli", now=now)
    # The right password now, but after five failures within the window: still refused.
    with pytest.raises(RateLimited, match="Too many failed sign-ins"):
        authenticate(hub.sessions, "张三", PASSWORD, address="b", via="cli", now=now)
    failed = [e for e in entries(hub) if e["action"] == "account:login-failed"]
    assert [e["reason"] for e in failed] == ["password"] * MAX_FAILURES_PER_ACCOUNT + ["throttled"]
    assert {e["actor"] for e in failed} == {zhang.actor}
    # Once the window has passed, the right password signs in.
    later = now + timedelta(minutes=16)
    signed = authenticate(hub.sessions, "张三", PASSWORD, address="b", via="cli", now=later)
    assert signed.id == zhang.id


def test_failures_from_one_address_are_throttled_across_names(hub: Hub) -> None:
    add(hub, "张三")
    now = hub.now()
    for i in range(MAX_FAILURES_PER_ADDRESS):
        with pytest.raises(SignInRefused):
            authenticate(hub.sessions, f"guess{i}", PASSWORD, address="x", via="cli", now=now)
    with pytest.raises(RateLimited):
        authenticate(hub.sessions, "张三", PASSWORD, address="x", via="cli", now=now)
    # Another address is not held back by it.
    assert authenticate(hub.sessions, "张三", PASSWORD, address="y", via="cli", now=now).name
    with hub.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == (
            MAX_FAILURES_PER_ADDRESS + 1
        )
    unknown = [e for e in entries(hub) if e.get("reason") == "unknown"]
    assert {e["actor"] for e in unknown} == {"account:unknown"}


def test_a_reset_password_ends_earlier_sessions(hub: Hub) -> None:
    zhang = add(hub, "张三")
    began = hub.now()
    with hub.sessions() as session:
        assert signed_in(session, zhang.id, began) == zhang
    later = began + timedelta(seconds=5)
    with hub.sessions.begin() as session:
        reset_password(session, "张三", password="another long one", actor="cli", now=later)
    with hub.sessions() as session:
        assert signed_in(session, zhang.id, began) is None
        assert signed_in(session, zhang.id, later + timedelta(seconds=1)) == zhang
    with pytest.raises(SignInRefused):
        authenticate(hub.sessions, "张三", PASSWORD, address="z", via="cli", now=later)


def test_a_scripted_reviewer_has_no_password_until_one_is_set(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo's and the tests' reviewers act without signing in: no password is made (and
    # none hashed) for them, so none signs in as them — not even the stored text itself.
    hashed: list[str] = []
    real = accounts._HASHER

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def verify(self, stored: str, password: str) -> bool:
            hashed.append(stored)
            return real.verify(stored, password)

    monkeypatch.setattr(accounts, "_HASHER", Counting())
    with hub.sessions.begin() as session:
        zhang = scripted_reviewer(session, "张三", now=hub.now())
    with hub.sessions() as session:
        stored = session.scalars(select(Account.password_hash)).one()
    assert not stored.startswith("$argon2")
    now = hub.now()
    for guess in (stored, "", PASSWORD):
        with pytest.raises(SignInRefused):
            authenticate(hub.sessions, "张三", guess, address="a", via="cli", now=now)
    failed = [e for e in entries(hub) if e["action"] == "account:login-failed"]
    assert [e["reason"] for e in failed] == ["password"] * 3  # as a wrong password is
    # Each refusal paid for one argon2 check, as a wrong password does: the time taken does
    # not tell that the account has none.
    assert len(hashed) == 3 and all(h.startswith("$argon2id$") for h in hashed)
    with hub.sessions.begin() as session:
        assert scripted_reviewer(session, "张三", now=now) == zhang  # found, not made again
        reset_password(session, "张三", password=PASSWORD, actor="cli", now=now)
    later = now + timedelta(seconds=1)
    assert authenticate(hub.sessions, "张三", PASSWORD, address="b", via="cli", now=later) == zhang
