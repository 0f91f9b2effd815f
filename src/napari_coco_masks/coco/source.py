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

__all__ = ["FileBytes", "RawSource", "read_bytes", "splice_annotations", "write_segments"]

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


class _IntHead(msgspec.Struct):
    """The common case, decoded into arrays: integer image and category ids."""

    image_id: int
    category_id: int
    id: Any = None


class _ImageHead(msgspec.Struct):
    """The fields of an image record the index needs."""

    id: Any = msgspec.UNSET
    file_name: Any = ""
    height: Any = None
    width: Any = None


#: Annotation records decoded per typed pass (bounds the memory of the headers).
CHUNK = 1 << 13


@dataclass
class Columns:
    """Per annotation record: id, image_id and category_id (arrays when all are integers)."""

    ids: Any
    image_ids: Any
    category_ids: Any
    integer: bool

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Parsed:
    """What one typed pass over a file's bytes gives the model."""

    kind: str  # "dataset" or "list"
    transcoded: bytes | None  # the UTF-8 bytes when the file was UTF-16/32, else None
    images: Any  # typed image heads (or the first items of a top-level list)
    image_spans: Any  # (buffer, start, stop) of the image records, or None
    categories: Any
    columns: Columns
    source: RawSource | None


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


def file_stamp(path: Path) -> tuple[int, int]:
    """``(size, mtime_ns)`` of a file, which :class:`FileBytes` checks before every read."""
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


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


class FileBytes:
    """The bytes of a file read on demand (``fb[a:b]``), so a big file is not kept in memory.

    The file must not change while it is open: each read checks its size and modification
    time and raises :class:`CocoError` when they differ. ``data`` keeps the bytes in memory
    instead (files that were transcoded from UTF-16/32).
    """

    def __init__(
        self, path: Path | None, data: bytes | None = None, *, stamp: tuple[int, int] | None = None
    ) -> None:
        self.path = path
        self.data = data
        if data is None:
            if stamp is None:
                info = os.stat(path)
                stamp = (info.st_size, info.st_mtime_ns)
            self._stamp = stamp
            self._size = stamp[0]
        else:
            self._size = len(data)

    def __len__(self) -> int:
        return self._size

    def _check(self, fd: int) -> None:
        info = os.fstat(fd)
        if (info.st_size, info.st_mtime_ns) != self._stamp:
            raise CocoError(
                "the file changed on disk after it was opened: open it again to see or save it",
                path=self.path,
            )

    def read(self, spans: Sequence[tuple[int, int]]) -> list[bytes]:
        """The bytes of several ``(start, stop)`` spans, with one open of the file."""
        if self.data is not None:
            return [self.data[a:b] for a, b in spans]
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise CocoError(f"cannot read the file: {exc.strerror or exc}", path=self.path) from None
        try:
            self._check(fd)
            return [os.pread(fd, b - a, a) for a, b in spans]
        finally:
            os.close(fd)

    def __getitem__(self, key: slice) -> bytes:
        start, stop, _ = key.indices(self._size)
        return self.read([(start, max(start, stop))])[0]

    def copy_to(self, fh: Any, start: int, stop: int, chunk: int = 1 << 24) -> None:
        """Write bytes ``start:stop`` to ``fh`` in chunks."""
        for a in range(start, stop, chunk):
            fh.write(self[a : min(stop, a + chunk)])


@dataclass
class RecordSpans:
    """The byte span of each record of a JSON list (images): ``buffer[start[k]:stop[k]]``."""

    buffer: Any
    start: np.ndarray
    stop: np.ndarray

    def record(self, k: int) -> bytes:
        return self.buffer[int(self.start[k]) : int(self.stop[k])]


