"""Edges: gradient magnitude (Sobel, Scharr, Prewitt), Canny, Laplacian of Gaussian; objects from edges.

Pure numpy / scipy / scikit-image: no napari or Qt import lives here.

Physical units: ``sigma`` is a length in the units of ``spacing`` (napari's ``layer.scale``).
With ``spacing`` the gradient is per unit length (each axis's derivative divided by its pixel
size), and Canny's hysteresis thresholds are gradient magnitudes in the same units; without it
everything is in pixels and the functions are exactly scikit-image's.

The gradient magnitude is also the elevation of the seeded watershed:
``watershed(edge_magnitude(image), markers)`` (:func:`napari_coco_masks.segment.watershed.watershed`)
floods from the markers and meets at the edges. :func:`edges_to_objects` fills closed edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage as ndi

from ._validate import check_connectivity, check_finite, check_spacing

__all__ = ["EDGE_METHODS", "canny", "edge_magnitude", "edges_to_objects", "laplacian_of_gaussian"]

#: Gradient operators of :func:`edge_magnitude` (scikit-image filters of the same names).
EDGE_METHODS = ("sobel", "scharr", "prewitt")


def _grey(image: ArrayLike, name: str = "image") -> np.ndarray:
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(
            f"`{name}` has dtype {array.dtype}; convert it to an integer or float array"
        )
    if array.ndim not in (2, 3) or array.size == 0:
        raise ValueError(
            f"`{name}` (shape {array.shape}) must be a non-empty 2D or 3D grey image; for colour "
            "use one channel or segment.threshold.luminance"
        )
    check_finite(array, name)
    return array


def _spacing(spacing: float | Sequence[float] | None, ndim: int) -> tuple[float, ...] | None:
    """:func:`._validate.check_spacing`, or None when no spacing is given (pixels)."""
    return None if spacing is None else check_spacing(spacing, ndim)


def _sigma_px(
    sigma: float | Sequence[float], spacing: tuple[float, ...] | None, ndim: int
) -> tuple[float, ...]:
    values = np.atleast_1d(np.asarray(sigma, dtype=float)).ravel()
    if values.size not in (1, ndim) or np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError(f"`sigma` must be >= 0 (one value or one per axis), got {sigma!r}")
    values = np.broadcast_to(values, (ndim,))
    px = np.ones(ndim) if spacing is None else np.asarray(spacing)
    return tuple(float(v) for v in values / px)


def edge_magnitude(
    image: ArrayLike,
    method: str = "sobel",
    *,
    sigma: float | Sequence[float] = 0.0,
    spacing: float | Sequence[float] | None = None,
    mask: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Gradient magnitude of a 2D/3D image (also the elevation for the seeded watershed).

    Parameters
    ----------
    image : (M, N[, P]) array_like
        Grey image.
    method : {"sobel", "scharr", "prewitt"}
        The derivative operator (:func:`skimage.filters.sobel` etc.).
    sigma : float or sequence of float
        Gaussian smoothing first, in the units of ``spacing`` (0: none).
    spacing : float or sequence of float, optional
        Pixel size per axis: each axis's derivative is divided by it (magnitude per unit length).
    mask : (M, N[, P]) array_like of bool, optional
        As skimage's: the result is 0 outside the mask (and on its border).

    Returns
    -------
    (M, N[, P]) ndarray of float
        Without ``sigma`` and ``spacing``: exactly ``skimage.filters.<method>(image, mask)``.

    Examples
    --------
    >>> import numpy as np
    >>> step = np.zeros((5, 6)); step[:, 3:] = 1
    >>> edge_magnitude(step)[2].round(3).tolist()
    [0.0, 0.0, 0.707, 0.707, 0.0, 0.0]
    """
    from skimage import filters

    if method not in EDGE_METHODS:
        raise ValueError(f"`method` must be one of {', '.join(EDGE_METHODS)}, got {method!r}")
    array = _grey(image)
    px = _spacing(spacing, array.ndim)
    sigma_px = _sigma_px(sigma, px, array.ndim)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != array.shape:
            raise ValueError(
                f"`mask` (shape {mask.shape}) must have the shape of `image` ({array.shape})"
            )
    if any(sigma_px):
        array = filters.gaussian(array.astype(np.float64), sigma=sigma_px, preserve_range=True)
    operator = getattr(filters, method)
    if px is None or len(set(px)) == 1 and px[0] == 1.0:
        return operator(array, mask=mask)
    # skimage's magnitude is sqrt(sum_i d_i^2 / ndim); divide each axis's derivative by its size
    squares = sum((operator(array, mask=mask, axis=i) / px[i]) ** 2 for i in range(array.ndim))
    return np.sqrt(squares / array.ndim)


