"""Region-growing criteria: which intensities a region takes in, as SimpleITK / ITK pick them.

- range mode (ITK's ``ConnectedThresholdImageFilter``): ``[lower, upper]`` (inclusive) clamped to
  the image's value range and cast to its pixel type (integers truncate towards zero, as C++
  ``static_cast`` does), or the seed's value ± a tolerance;
- confidence mode (ITK's ``ConfidenceConnectedImageFilter``): ``mean -/+ multiplier * std`` over
  the seeds' neighbourhood (border pixels replicated), widened to hold the seeds' own values;
- automatic bounds (:func:`auto_bounds`): the seed's side of the image's Otsu threshold.

Also the input checks of the image and the seeds, and the Gaussian pre-smoothing.
No napari or Qt import lives here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

from ._threshold_methods import histogram_input, sigma_pixels
from ._validate import check_finite, check_spacing

__all__ = ["auto_bounds", "smooth"]


def check_image(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a numeric numpy array (bool becomes uint8); refuse NaN and inf."""
    arr = np.asarray(image)
    if arr.ndim < 1 or arr.size == 0:
        raise ValueError(f"`image` (shape {arr.shape}) must be a non-empty array of 1 or more dims")
    if arr.dtype == bool:
        return arr.view(np.uint8)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(
            f"`image` has dtype {arr.dtype}; region growing needs integer or float intensities "
            "(convert colour images to one channel first)"
        )
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    check_finite(arr, "image", hint=": region growing compares intensities")
    return arr


def check_seeds(seeds: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Return the seeds as an (N, ndim) int array of pixel indices inside ``shape``."""
    pts = np.asarray(seeds, dtype=float)
    if pts.ndim == 1 and pts.size == len(shape):
        pts = pts[np.newaxis]
    if pts.ndim != 2 or pts.shape[1] != len(shape):
        raise ValueError(
            f"`seeds` (shape {pts.shape}) must be an (N, {len(shape)}) array of pixel "
            f"coordinates for an image of shape {shape}"
        )
    if not np.all(np.isfinite(pts)):
        raise ValueError("`seeds` contains NaN or infinite coordinates; remove those points")
    idx = np.rint(pts).astype(np.intp)
    outside = np.any((idx < 0) | (idx >= np.asarray(shape)), axis=1)
    if outside.any():
        k = int(np.argmax(outside))
        raise ValueError(
            f"`seeds[{k}]` = {tuple(pts[k].tolist())} lies outside the image (shape {shape}); "
            "remove it or move it onto the image"
        )
    return idx


def smooth(
    image: np.ndarray,
    sigma: float | Sequence[float],
    spacing: float | Sequence[float] | None = None,
) -> np.ndarray:
    """Gaussian pre-smoothing (float32) of the ``sigma`` option; 0 returns ``image``.

    ``sigma`` is one value, or one per axis, in the units of ``spacing`` (the pixel size per
    axis; pixels when it is None).
    """
    image = check_image(image)
    if spacing is not None:
        sigma = sigma_pixels(sigma, check_spacing(spacing, image.ndim))
    sigmas = np.broadcast_to(np.asarray(sigma, dtype=float), (image.ndim,))
    if not np.any(sigmas > 0):
        return image
    return ndi.gaussian_filter(image.astype(np.float32), tuple(sigmas))


def auto_bounds(
    image: np.ndarray, seeds: np.ndarray, *, threshold: float | None = None
) -> tuple[float, float]:
    """Intensity bounds for a seed when the user gave none: the seed's side of Otsu's threshold.

    A fixed ``± tolerance`` around the seed value grows one pixel when the seed sits on texture
    (the neighbours differ by more than the tolerance). Instead, the seeds' local mean (3×3 or 3×3×3
    window around each seed) is compared with the image's Otsu threshold: a bright seed gets
    ``(threshold, max]``, a dark one ``[min, threshold]``, so the region is the seed's connected
    component of the thresholded image.

    Parameters
    ----------
    image : (M, N[, ...]) ndarray
        Intensities (one frame).
    seeds : (K, ndim) array_like of int
        Seed pixel indices of one object.
    threshold : float, optional
        Otsu's threshold of ``image``, when already known (a cache across seeds).

    Returns
    -------
    lower, upper : float
        Inclusive bounds for ``grow_region(..., lower=lower, upper=upper)``.

    Examples
    --------
    >>> image = np.array([[10, 10, 200, 190], [10, 12, 210, 200]], dtype=np.uint8)
    >>> auto_bounds(image, [[0, 3]])
    (13.0, 210.0)
    """
    from skimage.filters import threshold_otsu

    image = check_image(image)
    pts = check_seeds(np.asarray(seeds), image.shape)
    low, high = float(image.min()), float(image.max())
    if low == high:
        return low, high
    t = float(threshold_otsu(histogram_input(image))) if threshold is None else float(threshold)
    windows = [
        image[tuple(slice(max(c - 1, 0), c + 2) for c in point)] for point in pts.tolist()
    ]
    local = float(np.mean([w.mean() for w in windows]))
    if local <= t:
        return low, t
    above = math.floor(t) + 1.0 if np.issubdtype(image.dtype, np.integer) else np.nextafter(t, np.inf)
    return float(above), high


def _value_range(dtype: np.dtype) -> tuple[float, float]:
    """ITK's ``NonpositiveMin`` and ``max`` of a pixel type."""
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else np.finfo(dtype)
    return float(info.min), float(info.max)


