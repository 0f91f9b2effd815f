"""The parsed COCO instances dataset: validation and dialects, with no napari import.

:func:`load_coco` reads a file, :func:`parse_coco` an already parsed JSON object. Both return
a :class:`CocoDataset`: images, categories and an index of the annotations by image, each with
its position in the file. A file is parsed once by a typed decoder (:mod:`.source`) that keeps
every annotation's bytes; an image's annotations are decoded and validated when that image is
first asked for (:meth:`CocoDataset.image_annotations`), so opening costs what the index costs.
Files up to :data:`EAGER_CHECK_BYTES` of annotations are validated whole when they are read.

What is checked (COCO-NOTES "Segmentation forms", "RLE", "Dialects"):

- the top level is a dataset (``images`` plus ``annotations`` or ``categories``); any other
  JSON raises :class:`NotCocoError`, a results file (a top-level list of detections)
  :class:`CocoResultsError`, so that a napari reader can step aside;
- images have an id, a ``file_name`` and positive integer ``height`` and ``width`` of at
  most :data:`MAX_SIDE` pixels;
- categories have an id and a name; Roboflow's unused placeholder category 0 is kept;
- segmentations are a list of polygons (each an even number of at least 6 finite numbers within
  :data:`COORDINATE_MARGIN` image sizes of the image), an RLE
  whose counts sum to ``h * w`` and whose size is its image's, or ``[]`` with a ``bbox``;
- ids may be integers or strings and start anywhere; an ``image_id`` or ``category_id``
  that matches no record is skipped with a single warning listing all of them.

Every other problem is a :class:`CocoError` naming the file and the JSON path.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from .errors import CocoError
from .rle import MAX_SIDE, check_rle
from .source import FileBytes, RawSource, RecordSpans, file_stamp, parse_bytes, read_bytes

__all__ = [
    "CocoAnnotation",
    "CocoCategory",
    "CocoDataset",
    "CocoImage",
    "CocoResultsError",
    "NotCocoError",
    "load_coco",
    "parse_coco",
]

#: Polygon coordinates must lie within this many image sizes of the image.
COORDINATE_MARGIN = 4
#: Files with at most this many bytes of annotations are validated whole when read.
EAGER_CHECK_BYTES = 32 * 2**20
#: Images whose decoded annotations are kept in memory (least recently used are dropped).
CACHED_IMAGES = 64


class NotCocoError(CocoError):
    """The JSON is not a COCO dataset at all (a napari reader returns None for it)."""


class CocoResultsError(NotCocoError):
    """The JSON is a COCO *results* file: a list of detections without images or categories."""


@dataclass(frozen=True, slots=True)
class CocoImage:
    """One record of the ``images`` list."""

    position: int
    id: Any
    file_name: str
    height: int
    width: int
    source: Any = field(repr=False, compare=False)  # the dict, or the file's RecordSpans

    @property
    def record(self) -> dict:
        """The image's JSON object (decoded from the file's bytes when read from a file)."""
        if isinstance(self.source, RecordSpans):
            return msgspec.json.decode(self.source.record(self.position))
        return self.source


@dataclass(frozen=True)
class CocoCategory:
    """One record of the ``categories`` list (unused ones included)."""

    position: int
    id: Any
    name: str
    supercategory: str
    record: dict = field(repr=False)

    @property
    def keypoints(self) -> list:
        """Keypoint names (may be empty; a value that is not a list counts as none)."""
        names = self.record.get("keypoints")
        return list(names) if isinstance(names, list) else []

    @property
    def skeleton(self) -> list:
        """Skeleton pairs as written in the file (1-based in official COCO, 0-based in some
        tools); entries that are not pairs of integers are left out."""
        pairs = self.record.get("skeleton")
        if not isinstance(pairs, list):
            return []
        return [
            list(p) for p in pairs
            if isinstance(p, list) and len(p) == 2 and all(_is_int(v) for v in p)
        ]


#: Segmentation kinds of :class:`CocoAnnotation`.
POLYGON, RLE, BBOX = "polygon", "rle", "bbox"


@dataclass(frozen=True)
class CocoAnnotation:
    """One drawable record of the ``annotations`` list.

    ``position`` is its index in the file's list: the reader paints it with label ``position + 1``.
    """

    position: int
    id: Any
    image_position: int
    category_position: int
    kind: str
    record: dict = field(repr=False)

    @property
    def image_id(self) -> Any:
        return self.record["image_id"]

    @property
    def category_id(self) -> Any:
        return self.record["category_id"]

    @property
    def segmentation(self) -> Any:
        return self.record.get("segmentation")

    @property
    def bbox(self) -> list | None:
        return self.record.get("bbox")

    @property
    def iscrowd(self) -> int:
        """0 or 1 (checked when the annotation was decoded)."""
        return int(self.record.get("iscrowd", 0) or 0)

    @property
    def attributes(self) -> dict:
        attrs = self.record.get("attributes")
        return dict(attrs) if isinstance(attrs, Mapping) else {}

    @property
    def keypoints(self) -> list | None:
        kp = self.record.get("keypoints")
        return kp if isinstance(kp, list) and len(kp) >= 3 else None


class CocoDataset:
    """A parsed COCO instances file, indexed by image.

    Attributes
    ----------
    path : Path or None
        The file it was read from.
    images, categories : list
        One entry per record, in file order.
    skipped : list of int
        Positions of annotations skipped (unknown image or category, or, with
        ``invalid="skip"``, a malformed segmentation found so far).
    source : RawSource or None
        The file's bytes and each annotation record's span (None for :func:`parse_coco`).
    """

    def __init__(
        self,
        path: Path | None,
        images: list[CocoImage],
        categories: list[CocoCategory],
        ids: Sequence[Any],
        image_of: np.ndarray,
        category_of: np.ndarray,
        *,
        source: RawSource | None = None,
        obj: Mapping[str, Any] | None = None,
        invalid: str = "raise",
    ) -> None:
        self.path = path
        #: The predictions' own file, for a results file read beside its ground truth
        #: (whose file is ``path``); None for a dataset.
        self.results_path: Path | None = None
        self.images = images
        self.categories = categories
        self.source = source
        self.file_bytes = source.buffer if source is not None else None
        self._obj = obj
        self._invalid = invalid
        self._ids = ids
        self._image_of = image_of
        self._category_of = category_of
        drawable = np.flatnonzero((image_of >= 0) & (category_of >= 0))
        order = drawable[np.argsort(image_of[drawable], kind="stable")]
        self._order = order
        self._bounds = np.searchsorted(image_of[order], np.arange(len(images) + 1))
        self.skipped = np.flatnonzero((image_of < 0) | (category_of < 0)).tolist()
        self._bad: set[int] = set()
        self._checked = False
        self._cache: OrderedDict[int, list[CocoAnnotation]] = OrderedDict()

    # ---------------------------------------------------------------- index
    @property
    def n_records(self) -> int:
        """Number of records in the file's ``annotations`` list (skipped ones included)."""
        return len(self._image_of)

    @property
    def annotation_ids(self) -> Sequence[Any]:
        """The ``id`` of every annotation record, in file order (int64 array when all ints)."""
        return self._ids

    def image_positions(self, image_position: int) -> np.ndarray:
        """File positions of the annotations of one image that can be drawn (file order).

        Parameters
        ----------
        image_position : int
            Position of the image in the file's ``images`` list.

        Returns
        -------
        ndarray of int
            Positions in the file's ``annotations`` list.

        Examples
        --------
        >>> from importlib.resources import files
        >>> from pathlib import Path
        >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
        >>> dataset.image_positions(0)[:3], len(dataset.image_positions(0))
        (array([0, 1, 2]), 24)
        """
        b = self._bounds
        return self._order[b[image_position] : b[image_position + 1]]

    def image_annotations(self, image_position: int) -> list[CocoAnnotation]:
        """The drawable annotations of one image, in file order (decoded on first use).

        Parameters
        ----------
        image_position : int
            Position of the image in the file's ``images`` list.

        Returns
        -------
        list of CocoAnnotation
            Their file positions, ids, category positions and decoded records.

        Raises
        ------
        CocoError
            If one of them is malformed (with ``invalid="raise"``), naming its JSON path.

        Examples
        --------
        >>> from importlib.resources import files
        >>> from pathlib import Path
        >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
        >>> annotations = dataset.image_annotations(0)
        >>> len(annotations), annotations[0].id, dataset.category(annotations[0]).name
        (24, 1, 'large coin')
        """
        cached = self._cache.get(image_position)
        if cached is not None:
            self._cache.move_to_end(image_position)
            return cached
        anns = self._decode_image(image_position)
        self._cache[image_position] = anns
        if len(self._cache) > CACHED_IMAGES:
            self._cache.popitem(last=False)
        return anns

    def _decode_image(self, i: int) -> list[CocoAnnotation]:
        image = self.images[i]
        out, bad = [], []
        positions = [p for p in self.image_positions(i).tolist() if p not in self._bad]
        for p, rec in zip(positions, self._records(positions), strict=True):
            try:
                if not isinstance(rec, Mapping):
                    raise CocoError(
                        "an annotation must be an object", path=self.path,
                        where=_where("annotations", p),
                    )
                kind = _segmentation_kind(rec, p, image, self.path)
                _check_extras(rec, p, self.path)
            except CocoError as exc:
                if self._invalid == "raise":
                    raise
                bad.append((p, str(exc).rsplit(": ", 1)[-1]))
                continue
            out.append(
                CocoAnnotation(p, rec.get("id"), i, int(self._category_of[p]), kind, rec)
            )
        if bad:
            self._bad.update(p for p, _ in bad)
            self.skipped = sorted({*self.skipped, *(p for p, _ in bad)})
            _warn_skipped({"segmentation": bad}, self.path)
        return out

    def record(self, position: int) -> Any:
        """The JSON object of annotation record ``position`` (decoded from its bytes).

        Parameters
        ----------
        position : int
            Position of the record in the file's ``annotations`` list.

        Returns
        -------
        dict
            The record as in the file (skipped records too).

        Examples
        --------
        >>> from importlib.resources import files
        >>> from pathlib import Path
        >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
        >>> sorted(dataset.record(0))
        ['area', 'bbox', 'category_id', 'id', 'image_id', 'iscrowd', 'segmentation']
        """
        return self._records([position])[0]

    def _records(self, positions: Sequence[int]) -> list:
        if self.source is None:
            return [self._obj["annotations"][p] for p in positions]
        out = []
        for p, data in zip(positions, self.source.records(positions), strict=True):
            try:
                out.append(msgspec.json.decode(data))
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise CocoError(
                    str(exc), path=self.path, where=_where("annotations", p)
                ) from None
            except RecursionError:
                raise CocoError(
                    "nested too deeply", path=self.path, where=_where("annotations", p)
                ) from None
        return out

    def check_all(self) -> None:
        """Decode and validate every image's annotations (errors as :meth:`image_annotations`).

        Raises
        ------
        CocoError
            At the first malformed annotation (with ``invalid="raise"``), naming its JSON path.

        Examples
        --------
        >>> from importlib.resources import files
        >>> from pathlib import Path
        >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
        >>> dataset.check_all()
        >>> dataset.skipped
        []
        """
        for i in range(len(self.images)):
            self.image_annotations(i)
        self._checked = True

    # ------------------------------------------------------- whole-file views
    @property
    def annotations(self) -> list[CocoAnnotation]:
        """Every drawable annotation, in file order (decodes the whole file: small files)."""
        anns = [a for i in range(len(self.images)) for a in self.image_annotations(i)]
        anns.sort(key=lambda a: a.position)
        return anns

    def iter_annotations(self) -> Iterator[CocoAnnotation]:
        """Drawable annotations image by image (memory of one image at a time).

        Yields
        ------
        CocoAnnotation
            The drawable annotations of image 0, then of image 1, ...

        Examples
        --------
        >>> from importlib.resources import files
        >>> from pathlib import Path
        >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
        >>> sum(1 for _ in dataset.iter_annotations())
        24
        """
        for i in range(len(self.images)):
            yield from self.image_annotations(i)

    @property
    def raw(self) -> dict:
        """The whole JSON object (decoded from the bytes on first use; costly for big files)."""
        if self._obj is None:
            buf = self.file_bytes[:]
            self._obj = msgspec.json.decode(buf[3:] if buf[:3] == b"\xef\xbb\xbf" else buf)
        return self._obj

    @property
    def image_shapes(self) -> list[tuple[int, int]]:
        """``(height, width)`` of each image, in file order."""
        return [(im.height, im.width) for im in self.images]

    @property
    def has_keypoints(self) -> bool:
        """Whether a category declares keypoints, or (small files) an annotation has some."""
        if any(cat.keypoints for cat in self.categories):
            return True
        return self._checked and any(a.keypoints is not None for a in self.iter_annotations())

    def category(self, ann: CocoAnnotation) -> CocoCategory:
        """The category record of an annotation.

        Parameters
        ----------
        ann : CocoAnnotation
            One of the dataset's annotations.

        Returns
        -------
        CocoCategory

        Examples
        --------
        >>> from importlib.resources import files
        >>> from pathlib import Path
        >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
        >>> dataset.category(dataset.image_annotations(0)[0])
        CocoCategory(position=1, id=2, name='large coin', supercategory='coin')
        """
        return self.categories[ann.category_position]

    def __repr__(self) -> str:
        return (
            f"CocoDataset({str(self.path)!r}, {len(self.images)} images, "
            f"{len(self.categories)} categories, {self.n_records} annotations)"
        )


