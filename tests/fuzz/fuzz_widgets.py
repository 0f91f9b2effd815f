"""The child process of the ``widgets`` fuzz entry: dock widgets in a real napari viewer.

Speaks the protocol of :mod:`fuzz_worker` (a ``ready`` line, then per case ``stage`` lines
and one ``outcome`` line) but needs a display: run by :mod:`fuzz_runner` with the runner's
``DISPLAY`` (under ``xvfb-run``), never by hand. One viewer serves a batch of cases; before
each case its layers and docks are removed.

A case docks one widget the way napari does (``add_plugin_dock_widget``), adds the layers of
:func:`fuzz_mutate.widget_case`, then drives the widget's visible controls: choosers, spin
boxes, sliders, check boxes and buttons (Save as CSV writes to a temporary folder), adds
seeds, removes layers, and waits for the widget's background workers after each action.

Allowed: success, a message in the status line, a napari notification. An exception whose
traceback holds no frame of ours (napari's own bugs, e.g. its dims sliders overflowing on a
scale of 1e-9) is reported as ``upstream``: listed with its class, not counted a failure. A failure is any
exception that reaches ``sys.excepthook`` (napari's error dialog), an error notification
carrying an exception, an exception in a worker thread (reported or not), or an exception
escaping a control's handler; except a ``CocoError`` or a ``ValueError`` raised by our own
code with a message (that is how the widgets refuse an input).
"""

from __future__ import annotations

import faulthandler
import io
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import fuzz_mutate
from fuzz_worker import PROJECT, innermost

_OUT = sys.stdout
PLUGIN = "napari-coco-masks"
#: Seconds an action may keep a widget busy before the case fails (the widget hangs).
BUSY_LIMIT = 8.0
#: Shortest wait after an action: the debounced previews start 150 ms / 250 ms later.
SETTLE = {"Threshold and colour mask": 0.2, "Watershed": 0.3}


def _say(**fields: Any) -> None:
    _OUT.write(json.dumps(fields, default=str) + "\n")
    _OUT.flush()


class Recorder:
    """Exceptions seen anywhere (hooks, notifications, worker threads) and messages shown."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.errors: list[tuple[str, BaseException]] = []
        self.messages: list[str] = []
        self.stage = ""

    def error(self, where: str, exc: BaseException) -> None:
        with self.lock:
            if not any(e is exc for _, e in self.errors):
                self.errors.append((f"{self.stage} ({where})", exc))

    def reset(self) -> None:
        with self.lock:
            self.errors, self.messages = [], []


REC = Recorder()


def _unwrap(exc: BaseException) -> BaseException:
    """The exception inside psygnal's EmitLoopError (a slot raised)."""
    seen = 0
    while type(exc).__name__ == "EmitLoopError" and exc.__cause__ is not None and seen < 10:
        exc, seen = exc.__cause__, seen + 1
    return exc


def allowed(exc: BaseException) -> bool:
    """A CocoError, or a ValueError with a message raised in our own code."""
    from napari_coco_masks.coco.errors import CocoError

    if isinstance(exc, CocoError):
        return True
    if isinstance(exc, ValueError) and str(exc).strip():
        frames = traceback.extract_tb(exc.__traceback__)
        return bool(frames) and PROJECT in frames[-1].filename.replace("\\", "/")
    return False


#: Raise sites of napari's own bugs, whoever called: its dims sliders take int32 step counts
#: and an int, and a layer of scale 1e-9 beside one of scale 1 gives them 1e10 steps or a
#: numpy float (napari 0.6-0.9, ``_qt/widgets/qt_dims*.py``). Adding any layer then raises,
#: also when our "New seeds layer" adds it.
UPSTREAM_RAISES = ("napari/_qt/widgets/qt_dims.py", "napari/_qt/widgets/qt_dims_slider.py")


