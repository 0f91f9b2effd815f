"""Clusters widget in a real viewer: segments equal the pure functions; picks make labels."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from napari_coco_masks._widgets.clusters import ClustersWidget
from napari_coco_masks.segment import clusters as cs

SCALE, TRANSLATE = (2.0, 2.0), (5.0, -3.0)


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    return data.astronaut()[::8, ::8]


def _setup(make_napari_viewer, image):
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="img", scale=SCALE, translate=TRANSLATE,
                             units=("mm", "mm"))
    widget = ClustersWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, layer, widget


def _wait(qtbot, widget) -> None:
    qtbot.waitUntil(lambda: not widget.busy, timeout=30_000)


def test_methods_preview_the_pure_functions(make_napari_viewer, qtbot, rgb):
    viewer, layer, widget = _setup(make_napari_viewer, rgb)
    qtbot.waitUntil(lambda: "img segments" in viewer.layers, timeout=30_000)
    _wait(qtbot, widget)
    np.testing.assert_array_equal(viewer.layers["img segments"].data, cs.kmeans_colour(rgb, 3))
    widget.method.value = "slic"
    widget.n_segments.value = 60
    qtbot.waitUntil(lambda: widget._runner.requested or widget.busy, timeout=5_000)
    _wait(qtbot, widget)
    np.testing.assert_array_equal(
        viewer.layers["img segments"].data,
        cs.slic_superpixels(rgb, 60, 10.0, sigma=0.8, spacing=SCALE))
    widget.method.value = "felzenszwalb"
    qtbot.waitUntil(lambda: widget._runner.requested or widget.busy, timeout=5_000)
    _wait(qtbot, widget)
    out = viewer.layers["img segments"]
    np.testing.assert_array_equal(out.data,
                                  cs.felzenszwalb_segments(rgb, 100.0, 0.8, 20.0, spacing=SCALE))
    np.testing.assert_array_equal(out.scale, SCALE)
    np.testing.assert_array_equal(out.translate, TRANSLATE)
    assert tuple(map(str, out.units)) == tuple(map(str, layer.units))


def test_picks_make_labels(make_napari_viewer, qtbot, rgb):
    viewer, layer, widget = _setup(make_napari_viewer, rgb)
    widget.method.value, widget.n_segments.value = "slic", 60
    qtbot.waitUntil(lambda: widget._runner.requested or widget.busy, timeout=5_000)
    _wait(qtbot, widget)
    segments = widget.segments
    points = widget.add_picks_layer()
    pixels = np.array([[10, 10], [40, 40], [50, 30]])
    points.add(pixels)  # the picks layer has the image's geometry: its data are pixels
    points.features["label"] = [1, 1, 2]
    points.events.features()
    expected = cs.select_segments(segments, {1: cs.segments_at(segments, pixels[:2]),
                                             2: cs.segments_at(segments, pixels[2:])})
    np.testing.assert_array_equal(viewer.layers["img picked"].data, expected)
    made = widget.make_labels()
    np.testing.assert_array_equal(made.data, expected)
    assert set(np.unique(made.data)) == {0, 1, 2}
    np.testing.assert_array_equal(made.scale, SCALE)
    np.testing.assert_array_equal(made.translate, TRANSLATE)
    again = widget.make_labels()
    assert again is not made and made.name in viewer.layers  # never overwritten


def test_make_labels_without_picks_says_so(make_napari_viewer, qtbot, rgb):
    viewer, _, widget = _setup(make_napari_viewer, rgb)
    _wait(qtbot, widget)
    assert widget.make_labels() is None
    assert "pick segments first" in widget.status.value
