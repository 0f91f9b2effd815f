"""The headless pipeline: the same result as the steps called one by one, over many images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from napari_coco_masks.demo import COINS_OPTIONS, DATA
from napari_coco_masks.pipeline import PipelineOptions, read_gray, run_pipeline, segment_image
from napari_coco_masks.segment.threshold import threshold
from napari_coco_masks.segment.watershed import split_touching


def test_segment_image_is_threshold_then_split() -> None:
    image = read_gray(DATA / "coins.png")
    options = PipelineOptions(method="otsu", sigma=1.0, min_size=50, min_distance=10)
    expected = split_touching(
        threshold(image, "otsu", sigma=1.0, min_size=50, fill_holes=True) > 0, min_distance=10
    )
    np.testing.assert_array_equal(segment_image(image, options), expected)


def test_pipeline_over_images_of_different_sizes(data_dir: Path) -> None:
    jpgs = sorted((data_dir / "coco2017-4img").rglob("*.jpg"))[:2]
    paths = [DATA / "coins.png", *jpgs]
    result = run_pipeline(paths, COINS_OPTIONS, keep_labels=True)
    images = result.dataset["images"]
    assert [im["file_name"] for im in images] == [p.name for p in paths]
    assert len({im["id"] for im in images}) == len(paths)
    ann_ids = [a["id"] for a in result.dataset["annotations"]]
    assert len(set(ann_ids)) == len(ann_ids)
    # every annotation decodes, with pycocotools, to exactly the pixels of its object
    by_image = {im["id"]: k for k, im in enumerate(images)}
    counts = np.zeros(len(paths), dtype=int)
    for ann in result.dataset["annotations"]:
        k = by_image[ann["image_id"]]
        h, w = images[k]["height"], images[k]["width"]
        seg = ann["segmentation"]
        rle = (
            mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
            if isinstance(seg, list)
            else mask_utils.frPyObjects(seg, h, w)
        )
        assert mask_utils.area(rle) == ann["area"]
        counts[k] += 1
    for k, labels in enumerate(result.labels):
        assert counts[k] == len(np.unique(labels)) - 1
    # one measurement row per object, tagged with its file
    assert len(result.measurements) == len(result.dataset["annotations"])
    assert list(result.measurements["file_name"].unique()) == [p.name for p in paths]


def test_pipeline_imports_no_napari() -> None:
    code = (
        "import sys, napari_coco_masks.pipeline, napari_coco_masks.cli;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'PyQt6', 'vispy')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_read_gray_uses_the_widgets_luminance(tmp_path: Path) -> None:
    """RGB becomes segment.luminance (the Threshold widget's), in the image's own range."""
    import imageio.v3 as iio
    from skimage import data

    from napari_coco_masks.segment import luminance

    rgb = data.astronaut()
    iio.imwrite(tmp_path / "rgb.png", rgb)
    grey = read_gray(tmp_path / "rgb.png")
    np.testing.assert_array_equal(grey, luminance(rgb))
    assert grey.max() > 200  # not rescaled to [0, 1]: a threshold value means the same


def test_no_import_cycle_between_cli_and_demo() -> None:
    """demo (the main job) never imports the command line, even inside a function; cli may
    import demo (for ``napari-coco-masks demo``): one direction only."""
    import ast

    import napari_coco_masks.demo as demo

    tree = ast.parse(Path(demo.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names}
    assert not {m for m in imported if m and m.split(".")[-1] == "cli"}, imported
