"""Threshold an image into connected components (or a binary mask).

Pure numpy / scipy / scikit-image: no napari or Qt import lives here. The automatic methods are
scikit-image's own functions (:mod:`skimage.filters`), so with default options
``threshold(image, method=m) > 0`` is exactly ``image > skimage.filters.threshold_<m>(image)``.

Physical units: ``sigma`` (Gaussian pre-smoothing) is a length and ``min_size`` an area (2D) or a
volume (3D) in the units of ``spacing`` (the pixel size per axis, napari's ``layer.scale``).
``block_size`` (local methods) stays in pixels.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "GLOBAL_METHODS",
    "LOCAL_METHODS",
    "METHODS",
    "OUTPUTS",
    "iter_threshold_frames",
    "luminance",
    "mask_to_labels",
    "normalize_method",
    "threshold",
    "threshold_value",
    "validate_image",
]

GLOBAL_METHODS: tuple[str, ...] = (
    "otsu",
    "li",
    "yen",
    "triangle",
    "isodata",
    "mean",
    "minimum",
    "multiotsu",
)
"""Methods whose threshold is one number (several for ``multiotsu``) for the whole image."""

LOCAL_METHODS: tuple[str, ...] = ("local_mean", "local_gaussian", "sauvola", "niblack")
"""Methods whose threshold varies over the image (a window of ``block_size`` pixels)."""

METHODS: tuple[str, ...] = (*GLOBAL_METHODS, "manual", *LOCAL_METHODS)
"""Every accepted method name (lower case, after :func:`normalize_method`)."""

OUTPUTS: tuple[str, ...] = ("labels", "binary", "classes")
"""``labels``: connected components 1..n; ``binary``: 0/1; ``classes``: multi-Otsu class 0..n-1."""

_ALIASES: dict[str, str] = {
    "multi-otsu": "multiotsu",
    "multi_otsu": "multiotsu",
    "multi otsu": "multiotsu",
    "local mean": "local_mean",
    "local-mean": "local_mean",
    "local": "local_gaussian",
    "local gaussian": "local_gaussian",
    "local-gaussian": "local_gaussian",
    "gaussian": "local_gaussian",
}

_LUMINANCE_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])  # skimage.color.rgb2gray (ITU-R BT.709)

_DEFAULT_BLOCK = {"local_mean": 35, "local_gaussian": 35, "sauvola": 15, "niblack": 15}


# --------------------------------------------------------------------------- validation


def normalize_method(method: str) -> str:
    """Return the canonical name of ``method`` (case-insensitive; ``"multi-otsu"`` etc. accepted).

    Raises
    ------
    ValueError
        If ``method`` is not one of :data:`METHODS` or an alias.
    """
    if not isinstance(method, str):
        raise ValueError(f"`method` must be a string, got {method!r} ({type(method).__name__})")
    name = method.strip().lower()
    name = _ALIASES.get(name, name)
    if name not in METHODS:
        raise ValueError(
            f"`method` {method!r} is not a threshold method; use one of {', '.join(METHODS)}"
        )
    return name


def validate_image(image: Any, *, name: str = "image", allow_constant: bool = False) -> np.ndarray:
    """Check that ``image`` can be thresholded and return it as a real-valued numpy array.

    Parameters
    ----------
    image : (M, N[, ...]) array_like
        Grey-level image (numpy or dask).
    name : str
        Name used in error messages.
    allow_constant : bool
        Accept an image whose pixels all have the same value (a manual threshold still applies).

    Raises
    ------
    ValueError
        Empty, non-numeric, fewer than 2 dimensions, NaN or infinite values, or constant.
    """
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.view(np.uint8)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(
            f"`{name}` has dtype {array.dtype}; convert it to an integer or float array"
        )
    if array.ndim < 2:
        raise ValueError(
            f"`{name}` (shape {array.shape}) must have at least 2 dimensions (rows, columns)"
        )
    if array.size == 0:
        raise ValueError(f"`{name}` (shape {array.shape}) is empty: there is nothing to threshold")
    low, high = array.min(), array.max()
    if np.issubdtype(array.dtype, np.floating) and not (np.isfinite(low) and np.isfinite(high)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(
            f"`{name}` contains {bad} NaN or infinite value(s); replace them first "
            "(e.g. numpy.nan_to_num) or crop them away"
        )
    if not allow_constant and low == high:
        raise ValueError(
            f"`{name}` is constant (every pixel is {low.item()!r}): an automatic threshold "
            "cannot separate objects; use method='manual' with a `value`"
        )
    return array


def _check_options(
    method: str,
    *,
    value: float | None,
    sigma: float | Sequence[float],
    block_size: int | None,
    classes: int,
    min_size: float,
    output: str,
    connectivity: int | None,
) -> None:
    """Raise ValueError naming the first option that cannot be used with ``method``."""
    if method == "manual":
        if value is None or not np.isfinite(float(value)):
            raise ValueError(f"method='manual' needs a finite `value`, got value={value!r}")
    elif value is not None:
        raise ValueError(
            f"`value`={value!r} is only used with method='manual' (method is {method!r}); "
            "pass method='manual' or drop `value`"
        )
    if np.any(np.asarray(sigma, dtype=float) < 0):
        raise ValueError(f"`sigma` must be >= 0, got {sigma!r}")
    if block_size is not None and method in LOCAL_METHODS:
        if int(block_size) != block_size or block_size < 3 or block_size % 2 == 0:
            raise ValueError(
                f"`block_size` must be an odd integer >= 3 (pixels), got {block_size!r}"
            )
    if method == "multiotsu" and (int(classes) != classes or not 2 <= classes <= 8):
        raise ValueError(f"`classes` must be an integer from 2 to 8, got {classes!r}")
    if min_size < 0:
        raise ValueError(f"`min_size` must be >= 0, got {min_size!r}")
    if output not in OUTPUTS:
        raise ValueError(f"`output` {output!r} is not one of {', '.join(OUTPUTS)}")
    if output == "classes" and method != "multiotsu":
        raise ValueError(f"output='classes' needs method='multiotsu', got method={method!r}")
    if connectivity is not None and int(connectivity) < 1:
        raise ValueError(f"`connectivity` must be >= 1 or None, got {connectivity!r}")


def _spatial_spacing(
    spacing: float | Sequence[float] | None, ndim: int, time_axis: int | None
) -> tuple[float, ...]:
    """Return the pixel size of the spatial axes (every axis but ``time_axis``)."""
    n_spatial = ndim - (time_axis is not None)
    if spacing is None:
        return (1.0,) * n_spatial
    values = np.atleast_1d(np.asarray(spacing, dtype=float))
    if values.size == 1:
        values = np.repeat(values, n_spatial)
    elif values.size == ndim and time_axis is not None:
        values = np.delete(values, time_axis)
    if values.size != n_spatial or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(
            f"`spacing` {tuple(np.atleast_1d(spacing))} must hold {n_spatial} positive pixel "
            f"size(s) (one per spatial axis of the {ndim}D image) or {ndim}"
        )
    return tuple(float(v) for v in values)


def _axis(axis: int | None, ndim: int, name: str) -> int | None:
    if axis is None:
        return None
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"`{name}`={axis} is out of range for a {ndim}D image")
    return int(axis) % ndim


# --------------------------------------------------------------------------- channels


def luminance(image: Any, *, channel_axis: int = -1) -> np.ndarray:
    """Return the luminance of an RGB(A) image, in the image's own value range (float32).

    Uses the weights of :func:`skimage.color.rgb2gray` (0.2125 R + 0.7154 G + 0.0721 B) but does
    not rescale integers to [0, 1], so a uint8 image gives values in [0, 255]. Alpha is ignored.
    """
    array = np.asarray(image)
    axis = _axis(channel_axis, array.ndim, "channel_axis")
    if array.shape[axis] not in (3, 4):
        raise ValueError(
            f"luminance needs 3 (RGB) or 4 (RGBA) channels on axis {channel_axis}, found "
            f"{array.shape[axis]}; choose one channel with `channel=<index>` instead"
        )
    rgb = np.moveaxis(array, axis, -1)[..., :3]
    return np.tensordot(rgb, _LUMINANCE_WEIGHTS.astype(np.float32), axes=([-1], [0])).astype(
        np.float32, copy=False
    )


def _select_channel(image: Any, channel_axis: int | None, channel: int | str) -> Any:
    """Reduce a multichannel image to one grey image (a channel, or the luminance)."""
    if channel_axis is None:
        return image
    ndim = np.ndim(image)
    axis = _axis(channel_axis, ndim, "channel_axis")
    n_channels = np.shape(image)[axis]
    if isinstance(channel, str):
        if channel.lower() != "luminance":
            raise ValueError(f"`channel` must be an index or 'luminance', got {channel!r}")
        return luminance(image, channel_axis=axis)
    if int(channel) != channel or not -n_channels <= channel < n_channels:
        raise ValueError(
            f"`channel`={channel!r} is out of range for {n_channels} channels on axis {axis}"
        )
    return np.take(np.asarray(image), int(channel), axis=axis)


# --------------------------------------------------------------------------- algorithm


def _smooth(image: np.ndarray, sigma_px: Sequence[float]) -> np.ndarray:
    """Gaussian-smooth ``image`` (sigma in pixels per axis); return it unchanged when all zero.

    Same filter as :func:`skimage.filters.gaussian` with ``preserve_range=True`` (float64,
    ``mode="nearest"``, truncated at 4 sigma).
    """
    if not any(s > 0 for s in sigma_px):
        return image
    return ndi.gaussian_filter(
        image.astype(np.float64, copy=False), sigma=list(sigma_px), mode="nearest", truncate=4.0
    )


def _sigma_pixels(sigma: float | Sequence[float], spacing: Sequence[float]) -> tuple[float, ...]:
    """Convert a physical ``sigma`` (scalar or per axis) to pixels with ``spacing``."""
    values = np.atleast_1d(np.asarray(sigma, dtype=float))
    if values.size not in (1, len(spacing)):
        raise ValueError(
            f"`sigma` {tuple(values)} must be one value or one per spatial axis ({len(spacing)})"
        )
    values = np.broadcast_to(values.ravel(), (len(spacing),))
    return tuple(float(s / d) for s, d in zip(values, spacing, strict=True))


def _sauvola_range(image_or_dtype: np.ndarray | np.dtype) -> float:
    """Sauvola's ``R``: half the range of the dtype (:func:`skimage.util.dtype_limits`)."""
    from skimage.util import dtype_limits

    probe = np.empty(0, dtype=getattr(image_or_dtype, "dtype", image_or_dtype))
    low, high = dtype_limits(probe, clip_negative=False)
    return 0.5 * (float(high) - float(low))


