"""Mask image export, checked against pycocotools' annToMask."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from pycocotools.coco import COCO

from napari_coco_masks.coco.errors import CocoError
from napari_coco_masks.coco.masks import export_masks, instance_mask
from napari_coco_masks.coco.model import load_coco

DATA = Path(__file__).parents[1] / "data"
COCO2017 = DATA / "coco2017-4img/data_samples/coco_25k/annotations.json"
DATUMARO = DATA / "datumaro-fixtures/tests/assets/coco_dataset/coco_instances/annotations"


def _coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def test_png_masks_match_pycocotools(tmp_path):
    written = export_masks(COCO2017, tmp_path, fmt="png")
    index = json.loads((tmp_path / "index.json").read_text())
    assert written[-1] == tmp_path / "index.json"
    coco = _coco(COCO2017)
    assert len(index) == len(coco.dataset["images"])
    for entry in index:
        labels = iio.imread(tmp_path / entry["instances"])
        assert labels.dtype == np.uint16
        img = coco.imgs[entry["image_id"]]
        assert labels.shape == (img["height"], img["width"])
        anns = coco.imgToAnns[entry["image_id"]]
        assert entry["annotation_ids"] == [a["id"] for a in anns]
        for value, ann in enumerate(anns, start=1):
            full = coco.annToMask(ann).astype(bool)
            visible = labels == value
            assert not (visible & ~full).any()  # painted only inside its own mask
            others = np.isin(labels, [v for v in range(1, len(anns) + 1) if v != value])
            assert np.array_equal(visible | (full & others), full)  # hidden only by others
        for cat_id, rel in entry["categories"].items():
            union = np.zeros(labels.shape, bool)
            for ann in anns:
                if str(ann["category_id"]) == cat_id:
                    union |= coco.annToMask(ann).astype(bool)
            mask = iio.imread(tmp_path / rel)
            assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
            assert np.array_equal(mask == 255, union)
        assert sorted(entry["categories"]) == sorted({str(a["category_id"]) for a in anns})


def test_tiff_and_subfolder_names(tmp_path):
    path = DATUMARO / "instances_val.json"
    written = export_masks(path, tmp_path, fmt="tiff", categories=False)
    ds = load_coco(path)
    for image in ds.images:
        expected, _ = instance_mask(ds, image.position)
        stem = Path(image.file_name).with_suffix("")
        got = tifffile.imread(tmp_path / "instances" / f"{stem}.tif")
        assert np.array_equal(got, expected)
    assert all(p.suffix in (".tif", ".json") for p in written)


def test_from_a_dict_with_absolute_and_duplicate_names(tmp_path):
    square = [[1, 1, 5, 1, 5, 5, 1, 5]]
    dataset = {
        "images": [
            {"id": 1, "file_name": "/home/me/data/a.jpg", "height": 8, "width": 8},
            {"id": 2, "file_name": "a.jpg", "height": 8, "width": 8},
        ],
        "categories": [{"id": 1, "name": "cat / dog"}],
        "annotations": [
            {
                "id": 5,
                "image_id": 2,
                "category_id": 1,
                "segmentation": square,
                "area": 16,
                "bbox": [1, 1, 4, 4],
                "iscrowd": 0,
            },
        ],
    }
    export_masks(dataset, tmp_path)
    assert (tmp_path / "instances" / "a.png").exists()
    second = iio.imread(tmp_path / "instances" / "a_2.png")
    assert second.sum() == 16
    assert (tmp_path / "categories" / "a_2" / "cat_dog_1.png").exists()


def test_bad_format_and_input(tmp_path):
    with pytest.raises(CocoError, match="`fmt`"):
        export_masks(COCO2017, tmp_path, fmt="jpeg")
    with pytest.raises(CocoError, match="`dataset_or_path`"):
        export_masks(42, tmp_path)
