"""Bad input to the COCO model: one CocoError naming the file and the JSON path, never a crash."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from napari_coco_masks.coco import CocoError, load_coco, model, source
from napari_coco_masks.coco.model import MAX_SIDE


def _obj(**ann) -> dict:
    record = {"id": 1, "image_id": 1, "category_id": 1,
              "segmentation": [[1, 1, 5, 1, 5, 5]], **ann}
    return {
        "images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 30}],
        "categories": [{"id": 1, "name": "cell", "skeleton": [[1, 2], "x", [1]],
                        "keypoints": "nose"}],
        "annotations": [record],
    }


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "instances.json"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    ("text", "where", "match"),
    [
        # Python's json writes NaN: the message names the coordinate and shows it
        (json.dumps(_obj(segmentation=[[1, 1, 5, 1, 5, float("nan")]])),
         r"annotations\[0\]\.segmentation\[0\]\[5\]", "NaN"),
        (json.dumps(_obj(segmentation=[[1, 1, 5, 1, 5, float("inf")]])),
         r"annotations\[0\]\.segmentation\[0\]\[5\]", "Infinity"),
        (json.dumps(_obj(segmentation=[[1, 1, 1e18, 1, 5, 5]])),
         r"annotations\[0\]\.segmentation\[0\]\[2\]", "outside the image"),
        (json.dumps(_obj(segmentation=[[1, 1, "5", 1, 5, 5]])),
         r"annotations\[0\]\.segmentation\[0\]\[2\]", "must be numbers"),
        (json.dumps(_obj(iscrowd="abc")), r"annotations\[0\]\.iscrowd", "0 or 1"),
        (json.dumps(_obj(keypoints=[1, 2, 2, 3])), r"annotations\[0\]\.keypoints", "x, y"),
        (json.dumps(_obj()).replace('"id": 1, "image_id"', '"id": ' + "9" * 5000 + ', "image_id"'),
         r"annotations\[0\]", "out of range"),  # more digits than Python's int() takes
    ],
)
def test_bad_values_are_one_coco_error(tmp_path, text, where, match):
    path = _write(tmp_path, text)
    with pytest.raises(CocoError, match=match) as info:
        load_coco(path)
    assert str(path) in str(info.value)
    assert info.value.where is not None and __import__("re").search(where, info.value.where)


def test_huge_declared_image_size_is_refused_before_allocating(tmp_path):
    obj = _obj()
    obj["images"][0]["width"] = 2**31
    with pytest.raises(CocoError, match=rf"images\[0\]\.width: 'width' is 2147483648 pixels, more than the {MAX_SIDE}"):
        load_coco(_write(tmp_path, json.dumps(obj)))


def test_deep_nesting_is_a_coco_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    text = json.dumps(_obj()).replace('"iscrowd"', '"x"')[:-3] + f', "deep": {deep}}}]}}'
    with pytest.raises(CocoError, match="nested too deeply"):
        load_coco(_write(tmp_path, text))


def test_malformed_skeleton_and_keypoint_names_are_ignored(tmp_path):
    ds = load_coco(_write(tmp_path, json.dumps(_obj())))
    assert ds.categories[0].skeleton == [[1, 2]]
    assert ds.categories[0].keypoints == []


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(CocoError, match="not a regular file"):
        load_coco(fifo)


def test_a_file_too_large_for_memory_is_refused_before_reading(tmp_path, monkeypatch):
    path = _write(tmp_path, json.dumps(_obj()))
    monkeypatch.setattr(source, "_available_memory", lambda: 100)
    with pytest.raises(CocoError, match=r"needs about .* GiB of memory, but only"):
        load_coco(path)


def test_utf16_is_read_by_the_model_and_the_reader(tmp_path):
    from napari_coco_masks._reader import get_reader

    path = _write(tmp_path, json.dumps(_obj()).encode("utf-16"))
    assert len(load_coco(path).image_annotations(0)) == 1
    assert callable(get_reader(str(path)))


def test_big_files_check_each_image_when_it_is_first_asked_for(tmp_path, monkeypatch):
    obj = _obj()
    obj["images"].append({"id": 2, "file_name": "b.png", "height": 20, "width": 30})
    obj["annotations"].append({"id": 2, "image_id": 2, "category_id": 1,
                               "segmentation": [[1, 1, 5]]})
    path = _write(tmp_path, json.dumps(obj))
    with pytest.raises(CocoError, match=r"annotations\[1\]\.segmentation\[0\]"):
        load_coco(path)  # small files are checked whole when read
    monkeypatch.setattr(model, "EAGER_CHECK_BYTES", 0)
    ds = load_coco(path)  # big ones: each image when first shown
    assert len(ds.image_annotations(0)) == 1
    with pytest.raises(CocoError, match=r"annotations\[1\]\.segmentation\[0\]: a polygon needs"):
        ds.image_annotations(1)
    skipping = load_coco(path, invalid="skip")
    with pytest.warns(UserWarning, match=r"annotations\[1\]"):
        assert skipping.image_annotations(1) == []
    assert skipping.skipped == [1]


def test_a_bad_image_shown_in_a_viewer_is_a_notification(make_napari_viewer, tmp_path, monkeypatch):
    obj = _obj()
    obj["images"].append({"id": 2, "file_name": "b.png", "height": 20, "width": 30})
    obj["annotations"].append({"id": 2, "image_id": 2, "category_id": 1,
                               "segmentation": [[1, 1, 5]]})
    path = _write(tmp_path, json.dumps(obj))
    monkeypatch.setattr(model, "EAGER_CHECK_BYTES", 0)
    viewer = make_napari_viewer()
    errors = []
    import napari_coco_masks._browse as browse

    monkeypatch.setattr(
        "napari.utils.notifications.show_error", lambda msg: errors.append(msg), raising=True
    )
    with pytest.warns(UserWarning):
        layers = viewer.open(str(path), plugin="napari-coco-masks")
        viewer.dims.set_current_step(0, 0)
        assert len(layers[0].features) == 1
        viewer.dims.set_current_step(0, 1)
    assert browse is not None and errors and r"annotations[1].segmentation[0]" in errors[-1]
    assert len(layers[0].features) == 0 and len(layers[1].data) == 0  # shown empty
    assert not layers[0].data.plane(1).any()
    viewer.dims.set_current_step(0, 0)  # the good image comes back
    assert len(layers[0].features) == 1 and len(layers[1].data) == 1


@pytest.mark.parametrize(
    ("features", "match"),
    [
        ({"index": ["L1"]}, r"features\['index'\] row 0 must be an integer label value, got 'L1'"),
        ({"index": [1], "iscrowd": ["abc"]}, "'iscrowd' feature must be 0 or 1, got 'abc'"),
        ({"index": [1], "category_id": [[1]]}, r"an id must be an integer or a string, got \[1\]"),
    ],
)
def test_bad_feature_values_are_one_coco_error(features, match):
    import numpy as np

    from napari_coco_masks.coco.write import dataset_from_labels

    labels = np.zeros((8, 8), np.int32)
    labels[2:5, 2:5] = 1
    import pandas as pd

    with pytest.raises(CocoError, match=match):
        dataset_from_labels(labels, pd.DataFrame(features))  # as a napari layer holds it


@pytest.mark.parametrize(
    "change",
    [
        {"annotation": {"id": 2**64}},
        {"annotation": {"category_id": 2**64}},
        {"annotation": {"image_id": 2**63}, "image": {"id": 2**63}},
    ],
)
def test_ids_beyond_int64_take_the_general_path(tmp_path, change):
    obj = _obj(**change.get("annotation", {}))
    obj["images"][0].update(change.get("image", {}))
    if "category_id" in change.get("annotation", {}):
        obj["categories"][0]["id"] = 2**64
    ds = load_coco(_write(tmp_path, json.dumps(obj)))
    assert [a.id for a in ds.image_annotations(0)] == [obj["annotations"][0]["id"]]


def test_a_list_inside_a_polygon_is_a_coco_error(tmp_path):
    with pytest.raises(CocoError, match=r"annotations\[0\]\.segmentation\[0\]\[2\]: polygon coordinates must be numbers"):
        load_coco(_write(tmp_path, json.dumps(_obj(segmentation=[[1, 1, [5], 1, 5, 5]]))))


def test_a_canvas_over_the_pixel_budget_is_refused_before_allocating(tmp_path):
    from napari_coco_masks.coco.session import CocoSession

    obj = _obj()
    obj["images"][0].update(height=40000, width=65536)
    ds = load_coco(_write(tmp_path, json.dumps(obj)))
    with pytest.raises(CocoError, match="over the pixel budget"):
        CocoSession(ds)


def test_far_shapes_are_clipped_before_pycocotools_and_ellipses_need_four_corners(tmp_path):
    import contextlib
    import io

    import numpy as np
    from pycocotools.coco import COCO

    from napari_coco_masks.coco.write import dataset_from_shapes, write_coco

    ds = dataset_from_shapes([np.array([[0, 0], [0, 1e9], [1e9, 1e9]])], "polygon",
                             image_shapes=[(10, 10)])
    assert max(ds["annotations"][0]["segmentation"][0]) < 1e4
    out = write_coco(ds, tmp_path / "far.json")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))  # pycocotools loads it (it segfaulted on the raw values)
    mask = coco.annToMask(coco.dataset["annotations"][0])
    assert mask.shape == (10, 10) and mask.sum() > 0
    with pytest.warns(UserWarning, match="ellipse"):
        odd = dataset_from_shapes([np.ones((3, 2))], "ellipse", image_shapes=[(10, 10)])
    assert odd["annotations"] == []
