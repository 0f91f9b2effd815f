"""Training exports: class-index masks and YOLO labels, checked against pycocotools' masks."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from napari_coco_masks.coco import load_coco, rasterize_image
from napari_coco_masks.coco.exports import (
    export_classes,
    export_semantic,
    semantic_mask,
    yolo_lines,
)

DATA = Path(__file__).parents[1] / "data"
COCO2017 = DATA / "coco2017-4img/data_samples/coco_25k/annotations.json"
ROBOFLOW = DATA / "roboflow-braintumor-polygons/test/_annotations.coco.json"
DATUMARO = DATA / "datumaro-fixtures/tests/assets/coco_dataset/coco_instances/annotations"


def _coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def test_classes_leave_out_roboflows_unused_placeholder():
    ds = load_coco(ROBOFLOW)
    assert [c.id for c in ds.categories] == [0, 1]
    assert [c.id for c in export_classes(ds)] == [1]
    assert len(export_classes(load_coco(COCO2017))) == 80  # unused official ones are kept


def test_semantic_mask_is_the_class_of_the_instance_shown_per_pixel():
    ds = load_coco(COCO2017)
    cls = {c.position: k for k, c in enumerate(export_classes(ds))}
    for i in range(len(ds.images)):
        sem = semantic_mask(ds, i)
        inst = rasterize_image(ds, i)  # file positions + 1, smaller over larger
        expected = np.zeros_like(sem)
        for a in ds.image_annotations(i):
            expected[inst == a.position + 1] = cls[a.category_position] + 1
        assert sem.dtype == np.uint16 and np.array_equal(sem, expected)


def test_yolo_segment_polygons_rasterise_back_to_the_instances():
    ds = load_coco(COCO2017)
    coco = _coco(COCO2017)
    image = ds.images[0]
    h, w = image.height, image.width
    lines = yolo_lines(ds, 0, "segment")
    anns = ds.image_annotations(0)
    assert len(lines) == sum(len(a.segmentation) for a in anns)  # one line per polygon part
    k = 0
    for a in anns:
        parts = []
        for _ in a.segmentation:
            nums = lines[k].split()
            k += 1
            assert int(nums[0]) == {c.position: j for j, c in enumerate(export_classes(ds))}[
                a.category_position]
            xy = np.asarray(nums[1:], float).reshape(-1, 2) * [w, h]
            parts.append(xy.ravel().tolist())
        got = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(parts, h, w)))
        want = coco.annToMask(coco.anns[a.id])
        iou = (got & want).sum() / max((got | want).sum(), 1)
        assert iou > 0.99  # 6 decimals of normalised coordinates


def test_yolo_detect_boxes_are_the_pixel_extents():
    ds = load_coco(COCO2017)
    coco = _coco(COCO2017)
    image = ds.images[1]
    h, w = image.height, image.width
    for line, a in zip(yolo_lines(ds, 1, "detect"), ds.image_annotations(1), strict=True):
        _, cx, cy, bw, bh = (float(v) for v in line.split())
        mask = coco.annToMask(coco.anns[a.id])
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert (cx - bw / 2) * w == pytest.approx(cols[0], abs=1e-3)
        assert (cx + bw / 2) * w == pytest.approx(cols[-1] + 1, abs=1e-3)
        assert (cy - bh / 2) * h == pytest.approx(rows[0], abs=1e-3)
        assert (cy + bh / 2) * h == pytest.approx(rows[-1] + 1, abs=1e-3)


def test_rle_and_bbox_only_instances_export_too():
    val = load_coco(DATUMARO / "instances_val.json")  # a polygon and an RLE
    assert [a.kind for a in val.image_annotations(0)] == ["polygon", "rle"]
    assert len(yolo_lines(val, 0, "segment")) >= 2
    train = load_coco(DATUMARO / "instances_train.json")  # bbox-only
    (line,) = yolo_lines(train, 0, "detect")
    x, y, bw, bh = train.image_annotations(0)[0].bbox
    im = train.images[0]
    assert [float(v) for v in line.split()[1:]] == pytest.approx(
        [(x + bw / 2) / im.width, (y + bh / 2) / im.height, bw / im.width, bh / im.height], abs=1e-6
    )


def test_exports_write_files_staged_and_the_cli(tmp_path):
    written = export_semantic(ROBOFLOW, tmp_path / "sem")
    assert written[-1].name == "classes.json"
    assert json.loads(written[-1].read_text()) == [{"value": 1, "category_id": 1, "name": "Tumor"}]
    ds = load_coco(ROBOFLOW)
    first = np.asarray(Image.open(written[0]))
    assert np.array_equal(first, semantic_mask(ds, 0))
    out = tmp_path / "yolo"
    cmd = [sys.executable, "-m", "napari_coco_masks.cli", "export-yolo", str(ROBOFLOW), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    labels = sorted((out / "labels").glob("*.txt"))
    assert len(labels) == len(ds.images)  # empty files for images without instances
    assert sum(1 for p in labels if not p.read_text()) == sum(
        1 for i in range(len(ds.images)) if not ds.image_annotations(i))
    assert (out / "data.yaml").read_text().splitlines()[1:] == ["nc: 1", 'names: ["Tumor"]']
    assert not list(tmp_path.glob(".*partial"))  # staged, then moved into place
    bad = subprocess.run([*cmd[:5], str(tmp_path / "none.json"), "-o", str(out)],
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def _as_results(path: Path, drop: int = 0) -> list[dict]:
    """The ground truth's annotations as detections (score 1), ``drop`` of them left out."""
    anns = json.loads(path.read_text())["annotations"]
    return [{**a, "score": 1.0} for a in anns[drop:]]


