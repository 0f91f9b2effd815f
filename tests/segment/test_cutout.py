"""Tests for napari_coco_masks.segment.cutout: alpha is the pycocotools mask, composites decode exactly."""

from __future__ import annotations

import csv
import doctest
import json
from importlib.resources import files
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from napari_coco_masks.coco import parse_coco
from napari_coco_masks.segment import cutout as cm
from napari_coco_masks.segment.cutout import (
    apply_mask,
    composite,
    contact_sheet,
    cutouts,
    export_cutouts,
)

DATA = Path(__file__).parents[1] / "data"
COINS = files("napari_coco_masks") / "data"
VAL2017 = DATA / "coco2017-4img" / "data_samples" / "coco_25k"
DATUMARO = DATA / "datumaro-fixtures" / "tests" / "assets" / "coco_dataset" / "coco_instances"


def pycoco(path: Path | dict) -> COCO:
    coco = COCO()
    coco.dataset = json.loads(Path(path).read_text()) if not isinstance(path, dict) else path
    coco.createIndex()
    return coco


def full_alpha(cut: cm.Cutout, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    r0, c0 = cut.offset
    h, w = cut.mask.shape
    out[r0 : r0 + h, c0 : c0 + w] = cut.rgba[..., 3] > 0
    return out


@pytest.mark.parametrize(
    ("annotations", "image_file", "position"),
    [
        (COINS / "coins.json", COINS / "coins.png", 0),
        (
            VAL2017 / "annotations.json",
            VAL2017 / "images" / "000000480985.jpg",
            1,
        ),  # a 2-part polygon
        (DATUMARO / "annotations" / "instances_val.json", None, 0),  # RLE starting with foreground
    ],
    ids=["coins", "val2017", "datumaro-rle"],
)
def test_alpha_is_the_pycocotools_mask_pixel_for_pixel(annotations, image_file, position) -> None:
    coco = pycoco(annotations)
    record = coco.dataset["images"][position]
    h, w = record["height"], record["width"]
    image = iio.imread(image_file) if image_file else np.arange(h * w, dtype=np.uint8).reshape(h, w)
    cuts = cutouts(image, str(annotations), image_position=position)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[record["id"]]))
    assert [c.annotation_id for c in cuts] == [a["id"] for a in anns] and cuts
    for cut, ann in zip(cuts, anns, strict=True):
        truth = coco.annToMask(ann).astype(bool)
        np.testing.assert_array_equal(full_alpha(cut, (h, w)), truth)
        rgb = np.atleast_3d(image)[cut.offset[0] :, cut.offset[1] :][
            : cut.mask.shape[0], : cut.mask.shape[1]
        ]
        np.testing.assert_array_equal(cut.rgba[..., 0][cut.mask], rgb[..., 0][cut.mask])
        assert cut.category == coco.cats[ann["category_id"]]["name"]
        assert cut.mask.any(0).all() and cut.mask.any(1).all()  # cropped to the pixels' box


def test_cutouts_of_label_images_and_mask_lists() -> None:
    labels = np.zeros((6, 7), np.int32)
    labels[1:3, 1:4] = 3
    labels[4:6, 5] = 8
    image = np.random.default_rng(0).integers(0, 255, (6, 7, 3)).astype(np.uint8)
    cuts = cutouts(image, labels)
    assert [(c.annotation_id, c.offset, c.mask.shape) for c in cuts] == [
        (3, (1, 1), (2, 3)),
        (8, (4, 5), (2, 1)),
    ]
    np.testing.assert_array_equal(cuts[0].rgba[..., :3], image[1:3, 1:4])
    from_masks = cutouts(image, [labels == 8, labels == 3])
    assert [c.annotation_id for c in from_masks] == [1, 2]
    np.testing.assert_array_equal(from_masks[1].mask, cuts[0].mask)
    with pytest.raises(
        ValueError,
        match=r"`image` \(shape \(5, 7, 3\)\) does not have the \(rows, columns\) \(6, 7\)",
    ):
        cutouts(image[:5], labels)


