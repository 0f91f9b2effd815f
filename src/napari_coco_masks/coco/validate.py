"""Validation of a COCO instances file: every problem with its JSON path, and a repaired copy.

:func:`validate` lists **errors** (what makes pycocotools, or this plugin's reader, fail or
read the wrong thing: missing ids, duplicate ids, unknown images, malformed polygons and RLE)
and **warnings** (what other consumers choke on, COCO-NOTES "Dialects" and "pycocotools traps"):
duplicate category names, category id 0, boxes that disagree with the mask, empty
``coco_url`` / ``flickr_url``, categories used but not declared, bbox-only annotations.
:func:`repair` returns a repaired copy and says what it did; nothing is ever changed in place.
No napari import.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CocoError

__all__ = ["ERROR", "WARNING", "Problem", "repair", "validate"]

ERROR, WARNING = "error", "warning"
#: A box edge further than this (pixels) from the mask's (and the polygon's vertex extents)
#: is reported: official COCO boxes are vertex extents, within a pixel of the mask's.
BBOX_TOLERANCE = 1.5


@dataclass(frozen=True)
class Problem:
    """One problem: ``level`` (:data:`ERROR` or :data:`WARNING`), its JSON path, what is
    wrong and, when ``fix`` is set, what :func:`repair` does about it."""

    level: str
    where: str
    message: str
    fix: str | None = None

    def __str__(self) -> str:
        text = f"{self.level}: {self.where}: {self.message}"
        return f"{text} (--fix: {self.fix})" if self.fix else text


def _load(source: Any) -> tuple[Any, Path | None]:
    if isinstance(source, (str, os.PathLike)):
        from .source import read_bytes

        path = Path(source)
        try:
            return json.loads(read_bytes(path)), path
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise CocoError(f"not a JSON file: {exc}", path=path) from None
    return source, None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _key(v: Any) -> Any:
    """Ids as the reader matches them: 3, 3.0 and "3" are the same id."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v) if _is_int(v) else (v if isinstance(v, str) else repr(v))


def validate(source: Any) -> list[Problem]:
    """Every problem of a COCO instances file (a path) or of its parsed JSON object.

    Parameters
    ----------
    source : str, PathLike or dict
        The file, or its parsed JSON object.

    Returns
    -------
    list of Problem
        ``Problem(level, where, message, fix)``: ``level`` is ``"error"`` (a reader fails) or
        ``"warning"`` (a consumer may), ``where`` the JSON path, ``fix`` what :func:`repair`
        does about it (None: nothing).

    Raises
    ------
    CocoError
        Only when the file cannot be read or is not JSON.

    Examples
    --------
    >>> import json
    >>> from importlib.resources import files
    >>> path = Path(files("napari_coco_masks") / "data" / "coins.json")
    >>> validate(path)
    []
    >>> obj = json.loads(path.read_text())
    >>> obj["annotations"][0]["bbox"] = [0, 0, 1, 1]
    >>> [(p.level, p.where, p.fix) for p in validate(obj)]
    [('warning', 'annotations[0].bbox', 'recomputed from the mask')]
    """
    obj, _ = _load(source)
    out: list[Problem] = []
    if not isinstance(obj, Mapping):
        what = "a list (a results file?)" if isinstance(obj, list) else type(obj).__name__
        return [Problem(ERROR, "$", f"the top level must be an object with images, annotations "
                                    f"and categories, got {what}")]
    for key in ("images", "annotations", "categories"):
        if key not in obj:
            out.append(Problem(ERROR if key == "images" else WARNING, key, "missing"))
        elif not isinstance(obj[key], list):
            out.append(Problem(ERROR, key, f"must be a list, got {type(obj[key]).__name__}"))
    images = _check_images(obj.get("images"), out)
    categories = _check_categories(obj.get("categories"), obj.get("annotations"), out)
    _check_annotations(obj.get("annotations"), images, categories, out)
    return out


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _check_images(records: Any, out: list[Problem]) -> dict[Any, tuple[int, int] | None]:
    """Image id -> (height, width) (None when the size is unusable)."""
    seen: dict[Any, int] = {}
    sizes: dict[Any, tuple[int, int] | None] = {}
    for k, im in enumerate(_list(records)):
        where = f"images[{k}]"
        if not isinstance(im, Mapping):
            out.append(Problem(ERROR, where, "an image record must be an object"))
            continue
        if "id" not in im:
            out.append(Problem(ERROR, f"{where}.id", "missing"))
            continue
        key = _key(im["id"])
        if key in seen:
            out.append(Problem(ERROR, f"{where}.id", f"duplicate id {im['id']!r} (also "
                                                     f"images[{seen[key]}])"))
            continue
        seen[key] = k
        if not isinstance(im.get("file_name"), str) or not im.get("file_name"):
            out.append(Problem(ERROR, f"{where}.file_name", "missing or empty"))
        size = []
        for side in ("height", "width"):
            v = im.get(side)
            if not _is_int(v) or v < 1:
                out.append(Problem(ERROR, f"{where}.{side}", f"must be a positive integer, "
                                                             f"got {v!r}"))
            size.append(v)
        for url in ("coco_url", "flickr_url"):
            if url in im and im[url] in ("", None):
                out.append(Problem(WARNING, f"{where}.{url}", "empty: tools that fetch images "
                                   "by URL (FiftyOne, some loaders) fail on it",
                                   fix="the key is removed"))
        sizes[key] = tuple(size) if all(_is_int(v) and v > 0 for v in size) else None
    return sizes


