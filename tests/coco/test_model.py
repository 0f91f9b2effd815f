"""The COCO model: real files, dialects, validation errors naming file and JSON path, purity."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from napari_coco_masks.coco import (
    CocoDataset,
    CocoError,
    CocoResultsError,
    NotCocoError,
    load_coco,
    parse_coco,
)
from napari_coco_masks.coco.rle import check_rle, decode_counts_string

DATA = Path(__file__).parents[1] / "data"
REAL_FILES = sorted(DATA.rglob("*.json"))


def _write(tmp_path: Path, obj, name: str = "instances.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


def _base(**extra) -> dict:
    """A valid small dataset: one 20x30 image, two categories, a polygon annotation."""
    obj = {
        "images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 30}],
        "categories": [{"id": 1, "name": "cell"}, {"id": 2, "name": "nucleus"}],
        "annotations": [
            {
                "id": 7,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[2, 2, 10, 2, 10, 8, 2, 8]],
                "bbox": [2, 2, 8, 6],
                "area": 48,
                "iscrowd": 0,
            }
        ],
    }
    obj.update(extra)
    return obj


def test_real_files_all_load():
    assert len(REAL_FILES) >= 7
    for path in REAL_FILES:
        ds = load_coco(path)
        raw = json.loads(path.read_text())
        assert ds.raw == raw
        assert len(ds.images) == len(raw["images"])
        assert len(ds.annotations) == len(raw["annotations"]), path
        assert ds.skipped == []
        data = path.read_bytes()
        for ann in ds.annotations:
            assert ds.raw["annotations"][ann.position] == ann.record
            span = data[ds.source.start[ann.position] : ds.source.stop[ann.position]]
            assert json.loads(span) == ann.record  # the record's own bytes


def test_official_coco_multipart_and_no_info():
    ds = load_coco(DATA / "coco2017-4img/data_samples/coco_25k/annotations.json")
    assert "info" not in ds.raw and "licenses" not in ds.raw
    assert len(ds.categories) == 80
    assert max(c.id for c in ds.categories) == 90  # gaps in the ids
    assert any(a.kind == "polygon" and len(a.segmentation) > 1 for a in ds.annotations)


def test_roboflow_placeholder_category_and_zero_ids():
    ds = load_coco(DATA / "roboflow-braintumor-polygons/test/_annotations.coco.json")
    assert ds.categories[0].id == 0 and ds.categories[0].supercategory == "none"
    assert {c.name for c in ds.categories} == {"Tumor"}
    assert ds.images[0].id == 0
    assert ds.annotations[0].id == 0 and ds.annotations[0].image_position == 0
    assert all(ds.category(a).id == 1 for a in ds.annotations)
    empty = [i for i in range(len(ds.images)) if not ds.image_annotations(i)]
    assert len(empty) == 43  # images without annotations are kept


def test_cvat_attributes_and_unused_categories():
    ds = load_coco(DATA / "cvat-carinterior-polygons/annotations/instances_default.json")
    assert ds.annotations[0].attributes["occluded"] is False
    used = {a.category_position for a in ds.annotations}
    assert len(ds.categories) - len(used) == 13


def test_datumaro_rle_bbox_only_and_keypoints():
    root = DATA / "datumaro-fixtures/tests/assets/coco_dataset"
    val = load_coco(root / "coco_instances/annotations/instances_val.json")
    kinds = [a.kind for a in val.annotations]
    assert kinds == ["polygon", "rle"]
    assert val.annotations[1].iscrowd == 1
    train = load_coco(root / "coco_instances/annotations/instances_train.json")
    assert train.annotations[0].kind == "bbox"
    kp = load_coco(root / "coco_person_keypoints/annotations/person_keypoints_val.json")
    assert kp.has_keypoints
    assert kp.categories[0].skeleton == [[0, 1], [1, 2]]


def test_string_ids(tmp_path):
    obj = _base()
    obj["images"][0]["id"] = "img-1"
    obj["categories"][0]["id"] = "cat"
    obj["annotations"][0].update(image_id="img-1", category_id="cat", id="a1")
    ds = load_coco(_write(tmp_path, obj))
    assert ds.annotations[0].image_position == 0
    assert ds.category(ds.annotations[0]).name == "cell"


def test_numeric_id_written_as_string_matches(tmp_path):
    obj = _base()
    obj["annotations"][0]["image_id"] = "1"
    ds = load_coco(_write(tmp_path, obj))
    assert len(ds.annotations) == 1


def test_compressed_rle(tmp_path):
    m = np.zeros((20, 30), dtype=np.uint8)
    m[3:9, 4:20] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    obj = _base()
    obj["annotations"][0].update(
        segmentation={"size": [20, 30], "counts": rle["counts"].decode()}, iscrowd=1
    )
    ds = load_coco(_write(tmp_path, obj))
    assert ds.annotations[0].kind == "rle"


@pytest.mark.parametrize(
    ("segmentation", "where", "match"),
    [
        ({"size": [20, 30], "counts": [10, 5]}, "annotations[0].segmentation.counts", "sum to 15"),
        ({"size": [20, 30], "counts": [590, 20]}, "annotations[0].segmentation.counts", "600"),
        ({"size": [10, 60], "counts": [600]}, "annotations[0].segmentation.size", "differs"),
        ({"size": [20, 30], "counts": [-1, 601]}, "annotations[0].segmentation.counts", "negative"),
        ({"size": [20], "counts": [600]}, "annotations[0].segmentation.size", "height, width"),
        ({"size": [20, 30], "counts": "0\x01"}, "annotations[0].segmentation.counts", "alphabet"),
        ([[1, 2, 3, 4]], "annotations[0].segmentation[0]", "at least 3 points"),
        ([[1, 2, 3, 4, 5, 6], []], "annotations[0].segmentation[1]", "at least 3 points"),
        ([[1, 2, 3, 4, 5, 6, 7]], "annotations[0].segmentation[0]", "even"),
        ([["a", 2, 3, 4, 5, 6]], "annotations[0].segmentation[0][0]", "numbers"),
        ([5, 6, 7], "annotations[0].segmentation[0]", "flat list"),
        ("oops", "annotations[0].segmentation", "list of polygons"),
    ],
)
def test_bad_segmentation_names_file_and_json_path(tmp_path, segmentation, where, match):
    obj = _base()
    obj["annotations"][0]["segmentation"] = segmentation
    path = _write(tmp_path, obj)
    with pytest.raises(CocoError, match=match) as info:
        load_coco(path)
    assert info.value.where == where
    assert info.value.path == str(path)
    assert str(path) in str(info.value) and where in str(info.value)
    assert isinstance(info.value, ValueError)


def test_rle_sum_checked_before_pycocotools():
    # pycocotools decodes uninitialised memory for short counts: we refuse them first.
    with pytest.raises(CocoError, match="sum to 5"):
        check_rle({"size": [2, 3], "counts": [2, 3]})
    assert check_rle({"size": [2, 3], "counts": [0, 6]}).tolist() == [0, 6]


def test_bbox_only_needs_a_bbox(tmp_path):
    obj = _base()
    obj["annotations"][0].update(segmentation=[], bbox=[1, 2, -3, 4])
    with pytest.raises(CocoError, match="w, h >= 0") as info:
        load_coco(_write(tmp_path, obj))
    assert info.value.where == "annotations[0].bbox"


def test_invalid_skip_warns_once(tmp_path):
    obj = _base()
    obj["annotations"].append(copy.deepcopy(obj["annotations"][0]))
    obj["annotations"][1]["segmentation"] = [[1, 2]]
    with pytest.warns(UserWarning, match=r"annotations\[1\]") as rec:
        ds = load_coco(_write(tmp_path, obj), invalid="skip")
    assert len(rec) == 1
    assert [a.position for a in ds.annotations] == [0]
    assert ds.skipped == [1]


def test_unknown_image_and_category_skipped_with_one_warning(tmp_path):
    obj = _base()
    good = obj["annotations"][0]
    obj["annotations"] = [
        dict(good, id=1, image_id=99),
        good,
        dict(good, id=3, category_id=42),
        dict(good, id=4, image_id=98),
    ]
    with pytest.warns(UserWarning) as rec:
        ds = load_coco(_write(tmp_path, obj))
    assert len(rec) == 1
    msg = str(rec[0].message)
    assert "annotations[0] (image_id 99)" in msg and "annotations[3] (image_id 98)" in msg
    assert "annotations[2] (category_id 42)" in msg
    assert [a.position for a in ds.annotations] == [1]
    assert ds.skipped == [0, 2, 3]


@pytest.mark.parametrize(
    ("mutate", "where", "match"),
    [
        (lambda o: o["images"][0].pop("height"), "images[0].height", "positive integer"),
        (lambda o: o["images"][0].update(width=0), "images[0].width", "positive integer"),
        (lambda o: o["images"][0].pop("id"), "images[0]", "no 'id'"),
        (lambda o: o["images"].append(dict(o["images"][0])), "images[1].id", "duplicate id"),
        (lambda o: o["categories"].append({"id": 1}), "categories[2].id", "duplicate id"),
        (lambda o: o["annotations"][0].pop("image_id"), "annotations[0]", "image_id"),
        (lambda o: o.update(annotations={}), "annotations", "must be a list"),
    ],
)
def test_malformed_records(tmp_path, mutate, where, match):
    obj = _base()
    mutate(obj)
    with pytest.raises(CocoError, match=match) as info:
        load_coco(_write(tmp_path, obj))
    assert info.value.where == where
    assert not isinstance(info.value, NotCocoError)


@pytest.mark.parametrize(
    "obj",
    [{"type": "FeatureCollection", "features": []}, [1, 2, 3], {"images": "x"}, {"images": []}],
)
def test_not_coco(tmp_path, obj):
    with pytest.raises(NotCocoError):
        load_coco(_write(tmp_path, obj))


def test_not_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("this is { not json")
    with pytest.raises(NotCocoError, match="not a JSON"):
        load_coco(path)


def test_results_file_is_recognised(tmp_path):
    results = [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9}]
    with pytest.raises(CocoResultsError, match="loadRes"):
        load_coco(_write(tmp_path, results))


def test_missing_file(tmp_path):
    with pytest.raises(CocoError, match="cannot read"):
        load_coco(tmp_path / "nope.json")


def test_parse_coco_without_path():
    ds = parse_coco(_base())
    assert isinstance(ds, CocoDataset) and ds.path is None
    assert ds.image_shapes == [(20, 30)]


def test_decode_counts_string_matches_pycocotools():
    rng = np.random.default_rng(3)
    for _ in range(200):
        h, w = rng.integers(1, 40, 2)
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        rle = mask_utils.encode(np.asfortranarray(m))
        counts = decode_counts_string(rle["counts"])
        flat = np.repeat(np.arange(counts.size) % 2, counts).astype(np.uint8)
        assert counts.sum() == h * w
        assert np.array_equal(flat, m.ravel(order="F"))


def test_pure_core_imports_no_napari():
    code = (
        "import sys; from napari_coco_masks.coco import load_coco; "
        f"ds = load_coco({str(REAL_FILES[0])!r}); "
        "bad = [m for m in ('napari', 'qtpy', 'PyQt6', 'vispy') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