def cast_bounds(lower: float, upper: float, dtype: np.dtype) -> tuple[np.generic, np.generic]:
    """Clamp the bounds to the pixel type's range and cast them as C++ ``static_cast`` does."""
    lo_min, hi_max = _value_range(dtype)
    lower = min(max(lower, lo_min), hi_max)
    upper = max(min(upper, hi_max), lo_min)
    if np.issubdtype(dtype, np.integer):
        return dtype.type(math.trunc(lower)), dtype.type(math.trunc(upper))
    return dtype.type(lower), dtype.type(upper)


def range_bounds(
    seed_value: float, tolerance: float | None, lower: float | None, upper: float | None
) -> tuple[float, float]:
    """The range-mode bounds before the cast: seed value -/+ tolerance, or the fixed bounds."""
    if tolerance is not None:
        return seed_value - tolerance, seed_value + tolerance
    return (-math.inf if lower is None else lower), (math.inf if upper is None else upper)


def neighbourhood_stats(image: np.ndarray, seeds: np.ndarray, radius: int) -> tuple[float, float]:
    """ITK's initial statistics: mean of the seeds' box means and the pooled sample variance.

    Pixels outside the image are replaced by the nearest border pixel (zero-flux Neumann).
    """
    shape = np.asarray(image.shape)
    offsets = np.arange(-radius, radius + 1)
    sum_means, sum_squares, count = 0.0, 0.0, 0
    for seed in seeds:
        axes = [np.clip(c + offsets, 0, n - 1) for c, n in zip(seed, shape, strict=True)]
        values = image[np.ix_(*axes)].astype(np.float64)
        sum_means += float(values.mean())
        sum_squares += float(np.sum(values * values))
        count += values.size
    mean = sum_means / len(seeds)
    return mean, (sum_squares - mean * mean * count) / (count - 1.0)


def confidence_bounds(
    mean: float, variance: float, multiplier: float, seed_values: np.ndarray, dtype: np.dtype
) -> tuple[np.generic, np.generic]:
    """``mean -/+ multiplier * std``, widened to the seeds' values, cast to the pixel type."""
    std = math.sqrt(max(variance, 0.0))
    lower = min(mean - multiplier * std, float(seed_values.min()))
    upper = max(mean + multiplier * std, float(seed_values.max()))
    return cast_bounds(lower, upper, dtype)
