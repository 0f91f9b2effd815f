"""Category edits of an opened COCO file (rename, add) and per-category figures.

:class:`CategoryEdits` is what a :class:`~.session.CocoSession` keeps of renamed and added
categories. On save, the ``categories`` array is re-emitted with a minimal diff
(:func:`category_ops`): a renamed category's ``name`` / ``supercategory`` values are replaced
inside its own record's bytes (formatting kept), an added category follows the last record with
the file's own separator. :func:`instance_counts` and :func:`evaluate_categories` give the
per-category figures a dock shows. No napari or Qt import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from .errors import CocoError

__all__ = [
    "CategoryEdits",
    "category_ops",
    "evaluate_categories",
    "instance_counts",
    "next_category_id",
    "refresh_names",
    "splice_ops",
]


@dataclass
class CategoryEdits:
    """Renamed and added categories of one file.

    Attributes
    ----------
    renamed : dict
        Category position -> the record as it is now (only the file's own categories).
    added : list of int
        Positions of categories that are not in the file (they follow its categories).
    stale : dict
        Category id -> names it had before a rename (tables still holding them are refreshed).
    """

    renamed: dict[int, dict] = field(default_factory=dict)
    added: list[int] = field(default_factory=list)
    stale: dict[Any, set[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.renamed or self.added)


def next_category_id(ids: Sequence[Any]) -> int:
    """One more than the largest integer category id (at least 1: id 0 trips some readers)."""
    ints = [v for v in ids if type(v) is int]
    return max(max(ints, default=0) + 1, 1)


def check_name(name: Any, names: Sequence[str], *, where: str = "name") -> str:
    """A category name: a non-empty string that no other category has."""
    if not isinstance(name, str) or not name.strip():
        raise CocoError(f"a category {where} must be a non-empty string, got {name!r}")
    if name in names:
        raise CocoError(
            f"there is already a category named {name!r}: choose another name (duplicate "
            "names make supervision, Datumaro and name-based tools merge or refuse them)"
        )
    return name


def refresh_names(table: Any, names: Mapping[Any, str], stale: Mapping[Any, set[str]]) -> Any:
    """A features table whose ``category`` cells that hold a renamed category's former name
    (with that category's ``category_id``) show its name now; other cells are left alone
    (a name typed in the table to re-assign an instance still re-assigns it)."""
    import pandas as pd

    from .write import _match_id

    if table is None or not stale or not hasattr(table, "columns"):
        return table
    if "category" not in table.columns or "category_id" not in table.columns or not len(table):
        return table
    ids = [_match_id(v) for v in table["category_id"]]
    old = table["category"].tolist()
    new = [
        names.get(cid, name) if name in stale.get(cid, ()) else name
        for cid, name in zip(ids, old, strict=True)
    ]
    if new == old:
        return table
    out = pd.DataFrame(table).copy()
    out["category"] = new
    return out


# ------------------------------------------------------------------------------ bytes


class _Top(msgspec.Struct):
    categories: msgspec.Raw = msgspec.Raw(b"")


class _CatHead(msgspec.Struct):
    name: msgspec.Raw = msgspec.Raw(b"")
    supercategory: msgspec.Raw = msgspec.Raw(b"")


def _address(raw: msgspec.Raw) -> int:
    return int(np.frombuffer(raw, np.uint8).ctypes.data) if len(raw) else -1


def _category_spans(buf: bytes) -> tuple[int, int, np.ndarray, np.ndarray] | None:
    """(start, stop) of the ``categories`` array and of each of its records, or None when the
    file has no categories array."""
    from .source import _spans, _utf8

    buf, skip = _utf8(buf)
    try:
        top = msgspec.json.decode(memoryview(buf)[skip:], type=_Top)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    raw = top.categories
    if memoryview(raw)[:1].tobytes() != b"[":
        return None
    base = int(np.frombuffer(buf, np.uint8).ctypes.data)
    start, stop = _spans(buf, raw, base)
    a0 = _address(raw) - base
    return a0, a0 + len(raw), start, stop


def _renamed_bytes(old: bytes, record: Mapping[str, Any], like: bytes) -> bytes:
    """The record's bytes with its ``name`` / ``supercategory`` values replaced in place
    (formatting kept); re-emitted whole when a key is missing or repeated."""
    from .source import dumps_record

    original = msgspec.json.decode(old)
    changed = [k for k in ("name", "supercategory") if original.get(k) != record.get(k)]
    others = {k: v for k, v in record.items() if k not in ("name", "supercategory")}
    if others != {k: v for k, v in original.items() if k not in ("name", "supercategory")}:
        return dumps_record(record, like)
    head = msgspec.json.decode(old, type=_CatHead)
    base = int(np.frombuffer(old, np.uint8).ctypes.data)
    ops = []
    for key in changed:
        raw = getattr(head, key)
        at = _address(raw) - base
        if at < 0 or key not in original or old.count(json.dumps(key).encode()) != 1:
            return dumps_record(record, like)
        text = json.dumps(record.get(key), ensure_ascii=False).encode("utf-8")
        ops.append((at, at + len(raw), text))
    out, cursor = [], 0
    for a, b, text in sorted(ops):
        out += [old[cursor:a], text]
        cursor = b
    return b"".join([*out, old[cursor:]])


def category_ops(
    buffer: Any, edits: CategoryEdits, records: Sequence[Mapping[str, Any]]
) -> list[tuple[int, int, bytes]] | None:
    """Byte edits ``(start, stop, new bytes)`` of the file that write the category edits.

    ``records`` are the categories as they are now (file order, added ones last). None when
    the file has no ``categories`` array to edit (the caller writes the file whole).
    """
    from .source import dumps_record

    if not edits:
        return []
    buf = buffer[:]
    spans = _category_spans(buf)
    if spans is None:
        return None
    a0, a1, start, stop = spans
    if len(start) != len(records) - len(edits.added):
        return None
    like = buf[int(start[0]) : int(stop[0])] if len(start) else None
    ops = []
    for k in sorted(edits.renamed):
        old = buf[int(start[k]) : int(stop[k])]
        ops.append((int(start[k]), int(stop[k]), _renamed_bytes(old, edits.renamed[k], like)))
    if edits.added:
        new = [dumps_record(records[k], like) for k in edits.added]
        if len(start):
            sep = buf[int(stop[0]) : int(start[1])] if len(start) > 1 else b", "
            ops.append((int(stop[-1]), int(stop[-1]), b"".join(sep + rec for rec in new)))
        else:
            ops.append((a0 + 1, a1 - 1, b", ".join(new)))
    return ops


def splice_ops(
    segments: Sequence[bytes | tuple[int, int]], ops: Sequence[tuple[int, int, bytes]]
) -> list[bytes | tuple[int, int]]:
    """:func:`~.source.splice_annotations` segments with more byte edits applied, each
    falling inside one range of original bytes (the categories array never overlaps the
    annotations array)."""
    pending = sorted(ops, key=lambda op: (op[0], op[1]))
    done: set[int] = set()
    out: list[bytes | tuple[int, int]] = []
    for seg in segments:
        if not isinstance(seg, tuple):
            out.append(seg)
            continue
        a, b = seg
        cursor = a
        for j, (s, e, text) in enumerate(pending):
            if j not in done and a <= s and e <= b and s >= cursor:
                if s > cursor:
                    out.append((cursor, s))
                if text:
                    out.append(text)
                cursor = e
                done.add(j)
        if cursor < b:
            out.append((cursor, b))
    if len(done) != len(pending):
        raise CocoError("the categories edits could not be placed in the file: save again")
    return out


# ---------------------------------------------------------------------------- figures


def instance_counts(session: Any, cache: dict | None = None) -> np.ndarray:
    """Instances per category position in the whole file, with the edits kept in the session
    (images whose label table was edited are counted from it; others from the file's index).

    ``cache`` (a dict the caller keeps) holds each stored image's difference to the file,
    keyed by the image and its table: a table stored in the session is replaced, not edited,
    so an image is counted again only when it is stored again (the shown one always is).
    """
    ds = session.dataset
    n = len(ds.categories)
    used = ds._category_of
    counts = np.bincount(used[used >= 0], minlength=n)[:n].astype(np.int64)
    for i, table in session.label_features.items():
        key = (i, id(table), len(ds.categories))
        delta = None if cache is None or i == session.current else cache.get(key)
        if delta is None:
            delta = table_counts(session, table, plane=session.planes.plane(i))
            for a in session.annotations(i):
                delta[a.category_position] -= 1
            if cache is not None:
                cache[key] = (delta, table)  # the table kept: its id stays its own
        else:
            delta = delta[0]
        counts += delta
    return counts


def table_counts(session: Any, table: Any, *, plane: np.ndarray | None = None) -> np.ndarray:
    """Instances per category position of one image's label table (rows of label values
    present in ``plane`` when given)."""
    from .write import _match_id

    n = len(session.dataset.categories)
    counts = np.zeros(n, np.int64)
    if table is None or not len(table) or "category_id" not in table.columns:
        return counts
    position = {_match_id(c.id): c.position for c in session.dataset.categories}
    values = table["index"].tolist() if "index" in table.columns else range(len(table))
    present = None if plane is None else set(np.unique(plane).tolist())
    for value, cid in zip(values, table["category_id"].tolist(), strict=True):
        if present is not None and value not in present:
            continue
        p = position.get(_match_id(cid))
        if p is not None:
            counts[p] += 1
    return counts


def evaluate_categories(
    ground_truth: Mapping[str, Any], detections: list[dict], *, iou_type: str = "segm"
) -> list[dict[str, Any]]:
    """COCOeval per category: ``{"category_id", "name", "AP", "AP50", "AP75", "recall",
    "n_gt", "n_det", "false_positives", "misses"}`` for each category with ground truth or
    detections (-1: nothing to average), plus an ``"all"`` row first (pycocotools' summarize
    numbers).

    ``false_positives`` are the positions in ``detections`` of the detections that match no
    ground truth at IoU 0.5 (all areas, up to the last ``maxDets``), ``misses`` the ids of the
    ground-truth annotations no detection matches; crowd and ignored ones are left out.
    ``detections`` are checked as :func:`~.evaluate.evaluate` checks them.
    """
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from .evaluate import _check_results

    dets = _check_results(detections, ground_truth, None, (iou_type,))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = dict(ground_truth)
        gt.createIndex()
        try:
            dt = gt.loadRes(dets)
        except (AssertionError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise CocoError(f"pycocotools cannot read these detections: {exc!r}") from None
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision, recall = ev.eval["precision"], ev.eval["recall"]  # [T,R,K,A,M], [T,K,A,M]
    iou = list(np.round(ev.params.iouThrs, 2))

    def mean(a: np.ndarray) -> float:
        a = a[a > -1]
        return float(a.mean()) if a.size else -1.0

    errors = _errors_at_50(ev)
    rows = [{"category_id": None, "name": "all", "AP": float(ev.stats[0]),
             "AP50": float(ev.stats[1]), "AP75": float(ev.stats[2]), "recall": float(ev.stats[8]),
             "n_gt": len(gt.getAnnIds()), "n_det": len(dets),
             "false_positives": sorted(d for fp, _ in errors.values() for d in fp),
             "misses": sorted(g for _, ms in errors.values() for g in ms)}]
    for k, cid in enumerate(ev.params.catIds):
        n_gt, n_det = len(gt.getAnnIds(catIds=[cid])), len(dt.getAnnIds(catIds=[cid]))
        if not n_gt and not n_det:
            continue
        rows.append({
            "category_id": cid,
            "name": gt.cats[cid].get("name"),
            "AP": mean(precision[:, :, k, 0, -1]),
            "AP50": mean(precision[iou.index(0.5), :, k, 0, -1]),
            "AP75": mean(precision[iou.index(0.75), :, k, 0, -1]),
            "recall": mean(recall[:, k, 0, -1]),
            "n_gt": n_gt,
            "n_det": n_det,
            "false_positives": sorted(errors.get(cid, ((), ()))[0]),
            "misses": sorted(errors.get(cid, ((), ()))[1]),
        })
    return rows


def _errors_at_50(ev: Any) -> dict[Any, tuple[list[int], list[Any]]]:
    """Category id -> (positions of unmatched detections, ids of unmatched ground truth) at
    IoU 0.5, from COCOeval's per-image matches (loadRes numbers detections 1..N in order)."""
    t = int(np.argmin(np.abs(np.asarray(ev.params.iouThrs) - 0.5)))
    all_areas = ev.params.areaRng[0]
    out: dict[Any, tuple[list[int], list[Any]]] = {}
    for e in ev.evalImgs:
        if e is None or list(e["aRng"]) != list(all_areas):
            continue
        fp, miss = out.setdefault(e["category_id"], ([], []))
        for d, matched, ignored in zip(e["dtIds"], e["dtMatches"][t], e["dtIgnore"][t],
                                       strict=True):
            if not matched and not ignored:
                fp.append(int(d) - 1)
        for g, matched, ignored in zip(e["gtIds"], e["gtMatches"][t], e["gtIgnore"],
                                       strict=True):
            if not matched and not ignored:
                miss.append(g)
    return out
