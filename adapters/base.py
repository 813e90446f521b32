"""The adapter protocol and ``BaseAdapter``: a body's native records ↔ canonical envelope drafts.

An adapter reads one body's native files (ledgers as CSV/XLSX, case-system exports as JSON) and
returns envelope drafts: complete envelopes less ``id`` and ``sent_at``, which the sender (the
agent) fills. ``from_message`` gives a received envelope back as a native record.

The parts live apart: codecs (``adapters.codecs``, ``adapters.compound``), record specs
(``adapters.specs``), files (``adapters.files``), the generic 来文登记 (``adapters.received``) and
discovery (``adapters.discovery``). Their names stay importable from here, where adapter packages
written before the split import them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

from adapters.codecs import (
    INTENDED_USE_CODES,
    LIST_SEPARATOR,
    Bodies,
    Classification,
    CnDate,
    Code,
    Codec,
    Count,
    IdNumber,
    Label,
    NativeValueError,
    Text,
    UsccCode,
    Wan,
    YesNo,
    format_cn_date,
    is_blank,
    parse_cn_date,
    partner_body,
    wan_to_yuan,
    yuan_to_wan,
)
from adapters.compound import (
    MEDIA_TYPES,
    PART_SEPARATOR,
    AttachmentCodec,
    Lines,
    Part,
    Parts,
    media_type_of,
    milestone_codec,
    person_codec,
)
from adapters.discovery import ENTRY_POINT_GROUP, adapter_for, load_adapters
from adapters.errors import EdgeError, NativeError, NativeProblem
from adapters.files import (
    NativeFile,
    native_file,
    read_json_records,
    read_table_records,
    suffix_of,
)
from adapters.received import (
    BEIJING,
    ENVELOPE_KEYS,
    chinese_name,
    envelope_keys,
    received_record,
)
from adapters.specs import Field, NativeRecord, RecordSpec, get_path, put_path
from schemas import (
    CLASSIFICATIONS,
    MESSAGE_TYPES,
    PARTNER_ID_RE,
    ClassifiedContent,
    MessageInvalid,
    body_of,
    validate_envelope,
)

__all__ = [
    "BEIJING",
    "ENTRY_POINT_GROUP",
    "ENVELOPE_KEYS",
    "INTENDED_USE_CODES",
    "LIST_SEPARATOR",
    "MEDIA_TYPES",
    "PART_SEPARATOR",
    "Adapter",
    "AttachmentCodec",
    "BaseAdapter",
    "Bodies",
    "Classification",
    "CnDate",
    "Code",
    "Codec",
    "Count",
    "Field",
    "IdNumber",
    "Label",
    "Lines",
    "NativeError",
    "NativeFile",
    "NativeProblem",
    "NativeRecord",
    "NativeValueError",
    "Part",
    "Parts",
    "RecordSpec",
    "Text",
    "UsccCode",
    "Wan",
    "YesNo",
    "adapter_for",
    "chinese_name",
    "envelope_keys",
    "format_cn_date",
    "get_path",
    "load_adapters",
    "media_type_of",
    "milestone_codec",
    "native_file",
    "parse_cn_date",
    "person_codec",
    "put_path",
    "received_record",
    "suffix_of",
    "wan_to_yuan",
    "yuan_to_wan",
]

_PLACEHOLDER_ID: Final = "adapter-draft-check"
_PLACEHOLDER_SENT_AT: Final = "2000-01-01T00:00:00Z"


@runtime_checkable
class Adapter(Protocol):
    """What every body's adapter provides (the agent and the hub's native views use this)."""

    body: str
    sends: frozenset[str]
    receives: frozenset[str]

    def to_messages(self, native: Path | str | NativeFile) -> list[dict[str, Any]]:
        """Envelope drafts (no ``id``, no ``sent_at``) from one native file; NativeError else."""
        ...

    def from_message(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """A received (or sent) envelope as the body's native record."""
        ...


