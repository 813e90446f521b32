"""The hub's tables (SQLAlchemy 2, typed). Payloads are sealed; metadata stays in clear columns."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """UTC for the database; naive on SQLite, which keeps no offset."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware UTC, whatever the database gave back."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Partner(Base):
    """A partner body's system: ``audit.yanliang`` and its keys."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="active")
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Set when the webhook answered 410 Gone (PROTOCOL §7): nothing more is pushed until an
    # administrator sets a webhook again.
    webhook_disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # Set by an operator's ``--allow-internal``: pushes may go to loopback and link-local
    # addresses (a webhook on the hub's own machine); refused otherwise, at set and send time.
    webhook_allow_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    # The partner's own rate limit ("3000/minute"), set by `exchange partners set-limit`;
    # None is the hub's default (EXCHANGE_RATELIMIT_PARTNER).
    rate_limit: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    keys: Mapped[list[PartnerKey]] = relationship(
        back_populates="partner", order_by="PartnerKey.not_before"
    )


class PartnerKey(Base):
    """One Ed25519 public key of a partner, with its validity window."""

    __tablename__ = "partner_keys"

    kid: Mapped[str] = mapped_column(String(160), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    not_after: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The ``key:added`` entry that registered it: evidence bundles prove the key by it.
    log_index: Mapped[int | None] = mapped_column(BigInteger)

    partner: Mapped[Partner] = relationship(back_populates="keys")


class Message(Base):
    """One submitted envelope: metadata in clear, the envelope itself sealed (AES-256-GCM)."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    # A partner id, or "hub" for the hub's own notices (so not a foreign key).
    sender: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str | None] = mapped_column(String(128))
    in_reply_to: Mapped[str | None] = mapped_column(String(64))
    classification: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    sealed_envelope: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(Text)
    signer_kid: Mapped[str] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(20))
    required_approvals: Mapped[int] = mapped_column(Integer, default=0)
    receipt: Mapped[str] = mapped_column(Text)
    receipt_status: Mapped[str] = mapped_column(String(20))
    log_index: Mapped[int] = mapped_column(BigInteger)
    size_bytes: Mapped[int] = mapped_column(Integer)

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="message", order_by="Delivery.recipient"
    )
    reviews: Mapped[list[Review]] = relationship(order_by="Review.at")

    __table_args__ = (
        Index("ix_messages_sender_subject", "sender", "subject"),
        # The console's message list: newest first, keyset pages by the receiving entry.
        Index("ix_messages_log_index", "log_index"),
        # The console's search by business key, newest first along the same keyset.
        Index("ix_messages_subject_log_index", "subject", "log_index"),
        # Partial indexes: most messages are released at once and answer nothing, so they
        # skip these entries (fewer index writes on the intake path).
        Index(
            "ix_messages_pending_review",
            "received_at",
            postgresql_where=text("status = 'pending_review'"),
            sqlite_where=text("status = 'pending_review'"),
        ),
        Index(
            "ix_messages_in_reply_to",
            "in_reply_to",
            postgresql_where=text("in_reply_to IS NOT NULL"),
            sqlite_where=text("in_reply_to IS NOT NULL"),
        ),
    )


