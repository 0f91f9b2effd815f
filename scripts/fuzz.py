"""The long fuzz run: ``.venv/bin/python scripts/fuzz.py --cases 20000 --seed N``.

Seeded mutations of the real COCO files in tests/data (wrong types, huge sizes, NaN/inf,
broken RLE, deep nesting, bad bytes, odd image files, escaping paths) and random writer
inputs, each case in a child process limited to 4 GiB and a time limit (see
tests/fuzz/fuzz_runner.py). Prints the cases run and the failure classes found, each with
one case descriptor that reproduces it (``--replay '<descriptor>'`` runs just that case).
Exit code 1 when any failure class was found.

``--entry widgets`` (or ``--entries`` naming it) drives the dock widgets in a real napari viewer
(tests/fuzz/fuzz_widgets.py): it needs a display, and uses ``xvfb-run`` when DISPLAY is unset;
without either it stops with exit code 3 and says why. Exceptions in napari's own code alone
are listed as "upstream", not counted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

import fuzz_mutate
import fuzz_runner


def main(argv: list[str] | None = None) -> int:
    """Run the fuzz cases asked for and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000, help="number of cases")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case list")
    parser.add_argument(
        "--entries", default=",".join(fuzz_mutate.ENTRIES),
        help=f"comma-separated entry points (default: all of {', '.join(fuzz_mutate.ENTRIES)}; "
        f"also {', '.join(fuzz_mutate.GUI_ENTRIES)})",
    )
    parser.add_argument("--entry", help="one entry point (same as --entries NAME)")
    parser.add_argument("--timeout", type=float, default=fuzz_runner.CASE_TIMEOUT, help="seconds per case")
    parser.add_argument("--replay", help="run one case descriptor (JSON) printed by a report")
    args = parser.parse_args(argv)
    if args.replay:
        cases = [json.loads(args.replay)]
    else:
        entries = tuple(e for e in (args.entry or args.entries).split(",") if e)
        unknown = set(entries) - set(fuzz_mutate.ENTRIES) - set(fuzz_mutate.GUI_ENTRIES)
        if unknown:
            parser.error(f"unknown entry point(s): {', '.join(sorted(unknown))}")
        cases = fuzz_mutate.make_cases(args.cases, args.seed, entries)

    seen: set = set()

    def progress(k: int, report: fuzz_runner.Report) -> None:
        for key, fails in report.classes.items():
            if key not in seen:  # a new class: say so at once (a long run takes a while)
                seen.add(key)
                print(f"new failure class {key}: e.g. {json.dumps(fails[0].case)}", file=sys.stderr)
        if (k + 1) % (100 if "widgets" in args.entries + (args.entry or "") else 1000) == 0:
            print(f"{k + 1} cases, {len(report.classes)} failure classes so far", file=sys.stderr)

    try:
        report = fuzz_runner.run(cases, timeout=args.timeout, progress=progress)
    except fuzz_runner.Unavailable as exc:
        print(f"not run: {exc}", file=sys.stderr)
        return 3
    print(report.summary())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
