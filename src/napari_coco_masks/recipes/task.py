"""The task of a batch: one image, on a worker, by path (:func:`process_image`).

The worker reads the pixels, runs the steps, measures, encodes the COCO annotations and the
overlay PNG, and returns only those: the client never holds the pixels.
"""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .images import read_input, resolve_spacing
from .model import Recipe
from .steps import State, run_steps

__all__ = ["failure_reason", "overlay_png", "process_image"]


def failure_reason(exc: BaseException, path: str = "") -> str:
    """One line of why an image failed (the report names the file: its path is left out)."""
    text = " ".join(str(exc).split()).removesuffix("; the annotations still open")
    text = text.replace(f"{path}: ", "") if path else text
    if isinstance(exc, MemoryError):
        return "not enough memory for this image"
    if isinstance(exc, ValueError | OSError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _coco_part(labels: np.ndarray, file_name: str, category: str) -> dict[str, Any]:
    """The image record(s) and annotations of one image (a 3D volume: one record per plane)."""
    from ..coco.write import dataset_from_labels

    planes = labels if labels.ndim == 3 else labels[np.newaxis]
    dataset = dataset_from_labels(planes, image_names=[file_name] * len(planes),
                                  categories=[category])
    if labels.ndim == 3:
        for z, image in enumerate(dataset["images"]):
            image["plane"] = z
    return {"images": dataset["images"], "annotations": dataset["annotations"]}


def _palette(n: int) -> np.ndarray:
    from skimage.color import hsv2rgb

    hues = (np.arange(1, n + 1) * 0.618033988749895) % 1.0
    hsv = np.stack([hues, np.full(n, 0.85), np.ones(n)], axis=1)
    return (hsv2rgb(hsv[np.newaxis])[0] * 255).astype(np.uint8)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float64)
    finite = image[np.isfinite(image)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = (np.nan_to_num(image, nan=low) - low) / ((high - low) or 1.0)
    return (np.clip(scaled, 0, 1) * 255).astype(np.uint8)


def overlay_png(data: np.ndarray, rgb: bool, labels: np.ndarray) -> bytes:
    """PNG bytes of the image with each object's outline in its own colour.

    A 3D volume is shown as maximum projections of the image and of the labels.
    """
    from PIL import Image
    from skimage.segmentation import find_boundaries

    if labels.ndim == 3:
        labels = labels.max(axis=0)
        data = data.max(axis=0)
    base = _to_uint8(data[..., :3] if rgb else data)
    if base.ndim == 2:
        base = np.repeat(base[..., np.newaxis], 3, axis=2)
    out = base.copy()
    edges = find_boundaries(labels, mode="inner")
    if edges.any():
        colours = _palette(int(labels.max()))
        out[edges] = colours[labels[edges] - 1]
    buffer = io.BytesIO()
    Image.fromarray(out).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def process_image(
    path: str,
    file_name: str,
    recipe: Any,
    spacing: Sequence[float] | None = None,
    *,
    overlay: bool = True,
    folder: str | None = None,
) -> dict[str, Any]:
    """Run ``recipe`` on one image file; what a worker returns to the client.

    Never raises for a problem of the image: the result is then ``{"status": "failed",
    "reason": ...}``.

    Returns
    -------
    dict
        ``status`` ("done" / "failed"), ``reason``, ``file_name``, ``images`` and
        ``annotations`` (COCO records, ids local to this image), ``table`` (the measurements,
        with ``file_name`` first), ``units``, ``objects``, ``seconds`` (work time),
        ``overlay`` (PNG bytes).
    """
    start = time.perf_counter()
    try:
        recipe = recipe if isinstance(recipe, Recipe) else Recipe.from_dict(recipe)
        image = read_input(path)
        space, units = resolve_spacing(image, override=spacing, recipe_spacing=recipe.spacing,
                                       recipe_units=recipe.units)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            state = run_steps(recipe.steps, State(image.data, image.rgb, space, units,
                                                  recipe_dir=folder or recipe.folder))
        labels = np.asarray(state.labels, dtype=np.int32)
        table = state.table.copy()
        table.insert(0, "file_name", file_name)
        part = _coco_part(labels, file_name, recipe.category)
        png = overlay_png(image.data, image.rgb, labels) if overlay else b""
    except Exception as exc:  # one image's failure is reported, never raised (see docstring)
        return {"status": "failed", "file_name": file_name, "path": path,
                "reason": failure_reason(exc, path), "seconds": time.perf_counter() - start}
    return {
        "status": "done", "file_name": file_name, "path": path, **part, "table": table,
        "units": {"file_name": "", **table.attrs.get("units", {})},
        "objects": int(len(np.unique(labels)) - 1 if labels.any() else 0),
        "spacing": list(space), "unit": units, "overlay": png,
        "warnings": sorted({" ".join(str(w.message).split()) for w in caught}),
        "seconds": time.perf_counter() - start,
    }  # fmt: skip
