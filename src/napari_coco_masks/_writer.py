"""napari writer: Labels and Shapes layers (with an optional Image layer) saved as COCO JSON.

Thin adapter over :mod:`napari_coco_masks.coco.write`. napari.yaml declares the layer types
``["labels*", "shapes*", "points*", "image*"]``, so napari calls ``write_coco(path, [(data, meta, type)])``
with the selected layers (File > Save Selected Layers, or ``viewer.layers.save(path,
plugin="napari-coco-masks")``).

- Layers read from COCO (``metadata["coco"]["session"]``) are written with a minimal diff by
  their :class:`~.coco.session.CocoSession`: unchanged records byte for byte, edited ones
  re-encoded, moved/added/removed keypoints written into their instances (docs/architecture.md).
- Other layers become a new dataset; an Image layer supplies the file names (its
  ``metadata["coco"]`` image records when present, else its name) and image sizes.
- A Labels and a Shapes layer of the same COCO file are combined: edits and deletions in
  either are written; an annotation edited in both is written from its shapes.
- Several Labels / Shapes layers otherwise: the first one is the base, the others' instances
  are added with fresh ids (same images by position, categories matched by name).
- Coordinates are the layers' data (pixel) coordinates: a Shapes layer drawn with a different
  scale or translate than its image is not resampled.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .coco.errors import CocoError
from .coco.write import dataset_from_labels, dataset_from_shapes
from .coco.write import write_coco as _write_json

__all__ = ["write_coco"]

LayerData = tuple[Any, dict, str]


def write_coco(path: str, layer_data: Sequence[LayerData]) -> list[str]:
    """Write the given napari layers to ``path`` as one COCO instances dataset.

    Parameters
    ----------
    path : str
        Target ``.json`` file (replaced atomically).
    layer_data : list of (data, meta, layer_type)
        Labels, Shapes and Image layers as napari passes them.

    Returns
    -------
    list of str
        ``[path]``.

    Raises
    ------
    CocoError
        If there is no Labels or Shapes layer, or a layer cannot be COCO.
    """
    labels = [(d, m) for d, m, t in layer_data if t == "labels"]
    shapes = [(d, m) for d, m, t in layer_data if t == "shapes"]
    points = [(d, m) for d, m, t in layer_data if t == "points"]
    images = [(d, m) for d, m, t in layer_data if t == "image"]
    if not labels and not shapes and not points:
        kinds = sorted({t for _, _, t in layer_data}) or ["nothing"]
        raise CocoError(
            f"COCO needs a Labels or Shapes layer to save, got {', '.join(kinds)}: select the "
            "Labels and/or Shapes layers (and optionally their Image layer) and save again",
            path=path,
        )
    image = images[0] if images else None
    if _session_write(path, labels, shapes, points):
        return [os.fspath(path)]
    if points and not labels and not shapes:
        raise CocoError(
            "keypoints are saved with the instances they belong to: select the Points layer "
            "together with the Labels or Shapes layers of the COCO file it was opened from",
            path=path,
        )
    if points:
        import warnings

        warnings.warn(
            f"{len(points)} Points layer(s) not read from COCO were not saved: COCO keypoints "
            "belong to instances of a COCO file",
            UserWarning,
            stacklevel=2,
        )
    dataset: dict[str, Any] | None = None
    base_source: Mapping[str, Any] | None = None
    for data, meta in labels:
        source = _source(meta)
        if dataset is None:
            dataset = _labels_dataset(data, meta, image, source)
            base_source = source
        else:
            dataset = _append(dataset, _labels_dataset(data, meta, image, None, dataset))
    for data, meta in shapes:
        source = _source(meta)
        if source is not None and (dataset is None or _same_source(source, base_source)):
            dataset = dataset_from_shapes(
                data,
                meta.get("shape_type", "polygon"),
                meta.get("features"),
                image_shapes=source["image_shapes"],
                source=source,
                base=dataset,
            )
            base_source = base_source or source
        elif dataset is None:
            dataset = _plain_shapes_dataset(data, meta, image, labels_dataset=None)
        else:
            dataset = _append(dataset, _plain_shapes_dataset(data, meta, image, dataset))
    assert dataset is not None
    _write_json(dataset, path)
    return [os.fspath(path)]


def _session_write(path: str, labels: list, shapes: list, points: list = ()) -> bool:
    """Layers read from COCO: hand their current content to the session, write minimal diff.

    Returns False when none of the layers has a session (the dataset is built from scratch).
    """
    from .coco.session import check_source_session

    layers = [*labels, *shapes, *points]
    sessions = {id(s): s for s in (check_source_session(_source_any(m)) for _, m in layers) if s}
    if not sessions:
        return False
    others = [m.get("name") for _, m in layers if not check_source_session(_source_any(m))]
    if len(sessions) > 1 or others:
        what = (f"layers not read from COCO ({', '.join(repr(n) for n in others)})" if others
                else f"{len(sessions)} different COCO files")
        raise CocoError(
            f"the selected layers mix {what}: save the layers of one COCO file together, "
            "and other layers separately",
            path=path,
        )
    (session,) = sessions.values()
    for data, meta in labels:
        _take_labels(session, data, meta)
    for data, meta in shapes:
        _take_shapes(session, data, meta)
    for data, meta in points:
        _take_points(session, data, meta)
    session.save(path)
    return True


def _source_any(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    coco = (meta.get("metadata") or {}).get("coco")
    return coco if isinstance(coco, Mapping) else {}


def _take_labels(session: Any, data: Any, meta: Mapping[str, Any]) -> None:
    """The shown image's Labels content: a plain 2D array (one image) or the session's stack."""
    import pandas as pd

    from .coco.session import LabelPlanes

    i = session.current
    if not isinstance(data, LabelPlanes):
        _take_label_array(session, np.asarray(data), meta.get("name"))
    features = meta.get("features")
    if features is not None and len(features):
        original = pd.DataFrame(session.label_table(i))
        from ._browse import _same_table

        if not _same_table(pd.DataFrame(features), original):
            session.label_features[i] = pd.DataFrame(features)


def _take_label_array(session: Any, array: np.ndarray, name: Any) -> None:
    """Labels data replaced by a plain array (one image, or a whole stack): planes compared."""
    planes = session.planes
    expected = planes.shape if session.stacked else planes.shape[1:]
    if array.shape != expected:
        raise CocoError(
            f"the Labels layer {name!r} has shape {array.shape} but was read with shape "
            f"{expected}: keep its image axis and size as they were read"
        )
    stack = array if session.stacked else array[None]
    for i in range(stack.shape[0]):
        if not np.array_equal(stack[i], planes.original(i)):
            planes[i] = stack[i]


def _take_shapes(session: Any, data: Any, meta: Mapping[str, Any]) -> None:
    """The shown image's shapes go into the session's edit store."""
    from .coco.session import ShapesState

    i = session.current
    verts = [np.asarray(v, dtype=float)[:, -2:] for v in data]
    types = meta.get("shape_type", "polygon")
    types = [types] * len(verts) if isinstance(types, str) else list(types)
    session.shapes[i] = ShapesState(verts, types, meta.get("features"))


def _take_points(session: Any, data: Any, meta: Mapping[str, Any]) -> None:
    """The shown image's keypoints go into the session's edit store."""
    from .coco.session import ShapesState

    coords = np.asarray(data, dtype=float).reshape(len(data), -1)[:, -2:] if len(data) else []
    session.points[session.current] = ShapesState(list(coords), ["point"] * len(coords),
                                                  meta.get("features"))


def _source(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    coco = (meta.get("metadata") or {}).get("coco")
    return coco if isinstance(coco, Mapping) and "dataset" in coco else None


def _same_source(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    if a is None or b is None:
        return False
    return a["dataset"] is b["dataset"] or (
        a.get("source") == b.get("source") and list(a["image_ids"]) == list(b["image_ids"])
    )


def _image_records(image: tuple[Any, dict] | None, n: int) -> tuple[list[str] | None, list | None]:
    """File names and (h, w) sizes from the Image layer, when it has one per plane."""
    if image is None:
        return None, None
    data, meta = image
    from .coco.session import check_source_session

    session = check_source_session(_source_any(meta))
    if session is not None and session.n_images == n:
        names = [im.file_name or f"image_{k:04d}.png" for k, im in enumerate(session.dataset.images)]
        return names, [tuple(s) for s in session.dataset.image_shapes]
    files = (meta.get("metadata") or {}).get("image_files")
    if files and len(files) == n and all(files):
        return [os.path.basename(str(f)) for f in files], None
    return meta.get("name") or "image", None


def _labels_dataset(data, meta, image, source, base=None) -> dict[str, Any]:
    n = 1 if np.ndim(data) == 2 else int(np.shape(data)[0])
    names, sizes = _image_records(image, n) if source is None else (None, None)
    if source is None and base is not None:
        names = [im["file_name"] for im in base["images"]] if len(base["images"]) == n else names
    if names is None:
        names = meta.get("name") or "labels"
    return dataset_from_labels(
        data, meta.get("features"), image_names=names, image_shapes=sizes, source=source
    )


def _plain_shapes_dataset(data, meta, image, labels_dataset) -> dict[str, Any]:
    if labels_dataset is not None:
        sizes = [(im["height"], im["width"]) for im in labels_dataset["images"]]
        names = [im["file_name"] for im in labels_dataset["images"]]
    else:
        n = _n_planes(data)
        names, sizes = _image_records(image, n)
        if sizes is None:
            sizes = [_plane_size(image, data)] * n
        names = names or meta.get("name") or "shapes"
    return dataset_from_shapes(
        data,
        meta.get("shape_type", "polygon"),
        meta.get("features"),
        image_shapes=sizes,
        image_names=names,
    )


def _n_planes(shapes: Sequence[Any]) -> int:
    planes = [int(round(float(np.asarray(s)[0, 0]))) for s in shapes if np.shape(s)[-1] == 3]
    return max(planes, default=0) + 1


def _plane_size(image: tuple[Any, dict] | None, shapes: Sequence[Any]) -> tuple[int, int]:
    """(h, w) of the images under a Shapes layer: the Image layer's, else the shapes' extent."""
    if image is not None:
        data, meta = image
        shape = np.shape(data)
        if meta.get("rgb"):
            shape = shape[:-1]
        return int(shape[-2]), int(shape[-1])
    top = np.max([np.asarray(s, dtype=float)[:, -2:].max(axis=0) for s in shapes], axis=0)
    return int(np.ceil(top[0] + 1)), int(np.ceil(top[1] + 1))


def _append(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``extra``'s annotations to ``base``: images by position, categories by name."""
    out = dict(base)
    images = list(base["images"])
    if len(extra["images"]) != len(images):
        raise CocoError(
            f"cannot save layers of {len(images)} and {len(extra['images'])} images together: "
            "save them separately"
        )
    image_map = {e["id"]: b["id"] for e, b in zip(extra["images"], images, strict=True)}
    categories = list(base.get("categories") or [])
    by_name = {str(c["name"]): c["id"] for c in categories}
    next_cat = max([c["id"] for c in categories if isinstance(c["id"], int)], default=0) + 1
    cat_map = {}
    for cat in extra.get("categories", []):
        if str(cat["name"]) not in by_name:
            categories.append({**cat, "id": next_cat})
            by_name[str(cat["name"])] = next_cat
            next_cat += 1
        cat_map[cat["id"]] = by_name[str(cat["name"])]
    annotations = list(base.get("annotations", []))
    next_id = max([a["id"] for a in annotations if isinstance(a.get("id"), int)], default=0) + 1
    for ann in extra.get("annotations", []):
        annotations.append(
            {
                **ann,
                "id": next_id,
                "image_id": image_map[ann["image_id"]],
                "category_id": cat_map.get(ann["category_id"], ann["category_id"]),
            }
        )
        next_id += 1
    out["categories"] = categories
    out["annotations"] = annotations
    return out