def _where(kind: str, i: int, key: str | None = None) -> str:
    return f"{kind}[{i}]" + (f".{key}" if key else "")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_top(obj: Any, path: Path | None) -> None:
    """Tell a dataset from other JSON (COCO-NOTES "Dialects": results files are lists)."""
    if isinstance(obj, list):
        if obj and all(
            isinstance(d, Mapping) and "image_id" in d and ("bbox" in d or "segmentation" in d)
            for d in obj[:10]
        ):
            raise CocoResultsError(
                "this is a COCO results file (a list of detections), not a dataset: it has no "
                "images or categories of its own. Open the ground-truth instances file it was "
                "computed on, or load both with pycocotools (COCO(gt).loadRes(results))",
                path=path,
            )
        raise NotCocoError("the JSON top level is a list, not a COCO dataset", path=path)
    if not isinstance(obj, Mapping) or not isinstance(obj.get("images"), list):
        raise NotCocoError("no 'images' list at the JSON top level", path=path)
    if not isinstance(obj.get("annotations"), list) and not isinstance(
        obj.get("categories"), list
    ):
        raise NotCocoError("no 'annotations' or 'categories' list at the JSON top level", path=path)
    for key in ("annotations", "categories"):
        if key in obj and not isinstance(obj[key], list):
            raise CocoError(f"'{key}' must be a list", path=path, where=key)


