"""Run fuzz cases in child processes with a memory and a time limit; group the failures.

Cases go in batches to a long-lived child (:mod:`fuzz_worker`), one JSON line each, so the
import cost is paid once per child. The child announces every stage of a case before it
starts, so when it dies (a signal, the memory limit, the time limit) the runner knows exactly
which case killed it: that case is a failure, and a fresh child takes the rest.

A failure class is ``(entry point, exception type or signal, innermost project frame)``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

WORKER = Path(__file__).with_name("fuzz_worker.py")
#: Address-space limit of a child (bytes).
MEMORY_LIMIT = 4 * 2**30
#: Seconds a case may take before its child is stopped.
CASE_TIMEOUT = 20.0
_FRAME = re.compile(r'File "([^"]+)", line \d+ in (\S+)')


@dataclass
class Failure:
    """One failing case."""

    entry: str
    kind: str
    frame: str
    stage: str
    message: str
    case: dict

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.entry, self.kind, self.frame)


@dataclass
class Report:
    """What a run found."""

    cases: int = 0
    ok: int = 0
    allowed: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    by_entry: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, entry: str, outcome: str) -> None:
        """Count one outcome of one entry point."""
        per = self.by_entry.setdefault(entry, {})
        per[outcome] = per.get(outcome, 0) + 1

    @property
    def classes(self) -> dict[tuple[str, str, str], list[Failure]]:
        """Failures grouped by class, the smallest-descriptor case first."""
        out: dict[tuple[str, str, str], list[Failure]] = {}
        for f in self.failures:
            out.setdefault(f.key, []).append(f)
        return out

    def summary(self) -> str:
        """A readable report: figures, then one block per failure class with a case."""
        lines = [
            f"{self.cases} cases in {self.seconds:.0f} s: {self.ok} ok, {self.allowed} CocoError "
            f"(allowed), {len(self.failures)} failures in {len(self.classes)} failure classes"
        ]
        for entry, per in sorted(self.by_entry.items()):
            lines.append(f"  {entry}: " + ", ".join(f"{k} {v}" for k, v in sorted(per.items())))
        for (entry, kind, frame), fails in sorted(self.classes.items()):
            f = fails[0]
            lines.append(
                f"- [{entry}] {kind} at {frame} (stage {f.stage}), {len(fails)} case(s); "
                f"e.g. {json.dumps(f.case)}: {f.message}"
            )
        return "\n".join(lines)


def _limits() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()


class _Child:
    """One worker process and its stderr log."""

    def __init__(self) -> None:
        self.log = tempfile.TemporaryFile(mode="w+b")
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env["PYTHONFAULTHANDLER"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            preexec_fn=_limits,
            env=env,
        )
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buffer = b""
        self.ready = self.read_line(120.0) is not None

    def read_line(self, timeout: float) -> dict | None:
        """The next JSON line from the child, or None when it died or went quiet."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def send(self, k: int, case: dict) -> bool:
        try:
            self.proc.stdin.write((json.dumps([k, case]) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def stop(self) -> str:
        """End the child (its own process group only); its stderr text."""
        try:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.seek(0)
        text = self.log.read().decode("utf-8", "replace")
        self.log.close()
        self.sel.close()
        return text


def _crash_frame(stderr: str) -> str:
    """``file:function`` of the innermost project frame in a faulthandler dump."""
    frames = _FRAME.findall(stderr[-20000:])
    # faulthandler prints the most recent call first.
    for filename, func in frames:
        if "napari_coco_masks" in filename:
            return f"{filename.split('/src/', 1)[-1]}:{func}"
    if frames:
        filename, func = frames[0]
        return f"{filename.rsplit('/', 2)[-1]}:{func}"
    return "?"


def _death_kind(child: _Child, stderr: str, timed_out: bool) -> str:
    code = child.proc.returncode
    if timed_out or "Timeout (" in stderr:
        return "Timeout"
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    if "MemoryError" in stderr:
        return "MemoryError"
    return f"exit {code}"


def run(
    cases: Sequence[dict],
    *,
    timeout: float = CASE_TIMEOUT,
    progress: Callable[[int, Report], None] | None = None,
) -> Report:
    """Run ``cases`` (see :func:`fuzz_mutate.make_cases`) and report what happened."""
    report = Report()
    start = time.monotonic()
    child: _Child | None = None
    for k, case in enumerate(cases):
        case = {**case, "timeout": timeout}
        if child is None:
            child = _Child()
            if not child.ready:
                raise RuntimeError(f"the fuzz worker did not start: {child.stop()[-2000:]}")
        stage = "send"
        outcome = None
        if child.send(k, case):
            while True:
                msg = child.read_line(timeout + 10.0)
                if msg is None:
                    break
                if "outcome" in msg:
                    outcome = msg
                    break
                stage = msg.get("stage", stage)
        report.cases += 1
        report.count(case["entry"], "died" if outcome is None else outcome["outcome"])
        if outcome is None:  # the child died or hung on this case
            try:
                child.proc.wait(timeout=5)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            stderr = child.stop()
            kind = _death_kind(child, stderr, timed_out)
            child = None
            first = next((ln for ln in stderr.splitlines() if ln.strip()), "")
            report.failures.append(
                Failure(case["entry"], kind, _crash_frame(stderr), stage, first[:200], _bare(case))
            )
        elif outcome["outcome"] == "ok":
            report.ok += 1
        elif outcome["outcome"] == "allowed":
            report.allowed += 1
        else:
            report.failures.append(
                Failure(case["entry"], outcome["type"], outcome["frame"], outcome["stage"],
                        outcome["message"], _bare(case))
            )
        if progress is not None:
            progress(k, report)
    if child is not None:
        child.stop()
    report.seconds = time.monotonic() - start
    return report


def _bare(case: dict) -> dict:
    return {k: v for k, v in case.items() if k != "timeout"}
