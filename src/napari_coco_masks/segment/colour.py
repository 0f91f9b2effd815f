"""Colour masking (chroma key): keep the pixels of an RGB image inside a hue/saturation/value box.

Pure numpy / scikit-image: no napari or Qt import lives here. Hue is in degrees [0, 360)
(a range whose low end is above its high end wraps through 0, e.g. ``(340, 20)`` for reds);
saturation and value are in [0, 1] as in :func:`skimage.color.rgb2hsv`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._frames import UniqueIds, map_frames
from ._validate import check_axis, check_spacing, renamed_axis
from .cleanup import LabelOptions, mask_to_labels, options_from

__all__ = ["colour_labels", "colour_mask", "hsv_range_around", "rgb_to_hsv"]

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


def _hsv_unit(rgb: Any, channel_axis: int) -> np.ndarray:
    """:func:`skimage.color.rgb2hsv` of ``rgb``: hue, saturation and value all in [0, 1]."""
    from skimage.color import rgb2hsv

    array = _as_rgb(rgb, channel_axis)
    if array.shape[-1] != 3 or not array.flags.c_contiguous:
        array = np.ascontiguousarray(array[..., :3])
    return rgb2hsv(array, channel_axis=-1)


def rgb_to_hsv(rgb: Any, *, channel_axis: int = -1) -> np.ndarray:
    """Hue (degrees), saturation and value ([0, 1]) of every pixel, on a last axis of 3.

    Parameters
    ----------
    rgb : (..., 3 or 4) array_like
        RGB or RGBA image; integers are scaled by their dtype's maximum as in
        :func:`skimage.color.rgb2hsv`.
    channel_axis : int
        Axis of the colour channels.

    Returns
    -------
    (..., 3) ndarray of float
        Hue in [0, 360), saturation and value in [0, 1].

    Examples
    --------
    >>> rgb_to_hsv(np.array([[[255, 0, 0], [0, 0, 128]]], np.uint8)).round(2).tolist()
    [[[0.0, 1.0, 1.0], [240.0, 1.0, 0.5]]]
    """
    hsv = _hsv_unit(rgb, channel_axis)
    hsv[..., 0] *= 360.0
    return hsv


def _in_hue(hue: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Pixels whose hue is in [lo, hi] (same unit as ``hue``), wrapping through 0 if lo > hi."""
    if lo <= hi:
        return (hue >= lo) & (hue <= hi)
    return (hue >= lo) | (hue <= hi)


