"""COCO datasets from label images and shapes, lossless round trips, and atomic JSON writing.

Pure functions (no napari, no Qt): they take arrays and feature tables, so scripts can use them
without a viewer. The napari writer (:mod:`napari_coco_masks._writer`) is a thin layer on top.

Two situations (docs/architecture.md, "Reader -> writer contract"):

* **Data that came from a COCO file** (``source`` is the layer's ``metadata["coco"]``): the
  original dataset is the template. Instances whose pixels did not change are written back
  exactly as they were (the same dict); edited instances are re-encoded from their masks,
  keeping every other key; erased instances are dropped; label values that are not one of the
  image's annotations become new annotations with fresh ids. Info, licenses, images,
  categories (unused ones too) and unknown top-level keys are kept.
* **Anything else**: a complete dataset is built, one image record per slice of a stack,
  categories from a ``category`` / ``category_id`` feature or a single default category.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .encode import Mode, check_mode, encode_labels, encode_mask, label_windows, polygons_to_rle
from .errors import CocoError
from .geometry import napari_polygon_to_coco, napari_rect_to_coco_bbox, safe_polygon

__all__ = [
    "DEFAULT_CATEGORY",
    "dataset_from_labels",
    "dataset_from_shapes",
    "write_bytes",
    "write_coco",
]

#: The category given to instances when neither the caller nor the features name one.
DEFAULT_CATEGORY: dict[str, Any] = {"id": 1, "name": "object", "supercategory": "object"}

_ELLIPSE_VERTICES = 64


# --------------------------------------------------------------------------------- features


def _feature_rows(features: Any, key_column: str | None) -> dict[int, dict[str, Any]]:
    """Rows of a features table (DataFrame or dict of columns) keyed by ``key_column``.

    Without ``key_column`` (or when the table lacks it), row ``k`` gets key ``k``. Missing
    values (NaN / None) are dropped from each row.
    """
    if features is None:
        return {}
    if hasattr(features, "to_dict") and hasattr(features, "columns"):
        columns = {str(c): list(features[c]) for c in features.columns}
    elif isinstance(features, Mapping):
        columns = {str(k): list(np.asarray(v, dtype=object).ravel()) for k, v in features.items()}
    else:
        raise CocoError(
            f"`features` must be a pandas DataFrame or a dict of columns, "
            f"got {type(features).__name__}"
        )
    if not columns:
        return {}
    n = len(next(iter(columns.values())))
    keys = (
        [_label_key(v, key_column, k) for k, v in enumerate(columns[key_column])]
        if key_column and key_column in columns
        else list(range(n))
    )
    rows: dict[int, dict[str, Any]] = {}
    for i, key in enumerate(keys):
        row = {}
        for name, values in columns.items():
            value = _plain(values[i])
            if value is not None:
                row[name] = value
        rows[key] = row
    return rows


def _label_key(value: Any, column: str, row: int) -> int:
    """A label value of the features table: a whole number."""
    value = _plain(value)
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    ):
        raise CocoError(
            f"features[{column!r}] row {row} must be an integer label value, got {value!r}: "
            "fix or remove that row",
            where=f"features.{column}[{row}]",
        )
    return int(value)


def _iscrowd(row: Mapping[str, Any]) -> int:
    """The ``iscrowd`` feature of a row: 0 or 1 (missing: 0)."""
    value = row.get("iscrowd", 0)
    if value in (0, 1, None) and not isinstance(value, str):
        return int(value or 0)
    raise CocoError(
        f"the 'iscrowd' feature must be 0 or 1, got {value!r}: fix that row of the features table",
        where="features.iscrowd",
    )


def _plain(value: Any) -> Any:
    """A JSON-ready Python scalar from a table cell; None for missing values."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        if value != value:  # pandas NA and friends
            return None
    except (TypeError, ValueError):
        return None
    return value


def _attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    prefix = "attributes."
    return {k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix)}


def _new_annotation(
    ann_id: Any,
    image_id: Any,
    category_id: Any,
    record: Mapping[str, Any],
    row: Mapping[str, Any],
    iscrowd: int,
) -> dict[str, Any]:
    """A new annotation: ids, the encoded ``record`` (segmentation, area, bbox), the row's
    ``attributes.*`` features as its ``attributes`` dict (left out when there are none)."""
    ann = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        **record,
        "iscrowd": iscrowd,
    }
    attributes = _attributes(row)
    if attributes:
        ann["attributes"] = attributes
    return ann


# ------------------------------------------------------------------------------- categories


