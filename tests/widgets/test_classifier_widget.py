"""Learn-from-examples widget: strokes in a real viewer, outputs equal the pure functions."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pytest

from napari_coco_masks._widgets.classifier import ClassifierWidget
from napari_coco_masks.demo import coins_strokes
from napari_coco_masks.segment import classifier as cl

COINS_JSON = str(files("napari_coco_masks") / "data" / "coins.json")
SCALE, TRANSLATE = (0.5, 0.5), (10.0, -4.0)


def _wait(qtbot, widget: ClassifierWidget) -> None:
    qtbot.waitUntil(lambda: not widget.busy, timeout=60_000)


@pytest.fixture(scope="module")
def coins():
    """The coins image, its truth (the bundled COCO annotations) and strokes on 3 coins + background."""
    return coins_strokes()


def _setup(make_napari_viewer, image, **kwargs):
    viewer = make_napari_viewer(**kwargs)
    layer = viewer.add_image(image, name="coins", scale=SCALE, translate=TRANSLATE,
                             units=("µm", "µm"))
    widget = ClassifierWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.trees.value = 20
    widget.sigma_min.value, widget.sigma_max.value = 0.5, 8.0  # µm: 1..16 px
    return viewer, layer, widget


def test_strokes_train_live_and_match_the_truth(make_napari_viewer, qtbot, coins, tmp_path):
    image, truth, strokes = coins
    viewer, layer, widget = _setup(make_napari_viewer, image, show=True)
    widget.new_strokes.clicked.emit()
    painted = viewer.layers["coins strokes"]
    assert painted.data.shape == image.shape and not painted.data.any()
    np.testing.assert_array_equal(painted.scale, SCALE)
    np.testing.assert_array_equal(painted.translate, TRANSLATE)
    assert tuple(map(str, painted.units)) == tuple(map(str, layer.units))
    assert widget.training.value is painted

    painted.data = strokes  # what painting does to the layer's data: a live preview follows
    qtbot.waitUntil(lambda: "coins classes" in viewer.layers, timeout=60_000)
    _wait(qtbot, widget)
    out = viewer.layers["coins classes"]
    clf = cl.train_classifier(image, strokes, widget.settings(), spacing=SCALE, n_estimators=20)
    expected = cl.predict_pixels(clf, image, spacing=SCALE)
    np.testing.assert_array_equal(out.data, expected)
    iou = np.count_nonzero((out.data == 2) & truth) / np.count_nonzero((out.data == 2) | truth)
    assert iou >= 0.9
    np.testing.assert_array_equal(out.scale, SCALE)
    np.testing.assert_array_equal(out.translate, TRANSLATE)
    assert tuple(map(str, out.units)) == tuple(map(str, layer.units))
    np.testing.assert_array_equal(painted.data, strokes)  # the user's layer is never written
    np.testing.assert_array_equal(layer.data, image)

    widget.instances.value = "connected"
    widget.apply_button.clicked.emit()
    _wait(qtbot, widget)
    objects = viewer.layers["coins objects"].data
    np.testing.assert_array_equal(objects, cl.semantic_to_instances(expected, [2]))
    assert objects.max() >= 24  # the 24 coins (and a few specks of the background)

    viewer.layers.selection.active = painted
    screenshot = viewer.screenshot(canvas_only=False, flash=False)
    assert screenshot.std() > 0
    from skimage.io import imsave

    path = tmp_path / "learn-from-examples.png"
    imsave(path, screenshot, check_contrast=False)
    assert path.stat().st_size > 10_000

    saved = tmp_path / "coins.skops"
    widget.save(str(saved))
    fresh = ClassifierWidget(viewer)
    viewer.window.add_dock_widget(fresh)
    fresh.sigma_min.value = 3.0
    fresh.load(str(saved))
    assert fresh.sigma_min.value == 0.5 and fresh.classifier is not None
    viewer.layers.remove("coins classes")
    _wait(qtbot, fresh)
    np.testing.assert_array_equal(viewer.layers["coins classes"].data, expected)


def test_too_few_pixels_is_the_cores_message(make_napari_viewer, qtbot):
    image = np.zeros((40, 40), np.uint8)
    image[:, 20:] = 200
    viewer, _, widget = _setup(make_napari_viewer, image)
    strokes = widget.add_strokes_layer()
    tiny = np.zeros_like(image)
    tiny[5, 2:6] = 1
    tiny[5:30, 30] = 2
    with pytest.raises(ValueError) as core:
        cl.train_classifier(image, tiny)
    strokes.data = tiny
    widget.train_button.clicked.emit()
    _wait(qtbot, widget)
    assert widget.status.value == str(core.value)
    assert "more" in widget.status.value
    assert "coins classes" not in viewer.layers


def test_coco_labels_train_by_category(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.open(COINS_JSON, plugin="napari-coco-masks")
    widget = ClassifierWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.live.value = False
    labels = next(la for la in viewer.layers if la._type_string == "labels")
    image = next(la for la in viewer.layers if la._type_string == "image")
    widget.image.value, widget.training.value = image, labels
    widget.trees.value = 5
    widget.sigma_min.value, widget.sigma_max.value = 1.0, 4.0
    assert not widget.by.native.isHidden()  # offered for COCO layers only
    widget.train_button.clicked.emit()
    _wait(qtbot, widget)
    truth, names = cl.coco_training_labels(COINS_JSON, by="category")
    clf = cl.train_classifier([np.asarray(image.data)], truth, widget.settings(),
                              spacing=tuple(image.scale), class_names=names, n_estimators=5)
    out = viewer.layers[f"{image.name} classes"]
    np.testing.assert_array_equal(out.data, cl.predict_pixels(clf, np.asarray(image.data)))
    assert widget.classifier.class_names == names
    assert out is not labels


def test_painting_a_stack_previews_the_shown_frame_and_apply_does_all(make_napari_viewer, qtbot):
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 60, (2, 48, 48)).astype(np.uint8)
    stack[:, 10:30, 12:36] += 150
    viewer = make_napari_viewer()
    viewer.add_image(stack, name="coins", scale=(1.0, *SCALE), units=("s", "µm", "µm"))
    widget = ClassifierWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.trees.value = 5
    widget.sigma_min.value, widget.sigma_max.value = 0.5, 2.0
    strokes = widget.add_strokes_layer()
    viewer.dims.set_point(0, 1)  # show the second frame
    strokes.brush_size = 3
    for col in range(14, 34):  # brush strokes, as the mouse paints them (events.paint)
        strokes.paint((1, 20, col), 2)
    for col in range(2, 46):
        strokes.paint((1, 42, col), 1)
    qtbot.waitUntil(lambda: "coins classes" in viewer.layers, timeout=30_000)
    _wait(qtbot, widget)
    clf = cl.train_classifier([stack[1]], [strokes.data[1]], widget.settings(), spacing=SCALE,
                              n_estimators=5)
    shown = viewer.layers["coins classes"].data
    np.testing.assert_array_equal(shown[1], cl.predict_pixels(clf, stack[1], spacing=SCALE))
    assert not shown[0].any()  # only the shown frame is previewed
    widget.apply_button.clicked.emit()
    _wait(qtbot, widget)
    np.testing.assert_array_equal(viewer.layers["coins classes"].data,
                                  cl.predict_pixels(clf, stack, spacing=SCALE, frame_axis=0))
    assert [la.name for la in viewer.layers].count("coins classes") == 1
