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


# -- bad input: exit code 2, one line naming the file, nothing written ---------------------


def _one_line_error(capsys, *names: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for name in names:
        assert name in err, err
    return err


def _write(tmp_path: Path, obj, name: str = "x.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


IMAGE = {"id": 1, "file_name": "a.png", "height": 4, "width": 4}
CATS = [{"id": 1, "name": "x"}]


@pytest.mark.parametrize("command", ["measure", "export-masks"])
def test_a_fifo_is_refused_without_blocking(tmp_path: Path, capsys, command: str) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert main([command, str(fifo), "-o", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "pipe.json", "regular file")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["measure", "export-masks"])
def test_a_folder_is_refused(tmp_path: Path, capsys, command: str) -> None:
    assert main([command, str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, str(tmp_path), "regular file")


def test_segment_refuses_a_fifo_image(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert main(["segment", str(fifo), "-o", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "pipe.png")


@pytest.mark.parametrize("command", ["measure", "export-masks"])
def test_a_file_without_annotations(tmp_path: Path, capsys, command: str) -> None:
    path = _write(tmp_path, {"images": [IMAGE], "categories": CATS})
    # An image without annotations is a valid dataset: empty masks, an empty table.
    assert main([command, str(path), "-o", str(tmp_path / "out")]) == 0
    assert "Error" not in capsys.readouterr().err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == (["index.json", "instances"] if command == "export-masks" else
                       ["measurements.csv", "summary.csv"])  # fmt: skip


def test_measure_a_file_without_images_is_one_line(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path, {"images": [], "annotations": [], "categories": CATS})
    assert main(["measure", str(path), "-o", str(tmp_path / "out")]) == 2
    err = _one_line_error(capsys, "x.json", "images")
    assert "No objects to concatenate" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"size": [4, 4], "counts": [600, 2**62, 2**62, 2**62, 2**62]},
        {"size": [4, 4], "counts": [3]},
    ],
)
def test_bad_rle_is_one_line_with_its_json_path(tmp_path: Path, capsys, bad) -> None:
    ann = {"id": 1, "image_id": 1, "category_id": 1, "segmentation": bad}
    path = _write(tmp_path, {"images": [IMAGE], "categories": CATS, "annotations": [ann]})
    for command in ("measure", "export-masks"):
        out = tmp_path / command
        assert main([command, str(path), "-o", str(out)]) == 2
        _one_line_error(capsys, "x.json", "annotations[0]")
        assert not out.exists() or not any(out.iterdir())


def test_non_json_is_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"\xff\xfe{not json")
    assert main(["export-masks", str(path), "-o", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "x.json")


def test_measure_failure_keeps_previous_results(tmp_path: Path, capsys, monkeypatch) -> None:
    out = tmp_path / "out"
    assert main(["measure", str(DATA / "coins.json"), "-o", str(out)]) == 0
    before = (out / "measurements.csv").read_bytes()
    import importlib

    measure_mod = importlib.import_module("napari_coco_masks.segment.measure")

    real = measure_mod.to_csv
    calls = []

    def fail_second(df, path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(df, path)

    monkeypatch.setattr(measure_mod, "to_csv", fail_second)
    capsys.readouterr()
    assert main(["measure", str(DATA / "coins.json"), "-o", str(out)]) == 2
    _one_line_error(capsys, "disk full")
    assert (out / "measurements.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_segment_an_unreadable_image_is_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    assert main(["segment", str(bad), "-o", str(out)]) == 2
    _one_line_error(capsys, "bad.png", "could not be read")
    assert not out.exists() or not any(out.iterdir())


# -- run: a recipe on many images (dask.distributed) --------------------------------------


def _recipe(tmp_path: Path, text: str | None = None) -> Path:
    from napari_coco_masks.demo import COINS_RECIPE

    if text is None:
        return COINS_RECIPE.save(tmp_path / "recipe.yaml")
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_run_on_an_existing_scheduler_from_the_environment(tmp_path: Path, capsys,
                                                           monkeypatch) -> None:
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=1,
                dashboard_address=":0") as client:
        address = client.scheduler.address
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
        code = main(["run", str(_recipe(tmp_path)), str(DATA / "coins.png"), "-o",
                     str(tmp_path / "out"), "--no-progress"])
        assert code == 0
        assert len(client.scheduler_info()["workers"]) == 1  # the scheduler outlives the run
    captured = capsys.readouterr()
    assert f"dask scheduler {address}" in captured.err
    assert "images: 1 of 1 done (0 from an earlier run), 0 failed\nobjects: 24\n" in captured.out
    assert f"report: {tmp_path / 'out' / 'report.json'}" in captured.out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("recipe: 1\nsteps:\n  - threshold: {method: otsu, blocksize: 3}\n",
         "recipe.yaml: steps[0] (threshold): unknown key 'blocksize'; its keys are method,"),
        ("recipe: 1\nsteps:\n  - threshold: {}\n",
         "recipe.yaml: steps[0] (threshold): missing key 'method' (required)"),
        ("recipe: 7\nsteps: [measure]\n", "recipe.yaml: recipe format 7 is newer than"),
    ],
)
def test_run_refuses_a_bad_recipe_in_one_line(tmp_path: Path, capsys, text: str,
                                              expected: str) -> None:
    out = tmp_path / "out"
    code = main(["run", str(_recipe(tmp_path, text)), str(DATA / "coins.png"), "-o", str(out)])
    assert code == 2
    err = _one_line_error(capsys)
    assert expected in err
    assert not out.exists()


def test_run_refuses_missing_inputs_and_bad_spacing(tmp_path: Path, capsys) -> None:
    recipe = str(_recipe(tmp_path))
    assert main(["run", recipe, str(tmp_path / "none*.tif"), "-o", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "none*.tif", "no TIFF, PNG or JPEG file matches")
    with pytest.raises(SystemExit):
        main(["run", recipe, str(DATA / "coins.png"), "-o", str(tmp_path / "o"), "--spacing", "0"])
    assert "--spacing '0': expected one to three positive numbers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", recipe, str(DATA / "coins.png"), "-o", "o", "--resume", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_segment_is_a_recipe_run_and_refuses_a_used_folder(tmp_path: Path, capsys) -> None:
    out = tmp_path / "results"
    args = ["segment", str(DATA / "coins.png"), "-o", str(out), "--method", "local_gaussian",
            "--block-size", "51", "--min-size", "500", "--clear-border", "--min-distance", "20",
            "--category", "coin", "--no-progress"]
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("24 objects in 1 images\n")
    saved = json.loads((out / ".napari-coco-masks" / "run.json").read_text())
    assert [next(iter(s)) for s in saved["recipe_doc"]["steps"]] == [
        "threshold", "split_touching", "measure"]
    assert (out / "overlays" / "coins.png").stat().st_size > 0
    assert main(args) == 2
    _one_line_error(capsys, str(out), "already holds the results of another run")
    assert main([*args, "--overwrite"]) == 0
