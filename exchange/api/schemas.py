"""Request and response schemas of the partner API, for the OpenAPI document and dumping."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


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


class DeliverySchema(Schema):
    """One recipient's delivery state."""

    recipient = fields.String()
    state = fields.String()
    delivered_at = fields.String(allow_none=True)
    acked_at = fields.String(allow_none=True)
    ack = fields.String(allow_none=True)


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
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
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

    index = fields.Integer(required=True, validate=validate.Range(min=0))
    tree_size = fields.Integer(required=True, validate=validate.Range(min=1))


class InclusionProofSchema(Schema):
    """An RFC 9162 §2.1.3 audit path, leaf first."""

    index = fields.Integer()
    tree_size = fields.Integer()
    leaf_hash = fields.String()
    hashes = fields.List(fields.String())


class ConsistencyQuerySchema(Schema):
    """Which two tree sizes."""

    first = fields.Integer(required=True, validate=validate.Range(min=0))
    second = fields.Integer(required=True, validate=validate.Range(min=0))


class ConsistencyProofSchema(Schema):
    """An RFC 9162 §2.1.4 consistency proof."""

    first = fields.Integer()
    second = fields.Integer()
    hashes = fields.List(fields.String())


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
