"""What every lifecycle shares: the read models it keeps, the rows a batch concerns (loaded
under the log lock and changed as the batch goes), and the shape of a lifecycle itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any, ClassVar, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import ARRAY

from exchange.errors import InvalidTransition, SchemaInvalid
from exchange.store.models import LedgerItem, LedgerLine, ReferralCase, ShareUse, Transition
from exchange.store.rows import LedgerItemRow, ReferralCaseRow, ShareUseRow
from exchange.store.writer import Changes, Read, among
from exchange.supervision.days import china_date
from schemas import Envelope

CASES = cast(Table, ReferralCase.__table__)
USES = cast(Table, ShareUse.__table__)
ITEMS = cast(Table, LedgerItem.__table__)
LINES = cast(Table, LedgerLine.__table__)
TRANSITIONS = cast(Table, Transition.__table__)


@dataclass(frozen=True)
class ReadModel:
    """A read model keyed by a business key per sender: referral cases and share uses (also
    by the message that opened them, one row per recipient), ledger items (by owner).
    """

    table: Table
    key_column: str
    sender_column: str
    by_message: bool

    def read(self, concerned: Concerned, dialect: str) -> Read:
        """The one query that loads what a batch concerns, and its parameters."""
        return _statement(self, dialect), {
            "ids": sorted(concerned.message_ids),
            "senders": sorted(concerned.senders),
            "keys": sorted(concerned.keys),
        }


@cache
def _statement(model: ReadModel, dialect: str) -> Select[Any] | CompoundSelect[Any]:
    # Built once per dialect: the same query, lists bound as arrays on PostgreSQL.
    table = model.table
    by_key = and_(
        among(table.c[model.sender_column], "senders", dialect),
        among(table.c[model.key_column], "keys", dialect),
    )
    if dialect == "postgresql":
        if not model.by_message:
            return select(table).where(_pairs(model))
        # Two arms, each id and each (sender, key) pair one probe of its index, through a
        # LATERAL kept apart (OFFSET 0): under an OR, or as a join the planner may hash,
        # PostgreSQL without statistics reads every row of the sender or the whole table
        # for every batch. A row both arms find comes twice; ``load`` keys it once.
        ids, senders, keys = (_unnested(name) for name in ("ids", "senders", "keys"))
        sender, key = table.c[model.sender_column], table.c[model.key_column]
        by_id = select(table).where(table.c.message_id == ids.c.value)
        by_pair = select(table).where(sender == senders.c.value, key == keys.c.value)
        id_rows = by_id.offset(0).lateral("by_id")
        pair_rows = by_pair.offset(0).lateral("by_pair")
        return union_all(
            select(*id_rows.c).select_from(ids.join(id_rows, true())),
            select(*pair_rows.c).select_from(senders.join(keys, true()).join(pair_rows, true())),
        )
    if model.by_message:
        return select(table).where(or_(among(table.c.message_id, "ids", dialect), by_key))
    return select(table).where(by_key)


def _pairs(model: ReadModel) -> ColumnElement[bool]:
    # (sender, key) IN (every sender × every key): without statistics PostgreSQL probes the
    # primary key by the senders alone and filters every item of the sender by the keys;
    # as pairs, each is one probe on both columns (the test_query_plans check).
    senders, keys = (_unnested(name) for name in ("senders", "keys"))
    every = select(senders.c.value, keys.c.value).select_from(senders.join(keys, true()))
    columns = (model.table.c[model.sender_column], model.table.c[model.key_column])
    return tuple_(*columns).in_(every)


def _unnested(name: str) -> Any:
    # The array bound as ``name``, as a table of its values (each one probe of an index).
    return (
        func.unnest(cast_(bindparam(name), ARRAY(String)))
        .table_valued("value")
        .render_derived(name=name)
    )


REFERRAL_CASES = ReadModel(CASES, "referral_id", "sender", by_message=True)
SHARE_USES = ReadModel(USES, "share_id", "sender", by_message=True)
LEDGER_ITEMS = ReadModel(ITEMS, "ledger_item_id", "owner", by_message=False)


@dataclass
class Concerned:
    """What a batch concerns in one read model: messages answered, business keys sent."""

    message_ids: set[str] = field(default_factory=set)
    senders: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)

    def merge(self, other: Concerned) -> None:
        """Take in another message's concerns."""
        self.message_ids |= other.message_ids
        self.senders |= other.senders
        self.keys |= other.keys


