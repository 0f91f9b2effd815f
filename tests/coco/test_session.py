"""The reader <-> writer contract: per-image label values, the lazy plane stack, the edit store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from napari_coco_masks.coco import CocoError, load_coco, rasterize_image
from napari_coco_masks.coco.session import (
    CocoSession,
    LabelPlanes,
    ShapesState,
    annotation_columns,
    clean_ring,
    drawable_ring,
)

sys.path.insert(0, str(Path(__file__).parent))
from test_raster import _random_dataset

from coco_testing import per_image_labels


@pytest.fixture
def session(tmp_path) -> CocoSession:
    return CocoSession(load_coco(_random_dataset(42, tmp_path)))



def _dense(session: CocoSession) -> np.ndarray:
    dense = np.zeros((session.n_images, *session.canvas), np.int32)
    for i, (h, w) in enumerate(session.dataset.image_shapes):
        dense[i, :h, :w] = per_image_labels(session.dataset, i)
    return dense


def test_label_values_are_per_image_and_pycocotools_exact(session):
    ds = session.dataset
    for i in range(session.n_images):
        plane = session.label_plane(i)
        assert np.array_equal(plane, per_image_labels(ds, i))
        table = session.label_table(i)
        assert table["index"] == list(range(1, len(ds.image_annotations(i)) + 1))
        assert table["annotation_id"] == [a.id for a in ds.image_annotations(i)]
        assert set(session.label_colors(i)) == set(table["index"])


def test_planes_read_like_the_dense_stack(session):
    stack = LabelPlanes(session, cache_size=1)
    dense = _dense(session)
    assert stack.shape == dense.shape and stack.dtype == np.int32 and stack.ndim == 3
    assert np.array_equal(np.asarray(stack), dense)
    assert np.array_equal(stack[1], dense[1])
    assert np.array_equal(stack[-1, 3:9, ::2], dense[-1, 3:9, ::2])
    assert np.array_equal(stack[:, 5], dense[:, 5])
    idx = (np.array([0, 1, 1, 0]), np.array([3, 4, 60, 90]), np.array([5, 6, 30, 100]))
    assert np.array_equal(stack[idx], dense[idx])
    assert len(stack) == 2 and stack.size == dense.size
    assert not stack.original(0).flags.writeable  # cached planes are read-only
    view = stack[0]
    view[:] = 123  # reads are copies: napari writes into its slice cache
    assert not (stack[0] == 123).all() and stack.edited == []


def test_planes_keep_edits_through_cache_churn_and_parking(session):
    stack = LabelPlanes(session, cache_size=1, live_edits=1)
    before = np.asarray(stack).copy()
    stack[0, 10:12, 10:12] = 99
    idx = (np.array([1, 1]), np.array([2, 3]), np.array([4, 5]))
    stack[idx] = np.array([7, 8])  # plane 0 is parked as its changed box
    assert list(stack._edited) == [1] and list(stack._parked) == [0]
    _ = stack[1], stack[0], stack[1]
    after = np.asarray(stack)
    assert stack.edited == [0, 1]
    assert (after[0, 10:12, 10:12] == 99).all()
    assert after[1, 2, 4] == 7 and after[1, 3, 5] == 8
    assert (after != before).sum() <= 6
    stack[:, 0, 0] = 5
    assert (np.asarray(stack)[:, 0, 0] == 5).all()
    with pytest.raises(IndexError):
        stack[2]


def test_planes_in_a_labels_layer_can_be_painted_and_undone(session):
    from napari.layers import Labels

    layer = Labels(session.planes)
    layer.selected_label = 77
    layer.paint((1, 20, 20), 77, refresh=False)
    assert session.planes[1, 20, 20] == 77 and session.planes.edited == [1]
    layer.undo()
    assert session.planes[1, 20, 20] == per_image_labels(session.dataset, 1)[20, 20]


def test_file_shapes_are_the_polygons_with_the_half_pixel_shift(session):
    ds = session.dataset
    for i in range(session.n_images):
        state = session.file_shapes(i)
        anns = ds.image_annotations(i)
        polygons = [a for a in anns if a.kind == "polygon"]
        boxes = [a for a in anns if a.kind == "bbox"]
        parts = state.features["part"]
        assert len(state.data) == len(state.types) == len(parts)
        assert parts.count(-1) == len(boxes) == state.types.count("rectangle")
        assert len(parts) - len(boxes) <= sum(len(a.segmentation) for a in polygons)
        for verts, ann_id, part in zip(
            state.data, state.features["annotation_id"], parts, strict=True
        ):
            if part < 0:
                continue
            ann = next(a for a in polygons if a.id == ann_id)
            xy = np.asarray(ann.segmentation[part], float).reshape(-1, 2)
            assert np.allclose(verts, drawable_ring(xy[:, ::-1] - 0.5))


def test_clean_ring_and_drawable_ring():
    ring = np.array([[0, 0], [0, 0], [0, 4], [3, 4], [0, 0]], float)
    assert clean_ring(ring).tolist() == [[0, 0], [0, 4], [3, 4]]
    assert drawable_ring(np.array([[0, 0], [0, 0], [1, 1]], float)) is None
    assert drawable_ring(np.array([[0, 0], [np.nan, 1], [1, 1]], float)) is None


def test_attributes_become_columns(tmp_path):
    obj = {
        "images": [{"id": 1, "file_name": "a.png", "height": 10, "width": 10}],
        "categories": [{"id": 1, "name": "a"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 5, 1, 5, 5]],
             "attributes": {"occluded": True}},
            {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 5, 1, 5, 5]]},
        ],
    }
    path = tmp_path / "a.json"
    path.write_text(json.dumps(obj))
    ds = load_coco(path)
    cols = annotation_columns(ds, ds.image_annotations(0))
    assert cols["attributes.occluded"] == [True, None]


def test_no_edits_no_changes_and_the_same_bytes(session):
    assert session.edited_images() == [] and session.changes() == ({}, [])
    assert session.to_bytes() == Path(session.dataset.path).read_bytes()


def test_changes_give_fresh_ids_never_reused(session):
    ds = session.dataset
    top = max(int(v) for v in ds.annotation_ids)
    plane = session.planes.plane(0).copy()
    plane[:3, :3] = plane.max() + 1  # a new instance in a corner (over whatever was there)
    session.planes[0] = plane
    replaced, new = session.changes()
    assert [a["id"] for a in new] == [top + 1]
    assert new[0]["image_id"] == ds.images[0].id
    assert all(p in [a.position for a in ds.image_annotations(0)] for p in replaced)


def test_shapes_state_of_an_image_round_trips_without_changes(session):
    for i in range(session.n_images):
        state = session.file_shapes(i)
        session.shapes[i] = ShapesState([v.astype(np.float32) for v in state.data],
                                        state.types, state.features)
    assert session.changes() == ({}, [])  # napari's float32 vertices are the same vertices


def test_per_image_rasterisation_into_a_padded_plane_equals_the_remapped_one(session):
    ds = session.dataset
    for i in range(session.n_images):
        out = np.zeros((session.canvas[0] + 3, session.canvas[1] + 2), np.int32)
        view = rasterize_image(ds, i, per_image=True, out=out)
        h, w = ds.image_shapes[i]
        assert view.shape == (h, w) and np.shares_memory(view, out)
        assert np.array_equal(out[:h, :w], per_image_labels(ds, i)) and not out[h:].any()
    with pytest.raises(ValueError, match="int32"):
        rasterize_image(ds, 0, out=np.zeros((2, 2), np.int32))


ROBOFLOW = Path(__file__).parents[1] / "data/roboflow-braintumor-polygons/test/_annotations.coco.json"
CVAT = Path(__file__).parents[1] / "data/cvat-carinterior-polygons/annotations/instances_default.json"


def test_new_instances_get_the_files_most_used_category_not_a_placeholder():
    session = CocoSession(load_coco(ROBOFLOW))
    assert session.dataset.categories[0].supercategory == "none"  # Roboflow's placeholder 0
    assert session.default_category == 1
    i = next(k for k in range(session.n_images) if not session.annotations(k))
    plane = session.planes.plane(i).copy()
    plane[5:15, 5:15] = 1  # a new instance painted on an image without any
    session.planes[i] = plane
    _, new = session.changes()
    assert [a["category_id"] for a in new] == [1]


def _edit_table(session, i, **columns):
    import pandas as pd

    table = pd.DataFrame(session.label_table(i))
    for name, (row, value) in columns.items():
        table[name] = table[name].astype(object)
        table.loc[row, name] = value
    session.label_features[i] = table


def test_a_renamed_category_in_the_features_table_is_written_as_that_category():
    session = CocoSession(load_coco(CVAT))
    cats = {c.name: c.id for c in session.dataset.categories}
    first = session.annotations(0)[0]
    other = next(n for n, c in cats.items() if c != first.category_id)
    _edit_table(session, 0, category=(0, other))
    replaced, new = session.changes()
    assert new == [] and list(replaced) == [first.position]
    assert replaced[first.position]["category_id"] == cats[other]
    assert {k: v for k, v in replaced[first.position].items() if k != "category_id"} == {
        k: v for k, v in first.record.items() if k != "category_id"
    }
    _edit_table(session, 0, category=(0, "no such thing"))
    with pytest.raises(CocoError, match="category 'no such thing' is not a category of the file"):
        session.changes()


def test_a_category_id_that_is_not_in_the_file_is_refused_at_save(tmp_path):
    session = CocoSession(load_coco(CVAT))
    _edit_table(session, 0, category_id=(0, 999))
    target = tmp_path / "out.json"
    with pytest.raises(CocoError, match="category_id 999 is not a category of the file"):
        session.save(target)
    assert not target.exists()


def test_a_save_over_the_source_rebases_the_session_on_the_new_file(session):
    """After saving to its own file the session reads the new bytes (no "changed on disk"),
    its edit store is empty and the shown image shows what was saved, with the new ids."""
    path = Path(session.dataset.path)
    top = max(int(v) for v in session.dataset.annotation_ids)
    i = 1
    session.current = i
    plane = session.planes.plane(i).copy()
    value = int(plane.max()) + 1
    plane[:3, :3] = value  # a new instance in a corner
    session.planes[i] = plane
    old_first = session.annotations(0)[0]
    session.planes[0] = np.where(session.planes.plane(0) == 1, 0, session.planes.plane(0))
    edited = session.planes.plane(i).copy()
    session.save(path)

    assert session.edited_images() == [] and session.changes() == ({}, [])
    assert session.dataset.path == path and session.current == i
    again = load_coco(path)
    assert list(session.dataset.annotation_ids) == list(again.annotation_ids)
    assert old_first.id not in list(session.dataset.annotation_ids)  # deleted
    for k in range(session.n_images):  # every plane read from the new bytes
        assert np.array_equal(session.planes.plane(k)[: again.images[k].height,
                              : again.images[k].width], per_image_labels(again, k))
    assert (session.planes.plane(i)[:3, :3] > 0).all()
    assert np.array_equal(session.planes.plane(i) > 0, edited > 0)
    ids = session.label_table(i)["annotation_id"]
    assert top + 1 in ids  # the new instance has its id now
    assert session.to_bytes() == path.read_bytes()  # an unedited save is identical again
    # a second edit and save on the re-based session: minimal diff on the new file
    session.planes[i] = np.where(session.planes.plane(i) == ids.index(top + 1) + 1, 0,
                                 session.planes.plane(i))
    session.save(path)
    assert top + 1 not in list(load_coco(path).annotation_ids)
    assert top + 1 not in list(session.dataset.annotation_ids)


def test_a_save_elsewhere_keeps_the_session_on_its_file(session, tmp_path):
    path = Path(session.dataset.path)
    plane = session.planes.plane(0).copy()
    plane[:3, :3] = plane.max() + 1
    session.planes[0] = plane
    session.save(tmp_path / "copy.json")
    assert session.dataset.path == path and session.edited_images() == [0]


def test_rebase_keeps_the_plane_stack_object_and_calls_listeners(session):
    planes, seen = session.planes, []

    class Listener:
        def rebased(self, s):
            seen.append(s)

    keep, gone = Listener(), Listener()
    session.on_rebase(keep.rebased)
    session.on_rebase(gone.rebased)
    del gone
    session.planes[0] = np.zeros(session.canvas, np.int32)
    session.save(session.dataset.path)
    assert session.planes is planes and seen == [session]
    assert not session.planes.plane(0).any() and session.annotations(0) == []


def test_keypoints_of_an_instance_without_any_get_the_categorys_array(tmp_path):
    import pandas as pd
    from pycocotools.coco import COCO

    obj = {"images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 30},
                      {"id": 2, "file_name": "b.png", "height": 20, "width": 30}],
           "categories": [{"id": 1, "name": "fish", "keypoints": ["head", "fin", "tail"],
                           "skeleton": [[1, 2], [2, 3]]}],
           "annotations": [
               {"id": 5, "image_id": 2, "category_id": 1, "iscrowd": 0, "area": 50.0,
                "bbox": [2, 2, 10, 5], "segmentation": [[2, 2, 12, 2, 12, 7, 2, 7]]},
               {"id": 6, "image_id": 2, "category_id": 1, "iscrowd": 0, "area": 50.0,
                "bbox": [2, 12, 10, 5], "segmentation": [[2, 12, 12, 12, 12, 17, 2, 17]],
                "keypoints": [3, 13, 2, 7, 14, 2, 11, 15, 1], "num_keypoints": 3}]}
    path = tmp_path / "fish.json"
    path.write_text(json.dumps(obj))
    session = CocoSession(load_coco(path))
    state = session.file_points(1)
    assert state.features["annotation_id"] == [6, 6, 6]
    # instance 5 gets its tail (row 4, col 9) and fin (occluded); 6 loses its head (v=0)
    data = [*state.data, np.array([4.0, 9.0]), np.array([3.0, 6.0])]
    features = pd.DataFrame(state.features)
    features["visibility"] = [0, 2, 1]
    features = pd.concat([features, pd.DataFrame({"annotation_id": [5, 5], "keypoint": [2, 1],
                                                  "visibility": [None, 1]})],
                         ignore_index=True)
    session.points[1] = ShapesState(data, ["point"] * 5, features)
    session.save(path)
    with __import__("contextlib").redirect_stdout(__import__("io").StringIO()):
        anns = COCO(str(path)).anns
    assert anns[5]["keypoints"] == [0, 0, 0, 6, 3, 1, 9, 4, 2] and anns[5]["num_keypoints"] == 2
    assert anns[6]["keypoints"] == [0, 0, 0, 7, 14, 2, 11, 15, 1] and anns[6]["num_keypoints"] == 2
