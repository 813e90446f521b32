"""Schemas of the joint-supervision exchange: envelope, message types, validators, JCS.

Pure library: marshmallow, rfc8785 and the standard library only.
"""

from schemas.canonical import JsonInvalid, canonical_bytes, envelope_sha256, parse_json
from schemas.classified import (
    CLASSIFIED_LEVELS,
    STATE_SECRET_MARKERS,
    check_classified,
    contains_marker,
    find_classified,
)
from schemas.clue import (
    DISPOSITIONS,
    FEEDBACK_STAGES,
    ISSUE_CATEGORIES,
    OUTCOMES,
    REFERRAL_STATES,
    SOURCE_KINDS,
    ClueFeedbackSchema,
    ReferralSchema,
)
from schemas.codes import (
    id_number_check_character,
    id_number_problem,
    mask_id_number,
    uscc_check_character,
    uscc_problem,
)
from schemas.common import AttachmentSchema, PayloadSchema, StrictSchema, UnitSchema
from schemas.envelope import CLASSIFICATIONS, MESSAGE_TYPE_LABELS, EnvelopeSchema
from schemas.errors import ClassifiedContent, MessageInvalid, SchemaError
from schemas.fields import (
    AMOUNT_RE,
    MESSAGE_ID_RE,
    Amount,
    Choice,
    IdNumber,
    IsoDate,
    Rfc3339,
    Text,
    Uscc,
)
from schemas.identity import (
    BODIES,
    HUB_PARTNER_ID,
    KID_RE,
    PARTNER_ID_RE,
    body_of,
    partner_of,
)
from schemas.notice import NOTICE_KINDS, NoticeSchema
from schemas.rectification import (
    RECTIFICATION_CLASSES,
    RECTIFICATION_SOURCES,
    RECTIFICATION_STATUSES,
    RECTIFICATION_TRANSITIONS,
    RectificationSchema,
)
from schemas.registry import (
    ALL_MESSAGE_TYPES,
    HUB_MESSAGE_TYPES,
    MESSAGE_TYPES,
    Envelope,
    id_numbers,
    validate_envelope,
)
from schemas.result import (
    AUDIT_TIMINGS,
    DECISION_KINDS,
    FINDING_HANDLINGS,
    INTENDED_USES,
    RESPONSIBILITIES,
    SHARE_TYPES,
    ResultFeedbackSchema,
    ShareSchema,
)

__all__ = [
    "ALL_MESSAGE_TYPES",
    "AMOUNT_RE",
    "AUDIT_TIMINGS",
    "BODIES",
    "CLASSIFICATIONS",
    "CLASSIFIED_LEVELS",
    "DECISION_KINDS",
    "DISPOSITIONS",
    "FEEDBACK_STAGES",
    "FINDING_HANDLINGS",
    "HUB_MESSAGE_TYPES",
    "HUB_PARTNER_ID",
    "INTENDED_USES",
    "ISSUE_CATEGORIES",
    "KID_RE",
    "MESSAGE_ID_RE",
    "MESSAGE_TYPES",
    "MESSAGE_TYPE_LABELS",
    "NOTICE_KINDS",
    "OUTCOMES",
    "PARTNER_ID_RE",
    "RECTIFICATION_CLASSES",
    "RECTIFICATION_SOURCES",
    "RECTIFICATION_STATUSES",
    "RECTIFICATION_TRANSITIONS",
    "REFERRAL_STATES",
    "RESPONSIBILITIES",
    "SHARE_TYPES",
    "SOURCE_KINDS",
    "STATE_SECRET_MARKERS",
    "Amount",
    "AttachmentSchema",
    "Choice",
    "ClassifiedContent",
    "ClueFeedbackSchema",
    "Envelope",
    "EnvelopeSchema",
    "IdNumber",
    "IsoDate",
    "JsonInvalid",
    "MessageInvalid",
    "NoticeSchema",
    "PayloadSchema",
    "RectificationSchema",
    "ReferralSchema",
    "ResultFeedbackSchema",
    "Rfc3339",
    "SchemaError",
    "ShareSchema",
    "StrictSchema",
    "Text",
    "UnitSchema",
    "Uscc",
    "body_of",
    "canonical_bytes",
    "check_classified",
    "contains_marker",
    "envelope_sha256",
    "find_classified",
    "id_number_check_character",
    "id_number_problem",
    "id_numbers",
    "mask_id_number",
    "parse_json",
    "partner_of",
    "uscc_check_character",
    "uscc_problem",
    "validate_envelope",
]
