"""Colour masking (chroma key): keep the pixels of an RGB image inside a hue/saturation/value box.

Pure numpy / scikit-image: no napari or Qt import lives here. Hue is in degrees [0, 360)
(a range whose low end is above its high end wraps through 0, e.g. ``(340, 20)`` for reds);
saturation and value are in [0, 1] as in :func:`skimage.color.rgb2hsv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["colour_mask", "hsv_range_around", "rgb_to_hsv"]

Range = tuple[float, float]


def _check_range(name: str, bounds: Sequence[float], low: float, high: float) -> Range:
    """Return ``bounds`` as a (lo, hi) pair of floats inside [low, high]."""
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a (low, high) pair, got {bounds!r}") from None
    if not (low <= lo <= high and low <= hi <= high):
        raise ValueError(f"`{name}` {bounds!r} must lie within [{low}, {high}]")
    return lo, hi


def _as_rgb(rgb: Any, channel_axis: int) -> np.ndarray:
    """Return ``rgb`` with its 3 colour channels last (alpha dropped)."""
    array = np.asarray(rgb)
    if array.size == 0:
        raise ValueError(f"`rgb` (shape {array.shape}) is empty: there is nothing to mask")
    if not -array.ndim <= channel_axis < array.ndim or array.shape[channel_axis] not in (3, 4):
        raise ValueError(
            f"`rgb` (shape {array.shape}) must have 3 (RGB) or 4 (RGBA) channels on axis "
            f"{channel_axis}; colour masking needs a colour image"
        )
    array = np.moveaxis(array, channel_axis, -1)[..., :3]
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError("`rgb` contains NaN or infinite values; replace them first")
    return array


def rgb_to_hsv(rgb: Any, *, channel_axis: int = -1) -> np.ndarray:
    """Hue (degrees), saturation and value ([0, 1]) of every pixel, on a last axis of 3.

    Integer images are scaled by their dtype's maximum as in :func:`skimage.color.rgb2hsv`.
    """
    from skimage.color import rgb2hsv

    hsv = rgb2hsv(_as_rgb(rgb, channel_axis), channel_axis=-1)
    hsv[..., 0] *= 360.0
    return hsv


def _in_hue(hue: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Pixels whose hue is in [lo, hi] degrees, wrapping through 0 when lo > hi."""
    if lo <= hi:
        return (hue >= lo) & (hue <= hi)
    return (hue >= lo) | (hue <= hi)


def colour_mask(
    rgb: Any,
    hue: Sequence[float] = (0.0, 360.0),
    saturation: Sequence[float] = (0.0, 1.0),
    value: Sequence[float] = (0.0, 1.0),
    *,
    channel_axis: int = -1,
) -> np.ndarray:
    """Return the pixels of ``rgb`` whose colour lies in a hue/saturation/value range.

    Parameters
    ----------
    rgb : (..., 3 or 4) array_like
        RGB or RGBA image (alpha is ignored), any number of leading axes.
    hue : (float, float)
        Inclusive hue range in degrees within [0, 360]; ``lo > hi`` wraps through 0 (red).
        Grey pixels have hue 0: exclude them with a saturation floor.
    saturation, value : (float, float)
        Inclusive ranges within [0, 1].
    channel_axis : int
        Axis of the colour channels.

    Returns
    -------
    ndarray of bool
        The input's shape without the channel axis.
    """
    h_lo, h_hi = _check_range("hue", hue, 0.0, 360.0)
    s_lo, s_hi = _check_range("saturation", saturation, 0.0, 1.0)
    v_lo, v_hi = _check_range("value", value, 0.0, 1.0)
    if s_lo > s_hi or v_lo > v_hi:
        raise ValueError(
            f"`saturation` {tuple(saturation)} and `value` {tuple(value)} need low <= high"
        )
    hsv = rgb_to_hsv(rgb, channel_axis=channel_axis)
    mask = _in_hue(hsv[..., 0], h_lo, h_hi)
    mask &= (hsv[..., 1] >= s_lo) & (hsv[..., 1] <= s_hi)
    mask &= (hsv[..., 2] >= v_lo) & (hsv[..., 2] <= v_hi)
    return mask


def hsv_range_around(
    pixel: Sequence[float],
    *,
    hue_tolerance: float = 15.0,
    saturation_tolerance: float = 0.25,
    value_tolerance: float = 0.25,
    dtype: Any = np.uint8,
) -> tuple[Range, Range, Range]:
    """Return the (hue, saturation, value) ranges around one RGB(A) colour, for a colour pick.

    ``pixel`` is in the range of ``dtype`` (e.g. 0-255 for uint8). The hue range wraps through
    0 when the colour is near red; saturation and value are clipped to [0, 1].
    """
    rgb = np.asarray(pixel, dtype=dtype).reshape(1, 1, -1)
    h, s, v = rgb_to_hsv(rgb)[0, 0]
    tol = min(float(hue_tolerance), 180.0)
    hue = ((h - tol) % 360.0, (h + tol) % 360.0) if tol < 180 else (0.0, 360.0)
    sat = (max(0.0, s - saturation_tolerance), min(1.0, s + saturation_tolerance))
    val = (max(0.0, v - value_tolerance), min(1.0, v + value_tolerance))
    return (float(hue[0]), float(hue[1])), (float(sat[0]), float(sat[1])), (
        float(val[0]), float(val[1])
    )  # fmt: skip
