"""Command line: ``napari-coco-masks demo | run | segment | measure | export-masks |
export-yolo | evaluate``.

Headless: nothing here imports napari or Qt unless a screenshot or a viewer is asked for.
``run`` and ``segment`` run a recipe on dask.distributed (:mod:`napari_coco_masks.recipes`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from ._cli_export import add_eval_alias, add_export_coco, add_split
from ._cli_validate import add_validate
from .pipeline import PipelineOptions

SAMPLE_DIR = Path(__file__).parent / "data"


def _spacing(text: str | None) -> tuple[float, ...] | None:
    """Parse ``"0.5"`` or ``"0.5,0.25"`` (row, col) into a spacing tuple."""
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--spacing {text!r}: expected numbers like 0.5 or 0.5,0.25"
        ) from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"--spacing {text!r}: expected one or two positive numbers")
    return values


def _add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    defaults = PipelineOptions()
    parser.add_argument("--method", default=defaults.method, help="threshold method (otsu, li, ...)")
    parser.add_argument("--dark-objects", action="store_true", help="objects darker than background")
    parser.add_argument("--sigma", type=float, default=defaults.sigma, help="smoothing (physical units)")
    parser.add_argument("--min-size", type=float, default=defaults.min_size, help="smallest object area")
    parser.add_argument("--block-size", type=int, default=None, help="window of local methods (px)")
    parser.add_argument("--clear-border", action="store_true", help="drop objects on the border")
    parser.add_argument("--no-split", action="store_true", help="do not split touching objects")
    parser.add_argument(
        "--min-distance", type=float, default=defaults.min_distance, help="between split objects"
    )
    parser.add_argument("--spacing", type=_spacing, default=None, help="pixel size, e.g. 0.65")
    parser.add_argument("--units", default=None, help="unit of --spacing, e.g. µm")
    parser.add_argument("--category", default=defaults.category, help="category of the objects")


def _options(args: argparse.Namespace, **overrides: object) -> PipelineOptions:
    values = {
        "method": args.method,
        "dark_objects": args.dark_objects,
        "sigma": args.sigma,
        "min_size": args.min_size,
        "block_size": args.block_size,
        "clear_border": args.clear_border,
        "split": not args.no_split,
        "min_distance": args.min_distance,
        "spacing": args.spacing,
        "units": args.units,
        "category": args.category,
    }
    values.update(overrides)
    return PipelineOptions(**values)


def _regular_file(path: str | os.PathLike, what: str = "COCO file") -> Path:
    """``path`` if it is an existing regular file (a FIFO or device would block on open).

    Raises
    ------
    CocoError
        Naming the file, when it is missing, unreadable or not a regular file.
    """
    from .coco.errors import CocoError

    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise CocoError(f"cannot read the {what}: {exc.strerror or exc}", path=path) from None
    if not stat.S_ISREG(mode):
        raise CocoError(
            f"the {what} is not a regular file (a folder, FIFO or device cannot be read)", path=path
        )
    return Path(path)


@contextlib.contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` whose files move into ``out`` only on success.

    A failure while writing leaves ``out`` as it was: no partial output.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield tmp
        out.mkdir(parents=True, exist_ok=True)
        for item in sorted(tmp.iterdir()):
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_spacing(text: str) -> tuple[float, ...]:
    """Parse ``--spacing`` of ``run``: one value (every axis) or one per axis (z, y, x)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not 1 <= len(values) <= 3 or min(values) <= 0:
        raise argparse.ArgumentTypeError(
            f"--spacing {text!r}: expected one to three positive numbers like 0.5 or 2,0.5,0.5"
        )
    return values


