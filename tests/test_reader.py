"""The napari reader: layers from real and generated COCO files, image finding, big datasets."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coco_testing import per_image_labels
from napari_coco_masks import _reader
from napari_coco_masks._reader import coco_layer_data, get_reader, read_coco
from napari_coco_masks.coco import CocoError, load_coco
from napari_coco_masks.coco.session import CocoSession, LabelPlanes

DATA = Path(__file__).parent / "data"
REAL_FILES = sorted(DATA.rglob("*.json"))
COCO2017 = DATA / "coco2017-4img/data_samples/coco_25k/annotations.json"
CVAT = DATA / "cvat-carinterior-polygons/annotations/instances_default.json"
ROBOFLOW = DATA / "roboflow-braintumor-polygons/test/_annotations.coco.json"
DATUMARO = DATA / "datumaro-fixtures/tests/assets/coco_dataset"
KEYPOINTS = DATUMARO / "coco_person_keypoints/annotations/person_keypoints_val.json"
CONTRACT = ["annotation_id", "image_id", "category_id", "category", "iscrowd"]


def _layers(path) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {kind: (data, meta) for data, meta, kind in read_coco(path)}



def _dataset(images, annotations=None, categories=None) -> dict:
    return {
        "images": images,
        "annotations": annotations or [],
        "categories": categories or [{"id": 1, "name": "thing"}],
    }


def _image(i, name, h=12, w=16):
    return {"id": i, "file_name": name, "height": h, "width": w}


def _png(path: Path, h=12, w=16, mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    Image.fromarray(np.full(shape, 200, np.uint8), mode=mode).save(path)
    return path


# -- get_reader ---------------------------------------------------------------------------


def test_get_reader_declines_what_is_not_coco(tmp_path):
    txt = tmp_path / "a.txt"
    txt.write_text("{}")
    geo = tmp_path / "geo.json"
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    garbage = tmp_path / "bad.json"
    garbage.write_text("not json at all")
    assert get_reader(str(txt)) is None
    assert get_reader(str(geo)) is None
    assert get_reader(str(garbage)) is None
    assert get_reader([str(COCO2017), str(CVAT)]) is None
    assert get_reader(str(tmp_path / "missing.json")) is None


def test_results_file_returns_none_with_advice(tmp_path):
    path = tmp_path / "detections.json"
    path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}]))
    with pytest.warns(UserWarning, match="results file.*ground-truth"):
        assert get_reader(str(path)) is None


def test_malformed_coco_raises_coco_error_when_read(tmp_path):
    obj = _dataset([_image(1, "a.png")], [{"id": 1, "image_id": 1, "category_id": 1,
                                           "segmentation": [[1, 2, 3, 4]]}])
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(obj))
    reader = get_reader(str(path))
    assert callable(reader)
    with pytest.raises(CocoError, match=r"annotations\[0\]\.segmentation\[0\]"):
        reader(str(path))


def test_get_reader_accepts_a_single_path_list():
    reader = get_reader([str(KEYPOINTS)])
    layers = reader([str(KEYPOINTS)])
    assert [kind for *_, kind in layers] == ["image", "labels", "shapes", "points"]


# -- layers of real files ---------------------------------------------------------------------


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.parent.parent.name + "/" + p.name)
def test_real_file_layers_follow_the_contract(path):
    ds = load_coco(path)
    layers = _layers(path)
    assert "labels" in layers and "image" in layers
    labels, lmeta = layers["labels"]
    stacked = len(ds.images) > 1
    h = max(s[0] for s in ds.image_shapes)
    w = max(s[1] for s in ds.image_shapes)
    assert labels.shape == ((len(ds.images), h, w) if stacked else (h, w))
    coco = lmeta["metadata"]["coco"]
    assert coco["source"] == str(path)
    session = coco["session"]
    assert isinstance(session, CocoSession) and session.dataset.path == path
    assert coco["image_shapes"] == ds.image_shapes
    assert coco["image_ids"] == [im.id for im in ds.images]
    for _data, meta in layers.values():
        assert meta["metadata"]["coco"] is coco  # the same dict on every layer
    feats = lmeta["features"]
    assert list(feats.columns[:6]) == ["index", *CONTRACT]
    first = ds.image_annotations(0)
    assert feats["index"].tolist() == list(range(1, len(first) + 1))
    assert feats["annotation_id"].tolist() == [a.id for a in first]
    for i in range(len(ds.images)):  # every plane: pycocotools-exact, per-image values
        plane = np.asarray(labels[i] if stacked else labels)
        im = ds.images[i]
        assert np.array_equal(plane[: im.height, : im.width], per_image_labels(ds, i))
        assert not plane[im.height :].any() and not plane[:, im.width :].any()
        assert plane.max() <= len(ds.image_annotations(i))


def test_colours_are_per_category_and_equal_in_labels_and_shapes():
    ds = load_coco(COCO2017)
    layers = _layers(COCO2017)
    cmap = layers["labels"][1]["colormap"]
    shapes_meta = layers["shapes"][1]
    feats = shapes_meta["features"]
    first = ds.image_annotations(0)
    value = {a.id: k + 1 for k, a in enumerate(first)}
    for ann_id, edge in zip(feats["annotation_id"], shapes_meta["edge_color"], strict=True):
        label_rgba = np.asarray(cmap.color_dict[value[ann_id]])
        from napari.utils.colormaps.standardize_color import transform_color

        assert np.allclose(label_rgba, transform_color(edge)[0])
    cats = {}
    for k, a in enumerate(first):
        colour = tuple(np.asarray(cmap.color_dict[k + 1]))
        assert cats.setdefault(a.category_position, colour) == colour
    assert len(set(cats.values())) == len(cats)
    assert np.asarray(cmap.color_dict[0])[3] == 0  # background transparent


def test_cvat_attributes_become_feature_columns():
    feats = _layers(CVAT)["labels"][1]["features"]
    assert {"attributes.occluded", "attributes.Severity"} <= set(feats.columns)
    assert feats["attributes.occluded"].tolist() == [False] * len(feats)


def test_shapes_are_polygons_with_half_pixel_shift_and_boxes():
    ds = load_coco(COCO2017)
    shapes, meta = _layers(COCO2017)["shapes"]
    types = meta["shape_type"]
    assert set(types) == {"polygon"}
    n_parts = sum(len(a.segmentation) for a in ds.image_annotations(0))
    assert len(shapes) == n_parts == len(meta["features"])  # the first image's polygons only
    assert set(meta["features"]["image_id"]) == {ds.images[0].id}
    session = meta["metadata"]["coco"]["session"]
    assert any(  # a multi-part annotation on some image
        max(session.file_shapes(i).features["part"], default=0) >= 1 for i in range(4)
    )
    a = ds.annotations[0]
    xy = np.asarray(a.segmentation[0]).reshape(-1, 2)
    assert np.allclose(shapes[0][:, 0], a.image_position)
    expected = xy[:, ::-1] - 0.5
    repeated = np.flatnonzero((expected[1:] == expected[:-1]).all(axis=1)) + 1
    assert repeated.tolist() == [48]  # a real repeated vertex, dropped for napari
    assert np.allclose(shapes[0][:, 1:], np.delete(expected, repeated, axis=0))
    train = DATUMARO / "coco_instances/annotations/instances_train.json"
    box, bmeta = _layers(train)["shapes"]
    assert bmeta["shape_type"] == ["rectangle"] and bmeta["features"]["part"].tolist() == [-1]
    assert np.allclose(box[0], [[1.5, 1.5], [1.5, 4.5], [2.5, 4.5], [2.5, 1.5]])


def test_keypoints_become_points_with_visibility_and_skeleton():
    points, meta = _layers(KEYPOINTS)["points"]
    feats = meta["features"]
    assert set(feats["visibility"]) == {2}
    assert np.allclose(points[0], [2, 1])  # COCO (x=1, y=2): pixel indices, no shift
    assert meta["metadata"]["skeleton"] == {1: [[0, 1], [1, 2]], 2: [[0, 1], [1, 2]]}
    assert list(feats.columns[:5]) == CONTRACT
    train = _layers(DATUMARO / "coco_person_keypoints/annotations/person_keypoints_train.json")
    assert len(train["points"][0]) == 2  # the keypoint with visibility 0 is left out


def test_roboflow_images_found_beside_the_json_and_rgb():
    image, meta = _layers(ROBOFLOW)["image"]
    assert image.shape == (100, 640, 640, 3) and meta["rgb"]
    assert all(meta["metadata"]["image_files"])


# -- finding images -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("json_rel", "image_rel", "file_name"),
    [
        ("instances.json", "a.png", "a.png"),
        ("instances.json", "images/a.png", "a.png"),
        ("annotations/instances.json", "images/a.png", "a.png"),
        ("annotations/instances.json", "images/val/a.png", "val/a.png"),
        ("annotations/instances_val.json", "images/val/a.png", "a.png"),
        ("annotations/instances_val2017.json", "val2017/a.png", "a.png"),
        ("train/_annotations.coco.json", "train/a.png", "a.png"),
        ("train.json", "train/a.png", "a.png"),
        ("instances.json", "a.png", "some/old/export/path/a.png"),
    ],
)
def test_images_are_found_where_exports_put_them(tmp_path, json_rel, image_rel, file_name):
    _png(tmp_path / image_rel)
    path = tmp_path / json_rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_dataset([_image(1, file_name)])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "missing" warning
        layers = {kind: (d, m) for d, m, kind in read_coco(path)}
    image, meta = layers["image"]
    assert image.shape == (12, 16, 3) and meta["rgb"]
    assert meta["metadata"]["image_files"] == [str((tmp_path / image_rel).resolve())]


def test_absolute_file_name(tmp_path):
    png = _png(tmp_path / "elsewhere" / "b.png")
    path = tmp_path / "ann" / "x.json"
    path.parent.mkdir()
    path.write_text(json.dumps(_dataset([_image(1, str(png))])))
    assert "image" in _layers(path)


def test_missing_images_warn_once_and_never_fetch_urls(tmp_path, monkeypatch):
    import socket
    import urllib.request

    def no_network(*args, **kwargs):
        raise AssertionError("the reader must not touch the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    _png(tmp_path / "a.png")
    images = [_image(1, "a.png"), _image(2, "gone.png"), _image(3, "also-gone.jpg")]
    for im in images:
        im["coco_url"] = "http://images.cocodataset.org/val2017/" + im["file_name"]
        im["flickr_url"] = "http://farm.example/" + im["file_name"]
    anns = [{"id": 1, "image_id": 2, "category_id": 1, "segmentation": [[1, 1, 5, 1, 5, 5]]}]
    path = tmp_path / "x.json"
    path.write_text(json.dumps(_dataset(images, anns)))
    with pytest.warns(UserWarning, match="2 of 3 image files not found") as rec:
        layers = {kind: (d, m) for d, m, kind in read_coco(path)}
    assert len([r for r in rec if "not found" in str(r.message)]) == 1
    assert "'gone.png'" in str(rec[0].message) and "'also-gone.jpg'" in str(rec[0].message)
    image, _ = layers["image"]
    assert image[0].any() and not image[1].any()
    assert layers["labels"][0][1].any()


def test_no_images_at_all_still_opens_annotations(tmp_path):
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 5, 1, 5, 5]]}]
    path = tmp_path / "x.json"
    path.write_text(json.dumps(_dataset([_image(1, "nowhere.png")], anns)))
    with pytest.warns(UserWarning, match="not found"):
        kinds = [kind for *_, kind in read_coco(path)]
    assert kinds == ["labels", "shapes"]


def test_mixed_sizes_and_grey_images_stack_padded(tmp_path):
    _png(tmp_path / "big.png", 20, 30, mode="L")
    _png(tmp_path / "small.png", 10, 8, mode="L")
    images = [_image(1, "big.png", 20, 30), _image(2, "small.png", 10, 8)]
    anns = [{"id": 5, "image_id": 2, "category_id": 1, "segmentation": [[0, 0, 8, 0, 8, 10, 0, 10]]}]
    path = tmp_path / "x.json"
    path.write_text(json.dumps(_dataset(images, anns)))
    layers = _layers(path)
    image, meta = layers["image"]
    assert image.shape == (2, 20, 30) and not meta["rgb"]
    assert image[1, :10, :8].all() and not image[1, 10:].any() and not image[1, :, 8:].any()
    labels, lmeta = layers["labels"]
    assert (labels[1, :10, :8] == 1).all() and not labels[1, 10:].any()
    assert lmeta["metadata"]["coco"]["image_shapes"] == [(20, 30), (10, 8)]


def test_images_without_annotations_are_kept():
    labels, meta = _layers(ROBOFLOW)["labels"]
    assert labels.shape[0] == 100
    assert sum(1 for i in range(100) if not np.asarray(labels[i]).any()) == 43


def test_empty_dataset_adds_nothing(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    with pytest.warns(UserWarning, match="no images"):
        assert get_reader(str(path))(str(path)) == [(None,)]


# -- big datasets ---------------------------------------------------------------------------


def _many(tmp_path, n_images=6, per_image=40, size=256) -> Path:
    rng = np.random.default_rng(0)
    images = [_image(i + 1, f"{i}.png", size, size) for i in range(n_images)]
    anns = []
    for im in images:
        for _ in range(per_image):
            cx, cy = rng.uniform(20, size - 20, 2)
            ang = np.sort(rng.uniform(0, 2 * np.pi, 12))
            xy = np.column_stack([cx + 15 * np.cos(ang), cy + 15 * np.sin(ang)]).ravel()
            anns.append({"id": len(anns) + 1, "image_id": im["id"], "category_id": 1,
                         "segmentation": [xy.round(2).tolist()]})
    path = tmp_path / "many.json"
    path.write_text(json.dumps(_dataset(images, anns)))
    return path


def test_labels_are_a_lazy_stack_with_small_values(tmp_path):
    path = _many(tmp_path)
    labels, meta = _layers(path)["labels"]
    assert isinstance(labels, LabelPlanes) and labels.shape == (6, 256, 256)
    assert labels.edited == []
    ds = load_coco(path)
    dense = np.asarray(labels)
    for i in range(6):
        assert np.array_equal(dense[i], per_image_labels(ds, i))
    assert dense.max() <= 40  # per-image values: 40 instances per image, not 240
    assert len(meta["features"]) == 40 and len(meta["colormap"].color_dict) == 42


def test_shapes_are_always_present_with_the_first_images_polygons(tmp_path):
    path = _many(tmp_path)  # 240 polygons, 40 per image
    shapes, meta = _layers(path)["shapes"]
    assert len(shapes) == 40 and {int(v[0, 0]) for v in shapes} == {0}
    assert meta["ndim"] == 3
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(_dataset([_image(1, "a.png")])))
    shapes, meta = _layers(empty)["shapes"]  # nothing to show yet, but shapes can be drawn
    assert shapes == [] and meta["ndim"] == 2


def test_a_polygon_napari_cannot_triangulate_becomes_a_path(monkeypatch):
    import napari.layers

    real = napari.layers.Shapes
    ds = load_coco(COCO2017)
    bad_length = len(CocoSession(ds).file_shapes(0).data[1])

    def picky(data, *args, **kwargs):
        if any(len(d) == bad_length for d in data):  # pretend napari fails on one polygon
            raise RuntimeError("Triangulation failed")
        return real(data, *args, **kwargs)

    monkeypatch.setattr(_reader, "_compiled_triangulation", lambda: False)
    monkeypatch.setattr(napari.layers, "Shapes", picky)
    with pytest.warns(UserWarning, match="shown as outlines"):
        layers = {kind: (d, m) for d, m, kind in coco_layer_data(ds)}
    shapes, meta = layers["shapes"]
    bad = [i for i, d in enumerate(shapes) if len(d) == bad_length]
    assert bad and all(meta["shape_type"][i] == "path" for i in bad)
    assert meta["shape_type"].count("polygon") == len(shapes) - len(bad)


def test_degenerate_polygon_left_out_of_shapes_only(tmp_path):
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 1, 1, 1, 1, 5, 5]]},
        {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9, 1, 1]]},
    ]
    path = tmp_path / "x.json"
    path.write_text(json.dumps(_dataset([_image(1, "a.png")], anns)))
    with pytest.warns(UserWarning, match="degenerate"):
        layers = {kind: (d, m) for d, m, kind in read_coco(path)}
    shapes, meta = layers["shapes"]
    assert meta["features"]["annotation_id"].tolist() == [2]
    assert len(shapes[0]) == 3  # the closing repeat of the first vertex is dropped


# -- in a real viewer -----------------------------------------------------------------------


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.parent.parent.name + "/" + p.name)
def test_every_real_file_opens_in_a_viewer(make_napari_viewer, path):
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = viewer.open(str(path), plugin="napari-coco-masks")
    kinds = [layer._type_string for layer in layers]
    assert kinds[:2] == ["image", "labels"] and "shapes" in kinds
    labels = layers[1]
    assert labels.features["index"].tolist()[:3] == [1, 2, 3][: len(labels.features)]
    if labels.ndim == 3:
        viewer.dims.set_current_step(0, labels.data.shape[0] - 1)


def test_labels_in_a_viewer_can_be_painted_and_kept_per_image(make_napari_viewer, tmp_path):
    path = _many(tmp_path)
    viewer = make_napari_viewer()
    viewer.open(str(path), plugin="napari-coco-masks")
    labels = next(layer for layer in viewer.layers if layer._type_string == "labels")
    viewer.dims.set_current_step(0, 3)
    labels.paint((3, 5, 5), 99)
    viewer.dims.set_current_step(0, 0)
    assert labels.data[0, 5, 5] == 0
    viewer.dims.set_current_step(0, 3)
    assert labels.data[3, 5, 5] == 99 and labels.data.edited == [3]


def test_screenshot_of_a_real_dataset(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer(show=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        viewer.open(str(COCO2017), plugin="napari-coco-masks")
    viewer.dims.set_current_step(0, 0)
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    rgb = shot[..., :3].reshape(-1, 3)
    assert rgb.std() > 20
    assert len(np.unique(rgb, axis=0)) > 1000
    Image.fromarray(shot).save(tmp_path / "reader-screenshot.png")
    # The README's picture: written when missing, or refreshed with UPDATE_SCREENSHOTS=1.
    out = Path(__file__).parents[1] / "docs" / "reader-screenshot.png"
    if out.parent.is_dir() and (not out.exists() or os.environ.get("UPDATE_SCREENSHOTS") == "1"):
        Image.fromarray(shot).save(out)


def test_sample_folder_copy_opens_from_anywhere(tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(COCO2017.parent, dest)
    layers = _layers(dest / "annotations.json")
    assert layers["image"][0].shape[0] == 4