class Delivery(Base):
    """One recipient's copy of a message: held, queued, delivered (pulled or pushed), acked."""

    __tablename__ = "deliveries"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    recipient: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    # The log index of the release: dense, assigned in commit order, so an inbox cursor never
    # skips a message that commits late.
    cursor: Mapped[int | None] = mapped_column(BigInteger)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ack: Mapped[str | None] = mapped_column(Text)
    ack_sha256: Mapped[str | None] = mapped_column(String(64))
    # "pull" or "push": how the recipient first got it.
    delivered_via: Mapped[str | None] = mapped_column(String(10))
    # The outbox (exchange.transport.outbox): null for a recipient that only pulls; else pending,
    # sending (claimed by a worker until next_attempt_at), pushed, dead (dead-lettered) or
    # cancelled (the webhook was disabled or removed).
    push_state: Mapped[str | None] = mapped_column(String(10))
    # When a worker may (next) try: set while the push is pending or claimed, null otherwise.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))

    message: Mapped[Message] = relationship(back_populates="deliveries")

    __table_args__ = (
        Index("ix_deliveries_inbox", "recipient", "cursor"),
        # Partial: an un-acked pull (the mailbox) walks the backlog alone, not every acked row.
        Index(
            "ix_deliveries_unacked",
            "recipient",
            "cursor",
            postgresql_where=text("cursor IS NOT NULL AND acked_at IS NULL"),
            sqlite_where=text("cursor IS NOT NULL AND acked_at IS NULL"),
        ),
        # Partial: only the pushes still to make, so the workers' claim reads a small index.
        Index(
            "ix_deliveries_outbox",
            "next_attempt_at",
            postgresql_where=text("next_attempt_at IS NOT NULL"),
            sqlite_where=text("next_attempt_at IS NOT NULL"),
        ),
        Index(
            "ix_deliveries_dead_letters",
            "recipient",
            postgresql_where=text("push_state = 'dead'"),
            sqlite_where=text("push_state = 'dead'"),
        ),
    )


class Review(Base):
    """An administrator's decision on a held message."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(120))
    decision: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("message_id", "reviewer"),)


class PersonRef(Base):
    """An ID number seen in a message: masked and keyed-hashed, never in clear."""

    __tablename__ = "person_refs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    json_path: Mapped[str] = mapped_column(String(200))
    masked: Mapped[str] = mapped_column(String(18))
    id_hmac: Mapped[str] = mapped_column(String(64), index=True)


class LogEntry(Base):
    """One transparency-log entry: its JCS bytes, its leaf hash (RFC 6962 §2.1), and the hashes
    of the perfect subtrees it completes (sizes 2, 4, 8, …, 32 bytes each), so that any root
    or proof costs O(log n) reads.
    """

    __tablename__ = "log_entries"

    index: Mapped[int] = mapped_column("idx", BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(60))
    message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    nodes: Mapped[bytes] = mapped_column(LargeBinary)


class Checkpoint(Base):
    """A signed tree head (PROTOCOL §6), kept forever so any two can be proved consistent."""

    __tablename__ = "checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    signed: Mapped[str] = mapped_column(Text)


# --- read models of the lifecycles (DOMAIN.md), kept current in the message's transaction ---


RECEIVED_VISIBLE: Final = "state NOT IN ('pending_review', 'rejected')"
"""The referral cases a recipient may see: neither held for review nor rejected (as
``supervision.visibility`` says), the predicate of ``ix_referral_cases_received_visible``."""


class ReferralCase(Base):
    """One recipient's handling of one referral: its state, disposition, timings."""

    __tablename__ = "referral_cases"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(80), primary_key=True)
    sender: Mapped[str] = mapped_column(String(80))
    referral_id: Mapped[str] = mapped_column(String(64))
    issue_category: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    feedback_due: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(20))
    disposition: Mapped[str | None] = mapped_column(String(40))
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_feedback_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    concluded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    persons_handled: Mapped[int] = mapped_column(Integer)
    recovered_amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The business date of the case's latest feedback (its ``occurred_at``; for a case stored
    # before migration 0006, the Beijing day of its last step): the next feedback may not be
    # dated before it.
    status_date: Mapped[date | None] = mapped_column(Date)
    # The business date of the case's last step in log order (its opening, the hub's, the
    # recipient's): as of that day or later, the latest step dated by the day is that one, so
    # the figures' scan takes the case's current state and reads its steps only for an earlier
    # cut-off. NULL: not known (its steps are read).
    last_step_date: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        Index("ix_referral_cases_sender_key", "sender", "referral_id"),
        Index("ix_referral_cases_recipient", "recipient"),
        # The referral list's two halves, each in its order (newest first, read backwards).
        Index("ix_referral_cases_sent", "sender", "sent_at", "message_id", "recipient"),
        Index("ix_referral_cases_received", "recipient", "sent_at", "message_id"),
        # The received half of it: only the cases a recipient may see (not held, not
        # rejected), so that thousands held for review are not read to find none.
        Index(
            "ix_referral_cases_received_visible",
            "recipient",
            "sent_at",
            "message_id",
            postgresql_where=text(RECEIVED_VISIBLE),
            sqlite_where=text(RECEIVED_VISIBLE),
        ),
    )


