"""The main job on the bundled sample: segment the coins, measure them, write COCO and CSV.

Used by ``napari-coco-masks demo`` (the README's first command). The segmentation is compared
with the bundled COCO annotations of the same coins, so a run says how well it did.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from .pipeline import PipelineOptions, run_pipeline

DATA = Path(__file__).parent / "data"

#: Pipeline options that suit the coins photo (pixel units).
COINS_OPTIONS = PipelineOptions(
    method="local_gaussian", block_size=51, sigma=1.0, min_size=500.0, fill_holes=True,
    clear_border=True, split=True, min_distance=20.0, category="coin",
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
    out.mkdir(parents=True, exist_ok=True)
    image = out / "coins.png"
    shutil.copyfile(DATA / "coins.png", image)
    result = run_pipeline([image], COINS_OPTIONS, keep_labels=True, root=out)
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
