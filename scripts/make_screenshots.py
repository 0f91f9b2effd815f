"""Make every screenshot and picture of the README and the docs, from real runs in napari.

Each picture is made in a fresh child process (a shown viewer under Xvfb when there is no
display), then checked: a picture that is blank (one flat colour, or a black canvas) is an
error, not a file. Usage::

    .venv/bin/python scripts/make_screenshots.py              # every picture, into docs/
    .venv/bin/python scripts/make_screenshots.py reader dock  # some of them
    .venv/bin/python scripts/make_screenshots.py --out /tmp/shots --list

Targets: see ``TARGETS`` (name -> file, what it shows). The test suite runs one target into a
temporary folder and checks every picture the docs reference (tests/test_docs.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "napari-coco-masks"
COCO2017 = ROOT / "tests" / "data" / "coco2017-4img" / "data_samples" / "coco_25k" / "annotations.json"


def blank_reason(rgb: np.ndarray, *, canvas: bool = False) -> str | None:
    """Why a picture looks blank (None when it does not): one flat colour, or mostly black."""
    rgb = np.asarray(rgb)[..., :3].astype(np.float64)
    if rgb.size == 0:
        return "empty picture"
    if rgb.std() < 8:
        return f"nearly one colour (std {rgb.std():.1f})"
    dark = float((rgb.max(axis=-1) < 16).mean())
    if canvas and dark > 0.97:
        return f"{dark:.0%} of the canvas is black"
    return None


def _viewer(size: tuple[int, int] = (1500, 1000)):
    import napari

    viewer = napari.Viewer(show=True, title=PLUGIN)
    viewer.window._qt_window.resize(*size)
    napari.qt.get_qapp().processEvents()
    return viewer


def _settle(viewer) -> None:
    import napari

    app = napari.qt.get_qapp()
    for _ in range(3):
        app.processEvents()


def _save(viewer, out: Path, *, canvas_only: bool = False) -> Path:
    import imageio.v3 as iio

    _settle(viewer)
    shot = viewer.screenshot(canvas_only=canvas_only, flash=False)
    reason = blank_reason(shot, canvas=canvas_only)
    if reason:
        raise RuntimeError(f"{out.name}: the screenshot is blank ({reason})")
    iio.imwrite(out, shot)
    return out


def shot_demo(out: Path) -> Path:
    """The coins sample: its COCO annotations, the segmented coins and the measurement table."""
    from napari_coco_masks.demo import run_demo

    with tempfile.TemporaryDirectory() as tmp:
        paths = run_demo(Path(tmp))  # a display (the child has Xvfb) makes the screenshot
        shutil.copyfile(paths["screenshot"], out)
    import imageio.v3 as iio

    reason = blank_reason(iio.imread(out))
    if reason:
        raise RuntimeError(f"{out.name}: the screenshot is blank ({reason})")
    return out


def shot_reader(out: Path) -> Path:
    """The four official COCO val2017 images of the test data, opened: image 1 of 4 drawn."""
    viewer = _viewer((1200, 900))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        viewer.open(str(COCO2017), plugin=PLUGIN)
    viewer.dims.set_current_step(0, 0)
    viewer.reset_view()
    return _save(viewer, out, canvas_only=True)


def _results_from(gt: Path, path: Path, seed: int = 0) -> Path:
    """Predictions made from the ground truth: RLE masks shifted a few pixels, some dropped."""
    import contextlib
    import io

    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt))
    rng = np.random.default_rng(seed)
    dets = []
    for a in coco.dataset["annotations"]:
        if a.get("iscrowd") or rng.random() > 0.8:
            continue
        mask = np.roll(coco.annToMask(a), tuple(rng.integers(-3, 4, 2)), axis=(0, 1))
        rle = mask_utils.encode(np.asfortranarray(mask))
        rle["counts"] = rle["counts"].decode()
        dets.append({"image_id": a["image_id"], "category_id": a["category_id"],
                     "segmentation": rle, "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                     "score": round(float(rng.uniform(0.2, 1.0)), 3)})
    path.write_text(json.dumps(dets))
    return path


def shot_dock(out: Path) -> Path:
    """The COCO annotations dock on image 3 of the val2017 test data, predictions evaluated."""
    import napari

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "coco"
        shutil.copytree(COCO2017.parents[2], folder)
        gt = folder / COCO2017.relative_to(COCO2017.parents[2])
        viewer = _viewer()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layers = viewer.open(str(gt), plugin=PLUGIN)
            results = _results_from(gt, gt.parent / "results.json")
            preds = viewer.open(str(results), plugin=PLUGIN)
        _, dock = viewer.window.add_plugin_dock_widget(PLUGIN, "COCO annotations")
        viewer.dims.set_current_step(0, 2)
        labels = next(ly for ly in layers if ly._type_string == "labels")
        viewer.layers.selection.active = labels
        _settle(viewer)
        worker = dock.evaluate()
        app = napari.qt.get_qapp()
        if worker is not None:
            import time

            deadline = time.monotonic() + 300
            while dock.worker is not None and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.05)
        for layer in preds:  # the evaluation table stays; the canvas shows the ground truth
            layer.visible = False
        viewer.layers.selection.active = labels
        viewer.reset_view()
        return _save(viewer, out)


def shot_classifier(out: Path) -> Path:
    """Learn from examples: strokes on 3 coins and the background, every coin found."""
    import time

    import napari

    from napari_coco_masks._widgets.classifier import ClassifierWidget
    from napari_coco_masks.demo import coins_strokes

    image, _, strokes = coins_strokes()
    viewer = _viewer((1400, 900))
    viewer.add_image(image, name="coins", scale=(0.5, 0.5), units=("µm", "µm"))
    widget = ClassifierWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Learn from examples")
    widget.trees.value = 20
    widget.sigma_min.value, widget.sigma_max.value = 0.5, 8.0
    widget.instances.value = "connected"
    layer = widget.add_strokes_layer()
    layer.data = strokes
    app = napari.qt.get_qapp()
    deadline = time.monotonic() + 120
    while (widget.busy or "coins classes" not in viewer.layers) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    if "coins classes" not in viewer.layers:
        raise RuntimeError("the classifier made no prediction in 120 s")
    viewer.layers["coins classes"].opacity = 0.4
    viewer.layers.move(viewer.layers.index(layer), len(viewer.layers))
    viewer.layers.selection.active = layer
    viewer.reset_view()
    return _save(viewer, out)


def shot_cutouts(out: Path) -> Path:
    """A contact sheet of the 24 coins cut out with alpha from the bundled COCO masks."""
    import imageio.v3 as iio
    from skimage import data

    from napari_coco_masks.demo import DATA
    from napari_coco_masks.segment import cutout

    sheet, _ = cutout.contact_sheet(cutout.cutouts(data.coins(), DATA / "coins.json"), columns=6)
    reason = blank_reason(sheet)
    if reason:
        raise RuntimeError(f"{out.name}: the sheet is blank ({reason})")
    iio.imwrite(out, sheet)
    return out


TARGETS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "demo": ("screenshot.png", shot_demo),
    "reader": ("reader-screenshot.png", shot_reader),
    "dock": ("annotations-dock.png", shot_dock),
    "classifier": ("learn-from-examples.png", shot_classifier),
    "cutouts": ("cutouts.png", shot_cutouts),
}


def _child(name: str, out: Path) -> None:
    TARGETS[name][1](out)
    print(f"wrote {out}", flush=True)
    os._exit(0)  # skip Qt/vispy teardown


def run(name: str, folder: Path, *, timeout: float = 900) -> Path:
    """Make one target in a child process (under xvfb-run when there is no display)."""
    out = folder / TARGETS[name][0]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, str(out)]
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # offscreen has no OpenGL: it draws black
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1200x24", *cmd]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
        raise RuntimeError(f"{name}: failed (exit {proc.returncode}):\n" + "\n".join(tail))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"some of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder (default docs/)")
    parser.add_argument("--list", action="store_true", help="list the targets and stop")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]))
    if args.list:
        for name, (file, fn) in TARGETS.items():
            print(f"{name:8s} {file:28s} {fn.__doc__.splitlines()[0]}")
        return 0
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {list(TARGETS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.targets or list(TARGETS):
        try:
            print(f"{name}: {run(name, args.out)}", flush=True)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            failed += 1
            print(f"{name}: {exc}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
