"""Watershed segmentation: split touching objects, and seeded watershed from markers.

Pure functions on numpy (or dask) arrays; no napari or Qt import lives here.

* :func:`split_touching` cuts a mask (or a label image) into objects: a distance transform
  (anisotropic with ``spacing``), one marker per maximum (at least ``min_distance`` apart, in
  physical units, optionally only h-maxima), then a watershed of the negated distance inside the
  mask. Every input label is split on its own, so touching labels never merge.
* :func:`watershed` floods an intensity image (or its Sobel gradient) from markers given as a
  label image or as an ``(N, ndim)`` array of point coordinates, one object per point.

Both work on 2D and 3D arrays, and frame by frame on time series (``frame_axis``).
:func:`iter_split_touching` and :func:`iter_watershed` validate eagerly and return a generator
that yields ``(frames_done, n_frames)`` after each frame and returns the label image, so a GUI
can report progress.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

__all__ = ["iter_split_touching", "iter_watershed", "split_touching", "watershed"]

#: Spatial dimensionalities the functions segment (time series add a frame axis).
SPATIAL_NDIMS = (2, 3)

Progress = Generator[tuple[int, int], None, NDArray[np.int32]]


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _as_array(data: Any) -> Any:
    """Return ``data`` unchanged if it is array-like with a shape (numpy, dask), else an ndarray."""
    return data if hasattr(data, "shape") and hasattr(data, "dtype") else np.asarray(data)


def _check_frame_axis(ndim: int, frame_axis: int | None, name: str) -> int | None:
    """Validate ``frame_axis`` and the dimensionality of the array called ``name``.

    Returns the non-negative frame axis (or None).
    """
    if frame_axis is None:
        if ndim not in SPATIAL_NDIMS:
            hint = (
                " For a time series pass `frame_axis` (the time axis)."
                if ndim == max(SPATIAL_NDIMS) + 1
                else ""
            )
            raise ValueError(f"`{name}` must be 2D or 3D, got {ndim}D.{hint}")
        return None
    if not isinstance(frame_axis, (int, np.integer)) or isinstance(frame_axis, bool):
        raise ValueError(f"`frame_axis` must be an int or None, got {frame_axis!r}.")
    if not -ndim <= frame_axis < ndim:
        raise ValueError(
            f"`frame_axis` ({frame_axis}) is out of range for `{name}` with {ndim} dimensions."
        )
    if ndim - 1 not in SPATIAL_NDIMS:
        raise ValueError(
            f"`{name}` must be 3D or 4D with `frame_axis` (2D or 3D frames), got {ndim}D."
        )
    return int(frame_axis) % ndim


def _check_spacing(spacing: ArrayLike | None, ndim: int) -> NDArray[np.float64]:
    """Return ``spacing`` as ``ndim`` positive finite floats (all ones when None)."""
    if spacing is None:
        return np.ones(ndim)
    values = np.atleast_1d(np.asarray(spacing, dtype=float))
    if values.shape != (ndim,):
        raise ValueError(
            f"`spacing` must have one value per spatial axis ({ndim}), got {tuple(values)}."
        )
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"`spacing` values must be positive and finite, got {tuple(values)}.")
    return values


def _check_positive(value: float, name: str, *, allow_none: bool = False) -> float | None:
    """Return ``value`` as a positive finite float; None passes when ``allow_none``."""
    if value is None and allow_none:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.") from None
    if not np.isfinite(number) or number <= 0:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
    return number


def _check_mask_dtype(mask: Any) -> None:
    """A split needs a boolean mask or non-negative integer labels, not intensities."""
    if not (mask.dtype == bool or np.issubdtype(mask.dtype, np.integer)):
        raise ValueError(
            f"`mask` must be a boolean mask or an integer label image, got dtype {mask.dtype}; "
            "threshold an intensity image first (e.g. `image > t`)."
        )


def _check_image(image: Any) -> None:
    """The flooded image must be real-valued (an RGB image must be converted to grey first)."""
    if image.dtype == bool or not (
        np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
    ):
        raise ValueError(f"`image` must be a real-valued intensity image, got dtype {image.dtype}.")


def _check_finite(frame: NDArray, where: str) -> None:
    """A NaN or infinite intensity floods in an undefined order: refuse it, saying where."""
    if frame.dtype.kind != "f" or (np.isfinite(frame.min()) and np.isfinite(frame.max())):
        return
    bad = int(np.count_nonzero(~np.isfinite(frame)))
    raise ValueError(
        f"`image` contains {bad} NaN or infinite value(s){where}; replace them first "
        "(e.g. numpy.nan_to_num) or crop them away."
    )


def _check_same_shape(array: Any, image: Any, name: str) -> None:
    """Raise if ``array`` and ``image`` differ in shape."""
    if tuple(array.shape) != tuple(image.shape):
        raise ValueError(
            f"`{name}` (shape {tuple(array.shape)}) must have the same shape as `image` "
            f"(shape {tuple(image.shape)})."
        )


def _points_to_pixels(points: NDArray, shape: tuple[int, ...]) -> NDArray[np.intp]:
    """Round ``(N, ndim)`` point coordinates to pixel indices, checking they lie in ``shape``."""
    if points.shape[0] == 0:
        raise ValueError("`markers` has no points: add at least one marker.")
    if not np.all(np.isfinite(points)):
        raise ValueError("`markers` contains NaN or infinite coordinates.")
    pixels = np.round(points).astype(np.intp)
    outside = np.any((pixels < 0) | (pixels >= np.asarray(shape)), axis=1)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{int(outside.sum())} of {len(points)} marker points lie outside the image of "
            f"shape {shape} (first: point {first} at {tuple(points[first].tolist())}); "
            "move or delete them."
        )
    _, first_seen, counts = np.unique(pixels, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        twice = pixels[first_seen[counts > 1][0]]
        raise ValueError(
            f"several marker points round to the same pixel {tuple(twice.tolist())}; "
            "keep one point per object."
        )
    return pixels


def _check_points_in_mask(pixels: NDArray[np.intp], mask: Any) -> None:
    """Raise if marker points (``pixels``, one row per point) fall outside ``mask``."""
    if isinstance(mask, np.ndarray):
        inside = mask[tuple(pixels.T)].astype(bool)
    else:  # dask and other lazy arrays: read the few marker pixels one by one
        inside = np.array([bool(mask[tuple(p)]) for p in pixels], dtype=bool)
    if not inside.all():
        first = int(np.flatnonzero(~inside)[0])
        raise ValueError(
            f"{int((~inside).sum())} of {len(pixels)} marker points lie outside `mask` "
            f"(first: point {first} at pixel {tuple(pixels[first].tolist())}); "
            "move them inside the mask or remove them."
        )


def _check_label_markers(markers: NDArray, mask: NDArray | None, where: str) -> None:
    """Raise if a marker label image has negative labels or marker pixels outside ``mask``."""
    if markers.size and markers.min() < 0:
        raise ValueError(f"`markers` labels must be non-negative, got {int(markers.min())}{where}.")
    if mask is None:
        return
    outside = int(np.count_nonzero((markers != 0) & ~mask))
    if outside:
        raise ValueError(
            f"{outside} marker pixels lie outside `mask`{where}; erase them or enlarge the mask."
        )


# --------------------------------------------------------------------------------------------
# frames
# --------------------------------------------------------------------------------------------


def _frame(array: Any, frame_axis: int | None, index: int) -> Any:
    """Return frame ``index`` of ``array`` along ``frame_axis`` (the array itself when None)."""
    if frame_axis is None or array is None:
        return array
    return array[(slice(None),) * frame_axis + (index,)]


def _run_frames(
    shape: tuple[int, ...],
    frame_axis: int | None,
    segment_frame: Callable[[int], NDArray],
    *,
    unique_ids: bool,
) -> Progress:
    """Segment each frame with ``segment_frame(index)``, yielding progress; return the stack.

    With ``unique_ids`` the labels of later frames are offset so that no id repeats.
    """
    if frame_axis is None:
        result = np.asarray(segment_frame(0), dtype=np.int32)
        yield (1, 1)
        return result
    n_frames = shape[frame_axis]
    out = np.zeros(shape, dtype=np.int32)
    offset = 0
    for index in range(n_frames):
        labels = np.asarray(segment_frame(index), dtype=np.int32)
        if unique_ids and offset:
            labels[labels > 0] += offset
        if unique_ids and labels.size:
            offset = max(offset, int(labels.max()))
        out[(slice(None),) * frame_axis + (index,)] = labels
        yield (index + 1, n_frames)
    return out


def _drain(steps: Progress) -> NDArray[np.int32]:
    """Run a progress generator to the end and return its result."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


