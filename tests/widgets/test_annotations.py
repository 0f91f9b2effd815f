"""The COCO annotations dock in real viewers: draw, paint, re-assign, rename, add, browse, save;
then the saved file read by pycocotools and supervision."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from napari_coco_masks._browse import session_of
from napari_coco_masks._widgets.annotations import AnnotationsWidget
from napari_coco_masks.coco import load_coco

DATA = Path(__file__).parents[1] / "data"
COCO_DIR = DATA / "coco2017-4img/data_samples/coco_25k"
PLUGIN = "napari-coco-masks"


@pytest.fixture
def dataset(tmp_path) -> Path:
    """A writable copy of the 4-image COCO val2017 sample (JSON and JPGs)."""
    shutil.copytree(COCO_DIR, tmp_path / "coco")
    return tmp_path / "coco" / "annotations.json"


def _open(viewer, path: Path) -> dict:
    layers = viewer.open(str(path), plugin=PLUGIN)
    return {layer._type_string: layer for layer in layers}


def _dock(viewer, qtbot) -> AnnotationsWidget:
    dock = AnnotationsWidget(viewer)
    viewer.window.add_dock_widget(dock, name="COCO annotations")
    qtbot.wait(10)
    return dock


def _coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _records(path: Path) -> dict:
    """Annotation id -> the bytes of its record in the file."""
    ds = load_coco(path)
    return {int(ds.annotation_ids[k]): ds.source.record(k) for k in range(ds.n_records)}


def _row(dock: AnnotationsWidget, category_id) -> int:
    return next(k for k, c in enumerate(dock.session.dataset.categories) if c.id == category_id)


def _background_spot(plane: np.ndarray, size: int = 14) -> tuple[int, int]:
    """Centre of a size x size window of background (no instance)."""
    for r in range(40, plane.shape[0] - 40, 7):
        for c in range(40, plane.shape[1] - 40, 7):
            if not plane[r - size : r + size, c - size : c + size].any():
                return r, c
    raise AssertionError("no background window")


def test_draw_paint_reassign_rename_add_browse_save(make_napari_viewer, qtbot, dataset, tmp_path):
    viewer = make_napari_viewer(show=True)
    layers = _open(viewer, dataset)
    labels, shapes = layers["labels"], layers["shapes"]
    dock = _dock(viewer, qtbot)
    viewer.layers.selection.active = labels
    session = session_of(labels)
    assert dock.session is session
    assert dock.table.rowCount() == 80  # every category, unused ones too
    assert dock.table.item(_row(dock, 1), 4).text() == "person"  # supercategory shown
    original = json.loads(dataset.read_text())
    persons = sum(a["category_id"] == 1 for a in original["annotations"])
    assert dock.table.item(_row(dock, 1), 2).text() == str(persons)
    here = sum(a["category_id"] == 1 and a["image_id"] == original["images"][0]["id"]
               for a in original["annotations"])
    assert dock.table.item(_row(dock, 1), 3).text() == str(here)

    # the active category: chosen in the list; a drawn polygon gets it and its colour at once
    dock.table.selectRow(_row(dock, 18))  # dog
    assert dock.active_category() == 18
    dog = session.colors[session.category(18).position]
    n = len(shapes.data)
    shapes.add_polygons([np.array([[0, 20, 30], [0, 20, 90], [0, 70, 60]], float)])
    row = shapes.features.iloc[n]
    assert row["category_id"] == 18 and row["category"] == "dog"
    assert np.allclose(shapes.edge_color[n], [*(int(dog[k:k + 2], 16) / 255 for k in (1, 3, 5)), 1])

    # a painted label: New instance gives the next free value with the active category
    plane0 = np.asarray(labels.data[0]).copy()
    value = dock.new_instance()
    assert value == int(plane0.max()) + 1 and labels.selected_label == value
    assert np.allclose(labels.colormap.map(np.array([value]))[0][:3],
                       [int(dog[k:k + 2], 16) / 255 for k in (1, 3, 5)])
    r, c = _background_spot(plane0)
    labels.brush_size = 9
    labels.paint((0, r, c), value)
    painted = np.asarray(labels.data[0]) == value
    assert painted.sum() > 40

    # re-assign one existing instance (a selected shape) to "cat": its label follows
    target = int(shapes.features["annotation_id"].iloc[0])
    shapes.selected_data = {0}
    dock.set_active(17)
    assert dock.reassign() == 1
    assert shapes.features["category_id"].iloc[0] == 17
    lab = labels.features[labels.features["annotation_id"] == target]
    assert (lab["category_id"] == 17).all() and (lab["category"] == "cat").all()
    shapes.selected_data = set()

    # ... and one picked in the Labels layer (its selected label) to "truck": its shapes follow
    table = labels.features
    other = table[table["annotation_id"].notna() & (table["annotation_id"] != target)
                  & (table["category_id"] != 8)].iloc[-1]
    second, second_value = int(other["annotation_id"]), int(other["index"])
    labels.selected_label = second_value
    dock.set_active(8)
    assert dock.reassign() == 1
    row = labels.features[labels.features["index"] == second_value].iloc[0]
    assert row["category_id"] == 8 and row["category"] == "truck"
    assert (shapes.features.loc[shapes.features["annotation_id"] == second,
                                "category_id"] == 8).all()
    assert labels.colormap.map(np.array([second_value]))[0][:3].tolist() == pytest.approx(
        [int(session.colors[session.category(8).position][k:k + 2], 16) / 255
         for k in (1, 3, 5)])

    # rename dog, add a category
    dock.set_active(18)
    dock.rename_category("hound")
    assert dock.table.item(_row(dock, 18), 0).text() == "hound"
    assert shapes.features["category"].iloc[n] == "hound"
    cid = dock.add_category("unicorn", "animal")
    assert cid == 91 and dock.table.rowCount() == 81 and dock.active_category() == 91
    assert "already a category" in (dock.add_category("unicorn", "") or dock.status.text())

    # visibility: hiding "cat" makes its labels and shapes transparent
    from qtpy.QtCore import Qt

    dock.table.item(_row(dock, 17), 0).setCheckState(Qt.CheckState.Unchecked)  # the list's box
    assert dock.hidden[id(session)] == {session.category(17).position}
    cat_value = int(lab["index"].iloc[0])
    assert labels.colormap.map(np.array([cat_value]))[0][3] == 0
    assert shapes.edge_color[0][3] == 0
    dock.set_active(17)  # drawing a hidden category: it is shown again
    assert not dock.hidden[id(session)] and dock.table.item(_row(dock, 17), 0).checkState() == (
        Qt.CheckState.Checked)
    assert labels.colormap.map(np.array([cat_value]))[0][3] == 1
    dock.set_active(91)

    # browse to image 1, paint a unicorn there, and back
    viewer.dims.set_current_step(0, 1)
    qtbot.wait(50)
    assert session.current == 1
    plane1 = np.asarray(labels.data[1]).copy()
    unicorn = dock.new_instance()
    r1, c1 = _background_spot(plane1)
    labels.paint((1, r1, c1), unicorn)
    unicorn_mask = np.asarray(labels.data[1]) == unicorn
    qtbot.wait(20)  # counts follow a paint stroke once Qt is idle
    assert int(dock.table.item(_row(dock, 91), 3).text()) == 1
    viewer.dims.set_current_step(0, 0)
    qtbot.wait(50)
    assert session.current == 0
    assert len(shapes.data) == n + 1 and shapes.features["category"].iloc[n] == "hound"
    assert shapes.features["category_id"].iloc[0] == 17
    assert np.allclose(labels.colormap.map(np.array([value]))[0][:3],
                       [int(dog[k:k + 2], 16) / 255 for k in (1, 3, 5)])
    assert int(dock.table.item(_row(dock, 91), 2).text()) == 1  # counted in the whole file

    out = tmp_path / "out.json"
    assert dock.save_as(out), dock.status.text()
    assert dock.status.text() == f"Saved {out}"

    # pycocotools: categories, ids, masks
    coco = _coco(out)
    saved = json.loads(out.read_text())
    assert len(saved["categories"]) == 81
    assert coco.cats[18]["name"] == "hound" and coco.cats[91] == {
        "id": 91, "name": "unicorn", "supercategory": "animal"}
    old_ids = {a["id"] for a in original["annotations"]}
    new = sorted((a for a in saved["annotations"] if a["id"] not in old_ids), key=lambda a: a["id"])
    assert [a["id"] for a in new] == [max(old_ids) + 1, max(old_ids) + 2, max(old_ids) + 3]
    by_cat = {(a["image_id"], a["category_id"]): a for a in new}
    img0, img1 = original["images"][0], original["images"][1]
    polygon = next(a for a in new if "segmentation" in a and isinstance(a["segmentation"], list)
                   and a["segmentation"] == [[30.5, 20.5, 90.5, 20.5, 60.5, 70.5]])
    assert polygon["category_id"] == 18 and polygon["image_id"] == img0["id"]
    dog_painted = next(a for a in new if a is not polygon and a["image_id"] == img0["id"])
    assert dog_painted["category_id"] == 18
    h0, w0 = img0["height"], img0["width"]
    assert np.array_equal(coco.annToMask(dog_painted).astype(bool), painted[:h0, :w0])
    unicorn_ann = by_cat[(img1["id"], 91)]
    h1, w1 = img1["height"], img1["width"]
    assert np.array_equal(coco.annToMask(unicorn_ann).astype(bool), unicorn_mask[:h1, :w1])
    assert coco.anns[target]["category_id"] == 17
    # every other record byte-identical
    before, after = _records(dataset), _records(out)
    assert set(before) - set(after) == set()
    changed = [k for k in before if before[k] != after[k]]
    assert sorted(changed) == sorted([target, second])
    assert json.loads(after[target]) == {**json.loads(before[target]), "category_id": 17}
    assert json.loads(after[second]) == {**json.loads(before[second]), "category_id": 8}
    # the categories array: only dog's name changed, unicorn appended
    cats_before = original["categories"]
    assert saved["categories"][:80] == [
        {**c, "name": "hound"} if c["id"] == 18 else c for c in cats_before]

    # supervision reads it: classes by id, masks equal to pycocotools'
    import supervision as sv

    ds = sv.DetectionDataset.from_coco(
        images_directory_path=str(dataset.parent / "images"), annotations_path=str(out),
        force_masks=True,
    )
    assert "hound" in ds.classes and ds.classes[-1] == "unicorn"
    name = Path(dataset.parent / "images" / img1["file_name"])
    _, _, det = next((p, im, d) for p, im, d in ds if Path(p).name == name.name)
    k = int(np.flatnonzero(det.class_id == ds.classes.index("unicorn"))[0])
    sv_mask, ours = det.mask[k], unicorn_mask[:h1, :w1]
    # supervision fills polygons OpenCV-style (vertices as pixel indices, boundary pixels
    # included), pycocotools by pixel centres: its mask is ours plus at most a one-pixel rim
    from scipy.ndimage import binary_dilation

    assert (sv_mask >= ours).all() and (sv_mask <= binary_dilation(ours)).all()
    assert len(det) == sum(a["image_id"] == img1["id"] for a in saved["annotations"])
    x, y, w, h = unicorn_ann["bbox"]
    assert np.allclose(det.xyxy[k], [x, y, x + w, y + h])


def _results(gt: Path, path: Path, seed: int = 0) -> Path:
    """A results file made from the ground truth: RLE masks, some dropped, random scores."""
    coco = _coco(gt)
    rng = np.random.default_rng(seed)
    dets = []
    for a in coco.dataset["annotations"]:
        if rng.random() < 0.8 and not a.get("iscrowd"):
            rle = mask_utils.encode(np.asfortranarray(coco.annToMask(a)))
            rle["counts"] = rle["counts"].decode()
            dets.append({"image_id": a["image_id"], "category_id": a["category_id"],
                         "segmentation": rle, "bbox": list(a["bbox"]),
                         "score": round(float(rng.random()), 3)})
    path.write_text(json.dumps(dets))
    return path


def test_predictions_threshold_and_evaluation(make_napari_viewer, qtbot, dataset):
    from napari_coco_masks.coco.evaluate import evaluate

    viewer = make_napari_viewer()
    _open(viewer, dataset)
    results = _results(dataset, dataset.parent / "results.json")
    preds = viewer.open(str(results), plugin=PLUGIN)
    plabels = next(ly for ly in preds if ly._type_string == "labels")
    assert "score" in plabels.features.columns
    dock = _dock(viewer, qtbot)
    viewer.layers.selection.active = plabels
    assert "(predictions)" in dock.file.currentText() and dock.score.isEnabled()
    scores = plabels.features.set_index("index")["score"]
    low, high = int(scores.idxmin()), int(scores.idxmax())
    dock.score.setValue(int(round(scores.min() * 100)) + 1)
    assert scores.min() < dock.threshold <= scores.max()
    alpha = plabels.colormap.map(np.array([low, high]))[:, 3]
    assert alpha[0] == 0 and alpha[1] == 1
    # the ground truth's colours are not thresholded
    gt_labels = next(ly for ly in viewer.layers
                     if ly._type_string == "labels" and ly not in preds)
    assert (gt_labels.colormap.map(np.arange(1, 5))[:, 3] == 1).all()

    assert dock.evaluate() is not None
    qtbot.waitUntil(lambda: dock.worker is None, timeout=120_000)
    rows = dock.evaluation
    overall = evaluate(dataset, json.loads(results.read_text()), iou_types=("segm",))["segm"]
    assert rows[0]["AP"] == pytest.approx(overall["AP"])
    assert rows[0]["AP50"] == pytest.approx(overall["AP50"])
    person = next(r for r in rows if r["name"] == "person")
    assert 0 <= person["recall"] <= 1 and person["n_gt"] > 0
    assert dock.results.rowCount() == len(rows) and dock.results.item(0, 0).text() == "all"
    assert dock.status.text().startswith("Evaluated: AP")

    # a row of the table: only its false positives and misses are shown (IoU 0.5)
    kept = {(d["image_id"], d["bbox"][0], d["bbox"][1]) for d in json.loads(results.read_text())}
    gt_json = json.loads(dataset.read_text())
    dropped = {a["id"] for a in gt_json["annotations"] if not a.get("iscrowd")
               and (a["image_id"], a["bbox"][0], a["bbox"][1]) not in kept}
    assert set(rows[0]["misses"]) == dropped and rows[0]["false_positives"] == []
    dock.results.cellClicked.emit(0, 0)
    qtbot.wait(50)
    assert "miss(es)" in dock.status.text()
    table = gt_labels.features
    alpha = gt_labels.colormap.map(table["index"].to_numpy())[:, 3]
    assert alpha.max() == 1  # the slider went to an image with a miss
    assert set(table.loc[alpha == 1, "annotation_id"]) == set(table["annotation_id"]) & dropped
    assert (plabels.colormap.map(plabels.features["index"].to_numpy())[:, 3] == 0).all()
    dock.results.cellClicked.emit(0, 0)  # again: everything back
    assert (gt_labels.colormap.map(table["index"].to_numpy())[:, 3] == 1).all()


def test_exports_include_the_edits(make_napari_viewer, qtbot, dataset, tmp_path):
    import imageio.v3 as iio

    viewer = make_napari_viewer()
    layers = _open(viewer, dataset)
    dock = _dock(viewer, qtbot)
    viewer.layers.selection.active = layers["labels"]
    dock.set_active(18)
    dock.rename_category("hound")
    for kind in ("semantic", "yolo", "masks", "polygons", "split"):
        assert dock.export(kind, tmp_path / kind) is not None
        qtbot.waitUntil(lambda: dock.worker is None, timeout=120_000)
        assert dock.status.text().startswith("Exported"), dock.status.text()
    classes = json.loads((tmp_path / "semantic" / "classes.json").read_text())
    assert "hound" in [c["name"] for c in classes] and "dog" not in [c["name"] for c in classes]
    assert "hound" in (tmp_path / "yolo" / "data.yaml").read_text()
    sem = sorted((tmp_path / "semantic" / "semantic").glob("*.png"))
    assert len(sem) == 4 and iio.imread(sem[0]).max() > 0
    assert len(json.loads((tmp_path / "masks" / "index.json").read_text())) == 4
    polygons = json.loads((tmp_path / "polygons" / "annotations.polygons.json").read_text())
    assert all(isinstance(a["segmentation"], list) for a in polygons["annotations"])
    assert "hound" in [c["name"] for c in polygons["categories"]]
    train = json.loads((tmp_path / "split" / "train.json").read_text())
    val = json.loads((tmp_path / "split" / "val.json").read_text())
    assert len(train["images"]) + len(val["images"]) == 4 and len(val["images"]) == 1
    assert dataset.read_bytes() == (COCO_DIR / "annotations.json").read_bytes()  # not saved


def test_make_a_dataset_from_a_plain_labels_layer_and_save_in_place(
        make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    blobs = np.zeros((60, 80), np.int32)
    blobs[5:20, 5:25] = 1
    blobs[30:50, 40:70] = 2
    plain = viewer.add_labels(blobs, name="threshold result", scale=(0.5, 0.5),
                              translate=(10, 20))
    plain.units = ("µm", "µm")
    dock = _dock(viewer, qtbot)
    viewer.layers.selection.active = plain
    assert dock.make_button.isEnabled()
    path = tmp_path / "made.json"
    new = dock.make_dataset(path)
    assert path.exists() and dock.session is session_of(new[0])
    labels = next(ly for ly in new if ly._type_string == "labels")
    assert tuple(labels.scale) == (0.5, 0.5) and tuple(labels.translate) == (10, 20)
    assert tuple(str(u) for u in labels.units) == tuple(str(u) for u in plain.units)
    assert not plain.visible
    cid = dock.add_category("spot", "")
    value = dock.new_instance()
    assert value == 3
    labels.brush_size = 5
    labels.paint((55, 10), value)
    assert dock.save(), dock.status.text()
    saved = json.loads(path.read_text())
    assert [c["name"] for c in saved["categories"]] == ["object", "spot"]
    assert [a["category_id"] for a in saved["annotations"]] == [1, 1, cid]
    coco = _coco(path)
    assert coco.annToMask(saved["annotations"][2]).sum() > 10
    # saved in place: the same layers show the saved file, where they were
    shown = next(ly for ly in viewer.layers if ly._type_string == "labels" and ly.visible)
    assert shown is labels and session_of(labels) is dock.session
    assert tuple(labels.scale) == (0.5, 0.5)
    assert dock.session.dataset.n_records == 3 and dock.session.edited_images() == []
    from napari_coco_masks.coco.session import CocoSession

    assert np.array_equal(labels.data, CocoSession(load_coco(path)).label_plane(0))
    assert labels.features["annotation_id"].tolist() == [a["id"] for a in saved["annotations"]]
    qtbot.wait(20)
    assert dock.table.item(1, 2).text() == "1"  # the list follows the saved file


def test_saving_says_why_not(make_napari_viewer, qtbot, dataset, tmp_path):
    viewer = make_napari_viewer()
    dock = _dock(viewer, qtbot)
    assert not dock.save() and "no COCO file is open" in dock.status.text()
    _open(viewer, dataset)
    viewer.layers.selection.active = viewer.layers[-1]
    assert not dock.save_as(tmp_path / "missing" / "out.json")
    assert "Not saved" in dock.status.text() and "does not exist" in dock.status.text()
    labels = next(ly for ly in viewer.layers if ly._type_string == "labels")
    labels.features = labels.features.assign(category_id=12345)  # no such category
    assert not dock.save_as(tmp_path / "out.json")
    assert "12345" in dock.status.text() and not (tmp_path / "out.json").exists()


def test_a_closed_dock_is_never_called_again(make_napari_viewer, qtbot, dataset, tmp_path):
    viewer = make_napari_viewer(show=True)
    layers = _open(viewer, dataset)
    dock = AnnotationsWidget(viewer)
    qt_dock = viewer.window.add_dock_widget(dock, name="COCO annotations")
    viewer.layers.selection.active = layers["labels"]
    dock.export("semantic", tmp_path / "sem")  # a job still running when the dock goes
    with qtbot.waitSignal(dock.destroyed, timeout=10_000):
        viewer.window.remove_dock_widget(qt_dock)
        dock.deleteLater()
    qtbot.wait(50)
    viewer.dims.set_current_step(0, 2)  # would call the dock's step handler
    layers["shapes"].add_polygons([np.array([[2, 5, 5], [2, 5, 40], [2, 30, 20]], float)])
    layers["labels"].selected_label = 77
    layers["labels"].paint((2, 300, 300), 77)
    viewer.open(str(dataset), plugin=PLUGIN)  # inserted layers
    qtbot.wait(2000)  # the export finishes with no dock to report to
    assert (tmp_path / "sem" / "classes.json").exists()
    assert "category_id" in layers["shapes"].features  # the browser still works alone


def test_make_a_dataset_from_a_measured_label_stack(make_napari_viewer, qtbot, tmp_path):
    """A widget's output: a stack of frames with a features table naming categories."""
    import pandas as pd

    viewer = make_napari_viewer()
    stack = np.zeros((3, 40, 50), np.int32)
    stack[0, 2:10, 2:10] = 1
    stack[1, 20:30, 5:45] = 2
    stack[2, 5:15, 30:40] = 3
    stack[2, 25:35, 30:40] = 4
    features = pd.DataFrame({"index": [1, 2, 3, 4], "area": [64.0, 400.0, 100.0, 100.0],
                             "category": ["round", "long", "round", "round"]})
    plain = viewer.add_labels(stack, name="segmented", features=features, scale=(1, 2, 2))
    dock = _dock(viewer, qtbot)
    new = dock.make_dataset(tmp_path / "frames.json", labels=plain)
    labels = next(ly for ly in new if ly._type_string == "labels")
    assert tuple(labels.scale) == (1, 2, 2)
    saved = json.loads((tmp_path / "frames.json").read_text())
    assert [c["name"] for c in saved["categories"]] == ["round", "long"]
    assert [im["file_name"] for im in saved["images"]] == [
        "segmented_0000.png", "segmented_0001.png", "segmented_0002.png"]
    assert [(a["image_id"], a["category_id"]) for a in saved["annotations"]] == [
        (1, 1), (2, 2), (3, 1), (3, 1)]
    assert dock.table.rowCount() == 2 and dock.table.item(0, 2).text() == "3"
    coco = _coco(tmp_path / "frames.json")
    assert np.array_equal(coco.annToMask(saved["annotations"][1]).astype(bool), stack[1] == 2)


