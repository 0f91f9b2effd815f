"""Datasets from labels / shapes, lossless round trips and atomic writing, checked with pycocotools."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from napari_coco_masks.coco import write as write_mod
from napari_coco_masks.coco.encode import rle_counts
from napari_coco_masks.coco.errors import CocoError
from napari_coco_masks.coco.model import load_coco
from napari_coco_masks.coco.raster import rasterize_image
from napari_coco_masks.coco.write import dataset_from_labels, dataset_from_shapes, write_coco

DATA = Path(__file__).parents[1] / "data"
DATA_FILES = sorted(DATA.rglob("*.json"))


# ---------------------------------------------------------------------------------- helpers


def _open(path: Path) -> tuple[np.ndarray, dict]:
    """What the reader gives a Labels layer: the label stack and metadata['coco']."""
    ds = load_coco(path, invalid="skip")
    shapes = ds.image_shapes
    stack = np.zeros((len(shapes), max(h for h, _ in shapes), max(w for _, w in shapes)), np.int32)
    for p, (h, w) in enumerate(shapes):
        stack[p, :h, :w] = rasterize_image(ds, p)
    source = {
        "source": str(path),
        "dataset": ds.raw,
        "image_shapes": shapes,
        "image_ids": [im.id for im in ds.images],
    }
    return stack, source


def _load(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _ann_masks(path: Path) -> dict:
    coco = _load(path)
    return {a["id"]: coco.annToMask(a).astype(bool) for a in coco.dataset["annotations"]}


def _evaluate(gt_path: Path, dt_path: Path, iou_type: str) -> float:
    gt = _load(gt_path)
    dets = json.loads(dt_path.read_text())["annotations"]
    for d in dets:
        d["score"] = 1.0
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def _generated(tmp_path: Path) -> Path:
    """A file with polygons, a multi-part polygon, RLE with a hole, uncompressed RLE, overlaps."""
    h, w = 60, 80
    ring = np.zeros((h, w), bool)
    ring[30:50, 50:75] = True
    ring[36:44, 58:66] = False
    raw = np.zeros((h, w), bool)
    raw[0:6, 0:9] = True  # starts with foreground: counts begin with 0
    counts = rle_counts(raw)  # checked against pycocotools in test_encode.py

    def poly(x0, y0, x1, y1):
        return [x0, y0, x1, y0, x1, y1, x0, y1]

    anns = [
        {
            "id": 11,
            "image_id": 7,
            "category_id": 3,
            "segmentation": [poly(10, 10, 30, 25)],
            "area": 300.0,
            "bbox": [10, 10, 20, 15],
            "iscrowd": 0,
            "attributes": {"occluded": False},
        },
        {
            "id": 12,
            "image_id": 7,
            "category_id": 5,
            "segmentation": [poly(14, 14, 20, 20)],
            "area": 36.0,
            "bbox": [14, 14, 6, 6],
            "iscrowd": 0,
        },  # overlaps id 11
        {
            "id": 13,
            "image_id": 7,
            "category_id": 3,
            "segmentation": [poly(40, 2, 46, 8), poly(52, 2, 60, 9.5)],
            "area": 1.0,
            "bbox": [40, 2, 20, 7.5],
            "iscrowd": 0,
            "extra": "kept",
        },
        {
            "id": 14,
            "image_id": 7,
            "category_id": 5,
            "segmentation": _rle(ring),
            "area": 436.0,
            "bbox": [50, 30, 25, 20],
            "iscrowd": 1,
        },
        {
            "id": 15,
            "image_id": 8,
            "category_id": 3,
            "segmentation": {"size": [h, w], "counts": counts},
            "area": 54.0,
            "bbox": [0, 0, 9, 6],
            "iscrowd": 0,
        },
        {
            "id": 16,
            "image_id": 8,
            "category_id": 5,
            "segmentation": [poly(30.5, 20.5, 44, 41)],
            "area": 1.0,
            "bbox": [30.5, 20.5, 13.5, 20.5],
            "iscrowd": 0,
        },
    ]
    dataset = {
        "info": {"year": 2024, "description": "generated"},
        "licenses": [{"id": 1, "name": "CC0"}],
        "images": [
            {"id": 7, "file_name": "a.png", "height": h, "width": w, "license": 1},
            {"id": 8, "file_name": "b.png", "height": h, "width": w},
        ],
        "categories": [
            {"id": 3, "name": "cat", "supercategory": "animal"},
            {"id": 5, "name": "dog", "supercategory": "animal"},
            {"id": 9, "name": "unused", "supercategory": "animal"},
        ],
        "annotations": anns,
        "x-custom": {"kept": [1, 2, 3]},
    }
    path = tmp_path / "generated.json"
    path.write_text(json.dumps(dataset))
    assert sum(counts) == h * w
    return path


# ------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_unedited_round_trip_is_identical(path, tmp_path):
    stack, source = _open(path)
    out = write_coco(dataset_from_labels(stack, source=source), tmp_path / "out.json")
    assert json.loads(out.read_text()) == json.loads(path.read_text())
    coco = _load(out)
    for ann in coco.dataset["annotations"]:
        if ann.get("segmentation") != []:  # bbox-only: pycocotools' annToMask cannot (kept as is)
            assert coco.annToMask(ann).shape == (
                coco.imgs[ann["image_id"]]["height"], coco.imgs[ann["image_id"]]["width"]
            )


def test_generated_round_trip_and_pycocotools(tmp_path):
    path = _generated(tmp_path)
    stack, source = _open(path)
    out = write_coco(dataset_from_labels(stack, source=source), tmp_path / "out.json")
    assert json.loads(out.read_text()) == json.loads(path.read_text())
    masks = _ann_masks(out)
    assert masks[12].sum() == 36 and masks[11].sum() == 300  # the occluded part of 11 survives
    assert _evaluate(path, out, "segm") == pytest.approx(1.0)
    assert _evaluate(path, out, "bbox") == pytest.approx(1.0)


def test_edit_erase_and_new_instances(tmp_path):
    path = _generated(tmp_path)
    original = json.loads(path.read_text())
    stack, source = _open(path)
    before = _ann_masks(path)
    stack[0, 2:4, 30:35] = 3  # paint onto the two-part instance (annotation position 2, id 13)
    stack[1][stack[1] == 6] = 0  # erase annotation id 16
    stack[1, 40:50, 5:15] = 40  # a new instance
    stack[1, 52:56, 60:64] = 41  # and another, category from the features
    features = pd.DataFrame({"index": [0, 41], "category": [None, "dog"]})
    ds = dataset_from_labels(stack, features, source=source)
    out = write_coco(ds, tmp_path / "out.json")
    written = json.loads(out.read_text())
    by_id = {a["id"]: a for a in written["annotations"]}
    assert sorted(by_id) == [11, 12, 13, 14, 15, 17, 18]
    for k in (0, 1, 3, 4):
        assert by_id[original["annotations"][k]["id"]] == original["annotations"][k]
    edited = by_id[13]
    assert edited["extra"] == "kept" and edited["category_id"] == 3
    masks = _ann_masks(out)
    expected = before[13].copy()
    expected[2:4, 30:35] = True
    assert np.array_equal(masks[13], expected)
    assert edited["area"] == float(expected.sum())
    assert edited["bbox"] == [
        float(v)
        for v in mask_utils.toBbox(mask_utils.encode(np.asfortranarray(expected.astype(np.uint8))))
    ]
    assert by_id[17]["image_id"] == 8 and by_id[17]["category_id"] == 3  # the default category
    assert by_id[18]["category_id"] == 5
    assert masks[17].sum() == 100 and masks[17][40:50, 5:15].all()
    for key in ("info", "licenses", "images", "categories", "x-custom"):
        assert written[key] == original[key]


def test_edited_rle_stays_rle_and_crowd_stays_crowd(tmp_path):
    path = _generated(tmp_path)
    stack, source = _open(path)
    stack[0, 31, 51] = 0  # annotation id 14 (crowd RLE with a hole)
    stack[1, 0, 0] = 0  # annotation id 15 (uncompressed RLE)
    written = dataset_from_labels(stack, source=source)
    by_id = {a["id"]: a for a in written["annotations"]}
    assert isinstance(by_id[14]["segmentation"]["counts"], str)
    assert isinstance(by_id[15]["segmentation"]["counts"], list)
    assert sum(by_id[15]["segmentation"]["counts"]) == 60 * 80
    assert by_id[15]["area"] == 53.0 and by_id[14]["iscrowd"] == 1
    poly = dataset_from_labels(stack, source=source, mode="polygon")
    assert isinstance({a["id"]: a for a in poly["annotations"]}[15]["segmentation"], list)


def test_category_change_in_features_is_written(tmp_path):
    path = _generated(tmp_path)
    stack, source = _open(path)
    features = pd.DataFrame({"index": [1, 2], "category_id": [5, 5]})
    by_id = {a["id"]: a for a in dataset_from_labels(stack, features, source=source)["annotations"]}
    assert by_id[11]["category_id"] == 5
    assert (
        by_id[11]["segmentation"] == json.loads(path.read_text())["annotations"][0]["segmentation"]
    )


def test_source_mismatch_is_an_error(tmp_path):
    stack, source = _open(_generated(tmp_path))
    with pytest.raises(CocoError, match="2 images"):
        dataset_from_labels(stack[:1], source=source)
    with pytest.raises(CocoError, match="metadata"):
        dataset_from_labels(stack, source={"dataset": {}})


# --------------------------------------------------------------------------- plain labels


def test_labels_without_coco_source(tmp_path):
    labels = np.zeros((2, 30, 40), np.uint16)
    labels[0, 2:10, 3:9] = 1
    labels[0, 12:20, 20:35] = 2
    labels[0, 15, 25] = 0  # a hole: RLE
    labels[1, 5:25, 5:15] = 1
    features = {"index": [1, 2], "category": ["cell", "nucleus"], "attributes.score": [0.5, 1.0]}
    ds = dataset_from_labels(labels, features, image_names="stack.tif")
    assert [im["file_name"] for im in ds["images"]] == ["stack_0000.tif", "stack_0001.tif"]
    assert [(im["height"], im["width"]) for im in ds["images"]] == [(30, 40), (30, 40)]
    assert [c["name"] for c in ds["categories"]] == ["cell", "nucleus"]
    assert [a["id"] for a in ds["annotations"]] == [1, 2, 3]
    assert [a["image_id"] for a in ds["annotations"]] == [1, 1, 2]
    assert ds["annotations"][0]["attributes"] == {"score": 0.5}
    assert isinstance(ds["annotations"][1]["segmentation"], dict)
    out = write_coco(ds, tmp_path / "plain.json")
    masks = _ann_masks(out)
    assert np.array_equal(masks[1], labels[0] == 1)
    assert np.array_equal(masks[2], labels[0] == 2)
    assert np.array_equal(masks[3], labels[1] == 1)
    assert _evaluate(out, out, "segm") == pytest.approx(1.0)


def test_plain_labels_default_category_and_bool():
    ds = dataset_from_labels(np.eye(5, dtype=bool), image_names="mask.png")
    assert ds["categories"] == [{"id": 1, "name": "object", "supercategory": "object"}]
    assert ds["images"][0]["file_name"] == "mask.png"
    assert len(ds["annotations"]) == 1 and ds["annotations"][0]["area"] == 5.0


def test_generated_file_re_encoded_from_pixels_gives_ap_one(tmp_path):
    """Every instance re-encoded from its mask evaluates to AP 1.0 against the originals.

    Without the occluding instance (a Labels layer holds its visible part only) and the crowd
    region (COCOeval ignores detections matched to it); ground-truth boxes and areas are
    pycocotools' own, as tools that write COCO from masks give them.
    """
    path = _generated(tmp_path)
    data = json.loads(path.read_text())
    data["annotations"] = [a for a in data["annotations"] if a["id"] not in (12, 14)]
    path.write_text(json.dumps(data))
    masks = _ann_masks(path)
    for ann in data["annotations"]:
        rle = mask_utils.encode(np.asfortranarray(masks[ann["id"]].astype(np.uint8)))
        ann["bbox"] = mask_utils.toBbox(rle).tolist()
        ann["area"] = float(mask_utils.area(rle))
    path.write_text(json.dumps(data))
    stack, _ = _open(path)
    ds = dataset_from_labels(stack, image_names=["a.png", "b.png"])
    ids = {1: 7, 2: 8}
    for ann, orig in zip(ds["annotations"], data["annotations"], strict=True):
        ann["image_id"] = ids[ann["image_id"]]
        ann["category_id"] = orig["category_id"]
    out = tmp_path / "re.json"
    write_coco({**data, "annotations": ds["annotations"]}, out)
    assert _evaluate(path, out, "segm") == pytest.approx(1.0)
    assert _evaluate(path, out, "bbox") == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.zeros((4, 4), float), "dtype float64"),
        (np.zeros((2, 2, 4, 4), int), r"shape \(2, 2, 4, 4\) cannot be COCO"),
        (-np.ones((4, 4), int), "negative"),
    ],
)
def test_labels_that_cannot_be_coco(labels, match):
    with pytest.raises(CocoError, match=match):
        dataset_from_labels(labels)


def test_bad_arguments():
    with pytest.raises(CocoError, match="`image_names` has 1 names for 2 images"):
        dataset_from_labels(np.zeros((2, 3, 3), int), image_names=["a.png"])
    with pytest.raises(CocoError, match="`mode`"):
        dataset_from_labels(np.zeros((3, 3), int), mode="vector")
    with pytest.raises(CocoError, match="categories"):
        dataset_from_labels(np.zeros((3, 3), int), categories=[3])


# --------------------------------------------------------------------------------- shapes


def test_shapes_without_coco_source(tmp_path):
    shapes = [
        np.array([[1.5, 1.5], [1.5, 10.5], [8.5, 10.5], [8.5, 1.5]]),  # rectangle
        np.array([[10, 10], [10, 20], [20, 15]]),  # polygon
        np.array([[20, 2], [20, 12], [28, 12], [28, 2]]),  # ellipse
        np.array([[0, 0], [5, 5]]),  # line: skipped
    ]
    types = ["rectangle", "polygon", "ellipse", "line"]
    with pytest.warns(UserWarning, match=r"1 shape\(s\) of type \['line'\]"):
        ds = dataset_from_shapes(
            shapes, types, {"category": ["a", "b", "a", "a"]}, image_shapes=[(32, 32)]
        )
    anns = ds["annotations"]
    assert len(anns) == 3
    assert anns[0]["bbox"] == [2.0, 2.0, 9.0, 7.0] and anns[0]["area"] == 63.0
    assert [a["category_id"] for a in anns] == [1, 2, 1]
    out = write_coco(ds, tmp_path / "shapes.json")
    masks = _ann_masks(out)
    assert masks[1].sum() == 63 and masks[1][2:9, 2:11].all()
    expected_ellipse = np.pi * 4 * 5
    assert abs(masks[3].sum() - expected_ellipse) < 0.1 * expected_ellipse


def test_shapes_in_a_stack_and_appended_to_a_base():
    base = dataset_from_labels(np.pad(np.ones((2, 4, 4), int), ((0, 0), (1, 1), (1, 1))))
    ds = dataset_from_shapes(
        [np.array([[1, 0, 0], [1, 0, 3], [1, 3, 3]])],
        "polygon",
        image_shapes=[(6, 6)] * 2,
        base=base,
    )
    assert [a["id"] for a in ds["annotations"]] == [1, 2, 3]
    assert ds["annotations"][-1]["image_id"] == 2
    with pytest.raises(CocoError, match="spans image planes"):
        dataset_from_shapes(
            [np.array([[0, 0, 0], [1, 0, 3], [1, 3, 3]])], "polygon", image_shapes=[(6, 6)] * 2
        )


# ---------------------------------------------------------------------------------- write


def test_write_is_atomic_when_serialisation_fails(tmp_path):
    target = tmp_path / "out.json"
    target.write_text('{"old": true}')
    bad = {"images": [], "annotations": [{"id": 1, "area": float("nan")}]}
    with pytest.raises(CocoError, match=r"annotations\[0\]\.area"):
        write_coco(bad, target)
    with pytest.raises(CocoError, match=r"annotations\[0\]\.segmentation\.counts"):
        write_coco({"annotations": [{"segmentation": {"counts": b"ab"}}]}, target)
    assert json.loads(target.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["out.json"]


def test_write_is_atomic_when_writing_fails_midway(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text('{"old": true}')
    dataset = {"annotations": [{"id": i, "segmentation": [[0, 0, 1, 0, 1, 1]]} for i in range(500)]}
    written = []

    def failing_chunks(fh, text, chunk=1 << 24):
        fh.write(text[: len(text) // 2])
        written.append(len(text) // 2)
        raise OSError("disk full")

    monkeypatch.setattr(write_mod, "_write_chunks", failing_chunks)
    with pytest.raises(CocoError, match="cannot write the file .*disk full.*unchanged"):
        write_coco(dataset, target)
    assert written and json.loads(target.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["out.json"]
    monkeypatch.undo()
    write_coco(dataset, target)
    assert json.loads(target.read_text()) == dataset


def test_write_converts_numpy_and_keeps_mode(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("{}")
    target.chmod(0o640)
    write_coco({"a": np.int64(3), "b": np.float32(0.5), "c": np.arange(3)}, target)
    assert json.loads(target.read_text()) == {"a": 3, "b": 0.5, "c": [0, 1, 2]}
    assert target.stat().st_mode & 0o777 == 0o640
    with pytest.raises(CocoError, match="does not exist"):
        write_coco({}, tmp_path / "missing" / "out.json")


def test_original_dataset_is_not_modified(tmp_path):
    stack, source = _open(_generated(tmp_path))
    snapshot = copy.deepcopy(source["dataset"])
    stack[0, 2:4, 30:35] = 3
    dataset_from_labels(stack, source=source)
    assert source["dataset"] == snapshot


# ------------------------------------------------------------------------- shapes from COCO


def _read_layers(path: Path) -> dict:
    """The reader's layers, with the dict-level ``source`` of :mod:`.write` in their metadata
    (the first image's shapes: the reader shows one image at a time)."""
    from napari_coco_masks._reader import read_coco

    layers = {kind: (data, meta) for data, meta, kind in read_coco(path)}
    for _, meta in layers.values():
        coco = meta["metadata"]["coco"]
        coco.setdefault("dataset", coco["session"].dataset.raw)
    return layers


def _shapes_round_trip(path: Path, data, meta, base=None) -> dict:
    source = meta["metadata"]["coco"]
    return dataset_from_shapes(
        data,
        meta["shape_type"],
        meta["features"],
        image_shapes=source["image_shapes"],
        source=source,
        base=base,
    )


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_unedited_shapes_round_trip_is_identical(path):
    from napari_coco_masks.coco.session import CocoSession

    session = CocoSession(load_coco(path))
    for i in range(session.n_images):  # every image's shapes handed back as the reader made them
        session.shapes[i] = session.file_shapes(i)
    assert session.edited_images() == list(range(session.n_images))
    assert session.changes() == ({}, [])
    assert session.to_bytes() == path.read_bytes()


def test_shape_edits(tmp_path):
    path = _generated(tmp_path)
    original = {a["id"]: a for a in json.loads(path.read_text())["annotations"]}
    data, meta = _read_layers(path)["shapes"]
    features = meta["features"].copy()
    data = [np.asarray(d, float).copy() for d in data]
    types = list(meta["shape_type"])
    ids = list(features["annotation_id"])
    # drop the second part of the two-part annotation 13, and all of annotation 16
    keep = [
        i
        for i in range(len(data))
        if not (ids[i] == 13 and features["part"][i] == 1) and ids[i] != 16
    ]
    data = [data[i] for i in keep]
    types = [types[i] for i in keep]
    features = features.iloc[keep].reset_index(drop=True)
    # a new shape drawn in napari copies the last row's features (annotation_id and part)
    data.append(np.array([[0, 50, 5], [0, 50, 15], [0, 58, 10]], float))
    types.append("polygon")
    features = pd.concat([features, features.iloc[[-1]]], ignore_index=True)
    meta = {**meta, "shape_type": types, "features": features}
    written = _shapes_round_trip(path, data, meta)
    by_id = {a["id"]: a for a in written["annotations"]}
    assert 16 not in by_id
    assert by_id[13]["segmentation"] == original[13]["segmentation"][:1]
    assert by_id[13]["extra"] == "kept" and by_id[13]["area"] == 36.0
    for k in (11, 12, 14, 15):  # 14 and 15 are RLE: not in the Shapes layer, kept
        assert by_id[k] == original[k]
    new = by_id[17]
    assert new["image_id"] == 7 and new["segmentation"] == [[5.5, 50.5, 15.5, 50.5, 10.5, 58.5]]
    assert new["category_id"] == features["category_id"].iloc[-1]


def test_moved_bbox_only_rectangle():
    path = DATA / "datumaro-fixtures/tests/assets/coco_dataset/coco_instances/annotations"
    path = path / "instances_train.json"  # its only annotation is bbox-only
    original = json.loads(path.read_text())
    data, meta = _read_layers(path)["shapes"]
    parts = list(meta["features"]["part"])
    i = parts.index(-1)
    data = [np.asarray(d, float).copy() for d in data]
    data[i][:, -2:] += [1.0, 2.0]
    written = _shapes_round_trip(path, data, meta)
    ann_id = meta["features"]["annotation_id"][i]
    before = next(a for a in original["annotations"] if a["id"] == ann_id)
    after = next(a for a in written["annotations"] if a["id"] == ann_id)
    assert after["segmentation"] == before["segmentation"] == []
    assert after["bbox"] == pytest.approx(
        [before["bbox"][0] + 2, before["bbox"][1] + 1, before["bbox"][2], before["bbox"][3]]
    )


def test_labels_and_shapes_edits_combine(tmp_path):
    path = _generated(tmp_path)
    layers = _read_layers(path)
    stack, source = _open(path)  # labels with file positions + 1, as dataset_from_labels takes
    stack[1][stack[1] == 5] = 0  # erase annotation 15 (uncompressed RLE) in Labels
    base = dataset_from_labels(stack, source=source)
    data, meta = layers["shapes"]
    ids = list(meta["features"]["annotation_id"])
    data = [np.asarray(d, float).copy() for d in data]
    data[ids.index(11)][:, -2:] += 1.0  # move annotation 11 in Shapes
    written = _shapes_round_trip(path, data, meta, base=base)
    by_id = {a["id"]: a for a in written["annotations"]}
    assert 15 not in by_id
    assert by_id[11]["bbox"] == [11.0, 11.0, 20.0, 15.0]
    assert by_id[11]["attributes"] == {"occluded": False}


def test_benchmark_quick_smoke():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_writer", Path(__file__).parents[2] / "benchmarks" / "bench_writer.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(quick=True)
    assert len(rows) == 3
    assert all(r["speedup"] > 0 for r in rows[:2])
    assert rows[2]["identical"] is True


def test_edited_instance_keeps_its_occluded_part(tmp_path):
    path = _generated(tmp_path)
    stack, source = _open(path)
    before = _ann_masks(path)
    stack[0, 26:28, 10:30] = 1  # grow annotation 11, which annotation 12 partly covers
    written = write_coco(dataset_from_labels(stack, source=source), tmp_path / "out.json")
    masks = _ann_masks(written)
    expected = before[11].copy()
    expected[26:28, 10:30] = True
    assert np.array_equal(masks[11], expected)  # includes the 6x6 pixels under annotation 12
    assert masks[12].sum() == 36 and (masks[11] & masks[12]).sum() == 36
    stack[0][stack[0] == 2] = 1  # now paint over annotation 12 with 11: 12 is erased
    by_id = {a["id"]: a for a in dataset_from_labels(stack, source=source)["annotations"]}
    assert 12 not in by_id and by_id[11]["area"] == float(expected.sum())


def test_numpy_nan_is_refused_with_its_path(tmp_path):
    with pytest.raises(CocoError, match=r"images\[0\]\.height"):
        write_coco({"images": [{"height": np.float32("nan")}]}, tmp_path / "nan.json")
    assert not (tmp_path / "nan.json").exists()


def test_image_shapes_crop_padded_planes():
    labels = np.zeros((2, 10, 12), np.int32)
    labels[0, 1:3, 1:3] = 1
    labels[1, 5:9, 5:9] = 1
    ds = dataset_from_labels(labels, image_shapes=[(4, 4), (10, 12)])
    assert [(im["height"], im["width"]) for im in ds["images"]] == [(4, 4), (10, 12)]
    assert ds["annotations"][0]["segmentation"] != [] and ds["annotations"][0]["area"] == 4.0
    rle = dataset_from_labels(labels, image_shapes=[(4, 4), (10, 12)], mode="rle")
    assert rle["annotations"][0]["segmentation"]["size"] == [4, 4]
    with pytest.raises(CocoError, match="`image_shapes`"):
        dataset_from_labels(labels, image_shapes=[(11, 4), (10, 12)])
