"""What the COCO annotations dock does to layers, without its Qt widgets.

The layers of one opened COCO file share a :class:`~..coco.session.CocoSession`
(``_browse.session_of``). Here: the layers of a session in a viewer, their colours from the
category of each row (with hidden categories and predictions under a score threshold made
transparent), the next label value for a new instance of a category, re-assigning instances,
per-category instance counts, turning a plain Labels layer into a COCO file, and the inputs
of an evaluation (predictions beside their ground truth).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_coco_masks._browse import session_of
from napari_coco_masks.coco.categories import instance_counts, table_counts
from napari_coco_masks.coco.errors import CocoError
from napari_coco_masks.coco.session import CocoSession

__all__ = [
    "SessionLayers",
    "apply_colors",
    "category_counts",
    "evaluation_inputs",
    "make_dataset",
    "new_label",
    "reassign",
    "set_new_rows",
]

GREY = "#d9d9d9"
FACE_ALPHA = "40"
PLUGIN = "napari-coco-masks"


@dataclass
class SessionLayers:
    """The Labels, Shapes and Points layers of one session in a viewer."""

    session: CocoSession
    labels: list = field(default_factory=list)
    shapes: list = field(default_factory=list)
    points: list = field(default_factory=list)

    @classmethod
    def find(cls, layers: Iterable[Any], session: CocoSession) -> SessionLayers:
        from napari.layers import Labels, Points, Shapes

        out = cls(session)
        for layer in layers:
            if session_of(layer) is not session:
                continue
            if isinstance(layer, Labels):
                out.labels.append(layer)
            elif isinstance(layer, Shapes):
                out.shapes.append(layer)
            elif isinstance(layer, Points):
                out.points.append(layer)
        return out

    @property
    def all(self) -> list:
        return [*self.labels, *self.shapes, *self.points]

    def plane(self, layer: Any) -> np.ndarray:
        """The shown image's label plane of a Labels layer (live: painting writes into it)."""
        if self.session.stacked:
            return self.session.planes.plane(self.session.current)
        return np.asarray(layer.data)


def is_predictions(session: CocoSession) -> bool:
    """A session of model predictions (a results file shown beside its ground truth: no file
    of its own, detections with a ``score``)."""
    obj = getattr(session.dataset, "_obj", None)
    anns = obj.get("annotations") if isinstance(obj, dict) else None
    return session.dataset.source is None and bool(anns) and any(
        isinstance(a, dict) and "score" in a for a in anns[:100])


def _rows(df: pd.DataFrame) -> list[dict]:
    obj = df.astype(object)
    return obj.where(pd.notna(obj), None).to_dict("records")


class _Palette:
    """Colour and visibility of a feature row: its category's colour, transparent when the
    category is hidden or its score is under the threshold."""

    def __init__(self, session: CocoSession, hidden: set[int], threshold: float | None,
                 only: set | None = None):
        from napari_coco_masks.coco.write import _match_id

        self._match = _match_id
        self.position = {_match_id(c.id): c.position for c in session.dataset.categories}
        self.colors, self.hidden, self.threshold = session.colors, set(hidden), threshold
        self.only = None if only is None else {_match_id(v) for v in only}

    def __call__(self, row: dict) -> tuple[str, bool]:
        p = self.position.get(self._match(row.get("category_id")))
        score = row.get("score")
        shown = (p is None or p not in self.hidden) and not (
            self.threshold is not None and score is not None and score == score
            and score < self.threshold)
        if self.only is not None:
            a = row.get("annotation_id")
            shown = shown and a is not None and self._match(a) in self.only
        return (GREY if p is None else self.colors[p]), shown


def _label_colors(features: pd.DataFrame, palette: _Palette) -> dict[Any, str]:
    colors: dict[Any, str] = {None: GREY + "ff", 0: "#00000000"}
    if "index" in features.columns:
        for row in _rows(features):
            value = row.get("index")
            if value is not None:
                color, shown = palette(row)
                colors[int(value)] = color + ("ff" if shown else "00")
    return colors


_APPLIED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # layer -> colours set


def apply_colors(layers: SessionLayers, hidden: set[int] = frozenset(),
                 threshold: float | None = None, only: set | None = None) -> None:
    """Colour every layer of a session by category; hidden ones (category hidden, score under
    ``threshold``, or an annotation id not in ``only``) transparent. A layer whose colours
    would not change is left alone (a new colormap redraws the whole layer)."""
    from napari.utils.colormaps import DirectLabelColormap

    palette = _Palette(layers.session, hidden, threshold, only)
    for labels in layers.labels:
        colors = _label_colors(labels.features, palette)
        last = _APPLIED.get(labels)
        if last is None or last[0] is not labels.colormap or last[1] != colors:
            labels.colormap = DirectLabelColormap(color_dict=colors)
            _APPLIED[labels] = (labels.colormap, colors)
    for shapes in layers.shapes:
        if not len(shapes.data):
            continue
        edge, face = [], []
        for row in _rows(shapes.features):
            color, shown = palette(row)
            edge.append(color + ("ff" if shown else "00"))
            face.append(color + (FACE_ALPHA if shown else "00"))
        if len(edge) == len(shapes.data):
            shapes.edge_color = edge
            shapes.face_color = face
    for points in layers.points:
        if len(points.data):
            points.shown = [palette(row)[1] for row in _rows(points.features)]