def _parse_images(records: list, path: Path | None, spans: Any = None) -> list[CocoImage]:
    """Checked image records; ``records`` are dicts, or typed heads with ``spans`` of bytes."""
    images = []
    typed = spans is not None
    for i, rec in enumerate(records):
        if typed:
            ident, name, height, width = rec.id, rec.file_name, rec.height, rec.width
        else:
            if not isinstance(rec, Mapping):
                raise CocoError(
                    "an image record must be an object", path=path, where=_where("images", i)
                )
            ident = rec.get("id", msgspec.UNSET)
            name, height, width = rec.get("file_name", ""), rec.get("height"), rec.get("width")
        if ident is msgspec.UNSET:
            raise CocoError("image record has no 'id'", path=path, where=_where("images", i))
        height = _check_side(height, "height", i, path)
        width = _check_side(width, "width", i, path)
        if not isinstance(name, str):
            raise CocoError(
                f"'file_name' must be a string, got {name!r}",
                path=path,
                where=_where("images", i, "file_name"),
            )
        images.append(CocoImage(i, ident, name, height, width, spans if typed else rec))
    return images


def _check_side(v: Any, key: str, i: int, path: Path | None) -> int:
    """A positive integer image side of at most :data:`MAX_SIDE` pixels."""
    if type(v) is int and 0 < v <= MAX_SIDE:
        return v
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not _is_int(v) or v <= 0:
        raise CocoError(
            f"'{key}' must be a positive integer, got {v!r}; COCO masks need each image's size",
            path=path,
            where=_where("images", i, key),
        )
    if v > MAX_SIDE:
        raise CocoError(
            f"'{key}' is {v} pixels, more than the {MAX_SIDE} this reader accepts; check the "
            "image record (tiled whole-slide images need a tiled dataset)",
            path=path,
            where=_where("images", i, key),
        )
    return int(v)


