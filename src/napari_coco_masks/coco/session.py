"""The reader <-> writer contract for one opened COCO file: per-image layers and their edits.

A :class:`CocoSession` is what the napari reader puts in every layer's ``metadata["coco"]
["session"]`` and what the writer reads back. It holds:

- the source (:class:`~.model.CocoDataset`, which keeps the file's bytes);
- what each image's layers show, built on demand: the label image with **per-image label
  values** (the ``k``-th drawable annotation of the image, in file order, is label ``k + 1``),
  its feature table and colours, and its polygons and keypoints in napari coordinates;
- the per-image edit store: painted label planes, edited feature tables, shapes and points,
  kept when the viewer moves to another image;
- :meth:`CocoSession.to_bytes`: the file re-emitted with only the changed records rewritten.

Label values stay small, so a Labels colormap and features table are the size of one image
however large the file. No napari or Qt import here.
"""

from __future__ import annotations

import colorsys
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .categories import CategoryEdits
from .errors import CocoError
from .geometry import coco_bbox_to_napari, coco_keypoints_to_napari, coco_polygon_to_napari
from .model import CocoAnnotation, CocoCategory, CocoDataset

__all__ = [
    "CocoSession",
    "LabelPlanes",
    "ShapesState",
    "annotation_columns",
    "category_colors",
    "clean_ring",
    "drawable_ring",
]

#: Unedited label planes kept decoded (least recently used are dropped).
CACHED_PLANES = 16
#: Edited planes kept whole; older edits are parked as the box of their changed pixels.
LIVE_EDITS = 8


def category_colors(dataset: CocoDataset) -> dict[int, str]:
    """One ``#rrggbb`` colour per category position: distinct, stable golden-angle hues."""
    colors = {}
    for cat in dataset.categories:
        hue = (0.07 + cat.position * 0.618033988749895) % 1.0
        sat = 0.75 if cat.position % 2 == 0 else 0.55
        rgb = colorsys.hsv_to_rgb(hue, sat, 1.0)
        colors[cat.position] = "#" + "".join(f"{round(v * 255):02x}" for v in rgb)
    return colors


def clean_ring(vertices: np.ndarray) -> np.ndarray:
    """Drop repeated consecutive vertices and the closing repeat of a polygon ring."""
    if len(vertices) > 1:
        keep = np.any(vertices != np.roll(vertices, 1, axis=0), axis=1)
        keep[0] = True
        vertices = vertices[keep]
        if len(vertices) > 1 and np.array_equal(vertices[0], vertices[-1]):
            vertices = vertices[:-1]
    return vertices


def drawable_ring(vertices: np.ndarray) -> np.ndarray | None:
    """:func:`clean_ring`, or None when fewer than 3 finite vertices remain (not drawable)."""
    ring = clean_ring(vertices)
    if len(ring) < 3 or not np.all(np.isfinite(ring)):
        return None
    return ring


def annotation_columns(dataset: CocoDataset, anns: Sequence[CocoAnnotation]) -> dict[str, list]:
    """Feature columns of the contract, one row per annotation (attributes flattened)."""
    cats = dataset.categories
    cols: dict[str, list] = {
        "annotation_id": [a.id for a in anns],
        "image_id": [a.image_id for a in anns],
        "category_id": [a.category_id for a in anns],
        "category": [cats[a.category_position].name for a in anns],
        "iscrowd": [a.iscrowd for a in anns],
    }
    if any("score" in a.record for a in anns):  # predictions
        cols["score"] = [a.record.get("score") for a in anns]
    keys: dict[str, None] = {}
    for a in anns:
        keys.update(dict.fromkeys(a.attributes))
    for key in keys:
        cols[f"attributes.{key}"] = [a.attributes.get(key) for a in anns]
    return cols


@dataclass
class ShapesState:
    """What a Shapes (or Points) layer holds for one image, in 2D napari coordinates."""

    data: list
    types: list[str]
    features: Any
    edge: list = field(default_factory=list)
    face: list = field(default_factory=list)