def _ours(exc: BaseException) -> bool:
    """Whether the bug is ours: our code is in the traceback of ``exc``, and the exception was
    not raised at a known napari bug (:data:`UPSTREAM_RAISES`)."""
    frames = [f.filename.replace("\\", "/") for f in traceback.extract_tb(exc.__traceback__)]
    if frames and frames[-1].endswith(UPSTREAM_RAISES):
        return False
    return any(PROJECT in f for f in frames)


def install_hooks() -> None:
    """Catch every exception napari would show in a dialog or a worker would swallow."""
    from napari.utils.notifications import ErrorNotification, notification_manager
    from superqt.utils import _qthreading

    notification_manager.catch_error = True
    notification_manager.install_hooks()
    napari_hook = sys.excepthook

    def excepthook(exctype, value, tb):
        REC.error("excepthook", value)
        napari_hook(exctype, value, tb)

    sys.excepthook = excepthook
    napari_thread_hook = threading.excepthook

    def thread_hook(args):
        REC.error("thread", args.exc_value)
        napari_thread_hook(args)

    threading.excepthook = thread_hook

    def on_notification(event: Any) -> None:
        n = getattr(event, "notification", event)
        if isinstance(n, ErrorNotification) and getattr(n, "exception", None) is not None:
            REC.error("notification", n.exception)
        with REC.lock:
            REC.messages.append(f"{getattr(n, 'severity', '?')}: {getattr(n, 'message', n)}")

    notification_manager.notification_ready.connect(on_notification)

    for cls in (_qthreading.FunctionWorker, _qthreading.GeneratorWorker):
        original = cls.work

        def work(self, _original=original):
            try:
                result = _original(self)
            except Exception as exc:
                REC.error("worker", exc)
                raise
            if isinstance(result, Exception):
                REC.error("worker", result)
            return result

        cls.work = work


# -- driving a widget -------------------------------------------------------------------------


def _controls(root: Any) -> dict[str, list]:
    """The controls a user can reach in ``root`` (a QWidget), by kind, in a stable order."""
    from qtpy.QtWidgets import QAbstractSlider, QAbstractSpinBox, QCheckBox, QComboBox, QPushButton

    def reach(cls: type) -> list:
        return [w for w in root.findChildren(cls) if w.isVisibleTo(root) and w.isEnabled()]

    return {
        "combo": reach(QComboBox),
        "spin": reach(QAbstractSpinBox),
        "slider": reach(QAbstractSlider),
        "check": reach(QCheckBox),
        "button": reach(QPushButton),
    }


def _busy(widget: Any) -> bool:
    from qtpy.QtCore import QThreadPool

    busy = getattr(widget, "busy", None)
    if busy is None and hasattr(widget, "measure_button"):  # disabled while measuring
        busy = not widget.measure_button.isEnabled()
    return bool(busy) or QThreadPool.globalInstance().activeThreadCount() > 0


def settle(app: Any, widget: Any, minimum: float) -> None:
    """Process Qt events until ``widget`` is idle (at least ``minimum`` s, at most BUSY_LIMIT)."""
    start = time.monotonic()
    while True:
        app.processEvents()
        now = time.monotonic() - start
        if now >= minimum and not _busy(widget):
            app.processEvents()
            if not _busy(widget):
                return
        if now > BUSY_LIMIT:
            raise TimeoutError(f"the widget was still busy {BUSY_LIMIT:.0f} s after an action")
        time.sleep(0.005)


