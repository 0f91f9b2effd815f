"""Edges widget in a real viewer: previews and objects equal the segment functions."""

from __future__ import annotations

import numpy as np
from skimage import data

from napari_coco_masks._widgets.edges import EdgesWidget
from napari_coco_masks.segment import edges as ed
from napari_coco_masks.segment import watershed

SCALE, TRANSLATE = (0.5, 0.5), (3.0, 7.0)


def _rings() -> np.ndarray:
    image = np.zeros((80, 100), np.float64)
    yy, xx = np.mgrid[:80, :100]
    image[np.hypot(yy - 25, xx - 25) < 15] = 1.0
    image[np.hypot(yy - 50, xx - 70) < 20] = 0.6
    return image


def _setup(make_napari_viewer, image):
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="img", scale=SCALE, translate=TRANSLATE,
                             units=("µm", "µm"))
    widget = EdgesWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, layer, widget


def _wait(qtbot, widget) -> None:
    qtbot.waitUntil(lambda: not widget.busy, timeout=30_000)


def test_each_method_previews_the_pure_function(make_napari_viewer, qtbot):
    image = data.coins()[::3, ::3]
    viewer, layer, widget = _setup(make_napari_viewer, image)
    widget.sigma.value = 1.0
    cases = {
        "sobel": ed.edge_magnitude(image, "sobel", sigma=1.0, spacing=SCALE),
        "scharr": ed.edge_magnitude(image, "scharr", sigma=1.0, spacing=SCALE),
        "canny": ed.canny(image, 1.0, spacing=SCALE).astype(np.uint8),
        "log": ed.laplacian_of_gaussian(image, 1.0, spacing=SCALE),
    }
    for method, expected in cases.items():
        widget.method.value = method
        qtbot.waitUntil(lambda: widget._runner.requested or widget.busy, timeout=5_000)
        _wait(qtbot, widget)
        out = viewer.layers["img edges"]
        np.testing.assert_array_equal(out.data, expected, err_msg=method)
    assert [la.name for la in viewer.layers].count("img edges") == 1
    np.testing.assert_array_equal(out.scale, SCALE)
    np.testing.assert_array_equal(out.translate, TRANSLATE)
    assert tuple(map(str, out.units)) == tuple(map(str, layer.units))
    np.testing.assert_array_equal(layer.data, image)


def test_fill_closed_edges_and_watershed_from_seeds(make_napari_viewer, qtbot):
    image = _rings()
    viewer, layer, widget = _setup(make_napari_viewer, image)
    widget.method.value, widget.sigma.value, widget.min_size.value = "canny", 0.5, 5.0
    _wait(qtbot, widget)
    widget.fill_button.clicked.emit()
    _wait(qtbot, widget)
    objects = viewer.layers["img edge objects"]
    expected = ed.edges_to_objects(ed.canny(image, 0.5, spacing=SCALE), min_size=5.0,
                                   spacing=SCALE)
    np.testing.assert_array_equal(objects.data, expected)
    assert objects.data.max() == 2
    np.testing.assert_array_equal(objects.scale, SCALE)

    seeds_world = np.array([[25, 25], [50, 70], [5, 5]]) * np.array(SCALE) + TRANSLATE
    points = viewer.add_points(seeds_world, name="seeds")
    widget.seeds.value = points
    widget.method.value = "scharr"
    _wait(qtbot, widget)
    widget.watershed_button.clicked.emit()
    _wait(qtbot, widget)
    flooded = viewer.layers["img edge watershed"]
    elevation = ed.edge_magnitude(image, "scharr", sigma=0.5, spacing=SCALE)
    np.testing.assert_array_equal(
        flooded.data, watershed(elevation, np.array([[25, 25], [50, 70], [5, 5]], float))
    )
    assert set(np.unique(flooded.data)) == {1, 2, 3}
    np.testing.assert_array_equal(flooded.translate, TRANSLATE)
    assert len(points.data) == 3  # the seeds are the user's: untouched


def test_fill_needs_canny(make_napari_viewer, qtbot):
    viewer, _, widget = _setup(make_napari_viewer, _rings())
    widget.method.value = "sobel"
    assert widget.fill() is None
    assert "Canny" in widget.status.value
    _wait(qtbot, widget)
    assert "img edge objects" not in viewer.layers
