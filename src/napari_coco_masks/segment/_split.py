"""Split touching objects: distance transform, spaced maxima, watershed inside the mask.

The engine of :func:`napari_coco_masks.segment.watershed.split_touching`, one 2D/3D frame at a
time: a distance transform (anisotropic with ``spacing``), one marker per maximum (at least
``min_distance`` apart, in physical units, optionally only h-maxima), then a watershed of the
negated distance inside the mask. Every input label is split on its own, so touching labels
never merge. No napari or Qt import lives here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

__all__ = ["split_frame"]


def _labels_touch(labels: NDArray) -> bool:
    """True if two different non-zero labels share a face (a connectivity-1 neighbour)."""
    for axis in range(labels.ndim):
        head = labels[(slice(None),) * axis + (slice(1, None),)]
        tail = labels[(slice(None),) * axis + (slice(None, -1),)]
        if np.any((head != tail) & (head != 0) & (tail != 0)):
            return True
    return False


def _h_maxima(distance: NDArray, objects: NDArray, h: float) -> NDArray[np.bool_]:
    """Pixels of the h-maxima of ``distance`` (maxima at least ``h`` above their saddle).

    Equal to ``skimage.morphology.h_maxima(distance, h)`` inside the objects, computed object
    by object in bounding boxes, and only for objects with more than one local-maximum plateau
    (an object with a single one has nothing to merge): several times faster on big masks.
    """
    from skimage.morphology import h_maxima

    local = (distance == ndi.maximum_filter(distance, size=3, mode="nearest")) & (distance > 0)
    plateaus, count = ndi.label(local, structure=np.ones((3,) * distance.ndim, bool))
    if not count:
        return local
    first = np.unique(plateaus[local], return_index=True)[1]
    owner = objects[local][first]
    several = np.flatnonzero(np.bincount(owner, minlength=int(objects.max()) + 1) > 1)
    peaks = local.copy()
    if not len(several):
        return peaks
    peaks &= ~np.isin(objects, several)
    boxes = ndi.find_objects(objects)
    for value in several:
        box = tuple(
            slice(max(s.start - 1, 0), min(s.stop + 1, n))
            for s, n in zip(boxes[value - 1], distance.shape, strict=True)
        )
        inside = objects[box] == value
        relief = np.where(inside, distance[box], 0.0)
        peaks[box] |= h_maxima(relief, h).astype(bool) & inside
    return peaks


def _plateau_peaks(
    distance: NDArray,
    objects: NDArray,
    min_distance: float,
    spacing: NDArray,
    h: float | None,
) -> tuple[NDArray[np.int32], int]:
    """Label the candidate maxima of ``distance``: one label per connected plateau.

    Without ``h`` a candidate is a pixel equal to the maximum of the box of half-width
    ``min_distance / spacing`` pixels around it (at least one pixel). With ``h`` the candidates
    are the h-maxima (maxima at least ``h`` higher than the saddle to a higher maximum).
    """
    if h is None:
        # a box wider than the image is the image: cap it there (a pixel size of 1e-9 asked
        # maximum_filter for a box 5e9 pixels wide, a MemoryError; issue 12)
        reach = np.minimum(min_distance / spacing + 1e-9, np.asarray(distance.shape, float))
        radius = np.maximum(np.floor(np.nan_to_num(reach, nan=1.0)).astype(int), 1)
        local_max = ndi.maximum_filter(distance, size=tuple(2 * radius + 1), mode="nearest")
        peaks = (distance == local_max) & (distance > 0)
    else:
        peaks = _h_maxima(distance, objects, h)
    plateaus, count = ndi.label(peaks)
    return plateaus.astype(np.int32, copy=False), int(count)


def _space_out(
    points: NDArray, heights: NDArray, objects: NDArray, min_distance: float
) -> NDArray[np.bool_]:
    """Greedy non-maximum suppression: keep the highest point, drop lower ones of the same
    object closer than ``min_distance`` (Euclidean, in the units of ``points``); repeat.

    Returns a boolean keep-mask in the order of the inputs.
    """
    n = len(points)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    order = np.argsort(-heights, kind="stable")
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n)
    pairs = cKDTree(points).query_pairs(np.nextafter(min_distance, 0), output_type="ndarray")
    pairs = pairs[objects[pairs[:, 0]] == objects[pairs[:, 1]]]
    if not len(pairs):
        return keep
    # orient each pair from the higher-ranked (kept first) point to the lower one
    swap = rank[pairs[:, 0]] > rank[pairs[:, 1]]
    pairs[swap] = pairs[swap][:, ::-1]
    pairs = pairs[np.argsort(rank[pairs[:, 0]], kind="stable")]
    starts = np.searchsorted(rank[pairs[:, 0]], np.arange(n + 1))
    for r in range(n):
        if starts[r] == starts[r + 1]:
            continue
        if keep[order[r]]:
            keep[pairs[starts[r] : starts[r + 1], 1]] = False
    return keep


def _distance_markers(
    distance: NDArray,
    objects: NDArray,
    min_distance: float,
    spacing: NDArray,
    h: float | None,
) -> tuple[NDArray[np.int32], NDArray[np.intp]]:
    """Marker image for a split: maxima of ``distance`` spaced by ``min_distance`` per object.

    Every object of ``objects`` (a label image) gets at least one marker: an object without a
    kept maximum is seeded at its highest distance. Returns the marker image (ids 1..K) and
    the object of each marker (``owner[k - 1]`` for marker ``k``).
    """
    plateaus, count = _plateau_peaks(distance, objects, min_distance, spacing, h)
    markers = np.zeros(distance.shape, dtype=np.int32)
    owner = np.zeros(0, dtype=np.intp)
    if count:
        coords = np.nonzero(plateaus)
        region = plateaus[coords]
        # one representative pixel per plateau: its first pixel in raster order
        _, first = np.unique(region, return_index=True)
        rep = np.stack([c[first] for c in coords], axis=1)
        rep_object = objects[tuple(rep.T)].astype(np.intp)
        keep = _space_out(rep * spacing, distance[tuple(rep.T)], rep_object, min_distance)
        lut = np.zeros(count + 1, dtype=np.int32)
        lut[np.flatnonzero(keep) + 1] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        markers[coords] = lut[region]
        owner = rep_object[keep]
    present = np.bincount(objects.ravel())
    present[0] = 0
    present[owner] = 0
    missing = np.flatnonzero(present)
    if len(missing):
        positions = ndi.maximum_position(distance, objects, missing)
        for offset, position in enumerate(positions):
            markers[position] = len(owner) + 1 + offset
        owner = np.concatenate([owner, missing])
    return markers, owner


def _split_binary(
    binary: NDArray[np.bool_],
    objects: NDArray | None,
    min_distance: float,
    spacing: NDArray,
    h: float | None,
) -> NDArray[np.int32]:
    """Split the foreground of ``binary``; ``objects`` are its objects (components if None).

    Objects with a single marker are labelled directly; only objects with several markers are
    flooded, which gives the same result for less work.
    """
    from skimage.segmentation import watershed as sk_watershed

    if not binary.any():
        return np.zeros(binary.shape, dtype=np.int32)
    if objects is None:
        objects, _ = ndi.label(binary)
    distance = ndi.distance_transform_edt(binary, sampling=spacing)
    markers, owner = _distance_markers(distance, objects, min_distance, spacing, h)
    n_markers = np.bincount(owner, minlength=int(objects.max()) + 1)
    single = np.zeros(len(n_markers), dtype=np.int32)
    lone = n_markers[owner] == 1
    single[owner[lone]] = np.flatnonzero(lone).astype(np.int32) + 1
    out = single[objects]
    flood = binary & (n_markers[objects] > 1)
    if flood.any():
        seeds = np.where(flood, markers, 0)
        flooded = sk_watershed(-distance, seeds, mask=flood)
        out[flood] = flooded[flood]
    left = binary & (out == 0)
    if left.any():  # a part of a label not connected to any of its markers
        extra, _ = ndi.label(left)
        out[left] = extra[left] + out.max()
    return out


def split_frame(
    mask: NDArray, min_distance: float, spacing: NDArray, h: float | None
) -> NDArray[np.int32]:
    """Split one 2D/3D frame: a boolean mask, or integer labels split label by label."""
    if mask.dtype != bool and mask.size and int(mask.min()) < 0:
        raise ValueError(f"`mask` labels must be non-negative, got {int(mask.min())}.")
    if mask.dtype == bool or (mask.size and int(mask.max()) <= 1):
        return _split_binary(mask.astype(bool, copy=False), None, min_distance, spacing, h)
    labels = mask
    if labels.dtype.kind == "u" and labels.dtype.itemsize >= np.dtype(np.intp).itemsize:
        labels = labels.astype(np.intp)  # bincount and find_objects need signed indices
    if int(labels.max()) > labels.size:  # sparse huge ids: make them sequential first
        _, inverse = np.unique(labels, return_inverse=True)
        labels = inverse.reshape(labels.shape)
    if not _labels_touch(labels):
        return _split_binary(labels > 0, labels, min_distance, spacing, h)
    out = np.zeros(labels.shape, dtype=np.int32)
    offset = 0
    for index, roi in enumerate(ndi.find_objects(labels)):
        if roi is None:
            continue
        # pad the box by one pixel (inside the image) so the distance sees the neighbours
        box = tuple(
            slice(max(s.start - 1, 0), min(s.stop + 1, n))
            for s, n in zip(roi, labels.shape, strict=True)
        )
        part = _split_binary(labels[box] == index + 1, None, min_distance, spacing, h)
        inside = part > 0
        out[box][inside] = part[inside] + offset
        offset += int(part.max())
    return out
