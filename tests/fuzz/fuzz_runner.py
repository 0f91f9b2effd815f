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
#: The child of the ``widgets`` entry (a napari viewer; needs a display).
WIDGET_WORKER = Path(__file__).with_name("fuzz_widgets.py")
#: Widget cases one viewer serves before a fresh child takes over (start-up is ~2 s).
WIDGET_BATCH = 8
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
    #: Exceptions in napari's or Qt's code alone (widgets entry): reported, not failures.
    upstream: list[Failure] = field(default_factory=list)
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
        upstream: dict[tuple[str, str, str], list[Failure]] = {}
        for f in self.upstream:
            upstream.setdefault(f.key, []).append(f)
        if upstream:
            lines.append(f"upstream (napari/Qt code only, not counted): {len(upstream)} classes")
        for (entry, kind, frame), fails in sorted(upstream.items()):
            f = fails[0]
            lines.append(f"  ~ [{entry}] {kind} at {frame}, {len(fails)} case(s); "
                         f"e.g. {json.dumps(f.case)}: {f.message[:150]}")
        return "\n".join(lines)


def _limits() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()


class _Child:
    """One worker process and its stderr log."""

    def __init__(self, widgets: bool = False) -> None:
        self.log = tempfile.TemporaryFile(mode="w+b")
        env = dict(os.environ)
        command = [sys.executable, str(WIDGET_WORKER if widgets else WORKER)]
        if not widgets:
            env.setdefault("QT_QPA_PLATFORM", "offscreen")
        elif not env.get("DISPLAY"):  # a viewer needs a display: lend it one
            command = ["xvfb-run", "-a", "-s", "-screen 0 1600x1200x24", *command]
        env["PYTHONFAULTHANDLER"] = "1"
        self.reason = ""
        self.served = 0
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            preexec_fn=_limits,
            env=env,
        )
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buffer = b""
        hello = self.read_line(120.0)
        self.ready = bool(hello and hello.get("ready"))
        if hello and not self.ready:
            self.reason = str(hello.get("reason", "not ready"))

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


class Unavailable(RuntimeError):
    """An entry point cannot run here (e.g. no display for the widgets); the reason says why."""


def widgets_available() -> str:
    """Why the ``widgets`` entry cannot run here ("" when it can)."""
    import shutil

    if os.environ.get("DISPLAY") or shutil.which("xvfb-run"):
        return ""
    return "the widgets entry needs a display: DISPLAY is unset and xvfb-run is not installed"


def _run_one(child: _Child, k: int, case: dict, timeout: float) -> tuple[dict | None, str]:
    """Send one case; its outcome line (None when the child died or hung) and last stage."""
    stage = "send"
    if child.send(k, case):
        while True:
            msg = child.read_line(timeout + 10.0)
            if msg is None:
                return None, stage
            if "outcome" in msg:
                return msg, stage
            stage = msg.get("stage", stage)
    return None, stage


def _death(child: _Child, case: dict, stage: str) -> Failure:
    try:
        child.proc.wait(timeout=5)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    stderr = child.stop()
    kind = _death_kind(child, stderr, timed_out)
    first = next((ln for ln in stderr.splitlines() if ln.strip()), "")
    return Failure(case["entry"], kind, _crash_frame(stderr), stage, first[:200], _bare(case))


def _start(widgets: bool) -> _Child:
    child = _Child(widgets)
    if not child.ready:
        text = child.stop()[-2000:]
        if child.reason:
            raise Unavailable(f"the widgets entry cannot run: {child.reason}")
        raise RuntimeError(f"the fuzz worker did not start: {text}")
    return child


def run(
    cases: Sequence[dict],
    *,
    timeout: float = CASE_TIMEOUT,
    progress: Callable[[int, Report], None] | None = None,
) -> Report:
    """Run ``cases`` (see :func:`fuzz_mutate.make_cases`) and report what happened.

    ``widgets`` cases go to their own child (a napari viewer), :data:`WIDGET_BATCH` cases per
    child; when such a child dies, every case of its batch runs again alone in a fresh child,
    so that the failure is the case's own and not left behind by an earlier case. Raises
    :class:`Unavailable` when there are widget cases and no display can be had.
    """
    report = Report()
    start = time.monotonic()
    children: dict[bool, _Child | None] = {False: None, True: None}
    batch: list[tuple[int, dict, dict]] = []  # the widget child's cases so far: k, case, outcome

    def record(case: dict, outcome: dict | None, failure: Failure | None) -> None:
        report.cases += 1
        report.count(case["entry"], "died" if outcome is None else outcome["outcome"])
        if failure is not None:
            report.failures.append(failure)
        elif outcome["outcome"] == "ok":
            report.ok += 1
        elif outcome["outcome"] == "allowed":
            report.allowed += 1
        elif outcome["outcome"] == "upstream":
            report.upstream.append(
                Failure(case["entry"], outcome["type"], outcome["frame"], outcome["stage"],
                        outcome["message"], _bare(case))
            )
        else:
            report.failures.append(
                Failure(case["entry"], outcome["type"], outcome["frame"], outcome["stage"],
                        outcome["message"], _bare(case))
            )

    def alone(k: int, case: dict) -> None:
        child = _start(True)
        outcome, stage = _run_one(child, k, case, timeout)
        if outcome is None:
            record(case, None, _death(child, case, stage))
        else:
            child.stop()
            record(case, outcome, None)

    if any(c.get("entry") == "widgets" for c in cases) and (why := widgets_available()):
        raise Unavailable(why)
    for k, case in enumerate(cases):
        case = {**case, "timeout": timeout}
        widgets = case["entry"] == "widgets"
        child = children[widgets]
        if child is None:
            child = children[widgets] = _start(widgets)
        outcome, stage = _run_one(child, k, case, timeout)
        if not widgets:
            record(case, outcome, None if outcome is not None else _death(child, case, stage))
            if outcome is None:
                children[False] = None
        elif outcome is not None:
            batch.append((k, case, outcome))
            child.served += 1
            if child.served >= WIDGET_BATCH or outcome.get("fresh"):
                child.stop()
                children[True] = None
                for _, c, o in batch:
                    record(c, o, None)
                batch = []
        else:  # a widget child died: the whole batch again, one case per child
            death = _death(child, case, stage)
            children[True] = None
            earlier, batch = batch, []
            for j, c, _ in earlier:
                alone(j, c)
            before = len(report.failures)
            alone(k, case)
            if len(report.failures) == before:  # dies only after the batch's earlier cases
                report.failures.append(Failure(
                    death.entry, death.kind, death.frame, death.stage,
                    f"(only after the earlier cases of its batch: "
                    f"{[c['seed'] for _, c, _ in earlier]}) {death.message}", death.case))
        if progress is not None:
            progress(k, report)
    for _, c, o in batch:
        record(c, o, None)
    for child in children.values():
        if child is not None:
            child.stop()
    report.seconds = time.monotonic() - start
    return report


def _bare(case: dict) -> dict:
    return {k: v for k, v in case.items() if k != "timeout"}