def _parse_categories(records: list, path: Path | None) -> list[CocoCategory]:
    categories = []
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping) or "id" not in rec:
            raise CocoError(
                "a category record must be an object with an 'id'",
                path=path,
                where=_where("categories", i),
            )
        name = rec.get("name")
        name = str(rec["id"]) if name is None else str(name)
        categories.append(
            CocoCategory(i, rec["id"], name, str(rec.get("supercategory") or ""), rec)
        )
    return categories


class _IdIndex:
    """Id -> position, where 3, 3.0 and "3" are the same id (string-id dialects)."""

    def __init__(self, raw: dict, normalised: dict) -> None:
        self.raw = raw
        self.normalised = normalised

    def get(self, v: Any) -> int | None:
        try:
            hit = self.raw.get(v)
        except TypeError:  # unhashable id
            return None
        if hit is None and type(v) is not bool:
            hit = self.normalised.get(_key(v))
        return hit


def _id_index(items: list, kind: str, path: Path | None) -> _IdIndex:
    index: dict = {}
    raw: dict = {}
    for item in items:
        try:
            if type(item.id) is not bool:
                raw.setdefault(item.id, item.position)
        except TypeError:
            pass
        key = _key(item.id)
        if key in index:
            raise CocoError(
                f"duplicate id {item.id!r} (also at {kind}[{index[key]}])",
                path=path,
                where=_where(kind, item.position, "id"),
            )
        index[key] = item.position
    return _IdIndex(raw, index)


