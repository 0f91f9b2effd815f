"""The bytes of a COCO file: one typed pass, record spans, and minimal-diff re-emission.

A COCO file is read once into memory and parsed by ``msgspec`` into only what an index needs
(the images and categories records; for each annotation its ``id``, ``image_id`` and
``category_id``, plus the byte span of its record). Each annotation's geometry is decoded from
its own bytes when its image is needed (:meth:`RawSource.record`).

Writing goes the other way (:func:`splice_annotations`): the original bytes are kept and only
the spans of changed records are replaced, so a file saved without edits is byte-identical and
a one-object fix is a one-record diff (docs/architecture.md, "Minimal-diff saving").

No napari import here.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from .errors import CocoError

__all__ = ["RawSource", "read_bytes", "splice_annotations"]

#: Peak memory of a load, as a multiple of the file size (bytes + index), for the up-front check.
MEMORY_FACTOR = 2.0


class _Top(msgspec.Struct):
    """The top level of a COCO dataset, each list kept as raw bytes."""

    images: msgspec.Raw = msgspec.Raw(b"null")
    annotations: msgspec.Raw = msgspec.Raw(b"null")
    categories: msgspec.Raw = msgspec.Raw(b"null")


class _AnnHead(msgspec.Struct):
    """The fields of an annotation the index needs; the rest stays in its bytes."""

    id: Any = None
    image_id: Any = msgspec.UNSET
    category_id: Any = None


def _available_memory() -> int | None:
    """Bytes this process can still allocate: MemAvailable, capped by RLIMIT_AS."""
    limits = []
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
                    break
    except OSError:
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else None


def read_bytes(path: Path) -> bytes:
    """The bytes of a JSON file, after checking it is a regular file that fits in memory.

    Raises
    ------
    CocoError
        If it is not a regular file (a FIFO would block forever), cannot be read, or is too
        large for the memory left.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise CocoError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    if not stat.S_ISREG(info.st_mode):
        raise CocoError("not a regular file: give the path of a COCO .json file", path=path)
    available = _available_memory()
    if available is not None and info.st_size * MEMORY_FACTOR > available:
        raise CocoError(
            f"the file is {info.st_size / 2**30:.1f} GiB and reading it needs about "
            f"{info.st_size * MEMORY_FACTOR / 2**30:.1f} GiB of memory, but only "
            f"{available / 2**30:.1f} GiB are available: close other programs or use a machine "
            "with more memory",
            path=path,
        )
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise CocoError(f"cannot read the file: {exc.strerror or exc}", path=path) from None


def _utf8(buf: bytes) -> tuple[bytes, int]:
    """UTF-8 bytes of a JSON text and the offset where the JSON starts (after a BOM).

    UTF-16 and UTF-32 files (which ``json.load`` accepts) are transcoded; their re-emission is
    then UTF-8.
    """
    if buf.startswith(b"\xef\xbb\xbf"):
        return buf, 3
    head = buf[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) == 4 and 0 in head):
        try:
            text = buf.decode(json.detect_encoding(buf))
        except (UnicodeDecodeError, LookupError):
            return buf, 0
        return text.lstrip("\ufeff").encode("utf-8"), 0
    return buf, 0


_PATH = re.compile(r"at `\$(.*)`")


def _where(prefix: str, exc: msgspec.ValidationError) -> str | None:
    """``annotations[17].image_id`` from msgspec's "... - at `$[17].image_id`"."""
    m = _PATH.search(str(exc))
    return prefix + (m.group(1) if m else "")


def _message(exc: Exception) -> str:
    return _PATH.sub("", str(exc)).rstrip(" -")


@dataclass
class RawSource:
    """A COCO file's bytes with the span of every annotation record.

    Attributes
    ----------
    buffer : bytes
        The file's bytes as UTF-8 (the original bytes unless the file was UTF-16/32).
    start, stop : ndarray of int64
        Byte span ``buffer[start[k]:stop[k]]`` of annotation record ``k``.
    array_span : (int, int) or None
        Span of the ``annotations`` list itself, brackets included (None if it has none).
    """

    buffer: bytes
    start: np.ndarray
    stop: np.ndarray
    array_span: tuple[int, int] | None

    def record(self, k: int) -> bytes:
        """The bytes of annotation record ``k``."""
        return self.buffer[int(self.start[k]) : int(self.stop[k])]

    def __len__(self) -> int:
        return len(self.start)


def _offset(raw: msgspec.Raw, base: int) -> int:
    return int(np.frombuffer(raw, np.uint8).ctypes.data - base) if len(raw) else 0