KEYPOINTS = DATA / "datumaro-fixtures/tests/assets/coco_dataset/coco_person_keypoints"


def test_hiding_a_category_hides_its_keypoints_and_an_unedited_save_is_identical(
        make_napari_viewer, qtbot, tmp_path):
    shutil.copytree(KEYPOINTS, tmp_path / "kp")
    path = tmp_path / "kp" / "annotations" / "person_keypoints_val.json"
    viewer = make_napari_viewer()
    layers = _open(viewer, path)
    points = layers["points"]
    assert len(points.data) and all(points.shown)
    dock = _dock(viewer, qtbot)
    viewer.layers.selection.active = layers["labels"]
    first = dock.session.dataset.categories[0].id
    dock.set_visible(first, False)
    assert points.shown.tolist() == (points.features["category_id"] != first).tolist()
    assert not all(points.shown) and any(points.shown)
    dock.set_visible(first, True)
    assert all(points.shown)
    assert dock.save_as(tmp_path / "same.json"), dock.status.text()
    assert (tmp_path / "same.json").read_bytes() == path.read_bytes()


def test_opening_predictions_keeps_the_image_shown(make_napari_viewer, qtbot, dataset):
    """Predictions dropped beside their ground truth open on the image the slider shows."""
    from napari_coco_masks._browse import browser_of

    viewer = make_napari_viewer()
    gt = _open(viewer, dataset)
    viewer.dims.set_current_step(0, 2)
    gt_session = session_of(gt["labels"])
    assert gt_session.current == 2
    results = _results(dataset, dataset.parent / "results.json", seed=1)
    preds = {ly._type_string: ly for ly in viewer.open(str(results), plugin=PLUGIN)}
    qtbot.wait(20)
    assert viewer.dims.current_step[0] == 2 and gt_session.current == 2
    session = session_of(preds["labels"])
    assert session is not gt_session and session.current == 2
    image_id = gt_session.dataset.images[2].id
    assert set(preds["labels"].features["image_id"]) == {image_id}
    assert set(preds["shapes"].features["image_id"]) <= {image_id}
    assert gt["labels"].features["image_id"].tolist()[0] == image_id
    # the dock reads the browser's public swapping flag (read-only)
    browser = browser_of(viewer, session)
    assert browser.swapping is False
    with pytest.raises(AttributeError):
        browser.swapping = True