def _add_layer(viewer: Any, kind: str, data: Any, kwargs: dict) -> Any:
    """Add one layer; None when napari itself refuses the data (not the widget's business)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(viewer, f"add_{kind}")(data, **kwargs)
    except Exception:
        return None


def _seed_layer(viewer: Any, widget: Any) -> Any:
    from napari.layers import Points

    chosen = getattr(getattr(widget, "_seeds", None), "value", None)
    if isinstance(chosen, Points):
        return chosen
    points = [layer for layer in viewer.layers if isinstance(layer, Points)]
    return points[-1] if points else None


def act(viewer: Any, widget: Any, name: str, action: list, tmp: Path) -> None:
    """Take one action on the docked ``widget`` (whose display name is ``name``)."""
    from qtpy.QtWidgets import QAbstractSlider, QCheckBox

    root = widget if not hasattr(widget, "native") else widget.native
    controls = _controls(root)
    what = action[0]
    if what == "choose":
        combos = controls["combo"]
        if combos:
            combo = combos[action[1] % len(combos)]
            if combo.count():
                combo.setCurrentIndex(action[2] % combo.count())
    elif what == "option":
        pool = controls["spin"] + controls["slider"] + controls["check"]
        if pool:
            control = pool[action[1] % len(pool)]
            value = action[2]
            if isinstance(control, QCheckBox):
                control.setChecked(not control.isChecked())
            elif isinstance(control, QAbstractSlider):
                lo, hi = control.minimum(), control.maximum()
                frac = min(value, 1.0) if value <= 1 else 0.5
                target = int(lo + frac * (hi - lo))
                if isinstance(control.value(), (tuple, list)):  # superqt's range sliders
                    control.setValue((lo, target))
                else:
                    control.setValue(target)
            elif hasattr(control, "setValue"):
                control.setValue(type(control.value())(value))
    elif what == "seeds":
        if name == "Seeded region growing" and hasattr(widget, "_new_seeds"):
            widget._new_seeds.native.click()
        points = _seed_layer(viewer, widget)
        if points is None:
            points = viewer.add_points(ndim=max(2, viewer.dims.ndim), name="seeds")
        rng = np.random.default_rng(action[2])
        lo, hi = np.asarray(viewer.layers.extent.world)
        ndim = points.ndim
        lo, hi = lo[-ndim:], hi[-ndim:]
        if len(lo) < ndim:
            lo, hi = np.zeros(ndim), np.full(ndim, 10.0)
        for _ in range(action[1]):
            points.add(lo + rng.random(ndim) * (hi - lo))
    elif what == "remove":
        if len(viewer.layers):
            viewer.layers.pop(action[1] % len(viewer.layers))
    elif what == "press":
        buttons = controls["button"]
        if buttons:
            button = buttons[action[1] % len(buttons)]
            if button.text().startswith("Pick colour") and hasattr(widget, "pick_colour"):
                button.click()
                lo, hi = np.asarray(viewer.layers.extent.world)
                widget.pick_colour((lo + hi) / 2)
            else:
                button.click()


_INJECTED = compile(
    "def slot(*_):\n    raise TypeError('injected into a slot')\n"
    "def job():\n    raise KeyError('injected into a worker')\n",
    f"/{PROJECT}/_injected.py", "exec",
)


def inject(what: str, widget: Any) -> None:
    """The runner's own test: a bug in a slot or a swallowed error in a worker thread."""
    from napari.qt.threading import create_worker

    space: dict[str, Any] = {}
    exec(_INJECTED, space)  # frames "in our code", as a widget bug would be
    if what == "slot":
        from qtpy.QtWidgets import QPushButton

        root = widget.native if hasattr(widget, "native") else widget
        for button in root.findChildren(QPushButton):
            button.clicked.connect(space["slot"])
    elif what == "worker":
        worker = create_worker(space["job"], _ignore_errors=True)
        worker.errored.connect(lambda _e: None)
        worker.start()


