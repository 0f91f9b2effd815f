"""The bytes of a COCO file: record spans, re-reading on demand, minimal-diff re-emission."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from napari_coco_masks.coco import CocoError, load_coco
from napari_coco_masks.coco.session import CocoSession
from napari_coco_masks.coco.source import join_segments, splice_annotations

DATA = Path(__file__).parents[1] / "data"
REAL_FILES = sorted(DATA.rglob("*.json"))


def _dataset(n: int) -> dict:
    return {
        "images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 30}],
        "categories": [{"id": 1, "name": "cell"}],
        "annotations": [
            {"id": k + 1, "image_id": 1, "category_id": 1,
             "segmentation": [[1, 1, 5 + k, 1, 5 + k, 6, 1, 6]], "area": 1.0}
            for k in range(n)
        ],
    }


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_spans_are_each_records_own_bytes(path):
    ds = load_coco(path)
    data = path.read_bytes()
    records = json.loads(data)["annotations"]
    assert len(ds.source) == len(records)
    for k, rec in enumerate(records):
        assert json.loads(data[ds.source.start[k] : ds.source.stop[k]]) == rec
    assert ds.source.buffer[:] == data  # read back from the file, not kept in memory
    assert [im.record for im in ds.images] == json.loads(data)["images"]


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.parent.name + "/" + p.name)
def test_random_splices_change_only_their_records(path):
    ds = load_coco(path)
    original = json.loads(path.read_bytes())
    data = path.read_bytes()
    n = len(ds.source)
    rng = np.random.default_rng(len(data))
    for trial in range(6):
        k = rng.integers(0, n + 1, size=rng.integers(0, min(n, 4) + 1)).tolist()
        drops = {p for p in k[: len(k) // 2] if p < n}
        edits = {p for p in k[len(k) // 2 :] if p < n} - drops
        replaced = {p: None for p in drops}
        expected = [dict(a) for a in original["annotations"]]
        for p in edits:
            expected[p]["extra"] = trial
            replaced[p] = json.dumps(expected[p]).encode()
        appended = [{"id": 10**6 + j, "image_id": 1, "new": True} for j in range(trial % 3)]
        out = join_segments(
            splice_annotations(ds.source, replaced, [json.dumps(a).encode() for a in appended]),
            ds.source,
        )
        got = json.loads(out)
        want = [a for p, a in enumerate(expected) if p not in drops] + appended
        assert got["annotations"] == want
        assert {k: v for k, v in got.items() if k != "annotations"} == {
            k: v for k, v in original.items() if k != "annotations"
        }
        for p in range(n):  # untouched records keep their exact bytes
            if p not in drops and p not in edits:
                assert data[ds.source.start[p] : ds.source.stop[p]] in out


def test_no_change_is_the_original_bytes():
    path = REAL_FILES[0]
    ds = load_coco(path)
    assert splice_annotations(ds.source, {}, []) == [(0, len(data := path.read_bytes()))]
    assert join_segments([(0, len(data))], ds.source) == data


@pytest.mark.parametrize("layout", ["compact", "indented"])
@pytest.mark.parametrize(
    ("drops", "n_new"), [({0}, 0), ({2}, 1), ({0, 1, 2}, 0), ({0, 1, 2}, 2), ({1}, 0), (set(), 1)]
)
def test_drops_and_appends_keep_the_layout(tmp_path, layout, drops, n_new):
    obj = _dataset(3)
    text = json.dumps(obj, separators=(",", ":")) if layout == "compact" else json.dumps(obj, indent=4)
    path = tmp_path / "a.json"
    path.write_text(text)
    ds = load_coco(path)
    new = [{"id": 100 + j, "image_id": 1, "category_id": 1, "segmentation": []} for j in range(n_new)]
    out = join_segments(
        splice_annotations(ds.source, dict.fromkeys(drops), [json.dumps(a).encode() for a in new]),
        ds.source,
    )
    got = json.loads(out)
    assert got["annotations"] == [a for k, a in enumerate(obj["annotations"]) if k not in drops] + new
    if layout == "compact" and n_new == 0:
        assert b" " not in out.replace(b'"a.png"', b"")  # no stray separators left behind


def test_session_save_streams_a_one_record_diff(tmp_path):
    obj = _dataset(5)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(obj, indent=2))
    session = CocoSession(load_coco(path))
    plane = session.planes.plane(0).copy()
    plane[plane == 3] = 0  # erase the third instance
    session.planes[0] = plane
    out = tmp_path / "b.json"
    session.save(out)
    got = json.loads(out.read_text())
    assert [a["id"] for a in got["annotations"]] == [1, 2, 4, 5]
    before, after = path.read_text().splitlines(), out.read_text().splitlines()
    import difflib

    diff = [d for d in difflib.unified_diff(before, after, lineterm="", n=0)
            if d[:1] in "+-" and not d.startswith(("+++", "---"))]
    assert all(d.startswith("-") for d in diff) and 0 < len(diff) <= 25  # only record 3 removed


def test_a_file_changed_on_disk_after_opening_is_refused(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(_dataset(2)))
    ds = load_coco(path)
    path.write_text(json.dumps(_dataset(3)))
    os.utime(path, ns=(1, 1))
    with pytest.raises(CocoError, match="changed on disk"):
        ds.record(0)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_bom_and_utf16_files_open(tmp_path, encoding):
    path = tmp_path / "a.json"
    path.write_bytes(json.dumps(_dataset(2), ensure_ascii=False).encode(encoding))
    ds = load_coco(path)
    assert [a.id for a in ds.image_annotations(0)] == [1, 2]
    session = CocoSession(ds)
    assert json.loads(session.to_bytes().decode("utf-8-sig")) == _dataset(2)
    if encoding == "utf-8-sig":
        assert session.to_bytes() == path.read_bytes()  # byte-identical, BOM included


def _session_with_an_edit(tmp_path) -> tuple[CocoSession, Path]:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(_dataset(4), indent=1))
    session = CocoSession(load_coco(path))
    plane = session.planes.plane(0).copy()
    plane[plane == 2] = 0
    session.planes[0] = plane
    return session, path


def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    from napari_coco_masks.coco import source as source_mod

    session, path = _session_with_an_edit(tmp_path)
    target = tmp_path / "out.json"
    target.write_bytes(b"old")

    def half_then_fail(segments, src, fh):
        fh.write(b'{"images": [')
        raise RuntimeError("interrupted")

    monkeypatch.setattr(source_mod, "write_segments", half_then_fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        session.save(target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "out.json"]


@pytest.mark.parametrize(
    ("where", "errno_name"), [("mkstemp", "EACCES"), ("fsync", "ENOSPC"), ("replace", "EROFS")]
)
def test_unwritable_folder_or_full_disk_is_a_clear_error(tmp_path, monkeypatch, where, errno_name):
    import errno
    import tempfile

    session, path = _session_with_an_edit(tmp_path)
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    code = getattr(errno, errno_name)

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    module = {"mkstemp": tempfile, "fsync": os, "replace": os}[where]
    monkeypatch.setattr(module, where, fail)
    with pytest.raises(CocoError, match=r"out\.json: cannot write the file .*unchanged"):
        session.save(target)
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "out.json"]
    session.save(target)  # and it works once the folder can be written
    assert [a["id"] for a in json.loads(target.read_text())["annotations"]] == [1, 3, 4]
