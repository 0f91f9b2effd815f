"""The threshold methods: scikit-image's functions, channels, smoothing and input checks.

:func:`method_threshold` computes a method's threshold of an already smoothed grey image
(:mod:`skimage.filters`, so ``image > method_threshold(image, "otsu")`` is exactly
``image > skimage.filters.threshold_otsu(image)``); :func:`validate_image`,
:func:`normalize_method`, :func:`luminance` and :func:`select_channel` prepare its input.
The options of a method are :class:`ThresholdOptions`; the public API is
:mod:`napari_coco_masks.segment.threshold`. No napari or Qt import lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ._validate import check_axis, check_finite
from .cleanup import LabelOptions, options_from

__all__ = [
    "GLOBAL_METHODS",
    "LOCAL_METHODS",
    "MAX_INTEGER_BINS",
    "METHODS",
    "ThresholdOptions",
    "compare",
    "histogram_input",
    "luminance",
    "method_threshold",
    "normalize_method",
    "pick_options",
    "refuse_unknown",
    "select_channel",
    "sigma_pixels",
    "smooth",
    "split_options",
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
        check_finite(array, name)
    if not allow_constant and low == high:
        raise ValueError(
            f"`{name}` is constant (every pixel is {low.item()!r}): an automatic threshold "
            "cannot separate objects; use method='manual' with a `value`"
        )
    return array


def luminance(image: Any, *, channel_axis: int = -1) -> np.ndarray:
    """Return the luminance of an RGB(A) image, in the image's own value range (float32).

    Uses the weights of :func:`skimage.color.rgb2gray` (0.2125 R + 0.7154 G + 0.0721 B) but does
    not rescale integers to [0, 1], so a uint8 image gives values in [0, 255]. Alpha is ignored.
    """
    array = np.asarray(image)
    axis = check_axis(channel_axis, array.ndim, "channel_axis")
    if array.shape[axis] not in (3, 4):
        raise ValueError(
            f"luminance needs 3 (RGB) or 4 (RGBA) channels on axis {channel_axis}, found "
            f"{array.shape[axis]}; choose one channel with `channel=<index>` instead"
        )
    rgb = np.moveaxis(array, axis, -1)[..., :3]
    return np.tensordot(rgb, _LUMINANCE_WEIGHTS.astype(np.float32), axes=([-1], [0])).astype(
        np.float32, copy=False
    )


def select_channel(image: Any, channel_axis: int | None, channel: int | str) -> Any:
    """Reduce a multichannel image to one grey image (a channel, or the luminance)."""
    if channel_axis is None:
        return image
    ndim = np.ndim(image)
    axis = check_axis(channel_axis, ndim, "channel_axis")
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


def smooth(image: np.ndarray, sigma_px: Sequence[float]) -> np.ndarray:
    """Gaussian-smooth ``image`` (sigma in pixels per axis); return it unchanged when all zero.

    Same filter as :func:`skimage.filters.gaussian` with ``preserve_range=True`` (float64,
    ``mode="nearest"``, truncated at 4 sigma).
    """
    if not any(s > 0 for s in sigma_px):
        return image
    return ndi.gaussian_filter(
        image.astype(np.float64, copy=False), sigma=list(sigma_px), mode="nearest", truncate=4.0
    )


def sigma_pixels(sigma: float | Sequence[float], spacing: Sequence[float]) -> tuple[float, ...]:
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


def method_threshold(
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


def compare(
    image: np.ndarray, value: float | np.ndarray, method: str, dark_objects: bool
) -> np.ndarray:
    """Foreground pixels: above the threshold (``<=`` for dark objects, scikit-image's complement).

    For ``multiotsu``, bright objects are the brightest class and dark objects the darkest one.
    """
    if method == "multiotsu":
        thresholds = np.asarray(value)
        return image <= thresholds[0] if dark_objects else image > thresholds[-1]
    return image <= value if dark_objects else image > value


@dataclass(frozen=True)
class ThresholdOptions:
    """How the threshold is computed and which side of it is foreground; checked when made.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`: ``otsu``, ``li``, ``yen``, ``triangle``, ``isodata``, ``mean``,
        ``minimum``, ``multiotsu`` (also ``"multi-otsu"``), ``manual`` (uses ``value``), or the
        local ``local_mean``, ``local_gaussian``, ``sauvola``, ``niblack``.
    value : float, optional
        The threshold for ``method="manual"`` (in the image's values).
    dark_objects : bool
        Objects are darker than the background: keep pixels ``<=`` the threshold (the darkest
        class for ``multiotsu``) instead of ``>`` it (the brightest class).
    sigma : float or tuple of float
        Gaussian pre-smoothing, in the units of ``spacing`` (0: none).
    block_size : int, optional
        Odd window size in pixels for local methods (default 35 for ``local_*``, 15 for
        ``sauvola`` / ``niblack``).
    offset : float
        Subtracted from the computed threshold (``threshold_local``'s convention).
    classes : int
        Number of classes for ``multiotsu``.
    k : float
        The ``k`` of ``sauvola`` and ``niblack``.

    Examples
    --------
    >>> ThresholdOptions("Multi-Otsu", classes=4).method
    'multiotsu'
    >>> ThresholdOptions("manual")
    Traceback (most recent call last):
    ...
    ValueError: method='manual' needs a finite `value`, got value=None
    """

    method: str = "otsu"
    value: float | None = None
    dark_objects: bool = False
    sigma: float | tuple[float, ...] = 0.0
    block_size: int | None = None
    offset: float = 0.0
    classes: int = 3
    k: float = 0.2

    def __post_init__(self) -> None:
        method = normalize_method(self.method)
        object.__setattr__(self, "method", method)
        if np.ndim(self.sigma):
            object.__setattr__(self, "sigma", tuple(float(s) for s in np.ravel(self.sigma)))
        if method == "manual":
            if self.value is None or not np.isfinite(float(self.value)):
                raise ValueError(f"method='manual' needs a finite `value`, got value={self.value!r}")
        elif self.value is not None:
            raise ValueError(
                f"`value`={self.value!r} is only used with method='manual' (method is "
                f"{method!r}); pass method='manual' or drop `value`"
            )
        if np.any(np.asarray(self.sigma, dtype=float) < 0):
            raise ValueError(f"`sigma` must be >= 0, got {self.sigma!r}")
        size = self.block_size
        if size is not None and method in LOCAL_METHODS:
            if int(size) != size or size < 3 or size % 2 == 0:
                raise ValueError(f"`block_size` must be an odd integer >= 3 (pixels), got {size!r}")
        if method == "multiotsu" and (int(self.classes) != self.classes or not 2 <= self.classes <= 8):
            raise ValueError(f"`classes` must be an integer from 2 to 8, got {self.classes!r}")

    @classmethod
    def option_names(cls) -> frozenset[str]:
        """The option names (to pick them out of keyword arguments)."""
        return frozenset(f.name for f in fields(cls))


def pick_options(options: ThresholdOptions | str | None, kwargs: dict[str, Any]) -> ThresholdOptions:
    """The threshold options: ``options`` (or a method name) and the fields popped from
    ``kwargs``."""
    if isinstance(options, str):
        kwargs.setdefault("method", options)
        options = None
    return options_from(options, ThresholdOptions, kwargs)


def refuse_unknown(kwargs: dict[str, Any]) -> None:
    """Refuse keyword arguments that are no option."""
    if kwargs:
        raise TypeError(f"unknown threshold option(s): {', '.join(sorted(kwargs))}")


def split_options(
    options: ThresholdOptions | str | None, labels: LabelOptions | None, kwargs: dict[str, Any]
) -> tuple[ThresholdOptions, LabelOptions]:
    """Both option objects from the positional ones and the keyword fields; reject the rest."""
    refuse_unknown({k: v for k, v in kwargs.items()
              if k not in ThresholdOptions.option_names() | LabelOptions.option_names()})
    kwargs = dict(kwargs)
    found = pick_options(options, kwargs)
    clean = options_from(labels, LabelOptions, kwargs)
    if clean.output == "classes" and found.method != "multiotsu":
        raise ValueError(f"output='classes' needs method='multiotsu', got method={found.method!r}")
    return found, clean
