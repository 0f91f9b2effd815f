"""napari reader: a COCO instances JSON opens as Image, Labels, Shapes and Points layers.

Thin adapter over :mod:`napari_coco_masks.coco` (docs/architecture.md has the contract with
the writer, which lives in :mod:`.coco.session`). The layers show **one image at a time**:

- **Image**: the referenced image files found relative to the JSON
  (:mod:`napari_coco_masks.coco.images`); missing ones are black, with one warning.
- **Labels**: a lazy stack (:class:`~.coco.session.LabelPlanes`); on each image the ``k``-th
  drawable annotation (file order) is label ``k + 1``, pycocotools-exact, smaller instances over
  larger ones. Features and colours are those of the image shown.
- **Shapes**: the shown image's polygon parts (half-pixel convention of :mod:`.coco.geometry`)
  and bbox-only boxes; **Points**: its labelled keypoints (visibility > 0).

Several images stack on a leading axis in the order of the file's ``images`` list, padded
bottom/right. Moving the slider swaps each layer's content (:mod:`._browse`); edits are kept per
image in the session. Opening costs what the index and the first image cost.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from functools import partial
from pathlib import Path
from typing import Any

from .coco import (
    CocoDataset,
    CocoError,
    CocoResultsError,
    NotCocoError,
    load_coco,
)
from .coco.images import find_images, stack_images
from .coco.session import CocoSession, category_colors
from .coco.stacks import lazy_image_stack

__all__ = ["category_colors", "coco_layer_data", "get_reader", "read_coco"]

#: Image stacks of more images than this, or larger than ``EAGER_BYTES``, are read lazily.
EAGER_IMAGES = 64
EAGER_BYTES = 256 * 2**20


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
        return _results_reader(path, exc)
    except NotCocoError:
        return None
    except CocoError as exc:
        return partial(_raise, exc)
    return partial(_read_loaded, dataset)


def _results_reader(path: str, exc: CocoError):
    """Predictions beside their ground truth when it is found; else None with advice."""
    from .coco.results import find_ground_truth, load_results

    try:
        gt = find_ground_truth(path)
        dataset = load_results(path, gt) if gt is not None else None
    except CocoError as err:
        return partial(_raise, err)
    if dataset is None:
        warnings.warn(
            f"{exc} (no single ground-truth file holding its images was found beside it)",
            UserWarning,
            stacklevel=3,
        )
        return None
    return partial(_read_loaded, dataset, name=f"{Path(path).stem} predictions")


def _looks_like_json(path: str) -> bool:
    """Cheap check before parsing: the first non-blank character opens an object or a list
    (in UTF-8, or UTF-16/32 as ``json.load`` and :func:`load_coco` accept them)."""
    import json

    with open(path, "rb") as fh:
        head = fh.read(4096)
    try:
        text = head.decode(json.detect_encoding(head), errors="ignore")
    except LookupError:
        return False
    return text.lstrip("\ufeff \t\r\n")[:1] in ("{", "[")


def _raise(exc: Exception, path: Any = None) -> None:
    raise exc


def _read_loaded(dataset: CocoDataset, path: Any = None, *, name: str | None = None) -> list:
    from ._browse import watch_viewer

    layers = coco_layer_data(dataset, name=name)
    watch_viewer()  # the layers follow the slider once napari inserts them
    return layers


def read_coco(path: str | os.PathLike) -> list:
    """Read a COCO instances file into napari layer data tuples (see :func:`coco_layer_data`)."""
    return coco_layer_data(load_coco(path))


def coco_layer_data(dataset: CocoDataset, *, name: str | None = None) -> list:
    """Build napari layer data tuples for a parsed dataset, showing its first image.

    Every layer's ``metadata["coco"]`` holds the file's :class:`~.coco.session.CocoSession`
    (``"session"``), its path, image ids and sizes. In a viewer, :mod:`._browse` swaps the
    shown image's content in as the slider moves.

    Returns
    -------
    list of (data, metadata, layer_type)
    """
    n = len(dataset.images)
    if name is None:
        name = Path(dataset.path).stem if dataset.path is not None else "COCO"
    if n == 0:
        warnings.warn(f"{dataset.path}: the dataset has no images", UserWarning, stacklevel=2)
        return [(None,)]
    session = CocoSession(dataset)
    coco_meta = {
        "source": str(dataset.path) if dataset.path is not None else None,
        "session": session,
        "image_shapes": [tuple(s) for s in dataset.image_shapes],
        "image_ids": [im.id for im in dataset.images],
        "skipped_annotations": list(dataset.skipped),
    }
    layers = []
    image = _image_layer(dataset, session.canvas, session.stacked, coco_meta, name)
    if image is not None:
        layers.append(image)
    layers.append(_labels_layer(session, coco_meta, name))
    layers.append(_shapes_layer(session, coco_meta, name))
    points = _points_layer(session, coco_meta, name)
    if points is not None:
        layers.append(points)
    return layers


def _image_layer(dataset, shape, stacked, coco_meta, name):
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
    if n > EAGER_IMAGES or n * shape[0] * shape[1] * 3 > EAGER_BYTES:
        result = lazy_image_stack(paths, shape)  # each image read when shown
    else:
        result = stack_images(paths, shape, lazy=False)
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


def _labels_layer(session: CocoSession, coco_meta: dict, name: str):
    from ._browse import labels_colormap

    data = session.planes if session.stacked else session.planes.original(0).copy()
    meta = {
        "name": f"{name} labels",
        "features": pd_frame(session.label_table(0)),
        "colormap": labels_colormap(session, 0),
        "opacity": 0.6,
        "metadata": {"coco": coco_meta},
    }
    return data, meta, "labels"


def pd_frame(columns: dict[str, list]):
    import pandas as pd

    return pd.DataFrame(columns)


def _shapes_layer(session: CocoSession, coco_meta: dict, name: str):
    """The first image's polygons; present even when empty (new shapes can be drawn)."""
    from ._browse import shapes_data

    state = session.file_shapes(0)
    data = shapes_data(session, state, 0)
    types = _guard_triangulation(data, list(state.types)) if data else []
    ndim = 3 if session.stacked else 2
    meta = {
        "name": f"{name} shapes",
        "ndim": ndim,
        "shape_type": types,
        "features": pd_frame(state.features),
        "edge_color": state.edge or "#ffffffff",
        "face_color": state.face or "#ffffff40",
        "edge_width": max(1.0, 0.002 * max(session.canvas)),
        "metadata": {"coco": coco_meta},
    }
    return data, meta, "shapes"


@functools.cache
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
        backend = get_backend()
        compiled = {"bermuda": "bermuda", "partsegcore": "PartSegCore_compiled_backend",
                    "triangle": "triangle"}
        if backend == TriangulationBackend.fastest_available:  # the default setting
            return any(importlib.util.find_spec(m) is not None for m in compiled.values())
        return str(backend.name) in compiled
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


def _points_layer(session: CocoSession, coco_meta: dict, name: str):
    """Keypoints of the first image, when the dataset has keypoints at all."""
    from ._browse import points_data

    if not session.dataset.has_keypoints:
        return None
    state = session.file_points(0)
    skeleton = {
        cat.id: cat.skeleton
        for cat in session.dataset.categories
        if cat.skeleton or cat.keypoints
    }
    meta = {
        "name": f"{name} keypoints",
        "ndim": 3 if session.stacked else 2,
        "features": pd_frame(state.features),
        "face_color": state.face or "white",
        "border_color": "white",
        "size": max(3.0, 0.01 * max(session.canvas)),
        "metadata": {"coco": coco_meta, "skeleton": skeleton},
    }
    return points_data(session, state, 0), meta, "points"