# --------------------------------------------------------------------------------------------
# split touching objects
# --------------------------------------------------------------------------------------------


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


def _split_frame(
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


def iter_split_touching(
    mask: ArrayLike,
    *,
    min_distance: float = 5.0,
    spacing: Sequence[float] | None = None,
    h: float | None = None,
    frame_axis: int | None = None,
) -> Progress:
    """Validate the inputs of :func:`split_touching` and return its step generator.

    The generator yields ``(frames_done, n_frames)`` and returns the label image, so a GUI
    can show progress (``result = yield from iter_split_touching(...)``). Parameters are those
    of :func:`split_touching`. Invalid parameters, shapes and dtypes raise ``ValueError`` here,
    before any work; negative labels are found while a frame is read, from the generator.
    """
    mask = _as_array(mask)
    axis = _check_frame_axis(mask.ndim, frame_axis, "mask")
    _check_mask_dtype(mask)
    spatial = mask.ndim if axis is None else mask.ndim - 1
    sampling = _check_spacing(spacing, spatial)
    min_distance = _check_positive(min_distance, "min_distance")
    h = _check_positive(h, "h", allow_none=True)

    def segment_frame(index: int) -> NDArray[np.int32]:
        return _split_frame(np.asarray(_frame(mask, axis, index)), min_distance, sampling, h)

    return _run_frames(tuple(mask.shape), axis, segment_frame, unique_ids=True)


def split_touching(
    mask: ArrayLike,
    *,
    min_distance: float = 5.0,
    spacing: Sequence[float] | None = None,
    h: float | None = None,
    frame_axis: int | None = None,
) -> NDArray[np.int32]:
    """Split touching objects of a mask (or of each label of a label image) by watershed.

    The distance to the background is computed (anisotropic with ``spacing``), each object gets
    a marker at every maximum of the distance that is the highest within ``min_distance``, and
    the negated distance is flooded from the markers inside the mask.

    Parameters
    ----------
    mask : (M, N[, P]) array of bool or int
        Foreground mask, or a label image (0 is background). Each label is split on its own,
        so touching labels never merge. With ``frame_axis``, one more (time) axis.
    min_distance : float, optional
        Minimum distance between two markers of the same object, in the units of ``spacing``
        (pixels when ``spacing`` is None). A marker is the highest point of the box of
        half-width ``min_distance`` around it, and markers of one object closer than
        ``min_distance`` (Euclidean) are reduced to the highest one. Larger values split less.
    spacing : sequence of float, optional
        Physical pixel size along each spatial axis (e.g. a napari layer's ``scale``).
        Default: 1 on every axis.
    h : float, optional
        If given, only maxima of the distance at least ``h`` (physical units) above the saddle
        to a higher maximum become markers (h-maxima), which stops over-splitting of elongated
        or irregular objects. Each h-maximum plateau is one marker.
    frame_axis : int, optional
        Axis of a time series: each frame is split on its own. Ids stay unique over frames.

    Returns
    -------
    labels : (M, N[, P]) ndarray of int32
        One label per object, 0 outside the mask. Every connected part of a mask (every label
        of a label image) gets at least one label.

    Raises
    ------
    ValueError
        If ``mask`` is not 2D/3D (3D/4D with ``frame_axis``), not boolean or integer, has
        negative labels, or if ``spacing``, ``min_distance`` or ``h`` are invalid.
    """
    return _drain(
        iter_split_touching(
            mask, min_distance=min_distance, spacing=spacing, h=h, frame_axis=frame_axis
        )
    )


# --------------------------------------------------------------------------------------------
# seeded watershed
# --------------------------------------------------------------------------------------------


def _marker_kind(markers: Any, image: Any) -> str:
    """Return ``"labels"`` or ``"points"`` for ``markers``, or raise a clear ValueError."""
    if tuple(markers.shape) == tuple(image.shape):
        if not (markers.dtype == bool or np.issubdtype(markers.dtype, np.integer)):
            raise ValueError(
                f"`markers` as a label image must be integer, got dtype {markers.dtype}."
            )
        return "labels"
    if markers.ndim == 2 and markers.shape[1] == image.ndim:
        if not (np.issubdtype(markers.dtype, np.number) and markers.dtype != bool):
            raise ValueError(f"`markers` points must be numeric, got dtype {markers.dtype}.")
        return "points"
    hint = ""
    if markers.ndim == 2:
        hint = (
            f" As points they have {markers.shape[1]} coordinates but `image` is {image.ndim}D:"
            " give one coordinate per image axis (a Points layer of the image's dimensionality)."
        )
    raise ValueError(
        f"`markers` (shape {tuple(markers.shape)}) must be a label image of the shape of "
        f"`image` {tuple(image.shape)} or an (N, {image.ndim}) array of point coordinates.{hint}"
    )


def _flood(
    image: NDArray,
    markers: NDArray,
    mask: NDArray | None,
    compactness: float,
    gradient: bool,
    connectivity: int,
) -> NDArray[np.int32]:
    """One frame of :func:`watershed` (inputs already validated)."""
    from skimage.filters import sobel
    from skimage.segmentation import watershed as sk_watershed

    if not np.any(markers):
        return np.zeros(image.shape, dtype=np.int32)
    relief = sobel(image) if gradient else image
    labels = sk_watershed(
        relief, markers, connectivity=connectivity, mask=mask, compactness=compactness
    )
    return labels.astype(np.int32, copy=False)


def _point_labels(pixels: NDArray[np.intp], shape: tuple[int, ...]) -> NDArray[np.int32]:
    """Label image with point ``i`` painted as label ``i + 1``."""
    markers = np.zeros(shape, dtype=np.int32)
    markers[tuple(pixels.T)] = np.arange(1, len(pixels) + 1, dtype=np.int32)
    return markers


def iter_watershed(
    image: ArrayLike,
    markers: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    compactness: float = 0.0,
    gradient: bool = False,
    connectivity: int = 1,
    frame_axis: int | None = None,
) -> Progress:
    """Validate the inputs of :func:`watershed` and return its step generator.

    The generator yields ``(frames_done, n_frames)`` and returns the label image. Parameters
    are those of :func:`watershed`. Checks of shapes, dtypes and marker points raise
    ``ValueError`` here, before any work; checks that read a marker label image (empty, negative
    or outside the mask) raise from the generator, so a GUI does not read big data in its thread.
    """
    image = _as_array(image)
    markers = _as_array(markers)
    axis = _check_frame_axis(image.ndim, frame_axis, "image")
    _check_image(image)
    if mask is not None:
        mask = _as_array(mask)
        _check_same_shape(mask, image, "mask")
    kind = _marker_kind(markers, image)
    compactness = float(compactness)
    if not np.isfinite(compactness) or compactness < 0:
        raise ValueError(f"`compactness` must be >= 0, got {compactness!r}.")
    if connectivity not in range(1, image.ndim + 1):
        raise ValueError(f"`connectivity` must be 1..{image.ndim}, got {connectivity!r}.")
    spatial_connectivity = min(connectivity, image.ndim - (axis is not None))

    pixels = None
    if kind == "points":
        pixels = _points_to_pixels(np.asarray(markers, dtype=float), tuple(image.shape))
        if mask is not None:
            _check_points_in_mask(pixels, mask)
    seeded = []  # frames that had markers (label markers are read frame by frame)

    def frame_markers(index: int, shape: tuple[int, ...]) -> NDArray:
        if pixels is None:
            return np.asarray(_frame(markers, axis, index))
        if axis is None:
            return _point_labels(pixels, shape)
        labels = np.zeros(shape, dtype=np.int32)
        in_frame = np.flatnonzero(pixels[:, axis] == index)
        spatial_pixels = np.delete(pixels[in_frame], axis, axis=1)
        labels[tuple(spatial_pixels.T)] = in_frame.astype(np.int32) + 1
        return labels

    def segment_frame(index: int) -> NDArray[np.int32]:
        frame = np.asarray(_frame(image, axis, index))
        _check_finite(frame, "" if axis is None else f" in frame {index}")
        frame_mask = _frame(mask, axis, index)
        frame_mask = None if frame_mask is None else np.asarray(frame_mask, dtype=bool)
        seeds = frame_markers(index, frame.shape)
        if pixels is None:
            _check_label_markers(seeds, frame_mask, "" if axis is None else f" in frame {index}")
            if seeds.any():
                seeded.append(index)
        return _flood(frame, seeds, frame_mask, compactness, gradient, spatial_connectivity)

    steps = _run_frames(tuple(image.shape), axis, segment_frame, unique_ids=False)
    return steps if pixels is not None else _require_markers(steps, seeded)


def _require_markers(steps: Progress, seeded: list[int]) -> Progress:
    """Pass ``steps`` through; raise at the end if no frame had a marker label."""
    result = yield from steps
    if not seeded:
        raise ValueError("`markers` is empty (all zeros): paint or place at least one marker.")
    return result


def watershed(
    image: ArrayLike,
    markers: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    compactness: float = 0.0,
    gradient: bool = False,
    connectivity: int = 1,
    frame_axis: int | None = None,
) -> NDArray[np.int32]:
    """Seeded watershed of an intensity image (or of its gradient) from markers.

    Parameters
    ----------
    image : (M, N[, P]) array of float or int
        Intensity image; low values are flooded first (objects that are dark, or separated by
        bright edges, with ``gradient=True`` for edges). With ``frame_axis``, one more axis.
    markers : (M, N[, P]) array of int, or (K, image.ndim) array of float
        A label image of the shape of ``image`` (0: no marker; values are kept in the result)
        or the coordinates of ``K`` points, rounded to the nearest pixel; point ``i`` grows
        object ``i + 1``. With ``frame_axis`` a point's frame coordinate selects its frame.
    mask : (M, N[, P]) array of bool, optional
        Only pixels inside the mask are labelled. Markers must lie inside it.
    compactness : float, optional
        Compact watershed parameter (0: classic watershed); higher values give more regular
        regions.
    gradient : bool, optional
        Flood the Sobel gradient magnitude of each frame instead of the image itself.
    connectivity : int, optional
        Neighbourhood: 1 for faces (4-/6-connected), up to ``ndim`` for all neighbours.
    frame_axis : int, optional
        Axis of a time series: each frame is flooded on its own.

    Returns
    -------
    labels : (M, N[, P]) ndarray of int32
        The same as ``skimage.segmentation.watershed(image or sobel(image), marker_labels,
        mask=mask, compactness=compactness)`` frame by frame.

    Raises
    ------
    ValueError
        On no markers, marker points outside the image or the mask, marker labels outside the
        mask, points whose dimensionality differs from the image's, several points on one
        pixel, shape mismatches, or an image that is not 2D/3D (3D/4D with ``frame_axis``).
    """
    return _drain(
        iter_watershed(
            image,
            markers,
            mask=mask,
            compactness=compactness,
            gradient=gradient,
            connectivity=connectivity,
            frame_axis=frame_axis,
        )
    )
