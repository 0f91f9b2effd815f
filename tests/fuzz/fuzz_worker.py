"""The child process of the fuzz runner: runs cases read from stdin, one JSON line each.

For each case it prints ``{"i": k, "stage": ...}`` before each stage and finally
``{"i": k, "outcome": "ok" | "allowed" | "failure", ...}``. A crash (signal) or a hang leaves
the last stage line as the only trace; ``faulthandler`` writes the stack to stderr, where the
runner finds the innermost frame. Run by :mod:`fuzz_runner`, never by hand.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import fuzz_mutate

PROJECT = "napari_coco_masks"
_OUT = sys.stdout


def _say(**fields: Any) -> None:
    _OUT.write(json.dumps(fields, default=str) + "\n")
    _OUT.flush()


def innermost(tb_frames: list[traceback.FrameSummary]) -> str:
    """``file:function`` of the innermost project frame (else the innermost frame)."""
    ours = [f for f in tb_frames if PROJECT in f.filename.replace("\\", "/")]
    frame = (ours or tb_frames or [None])[-1]
    if frame is None:
        return "?"
    name = frame.filename.replace("\\", "/")
    short = name.split("/src/", 1)[-1] if "/src/" in name else name.rsplit("/", 2)[-1]
    return f"{short}:{frame.name}"


class CheckFailed(AssertionError):
    """A check of an outcome failed; ``blame`` names the code responsible."""

    def __init__(self, message: str, blame: str) -> None:
        super().__init__(message)
        self.blame = blame


def _expect(ok: bool, message: str, blame: str) -> None:
    if not ok:
        raise CheckFailed(message, blame)


def _allowed(exc: BaseException) -> bool:
    from napari_coco_masks.coco.errors import CocoError

    return isinstance(exc, CocoError)


# -- entry points -----------------------------------------------------------------------------


def run_load(case: dict, tmp: Path, stage) -> None:
    from napari_coco_masks.coco import annotation_mask, load_coco, rasterize_image
    from napari_coco_masks.coco.images import find_images, stack_images

    path, _ = fuzz_mutate.coco_case(case["seed"], tmp)
    stage("load_coco")
    ds = load_coco(path)
    stage("rasterize_image")
    for image in ds.images[:4]:
        rasterize_image(ds, image.position)
    stage("annotation_mask")
    for ann in list(ds.annotations)[:6]:
        image = ds.images[ann.image_position]
        annotation_mask(ann, image.height, image.width)
    stage("images")
    paths = find_images(ds)
    for p in paths:
        inside = p is None or Path(p).resolve().is_relative_to(path.parents[1].resolve())
        _expect(inside, f"an image outside the dataset folder was found: {p}",
                "napari_coco_masks/coco/images.py:find_images")
    shape = (min(max(h for h, _ in ds.image_shapes), 256), min(max(w for _, w in ds.image_shapes), 256)) if ds.images else (1, 1)
    stack_images(paths, shape, lazy=False)


def _touch(data: Any) -> None:
    """Read what a viewer reads first: the first plane of array-like layer data."""
    if isinstance(data, list) or data is None:
        return
    if getattr(data, "ndim", 0) >= 3:
        np.asarray(data[0])
    elif hasattr(data, "shape"):
        np.asarray(data)


def run_reader(case: dict, tmp: Path, stage) -> None:
    from napari_coco_masks._reader import get_reader

    path, _ = fuzz_mutate.coco_case(case["seed"], tmp)
    stage("get_reader")
    reader = get_reader(str(path))
    if reader is None:
        stage("agreement")
        from napari_coco_masks.coco import CocoError, load_coco

        try:
            load_coco(path)
            accepted = True
        except CocoError:
            accepted = False
        _expect(not accepted, "load_coco accepts a file that the reader declines",
                "napari_coco_masks/_reader.py:get_reader")
        return
    stage("read")
    layers = reader(str(path))
    stage("layers")
    for layer in layers or []:
        if layer and layer[0] is not None:
            _touch(layer[0])


def run_cli(case: dict, tmp: Path, stage) -> None:
    from napari_coco_masks.cli import build_parser

    path, _ = fuzz_mutate.coco_case(case["seed"], tmp)
    command = ["measure", "export-masks"][case["seed"] % 2]
    out = tmp / "out"
    args = build_parser().parse_args([command, str(path), "-o", str(out)])
    stage(f"cli {command}")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            args.func(args)
    except BaseException:
        _check_main([command, str(path), "-o", str(out)])
        leftovers = [p.name for p in tmp.iterdir() if p.name.startswith(".out.")]
        partial = out.exists() and any(out.iterdir())
        _expect(not partial, "partial output left after an error", "napari_coco_masks/cli.py")
        _expect(not leftovers, f"temporary output left: {leftovers}", "napari_coco_masks/cli.py")
        raise


def _check_main(argv: list[str]) -> None:
    """``main`` on a failing input: exit code 2 and exactly one line on stderr."""
    from napari_coco_masks.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    text = err.getvalue()
    _expect(code == 2 and text.count("\n") == 1 and "Traceback" not in text,
            f"the command did not fail with one line and code 2: {code} {text[:200]!r}",
            "napari_coco_masks/cli.py:main")


def _check_written(dataset: dict, tmp: Path, stage) -> None:
    """The dataset written to disk loads in pycocotools and in our model to the same masks."""
    from pycocotools.coco import COCO

    from napari_coco_masks.coco import annotation_mask, load_coco
    from napari_coco_masks.coco.geometry import clip_margin
    from napari_coco_masks.coco.write import write_coco

    stage("write_coco")
    path = write_coco(dataset, tmp / "written.json")
    stage("verify")
    raw = json.loads(Path(path).read_text())
    sizes = {im["id"]: (im["height"], im["width"]) for im in raw["images"]}
    for ann in raw["annotations"]:
        h, w = sizes[ann["image_id"]]
        seg = ann.get("segmentation")
        if isinstance(seg, list):
            m = clip_margin(h, w)
            for part in seg:
                xy = np.asarray(part, float)
                ok = xy.size == 0 or (xy.min() >= -m and xy.max() <= max(h, w) + m)
                _expect(bool(np.all(np.isfinite(xy))), "written polygon has non-finite coordinates",
                        "napari_coco_masks/coco/write.py:_shape_record")
                _expect(ok, "written polygon reaches far outside its image (pycocotools would "
                        "crash on it): write.py must clip it with geometry.safe_polygon",
                        "napari_coco_masks/coco/write.py:_shape_record")
    stage("verify pycocotools")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    ours = load_coco(path)
    for ann in ours.annotations:
        image = ours.images[ann.image_position]
        mine = annotation_mask(ann, image.height, image.width)
        if ann.kind == "bbox":
            continue
        ref = coco.annToMask(coco.anns[ann.id]).astype(bool)
        _expect(np.array_equal(mine, ref), f"annotation {ann.id}: our mask differs from pycocotools'",
                "napari_coco_masks/coco/raster.py:annotation_mask")
        area = ann.record.get("area")
        _expect(area is None or abs(float(area) - float(ref.sum())) < 1e-6,
                f"annotation {ann.id}: area {area} is not its mask's {int(ref.sum())}",
                "napari_coco_masks/coco/write.py (area)")


def run_labels(case: dict, tmp: Path, stage) -> None:
    from napari_coco_masks.coco.write import dataset_from_labels

    labels, kwargs, _ = fuzz_mutate.labels_case(case["seed"])
    stage("dataset_from_labels")
    dataset = dataset_from_labels(labels, **kwargs)
    _check_written(dataset, tmp, stage)
    stage("verify labels")
    from napari_coco_masks.coco import annotation_mask, load_coco

    ours = load_coco(tmp / "written.json")
    planes = labels[None] if labels.ndim == 2 else labels
    if kwargs.get("mode") == "polygon" or labels.dtype.kind not in "iub":
        return  # polygons fill holes; float labels have no exact masks to compare
    for image in ours.images:
        plane = np.asarray(planes[image.position])
        values = [True] if plane.dtype == bool else [v for v in np.unique(plane) if v != 0]
        want = sorted((plane == v).tobytes() for v in values if (plane == v).any())
        got = sorted(
            annotation_mask(a, image.height, image.width).tobytes()
            for a in ours.image_annotations(image.position)
        )
        _expect(got == want, f"image {image.position}: written masks differ from the labels",
                "napari_coco_masks/coco/encode.py:encode_labels")


def run_shapes(case: dict, tmp: Path, stage) -> None:
    from napari_coco_masks.coco.write import dataset_from_shapes

    shapes, types, features, kwargs, _ = fuzz_mutate.shapes_case(case["seed"])
    stage("dataset_from_shapes")
    dataset = dataset_from_shapes(shapes, types, features, **kwargs)
    _check_written(dataset, tmp, stage)


def run_raster(case: dict, tmp: Path, stage) -> None:
    from napari_coco_masks.coco.raster import annotation_mask, annotation_window

    ann, h, w, _ = fuzz_mutate.raster_case(case["seed"])
    stage("annotation_window")
    annotation_window(ann, h, w)
    stage("annotation_mask")
    annotation_mask(ann, h, w)


def run_images(case: dict, tmp: Path, stage) -> None:
    from napari_coco_masks.coco.errors import ImageReadError
    from napari_coco_masks.coco.images import image_info, read_image, stack_images

    paths, _ = fuzz_mutate.image_file_case(case["seed"], tmp / "ds" / "images")
    stage("read_image")
    for p in paths:
        try:
            image_info(p)
            read_image(p)
        except ImageReadError:
            pass
    stage("stack_images")
    stack_images(list(paths) + [None], (16, 16), lazy=bool(case["seed"] % 2))
    if case["seed"] % 2:
        result = stack_images(list(paths), (16, 16), lazy=True)
        if result is not None:
            np.asarray(result[0])


def run_masks(case: dict, tmp: Path, stage) -> None:
    from napari_coco_masks.coco.masks import export_masks

    path, _ = fuzz_mutate.coco_case(case["seed"], tmp)
    out = tmp / "masks"
    stage("export_masks")
    try:
        written = export_masks(path, out, fmt=["png", "tiff"][case["seed"] % 2])
    except BaseException:
        partial = out.exists() and any(out.iterdir())
        _expect(not partial, "partial mask export left after an error",
                "napari_coco_masks/coco/masks.py:export_masks")
        raise
    names = [p.relative_to(out).as_posix().lower() for p in written]
    _expect(len(names) == len(set(names)), "two mask files share a name",
            "napari_coco_masks/coco/masks.py:_stem")
    _expect(all(p.resolve().is_relative_to(out.resolve()) for p in written),
            "a mask file was written outside the output folder", "napari_coco_masks/coco/masks.py:_stem")


def run_selftest(case: dict, tmp: Path, stage) -> None:
    """Misbehave on purpose (the runner's own test): crash, hang, exhaust memory or raise."""
    what = case["what"]
    stage(what)
    if what == "segfault":
        import ctypes

        ctypes.string_at(0)
    elif what == "hang":
        import time

        time.sleep(3600)
    elif what == "memory":
        np.ones(2**40, dtype=np.uint8)
    elif what == "coco":
        from napari_coco_masks.coco.errors import CocoError

        raise CocoError("allowed")
    elif what == "bug":
        raise KeyError("bug")


RUNNERS = {
    "selftest": run_selftest,
    "raster": run_raster,
    "images": run_images,
    "masks": run_masks,
    "load": run_load,
    "reader": run_reader,
    "cli": run_cli,
    "labels": run_labels,
    "shapes": run_shapes,
}


def run_case(k: int, case: dict) -> dict:
    """Run one case; its outcome as a dict (``failure`` carries type, frame and message)."""
    current = {"stage": "build"}

    def stage(name: str) -> None:
        current["stage"] = name
        _say(i=k, stage=name)

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        faulthandler.dump_traceback_later(case.get("timeout", 20), exit=True)
        try:
            RUNNERS[case["entry"]](case, Path(tmp), stage)
            return {"i": k, "outcome": "ok"}
        except BaseException as exc:
            if _allowed(exc):
                return {"i": k, "outcome": "allowed", "type": type(exc).__name__}
            frames = traceback.extract_tb(exc.__traceback__)
            return {
                "i": k,
                "outcome": "failure",
                "type": type(exc).__name__,
                "frame": getattr(exc, "blame", None) or innermost(frames),
                "stage": current["stage"],
                "message": str(exc)[:300],
            }
        finally:
            faulthandler.cancel_dump_traceback_later()


def main() -> None:
    """Read cases from stdin until EOF."""
    faulthandler.enable(file=sys.stderr, all_threads=False)
    import napari_coco_masks._reader
    import napari_coco_masks.cli
    import napari_coco_masks.coco.write  # noqa: F401

    _say(ready=True)
    sys.stdout = io.StringIO()  # entry points print; only _say writes to the runner
    for line in sys.stdin:
        k, case = json.loads(line)
        _say(**run_case(k, case))
        sys.stdout = io.StringIO()


if __name__ == "__main__":
    main()