@dataclass
class RawSource:
    """A COCO file's bytes with the span of every annotation record.

    Attributes
    ----------
    buffer : bytes or FileBytes
        The file's bytes as UTF-8 (the original bytes unless the file was UTF-16/32); after
        :func:`~.model.load_coco`, a :class:`FileBytes` that reads them on demand.
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

    def records(self, ks: Sequence[int]) -> list[bytes]:
        """The bytes of several records (one read of the file)."""
        spans = [(int(self.start[k]), int(self.stop[k])) for k in ks]
        if isinstance(self.buffer, FileBytes):
            return self.buffer.read(spans)
        return [self.buffer[a:b] for a, b in spans]

    def __len__(self) -> int:
        return len(self.start)


def _offset(raw: msgspec.Raw, base: int) -> int:
    return int(np.frombuffer(raw, np.uint8).ctypes.data - base) if len(raw) else 0


def parse_bytes(buf: bytes, path: Path | None) -> Parsed:
    """One typed pass over a file's bytes: image heads, categories, annotation index.

    Raises
    ------
    msgspec.DecodeError
        For bytes that are not JSON (the caller decides what they are).
    CocoError
        For records of the wrong type, with the JSON path.
    """
    from .model import NotCocoError

    original = buf
    buf, skip = _utf8(buf)
    transcoded = None if buf is original else buf
    view = memoryview(buf)[skip:]
    try:
        top = msgspec.json.decode(view, type=_Top | list[msgspec.Raw])
    except msgspec.ValidationError:
        raise NotCocoError("the JSON top level is not an object", path=path) from None
    except RecursionError:
        raise CocoError("the JSON is nested too deeply to be COCO", path=path) from None
    empty = Columns([], [], [], False)
    if isinstance(top, list):
        return Parsed("list", transcoded, top[:10], None, None, empty, None)
    base = np.frombuffer(buf, np.uint8).ctypes.data
    images, spans = _image_heads(buf, top.images, base, path)
    categories = _decode_list(top.categories, "categories", path)
    first = memoryview(top.annotations)[:1].tobytes()
    if first != b"[":
        if first != b"n":
            raise CocoError("'annotations' must be a list", path=path, where="annotations")
        return Parsed("dataset", transcoded, images, spans, categories, empty, None)
    columns, source = _annotation_index(buf, top.annotations, base, path)
    return Parsed("dataset", transcoded, images, spans, categories, columns, source)


def _image_heads(buf: bytes, raw: msgspec.Raw, base: int, path: Path | None):
    """Typed image heads and the byte span of each record (None, None for no list)."""
    first = memoryview(raw)[:1].tobytes()
    if first != b"[":
        return _decode_list(raw, "images", path), None
    try:
        heads = msgspec.json.decode(raw, type=list[_ImageHead])
    except msgspec.ValidationError as exc:
        msg = _message(exc)
        if "Expected `object`" in msg:
            msg = "an image record must be an object"
        raise CocoError(msg, path=path, where=_where("images", exc)) from None
    except RecursionError:
        raise CocoError("nested too deeply to be COCO", path=path, where="images") from None
    start, stop = _spans(buf, raw, base)
    return heads, RecordSpans(buf, start, stop)


def _spans(buf: bytes, raw: msgspec.Raw, base: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte spans of the objects of a JSON list (every element checked to be an object)."""
    records = msgspec.json.decode(raw, type=list[msgspec.Raw])
    lengths = np.fromiter(map(len, records), np.int64, len(records))
    del records
    start = np.empty(len(lengths), np.int64)
    find, p = buf.find, _offset(raw, base) + 1
    for k, n in enumerate(lengths.tolist()):
        p = find(b"{", p)
        start[k] = p
        p += n
    return start, start + lengths


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
) -> tuple[Columns, RawSource]:
    """Headers (as columns) and byte spans of every annotation record, chunk by chunk.

    A record that is not an object fails the typed decode of its chunk (named with its JSON
    path); the spans are checked to start with ``{`` and end with ``}``.
    """
    try:
        start, stop = _spans(buf, raw, base)
    except RecursionError:
        raise CocoError("nested too deeply", path=path, where="annotations") from None
    n = len(start)
    parts: list[tuple] = []
    integer = True
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        blob = b"[" + buf[int(start[a]) : int(stop[b - 1])] + b"]"
        if integer:
            try:
                heads = msgspec.json.decode(blob, type=list[_IntHead])
                columns = _int_columns(heads)
            except (msgspec.ValidationError, OverflowError):  # not all ints within int64
                integer = False
                parts = [_generic_columns(p) for p in parts]
            else:
                _check_count(len(heads), b - a, a, path)
                parts.append(columns)
                continue
        part = _any_columns(blob, a, path)
        _check_count(len(part[0]), b - a, a, path)
        parts.append(part)
    if n:
        view = np.frombuffer(buf, np.uint8)
        if not ((view[stop - 1] == ord("}")).all() and (view[start] == ord("{")).all()):
            raise CocoError("an annotation must be an object", path=path, where="annotations")
    if integer:
        if all(isinstance(p[0], np.ndarray) for p in parts):
            ids = np.concatenate([p[0] for p in parts] or [np.zeros(0, np.int64)])
        else:
            ids = [v for p in parts for v in list(p[0])]
        empty = np.zeros(0, np.int64)
        columns = Columns(ids, np.concatenate([p[1] for p in parts] or [empty]),
                          np.concatenate([p[2] for p in parts] or [empty]), True)
    else:
        columns = Columns(*(sum((list(p[j]) for p in parts), []) for j in range(3)), False)
    span = (_offset(raw, base), _offset(raw, base) + len(raw))
    return columns, RawSource(buf, start, stop, span)


