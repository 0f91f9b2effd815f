"""``napari-coco-masks validate FILE.json [--fix [-o OUT.json]]``: every problem of a COCO file.

Registered in :mod:`.cli` by :func:`add_validate`. Each problem is one line ``level: JSON path:
message``; the exit code is 1 when there are errors (0 with warnings only). ``--fix`` writes a
repaired copy (never over the input) and validates it again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_validate", "cmd_validate"]


def add_validate(sub) -> None:
    """Add the ``validate`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "validate", help="list every problem of a COCO file (exit 1 on errors)",
        description="List every problem of a COCO instances file with its JSON path: errors "
        "(exit code 1) and warnings (duplicate category names, category id 0, boxes that "
        "disagree with the mask, empty coco_url, categories used but not declared, ...).",
    )
    p.add_argument("coco", help="COCO instances JSON")
    p.add_argument("--fix", action="store_true", help="write a repaired copy (see --output)")
    p.add_argument("--output", "-o", default=None,
                   help="file for the repaired copy (default: FILE.fixed.json beside it)")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from .coco.errors import CocoError
    from .coco.validate import ERROR, repair, validate
    from .coco.write import write_coco

    path = Path(args.coco)
    problems = validate(path)
    for problem in problems:
        print(problem)
    errors = sum(p.level == ERROR for p in problems)
    print(f"{path}: {errors} error(s), {len(problems) - errors} warning(s)")
    if not args.fix:
        return 1 if errors else 0
    out = Path(args.output) if args.output else path.with_name(f"{path.stem}.fixed.json")
    if out.resolve() == path.resolve():
        raise CocoError("--fix writes a repaired copy: give --output another file", path=path)
    fixed, done = repair(path)
    write_coco(fixed, out)
    for line in done:
        print(f"fixed: {line}")
    left = validate(out)
    remaining = sum(p.level == ERROR for p in left)
    print(f"{out}: repaired copy written ({len(done)} fixes); {remaining} error(s), "
          f"{len(left) - remaining} warning(s) left")
    return 1 if remaining else 0