def _check_categories(records: Any, annotations: Any, out: list[Problem]) -> set[Any]:
    used = Counter(_key(a.get("category_id")) for a in _list(annotations)
                   if isinstance(a, Mapping))
    ids: dict[Any, int] = {}
    names: dict[str, int] = {}
    for k, cat in enumerate(_list(records)):
        where = f"categories[{k}]"
        if not isinstance(cat, Mapping) or "id" not in cat:
            out.append(Problem(ERROR, where, "a category must be an object with an 'id'"))
            continue
        key = _key(cat["id"])
        if key in ids:
            out.append(Problem(ERROR, f"{where}.id", f"duplicate id {cat['id']!r} (also "
                                                     f"categories[{ids[key]}])"))
            continue
        ids[key] = k
        if cat["id"] == 0 and _is_int(cat["id"]):
            unused = not used.get(key)
            out.append(Problem(WARNING, f"{where}.id", "category id 0 is background to many "
                               "trainers and converters" + (" (this one is unused: a Roboflow-"
                               "style placeholder)" if unused else ""),
                               fix="removed" if unused else "given a fresh id"))
        name = cat.get("name")
        if not isinstance(name, str) or not name:
            out.append(Problem(WARNING, f"{where}.name", f"missing or empty name ({name!r})"))
            continue
        if name in names:
            out.append(Problem(WARNING, f"{where}.name", f"duplicate name {name!r} (also "
                               f"categories[{names[name]}]): supervision and name-based "
                               "converters merge or refuse them",
                               fix="an unused duplicate is removed, others renamed 'name (id)'"))
        else:
            names[name] = k
    return set(ids)