def run_case(app: Any, viewer: Any, k: int, case: dict, tmp: Path) -> dict:
    current = {"stage": "build"}
    name = "?"

    def stage(text: str) -> None:
        current["stage"] = REC.stage = text
        _say(i=k, stage=text)

    REC.reset()
    faulthandler.dump_traceback_later(case.get("timeout", 20), exit=True)
    try:
        name, layers, actions, _ = fuzz_mutate.widget_case(case["seed"])
        stage("reset")
        viewer.window.remove_dock_widget("all")
        viewer.layers.clear()
        settle(app, None, 0.0)
        REC.reset()
        stage(f"dock {name}")
        _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
        settle(app, widget, 0.0)
        if case.get("inject"):
            inject(case["inject"], widget)
        for n, (kind, data, kwargs) in enumerate(layers):
            stage(f"add layer {n} ({kind})")
            _add_layer(viewer, kind, data, kwargs)
            settle(app, widget, SETTLE.get(name, 0.0))
        for n, action in enumerate(actions):
            stage(f"action {n} {action}")
            try:
                act(viewer, widget, name, list(action), tmp)
            except Exception as exc:
                REC.error("action", _unwrap(exc))
            settle(app, widget, SETTLE.get(name, 0.02))
        stage("close")
        viewer.window.remove_dock_widget("all")
        settle(app, None, 0.0)
    except TimeoutError as exc:
        return {"i": k, "outcome": "failure", "type": "StillBusy", "frame": f"widget {name}",
                "stage": current["stage"], "message": str(exc)}
    except Exception as exc:
        REC.error("driver", _unwrap(exc))
    finally:
        faulthandler.cancel_dump_traceback_later()
    bad = [(where, _unwrap(e)) for where, e in REC.errors]
    bad = [(where, e) for where, e in bad if not allowed(e)]
    ours = [(where, e) for where, e in bad if _ours(e)]
    if bad and not ours:  # napari's own bug, our code is nowhere in the traceback
        where, exc = bad[0]
        frames = traceback.extract_tb(exc.__traceback__)
        # napari's state may be broken now: the runner starts a fresh viewer
        return {"i": k, "outcome": "upstream", "fresh": True, "type": type(exc).__name__,
                "frame": innermost(frames), "stage": where,
                "message": str(exc)[:300]}
    bad = ours
    if bad:
        where, exc = bad[0]
        frames = traceback.extract_tb(exc.__traceback__)
        if os.environ.get("FUZZ_TRACE"):
            traceback.print_exception(exc, file=sys.stderr)
        return {"i": k, "outcome": "failure", "type": type(exc).__name__,
                "frame": innermost(frames), "stage": where,
                "message": str(exc)[:300]}
    if os.environ.get("FUZZ_TRACE"):
        print(name, REC.messages, file=sys.stderr)
    return {"i": k, "outcome": "allowed" if REC.errors or REC.messages else "ok"}


def main() -> None:
    faulthandler.enable(file=sys.stderr, all_threads=False)
    if not os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        _say(ready=False, reason="no DISPLAY")
        return
    import napari
    from qtpy.QtWidgets import QApplication, QFileDialog

    import napari_coco_masks._widgets.measure  # noqa: F401

    tmp_root = Path(tempfile.mkdtemp(prefix="fuzz_widgets_"))
    # File dialogs are modal: a temporary file or folder instead (Save as CSV, Save / Load
    # recipe, exports), named after the dialog's default so a saved recipe is what Load reads.
    def _named(default: object, fallback: str) -> str:
        return str(tmp_root / (Path(str(default or "")).name or fallback))

    QFileDialog.getSaveFileName = staticmethod(  # type: ignore[method-assign]
        lambda parent=None, caption="", directory="", *a, **kw: (
            _named(directory, "measurements.csv"), "")
    )
    QFileDialog.getOpenFileName = staticmethod(  # type: ignore[method-assign]
        lambda parent=None, caption="", directory="", *a, **kw: (
            _named(directory, "recipe.yaml"), "")
    )
    QFileDialog.getExistingDirectory = staticmethod(  # type: ignore[method-assign]
        lambda *a, **kw: str(tmp_root)
    )
    viewer = napari.Viewer(show=False)
    app = QApplication.instance()
    install_hooks()
    _say(ready=True)
    sys.stdout = io.StringIO()
    for line in sys.stdin:
        k, case = json.loads(line)
        _say(**run_case(app, viewer, k, case, tmp_root))
        sys.stdout = io.StringIO()
    os._exit(0)  # tearing down Qt is not what is being tested


if __name__ == "__main__":
    main()
