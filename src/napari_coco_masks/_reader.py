"""napari reader: a COCO instances JSON opens as Image, Labels, Shapes and Points layers.

Thin adapter over :mod:`napari_coco_masks.coco` (see docs/architecture.md for the contract
with the writer):

- **Image**: the referenced image files found relative to the JSON
  (:mod:`napari_coco_masks.coco.images`); missing ones are black, with one warning.
- **Labels**: annotation ``k`` of the file's list has label ``k + 1``, pycocotools-exact, smaller
  instances over larger ones (:func:`napari_coco_masks.coco.rasterize_image`). Large datasets get
  a lazy :class:`~napari_coco_masks.coco.raster.LabelStack` that rasterises an image when it is
  first shown and keeps painted planes.
- **Shapes**: each polygon part (half-pixel convention of :mod:`.coco.geometry`), bbox-only
  annotations as rectangles. Skipped above ``max_shapes`` polygons (napari needs about 0.6 ms
  per polygon), with a warning: the Labels layer holds every instance anyway.
- **Points**: labelled keypoints (visibility > 0), skeletons in ``metadata["skeleton"]``.

Several images stack on a leading axis in the order of the file's ``images`` list, padded
bottom/right; each image's own size is in ``metadata["coco"]["image_shapes"]``.
"""

from __future__ import annotations

import colorsys
import os
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .coco import (
    CocoDataset,
    CocoError,
    CocoResultsError,
    NotCocoError,
    load_coco,
    rasterize_image,
)
from .coco.geometry import coco_bbox_to_napari, coco_keypoints_to_napari, coco_polygon_to_napari
from .coco.images import find_images, stack_images
from .coco.raster import LabelStack

__all__ = ["MAX_SHAPES", "category_colors", "coco_layer_data", "get_reader", "read_coco"]

#: Default number of polygons above which the Shapes layer is left out (env override).
MAX_SHAPES = 5000
#: A dense label stack larger than this (bytes), or more annotations than
#: ``EAGER_ANNOTATIONS``, is made lazy.
EAGER_BYTES = 256 * 2**20
EAGER_ANNOTATIONS = 5000
#: Image stacks of more images than this, or larger than ``EAGER_BYTES``, are read lazily.
EAGER_IMAGES = 64

_BACKGROUND = "#00000000"
_UNKNOWN = "#d9d9d9ff"  # colour of labels painted after opening
_FACE_ALPHA = "40"  # Shapes faces: the category colour at 25 % opacity


def get_reader(path: str | list[str]):
    """Return a reader for a COCO instances ``.json`` file, or None for anything else.

    Not COCO (any other JSON): None, so that other readers can try. A COCO *results* file:
    None, with a warning that says how to open it. A malformed COCO file: a reader that raises
    the :class:`~napari_coco_masks.coco.CocoError` naming file and JSON path, so napari shows it.
    """
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    path = str(path)
    if not path.lower().endswith(".json") or not os.path.isfile(path) or not _looks_like_json(path):
        return None
    try:
        dataset = load_coco(path)
    except CocoResultsError as exc:
        warnings.warn(str(exc), UserWarning, stacklevel=2)
        return None
    except NotCocoError:
        return None
    except CocoError as exc:
        return partial(_raise, exc)
    return partial(_read_loaded, dataset)