def test_keypoints_move_add_and_visibility_are_saved_with_their_instance(
        make_napari_viewer, qtbot, tmp_path):
    shutil.copytree(KEYPOINTS, tmp_path / "kp")
    folder = tmp_path / "kp" / "annotations"
    viewer = make_napari_viewer()

    # val: move a keypoint, make one occluded (v=1) and one not labelled (v=0)
    path = folder / "person_keypoints_val.json"
    before = _coco(path).anns
    layers = _open(viewer, path)
    points = layers["points"]
    dock = _dock(viewer, qtbot)
    viewer.layers.selection.active = points
    assert dock.keypoint_button.isEnabled()
    assert points.features["annotation_id"].tolist() == [1, 1, 1, 2, 2, 2]
    data = np.asarray(points.data).copy()
    data[0] += [3.0, 1.0]  # (row, col): y += 3, x += 1
    points.data = data
    points.selected_data = {1}
    assert dock.set_visibility(1) == 1
    points.selected_data = {4}
    assert dock.set_visibility(0) == 1 and "not labelled" in dock.status.text()
    assert dock.save(), dock.status.text()
    after = _coco(path).anns
    kp1, kp2 = after[1]["keypoints"], after[2]["keypoints"]
    old1, old2 = before[1]["keypoints"], before[2]["keypoints"]
    assert kp1 == [old1[0] + 1, old1[1] + 3, 2, old1[3], old1[4], 1, *old1[6:9]]
    assert kp2 == [*old2[:3], 0, 0, 0, *old2[6:9]] and after[2]["num_keypoints"] == 2
    assert after[1]["num_keypoints"] == 3
    assert {k: v for k, v in after[1].items() if k != "keypoints"} == {
        k: v for k, v in before[1].items() if k != "keypoints"}
    # saved in place: the same layers show the saved file (the unlabelled keypoint is gone)
    assert points in viewer.layers and len(points.data) == 5
    assert points.features["visibility"].tolist() == [2, 1, 2, 2, 2]

    # train: add the keypoint annotation 1 lacks (keypoint 0), drag it, make it occluded
    path = folder / "person_keypoints_train.json"
    layers = _open(viewer, path)
    points = layers["points"]
    viewer.layers.selection.active = points
    qtbot.wait(20)
    assert dock.session is session_of(points)
    assert dock.add_keypoint() is None and "select one" in dock.status.text()
    points.selected_data = {0}
    assert dock.add_keypoint() == 0, dock.status.text()
    assert len(points.data) == 3 and points.selected_data == {2}
    row = points.features.iloc[2]
    assert row["annotation_id"] == 1 and row["keypoint"] == 0 and row["visibility"] == 2
    assert dock.add_keypoint() is None and "every keypoint" in dock.status.text()
    assert dock.add_keypoint(0) is None and "already has keypoint 0" in dock.status.text()
    assert dock.add_keypoint(5) is None and "not one of the 3" in dock.status.text()
    data = np.asarray(points.data).copy()
    data[2] = [3.0, 7.0]  # row 3, col 7: x = 7, y = 3
    points.data = data
    assert dock.set_visibility(1) == 1
    out = tmp_path / "train.json"
    assert dock.save_as(out), dock.status.text()
    saved = _coco(out).anns[1]
    assert saved["keypoints"] == [7, 3, 1, 0, 2, 1, 4, 1, 2] and saved["num_keypoints"] == 3


