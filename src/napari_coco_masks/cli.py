"""Command line: ``napari-coco-masks demo | segment | measure | export-masks``.

Headless: nothing here imports napari or Qt unless a screenshot or a viewer is asked for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .pipeline import PipelineOptions, run_pipeline

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


def _write_results(result, out: Path) -> dict[str, Path]:
    """Write the COCO file, the per-object CSV and the per-category summary CSV into ``out``."""
    from .coco.write import write_coco
    from .segment.measure import summarize, to_csv

    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "coco": out / "annotations.json",
        "measurements": out / "measurements.csv",
        "summary": out / "summary.csv",
    }
    write_coco(result.dataset, paths["coco"])
    to_csv(result.measurements, paths["measurements"])
    table = result.measurements.assign(category=result.dataset["categories"][0]["name"])
    to_csv(summarize(table, by="category"), paths["summary"])
    return paths


def cmd_segment(args: argparse.Namespace) -> int:
    """Segment, measure and write COCO for many images (dask, one task per image)."""
    def report(done: int, total: int) -> None:
        print(f"segmented {done}/{total} images", file=sys.stderr)

    result = run_pipeline(args.images, _options(args), root=args.output, progress=report)
    paths = _write_results(result, Path(args.output))
    n = len(result.dataset["annotations"])
    print(f"{n} objects in {len(args.images)} images")
    for what, path in paths.items():
        print(f"{what}: {path}")
    return 0


def cmd_measure(args: argparse.Namespace) -> int:
    """Measure every annotation of a COCO file, per object and per category."""
    from .coco.model import load_coco
    from .coco.raster import rasterize_image
    from .segment.measure import measure, summarize, to_csv

    dataset = load_coco(args.coco)
    by_label = {ann.position + 1: ann for ann in dataset.annotations}
    tables = []
    for image in dataset.images:
        labels = rasterize_image(dataset, image.position)
        table = measure(labels, spacing=args.spacing, units=args.units)
        anns = [by_label[int(v)] for v in table["label"]]
        table.insert(1, "annotation_id", [ann.id for ann in anns])
        table.insert(2, "category", [dataset.category(ann).name for ann in anns])
        table.insert(0, "file_name", image.file_name)
        tables.append(table)
    import pandas as pd

    result = pd.concat(tables, ignore_index=True)
    result.attrs["units"] = tables[0].attrs.get("units", {}) if tables else {}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    to_csv(result, out / "measurements.csv")
    to_csv(summarize(result, by="category"), out / "summary.csv")
    print(f"{len(result)} objects measured")
    print(f"measurements: {out / 'measurements.csv'}")
    print(f"summary: {out / 'summary.csv'}")
    return 0


def cmd_export_masks(args: argparse.Namespace) -> int:
    """Write instance-label and per-category mask images for every image of a COCO file."""
    from .coco.masks import export_masks

    written = export_masks(args.coco, args.output, fmt=args.format)
    print(f"{len(written)} mask files written to {args.output}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the main job on the bundled coins sample and write results into a folder."""
    from .demo import run_demo

    paths = run_demo(Path(args.output), show=args.show)
    print("results written to:", Path(args.output).resolve())
    for what, path in paths.items():
        print(f"  {what}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``napari-coco-masks`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="napari-coco-masks",
        description="Segment, measure and convert COCO instance masks without a viewer.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole pipeline on the bundled coins sample")
    demo.add_argument("--output", "-o", default="results", help="results folder (default: results)")
    demo.add_argument("--show", action="store_true", help="open the results in napari")
    demo.set_defaults(func=cmd_demo)

    seg = sub.add_parser("segment", help="threshold, split, measure and write COCO for images")
    seg.add_argument("images", nargs="+", help="image files (PNG, TIFF, JPEG, ...)")
    seg.add_argument("--output", "-o", required=True, help="results folder")
    _add_pipeline_options(seg)
    seg.set_defaults(func=cmd_segment)

    meas = sub.add_parser("measure", help="measure the objects of a COCO file")
    meas.add_argument("coco", help="COCO instances JSON")
    meas.add_argument("--output", "-o", required=True, help="results folder")
    meas.add_argument("--spacing", type=_spacing, default=None, help="pixel size, e.g. 0.65")
    meas.add_argument("--units", default=None, help="unit of --spacing, e.g. µm")
    meas.set_defaults(func=cmd_measure)

    masks = sub.add_parser("export-masks", help="write mask images (PNG/TIFF) from a COCO file")
    masks.add_argument("coco", help="COCO instances JSON")
    masks.add_argument("--output", "-o", required=True, help="folder for the mask images")
    masks.add_argument("--format", choices=("png", "tiff"), default="png")
    masks.set_defaults(func=cmd_export_masks)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-coco-masks`` command."""
    from .coco.errors import CocoError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CocoError, ValueError, FileNotFoundError) as exc:
        print(f"napari-coco-masks: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