def _looks_like_json(path: str) -> bool:
    """Cheap check before parsing: the first non-blank byte opens an object or a list."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return head[:1] in (b"{", b"[")


def _raise(exc: Exception, path: Any = None) -> None:
    raise exc


def _read_loaded(dataset: CocoDataset, path: Any = None) -> list:
    return coco_layer_data(dataset)


def read_coco(
    path: str | os.PathLike, *, max_shapes: int | None = -1, lazy: bool | None = None
) -> list:
    """Read a COCO instances file into napari layer data tuples.

    Parameters
    ----------
    path : str or PathLike
        The ``.json`` file.
    max_shapes, lazy
        See :func:`coco_layer_data`.
    """
    return coco_layer_data(load_coco(path), max_shapes=max_shapes, lazy=lazy)


def category_colors(dataset: CocoDataset) -> dict[int, str]:
    """One ``#rrggbb`` colour per category position: distinct, stable golden-angle hues.

    Hex strings (8 bits per channel) keep Labels and Shapes colours identical and let napari
    build a colormap of tens of thousands of labels quickly.
    """
    colors = {}
    for cat in dataset.categories:
        hue = (0.07 + cat.position * 0.618033988749895) % 1.0
        sat = 0.75 if cat.position % 2 == 0 else 0.55
        rgb = colorsys.hsv_to_rgb(hue, sat, 1.0)
        colors[cat.position] = "#" + "".join(f"{round(v * 255):02x}" for v in rgb)
    return colors


def _max_shapes(value: int | None) -> int | None:
    if value is None or value >= 0:
        return value
    env = os.environ.get("NAPARI_COCO_MASKS_MAX_SHAPES")
    if env:
        try:
            n = int(env)
        except ValueError:
            warnings.warn(
                f"NAPARI_COCO_MASKS_MAX_SHAPES={env!r} is not an integer; using {MAX_SHAPES}",
                UserWarning,
                stacklevel=3,
            )
            return MAX_SHAPES
        return None if n < 0 else n
    return MAX_SHAPES


def coco_layer_data(
    dataset: CocoDataset, *, max_shapes: int | None = -1, lazy: bool | None = None
) -> list:
    """Build napari layer data tuples for a parsed dataset.

    Parameters
    ----------
    dataset : CocoDataset
        From :func:`napari_coco_masks.coco.load_coco`.
    max_shapes : int or None
        Leave the Shapes layer out above this many polygons and rectangles; None for no
        limit. The default (-1) is ``$NAPARI_COCO_MASKS_MAX_SHAPES`` or :data:`MAX_SHAPES`.
    lazy : bool, optional
        Force (True) or forbid (False) the lazy label stack and image stack; by default they
        are lazy above :data:`EAGER_BYTES` / :data:`EAGER_ANNOTATIONS` / :data:`EAGER_IMAGES`.

    Returns
    -------
    list of (data, metadata, layer_type)
    """
    n = len(dataset.images)
    name = Path(dataset.path).stem if dataset.path is not None else "COCO"
    if n == 0:
        warnings.warn(f"{dataset.path}: the dataset has no images", UserWarning, stacklevel=2)
        return [(None,)]
    shapes = dataset.image_shapes
    height = max(h for h, _ in shapes)
    width = max(w for _, w in shapes)
    stacked = n > 1
    if lazy is None:
        lazy = (
            n * height * width * 4 > EAGER_BYTES or len(dataset.annotations) > EAGER_ANNOTATIONS
        )
    coco_meta = {
        "source": str(dataset.path) if dataset.path is not None else None,
        "dataset": dataset.raw,
        "image_shapes": [tuple(s) for s in shapes],
        "image_ids": [im.id for im in dataset.images],
        "skipped_annotations": list(dataset.skipped),
    }
    colors = category_colors(dataset)
    layers = []
    image = _image_layer(dataset, (height, width), stacked, lazy, coco_meta, name)
    if image is not None:
        layers.append(image)
    layers.append(_labels_layer(dataset, (height, width), stacked, lazy, coco_meta, colors, name))
    shapes_layer = _shapes_layer(dataset, stacked, coco_meta, colors, name, _max_shapes(max_shapes))
    if shapes_layer is not None:
        layers.append(shapes_layer)
    points = _points_layer(dataset, stacked, coco_meta, colors, name, (height, width))
    if points is not None:
        layers.append(points)
    return layers


def _image_layer(dataset, shape, stacked, lazy, coco_meta, name):
    paths = find_images(dataset)
    missing = [im.file_name for im, p in zip(dataset.images, paths, strict=True) if p is None]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        warnings.warn(
            f"{dataset.path}: {len(missing)} of {len(paths)} image files not found next to the "
            f"JSON (looked in its folder, images/ beside or above it and split folders): "
            f"{shown}{more}. The annotations open without them.",
            UserWarning,
            stacklevel=3,
        )
    n = len(paths)
    lazy_images = lazy or n > EAGER_IMAGES or n * shape[0] * shape[1] * 3 > EAGER_BYTES
    result = stack_images(paths, shape, lazy=lazy_images)
    if result is None:
        return None
    data, rgb = result
    if not stacked:
        data = data[0]
    meta = {
        "name": f"{name} image",
        "rgb": rgb,
        "metadata": {
            "coco": coco_meta,
            "image_files": [None if p is None else str(p) for p in paths],
        },
    }
    return data, meta, "image"


def _annotation_columns(dataset: CocoDataset, anns) -> dict[str, list]:
    """Feature columns of the contract for a sequence of annotations (one row each)."""
    cats = dataset.categories
    cols: dict[str, list] = {
        "annotation_id": [a.id for a in anns],
        "image_id": [a.image_id for a in anns],
        "category_id": [a.category_id for a in anns],
        "category": [cats[a.category_position].name for a in anns],
        "iscrowd": [a.iscrowd for a in anns],
    }
    keys: dict[str, None] = {}
    for a in anns:
        attrs = a.record.get("attributes")
        if attrs:
            keys.update(dict.fromkeys(attrs))
    for key in keys:
        cols[f"attributes.{key}"] = [
            (a.record.get("attributes") or {}).get(key) for a in anns
        ]
    return cols


def _features(columns: dict[str, list]):
    import pandas as pd

    return pd.DataFrame(columns)


def _labels_layer(dataset, shape, stacked, lazy, coco_meta, colors, name):
    from napari.utils.colormaps import DirectLabelColormap

    n = len(dataset.images)
    if lazy:
        data = LabelStack(dataset)
    else:
        data = np.zeros((n, *shape), dtype=np.int32)
        for i in range(n):
            labels = rasterize_image(dataset, i)
            data[i, : labels.shape[0], : labels.shape[1]] = labels
    if not stacked:
        data = data[0] if not lazy else data.plane(0).copy()
    anns = dataset.annotations
    columns = {"index": [a.position + 1 for a in anns], **_annotation_columns(dataset, anns)}
    color_dict: dict[Any, Any] = {None: _UNKNOWN, 0: _BACKGROUND}
    for a in anns:
        color_dict[a.position + 1] = colors[a.category_position] + "ff"
    meta = {
        "name": f"{name} labels",
        "features": _features(columns),
        "colormap": DirectLabelColormap(color_dict=color_dict),
        "opacity": 0.6,
        "metadata": {"coco": coco_meta},
    }
    return data, meta, "labels"


def _clean_polygon(vertices: np.ndarray) -> np.ndarray | None:
    """Drop repeated consecutive vertices and the closing repeat; None if < 3 vertices remain."""
    if vertices.shape[0] > 1:
        keep = np.any(vertices != np.roll(vertices, 1, axis=0), axis=1)
        keep[0] = True
        vertices = vertices[keep]
        if vertices.shape[0] > 1 and np.array_equal(vertices[0], vertices[-1]):
            vertices = vertices[:-1]
    if vertices.shape[0] < 3 or not np.all(np.isfinite(vertices)):
        return None
    return vertices


def _shapes_layer(dataset, stacked, coco_meta, colors, name, max_shapes):
    drawable = [a for a in dataset.annotations if a.kind in ("polygon", "bbox")]
    if not drawable:
        return None
    count = sum(len(a.segmentation) if a.kind == "polygon" else 1 for a in drawable)
    if max_shapes is not None and count > max_shapes:
        warnings.warn(
            f"{dataset.path}: {count} polygons and boxes are more than max_shapes={max_shapes}, "
            "so no Shapes layer was made (napari needs about 0.6 ms per polygon); the Labels "
            "layer holds every instance. Set NAPARI_COCO_MASKS_MAX_SHAPES to a larger number "
            "(or -1 for no limit) to get it.",
            UserWarning,
            stacklevel=3,
        )
        return None
    data, types, rows, parts, dropped = [], [], [], [], []
    for a in drawable:
        pieces = (
            [(j, coco_polygon_to_napari(p)) for j, p in enumerate(a.segmentation)]
            if a.kind == "polygon"
            else [(-1, coco_bbox_to_napari(a.bbox))]
        )
        for j, verts in pieces:
            if j >= 0:
                verts = _clean_polygon(verts)
                if verts is None:
                    dropped.append(f"annotations[{a.position}].segmentation[{j}]")
                    continue
            if stacked:
                verts = np.column_stack([np.full(len(verts), a.image_position, float), verts])
            data.append(verts)
            types.append("polygon" if j >= 0 else "rectangle")
            rows.append(a)
            parts.append(j)
    if dropped:
        warnings.warn(
            f"{dataset.path}: {len(dropped)} degenerate polygons (fewer than 3 distinct vertices) "
            f"left out of the Shapes layer (they stay in Labels): {', '.join(dropped[:10])}",
            UserWarning,
            stacklevel=3,
        )
    if not data:
        return None
    types = _guard_triangulation(data, types)
    columns = {**_annotation_columns(dataset, rows), "part": parts}
    edge = [colors[a.category_position] + "ff" for a in rows]
    face = [colors[a.category_position] + _FACE_ALPHA for a in rows]
    meta = {
        "name": f"{name} shapes",
        "shape_type": types,
        "features": _features(columns),
        "edge_color": edge,
        "face_color": face,
        "edge_width": max(1.0, 0.002 * max(max(s) for s in dataset.image_shapes)),
        "metadata": {"coco": coco_meta},
    }
    return data, meta, "shapes"


def _compiled_triangulation() -> bool:
    """Whether napari triangulates with a compiled backend, after applying napari's settings.

    A viewer applies the ``experimental.triangulation_backend`` setting when napari's settings
    load ("fastest available": bermuda when installed); a script that never loads them stays on
    pure Python. Loading them here gives the reader what the viewer will use.
    """
    try:
        from napari.settings import get_settings
        from napari.utils.triangulation_backend import TriangulationBackend, get_backend

        get_settings()
        compiled = (
            TriangulationBackend.bermuda,
            TriangulationBackend.partsegcore,
            TriangulationBackend.triangle,
        )
        return get_backend() in compiled
    except Exception:  # settings unavailable: be careful
        return False


def _guard_triangulation(data: list, types: list) -> list:
    """Make sure one bad polygon cannot stop the Shapes layer from being added.

    With a compiled triangulation backend (bermuda, as napari's settings choose when it is
    installed) real polygons triangulate (COCO-NOTES "Showing polygons in napari"). With the
    pure-Python backend, a trial layer is built; if it fails, each polygon is tried alone and
    the ones that fail become paths (outline only, no filled face), with a warning.
    """
    if _compiled_triangulation():
        return types
    from napari.layers import Shapes

    try:
        Shapes(data, shape_type=types)
        return types
    except Exception:  # napari raises RuntimeError, ValueError, ...
        pass
    fixed = list(types)
    bad = []
    for i, (verts, kind) in enumerate(zip(data, types, strict=True)):
        if kind != "polygon":
            continue
        try:
            Shapes([verts], shape_type="polygon")
        except Exception:
            fixed[i] = "path"
            bad.append(i)
    warnings.warn(
        f"{len(bad)} polygons could not be triangulated by napari and are shown as outlines "
        "(install the 'bermuda' package for napari's robust triangulation)",
        UserWarning,
        stacklevel=4,
    )
    return fixed


def _points_layer(dataset, stacked, coco_meta, colors, name, shape):
    rows, coords, kp_index, kp_name, vis = [], [], [], [], []
    for a in dataset.annotations:
        kp = a.keypoints
        if kp is None or len(kp) % 3:
            continue
        rc, v = coco_keypoints_to_napari(kp)
        names = dataset.categories[a.category_position].keypoints
        for k in np.flatnonzero(v > 0):
            point = rc[k]
            coords.append(np.concatenate([[a.image_position], point]) if stacked else point)
            rows.append(a)
            kp_index.append(int(k))
            kp_name.append(str(names[k]) if k < len(names) else str(k))
            vis.append(int(v[k]))
    if not coords:
        return None
    columns = {
        **_annotation_columns(dataset, rows),
        "keypoint": kp_index,
        "name": kp_name,
        "visibility": vis,
    }
    skeleton = {
        cat.id: cat.skeleton for cat in dataset.categories if cat.skeleton or cat.keypoints
    }
    meta = {
        "name": f"{name} keypoints",
        "features": _features(columns),
        "face_color": [colors[a.category_position] + "ff" for a in rows],
        "border_color": "white",
        "size": max(3.0, 0.01 * max(shape)),
        "metadata": {"coco": coco_meta, "skeleton": skeleton},
    }
    return np.array(coords, dtype=float), meta, "points"
