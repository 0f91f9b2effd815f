"""Seeded region growing: intensity-range and confidence-connected flood fills.

The criteria follow SimpleITK / ITK so that results can be checked against them
(:mod:`._grow_criteria`):

- ``mode="range"`` is ITK's ``ConnectedThresholdImageFilter``: the connected set of pixels whose
  value lies in ``[lower, upper]`` (inclusive), or within ``tolerance`` of each seed's value;
- ``mode="confidence"`` is ITK's ``ConfidenceConnectedImageFilter``: ``mean -/+ multiplier *
  std`` over the seeds' neighbourhood, re-estimated ``iterations`` times over the region.

The flood itself works on a window around the seeds that grows only while the region touches
its border (:mod:`._window_flood`), so the cost of a region depends on its size, not on the
image's: a seed growing a few thousand pixels in a 4-megapixel image costs well under a
millisecond. The options are one frozen, self-checking :class:`GrowOptions`; the functions also
take its fields as keyword arguments. As every segment function, ``sigma`` and ``max_size`` are
in the units of ``spacing`` (pixels when it is not given). No napari or Qt import lives here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

import numpy as np

from ._grow_criteria import (
    auto_bounds,
    cast_bounds,
    check_image,
    check_seeds,
    confidence_bounds,
    neighbourhood_stats,
    range_bounds,
    smooth,
)
from ._region import Region, merge_regions
from ._validate import check_connectivity, check_spacing
from ._window_flood import flood_window
from .cleanup import options_from

__all__ = [
    "GrowOptions",
    "Region",
    "RegionSizeWarning",
    "auto_bounds",
    "grow_region",
    "grow_regions",
    "smooth",
]

Mode = Literal["range", "confidence"]


class RegionSizeWarning(UserWarning):
    """A region reached ``max_size`` and its growth was stopped there."""


@dataclass(frozen=True)
class GrowOptions:
    """How a region grows from its seeds; checked when made.

    Parameters
    ----------
    mode : {'range', 'confidence'}
        ``'range'``: pixels whose value is within ``tolerance`` of the seed's value, or within
        fixed ``lower``/``upper`` bounds (SimpleITK ConnectedThreshold). ``'confidence'``:
        SimpleITK ConfidenceConnected, ``mean -/+ multiplier * std`` re-estimated
        ``iterations`` times, starting from the ``radius`` neighbourhood of the seeds.
    tolerance : float, optional
        Range mode: the region holds values in ``[seed - tolerance, seed + tolerance]``.
    lower, upper : float, optional
        Range mode: fixed inclusive bounds (one may be omitted: no limit on that side).
    multiplier : float
        Confidence mode: width of the interval in standard deviations.
    iterations : int
        Confidence mode: number of re-estimations of mean and variance over the region.
    radius : int
        Confidence mode: radius of the box around each seed for the first statistics
        (0: the seeds' own values).
    connectivity : int
        1 for face neighbours only (4 in 2D, 6 in 3D) up to ``image.ndim`` for all neighbours
        (8 in 2D, 26 in 3D; SimpleITK's ``FullyConnected``).
    max_size : float, optional
        Largest region: an area (2D) or volume (3D) in the units of the functions' ``spacing``
        (pixels without one). A region that would be larger keeps the pixels nearest its seeds
        (in steps), ``round(max_size / pixel size)`` of them (at least 1), and is marked
        ``truncated``.
    sigma : float or sequence of float
        Gaussian pre-smoothing of the image in the units of ``spacing`` (pixels without one),
        one value or one per axis (0: none). ``smoothing=`` is its deprecated name, in pixels.

    Examples
    --------
    >>> GrowOptions(tolerance=10).mode
    'range'
    >>> GrowOptions(tolerance=10, lower=0)
    Traceback (most recent call last):
    ...
    ValueError: give either `tolerance` (= 10) or `lower`/`upper` (= 0/None), not both
    """

    mode: Mode = "range"
    tolerance: float | None = None
    lower: float | None = None
    upper: float | None = None
    multiplier: float = 2.5
    iterations: int = 4
    radius: int = 1
    connectivity: int = 1
    max_size: float | None = None
    sigma: float | tuple[float, ...] = 0.0

    def __post_init__(self) -> None:
        if not np.isscalar(self.sigma):
            object.__setattr__(self, "sigma", tuple(float(v) for v in np.ravel(self.sigma)))
        _check_options(
            self.mode, self.tolerance, self.lower, self.upper, self.multiplier,
            self.iterations, self.radius, self.max_size, self.sigma,
        )  # fmt: skip

    @classmethod
    def option_names(cls) -> frozenset[str]:
        """The option names (to pick them out of keyword arguments)."""
        return frozenset(f.name for f in fields(cls))


def _grow_options(
    options: GrowOptions | None, kwargs: dict[str, Any], name: str, spacing: tuple[float, ...]
) -> GrowOptions:
    """``options`` with the fields of ``kwargs`` applied.

    ``smoothing`` is the deprecated name of ``sigma`` and keeps its old meaning, pixels: it
    becomes ``sigma = smoothing * spacing`` per axis.
    """
    kwargs = dict(kwargs)
    if "smoothing" in kwargs:
        warnings.warn(f"{name}(smoothing=...) is deprecated: use sigma=... (in the units of "
                      "`spacing`; pixels without one)", DeprecationWarning, stacklevel=3)  # fmt: skip
        pixels = np.broadcast_to(np.asarray(kwargs.pop("smoothing"), float), (len(spacing),))
        physical = tuple(float(p * d) for p, d in zip(pixels, spacing, strict=True))
        kwargs["sigma"] = physical[0] if len(set(physical)) == 1 else physical
    unknown = set(kwargs) - GrowOptions.option_names()
    if unknown:
        raise TypeError(f"unknown region growing option(s): {', '.join(sorted(unknown))}")
    return options_from(options, GrowOptions, kwargs)


def _check_options(
    mode: str,
    tolerance: float | None,
    lower: float | None,
    upper: float | None,
    multiplier: float,
    iterations: int,
    radius: int,
    max_size: float | None,
    sigma: float | tuple[float, ...],
) -> None:
    """Raise ValueError naming the first inconsistent option."""
    if mode not in ("range", "confidence"):
        raise ValueError(f"`mode` = {mode!r} must be 'range' or 'confidence'")
    if mode == "range":
        if tolerance is None and lower is None and upper is None:
            raise ValueError(
                "mode='range' needs `tolerance` (seed value +/- tolerance) or `lower`/`upper` "
                "(fixed bounds); none was given"
            )
        if tolerance is not None and (lower is not None or upper is not None):
            raise ValueError(
                f"give either `tolerance` (= {tolerance}) or `lower`/`upper` "
                f"(= {lower}/{upper}), not both"
            )
        if tolerance is not None and not tolerance >= 0:
            raise ValueError(f"`tolerance` = {tolerance} must be >= 0")
        if lower is not None and upper is not None and lower > upper:
            raise ValueError(f"`lower` = {lower} must not exceed `upper` = {upper}")
    else:
        if tolerance is not None or lower is not None or upper is not None:
            raise ValueError(
                "`tolerance`, `lower` and `upper` belong to mode='range'; mode='confidence' "
                "takes `multiplier`, `iterations` and `radius`"
            )
        if not multiplier >= 0:
            raise ValueError(f"`multiplier` = {multiplier} must be >= 0")
        if int(iterations) != iterations or iterations < 0:
            raise ValueError(f"`iterations` = {iterations} must be an int >= 0")
        if int(radius) != radius or radius < 0:
            raise ValueError(f"`radius` = {radius} must be an int >= 0")
    if max_size is not None and not (max_size > 0 and math.isfinite(max_size)):
        raise ValueError(f"`max_size` = {max_size} must be a positive number or None (no limit)")
    if not np.all(np.asarray(sigma, dtype=float) >= 0):
        raise ValueError(f"`sigma` = {sigma} must be >= 0 (Gaussian sigma in units of `spacing`)")


def _max_pixels(max_size: float | None, spacing: tuple[float, ...]) -> int | None:
    """``max_size`` (area or volume in the units of ``spacing``) as a pixel count (>= 1)."""
    if max_size is None:
        return None
    return max(1, round(max_size / math.prod(spacing)))


def _grow_confidence(
    image: np.ndarray,
    seeds: np.ndarray,
    multiplier: float,
    iterations: int,
    radius: int,
    footprint: np.ndarray,
    max_size: int | None,
) -> Region:
    """ITK's ConfidenceConnected algorithm for one object grown from ``seeds``."""
    seed_values = image[tuple(seeds.T)].astype(np.float64)
    if radius > 0:
        mean, variance = neighbourhood_stats(image, seeds, radius)
    else:
        mean = float(seed_values.mean())
        variance = float(seed_values.var(ddof=1)) if len(seed_values) > 1 else 0.0
    bounds = confidence_bounds(mean, variance, multiplier, seed_values, image.dtype)
    region = flood_window(image, seeds, *bounds, footprint, max_size)
    tiny = 0.1 * np.finfo(np.float64).eps  # itk::Math::AlmostEquals(variance, 0.0)
    for _ in range(int(iterations)):
        values = image[region.slices][region.mask].astype(np.float64)
        n = values.size
        if n < 2:
            break
        total = float(values.sum())
        variance = (float(np.dot(values, values)) - total * total / n) / (n - 1.0)
        if abs(variance) <= tiny:
            break
        bounds = confidence_bounds(total / n, variance, multiplier, seed_values, image.dtype)
        region = flood_window(image, seeds, *bounds, footprint, max_size, region.slices)
    return region


def grow_region(
    image: np.ndarray,
    seeds: np.ndarray,
    options: GrowOptions | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    **kwargs: Any,
) -> Region:
    """Grow ONE object from one or more seeds.

    Parameters
    ----------
    image : (M, N[, ...]) ndarray
        Single-channel intensities (integer or float; bool is taken as 0/1).
    seeds : (S, image.ndim) array_like
        Pixel coordinates (row, col[, ...]); floats are rounded to the nearest pixel.
    options : GrowOptions, optional
        The criterion; keyword arguments (``tolerance=``, ``mode=``, ...) set its fields
        instead. In range mode with ``tolerance`` each seed floods with the bounds around its
        own value and the object is the union; with fixed bounds, and in confidence mode, all
        seeds flood together (confidence statistics are pooled over the seeds, as ITK does).
    spacing : float or sequence of float, optional
        Pixel size per axis (napari's ``layer.scale``): ``sigma`` is a length and ``max_size``
        an area or volume in its units. Default 1 (pixels).

    Returns
    -------
    Region
        The object's mask over a window of the image (``Region.paint`` writes it into a label
        image). ``Region.truncated`` tells whether ``max_size`` stopped it.

    Examples
    --------
    >>> image = np.array([[10, 11, 50], [12, 10, 52]], dtype=np.uint8)
    >>> region = grow_region(image, [[0, 0]], tolerance=3)
    >>> region.size, region.truncated
    (4, False)
    >>> grow_region(image, [[0, 0]], tolerance=3, spacing=0.5, max_size=0.5).size  # 2 pixels
    2
    """
    image = check_image(image)
    space = check_spacing(spacing, image.ndim)
    options = _grow_options(options, kwargs, "grow_region", space)
    image = smooth(image, options.sigma, space)
    pts = check_seeds(seeds, image.shape)
    footprint = check_connectivity(options.connectivity, image.ndim)
    if pts.shape[0] == 0:
        raise ValueError("`seeds` is empty: give at least one (N, ndim) seed")
    max_size = _max_pixels(options.max_size, space)
    if options.mode == "confidence":
        return _grow_confidence(image, pts, options.multiplier, options.iterations,
                                options.radius, footprint, max_size)  # fmt: skip
    if options.tolerance is None:
        bounds = cast_bounds(*range_bounds(0.0, None, options.lower, options.upper),
                              image.dtype)  # fmt: skip
        return flood_window(image, pts, *bounds, footprint, max_size)
    result: Region | None = None
    for seed in pts:
        value = float(image[tuple(seed)])
        bounds = cast_bounds(*range_bounds(value, options.tolerance, None, None), image.dtype)
        region = flood_window(image, seed[np.newaxis], *bounds, footprint, max_size)
        result = region if result is None else merge_regions(result, region)
    assert result is not None
    return result


def _check_labels(labels: np.ndarray | None, n: int) -> np.ndarray:
    """Per-seed label values (default 1..N), positive ints."""
    if labels is None:
        return np.arange(1, n + 1)
    values = np.asarray(labels)
    if values.shape != (n,):
        raise ValueError(f"`labels` (shape {values.shape}) must have one value per seed ({n},)")
    if values.size and (not np.all(np.equal(np.mod(values, 1), 0)) or values.min() < 1):
        raise ValueError(f"`labels` must be positive integers; got {values.tolist()[:10]}")
    return values.astype(np.int64)


def grow_regions(
    image: np.ndarray,
    seeds: np.ndarray,
    options: GrowOptions | None = None,
    *,
    labels: np.ndarray | None = None,
    spacing: float | Sequence[float] | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Grow one labelled region per seed (or per ``labels`` value) from seed points.

    Parameters
    ----------
    image : (M, N[, ...]) ndarray
        Single-channel intensities (integer or float; bool is taken as 0/1).
    seeds : (S, image.ndim) array_like
        Pixel coordinates (row, col[, ...]); floats are rounded to the nearest pixel.
    options : GrowOptions, optional
        The criterion (see :class:`GrowOptions`); keyword arguments set its fields instead.
        The smoothing is done once for all seeds. ``max_size`` applies to each flood: an
        object merged from several tolerance seeds may exceed it; a truncated region is named
        by a :class:`RegionSizeWarning`.
    labels : (S,) array_like of int, optional
        Label value per seed; seeds sharing a value grow one object. Default ``1..S``.
    spacing : float or sequence of float, optional
        Pixel size per axis (napari's ``layer.scale``): ``sigma`` is a length and ``max_size``
        an area or volume in its units. Default 1 (pixels).

    Returns
    -------
    ndarray of unsigned int, shape ``image.shape``
        Label image: object ``labels[k]`` (default ``k + 1``) where seed ``k`` grew. Where
        objects overlap, the object of the earlier seed keeps the pixel. The dtype is the
        smallest that holds the largest label (uint8 up to 255 objects, like SimpleITK's
        output), which keeps the untouched part of a large image cheap.

    Notes
    -----
    A seed whose own value lies outside fixed bounds grows nothing (as in SimpleITK). In
    confidence mode with ``radius=0`` and a single seed the variance is undefined: the region is
    the connected pixels equal to the seed's value (SimpleITK returns an empty region there).

    Examples
    --------
    >>> image = np.array([[10, 11, 50], [12, 10, 52]], dtype=np.uint8)
    >>> grow_regions(image, [[0, 0], [0, 2]], tolerance=3)
    array([[1, 1, 2],
           [1, 1, 2]], dtype=uint8)
    """
    image = check_image(image)
    space = check_spacing(spacing, image.ndim)
    options = _grow_options(options, kwargs, "grow_regions", space)
    image = smooth(image, options.sigma, space)
    pts = check_seeds(seeds, image.shape)
    values = _check_labels(labels, pts.shape[0])
    dtype = np.min_scalar_type(int(values.max()) if values.size else 1)
    unsmoothed = replace(options, sigma=0.0)
    out: np.ndarray | None = None  # allocated once the first region is grown
    truncated = []
    _, first = np.unique(values, return_index=True)
    for k in np.sort(first):
        value = values[k]
        region = grow_region(image, pts[values == value], unsmoothed, spacing=space)
        if out is None:
            out = np.zeros(image.shape, dtype=dtype)
            region._paint_fresh(out, int(value))
        else:
            region.paint(out, int(value))
        if region.truncated:
            truncated.append(int(value))
    if truncated:
        warnings.warn(
            f"regions {truncated} reached max_size={options.max_size} and were stopped "
            "there; raise `max_size` or narrow the criterion if they should be complete",
            RegionSizeWarning,
            stacklevel=2,
        )
    return np.zeros(image.shape, dtype=dtype) if out is None else out
