"""Pixel classifier: learn classes from a few strokes (or from COCO masks) and segment by example.

Pure numpy / scikit-image / scikit-learn: no napari or Qt import lives here.

* Features are :func:`skimage.feature.multiscale_basic_features` (intensity, edges, texture at
  Gaussian scales from ``sigma_min`` to ``sigma_max``). The scales are lengths in the units of
  ``spacing`` (napari's ``layer.scale``) and are converted to pixels for each image, so one
  classifier works on images of different pixel sizes. With square pixels the features are
  exactly skimage's; with anisotropic pixels each axis gets its own sigma in pixels.
* The classifier is a scikit-learn :class:`~sklearn.ensemble.RandomForestClassifier`, trained on
  the labelled pixels of one or several images (``0`` = unlabelled; any other value is a class).
  :func:`coco_training_labels` turns COCO annotations into such label images.
* :func:`predict_pixels` (:func:`iter_predict_pixels` with progress per frame) segments a 2D/3D
  image or a stack (``frame_axis``), returning the class of each
  pixel and optionally the class probabilities; :func:`semantic_to_instances` turns classes into objects.
* :func:`save_classifier` / :func:`load_classifier` use skops (no pickle): the file carries the
  feature settings, the training image dtype and channel count, and the versions of
  scikit-learn, scikit-image and this plugin. A classifier is refused (with the reason) on an
  image or with feature settings it was not trained for.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._frames import drain
from ._validate import check_connectivity, check_finite, check_spacing

__all__ = [
    "FORMAT",
    "TRUSTED_TYPES",
    "FeatureSettings",
    "PixelClassifier",
    "coco_training_labels",
    "iter_predict_pixels",
    "load_classifier",
    "pixel_features",
    "predict_pixels",
    "save_classifier",
    "semantic_to_instances",
    "train_classifier",
]

#: Name and version of the file format written by :func:`save_classifier`.
FORMAT = ("napari-coco-masks pixel classifier", 1)

#: Fewest labelled pixels per class :func:`train_classifier` accepts by default.
MIN_PIXELS_PER_CLASS = 20

#: Pixels predicted per call of the forest (bounds the probability buffers, not the result).
_CHUNK = 1 << 18

#: Frames with more pixels than this get their features in bands along the first axis, each
#: with a halo of context so that the features are exactly the whole frame's: memory stays
#: bounded on big images (about 100 bytes per pixel of a band with skimage's default scales).
MAX_FEATURE_PIXELS = 1 << 22

#: Types a classifier file may contain beyond skops' defaults (checked before loading): the
#: trees of the forest. Anything else is refused, so a file cannot smuggle in other objects.
TRUSTED_TYPES = frozenset({"sklearn.tree._tree.Tree"})


@dataclass(frozen=True)
class FeatureSettings:
    """What :func:`pixel_features` computes; stored with a classifier and checked on use.

    Attributes
    ----------
    intensity, edges, texture : bool
        Gaussian-smoothed intensity, its Sobel magnitude, Hessian eigenvalues (skimage's groups).
    sigma_min, sigma_max : float
        Smallest and largest Gaussian scale, in the units of ``spacing`` (pixels by default).
    num_sigma : int or None
        Number of scales between them (None: ``sigma_min`` times powers of 2, as skimage).
    """

    intensity: bool = True
    edges: bool = True
    texture: bool = True
    sigma_min: float = 0.5
    sigma_max: float = 16.0
    num_sigma: int | None = None

    def __post_init__(self) -> None:
        if not (self.intensity or self.edges or self.texture):
            raise ValueError("FeatureSettings: switch on at least one of intensity, edges, texture")
        lo, hi = float(self.sigma_min), float(self.sigma_max)
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
            raise ValueError(
                f"FeatureSettings: need 0 < sigma_min <= sigma_max, got sigma_min={self.sigma_min!r}"
                f", sigma_max={self.sigma_max!r}"
            )
        if self.num_sigma is not None and (
            int(self.num_sigma) != self.num_sigma or self.num_sigma < 1
        ):
            raise ValueError(
                f"FeatureSettings: num_sigma must be an integer >= 1, got {self.num_sigma!r}"
            )

    @property
    def sigmas(self) -> NDArray[np.float64]:
        """The Gaussian scales in physical units (skimage's spacing of scales)."""
        lo, hi = float(self.sigma_min), float(self.sigma_max)
        n = self.num_sigma if self.num_sigma is not None else int(np.log2(hi) - np.log2(lo) + 1)
        return np.logspace(np.log2(lo), np.log2(hi), num=int(n), base=2, endpoint=True)

    def n_features(self, n_channels: int = 1, ndim: int = 2) -> int:
        """Number of features per pixel for ``n_channels`` channels of an ``ndim``-D image."""
        per_sigma = int(self.intensity) + int(self.edges) + (ndim if self.texture else 0)
        return n_channels * per_sigma * len(self.sigmas)


@dataclass
class PixelClassifier:
    """A trained random forest with everything needed to use it again.

    Attributes
    ----------
    forest : sklearn.ensemble.RandomForestClassifier
        The fitted forest; its classes are the label values it was trained on.
    settings : FeatureSettings
        The features it was trained on.
    n_channels : int
        Channels of the training images (1: grey).
    ndim : int
        Spatial dimensions of the training images (2 or 3).
    dtype : str
        dtype of the training images (integer images are scaled by their dtype's range).
    class_names : dict
        Optional names of the classes (label value -> name).
    versions : dict
        Versions of scikit-learn, scikit-image and napari-coco-masks at training time.
    """

    forest: Any
    settings: FeatureSettings
    n_channels: int
    ndim: int
    dtype: str
    class_names: dict[int, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def classes(self) -> NDArray[np.int64]:
        """The label values the classifier predicts."""
        return np.asarray(self.forest.classes_, dtype=np.int64)


# --------------------------------------------------------------------------- validation


def _versions() -> dict[str, str]:
    import skimage
    import sklearn

    from .. import __version__

    return {"scikit-learn": sklearn.__version__, "scikit-image": skimage.__version__,
            "napari-coco-masks": __version__}  # fmt: skip


def _as_image(image: ArrayLike, name: str = "image") -> np.ndarray:
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(
            f"`{name}` has dtype {array.dtype}; convert it to an integer or float array"
        )
    if array.size == 0:
        raise ValueError(f"`{name}` (shape {array.shape}) is empty")
    check_finite(array, name)
    return array


def _spatial(
    image: np.ndarray, channel_axis: int | None, name: str = "image"
) -> tuple[np.ndarray, int]:
    """Move the channel axis last; return (image with channels last or no channel axis, n_channels)."""
    if channel_axis is None:
        spatial = image
        n_channels = 1
    else:
        if not -image.ndim <= channel_axis < image.ndim:
            raise ValueError(
                f"`channel_axis`={channel_axis} is out of range for `{name}` of shape {image.shape}"
            )
        spatial = np.moveaxis(image, channel_axis, -1)
        n_channels = spatial.shape[-1]
    ndim = spatial.ndim - (channel_axis is not None)
    if ndim not in (2, 3):
        hint = " (pass `channel_axis` for colour, `frame_axis` for a stack)" if ndim == 4 else ""
        raise ValueError(
            f"`{name}` (shape {image.shape}) must be 2D or 3D, got {ndim} spatial axes{hint}"
        )
    return spatial, n_channels


# --------------------------------------------------------------------------- features


def _features_per_axis(
    image: np.ndarray, settings: FeatureSettings, sigmas_px: np.ndarray, n_channels: int
) -> np.ndarray:
    """skimage's feature recipe with one sigma per axis (``sigmas_px``: (n_sigma, ndim))."""
    from skimage import feature, filters
    from skimage.util import img_as_float32

    channels = (
        [image]
        if n_channels == 1 and image.ndim == sigmas_px.shape[1]
        else [image[..., c] for c in range(n_channels)]
    )
    out = []
    for channel in channels:
        img = np.ascontiguousarray(img_as_float32(channel))
        for sigma in sigmas_px:
            smooth = filters.gaussian(img, sigma=tuple(sigma), preserve_range=False)
            if settings.intensity:
                out.append(smooth)
            if settings.edges:
                out.append(filters.sobel(smooth))
            if settings.texture:
                grads = np.gradient(smooth)
                h_elems = [
                    np.gradient(grads[a], axis=b)
                    for a in range(img.ndim) for b in range(a, img.ndim)
                ]  # fmt: skip
                out.extend(feature.hessian_matrix_eigvals(h_elems))
    return np.stack(out, axis=-1)


def pixel_features(
    image: ArrayLike,
    settings: FeatureSettings | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    workers: int | None = 1,
) -> NDArray[np.float32]:
    """Features of every pixel (:func:`skimage.feature.multiscale_basic_features`).

    Parameters
    ----------
    image : (M, N[, P]) array_like
        Grey image, or with ``channel_axis`` a multichannel one.
    settings : FeatureSettings, optional
        Which features, at which scales (in the units of ``spacing``). Default: skimage's.
    spacing : float or sequence of float, optional
        Pixel size per spatial axis; sigmas are divided by it.
    channel_axis : int, optional
        Axis of the channels (features are computed per channel and concatenated).
    workers : int or None
        Threads for the scales (skimage's ``workers``; None: all cores).

    Returns
    -------
    (M, N[, P], F) ndarray of float32
        ``F == settings.n_features(n_channels, ndim)``.

    Examples
    --------
    >>> import numpy as np
    >>> f = pixel_features(np.zeros((8, 9), np.uint8), FeatureSettings(sigma_min=1, sigma_max=4))
    >>> f.shape
    (8, 9, 12)
    """
    from skimage.feature import multiscale_basic_features

    settings = FeatureSettings() if settings is None else settings
    spatial, n_channels = _spatial(_as_image(image), channel_axis)
    ndim = spatial.ndim - (channel_axis is not None)
    px = check_spacing(spacing, ndim)
    if len(set(px)) == 1:
        s = px[0]
        return multiscale_basic_features(
            spatial, intensity=settings.intensity, edges=settings.edges, texture=settings.texture,
            sigma_min=settings.sigmas[0] / s, sigma_max=settings.sigmas[-1] / s,
            num_sigma=len(settings.sigmas), **_workers_kwarg(workers),
            channel_axis=-1 if channel_axis is not None else None,
        ).astype(np.float32, copy=False)  # fmt: skip
    sigmas_px = settings.sigmas[:, None] / np.asarray(px)[None, :]
    return _features_per_axis(spatial, settings, sigmas_px, n_channels).astype(
        np.float32, copy=False
    )


# --------------------------------------------------------------------------- training


def _check_labels(labels: ArrayLike, shape: tuple[int, ...], k: int) -> np.ndarray:
    array = np.asarray(labels)
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        raise ValueError(
            f"`labels[{k}]` has dtype {array.dtype}; it must be an integer label image"
        )
    if array.shape != shape:
        raise ValueError(
            f"`labels[{k}]` (shape {array.shape}) must have the spatial shape of `images[{k}]` "
            f"(shape {shape})"
        )
    if array.size and array.min() < 0:
        raise ValueError(
            f"`labels[{k}]` has negative values; use 0 for unlabelled and 1, 2, ... for classes"
        )
    return array.astype(np.int64, copy=False)


def _check_enough(counts: dict[int, int], min_pixels: int) -> None:
    """Raise one message naming how many more pixels each class (or a second class) needs."""
    if len(counts) < 2:
        have = f"only class {next(iter(counts))} is labelled" if counts else "no pixel is labelled"
        raise ValueError(
            f"{have}: paint at least {min_pixels} pixels of at least 2 classes (0 = unlabelled; "
            "e.g. 1 = background, 2 = object)"
        )
    short = {c: min_pixels - n for c, n in counts.items() if n < min_pixels}
    if short:
        parts = ", ".join(
            f"class {c}: {counts[c]} labelled, {more} more" for c, more in short.items()
        )
        raise ValueError(
            f"too few labelled pixels to train ({parts}); paint at least {min_pixels} pixels per class"
        )


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def train_classifier(
    images: ArrayLike | Sequence[ArrayLike],
    labels: ArrayLike | Sequence[ArrayLike],
    settings: FeatureSettings | None = None,
    *,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    class_names: dict[int, str] | None = None,
    n_estimators: int = 50,
    max_depth: int | None = 10,
    max_samples: float | None = 0.1,
    min_pixels: int = MIN_PIXELS_PER_CLASS,
    random_state: int | None = 0,
    n_jobs: int | None = 1,
) -> PixelClassifier:
    """Train a random forest on the labelled pixels of one or several images.

    Parameters
    ----------
    images : (M, N[, P][, C]) array_like, or a list of them
        Training images (all with the same channels); a list for several images.
    labels : (M, N[, P]) array_like of int, or a list of them
        One label image per image: 0 = unlabelled, any other value is a class (sparse strokes,
        or dense masks from :func:`coco_training_labels`).
    settings : FeatureSettings, optional
        Features (default: skimage's).
    spacing : float or sequence of float, optional
        Pixel size of the images (sigmas are in its units).
    channel_axis : int, optional
        Channel axis of the images.
    class_names : dict, optional
        Names of the classes, kept with the classifier.
    n_estimators, max_depth, max_samples, random_state, n_jobs
        Passed to :class:`sklearn.ensemble.RandomForestClassifier` (``max_samples``: fraction of
        the labelled pixels each tree sees, at least 2,000; None: all of them). Classes are
        weighted by their inverse frequency (``class_weight="balanced"``): strokes of the
        background are usually longer than those of the objects.
    min_pixels : int
        Fewest labelled pixels per class.

    Returns
    -------
    PixelClassifier

    Raises
    ------
    ValueError
        Fewer than 2 classes or fewer than ``min_pixels`` pixels of a class (the message says how
        many more), shape or dtype mismatches.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((20, 20), np.uint8); image[:, 10:] = 200
    >>> strokes = np.zeros((20, 20), np.uint8); strokes[:, 2] = 1; strokes[:, 17] = 2
    >>> clf = train_classifier(image, strokes, min_pixels=10, n_estimators=5)
    >>> clf.classes.tolist()
    [1, 2]
    """
    from sklearn.ensemble import RandomForestClassifier

    settings = FeatureSettings() if settings is None else settings
    image_list, label_list = _as_list(images), _as_list(labels)
    if len(image_list) != len(label_list):
        raise ValueError(
            f"got {len(image_list)} image(s) but {len(label_list)} label image(s): give one per image"
        )
    if not image_list:
        raise ValueError("`images` is empty: give at least one image with its labels")
    xs, ys, layout = [], [], None
    for k, (image, lab) in enumerate(zip(image_list, label_list, strict=True)):
        array = _as_image(image, f"images[{k}]")
        spatial, n_channels = _spatial(array, channel_axis, f"images[{k}]")
        ndim = spatial.ndim - (channel_axis is not None)
        this = (n_channels, ndim, str(array.dtype))
        if layout is not None and this != layout:
            raise ValueError(
                f"`images[{k}]` has {n_channels} channel(s), {ndim}D, {array.dtype}, but `images[0]` "
                f"has {layout[0]}, {layout[1]}D, {layout[2]}: train on images of one kind"
            )
        layout = this
        lab = _check_labels(lab, spatial.shape[:ndim], k)
        where = np.flatnonzero(lab)
        if not where.size:
            continue
        for r0, r1, features in _feature_bands(array, settings, spacing, channel_axis):
            band = lab[r0:r1].ravel()
            keep = np.flatnonzero(band)
            xs.append(features.reshape(-1, features.shape[-1])[keep])
            ys.append(band[keep])
    y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    values, counts = np.unique(y, return_counts=True)
    _check_enough(dict(zip(values.tolist(), counts.tolist(), strict=True)), int(min_pixels))
    x = np.concatenate(xs)
    forest = RandomForestClassifier(
        n_estimators=int(n_estimators), max_depth=max_depth,
        max_samples=_samples_per_tree(max_samples, len(y)),
        random_state=random_state, n_jobs=n_jobs, class_weight="balanced",
    )  # fmt: skip
    forest.fit(x, y)
    n_channels, ndim, dtype = layout  # type: ignore[misc]
    names = {int(k): str(v) for k, v in (class_names or {}).items()}
    return PixelClassifier(forest, settings, n_channels, ndim, dtype, names, _versions())


def _samples_per_tree(fraction: float | None, n: int) -> int | None:
    """Pixels each tree draws: ``fraction`` of them, but at least 2,000 (or all)."""
    if fraction is None:
        return None
    if not 0 < fraction <= 1:
        raise ValueError(f"`max_samples` must be a fraction in (0, 1] or None, got {fraction!r}")
    return min(n, max(2000, int(fraction * n)))


def coco_training_labels(
    dataset: Any,
    image_positions: Sequence[int] | None = None,
    *,
    by: str = "category",
) -> tuple[list[NDArray[np.int32]], dict[int, str]]:
    """Dense training labels from COCO annotations: one label image per image.

    Pixels outside every annotation are class 1 (background). With ``by="category"`` a pixel of
    an annotation of the ``j``-th category of the file is class ``j + 2``; with
    ``by="object"`` every annotated pixel is class 2. Masks are pycocotools-exact; where
    annotations overlap, the smaller one wins (the reader's paint order).

    Parameters
    ----------
    dataset : CocoDataset, dict or path
        The COCO dataset.
    image_positions : sequence of int, optional
        Positions of the annotated images in the file's ``images`` list (default: every image
        that has at least one annotation).
    by : {"category", "object"}
        One class per category, or one class for all objects.

    Returns
    -------
    labels : list of (H, W) ndarray of int32
        One per image position, in order.
    class_names : dict
        Class value -> name (``1: "background"``).

    Examples
    --------
    >>> from importlib.resources import files
    >>> coins = files("napari_coco_masks") / "data" / "coins.json"
    >>> labels, names = coco_training_labels(str(coins), by="object")
    >>> names, labels[0].shape
    ({1: 'background', 2: 'object'}, (303, 384))
    """
    from ..coco.masks import _dataset
    from ..coco.raster import rasterize_image

    if by not in ("category", "object"):
        raise ValueError(f"`by` must be 'category' or 'object', got {by!r}")
    data = _dataset(dataset)
    if image_positions is None:
        image_positions = [i for i in range(len(data.images)) if data.image_annotations(i)]
        if not image_positions:
            raise ValueError("the dataset has no annotated image to train on")
    out = []
    for i in image_positions:
        if not 0 <= int(i) < len(data.images):
            raise ValueError(
                f"image position {i} is out of range: the dataset has {len(data.images)} images"
            )
        anns = data.image_annotations(int(i))
        painted = rasterize_image(data, int(i), per_image=True)
        lut = np.ones(len(anns) + 1, dtype=np.int32)
        for k, ann in enumerate(anns, start=1):
            lut[k] = 2 if by == "object" else ann.category_position + 2
        out.append(lut[painted])
    if by == "object":
        names = {1: "background", 2: "object"}
    else:
        names = {1: "background", **{c.position + 2: c.name for c in data.categories}}
    return out, names


# --------------------------------------------------------------------------- prediction


def _check_usable(
    clf: PixelClassifier,
    array: np.ndarray,
    n_channels: int,
    ndim: int,
    settings: FeatureSettings | None,
) -> None:
    """Refuse, with the reason, an image or settings the classifier was not trained for."""
    if settings is not None and settings != clf.settings:
        diff = [
            f"{k}={v!r} (trained with {getattr(clf.settings, k)!r})"
            for k, v in asdict(settings).items() if getattr(clf.settings, k) != v
        ]  # fmt: skip
        raise ValueError(
            "the classifier was trained on other feature settings: "
            + ", ".join(diff)
            + "; use its own settings (classifier.settings) or train a new classifier"
        )
    if n_channels != clf.n_channels:
        raise ValueError(
            f"the classifier was trained on images of {clf.n_channels} channel(s) but the image "
            f"(shape {array.shape}) has {n_channels}: pass `channel_axis` for colour, pick the "
            "same channels, or train a new classifier"
        )
    if ndim != clf.ndim:
        raise ValueError(
            f"the classifier was trained on {clf.ndim}D images but the image is {ndim}D"
        )
    if str(array.dtype) != clf.dtype and (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(np.dtype(clf.dtype), np.integer)
    ):
        raise ValueError(
            f"the classifier was trained on {clf.dtype} images but the image is {array.dtype}: "
            "intensity features are scaled by the dtype's range, so convert the image to "
            f"{clf.dtype} or train a new classifier"
        )
    expected = clf.settings.n_features(clf.n_channels, clf.ndim)
    if getattr(clf.forest, "n_features_in_", expected) != expected:
        raise ValueError(
            f"the forest expects {clf.forest.n_features_in_} features but its settings give "
            f"{expected}: the file is inconsistent; train a new classifier"
        )


def _feature_bands(
    frame: np.ndarray, settings: FeatureSettings, spacing: Any, channel_axis: int | None
) -> Generator[tuple[int, int, np.ndarray], None, None]:
    """Yield ``(start, stop, features of rows start:stop)`` covering the frame's first axis.

    A band is computed with ``halo`` more rows on each side (the Gaussian's radius, 4 sigma as
    in skimage, plus 3 for the Sobel and the Hessian's gradients), so its features equal the
    whole frame's.
    """
    spatial, _ = _spatial(frame, channel_axis)
    ndim = spatial.ndim - (channel_axis is not None)
    channels = -1 if channel_axis is not None else None
    n_rows = spatial.shape[0]
    band = max(1, MAX_FEATURE_PIXELS // math.prod(spatial.shape[1:ndim]))
    if band >= n_rows:
        yield 0, n_rows, pixel_features(spatial, settings, spacing=spacing, channel_axis=channels)
        return
    row_px = check_spacing(spacing, ndim)[0]
    halo = int(4.0 * settings.sigmas[-1] / row_px + 0.5) + 3
    for start in range(0, n_rows, band):
        stop = min(start + band, n_rows)
        lo, hi = max(0, start - halo), min(n_rows, stop + halo)
        features = pixel_features(spatial[lo:hi], settings, spacing=spacing, channel_axis=channels)
        yield start, stop, features[start - lo : stop - lo]


def _predict_frame(
    clf: PixelClassifier,
    frame: np.ndarray,
    spacing: Any,
    channel_axis: int | None,
    with_proba: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    classes = clf.forest.classes_
    spatial, _ = _spatial(frame, channel_axis)
    shape = spatial.shape[: spatial.ndim - (channel_axis is not None)]
    labels = np.empty(shape, dtype=np.int64)
    proba = np.empty((*shape, len(classes)), np.float32) if with_proba else None
    for r0, r1, features in _feature_bands(frame, clf.settings, spacing, channel_axis):
        flat = features.reshape(-1, features.shape[-1])
        out = labels[r0:r1].reshape(-1)
        out_p = None if proba is None else proba[r0:r1].reshape(-1, len(classes))
        for start in range(0, flat.shape[0], _CHUNK):
            p = clf.forest.predict_proba(flat[start : start + _CHUNK])
            out[start : start + _CHUNK] = classes[np.argmax(p, axis=1)]
            if out_p is not None:
                out_p[start : start + _CHUNK] = p
    return labels, proba


def iter_predict_pixels(
    classifier: PixelClassifier,
    image: ArrayLike,
    *,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    frame_axis: int | None = None,
    probabilities: bool = False,
    settings: FeatureSettings | None = None,
) -> Generator[tuple[int, int], None, Any]:
    """Validate the inputs of :func:`predict_pixels` and return its step generator.

    Every check (channels, dimensionality, dtype, settings, axes) raises here, before any work;
    the generator yields ``(frames_done, n_frames)`` after each frame (one for a single image)
    and returns what :func:`predict_pixels` returns, so a GUI can show progress and stop.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((20, 20), np.uint8); image[:, 10:] = 200
    >>> strokes = np.zeros((20, 20), np.uint8); strokes[:, 2] = 1; strokes[:, 17] = 2
    >>> clf = train_classifier(image, strokes, min_pixels=10, n_estimators=5)
    >>> steps = iter_predict_pixels(clf, np.stack([image, image[:, ::-1]]), frame_axis=0)
    >>> next(steps), next(steps)
    ((1, 2), (2, 2))
    """
    array = _as_image(image)
    axis = out_axis = None
    if frame_axis is not None:
        if not -array.ndim <= frame_axis < array.ndim:
            raise ValueError(
                f"`frame_axis`={frame_axis} is out of range for an image of shape {array.shape}"
            )
        axis = out_axis = frame_axis % array.ndim
        if channel_axis is not None:
            channel_axis = channel_axis % array.ndim
            if channel_axis == axis:
                raise ValueError("`frame_axis` and `channel_axis` must be different axes")
            out_axis -= channel_axis < axis  # the result has no channel axis
            channel_axis -= channel_axis > axis
    first = array if axis is None else np.take(array, 0, axis=axis)
    spatial, n_channels = _spatial(first, channel_axis)
    ndim = spatial.ndim - (channel_axis is not None)
    _check_usable(classifier, array, n_channels, ndim, settings)
    check_spacing(spacing, ndim)
    dtype = np.min_scalar_type(int(classifier.classes.max()))
    n = 1 if axis is None else array.shape[axis]

    def steps() -> Generator[tuple[int, int], None, Any]:
        results = []
        for i in range(n):
            frame = array if axis is None else np.take(array, i, axis=axis)
            results.append(_predict_frame(classifier, frame, spacing, channel_axis, probabilities))
            yield i + 1, n
        if axis is None:
            labels, proba = results[0][0].astype(dtype), results[0][1]
        else:
            labels = np.stack([r[0] for r in results], axis=out_axis).astype(dtype)
            proba = np.stack([r[1] for r in results], axis=out_axis) if probabilities else None
        return (labels, proba) if probabilities else labels

    return steps()


def predict_pixels(
    classifier: PixelClassifier,
    image: ArrayLike,
    *,
    spacing: float | Sequence[float] | None = None,
    channel_axis: int | None = None,
    frame_axis: int | None = None,
    probabilities: bool = False,
    settings: FeatureSettings | None = None,
) -> NDArray[np.integer] | tuple[NDArray[np.integer], NDArray[np.float32]]:
    """Classify every pixel of an image (or of every frame of a stack).

    Parameters
    ----------
    classifier : PixelClassifier
        From :func:`train_classifier` or :func:`load_classifier`.
    image : (M, N[, P][, C]) array_like, or with ``frame_axis`` one more axis
        The image, of the channels, dimensionality and dtype the classifier was trained on.
    spacing : float or sequence of float, optional
        Pixel size of the spatial axes (sigmas are physical, so this may differ from training).
    channel_axis : int, optional
        Channel axis (counted in ``image``).
    frame_axis : int, optional
        Axis of a stack: each frame is classified on its own.
    probabilities : bool
        Also return the class probabilities.
    settings : FeatureSettings, optional
        The settings the caller expects; refused if they are not the classifier's.

    Returns
    -------
    labels : ndarray
        The class value of each pixel: ``image``'s shape without the channel axis (the frame
        axis stays where it was), the smallest unsigned dtype that holds the classes.
    probabilities : ndarray of float32, only with ``probabilities=True``
        ``labels``'s shape plus a last axis, one per class of ``classifier.classes``.

    Raises
    ------
    ValueError
        Channels, dimensionality, dtype or settings the classifier was not trained for.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((20, 20), np.uint8); image[:, 10:] = 200
    >>> strokes = np.zeros((20, 20), np.uint8); strokes[:, 2] = 1; strokes[:, 17] = 2
    >>> clf = train_classifier(image, strokes, min_pixels=10, n_estimators=5)
    >>> predict_pixels(clf, image)[0, [0, 5, 14, 19]].tolist()
    [1, 1, 2, 2]
    """
    return drain(
        iter_predict_pixels(
            classifier, image, spacing=spacing, channel_axis=channel_axis, frame_axis=frame_axis,
            probabilities=probabilities, settings=settings,
        )
    )  # fmt: skip


def semantic_to_instances(
    semantic: ArrayLike,
    classes: int | Sequence[int],
    *,
    connectivity: int = 1,
    split: Callable[[np.ndarray], np.ndarray] | None = None,
) -> NDArray[np.int32]:
    """Objects of the pixels of ``classes``: connected components, or a custom split.

    Parameters
    ----------
    semantic : (M, N[, P]) array_like of int
        Class of each pixel (from :func:`predict_pixels`).
    classes : int or sequence of int
        The object class(es); other classes are background.
    connectivity : int
        1 for face neighbours, up to ``ndim`` for all (connected components only).
    split : callable, optional
        ``split(mask) -> labels`` instead of connected components, e.g.
        ``functools.partial(segment.watershed.split_touching, min_distance=5)``.

    Returns
    -------
    (M, N[, P]) ndarray of int32
        Objects 1..n, 0 elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> semantic_to_instances(np.array([[1, 2, 1, 2, 2]]), 2).tolist()
    [[0, 1, 0, 2, 2]]
    """
    from scipy import ndimage as ndi

    array = np.asarray(semantic)
    mask = np.isin(array, np.atleast_1d(np.asarray(classes)))
    if split is not None:
        return np.asarray(split(mask)).astype(np.int32, copy=False)
    structure = check_connectivity(connectivity, array.ndim)
    return ndi.label(mask, structure=structure)[0].astype(np.int32, copy=False)


# --------------------------------------------------------------------------- files


def save_classifier(classifier: PixelClassifier, path: str | os.PathLike) -> Path:
    """Write a classifier to a skops file (no pickle), atomically.

    The file holds the forest, the feature settings, the training images' channels,
    dimensionality and dtype, the class names and the versions of scikit-learn,
    scikit-image and napari-coco-masks.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> image = np.zeros((20, 20), np.uint8); image[:, 10:] = 200
    >>> strokes = np.zeros((20, 20), np.uint8); strokes[:, 2] = 1; strokes[:, 17] = 2
    >>> clf = train_classifier(image, strokes, min_pixels=10, n_estimators=5)
    >>> path = save_classifier(clf, os.path.join(tempfile.mkdtemp(), "coins.skops"))
    >>> load_classifier(path).settings == clf.settings
    True
    """
    import skops.io as sio

    from ..coco.write import write_bytes

    payload = {
        "format": FORMAT[0], "format_version": FORMAT[1], "forest": classifier.forest,
        "settings": {k: v for k, v in asdict(classifier.settings).items() if v is not None},
        "n_channels": int(classifier.n_channels), "ndim": int(classifier.ndim),
        "dtype": str(classifier.dtype),
        "class_names": {str(k): str(v) for k, v in classifier.class_names.items()},
        "versions": dict(classifier.versions or _versions()),
    }  # fmt: skip
    return write_bytes(sio.dumps(payload), path)


def load_classifier(path: str | os.PathLike) -> PixelClassifier:
    """Read a classifier written by :func:`save_classifier`.

    Nothing but skops' default types and the forest's trees (:data:`TRUSTED_TYPES`) is loaded;
    no pickle.
    A file written with another version of scikit-learn or scikit-image warns that
    predictions may differ.

    Raises
    ------
    ValueError
        Not a classifier file of this plugin, a newer format, or an untrusted type in it.
    """
    import skops.io as sio

    path = Path(path)
    data = path.read_bytes()
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises several kinds on a file that is not its own
        raise ValueError(f"{path}: not a skops classifier file ({exc})") from None
    refused = sorted(set(untrusted) - TRUSTED_TYPES)
    if refused:
        raise ValueError(
            f"{path}: refusing to load types a pixel classifier does not hold: {refused}; "
            "load only classifiers saved with save_classifier"
        )
    payload = sio.loads(data, trusted=untrusted)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT[0]:
        raise ValueError(
            f"{path}: not a napari-coco-masks pixel classifier (save one with save_classifier)"
        )
    if int(payload.get("format_version", 0)) > FORMAT[1]:
        raise ValueError(
            f"{path}: classifier format {payload['format_version']} is newer than this plugin's "
            f"({FORMAT[1]}): update napari-coco-masks"
        )
    missing = [k for k in ("forest", "settings", "n_channels", "ndim", "dtype") if k not in payload]
    if missing:
        raise ValueError(
            f"{path}: the classifier file lacks {', '.join(map(repr, missing))}: it is damaged; "
            "save the classifier again"
        )
    if not (hasattr(payload["forest"], "predict_proba") and hasattr(payload["forest"], "classes_")):
        raise ValueError(
            f"{path}: the file's 'forest' is not a fitted classifier; train and save again"
        )
    versions = dict(payload.get("versions", {}))
    for name, now in _versions().items():
        if name != "napari-coco-masks" and versions.get(name) not in (None, now):
            warnings.warn(
                f"{path}: trained with {name} {versions[name]}, running {now}: predictions may "
                "differ; retrain if they look wrong",
                UserWarning,
                stacklevel=2,
            )
    return PixelClassifier(
        forest=payload["forest"], settings=FeatureSettings(**payload["settings"]),
        n_channels=int(payload["n_channels"]), ndim=int(payload["ndim"]), dtype=str(payload["dtype"]),
        class_names={int(k): v for k, v in payload.get("class_names", {}).items()}, versions=versions,
    )  # fmt: skip


def _workers_kwarg(workers: int | None) -> dict[str, int | None]:
    """``multiscale_basic_features``' thread count under its name (``num_workers`` before
    scikit-image 0.26 named it ``workers``)."""
    import inspect

    from skimage.feature import multiscale_basic_features

    params = inspect.signature(multiscale_basic_features).parameters
    return {"workers" if "workers" in params else "num_workers": workers}