def _in_range(channel: np.ndarray, lo: float, hi: float, mask: np.ndarray) -> None:
    """``mask &= lo <= channel <= hi``, skipping the bounds that keep everything in [0, 1]."""
    if lo > 0.0:
        mask &= channel >= lo
    if hi < 1.0:
        mask &= channel <= hi


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

    Examples
    --------
    >>> rgb = np.array([[[255, 0, 0], [0, 255, 0], [250, 10, 10]]], np.uint8)
    >>> colour_mask(rgb, hue=(340, 20), saturation=(0.5, 1)).tolist()
    [[True, False, True]]
    """
    h_lo, h_hi = _check_range("hue", hue, 0.0, 360.0)
    s_lo, s_hi = _check_range("saturation", saturation, 0.0, 1.0)
    v_lo, v_hi = _check_range("value", value, 0.0, 1.0)
    if s_lo > s_hi or v_lo > v_hi:
        raise ValueError(
            f"`saturation` {tuple(saturation)} and `value` {tuple(value)} need low <= high"
        )
    hsv = _hsv_unit(rgb, channel_axis)
    if (h_lo, h_hi) in ((0.0, 360.0), (360.0, 0.0)):
        mask = np.ones(hsv.shape[:-1], bool)
    else:
        # compare in skimage's [0, 1] hue unit (bounds scaled, not the image)
        mask = _in_hue(hsv[..., 0], h_lo / 360.0, h_hi / 360.0)
    _in_range(hsv[..., 1], s_lo, s_hi, mask)
    _in_range(hsv[..., 2], v_lo, v_hi, mask)
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

    Parameters
    ----------
    pixel : (3,) or (4,) array_like
        The colour, in the range of ``dtype`` (e.g. 0-255 for uint8).
    hue_tolerance : float
        Half-width of the hue range, in degrees (180 or more: every hue).
    saturation_tolerance, value_tolerance : float
        Half-widths of the saturation and value ranges.
    dtype : dtype
        The image's dtype, whose range scales ``pixel``.

    Returns
    -------
    hue, saturation, value : (float, float)
        Ranges for :func:`colour_mask`. The hue range wraps through 0 when the colour is near
        red; saturation and value are clipped to [0, 1].

    Examples
    --------
    >>> hsv_range_around([255, 0, 0], hue_tolerance=10)
    ((350.0, 10.0), (0.75, 1.0), (0.75, 1.0))
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


def colour_labels(
    rgb: Any,
    hue: Sequence[float] = (0.0, 360.0),
    saturation: Sequence[float] = (0.0, 1.0),
    value: Sequence[float] = (0.0, 1.0),
    *,
    channel_axis: int = -1,
    frame_axis: int | None = None,
    frames: Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
    labels: LabelOptions | None = None,
    time_axis: int | None = None,
    **kwargs: Any,
) -> Iterator[tuple[int | None, np.ndarray]]:
    """Colour-mask ``rgb`` and label the result, yielding ``(frame_index, labels)`` (int32).

    Parameters
    ----------
    rgb, hue, saturation, value, channel_axis
        As for :func:`colour_mask`.
    frame_axis : int, optional
        Axis of the frames of a series (counted without the channel axis): frames are masked
        and labelled one at a time (only ``frames`` when given), label values continuing from
        frame to frame. None: the whole image is one nD image and one ``(None, labels)`` is
        yielded.
    frames : sequence of int, optional
        The frames to compute.
    spacing : float or sequence of float, optional
        Pixel size per spatial axis, for ``min_size``.
    labels : LabelOptions, optional
        The clean-up (:func:`~napari_coco_masks.segment.cleanup.mask_to_labels`); keyword
        arguments (``fill_holes=``, ``min_size=``, ...) set its fields instead.
    time_axis : int, optional
        Deprecated name of ``frame_axis``.

    Yields
    ------
    frame_index : int or None
        The frame (None without ``frame_axis``).
    labels : ndarray of int32
        Its objects (values continue from frame to frame), or its 0/1 mask.

    Examples
    --------
    >>> rgb = np.zeros((4, 6, 3), np.uint8)
    >>> rgb[1:3, 1:3] = (255, 0, 0)
    >>> rgb[1:3, 4:] = (0, 0, 255)
    >>> [(i, int(lab.max())) for i, lab in colour_labels(rgb, (340, 20), (0.5, 1))]
    [(None, 1)]
    """
    clean = options_from(labels, LabelOptions, kwargs)
    if kwargs:
        raise TypeError(f"unknown colour_labels option(s): {', '.join(sorted(kwargs))}")
    frame_axis = renamed_axis(frame_axis, time_axis, "colour_labels")
    array = np.moveaxis(np.asarray(rgb), channel_axis, -1)
    grey_ndim = array.ndim - 1
    axis = check_axis(frame_axis, grey_ndim)
    space = check_spacing(spacing, grey_ndim, axis)
    if axis is None:
        mask = colour_mask(array, hue, saturation, value)
        yield None, mask_to_labels(mask, clean, spacing=space)
        return
    stack = np.moveaxis(array, axis, 0)
    ids = UniqueIds()

    def segment(index: int) -> np.ndarray:
        mask = colour_mask(stack[index], hue, saturation, value)
        return mask_to_labels(mask, clean, spacing=space)

    for index, frame_labels in map_frames(len(stack), segment, frames):
        yield index, ids(frame_labels) if clean.output == "labels" else frame_labels