def _method_value(
    image: np.ndarray,
    method: str,
    *,
    value: float | None = None,
    block_size: int | None = None,
    offset: float = 0.0,
    classes: int = 3,
    k: float = 0.2,
    dtype: np.dtype | None = None,
) -> float | np.ndarray:
    """Compute the threshold of an already smoothed image (no validation).

    ``dtype`` is the image's dtype before smoothing: Sauvola's dynamic range ``R`` is half the
    range of that dtype (as :func:`skimage.filters.threshold_sauvola` picks it for the
    unsmoothed image), not of the float64 the smoothing made.
    """
    from skimage import filters

    if method == "manual":
        return float(value)  # type: ignore[arg-type]
    if method in LOCAL_METHODS:
        block = int(block_size) if block_size is not None else _DEFAULT_BLOCK[method]
        if method in ("local_mean", "local_gaussian"):
            return filters.threshold_local(
                image, block, method=method.removeprefix("local_"), offset=offset
            )
        if method == "sauvola":
            result = filters.threshold_sauvola(
                image, window_size=block, k=k, r=_sauvola_range(image if dtype is None else dtype)
            )
        else:
            result = filters.threshold_niblack(image, window_size=block, k=k)
        return result - offset if offset else result
    image = histogram_input(image)
    try:
        if method == "multiotsu":
            result = filters.threshold_multiotsu(image, classes=int(classes))
        else:
            result = getattr(filters, f"threshold_{method}")(image)
    except (RuntimeError, ValueError) as error:
        raise ValueError(
            f"method={method!r} found no threshold on this image ({error}); "
            "try another method or method='manual'"
        ) from error
    return result - offset if offset else result


