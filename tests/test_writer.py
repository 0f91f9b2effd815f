"""The napari writer in a real viewer: File > Save Layers as COCO, round trips and edits."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from napari.layers import Layer
from pycocotools.coco import COCO

from napari_coco_masks._reader import read_coco
from napari_coco_masks._writer import write_coco
from napari_coco_masks.coco import load_coco
from napari_coco_masks.coco.errors import CocoError

DATA = Path(__file__).parent / "data"
DATA_FILES = sorted(DATA.rglob("*.json"))
COCO2017 = DATA / "coco2017-4img/data_samples/coco_25k/annotations.json"
PLUGIN = "napari-coco-masks"


def _save(viewer, path: Path, layers) -> list[str]:
    viewer.layers.selection = set(layers)
    return viewer.layers.save(str(path), selected=True, plugin=PLUGIN)


def _open(viewer, path: Path) -> dict:
    viewer.open(str(path), plugin=PLUGIN)
    return {layer._type_string: layer for layer in viewer.layers}


def _masks(path: Path) -> tuple[dict, dict]:
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    anns = {a["id"]: a for a in coco.dataset["annotations"]}
    return anns, {i: coco.annToMask(a).astype(bool) for i, a in anns.items()}


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_open_then_save_is_lossless(make_napari_viewer, path, tmp_path):
    viewer = make_napari_viewer()
    layers = _open(viewer, path)
    chosen = [layers[t] for t in ("labels", "shapes", "image") if t in layers]
    out = _save(viewer, tmp_path / "out.json", chosen)
    assert out == [str(tmp_path / "out.json")]
    assert (tmp_path / "out.json").read_bytes() == path.read_bytes()  # byte-identical


def test_paint_an_instance_then_save(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    layers = _open(viewer, COCO2017)
    labels = layers["labels"]
    viewer.dims.set_current_step(0, 1)
    before = np.asarray(labels.data).copy()
    original = json.loads(COCO2017.read_text())
    image_1 = [a for a in original["annotations"] if a["image_id"] == original["images"][1]["id"]]
    new_value = len(image_1) + 1  # per-image label values: the next free one
    assert labels.features["index"].max() == len(image_1)
    labels.brush_size = 9
    labels.selected_label = new_value
    labels.paint((1, 60, 300), new_value)  # image 1, background area painted with a new label
    painted = (np.asarray(labels.data) != before)[1]
    assert painted.sum() > 20
    out = tmp_path / "painted.json"
    _save(viewer, out, [labels, layers["image"]])
    anns, masks = _masks(out)
    new = [a for a in anns.values() if a["id"] not in {o["id"] for o in original["annotations"]}]
    assert len(new) == 1
    assert new[0]["image_id"] == original["images"][1]["id"]
    assert new[0]["id"] == max(o["id"] for o in original["annotations"]) + 1
    h, w = original["images"][1]["height"], original["images"][1]["width"]
    assert np.array_equal(masks[new[0]["id"]], painted[:h, :w])
    touched = set(np.unique(before[1][painted]).tolist()) - {0}
    assert touched == set()  # painted on background
    for ann in original["annotations"]:
        assert anns[ann["id"]] == ann
    # every byte of the file kept; the new record inserted after the last one
    text, written = COCO2017.read_bytes(), out.read_bytes()
    end = int(load_coco(COCO2017).source.stop[-1])
    assert written.startswith(text[:end]) and written.endswith(text[end:])
    assert json.loads(written[end : len(written) - len(text) + end].lstrip(b", \n")) == new[0]


def test_grow_an_existing_instance(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    layers = _open(viewer, COCO2017)
    labels = layers["labels"]
    original = json.loads(COCO2017.read_text())
    data = np.asarray(labels.data).copy()
    value = int(np.bincount(data[0].ravel())[1:].argmax()) + 1  # largest instance of image 0
    rows, cols = np.nonzero(data[0] == value)
    target = data[0] == value
    target[max(rows.min() - 3, 0) : rows.min(), cols.min() : cols.min() + 10] = True
    new = data.copy()
    new[0][target] = value
    labels.data = new
    out = tmp_path / "grown.json"
    _save(viewer, out, [labels])
    image_0 = [a for a in original["annotations"] if a["image_id"] == original["images"][0]["id"]]
    edited = image_0[value - 1]
    anns, masks = _masks(out)
    assert anns[edited["id"]]["category_id"] == edited["category_id"]
    h, w = original["images"][0]["height"], original["images"][0]["width"]
    _, before = _masks(COCO2017)
    full = before[edited["id"]]
    old, now = data[0][:h, :w], new[0][:h, :w]
    hidden = full & (old != value) & (old != 0) & (now == old)  # still under other instances
    assert np.array_equal(masks[edited["id"]], target[:h, :w] | hidden)
    assert target[:h, :w].sum() > (data[0] == value).sum()
    assert anns[edited["id"]]["area"] == float(masks[edited["id"]].sum())


def test_move_a_shape_vertex(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    layers = _open(viewer, COCO2017)
    shapes = layers["shapes"]
    data = [np.asarray(d).copy() for d in shapes.data]
    data[0][0, 1:] += 5.0
    shapes.data = data
    shapes.shape_type = ["polygon"] * len(data)
    out = tmp_path / "moved.json"
    _save(viewer, out, [shapes])
    written = json.loads(out.read_text())
    original = json.loads(COCO2017.read_text())
    moved_id = shapes.features["annotation_id"][0]
    part = int(shapes.features["part"][0])
    by_id = {a["id"]: a for a in written["annotations"]}
    orig = {a["id"]: a for a in original["annotations"]}
    assert by_id[moved_id]["segmentation"][part][:2] == pytest.approx(
        [orig[moved_id]["segmentation"][part][0] + 5, orig[moved_id]["segmentation"][part][1] + 5]
    )
    assert sum(a != orig[a["id"]] for a in written["annotations"]) == 1


def test_layers_added_by_hand_round_trip(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    for data, meta, kind in read_coco(COCO2017):
        if kind in ("labels", "image"):
            viewer.add_layer(Layer.create(data, meta, kind))
    labels = next(layer for layer in viewer.layers if layer._type_string == "labels")
    assert hasattr(labels.data, "edited")
    out = _save(viewer, tmp_path / "lazy.json", list(viewer.layers))
    assert Path(out[0]).read_bytes() == COCO2017.read_bytes()
    labels.selected_label = 999
    labels.paint((2, 20, 20), 999)
    _save(viewer, tmp_path / "lazy2.json", list(viewer.layers))
    written = json.loads((tmp_path / "lazy2.json").read_text())
    assert len(written["annotations"]) == len(json.loads(COCO2017.read_text())["annotations"]) + 1


def test_plain_layers_with_an_image(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((30, 40)), name="cells.png")
    mask = np.zeros((30, 40), np.int32)
    mask[3:9, 4:12] = 1
    mask[15:25, 20:30] = 2
    labels = viewer.add_labels(mask, name="threshold")
    out = tmp_path / "plain.json"
    _save(viewer, out, [image, labels])
    anns, masks = _masks(out)
    written = json.loads(out.read_text())
    assert written["images"] == [{"id": 1, "file_name": "cells.png", "height": 30, "width": 40}]
    assert [np.array_equal(masks[i], mask == i) for i in (1, 2)] == [True, True]


def test_hand_drawn_shapes(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((50, 60)), name="photo")
    shapes = viewer.add_shapes(
        [
            np.array([[5, 5], [5, 20], [15, 20], [15, 5]]),
            np.array([[30, 30], [30, 45], [45, 38]]),
            np.array([[0, 0], [40, 50]]),
        ],
        shape_type=["rectangle", "polygon", "line"],
    )
    out = tmp_path / "drawn.json"
    with pytest.warns(UserWarning, match="line"):
        _save(viewer, out, [image, shapes])
    anns, masks = _masks(out)
    assert len(anns) == 2
    assert anns[1]["bbox"] == [5.5, 5.5, 15.0, 10.0]
    assert json.loads(out.read_text())["images"][0]["height"] == 50


def test_no_labels_or_shapes_is_a_clear_error(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((5, 5)))
    with pytest.warns(UserWarning, match="not a valid writer"):
        assert _save(viewer, tmp_path / "x.json", [image]) == []
    data, meta, kind = image.as_layer_data_tuple()
    with pytest.raises(CocoError, match="needs a Labels or Shapes layer to save, got image"):
        write_coco(str(tmp_path / "x.json"), [(data, meta, kind)])
    assert not (tmp_path / "x.json").exists()


def test_direct_call_contract(tmp_path):
    data = np.zeros((2, 8, 8), np.uint8)
    data[0, 1:4, 1:4] = 1
    data[1, 2:6, 2:6] = 3
    out = write_coco(str(tmp_path / "d.json"), [(data, {"name": "stack"}, "labels")])
    written = json.loads(Path(out[0]).read_text())
    assert [im["file_name"] for im in written["images"]] == ["stack_0000", "stack_0001"]
    assert [(a["image_id"], a["area"]) for a in written["annotations"]] == [(1, 9.0), (2, 16.0)]


def test_new_labels_over_a_coco_image_take_its_file_names(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    layers = _open(viewer, COCO2017)
    image = layers["image"]
    mask = np.zeros(image.data.shape[:3], np.int32)
    mask[:, 10:20, 10:20] = 1
    labels = viewer.add_labels(mask, name="threshold")
    out = tmp_path / "new.json"
    _save(viewer, out, [image, labels])
    written = json.loads(out.read_text())
    original = json.loads(COCO2017.read_text())
    assert [im["file_name"] for im in written["images"]] == [
        im["file_name"] for im in original["images"]
    ]
    assert [(im["height"], im["width"]) for im in written["images"]] == [
        (im["height"], im["width"]) for im in original["images"]
    ]
    anns, masks = _masks(out)
    assert len(anns) == 4 and all(m.sum() == 100 for m in masks.values())


def test_several_plain_layers_are_merged(tmp_path):
    a = np.zeros((10, 10), np.uint8)
    a[1:4, 1:4] = 1
    b = np.zeros((10, 10), np.uint8)
    b[5:9, 5:9] = 2
    layers = [
        (a, {"name": "cells", "features": {"index": [1], "category": ["cell"]}}, "labels"),
        (b, {"name": "nuclei", "features": {"index": [2], "category": ["nucleus"]}}, "labels"),
        ([np.array([[0, 0], [0, 3], [3, 3], [3, 0]])], {"shape_type": ["rectangle"],
         "features": {"category": ["cell"]}}, "shapes"),
    ]
    written = json.loads(Path(write_coco(str(tmp_path / "m.json"), layers)[0]).read_text())
    assert [c["name"] for c in written["categories"]] == ["cell", "nucleus"]
    assert [(a["id"], a["category_id"], a["area"]) for a in written["annotations"]] == [
        (1, 1, 9.0), (2, 2, 16.0), (3, 1, 9.0)
    ]


def test_a_new_shape_never_takes_an_existing_identity(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    layers = _open(viewer, COCO2017)
    shapes = layers["shapes"]
    original = json.loads(COCO2017.read_text())
    deleted = int(shapes.features["annotation_id"].iloc[-1])
    last_attrs = shapes.features.iloc[-1].to_dict()
    shapes.selected_data = {len(shapes.data) - 1}
    shapes.remove_selected()  # napari copies the last row's features onto new shapes ...
    shapes.add_polygons([np.array([[0, 10, 10], [0, 10, 40], [0, 40, 25]], float)])
    row = shapes.features.iloc[-1]
    assert pd.isna(row["annotation_id"]) and pd.isna(row["part"])  # ... we clear its identity
    assert row["category_id"] == last_attrs["category_id"]  # its category is kept
    out = tmp_path / "drawn.json"
    _save(viewer, out, [shapes])
    written = {a["id"]: a for a in json.loads(out.read_text())["annotations"]}
    assert deleted not in written  # the deleted annotation stays deleted
    new = [a for i, a in written.items() if i not in {o["id"] for o in original["annotations"]}]
    assert len(new) == 1 and new[0]["id"] == max(o["id"] for o in original["annotations"]) + 1
    assert new[0]["segmentation"] == [[10.5, 10.5, 40.5, 10.5, 25.5, 40.5]]
    assert new[0]["image_id"] == original["images"][0]["id"] and "attributes" not in new[0]


KEYPOINTS = DATA / "datumaro-fixtures/tests/assets/coco_dataset/coco_person_keypoints/annotations"


def test_keypoints_file_saved_with_every_layer_selected(make_napari_viewer, tmp_path):
    path = KEYPOINTS / "person_keypoints_val.json"
    viewer = make_napari_viewer()
    layers = _open(viewer, path)
    assert set(layers) == {"image", "labels", "shapes", "points"}
    out = tmp_path / "same.json"
    assert _save(viewer, out, list(layers.values())) == [str(out)]  # every layer: written
    assert out.read_bytes() == path.read_bytes()
    points = layers["points"]
    moved_id = int(points.features["annotation_id"][0])
    k = int(points.features["keypoint"][0])
    data = np.asarray(points.data).copy()
    data[0, -2:] += [3.0, 4.0]  # (row, col) += (3, 4): x += 4, y += 3
    points.data = data
    out = tmp_path / "moved.json"
    _save(viewer, out, list(layers.values()))
    before = {a["id"]: a for a in json.loads(path.read_text())["annotations"]}
    after = {a["id"]: a for a in json.loads(out.read_text())["annotations"]}
    changed = [i for i in before if before[i] != after[i]]
    assert changed == [moved_id]
    old, new = before[moved_id]["keypoints"], after[moved_id]["keypoints"]
    assert new[3 * k : 3 * k + 3] == [old[3 * k] + 4, old[3 * k + 1] + 3, old[3 * k + 2]]
    assert new[: 3 * k] + new[3 * k + 3 :] == old[: 3 * k] + old[3 * k + 3 :]


def test_points_alone_or_not_from_coco(tmp_path):
    pts = (np.array([[1.0, 2.0]]), {"name": "seeds"}, "points")
    with pytest.raises(CocoError, match="keypoints are saved with the instances"):
        write_coco(str(tmp_path / "p.json"), [pts])
    labels = np.zeros((8, 8), np.uint8)
    labels[2:4, 2:4] = 1
    with pytest.warns(UserWarning, match="Points layer.*not saved"):
        write_coco(str(tmp_path / "l.json"), [(labels, {"name": "m"}, "labels"), pts])
    assert len(json.loads((tmp_path / "l.json").read_text())["annotations"]) == 1


def test_mixing_a_coco_layer_with_other_layers_is_refused(tmp_path):
    coco_layers = [(d, m, k) for d, m, k in read_coco(COCO2017) if k == "labels"]
    plain = (np.zeros((4, 8, 8), np.int32), {"name": "threshold"}, "labels")
    with pytest.raises(CocoError, match=r"mix layers not read from COCO \('threshold'\)"):
        write_coco(str(tmp_path / "x.json"), [*coco_layers, plain])
    other = [(d, m, k) for d, m, k in read_coco(COCO2017) if k == "labels"]
    with pytest.raises(CocoError, match="mix 2 different COCO files"):
        write_coco(str(tmp_path / "x.json"), [*coco_layers, *other])
    assert not (tmp_path / "x.json").exists()


def test_saving_over_the_source_file_keeps_the_layers_working(make_napari_viewer, tmp_path):
    """File > Save onto the file the layers were read from: the session re-bases on the new
    bytes; the next slider steps read the new file (never "changed on disk")."""
    import shutil
    import warnings

    from napari_coco_masks.coco.session import CocoSession

    shutil.copy(COCO2017, tmp_path / "a.json")
    path = tmp_path / "a.json"
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the images are not beside the copy
        layers = {ly._type_string: ly for ly in viewer.open(str(path), plugin=PLUGIN)}
    labels, shapes = layers["labels"], layers["shapes"]
    session = labels.metadata["coco"]["session"]
    viewer.dims.set_current_step(0, 1)
    value = int(labels.features["index"].max()) + 1
    labels.selected_label = value
    labels.brush_size = 7
    labels.paint((1, 5, 5), value)
    painted = np.asarray(labels.data[1]) == value
    deleted = int(shapes.features["annotation_id"][0])
    shapes.selected_data = {0}
    shapes.remove_selected()
    top = max(a["id"] for a in json.loads(COCO2017.read_text())["annotations"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "shown without labels" warning
        assert _save(viewer, path, [labels, shapes]) == [str(path)]
        assert session.edited_images() == [] and session.current == 1
        # the shown image is the saved one: the new instance has its id, the deleted is gone
        assert top + 1 in labels.features["annotation_id"].tolist()
        assert deleted not in labels.features["annotation_id"].tolist()
        assert deleted not in shapes.features["annotation_id"].tolist()
        row = labels.features[labels.features["annotation_id"] == top + 1]
        assert np.array_equal(np.asarray(labels.data[1]) == int(row["index"].item()), painted)
        for i in (2, 3, 0, 1):  # every other image read from the new bytes
            viewer.dims.set_current_step(0, i)
            saved = load_coco(path)
            assert labels.features["annotation_id"].tolist() == [
                a.id for a in saved.image_annotations(i)]
            h, w = saved.images[i].height, saved.images[i].width
            assert np.array_equal(np.asarray(labels.data[i])[:h, :w],
                                  CocoSession(saved).label_plane(i))
    anns, masks = _masks(path)
    assert np.array_equal(masks[top + 1], painted[: masks[top + 1].shape[0],
                                                  : masks[top + 1].shape[1]])
    assert deleted not in anns
    before = path.read_bytes()  # a second save with no edits: the same bytes
    _save(viewer, path, [labels, shapes])
    assert path.read_bytes() == before