def _image_id(session: CocoSession) -> Any:
    return session.dataset.images[session.current].id


def new_label(layers: SessionLayers, labels: Any, category_id: Any) -> int:
    """Add a row for a new instance of ``category_id`` to ``labels`` (the next free label
    value of the shown image) and make it the label painted; returns the value."""
    df = labels.features
    taken = int(max(layers.plane(labels).max(initial=0),
                    pd.to_numeric(df["index"]).max() if "index" in df and len(df) else 0))
    value = taken + 1
    set_label_rows(layers, labels, {value: category_id})
    labels.selected_label = value
    return value


def set_label_rows(layers: SessionLayers, labels: Any, categories: dict[int, Any]) -> None:
    """Give label values a category: their rows are updated, missing rows added (a new
    instance: no annotation id)."""
    session = layers.session
    df = pd.DataFrame(labels.features).copy()
    if "index" not in df.columns:
        df.insert(0, "index", np.arange(len(df)))
    values = pd.to_numeric(df["index"]).tolist()
    new = []
    for value, cid in categories.items():
        name = session.category(cid).name
        if value in values:
            at = df.index[values.index(value)]
            df = _set(df, [at], cid, name)
        else:
            row = {c: None for c in df.columns}
            row.update(index=value, image_id=_image_id(session), category_id=cid,
                       category=name, iscrowd=0)
            new.append(row)
    if new:
        df = pd.concat([df, pd.DataFrame(new, columns=df.columns)], ignore_index=True)
    labels.features = df


def _set(df: pd.DataFrame, rows: list, category_id: Any, name: str) -> pd.DataFrame:
    for col in ("category_id", "category"):
        if col not in df.columns:
            df[col] = None
    if not isinstance(category_id, (int, np.integer)) or df["category_id"].dtype.kind != "i":
        df["category_id"] = df["category_id"].astype(object)
    df["category"] = df["category"].astype(object)
    df.loc[rows, "category_id"] = category_id
    df.loc[rows, "category"] = name
    return df


def set_new_rows(layers: SessionLayers, shapes: Any, first: int, category_id: Any) -> None:
    """Shapes ``first:`` (just drawn) get ``category_id``."""
    df = pd.DataFrame(shapes.features).copy()
    rows = list(df.index[first:])
    if rows:
        shapes.features = _set(df, rows, category_id, layers.session.category(category_id).name)


def _note(annotation_id: Any, ids: set) -> int:
    """Add an annotation id to ``ids``; 1 for an instance without one (new since opening)."""
    if pd.notna(annotation_id):
        ids.add(annotation_id)
        return 0
    return 1


def reassign(layers: SessionLayers, category_id: Any) -> int:
    """Give the selected instances ``category_id``: the selected shapes (else the selected
    label of each Labels layer), and the same annotations in the session's other layers.
    Returns how many instances changed."""
    name = layers.session.category(category_id).name
    ids: set[Any] = set()
    fresh = 0  # selected instances drawn or painted since opening (no annotation id yet)
    picked: dict[int, set[int]] = {}
    for shapes in layers.shapes:
        df = shapes.features
        for k in sorted(shapes.selected_data):
            fresh += _note(df["annotation_id"].iloc[k] if "annotation_id" in df else None, ids)
    for labels in [] if ids or fresh else layers.labels:
        value, df = int(labels.selected_label), labels.features
        if not value or "index" not in df.columns:
            continue
        at = pd.to_numeric(df["index"]) == value
        if at.any():
            picked[id(labels)] = {value}
            fresh += _note(df.loc[at, "annotation_id"].iloc[0] if "annotation_id" in df else None,
                           ids)
    for shapes in layers.shapes:
        df = pd.DataFrame(shapes.features).copy()
        if not len(df):
            continue
        hit = np.isin(np.arange(len(df)), sorted(shapes.selected_data))
        if "annotation_id" in df and ids:
            hit |= df["annotation_id"].isin(list(ids)).to_numpy()
        if hit.any():
            shapes.features = _set(df, list(df.index[hit]), category_id, name)
    for labels in layers.labels:
        df = labels.features
        values = set(picked.get(id(labels), set()))
        if "annotation_id" in df and ids:
            values.update(int(v) for v in df.loc[df["annotation_id"].isin(list(ids)), "index"])
        if values:
            set_label_rows(layers, labels, dict.fromkeys(sorted(values), category_id))
    return len(ids) + fresh


