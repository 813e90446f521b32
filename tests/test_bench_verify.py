"""The log verify benchmark still runs: small, on SQLite, its report checked (not timed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_bench import bench

pytestmark = pytest.mark.bench  # make test-faults


def test_the_verify_benchmark_runs(tmp_path: Path) -> None:
    out = bench(
        tmp_path, "verify.py", "--database", "sqlite", "--sizes", "1200", "--fill-jobs", "1"
    )
    rows = re.findall(
        r"^\| 1,2\d\d \| \d+ \| [\d,]+ \| [\d,]+ \| [\d,]+ \| ([12]) \| [\d.]+ \| [\d,]+ \|",
        out,
        re.M,
    )
    assert rows == ["1", "2"], out
    assert re.search(r"last verify: ok: 12\d\d entries, 1 checkpoints, 5\d\d messages; root ", out)
