"""run_recipe and ``napari-coco-masks run`` on real images: outputs, failures, resume, overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest
from pycocotools.coco import COCO

from napari_coco_masks import segment
from napari_coco_masks.cli import main
from napari_coco_masks.coco import load_coco, rasterize_image
from napari_coco_masks.recipes import InputError, Recipe, RecipeError, expand_inputs, run_recipe

RECIPE = Recipe.from_steps(
    [("threshold", {"method": "otsu", "sigma": 0.5, "min_size": 10.0}),
     ("split_touching", {"min_distance": 4.0}), "measure"],
    category="blob", units="µm")  # fmt: skip


def test_a_batch_of_real_images(tmp_path: Path, images, broken, client) -> None:
    out = tmp_path / "out"
    inputs = [images["coins"].parent, str(broken["truncated"].parent / "*")]
    report = run_recipe(RECIPE, inputs, out, client=client, progress=False)
    assert (report.images, report.done) == (8, 5)
    reasons = {f["file"]: f["reason"] for f in report.failed}
    assert set(reasons) == {"../broken/four_d.tif", "../broken/garbage.png",
                            "../broken/truncated.jpg"}
    assert "image file is truncated" in reasons["../broken/truncated.jpg"]
    assert "cannot identify image file" in reasons["../broken/garbage.png"]
    assert reasons["../broken/four_d.tif"].startswith(
        "expected a 2D or 3D image (grey or RGB), got 4D")  # the report names the file
    # one COCO file of every image: a 3D volume gives one record per plane
    coco = COCO(str(out / "annotations.json"))
    names = [im["file_name"] for im in coco.dataset["images"]]
    assert names.count("../images/volume.tif") == 12 and len(names) == 4 + 12
    assert [im["plane"] for im in coco.dataset["images"] if "plane" in im] == list(range(12))
    assert len({a["id"] for a in coco.dataset["annotations"]}) == len(coco.dataset["annotations"])
    # one table, file name first, physical units in the headers
    table = pd.read_csv(out / "measurements.csv")
    assert table.columns[0] == "file_name" and "area [µm²]" in table.columns
    volumes = pd.read_csv(out / "measurements_3d.csv")  # areas and volumes in a file each
    assert "area [µm³]" in volumes.columns and "surface_area [µm²]" in volumes.columns
    assert set(volumes["file_name"]) == {"../images/volume.tif"} and len(volumes) >= 2
    assert set(table["file_name"]) | set(volumes["file_name"]) == set(names)
    assert len(table) + len(volumes) == report.objects
    summary = pd.read_csv(out / "summary.csv")
    assert summary["category"].tolist() == ["blob"] and summary["count"].tolist() == [len(table)]
    assert pd.read_csv(out / "summary_3d.csv")["count"].tolist() == [len(volumes)]
    # an overlay per image, the report
    overlays = sorted(p.name for p in (out / "overlays").iterdir())
    assert overlays == sorted(["images__coins.png", "images__coins.ome.png",
                               "images__volume.png",
                               *(f"images__{p.stem}.png" for p in (images["jpg0"],
                                                                   images["jpg1"]))])
    assert iio.imread(out / "overlays" / "images__coins.png").shape == (303, 384, 3)
    assert report.outputs["measurements_3d"] == str(out / "measurements_3d.csv")
    saved = json.loads((out / "report.json").read_text())
    assert saved["done"] == 5 and len(saved["failed"]) == 3 and saved["objects"] == report.objects
    text = (out / "report.txt").read_text()
    assert "images: 5 of 8 done" in text and "failed: ../broken/four_d.tif: " in text


def test_batch_result_equals_the_direct_calls(tmp_path: Path, images, client) -> None:
    """The same labels and measurements as the segment functions (the widgets' calls)."""
    out = tmp_path / "out"
    report = run_recipe(RECIPE, [images["ome"]], out, client=client, progress=False)
    assert report.ok
    grey = iio.imread(images["coins"])
    spacing = (0.5, 0.5)  # from the OME-TIFF, in the recipe's µm
    labels = segment.split_touching(
        segment.threshold(grey, "otsu", sigma=0.5, min_size=10.0, spacing=spacing),
        min_distance=4.0, spacing=spacing)
    expected = segment.measure(labels, grey, spacing=spacing, units="µm")
    table = pd.read_csv(out / "measurements.csv")
    assert len(table) == labels.max() > 20
    np.testing.assert_allclose(table["area [µm²]"], expected["area"], rtol=1e-12)
    np.testing.assert_allclose(table["intensity_mean"], expected["intensity_mean"], rtol=1e-12)
    found = rasterize_image(load_coco(out / "annotations.json"), 0)
    np.testing.assert_array_equal(found, labels)  # annotation k is label k


def test_failing_images_fail_alone_with_exit_code_1(tmp_path: Path, images, broken, capsys) -> None:
    recipe = RECIPE.save(tmp_path / "recipe.yaml")
    out = tmp_path / "out"
    code = main(["run", str(recipe), str(images["coins"]), str(broken["truncated"]),
                 str(broken["4d"]), "-o", str(out), "--workers", "1", "--no-progress"])
    assert code == 1
    printed = capsys.readouterr().out
    assert "images: 1 of 3 done (0 from an earlier run), 2 failed" in printed
    assert "failed: ../broken/truncated.jpg: this image could not be read" in printed
    assert f"coco: {out / 'annotations.json'}" in printed
    assert len(COCO(str(out / "annotations.json")).dataset["images"]) == 1


def test_resume_skips_done_images_and_retries_failed_ones(tmp_path: Path, images, broken,
                                                          client) -> None:
    out = tmp_path / "out"
    first = run_recipe(RECIPE, [images["coins"], broken["garbage"]], out, client=client,
                       progress=False)
    assert (first.done, len(first.failed)) == (1, 1)
    parts = sorted((out / ".napari-coco-masks" / "parts").iterdir())
    stamps = [p.stat().st_mtime_ns for p in parts]
    # without --resume or --overwrite the folder is refused, before any work
    with pytest.raises(RecipeError, match=r"already holds the results of another run .*--resume"):
        run_recipe(RECIPE, [images["coins"]], out, client=client, progress=False)
    # the broken file is fixed meanwhile, and one more image added
    iio.imwrite(broken["garbage"], iio.imread(images["coins"]), extension=".png")
    again = run_recipe(RECIPE, [images["coins"], broken["garbage"], images["ome"]], out,
                       client=client, resume=True, progress=False)
    assert (again.images, again.done, again.resumed, again.failed) == (3, 3, 1, [])
    assert [p.stat().st_mtime_ns for p in parts] == stamps  # the done image was not redone
    coco = COCO(str(out / "annotations.json"))
    assert [im["file_name"] for im in coco.dataset["images"]] == [
        "../images/coins.png", "../broken/garbage.png", "../images/coins.ome.tif"]
    assert again.objects == first.objects * 2 + sum(
        1 for a in coco.dataset["annotations"] if a["image_id"] == 3)
    # another recipe cannot resume this run
    other = Recipe.from_steps([("threshold", {"method": "li"})])
    with pytest.raises(RecipeError, match=r"a run with another recipe .*--resume needs the same"):
        run_recipe(other, [images["coins"]], out, client=client, resume=True, progress=False)


def test_overwrite_replaces_only_a_runs_files(tmp_path: Path, images, client) -> None:
    out = tmp_path / "out"
    run_recipe(RECIPE, [images["coins"], images["volume"]], out, client=client, progress=False)
    (out / "notes.txt").write_text("mine")
    report = run_recipe(RECIPE, [images["ome"]], out, client=client, overwrite=True,
                        progress=False)
    assert (report.images, report.resumed) == (1, 0)
    assert len(COCO(str(out / "annotations.json")).dataset["images"]) == 1
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["coins.ome.png"]
    assert (out / "notes.txt").read_text() == "mine"
    with pytest.raises(RecipeError, match="--resume and --overwrite exclude each other"):
        run_recipe(RECIPE, [images["ome"]], out, resume=True, overwrite=True)


def test_a_folder_of_other_runs_is_one_line_on_the_command_line(tmp_path: Path, images,
                                                                capsys) -> None:
    recipe = RECIPE.save(tmp_path / "recipe.yaml")
    out = tmp_path / "out"
    (out / ".napari-coco-masks").mkdir(parents=True)
    assert main(["run", str(recipe), str(images["coins"]), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds the results of another run" in err


def test_pixel_sizes_ome_conversion_and_override(tmp_path: Path, client, ome_maker) -> None:
    nm = ome_maker(tmp_path / "nm.ome.tif", size=500.0, unit="nm")
    # 500 nm is 0.5 µm in the recipe's unit; --spacing 2 (µm) overrides the file's size
    for spacing, pixel_area in ((None, 0.25), ((2.0,), 4.0)):
        out = tmp_path / f"out{pixel_area}"
        run_recipe(RECIPE, [nm], out, client=client, spacing=spacing, progress=False)
        table = pd.read_csv(out / "measurements.csv")
        coco = COCO(str(out / "annotations.json"))
        areas = [a["area"] for a in coco.dataset["annotations"]]
        np.testing.assert_allclose(table["area [µm²]"], np.array(areas) * pixel_area)
        assert len(areas) > 5


def test_inputs_files_folders_and_globs(tmp_path: Path, images) -> None:
    folder = images["coins"].parent
    found = expand_inputs([folder, str(folder / "*.png"), images["ome"]])
    assert [p.name for p in found] == sorted(p.name for p in folder.iterdir())
    with pytest.raises(InputError, match=r"nothing\*\.png: no TIFF, PNG or JPEG file matches"):
        expand_inputs([str(tmp_path / "nothing*.png")])
    with pytest.raises(InputError, match=r"missing\.png: cannot read this input"):
        expand_inputs([tmp_path / "missing.png"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="the folder holds no TIFF, PNG or JPEG file"):
        expand_inputs([tmp_path / "empty"])


def test_results_inside_the_input_folder_are_not_inputs(tmp_path: Path, images, client) -> None:
    folder = tmp_path / "plates"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(images["coins"].read_bytes())
    for out in (folder, folder / "results"):  # the folder itself, or a folder inside it
        for resume in (False, True):
            report = run_recipe(RECIPE, [folder], out, client=client, resume=resume,
                                overwrite=not resume, progress=False)
            assert (report.images, report.done) == (2, 2), (out, resume)
