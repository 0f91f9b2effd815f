"""All four docks fit a small screen together (issue 13, defect 6)."""

from __future__ import annotations

import numpy as np

from napari_coco_masks._widgets.measure import MeasureWidget
from napari_coco_masks._widgets.region_growing import RegionGrowingWidget
from napari_coco_masks._widgets.threshold import ThresholdWidget
from napari_coco_masks._widgets.watershed import WatershedWidget


def test_four_docks_fit_a_1000_px_screen_and_long_status_lines_wrap(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.add_image(np.random.default_rng(0).random((64, 64)), name="img")
    widgets = [
        ThresholdWidget(viewer), WatershedWidget(viewer), RegionGrowingWidget(viewer),
        MeasureWidget(viewer),
    ]  # fmt: skip
    docks = [viewer.window.add_dock_widget(w, name=type(w).__name__) for w in widgets]
    qtbot.wait(50)
    heights = [dock.minimumSizeHint().height() for dock in docks]
    # before: 454, 249, 309 and 504 px, and the window was forced to ~1600 px high
    assert max(heights) < 200, heights
    window = viewer.window._qt_window
    assert window.minimumSizeHint().height() < 1000
    # the content is all still there: the dock scrolls
    threshold = widgets[0]
    assert threshold.native.widget().minimumSizeHint().height() > 300

    watershed, dock = widgets[1], docks[1]
    width = dock.minimumSizeHint().width()
    watershed.status.value = "Layer 'a rather long layer name' " + "has a long message " * 30
    qtbot.wait(50)
    assert dock.minimumSizeHint().width() <= width + 5  # wraps instead of widening the dock
    assert watershed.status.native.wordWrap()


def test_clearing_layers_under_four_docks_with_a_nan_image(make_napari_viewer, qtbot):
    """Issue 13 defect 11's script: four docks, a NaN float image, ``layers.clear()``, a new
    image. No dock may keep (or draw into) a removed layer, and the viewer keeps drawing."""
    viewer = make_napari_viewer(show=True)
    threshold, watershed, growing, measure = widgets = [
        ThresholdWidget(viewer), WatershedWidget(viewer), RegionGrowingWidget(viewer),
        MeasureWidget(viewer),
    ]  # fmt: skip
    for widget in widgets:
        viewer.window.add_dock_widget(widget, name=type(widget).__name__)
    image = np.random.default_rng(0).random((128, 128))
    image[10:20, 10:20] = np.nan
    viewer.add_image(image, name="nan")
    watershed.preview.value = True
    growing._seeds.value = viewer.add_points(np.array([[50.0, 50.0]]), name="seeds")
    idle = lambda: not (threshold.busy or watershed.busy or growing.busy)  # noqa: E731
    qtbot.waitUntil(idle, timeout=20_000)
    assert "NaN" in threshold.status.value and "NaN" in growing._status.value

    viewer.layers.clear()
    qtbot.waitUntil(idle, timeout=20_000)
    assert threshold.output_layer is None and threshold._buffer is None
    assert threshold.image.value is None and growing._points is None
    assert watershed.mask_layer.value is None and measure.labels_combo.count() == 0

    after = viewer.add_image(np.random.default_rng(1).random((128, 128)), name="after")
    qtbot.waitUntil(lambda: idle() and "after threshold" in viewer.layers, timeout=20_000)
    assert threshold.output_layer.name == "after threshold"
    np.testing.assert_allclose(threshold.output_layer.scale, after.scale)
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot[..., :3].max() > 0  # the canvas still draws