@dataclass
class LifecycleState:
    """The read-model rows a batch's messages concern, loaded under the lock, changed as it
    goes; what changed is in ``changes``, flushed with the batch.
    """

    cases: dict[tuple[str, str], ReferralCaseRow] = field(default_factory=dict)
    uses: dict[tuple[str, str], ShareUseRow] = field(default_factory=dict)
    items: dict[tuple[str, str], LedgerItemRow] = field(default_factory=dict)
    referral_keys: set[tuple[str, str]] = field(default_factory=set)
    share_keys: set[tuple[str, str]] = field(default_factory=set)
    changes: Changes = field(default_factory=Changes)
    now: datetime | None = None
    """The receipt time of the batch (None for the hub's own events, which check no dates)."""
    _new: set[tuple[str, tuple[str, str]]] = field(default_factory=set)

    def load(self, model: ReadModel, rows: Iterable[Mapping[str, Any]]) -> None:
        """Index rows of a read model by their keys."""
        for row in rows:
            if model is REFERRAL_CASES:
                case = cast(ReferralCaseRow, dict(row))
                self.cases[(case["message_id"], case["recipient"])] = case
                self.referral_keys.add((case["sender"], case["referral_id"]))
            elif model is SHARE_USES:
                use = cast(ShareUseRow, dict(row))
                self.uses[(use["message_id"], use["recipient"])] = use
                self.share_keys.add((use["sender"], use["share_id"]))
            else:
                item = cast(LedgerItemRow, dict(row))
                self.items[(item["owner"], item["ledger_item_id"])] = item

    def insert(self, table: Table, key: tuple[str, str], row: Mapping[str, Any]) -> None:
        """A row new in this transaction."""
        self._new.add((table.name, key))
        self.changes.insert(table, [row])

    def stage(self, table: Table, key: tuple[str, str], row: Mapping[str, Any]) -> None:
        """A row changed: updated, unless it is new in this transaction (inserted as it is)."""
        if (table.name, key) not in self._new:
            self.changes.update(table, row)

    def supersede(self, message_id: str, day: date) -> None:
        """The ledger line ``message_id`` is followed by its item's next line, dated ``day``
        (updated after the inserts, so a line of the same batch too).
        """
        self.changes.update(LINES, {"message_id": message_id, "superseded_on": day})

    def transition(
        self,
        *,
        kind: str,
        owner: str,
        key: str,
        party: str | None,
        message_id: str,
        before: str | None,
        after: str,
        detail: str | None,
        at: datetime,
        log_index: int,
        business_date: date | None = None,
    ) -> None:
        """An accepted step, for timelines and figures; dated ``business_date`` (default: the
        Beijing day of ``at``).
        """
        self.changes.insert(
            TRANSITIONS,
            [
                {
                    "kind": kind,
                    "owner": owner,
                    "key": key,
                    "party": party or "",
                    "message_id": message_id,
                    "from_state": before,
                    "to_state": after,
                    "detail": detail,
                    "at": at,
                    "log_index": log_index,
                    "business_date": business_date or china_date(at),
                }
            ],
        )


@dataclass(frozen=True)
class Step:
    """A stored message's step: its status at intake, its received entry, the time."""

    status: str
    log_index: int
    now: datetime


class Lifecycle:
    """The lifecycle of one message type; this base is the type that moves nothing (the hub's
    notices). Subclasses declare ``message_type`` and override what their type does.
    """

    message_type: ClassVar[str] = "hub.notice.v1"

    def concerns(self, envelope: Envelope) -> dict[ReadModel, Concerned]:
        """The read-model rows a message of this type needs loaded before its check."""
        return {}

    def check(self, state: LifecycleState, envelope: Envelope) -> None:
        """Raise an ``ExchangeError`` if the message may not take its step now."""

    def entry_fields(self, state: LifecycleState, envelope: Envelope) -> dict[str, Any]:
        """What the message's ``message:received`` entry records of its step (after ``check``):
        the business key and, when a state changes, both states — so every accepted step is
        in the log without an entry of its own.
        """
        return {}

    def apply(self, state: LifecycleState, envelope: Envelope, step: Step) -> None:
        """Update the read models for a stored message (after ``check``)."""

    def hub_event(
        self,
        state: LifecycleState,
        message_id: str,
        event: str,
        recipients: Iterable[str] | None,
        *,
        log_index: int,
        now: datetime,
    ) -> None:
        """Move the rows of a message on a hub event (release, rejection, pull, ack)."""


def open_per_recipient(
    state: LifecycleState,
    model: ReadModel,
    kind: str,
    envelope: Envelope,
    step: Step,
    fields: Mapping[str, Any],
) -> None:
    """One new row per recipient of a referral or a share, in the message's status."""
    rows = state.cases if model is REFERRAL_CASES else state.uses
    business_key = str(fields[model.key_column])
    for recipient in envelope.recipients:
        key = (envelope.id, recipient)
        row: dict[str, Any] = {
            "message_id": envelope.id,
            "recipient": recipient,
            "sender": envelope.sender,
            "sent_at": envelope.sent_at,
            "state": step.status,
            "first_feedback_at": None,
            "updated_at": step.now,
            **fields,
        }
        rows[key] = cast(Any, row)
        state.insert(model.table, key, row)
        state.transition(
            kind=kind,
            owner=envelope.sender,
            key=business_key,
            party=recipient,
            message_id=envelope.id,
            before=None,
            after=step.status,
            detail=None,
            at=step.now,
            log_index=step.log_index,
        )


def check_business_date(
    field: str, previous: date | None, given: date, received: date | None, earlier: str
) -> None:
    """Refuse a business date later than the day received (Beijing) or earlier than the date of
    the previous step (``earlier`` names it): the order of DOMAIN.md's Version 1 additions.
    """
    if received is not None and given > received:
        raise InvalidTransition(
            f"payload.{field}: must not be later than the day the hub received the message "
            f"({received.isoformat()}, Beijing).",
            current=received.isoformat(),
            attempted=given.isoformat(),
        )
    if previous is not None and given < previous:
        raise InvalidTransition(
            f"payload.{field}: must not be earlier than {earlier} ({previous.isoformat()}).",
            current=previous.isoformat(),
            attempted=given.isoformat(),
        )


def same_key(payload: Mapping[str, Any], name: str, expected: str) -> None:
    """A reply names the business key of the message it answers."""
    if payload[name] != expected:
        raise SchemaInvalid(
            errors={f"payload.{name}": [f"Must be {expected}, the key of the message answered."]}
        )
