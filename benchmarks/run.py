"""Run every benchmark and print its ratios: ``.venv/bin/python benchmarks/run.py [--quick]``.

Each ``benchmarks/bench_*.py`` exposes ``main(quick=False) -> list[dict]`` whose rows carry at
least ``name``, ``ratio`` and ``target`` (the issue's goal for that ratio). Ratios compare our code
with the reference (or naive) way measured in the same run, so noisy machines still compare fairly.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent


def load(path: Path):
    """Import a benchmark module from its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def run(quick: bool = False, only: list[str] | None = None) -> list[dict]:
    """Run the benchmarks (all, or those whose file name contains one of ``only``)."""
    rows = []
    for path in sorted(HERE.glob("bench_*.py")):
        if only and not any(o in path.stem for o in only):
            continue
        print(f"== {path.stem}", flush=True)
        for row in load(path).main(quick=quick):
            rows.append({"benchmark": path.stem, **row})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds not minutes")
    parser.add_argument("only", nargs="*", help="run only benchmarks whose name contains these")
    args = parser.parse_args(argv)
    rows = run(args.quick, args.only)
    print("\nsummary (ratio = ours / reference time unless the row says otherwise)")
    for row in rows:
        target = row.get("target", "")
        print(f"  {row['benchmark']:<24} {row['name']:<58} ratio {row['ratio']:>8.3f}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
