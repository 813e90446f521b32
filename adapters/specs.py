"""Record specs: which field of a body's native record goes to which path of the envelope."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.codecs import Codec, Text
from adapters.errors import NativeProblem


@dataclass(frozen=True)
class Field:
    """A native field (a column, or a dotted key path in JSON) ↔ an envelope path.

    ``wire`` is ``payload.<path>`` or an envelope key (``to``, ``in_reply_to``,
    ``classification``).
    """

    native: str
    wire: str
    codec: Codec = field(default_factory=Text)
    required: bool = False


@dataclass(frozen=True)
class RecordSpec:
    """How one kind of native record (``整改台账``, ``移送处理书``…) maps to one message type.

    ``fixed``: wire values every such message carries (``payload.source.kind``);
    ``default_to``: the bodies it goes to when the record names none;
    ``unmapped``: native fields kept at home (``序号``), never sent and not given back.
    ``table``: rows of a CSV/XLSX sheet (every cell text) rather than JSON records.
    """

    kind: str
    message_type: str
    fields: tuple[Field, ...]
    table: bool
    default_to: tuple[str, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)
    unmapped: frozenset[str] = frozenset()
    extra: tuple[str, ...] = ()
    """Native fields mapped by the hooks below rather than by a field of their own."""
    marker: Mapping[str, str] = field(default_factory=dict)
    """Native fields that name the record's kind (``{"文书类型": "移送处理书"}``)."""
    to_wire: Callable[[Mapping[str, Any], dict[str, Any]], None] | None = None
    """Extra mapping native → draft, for what one field cannot say alone."""
    to_native: Callable[[Mapping[str, Any], dict[str, Any]], None] | None = None
    """Extra mapping envelope → native, the inverse of ``to_wire``."""

    @property
    def columns(self) -> tuple[str, ...]:
        """The mapped native fields, in order."""
        return tuple(f.native for f in self.fields) + self.extra

    def unknown_keys(self, native: Mapping[str, Any], prefix: str = "") -> list[str]:
        """Native fields (dotted paths) this spec neither maps nor keeps at home.

        Refused rather than dropped: a misspelt header would otherwise lose data silently.
        """
        known = set(self.columns) | set(self.marker) | self.unmapped
        unknown = []
        for key, value in native.items():
            path = f"{prefix}{key}"
            if path in known:
                continue
            if any(column.startswith(path + ".") for column in known):
                if isinstance(value, Mapping):
                    unknown.extend(self.unknown_keys(value, path + "."))
                continue
            unknown.append(path)
        return unknown

    def codec_of(self, column: str) -> Codec:
        """The codec of a native field (plain text when the spec does not map it)."""
        for spec_field in self.fields:
            if spec_field.native == column:
                return spec_field.codec
        return Text()

    def column_of(self, path: str) -> str | None:
        """The native field a wire path comes from (``payload.milestones[1].due`` → 阶段目标)."""
        wire_paths = {f.wire: f.native for f in self.fields}
        candidate = path
        while candidate and candidate != "payload":
            if candidate in wire_paths:
                return wire_paths[candidate]
            under = [f.native for f in self.fields if f.wire.startswith(candidate + ".")]
            if under:
                return under[0]
            shorter = re.sub(r"(?:\.[^.\[\]]*|\[[0-9]+\])\Z", "", candidate)
            if shorter == candidate:
                break
            candidate = shorter
        return None


@dataclass(frozen=True)
class NativeRecord:
    """One native record as read from a file, with where it was found."""

    kind: str
    fields: dict[str, Any]
    source: str
    row: int
    sheet: str | None = None
    unit: str = "行"

    def problem(self, column: str | None, reason: str) -> NativeProblem:
        """A problem at this record's row and ``column``."""
        return NativeProblem(self.source, self.row, column, reason, self.sheet, self.unit)


def get_path(document: Mapping[str, Any], path: str) -> Any:
    """A value at a dotted path (``审计项目.审计期间.起``), or None."""
    value: Any = document
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return value


def put_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Set a value at a dotted path, making the objects on the way."""
    *head, last = path.split(".")
    for step in head:
        document = document.setdefault(step, {})
    document[last] = value