def canny(
    image: ArrayLike,
    sigma: float = 1.0,
    *,
    low_threshold: float | None = None,
    high_threshold: float | None = None,
    use_quantiles: bool = False,
    spacing: float | Sequence[float] | None = None,
    mask: ArrayLike | None = None,
) -> NDArray[np.bool_]:
    """Canny edges of a 2D image with ``sigma`` and the hysteresis thresholds in physical units.

    Parameters
    ----------
    image : (M, N) array_like
        Grey image.
    sigma : float
        Gaussian smoothing, in the units of ``spacing`` (square pixels: Canny is isotropic).
    low_threshold, high_threshold : float, optional
        Hysteresis thresholds on the gradient magnitude, in intensity per unit of ``spacing``
        (skimage's defaults: 10 % and 20 % of the dtype's maximum per pixel), or quantiles
        (0..1) of the magnitude with ``use_quantiles``.
    use_quantiles : bool
        Read the thresholds as quantiles (unit-free).
    spacing : float or (float, float), optional
        Pixel size; both axes must be equal.
    mask : (M, N) array_like of bool, optional
        Where to look for edges.

    Returns
    -------
    (M, N) ndarray of bool
        ``skimage.feature.canny(image, sigma / s, low * s, high * s)`` for pixel size ``s``.

    Examples
    --------
    >>> import numpy as np
    >>> square = np.zeros((12, 12)); square[3:9, 3:9] = 1
    >>> int(canny(square, 1.0).sum())
    20
    """
    from skimage import feature

    array = _grey(image)
    if array.ndim != 2:
        raise ValueError(f"Canny needs a 2D image, got shape {array.shape}; run it per slice")
    px = _spacing(spacing, 2)
    size = 1.0
    if px is not None:
        if not np.isclose(px[0], px[1]):
            raise ValueError(
                f"Canny needs square pixels, got spacing {px}; resample the image "
                "(skimage.transform.rescale) or use edge_magnitude, which takes anisotropic spacing"
            )
        size = px[0]
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"`sigma` must be >= 0, got {sigma!r}")
    factor = 1.0 if use_quantiles else size
    low = None if low_threshold is None else low_threshold * factor
    high = None if high_threshold is None else high_threshold * factor
    if low is not None and high is not None and low > high:
        raise ValueError(
            f"`low_threshold` ({low_threshold}) must not exceed `high_threshold` ({high_threshold})"
        )
    return feature.canny(
        array, sigma=sigma / size, low_threshold=low, high_threshold=high,
        mask=None if mask is None else np.asarray(mask, dtype=bool), use_quantiles=use_quantiles,
    )  # fmt: skip