def category_counts(layers: SessionLayers, cache: dict | None = None) -> tuple[
        np.ndarray, np.ndarray]:
    """Instances per category position: (whole file with the edits, shown image); ``cache``
    as :func:`~..coco.categories.instance_counts` takes it."""
    session = layers.session
    i = session.current
    n = len(session.dataset.categories)
    here = np.zeros(n, np.int64)
    seen_ids: set[Any] = set()
    for labels in layers.labels[:1]:
        table = labels.features
        if session.stacked and i not in session.planes.edited:
            # nothing painted on this image: its instances are the file's rows (no scan)
            if "annotation_id" in table:
                table = table[table["annotation_id"].notna()]
            here += table_counts(session, table)
        else:
            here += table_counts(session, table, plane=layers.plane(labels))
        if "annotation_id" in labels.features:
            seen_ids.update(v for v in labels.features["annotation_id"] if pd.notna(v))
    for shapes in layers.shapes[:1]:
        df = shapes.features
        if not len(df) or "category_id" not in df:
            continue
        ann = df["annotation_id"] if "annotation_id" in df else pd.Series([None] * len(df))
        counted: set[Any] = set()
        position = _Palette(session, set(), None).position
        from napari_coco_masks.coco.write import _match_id

        for cid, a in zip(df["category_id"], ann, strict=True):
            if pd.notna(a) and (a in seen_ids or a in counted):
                continue
            if pd.notna(a) and layers.labels:
                continue  # an instance the labels show (or could not show): counted there
            counted.add(a)
            p = position.get(_match_id(cid))
            if p is not None:
                here[p] += 1
    total = instance_counts(session, cache)
    stored = session.label_features.get(i)
    if stored is not None:
        total -= table_counts(session, stored, plane=session.planes.plane(i))
    else:
        for a in session.annotations(i):
            total[a.category_position] -= 1
    return total + here, here


# ------------------------------------------------------------------ plain layers -> COCO


def make_dataset(viewer: Any, labels: Any, path: str | os.PathLike,
                 image: Any = None) -> list:
    """Write a plain Labels layer (e.g. a segmentation widget's) as a new COCO file at
    ``path`` and open it: returns the new layers, placed where ``labels`` is (scale,
    translate, units). ``labels`` itself is hidden, not removed."""
    from napari_coco_masks._layers import layer_geometry
    from napari_coco_masks.coco.write import dataset_from_labels, write_coco

    data = np.asarray(labels.data)
    if data.ndim not in (2, 3):
        raise CocoError(f"the Labels layer {labels.name!r} is {data.ndim}D: COCO holds 2D "
                        "images or a stack of them")
    stem = image.name if image is not None else labels.name
    names = f"{stem}.png"
    source = getattr(getattr(image, "source", None), "path", None)
    if source:
        names = Path(source).name
    features = labels.features if len(labels.features) else None
    dataset = dataset_from_labels(data, features, image_names=names)
    write_coco(dataset, path)
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*image files not found.*")
        new = viewer.open(str(path), plugin=PLUGIN)
    geometry = layer_geometry(labels)
    for layer in new:
        for key in ("scale", "translate", "units"):
            value = geometry[key]
            if len(value) == layer.ndim:
                setattr(layer, key, value)
    labels.visible = False
    return new


# ---------------------------------------------------------------------------- evaluation


def _clean_detection(rec: dict) -> dict:
    det = {k: v for k, v in rec.items() if k not in ("id", "area")}
    if det.get("segmentation") in ([], None):
        det.pop("segmentation", None)
    return det


def evaluation_inputs(predictions: CocoSession, ground_truth: CocoSession) -> tuple[
        dict, list[dict], str, list]:
    """(ground-truth dict with its edits, detections, IoU type, the predictions' annotation
    id of each detection) for :func:`~..coco.categories.evaluate_categories` (read on the Qt
    thread, evaluated in a worker)."""
    import json

    gt = json.loads(ground_truth.to_bytes())
    records = predictions.to_dict()["annotations"]
    dets = [_clean_detection(r) for r in records]
    if not dets:
        raise CocoError("the predictions hold no detections to evaluate")
    segm = all("segmentation" in d for d in dets)
    return gt, dets, "segm" if segm else "bbox", [r.get("id") for r in records]


def ground_truth_of(predictions: CocoSession, sessions: Iterable[CocoSession]) -> CocoSession | None:
    """The open ground truth the predictions were read beside (same file)."""
    path = predictions.dataset.path
    for s in sessions:
        if s is not predictions and s.dataset.source is not None and path is not None and (
                Path(s.dataset.path).resolve() == Path(path).resolve()):
            return s
    return None

