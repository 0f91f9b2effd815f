"""Cut-out widget in a real viewer: masked images and exports equal segment.cutout's."""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import pandas as pd
from skimage import data
from skimage.io import imread

from napari_coco_masks._widgets.cutout import CutoutWidget
from napari_coco_masks.segment import cutout as co

COINS_JSON = str(files("napari_coco_masks") / "data" / "coins.json")
SCALE, TRANSLATE = (0.5, 0.5), (2.0, 3.0)


def _labels() -> np.ndarray:
    labels = np.zeros((40, 50), np.int32)
    labels[5:15, 5:20] = 1
    labels[20:35, 25:45] = 2
    return labels


def _setup(make_napari_viewer, image):
    viewer = make_napari_viewer()
    layer = viewer.add_image(image, name="img", scale=SCALE, translate=TRANSLATE,
                             units=("µm", "µm"))
    widget = CutoutWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return viewer, layer, widget


def test_apply_mask_from_labels_and_shapes(make_napari_viewer):
    image = data.astronaut()[:40, :50]
    viewer, layer, widget = _setup(make_napari_viewer, image)
    labels = viewer.add_labels(_labels(), name="objects", scale=SCALE, translate=TRANSLATE)
    widget.image.value, widget.mask.value = layer, labels
    widget.background.value = "transparent"
    out = first = widget.apply()
    np.testing.assert_array_equal(out.data, co.apply_mask(image, _labels(),
                                                          background="transparent"))
    assert out.rgb and out.data.shape == (40, 50, 4)
    np.testing.assert_array_equal(out.scale, SCALE)
    np.testing.assert_array_equal(out.translate, TRANSLATE)
    assert tuple(map(str, out.units)) == tuple(map(str, layer.units))

    # a rectangle drawn in world coordinates (no layer geometry) over pixels 5..15 x 5..20
    corners = np.array([[5, 5], [5, 19], [14, 19], [14, 5]], float) * SCALE + TRANSLATE
    shapes = viewer.add_shapes([corners], shape_type="rectangle", name="box")
    widget.mask.value, widget.background.value = shapes, "zero"
    out = widget.apply()
    np.testing.assert_array_equal(out.data, co.apply_mask(image, _labels() == 1))
    assert out is not first and first in viewer.layers and first.data.shape == (40, 50, 4)
    np.testing.assert_array_equal(layer.data, image)  # the input stays as it was


def test_export_cutouts_of_labels_and_of_coco(make_napari_viewer, qtbot, tmp_path):
    image = data.astronaut()[:40, :50]
    viewer, layer, widget = _setup(make_napari_viewer, image)
    widget.mask.value = viewer.add_labels(_labels(), name="objects")
    widget.folder.value, widget.stem.value = str(tmp_path), "astro"
    widget.export_button.clicked.emit()
    qtbot.waitUntil(lambda: not widget.busy and bool(widget.written), timeout=20_000)
    expected = co.cutouts(image, _labels())
    pngs = sorted(p for p in widget.written if p.suffix == ".png")
    assert len(pngs) == 2
    for png, piece in zip(pngs, expected, strict=True):
        np.testing.assert_array_equal(imread(png), piece.rgba)

    viewer.open(COINS_JSON, plugin="napari-coco-masks")
    coins = next(la for la in viewer.layers if la.name != "img" and la._type_string == "image")
    widget.image.value = coins
    widget.mask.value = next(la for la in viewer.layers if la._type_string == "labels"
                             and "coco" in la.metadata)
    widget.stem.value = ""
    widget.written = []
    widget.export_button.clicked.emit()
    qtbot.waitUntil(lambda: not widget.busy and bool(widget.written), timeout=30_000)
    table = pd.read_csv(widget.written[-1])
    pieces = co.cutouts(data.coins(), COINS_JSON)
    assert len(table) == len(pieces) == 24
    assert sorted(table["annotation_id"]) == sorted(p.annotation_id for p in pieces)
    first = next(p for p in pieces if p.annotation_id == table["annotation_id"][0])
    np.testing.assert_array_equal(imread(tmp_path / table["file"][0]), first.rgba)


def test_bad_mask_is_a_message(make_napari_viewer):
    viewer, _, widget = _setup(make_napari_viewer, np.zeros((30, 30), np.uint8))
    widget.mask.value = viewer.add_labels(np.zeros((10, 10), np.int32), name="small")
    assert widget.apply() is None
    assert "does not cover" in widget.status.value


def test_composite_pastes_cutouts_and_writes_their_coco(make_napari_viewer, qtbot, tmp_path):
    from pycocotools import mask as mask_utils

    image = data.astronaut()[:40, :50]
    viewer, layer, widget = _setup(make_napari_viewer, image)
    widget.mask.value = viewer.add_labels(_labels(), name="objects")
    target = viewer.add_image(np.zeros((60, 70, 3), np.uint8), name="bg", scale=(2.0, 2.0))
    widget.paste_on.value = target
    widget.folder.value, widget.pastes.value, widget.seed.value = str(tmp_path), 3, 7
    widget.composite_button.clicked.emit()
    qtbot.waitUntil(lambda: not widget.busy and bool(widget.written), timeout=20_000)
    expected, coco = co.composite(co.cutouts(image, _labels()), np.zeros((60, 70, 3), np.uint8),
                                  n=3, seed=7, file_name="bg composite.png")
    out = viewer.layers["bg composite"]
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(out.scale, (2.0, 2.0))
    written = json.loads(widget.written[0].read_text())
    assert written == json.loads(json.dumps(coco))
    np.testing.assert_array_equal(imread(tmp_path / "bg composite.png"), expected)
    # every annotation is exactly the pasted pixels that show
    shown = np.zeros((60, 70), bool)
    for ann in written["annotations"]:
        shown |= mask_utils.decode(ann["segmentation"]).astype(bool)
    assert shown.any() and (expected[shown] != 0).any()
