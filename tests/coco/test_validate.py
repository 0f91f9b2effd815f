"""`napari-coco-masks validate`: every problem with its JSON path, warnings, --fix copies."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from napari_coco_masks.cli import main
from napari_coco_masks.coco.errors import CocoError
from napari_coco_masks.coco.validate import ERROR, WARNING, repair, validate

DATA = Path(__file__).parents[1] / "data"
COCO2017 = DATA / "coco2017-4img/data_samples/coco_25k/annotations.json"
ROBOFLOW = DATA / "roboflow-braintumor-polygons/test/_annotations.coco.json"
CVAT = DATA / "cvat-carinterior-polygons/annotations/instances_default.json"

SQUARE = [[10, 10, 30, 10, 30, 30, 10, 30]]


def _broken() -> dict:
    rle = mask_utils.encode(np.asfortranarray(np.ones((40, 50), np.uint8)))
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "height": 40, "width": 50, "coco_url": ""},
            {"id": 1, "file_name": "b.png", "height": 40, "width": 50},
            {"id": 2, "file_name": "c.png", "width": 50},
        ],
        "categories": [{"id": 0, "name": "thing"}, {"id": 1, "name": "other"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 0, "segmentation": SQUARE,
             "bbox": [10, 10, 20, 20], "iscrowd": 0},
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 2, 3, 4, 5, 6, 7]],
             "bbox": [0, 0, 5, 5], "iscrowd": 0},
            {"id": 3, "image_id": 9, "category_id": 1, "segmentation": SQUARE,
             "bbox": [10, 10, 20, 20]},
            {"id": 4, "image_id": 1, "category_id": 7, "segmentation": SQUARE, "iscrowd": 2},
            {"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[1, 2, 3, 4]],
             "bbox": [1, 2, 2, 2]},
            {"id": 6, "image_id": 1, "category_id": 1,
             "segmentation": {"size": [40, 50], "counts": [10, 5]}, "bbox": [0, 0, 1, 1]},
            {"id": 7, "image_id": 1, "category_id": 1,
             "segmentation": {"size": [40, 50], "counts": rle["counts"].decode()},
             "bbox": [0, 0, 25, 40]},
        ],
    }


def test_every_problem_is_listed_with_its_json_path():
    problems = {(p.level, p.where): p for p in validate(_broken())}
    expected = {
        (WARNING, "images[0].coco_url"),
        (ERROR, "images[1].id"),  # duplicate
        (ERROR, "images[2].height"),
        (WARNING, "categories[0].id"),  # id 0, used
        (ERROR, "annotations[1].id"),  # duplicate
        (ERROR, "annotations[1].segmentation[0]"),  # odd length
        (ERROR, "annotations[2].image_id"),
        (ERROR, "annotations[3].iscrowd"),
        (WARNING, "annotations[3].category_id"),  # used, not declared
        (WARNING, "annotations[3].bbox"),  # missing
        (ERROR, "annotations[4].segmentation[0]"),  # 4 numbers: pycocotools' bbox trap
        (ERROR, "annotations[5].segmentation"),  # RLE counts sum short of h*w
        (WARNING, "annotations[6].bbox"),  # disagrees with the mask
    }
    assert set(problems) == expected, set(problems) ^ expected
    assert "odd length (7)" in problems[ERROR, "annotations[1].segmentation[0]"].message
    assert "TypeError" in problems[ERROR, "annotations[4].segmentation[0]"].message
    assert "sum" in problems[ERROR, "annotations[5].segmentation"].message
    assert "category 7" in problems[WARNING, "annotations[3].category_id"].message
    assert "[0.0, 0.0, 50.0, 40.0]" in problems[WARNING, "annotations[6].bbox"].message
    assert str(problems[WARNING, "images[0].coco_url"]).startswith("warning: images[0].coco_url:")


def test_repair_fixes_what_it_says_and_leaves_errors():
    fixed, done = repair(_broken())
    assert fixed["images"][0] == {"id": 1, "file_name": "a.png", "height": 40, "width": 50}
    assert [c["id"] for c in fixed["categories"]] == [8, 1, 7]  # 0 moved, 7 declared
    assert fixed["annotations"][0]["category_id"] == 8
    assert [a["id"] for a in fixed["annotations"]] == [1, 8, 3, 4, 5, 6, 7]
    assert fixed["annotations"][3]["bbox"] == [10.0, 10.0, 20.0, 20.0]  # computed
    assert fixed["annotations"][6]["bbox"] == [0.0, 0.0, 50.0, 40.0]
    assert any("category 7" in d for d in done)
    left = {(p.level, p.where) for p in validate(fixed)}
    assert (WARNING, "annotations[6].bbox") not in left and (WARNING, "categories[0].id") not in left
    assert (ERROR, "annotations[2].image_id") in left  # no fix for an unknown image
    assert _broken()["annotations"][0]["category_id"] == 0  # the input is not changed


def test_official_coco_is_clean_and_roboflow_placeholders_are_warned():
    assert validate(COCO2017) == []
    problems = validate(ROBOFLOW)
    assert [(p.level, p.where) for p in problems] == [
        (WARNING, "categories[0].id"), (WARNING, "categories[1].name")]
    fixed, _ = repair(ROBOFLOW)
    assert fixed["categories"] == [{"id": 1, "name": "Tumor", "supercategory": "Tumor"}]
    assert validate(fixed) == []


def test_cvat_boxes_that_miss_their_polygons_are_found_and_fixed():
    obj = json.loads(CVAT.read_text())
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(CVAT))
    wrong = set()
    for k, a in enumerate(obj["annotations"]):  # an independent check: pycocotools' own box
        x, y, w, h = mask_utils.toBbox(coco.annToRLE(a))
        bx, by, bw, bh = a["bbox"]
        if max(abs(bx - x), abs(by - y), abs(bx + bw - x - w), abs(by + bh - y - h)) > 1.5:
            wrong.add(f"annotations[{k}].bbox")
    found = {p.where for p in validate(CVAT) if p.where.endswith(".bbox")}
    assert found == wrong and len(found) > 5
    fixed, _ = repair(CVAT)
    assert not any(p.where.endswith(".bbox") for p in validate(fixed))


def test_cli_validate_exit_codes_and_fixed_copy(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_broken()))
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "error: annotations[2].image_id: 9 is not an image of the file" in out
    assert "8 error(s), 5 warning(s)" in out
    assert main(["validate", str(COCO2017)]) == 0
    assert main(["validate", str(ROBOFLOW), "--fix", "-o", str(tmp_path / "rf.json")]) == 0
    assert "repaired copy written" in capsys.readouterr().out
    assert json.loads((tmp_path / "rf.json").read_text())["categories"][0]["id"] == 1
    assert main(["validate", str(bad), "--fix"]) == 1  # errors without a fix remain
    assert (tmp_path / "bad.fixed.json").exists()
    assert main(["validate", str(bad), "--fix", "-o", str(bad)]) == 2  # never over the input
    assert "another file" in capsys.readouterr().err
    with pytest.raises(CocoError, match="not a JSON file"):
        (tmp_path / "x.json").write_text("{")
        validate(tmp_path / "x.json")