def _int_array(values: list) -> np.ndarray:
    """``values`` as int64 when every one is a plain integer within int64, else TypeError."""
    if not all(type(v) is int for v in values):
        raise TypeError("not all integers")
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        raise TypeError("integers beyond int64") from None


def _check_count(got: int, expected: int, offset: int, path: Path | None) -> None:
    if got != expected:
        raise CocoError(
            "an annotation must be an object", path=path, where=f"annotations[{offset}:]"
        )


def _int_columns(heads: list[_IntHead]) -> tuple:
    n = len(heads)
    ids = [h.id for h in heads]
    try:
        ids = _int_array(ids)
    except TypeError:
        pass
    return (
        ids,
        np.fromiter((h.image_id for h in heads), np.int64, n),
        np.fromiter((h.category_id for h in heads), np.int64, n),
    )


def _generic_columns(part: tuple) -> tuple:
    ids = part[0].tolist() if isinstance(part[0], np.ndarray) else list(part[0])
    return ids, part[1].tolist(), part[2].tolist()


def _any_columns(blob: bytes, offset: int, path: Path | None) -> tuple:
    try:
        heads = msgspec.json.decode(blob, type=list[_AnnHead])
    except msgspec.ValidationError as exc:
        m = _PATH.search(str(exc))
        where = "annotations"
        if m:
            inner = m.group(1)
            k = re.match(r"\[(\d+)\](.*)", inner)
            where += f"[{int(k.group(1)) + offset}]{k.group(2)}" if k else inner
        raise CocoError(_message(exc), path=path, where=where) from None
    return [h.id for h in heads], [h.image_id for h in heads], [h.category_id for h in heads]


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
) -> list[bytes | tuple[int, int]]:
    """The file as segments: the original's byte ranges and the changed records' new bytes.

    Parameters
    ----------
    source : RawSource
        The original bytes and record spans.
    replaced : mapping of int to bytes or None
        Record position -> its new bytes, or None to drop it (with one neighbouring separator).
    appended : sequence of bytes
        New records, written after the last kept record with the file's own separator.

    Returns
    -------
    list of bytes or (start, stop)
        ``(start, stop)`` is a range of the original bytes; :func:`write_segments` writes them.
        Without changes this is the whole original, so the file comes back byte-identical.
    """
    size = len(source.buffer)
    if not replaced and not appended:
        return [(0, size)]
    if source.array_span is None:
        raise CocoError("the source has no annotations list to write into")
    sep, _ = record_separator(source)
    start, stop = source.start.tolist(), source.stop.tolist()
    n = len(start)
    dropped = {k for k, v in replaced.items() if v is None}
    # (from, to, bytes): the original bytes from:to are replaced by bytes
    ops: list[tuple[int, int, bytes]] = []
    for k, new in replaced.items():
        if new is not None:
            ops.append((start[k], stop[k], new))
        elif k > 0:
            ops.append((stop[k - 1], stop[k], b""))  # the separator before it and itself
        else:
            ops.append((start[0], stop[0], b""))
    if 0 in dropped:  # the first kept record loses the separator before it
        j = next((k for k in range(n) if k not in dropped), None)
        if j is not None:
            ops.append((stop[j - 1], start[j], b""))
    if appended:
        kept = [k for k in range(n) if k not in dropped]
        if kept:
            at, text = stop[kept[-1]], b"".join(sep + rec for rec in appended)
        else:
            at = stop[n - 1] if n else source.array_span[0] + 1
            text = sep.join(appended)
        ops.append((at, at, text))
    ops.sort(key=lambda op: (op[0], op[1]))
    out: list[bytes | tuple[int, int]] = []
    cursor = 0
    for a, b, text in ops:
        if a > cursor:
            out.append((cursor, a))
        if text:
            out.append(text)
        cursor = max(cursor, b)
    out.append((cursor, size))
    return [seg for seg in out if not (isinstance(seg, tuple) and seg[1] <= seg[0])]


def write_segments(segments: Sequence[bytes | tuple[int, int]], source: RawSource, fh: Any) -> None:
    """Write :func:`splice_annotations` segments to a binary file object."""
    buf = source.buffer
    for seg in segments:
        if isinstance(seg, tuple):
            if isinstance(buf, FileBytes):
                buf.copy_to(fh, *seg)
            else:
                fh.write(buf[seg[0] : seg[1]])
        else:
            fh.write(seg)


def join_segments(segments: Sequence[bytes | tuple[int, int]], source: RawSource) -> bytes:
    """The bytes of :func:`splice_annotations` segments, in memory."""
    import io

    out = io.BytesIO()
    write_segments(segments, source, out)
    return out.getvalue()