def test_apply_mask_background_value_and_transparency() -> None:
    rgb = np.random.default_rng(1).integers(1, 255, (5, 6, 3)).astype(np.uint8)
    labels = np.zeros((5, 6), int)
    labels[1:4, 2:5] = 7
    out = apply_mask(rgb, labels, background=(1, 2, 3))
    np.testing.assert_array_equal(out[labels > 0], rgb[labels > 0])
    assert (out[labels == 0] == [1, 2, 3]).all() and out.dtype == np.uint8
    rgba = apply_mask(rgb, labels, background="transparent")
    assert rgba.shape == (5, 6, 4)
    np.testing.assert_array_equal(rgba[..., 3], np.where(labels > 0, 255, 0))
    grey = apply_mask(rgb[..., 0].astype(np.float32), labels > 0, background="transparent")
    np.testing.assert_array_equal(grey[..., 1], rgb[..., 0])
    assert grey[..., 3].max() == 1.0
    half = np.dstack([rgb, np.full((5, 6), 100, np.uint8)])
    assert set(np.unique(apply_mask(half, labels, background="transparent")[..., 3])) == {0, 100}
    with pytest.raises(
        ValueError, match=r"`mask` \(shape \(5, 5\)\) must have the \(rows, columns\)"
    ):
        apply_mask(rgb, labels[:, :5])
    with pytest.raises(ValueError, match="'transparent'"):
        apply_mask(rgb, labels, background="clear")


def test_export_writes_pngs_and_csv_all_or_nothing(tmp_path, monkeypatch) -> None:
    image = iio.imread(COINS / "coins.png")
    written = export_cutouts(image, str(COINS / "coins.json"), tmp_path)
    pngs, table = written[:-1], written[-1]
    assert table == tmp_path / "coins.csv" and len(pngs) == 24
    rows = list(csv.DictReader(table.open()))
    cuts = cutouts(image, str(COINS / "coins.json"))
    for row, cut, png in zip(rows, cuts, pngs, strict=True):
        assert row["file"] == f"coins/{png.name}" and int(row["annotation_id"]) == cut.annotation_id
        assert row["category"] == cut.category and int(row["area"]) == cut.mask.sum()
        np.testing.assert_array_equal(iio.imread(png), cut.rgba)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.png")}

    calls = []

    def failing(rgba):
        calls.append(1)
        if len(calls) == 5:
            raise OSError("disk full")
        return b"x"

    monkeypatch.setattr(cm, "_png_bytes", failing)
    with pytest.raises(OSError, match="disk full"):
        export_cutouts(image, str(COINS / "coins.json"), tmp_path)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.png")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coins", "coins.csv"]
    with pytest.raises(ValueError, match="RGBA PNG cut-outs need a uint8 image, got uint16"):
        export_cutouts(image.astype(np.uint16), str(COINS / "coins.json"), tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_composite_annotations_decode_to_exactly_the_pasted_pixels() -> None:
    image = iio.imread(COINS / "coins.png")
    cuts = cutouts(image, str(COINS / "coins.json"))[:6]
    background = np.full((120, 140), 30, np.uint8)
    out, dataset = composite(cuts, background, n=10, seed=4)
    again, same = composite(cuts, background, n=10, seed=4)
    np.testing.assert_array_equal(out, again)
    assert same == dataset and out.shape == (120, 140, 3)
    parse_coco(dataset)  # our own validator accepts it
    coco = pycoco(dataset)
    covered = np.zeros((120, 140), bool)
    for ann in dataset["annotations"]:
        decoded = coco.annToMask(ann).astype(bool)
        assert not (decoded & covered).any()  # occluded parts belong to the paste on top only
        covered |= decoded
        assert ann["area"] == decoded.sum() == float(mask_utils.area(ann["segmentation"]))
    assert (out[~covered] == 30).all()
    # independent check: repaint every paste in order (all 10 show a part here) and compare
    assert len(dataset["annotations"]) == 10
    by_id = {c.annotation_id: c for c in cuts}
    owner = np.zeros((120, 140), int)
    painted = np.repeat(background[..., None], 3, axis=-1)
    for k, ann in enumerate(dataset["annotations"], start=1):
        cut = by_id[ann["attributes"]["source_annotation_id"]]
        x, y = ann["attributes"]["paste_xy"]
        h, w = cut.mask.shape
        owner[y : y + h, x : x + w][cut.mask] = k
        painted[y : y + h, x : x + w][cut.mask] = cut.rgba[..., :3][cut.mask]
    np.testing.assert_array_equal(out, painted)
    for k, ann in enumerate(dataset["annotations"], start=1):
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), owner == k)