def _add_batch_options(parser: argparse.ArgumentParser) -> None:
    """The options ``run`` and ``segment`` share: where to run, resume or overwrite."""
    parser.add_argument("--output", "-o", required=True, help="results folder")
    parser.add_argument("--scheduler", default=None,
                        help="address of a dask scheduler (tcp://host:8786); default: "
                             "DASK_SCHEDULER_ADDRESS, else a local cluster of this machine")
    parser.add_argument("--workers", type=int, default=None,
                        help="workers of the local cluster (default: one per core)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="skip the images already done in the results folder")
    again.add_argument("--overwrite", action="store_true",
                       help="replace the results of another run in the folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _batch(args: argparse.Namespace, recipe, inputs, spacing):
    from .recipes import run_recipe

    return run_recipe(recipe, inputs, args.output, spacing=spacing, resume=args.resume,
                      overwrite=args.overwrite, scheduler=args.scheduler, workers=args.workers,
                      progress=not args.no_progress)


def cmd_run(args: argparse.Namespace) -> int:
    """Run a recipe on images (files, folders, globs) on dask; exit code 1 if some failed."""
    report = _batch(args, args.recipe, args.inputs, args.spacing)
    print(report.text(), end="")
    for what in ("coco", "measurements", "summary", "report"):
        print(f"{what}: {report.outputs[what]}")
    return 0 if report.ok else 1


def cmd_segment(args: argparse.Namespace) -> int:
    """Segment, measure and write COCO for images: the fixed threshold -> split recipe."""
    from .coco.images import image_info

    for image in args.images:
        image_info(_regular_file(image, "image file"))  # bad files: one line before any work
    recipe = _options(args).to_recipe()
    report = _batch(args, recipe, args.images, args.spacing)
    for failure in report.failed:
        print(f"napari-coco-masks: failed: {failure['file']}: {failure['reason']}",
              file=sys.stderr)
    print(f"{report.objects} objects in {report.done} images")
    for what in ("coco", "measurements", "summary"):
        print(f"{what}: {report.outputs[what]}")
    return 0 if report.ok else 1


def cmd_measure(args: argparse.Namespace) -> int:
    """Measure every annotation of a COCO file, per object and per category."""
    from .coco.errors import CocoError
    from .coco.model import load_coco
    from .segment.measure import summarize, to_csv

    dataset = load_coco(_regular_file(args.coco))
    if not dataset.images:
        raise CocoError("the file has no images: nothing to measure", path=args.coco, where="images")
    tables = [_measure_image(dataset, image, args) for image in dataset.images]
    import pandas as pd

    result = pd.concat(tables, ignore_index=True)
    result.attrs["units"] = tables[0].attrs.get("units", {})
    out = Path(args.output)
    with _staged(out) as tmp:
        to_csv(result, tmp / "measurements.csv")
        to_csv(summarize(result, by="category"), tmp / "summary.csv")
    print(f"{len(result)} objects measured")
    print(f"measurements: {out / 'measurements.csv'}")
    print(f"summary: {out / 'summary.csv'}")
    return 0


def _measure_image(dataset, image, args: argparse.Namespace):
    """The measurement table of one image, with file name, annotation id and category."""
    from .coco.raster import rasterize_image
    from .segment.measure import measure

    by_label = {ann.position + 1: ann for ann in dataset.image_annotations(image.position)}
    labels = rasterize_image(dataset, image.position)
    table = measure(labels, spacing=args.spacing, units=args.units)
    anns = [by_label[int(v)] for v in table["label"]]
    table.insert(1, "annotation_id", [ann.id for ann in anns])
    table.insert(2, "category", [dataset.category(ann).name for ann in anns])
    table.insert(0, "file_name", image.file_name)
    return table


def cmd_export_masks(args: argparse.Namespace) -> int:
    """Write instance-label and per-category mask images for every image of a COCO file."""
    from .coco.masks import export_masks

    written = export_masks(_regular_file(args.coco), args.output, fmt=args.format)
    if args.semantic:
        from .coco.exports import export_semantic

        written += export_semantic(_regular_file(args.coco), args.output, fmt=args.format)
    print(f"{len(written)} mask files written to {args.output}")
    return 0


def cmd_export_yolo(args: argparse.Namespace) -> int:
    """Write YOLO label files (segmentation polygons or detection boxes) and data.yaml."""
    from .coco.exports import export_yolo

    written = export_yolo(_regular_file(args.coco), args.output, task=args.task)
    print(f"{len(written) - 1} YOLO label files and data.yaml written to {args.output}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """COCOeval of a results file against ground truth: a table, and JSON with --output."""
    from .coco.evaluate import STAT_NAMES, evaluate

    stats = evaluate(_regular_file(args.ground_truth), _regular_file(args.results),
                     iou_types=args.iou_type)
    print(f"{'':6}" + "".join(f"{n:>10}" for n in STAT_NAMES[:6]))
    for kind, row in stats.items():
        print(f"{kind:6}" + "".join(f"{row[n]:>10.3f}" for n in STAT_NAMES[:6]))
    if args.output:
        from .coco.write import write_bytes

        write_bytes(json.dumps(stats, indent=1).encode(), args.output)
        print(f"statistics written to {args.output}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the coins recipe on the bundled coins sample and write results into a folder."""
    from .demo import run_demo

    paths = run_demo(Path(args.output), show=args.show)
    print("results written to:", Path(args.output).resolve())
    for what, path in paths.items():
        print(f"  {what}: {path}")
    return 0


def _add_demo(sub) -> None:
    demo = sub.add_parser("demo", help="run the coins recipe on the bundled coins sample")
    demo.add_argument("--output", "-o", default="results", help="results folder (default: results)")
    demo.add_argument("--show", action="store_true", help="open the results in napari")
    demo.set_defaults(func=cmd_demo)


def _add_run(sub) -> None:
    run = sub.add_parser("run", help="run a recipe on many images (dask.distributed)",
                         description="Run a recipe (YAML or JSON) on images: one COCO file, "
                         "measurements.csv, summary.csv, an overlay PNG per image and a report. "
                         "Exit code 1 when some images failed (listed in the report).")
    run.add_argument("recipe", help="recipe file (YAML or JSON)")
    run.add_argument("inputs", nargs="+", help="image files, folders or globs (TIFF, PNG, JPEG)")
    run.add_argument("--spacing", type=_run_spacing, default=None,
                     help="pixel size in the recipe's units, over the files' own (e.g. 0.65)")
    _add_batch_options(run)
    run.set_defaults(func=cmd_run)


def _add_segment(sub) -> None:
    seg = sub.add_parser("segment", help="threshold, split, measure and write COCO for images")
    seg.add_argument("images", nargs="+", help="image files (PNG, TIFF, JPEG, ...)")
    _add_batch_options(seg)
    _add_pipeline_options(seg)
    seg.set_defaults(func=cmd_segment)


def _add_measure(sub) -> None:
    meas = sub.add_parser("measure", help="measure the objects of a COCO file")
    meas.add_argument("coco", help="COCO instances JSON")
    meas.add_argument("--output", "-o", required=True, help="results folder")
    meas.add_argument("--spacing", type=_spacing, default=None, help="pixel size, e.g. 0.65")
    meas.add_argument("--units", default=None, help="unit of --spacing, e.g. µm")
    meas.set_defaults(func=cmd_measure)


def _add_export_masks(sub) -> None:
    masks = sub.add_parser("export-masks", help="write mask images (PNG/TIFF) from a COCO file")
    masks.add_argument("coco", help="COCO instances JSON")
    masks.add_argument("--output", "-o", required=True, help="folder for the mask images")
    masks.add_argument("--format", choices=("png", "tiff"), default="png")
    masks.add_argument("--semantic", action="store_true",
                       help="also a class-index mask per image (semantic/, classes.json)")
    masks.set_defaults(func=cmd_export_masks)


def _add_export_yolo(sub) -> None:
    yolo = sub.add_parser("export-yolo", help="write YOLO label files from a COCO file")
    yolo.add_argument("coco", help="COCO instances JSON")
    yolo.add_argument("--output", "-o", required=True, help="folder for labels/ and data.yaml")
    yolo.add_argument("--task", choices=("segment", "detect"), default="segment",
                      help="polygons (segment, default) or boxes (detect)")
    yolo.set_defaults(func=cmd_export_yolo)


def _add_evaluate(sub) -> None:
    ev = sub.add_parser("evaluate", help="COCOeval of predictions against ground truth")
    ev.add_argument("ground_truth", help="COCO instances JSON (ground truth)")
    ev.add_argument("results", help="COCO results JSON (a list of detections with scores)")
    ev.add_argument("--iou-type", nargs="+", choices=("segm", "bbox"), default=["segm", "bbox"])
    ev.add_argument("--output", "-o", default=None, help="write the statistics as JSON")
    ev.set_defaults(func=cmd_evaluate)


#: One function per subcommand, each adding its parser; a new subcommand is one more entry.
SUBCOMMANDS = [_add_demo, _add_run, _add_segment, _add_measure, _add_export_masks,
               _add_export_yolo, _add_evaluate, add_validate, add_export_coco, add_split,
               add_eval_alias]


def build_parser() -> argparse.ArgumentParser:
    """The ``napari-coco-masks`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="napari-coco-masks",
        description="Segment, measure and convert COCO instance masks without a viewer.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _error_line(exc: BaseException, args: argparse.Namespace) -> str:
    """One line naming the file (and JSON path, for a CocoError) and what went wrong."""
    from .coco.errors import CocoError

    if isinstance(exc, CocoError):
        text = str(exc)
        source = getattr(args, "coco", None)
        if exc.path is None and source is not None:
            text = f"{source}: {text}"
    else:
        source = getattr(args, "coco", None) or " ".join(getattr(args, "images", []) or [])
        if isinstance(exc, KeyError):
            detail = f"a required key {exc} is missing"
        elif isinstance(exc, RecursionError):
            detail = "the JSON is nested too deeply"
        elif isinstance(exc, MemoryError):
            detail = "not enough memory for this input"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        text = f"{source}: {detail}" if source else detail
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-coco-masks`` command.

    Every failure on bad input is exit code 2 and one line on stderr naming the file (and the
    JSON path of the offending value), never a traceback; nothing partial is written.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("napari-coco-masks: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, never a traceback (see the docstring)
        print(f"napari-coco-masks: error: {_error_line(exc, args)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