def _categories(categories: Sequence[Any] | None, rows: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Category records: given ones, else from ``category_id`` / ``category`` features, else one."""
    if categories is not None:
        out = []
        for i, cat in enumerate(categories):
            if isinstance(cat, str):
                out.append({"id": i + 1, "name": cat, "supercategory": cat})
            elif isinstance(cat, Mapping) and "id" in cat and "name" in cat:
                out.append(dict(cat))
            else:
                raise CocoError(
                    f"`categories[{i}]` must be a name or a dict with 'id' and 'name', got {cat!r}"
                )
        return out or [dict(DEFAULT_CATEGORY)]
    found: dict[Any, str] = {}
    names: list[str] = []
    for row in rows:
        cid, name = row.get("category_id"), row.get("category")
        if cid is not None:
            found.setdefault(_as_id(cid), str(name) if name is not None else str(cid))
        elif name is not None and str(name) not in names:
            names.append(str(name))
    taken = set(found.values())
    next_id = max([v for v in found if isinstance(v, int)], default=0) + 1
    for name in names:
        if name not in taken:
            found[next_id] = name
            next_id += 1
    if not found:
        return [dict(DEFAULT_CATEGORY)]
    return [{"id": cid, "name": name, "supercategory": name} for cid, name in found.items()]


def _as_id(value: Any) -> Any:
    """Ids from tables come as floats or numpy ints: give JSON ints where they are whole.

    Raises :class:`CocoError` for values that cannot be a COCO id (lists, fractions, NaN).
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise CocoError(
            f"an id must be an integer or a string, got {value!r}: fix that row of the "
            "features table",
            where="features",
        )
    return value


def _match_id(value: Any) -> Any:
    """An id for matching rows to records: as :func:`_as_id`, other values as they are."""
    try:
        return _as_id(value)
    except CocoError:
        return repr(value)


def _category_for(
    row: Mapping[str, Any], categories: Sequence[Mapping[str, Any]], default: Any
) -> Any:
    """The category id of a table row: its ``category_id``, else its ``category`` name."""
    if row.get("category_id") is not None:
        return _as_id(row["category_id"])
    name = row.get("category")
    if name is not None:
        for cat in categories:
            if str(cat.get("name")) == str(name):
                return cat["id"]
    return default


# ----------------------------------------------------------------------------------- images


def _check_labels(labels: Any) -> np.ndarray:
    """Validate a label image or stack; return it as an integer ndarray, (N, H, W)."""
    data = np.asarray(labels)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    if not np.issubdtype(data.dtype, np.integer):
        raise CocoError(
            f"`labels` must hold integer label values, got dtype {data.dtype}: COCO instances "
            "are integer ids; convert the layer (e.g. with astype(int)) after checking it is "
            "a label image, not an intensity image"
        )
    if data.ndim == 2:
        data = data[np.newaxis]
    if data.ndim != 3:
        raise CocoError(
            f"`labels` of shape {data.shape} cannot be COCO: COCO instances are 2D masks, so "
            "only a 2D image (H, W) or a stack of 2D images (N, H, W) can be saved; save a "
            "2D slice, or reshape the volume into a stack of images first"
        )
    if data.size and np.issubdtype(data.dtype, np.signedinteger) and data.min() < 0:
        raise CocoError(
            f"`labels` holds negative values (min {data.min()}): label values must be >= 0, "
            "with 0 for background"
        )
    return data


def _image_names(image_names: str | Sequence[str] | None, n: int) -> list[str]:
    if image_names is None:
        return [f"image_{i:04d}.png" for i in range(n)] if n > 1 else ["image.png"]
    if isinstance(image_names, (str, os.PathLike)):
        name = os.fspath(image_names)
        if n == 1:
            return [name]
        stem, ext = os.path.splitext(name)
        return [f"{stem}_{i:04d}{ext}" for i in range(n)]
    names = [os.fspath(v) for v in image_names]
    if len(names) != n:
        raise CocoError(
            f"`image_names` has {len(names)} names for {n} images: give one name per slice"
        )
    return names


def _new_images(
    names: Sequence[str], shapes: Sequence[tuple[int, int]]
) -> list[dict[str, Any]]:
    return [
        {"id": i + 1, "file_name": name, "height": int(h), "width": int(w)}
        for i, (name, (h, w)) in enumerate(zip(names, shapes, strict=True))
    ]


def _check_source(source: Mapping[str, Any]) -> tuple[dict, list, list[tuple[int, int]]]:
    try:
        dataset = source["dataset"]
        image_ids = list(source["image_ids"])
        shapes = [(int(h), int(w)) for h, w in source["image_shapes"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CocoError(
            "`source` must be a layer's metadata['coco'] with 'dataset', 'image_ids' and "
            f"'image_shapes' (docs/architecture.md), got {type(source).__name__} ({exc})"
        ) from None
    if not isinstance(dataset, Mapping) or not isinstance(dataset.get("annotations", []), list):
        raise CocoError("`source['dataset']` must be a COCO dataset dict with an annotations list")
    return dataset, image_ids, shapes


def _next_id(annotations: Iterable[Mapping[str, Any]]) -> int:
    ids = [a.get("id") for a in annotations]
    ints = [int(i) for i in ids if isinstance(i, int) and not isinstance(i, bool)]
    return max(ints, default=0) + 1


# ----------------------------------------------------------------------------------- labels


def dataset_from_labels(
    labels: Any,
    features: Any = None,
    *,
    image_names: str | Sequence[str] | None = None,
    image_shapes: Sequence[tuple[int, int]] | None = None,
    categories: Sequence[Any] | None = None,
    source: Mapping[str, Any] | None = None,
    mode: Mode = "auto",
) -> dict[str, Any]:
    """Build a COCO dataset from a label image or a stack of label images.

    Parameters
    ----------
    labels : (H, W) or (N, H, W) array_like of int
        Instance labels, 0 for background; a 3D array is a stack of N images (first axis).
    features : DataFrame or dict of columns, optional
        Per-label table as napari keeps it: an ``index`` column with the label value (else row
        k is label k), and optionally ``category_id``, ``category``, ``iscrowd`` and
        ``attributes.<key>`` columns.
    image_names : str or sequence of str, optional
        File names of the images (one per slice; one name for a stack is numbered). Ignored
        when ``source`` is given (its image records are kept).
    image_shapes : sequence of (int, int), optional
        (height, width) of each image when the planes are padded to a common size (a stack of
        images of different sizes); each plane is cropped to its image. Default: plane size.
    categories : sequence of str or dict, optional
        Category records (or names, numbered from 1). Default: from the features, else one
        ``"object"`` category.
    source : dict, optional
        The layer's ``metadata["coco"]`` when it was read from a COCO file: the result is then
        the original dataset with only the edited instances changed (see module docstring).
    mode : {"auto", "rle", "polygon"}
        How edited and new instances are encoded (see :func:`.encode.encode_mask`).

    Returns
    -------
    dict
        A COCO dataset ready for :func:`write_coco`.

    Raises
    ------
    CocoError
        If ``labels`` cannot be COCO (float data, more than one non-image axis, negative
        values) or does not match ``source``.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((4, 6), np.uint8)
    >>> labels[1:3, 1:3] = 1
    >>> labels[0:2, 4:6] = 2
    >>> dataset = dataset_from_labels(labels, image_names="a.png")
    >>> dataset["images"], len(dataset["annotations"])
    ([{'id': 1, 'file_name': 'a.png', 'height': 4, 'width': 6}], 2)
    >>> {k: dataset["annotations"][0][k] for k in ("area", "bbox", "category_id")}
    {'area': 4.0, 'bbox': [1.0, 1.0, 2.0, 2.0], 'category_id': 1}
    """
    check_mode(mode)
    rows = _feature_rows(features, "index")
    if source is not None and _is_lazy_stack(labels):
        return _round_trip_labels(labels, rows, source, mode)
    stack = _check_labels(labels)
    if source is not None:
        return _round_trip_labels(stack, rows, source, mode)
    shapes = _plane_shapes(stack, image_shapes)
    images = _new_images(_image_names(image_names, stack.shape[0]), shapes)
    cats = _categories(categories, (rows[v] for v in sorted(rows) if v != 0))
    annotations: list[dict[str, Any]] = []
    for image, full in zip(images, stack, strict=True):
        plane = full[: image["height"], : image["width"]]
        annotations.extend(
            _new_annotations(plane, rows, image["id"], cats, mode, start_id=len(annotations) + 1)
        )
    return {
        "info": {"description": "written by napari-coco-masks"},
        "licenses": [],
        "images": images,
        "categories": cats,
        "annotations": annotations,
    }


def _plane_shapes(
    stack: np.ndarray, image_shapes: Sequence[tuple[int, int]] | None
) -> list[tuple[int, int]]:
    """(h, w) of each image of the stack; given sizes must fit inside the planes."""
    if image_shapes is None:
        return [tuple(stack.shape[1:])] * stack.shape[0]
    sizes = [(int(h), int(w)) for h, w in image_shapes]
    if len(sizes) != stack.shape[0] or any(
        h > stack.shape[1] or w > stack.shape[2] or h < 1 or w < 1 for h, w in sizes
    ):
        raise CocoError(
            f"`image_shapes` {sizes} must give one (height, width) per plane of `labels` "
            f"(shape {stack.shape}), each within the plane"
        )
    return sizes


def _new_annotations(
    plane: np.ndarray,
    rows: Mapping[int, Mapping[str, Any]],
    image_id: Any,
    categories: Sequence[Mapping[str, Any]],
    mode: Mode,
    *,
    start_id: int,
    values: Sequence[int] | None = None,
    default: Any = None,
) -> list[dict[str, Any]]:
    """Annotations for the label values of one plane (all values, or ``values``); labels whose
    row names no category get ``default`` (else the first category)."""
    default = categories[0]["id"] if default is None else default
    encoded = encode_labels(plane, mode=mode, values=values)
    out = []
    for i, (value, enc) in enumerate(encoded.items()):
        row = rows.get(value, {})
        category_id = _category_for(row, categories, default)
        out.append(_new_annotation(start_id + i, image_id, category_id, enc, row, _iscrowd(row)))
    return out


def _parsed(dataset: Mapping[str, Any], source: Mapping[str, Any]):
    """The reader's model of the source dataset (annotations it could not draw are skipped)."""
    from .model import parse_coco

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse_coco(dataset, path=source.get("source"), invalid="skip")


def _original_plane(parsed: Any, image_id: Any, shape: tuple[int, int]) -> np.ndarray:
    """The label image the reader painted for one image (re-rasterised from the file)."""
    from .raster import rasterize_image

    position = next((im.position for im in parsed.images if im.id == image_id), None)
    if position is None:
        return np.zeros(shape, dtype=np.int32)
    return np.asarray(rasterize_image(parsed, position))[: shape[0], : shape[1]]


def _is_lazy_stack(labels: Any) -> bool:
    """A lazy label stack with `edited` planes: planes never written to are unchanged."""
    return all(hasattr(labels, a) for a in ("edited", "plane", "dataset", "shape"))


def _round_trip_labels(
    stack: Any,
    rows: Mapping[int, Mapping[str, Any]],
    source: Mapping[str, Any],
    mode: Mode,
) -> dict[str, Any]:
    """Write back a label stack read from COCO: see the module docstring."""
    dataset, image_ids, shapes = _check_source(source)
    if _is_lazy_stack(stack):
        parsed = stack.dataset
        to_check = list(stack.edited)
        plane_at = stack.plane
    else:
        parsed = _parsed(dataset, source)
        to_check = range(len(shapes))
        plane_at = stack.__getitem__
    if stack.shape[0] != len(image_ids):
        raise CocoError(
            f"`labels` has {stack.shape[0]} image planes but its COCO source has "
            f"{len(image_ids)} images: keep the image axis of the layer as it was read"
        )
    annotations: list[dict[str, Any]] = list(dataset.get("annotations", []))
    position_of = {image_id: p for p, image_id in enumerate(image_ids)}
    by_image: dict[int, list[int]] = {}
    for k, ann in enumerate(annotations):
        p = position_of.get(ann.get("image_id")) if isinstance(ann, Mapping) else None
        if p is not None:
            by_image.setdefault(p, []).append(k)
    categories = list(dataset.get("categories") or [])
    result: list[Any] = list(annotations)
    new: list[dict[str, Any]] = []
    next_id = _next_id(a for a in annotations if isinstance(a, Mapping))
    for p in to_check:
        h, w = shapes[p]
        full = np.asarray(plane_at(p))
        plane = full[:h, :w]
        if full[h:].any() or full[:, w:].any():
            warnings.warn(
                f"image {p} ({image_ids[p]!r}): labels painted outside the image's "
                f"{h}x{w} pixels were not saved",
                UserWarning,
                stacklevel=3,
            )
        original = _original_plane(parsed, image_ids[p], (h, w))
        diff = original != plane
        changed = set(np.unique(original[diff]).tolist()) | set(np.unique(plane[diff]).tolist())
        present = label_windows(plane)
        own = {k + 1 for k in by_image.get(p, [])}
        edited = [v for v in sorted(changed & own) if v in present]
        for v in sorted(changed & own):
            if v not in present:
                result[v - 1] = None  # erased
        edited_anns = [annotations[v - 1] for v in edited]
        for v, enc in _encode_edited(plane, original, present, edited_anns, edited, mode):
            ann = dict(annotations[v - 1])
            ann.update(enc)
            result[v - 1] = ann
        fresh = sorted(v for v in present if v not in own)
        if fresh:
            cats = categories or [dict(DEFAULT_CATEGORY)]
            made = _new_annotations(plane, rows, image_ids[p], cats, mode, start_id=next_id,
                                    values=fresh, default=source.get("default_category"))
            next_id += len(made)
            new.extend(made)
    _apply_category_edits(result, rows, categories)
    out = dict(dataset)
    out["annotations"] = [a for a in result if a is not None] + new
    if new and not categories:
        out["categories"] = [dict(DEFAULT_CATEGORY)]
    return out


def _apply_category_edits(
    result: list[Any],
    rows: Mapping[int, Mapping[str, Any]],
    categories: Sequence[Mapping[str, Any]] = (),
) -> None:
    """A ``category_id`` or ``category`` (name) changed in the features table (row of label
    ``k + 1``) is written; a name that is no category of the file is a :class:`CocoError`."""
    names = {str(c.get("name")): c.get("id") for c in categories if isinstance(c, Mapping)}
    name_of = {_match_id(c.get("id")): str(c.get("name")) for c in categories
               if isinstance(c, Mapping)}
    for k, ann in enumerate(result):
        row = rows.get(k + 1)
        if not isinstance(ann, Mapping) or not row:
            continue
        target = ann.get("category_id")
        if row.get("category_id") is not None and _as_id(row["category_id"]) != target:
            target = _as_id(row["category_id"])
        elif row.get("category") is not None and name_of:
            name = str(row["category"])
            if name != name_of.get(_match_id(target), name):
                if name not in names:
                    raise CocoError(
                        f"label {k + 1}: category {name!r} is not a category of the file "
                        f"({', '.join(sorted(names))}): choose one of them",
                        where=f"features.category[{k + 1}]",
                    )
                target = names[name]
        if target != ann.get("category_id"):
            result[k] = {**ann, "category_id": target}


def _encode_edited(
    plane: np.ndarray,
    original: np.ndarray,
    windows: Mapping[int, tuple[slice, slice]],
    anns: Sequence[Mapping[str, Any]],
    values: Sequence[int],
    mode: Mode,
) -> list[tuple[int, dict[str, Any]]]:
    """Encode edited instances, keeping RLE for crowds and (in auto mode) for RLE originals."""
    out = []
    for ann, v in zip(anns, values, strict=True):
        crowd = ann.get("iscrowd", 0) in (1, True)
        keep_rle = crowd or (mode == "auto" and _is_rle(ann))
        mask, offset = _edited_mask(plane, original, windows[v], ann, v)
        encoded = encode_mask(
            mask,
            offset=offset,
            image_shape=plane.shape,
            mode="rle" if keep_rle else mode,
            uncompressed=keep_rle and _is_uncompressed(ann),
        )
        out.append((v, encoded))
    return out


def _edited_mask(
    plane: np.ndarray,
    original: np.ndarray,
    window: tuple[slice, slice],
    ann: Mapping[str, Any],
    value: int,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Pixels of an edited instance and their window offset.

    Its current pixels, plus the parts of its original mask that another instance covered
    when the file was read and still covers (one Labels pixel holds one id, so the occluded
    part of an instance is never visible, yet it is not erased).
    """
    from .raster import annotation_window

    (r0, r1), (c0, c1) = (window[0].start, window[0].stop), (window[1].start, window[1].stop)
    try:
        own = annotation_window(ann, *plane.shape)
    except CocoError:
        own = None
    if own is not None:
        ar0, ac0, amask = own
        ar1, ac1 = ar0 + amask.shape[0], ac0 + amask.shape[1]
        before, now = original[ar0:ar1, ac0:ac1], plane[ar0:ar1, ac0:ac1]
        hidden = amask & (before != value) & (before != 0) & (now == before)
        if hidden.any():
            u0, v0, u1, v1 = min(r0, ar0), min(c0, ac0), max(r1, ar1), max(c1, ac1)
            mask = plane[u0:u1, v0:v1] == value
            mask[ar0 - u0 : ar1 - u0, ac0 - v0 : ac1 - v0] |= hidden
            return mask, (u0, v0)
    return plane[window] == value, (r0, c0)


def _is_rle(ann: Mapping[str, Any]) -> bool:
    return isinstance(ann.get("segmentation"), Mapping)


def _is_uncompressed(ann: Mapping[str, Any]) -> bool:
    seg = ann.get("segmentation")
    return isinstance(seg, Mapping) and isinstance(seg.get("counts"), list)


# ----------------------------------------------------------------------------------- shapes


def _shape_record(
    vertices: np.ndarray, shape_type: str, height: int, width: int
) -> dict[str, Any] | None:
    """segmentation / area / bbox of one napari shape in one image, or None to skip it."""
    rc = np.asarray(vertices, dtype=float)[:, -2:]
    if not np.all(np.isfinite(rc)):
        raise CocoError(f"a {shape_type} shape has non-finite vertices: {rc.tolist()}")
    if shape_type == "rectangle":
        x, y, w, h = napari_rect_to_coco_bbox(rc)
        polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
    elif shape_type in ("polygon", "ellipse"):
        if shape_type == "ellipse":
            if len(rc) != 4:
                return None
            rc = _ellipse_polygon(rc)
        if len(rc) < 3:
            return None
        polygon = napari_polygon_to_coco(rc)
    else:
        return None
    # clipped to a window around the image: pycocotools' C code must never see huge values
    polygon = safe_polygon(polygon, height, width).tolist()
    if len(polygon) < 6:
        return None
    xy = np.asarray(polygon).reshape(-1, 2)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    bbox = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
    from pycocotools import mask as mask_utils

    area = float(mask_utils.area(polygons_to_rle([polygon], height, width)))
    return {"segmentation": [polygon], "area": area, "bbox": bbox}


def _ellipse_polygon(corners: np.ndarray) -> np.ndarray:
    """Vertices along the ellipse inscribed in napari's 4 bounding-box corners."""
    centre = corners.mean(axis=0)
    a = (corners[1] - corners[0]) / 2
    b = (corners[3] - corners[0]) / 2
    t = np.linspace(0, 2 * np.pi, _ELLIPSE_VERTICES, endpoint=False)
    return centre + np.cos(t)[:, None] * a + np.sin(t)[:, None] * b


def _shape_plane(vertices: np.ndarray, n_images: int) -> int:
    """Image position of a shape: 0 for 2D data, else its (constant) leading coordinate."""
    arr = np.asarray(vertices, dtype=float)
    if arr.shape[1] == 2:
        return 0
    if arr.shape[1] != 3:
        raise CocoError(
            f"a shape with {arr.shape[1]}D vertices cannot be COCO: only 2D shapes, or 3D "
            "shapes in a stack of images (image index first), can be saved"
        )
    planes = np.unique(np.round(arr[:, 0]))
    if planes.size != 1 or not 0 <= planes[0] < n_images:
        raise CocoError(
            f"a shape spans image planes {planes.tolist()} of {n_images}: each COCO shape "
            "must lie in one image of the stack"
        )
    return int(planes[0])


def dataset_from_shapes(
    shapes: Sequence[Any],
    shape_types: Sequence[str] | str,
    features: Any = None,
    *,
    image_shapes: Sequence[tuple[int, int]],
    image_names: str | Sequence[str] | None = None,
    categories: Sequence[Any] | None = None,
    source: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a COCO dataset from napari Shapes data.

    Polygons become polygon annotations, rectangles a bbox plus its polygon, ellipses polygons
    (:data:`_ELLIPSE_VERTICES` vertices); lines and paths are skipped with a ``UserWarning``.
    Area is pycocotools' area of the rasterised polygon, bbox the extent of the vertices.

    Parameters
    ----------
    shapes : sequence of (K, 2) or (K, 3) array_like
        Vertices in napari (row, col) pixel coordinates; 3D vertices start with the image index.
    shape_types : sequence of str or str
        napari shape type of each shape.
    features : DataFrame or dict of columns, optional
        One row per shape: ``category_id`` / ``category``, ``iscrowd``, ``attributes.<key>``;
        shapes read from COCO also carry ``annotation_id`` and ``part``.
    image_shapes : sequence of (int, int)
        (height, width) of each image of the stack.
    image_names, categories :
        As in :func:`dataset_from_labels` (ignored with ``source`` or ``base``).
    source : dict, optional
        ``metadata["coco"]`` of a layer read from COCO: annotations whose shapes were not
        changed are kept exactly; changed ones are rewritten from their shapes.
    base : dict, optional
        A dataset (e.g. from :func:`dataset_from_labels`) to add the shapes' annotations to;
        its images and categories are used.

    Returns
    -------
    dict
        A COCO dataset.

    Examples
    --------
    >>> import numpy as np
    >>> rectangle = np.array([[1.0, 1.0], [1.0, 4.0], [3.0, 4.0], [3.0, 1.0]])  # (row, col)
    >>> dataset = dataset_from_shapes([rectangle], "rectangle", image_shapes=[(6, 8)])
    >>> ann = dataset["annotations"][0]
    >>> ann["segmentation"], ann["bbox"], ann["area"]
    ([[1.5, 1.5, 4.5, 1.5, 4.5, 3.5, 1.5, 3.5]], [1.5, 1.5, 3.0, 2.0], 6.0)
    """
    types = [shape_types] * len(shapes) if isinstance(shape_types, str) else list(shape_types)
    if len(types) != len(shapes):
        raise CocoError(
            f"`shape_types` has {len(types)} entries for {len(shapes)} shapes: give one per shape"
        )
    rows = _feature_rows(features, None)
    sizes = [(int(h), int(w)) for h, w in image_shapes]
    if source is not None:
        return _round_trip_shapes(shapes, types, rows, source, base)
    if base is not None:
        dataset = dict(base)
        images = list(base["images"])
        cats = list(base.get("categories") or [DEFAULT_CATEGORY])
    else:
        images = _new_images(_image_names(image_names, len(sizes)), sizes)
        cats = _categories(categories, rows.values())
        dataset = {
            "info": {"description": "written by napari-coco-masks"},
            "licenses": [],
            "images": images,
            "categories": cats,
            "annotations": [],
        }
    annotations = list(dataset.get("annotations", []))
    next_id = _next_id(annotations)
    skipped: list[str] = []
    for i, (vertices, kind) in enumerate(zip(shapes, types, strict=True)):
        p = _shape_plane(vertices, len(sizes))
        h, w = sizes[p]
        record = _shape_record(vertices, kind, h, w)
        if record is None:
            skipped.append(kind)
            continue
        row = rows.get(i, {})
        category_id = _category_for(row, cats, cats[0]["id"])
        annotations.append(
            _new_annotation(next_id, images[p]["id"], category_id, record, row, _iscrowd(row))
        )
        next_id += 1
    _warn_skipped_shapes(skipped)
    dataset["annotations"] = annotations
    return dataset


def _warn_skipped_shapes(kinds: Sequence[str]) -> None:
    if kinds:
        warnings.warn(
            f"{len(kinds)} shape(s) of type {sorted(set(kinds))} were not saved: COCO "
            "segmentations are closed areas (polygons, rectangles, ellipses with at least 3 "
            "vertices)",
            UserWarning,
            stacklevel=3,
        )


def _original_parts(ann: Any) -> dict[int, np.ndarray]:
    """The napari vertices the reader made for each part of a polygon / bbox-only annotation."""
    from .geometry import coco_bbox_to_napari, coco_polygon_to_napari

    if ann.kind == "bbox":
        return {-1: coco_bbox_to_napari(ann.bbox)}
    from .session import drawable_ring

    parts = {}
    for j, flat in enumerate(ann.segmentation):
        ring = drawable_ring(coco_polygon_to_napari(flat))
        if ring is not None:
            parts[j] = ring
    return parts


def _plane_of(ann: Any, n_images: int) -> int:
    """Stack position the reader gave an annotation's shapes (0 when the layer is 2D)."""
    return ann.image_position if n_images > 1 else 0


def _same_vertices(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal vertices, also when napari stored them as float32 (its Shapes data type)."""
    if a.shape != b.shape:
        return False
    return bool(np.allclose(a, b, rtol=0, atol=1e-6)) or bool(
        np.array_equal(a.astype(np.float32), b.astype(np.float32))
    )


def _round_trip_shapes(
    shapes: Sequence[Any],
    types: Sequence[str],
    rows: Mapping[int, Mapping[str, Any]],
    source: Mapping[str, Any],
    base: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Apply a Shapes layer read from COCO to its dataset (or to ``base``, e.g. the labels').

    The first shape carrying an ``(annotation_id, part)`` pair is that part; later shapes with
    the same pair (napari copies the last row's features to newly drawn shapes) and shapes
    without an ``annotation_id`` are new annotations.
    """
    dataset, image_ids, sizes = _check_source(source)
    parsed = _parsed(dataset, source)
    target = dict(base if base is not None else dataset)
    annotations = list(target.get("annotations", []))
    categories = list(target.get("categories") or [DEFAULT_CATEGORY])
    current: dict[Any, dict[int, tuple[np.ndarray, str, int, int]]] = {}
    category_now: dict[Any, Any] = {}  # annotation id -> the category_id of its shapes' rows
    fresh: list[int] = []
    for i, (vertices, kind) in enumerate(zip(shapes, types, strict=True)):
        row = rows.get(i, {})
        ann_id, part = row.get("annotation_id"), row.get("part")
        arr = np.asarray(vertices, dtype=float)
        plane = _shape_plane(arr, len(sizes))
        key = _match_id(ann_id) if ann_id is not None else None
        if key is None or part is None or int(part) in current.get(key, {}):
            fresh.append(i)
            continue
        current.setdefault(key, {})[int(part)] = (arr[:, -2:], kind, plane, i)
        if row.get("category_id") is not None:
            category_now.setdefault(key, _as_id(row["category_id"]))
    edits: dict[Any, Any] = {}  # annotation id -> new record, or None when erased
    recategorised: dict[Any, Any] = {}  # annotation id -> category_id re-assigned in the table
    for ann in parsed.annotations:
        if ann.kind not in ("polygon", "bbox"):
            continue
        want = category_now.get(_match_id(ann.id))
        if want is not None and _match_id(want) != _match_id(ann.category_id):
            recategorised[ann.id] = want
        expected = _original_parts(ann)
        now = current.pop(_match_id(ann.id), {})
        if not expected:
            continue  # the reader could not show it: nothing to compare
        if not now:
            edits[ann.id] = None
            continue
        if set(now) == set(expected) and all(
            _same_vertices(now[j][0], expected[j]) and now[j][2] == _plane_of(ann, len(sizes))
            for j in expected
        ):
            continue
        edits[ann.id] = _edited_from_shapes(ann, now, sizes[ann.image_position])
    # shapes naming an id that is no drawable annotation of the file are new annotations
    fresh.extend(entry[3] for leftover in current.values() for entry in leftover.values())
    out_annotations = []
    for ann in annotations:
        ann_id = ann.get("id") if isinstance(ann, Mapping) else None
        rec = edits[ann_id] if ann_id in edits else ann
        if rec is not None and ann_id in recategorised:
            rec = {**rec, "category_id": recategorised[ann_id]}
        if rec is not None:
            out_annotations.append(rec)
    # fresh ids never reuse one of the file's (a deleted annotation's id stays retired)
    next_id = max(
        _next_id(a for a in annotations if isinstance(a, Mapping)),
        _next_id(a for a in dataset.get("annotations", []) if isinstance(a, Mapping)),
    )
    skipped: list[str] = []
    for i in sorted(fresh):
        vertices, kind, row = np.asarray(shapes[i], dtype=float), types[i], rows.get(i, {})
        plane = _shape_plane(vertices, len(sizes))
        h, w = sizes[plane]
        record = _shape_record(vertices, kind, h, w)
        if record is None:
            skipped.append(kind)
            continue
        category_id = _category_for(
            {k: v for k, v in row.items() if k in ("category_id", "category")},
            categories,
            source.get("default_category", categories[0]["id"]),
        )
        out_annotations.append(
            _new_annotation(next_id, image_ids[plane], category_id, record, row, 0)
        )
        next_id += 1
    _warn_skipped_shapes(skipped)
    target["annotations"] = out_annotations
    return target


def _edited_from_shapes(
    ann: Any, parts: Mapping[int, tuple[np.ndarray, str, int, int]], size: tuple[int, int]
) -> dict[str, Any]:
    """An annotation rewritten from its current shapes, every other key kept."""
    record = dict(ann.record)
    h, w = size
    if ann.kind == "bbox" and set(parts) == {-1} and parts[-1][1] == "rectangle":
        bbox = napari_rect_to_coco_bbox(parts[-1][0])
        record["bbox"] = bbox
        record["area"] = float(bbox[2] * bbox[3])
        return record
    polygons = []
    for _, (verts, kind, _, _) in sorted(parts.items()):
        made = _shape_record(verts, "polygon" if kind == "path" else kind, h, w)
        if made is not None:
            polygons.extend(made["segmentation"])
    if not polygons:
        return record
    from pycocotools import mask as mask_utils

    xy = np.concatenate([np.asarray(p).reshape(-1, 2) for p in polygons])
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    record["segmentation"] = polygons
    record["area"] = float(mask_utils.area(polygons_to_rle(polygons, h, w)))
    record["bbox"] = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
    return record


# ------------------------------------------------------------------------------------ write


def _json_default(value: Any) -> Any:
    """``json`` fallback for numpy values; refuses bytes and anything non-finite."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)  # non-finite ones are then refused by allow_nan=False
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("bytes cannot be written to COCO JSON (RLE counts must be str)")
    raise TypeError(f"{type(value).__name__} cannot be written to COCO JSON")


def _locate_bad(obj: Any, where: str = "") -> str | None:
    """JSON path of the first non-finite float, bytes or unserialisable value in ``obj``."""
    stack = [(obj, where)]
    while stack:
        value, here = stack.pop()
        if isinstance(value, Mapping):
            stack.extend((v, f"{here}.{k}" if here else str(k)) for k, v in reversed(value.items()))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, f"{here}[{i}]") for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
            return here
        elif isinstance(value, np.ndarray):
            stack.append((value.tolist(), here))
        elif not isinstance(value, (str, int, float, bool, type(None), np.generic)):
            return here
    return None


def dumps_coco(dataset: Mapping[str, Any]) -> str:
    """Serialise a dataset as JSON text; raise :class:`CocoError` naming the first bad value."""
    try:
        return json.dumps(dataset, allow_nan=False, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        where = _locate_bad(dataset)
        raise CocoError(
            f"cannot be written as COCO JSON ({exc}); fix or remove that value", where=where
        ) from None


def write_coco(dataset: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``dataset`` to ``path`` as JSON, atomically.

    The text is written to a temporary file in the same folder, flushed to disk and renamed
    over ``path`` (``os.replace``), so a failure at any point leaves an existing file intact.
    NaN / infinity and bytes are refused (:class:`CocoError`); numpy scalars become numbers.

    Parameters
    ----------
    dataset : dict
        A COCO dataset.
    path : str or PathLike
        Target file.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> from napari_coco_masks.coco import load_coco
    >>> import numpy as np
    >>> labels = np.zeros((4, 6), np.uint8)
    >>> labels[1:3, 1:3] = 1
    >>> labels[0:2, 4:6] = 2
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> path = write_coco(dataset_from_labels(labels, image_names="a.png"), tmp / "a.json")
    >>> load_coco(path)
    CocoDataset('.../a.json', 1 images, 1 categories, 2 annotations)
    """
    text = dumps_coco(dataset)
    return write_bytes(text.encode("utf-8"), path)


def write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    """Replace ``path`` with ``data`` atomically (temporary file, fsync, ``os.replace``).

    Parameters
    ----------
    data : bytes
        The new content.
    path : str or PathLike
        The file to replace (or create).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> write_bytes(b"{}", tmp / "empty.json").read_bytes()
    b'{}'
    """
    return write_atomic(path, lambda fh: _write_chunks(fh, data))


def write_atomic(path: str | os.PathLike, fill: Any) -> Path:
    """Replace ``path`` with what ``fill(binary_file)`` writes, atomically.

    A temporary file in the same folder is written, flushed to disk and renamed over ``path``;
    a failure at any point leaves an existing file intact and no temporary file behind. A
    folder that cannot be written to or a full disk is a :class:`CocoError` saying so.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise CocoError(
            f"folder {str(target.parent)!r} does not exist: create it first", path=target
        )
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise CocoError(
            f"cannot write the file ({exc.strerror or exc}); the previous file, if any, is "
            "unchanged: free some space or choose a folder you can write to",
            path=target,
        ) from exc
    except BaseException:
        _remove(tmp)
        raise
    return target


def _remove(tmp: str | None) -> None:
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _write_chunks(fh: Any, text: str | bytes, chunk: int = 1 << 24) -> None:
    for start in range(0, len(text), chunk):
        fh.write(text[start : start + chunk])


def _file_mode(target: Path) -> int:
    """Mode for the new file: the old file's, else the default for new files (umask)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
