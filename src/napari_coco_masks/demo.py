"""The main job on the bundled sample: segment the coins, measure them, write COCO and CSV.

Used by ``napari-coco-masks demo`` (the README's first command). The segmentation is compared
with the bundled COCO annotations of the same coins, so a run says how well it did.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .pipeline import PipelineOptions, run_pipeline

DATA = Path(__file__).parent / "data"

#: Pipeline options that suit the coins photo (pixel units).
COINS_OPTIONS = PipelineOptions(
    method="li", sigma=2.0, min_size=200.0, fill_holes=True, split=True, min_distance=12.0,
    category="coin",
)


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


def run_demo(out: Path, *, show: bool = False) -> dict[str, Path]:
    """Run the pipeline on the coins sample and write its results into ``out``.

    Returns the written files by kind (coco, measurements, summary, masks, screenshot).
    """
    from .cli import _write_results
    from .coco.model import load_coco
    from .coco.raster import rasterize_image

    out = Path(out)
    result = run_pipeline([DATA / "coins.png"], COINS_OPTIONS, keep_labels=True)
    paths = _write_results(result, out)
    truth = rasterize_image(load_coco(DATA / "coins.json"), 0)
    matched, mean_iou = match_objects(truth, result.labels[0])
    n_truth = int(len(np.unique(truth)) - 1)
    n_found = len(result.dataset["annotations"])
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
    """Open the image, the result and the measurements in napari; save a window screenshot."""
    import napari

    viewer = napari.Viewer(show=True, title="napari-coco-masks demo")
    viewer.open(DATA / "coins.json", plugin="napari-coco-masks")
    layers = viewer.open(coco_path, plugin="napari-coco-masks")
    for layer in layers:
        if layer._type_string == "image":
            viewer.layers.remove(layer)
        else:
            layer.name = f"segmented {layer.name}"
    for layer in viewer.layers:
        if layer._type_string == "shapes":
            layer.visible = "segmented" not in layer.name
    _, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Measure objects")
    labels = next(
        lyr for lyr in viewer.layers if lyr._type_string == "labels" and "segmented" not in lyr.name
    )
    viewer.layers.selection.active = labels
    if hasattr(widget, "run_measure"):
        widget.run_measure(labels)
    viewer.window._qt_window.resize(1400, 800)
    viewer.reset_view()
    napari.qt.get_qapp().processEvents()
    import imageio.v3 as iio

    iio.imwrite(png, viewer.screenshot(canvas_only=False, flash=False))
    if show:
        napari.run()
    else:
        viewer.close()
    return png
