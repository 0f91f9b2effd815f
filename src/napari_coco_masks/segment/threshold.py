"""Threshold an image into objects, as scikit-image does it: value, foreground, labels.

:func:`threshold_value` computes a method's threshold (scikit-image's own functions,
:mod:`skimage.filters`), :func:`foreground` compares the image with it and
:func:`~napari_coco_masks.segment.cleanup.mask_to_labels` cleans and labels the mask.
:func:`threshold` does the three steps (frame by frame for a series) and returns the labels;
:func:`threshold_labels` also returns the threshold it used. The options are two frozen,
self-checking dataclasses, :class:`ThresholdOptions` and
:class:`~napari_coco_masks.segment.cleanup.LabelOptions`; the functions also take their fields
as keyword arguments. With default options ``threshold(image, "otsu") > 0`` is exactly
``image > skimage.filters.threshold_otsu(image)``.

Physical units: ``sigma`` (Gaussian pre-smoothing) is a length and ``min_size`` an area (2D) or a
volume (3D) in the units of ``spacing`` (the pixel size per axis, napari's ``layer.scale``).
``block_size`` (local methods) stays in pixels. No napari or Qt import lives here.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from ._frames import UniqueIds, map_frames
from ._threshold_methods import (
    GLOBAL_METHODS,
    LOCAL_METHODS,
    METHODS,
    ThresholdOptions,
    compare,
    histogram_input,
    luminance,
    method_threshold,
    normalize_method,
    pick_options,
    refuse_unknown,
    select_channel,
    sigma_pixels,
    smooth,
    split_options,
    validate_image,
)
from ._validate import check_axis, check_spacing, renamed_axis
from .cleanup import OUTPUTS, LabelOptions, mask_to_labels

__all__ = [
    "GLOBAL_METHODS",
    "LOCAL_METHODS",
    "METHODS",
    "OUTPUTS",
    "LabelOptions",
    "ThresholdOptions",
    "Thresholded",
    "foreground",
    "histogram_input",
    "iter_threshold_frames",
    "luminance",
    "mask_to_labels",
    "normalize_method",
    "threshold",
    "threshold_labels",
    "threshold_value",
    "validate_image",
]


class Thresholded(NamedTuple):
    """What :func:`threshold_labels` returns."""

    #: (M, N[, ...]) int32 objects (or mask, or classes).
    labels: np.ndarray
    #: A float (global and manual methods), the ``classes - 1`` thresholds (``multiotsu``) or an
    #: array of the image's shape (local methods); per frame a list of those (None for a
    #: constant frame).
    threshold: Any


def threshold_value(
    image: Any,
    options: ThresholdOptions | str | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    channel: int | str = "luminance",
    frame_axis: int | None = None,
    time_axis: int | None = None,
    **kwargs: Any,
) -> float | np.ndarray:
    """Return the threshold of ``image`` (computed over the whole array).

    Parameters
    ----------
    image : (M, N[, ...]) array_like
        Grey image (with ``channel_axis``, a multichannel or RGB(A) image).
    options : ThresholdOptions or str, optional
        The method and its options (a method name alone is enough); keyword arguments set
        the fields of :class:`ThresholdOptions` instead.
    spacing : float or sequence of float, optional
        Pixel size per spatial axis, for ``sigma``.
    channel_axis, channel
        See :func:`threshold`.
    frame_axis : int, optional
        Smoothing never crosses this axis (the frames of a series).

    Returns
    -------
    float or ndarray
        A float for global methods, the ``classes - 1`` thresholds for ``multiotsu`` and an
        array of the image's shape for local methods.

    Examples
    --------
    >>> from skimage import data, filters
    >>> bool(threshold_value(data.coins()) == filters.threshold_otsu(data.coins()))
    True
    """
    found = pick_options(options, kwargs)
    refuse_unknown(kwargs)
    grey = validate_image(select_channel(image, channel_axis, channel),
                          allow_constant=found.method == "manual")  # fmt: skip
    axis = check_axis(renamed_axis(frame_axis, time_axis, "threshold_value"), grey.ndim)
    sigma_px = list(sigma_pixels(found.sigma, check_spacing(spacing, grey.ndim, axis)))
    if axis is not None:
        sigma_px.insert(axis, 0.0)
    return _value(smooth(grey, sigma_px), found, grey.dtype)


def _value(smoothed: np.ndarray, options: ThresholdOptions, dtype: np.dtype) -> Any:
    """The threshold of an already smoothed image (``dtype``: the image's before smoothing)."""
    return method_threshold(
        smoothed, options.method, value=options.value, block_size=options.block_size,
        offset=options.offset, classes=options.classes, k=options.k, dtype=dtype,
    )  # fmt: skip


def foreground(
    image: Any,
    options: ThresholdOptions | str | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    threshold: float | np.ndarray | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """The foreground pixels of a grey image: above its threshold (below for dark objects).

    Parameters
    ----------
    image : (M, N[, ...]) array_like
        Grey image or volume.
    options : ThresholdOptions or str, optional
        As for :func:`threshold_value`.
    spacing : float or sequence of float, optional
        Pixel size per axis, for ``sigma``.
    threshold : float or ndarray, optional
        A threshold computed beforehand (e.g. by :func:`threshold_value` over a whole
        series) instead of the method's own.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> from skimage import data, filters
    >>> coins = data.coins()
    >>> bool((foreground(coins, "li") == (coins > filters.threshold_li(coins))).all())
    True
    """
    found = pick_options(options, kwargs)
    refuse_unknown(kwargs)
    grey = validate_image(image, allow_constant=found.method == "manual" or threshold is not None)
    smoothed = smooth(grey, sigma_pixels(found.sigma, check_spacing(spacing, grey.ndim)))
    value = _value(smoothed, found, grey.dtype) if threshold is None else threshold
    return compare(smoothed, value, found.method, found.dark_objects)


def _threshold_array(
    image: np.ndarray,
    options: ThresholdOptions,
    clean: LabelOptions,
    spacing: tuple[float, ...],
    fixed: float | np.ndarray | None = None,
) -> tuple[np.ndarray, Any]:
    """Threshold one validated array (a volume or one frame): ``(int32 labels, threshold)``.

    ``fixed`` is a threshold computed beforehand (over a whole series) used instead of the
    method's own; the threshold is None for a constant frame (no object).
    """
    smoothed = smooth(image, sigma_pixels(options.sigma, spacing))
    if fixed is not None:
        value = fixed
    elif options.method != "manual" and smoothed.min() == smoothed.max():
        return np.zeros(image.shape, np.int32), None  # a blank frame of a series: no object
    else:
        value = _value(smoothed, options, image.dtype)
    if clean.output == "classes":
        return np.digitize(smoothed, np.asarray(value), right=True).astype(np.int32), value
    mask = compare(smoothed, value, options.method, options.dark_objects)
    return mask_to_labels(mask, clean, spacing=spacing), value


def iter_threshold_frames(
    image: Any,
    options: ThresholdOptions | str | None = None,
    labels: LabelOptions | None = None,
    *,
    frame_axis: int = 0,
    per_frame: bool = True,
    frames: Sequence[int] | None = None,
    spacing: float | Sequence[float] | None = None,
    time_axis: int | None = None,
    **kwargs: Any,
) -> Iterator[tuple[int, np.ndarray, Any]]:
    """Threshold a series frame by frame, yielding ``(frame_index, labels, threshold)``.

    Frames are independent: smoothing, local windows, holes, borders and connected components
    never cross ``frame_axis``. Label values are unique over the series.

    Parameters
    ----------
    image : (T, M, N[, ...]) array_like
        Grey series (numpy or dask).
    options, labels, spacing
        As for :func:`threshold` (keyword fields too).
    frame_axis : int
        Axis of the frames.
    per_frame : bool
        A threshold per frame (True), or one of a global method computed once over the whole
        series (smoothed frame by frame) and applied to every frame (False).
    frames : sequence of int, optional
        Only these frames (e.g. the one a preview shows); a series-wide threshold is still
        computed over every frame.

    Yields
    ------
    frame_index : int
    labels : ndarray of int32
    threshold : float, ndarray or None
        None for a constant frame (no object).

    Examples
    --------
    >>> from skimage import data
    >>> series = np.stack([data.coins(), data.coins()[::-1]])
    >>> [(i, int(t)) for i, _, t in iter_threshold_frames(series, "otsu", frames=[1])]
    [(1, 107)]
    """
    found, clean = split_options(options, labels, kwargs)
    frame_axis = renamed_axis(frame_axis, time_axis, "iter_threshold_frames")
    grey = validate_image(image, allow_constant=found.method == "manual")
    axis = check_axis(frame_axis, grey.ndim)
    space = check_spacing(spacing, grey.ndim, axis)
    stack = np.moveaxis(grey, axis, 0)
    fixed = None
    if not per_frame and found.method in GLOBAL_METHODS:
        sigma_px = sigma_pixels(found.sigma, space)
        smoothed = np.stack([smooth(frame, sigma_px) for frame in stack])
        fixed = _value(smoothed, found, None)
        del smoothed
    ids = UniqueIds()
    for index, (frame_labels, value) in map_frames(
        len(stack), lambda i: _threshold_array(stack[i], found, clean, space, fixed), frames
    ):
        yield index, ids(frame_labels) if clean.output == "labels" else frame_labels, value


def threshold_labels(
    image: Any,
    options: ThresholdOptions | str | None = None,
    labels: LabelOptions | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    channel: int | str = "luminance",
    frame_axis: int | None = None,
    per_frame: bool = True,
    time_axis: int | None = None,
    **kwargs: Any,
) -> Thresholded:
    """Threshold ``image`` and return its objects and the threshold used.

    Parameters
    ----------
    image, options, labels, spacing, channel_axis, channel, frame_axis, per_frame
        As for :func:`threshold` (keyword fields of the options too).
    time_axis : int, optional
        Deprecated name of ``frame_axis``.

    Returns
    -------
    Thresholded
        ``(labels, threshold)``: the labels of :func:`threshold` and the threshold used, a
        float (global and manual methods), the ``classes - 1`` thresholds (``multiotsu``) or
        an array of the image's shape (local methods); with ``frame_axis``, a list of those
        per frame.

    Examples
    --------
    >>> from skimage import data
    >>> labels, value = threshold_labels(data.coins(), "otsu", min_size=50)
    >>> int(value), int(labels.max())
    (107, 24)
    """
    found, clean = split_options(options, labels, kwargs)
    frame_axis = renamed_axis(frame_axis, time_axis, "threshold")
    array = validate_image(select_channel(image, channel_axis, channel),
                           allow_constant=found.method == "manual")  # fmt: skip
    if frame_axis is None:
        space = check_spacing(spacing, array.ndim)
        return Thresholded(*_threshold_array(array, found, clean, space))
    axis = check_axis(frame_axis, array.ndim)
    out = np.empty(np.moveaxis(array, axis, 0).shape, np.int32)
    values = []
    for index, frame_labels, value in iter_threshold_frames(
        array, found, clean, frame_axis=axis, per_frame=per_frame, spacing=spacing
    ):
        out[index] = frame_labels
        values.append(value)
    return Thresholded(np.moveaxis(out, 0, axis), values)


def threshold(
    image: Any,
    options: ThresholdOptions | str | None = None,
    labels: LabelOptions | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    channel: int | str = "luminance",
    frame_axis: int | None = None,
    per_frame: bool = True,
    return_threshold: bool | None = None,
    time_axis: int | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Threshold ``image`` and return its objects as int32 labels.

    Parameters
    ----------
    image : (M, N[, P, ...]) array_like
        Grey image, volume or series (numpy or dask); with ``channel_axis``, a multichannel or
        RGB(A) image.
    options : ThresholdOptions or str, optional
        The method (``"otsu"`` by default) and its options; keyword arguments (``method=``,
        ``value=``, ``dark_objects=``, ``sigma=``, ``block_size=``, ``offset=``,
        ``classes=``, ``k=``) set the fields of :class:`ThresholdOptions` instead.
    labels : LabelOptions, optional
        The clean-up and the output; keyword arguments (``fill_holes=``, ``min_size=``,
        ``clear_border=``, ``connectivity=``, ``output=``) set its fields instead.
        ``output="classes"`` (the multi-Otsu class of every pixel) needs ``multiotsu``.
    spacing : float or sequence of float, optional
        Pixel size per spatial axis (napari's ``layer.scale``); default 1.
    channel_axis : int, optional
        Axis of the channels of a multichannel / RGB image.
    channel : int or "luminance"
        Channel to threshold when ``channel_axis`` is given (luminance needs RGB(A)).
    frame_axis : int, optional
        Axis of the frames of a series (after the channel axis is removed): frames are
        thresholded and labelled independently. None: the whole array is one nD image.
    per_frame : bool
        With ``frame_axis``: a threshold per frame (True) or one for the whole series (False).
    return_threshold : bool, optional
        Deprecated: use :func:`threshold_labels`, which returns the threshold too.
    time_axis : int, optional
        Deprecated name of ``frame_axis``.

    Returns
    -------
    labels : (M, N[, P, ...]) ndarray of int32
        The input's shape without the channel axis.

    Raises
    ------
    ValueError
        Empty, constant or NaN-holding image, or an option out of range; the message names it.

    Examples
    --------
    >>> from skimage import data
    >>> labels = threshold(data.coins(), "otsu", min_size=50, fill_holes=True)
    >>> labels.shape, labels.dtype.name, int(labels.max())
    ((303, 384), 'int32', 24)
    """
    result = threshold_labels(
        image, options, labels, spacing=spacing, channel_axis=channel_axis, channel=channel,
        frame_axis=renamed_axis(frame_axis, time_axis, "threshold"), per_frame=per_frame,
        **kwargs,
    )  # fmt: skip
    if return_threshold is not None:
        warnings.warn("threshold(return_threshold=...) is deprecated: threshold_labels() "
                      "returns the labels and the threshold", DeprecationWarning, stacklevel=2)  # fmt: skip
        if return_threshold:
            return result  # type: ignore[return-value]  # (labels, threshold), as before
    return result.labels
