"""The codecs on their own, and the names adapter packages import from before the split."""

from __future__ import annotations

import pytest

import adapters
import adapters.base
from adapters.codecs import Classification, NativeValueError

# A marker as the schemas see it (tests/schemas/test_schemas_classified_disguised.py): with
# invisible characters inside, in a variant form, or a state-secret level in English.
DISGUISED = [
    "机\u200b密",
    "機密",
    "绝\u2060密",
    "秘\ufe00密",
    "㊙密",
    "内部（机密）",
    "Top Secret",
    "SECRET",
]


@pytest.mark.parametrize("level", ["秘密", "机密", "绝密", *DISGUISED])
def test_a_state_secret_level_is_refused_however_written(level: str) -> None:
    """The 密级 codec refuses before anything is sent, as the hub would refuse after."""
    with pytest.raises(NativeValueError) as caught:
        Classification().parse(level)
    assert caught.value.reason == "涉密信息不得通过交换中心报送"


@pytest.mark.parametrize(("label", "wire"), [("公开", "public"), ("内部", "internal")])
def test_the_carried_levels_read_as_before(label: str, wire: str) -> None:
    assert Classification().parse(f" {label} ") == wire
    assert Classification().format(wire, table=True) == label
    with pytest.raises(NativeValueError, match="取值无效"):
        Classification().parse("普通")


# What adapter packages import (README, "Writing an adapter"), and what the four bodies did.
EXTENSION_NAMES = ["BaseAdapter", "CnDate", "Code", "Field", "RecordSpec", "UsccCode", "Wan"]
BASE_NAMES = [
    *EXTENSION_NAMES,
    "ENTRY_POINT_GROUP",
    "ENVELOPE_KEYS",
    "INTENDED_USE_CODES",
    "Adapter",
    "AttachmentCodec",
    "Bodies",
    "Classification",
    "Count",
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
    "Text",
    "YesNo",
    "adapter_for",
    "envelope_keys",
    "get_path",
    "load_adapters",
    "milestone_codec",
    "native_file",
    "person_codec",
    "put_path",
    "received_record",
    "suffix_of",
]


@pytest.mark.parametrize("name", BASE_NAMES)
def test_adapters_base_still_offers_what_it_did(name: str) -> None:
    assert name in adapters.base.__all__
    assert getattr(adapters.base, name) is not None


@pytest.mark.parametrize("name", EXTENSION_NAMES)
def test_the_package_offers_what_an_adapter_package_needs(name: str) -> None:
    assert getattr(adapters, name) is getattr(adapters.base, name)
