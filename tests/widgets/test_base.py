"""The widgets' one background runner (``_widgets._base.Runner``) and shared layer helpers."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtWidgets import QWidget

from napari_coco_masks._widgets._base import (
    Failure,
    OutputLayer,
    Runner,
    Task,
    axis_unit,
    bin_range,
    layer_units,
    level0,
    points_to_image,
)

TIMEOUT = 10_000


def _steps(value, n=3):
    for _ in range(n):
        yield
    return value


def _bad_input():
    yield
    raise ValueError("`image` contains 1 NaN value")


class _Widget:
    """A runner with a plain QWidget and a status line (a list of reports)."""

    def __init__(self, qtbot, debounce_ms=50):
        self.native = QWidget()
        qtbot.addWidget(self.native)
        self.reports: list[tuple[str, bool]] = []
        self.shown: list = []
        self.value = 0
        self.runner = Runner(
            self.native, report=lambda m, n: self.reports.append((m, n)),
            preview=self.preview, debounce_ms=debounce_ms,
        )  # fmt: skip
        self.runner.start()
        self.built = 0

    def preview(self):
        self.built += 1
        return Task(_steps(self.value), self.shown.append)


def test_a_burst_of_requests_is_one_preview_and_stale_results_are_dropped(qtbot):
    widget = _Widget(qtbot)
    for value in (1, 2, 3):
        widget.value = value
        widget.runner.request()
    qtbot.waitUntil(lambda: not widget.runner.busy, timeout=TIMEOUT)
    assert widget.built == 1 and widget.shown == [3]

    widget.value = 4
    widget.runner.preview_now()
    widget.runner.invalidate()  # the controls changed while it computed
    qtbot.waitUntil(lambda: not widget.runner.busy, timeout=TIMEOUT)
    assert widget.shown == [3]


def test_a_preview_asked_while_one_runs_waits_for_it(qtbot):
    widget = _Widget(qtbot)
    widget.runner.preview_now()
    widget.value = 7
    widget.runner.preview_now()
    assert widget.runner.pending and widget.built == 1
    qtbot.waitUntil(lambda: not widget.runner.busy, timeout=TIMEOUT)
    assert widget.built == 2 and widget.shown[-1] == 7


def test_bad_input_in_the_worker_is_a_status_message(qtbot):
    widget = _Widget(qtbot)
    done = []
    widget.runner.run(Task(_bad_input(), widget.shown.append, total=2, desc="Job",
                           on_done=lambda: done.append(True)))  # fmt: skip
    qtbot.waitUntil(lambda: bool(done), timeout=TIMEOUT)
    assert widget.reports == [("`image` contains 1 NaN value", True)]  # a job: notified
    assert widget.shown == []


def test_a_closed_dock_stops_listening_and_never_shows_a_result(qtbot):
    widget = _Widget(qtbot)
    calls = []
    emitter = _Emitter()
    widget.runner.follow(emitter, calls.append)
    assert emitter.callbacks == [calls.append]
    widget.runner.preview_now()
    widget.runner.detach()  # napari's close button: setParent(None)
    assert emitter.callbacks == [] and not widget.runner.attached
    qtbot.waitUntil(lambda: widget.runner.preview_worker is None, timeout=TIMEOUT)
    assert widget.shown == []
    widget.runner.request()  # nothing while closed
    assert not widget.runner.requested
    widget.runner.attach()
    assert emitter.callbacks == [calls.append]


def test_deliver_drops_stale_jobs_only_when_asked():
    class Fake(Runner):
        def __init__(self):  # no Qt: only the bookkeeping of deliver
            self.generation, self.attached, self.reports = 3, True, []
            self._report = lambda m, n: self.reports.append((m, n))

    runner, shown = Fake(), []
    task = Task(iter(()), shown.append, fail_prefix="Measure failed: ")
    runner.deliver(task, "old", 2, preview=False, drop_stale=False)
    runner.deliver(task, "stale", 2, preview=False, drop_stale=True)
    runner.deliver(task, "stale preview", 2, preview=True, drop_stale=True)
    runner.deliver(task, Failure("bad"), 3, preview=True, drop_stale=True)
    assert shown == ["old"]
    assert runner.reports == [("Measure failed: bad", False)]  # a preview: not notified


class _Emitter:
    def __init__(self):
        self.callbacks = []

    def connect(self, callback):
        self.callbacks.append(callback)

    def disconnect(self, callback):
        self.callbacks.remove(callback)


def test_layer_helpers(make_napari_viewer):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((10, 20)), scale=(2.0, 0.5), translate=(4, 1), units="um")
    points = viewer.add_points(np.array([[8.0, 2.0], [4.0, 1.0]]))
    np.testing.assert_allclose(points_to_image(points, image), [[2.0, 2.0], [0.0, 0.0]])
    image.rotate = 90  # not axis aligned: through world coordinates, point by point
    expected = [image.world_to_data(p) for p in points.data]
    np.testing.assert_allclose(points_to_image(points, image), expected)
    assert layer_units(image) == ("µm", "µm") and axis_unit(image) == "µm"
    assert axis_unit(None) == "px" and layer_units(points) == ("px", "px")
    pyramid = [np.zeros((8, 8)), np.zeros((4, 4))]
    assert level0(pyramid) is pyramid[0]
    low, high = bin_range(7e18, 7e18, 20)
    assert low < 7e18 < high and len(np.unique(np.linspace(low, high, 21))) == 21


def test_output_layer_follows_renames_and_forgets_removed_layers(make_napari_viewer):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((10, 20)), scale=(2.0, 0.5))
    output = OutputLayer(viewer, " out")
    layer = output.put(np.ones((10, 20), np.uint8), image)
    assert layer.name == "Image out"
    np.testing.assert_allclose(layer.scale, image.scale)
    assert output.put(np.zeros((10, 20), np.uint8), image) is layer  # updated, not added
    image.name = "cells"
    output.follow_rename(type("Event", (), {"index": viewer.layers.index(image)})())
    assert layer.name == "cells out"
    viewer.layers.remove(layer)
    assert output.forget_removed() and output.layer is None
    with pytest.raises(ValueError, match="cannot carry the geometry"):
        from napari_coco_masks._widgets._base import layer_geometry

        layer_geometry(image, ndim=3)


def test_a_result_for_a_removed_input_layer_adds_nothing(make_napari_viewer):
    """A job finishing after its input layer was removed must not add an orphan output (a late
    output for a removed layer crashed vispy's draw in a shown viewer)."""
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((10, 20)))
    output = OutputLayer(viewer, " out")
    viewer.layers.remove(image)
    with pytest.raises(ValueError, match="was removed from the viewer"):
        output.put(np.ones((10, 20), np.uint8), image)
    assert len(viewer.layers) == 0
