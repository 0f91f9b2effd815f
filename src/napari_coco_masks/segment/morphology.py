"""Morphology on label images: each object on its own, objects never merge.

:func:`erode_labels`, :func:`dilate_labels` (scikit-image's ``expand_labels``: an object grows
into the background only, up to the nearer object), :func:`open_labels`, :func:`close_labels`
and :func:`fill_label_holes` give, object by object, what scikit-image's binary operations give
on ``labels == k`` with a disk (ball in 3D) of ``radius`` pixels; a pixel another object holds
is never taken. Erosion and dilation are distance transforms of each object's box
(:func:`scipy.ndimage.distance_transform_edt`): a radius of hundreds of pixels costs what a
radius of one does.
No napari or Qt import lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = ["close_labels", "dilate_labels", "erode_labels", "fill_label_holes", "open_labels"]


def _check(labels: Any, radius: float = 1.0) -> np.ndarray:
    """``labels`` as an integer array; ``radius`` checked."""
    array = np.asarray(labels)
    if array.dtype.kind not in "iu":
        raise ValueError(
            f"`labels` must be an integer label image, got dtype {array.dtype}; label a mask "
            "first (mask_to_labels)"
        )
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f"`radius` must be a finite number >= 0 (pixels), got {radius!r}")
    return array


def _erode(mask: np.ndarray, radius: float) -> np.ndarray:
    """Binary erosion by the disk (ball) of ``radius``: the pixels farther than ``radius`` from
    every pixel outside ``mask`` (the array's outside does not erode, as in scikit-image)."""
    if mask.all():
        return mask.copy()
    return ndi.distance_transform_edt(mask) > radius


def _dilate(mask: np.ndarray, radius: float) -> np.ndarray:
    """Binary dilation by the disk (ball) of ``radius`` (pixels at most ``radius`` away)."""
    if not mask.any():
        return mask.copy()
    return ndi.distance_transform_edt(~mask) <= radius


def erode_labels(labels: Any, radius: float = 1.0) -> np.ndarray:
    """Shrink every object by ``radius`` pixels (a pixel stays if its disk is all its object).

    Parameters
    ----------
    labels : (M, N[, P]) array of int
        Label image (0: background).
    radius : float
        Radius of the disk (ball) in pixels.

    Returns
    -------
    ndarray
        ``labels``' dtype; per object, ``skimage.morphology.binary_erosion(labels == k,
        disk(radius))`` (outside the image does not erode).

    Examples
    --------
    >>> labels = np.zeros((5, 7), np.uint8)
    >>> labels[:, :3], labels[:, 3:] = 1, 2
    >>> erode_labels(labels, 1)
    array([[1, 1, 0, 0, 2, 2, 2],
           [1, 1, 0, 0, 2, 2, 2],
           [1, 1, 0, 0, 2, 2, 2],
           [1, 1, 0, 0, 2, 2, 2],
           [1, 1, 0, 0, 2, 2, 2]], dtype=uint8)
    """
    return _per_object(_check(labels, radius), 1, lambda own: _erode(own, radius))


def dilate_labels(labels: Any, radius: float = 1.0) -> np.ndarray:
    """Grow every object by ``radius`` pixels into the background, never into another object.

    Parameters
    ----------
    labels : (M, N[, P]) array of int
        Label image (0: background).
    radius : float
        Largest Euclidean distance grown, in pixels.

    Returns
    -------
    ndarray
        :func:`skimage.segmentation.expand_labels` of ``labels``: a background pixel goes to
        the nearest object within ``radius``.

    Examples
    --------
    >>> dilate_labels(np.array([[0, 1, 0, 0, 0, 2]]), 2)
    array([[1, 1, 1, 1, 2, 2]])
    """
    from skimage.segmentation import expand_labels

    return expand_labels(_check(labels, radius), distance=radius)


def _per_object(
    labels: np.ndarray, margin: int, operation: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Apply a binary ``operation`` to each object in its box (widened by ``margin``); the
    result takes only the object's own pixels and the background (first object first)."""
    out = np.zeros_like(labels)
    for index, box in enumerate(ndi.find_objects(labels)):
        if box is None:
            continue
        wide = tuple(
            slice(max(s.start - margin, 0), min(s.stop + margin, n))
            for s, n in zip(box, labels.shape, strict=True)
        )
        value = index + 1
        own = labels[wide] == value
        grown = operation(own) & ((labels[wide] == 0) | own) & (out[wide] == 0)
        out[wide][grown] = value
    return out


def open_labels(labels: Any, radius: float = 1.0) -> np.ndarray:
    """Remove the parts of each object narrower than the disk of ``radius`` (opening).

    Parameters
    ----------
    labels : (M, N[, P]) array of int
        Label image (0: background).
    radius : float
        Radius of the disk (ball) in pixels.

    Returns
    -------
    ndarray
        Per object, ``skimage.morphology.binary_opening(labels == k, disk(radius))``.

    Examples
    --------
    >>> labels = np.zeros((5, 9), np.uint8)
    >>> labels[1:4, 1:4] = 1
    >>> labels[2, 4:8] = 1  # a thin tail
    >>> open_labels(labels, 1)
    array([[0, 0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 1, 1, 0, 0, 0, 0, 0],
           [0, 1, 1, 1, 1, 0, 0, 0, 0],
           [0, 0, 1, 1, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=uint8)
    """
    opening = lambda own: _dilate(_erode(own, radius), radius)  # noqa: E731
    return _per_object(_check(labels, radius), 1, opening)


def close_labels(labels: Any, radius: float = 1.0) -> np.ndarray:
    """Close the gaps and bays of each object narrower than the disk of ``radius`` (closing).

    Parameters
    ----------
    labels : (M, N[, P]) array of int
        Label image (0: background).
    radius : float
        Radius of the disk (ball) in pixels.

    Returns
    -------
    ndarray
        Per object, ``skimage.morphology.binary_closing(labels == k, disk(radius))``, taken
        only where the background was (an object never takes another's pixels).

    Examples
    --------
    >>> labels = np.array([[1, 1, 0, 1, 1]], np.uint8)
    >>> close_labels(labels, 1)
    array([[1, 1, 1, 1, 1]], dtype=uint8)
    """
    closing = lambda own: _erode(_dilate(own, radius), radius)  # noqa: E731
    return _per_object(_check(labels, radius), int(radius) + 2, closing)


def fill_label_holes(labels: Any) -> np.ndarray:
    """Fill the holes of every object (background enclosed by it) with its label.

    Parameters
    ----------
    labels : (M, N[, P]) array of int
        Label image (0: background).

    Returns
    -------
    ndarray
        Per object, :func:`scipy.ndimage.binary_fill_holes` of ``labels == k`` (a hole holding
        another object keeps it).

    Examples
    --------
    >>> ring = np.ones((3, 3), np.uint8)
    >>> ring[1, 1] = 0
    >>> fill_label_holes(ring)
    array([[1, 1, 1],
           [1, 1, 1],
           [1, 1, 1]], dtype=uint8)
    """
    return _per_object(_check(labels), 0, ndi.binary_fill_holes)