class CocoSession:
    """One opened COCO file: per-image layer content and the edits made to it.

    Parameters
    ----------
    dataset : CocoDataset
        From :func:`~.model.load_coco`.
    """

    def __init__(self, dataset: CocoDataset) -> None:
        self.dataset = dataset
        self.colors = category_colors(dataset)
        self.current = 0
        from .raster import check_image_size

        n = len(dataset.images)
        self.canvas = check_image_size(  # the padded plane of every layer: within the budget
            max(h for h, _ in dataset.image_shapes) if n else 1,
            max(w for _, w in dataset.image_shapes) if n else 1,
            path=dataset.path,
            where="images (the largest height x width)",
        )
        self.planes = LabelPlanes(self)
        self.label_features: dict[int, Any] = {}
        self.shapes: dict[int, ShapesState] = {}
        self.points: dict[int, ShapesState] = {}
        self.category_edits = CategoryEdits()
        #: Called with the session after :meth:`rebase` (the napari adapter re-shows the image).
        self._on_rebase: list = []

    @property
    def default_category(self) -> Any:
        """The category id new instances get when nothing names one: the file's most used
        category (never a Roboflow-style unused placeholder), else its first category."""
        used = self.dataset._category_of
        used = used[used >= 0]
        cats = self.dataset.categories
        if used.size:
            return cats[int(np.bincount(used).argmax())].id
        return cats[0].id if cats else None

    @property
    def n_images(self) -> int:
        return len(self.dataset.images)

    @property
    def stacked(self) -> bool:
        """Whether layers carry a leading image axis (files of more than one image)."""
        return self.n_images > 1

    # ---------------------------------------------------------------- labels
    def annotations(self, i: int) -> list[CocoAnnotation]:
        """The drawable annotations of image ``i``; label ``k + 1`` is the ``k``-th."""
        return self.dataset.image_annotations(i)

    def label_plane(self, i: int, out: np.ndarray | None = None) -> np.ndarray:
        """Image ``i``'s label image (its own size) with per-image label values (painted into
        the top-left of ``out`` when given)."""
        from .raster import rasterize_image

        return rasterize_image(self.dataset, i, per_image=True, out=out)

    def label_table(self, i: int) -> dict[str, list]:
        """Labels feature columns of image ``i``: ``index`` (the label value) first."""
        anns = self.annotations(i)
        return {"index": list(range(1, len(anns) + 1)), **annotation_columns(self.dataset, anns)}

    def label_colors(self, i: int) -> dict[int, str]:
        """Label value -> ``#rrggbbaa`` of its category, for image ``i`` (from its edited
        label table when it has one: re-assigned and new labels get their category's colour)."""
        table = self.label_features.get(i)
        if table is not None and {"index", "category_id"} <= set(getattr(table, "columns", ())):
            from .write import _match_id

            position = {_match_id(c.id): c.position for c in self.dataset.categories}
            out = {}
            for value, cid in zip(table["index"].tolist(), table["category_id"].tolist(),
                                  strict=True):
                p = position.get(_match_id(cid))
                if p is not None and value == value:
                    out[int(value)] = self.colors[p] + "ff"
            return out
        return {
            k + 1: self.colors[a.category_position] + "ff"
            for k, a in enumerate(self.annotations(i))
        }

    # ---------------------------------------------------------------- shapes
    def file_shapes(self, i: int) -> ShapesState:
        """Image ``i``'s polygons (one shape per part) and bbox-only boxes, as read."""
        data, types, rows, parts, dropped = [], [], [], [], []
        for a in self.annotations(i):
            if a.kind == "polygon":
                pieces = [(j, coco_polygon_to_napari(p)) for j, p in enumerate(a.segmentation)]
            elif a.kind == "bbox":
                pieces = [(-1, coco_bbox_to_napari(a.bbox))]
            else:
                continue
            for j, verts in pieces:
                if j >= 0:
                    verts = drawable_ring(verts)
                    if verts is None:
                        dropped.append(f"annotations[{a.position}].segmentation[{j}]")
                        continue
                data.append(verts)
                types.append("polygon" if j >= 0 else "rectangle")
                rows.append(a)
                parts.append(j)
        if dropped:
            warnings.warn(
                f"{self.dataset.path}: {len(dropped)} degenerate polygons (fewer than 3 distinct "
                f"vertices) left out of the Shapes layer (they stay in Labels): "
                f"{', '.join(dropped[:10])}",
                UserWarning,
                stacklevel=2,
            )
        columns = {**annotation_columns(self.dataset, rows), "part": parts}
        edge = [self.colors[a.category_position] + "ff" for a in rows]
        face = [self.colors[a.category_position] + "40" for a in rows]
        return ShapesState(data, types, columns, edge, face)

    def shapes_state(self, i: int) -> ShapesState:
        """What the Shapes layer shows for image ``i``: its edits, else the file's."""
        return self.shapes.get(i) or self.file_shapes(i)

    # ---------------------------------------------------------------- points
    def file_points(self, i: int) -> ShapesState:
        """Image ``i``'s labelled keypoints (visibility > 0) in napari (row, col)."""
        rows, coords, kp_index, kp_name, vis = [], [], [], [], []
        for a in self.annotations(i):
            kp = a.keypoints
            if kp is None or len(kp) % 3:
                continue
            try:
                rc, v = coco_keypoints_to_napari(kp)
            except (TypeError, ValueError):
                continue
            names = self.dataset.categories[a.category_position].keypoints
            for k in np.flatnonzero((v > 0) & np.all(np.isfinite(rc), axis=1)):
                coords.append(rc[k])
                rows.append(a)
                kp_index.append(int(k))
                kp_name.append(str(names[k]) if k < len(names) else str(k))
                vis.append(int(v[k]))
        columns = {
            **annotation_columns(self.dataset, rows),
            "keypoint": kp_index,
            "name": kp_name,
            "visibility": vis,
        }
        face = [self.colors[a.category_position] + "ff" for a in rows]
        return ShapesState(coords, ["point"] * len(coords), columns, [], face)

    def points_state(self, i: int) -> ShapesState:
        return self.points.get(i) or self.file_points(i)

    # ------------------------------------------------------------ categories
    def category(self, category_id: Any) -> CocoCategory:
        """The category of ``category_id`` (3, 3.0 and "3" are the same id)."""
        from .write import _match_id

        for cat in self.dataset.categories:
            if _match_id(cat.id) == _match_id(category_id):
                return cat
        raise CocoError(f"category_id {category_id!r} is not a category of the file",
                        path=self.dataset.path)

    def rename_category(
        self, category_id: Any, name: str | None = None, *, supercategory: str | None = None
    ) -> None:
        """Give a category a new ``name`` (and/or ``supercategory``); saving rewrites only its
        record in the ``categories`` array. The stored feature tables show the new name."""
        from .categories import check_name
        from .write import _match_id

        cat = self.category(category_id)
        record = dict(cat.record)
        if name is not None and name != cat.name:
            others = [c.name for c in self.dataset.categories if c.position != cat.position]
            record["name"] = check_name(name, others)
            self.category_edits.stale.setdefault(_match_id(cat.id), set()).add(cat.name)
        if supercategory is not None:
            if not isinstance(supercategory, str):
                raise CocoError(f"a supercategory must be a string, got {supercategory!r}")
            record["supercategory"] = supercategory
        self._set_category(cat.position, record)
        if cat.position < len(self.dataset.categories) - len(self.category_edits.added):
            self.category_edits.renamed[cat.position] = record
        self._refresh_category_names()

    def add_category(
        self, name: str, *, supercategory: str = "", category_id: Any = None
    ) -> Any:
        """Add a category (appended to the ``categories`` array on save); returns its id, by
        default one more than the largest integer id (never 0)."""
        from .categories import check_name, next_category_id
        from .write import _as_id, _match_id

        cats = self.dataset.categories
        check_name(name, [c.name for c in cats])
        ids = [c.id for c in cats]
        cid = next_category_id(ids) if category_id is None else _as_id(category_id)
        if _match_id(cid) in {_match_id(v) for v in ids}:
            raise CocoError(f"category id {cid!r} is taken: give another id or none")
        position = len(cats)
        cats.append(CocoCategory(position, cid, name, supercategory,
                                 {"id": cid, "name": name, "supercategory": supercategory}))
        self.category_edits.added.append(position)
        self.colors = category_colors(self.dataset)
        return cid

    def _set_category(self, position: int, record: dict) -> None:
        old = self.dataset.categories[position]
        self.dataset.categories[position] = CocoCategory(
            position, old.id, str(record.get("name", old.name)),
            str(record.get("supercategory") or ""), record,
        )

    def category_records(self) -> list[dict]:
        """The ``categories`` array as it is now (renamed records, added ones last)."""
        return [c.record for c in self.dataset.categories]

    def _refresh_category_names(self) -> None:
        """Stored tables show renamed categories by their new names."""
        from .categories import refresh_names
        from .write import _match_id

        stale = self.category_edits.stale
        if not stale:
            return
        names = {_match_id(c.id): c.name for c in self.dataset.categories}
        for i, table in list(self.label_features.items()):
            self.label_features[i] = refresh_names(table, names, stale)
        for store in (self.shapes, self.points):
            for state in store.values():
                state.features = refresh_names(state.features, names, stale)

    # ---------------------------------------------------------------- edits
    def edited_images(self) -> list[int]:
        """Images with painted planes, edited feature tables, shapes or keypoints."""
        return sorted({*self.planes.edited, *self.label_features, *self.shapes, *self.points})

    def changes(self, mode: str = "auto") -> tuple[dict[int, dict | None], list[dict]]:
        """Records to rewrite (position -> new record, None to drop) and records to add."""
        from .edits import image_changes

        replaced: dict[int, dict | None] = {}
        appended: list[dict] = []
        next_id = _next_int_id(self.dataset.annotation_ids)
        self._refresh_category_names()
        for i in self.edited_images():
            rep, new = image_changes(self, i, mode)
            replaced.update(rep)
            for rec in new:
                rec["id"] = next_id
                next_id += 1
                appended.append(rec)
        self._check_categories([*(r for r in replaced.values() if r is not None), *appended])
        return replaced, appended

    def _check_categories(self, records: Sequence[dict]) -> None:
        """Every record written names a category of the file (readers drop the others)."""
        from .write import _match_id

        known = {_match_id(c.id) for c in self.dataset.categories}
        for rec in records:
            if _match_id(rec.get("category_id")) not in known:
                names = ", ".join(f"{c.id!r} ({c.name})" for c in self.dataset.categories[:20])
                raise CocoError(
                    f"annotation {rec.get('id')!r} on image {rec.get('image_id')!r}: category_id "
                    f"{rec.get('category_id')!r} is not a category of the file ({names}): "
                    "choose one of them in the features table",
                    path=self.dataset.path,
                )

    def segments(self, mode: str = "auto") -> list:
        """The file as :func:`~.source.splice_annotations` segments: only changed records new."""
        from .source import dumps_record, splice_annotations

        source = self.dataset.source
        if source is None:
            raise CocoError("this dataset has no file of its own: use save() or to_dict()")
        replaced, appended = self.changes(mode)
        like = source.record(0) if len(source) else None
        segments = splice_annotations(
            source,
            {p: (None if r is None else dumps_record(r, like)) for p, r in replaced.items()},
            [dumps_record(r, like) for r in appended],
        )
        return self._category_segments(segments)

    def _category_segments(self, segments: list) -> list | None:
        """Segments with the category edits spliced in; None when the file has no
        ``categories`` array to splice into (it is then written whole)."""
        from .categories import category_ops, splice_ops

        if not self.category_edits:
            return segments
        ops = category_ops(self.dataset.source.buffer, self.category_edits,
                           self.category_records())
        return None if ops is None else splice_ops(segments, ops)

    def to_bytes(self, mode: str = "auto") -> bytes:
        """The file with only the changed records rewritten (byte-identical without edits)."""
        from .source import join_segments
        from .write import dumps_coco

        segments = None if self.dataset.source is None else self.segments(mode)
        if segments is None:
            return dumps_coco(self.to_dict(mode)).encode("utf-8")
        return join_segments(segments, self.dataset.source)

    def to_dict(self, mode: str = "auto") -> dict:
        """The dataset with its edits as a JSON object (for datasets without a file of their
        own, such as predictions shown beside their ground truth)."""
        replaced, appended = self.changes(mode)
        obj = dict(self.dataset.raw)
        kept = [
            replaced.get(k, rec) for k, rec in enumerate(obj.get("annotations") or [])
            if not (k in replaced and replaced[k] is None)
        ]
        obj["annotations"] = kept + appended
        if self.category_edits:
            obj["categories"] = self.category_records()
        return obj

    def save(self, path: Any, mode: str = "auto") -> None:
        """Write the file with its edits to ``path``, atomically, streaming unchanged bytes
        (a dataset without a file of its own is written whole)."""
        from .source import write_segments
        from .write import write_atomic, write_coco

        segments = None if self.dataset.source is None else self.segments(mode)
        if segments is None:
            self._refuse_ground_truth(path)
            write_coco(self.to_dict(mode), path)
            return
        write_atomic(path, lambda fh: write_segments(segments, self.dataset.source, fh))
        if self.is_source(path):
            self.rebase()

    def _refuse_ground_truth(self, path: Any) -> None:
        """Predictions read beside their ground truth must not be saved over it."""
        import os

        gt, results = self.dataset.path, self.dataset.results_path
        if results is None or gt is None:
            return
        try:
            same = os.path.samefile(path, gt)
        except OSError:
            return
        if same:
            raise CocoError(
                f"these are the predictions of {Path(results).name}, shown beside their ground "
                f"truth {Path(gt).name}: saving them there would replace the ground truth; "
                "save the predictions under another name",
                path=path,
            )

    def is_source(self, path: Any) -> bool:
        """Whether ``path`` is the file this session reads its bytes from."""
        import os

        if self.dataset.source is None or self.dataset.path is None:
            return False
        try:
            return os.path.samefile(path, self.dataset.path)
        except OSError:
            return False

    def rebase(self) -> None:
        """Read the session's file again after it was saved over: the new bytes are indexed,
        the edit store (planes, tables, shapes, points, category edits) is emptied, as it is
        in the file now, and the shown image stays. Listeners added with :meth:`on_rebase`
        are called (the layers show the saved records, with their new ids and label values).
        """
        from .model import load_coco

        self.dataset = load_coco(self.dataset.path, invalid=self.dataset._invalid)
        self.colors = category_colors(self.dataset)
        self.current = min(self.current, max(self.n_images - 1, 0))
        self.planes.reset()  # the same object: a Labels layer holds it as its data
        self.label_features.clear()
        self.shapes.clear()
        self.points.clear()
        self.category_edits = CategoryEdits()
        for ref in list(self._on_rebase):
            fn = ref()
            if fn is None:
                self._on_rebase.remove(ref)
            else:
                fn(self)

    def on_rebase(self, fn: Any) -> None:
        """Call ``fn(session)`` after each :meth:`rebase` (held weakly: a bound method of an
        object that goes away is dropped)."""
        import weakref

        ref = weakref.WeakMethod(fn) if hasattr(fn, "__self__") else weakref.ref(fn)
        self._on_rebase.append(ref)