def _key(v: Any) -> Any:
    """Ids compare as written, except that 3, 3.0 and "3" are the same id (string-id dialects)."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if _is_int(v):
        return str(v)
    return v if isinstance(v, str) else repr(v)


def _check_polygons(seg: list, where: str, path: Path | None, image: CocoImage) -> None:
    """Every part a flat list of an even number (>= 6) of finite numbers near the image."""
    limit = COORDINATE_MARGIN * max(image.height, image.width)
    for j, part in enumerate(seg):
        if type(part) is not list:
            raise CocoError(
                "a polygon must be a flat list [x0, y0, x1, y1, ...]; got "
                f"{type(part).__name__}",
                path=path,
                where=f"{where}[{j}]",
            )
        n = len(part)
        if n < 6:
            raise CocoError(
                f"a polygon needs at least 3 points (6 numbers), got {n} numbers",
                path=path,
                where=f"{where}[{j}]",
            )
        if n % 2:
            raise CocoError(
                f"a polygon needs an even count of numbers (x, y pairs), got {n}",
                path=path,
                where=f"{where}[{j}]",
            )
        _check_coordinates(part, limit, f"{where}[{j}]", path)


def _check_coordinates(part: list, limit: float, where: str, path: Path | None) -> None:
    """Numbers only (no NaN, no text), each within ``limit`` of the image."""
    try:
        arr = np.array(part)
    except (ValueError, OverflowError):  # nested lists, ragged values
        arr = np.array(part, dtype=object)
    if arr.dtype.kind not in "if" or arr.ndim != 1:
        for k, v in enumerate(part):  # find the culprit for the message
            t = type(v)
            if t is not float and t is not int:
                raise CocoError(
                    f"polygon coordinates must be numbers, got {v!r}; fix or remove this "
                    "polygon",
                    path=path,
                    where=f"{where}[{k}]",
                )
        try:  # integers too large for int64
            arr = np.array(part, dtype=np.float64)
        except OverflowError:
            arr = np.full(len(part), np.inf)
    bad = ~(np.abs(arr) <= limit)
    if bad.any():
        k = int(np.argmax(bad))
        raise CocoError(
            f"polygon coordinate {part[k]!r} is outside the image (more than {limit:g} pixels "
            "away); fix or remove this polygon",
            path=path,
            where=f"{where}[{k}]",
        )


def _check_bbox(bbox: Any, where: str, path: Path | None) -> None:
    if (
        not isinstance(bbox, list)
        or len(bbox) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
        or not all(math.isfinite(v) for v in bbox)
        or bbox[2] < 0
        or bbox[3] < 0
    ):
        raise CocoError(
            f"a bbox-only annotation needs 'bbox' [x, y, w, h] with w, h >= 0, got {bbox!r}",
            path=path,
            where=where,
        )


def _segmentation_kind(
    rec: Mapping, i: int, image: CocoImage, path: Path | None
) -> str:
    """Validate an annotation's segmentation and return its kind."""
    seg = rec.get("segmentation")
    if type(seg) is list and seg:
        _check_polygons(seg, f"annotations[{i}].segmentation", path, image)
        return POLYGON
    where = _where("annotations", i, "segmentation")
    if isinstance(seg, Mapping):
        check_rle(seg, (image.height, image.width), path=path, where=where)
        return RLE
    if isinstance(seg, list) and seg:
        _check_polygons(seg, where, path, image)
        return POLYGON
    if seg is None or seg == []:
        _check_bbox(rec.get("bbox"), _where("annotations", i, "bbox"), path)
        return BBOX
    raise CocoError(
        f"segmentation must be a list of polygons, an RLE object or [], got {type(seg).__name__}",
        path=path,
        where=where,
    )