#: Integer images whose value range is wider than this are histogrammed as floats.
MAX_INTEGER_BINS = 1 << 16


def histogram_input(image: np.ndarray) -> np.ndarray:
    """``image``, or as float64 when it is an integer image whose range is too wide to count.

    scikit-image's histogram-based thresholds count every integer value between an integer
    image's minimum and maximum: ``uint64`` values up to 2**63 ask for exabytes. As floats
    they get 256 bins (skimage's default for floats); narrower ranges are left as they are, so
    results stay those of scikit-image.
    """
    if image.dtype.kind in "iu" and image.size:
        if int(image.max()) - int(image.min()) > MAX_INTEGER_BINS:
            return image.astype(np.float64)
    return image


def _compare(
    image: np.ndarray, value: float | np.ndarray, method: str, dark_objects: bool
) -> np.ndarray:
    """Foreground pixels: above the threshold (``<=`` for dark objects, scikit-image's complement).

    For ``multiotsu``, bright objects are the brightest class and dark objects the darkest one.
    """
    if method == "multiotsu":
        thresholds = np.asarray(value)
        return image <= thresholds[0] if dark_objects else image > thresholds[-1]
    return image <= value if dark_objects else image > value


def threshold_value(
    image: Any,
    method: str = "otsu",
    *,
    value: float | None = None,
    sigma: float | Sequence[float] = 0.0,
    block_size: int | None = None,
    offset: float = 0.0,
    classes: int = 3,
    k: float = 0.2,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    channel: int | str = "luminance",
    time_axis: int | None = None,
) -> float | np.ndarray:
    """Return the threshold that :func:`threshold` would use (computed over the whole array).

    A float for global methods, the ``classes - 1`` thresholds for ``multiotsu`` and an array of
    the image's shape for local methods. Parameters are those of :func:`threshold`; smoothing
    never crosses ``time_axis``.
    """
    method = normalize_method(method)
    _check_options(
        method, value=value, sigma=sigma, block_size=block_size, classes=classes,
        min_size=0.0, output="labels", connectivity=None,
    )  # fmt: skip
    grey = validate_image(
        _select_channel(image, channel_axis, channel), allow_constant=method == "manual"
    )
    time_axis = _axis(time_axis, grey.ndim, "time_axis")
    sigma_px = list(_sigma_pixels(sigma, _spatial_spacing(spacing, grey.ndim, time_axis)))
    if time_axis is not None:
        sigma_px.insert(time_axis, 0.0)
    return _method_value(
        _smooth(grey, sigma_px), method, value=value, block_size=block_size,
        offset=offset, classes=classes, k=k, dtype=grey.dtype,
    )  # fmt: skip