def laplacian_of_gaussian(
    image: ArrayLike,
    sigma: float | Sequence[float] = 1.0,
    *,
    spacing: float | Sequence[float] | None = None,
    normalise: bool = True,
) -> NDArray[np.float64]:
    """Laplacian of Gaussian: blobs of radius about ``sigma * sqrt(ndim)`` give extrema.

    Parameters
    ----------
    image : (M, N[, P]) array_like
        Grey image.
    sigma : float or sequence of float
        Gaussian scale in the units of ``spacing``.
    spacing : float or sequence of float, optional
        Pixel size per axis.
    normalise : bool
        Multiply by ``-sigma**2`` (scale-normalised, positive on bright blobs), as
        :func:`skimage.feature.blob_log` does; False gives the plain Laplacian of the smoothed
        image per pixel squared (``scipy.ndimage.gaussian_laplace``).

    Returns
    -------
    (M, N[, P]) ndarray of float64

    Examples
    --------
    >>> import numpy as np
    >>> dot = np.zeros((9, 9)); dot[4, 4] = 1
    >>> log = laplacian_of_gaussian(dot, 1.5)
    >>> np.unravel_index(log.argmax(), log.shape)
    (np.int64(4), np.int64(4))
    """
    array = _grey(image).astype(np.float64)
    px = _spacing(spacing, array.ndim)
    sigma_px = _sigma_px(sigma, px, array.ndim)
    if not all(sigma_px):
        raise ValueError(f"`sigma` must be > 0 for a Laplacian of Gaussian, got {sigma!r}")
    result = ndi.gaussian_laplace(array, sigma=sigma_px)
    if normalise:
        # blob_log's normalisation: the Laplacian times sigma^2 (in pixels, per axis' mean)
        result *= -float(np.mean(np.square(sigma_px)))
    return result


def edges_to_objects(
    edges: ArrayLike,
    *,
    min_size: float = 0.0,
    spacing: float | Sequence[float] | None = None,
    connectivity: int = 1,
) -> NDArray[np.int32]:
    """Objects enclosed by closed edges: each hole of the edge mask, with its edge ring.

    The inside of every closed edge is labelled (connected components of the filled edges minus
    the edges), then each object grows back over the edge pixels around it (as far as the edges
    are thick; an edge shared by two objects goes to the nearer). Open edges enclose nothing
    and give no object.

    Parameters
    ----------
    edges : (M, N[, P]) array_like of bool
        Edge mask (e.g. from :func:`canny`, or ``edge_magnitude(...) > t``).
    min_size : float
        Smallest object (area in 2D, volume in 3D) in units of ``spacing``; smaller ones go.
    spacing : float or sequence of float, optional
        Pixel size per axis.
    connectivity : int
        Connectivity of the insides (1: faces).

    Returns
    -------
    (M, N[, P]) ndarray of int32
        Objects 1..n.

    Examples
    --------
    >>> import numpy as np
    >>> ring = np.zeros((7, 12), bool); ring[1:6, 1:6] = True; ring[2:5, 2:5] = False
    >>> ring[3, 8:11] = True  # an open edge: no object
    >>> edges_to_objects(ring).max(), int((edges_to_objects(ring) == 1).sum())
    (np.int32(1), 25)
    """
    mask = np.asarray(edges)
    if mask.ndim not in (2, 3):
        raise ValueError(f"`edges` (shape {mask.shape}) must be a 2D or 3D mask")
    mask = mask.astype(bool, copy=False)
    structure = check_connectivity(connectivity, mask.ndim)
    px = _spacing(spacing, mask.ndim)
    filled = ndi.binary_fill_holes(mask)
    inside = filled & ~mask
    labels, _ = ndi.label(inside, structure=structure)
    labels = _grow_over(labels, mask & filled)
    return _drop_small(labels, min_size, px)


def _grow_over(labels: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Give each ``ring`` pixel the label of the nearest object, up to the ring's thickness."""
    if not labels.any():
        return labels.astype(np.int32)
    from skimage.segmentation import expand_labels

    depth = float(ndi.distance_transform_edt(ring).max()) if ring.any() else 0.0
    grown = expand_labels(labels, distance=2 * depth - 0.5) if depth else labels
    return np.where(ring | (labels > 0), grown, 0).astype(np.int32)


def _drop_small(labels: np.ndarray, min_size: float, px: tuple[float, ...] | None) -> np.ndarray:
    if min_size < 0 or not np.isfinite(min_size):
        raise ValueError(f"`min_size` must be >= 0, got {min_size!r}")
    if not min_size or not labels.any():
        return labels
    voxel = float(np.prod(px)) if px is not None else 1.0
    sizes = np.bincount(labels.ravel()) * voxel
    keep = sizes >= min_size
    keep[0] = False
    lut = np.zeros(sizes.size, np.int32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1)
    return lut[labels]