def parse_bytes(
    buf: bytes, path: Path | None
) -> tuple[Any, list | None, list | None, list[_AnnHead], RawSource | None]:
    """One typed pass over a file's bytes.

    Returns
    -------
    top : str
        ``"dataset"`` or ``"list"`` (a top-level list: a results file or other JSON).
    images, categories : list of dict or None
        The records (None when the key is missing or not a list; see the model's checks).
    heads : list of _AnnHead
        Per annotation record: id, image_id, category_id.
    source : RawSource or None
        The spans (None when there is no annotations list).

    Raises
    ------
    NotCocoError-like ValueError
        ``msgspec.DecodeError`` for bytes that are not JSON (the caller decides).
    CocoError
        For records of the wrong type, with the JSON path.
    """
    from .model import NotCocoError

    buf, skip = _utf8(buf)
    view = memoryview(buf)[skip:]
    try:
        top = msgspec.json.decode(view, type=_Top | list[msgspec.Raw])
    except msgspec.ValidationError:
        raise NotCocoError("the JSON top level is not an object", path=path) from None
    except RecursionError:
        raise CocoError("the JSON is nested too deeply to be COCO", path=path) from None
    if isinstance(top, list):
        return "list", top, None, [], None
    base = np.frombuffer(buf, np.uint8).ctypes.data
    images = _decode_list(top.images, "images", path)
    categories = _decode_list(top.categories, "categories", path)
    first = memoryview(top.annotations)[:1].tobytes()
    if first != b"[":
        heads, source = [], None
        if first != b"n":
            raise CocoError("'annotations' must be a list", path=path, where="annotations")
    else:
        heads, source = _annotation_index(buf, top.annotations, base, path)
    return "dataset", images, categories, heads, source


def _decode_list(raw: msgspec.Raw, key: str, path: Path | None) -> Any:
    """A top-level value decoded to Python objects (None for a missing key)."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.ValidationError as exc:
        raise CocoError(_message(exc), path=path, where=_where(key, exc)) from None
    except RecursionError:
        raise CocoError("nested too deeply to be COCO", path=path, where=key) from None


def _annotation_index(
    buf: bytes, raw: msgspec.Raw, base: int, path: Path | None
) -> tuple[list[_AnnHead], RawSource]:
    """Headers and byte spans of every annotation record."""
    try:
        heads = msgspec.json.decode(raw, type=list[_AnnHead])
    except msgspec.ValidationError as exc:
        msg = _message(exc)
        if "Expected `object`" in msg:
            msg = "an annotation must be an object"
        raise CocoError(msg, path=path, where=_where("annotations", exc)) from None
    except RecursionError:
        raise CocoError("nested too deeply", path=path, where="annotations") from None
    records = msgspec.json.decode(raw, type=list[msgspec.Raw])
    lengths = np.fromiter(map(len, records), np.int64, len(records))
    first = _offset(raw, base)
    start = np.empty(len(records), np.int64)
    find, p = buf.find, first + 1
    for k, n in enumerate(lengths.tolist()):
        p = find(b"{", p)
        start[k] = p
        p += n
    span = (first, first + len(raw))
    return heads, RawSource(buf, start, start + lengths, span)


# ------------------------------------------------------------------------------ re-emission


def record_separator(source: RawSource) -> tuple[bytes, bytes]:
    """The bytes between two records and before the first one (as the file writes them)."""
    buf = source.buffer
    a0 = source.array_span[0] if source.array_span else 0
    if len(source) >= 2:
        sep = buf[int(source.stop[0]) : int(source.start[1])]
    else:
        sep = b", "
    lead = buf[a0 + 1 : int(source.start[0])] if len(source) else b""
    return sep, lead


def dumps_record(record: Mapping[str, Any], like: bytes | None = None) -> bytes:
    """One annotation record as JSON bytes, compact when the file's records are compact."""
    compact = like is None or b'": ' not in like[:200]
    seps = (",", ":") if compact else (", ", ": ")
    from .write import _json_default

    return json.dumps(record, separators=seps, ensure_ascii=False, default=_json_default).encode(
        "utf-8"
    )


def splice_annotations(
    source: RawSource,
    replaced: Mapping[int, bytes | None],
    appended: Sequence[bytes] = (),
) -> bytes:
    """The file's bytes with some annotation records replaced, dropped or appended.

    Parameters
    ----------
    source : RawSource
        The original bytes and record spans.
    replaced : mapping of int to bytes or None
        Record position -> its new bytes, or None to drop it (with one neighbouring separator).
    appended : sequence of bytes
        New records, written after the last record with the file's own separator.

    Returns
    -------
    bytes
        Byte-identical to the original when nothing is replaced or appended.
    """
    buf = source.buffer
    if not replaced and not appended:
        return buf
    if source.array_span is None:
        raise CocoError("the source has no annotations list to write into")
    sep, lead = record_separator(source)
    a0, a1 = source.array_span
    kept = False
    out = [buf[: a0 + 1]]
    start, stop = source.start, source.stop
    n = len(source)
    # Walk the records; gaps between kept records are the file's own bytes.
    prev_end: int | None = None
    first = True
    for k in range(n):
        if k in replaced and replaced[k] is None:
            continue
        s, e = int(start[k]), int(stop[k])
        if first:
            out.append(buf[a0 + 1 : s] if k == 0 else lead)
            first = False
        elif prev_end is not None:
            out.append(buf[prev_end:s] if _adjacent_kept(k, replaced) else sep)
        out.append(replaced[k] if k in replaced else buf[s:e])
        prev_end = e
        kept = True
    tail_start = int(stop[n - 1]) if n else a0 + 1
    for rec in appended:
        if first:
            out.append(lead if n else b"")
            first = False
        else:
            out.append(sep)
        out.append(rec)
    if kept or appended:
        out.append(buf[tail_start:a1])
    else:
        out.append(buf[tail_start:a1] if not n else buf[a1 - 1 : a1])
    out.append(buf[a1:])
    return b"".join(out)


def _adjacent_kept(k: int, replaced: Mapping[int, bytes | None]) -> bool:
    """Whether the record before ``k`` is kept (so the gap between them is the file's own)."""
    return not (k - 1 in replaced and replaced[k - 1] is None)