def _border_labels(labels: np.ndarray) -> np.ndarray:
    """Label values present on any face of ``labels``."""
    faces = [np.take(labels, index, axis=axis) for axis in range(labels.ndim) for index in (0, -1)]
    return np.unique(np.concatenate([face.ravel() for face in faces]))


def mask_to_labels(
    mask: Any,
    *,
    fill_holes: bool = False,
    min_size: float = 0.0,
    clear_border: bool = False,
    spacing: float | Sequence[float] | None = None,
    connectivity: int | None = None,
    output: str = "labels",
) -> np.ndarray:
    """Clean a boolean mask and label its connected components (int32).

    Parameters
    ----------
    mask : (M, N[, ...]) array_like of bool
        Foreground pixels.
    fill_holes : bool
        Fill background regions enclosed by foreground (:func:`scipy.ndimage.binary_fill_holes`).
    min_size : float
        Remove objects whose area (2D) or volume (3D) is smaller than this, in the units of
        ``spacing`` (pixels when ``spacing`` is None).
    clear_border : bool
        Remove objects touching the array's edge.
    spacing : float or sequence of float, optional
        Pixel size per axis.
    connectivity : int, optional
        Neighbours are pixels at most ``connectivity`` orthogonal steps away (1: faces only);
        default ``mask.ndim`` (full connectivity, as :func:`skimage.measure.label`).
    output : {"labels", "binary"}
        Connected components numbered 1..n in raster order, or a 0/1 mask.

    Returns
    -------
    (M, N[, ...]) ndarray of int32
    """
    mask = np.asarray(mask, dtype=bool)
    pixel_size = math.prod(_spatial_spacing(spacing, mask.ndim, None))
    if output not in ("labels", "binary"):
        raise ValueError(f"`output` {output!r} must be 'labels' or 'binary' for a mask")
    if min_size < 0:
        raise ValueError(f"`min_size` must be >= 0, got {min_size!r}")
    rank = mask.ndim if connectivity is None else min(int(connectivity), mask.ndim)
    if fill_holes:
        mask = ndi.binary_fill_holes(mask)
    if output == "binary" and not min_size and not clear_border:
        return mask.astype(np.int32)
    structure = ndi.generate_binary_structure(mask.ndim, rank)
    labels = np.empty(mask.shape, np.int32)
    count = ndi.label(mask, structure=structure, output=labels)
    if count and (min_size or clear_border):
        drop = np.zeros(count + 1, bool)
        if min_size:
            drop |= np.bincount(labels.ravel(), minlength=count + 1) * pixel_size < min_size
        if clear_border:
            drop[_border_labels(labels)] = True
        drop[0] = False
        if drop.any():
            keep = ~drop
            mapping = (np.cumsum(keep) - 1).astype(np.int32)
            mapping[drop] = 0
            labels = mapping[labels]
    if output == "binary":
        return (labels > 0).astype(np.int32)
    return labels


