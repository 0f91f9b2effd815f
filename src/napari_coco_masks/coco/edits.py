"""One image's edits as record changes: what the minimal-diff writer rewrites.

The lossless round trip of :mod:`.write` works on datasets; here it runs on a one-image
dataset made of that image's drawable records (so label ``k + 1`` is record ``k``, as the
session's per-image label values are), and its result is mapped back to file positions.
No napari import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .write import dataset_from_labels, dataset_from_shapes

if TYPE_CHECKING:
    from .session import CocoSession

__all__ = ["image_changes"]


def _one_image_source(session: CocoSession, i: int) -> tuple[dict, list[dict], dict]:
    """A one-image dataset of image ``i``'s drawable records, and its writer ``source``."""
    ds = session.dataset
    image = ds.images[i]
    records = [a.record for a in session.annotations(i)]
    mini = {
        "images": [image.record],
        "categories": [c.record for c in ds.categories],
        "annotations": records,
    }
    source = {
        "dataset": mini,
        "image_ids": [image.id],
        "image_shapes": [(image.height, image.width)],
        "source": None if ds.path is None else str(ds.path),
        "default_category": session.default_category,
    }
    return mini, records, source


def image_changes(
    session: CocoSession, i: int, mode: str = "auto"
) -> tuple[dict[int, dict | None], list[dict]]:
    """The record changes that image ``i``'s edits make.

    Returns
    -------
    replaced : dict
        File position -> the rewritten record, or None for a deleted one.
    new : list of dict
        New records (their ids are given by the caller, after every image is done).
    """
    mini, records, source = _one_image_source(session, i)
    image = session.dataset.images[i]
    result: dict[str, Any] | None = None
    if i in session.planes.edited or i in session.label_features:
        plane = session.planes.plane(i)
        features = session.label_features.get(i)
        if features is None:
            features = session.label_table(i)
        result = dataset_from_labels(plane[None], features, source=source, mode=mode)
    if i in session.shapes:
        state = session.shapes[i]
        result = dataset_from_shapes(
            state.data,
            state.types,
            state.features,
            image_shapes=[(image.height, image.width)],
            source=source,
            base=result,
        )
    if result is None and i not in session.points:
        return {}, []
    out = result["annotations"] if result is not None else list(records)
    if i in session.points:
        out = _apply_keypoints(session, i, out)
    return _map_back(session, i, records, out)


def _apply_keypoints(session: CocoSession, i: int, out: list[Any]) -> list[Any]:
    """Records with their keypoints as the Points layer holds them for image ``i``.

    Each point row names its instance (``annotation_id``) and its ``keypoint`` index; a
    keypoint of the file without a row now is unlabelled (``0, 0, 0``). Rows that name no
    instance of the image cannot be saved (a keypoint belongs to an instance): one warning.
    """
    import warnings

    from .geometry import napari_keypoints_to_coco
    from .write import _feature_rows, _match_id

    state = session.points[i]
    rows = _feature_rows(state.features, None)
    coords = np.asarray(state.data, dtype=float).reshape(-1, 2)
    by_id: dict[Any, list[tuple[int, np.ndarray, int]]] = {}
    orphans = 0
    for k, rc in enumerate(coords):
        row = rows.get(k, {})
        ann_id, index = row.get("annotation_id"), row.get("keypoint")
        if ann_id is None or index is None:
            orphans += 1
            continue
        by_id.setdefault(_match_id(ann_id), []).append((int(index), rc, _visibility(row)))
    names = {_match_id(c.id): len(c.keypoints) for c in session.dataset.categories}
    result = []
    for rec in out:
        now = by_id.pop(_match_id(rec.get("id")), None) if isinstance(rec, dict) else None
        kp = rec.get("keypoints") if isinstance(rec, dict) else None
        if kp is None and now:  # the instance's first keypoints: an array of the category's size
            kp = [0] * (3 * names.get(_match_id(rec.get("category_id")), 0))
        if isinstance(kp, list) and len(kp) % 3 == 0 and (now is not None or any(kp[2::3])):
            size = max([len(kp) // 3, *(index + 1 for index, _, _ in now or [])])
            kp = kp + [0] * (3 * size - len(kp))  # a keypoint past the file's array extends it
            new = [0.0] * len(kp)
            for index, rc, visibility in now or []:
                if 0 <= index < size and visibility > 0:  # v=0: not labelled, written 0, 0, 0
                    new[3 * index : 3 * index + 3] = napari_keypoints_to_coco(rc[None], [visibility])
            if rec.get("keypoints") is None or len(rec["keypoints"]) != len(kp) or (
                    _keypoints_differ(kp, new)):
                rec = {**rec, "keypoints": _as_written(kp, new),
                       "num_keypoints": sum(1 for v in new[2::3] if v > 0)}
        result.append(rec)
    orphans += sum(len(v) for v in by_id.values())
    if orphans:
        warnings.warn(
            f"image {i}: {orphans} keypoint(s) not saved: a keypoint belongs to an instance "
            "(give its row the annotation_id and keypoint index of one on this image)",
            UserWarning,
            stacklevel=3,
        )
    return result


def _visibility(row: dict) -> int:
    """A point row's COCO visibility: 0 (not labelled), 1 (labelled, not visible) or 2
    (visible); a row without one (a point added in napari) is visible."""
    v = row.get("visibility")
    try:
        v = int(v)
    except (TypeError, ValueError):
        return 2
    return v if v in (0, 1, 2) else 2


def _keypoints_differ(old: list, new: list) -> bool:
    """Whether keypoints changed (unlabelled ones compare equal whatever their x, y)."""
    for k in range(0, len(old), 3):
        if (old[k + 2] > 0) != (new[k + 2] > 0):
            return True
        if old[k + 2] > 0 and (
            abs(old[k] - new[k]) > 1e-6 or abs(old[k + 1] - new[k + 1]) > 1e-6
            or old[k + 2] != new[k + 2]
        ):
            return True
    return False


def _as_written(old: list, new: list) -> list:
    """New keypoints in the file's number style (integers where the file had integers)."""
    ints = all(type(v) is int for v in old)
    return [int(round(v)) if ints else float(v) for v in new]


def _map_back(
    session: CocoSession, i: int, records: list[dict], out: list[Any]
) -> tuple[dict[int, dict | None], list[dict]]:
    """Compare the round trip's records with the originals: same object = untouched."""
    positions = [a.position for a in session.annotations(i)]
    by_identity = {id(r): k for k, r in enumerate(records)}
    by_id: dict[Any, int] = {}
    for k, r in enumerate(records):
        try:
            by_id.setdefault(r.get("id"), k)
        except TypeError:
            pass
    seen: set[int] = set()
    replaced: dict[int, dict | None] = {}
    new: list[dict] = []
    for rec in out:
        k = by_identity.get(id(rec))
        if k is not None and rec is records[k]:
            seen.add(k)
            continue
        try:
            k = by_id.get(rec.get("id"))
        except TypeError:
            k = None
        if k is not None and k not in seen and not rec.get("_new"):
            seen.add(k)
            replaced[positions[k]] = rec
        else:
            new.append(dict(rec))
    for k, p in enumerate(positions):
        if k not in seen:
            replaced[p] = None
    return replaced, new