def test_a_keypoint_added_on_a_later_image_survives_the_slider_and_is_saved(
        make_napari_viewer, qtbot, tmp_path):
    """A stack of images: the keypoint gets the image index, is kept in the session when the
    slider moves (with its visibility), and is saved into its instance's record."""
    import warnings

    obj = {"images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 30},
                      {"id": 2, "file_name": "b.png", "height": 20, "width": 30}],
           "categories": [{"id": 1, "name": "fish", "supercategory": "",
                           "keypoints": ["head", "fin", "tail"], "skeleton": [[1, 2], [2, 3]]}],
           "annotations": [
               {"id": 4, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 50.0,
                "bbox": [2, 2, 10, 5], "segmentation": [[2, 2, 12, 2, 12, 7, 2, 7]],
                "keypoints": [3, 3, 2, 0, 0, 0, 0, 0, 0], "num_keypoints": 1},
               {"id": 5, "image_id": 2, "category_id": 1, "iscrowd": 0, "area": 50.0,
                "bbox": [2, 2, 10, 5], "segmentation": [[2, 2, 12, 2, 12, 7, 2, 7]]}]}
    path = tmp_path / "fish.json"
    path.write_text(json.dumps(obj))
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no image files
        layers = _open(viewer, path)
    points, shapes = layers["points"], layers["shapes"]
    dock = _dock(viewer, qtbot)
    viewer.dims.set_current_step(0, 1)
    qtbot.wait(20)
    assert len(points.data) == 0
    viewer.layers.selection.active = shapes
    shapes.selected_data = {0}  # annotation 5
    assert dock.add_keypoint() == 0, dock.status.text()
    row, col = 4.0, 6.0  # the instance's pixels are rows 2..6, cols 2..11
    assert points.data[0][0] == 1 and 2 <= points.data[0][1] <= 6 and 2 <= points.data[0][2] <= 11
    assert points.features["name"].tolist() == ["head"]
    points.data = np.array([[1.0, row, col]])
    assert dock.set_visibility(1) == 1
    assert dock.add_keypoint(2) == 2  # the tail, via the selected keypoint's instance
    viewer.dims.set_current_step(0, 0)
    qtbot.wait(20)
    assert points.features["annotation_id"].tolist() == [4]
    viewer.dims.set_current_step(0, 1)
    qtbot.wait(20)
    assert points.features["keypoint"].tolist() == [0, 2]
    assert points.features["visibility"].tolist() == [1, 2]
    tail = np.asarray(points.data[1]).copy()
    assert dock.save(), dock.status.text()
    ann = _coco(path).anns[5]
    assert ann["keypoints"][:3] == [6, 4, 1] and ann["num_keypoints"] == 2
    assert ann["keypoints"][3:6] == [0, 0, 0]
    assert ann["keypoints"][6:] == [int(round(tail[2])), int(round(tail[1])), 2]
    assert _coco(path).anns[4]["keypoints"] == [3, 3, 2, 0, 0, 0, 0, 0, 0]
