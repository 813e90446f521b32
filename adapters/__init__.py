"""The partner edge: the client SDK, body adapters and the partner agent."""

from adapters.audit import AuditAdapter
from adapters.authority import AuthorityAdapter
from adapters.base import Adapter, BaseAdapter
from adapters.client import Checkpoint, ExchangeClient, InboxItem, InboxPage, SendResult
from adapters.codecs import (
    CnDate,
    Code,
    UsccCode,
    Wan,
    format_cn_date,
    parse_cn_date,
    wan_to_yuan,
    yuan_to_wan,
)
from adapters.discipline import DisciplineAdapter
from adapters.discovery import ENTRY_POINT_GROUP, adapter_for, load_adapters
from adapters.errors import EdgeError, HubError, NativeError, NativeProblem, VerificationFailed
from adapters.files import NativeFile
from adapters.inspection import InspectionAdapter
from adapters.personnel import Cadre, PersonnelAdapter
from adapters.specs import Field, NativeRecord, RecordSpec

__all__ = [
    "ENTRY_POINT_GROUP",
    "Adapter",
    "AuditAdapter",
    "AuthorityAdapter",
    "BaseAdapter",
    "Cadre",
    "Checkpoint",
    "CnDate",
    "Code",
    "DisciplineAdapter",
    "EdgeError",
    "ExchangeClient",
    "Field",
    "HubError",
    "InboxItem",
    "InboxPage",
    "InspectionAdapter",
    "NativeError",
    "NativeFile",
    "NativeProblem",
    "NativeRecord",
    "PersonnelAdapter",
    "RecordSpec",
    "SendResult",
    "UsccCode",
    "VerificationFailed",
    "Wan",
    "adapter_for",
    "format_cn_date",
    "load_adapters",
    "parse_cn_date",
    "wan_to_yuan",
    "yuan_to_wan",
]