def _check_extras(rec: Mapping, i: int, path: Path | None) -> None:
    """``iscrowd`` is 0/1 (or absent) and ``keypoints`` a list of (x, y, v) numbers."""
    crowd = rec.get("iscrowd", 0)
    if crowd not in (0, 1, None) or isinstance(crowd, float) and not crowd.is_integer():
        raise CocoError(
            f"'iscrowd' must be 0 or 1, got {crowd!r}", path=path,
            where=_where("annotations", i, "iscrowd"),
        )
    kp = rec.get("keypoints")
    if kp is None or kp == []:
        return
    if (
        not isinstance(kp, list)
        or len(kp) % 3
        or not all((type(v) is int or type(v) is float) and math.isfinite(v) for v in kp)
    ):
        raise CocoError(
            "'keypoints' must be a flat list of (x, y, visibility) numbers, "
            f"got {str(kp)[:60]}", path=path, where=_where("annotations", i, "keypoints"),
        )


def _warn_skipped(unknown: dict[str, list], path: Path | None) -> None:
    parts = []
    for what, items in unknown.items():
        if items:
            shown = ", ".join(f"annotations[{p}] ({what} {v!r})" for p, v in items[:10])
            more = f" and {len(items) - 10} more" if len(items) > 10 else ""
            parts.append(f"{len(items)} with an unknown {what}: {shown}{more}")
    if parts:
        warnings.warn(
            f"{path or 'COCO dataset'}: skipped {'; '.join(parts)}",
            UserWarning,
            stacklevel=3,
        )


