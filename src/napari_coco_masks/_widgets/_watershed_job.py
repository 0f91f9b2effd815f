"""The worker side of the watershed widget: jobs, their worker body, and the checks of the
layers a job reads (a grey image is not a mask; points in an image's pixel frame; markers and
mask of the image's shape). :func:`split_job` and :func:`seeded_job` turn the widget's choices
into a validated :class:`Job`."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
from napari.layers import Image, Layer, Points

from napari_coco_masks._widgets._base import layer_spacing, level0, points_to_image
from napari_coco_masks.segment.watershed import iter_split_touching, iter_watershed

__all__ = ["Job", "frame_axis", "image_as_mask", "points_in_image", "run_steps", "seeded_job",
           "split_job"]  # fmt: skip


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


def frame_axis(ndim: int, time_series: bool) -> int | None:
    """Frames along axis 0 for 4D data, and for 3D data marked as a time series."""
    if ndim == 4 or (ndim == 3 and time_series):
        return 0
    return None


def split_job(
    layer: Layer | None, *, min_distance: float, h: float, time_series: bool
) -> Job:
    """*Split touching objects* of a mask or Labels layer (``h`` 0: no h-maxima).

    Raises
    ------
    ValueError
        With a message for the user when the layer is missing or not a mask.
    """
    if layer is None:
        raise ValueError("Choose a mask or Labels layer to split.")
    if getattr(layer, "rgb", False):
        raise ValueError(f"Layer {layer.name!r} is RGB: a mask or Labels layer is needed.")
    data = level0(layer.data)
    if isinstance(layer, Image):
        data = image_as_mask(data, layer.name)
    axis = frame_axis(np.ndim(data), time_series)
    spatial = np.ndim(data) - (axis is not None)
    spacing = layer_spacing(layer, spatial) if spatial in (2, 3) else None
    steps = iter_split_touching(
        data, min_distance=min_distance, spacing=spacing, h=h or None, frame_axis=axis
    )
    frames = 1 if axis is None else data.shape[axis]
    return Job(steps, layer, f"{layer.name} split", frames)


def _same_shape(layer: Layer, data: Any, image: Layer, shape: tuple[int, ...], kind: str) -> None:
    if tuple(data.shape) != shape:
        raise ValueError(
            f"{kind} layer {layer.name!r} (shape {tuple(data.shape)}) must have the shape of "
            f"image {image.name!r} {shape}."
        )


def seeded_job(
    image: Layer | None,
    markers_layer: Layer | None,
    mask_layer: Layer | None,
    *,
    compactness: float,
    gradient: bool,
    time_series: bool,
) -> Job:
    """*Seeded watershed* of an Image layer from Points or Labels markers, optionally masked.

    Raises
    ------
    ValueError
        With a message for the user when a layer is missing or the shapes disagree.
    """
    if image is None:
        raise ValueError("Choose an Image layer to flood.")
    if markers_layer is None:
        raise ValueError("Choose a Points or Labels layer of markers.")
    if getattr(image, "rgb", False):
        raise ValueError(f"Image {image.name!r} is RGB: convert it to one channel (grey) first.")
    data = level0(image.data)
    shape = tuple(data.shape)
    if isinstance(markers_layer, Points):
        markers = points_in_image(markers_layer, image)
    else:
        markers = level0(markers_layer.data)
        _same_shape(markers_layer, markers, image, shape, "Markers")
    mask = None
    if mask_layer is not None:
        mask = level0(mask_layer.data)  # any non-zero value is inside; read frame by frame
        _same_shape(mask_layer, mask, image, shape, "Mask")
    axis = frame_axis(np.ndim(data), time_series)
    steps = iter_watershed(
        data, markers, mask=mask, compactness=compactness, gradient=gradient, frame_axis=axis
    )
    frames = 1 if axis is None else data.shape[axis]
    return Job(steps, image, f"{image.name} watershed", frames)
