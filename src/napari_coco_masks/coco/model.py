"""The parsed COCO instances dataset: validation and dialects, with no napari import.

:func:`load_coco` reads a file, :func:`parse_coco` an already parsed JSON object. Both return
a :class:`CocoDataset` that keeps the JSON object unmodified (``dataset.raw``) and adds an
index over it: images, categories and the annotations that can be drawn, each with its
position in the file.

What is checked (COCO-NOTES "Segmentation forms", "RLE", "Dialects"):

- the top level is a dataset (``images`` plus ``annotations`` or ``categories``); any other
  JSON raises :class:`NotCocoError`, a results file (a top-level list of detections)
  :class:`CocoResultsError`, so that a napari reader can step aside;
- images have an id, a ``file_name`` and positive integer ``height`` and ``width``;
- categories have an id and a name; Roboflow's unused placeholder category 0 is kept;
- segmentations are a list of polygons (each an even number of at least 6 numbers), an RLE
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CocoError
from .rle import check_rle

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


class NotCocoError(CocoError):
    """The JSON is not a COCO dataset at all (a napari reader returns None for it)."""


class CocoResultsError(NotCocoError):
    """The JSON is a COCO *results* file: a list of detections without images or categories."""


@dataclass(frozen=True)
class CocoImage:
    """One record of the ``images`` list."""

    position: int
    id: Any
    file_name: str
    height: int
    width: int
    record: dict = field(repr=False)


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
        """Keypoint names (may be empty)."""
        return list(self.record.get("keypoints") or [])

    @property
    def skeleton(self) -> list:
        """Skeleton pairs as written in the file (1-based in official COCO, 0-based in some tools)."""
        return [list(pair) for pair in self.record.get("skeleton") or []]


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
        return int(self.record.get("iscrowd", 0) or 0)

    @property
    def attributes(self) -> dict:
        attrs = self.record.get("attributes")
        return dict(attrs) if isinstance(attrs, Mapping) else {}

    @property
    def keypoints(self) -> list | None:
        kp = self.record.get("keypoints")
        return kp if isinstance(kp, list) and len(kp) >= 3 else None


@dataclass
class CocoDataset:
    """A parsed COCO instances file.

    Attributes
    ----------
    path : Path or None
        The file it was read from.
    raw : dict
        The parsed JSON object, unmodified (annotations included, skipped ones too).
    images, categories : list
        One entry per record, in file order.
    annotations : list of CocoAnnotation
        The annotations that can be drawn, in file order; ``position`` is the index in
        ``raw["annotations"]``.
    skipped : list of int
        Positions of annotations skipped because their image or category is unknown.
    """

    path: Path | None
    raw: dict
    images: list[CocoImage]
    categories: list[CocoCategory]
    annotations: list[CocoAnnotation]
    skipped: list[int] = field(default_factory=list)
    _by_image: list[list[CocoAnnotation]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        by_image: list[list[CocoAnnotation]] = [[] for _ in self.images]
        for ann in self.annotations:
            by_image[ann.image_position].append(ann)
        self._by_image = by_image

    def image_annotations(self, image_position: int) -> list[CocoAnnotation]:
        """The drawable annotations of one image, in file order."""
        return self._by_image[image_position]

    @property
    def image_shapes(self) -> list[tuple[int, int]]:
        """``(height, width)`` of each image, in file order."""
        return [(im.height, im.width) for im in self.images]

    @property
    def has_keypoints(self) -> bool:
        """Whether any drawable annotation carries keypoints."""
        return any(ann.keypoints is not None for ann in self.annotations)

    def category(self, ann: CocoAnnotation) -> CocoCategory:
        """The category record of an annotation."""
        return self.categories[ann.category_position]


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
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            obj = json.load(fh)
    except OSError as exc:
        raise CocoError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotCocoError(f"not a JSON file: {exc}", path=path) from None
    return parse_coco(obj, path=path, invalid=invalid)


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


def _parse_images(records: list, path: Path | None) -> list[CocoImage]:
    images = []
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise CocoError("an image record must be an object", path=path, where=_where("images", i))
        if "id" not in rec:
            raise CocoError("image record has no 'id'", path=path, where=_where("images", i))
        for key in ("height", "width"):
            v = rec.get(key)
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if not _is_int(v) or v <= 0:
                raise CocoError(
                    f"'{key}' must be a positive integer, got {v!r}; COCO masks need each "
                    "image's size",
                    path=path,
                    where=_where("images", i, key),
                )
        name = rec.get("file_name", "")
        if not isinstance(name, str):
            raise CocoError(
                f"'file_name' must be a string, got {name!r}",
                path=path,
                where=_where("images", i, "file_name"),
            )
        images.append(
            CocoImage(i, rec["id"], name, int(rec["height"]), int(rec["width"]), rec)
        )
    return images


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


def _check_polygons(seg: list, where: str, path: Path | None) -> None:
    for j, part in enumerate(seg):
        if (
            type(part) is list
            and len(part) >= 6
            and not len(part) & 1
            and type(part[0]) in (float, int)
        ):
            continue  # the common case, checked cheaply
        if not isinstance(part, list):
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
        first = part[0]
        if not isinstance(first, (int, float)) or isinstance(first, bool):
            raise CocoError(
                f"polygon coordinates must be numbers, got {first!r}",
                path=path,
                where=f"{where}[{j}][0]",
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
        _check_polygons(seg, f"annotations[{i}].segmentation", path)
        return POLYGON
    where = _where("annotations", i, "segmentation")
    if isinstance(seg, Mapping):
        check_rle(seg, (image.height, image.width), path=path, where=where)
        return RLE
    if isinstance(seg, list) and seg:
        _check_polygons(seg, where, path)
        return POLYGON
    if seg is None or seg == []:
        _check_bbox(rec.get("bbox"), _where("annotations", i, "bbox"), path)
        return BBOX
    raise CocoError(
        f"segmentation must be a list of polygons, an RLE object or [], got {type(seg).__name__}",
        path=path,
        where=where,
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


def parse_coco(obj: Any, *, path: str | os.PathLike | None = None, invalid: str = "raise") -> CocoDataset:
    """Validate a parsed COCO JSON object and index it; see :func:`load_coco`."""
    if invalid not in ("raise", "skip"):
        raise ValueError(f"`invalid` must be 'raise' or 'skip', got {invalid!r}")
    path = None if path is None else Path(path)
    _check_top(obj, path)
    images = _parse_images(obj["images"], path)
    categories = _parse_categories(obj.get("categories") or [], path)
    image_index = _id_index(images, "images", path)
    category_index = _id_index(categories, "categories", path)
    annotations: list[CocoAnnotation] = []
    unknown: dict[str, list] = {"image_id": [], "category_id": [], "segmentation": []}
    for i, rec in enumerate(obj.get("annotations") or []):
        if type(rec) is not dict and not isinstance(rec, Mapping):
            raise CocoError(
                "an annotation must be an object", path=path, where=_where("annotations", i)
            )
        if "image_id" not in rec:
            raise CocoError(
                "annotation has no 'image_id'", path=path, where=_where("annotations", i)
            )
        img = image_index.get(rec["image_id"])
        if img is None:
            unknown["image_id"].append((i, rec["image_id"]))
            continue
        cat = category_index.get(rec.get("category_id"))
        if cat is None:
            unknown["category_id"].append((i, rec.get("category_id")))
            continue
        try:
            kind = _segmentation_kind(rec, i, images[img], path)
        except CocoError as exc:
            if invalid == "raise":
                raise
            unknown["segmentation"].append((i, str(exc).rsplit(": ", 1)[-1]))
            continue
        annotations.append(CocoAnnotation(i, rec.get("id"), img, cat, kind, rec))
    _warn_skipped(unknown, path)
    skipped = sorted(p for items in unknown.values() for p, _ in items)
    return CocoDataset(path, obj, images, categories, annotations, skipped)