def _next_int_id(ids: Sequence[Any]) -> int:
    """One more than the largest integer id (ids of deleted records are never reused)."""
    if isinstance(ids, np.ndarray):
        return int(max(ids.max(initial=0), 0)) + 1
    best = 0
    for v in ids:
        if type(v) is int and v > best:
            best = v
    return best + 1


class LabelPlanes:
    """A lazy ``(N, H, W)`` int32 label stack over a session, for napari's Labels layer.

    Plane ``i`` is image ``i``'s label image (per-image values) padded to the common canvas,
    rasterised when first read; planes written to are kept in :attr:`edited` (only they cost
    memory beyond a small cache).
    """

    dtype = np.dtype(np.int32)
    ndim = 3

    def __init__(
        self, session: CocoSession, *, cache_size: int = CACHED_PLANES, live_edits: int = LIVE_EDITS
    ) -> None:
        self.session = session
        self._edited: OrderedDict[int, np.ndarray] = OrderedDict()
        self._parked: dict[int, tuple[int, int, np.ndarray]] = {}
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(1, cache_size)
        #: Images whose annotations could not be decoded (their planes show empty).
        self.errors: dict[int, CocoError] = {}
        self._live = max(1, live_edits)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.session.n_images, *self.session.canvas)

    def reset(self) -> None:
        """Forget every edit and decoded plane (the session's file was read again)."""
        self._edited.clear()
        self._parked.clear()
        self._cache.clear()
        self.errors.clear()

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def edited(self) -> list[int]:
        """Positions of the planes written to."""
        return sorted({*self._edited, *self._parked})

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"LabelPlanes(shape={self.shape}, edited={len(self._edited)})"

    def original(self, i: int) -> np.ndarray:
        """Plane ``i`` as the file gives it (padded), read-only."""
        plane = self._cache.get(i)
        if plane is None:
            plane = np.zeros(self.session.canvas, dtype=np.int32)
            try:
                self.session.label_plane(i, out=plane)
            except CocoError as exc:  # napari slices here: a malformed image shows empty
                if i not in self.errors:
                    warnings.warn(f"image {i} is shown without labels: {exc}", UserWarning,
                                  stacklevel=2)
                self.errors[i] = exc
                plane[:] = 0
            plane.flags.writeable = False
            self._cache[i] = plane
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(i)
        return plane

    def plane(self, i: int) -> np.ndarray:
        """Plane ``i`` as shown now (edited, else the file's)."""
        i = self._index(i)
        if i in self._edited or i in self._parked:
            return self._writable(i)
        return self.original(i)

    def _writable(self, i: int) -> np.ndarray:
        if i in self._edited:
            self._edited.move_to_end(i)
            return self._edited[i]
        plane = self.original(i).copy()
        parked = self._parked.pop(i, None)
        if parked is not None:
            r0, c0, box = parked
            plane[r0 : r0 + box.shape[0], c0 : c0 + box.shape[1]] = box
        self._edited[i] = plane
        while len(self._edited) > self._live:
            self._park(*self._edited.popitem(last=False))
        return plane

    def _park(self, i: int, plane: np.ndarray) -> None:
        """Keep only the box of pixels that differ from the file (memory of the change)."""
        diff = plane != self.original(i)
        rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
        if rows.size == 0:
            self._parked[i] = (0, 0, plane[:0, :0].copy())
            return
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        self._parked[i] = (int(r0), int(c0), plane[r0:r1, c0:c1].copy())

    def _index(self, i: Any) -> int:
        n = self.shape[0]
        i = int(i)
        if not -n <= i < n:
            raise IndexError(f"image index {i} is out of range for {n} images")
        return i % n

    def __getitem__(self, key: Any) -> Any:
        first, rest = _split(key)
        if _is_int(first):  # a copy: napari writes into the slices it is given
            return np.array(self.plane(first)[rest])
        if isinstance(first, np.ndarray) and first.ndim:
            first = first.astype(np.int64)
            out = np.zeros(np.broadcast_shapes(first.shape, *(np.shape(r) for r in rest)), np.int32)
            for i in np.unique(first).tolist():
                sel = first == i
                idx = tuple(np.broadcast_to(r, sel.shape)[sel] for r in rest)
                out[sel] = self.plane(i)[idx]
            return out
        planes = range(*first.indices(self.shape[0])) if isinstance(first, slice) else first
        return np.stack([self.plane(i)[rest] for i in planes])

    def __setitem__(self, key: Any, value: Any) -> None:
        first, rest = _split(key)
        if _is_int(first):
            self._writable(self._index(first))[rest] = value
            return
        if isinstance(first, np.ndarray) and first.ndim:
            first = first.astype(np.int64)
            values = np.broadcast_to(np.asarray(value), first.shape)
            for i in np.unique(first).tolist():
                sel = first == i
                idx = tuple(np.broadcast_to(r, sel.shape)[sel] for r in rest)
                self._writable(self._index(i))[idx] = values[sel]
            return
        planes = range(*first.indices(self.shape[0])) if isinstance(first, slice) else first
        value = np.asarray(value)
        for n, i in enumerate(planes):
            self._writable(self._index(i))[rest] = value[n] if value.ndim == 3 else value

    def __array__(self, dtype=None, copy=None):
        out = np.stack([self.plane(i) for i in range(self.shape[0])])
        return out.astype(dtype) if dtype is not None else out


def _is_int(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, bool)


def _split(key: Any) -> tuple[Any, tuple]:
    """(index of the image axis, the rest of the key)."""
    if not isinstance(key, tuple):
        key = (key,)
    if not key:
        return slice(None), ()
    first, rest = key[0], tuple(key[1:])
    if isinstance(first, (list, tuple)):
        first = np.asarray(first)
    if isinstance(first, np.ndarray) and first.ndim == 0:
        first = int(first)
    return first, rest


def check_source_session(source: Mapping[str, Any]) -> CocoSession | None:
    """The session of a layer's ``metadata["coco"]``, or None for layers not read from COCO."""
    session = source.get("session") if isinstance(source, Mapping) else None
    return session if isinstance(session, CocoSession) else None
