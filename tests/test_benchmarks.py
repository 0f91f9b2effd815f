"""Every benchmark runs (quick sizes) and reports its ratios; speed itself is never asserted here."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parents[1] / "benchmarks").glob("bench_*.py"))


def test_there_is_a_benchmark_per_issue() -> None:
    names = {p.stem for p in BENCHMARKS}
    for topic in ("reader", "writer", "threshold", "watershed", "region_growing", "measure"):
        assert f"bench_{topic}" in names


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_quick_run_reports_ratios(path: Path) -> None:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(quick=True)
    assert rows, "a benchmark must report at least one ratio"
    for row in rows:
        assert row["name"]
        assert math.isfinite(row["ratio"]) and row["ratio"] > 0
