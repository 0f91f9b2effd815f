"""Category edits of a session (rename, add) saved with a minimal diff; per-category figures."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycocotools.coco import COCO

from napari_coco_masks.coco import CocoError, load_coco, parse_coco
from napari_coco_masks.coco.categories import (
    CategoryEdits,
    evaluate_categories,
    instance_counts,
    next_category_id,
    refresh_names,
    splice_ops,
)
from napari_coco_masks.coco.evaluate import evaluate
from napari_coco_masks.coco.session import CocoSession, ShapesState

DATA = Path(__file__).parents[1] / "data"
COCO2017 = DATA / "coco2017-4img/data_samples/coco_25k/annotations.json"
DATUMARO = DATA / "datumaro-fixtures/tests/assets/coco_dataset"


@pytest.fixture
def copy(tmp_path) -> Path:
    path = tmp_path / "annotations.json"
    shutil.copy(COCO2017, path)
    return path


def _diff(a: bytes, b: bytes) -> tuple[int, int, int]:
    """(first differing byte, bytes of a after the common suffix, of b)."""
    start = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                 min(len(a), len(b)))
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return start, len(a) - end, len(b) - end


def test_rename_changes_only_the_name_inside_that_record(copy, tmp_path):
    session = CocoSession(load_coco(copy))
    original = copy.read_bytes()
    dog = session.category(18)
    assert dog.name == "dog"
    session.rename_category(18, "hound")
    out = tmp_path / "renamed.json"
    session.save(out)
    written = out.read_bytes()
    start, old_end, new_end = _diff(original, written)
    assert original[start:old_end] == b"dog" and written[start:new_end] == b"hound"
    cats = json.loads(written)["categories"]
    assert [c["name"] for c in cats].count("hound") == 1 and len(cats) == 80
    assert session.category(18).name == "hound"
    assert session.label_table(0)["category"] == [
        "hound" if c == 18 else session.category(c).name
        for c in session.label_table(0)["category_id"]
    ]


def test_add_appends_one_record_and_new_instances_may_use_it(copy, tmp_path):
    session = CocoSession(load_coco(copy))
    original = copy.read_bytes()
    cid = session.add_category("unicorn", supercategory="animal")
    assert cid == 91  # one more than the largest id (90)
    with pytest.raises(CocoError, match="already a category named 'unicorn'"):
        session.add_category("unicorn")
    with pytest.raises(CocoError, match="is taken"):
        session.add_category("pegasus", category_id=1)
    with pytest.raises(CocoError, match="non-empty string"):
        session.add_category("  ")
    # paint a new instance of the new category on image 2
    plane = session.planes.plane(2)
    value = len(session.annotations(2)) + 1
    session.planes[2, 5:25, 5:25] = value
    table = pd.DataFrame(session.label_table(2))
    new_row = {c: None for c in table.columns}
    new_row.update(index=value, category_id=cid, category="unicorn", iscrowd=0)
    session.label_features[2] = pd.concat([table, pd.DataFrame([new_row])], ignore_index=True)
    assert session.label_colors(2)[value] == session.colors[80] + "ff"
    assert instance_counts(session)[80] == 1 and plane is not None
    out = tmp_path / "added.json"
    session.save(out)
    written = out.read_bytes()
    obj = json.loads(written)
    assert obj["categories"][-1] == {"id": 91, "name": "unicorn", "supercategory": "animal"}
    new = obj["annotations"][-1]
    assert new["category_id"] == 91 and new["image_id"] == obj["images"][2]["id"]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(out))
    assert coco.annToMask(new).sum() == 400
    assert coco.cats[91]["name"] == "unicorn"
    # the original bytes with two insertions: the new annotation after the last annotation,
    # the new category after the last category (every original record byte-identical)
    cat = b',\n        {"id": 91, "name": "unicorn", "supercategory": "animal"}'
    assert written.count(cat) == 1
    rest = written.replace(cat, b"")
    end = int(load_coco(copy).source.stop[-1])
    assert rest.startswith(original[:end]) and rest.endswith(original[end:])
    assert json.loads(rest[end : len(rest) - len(original) + end].lstrip(b", \n")) == new


def test_stale_names_in_stored_tables_follow_the_rename(copy, tmp_path):
    session = CocoSession(load_coco(copy))
    table = pd.DataFrame(session.label_table(0))
    session.label_features[0] = table  # a table stored by the browser before the rename
    first = int(table["category_id"].iloc[0])
    old = session.category(first).name
    session.rename_category(first, "renamed thing", supercategory="things")
    stored = session.label_features[0]
    assert (stored.loc[stored["category_id"] == first, "category"] == "renamed thing").all()
    # a table handed over later with the old names (the writer takes the layer's) saves
    session.label_features[0] = table
    assert old in set(table["category"])
    session.save(tmp_path / "out.json")
    obj = json.loads((tmp_path / "out.json").read_text())
    cat = next(c for c in obj["categories"] if c["id"] == first)
    assert cat == {**cat, "name": "renamed thing", "supercategory": "things"}
    assert obj["annotations"] == json.loads(copy.read_text())["annotations"]


def test_refresh_names_leaves_a_typed_name_alone():
    table = pd.DataFrame({"category_id": [1, 1, 2], "category": ["old", "cat", "old"]})
    out = refresh_names(table, {1: "new", 2: "cat"}, {1: {"old"}})
    assert out["category"].tolist() == ["new", "cat", "old"]


def test_reassign_a_shape_in_its_table_writes_its_category(copy, tmp_path):
    session = CocoSession(load_coco(copy))
    state = session.file_shapes(1)
    features = pd.DataFrame(state.features)
    features.loc[0, "category_id"] = 18
    features.loc[0, "category"] = "dog"
    session.shapes[1] = ShapesState(state.data, state.types, features)
    session.save(tmp_path / "out.json")
    before = {a["id"]: a for a in json.loads(copy.read_text())["annotations"]}
    after = {a["id"]: a for a in json.loads((tmp_path / "out.json").read_text())["annotations"]}
    target = int(features.loc[0, "annotation_id"])
    assert after[target] == {**before[target], "category_id": 18}
    assert all(after[k] == before[k] for k in before if k != target)


def test_a_file_without_categories_array_is_written_whole(tmp_path):
    path = tmp_path / "bare.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png", "height": 8,
                                            "width": 8}], "annotations": []}))
    session = CocoSession(load_coco(path))
    session.add_category("thing")
    session.save(tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text())["categories"] == [
        {"id": 1, "name": "thing", "supercategory": ""}
    ]


def test_a_dataset_without_a_file_keeps_its_category_edits():
    obj = json.loads(COCO2017.read_text())
    session = CocoSession(parse_coco(obj))
    session.rename_category(1, "human")
    session.add_category("yeti")
    out = session.to_dict()
    assert out["categories"][0]["name"] == "human" and out["categories"][-1]["name"] == "yeti"


def test_splice_ops_and_ids():
    segments = [(0, 10), b"NEW", (20, 30)]
    assert splice_ops(segments, [(2, 4, b"ab"), (25, 25, b"+")]) == [
        (0, 2), b"ab", (4, 10), b"NEW", (20, 25), b"+", (25, 30)
    ]
    with pytest.raises(CocoError, match="could not be placed"):
        splice_ops(segments, [(12, 14, b"x")])
    assert next_category_id([0]) == 1 and next_category_id([]) == 1
    assert next_category_id([3, "7", 5]) == 6
    assert not CategoryEdits()


def test_per_category_evaluation_matches_cocoeval(tmp_path):
    obj = json.loads(COCO2017.read_text())
    rng = np.random.default_rng(0)
    dets = []
    for ann in obj["annotations"]:
        if rng.random() < 0.7:  # some instances found, with jittered boxes
            x, y, w, h = ann["bbox"]
            dets.append({"image_id": ann["image_id"], "category_id": ann["category_id"],
                         "bbox": [x + rng.normal(0, 2), y, w, h], "score": float(rng.random())})
    rows = evaluate_categories(obj, dets, iou_type="bbox")
    overall = evaluate(COCO2017, dets, iou_types=("bbox",))["bbox"]
    assert rows[0]["name"] == "all"
    assert rows[0]["AP"] == pytest.approx(overall["AP"]) and rows[0]["AP50"] == overall["AP50"]
    # AP is the mean over categories of the per-category AP (pycocotools' definition)
    aps = [r["AP"] for r in rows[1:] if r["AP"] > -1]
    assert np.mean(aps) == pytest.approx(overall["AP"])
    # one category alone through pycocotools' own params.catIds
    from pycocotools.cocoeval import COCOeval

    person = next(r for r in rows if r["name"] == "person")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = obj
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes([dict(d) for d in dets]), "bbox")
        ev.params.catIds = [1]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert person["AP"] == pytest.approx(ev.stats[0]) and person["AP75"] == pytest.approx(
        ev.stats[2])
    assert person["n_gt"] == sum(a["category_id"] == 1 for a in obj["annotations"])


def test_keypoints_file_rename(tmp_path):
    src = DATUMARO / "coco_person_keypoints/annotations/person_keypoints_val.json"
    path = tmp_path / "kp.json"
    shutil.copy(src, path)
    session = CocoSession(load_coco(path))
    cid = session.dataset.categories[0].id
    session.rename_category(cid, "human")
    session.save(tmp_path / "out.json")
    a, b = json.loads(path.read_text()), json.loads((tmp_path / "out.json").read_text())
    assert b["categories"][0] == {**a["categories"][0], "name": "human"}
    assert a["annotations"] == b["annotations"]


def test_false_positives_and_misses_at_iou_50():
    obj = json.loads(COCO2017.read_text())
    anns = [a for a in obj["annotations"] if not a.get("iscrowd")]
    dropped = {anns[0]["id"], anns[5]["id"]}
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
             "score": 0.9} for a in anns if a["id"] not in dropped]
    spurious = {"image_id": anns[3]["image_id"], "category_id": anns[3]["category_id"],
                "bbox": [1.0, 1.0, 4.0, 4.0], "score": 0.5}
    dets.insert(2, spurious)
    rows = evaluate_categories(obj, dets, iou_type="bbox")
    assert rows[0]["false_positives"] == [2] and set(rows[0]["misses"]) == dropped
    cat = next(r for r in rows if r["category_id"] == anns[3]["category_id"])
    assert cat["false_positives"] == [2]
    missed = {r["category_id"]: r["misses"] for r in rows[1:] if r["misses"]}
    assert {g for ms in missed.values() for g in ms} == dropped
    assert set(missed) == {anns[0]["category_id"], anns[5]["category_id"]}


def test_instance_counts_cache_follows_stored_tables(copy):
    session = CocoSession(load_coco(copy))
    for i in (1, 2):
        table = pd.DataFrame(session.label_table(i))
        table["category_id"] = 18
        table["category"] = "dog"
        session.label_features[i] = table
    cache: dict = {}
    first = instance_counts(session, cache)
    assert np.array_equal(first, instance_counts(session))
    assert len(cache) == 2
    dog = session.category(18).position
    n = len(session.annotations(1)) + len(session.annotations(2))
    assert first[dog] == n + sum(a.category_id == 18 for i in (0, 3)
                                 for a in session.annotations(i))
    table = pd.DataFrame(session.label_table(2))  # image 2 stored again: counted again
    session.label_features[2] = table
    assert np.array_equal(instance_counts(session, cache), instance_counts(session))
    assert instance_counts(session, cache)[dog] < first[dog]