class BaseAdapter:
    """Shared machinery: reading files, mapping records by their spec, checking drafts.

    A body's adapter sets ``body``, ``sends``, ``receives``, builds its specs in ``specs()`` and
    says which spec a record or file uses in ``read``.
    """

    body: ClassVar[str]
    sends: ClassVar[frozenset[str]]
    receives: ClassVar[frozenset[str]]

    def __init__(
        self, *, partner_id: str, partners: Mapping[str, str], classification: str = "internal"
    ) -> None:
        if not isinstance(partner_id, str) or PARTNER_ID_RE.match(partner_id) is None:
            raise EdgeError(f"not a partner id: {partner_id!r}")
        if body_of(partner_id) != self.body:
            raise EdgeError(f"{partner_id} is not a partner of body {self.body}")
        for body, partner in partners.items():
            if PARTNER_ID_RE.match(partner) is None or body_of(partner) != body:
                raise EdgeError(f"partners[{body!r}] = {partner!r} is not a {body} partner id")
        if classification not in CLASSIFICATIONS:
            raise EdgeError(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
        self.partner_id = partner_id
        self.partners: dict[str, str] = {b: p for b, p in partners.items() if b != self.body}
        self.classification = classification
        self._specs = {spec.kind: spec for spec in self.specs()}

    # -- what a body adapter defines -----------------------------------------------------
    def specs(self) -> list[RecordSpec]:
        """Every kind of native record this body sends."""
        raise NotImplementedError

    def read(self, native: Path | str | NativeFile) -> list[NativeRecord]:
        """The native records of a file, in order (CSV/XLSX rows, or JSON records)."""
        raise NotImplementedError

    # -- native → canonical ----------------------------------------------------------------
    def spec(self, kind: str) -> RecordSpec:
        """The spec of a kind of native record."""
        return self._specs[kind]

    def to_messages(self, native: Path | str | NativeFile) -> list[dict[str, Any]]:
        """Envelope drafts, one per native record, each checked against its schema.

        Every problem of every record is collected; any problem raises NativeError.
        """
        drafts: list[dict[str, Any]] = []
        problems: list[NativeProblem] = []
        for record in self.read(native):
            draft, found = self.draft(record)
            problems.extend(found)
            if not found:
                problems.extend(self._check(record, draft))
            drafts.append(draft)
        if problems:
            raise NativeError(problems)
        return drafts

    def draft(self, record: NativeRecord) -> tuple[dict[str, Any], list[NativeProblem]]:
        """One record's envelope draft, and the problems met building it."""
        spec = self.spec(record.kind)
        draft: dict[str, Any] = {
            "type": spec.message_type,
            "from": self.partner_id,
            "to": [self.partners[b] for b in spec.default_to if b in self.partners],
            "classification": self.classification,
            "payload": {},
        }
        for path, value in spec.fixed.items():
            put_path(draft, path, value)
        problems = [record.problem(key, "不认识的字段") for key in spec.unknown_keys(record.fields)]
        for spec_field in spec.fields:
            raw = get_path(record.fields, spec_field.native)
            if is_blank(raw):
                if spec_field.required:
                    problems.append(record.problem(spec_field.native, "必填"))
                continue
            try:
                put_path(draft, spec_field.wire, spec_field.codec.parse(raw))
            except NativeValueError as bad:
                problems.append(record.problem(spec_field.native + bad.at, bad.reason))
        if spec.to_wire is not None:
            try:
                spec.to_wire(record.fields, draft)
            except NativeValueError as bad:
                problems.append(record.problem(bad.at or None, bad.reason))
        key = getattr(MESSAGE_TYPES[spec.message_type], "business_key", None)
        if key is not None and key in draft["payload"]:
            draft["subject"] = draft["payload"][key]
        if not draft["to"] and not problems:
            problems.append(record.problem(None, "没有可发送的接收单位（检查交换编号配置）"))
        return draft, problems

    def _check(self, record: NativeRecord, draft: Mapping[str, Any]) -> list[NativeProblem]:
        """Validate the completed draft as the hub will; name the native column of each error."""
        spec = self.spec(record.kind)
        try:
            validate_envelope({**draft, "id": _PLACEHOLDER_ID, "sent_at": _PLACEHOLDER_SENT_AT})
        except ClassifiedContent as found:
            column = spec.column_of(found.path)
            return [record.problem(column, "含有涉密标识（秘密/机密/绝密），不得通过交换中心报送")]
        except MessageInvalid as invalid:
            return [
                record.problem(spec.column_of(path), f"不符合交换规范（{path}: {'; '.join(msgs)}）")
                for path, msgs in invalid.errors.items()
            ]
        return []

    # -- canonical → native ----------------------------------------------------------------
    def from_message(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """The envelope as this body keeps it.

        A message this body sent comes back in its own native form (so native → canonical →
        native keeps every mapped field); a message from another body comes as a 来文登记:
        every field under its Chinese name, enumeration labels, 万元, Chinese dates.
        """
        message_type = envelope.get("type")
        if message_type not in self.sends | self.receives:
            raise EdgeError(f"{self.body} adapter does not handle {message_type!r}")
        own = partner_body(str(envelope.get("from"))) == self.body and message_type in self.sends
        spec = self.spec_for_message(envelope) if own else None
        if spec is None:
            return received_record(envelope)
        return {**self.native_record(spec, envelope), **envelope_keys(envelope)}

    def spec_for_message(self, envelope: Mapping[str, Any]) -> RecordSpec | None:
        """The spec this body writes its own message of this type with (None: no own form)."""
        for spec in self._specs.values():
            if spec.message_type == envelope.get("type"):
                return spec
        return None

    def native_record(self, spec: RecordSpec, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """The native record of an envelope, by ``spec`` (tables: every column, blank or not)."""
        native: dict[str, Any] = dict(spec.marker)
        if spec.table:
            native.update((column, "") for column in spec.columns)
        for spec_field in spec.fields:
            value = get_path(envelope, spec_field.wire)
            if value is None or value == []:
                continue
            put_path(native, spec_field.native, spec_field.codec.format(value, table=spec.table))
        if spec.to_native is not None:
            spec.to_native(envelope, native)
        return native

    def mapped(self, record: NativeRecord) -> dict[str, Any]:
        """The fields of a record that travel (tables: every mapped column, blank as ``""``)."""
        spec = self.spec(record.kind)
        if spec.table:
            return {column: record.fields.get(column, "") for column in spec.columns}
        return {k: v for k, v in record.fields.items() if k not in spec.unmapped}

    # -- reading files ---------------------------------------------------------------------
    def read_tables(
        self, native: Path | str | NativeFile, kinds: Sequence[str]
    ) -> list[NativeRecord]:
        """Rows of a CSV (UTF-8, BOM or not) or XLSX file; each sheet's kind told by its header.

        A sheet is of the first kind in ``kinds`` whose required columns its header has all of;
        when none fits, the problem names the missing columns of the closest kind.
        """
        return read_table_records(native, [self.spec(kind) for kind in kinds])

    def read_json_records(
        self, native: Path | str | NativeFile, kind_key: str, kinds: Mapping[str, str]
    ) -> list[NativeRecord]:
        """Records of a JSON file (an array of objects, or one object), counted from 1.

        ``kind_key`` names the field that says the record's kind; ``kinds`` maps its values to
        spec kinds. Numbers are read as exact decimals.
        """
        return read_json_records(native, kind_key, kinds)
