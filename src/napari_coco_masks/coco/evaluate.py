"""COCO evaluation of predictions against ground truth, with pycocotools' COCOeval.

:func:`evaluate` checks the results file first (a list of detections whose ``image_id`` and
``category_id`` are the ground truth's), so that a bad file is one :class:`CocoError` naming
the detection instead of a pycocotools ``AssertionError``. No napari import.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import CocoError

__all__ = ["STAT_NAMES", "evaluate"]

#: The twelve numbers of COCOeval.summarize(), in its order.
STAT_NAMES = (
    "AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
    "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large",
)


def _load_json(path: Path) -> Any:
    from .source import read_bytes

    try:
        return json.loads(read_bytes(path))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CocoError(f"not a JSON file: {exc}", path=path) from None


def _check_results(
    results: Any, gt: Mapping[str, Any], path: Path | None, iou_types: Sequence[str]
) -> list[dict]:
    """The detections, each checked against the ground truth's images and categories."""
    if isinstance(results, Mapping) and isinstance(results.get("annotations"), list):
        results = results["annotations"]  # a dataset given as results: its annotations
    if not isinstance(results, list) or not results:
        raise CocoError(
            "a results file is a non-empty JSON list of detections "
            "({image_id, category_id, score, bbox and/or segmentation})",
            path=path,
        )
    images = {im.get("id") for im in gt.get("images", [])}
    categories = {c.get("id") for c in gt.get("categories", [])}
    out = []
    for k, det in enumerate(results):
        where = f"[{k}]"
        if not isinstance(det, Mapping):
            raise CocoError("a detection must be an object", path=path, where=where)
        if det.get("image_id") not in images:
            raise CocoError(
                f"image_id {det.get('image_id')!r} is not an image of the ground truth",
                path=path, where=f"{where}.image_id",
            )
        if det.get("category_id") not in categories:
            raise CocoError(
                f"category_id {det.get('category_id')!r} is not a category of the ground truth",
                path=path, where=f"{where}.category_id",
            )
        for key in ("segmentation" if t == "segm" else "bbox" for t in iou_types):
            if key not in det:
                raise CocoError(f"no '{key}' to evaluate", path=path, where=where)
        score = det.get("score", 1.0)
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise CocoError(f"score must be a number, got {score!r}", path=path,
                            where=f"{where}.score")
        out.append({**det, "score": float(score)})
    return out


def evaluate(
    ground_truth: str | os.PathLike,
    results: str | os.PathLike | list,
    *,
    iou_types: Sequence[str] = ("segm", "bbox"),
) -> dict[str, dict[str, float]]:
    """COCOeval statistics of ``results`` against ``ground_truth``.

    Parameters
    ----------
    ground_truth : str or PathLike
        A COCO instances file (checked with :func:`~.model.load_coco`).
    results : str, PathLike or list
        A COCO results file (a list of detections) or the list itself; a dataset file is
        accepted too (its annotations, with score 1).
    iou_types : sequence of {"segm", "bbox"}
        What to evaluate.

    Returns
    -------
    dict
        ``{iou_type: {"AP": ..., "AP50": ..., ...}}`` (:data:`STAT_NAMES`); -1 where
        COCOeval has nothing to average.

    Examples
    --------
    >>> from importlib.resources import files
    >>> truth = Path(files("napari_coco_masks") / "data" / "coins.json")
    >>> stats = evaluate(truth, truth)  # the annotations as detections: a perfect score
    >>> stats["segm"]["AP"], stats["bbox"]["AP50"]
    (1.0, 1.0)
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from .model import load_coco

    for t in iou_types:
        if t not in ("segm", "bbox"):
            raise CocoError(f"`iou_types` holds 'segm' and/or 'bbox', got {t!r}")
    gt_path = Path(ground_truth)
    load_coco(gt_path)  # one clear error for a malformed ground truth
    gt_obj = _load_json(gt_path)
    res_path = None if isinstance(results, list) else Path(results)
    raw = results if res_path is None else _load_json(res_path)
    dets = _check_results(raw, gt_obj, res_path, iou_types)
    out: dict[str, dict[str, float]] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_obj
        gt.createIndex()
        try:
            dt = gt.loadRes(dets)
        except (AssertionError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise CocoError(f"pycocotools cannot read these detections: {exc!r}",
                            path=res_path) from None
        for t in iou_types:
            ev = COCOeval(gt, dt, t)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            out[t] = {name: float(v) for name, v in zip(STAT_NAMES, ev.stats, strict=True)}
    return out
