"""Keypoints in the COCO annotations dock: the selected instance, adding one of its
keypoints, setting the COCO visibility (0 not labelled, 1 occluded, 2 visible) of selected
keypoints. The Points layer's rows name their instance (``annotation_id``) and ``keypoint``
index, and :func:`~..coco.edits.image_changes` writes them into that instance's record.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from napari_coco_masks._widgets._annotate import SessionLayers
from napari_coco_masks.coco.errors import CocoError
from napari_coco_masks.coco.session import CocoSession

__all__ = ["VISIBILITY", "add_keypoint", "selected_instance", "set_visibility"]


#: COCO keypoint visibility: 0 not labelled, 1 labelled but not visible, 2 visible.
VISIBILITY = {0: "not labelled", 1: "occluded", 2: "visible"}


def selected_instance(layers: SessionLayers, *, labels: bool = False) -> Any:
    """The annotation id of the selected instance: of the selected keypoints (all of one
    instance), else of the selected shapes, else (with ``labels``: the Labels layer is the
    one being used) of its selected label; None when nothing (or an instance not saved yet,
    or several) is selected."""
    for kind in (layers.points, layers.shapes):
        for layer in kind:
            df = layer.features
            if layer.selected_data and "annotation_id" in df:
                ids = {df["annotation_id"].iloc[k] for k in layer.selected_data}
                ids = {a for a in ids if pd.notna(a)}
                return next(iter(ids)) if len(ids) == 1 else None
    for layer in layers.labels if labels else []:
        value, df = int(layer.selected_label), layer.features
        if value and {"index", "annotation_id"} <= set(df.columns):
            hit = df.loc[pd.to_numeric(df["index"]) == value, "annotation_id"]
            if len(hit) and pd.notna(hit.iloc[0]):
                return hit.iloc[0]
    return None


def _instance(session: CocoSession, annotation_id: Any) -> Any:
    from napari_coco_masks.coco.write import _match_id

    want = _match_id(annotation_id)
    found = next((a for a in session.annotations(session.current) if _match_id(a.id) == want),
                 None)
    if found is None:
        raise CocoError(f"annotation {annotation_id!r} is not an instance of the image shown")
    return found


def _instance_centre(layers: SessionLayers, ann: Any) -> np.ndarray:
    """(row, col) of the middle of an instance: its pixels, else its box's centre."""
    for labels in layers.labels:
        df = labels.features
        if {"index", "annotation_id"} <= set(df.columns):
            hit = df.loc[df["annotation_id"] == ann.id, "index"]
            if len(hit):
                rows, cols = np.nonzero(layers.plane(labels) == int(hit.iloc[0]))
                if rows.size:
                    k = np.argmin((rows - rows.mean()) ** 2 + (cols - cols.mean()) ** 2)
                    return np.array([rows[k], cols[k]], float)  # a pixel of the instance
    if ann.bbox is not None and len(ann.bbox) == 4:
        x, y, w, h = (float(v) for v in ann.bbox)
        return np.array([y + h / 2, x + w / 2])
    image = layers.session.dataset.images[layers.session.current]
    return np.array([image.height / 2, image.width / 2])


def add_keypoint(layers: SessionLayers, annotation_id: Any, index: int | None = None) -> int:
    """Add keypoint ``index`` of an instance (default: the first it has not labelled) to the
    Points layer at the instance's middle, visible, selected for the user to drag; returns
    the keypoint index. Saved into the instance's ``keypoints`` array."""
    if not layers.points:
        raise CocoError("this file has no keypoints layer (none of its categories has "
                        "keypoints)")
    session = layers.session
    points = layers.points[0]
    ann = _instance(session, annotation_id)
    cat = session.dataset.categories[ann.category_position]
    df = points.features
    mine = df["annotation_id"] == ann.id if "annotation_id" in df else np.zeros(len(df), bool)
    taken = set(pd.to_numeric(df.loc[mine, "keypoint"]).dropna().astype(int)) if (
        "keypoint" in df) else set()
    size = max(len(cat.keypoints), len(ann.keypoints or []) // 3)
    if index is None:
        index = next((k for k in range(size) if k not in taken), size if not size else None)
        if index is None:
            raise CocoError(f"every keypoint of annotation {ann.id!r} is labelled ({size}): "
                            "move one, or set its visibility")
    if index in taken:
        raise CocoError(f"annotation {ann.id!r} already has keypoint {index}: move that one")
    if size and not 0 <= index < size:
        raise CocoError(f"keypoint {index} is not one of the {size} keypoints of "
                        f"{cat.name!r}")
    rc = _instance_centre(layers, ann)
    coord = np.concatenate([[float(session.current)], rc]) if session.stacked else rc
    n = len(points.data)
    points.add(coord[None])
    df = pd.DataFrame(points.features).copy()
    row = {"annotation_id": ann.id, "image_id": ann.image_id, "category_id": cat.id,
           "category": cat.name, "iscrowd": ann.iscrowd, "keypoint": index,
           "name": str(cat.keypoints[index]) if index < len(cat.keypoints) else str(index),
           "visibility": 2}
    for col, value in row.items():
        if col not in df.columns:
            df[col] = None
        if not isinstance(value, (int, np.integer)) or df[col].dtype.kind != "i":
            df[col] = df[col].astype(object)
        df.loc[df.index[n], col] = value
    points.features = df
    colors = np.asarray(points.face_color).copy()
    from napari.utils.colormaps.standardize_color import transform_color

    colors[n] = transform_color(session.colors[cat.position])[0]
    points.face_color = colors
    points.selected_data = {n}
    return index


def set_visibility(layers: SessionLayers, visibility: int) -> int:
    """Set the COCO visibility of the selected keypoints (0, 1 or 2); returns how many.
    A keypoint set to 0 is not labelled: it is saved as ``0, 0, 0``."""
    if visibility not in VISIBILITY:
        raise CocoError(f"visibility must be 0, 1 or 2, got {visibility!r}")
    n = 0
    for points in layers.points:
        rows = sorted(points.selected_data)
        if not rows:
            continue
        df = pd.DataFrame(points.features).copy()
        if "visibility" not in df.columns:
            df["visibility"] = 2
        df["visibility"] = pd.to_numeric(df["visibility"]).fillna(2).astype(int)
        df.loc[df.index[rows], "visibility"] = int(visibility)
        points.features = df
        n += len(rows)
    return n
