"""The bounded fuzz run: seeded mutations of the real files, each case in a limited child.

Every failure class (an exception that is not a CocoError, a signal, a timeout, running out
of memory) fails the test. The long run is ``scripts/fuzz.py``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import fuzz_mutate
import fuzz_runner

#: Files whose failure classes are reported, not asserted: none (every class fails the test).
PENDING_FILES: tuple[str, ...] = ()
CASES = 1000
SEED = 20261201
#: Widget cases of the bounded run (about 1.5 s each, in batches of fuzz_runner.WIDGET_BATCH).
WIDGET_CASES = 12


def _pending(key: tuple[str, str, str]) -> bool:
    return any(key[2].startswith(f) for f in PENDING_FILES)


def test_the_runner_isolates_crashes_hangs_and_memory():
    cases = [
        {"entry": "selftest", "what": w, "seed": 0}
        for w in ("segfault", "coco", "hang", "memory", "bug", "ok")
    ]
    report = fuzz_runner.run(cases, timeout=3)
    kinds = {f.case["what"]: f.kind for f in report.failures}
    assert kinds == {
        "segfault": "signal SIGSEGV",
        "hang": "Timeout",
        "memory": "MemoryError",
        "bug": "KeyError",
    }, report.summary()
    assert report.allowed == 1 and report.ok == 1 and report.cases == 6


def test_cases_are_reproducible(tmp_path):
    a, desc_a = fuzz_mutate.coco_case(1234, tmp_path / "a")
    b, desc_b = fuzz_mutate.coco_case(1234, tmp_path / "b")
    assert a.read_bytes() == b.read_bytes() and desc_a == desc_b
    assert fuzz_mutate.make_cases(5, 9) == fuzz_mutate.make_cases(5, 9)


def test_bounded_fuzz_run_has_no_failure_classes():
    report = fuzz_runner.run(fuzz_mutate.make_cases(CASES, SEED))
    print(report.summary())
    assert report.cases == CASES
    assert sum(per.get("ok", 0) for per in report.by_entry.values()) > CASES // 5  # not all refused
    classes = report.classes
    pending = {k: v for k, v in classes.items() if _pending(k)}
    mine = {k: v for k, v in classes.items() if not _pending(k)}
    if pending:
        lines = [
            f"[{e}] {kind} at {frame}: {len(v)} case(s), e.g. {v[0].case}: {v[0].message}"
            for (e, kind, frame), v in sorted(pending.items())
        ]
        warnings.warn(
            f"{len(pending)} failure class(es) remain in files being rewritten:\n" + "\n".join(lines),
            UserWarning,
            stacklevel=1,
        )
    assert not mine, report.summary()


def _widgets_or_skip(cases: list[dict]) -> fuzz_runner.Report:
    import pytest

    try:
        return fuzz_runner.run(cases)
    except fuzz_runner.Unavailable as exc:
        pytest.skip(str(exc))


def test_the_widget_runner_catches_slot_and_worker_errors():
    """A raising slot (napari's traceback dialog) and an exception a worker swallowed fail."""
    cases = [
        {"entry": "widgets", "seed": 3, "inject": "slot"},
        {"entry": "widgets", "seed": 3, "inject": "worker"},
        {"entry": "widgets", "seed": 3},
    ]
    report = _widgets_or_skip(cases)
    kinds = {f.case.get("inject"): (f.kind, f.frame) for f in report.failures}
    assert kinds == {
        "slot": ("TypeError", "_injected.py:slot"),
        "worker": ("KeyError", "_injected.py:job"),
    }, report.summary()


def test_bounded_widget_fuzz_run_has_no_failure_classes():
    """Dock widgets in a real viewer: empty viewer, wrong layer types, 1-pixel, 4D/5D, NaN,
    RGB(A), odd dtypes, huge scales; every button. A message, never a traceback."""
    report = _widgets_or_skip(fuzz_mutate.make_cases(WIDGET_CASES, SEED, ("widgets",)))
    print(report.summary())
    assert report.cases == WIDGET_CASES
    assert not report.classes, report.summary()
