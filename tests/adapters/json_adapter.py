"""A minimal body adapter for the agent's tests: a native file is a JSON list of envelope drafts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.errors import EdgeError


class JsonAdapter:
    """Native = canonical drafts in a JSON file; received messages are kept as they came."""

    def __init__(self, *, partner_id: str, partners: Mapping[str, str]) -> None:
        self.partner_id = partner_id
        self.partners = dict(partners)

    def to_messages(self, native: Path) -> list[dict[str, Any]]:
        try:
            drafts = json.loads(native.read_text(encoding="utf-8"))
        except ValueError as bad:
            raise EdgeError(f"{native.name}: not JSON ({bad})") from None
        if not isinstance(drafts, list):
            raise EdgeError(f"{native.name}: expected a list of envelope drafts")
        return [dict(d) for d in drafts]

    def from_message(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        return {"消息编号": envelope["id"], "类型": envelope["type"], "内容": envelope["payload"]}
