"""The toolkit every dock widget is built from.

* :class:`Runner`: one background runner per widget. It follows the dock's life (a closed dock
  stops listening to the viewer and never writes a layer), debounces live previews, runs one
  preview at a time (a newer request waits, stale results are dropped by a generation
  counter), runs jobs with a throttled progress bar (:mod:`._progress`) and puts bad-input
  messages (a ``ValueError`` raised in the worker) in the widget's status line.
* Layer helpers (:mod:`._layer_tools`, re-exported here): the full-resolution level of a
  layer, unit texts, points in an image's pixel frame, output geometry and output layers.
* Qt helpers (:mod:`._qt_tools`, re-exported here): histogram pictures, wrapping status
  lines, scrolling docks, combo boxes that keep their layer over renames.

Nothing here knows a particular widget; the widgets hold only their controls and how they
turn them into a job.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from napari.qt.threading import create_worker
from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QWidget
from superqt.utils import qdebounced

from napari_coco_masks._widgets._layer_tools import (
    OutputLayer,
    axis_unit,
    displayed_index,
    is_time_unit,
    layer_choices,
    layer_geometry,
    layer_spacing,
    layer_units,
    level0,
    points_to_image,
    same_layer,
    time_axes,
    unit_text,
    upsert_labels,
)
from napari_coco_masks._widgets._progress import drain, start_job
from napari_coco_masks._widgets._qt_tools import (
    KeepsLayerChoices,
    ScrollingNative,
    bin_range,
    fill_table,
    histogram_pixmap,
    keeping_choices,
    new_table,
    sample,
    scroll_area,
    wrap_status,
)

__all__ = [
    "DockWatcher",
    "one_step",
    "Failure",
    "KeepsLayerChoices",
    "OutputLayer",
    "Runner",
    "ScrollingNative",
    "Task",
    "axis_unit",
    "bin_range",
    "catching",
    "displayed_index",
    "fill_table",
    "histogram_pixmap",
    "is_time_unit",
    "keeping_choices",
    "layer_choices",
    "layer_geometry",
    "layer_spacing",
    "layer_units",
    "level0",
    "new_table",
    "points_to_image",
    "same_layer",
    "sample",
    "scroll_area",
    "time_axes",
    "unit_text",
    "upsert_labels",
    "wrap_status",
]

Report = Callable[[str, bool], None]


# ------------------------------------------------------------------------------ the runner


@dataclass(frozen=True)
class Failure:
    """A bad-input message raised inside a worker, returned instead of a traceback."""

    message: str


def one_step(function: Callable[[], Any]) -> Generator[Any, None, Any]:
    """A job of a single step for the :class:`Runner`: ``function()`` is its result."""
    yield 0
    return function()


def catching(steps: Generator[Any, None, Any]) -> Generator[Any, None, Any]:
    """Pass ``steps`` through; a ``ValueError`` it raises is returned as a :class:`Failure`.

    The pure functions validate eagerly, but some checks need the data (NaN values, negative
    labels) and run in the worker: the user gets their message, not a traceback.
    """
    try:
        return (yield from steps)
    except ValueError as error:
        return Failure(str(error))


@dataclass(frozen=True)
class Task:
    """Work for a :class:`Runner`, built on the Qt thread (the worker never touches layers).

    Attributes
    ----------
    steps : generator
        Yields once per step (progress), returns the result.
    on_result : callable
        Called on the Qt thread with the result, unless it is stale or a :class:`Failure`.
    total : int, optional
        Steps of a progress bar (0: indeterminate); None: no progress bar.
    desc : str
        Text of the progress bar and of unexpected errors ("<desc> failed: ...").
    on_batch : callable, optional
        Called on the Qt thread with each batch of yielded items (needs ``total``).
    on_done : callable, optional
        Called when the worker ends, whatever happened (re-enable a button).
    fail_prefix : str
        Put before a :class:`Failure`'s message in the status line.
    """

    steps: Generator[Any, None, Any]
    on_result: Callable[[Any], None]
    total: int | None = None
    desc: str = ""
    on_batch: Callable[[list[Any]], None] | None = None
    on_done: Callable[[], None] | None = None
    fail_prefix: str = ""


class Runner:
    """Run one widget's previews and jobs in the background while its dock is open.

    Parameters
    ----------
    native : QWidget
        The Qt widget napari docks: its parent changes tell when the dock closes or opens.
    report : callable
        ``report(message, notify)`` shows a message in the widget's status line (and as a
        notification when ``notify``: jobs the user started, not live previews).
    preview : callable, optional
        Builds the preview :class:`Task` from the controls, or returns None (after reporting
        why) when there is nothing to preview.
    debounce_ms : int
        Delay of :meth:`request` (a burst of changes gives one preview).
    on_attach, on_detach : callable, optional
        Called when the dock is re-opened (catch up with the viewer) / closed.
    """

    def __init__(
        self,
        native: QWidget,
        *,
        report: Report,
        preview: Callable[[], Task | None] | None = None,
        debounce_ms: int = 150,
        on_attach: Callable[[], None] | None = None,
        on_detach: Callable[[], None] | None = None,
    ) -> None:
        #: Bumped by every new job and by :meth:`invalidate`: older results are stale.
        self.generation = 0
        self.attached = False
        self.preview_worker: Any = None
        self.run_worker: Any = None
        #: A preview waits for the running one to finish.
        self.pending = False
        #: A preview waits for its debounce.
        self.requested = False
        self._report, self._preview = report, preview
        self._on_attach, self._on_detach = on_attach, on_detach
        self._connections: list[tuple[Any, Callable[..., Any]]] = []
        self._debounced = qdebounced(self._fire, timeout=debounce_ms)
        self._watcher = DockWatcher(native, self.detach, self.attach)

    # -------------------------------------------------------------------------- dock life
    def follow(self, emitter: Any, callback: Callable[..., Any]) -> None:
        """Connect ``callback`` to a viewer event while the dock is open."""
        self._connections.append((emitter, callback))
        if self.attached:
            emitter.connect(callback)

    def start(self) -> None:
        """Start listening (at construction; :meth:`attach` also catches up)."""
        if not self.attached:
            for emitter, callback in self._connections:
                emitter.connect(callback)
            self.attached = True

    def attach(self) -> None:
        """The dock was (re-)opened: listen to the viewer again and catch up."""
        if self.attached:
            return
        self.start()
        if self._on_attach is not None:
            self._on_attach()

    def detach(self) -> None:
        """The dock was closed or deleted: stop listening and drop every result in flight.

        napari's close button keeps a plugin widget alive (``setParent(None)``): a closed
        widget that still listened would preview into layers nobody sees.
        """
        if not self.attached:
            return
        self.attached = False
        self.cancel()
        for emitter, callback in self._connections:
            emitter.disconnect(callback)
        if self._on_detach is not None:
            self._on_detach()

    # ---------------------------------------------------------------------------- previews
    def invalidate(self) -> None:
        """The controls changed: results in flight are stale."""
        self.generation += 1

    def cancel(self) -> None:
        """Drop results in flight and previews waiting to start."""
        self.invalidate()
        self._debounced.cancel()
        self.requested = self.pending = False

    def request(self) -> None:
        """Preview after the debounce (nothing while the dock is closed)."""
        if self.attached and self._preview is not None:
            self.requested = True
            self._debounced()

    def _fire(self) -> None:
        self.requested = False
        if self.attached:
            self.preview_now()

    def preview_now(self) -> None:
        """Start a preview now, or once the running one has finished (one at a time)."""
        if not self.attached or self._preview is None:
            return
        if self.preview_worker is not None:
            self.pending = True
            return
        self.pending = False
        task = self._preview()
        if task is not None:
            self.preview_worker = self._start(task, preview=True, drop_stale=True)

    def _preview_finished(self) -> None:
        self.preview_worker = None
        if self.pending:
            self.preview_now()

    # -------------------------------------------------------------------------------- jobs
    def run(self, task: Task, *, drop_stale: bool = False) -> Any:
        """Start a job the user asked for (a button); previews waiting to start are dropped.

        With ``drop_stale`` its result is dropped when a newer job started meanwhile.
        Returns the worker.
        """
        self.cancel()
        self.run_worker = self._start(task, preview=False, drop_stale=drop_stale)
        return self.run_worker

    def _run_finished(self) -> None:
        self.run_worker = None

    @property
    def busy(self) -> bool:
        """True while a job or a preview is computing or waiting to start."""
        return (
            self.preview_worker is not None
            or self.run_worker is not None
            or self.pending
            or self.requested
        )

    def _start(self, task: Task, *, preview: bool, drop_stale: bool) -> Any:
        self.generation += 1
        generation = self.generation
        steps = catching(task.steps)
        if task.total is None:
            worker = create_worker(drain, steps, _start_thread=False, _ignore_errors=True)
        else:
            worker = start_job(
                steps, total=task.total, desc=task.desc, on_batch=task.on_batch,
                ignore_errors=True,  # errored reports one message instead of a traceback
            )  # fmt: skip

        worker.returned.connect(
            lambda result: self.deliver(task, result, generation, preview=preview,
                                        drop_stale=drop_stale)
        )  # fmt: skip
        worker.errored.connect(
            lambda error: self._report(f"{task.desc or 'Job'} failed: {error}", True)
        )
        worker.finished.connect(self._preview_finished if preview else self._run_finished)
        if task.on_done is not None:
            worker.finished.connect(lambda: _alive(task.on_done))
        worker.start()
        return worker


    def deliver(
        self, task: Task, result: Any, generation: int, *, preview: bool, drop_stale: bool
    ) -> None:
        """Hand a finished job's result to the widget, unless it is stale.

        A preview's result is stale once a newer job started or the controls changed
        (``generation``), or the dock was closed; a job's only ``drop_stale`` and newer.
        """
        stale = generation != self.generation
        if (preview and (stale or not self.attached)) or (drop_stale and stale):
            return
        if isinstance(result, Failure):
            self._report(task.fail_prefix + result.message, not preview)
            return
        try:
            task.on_result(result)
        except ValueError as error:  # e.g. its input layer was removed while the job ran
            self._report(task.fail_prefix + str(error), not preview)


def _alive(callback: Callable[[], None]) -> None:
    """Call ``callback`` unless its Qt object was deleted meanwhile (the viewer closed)."""
    try:
        callback()
    except RuntimeError:
        pass


# ---------------------------------------------------------------------------- dock helpers


class DockWatcher(QObject):
    """Tell a dock widget when napari closes or re-docks it.

    napari's close button does not delete a plugin widget: it takes it out of its dock
    (``setParent(None)``) and keeps it alive. ``on_close`` is called when the widget loses its
    parent (or is deleted), ``on_open`` when it gets one.
    """

    def __init__(self, widget: Any, on_close: Any, on_open: Any) -> None:
        super().__init__(widget)
        self._on_close, self._on_open = on_close, on_open
        widget.installEventFilter(self)
        # deleted with its dock (viewer closed): stop too, or a pending debounced preview
        # fires into deleted Qt widgets
        widget.destroyed.connect(self._on_destroyed)

    def _on_destroyed(self, *_: Any) -> None:
        try:
            self._on_close()
        except (AttributeError, RuntimeError):  # garbage collection cleared the widget
            pass

    def eventFilter(self, obj: Any, event: Any) -> bool:
        if event.type() == QEvent.Type.ParentChange:
            (self._on_close if obj.parent() is None else self._on_open)()
        return False
