"""The command line: segment, measure, export-masks and demo, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycocotools.coco import COCO

from napari_coco_masks.cli import main
from napari_coco_masks.demo import DATA


def test_segment_writes_coco_and_csv_in_physical_units(tmp_path: Path, capsys) -> None:
    out = tmp_path / "results"
    code = main(
        ["segment", str(DATA / "coins.png"), "-o", str(out), "--method", "local_gaussian",
         "--block-size", "51", "--min-size", "125", "--clear-border", "--min-distance", "10",
         "--spacing", "0.5", "--units", "µm"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert f"coco: {out / 'annotations.json'}" in printed
    coco = COCO(str(out / "annotations.json"))
    (image,) = coco.dataset["images"]
    assert (image["height"], image["width"]) == (303, 384)
    table = pd.read_csv(out / "measurements.csv")
    assert "area [µm²]" in table.columns and "perimeter [µm]" in table.columns
    assert len(table) == len(coco.dataset["annotations"]) > 20
    # areas in µm² are pycocotools' pixel areas times the pixel area (0.5 µm)²
    areas = sorted(a["area"] * 0.25 for a in coco.dataset["annotations"])
    np.testing.assert_allclose(sorted(table["area [µm²]"]), areas)
    summary = pd.read_csv(out / "summary.csv")
    assert summary["count"].tolist() == [len(table)]
    # the written file_name lets the reader find the image again
    assert (out / image["file_name"]).resolve() == (DATA / "coins.png").resolve()


def test_measure_a_coco_file(tmp_path: Path) -> None:
    assert main(["measure", str(DATA / "coins.json"), "-o", str(tmp_path), "--spacing", "2"]) == 0
    table = pd.read_csv(tmp_path / "measurements.csv")
    dataset = json.loads((DATA / "coins.json").read_text())
    expected = {a["id"]: a["area"] * 4 for a in dataset["annotations"]}
    assert dict(zip(table["annotation_id"], table["area [px²]"], strict=True)) == expected
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("category")
    assert summary["count"].sum() == len(dataset["annotations"])
    assert set(summary.index) == {"small coin", "large coin"}


def test_export_masks(tmp_path: Path) -> None:
    assert main(["export-masks", str(DATA / "coins.json"), "-o", str(tmp_path)]) == 0
    assert len(list((tmp_path / "instances").glob("*.png"))) == 1
    assert len(list((tmp_path / "categories").rglob("*.png"))) == 2


def test_bad_input_is_one_clear_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png", "height": 4,
                                           "width": 4}],
                               "categories": [{"id": 1, "name": "x"}],
                               "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                                                "segmentation": [[0, 0, 1]]}]}))  # fmt: skip
    assert main(["measure", str(bad), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "annotations[0].segmentation" in err
    assert "Traceback" not in err


def test_missing_image_is_one_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["segment", str(tmp_path / "nope.png"), "-o", str(tmp_path)]) == 2
    assert "nope.png" in capsys.readouterr().err


@pytest.mark.parametrize("display", [False, True])
def test_demo_runs_headless_and_writes_results(tmp_path: Path, display: bool) -> None:
    env = dict(os.environ)
    if not display:
        env.pop("DISPLAY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "napari_coco_masks.cli", "demo", "-o", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "24 of 24 annotated coins matched" in proc.stdout
    assert f"results written to: {tmp_path}" in proc.stdout
    for name in ("annotations.json", "measurements.csv", "summary.csv"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "screenshot.png").exists() == display
    if display:
        import imageio.v3 as iio

        shot = iio.imread(tmp_path / "screenshot.png")[..., :3]
        assert shot.shape[0] > 500 and shot.std() > 20, "the napari window screenshot is blank"
