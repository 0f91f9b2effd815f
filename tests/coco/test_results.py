"""Predictions (COCO results files) opened beside their ground truth, in the model and a viewer."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO

from napari_coco_masks.coco import CocoError, load_coco
from napari_coco_masks.coco.results import find_ground_truth, load_results
from napari_coco_masks.coco.session import CocoSession

DATA = Path(__file__).parents[1] / "data"
COCO2017 = DATA / "coco2017-4img/data_samples/coco_25k"


@pytest.fixture
def predictions(tmp_path) -> tuple[Path, Path]:
    """The 4-image COCO folder copied, with predictions: every annotation, scored, and one box."""
    folder = tmp_path / "coco"
    shutil.copytree(COCO2017, folder)
    gt = folder / "annotations.json"
    anns = json.loads(gt.read_text())["annotations"]
    rng = np.random.default_rng(0)
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"],
             "segmentation": a["segmentation"], "bbox": a["bbox"],
             "score": round(float(rng.uniform(0.3, 1)), 3)} for a in anns]
    dets.append({"image_id": anns[0]["image_id"], "category_id": 1, "bbox": [5, 5, 20, 10],
                 "score": 0.25})
    res = folder / "detections_val_results.json"
    res.write_text(json.dumps(dets))
    return gt, res


def test_the_ground_truth_is_found_and_the_detections_are_its_annotations(predictions):
    gt, res = predictions
    assert find_ground_truth(res) == gt
    ds = load_results(res)
    dets = json.loads(res.read_text())
    assert ds.path == gt and len(ds.images) == len(load_coco(gt).images)
    anns = ds.annotations
    assert [a.id for a in anns] == list(range(1, len(dets) + 1))
    assert [a.record["score"] for a in anns] == [d["score"] for d in dets]
    assert anns[-1].kind == "bbox"
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt))
        dt = coco.loadRes(str(res))
    from napari_coco_masks.coco import rasterize_image

    first = ds.images[0]
    plane = rasterize_image(ds, 0, per_image=True)
    for k, a in enumerate(ds.image_annotations(0)):
        if a.kind == "polygon":  # pixels of each detection where it is on top
            mask = dt.annToMask(dt.anns[a.id]).astype(bool)
            assert (plane == k + 1).sum() <= mask.sum()
            assert mask[plane == k + 1].all()
    assert plane.shape == (first.height, first.width)


def test_no_ground_truth_beside_gives_the_advice(tmp_path):
    res = tmp_path / "res.json"
    res.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]))
    assert find_ground_truth(res) is None
    with pytest.raises(CocoError, match="no ground-truth instances file found"):
        load_results(res)
    from napari_coco_masks._reader import get_reader

    with pytest.warns(UserWarning, match="results file.*no single ground-truth file"):
        assert get_reader(str(res)) is None


def test_edited_predictions_save_as_a_dataset(predictions, tmp_path):
    _, res = predictions
    session = CocoSession(load_results(res))
    plane = session.planes.plane(0).copy()
    plane[plane == 1] = 0  # drop a prediction
    session.planes[0] = plane
    out = tmp_path / "corrected.json"
    session.save(out)
    written = json.loads(out.read_text())
    assert len(written["annotations"]) == len(json.loads(res.read_text())) - 1
    assert all("score" in a for a in written["annotations"])
    assert load_coco(out).images[0].id == session.dataset.images[0].id


def test_predictions_are_never_saved_over_their_ground_truth(predictions, tmp_path):
    gt, res = predictions
    before = gt.read_bytes()
    session = CocoSession(load_results(res))
    assert session.dataset.path == gt and session.dataset.results_path == res
    with pytest.raises(CocoError, match="would replace the ground truth") as err:
        session.save(gt)
    assert err.value.path is not None and gt.read_bytes() == before
    session.save(tmp_path / "predictions_as_dataset.json")  # another name is fine
    assert load_coco(tmp_path / "predictions_as_dataset.json").n_records == len(
        json.loads(res.read_text()))


def test_predictions_open_in_a_viewer_with_their_scores(make_napari_viewer, predictions):
    _, res = predictions
    viewer = make_napari_viewer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = viewer.open(str(res), plugin="napari-coco-masks")
    names = [layer.name for layer in layers]
    assert names[0] == "detections_val_results predictions image"
    labels = next(layer for layer in layers if layer._type_string == "labels")
    shapes = next(layer for layer in layers if layer._type_string == "shapes")
    assert "score" in labels.features and labels.features["score"].between(0, 1).all()
    assert "rectangle" in shapes.shape_type  # the box-only detection
    viewer.dims.set_current_step(0, 2)
    assert len(labels.features) == len(load_results(res).image_annotations(2))
