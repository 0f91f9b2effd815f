"""The main job on the bundled sample: a recipe run on the coins, with COCO, CSV and overlays.

Used by ``napari-coco-masks demo`` (the README's first command, ``scripts/demo.sh``). The demo
writes its recipe (:data:`COINS_RECIPE`) into the results folder and runs it exactly as
``napari-coco-masks run DIR/recipe.yaml DIR/coins.png -o DIR`` does
(:func:`napari_coco_masks.recipes.run_recipe`). The segmentation is then compared with the
bundled COCO annotations of the same coins, so a run says how well it did.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from .pipeline import PipelineOptions

DATA = Path(__file__).parent / "data"

#: Pipeline options that suit the coins photo (pixel units).
COINS_OPTIONS = PipelineOptions(
    method="local_gaussian", block_size=51, sigma=1.0, min_size=500.0, fill_holes=True,
    clear_border=True, split=True, min_distance=20.0, category="coin",
)

#: The demo's recipe: threshold (local Gaussian) -> split touching -> measure, in pixels.
COINS_RECIPE = COINS_OPTIONS.to_recipe()


def match_objects(truth: np.ndarray, found: np.ndarray) -> tuple[int, float]:
    """Count truth objects matched by a found object at IoU > 0.5, and the mean IoU of matches."""
    ious = []
    for value in np.unique(truth[truth > 0]):
        obj = truth == value
        candidates, overlap = np.unique(found[obj & (found > 0)], return_counts=True)
        if not len(candidates):
            continue
        best = candidates[np.argmax(overlap)]
        other = found == best
        iou = np.logical_and(obj, other).sum() / np.logical_or(obj, other).sum()
        if iou > 0.5:
            ious.append(iou)
    return len(ious), float(np.mean(ious)) if ious else 0.0


def coins_strokes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coins photo, its coins (the bundled COCO annotations) and strokes as a user paints
    them to learn from examples: crosses on 3 coins (class 2) and lines on the background (1).

    Returns
    -------
    image : (303, 384) uint8 ndarray
    truth : bool ndarray, the coins' pixels
    strokes : uint8 ndarray, 0 where nothing is painted
    """
    from scipy import ndimage as ndi
    from skimage import data

    from .segment.classifier import coco_training_labels

    image = data.coins()
    labels, _ = coco_training_labels(DATA / "coins.json", by="object")
    truth = labels[0] == 2
    objects, _ = ndi.label(truth)
    strokes = np.zeros(image.shape, np.uint8)
    for k in (0, 12, 18):  # a large bright coin, a middle one, a dark one of the bottom row
        rows, cols = ndi.find_objects(objects)[k]
        cy, cx = (rows.start + rows.stop) // 2, (cols.start + cols.stop) // 2
        r = (rows.stop - rows.start) // 2
        cross = np.zeros(image.shape, bool)
        cross[cy - 1 : cy + 2, cx - r : cx + r] = True
        cross[cy - r : cy + r, cx - 1 : cx + 2] = True
        strokes[cross & (objects == k + 1)] = 2
    lines = np.zeros(image.shape, bool)
    lines[5:8, :] = lines[:, 5:8] = lines[140:143, :] = lines[295:298, :] = True
    strokes[lines & ~ndi.binary_dilation(truth, iterations=4)] = 1
    return image, truth, strokes


def run_demo(out: Path, *, show: bool = False) -> dict[str, Path]:
    """Run the coins recipe on the coins sample and write its results into ``out``.

    Returns the written files by kind (recipe, coco, measurements, summary, overlay, report,
    screenshot).
    """
    from .coco.model import load_coco
    from .coco.raster import rasterize_image
    from .recipes import run_recipe

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    image = out / "coins.png"
    shutil.copyfile(DATA / "coins.png", image)
    recipe = COINS_RECIPE.save(out / "recipe.yaml")
    print(f"napari-coco-masks run {recipe} {image} -o {out} --overwrite")
    report = run_recipe(recipe, [image], out, overwrite=True, progress=False)
    if not report.ok:
        raise RuntimeError(f"the demo failed on {report.failed[0]['file']}: "
                           f"{report.failed[0]['reason']}")
    paths = {"recipe": recipe, **{k: Path(report.outputs[k]) for k in
             ("coco", "measurements", "summary", "report")}}  # fmt: skip
    paths["overlay"] = Path(report.outputs["overlays"]) / "coins.png"
    dataset = load_coco(paths["coco"])
    found = rasterize_image(dataset, 0)
    truth = rasterize_image(load_coco(DATA / "coins.json"), 0)
    matched, mean_iou = match_objects(truth, found)
    n_truth = int(len(np.unique(truth)) - 1)
    n_found = report.objects
    print(
        f"coins: found {n_found} objects; {matched} of {n_truth} annotated coins matched "
        f"(IoU > 0.5), mean IoU {mean_iou:.3f}"
    )
    if _has_display():
        paths["screenshot"] = _screenshot(paths["coco"], out / "screenshot.png", show=show)
    else:
        print("no display: skipped the napari screenshot (run under xvfb-run to get one)")
    return paths


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _screenshot(coco_path: Path, png: Path, *, show: bool) -> Path:
    """Open the photo, its annotations and the result in napari, measure; save the window."""
    import imageio.v3 as iio
    import napari

    viewer = napari.Viewer(show=True, title="napari-coco-masks demo")
    image, truth_labels, truth_shapes = _by_type(
        viewer.open(DATA / "coins.json", plugin="napari-coco-masks")
    )
    found_image, found_labels, found_shapes = _by_type(
        viewer.open(coco_path, plugin="napari-coco-masks")
    )
    for layer in (found_image, found_shapes, truth_labels):
        viewer.layers.remove(layer)
    found_labels.name = "segmented coins"
    found_labels.opacity = 0.5
    truth_shapes.name = "annotated coins (COCO)"
    truth_shapes.face_color = "transparent"
    truth_shapes.edge_width = 2
    viewer.layers.move(viewer.layers.index(truth_shapes), len(viewer.layers))
    _, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Measure objects")
    widget.run_measure(found_labels, image)
    viewer.layers.selection.active = found_labels
    viewer.window._qt_window.resize(1400, 800)
    napari.qt.get_qapp().processEvents()
    viewer.reset_view()
    napari.qt.get_qapp().processEvents()
    iio.imwrite(png, viewer.screenshot(canvas_only=False, flash=False))
    if show:
        napari.run()
    else:
        viewer.close()
    return png


def _by_type(layers: list) -> tuple:
    """The (image, labels, shapes) layers of what the reader opened."""
    kinds = {layer._type_string: layer for layer in layers}
    return kinds.get("image"), kinds.get("labels"), kinds.get("shapes")