def _threshold_array(
    image: np.ndarray,
    method: str,
    *,
    spacing: tuple[float, ...],
    options: dict[str, Any],
    fixed: float | np.ndarray | None = None,
) -> tuple[np.ndarray, float | np.ndarray | None]:
    """Threshold one validated nD array (a volume or one frame): ``(int32 labels, threshold)``.

    ``fixed`` is a threshold computed beforehand (over a whole series) used instead of
    ``method``'s own; the threshold is None for a constant frame (no object).
    """
    smoothed = _smooth(image, _sigma_pixels(options["sigma"], spacing))
    if fixed is not None:
        value = fixed
    elif method != "manual" and smoothed.min() == smoothed.max():
        return np.zeros(image.shape, np.int32), None  # a blank frame of a series: no object
    else:
        value = _method_value(
            smoothed, method, value=options["value"], block_size=options["block_size"],
            offset=options["offset"], classes=options["classes"], k=options["k"],
            dtype=image.dtype,
        )  # fmt: skip
    if options["output"] == "classes":
        return np.digitize(smoothed, np.asarray(value), right=True).astype(np.int32), value
    mask = _compare(smoothed, value, method, options["dark_objects"])
    labels = mask_to_labels(
        mask, fill_holes=options["fill_holes"], min_size=options["min_size"],
        clear_border=options["clear_border"], spacing=spacing,
        connectivity=options["connectivity"], output=options["output"],
    )  # fmt: skip
    return labels, value