def load_coco(path: str | os.PathLike, *, invalid: str = "raise") -> CocoDataset:
    """Read and validate a COCO instances JSON file.

    Parameters
    ----------
    path : str or PathLike
        The ``.json`` file.
    invalid : {"raise", "skip"}
        What to do with an annotation whose segmentation is malformed: raise
        :class:`CocoError`, or skip it with one warning listing all skipped.

    Returns
    -------
    CocoDataset

    Raises
    ------
    NotCocoError
        If the file is JSON but not a COCO dataset (:class:`CocoResultsError` for a results
        list of detections).
    CocoError
        If the file cannot be read or is malformed; the message names the file and the JSON
        path of the problem.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from pathlib import Path
    >>> dataset = load_coco(Path(files("napari_coco_masks") / "data" / "coins.json"))
    >>> dataset
    CocoDataset('.../coins.json', 1 images, 2 categories, 24 annotations)
    >>> dataset.images[0].file_name, [c.name for c in dataset.categories]
    ('coins.png', ['small coin', 'large coin'])
    """
    _check_invalid(invalid)
    path = Path(path)
    try:
        stamp = file_stamp(path)  # before reading: a change while reading is caught later
    except OSError as exc:
        raise CocoError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    buf = read_bytes(path)
    try:
        parsed = parse_bytes(buf, path)
    except msgspec.DecodeError as exc:
        return _stdlib_fallback(buf, path, invalid, exc)
    if parsed.kind == "list":
        _check_top([msgspec.json.decode(r) for r in parsed.images], path)
    source = parsed.source
    held = FileBytes(path, parsed.transcoded) if parsed.transcoded else FileBytes(path, stamp=stamp)
    del buf  # the bytes are read again from the file when needed: memory stays the index's
    if source is not None:
        source.buffer = held
    if parsed.image_spans is not None:
        parsed.image_spans.buffer = held
    obj = {"images": parsed.images, "categories": parsed.categories}
    if source is not None:
        obj["annotations"] = []
    _check_top({k: v for k, v in obj.items() if v is not None}, path)
    images = _parse_images(parsed.images, path, parsed.image_spans)
    categories = _parse_categories(parsed.categories or [], path)
    cols = parsed.columns
    image_of, category_of = _positions(cols, images, categories, path)
    dataset = CocoDataset(
        path, images, categories, cols.ids, image_of, category_of, source=source, invalid=invalid
    )
    dataset.file_bytes = held
    if source is None or (source.array_span[1] - source.array_span[0]) <= EAGER_CHECK_BYTES:
        dataset.check_all()
    return dataset


def _check_invalid(invalid: str) -> None:
    if invalid not in ("raise", "skip"):
        raise ValueError(f"`invalid` must be 'raise' or 'skip', got {invalid!r}")


class _NonFinite(str):
    """A ``NaN`` / ``Infinity`` literal of Python's json module, kept as text for the message."""


def _stdlib_fallback(buf: bytes, path: Path, invalid: str, exc: Exception) -> CocoDataset:
    """Files msgspec refuses: Python-style JSON (NaN, Infinity) gets a message with its place."""
    try:
        obj = json.loads(buf, parse_constant=_NonFinite)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, RecursionError):
        raise NotCocoError(f"not a JSON file: {exc}", path=path) from None
    return parse_coco(obj, path=path, invalid=invalid)


def _positions(cols: Any, images: list, categories: list, path: Path | None):
    """Image and category position of each annotation record (-1: unknown, skipped)."""
    image_index = _id_index(images, "images", path)
    category_index = _id_index(categories, "categories", path)
    if cols.integer:
        fast = _integer_positions(cols, images, categories)
        if fast is not None:
            image_of, category_of = fast
            unknown = {
                "image_id": [(int(k), int(cols.image_ids[k])) for k in np.flatnonzero(image_of < 0)],
                "category_id": [
                    (int(k), int(cols.category_ids[k]))
                    for k in np.flatnonzero((image_of >= 0) & (category_of < 0))
                ],
            }
            category_of[image_of < 0] = -1
            _warn_skipped(unknown, path)
            return image_of, category_of
    n = len(cols)
    image_of = np.full(n, -1, np.int64)
    category_of = np.full(n, -1, np.int64)
    unknown: dict[str, list] = {"image_id": [], "category_id": []}
    iget, cget = image_index.get, category_index.get
    for k, (img, cat) in enumerate(zip(cols.image_ids, cols.category_ids, strict=True)):
        if img is msgspec.UNSET:
            raise CocoError("annotation has no 'image_id'", path=path, where=_where("annotations", k))
        p = iget(img)
        if p is None:
            unknown["image_id"].append((k, img))
            continue
        image_of[k] = p
        c = cget(cat)
        if c is None:
            unknown["category_id"].append((k, cat))
            continue
        category_of[k] = c
    _warn_skipped(unknown, path)
    return image_of, category_of


