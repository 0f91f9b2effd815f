"""``napari-coco-masks export-coco --polygons-only | split | eval``, run as a user runs them;
the outputs read back with pycocotools."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from napari_coco_masks.cli import main

DATA = Path(__file__).parent / "data"
COCO2017 = DATA / "coco2017-4img/data_samples/coco_25k/annotations.json"
CLI = Path(sys.executable).parent / "napari-coco-masks"


def _coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


@pytest.fixture
def rle_file(tmp_path) -> Path:
    """Two RLE instances on a 40 x 50 image: a ring (a hole) and a plain L shape; a polygon."""
    ring = np.zeros((40, 50), bool)
    ring[5:25, 5:25] = True
    ring[10:20, 10:20] = False
    ell = np.zeros((40, 50), bool)
    ell[28:38, 30:48] = True
    ell[20:38, 30:36] = True
    anns = [
        {"id": 7, "image_id": 1, "category_id": 1, "segmentation": _rle(ring), "area": 300,
         "bbox": [5, 5, 20, 20], "iscrowd": 1, "vendor": {"kept": True}},
        {"id": 8, "image_id": 1, "category_id": 2, "segmentation": _rle(ell), "area": 1,
         "bbox": [30, 20, 18, 18], "iscrowd": 0},
        {"id": 9, "image_id": 1, "category_id": 1,
         "segmentation": [[30.0, 2.0, 45.0, 2.0, 45.0, 12.0]], "area": 75.0,
         "bbox": [30, 2, 15, 10], "iscrowd": 0},
    ]
    obj = {"images": [{"id": 1, "file_name": "a.png", "height": 40, "width": 50}],
           "categories": [{"id": 1, "name": "ring"}, {"id": 2, "name": "ell"}],
           "annotations": anns}
    path = tmp_path / "rle.json"
    path.write_text(json.dumps(obj))
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=300)


def test_export_coco_polygons_only_reports_the_iou_of_masks_with_holes(rle_file, tmp_path):
    out = tmp_path / "polygons.json"
    done = _run("export-coco", str(rle_file), "-o", str(out), "--polygons-only")
    assert done.returncode == 0, done.stderr
    before, after = _coco(rle_file), _coco(out)
    # every mask is a polygon now; the ring filled in, the L shape exact
    assert all(isinstance(a["segmentation"], list) for a in after.dataset["annotations"])
    ring_old, ring_new = before.annToMask(before.anns[7]), after.annToMask(after.anns[7])
    iou = (ring_old & ring_new).sum() / (ring_old | ring_new).sum()
    assert iou == pytest.approx(300 / 400)  # the 10 x 10 hole is lost
    assert np.array_equal(before.annToMask(before.anns[8]), after.annToMask(after.anns[8]))
    assert after.anns[9] == before.anns[9] and after.anns[7]["vendor"] == {"kept": True}
    lines = done.stdout.splitlines()
    assert lines[0] == "annotations[0] (annotation 7): has holes, IoU 0.7500, loss 0.2500"
    assert lines[1] == f"2 RLE masks written as polygons to {out}"
    assert lines[2] == "1 masks with holes lost them: lowest IoU 0.7500"


def test_export_coco_of_masks_without_holes_is_exact(tmp_path, capsys):
    src = DATA / "datumaro-fixtures/tests/assets/coco_dataset/coco_instances/annotations"
    path = src / "instances_val.json"
    out = tmp_path / "val.polygons.json"
    assert main(["export-coco", str(path), "-o", str(out), "--polygons-only"]) == 0
    assert "every mask kept exactly" in capsys.readouterr().out
    before, after = _coco(path), _coco(out)
    rle = [a for a in before.dataset["annotations"] if isinstance(a["segmentation"], dict)]
    assert rle
    for a in rle:
        assert np.array_equal(before.annToMask(a), after.annToMask(after.anns[a["id"]]))


def test_split_is_seeded_and_keeps_every_annotation(tmp_path):
    done = _run("split", str(COCO2017), "-o", str(tmp_path / "a"),
                "--ratios", "train=0.5,val=0.25,test=0.25", "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert main(["split", str(COCO2017), "-o", str(tmp_path / "b"),
                 "--ratios", "train=0.5,val=0.25,test=0.25", "--seed", "3"]) == 0
    original = _coco(COCO2017)
    parts = {name: _coco(tmp_path / "a" / f"{name}.json") for name in ("train", "val", "test")}
    assert [len(p.imgs) for p in parts.values()] == [2, 1, 1]
    assert set().union(*(p.imgs for p in parts.values())) == set(original.imgs)
    for name, part in parts.items():
        assert set(part.anns) == {a for a, r in original.anns.items() if r["image_id"] in part.imgs}
        assert part.cats == original.cats
        assert (tmp_path / "b" / f"{name}.json").read_bytes() == (
            tmp_path / "a" / f"{name}.json").read_bytes()  # same seed, same split
        assert f"{name}: " in done.stdout
    assert "train: " in done.stdout and "(2 images, " in done.stdout


def test_eval_is_evaluate(tmp_path, capsys):
    coco = _coco(COCO2017)
    rng = np.random.default_rng(1)
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"],
             "bbox": [v + float(rng.normal(0, 2)) for v in a["bbox"]],
             "score": float(rng.random())} for a in coco.dataset["annotations"]]
    results = tmp_path / "results.json"
    results.write_text(json.dumps(dets))
    out = tmp_path / "stats.json"
    assert main(["eval", str(COCO2017), str(results), "--iou-type", "bbox", "-o", str(out)]) == 0
    assert "AP50" in capsys.readouterr().out
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(coco, coco.loadRes(str(results)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert json.loads(out.read_text())["bbox"]["AP"] == pytest.approx(ev.stats[0])
    done = _run("eval", "--help")
    assert done.returncode == 0 and "ground_truth" in done.stdout


def _one_line(capsys, *names: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for name in names:
        assert name in err, err
    return err


def test_bad_input_is_one_line_naming_the_file(rle_file, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [{"id": 1}], "annotations": [], "categories": []}')
    for argv in (["export-coco", str(bad), "-o", str(tmp_path / "o.json"), "--polygons-only"],
                 ["split", str(bad), "-o", str(tmp_path / "s")],
                 ["export-coco", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o.json"),
                  "--polygons-only"]):
        assert main(argv) == 2
        _one_line(capsys, Path(argv[1]).name)
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "s").exists()
    # the input is never overwritten; --polygons-only is needed
    before = rle_file.read_bytes()
    assert main(["export-coco", str(rle_file), "-o", str(rle_file), "--polygons-only"]) == 2
    assert "another file" in _one_line(capsys, rle_file.name)
    assert main(["export-coco", str(rle_file), "-o", str(tmp_path / "o.json")]) == 2
    assert "--polygons-only" in _one_line(capsys, rle_file.name)
    assert rle_file.read_bytes() == before
    # bad ratios: argparse's own usage error (exit 2), no file written
    done = _run("split", str(rle_file), "-o", str(tmp_path / "r"), "--ratios", "train=x")
    assert done.returncode == 2 and "--ratios" in done.stderr and not (tmp_path / "r").exists()
    done = _run("split", str(rle_file), "-o", str(tmp_path / "r"), "--ratios", "../up=1")
    assert done.returncode == 2 and "rle.json" in done.stderr and "Traceback" not in done.stderr
