"""COCO results files (model predictions) as datasets, beside their ground truth.

A results file is a JSON list of detections (``image_id``, ``category_id``, ``score`` and a
``bbox`` and/or ``segmentation``) with no images or categories of its own. :func:`find_ground_truth`
looks for the instances file it was computed on (in its folder and the one above, the first
whose images hold every ``image_id``); :func:`load_results` makes a dataset of the ground
truth's images and categories and the detections as its annotations (ids 1..N in file order,
``score`` kept), so that the reader shows them like any dataset. No napari import.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import CocoError
from .model import CocoDataset, NotCocoError, load_coco, parse_coco

__all__ = ["find_ground_truth", "load_results"]

#: Candidate files larger than this are not opened while looking for the ground truth.
MAX_CANDIDATE_BYTES = 512 * 2**20


def _detections(path: Path) -> list[dict]:
    from .source import read_bytes

    try:
        data = json.loads(read_bytes(path))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise NotCocoError(f"not a JSON file: {exc}", path=path) from None
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise NotCocoError("not a COCO results file (a list of detections)", path=path)
    return data


def find_ground_truth(results_path: str | os.PathLike) -> Path | None:
    """The instances file a results file was computed on, or None when none (or several) fit.

    Looked for among the ``.json`` files of the results file's folder and the folder above;
    the ground truth must hold every ``image_id`` and ``category_id`` the detections use.

    Parameters
    ----------
    results_path : str or PathLike
        A COCO results file (a JSON list of detections).

    Returns
    -------
    Path or None

    Examples
    --------
    >>> import json, shutil, tempfile
    >>> from importlib.resources import files
    >>> tmp = Path(tempfile.mkdtemp())
    >>> _ = shutil.copy(files("napari_coco_masks") / "data" / "coins.json", tmp / "coins.json")
    >>> (tmp / "runs").mkdir()
    >>> detections = [{"image_id": 1, "category_id": 2, "bbox": [305, 16, 60, 56], "score": 0.9}]
    >>> _ = (tmp / "runs" / "results.json").write_text(json.dumps(detections))
    >>> find_ground_truth(tmp / "runs" / "results.json").name
    'coins.json'
    """
    path = Path(results_path)
    dets = _detections(path)
    images = {d.get("image_id") for d in dets}
    categories = {d.get("category_id") for d in dets}
    found = []
    for folder in dict.fromkeys([path.parent, path.parent.parent]):
        for candidate in sorted(folder.glob("*.json")):
            if candidate.resolve() == path.resolve() or not candidate.is_file():
                continue
            if candidate.stat().st_size > MAX_CANDIDATE_BYTES:
                continue
            try:
                gt = load_coco(candidate, invalid="skip")
            except CocoError:
                continue
            if images <= {im.id for im in gt.images} and categories <= {
                c.id for c in gt.categories
            }:
                found.append(candidate)
    return found[0] if len(found) == 1 else None


def load_results(
    results_path: str | os.PathLike, ground_truth: str | os.PathLike | None = None
) -> CocoDataset:
    """A dataset of the ground truth's images and categories with the detections as its
    annotations (``score`` kept, ids 1..N). Its ``path`` is the ground truth's, so images are
    found as for it; it is read-only (it has no file of its own to save into).

    Parameters
    ----------
    results_path : str or PathLike
        A COCO results file (a JSON list of detections).
    ground_truth : str or PathLike, optional
        Its instances file; default: :func:`find_ground_truth`.

    Returns
    -------
    CocoDataset
        With ``results_path`` set to the results file.

    Raises
    ------
    CocoError
        When no single ground truth fits (name it with ``ground_truth``) or a detection names
        an image or category the ground truth lacks.

    Examples
    --------
    >>> import json, shutil, tempfile
    >>> from importlib.resources import files
    >>> tmp = Path(tempfile.mkdtemp())
    >>> _ = shutil.copy(files("napari_coco_masks") / "data" / "coins.json", tmp / "coins.json")
    >>> (tmp / "runs").mkdir()
    >>> detections = [{"image_id": 1, "category_id": 2, "bbox": [305, 16, 60, 56], "score": 0.9}]
    >>> _ = (tmp / "runs" / "results.json").write_text(json.dumps(detections))
    >>> predictions = load_results(tmp / "runs" / "results.json")
    >>> predictions.path.name, predictions.image_annotations(0)[0].record["score"]
    ('coins.json', 0.9)
    """
    path = Path(results_path)
    gt_path = Path(ground_truth) if ground_truth is not None else find_ground_truth(path)
    if gt_path is None:
        raise CocoError(
            "no ground-truth instances file found for these detections (looked in its folder "
            "and the one above for one file holding every image_id and category_id): open the "
            "ground truth, or load both with pycocotools (COCO(gt).loadRes(results))",
            path=path,
        )
    gt = load_coco(gt_path).raw
    annotations = []
    for k, det in enumerate(_detections(path)):
        record: dict[str, Any] = {**det, "id": k + 1}
        record.setdefault("iscrowd", 0)
        if "segmentation" not in record:
            record["segmentation"] = []  # a box only
        annotations.append(record)
    obj = {"images": gt["images"], "categories": gt.get("categories", []),
           "annotations": annotations}
    dataset = parse_coco(obj, path=gt_path, invalid="skip")
    dataset.results_path = path
    return dataset