def iter_threshold_frames(
    image: Any,
    method: str = "otsu",
    *,
    time_axis: int = 0,
    per_frame: bool = True,
    frames: Sequence[int] | None = None,
    **options: Any,
) -> Iterator[tuple[int, np.ndarray, float | np.ndarray | None]]:
    """Threshold a time series frame by frame, yielding ``(frame_index, labels, threshold)``.

    Frames are independent: smoothing, local windows, holes, borders and connected components
    never cross ``time_axis``. With ``per_frame=False`` the threshold of a global method is
    computed once over the whole series (smoothed frame by frame) and applied to every frame.
    Label values are unique over the series (frame ``t`` continues from the largest label of
    the frames before it). A constant frame has no object and threshold None.
    ``frames`` restricts the work to some frame indices (e.g. the frame a preview shows); a
    series-wide threshold is still computed over every frame. Other keyword arguments are those
    of :func:`threshold` (``channel_axis`` must be None: pass a grey series).
    """
    method = normalize_method(method)
    opts = _defaults(**options)
    spacing = opts.pop("spacing")
    _check_options(
        method, value=opts["value"], sigma=opts["sigma"], block_size=opts["block_size"],
        classes=opts["classes"], min_size=opts["min_size"], output=opts["output"],
        connectivity=opts["connectivity"],
    )  # fmt: skip
    grey = validate_image(image, allow_constant=method == "manual")
    axis = _axis(time_axis, grey.ndim, "time_axis")
    assert axis is not None
    space = _spatial_spacing(spacing, grey.ndim, axis)
    stack = np.moveaxis(grey, axis, 0)
    fixed = None
    if not per_frame and method in GLOBAL_METHODS:
        sigma_px = _sigma_pixels(opts["sigma"], space)
        smoothed = np.stack([_smooth(frame, sigma_px) for frame in stack])
        fixed = _method_value(
            smoothed, method, offset=opts["offset"], classes=opts["classes"], k=opts["k"]
        )
        del smoothed
    n_frames = len(stack)
    indices = range(n_frames) if frames is None else [int(i) for i in frames]
    next_label = 0
    for index in indices:
        if not -n_frames <= index < n_frames:
            raise ValueError(f"frame {index} is out of range for {n_frames} frames")
        labels, value = _threshold_array(
            stack[index], method, spacing=space, options=opts, fixed=fixed
        )
        if opts["output"] == "labels":
            if next_label:
                labels[labels > 0] += next_label
            next_label = max(next_label, int(labels.max(initial=0)))
        yield index % n_frames, labels, value


def _defaults(**options: Any) -> dict[str, Any]:
    """Fill the options of :func:`threshold` that were not given, reject unknown ones."""
    defaults: dict[str, Any] = {
        "value": None, "dark_objects": False, "sigma": 0.0, "block_size": None, "offset": 0.0,
        "classes": 3, "k": 0.2, "fill_holes": False, "min_size": 0.0, "clear_border": False,
        "connectivity": None, "output": "labels", "spacing": None,
    }  # fmt: skip
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"unknown threshold option(s): {', '.join(sorted(unknown))}")
    defaults.update(options)
    return defaults


