"""``napari-coco-masks export-coco | split | eval``: COCO rewrites from the command line.

Registered in :mod:`.cli` by :data:`SUBCOMMANDS` (one function per subcommand, each adding its
parser to the CLI's subparsers):

- ``export-coco FILE.json -o OUT.json --polygons-only``: every RLE mask as its exact outline
  (:func:`~.coco.exports.export_polygons`); masks with holes lose them, and each is printed with
  its IoU against the original under pycocotools.
- ``split FILE.json -o DIR --ratios train=0.8,val=0.2 --seed 0``: one COCO file per subset of
  the images (:func:`~.coco.exports.export_split`), the same split for the same seed.
- ``eval``: the short name of ``evaluate`` (the same parser).

Bad input is a :class:`~.coco.errors.CocoError`, which :func:`.cli.main` prints as one line
naming the file (exit code 2); nothing is written over the input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["SUBCOMMANDS", "add_eval_alias", "add_export_coco", "add_split", "cmd_export_coco",
           "cmd_split", "parse_ratios"]


def parse_ratios(text: str) -> dict[str, float]:
    """``"train=0.8,val=0.2"`` -> ``{"train": 0.8, "val": 0.2}`` (names kept in order)."""
    out: dict[str, float] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            ratio = float(value)
        except ValueError:
            ratio = -1.0
        if not sep or not name or name in out or not ratio >= 0 or ratio == float("inf"):
            raise argparse.ArgumentTypeError(
                f"--ratios {text!r}: expected distinct names with non-negative numbers, "
                "like train=0.8,val=0.2"
            )
        out[name] = ratio
    if not sum(out.values()) > 0:
        raise argparse.ArgumentTypeError(f"--ratios {text!r}: the ratios must not all be 0")
    return out


def add_export_coco(sub) -> None:
    """Add the ``export-coco`` subcommand."""
    p = sub.add_parser(
        "export-coco", help="write a copy of a COCO file with polygons only",
        description="Write a copy of a COCO file whose RLE masks are polygons (their exact "
        "outlines: IoU 1.0 under pycocotools). A mask with holes cannot be a polygon: it loses "
        "its holes, and each such mask is listed with its IoU against the original. Every "
        "other key of every record is kept.",
    )
    p.add_argument("coco", help="COCO instances JSON")
    p.add_argument("--output", "-o", required=True, help="the new COCO file (not the input)")
    p.add_argument("--polygons-only", action="store_true",
                   help="every mask as polygons (the only conversion; required)")
    p.set_defaults(func=cmd_export_coco)


def cmd_export_coco(args: argparse.Namespace) -> int:
    from .cli import _regular_file
    from .coco.errors import CocoError
    from .coco.exports import export_polygons

    path = _regular_file(args.coco)
    if not args.polygons_only:
        raise CocoError("export-coco needs --polygons-only (the only conversion it makes)",
                        path=path)
    out = Path(args.output)
    if out.exists() and out.resolve() == path.resolve():
        raise CocoError("export-coco writes a new file: give --output another file", path=path)
    if out.is_dir():
        raise CocoError(f"--output {out} is a folder: give a .json file name", path=path)
    result = export_polygons(path, out)
    lossy = result["lossy"]
    for entry in lossy:
        holes = "has holes" if entry["holes"] else "lossy"
        print(f"{entry['where']} (annotation {entry['annotation_id']}): {holes}, "
              f"IoU {entry['iou']:.4f}, loss {1 - entry['iou']:.4f}")
    print(f"{result['converted']} RLE masks written as polygons to {result['path']}")
    if lossy:
        print(f"{len(lossy)} masks with holes lost them: lowest IoU {result['min_iou']:.4f}")
    else:
        print("every mask kept exactly (IoU 1.0)")
    return 0


def add_split(sub) -> None:
    """Add the ``split`` subcommand."""
    p = sub.add_parser(
        "split", help="split a COCO file by images (train/val, seeded)",
        description="Split a COCO file by images into one COCO file per subset (NAME.json in "
        "the output folder): a seeded shuffle cut by the ratios, so the same seed gives the "
        "same split. Each file keeps every category and the annotations of its images.",
    )
    p.add_argument("coco", help="COCO instances JSON")
    p.add_argument("--output", "-o", required=True, help="folder for the subsets' files")
    p.add_argument("--ratios", type=parse_ratios, default={"train": 0.8, "val": 0.2},
                   help="subset names and ratios (default: train=0.8,val=0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffle (default: 0)")
    p.set_defaults(func=cmd_split)


def cmd_split(args: argparse.Namespace) -> int:
    import json

    from .cli import _regular_file
    from .coco.exports import export_split

    files = export_split(_regular_file(args.coco), args.output, ratios=args.ratios,
                         seed=args.seed)
    for name, path in files.items():
        obj = json.loads(path.read_bytes())
        print(f"{name}: {path} ({len(obj['images'])} images, "
              f"{len(obj['annotations'])} annotations)")
    return 0


def add_eval_alias(sub) -> None:
    """``eval``: another name of the ``evaluate`` subcommand (added before it in the list)."""
    evaluate = sub.choices.get("evaluate")
    if evaluate is None:
        raise RuntimeError("add_eval_alias needs the evaluate subcommand registered first")
    sub.choices["eval"] = evaluate  # what argparse's aliases= does
    for action in sub._choices_actions:  # the help line reads "evaluate (eval)", as with aliases=
        if action.dest == "evaluate":
            action.metavar = "evaluate (eval)"


#: In the order they are registered (``eval`` after ``evaluate``).
SUBCOMMANDS = [add_export_coco, add_split, add_eval_alias]
