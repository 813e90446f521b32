"""来文登记: any received message as a record with Chinese keys, labels, 万元 and Chinese dates.

The generic native view of a message a body has no form of its own for; the keys are the
Chinese names of the schema's fields (``移送编号``, ``问题金额（万元）``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from marshmallow import Schema, fields

from adapters.codecs import format_cn_date, partner_body, yuan_to_wan
from adapters.errors import EdgeError
from schemas import (
    ALL_MESSAGE_TYPES,
    BODIES,
    CLASSIFICATIONS,
    HUB_PARTNER_ID,
    MESSAGE_TYPE_LABELS,
    Amount,
    Choice,
    IsoDate,
)

ENVELOPE_KEYS: Final = (
    "消息编号",
    "消息类型",
    "发送方",
    "发送单位",
    "发送时间",
    "密级",
    "回复消息编号",
)
"""Keys ``from_message`` adds about the envelope itself (not fields of the native record)."""

BEIJING: Final = dt.timezone(dt.timedelta(hours=8), "CST")
"""Beijing time, in which ``发送时间`` is shown."""


def envelope_keys(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope's own facts under Chinese keys (``消息编号``, ``发送方``…)."""
    sender = str(envelope.get("from", ""))
    keys: dict[str, Any] = {
        "消息编号": envelope.get("id", ""),
        "消息类型": MESSAGE_TYPE_LABELS.get(str(envelope.get("type")), envelope.get("type")),
        "发送方": sender,
        "发送单位": BODIES.get(
            partner_body(sender), "交换中心" if sender == HUB_PARTNER_ID else sender
        ),
        "发送时间": _beijing_time(envelope.get("sent_at")),
        "密级": CLASSIFICATIONS.get(str(envelope.get("classification")), ""),
    }
    if envelope.get("in_reply_to"):
        keys["回复消息编号"] = envelope["in_reply_to"]
    return keys


def received_record(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """来文登记: any message as a record with Chinese keys, labels, 万元 and Chinese dates.

    The keys are the Chinese names of the schema's fields (``移送编号``, ``问题金额（万元）``).
    """
    schema_class = ALL_MESSAGE_TYPES.get(str(envelope.get("type")))
    payload = envelope.get("payload")
    record = envelope_keys(envelope)
    if schema_class is None or not isinstance(payload, Mapping):
        raise EdgeError(f"unknown message type {envelope.get('type')!r}")
    record.update(_view_object(schema_class(), payload))
    return record


def chinese_name(schema_field: fields.Field[Any]) -> str:
    """A schema field's Chinese name: its description's first word (``涉及金额(元)``)."""
    description = str(schema_field.metadata.get("description", ""))
    name = description.split(" ", 1)[0] if description else ""
    if isinstance(schema_field, Amount):
        name = name.replace("(元)", "") + "（万元）"
    return name


def _view_object(schema: Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for name, schema_field in schema.fields.items():
        key = schema_field.data_key or name
        if key not in data:
            continue
        label = chinese_name(schema_field) or key
        view[label if label not in view else f"{label}（{key}）"] = _view_value(
            schema_field, data[key]
        )
    return view


def _view_value(schema_field: fields.Field[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(schema_field, Choice):
        return schema_field.labels.get(value, value)
    if isinstance(schema_field, Amount):
        return yuan_to_wan(value)
    if isinstance(schema_field, IsoDate):
        return format_cn_date(value)
    if isinstance(schema_field, fields.Boolean):
        return "是" if value else "否"
    if isinstance(schema_field, fields.Nested) and isinstance(value, Mapping):
        nested = schema_field.schema
        return _view_object(nested, value)
    if isinstance(schema_field, fields.List) and isinstance(value, list):
        return [_view_value(schema_field.inner, item) for item in value]
    return value


def _beijing_time(sent_at: Any) -> str:
    if not isinstance(sent_at, str):
        return ""
    try:
        moment = dt.datetime.fromisoformat(sent_at.replace("Z", "+00:00")).astimezone(BEIJING)
    except ValueError:
        return sent_at
    return f"{format_cn_date(moment.date())} {moment:%H:%M}"
