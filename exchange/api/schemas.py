"""Request and response schemas of the partner API, for the OpenAPI document and dumping."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from marshmallow import Schema, fields, validate

from exchange.api.examples import give_api_examples
from schemas.clue import REFERRAL_STATES
from schemas.fields import Text
from schemas.rectification import RECTIFICATION_SOURCES, RECTIFICATION_STATUSES
from schemas.result import SHARE_TYPES

MAX_LOG_INDEX: Final = 2**53 - 1
"""The largest log index or tree size a request may name (the I-JSON integer range)."""

MAX_PAGE: Final = 100_000
"""The deepest page of a paged list."""

_DIGITS: Final = re.compile(r"\A[0-9]+\Z")
# Longer than any bound: not converted (Python refuses int() of 4,300 digits), just refused.
_LONGEST: Final = 20


class QueryInteger(fields.Integer):
    """A whole number in a query or path parameter: ASCII digits only (no sign, no spaces, no
    other script's digits, no ``_``), bounded by ``Range`` so that no database sees it
    overflow.
    """

    default_error_messages = {  # noqa: RUF012 (marshmallow merges it along the MRO)
        "invalid": "Must be a whole number in ASCII digits."
    }

    def __init__(self, *, minimum: int, maximum: int, **kwargs: Any) -> None:
        super().__init__(
            strict=False,
            validate=validate.Range(
                min=minimum, max=maximum, error="Must be a whole number from {min} to {max}."
            ),
            **kwargs,
        )

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        if not isinstance(value, str) or _DIGITS.match(value) is None:
            raise self.make_error("invalid")
        return int(value) if len(value) <= _LONGEST else 10**_LONGEST


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(metadata={"example": "urn:exchange:error:schema-invalid"})
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class SubmissionSchema(Schema):
    """One signed message: the envelope and a detached JWS over JCS(envelope)."""

    envelope = fields.Dict(required=True, metadata={"description": "The envelope (PROTOCOL §2)"})
    signature = fields.String(required=True, metadata={"description": "Detached JWS (§3)"})


class BatchSchema(Schema):
    """Up to 100 submissions."""

    messages = fields.List(fields.Nested(SubmissionSchema), required=True)


class AcceptedSchema(Schema):
    """The hub's answer: status, signed receipt, log index."""

    status = fields.String(metadata={"enum": ["pending_review", "released"]})
    receipt = fields.String(metadata={"description": "JWS compact by the hub"})
    log_index = fields.Integer()


class BatchResultSchema(Schema):
    """One result per submitted item, in order: accepted, or a problem under ``error``."""

    results = fields.List(fields.Dict())


class PushSchema(Schema):
    """A delivery's push to the recipient's webhook (PROTOCOL §7)."""

    state = fields.String(
        metadata={
            "enum": ["pending", "sending", "pushed", "dead", "cancelled"],
            "description": "pending (due at next_attempt_at), sending (a worker holds it), "
            "pushed (a 2xx), dead (dead-lettered after the last retry), cancelled (the webhook "
            "was disabled by a 410 or removed: the recipient pulls)",
        }
    )
    attempts = fields.Integer()
    last_attempt_at = fields.String(allow_none=True)
    last_duration_ms = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.String(allow_none=True)


class DeliverySchema(Schema):
    """One recipient's delivery state."""

    recipient = fields.String()
    state = fields.String()
    delivered_at = fields.String(allow_none=True)
    acked_at = fields.String(allow_none=True)
    ack = fields.String(allow_none=True)
    delivered_via = fields.String(
        allow_none=True, metadata={"enum": ["pull", "push"], "description": "how it first went"}
    )
    push = fields.Nested(
        PushSchema, allow_none=True, metadata={"description": "null: the recipient pulls"}
    )


class MessageViewSchema(Schema):
    """A message as its sender or a recipient sees it."""

    envelope = fields.Dict()
    signature = fields.String()
    status = fields.String()
    receipt = fields.String()
    log_index = fields.Integer()
    deliveries = fields.List(fields.Nested(DeliverySchema))
    events = fields.List(fields.Dict())


class InboxQuerySchema(Schema):
    """Inbox paging."""

    after = fields.String(validate=validate.Regexp(r"^[0-9]{1,18}$"))
    limit = QueryInteger(load_default=100, minimum=1, maximum=500)
    unacked = fields.Boolean(load_default=False)


class InboxItemSchema(Schema):
    """A released message in the inbox."""

    cursor = fields.String()
    envelope = fields.Dict()
    signature = fields.String()
    receipt = fields.String()
    acked = fields.Boolean()


class InboxSchema(Schema):
    """A page of the inbox; ``next`` is the cursor of the next page, or null."""

    items = fields.List(fields.Nested(InboxItemSchema))
    next = fields.String(allow_none=True)


class AckItemSchema(Schema):
    """A recipient's signed acknowledgement of one message."""

    id = fields.String(required=True)
    ack = fields.String(required=True)


class AcksSchema(Schema):
    """A list of acknowledgements."""

    acks = fields.List(fields.Nested(AckItemSchema), required=True)


class AckResultsSchema(Schema):
    """One result per ack."""

    results = fields.List(fields.Dict())


class PartnerKeySchema(Schema):
    """A partner's public key and its window."""

    kid = fields.String()
    jwk = fields.Dict()
    not_before = fields.String()
    not_after = fields.String(allow_none=True)
    revoked_at = fields.String(allow_none=True)


class PartnerSchema(Schema):
    """A registered partner."""

    id = fields.String()
    name = fields.String()
    body = fields.String()
    status = fields.String()
    keys = fields.List(fields.Nested(PartnerKeySchema))


class PartnersSchema(Schema):
    """The partner directory."""

    partners = fields.List(fields.Nested(PartnerSchema))


class CheckpointSchema(Schema):
    """The newest signed tree head (PROTOCOL §5, §6); its fields repeat the JWS payload."""

    checkpoint = fields.String(metadata={"description": "JWS compact by the hub"})
    origin = fields.String()
    tree_size = fields.Integer()
    root_hash = fields.String(metadata={"description": "lower-case hex"})
    issued_at = fields.String()


class InclusionQuerySchema(Schema):
    """Which entry, in which tree."""

    index = QueryInteger(required=True, minimum=0, maximum=MAX_LOG_INDEX)
    tree_size = QueryInteger(required=True, minimum=1, maximum=MAX_LOG_INDEX)


class InclusionProofSchema(Schema):
    """An RFC 9162 §2.1.3 audit path, leaf first."""

    index = fields.Integer()
    tree_size = fields.Integer()
    leaf_hash = fields.String()
    hashes = fields.List(fields.String())


class ConsistencyQuerySchema(Schema):
    """Which two tree sizes."""

    first = QueryInteger(required=True, minimum=0, maximum=MAX_LOG_INDEX)
    second = QueryInteger(required=True, minimum=0, maximum=MAX_LOG_INDEX)


class ConsistencyProofSchema(Schema):
    """An RFC 9162 §2.1.4 consistency proof."""

    first = fields.Integer()
    second = fields.Integer()
    hashes = fields.List(fields.String())


class LogEntryPathSchema(Schema):
    """Which entry."""

    index = QueryInteger(required=True, minimum=0, maximum=MAX_LOG_INDEX)


class LogEntrySchema(Schema):
    """One log entry (ids and digests only) and its leaf hash."""

    index = fields.Integer()
    entry = fields.Dict()
    leaf_hash = fields.String()


class EvidenceSchema(Schema):
    """An evidence bundle (``exchange-evidence/1``; checked by ``keys.evidence``)."""

    format = fields.String()
    message_id = fields.String()
    envelope = fields.Dict()
    envelope_jcs = fields.String()
    signature = fields.String()
    receipt = fields.String()
    acks = fields.List(fields.Dict())
    log = fields.List(fields.Dict())
    checkpoint = fields.String()
    keys = fields.Dict()


# --- lifecycles and figures -------------------------------------------------------------------


class PageQuerySchema(Schema):
    """Page through a list by cursor: ``next`` of one page is the ``cursor`` of the next."""

    cursor = fields.String(
        validate=validate.Length(1, 1024),
        metadata={"description": "`next` of the page before; absent: the first page"},
    )
    page_size = QueryInteger(load_default=50, minimum=1, maximum=500)
    total = fields.Boolean(
        load_default=False,
        metadata={"description": "`true`: also count the matches (a read of all of them)"},
    )
    # Before cursors: still refused beyond the first page, never silently the first again.
    page = QueryInteger(
        minimum=1, maximum=MAX_PAGE, metadata={"description": "deprecated: only 1; use `cursor`"}
    )


class ReferralQuerySchema(PageQuerySchema):
    """Filters of the referral list."""

    state = fields.String(validate=validate.OneOf(sorted(REFERRAL_STATES)))
    overdue = fields.Boolean()


class LedgerQuerySchema(PageQuerySchema):
    """Filters of the ledger."""

    source = fields.String(validate=validate.OneOf(sorted(RECTIFICATION_SOURCES)))
    status = fields.String(validate=validate.OneOf(sorted(RECTIFICATION_STATUSES)))
    unit = Text(
        max_length=200, metadata={"description": "responsible unit: its name or 统一社会信用代码"}
    )
    owner = Text(max_length=80)
    overdue = fields.Boolean()


class SubjectQuerySchema(Schema):
    """When two senders use the same business key, which one."""

    sender = Text(max_length=80)


class StatsQuerySchema(Schema):
    """The period (Beijing dates, both included): referrals by the day sent, ledger items by the
    day first reported; the cut-off ``as_of`` (default today) and one report's scope.
    """

    from_ = fields.Date(data_key="from")
    to = fields.Date()
    as_of = fields.Date(
        metadata={"description": "截至日期: states as of this Beijing day, overdue against it"}
    )
    owner = Text(max_length=80, metadata={"description": "ledger owner"})
    source = fields.String(validate=validate.OneOf(sorted(RECTIFICATION_SOURCES)))
    source_doc_number = Text(max_length=100, metadata={"description": "来源文书文号"})
    source_year = QueryInteger(minimum=1949, maximum=2100, metadata={"description": "问题所属年度"})
    source_project = Text(max_length=200, metadata={"description": "审计(巡察)项目名称"})
    unit = Text(
        max_length=200,
        metadata={"description": "整改责任单位 or 共同整改责任单位: its name or USCC"},
    )
    problem_category = Text(max_length=100, metadata={"description": "问题类别"})


class ShareQuerySchema(PageQuerySchema):
    """Filters of the shared results."""

    share_type = fields.String(validate=validate.OneOf(sorted(SHARE_TYPES)))
    state = fields.String(validate=validate.OneOf(["released", "used"]))


class ShareUseSchema(Schema):
    """One recipient's use of a shared result."""

    share_id = fields.String()
    message_id = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    recipient = fields.String()
    share_type = fields.String(metadata={"enum": sorted(SHARE_TYPES)})
    audit_timing = fields.String(allow_none=True)
    state = fields.String()
    sent_at = fields.String()
    used_for = fields.List(fields.String())
    decisions = fields.Dict(keys=fields.String(), values=fields.Integer())
    used_on = fields.String(allow_none=True)
    feedbacks = fields.Integer()
    plan_projects = fields.Integer()
    plan_joint_projects = fields.Integer()


class CursorPageSchema(Schema):
    """What every list answers beside its items: the next page's cursor (PageQuerySchema)."""

    next = fields.String(
        allow_none=True, metadata={"description": "the cursor of the next page; null: the last"}
    )
    page_size = fields.Integer()
    total = fields.Integer(metadata={"description": "only when asked with `total=true`"})


class SharePageSchema(CursorPageSchema):
    """A page of share uses."""

    items = fields.List(fields.Nested(ShareUseSchema))


class ShareDetailSchema(Schema):
    """A shared result, each visible recipient's use and its timeline."""

    share_id = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    message_id = fields.String()
    uses = fields.List(fields.Nested(ShareUseSchema))
    timeline = fields.List(fields.Dict())


class ReferralCaseSchema(Schema):
    """One recipient's handling of a referral."""

    referral_id = fields.String()
    message_id = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    recipient = fields.String()
    issue_category = fields.String()
    state = fields.String(metadata={"enum": sorted(REFERRAL_STATES)})
    disposition = fields.String(allow_none=True)
    sent_at = fields.String()
    released_at = fields.String(allow_none=True)
    feedback_due = fields.String()
    first_feedback_at = fields.String(allow_none=True)
    concluded_at = fields.String(allow_none=True)
    days_to_first_feedback = fields.Float(allow_none=True)
    overdue = fields.Boolean()
    persons_handled = fields.Integer()
    recovered_amount = fields.String()


class TimelineStepSchema(Schema):
    """One accepted lifecycle step."""

    at = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    party = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    message_id = fields.String()
    log_index = fields.Integer()


class ReferralPageSchema(CursorPageSchema):
    """A page of referral cases."""

    items = fields.List(fields.Nested(ReferralCaseSchema))


class ReferralDetailSchema(Schema):
    """A referral, its cases and its timeline."""

    referral_id = fields.String()
    from_ = fields.String(data_key="from", attribute="from")
    message_id = fields.String()
    cases = fields.List(fields.Nested(ReferralCaseSchema))
    timeline = fields.List(fields.Nested(TimelineStepSchema))


class LedgerItemSchema(Schema):
    """One line of the 整改台账."""

    ledger_item_id = fields.String()
    owner = fields.String()
    source = fields.String()
    source_doc_number = fields.String()
    responsible_unit = fields.Dict()
    rectification_class = fields.String()
    status = fields.String(metadata={"enum": sorted(RECTIFICATION_STATUSES)})
    deadline = fields.String()
    milestone_due = fields.String(allow_none=True)
    overdue = fields.Boolean()
    amount_involved = fields.String()
    amount_rectified = fields.String()
    rules_made = fields.Integer()
    persons_held_accountable = fields.Integer()
    first_reported_at = fields.String()
    reported_at = fields.String()
    last_message_id = fields.String()


class LedgerPageSchema(CursorPageSchema):
    """A page of ledger items."""

    items = fields.List(fields.Nested(LedgerItemSchema))


class LedgerItemDetailSchema(LedgerItemSchema):
    """A ledger item with its timeline."""

    timeline = fields.List(fields.Nested(TimelineStepSchema))


class StatsSchema(Schema):
    """Referral and rectification figures (rates in percent, to 0.01; amounts in 元)."""

    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String(allow_none=True)
    as_of = fields.String()
    filters = fields.Dict(metadata={"description": "the filters given"})
    referrals = fields.Dict()
    rectification = fields.Dict()
    accountability = fields.Dict(metadata={"description": "追责问责 persons, counted once"})
    shares = fields.Dict()
    plans = fields.Dict()


def _schemas_here() -> list[type[Schema]]:
    return [
        value
        for value in globals().values()
        if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == __name__
    ]


give_api_examples(_schemas_here())