def test_evaluate_ground_truth_against_itself_is_ap_one(tmp_path):
    from napari_coco_masks.coco.evaluate import evaluate

    stats = evaluate(COCO2017, _as_results(COCO2017))
    assert stats["segm"]["AP"] == pytest.approx(1.0) and stats["bbox"]["AP"] == pytest.approx(1.0)
    fewer = evaluate(COCO2017, _as_results(COCO2017, drop=10), iou_types=["bbox"])
    assert 0 < fewer["bbox"]["AR100"] < 1.0 and set(fewer) == {"bbox"}


@pytest.mark.parametrize(
    ("results", "match"),
    [
        ([], "non-empty JSON list"),
        ([{"image_id": 123456789, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}],
         r"\[0\]\.image_id: image_id 123456789 is not an image of the ground truth"),
        ([{"image_id": 174482, "category_id": 999, "bbox": [0, 0, 1, 1], "score": 1}],
         r"\[0\]\.category_id"),
        ([{"image_id": 174482, "category_id": 1, "score": "high", "bbox": [0, 0, 1, 1],
           "segmentation": [[0, 0, 1, 0, 1, 1]]}], r"\[0\]\.score"),
    ],
)
def test_bad_results_are_one_coco_error(results, match):
    from napari_coco_masks.coco import CocoError
    from napari_coco_masks.coco.evaluate import evaluate

    with pytest.raises(CocoError, match=match):
        evaluate(COCO2017, results, iou_types=["bbox"])


