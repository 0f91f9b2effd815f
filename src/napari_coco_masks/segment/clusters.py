"""Colour and texture clusters: k-means in Lab, SLIC superpixels, Felzenszwalb; picking segments.

Pure numpy / scikit-image / scikit-learn: no napari or Qt import lives here.

Each function returns a segment image (ids 1..n, 0 outside the ``mask``). Clicking segments adds
them to an object: :func:`segments_at` gives the ids under clicked points and
:func:`select_segments` turns picked ids into labels. Lengths (``sigma``) and areas
(``min_size``) are in the units of ``spacing`` (napari's ``layer.scale``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import check_spacing

__all__ = [
    "felzenszwalb_segments",
    "kmeans_colour",
    "segments_at",
    "select_segments",
    "slic_superpixels",
]


def _image(image: ArrayLike, channel_axis: int | None) -> tuple[np.ndarray, bool]:
    """(image with channels last, is_colour); RGBA loses its alpha."""
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(
            f"`image` has dtype {array.dtype}; convert it to an integer or float array"
        )
    if array.size == 0:
        raise ValueError(f"`image` (shape {array.shape}) is empty")
    if channel_axis is None:
        if array.ndim not in (2, 3):
            raise ValueError(f"a grey `image` must be 2D or 3D, got shape {array.shape}")
        return array, False
    array = np.moveaxis(array, channel_axis, -1)
    if array.shape[-1] not in (3, 4) or array.ndim not in (3, 4):
        raise ValueError(
            f"`image` (shape {np.shape(image)}) has {array.shape[-1]} channel(s) on axis "
            f"{channel_axis}; colour needs RGB or RGBA (3 or 4), or pass channel_axis=None for grey"
        )
    return array[..., :3], True


def _mask(mask: ArrayLike | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool)
    if m.shape != shape:
        raise ValueError(
            f"`mask` (shape {m.shape}) must have the spatial shape of `image` ({shape})"
        )
    if not m.any():
        raise ValueError("`mask` is empty: there is nothing to cluster")
    return m


def kmeans_colour(
    image: ArrayLike,
    n_clusters: int = 4,
    *,
    channel_axis: int | None = -1,
    space: str = "lab",
    mask: ArrayLike | None = None,
    sample: int | None = 100_000,
    random_state: int = 0,
    mini_batch: bool = False,
) -> NDArray[np.int32]:
    """Cluster pixels by colour (k-means in CIE Lab), or grey pixels by intensity.

    Parameters
    ----------
    image : (M, N[, P], 3|4) or (M, N[, P]) array_like
        RGB(A) image (``channel_axis``), or grey with ``channel_axis=None``.
    n_clusters : int
        Number of clusters.
    channel_axis : int or None
        Axis of the colour channels; None for a grey image.
    space : {"lab", "rgb"}
        Colour space of the distances (Lab: perceptual, :func:`skimage.color.rgb2lab`).
    mask : array_like of bool, optional
        Only these pixels are clustered; the others get 0.
    sample : int or None
        Fit the centres on at most this many pixels drawn at random (seeded), then assign every
        pixel to its nearest centre. None: fit on all pixels.
    random_state : int
        Seed of the sampling and of k-means (the same seed gives the same clusters).
    mini_batch : bool
        :class:`sklearn.cluster.MiniBatchKMeans` instead of :class:`~sklearn.cluster.KMeans`.

    Returns
    -------
    (M, N[, P]) ndarray of int32
        Cluster 1..n_clusters, numbered from the darkest centre (lowest L, or intensity) up.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.zeros((2, 4, 3), np.uint8); rgb[:, 2:] = (250, 20, 20)
    >>> kmeans_colour(rgb, 2).tolist()
    [[1, 1, 2, 2], [1, 1, 2, 2]]
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if space not in ("lab", "rgb"):
        raise ValueError(f"`space` must be 'lab' or 'rgb', got {space!r}")
    array, colour = _image(image, channel_axis)
    spatial = array.shape[:-1] if colour else array.shape
    keep = _mask(mask, spatial)
    if colour and space == "lab":
        from skimage.color import rgb2lab

        values = rgb2lab(array).reshape(-1, 3)
    else:
        values = array.reshape(-1, 3 if colour else 1).astype(np.float64)
    chosen = values if keep is None else values[keep.ravel()]
    if int(n_clusters) != n_clusters or not 1 <= n_clusters <= len(chosen):
        raise ValueError(
            f"`n_clusters` must be an integer from 1 to the number of pixels ({len(chosen)}), got {n_clusters!r}"
        )
    rng = np.random.default_rng(random_state)
    fit_on = chosen
    if sample is not None and len(chosen) > sample:
        fit_on = chosen[rng.choice(len(chosen), int(sample), replace=False)]
    model_type = MiniBatchKMeans if mini_batch else KMeans
    model = model_type(n_clusters=int(n_clusters), random_state=random_state, n_init=3).fit(fit_on)
    order = np.argsort(model.cluster_centers_[:, 0], kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(1, len(order) + 1)
    labels = np.zeros(values.shape[0], np.int32)
    assigned = model.labels_ if fit_on is chosen else model.predict(chosen)
    if keep is None:
        labels[:] = rank[assigned]
    else:
        labels[keep.ravel()] = rank[assigned]
    return labels.reshape(spatial)


def _px(value: float, spacing: float | Sequence[float] | None, ndim: int, name: str) -> np.ndarray:
    """A length ``value`` in the units of ``spacing`` as pixels per axis."""
    if value < 0 or not np.isfinite(value):
        raise ValueError(f"`{name}` must be >= 0, got {value!r}")
    return value / np.asarray(check_spacing(spacing, ndim))


def slic_superpixels(
    image: ArrayLike,
    n_segments: int = 100,
    compactness: float = 10.0,
    *,
    channel_axis: int | None = -1,
    sigma: float = 0.0,
    spacing: float | Sequence[float] | None = None,
    mask: ArrayLike | None = None,
    max_num_iter: int = 10,
) -> NDArray[np.int32]:
    """SLIC superpixels (:func:`skimage.segmentation.slic`), ids from 1.

    Parameters
    ----------
    image : (M, N[, P][, C]) array_like
        Colour image (``channel_axis``; converted to Lab by skimage) or grey (``None``).
    n_segments : int
        Approximate number of superpixels.
    compactness : float
        Colour versus space (higher: squarer superpixels). Grey images in [0, 1] need small
        values (about 0.1).
    channel_axis : int or None
        Axis of the channels; None for grey.
    sigma : float
        Gaussian smoothing first, in the units of ``spacing``.
    spacing : float or sequence of float, optional
        Pixel size per axis (SLIC's distances use it).
    mask : array_like of bool, optional
        Superpixels only inside the mask (0 outside).
    max_num_iter : int
        k-means iterations.

    Returns
    -------
    ndarray of int32
        ``skimage.segmentation.slic(..., start_label=1)`` with ``sigma`` in pixels.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.zeros((20, 20, 3), np.uint8); rgb[:, 10:] = (255, 0, 0)
    >>> np.unique(slic_superpixels(rgb, 4)).tolist()
    [1, 2, 3, 4]
    """
    from skimage.segmentation import slic

    array, colour = _image(image, channel_axis)
    spatial = array.shape[:-1] if colour else array.shape
    keep = _mask(mask, spatial)
    sigma_px = _px(sigma, spacing, len(spatial), "sigma")
    px = None if spacing is None else list(check_spacing(spacing, len(spatial)))
    segments = slic(
        array, n_segments=int(n_segments), compactness=float(compactness), max_num_iter=int(max_num_iter),
        sigma=sigma_px, spacing=px, channel_axis=-1 if colour else None, mask=keep, start_label=1,
    )  # fmt: skip
    return segments.astype(np.int32, copy=False)


def felzenszwalb_segments(
    image: ArrayLike,
    scale: float = 100.0,
    sigma: float = 0.8,
    min_size: float = 20.0,
    *,
    channel_axis: int | None = -1,
    spacing: float | Sequence[float] | None = None,
) -> NDArray[np.int32]:
    """Felzenszwalb's graph segmentation of a 2D image (:func:`skimage.segmentation.felzenszwalb`).

    Parameters
    ----------
    image : (M, N[, C]) array_like
        Colour (``channel_axis``) or grey (``None``) 2D image.
    scale : float
        Higher means larger segments.
    sigma : float
        Gaussian smoothing first, in the units of ``spacing`` (square pixels).
    min_size : float
        Smallest segment area, in units of ``spacing`` squared (rounded to whole pixels).
    channel_axis : int or None
        Axis of the channels; None for grey.
    spacing : float or (float, float), optional
        Pixel size; both axes must be equal.

    Returns
    -------
    (M, N) ndarray of int32
        skimage's segments plus 1 (ids from 1).

    Examples
    --------
    >>> import numpy as np
    >>> grey = np.zeros((6, 8)); grey[:, 4:] = 1
    >>> felzenszwalb_segments(grey, 1, 0, 2, channel_axis=None)[0].tolist()
    [1, 1, 1, 1, 2, 2, 2, 2]
    """
    from skimage.segmentation import felzenszwalb

    array, colour = _image(image, channel_axis)
    if array.ndim - colour != 2:
        raise ValueError(
            f"Felzenszwalb needs a 2D image, got shape {np.shape(image)}; run it per slice"
        )
    size = 1.0
    if spacing is not None:
        px = check_spacing(spacing, 2)
        if not np.isclose(px[0], px[1]):
            raise ValueError(
                f"Felzenszwalb needs square pixels, got spacing {tuple(px)}; resample the image first"
            )
        size = float(px[0])
    sigma_px = float(_px(sigma, None, 1, "sigma")[0]) / size
    min_px = int(round(float(_px(min_size, None, 1, "min_size")[0]) / size**2))
    segments = felzenszwalb(array, scale=float(scale), sigma=sigma_px, min_size=min_px,
                            channel_axis=-1 if colour else None)  # fmt: skip
    return (segments + 1).astype(np.int32)


def segments_at(segments: ArrayLike, points: ArrayLike) -> list[int]:
    """Ids of the segments under points (napari data coordinates, rounded to pixels).

    Points outside the image or on id 0 are left out; each id is given once, in click order.

    Examples
    --------
    >>> segments_at([[1, 1, 2], [3, 3, 2]], [[0.2, 0.9], [1, 0], [0, 1], [5, 5]])
    [1, 3]
    """
    seg = np.asarray(segments)
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    if pts.size == 0:
        return []
    if pts.shape[1] != seg.ndim:
        raise ValueError(f"`points` have {pts.shape[1]} coordinates but `segments` is {seg.ndim}D")
    idx = np.rint(pts).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < np.asarray(seg.shape)), axis=1)
    found = []
    for ident in seg[tuple(idx[inside].T)].tolist():
        if ident and ident not in found:
            found.append(int(ident))
    return found