def _integer_positions(cols: Any, images: list, categories: list):
    """Vectorised id lookup when every id involved is an integer (the common case)."""
    out = []
    for values, items in ((cols.image_ids, images), (cols.category_ids, categories)):
        keys = [item.id for item in items]
        if not all(type(v) is int for v in keys):
            return None
        if not keys:
            out.append(np.full(len(values), -1, np.int64))
            continue
        try:
            arr = np.array(keys, dtype=np.int64)
        except OverflowError:  # ids beyond int64: the general path
            return None
        order = np.argsort(arr, kind="stable")
        sorted_keys = arr[order]
        at = np.clip(np.searchsorted(sorted_keys, values), 0, len(arr) - 1)
        out.append(np.where(sorted_keys[at] == values, order[at], -1))
    return out[0], out[1]


class _Head:
    """Header of an annotation given as a dict (:func:`parse_coco`)."""

    __slots__ = ("category_id", "id", "image_id")

    def __init__(self, rec: Any, k: int, path: Path | None) -> None:
        if not isinstance(rec, Mapping):
            raise CocoError("an annotation must be an object", path=path, where=_where("annotations", k))
        self.id = rec.get("id")
        self.image_id = rec.get("image_id", msgspec.UNSET)
        self.category_id = rec.get("category_id")


class _HeadColumns:
    """Columns of :class:`_Head` records (never the integer fast path: ids as written)."""

    integer = False

    def __init__(self, heads: list[_Head]) -> None:
        self.ids = [h.id for h in heads]
        self.image_ids = [h.image_id for h in heads]
        self.category_ids = [h.category_id for h in heads]

    def __len__(self) -> int:
        return len(self.ids)


def parse_coco(
    obj: Any, *, path: str | os.PathLike | None = None, invalid: str = "raise"
) -> CocoDataset:
    """Validate a parsed COCO JSON object and index it; see :func:`load_coco`.

    The annotation records are the object's own dicts (``dataset.record(k) is
    obj["annotations"][k]``); every annotation is validated at once.

    Parameters
    ----------
    obj : dict
        A parsed COCO instances JSON object (``images``, ``annotations``, ``categories``).
    path : str or PathLike, optional
        The file it came from, named in error messages and used to find the images.
    invalid : {"raise", "skip"}
        As :func:`load_coco`.

    Returns
    -------
    CocoDataset

    Raises
    ------
    CocoError
        If the object is malformed; the message names the JSON path of the problem.

    Examples
    --------
    >>> obj = {"images": [{"id": 1, "file_name": "a.png", "height": 4, "width": 6}],
    ...        "categories": [{"id": 1, "name": "cell"}],
    ...        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "iscrowd": 0,
    ...                         "segmentation": [[1, 1, 4, 1, 4, 3, 1, 3]]}]}
    >>> dataset = parse_coco(obj)
    >>> dataset.record(0) is obj["annotations"][0], dataset.image_shapes
    (True, [(4, 6)])
    >>> parse_coco({"images": []})
    Traceback (most recent call last):
    ...
    napari_coco_masks.coco.model.NotCocoError: ...
    """
    _check_invalid(invalid)
    path = None if path is None else Path(path)
    _check_top(obj, path)
    records = obj.get("annotations") or []
    heads = [_Head(rec, k, path) for k, rec in enumerate(records)]
    images = _parse_images(obj["images"], path)
    categories = _parse_categories(obj.get("categories") or [], path)
    cols = _HeadColumns(heads)
    image_of, category_of = _positions(cols, images, categories, path)
    dataset = CocoDataset(
        path, images, categories, cols.ids, image_of, category_of, obj=obj, invalid=invalid
    )
    dataset.check_all()
    return dataset