def test_composite_with_known_places_handles_occlusion() -> None:
    square = np.zeros((5, 5, 3), np.uint8)
    square[1:4, 1:4] = [200, 10, 10]
    disk = np.zeros((5, 5, 3), np.uint8)
    disk[2, 1:4] = disk[1:4, 2] = [10, 200, 10]
    a = cutouts(square, (square[..., 0] > 0).astype(int))[0]
    b = cutouts(disk, (disk[..., 1] > 0).astype(int))[0]
    b = cm.Cutout(b.rgba, b.mask, b.offset, annotation_id=9, category_id=2, category="plus")
    out, dataset = composite(
        [a, b, a], np.zeros((8, 8, 3), np.uint8), positions=[(0, 0), (1, 1), (5, 5)]
    )
    first, second, third = (
        pycoco(dataset).annToMask(x).astype(bool) for x in dataset["annotations"]
    )
    expected_first = np.zeros((8, 8), bool)
    expected_first[0:3, 0:3] = True
    expected_second = np.zeros((8, 8), bool)
    expected_second[2, 1:4] = expected_second[1:4, 2] = True
    np.testing.assert_array_equal(second, expected_second)
    np.testing.assert_array_equal(first, expected_first & ~expected_second)
    assert third.sum() == 9 and (out[second] == [10, 200, 10]).all()
    assert [c["name"] for c in dataset["categories"]] == ["object", "plus"]
    assert dataset["annotations"][1]["attributes"] == {
        "source_annotation_id": 9,
        "paste_xy": [1, 1],
        "visible_fraction": 1.0,
    }
    # a paste hidden under another is left out with min_visible
    _, kept = composite(
        [a, a], np.zeros((8, 8, 3), np.uint8), positions=[(1, 1), (1, 1)], min_visible=0.1
    )
    assert len(kept["annotations"]) == 1
    with pytest.raises(ValueError, match=r"position \(6, 6\) puts cut-out 0 \(3 x 3\) outside"):
        composite([a], np.zeros((8, 8, 3), np.uint8), positions=[(6, 6)])
    with pytest.raises(ValueError, match="cut-out 0 is uint8 but the background is float32"):
        composite([a], np.zeros((8, 8, 3), np.float32))


def test_contact_sheet_shows_every_cutout_exactly() -> None:
    image = iio.imread(COINS / "coins.png")
    cuts = cutouts(image, str(COINS / "coins.json"))
    sheet, offsets = contact_sheet(cuts, columns=5, padding=3, background=(255, 255, 255, 255))
    assert sheet.shape[2] == 4 and len(offsets) == 24
    owner = np.zeros(sheet.shape[:2], int)
    for k, (cut, (r0, c0)) in enumerate(zip(cuts, offsets, strict=True), start=1):
        h, w = cut.mask.shape
        window = sheet[r0 : r0 + h, c0 : c0 + w]
        np.testing.assert_array_equal(window[cut.mask], cut.rgba[cut.mask])
        assert not owner[r0 : r0 + h, c0 : c0 + w].any()  # cells never overlap
        owner[r0 : r0 + h, c0 : c0 + w] = k
    assert (sheet[owner == 0] == 255).all()
    with pytest.raises(ValueError, match="`pieces` is empty"):
        contact_sheet([])


def test_docstring_examples_run() -> None:
    result = doctest.testmod(cm, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0
