"""The worker side of the region-growing widget: seeds grouped into objects, grown off the
Qt thread, composed into one label image with its status notes (no layer, no Qt).

The widget passes physical values: σ and max size in the image's units, with the grown axes'
spacing (the segment functions convert them to pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_coco_masks.segment.region_growing import auto_bounds, grow_region, smooth

if TYPE_CHECKING:
    from napari.layers import Image

__all__ = ["TINY", "Plan", "Seeds", "compose", "grow_in_thread", "group_seeds", "intensity",
           "otsu", "spatial_shape"]  # fmt: skip


#: Regions of fewer pixels than this are reported as tiny (a seed that did not grow).
TINY = 9


_LUMA = np.array([0.2125, 0.7154, 0.0721])  # ITU-R 709, as skimage.color.rgb2gray


@dataclass(frozen=True)
class Seeds:
    """One object to grow: the frame it lives in, its label and its seeds (pixel indices)."""

    frame: tuple[int, ...]
    label: int
    points: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Plan:
    """Everything a refresh needs, read on the Qt thread."""

    image: Image
    shape: tuple[int, ...]
    objects: tuple[Seeds, ...]
    options: tuple[tuple[str, Any], ...]
    #: Gaussian σ in the image's units (``spacing``'s).
    sigma: float
    #: Pixel size of the grown axes (the image's scale).
    spacing: tuple[float, ...]
    ignored: int
    source: tuple[int, int, tuple[float, ...]]

    def key(self, obj: Seeds) -> tuple:
        """Cache key of one object's region: seeds, options and image data."""
        return (obj, self.options, self.source)


def intensity(frame: np.ndarray, rgb: bool) -> np.ndarray:
    """Single-channel intensities of one frame (RGB(A) -> luminance in the input's dtype)."""
    frame = np.asarray(frame)
    if not rgb:
        return frame
    grey = frame[..., :3].astype(np.float64) @ _LUMA
    if np.issubdtype(frame.dtype, np.integer):
        return np.rint(grey).astype(frame.dtype)
    return grey.astype(np.float32)


def spatial_shape(image: Image) -> tuple[int, ...]:
    """Shape of an image without its RGB(A) channel axis."""
    return tuple(image.data.shape[:-1] if image.rgb else image.data.shape)


def group_seeds(
    coords: np.ndarray, labels: np.ndarray, shape: tuple[int, ...], grow_ndim: int
) -> tuple[tuple[Seeds, ...], int]:
    """Seeds (pixel indices) grouped into objects: one per frame and label value.

    The leading ``len(shape) - grow_ndim`` axes are the frame; returns the objects and the
    number of points outside the image (ignored).
    """
    lead = len(shape) - grow_ndim
    inside = np.all((coords >= 0) & (coords < np.asarray(shape)), axis=1)
    groups: dict[tuple[tuple[int, ...], int], list[tuple[int, ...]]] = {}
    for coord, label in zip(coords[inside], labels[inside], strict=True):
        key = (tuple(int(c) for c in coord[:lead]), int(label))
        groups.setdefault(key, []).append(tuple(int(c) for c in coord[lead:]))
    objects = tuple(Seeds(f, lab, tuple(p)) for (f, lab), p in groups.items())
    return objects, int(np.count_nonzero(~inside))


def compose(plan: Plan, cache: dict[tuple, Any]) -> tuple[np.ndarray, list[str]]:
    """The cached regions of ``plan`` painted into one label image, and the status notes
    (region count, tiny regions, regions stopped at max size, points ignored)."""
    out = np.zeros(plan.shape, dtype=np.int32)
    truncated = []
    for obj in plan.objects:
        region = cache[plan.key(obj)]
        region.paint(out[obj.frame], obj.label)
        if region.truncated:
            truncated.append(obj.label)
    notes = [f"{len(plan.objects)} region(s)"]
    tiny = sorted({obj.label for obj in plan.objects if cache[plan.key(obj)].size < TINY})
    if tiny:
        notes.append(
            f"{len(tiny)} tiny (< {TINY} px): labels {tiny}; widen the range (tolerance 0 = auto)"
        )
    if truncated:
        notes.append(f"stopped at max size: labels {sorted(set(truncated))}")
    if plan.ignored:
        notes.append(f"{plan.ignored} point(s) outside the image ignored")
    return out, notes


def grow_in_thread(
    data: Any,
    rgb: bool,
    objects: list[Seeds],
    options: dict[str, Any],
    sigma: float,
    spacing: tuple[float, ...],
    frames: dict[tuple[int, ...], np.ndarray],
):
    """Grow the objects whose regions are not cached; yields ``(object, region)`` pairs.

    ``sigma`` and ``options["max_size"]`` are in the units of ``spacing`` (the grown axes'
    pixel size), as the segment functions take them. ``options["auto"]`` (tolerance 0) picks
    each object's bounds with :func:`auto_bounds`.
    """
    options = dict(options)
    auto = options.pop("auto", False)
    thresholds: dict[tuple[int, ...], float] = {}
    for obj in objects:
        if obj.frame not in frames:
            frames[obj.frame] = smooth(intensity(data[obj.frame], rgb), sigma, spacing)
        frame, seeds = frames[obj.frame], np.array(obj.points)
        if auto:
            if obj.frame not in thresholds:
                thresholds[obj.frame] = otsu(frame)
            lower, upper = auto_bounds(frame, seeds, threshold=thresholds[obj.frame])
            yield obj, grow_region(frame, seeds, lower=lower, upper=upper, spacing=spacing,
                                   **options)  # fmt: skip
        else:
            yield obj, grow_region(frame, seeds, spacing=spacing, **options)


def otsu(frame: np.ndarray) -> float:
    """Otsu's threshold of a frame (its value when the frame is constant)."""
    from skimage.filters import threshold_otsu

    from napari_coco_masks.segment.threshold import histogram_input

    if frame.min() == frame.max():
        return float(frame.flat[0])
    return float(threshold_otsu(histogram_input(frame)))