def threshold(
    image: Any,
    method: str = "otsu",
    *,
    value: float | None = None,
    dark_objects: bool = False,
    sigma: float | Sequence[float] = 0.0,
    block_size: int | None = None,
    offset: float = 0.0,
    classes: int = 3,
    fill_holes: bool = False,
    min_size: float = 0.0,
    clear_border: bool = False,
    spacing: float | Sequence[float] | None = None,
    k: float = 0.2,
    connectivity: int | None = None,
    output: str = "labels",
    channel_axis: int | None = None,
    channel: int | str = "luminance",
    time_axis: int | None = None,
    per_frame: bool = True,
    return_threshold: bool = False,
) -> np.ndarray | tuple[np.ndarray, Any]:
    """Threshold ``image`` and return its objects as int32 labels.

    Parameters
    ----------
    image : (M, N[, P, ...]) array_like
        Grey image, volume or series (numpy or dask); with ``channel_axis``, a multichannel or
        RGB(A) image.
    method : str
        One of :data:`METHODS`: ``otsu``, ``li``, ``yen``, ``triangle``, ``isodata``, ``mean``,
        ``minimum``, ``multiotsu`` (also ``"multi-otsu"``), ``manual`` (uses ``value``), or the
        local ``local_mean``, ``local_gaussian``, ``sauvola``, ``niblack``.
    value : float, optional
        The threshold for ``method="manual"`` (in the image's values).
    dark_objects : bool
        Objects are darker than the background: keep pixels ``<=`` the threshold (the darkest
        class for ``multiotsu``) instead of ``>`` it (the brightest class).
    sigma : float or sequence of float
        Gaussian pre-smoothing, in the units of ``spacing`` (0: none).
    block_size : int, optional
        Odd window size in pixels for local methods (default 35 for ``local_*``, 15 for
        ``sauvola`` / ``niblack``).
    offset : float
        Subtracted from the computed threshold (scikit-image's ``threshold_local`` convention);
        ignored by ``manual``.
    classes : int
        Number of classes for ``multiotsu``.
    fill_holes, min_size, clear_border, connectivity
        See :func:`mask_to_labels` (``min_size`` is an area or volume in units of ``spacing``).
    spacing : float or sequence of float, optional
        Pixel size per spatial axis (napari's ``layer.scale``); default 1.
    k : float
        The ``k`` of ``sauvola`` and ``niblack``.
    output : {"labels", "binary", "classes"}
        Connected components, a 0/1 mask, or the multi-Otsu class of every pixel.
    channel_axis : int, optional
        Axis of the channels of a multichannel / RGB image.
    channel : int or "luminance"
        Channel to threshold when ``channel_axis`` is given (luminance needs RGB(A)).
    time_axis : int, optional
        Axis of the frames of a time series (after the channel axis is removed): frames are
        thresholded and labelled independently. None: the whole array is one nD image (a 3D
        volume is thresholded and labelled as a volume).
    per_frame : bool
        With ``time_axis``: a threshold per frame (True) or one for the whole series (False).
    return_threshold : bool
        Also return the threshold used (see Returns).

    Returns
    -------
    labels : (M, N[, P, ...]) ndarray of int32
        The input's shape without the channel axis.
    threshold : float or ndarray or list, only with ``return_threshold``
        A float (global and manual methods), the ``classes - 1`` thresholds (``multiotsu``) or
        an array of the image's shape (local methods); with ``time_axis``, a list of those per
        frame (None for a constant frame).

    Raises
    ------
    ValueError
        Empty, constant or NaN-holding image, or an option out of range; the message names it.

    Examples
    --------
    >>> from skimage import data
    >>> labels = threshold(data.coins(), "otsu", min_size=50, fill_holes=True)
    """
    grey = _select_channel(image, channel_axis, channel)
    options = dict(
        value=value, dark_objects=dark_objects, sigma=sigma, block_size=block_size,
        offset=offset, classes=classes, fill_holes=fill_holes, min_size=min_size,
        clear_border=clear_border, k=k, connectivity=connectivity, output=output,
    )  # fmt: skip
    if time_axis is not None:
        array = validate_image(grey, allow_constant=normalize_method(method) == "manual")
        axis = _axis(time_axis, array.ndim, "time_axis")
        assert axis is not None
        out = np.empty(np.moveaxis(array, axis, 0).shape, np.int32)
        values = []
        for index, labels, frame_value in iter_threshold_frames(
            array, method, time_axis=axis, per_frame=per_frame, spacing=spacing, **options
        ):
            out[index] = labels
            values.append(frame_value)
        result = np.moveaxis(out, 0, axis)
        return (result, values) if return_threshold else result
    method = normalize_method(method)
    _check_options(
        method, value=value, sigma=sigma, block_size=block_size, classes=classes,
        min_size=min_size, output=output, connectivity=connectivity,
    )  # fmt: skip
    array = validate_image(grey, allow_constant=method == "manual")
    space = _spatial_spacing(spacing, array.ndim, None)
    labels, used = _threshold_array(array, method, spacing=space, options=options)
    return (labels, used) if return_threshold else labels
