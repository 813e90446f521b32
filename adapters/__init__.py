"""The partner edge: the client SDK, body adapters and the partner agent."""

from adapters.audit import AuditAdapter
from adapters.base import (
    ENTRY_POINT_GROUP,
    Adapter,
    BaseAdapter,
    NativeError,
    NativeFile,
    NativeProblem,
    NativeRecord,
    adapter_for,
    format_cn_date,
    load_adapters,
    parse_cn_date,
    wan_to_yuan,
    yuan_to_wan,
)
from adapters.client import Checkpoint, ExchangeClient, InboxItem, InboxPage, SendResult
from adapters.discipline import DisciplineAdapter
from adapters.errors import EdgeError, HubError, VerificationFailed
from adapters.inspection import InspectionAdapter
from adapters.personnel import Cadre, PersonnelAdapter

__all__ = [
    "ENTRY_POINT_GROUP",
    "Adapter",
    "AuditAdapter",
    "BaseAdapter",
    "Cadre",
    "Checkpoint",
    "DisciplineAdapter",
    "EdgeError",
    "ExchangeClient",
    "HubError",
    "InboxItem",
    "InboxPage",
    "InspectionAdapter",
    "NativeError",
    "NativeFile",
    "NativeProblem",
    "NativeRecord",
    "PersonnelAdapter",
    "SendResult",
    "VerificationFailed",
    "adapter_for",
    "format_cn_date",
    "load_adapters",
    "parse_cn_date",
    "wan_to_yuan",
    "yuan_to_wan",
]
