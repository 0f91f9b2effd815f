"""One image's edits as record changes: what the minimal-diff writer rewrites.

The lossless round trip of :mod:`.write` works on datasets; here it runs on a one-image
dataset made of that image's drawable records (so label ``k + 1`` is record ``k``, as the
session's per-image label values are), and its result is mapped back to file positions.
No napari import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    if result is None:
        return {}, []
    return _map_back(session, i, records, result["annotations"])


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
