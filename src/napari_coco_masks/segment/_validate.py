"""Checks the segment functions share: pixel spacing, axes, connectivity, finite values.

Each raises ``ValueError`` naming the parameter, the value seen and, where possible, what to
do (scikit-image's style). No napari or Qt import lives here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = ["check_axis", "check_connectivity", "check_finite", "check_spacing", "renamed_axis"]


def check_axis(axis: Any, ndim: int, name: str = "frame_axis") -> int | None:
    """Return ``axis`` as a non-negative axis of an ``ndim``-D array (None passes).

    Examples
    --------
    >>> check_axis(-1, 3)
    2
    >>> check_axis(3, 3)
    Traceback (most recent call last):
    ...
    ValueError: `frame_axis`=3 is out of range for a 3D array
    """
    if axis is None:
        return None
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"`{name}` must be an int or None, got {axis!r}")
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"`{name}`={axis} is out of range for a {ndim}D array")
    return int(axis) % ndim


def check_spacing(
    spacing: float | Sequence[float] | None, ndim: int, frame_axis: int | None = None
) -> tuple[float, ...]:
    """Return the pixel size of each spatial axis of an ``ndim``-D array.

    Parameters
    ----------
    spacing : float or sequence of float, optional
        One value for every axis, one per spatial axis, or (with ``frame_axis``) one per axis
        of the array, whose frame entry is dropped. None: 1 on every axis.
    ndim : int
        Dimensionality of the array, frame axis included.
    frame_axis : int, optional
        The axis of the frames of a series (not spatial).

    Returns
    -------
    tuple of float
        ``ndim - (frame_axis is not None)`` positive finite values.

    Examples
    --------
    >>> check_spacing(0.5, 2)
    (0.5, 0.5)
    >>> check_spacing((2.0, 0.5, 0.5), 3, frame_axis=0)
    (0.5, 0.5)
    """
    n_spatial = ndim - (frame_axis is not None)
    if spacing is None:
        return (1.0,) * n_spatial
    values = np.atleast_1d(np.asarray(spacing, dtype=float)).ravel()
    if values.size == 1:
        values = np.repeat(values, n_spatial)
    elif values.size == ndim and frame_axis is not None:
        values = np.delete(values, frame_axis)
    if values.size != n_spatial or not np.all(np.isfinite(values)) or np.any(values <= 0):
        seen = tuple(float(v) for v in np.atleast_1d(np.asarray(spacing, dtype=float)).ravel())
        raise ValueError(
            f"`spacing` {seen} must hold {n_spatial} positive finite pixel size(s), one per "
            f"spatial axis of the {ndim}D array (or one for all of them)"
        )
    return tuple(float(v) for v in values)


def check_connectivity(connectivity: Any, ndim: int) -> np.ndarray:
    """Return the footprint of ``connectivity`` (1: face neighbours ... ``ndim``: all).

    Examples
    --------
    >>> check_connectivity(1, 2).astype(int)
    array([[0, 1, 0],
           [1, 1, 1],
           [0, 1, 0]])
    """
    if (
        isinstance(connectivity, bool)
        or not isinstance(connectivity, (int, np.integer))
        or not 1 <= connectivity <= ndim
    ):
        raise ValueError(
            f"`connectivity` = {connectivity!r} must be an int from 1 (face neighbours) to "
            f"{ndim} (full: all {3**ndim - 1} neighbours) for a {ndim}D image"
        )
    return ndi.generate_binary_structure(ndim, int(connectivity))


def check_finite(array: np.ndarray, name: str = "image", where: str = "", hint: str = "") -> None:
    """Refuse NaN and infinite values of a float array, saying how many and where.

    Examples
    --------
    >>> check_finite(np.array([1.0, np.nan]))
    Traceback (most recent call last):
    ...
    ValueError: `image` contains 1 NaN or infinite value(s); replace them first (e.g. numpy.nan_to_num) or crop them away
    """
    if array.dtype.kind != "f" or (np.isfinite(array.min()) and np.isfinite(array.max())):
        return
    bad = int(np.count_nonzero(~np.isfinite(array)))
    raise ValueError(
        f"`{name}` contains {bad} NaN or infinite value(s){where}{hint}; replace them first "
        "(e.g. numpy.nan_to_num) or crop them away"
    )


def renamed_axis(frame_axis: int | None, time_axis: int | None, name: str) -> int | None:
    """``frame_axis``, or the deprecated ``time_axis`` of function ``name`` with a warning."""
    if time_axis is None:
        return frame_axis
    warnings.warn(f"{name}(time_axis=...) is deprecated: use frame_axis=...",
                  DeprecationWarning, stacklevel=3)  # fmt: skip
    return time_axis
