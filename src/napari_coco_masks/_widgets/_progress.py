"""Background jobs with a throttled progress bar, shared by the dock widgets.

napari's ``_progress`` option advances the bar once per ``yield``: every step of a job crosses to
the Qt thread, and napari's progress bar calls ``QApplication.processEvents()`` each time it
moves (a repaint of the whole window, canvas included). A job of many quick steps (frames, seeds) then spends more
time reporting than working. :func:`throttle` batches the steps so that the Qt thread hears from
a job at most ``1 / interval`` times a second; :func:`start_job` runs such a job in a
``thread_worker`` and moves a :class:`napari.utils.progress` bar by the size of each batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from napari.qt.threading import GeneratorWorker, create_worker
from napari.utils import progress

from napari_coco_masks.segment._frames import drain  # the one drain(), re-exported

__all__ = ["INTERVAL", "drain", "start_job", "throttle"]

#: Shortest time between two progress updates, in seconds (at most 10 updates a second).
INTERVAL = 0.1

T = TypeVar("T")
R = TypeVar("R")


def throttle(
    steps: Generator[T, None, R] | Iterator[T],
    interval: float = INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> Generator[list[T], None, R | None]:
    """Re-yield the items of ``steps`` in batches, at most one batch per ``interval`` seconds.

    Parameters
    ----------
    steps : generator
        The job: yields once per step (the item may be anything) and returns its result.
    interval : float, optional
        Shortest time, in seconds, between two batches.
    clock : callable, optional
        Returns the time in seconds (tests pass a fake clock).

    Yields
    ------
    list
        The items yielded since the previous batch (never empty). The last items are always
        yielded, however soon after the previous batch they come.

    Returns
    -------
    object
        What ``steps`` returned.

    Examples
    --------
    >>> ticks = iter(range(100))
    >>> batches = list(throttle(iter(range(5)), interval=2.0, clock=lambda: next(ticks)))
    >>> batches
    [[0, 1], [2, 3], [4]]
    """
    batch: list[T] = []
    last = clock()
    while True:
        try:
            item = next(steps)
        except StopIteration as stop:
            if batch:
                yield batch
            return stop.value
        batch.append(item)
        now = clock()
        if now - last >= interval:
            yield batch
            batch, last = [], now


def _advance(bar: progress, count: int) -> None:
    """Move ``bar`` by ``count`` steps, turning it indeterminate past its total (as napari)."""
    if bar.total and bar.n + count > bar.total:
        bar.total = 0
    bar.update(count)


def start_job(
    steps: Generator[Any, None, Any],
    *,
    total: int,
    desc: str,
    on_batch: Callable[[list[Any]], None] | None = None,
    interval: float = INTERVAL,
    ignore_errors: bool = False,
) -> GeneratorWorker:
    """Create (not start) a ``thread_worker`` that runs ``steps`` with a throttled progress bar.

    Parameters
    ----------
    steps : generator
        The job, already called (it starts running only in the worker thread): yields once
        per step, returns the result (the worker's ``returned`` signal carries it).
    total : int
        Number of steps, for the bar (0: an indeterminate bar).
    desc : str
        Text of the progress bar.
    on_batch : callable, optional
        Called on the Qt thread with each batch of items the job yielded.
    interval : float, optional
        Shortest time between two progress updates, in seconds.
    ignore_errors : bool, optional
        Do not log exceptions of the job (the caller shows them from ``errored``).

    Returns
    -------
    GeneratorWorker
        Connect to its signals, then call ``start()``. Its ``pbar`` is the progress bar.
    """
    worker = create_worker(
        throttle, steps, interval, _start_thread=False, _ignore_errors=ignore_errors
    )
    bar = progress(total=total, desc=desc)
    worker.pbar = bar  # as napari's ``_progress`` option names it

    def _batch(batch: list[Any]) -> None:
        # the batch first: napari's bar processes Qt events when it moves, so the job's
        # ``returned`` signal may be handled inside ``_advance``
        if on_batch is not None:
            on_batch(batch)
        _advance(bar, len(batch))

    worker.yielded.connect(_batch)
    worker.finished.connect(bar.close)
    return worker
