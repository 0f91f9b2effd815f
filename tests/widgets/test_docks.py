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
