"""The worker side of the region-growing widget: seeds grouped into objects, grown off the
Qt thread (no layer, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_coco_masks.segment.region_growing import auto_bounds, grow_region, smooth

if TYPE_CHECKING:
    from napari.layers import Image

__all__ = ["TINY", "Plan", "Seeds", "grow_in_thread", "intensity", "otsu", "spatial_shape"]


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
    #: Gaussian σ in pixels, per grown axis.
    smoothing: tuple[float, ...]
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


def grow_in_thread(
    data: Any,
    rgb: bool,
    objects: list[Seeds],
    options: dict[str, Any],
    smoothing: tuple[float, ...],
    frames: dict[tuple[int, ...], np.ndarray],
):
    """Grow the objects whose regions are not cached; yields ``(object, region)`` pairs.

    ``options["auto"]`` (tolerance 0) picks each object's bounds with :func:`auto_bounds`.
    """
    options = dict(options)
    auto = options.pop("auto", False)
    thresholds: dict[tuple[int, ...], float] = {}
    for obj in objects:
        if obj.frame not in frames:
            frames[obj.frame] = smooth(intensity(data[obj.frame], rgb), smoothing)
        frame, seeds = frames[obj.frame], np.array(obj.points)
        if auto:
            if obj.frame not in thresholds:
                thresholds[obj.frame] = otsu(frame)
            lower, upper = auto_bounds(frame, seeds, threshold=thresholds[obj.frame])
            yield obj, grow_region(frame, seeds, lower=lower, upper=upper, **options)
        else:
            yield obj, grow_region(frame, seeds, **options)


def otsu(frame: np.ndarray) -> float:
    """Otsu's threshold of a frame (its value when the frame is constant)."""
    from skimage.filters import threshold_otsu

    from napari_coco_masks.segment.threshold import histogram_input

    if frame.min() == frame.max():
        return float(frame.flat[0])
    return float(threshold_otsu(histogram_input(frame)))
