"""Typed rows: what the hub writes into each table, so that mypy sees a misspelt or renamed
column (tests/exchange/test_store_rows.py checks each against its table).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import NotRequired, TypedDict


class MessageRow(TypedDict):
    """A stored message: metadata in clear, the envelope sealed."""

    id: str
    type: str
    sender: str
    subject: str | None
    in_reply_to: str | None
    classification: str
    sent_at: datetime
    received_at: datetime
    released_at: datetime | None
    envelope_sha256: str
    sealed_envelope: bytes
    signature: str
    signer_kid: str
    status: str
    required_approvals: int
    receipt: str
    receipt_status: str
    log_index: int
    size_bytes: int


class DeliveryRow(TypedDict):
    """A recipient's copy of a new message (the rest of its columns start empty)."""

    message_id: str
    recipient: str
    state: str
    cursor: int | None
    attempts: int
    push_state: str | None
    next_attempt_at: datetime | None


class PersonRefRow(TypedDict):
    """An ID number seen in a message, masked and keyed-hashed (``id`` is the database's)."""

    message_id: str
    json_path: str
    masked: str
    id_hmac: str


class ReviewRow(TypedDict):
    """A reviewer's decision (``id`` is the database's)."""

    message_id: str
    reviewer: str
    decision: str
    reason: str | None
    at: datetime


class LogEntryRow(TypedDict):
    """A transparency-log entry with its leaf and interior hashes."""

    idx: int
    at: datetime
    actor: str
    action: str
    message_id: str | None
    entry: bytes
    leaf_hash: bytes
    nodes: bytes


class CheckpointRow(TypedDict):
    """A signed tree head."""

    tree_size: int
    root_hash: bytes
    issued_at: datetime
    signed: str


class ReferralCaseRow(TypedDict):
    """One recipient's handling of one referral."""

    message_id: str
    recipient: str
    sender: str
    referral_id: str
    issue_category: str
    sent_at: datetime
    feedback_due: date
    state: str
    disposition: str | None
    released_at: datetime | None
    first_feedback_at: datetime | None
    concluded_at: datetime | None
    persons_handled: int
    recovered_amount: Decimal
    notified_at: datetime | None
    updated_at: datetime
    status_date: date | None
    last_step_date: date | None


class ShareUseRow(TypedDict):
    """One recipient's use of one shared result."""

    message_id: str
    recipient: str
    sender: str
    share_id: str
    share_type: str
    sent_at: datetime
    state: str
    used_for: str | None
    first_feedback_at: datetime | None
    feedbacks: int
    updated_at: datetime
    audit_timing: str | None
    decisions: str | None
    plan_projects: int
    plan_joint_projects: int
    used_on: date | None


class LedgerStateRow(TypedDict):
    """The state of a ledger item, as the item and each of its lines hold it."""

    owner: str
    ledger_item_id: str
    source: str
    source_doc_number: str
    unit_name: str
    unit_uscc: str | None
    rectification_class: str
    status: str
    deadline: date
    milestone_due: date | None
    amount_involved: Decimal
    amount_rectified: Decimal
    rules_made: int
    persons_held_accountable: int
    reported_at: datetime
    status_date: date
    source_year: int | None
    source_project: str | None
    problem_category: str | None
    referral_id: str | None
    amount_violation: Decimal | None
    amount_irregular: Decimal | None
    amount_revenue_increase_saving: Decimal | None
    amount_recovered: Decimal | None
    amount_loss_avoided: Decimal | None
    amount_investment_reduced: Decimal | None
    amount_funds_disbursed: Decimal | None
    amount_funds_revitalised: Decimal | None
    amount_remitted_to_treasury: Decimal | None
    amount_returned_to_source: Decimal | None
    co_units_json: str | None
    acts_json: str | None


class LedgerItemRow(LedgerStateRow):
    """A ledger item as its owner's latest line left it."""

    first_reported_at: datetime
    last_message_id: str
    notified_at: datetime | None


class LedgerLineRow(LedgerStateRow):
    """One accepted status line and the state it left its item in."""

    message_id: str
    log_index: int
    received_at: datetime


class LedgerLineUnitRow(TypedDict):
    """A co-responsible unit of a ledger line."""

    message_id: str
    position: int
    unit_name: str
    unit_uscc: str


class LedgerLineActRow(TypedDict):
    """A supervision act of a ledger line."""

    message_id: str
    position: int
    kind: str
    day: date
    by: str | None


class TransitionRow(TypedDict):
    """An accepted lifecycle step."""

    kind: str
    owner: str
    key: str
    log_index: int
    party: str
    message_id: str
    from_state: str | None
    to_state: str
    detail: str | None
    at: datetime
    business_date: date | None


class DeliveryUpdate(TypedDict):
    """Columns of a delivery that a release, pull, ack or push changes (by primary key)."""

    message_id: str
    recipient: str
    state: NotRequired[str]
    cursor: NotRequired[int | None]
    delivered_at: NotRequired[datetime | None]
    acked_at: NotRequired[datetime | None]
    ack: NotRequired[str | None]
    ack_sha256: NotRequired[str | None]
    delivered_via: NotRequired[str | None]
    push_state: NotRequired[str | None]
    next_attempt_at: NotRequired[datetime | None]
    attempts: NotRequired[int]
    last_attempt_at: NotRequired[datetime | None]
    last_duration_ms: NotRequired[int | None]
    last_error: NotRequired[str | None]


class MessageUpdate(TypedDict):
    """Columns of a message that review changes (by primary key)."""

    id: str
    status: NotRequired[str]
    released_at: NotRequired[datetime | None]
