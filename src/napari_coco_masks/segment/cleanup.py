"""From a foreground mask to objects: fill holes, drop small or border objects, label.

:class:`LabelOptions` holds the clean-up options (frozen, checked when made) that thresholds and
colour masks share; :func:`mask_to_labels` applies them. ``min_size`` is an area (2D) or a
volume (3D) in the units of ``spacing``. No napari or Qt import lives here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ._validate import check_spacing

__all__ = ["OUTPUTS", "LabelOptions", "mask_to_labels"]

OUTPUTS: tuple[str, ...] = ("labels", "binary", "classes")
"""``labels``: connected components 1..n; ``binary``: 0/1; ``classes``: multi-Otsu class 0..n-1."""


@dataclass(frozen=True)
class LabelOptions:
    """How a foreground mask becomes objects; checked when made.

    Parameters
    ----------
    fill_holes : bool
        Fill background regions enclosed by foreground (:func:`scipy.ndimage.binary_fill_holes`).
    min_size : float
        Remove objects whose area (2D) or volume (3D) is smaller than this, in the units of
        ``spacing`` (pixels when ``spacing`` is None).
    clear_border : bool
        Remove objects touching the array's edge.
    connectivity : int, optional
        Neighbours are pixels at most ``connectivity`` orthogonal steps away (1: faces only);
        default ``mask.ndim`` (full connectivity, as :func:`skimage.measure.label`).
    output : {"labels", "binary", "classes"}
        Connected components numbered 1..n in raster order, a 0/1 mask, or (thresholds only)
        the multi-Otsu class of every pixel.

    Examples
    --------
    >>> LabelOptions(min_size=-1)
    Traceback (most recent call last):
    ...
    ValueError: `min_size` must be >= 0, got -1
    """

    fill_holes: bool = False
    min_size: float = 0.0
    clear_border: bool = False
    connectivity: int | None = None
    output: str = "labels"

    def __post_init__(self) -> None:
        if not self.min_size >= 0:
            raise ValueError(f"`min_size` must be >= 0, got {self.min_size!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"`output` {self.output!r} is not one of {', '.join(OUTPUTS)}")
        if self.connectivity is not None and int(self.connectivity) < 1:
            raise ValueError(f"`connectivity` must be >= 1 or None, got {self.connectivity!r}")

    @classmethod
    def option_names(cls) -> frozenset[str]:
        """The option names (to pick them out of keyword arguments)."""
        return frozenset(f.name for f in fields(cls))


def options_from(base: Any, cls: type, kwargs: dict[str, Any]) -> Any:
    """``base`` (an options object or None) with the ``cls`` fields of ``kwargs`` applied.

    The fields are popped from ``kwargs``: what is left belongs to other options.
    """
    picked = {name: kwargs.pop(name) for name in list(kwargs) if name in cls.option_names()}
    if base is None:
        return cls(**picked)
    return replace(base, **picked) if picked else base


def _border_labels(labels: np.ndarray) -> np.ndarray:
    """Label values present on any face of ``labels``."""
    faces = [np.take(labels, index, axis=axis) for axis in range(labels.ndim) for index in (0, -1)]
    return np.unique(np.concatenate([face.ravel() for face in faces]))


def _drop(labels: np.ndarray, count: int, options: LabelOptions, pixel_size: float) -> np.ndarray:
    """Remove small and border objects from ``count`` labels, renumbering the others 1..m."""
    drop = np.zeros(count + 1, bool)
    if options.min_size:
        drop |= np.bincount(labels.ravel(), minlength=count + 1) * pixel_size < options.min_size
    if options.clear_border:
        drop[_border_labels(labels)] = True
    drop[0] = False
    if not drop.any():
        return labels
    mapping = (np.cumsum(~drop) - 1).astype(np.int32)
    mapping[drop] = 0
    return mapping[labels]


def mask_to_labels(
    mask: Any,
    options: LabelOptions | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Clean a boolean mask and label its connected components (int32).

    Parameters
    ----------
    mask : (M, N[, ...]) array_like of bool
        Foreground pixels.
    options : LabelOptions, optional
        The clean-up; keyword arguments (``fill_holes=True``, ...) set its fields instead.
    spacing : float or sequence of float, optional
        Pixel size per axis (napari's ``layer.scale``), for ``min_size``.

    Returns
    -------
    (M, N[, ...]) ndarray of int32
        Objects 1..n in raster order (``output="labels"``) or a 0/1 mask (``"binary"``).

    Examples
    --------
    >>> mask = np.array([[1, 1, 0, 0], [0, 0, 0, 1], [1, 0, 0, 1]], bool)
    >>> mask_to_labels(mask, min_size=2, connectivity=1)
    array([[1, 1, 0, 0],
           [0, 0, 0, 2],
           [0, 0, 0, 2]], dtype=int32)
    """
    options = options_from(options, LabelOptions, kwargs)
    if kwargs:
        raise TypeError(f"unknown mask_to_labels option(s): {', '.join(sorted(kwargs))}")
    if options.output == "classes":
        raise ValueError("`output` 'classes' is for multi-Otsu thresholds: a mask gives "
                         "'labels' or 'binary'")  # fmt: skip
    mask = np.asarray(mask, dtype=bool)
    pixel_size = math.prod(check_spacing(spacing, mask.ndim))
    rank = mask.ndim if options.connectivity is None else min(int(options.connectivity), mask.ndim)
    if options.fill_holes:
        mask = ndi.binary_fill_holes(mask)
    if options.output == "binary" and not options.min_size and not options.clear_border:
        return mask.astype(np.int32)
    labels = np.empty(mask.shape, np.int32)
    count = ndi.label(mask, structure=ndi.generate_binary_structure(mask.ndim, rank), output=labels)
    if count and (options.min_size or options.clear_border):
        labels = _drop(labels, count, options, pixel_size)
    return (labels > 0).astype(np.int32) if options.output == "binary" else labels
