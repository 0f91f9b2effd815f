"""Preprocessing before a threshold: median filter, background subtraction, contrast stretch.

Each function takes a grey image (2D or 3D) and returns a float or same-dtype image, as its
scikit-image counterpart does; sizes are in pixels. No napari or Qt import lives here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["contrast_stretch", "median", "rolling_ball", "white_tophat"]


def _grey(image: Any) -> np.ndarray:
    """``image`` as a real-valued array of at least 2 dimensions, or a clear error."""
    array = np.asarray(image)
    if array.dtype.kind not in "iuf" or array.ndim < 2:
        raise ValueError(
            f"`image` (shape {array.shape}, dtype {array.dtype}) must be a grey image of 2 or "
            "more dimensions; convert colour images to one channel first"
        )
    return array


def _radius(radius: Any, name: str = "radius") -> int:
    """``radius`` as an int >= 1."""
    if isinstance(radius, bool) or int(radius) != radius or radius < 1:
        raise ValueError(f"`{name}` must be an integer >= 1 (pixels), got {radius!r}")
    return int(radius)


def _ball(radius: int, ndim: int) -> np.ndarray:
    """The footprint of :func:`skimage.morphology.disk` (2D) / ``ball`` (3D) of ``radius``."""
    from skimage.morphology import ball, disk

    if ndim == 2:
        return disk(radius).astype(bool)
    if ndim == 3:
        return ball(radius).astype(bool)
    raise ValueError(f"`image` must be 2D or 3D for a disk/ball footprint, got {ndim}D")


def median(image: Any, radius: int = 1) -> np.ndarray:
    """Median filter over a disk (2D) or ball (3D) of ``radius`` pixels.

    Parameters
    ----------
    image : (M, N[, P]) array_like
        Grey image.
    radius : int
        Radius of the footprint in pixels.

    Returns
    -------
    ndarray
        ``skimage.filters.median(image, disk(radius))`` (same dtype).

    Examples
    --------
    >>> image = np.zeros((5, 5), np.uint8)
    >>> image[2, 2] = 255  # salt
    >>> int(median(image).max())
    0
    """
    from scipy import ndimage as ndi

    array = _grey(image)
    return ndi.median_filter(array, footprint=_ball(_radius(radius), array.ndim), mode="nearest")


def white_tophat(image: Any, radius: int = 15) -> np.ndarray:
    """Subtract the background: the image minus its opening by a disk (ball) of ``radius``.

    Structures smaller than the disk stay; a smooth background brighter than zero goes.

    Parameters
    ----------
    image : (M, N[, P]) array_like
        Grey image, bright objects on a darker background.
    radius : int
        Radius in pixels, larger than the objects.

    Returns
    -------
    ndarray
        ``skimage.morphology.white_tophat(image, disk(radius))``.

    Examples
    --------
    >>> image = np.full((9, 9), 100, np.uint8)
    >>> image[4, 4] = 160  # a small bright object on a flat background
    >>> white_tophat(image, 2)[4, 4], int(white_tophat(image, 2).sum())
    (np.uint8(60), 60)
    """
    from skimage.morphology import white_tophat as sk_white_tophat

    array = _grey(image)
    return sk_white_tophat(array, _ball(_radius(radius), array.ndim))


def rolling_ball(image: Any, radius: int = 50) -> np.ndarray:
    """Subtract the background estimated by rolling a ball of ``radius`` under the image.

    Parameters
    ----------
    image : (M, N[, ...]) array_like
        Grey image, bright objects on a darker background.
    radius : int
        Radius of the ball in pixels (larger than the objects).

    Returns
    -------
    ndarray
        ``image - skimage.restoration.rolling_ball(image, radius=radius)`` (float64 for
        floats, the image's dtype for integers).

    Examples
    --------
    >>> image = np.full((15, 15), 50.0)
    >>> image[7, 7] = 90.0  # a small bright object on a flat background
    >>> flat = rolling_ball(image, 5)
    >>> round(float(flat[7, 7])), float(flat[0, 0])
    (40, 0.0)
    """
    from skimage.restoration import rolling_ball as sk_rolling_ball

    array = _grey(image)
    background = sk_rolling_ball(array, radius=_radius(radius))
    if array.dtype.kind in "iu":
        return (array - background.astype(array.dtype)).astype(array.dtype)
    return array - background


def contrast_stretch(image: Any, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """Stretch the image's ``low``..``high`` percentiles to [0, 1] (values outside clipped).

    Parameters
    ----------
    image : (M, N[, ...]) array_like
        Grey image.
    low, high : float
        Percentiles (0..100, ``low < high``) that become 0 and 1.

    Returns
    -------
    ndarray of float64
        ``skimage.exposure.rescale_intensity(image, in_range=(p_low, p_high),
        out_range=(0.0, 1.0))``.

    Examples
    --------
    >>> contrast_stretch(np.array([[0, 10, 20, 30, 40]]), 25, 75).tolist()
    [[0.0, 0.0, 0.5, 1.0, 1.0]]
    """
    from skimage.exposure import rescale_intensity

    array = _grey(image)
    if not 0 <= low < high <= 100:
        raise ValueError(f"`low`, `high` must be percentiles with 0 <= low < high <= 100, "
                         f"got {low!r}, {high!r}")  # fmt: skip
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    p_low, p_high = (float(v) for v in np.percentile(finite, (low, high)))
    if p_high <= p_low:
        return np.zeros(array.shape)
    return rescale_intensity(array.astype(np.float64), in_range=(p_low, p_high),
                             out_range=(0.0, 1.0))  # fmt: skip
