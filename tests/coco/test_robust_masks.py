"""Mask export: names never collide, and a failure leaves no partial output."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from napari_coco_masks.coco import CocoError, masks
from napari_coco_masks.coco.masks import export_masks

SQUARE = [[1, 1, 5, 1, 5, 5, 1, 5]]


def _dataset(images, cats=None):
    cats = cats or [{"id": 1, "name": "x"}]
    anns = [
        {"id": 100 + k, "image_id": im["id"], "category_id": cats[k % len(cats)]["id"],
         "segmentation": [[1, 1, 2 + k, 1, 2 + k, 2 + k, 1, 2 + k]]}
        for k, im in enumerate(images)
    ]
    return {"images": images, "categories": cats, "annotations": anns}


def _image(i, name, size=8):
    return {"id": i, "file_name": name, "height": size, "width": size}


def _listed(out: Path) -> list[str]:
    index = json.loads((out / "index.json").read_text())
    files = [e["instances"] for e in index]
    files += [f for e in index for f in e["categories"].values()]
    return files


def test_names_that_used_to_collide_do_not(tmp_path):
    ds = _dataset([_image(1, "a.png"), _image(5, "a_2.png"), _image(2, "a.jpg"), _image(3, "A.png")])
    export_masks(ds, tmp_path)
    files = _listed(tmp_path)
    assert len(files) == len(set(files)) == 8
    lower = [f.lower() for f in files]
    assert len(set(lower)) == 8  # no clash on a case-insensitive disk either
    index = json.loads((tmp_path / "index.json").read_text())
    for k, entry in enumerate(index):  # each image's own mask, not another's
        assert int((iio.imread(tmp_path / entry["instances"]) > 0).sum()) == (1 + k) ** 2


def test_category_names_and_ids_that_sanitise_alike_stay_apart(tmp_path):
    cats = [{"id": 1, "name": "cat/dog"}, {"id": 2, "name": "cat dog"}, {"id": "a b", "name": "x"},
            {"id": "a/b", "name": "x"}, {"id": "a_b", "name": "x"}]
    images = [_image(1, "a.png")]
    anns = [{"id": 10 + k, "image_id": 1, "category_id": c["id"], "segmentation": SQUARE}
            for k, c in enumerate(cats)]
    export_masks({"images": images, "categories": cats, "annotations": anns}, tmp_path)
    files = _listed(tmp_path)
    assert len(files) == len(set(f.lower() for f in files))
    assert len(list((tmp_path / "categories").rglob("*.png"))) == len(files) - 1 == 5


def test_escaping_file_names_stay_inside_the_output(tmp_path):
    ds = _dataset([_image(1, "../../etc/evil.png"), _image(2, "C:\\\\x\\\\y.png"), _image(3, "..")])
    out = tmp_path / "out"
    written = export_masks(ds, out)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in written)
    assert not (tmp_path / "etc").exists()


def test_a_failure_leaves_no_partial_output_and_keeps_the_previous_index(tmp_path, monkeypatch):
    out = tmp_path / "out"
    good = _dataset([_image(1, "a.png")])
    export_masks(good, out)
    before = (out / "index.json").read_bytes()
    calls = []

    def boom(path, data, ext):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        real(path, data, ext)

    real = masks._write
    monkeypatch.setattr(masks, "_write", boom)
    with pytest.raises(OSError, match="disk full"):
        export_masks(_dataset([_image(1, "b.png"), _image(2, "c.png")]), out)
    assert (out / "index.json").read_bytes() == before
    assert sorted(p.name for p in (out / "instances").iterdir()) == ["a.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


def test_a_coco_error_mid_way_leaves_nothing_new(tmp_path):
    ds = _dataset([_image(1, "a.png")])
    ds["annotations"].append(
        {"id": 9, "image_id": 1, "category_id": 1, "segmentation": {"size": [8, 8], "counts": [1]}}
    )
    out = tmp_path / "fresh"
    with pytest.raises(CocoError):
        export_masks(ds, out)
    assert not out.exists() or not any(out.iterdir())
    assert [p.name for p in tmp_path.iterdir()] in ([], ["fresh"])


def test_second_export_replaces_the_first(tmp_path):
    export_masks(_dataset([_image(1, "a.png"), _image(2, "b.png")]), tmp_path / "o")
    export_masks(_dataset([_image(1, "c.png")]), tmp_path / "o")
    assert sorted(p.name for p in (tmp_path / "o" / "instances").iterdir()) == ["c.png"]
    assert np.asarray(_listed(tmp_path / "o")).size == 2
