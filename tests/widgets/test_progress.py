"""Background jobs report progress at most ~10 times a second (issue 13, defect 1)."""

from __future__ import annotations

import time

import numpy as np
from skimage import measure as skmeasure
from skimage.filters import threshold_otsu

from napari_coco_masks._widgets._progress import INTERVAL, drain, throttle
from napari_coco_masks._widgets.measure import MeasureWidget
from napari_coco_masks._widgets.region_growing import RegionGrowingWidget
from napari_coco_masks._widgets.threshold import ThresholdWidget
from napari_coco_masks.segment import region_growing as rg

TIMEOUT = 30_000


def _steps(n: int):
    yield from range(n)
    return "done"


def test_throttle_batches_steps_by_the_clock() -> None:
    ticks = iter([0.0, 0.01, 0.02, 0.15, 0.16, 0.3, 0.31])  # start, then one tick per step
    batches = throttle(_steps(6), interval=0.1, clock=lambda: next(ticks))
    out = []
    try:
        while True:
            out.append(next(batches))
    except StopIteration as stop:
        assert stop.value == "done"
    assert out == [[0, 1, 2], [3, 4], [5]]  # every item once, the last ones flushed
    assert drain(throttle(_steps(3), clock=lambda: 0.0)) == "done"


def _count_updates(worker) -> list[int]:
    """Record how many steps each update the worker sends to the Qt thread carries."""
    sizes: list[int] = []
    worker.yielded.connect(lambda batch: sizes.append(len(batch) if type(batch) is list else 1))
    return sizes


def _assert_throttled(sizes: list[int], start: float, n_steps: int) -> None:
    elapsed = time.monotonic() - start
    assert sum(sizes) == n_steps  # every step is counted, none twice
    # at most one update per INTERVAL, plus the last one (the old code sent one per step)
    assert len(sizes) <= elapsed / INTERVAL + 2, (len(sizes), elapsed)


def test_threshold_apply_progress_is_throttled(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 255, (300, 12, 12)).astype(np.uint8)
    viewer.add_image(stack, name="noise")
    widget = ThresholdWidget(viewer)
    widget.live.value = False
    widget.stack.value = "per_frame"
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT)
    start = time.monotonic()
    worker = widget.apply()
    sizes = _count_updates(worker)
    qtbot.waitUntil(lambda: not widget.busy, timeout=TIMEOUT)
    _assert_throttled(sizes, start, 300)
    assert worker.pbar.n == 300
    labels = widget.output_layer.data
    assert labels.shape == stack.shape
    frame = stack[7]
    expected = skmeasure.label(frame > threshold_otsu(frame))
    np.testing.assert_array_equal(labels[7] > 0, expected > 0)


def test_region_growing_stores_every_region_of_a_batch(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer()
    image = np.zeros((40, 400), np.uint8)
    image[:, ::2] = 200  # 200 one-pixel-wide stripes
    layer = viewer.add_image(image, name="img")
    widget = RegionGrowingWidget(viewer)
    widget._tolerance.value = 5
    seeds = np.array([[20, x] for x in range(0, 400, 2)], float)
    points = viewer.add_points(seeds, name="seeds")
    widget._seeds.value = points
    qtbot.waitUntil(lambda: not widget.busy and "img regions" in viewer.layers, timeout=TIMEOUT)
    labels = viewer.layers["img regions"].data
    expected = rg.grow_regions(image, seeds.astype(int), tolerance=5)
    np.testing.assert_array_equal(labels, expected)
    assert len(np.unique(labels)) == 201
    assert layer.name == "img"


def test_measure_per_frame_progress_is_throttled(make_napari_viewer, qtbot) -> None:
    viewer = make_napari_viewer()
    labels = np.zeros((200, 10, 10), np.int32)
    labels[:, 2:5, 2:5] = 1
    viewer.add_labels(labels, name="lab")
    widget = MeasureWidget(viewer)
    widget.labels_combo.setCurrentText("lab")
    widget.time_series.setChecked(True)
    start = time.monotonic()
    worker = widget.run()
    sizes = _count_updates(worker)
    qtbot.waitUntil(lambda: widget.results is not None, timeout=TIMEOUT)
    qtbot.waitUntil(widget.measure_button.isEnabled, timeout=TIMEOUT)
    _assert_throttled(sizes, start, 200)
    assert len(widget.results) == 200
