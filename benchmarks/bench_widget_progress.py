"""Benchmark: a widget's background job against the same work on the calling thread, same run.

Target (issue 13, defect 1): Threshold *Apply* on 50 frames of 512x512 and *Measure* on 1,000+
objects take no more than 1.2x the pure function, in a shown viewer with the widget docked.
The ``napari _progress`` row is the old way (one progress update per frame) for comparison.

Needs a display (run under ``xvfb-run`` headless):
``xvfb-run -a .venv/bin/python benchmarks/bench_widget_progress.py [--quick]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from skimage import data, transform

TARGET = 1.2


def _wait(worker: Any) -> None:
    """Run the Qt event loop until ``worker`` finishes (its ``finished`` signal)."""
    from qtpy.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    worker.finished.connect(loop.quit)
    # in case it finished before the connection was made: a slow (10 Hz) check
    timer = QTimer()
    timer.timeout.connect(lambda: worker.is_running or loop.quit())
    timer.start(100)
    loop.exec()
    timer.stop()


def _time(func: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``func`` in seconds (one warm-up call first)."""
    func()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _stack(frames: int, size: int) -> np.ndarray:
    coins = transform.resize(data.coins(), (size, size), preserve_range=True, order=1)
    rng = np.random.default_rng(0)
    return np.stack([coins + rng.normal(0, 5, coins.shape) for _ in range(frames)]).astype(
        np.float32
    )


def _grid_labels(size: int, step: int = 30) -> np.ndarray:
    """Square objects on a grid: (size / step)² of them."""
    labels = np.zeros((size, size), np.int32)
    value = 0
    for y in range(5, size - step + 5, step):
        for x in range(5, size - step + 5, step):
            value += 1
            labels[y : y + step - 10, x : x + step - 10] = value
    return labels


def _threshold_rows(viewer: Any, frames: int, size: int, repeats: int) -> list[dict]:
    from napari.qt.threading import create_worker

    from napari_coco_masks._widgets.threshold import ThresholdWidget, run_job, run_job_now

    viewer.add_image(_stack(frames, size), name="stack")
    widget = ThresholdWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.live.value = False
    widget.stack.value = "per_frame"
    job = widget.make_job(preview=False)
    pure = _time(lambda: run_job_now(job), repeats)
    button = _time(lambda: _wait(widget.apply()), repeats)

    def old_way() -> None:
        worker = create_worker(
            run_job, job, _start_thread=False, _progress={"total": frames, "desc": "old"}
        )
        worker.start()
        _wait(worker)

    old = _time(old_way, repeats)
    name = f"Threshold Apply {frames}x{size}²"
    return [
        {"name": f"{name}: widget / run_job_now", "ratio": button / pure, "target": TARGET,
         "seconds": button},
        {"name": f"{name}: napari _progress per frame / run_job_now", "ratio": old / pure,
         "target": None, "seconds": old},
    ]  # fmt: skip


def _measure_rows(viewer: Any, size: int, repeats: int) -> list[dict]:
    from napari_coco_masks._widgets.measure import MeasureWidget

    labels = _grid_labels(size)
    n_objects = int(labels.max())
    viewer.add_image(np.random.default_rng(0).random(labels.shape), name="intensity")
    viewer.add_labels(labels, name="objects")
    widget = MeasureWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.labels_combo.setCurrentText("objects")
    widget.image_combo.setCurrentText("intensity")
    pure = _time(widget.run_measure, repeats)
    button = _time(lambda: _wait(widget.run()), repeats)
    return [
        {"name": f"Measure {n_objects} objects: button / run_measure", "ratio": button / pure,
         "target": TARGET, "seconds": button},
    ]  # fmt: skip


def main(quick: bool = False) -> list[dict]:
    """Time each widget job against its pure function in one shown viewer."""
    import napari

    frames, size, labels_size, repeats = (10, 256, 512, 1) if quick else (50, 512, 1024, 3)
    viewer = napari.Viewer(show=True)
    try:
        rows = _threshold_rows(viewer, frames, size, repeats)
        viewer.layers.clear()
        rows += _measure_rows(viewer, labels_size, repeats)
    finally:
        viewer.close()
    for row in rows:
        print(f"  {row['name']:<60} {row['seconds']:7.3f} s  ratio {row['ratio']:.2f}")
    return rows


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