def test_evaluate_command(tmp_path):
    res = tmp_path / "res.json"
    res.write_text(json.dumps(_as_results(COCO2017)))
    out = tmp_path / "eval.json"
    cmd = [sys.executable, "-m", "napari_coco_masks.cli", "evaluate", str(COCO2017), str(res),
           "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "segm" in proc.stdout and json.loads(out.read_text())["segm"]["AP"] == pytest.approx(1)
    res.write_text("[1, 2]")
    bad = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "a detection must be an object" in bad.stderr


def _rle_file(tmp_path: Path) -> Path:
    """Three RLE instances on one 60x80 image: a plain blob, a ring (a hole), a crowd."""

    def rle(mask):
        out = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        out["counts"] = out["counts"].decode()
        return out

    blob = np.zeros((60, 80), bool)
    blob[5:20, 5:30] = True
    blob[20:25, 10:15] = True
    ring = np.zeros((60, 80), bool)
    ring[30:55, 40:75] = True
    ring[38:47, 50:65] = False  # a hole
    crowd = np.zeros((60, 80), bool)
    crowd[30:50, 5:25] = True
    anns = []
    for k, (m, crowd_flag) in enumerate(((blob, 0), (ring, 0), (crowd, 1))):
        seg = rle(m)
        anns.append({"id": k + 1, "image_id": 7, "category_id": 1, "segmentation": seg,
                     "area": float(m.sum()), "bbox": [float(v) for v in mask_utils.toBbox(seg)],
                     "iscrowd": crowd_flag, "attributes": {"k": k}})
    anns.append({"id": 9, "image_id": 7, "category_id": 1, "bbox": [1, 1, 3, 3],
                 "segmentation": [], "area": 9.0, "iscrowd": 0})
    obj = {"info": {"x": 1}, "images": [{"id": 7, "file_name": "a.png", "height": 60,
                                         "width": 80}],
           "categories": [{"id": 1, "name": "thing", "supercategory": ""}], "annotations": anns}
    path = tmp_path / "rle.json"
    path.write_text(json.dumps(obj))
    return path


def test_polygons_only_export_reports_the_iou_lost_to_holes(tmp_path):
    from napari_coco_masks.coco.exports import export_polygons

    path = _rle_file(tmp_path)
    report = export_polygons(path, tmp_path / "poly.json")
    assert report["converted"] == 3
    assert [(e["annotation_id"], e["holes"]) for e in report["lossy"]] == [(2, True)]
    ring = np.zeros((60, 80), bool)
    ring[30:55, 40:75] = True
    expected_iou = (ring.sum() - 9 * 15) / ring.sum()  # the hole fills in
    assert report["lossy"][0]["iou"] == pytest.approx(expected_iou)
    out = json.loads((tmp_path / "poly.json").read_text())
    before = json.loads(path.read_text())
    coco_before, coco_after = _coco(path), _coco(tmp_path / "poly.json")
    for a, b in zip(before["annotations"][:3], out["annotations"][:3], strict=True):
        assert isinstance(b["segmentation"], list) and b["segmentation"]
        assert {k: v for k, v in b.items() if k not in ("segmentation", "area")} == {
            k: v for k, v in a.items() if k not in ("segmentation", "area")}
        m0, m1 = coco_before.annToMask(a), coco_after.annToMask(b)
        if a["id"] != 2:  # without holes: pixel-identical under pycocotools
            assert np.array_equal(m0, m1) and b["area"] == a["area"]
        else:
            assert (m1 >= m0).all() and b["area"] == ring.sum()
    assert out["annotations"][3] == before["annotations"][3]  # bbox-only kept
    assert out["info"] == {"x": 1}


def test_split_by_images_is_seeded_and_partitions_the_file(tmp_path):
    from napari_coco_masks.coco.exports import export_split, split_images

    obj = json.loads(ROBOFLOW.read_text())
    files = export_split(ROBOFLOW, tmp_path / "split", ratios={"train": 0.7, "val": 0.2,
                                                                "test": 0.1}, seed=3)
    assert sorted(files) == ["test", "train", "val"]
    parts = {k: json.loads(p.read_text()) for k, p in files.items()}
    n = len(obj["images"])
    sizes = {k: len(v["images"]) for k, v in parts.items()}
    assert sum(sizes.values()) == n and sizes["train"] == round(0.7 * n)
    ids = [im["id"] for v in parts.values() for im in v["images"]]
    assert sorted(ids) == sorted(im["id"] for im in obj["images"])  # a partition
    for v in parts.values():
        assert v["categories"] == obj["categories"]
        mine = {im["id"] for im in v["images"]}
        assert all(a["image_id"] in mine for a in v["annotations"])
        _coco_obj = COCO()
        _coco_obj.dataset = v
        with contextlib.redirect_stdout(io.StringIO()):
            _coco_obj.createIndex()
    assert sum(len(v["annotations"]) for v in parts.values()) == len(obj["annotations"])
    # same seed, same split; another seed, another
    again = export_split(ROBOFLOW, tmp_path / "again", ratios={"train": 0.7, "val": 0.2,
                                                               "test": 0.1}, seed=3)
    assert again["train"].read_bytes() == files["train"].read_bytes()
    assert not np.array_equal(split_images(n, {"a": 1, "b": 1}, 0)["a"],
                              split_images(n, {"a": 1, "b": 1}, 1)["a"])
    with pytest.raises(Exception, match="plain file name"):
        export_split(ROBOFLOW, tmp_path / "bad", ratios={"../x": 1})


@pytest.mark.parametrize("task", ["segment", "detect"])
def test_yolo_export_reads_back_with_supervision(tmp_path, task):
    """supervision's own YOLO reader gives back the classes, boxes and (segment) masks."""
    import shutil

    import supervision as sv
    from scipy.ndimage import binary_dilation

    from napari_coco_masks.coco.exports import export_yolo

    src = COCO2017.parent
    shutil.copytree(src / "images", tmp_path / "images")
    export_yolo(COCO2017, tmp_path / "yolo", task=task)
    ds = sv.DetectionDataset.from_yolo(
        images_directory_path=str(tmp_path / "images"),
        annotations_directory_path=str(tmp_path / "yolo" / "labels"),
        data_yaml_path=str(tmp_path / "yolo" / "data.yaml"),
        force_masks=task == "segment",
    )
    dataset = load_coco(COCO2017)
    classes = export_classes(dataset)
    assert ds.classes == [c.name for c in classes]
    coco = _coco(COCO2017)
    for image in dataset.images:
        _, _, det = next(t for t in ds if Path(t[0]).name == image.file_name)
        anns = dataset.image_annotations(image.position)
        h, w = image.height, image.width
        if task == "detect":
            assert len(det) == len(anns)
            for k, ann in enumerate(anns):
                mask = coco.annToMask(ann.record).astype(bool)
                rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
                box = [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]
                assert np.allclose(det.xyxy[k], box, atol=1e-3 * max(h, w))
                assert ds.classes[det.class_id[k]] == dataset.categories[
                    ann.category_position].name
            continue
        # one YOLO line per polygon part: a part's mask lies within its annotation's
        parts = [(ann, j) for ann in anns for j in range(len(ann.segmentation))
                 if ann.kind == "polygon"]
        assert len(det) == len(parts)
        for k, (ann, j) in enumerate(parts):
            part = {**ann.record, "segmentation": [ann.segmentation[j]]}
            ours = coco.annToMask(part).astype(bool)
            theirs = det.mask[k]
            # supervision (its NumPy fill without OpenCV) and pycocotools rasterise the same
            # polygon differently along its outline (and where it crosses itself): every
            # pycocotools pixel is within a pixel of supervision's mask, and they overlap
            assert (ours <= binary_dilation(theirs)).all()
            # and supervision's box of each part is the part's vertex extent (6 decimals)
            xy = np.clip(np.asarray(ann.segmentation[j], float).reshape(-1, 2), 0, [w, h])
            assert np.allclose(det.xyxy[k], [*xy.min(axis=0), *xy.max(axis=0)],
                               atol=1e-6 * max(h, w) + 1e-3)
            assert ds.classes[det.class_id[k]] == dataset.categories[ann.category_position].name