def _check_annotations(records: Any, images: dict, categories: set, out: list[Problem]) -> None:
    ids: dict[Any, int] = {}
    undeclared: dict[Any, list[int]] = {}
    for k, ann in enumerate(_list(records)):
        where = f"annotations[{k}]"
        if not isinstance(ann, Mapping):
            out.append(Problem(ERROR, where, "an annotation must be an object"))
            continue
        if "id" not in ann:
            out.append(Problem(ERROR, f"{where}.id", "missing"))
        else:
            key = _key(ann["id"])
            if key in ids:
                out.append(Problem(ERROR, f"{where}.id", f"duplicate id {ann['id']!r} (also "
                                   f"annotations[{ids[key]}])", fix="given a fresh id"))
            else:
                ids[key] = k
        image_key = _key(ann.get("image_id"))
        if image_key not in images:
            out.append(Problem(ERROR, f"{where}.image_id",
                               f"{ann.get('image_id')!r} is not an image of the file"))
        if _key(ann.get("category_id")) not in categories:
            undeclared.setdefault(ann.get("category_id"), []).append(k)
        if ann.get("iscrowd", 0) not in (0, 1) or isinstance(ann.get("iscrowd"), bool):
            out.append(Problem(ERROR, f"{where}.iscrowd", f"must be 0 or 1, got "
                                                          f"{ann.get('iscrowd')!r}"))
        size = images.get(image_key)
        rle = _segmentation(ann.get("segmentation"), size, f"{where}.segmentation", out)
        _check_bbox(ann, rle, f"{where}.bbox", out)
    for cid, ks in undeclared.items():
        more = f" and {len(ks) - 1} more" if len(ks) > 1 else ""
        out.append(Problem(WARNING, f"annotations[{ks[0]}].category_id",
                           f"category {cid!r} is used by {len(ks)} annotation(s) "
                           f"(annotations[{ks[0]}]{more}) but not declared in categories: "
                           "readers drop them, supervision and Datumaro refuse the file",
                           fix=f"category {cid!r} is declared"))


def _segmentation(seg: Any, size: tuple[int, int] | None, where: str,
                  out: list[Problem]) -> dict | None:
    """The pycocotools RLE of a segmentation (None when it cannot be made); problems noted."""
    from pycocotools import mask as mask_utils

    from .encode import polygons_to_rle
    from .rle import check_rle

    if isinstance(seg, list):
        if not seg:
            out.append(Problem(WARNING, where, "empty (a bbox-only annotation): pycocotools' "
                                               "annToMask raises IndexError on it"))
            return None
        bad = False
        for j, part in enumerate(seg):
            here = f"{where}[{j}]"
            if not isinstance(part, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in part):
                out.append(Problem(ERROR, here, "a polygon must be a flat list of numbers"))
                bad = True
            elif not all(math.isfinite(v) for v in part):
                out.append(Problem(ERROR, here, "holds NaN or infinite coordinates"))
                bad = True
            elif j == 0 and len(part) == 4:
                out.append(Problem(ERROR, here, "4 numbers: pycocotools takes the polygon "
                                                "list for a bbox and raises TypeError"))
                bad = True
            elif len(part) < 6:
                out.append(Problem(ERROR, here, f"{len(part)} numbers: a polygon needs at "
                                                "least 3 points"))
                bad = True
            elif len(part) % 2:
                out.append(Problem(ERROR, here, f"odd length ({len(part)}): pycocotools "
                                                "silently drops the last number"))
                bad = True
        if bad or size is None:
            return None
        try:
            return polygons_to_rle(seg, *size)
        except CocoError as exc:
            out.append(Problem(ERROR, where, str(exc)))
            return None
    if isinstance(seg, Mapping):
        try:
            check_rle(seg, size)
        except CocoError as exc:
            out.append(Problem(ERROR, where, str(exc).split(": ", 1)[-1]))
            return None
        h, w = (int(v) for v in seg["size"])
        if isinstance(seg["counts"], list):
            return mask_utils.frPyObjects(dict(seg), h, w)
        counts = seg["counts"]
        return {"size": [h, w], "counts": counts.encode() if isinstance(counts, str) else counts}
    if seg is None:
        out.append(Problem(WARNING, where, "missing: the annotation has no mask"))
    else:
        out.append(Problem(ERROR, where, f"must be a polygon list or an RLE object, got "
                                         f"{type(seg).__name__}"))
    return None


def _vertex_box(seg: Any) -> list[float] | None:
    if not isinstance(seg, list) or not seg:
        return None
    xy = np.concatenate([np.asarray(p, float).reshape(-1, 2) for p in seg])
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return [lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]


