"""The worker side of the watershed widget: jobs, their worker body, and the checks of the
layers a job reads (a grey image is not a mask; points in an image's pixel frame)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
from napari.layers import Layer, Points

from napari_coco_masks._widgets._base import points_to_image

__all__ = ["Job", "image_as_mask", "points_in_image", "run_steps"]


@dataclass(frozen=True)
class Job:
    """A validated computation: the step generator, where its result goes, and how many frames."""

    steps: Generator[tuple[int, int], None, np.ndarray]
    like: Layer
    name: str
    n_frames: int


def run_steps(steps: Generator[Any, None, np.ndarray]) -> Generator[Any, None, Any]:
    """Worker body: yield once per finished frame; return ``(labels, number of objects)``."""
    labels = yield from steps
    return labels, int(np.count_nonzero(np.bincount(labels.ravel())[1:]))


def image_as_mask(data: Any, name: str) -> Any:
    """The foreground (non-zero pixels) of an Image layer that holds a mask: two values at most.

    A grey image would be split as a label image with one object per grey level (hundreds of
    thousands of "objects" on a photograph), so it is refused.

    Raises
    ------
    ValueError
        If ``data`` has more than two distinct values, or is not numeric.
    """
    kind = getattr(data, "dtype", np.asarray(data).dtype).kind
    if kind == "b":
        return data
    if kind not in "uif":
        return data  # the core names the dtype it cannot split
    values = _distinct_values(data, limit=2)
    if len(values) > 2:
        raise ValueError(
            f"Image {name!r} has more than two grey levels ({', '.join(f'{v:g}' for v in values)}"
            ", ...): split touching objects needs a mask or a Labels layer; threshold an intensity "
            "image first (Threshold widget), then split its output."
        )
    return data != 0


def _distinct_values(data: Any, limit: int) -> list[float]:
    """Distinct values of ``data``, at most ``limit + 1`` of them (a strided sample first)."""
    sample = data[tuple(slice(None, None, 7) for _ in range(np.ndim(data)))]
    values = np.unique(np.asarray(sample))
    if len(values) <= limit:
        full = np.asarray(data)
        others = full[np.isin(full, values, invert=True)][: limit + 1]
        values = np.unique(np.concatenate([values, others]))
    return values[: limit + 1].tolist()


def points_in_image(points: Points, image: Layer) -> np.ndarray:
    """Coordinates of ``points`` in the data (pixel) frame of ``image``, via world coordinates.

    Raises
    ------
    ValueError
        If the Points layer's dimensionality differs from the image's.
    """
    if points.ndim != image.ndim:
        raise ValueError(
            f"Points layer {points.name!r} is {points.ndim}D but image {image.name!r} is "
            f"{image.ndim}D: use a Points layer with one coordinate per image axis."
        )
    if not len(points.data):
        raise ValueError(f"Points layer {points.name!r} has no points: add at least one marker.")
    return points_to_image(points, image)