class ShareUse(Base):
    """One recipient's use of one shared result."""

    __tablename__ = "share_uses"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(80), primary_key=True)
    sender: Mapped[str] = mapped_column(String(80))
    share_id: Mapped[str] = mapped_column(String(64))
    share_type: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(20))
    used_for: Mapped[str | None] = mapped_column(String(400))
    first_feedback_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    feedbacks: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Version 1 figures: the econ-resp audit's timing, the decisions reported (``kind:persons``
    # pairs, summed over the feedbacks), the plan's projects, the business date of first use.
    audit_timing: Mapped[str | None] = mapped_column(String(20))
    decisions: Mapped[str | None] = mapped_column(String(400))
    plan_projects: Mapped[int] = mapped_column(Integer, default=0)
    plan_joint_projects: Mapped[int] = mapped_column(Integer, default=0)
    used_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        Index("ix_share_uses_sender_key", "sender", "share_id"),
        Index("ix_share_uses_recipient", "recipient"),
    )


class LedgerState:
    """The columns of a ledger item's state, shared by the item and each of its lines."""

    source: Mapped[str] = mapped_column(String(20))
    source_doc_number: Mapped[str] = mapped_column(String(100))
    unit_name: Mapped[str] = mapped_column(String(200))
    unit_uscc: Mapped[str | None] = mapped_column(String(18))
    rectification_class: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    deadline: Mapped[date] = mapped_column(Date)
    # The earliest due date of an unfinished milestone (phased items), for "overdue".
    milestone_due: Mapped[date | None] = mapped_column(Date)
    amount_involved: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    amount_rectified: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    rules_made: Mapped[int] = mapped_column(Integer)
    persons_held_accountable: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Version 1 (DOMAIN.md): the business date the status held from, the grouping fields, the
    # referral followed up, and one amount per audit-statistics category (null: never given).
    status_date: Mapped[date] = mapped_column(Date)
    source_year: Mapped[int | None] = mapped_column(Integer)
    source_project: Mapped[str | None] = mapped_column(String(200))
    problem_category: Mapped[str | None] = mapped_column(String(100))
    referral_id: Mapped[str | None] = mapped_column(String(128))
    amount_violation: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_irregular: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_revenue_increase_saving: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_recovered: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_loss_avoided: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_investment_reduced: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_funds_disbursed: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_funds_revitalised: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_remitted_to_treasury: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    amount_returned_to_source: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    # The co-responsible units and supervision acts as JSON, so that a later line that omits
    # them keeps them; ``ledger_line_units`` and ``ledger_line_acts`` hold them for queries.
    co_units_json: Mapped[str | None] = mapped_column(Text)
    acts_json: Mapped[str | None] = mapped_column(Text)


LEDGER_STATE = (
    "owner",
    "ledger_item_id",
    *(name for name in LedgerState.__annotations__),
)
"""The names of a ledger item's state, as both ``ledger_items`` and ``ledger_lines`` hold it."""


class LedgerItem(LedgerState, Base):
    """One line of a ledger owner's 整改台账, as its latest status message says."""

    __tablename__ = "ledger_items"

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    ledger_item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_message_id: Mapped[str] = mapped_column(String(64))
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    # The intake looks items up by owner = ANY(…) AND key = ANY(…): without statistics the
    # planner probes the primary key by owner alone and filters every item of the sender;
    # led by the key, this index answers the lookup from the keys themselves.
    __table_args__ = (Index("ix_ledger_items_key", "ledger_item_id", "owner"),)