def _far(a: list[float], b: list[float]) -> float:
    """Largest distance between the edges of two ``[x, y, w, h]`` boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return max(abs(ax - bx), abs(ay - by), abs(ax + aw - bx - bw), abs(ay + ah - by - bh))


def _check_bbox(ann: Mapping, rle: dict | None, where: str, out: list[Problem]) -> None:
    from .encode import area_bbox

    box = ann.get("bbox")
    mask_box = None
    if rle is not None:
        area, mask_box = area_bbox(rle)
        if area == 0:
            out.append(Problem(WARNING, where.replace(".bbox", ".segmentation"),
                               "the mask is empty (no pixel inside the image)"))
            mask_box = None
    fix = "recomputed from the mask" if mask_box is not None else None
    if box is None:
        out.append(Problem(WARNING, where, "missing (COCOeval and detectors need it)", fix=fix))
        return
    if not (isinstance(box, list) and len(box) == 4 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in box)) or box[2] < 0 or box[3] < 0:
        out.append(Problem(ERROR, where, f"must be [x, y, width, height] of finite numbers "
                                         f"with width, height >= 0, got {box!r}", fix=fix))
        return
    if mask_box is None:
        return
    vertex_box = _vertex_box(ann.get("segmentation"))
    if _far(box, mask_box) > BBOX_TOLERANCE and (
            vertex_box is None or _far(box, vertex_box) > BBOX_TOLERANCE):
        shown = [round(v, 1) for v in mask_box]
        out.append(Problem(WARNING, where, f"{[round(v, 1) for v in box]} disagrees with the "
                                           f"mask's box {shown} by {_far(box, mask_box):.1f} px",
                           fix=fix))


# ------------------------------------------------------------------------------ repair


def repair(source: Any) -> tuple[dict, list[str]]:
    """A repaired copy of a COCO file (path) or object, and what was done.

    Fixes the problems :func:`validate` marks with a ``fix``: empty URLs removed, undeclared
    categories declared, an unused category 0 removed (a used one moved to a fresh id),
    duplicate category names (unused duplicates removed, others renamed ``"name (id)"``),
    duplicate annotation ids renumbered, missing, malformed or disagreeing boxes recomputed
    from the mask. Errors without a fix are left as they are.

    Parameters
    ----------
    source : str, PathLike or dict
        The file, or its parsed JSON object (not changed).

    Returns
    -------
    repaired : dict
        The repaired copy.
    done : list of str
        One line per change, ``"<JSON path>: <old> -> <new>"``.

    Raises
    ------
    CocoError
        When the file cannot be read, is not JSON or is not a dataset object.

    Examples
    --------
    >>> import json
    >>> from importlib.resources import files
    >>> obj = json.loads((files("napari_coco_masks") / "data" / "coins.json").read_text())
    >>> obj["annotations"][0]["bbox"] = [0, 0, 1, 1]
    >>> fixed, done = repair(obj)
    >>> done, fixed["annotations"][0]["bbox"], validate(fixed)
    (['annotations[0].bbox: [0, 0, 1, 1] -> [305.0, 16.0, 60.0, 56.0]'], [305.0, 16.0, 60.0, 56.0], [])
    """
    obj, _ = _load(source)
    if not isinstance(obj, Mapping):
        raise CocoError("only a COCO dataset object can be repaired")
    obj = copy.deepcopy(dict(obj))
    done: list[str] = []
    for k, im in enumerate(_list(obj.get("images"))):
        for url in ("coco_url", "flickr_url"):
            if isinstance(im, dict) and url in im and im[url] in ("", None):
                del im[url]
                done.append(f"images[{k}].{url}: removed (empty)")
    anns = [a for a in _list(obj.get("annotations")) if isinstance(a, dict)]
    cats = [c for c in _list(obj.get("categories")) if isinstance(c, dict) and "id" in c]
    _declare(cats, anns, done)
    _dedupe_names(cats, anns, done)
    _category_zero(cats, anns, done)
    obj["categories"] = cats
    _annotation_ids(anns, done)
    _boxes(obj, anns, done)
    return obj, done


def _used(anns: list[dict]) -> Counter:
    return Counter(_key(a.get("category_id")) for a in anns)


def _declare(cats: list[dict], anns: list[dict], done: list[str]) -> None:
    known = {_key(c["id"]) for c in cats}
    names = {c.get("name") for c in cats}
    for a in anns:
        cid = a.get("category_id")
        if _key(cid) in known or not isinstance(cid, (int, str)) or isinstance(cid, bool):
            continue
        name = f"category {cid}"
        while name in names:
            name += "'"
        cats.append({"id": cid, "name": name, "supercategory": ""})
        known.add(_key(cid))
        names.add(name)
        done.append(f"categories: category {cid!r} declared as {name!r}")


def _dedupe_names(cats: list[dict], anns: list[dict], done: list[str]) -> None:
    used = _used(anns)
    groups: dict[Any, list[dict]] = {}
    for c in cats:
        groups.setdefault(c.get("name"), []).append(c)
    for name, group in groups.items():
        if len(group) < 2 or not isinstance(name, str) or not name:
            continue
        unused = [c for c in group if not used.get(_key(c["id"]))]
        keep = [c for c in group if c not in unused] or unused[:1]
        for c in unused:
            if c not in keep:
                cats.remove(c)
                done.append(f"categories: unused duplicate {name!r} (id {c['id']!r}) removed")
        for c in keep[1:]:
            c["name"] = f"{name} ({c['id']})"
            done.append(f"categories: duplicate {name!r} (id {c['id']!r}) renamed {c['name']!r}")


def _category_zero(cats: list[dict], anns: list[dict], done: list[str]) -> None:
    zero = next((c for c in cats if _is_int(c["id"]) and c["id"] == 0), None)
    if zero is None:
        return
    if not _used(anns).get(_key(0)):
        cats.remove(zero)
        done.append(f"categories: unused category 0 ({zero.get('name')!r}) removed")
        return
    from .categories import next_category_id

    new = next_category_id([c["id"] for c in cats])
    zero["id"] = new
    n = 0
    for a in anns:
        if _key(a.get("category_id")) == _key(0):
            a["category_id"] = new
            n += 1
    done.append(f"categories: category 0 ({zero.get('name')!r}) is now id {new} "
                f"({n} annotations follow)")


def _annotation_ids(anns: list[dict], done: list[str]) -> None:
    seen: set[Any] = set()
    ints = [a["id"] for a in anns if _is_int(a.get("id"))]
    fresh = max(ints, default=0) + 1
    for k, a in enumerate(anns):
        if "id" not in a:
            continue
        key = _key(a["id"])
        if key in seen:
            done.append(f"annotations[{k}].id: duplicate {a['id']!r} is now {fresh}")
            a["id"] = fresh
            fresh += 1
        seen.add(_key(a["id"]))


def _boxes(obj: dict, anns: list[dict], done: list[str]) -> None:
    images = {}
    for im in _list(obj.get("images")):
        if isinstance(im, dict) and _is_int(im.get("height")) and _is_int(im.get("width")):
            images[_key(im.get("id"))] = (im["height"], im["width"])
    for k, a in enumerate(anns):
        problems: list[Problem] = []
        rle = _segmentation(a.get("segmentation"), images.get(_key(a.get("image_id"))),
                            "segmentation", [])
        _check_bbox(a, rle, "bbox", problems)
        if rle is not None and any(p.where == "bbox" and p.fix for p in problems):
            from .encode import area_bbox

            _, box = area_bbox(rle)
            done.append(f"annotations[{k}].bbox: {a.get('bbox')!r} -> {box}")
            a["bbox"] = box