def select_segments(
    segments: ArrayLike,
    picked: Sequence[int] | Mapping[int, Sequence[int]],
    *,
    label: int = 1,
    labels: ArrayLike | None = None,
) -> NDArray[np.int32]:
    """Labels from picked segments: every pixel of a picked segment gets its object's label.

    Parameters
    ----------
    segments : array_like of int
        Segment ids (from :func:`kmeans_colour`, :func:`slic_superpixels`, ...).
    picked : sequence of int, or mapping of label -> sequence of int
        The segment ids of one object (painted ``label``), or of several objects.
    label : int
        Label of the object when ``picked`` is a sequence.
    labels : array_like of int, optional
        Existing labels to add to (a copy is returned; picked pixels are painted over).

    Returns
    -------
    ndarray of int32

    Raises
    ------
    ValueError
        An id that is not in ``segments``, or a label < 1.

    Examples
    --------
    >>> select_segments([[1, 1, 2], [3, 3, 2]], [2, 3], label=5).tolist()
    [[0, 0, 5], [5, 5, 5]]
    >>> select_segments([[1, 1, 2], [3, 3, 2]], {1: [1], 2: [2]}).tolist()
    [[1, 1, 2], [0, 0, 2]]
    """
    seg = np.asarray(segments)
    if not np.issubdtype(seg.dtype, np.integer):
        raise ValueError(f"`segments` has dtype {seg.dtype}; it must be an integer segment image")
    groups: dict[int, Any] = dict(picked) if isinstance(picked, Mapping) else {int(label): picked}
    if labels is None:
        out = np.zeros(seg.shape, np.int32)
    else:
        out = np.array(labels, dtype=np.int32)
        if out.shape != seg.shape:
            raise ValueError(
                f"`labels` (shape {out.shape}) must have the shape of `segments` ({seg.shape})"
            )
    present = np.unique(seg)
    for value, ids in groups.items():
        ids = np.asarray(list(ids), dtype=np.int64)
        if int(value) < 1:
            raise ValueError(f"labels must be >= 1 (0 is the background), got {value!r}")
        missing = np.setdiff1d(ids, present)
        if missing.size:
            raise ValueError(
                f"segment id(s) {missing.tolist()} are not in `segments` (ids "
                f"{int(present.min())}..{int(present.max())}): pick ids of the current segmentation"
            )
        out[np.isin(seg, ids)] = int(value)
    return out