class LedgerLine(LedgerState, Base):
    """One accepted status line of a ledger item: the item as it stood after that line.

    A recipient sees an item as of the latest line it was sent (its owner as of the latest
    line of all), so each line keeps the whole state it left the item in.
    """

    __tablename__ = "ledger_lines"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80))
    ledger_item_id: Mapped[str] = mapped_column(String(64))
    # The line's ``message:received`` entry: lines of one item are ordered by it.
    log_index: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The item's first report (its first line's), and the status date of the item's next
    # line (null while this line is the item's latest): the line held the item's state as of
    # the days from its own ``status_date`` up to the day before ``superseded_on``, so the
    # ledger as of a day is a range condition, not a search per item (supervision.figures).
    first_reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    superseded_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        Index("ix_ledger_lines_item", "owner", "ledger_item_id", "log_index"),
        # The figures' filters drive the line scan (supervision.figures): a report's, a
        # project's, a category's or a unit's lines, each with its item's key.
        *(
            Index(f"ix_ledger_lines_{name}", name, "owner", "ledger_item_id")
            for name in ("source_doc_number", "source_project", "problem_category")
        ),
        Index("ix_ledger_lines_unit_uscc", "unit_uscc", "owner", "ledger_item_id"),
        Index("ix_ledger_lines_unit_name", "unit_name", "owner", "ledger_item_id"),
        # The lines an item has moved on from since a day: the ledger as of that day.
        Index("ix_ledger_lines_superseded", "superseded_on", "status_date"),
        # The lines logged since a size of the log: what the figures' cells must catch up on.
        Index("ix_ledger_lines_log_index", "log_index"),
    )


class LedgerLineUnit(Base):
    """A co-responsible unit 共同整改责任单位 of a ledger line, as the line left the item."""

    __tablename__ = "ledger_line_units"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    unit_name: Mapped[str] = mapped_column(String(200))
    unit_uscc: Mapped[str] = mapped_column(String(18))

    # The figures' unit filter matches co-responsible units too.
    __table_args__ = (
        Index("ix_ledger_line_units_uscc", "unit_uscc"),
        Index("ix_ledger_line_units_name", "unit_name"),
    )


class LedgerLineAct(Base):
    """A supervision act 督促 (催办函, 约谈 …) of a ledger line, as the line left the item."""

    __tablename__ = "ledger_line_acts"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(20))
    day: Mapped[date] = mapped_column(Date)
    by: Mapped[str | None] = mapped_column(String(200))


class Transition(Base):
    """An accepted lifecycle step: the timelines and the figures are read from these.

    Keyed by the business key and the log entry that records the step (and the party, for the
    several recipients a release moves at once): no sequence, no second index to write.
    """

    __tablename__ = "transitions"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    log_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The recipient whose case or use moved; "" for a ledger item (its owner moves it).
    party: Mapped[str] = mapped_column(String(80), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The step's business date (a feedback's ``occurred_at``, a line's ``status_date``; else
    # the Beijing day of ``at``): figures as of a day read the steps dated up to it.
    business_date: Mapped[date | None] = mapped_column(Date)

    # The steps logged since a size: what the kept referral sums read again.
    __table_args__ = (Index("ix_transitions_log_index", "log_index"),)


class Account(Base):
    """A person who works the console or the review commands: admin, reviewer or observer.

    ``name_key`` is the name as compared (NFKC, spaces collapsed, case folded), unique, so that
    "张三" and "张三 " are one account; log entries name the account by ``id`` only.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(120))
    name_key: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    # The body an account works for (audit, discipline, …): it may not review that body's
    # messages. None for the hub's own staff.
    body: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # A session that began before this is over (a reset password ends every session).
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LoginAttempt(Base):
    """One failed sign-in, counted per account name and per client address within a window,
    in the database so that the limit holds across the server's processes.
    """

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    name_key: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_login_attempts_name_at", "name_key", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )
