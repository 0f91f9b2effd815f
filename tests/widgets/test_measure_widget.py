"""Tests for the Measure objects dock widget in a real napari viewer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skimage.draw import disk, rectangle
from skimage.measure import regionprops_table

from napari_coco_masks._widgets._base import layer_units
from napari_coco_masks._widgets._measure_tables import merge_features
from napari_coco_masks._widgets._measure_views import _camera
from napari_coco_masks._widgets.measure import MeasureWidget


def _labels() -> np.ndarray:
    """Three objects: a disk (1), a rectangle (2) and a small disk (3)."""
    labels = np.zeros((60, 80), np.int32)
    labels[disk((20, 20), 12)] = 1
    rr, cc = rectangle((35, 40), end=(50, 70))
    labels[rr, cc] = 2
    labels[disk((12, 60), 5)] = 3
    return labels


def _run(widget: MeasureWidget, qtbot) -> None:
    worker = widget.run()
    assert worker is not None
    qtbot.waitUntil(lambda: widget.results is not None, timeout=20000)
    qtbot.waitUntil(widget.measure_button.isEnabled, timeout=20000)


def _row_of_label(widget: MeasureWidget, label: int) -> int:
    for row in range(widget.table.rowCount()):
        pos = widget._row_position(widget.table, row)
        if int(widget.results.iloc[pos]["label"]) == label:
            return row
    raise AssertionError(f"label {label} not in the table")


def test_features_written_in_physical_units(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    labels = _labels()
    image = np.random.default_rng(0).random(labels.shape)
    viewer.add_image(image, name="img", scale=(0.5, 0.5))
    layer = viewer.add_labels(labels, name="objects", scale=(0.5, 0.5), units=("µm", "µm"))
    widget = MeasureWidget(viewer)
    widget.labels_combo.setCurrentText("objects")
    widget.image_combo.setCurrentText("img")
    _run(widget, qtbot)

    feats = layer.features
    ref = regionprops_table(
        labels,
        image,
        properties=["label", "area", "perimeter", "intensity_mean"],
        spacing=(0.5, 0.5),
    )
    rows = feats.set_index("index").loc[ref["label"]]
    np.testing.assert_allclose(rows["area"], ref["area"])
    np.testing.assert_allclose(rows["perimeter"], ref["perimeter"])
    np.testing.assert_allclose(rows["intensity_mean"], ref["intensity_mean"])
    assert feats["index"].tolist() == [1, 2, 3]
    # napari maps the hovered label to its row through the index column
    area_1 = rows.loc[1, "area"]
    assert f"area: {area_1:.3g}" in layer.get_status((20, 20))["coordinates"]
    headers = [
        widget.table.horizontalHeaderItem(j).text() for j in range(widget.table.columnCount())
    ]
    assert "area [µm²]" in headers and "perimeter [µm]" in headers and "centroid-0 [µm]" in headers
    assert widget.table.rowCount() == 3
    # the histogram counts every object
    counts, _ = widget.histogram
    assert counts.sum() == 3
    pixmap = widget.histogram_label.pixmap()
    assert not pixmap.isNull()
    # the label is never smaller than the picture: a smaller one cropped the title and axis
    assert widget.histogram_label.minimumWidth() >= pixmap.width()
    assert widget.histogram_label.minimumHeight() >= pixmap.height()


def test_pixel_units_when_layer_has_none(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layer = viewer.add_labels(_labels(), name="painted")
    assert layer_units(layer) == ("px", "px")
    widget = MeasureWidget(viewer)
    _run(widget, qtbot)
    assert widget.results.attrs["units"]["area"] == "px²"
    assert widget.results["area"].tolist() == np.bincount(_labels().ravel())[1:].tolist()


def test_coco_features_are_kept_and_summarised_per_category(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    features = pd.DataFrame(
        {
            "index": [0, 1, 2, 3],
            "annotation_id": [-1, 101, 102, 103],
            "category": ["", "cell", "debris", "cell"],
            "area": [0.0, 999.0, 999.0, 999.0],  # stale COCO area must be replaced
        }
    )
    layer = viewer.add_labels(_labels(), name="coco", features=features, scale=(2.0, 2.0))
    widget = MeasureWidget(viewer)
    _run(widget, qtbot)

    feats = layer.features.set_index("index")
    assert feats["annotation_id"].dtype == np.int64  # every label annotated: ints stay ints
    assert feats.loc[[1, 2, 3], "annotation_id"].tolist() == [101, 102, 103]
    assert feats.loc[[1, 2, 3], "category"].tolist() == ["cell", "debris", "cell"]
    expected = np.bincount(_labels().ravel())[1:] * 4.0
    np.testing.assert_allclose(feats.loc[[1, 2, 3], "area"], expected)
    # what a user reads first: label, category, then the measurements; ids come after them
    columns = list(widget.results.columns)
    assert columns[:4] == ["label", "category", "area", "perimeter"]
    assert columns.index("annotation_id") > columns.index("circularity")
    headers = [widget.table.horizontalHeaderItem(j).text() for j in range(4)]
    assert headers == ["label", "category", "area [px²]", "perimeter [px]"]
    # the minimum feret diameter is a column of the table, in the layer's units (scale 2)
    all_headers = [widget.table.horizontalHeaderItem(j).text()
                   for j in range(widget.table.columnCount())]
    assert "feret_diameter_min [px]" in all_headers
    assert (widget.results["feret_diameter_min"] <= widget.results["feret_diameter_max"]).all()
    assert (widget.results["feret_diameter_min"] > 0).all()

    summary = widget.summary.set_index("category")
    assert summary.loc["cell", "count"] == 2
    assert summary.loc["cell", "area_total"] == pytest.approx(expected[0] + expected[2])
    assert summary.loc["debris", "area_median"] == pytest.approx(expected[1])
    assert widget.summary_table.rowCount() == 2


def test_row_click_selects_and_centres_in_world_coordinates(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    scale, translate = np.array([2.0, 3.0]), np.array([10.0, -20.0])
    layer = viewer.add_labels(_labels(), name="objects", scale=scale, translate=translate)
    widget = MeasureWidget(viewer)
    _run(widget, qtbot)
    widget.table.sortItems(1)  # sorted tables still map rows to the right object
    row = _row_of_label(widget, 2)
    widget.table.cellClicked.emit(row, 0)
    assert layer.selected_label == 2
    rr, cc = np.nonzero(_labels() == 2)
    expected = np.array([rr.mean(), cc.mean()]) * scale + translate
    np.testing.assert_allclose(_camera(viewer).center[-2:], expected)


def test_time_series_rows_move_the_frame_slider(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    stack = np.stack([_labels(), np.zeros_like(_labels()), np.roll(_labels(), 5, axis=1)])
    layer = viewer.add_labels(stack, name="movie", scale=(1.0, 0.5, 0.5))
    widget = MeasureWidget(viewer)
    widget.time_series.setChecked(True)
    _run(widget, qtbot)
    df = widget.results
    assert df["frame"].tolist() == [0, 0, 0, 2, 2, 2]
    assert "frame" in [widget.group_combo.itemText(i) for i in range(widget.group_combo.count())]
    pos = int(np.flatnonzero((df["frame"] == 2) & (df["label"] == 3))[0])
    row = next(
        r for r in range(widget.table.rowCount()) if widget._row_position(widget.table, r) == pos
    )
    widget.select_row(row)
    assert viewer.dims.point[0] == pytest.approx(2.0)
    assert layer.selected_label == 3
    assert "area" not in layer.features.columns  # labels repeat across frames: table only
    assert "not in the layer features" in widget.status.text()


def test_save_csv_has_units_in_headers(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_labels(_labels(), name="objects", scale=(0.25, 0.25), units=("mm", "mm"))
    widget = MeasureWidget(viewer)
    _run(widget, qtbot)
    path = tmp_path / "m.csv"
    widget.save_csv(str(path))
    table = pd.read_csv(path)
    assert "area [mm²]" in table.columns and "eccentricity" in table.columns
    np.testing.assert_allclose(table["area [mm²]"], np.bincount(_labels().ravel())[1:] * 0.0625)
    widget.save_csv(str(tmp_path / "s.csv"), "summary")
    summary = pd.read_csv(tmp_path / "s.csv")
    assert summary["count"].tolist() == [3]
    assert "area_total [mm²]" in summary.columns


def test_copy_table_puts_the_shown_table_on_the_clipboard(make_napari_viewer, qtbot):
    from io import StringIO

    from qtpy.QtWidgets import QApplication

    viewer = make_napari_viewer()
    viewer.add_labels(_labels(), name="objects", scale=(0.25, 0.25), units=("mm", "mm"))
    widget = MeasureWidget(viewer)
    assert not widget.copy_button.isEnabled()
    _run(widget, qtbot)
    assert widget.copy_button.isEnabled()
    widget.copy_button.click()  # the objects tab is shown
    pasted = pd.read_csv(StringIO(QApplication.clipboard().text()), sep="\t")
    np.testing.assert_allclose(pasted["area [mm²]"], np.bincount(_labels().ravel())[1:] * 0.0625)
    assert pasted["label"].tolist() == widget.results["label"].tolist()
    assert "Copied 3 rows of the objects table" in widget.status.text()
    widget.tabs.setCurrentIndex(1)  # the summary
    widget.copy_table()
    assert QApplication.clipboard().text().splitlines()[0].startswith("group\tcount\tarea_total [mm²]")


def test_shapes_layer_measured_in_physical_units(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    square = np.array([[0, 0], [0, 10], [10, 10], [10, 0]], float)
    layer = viewer.add_shapes(
        [square, square + 20],
        name="rois",
        scale=(0.5, 2.0),
        units=("µm", "µm"),
        features={"category": ["a", "b"]},
    )
    widget = MeasureWidget(viewer)
    widget.shapes_combo.setCurrentText("rois")
    assert widget.run() is None  # no Labels layer: shapes are measured synchronously
    assert widget.shape_results["area"].tolist() == pytest.approx([100.0, 100.0])
    assert widget.shape_results["perimeter"].tolist() == pytest.approx([50.0, 50.0])
    assert widget.shape_results["category"].tolist() == ["a", "b"]
    assert layer.features["area"].tolist() == pytest.approx([100.0, 100.0])
    assert widget.summary["count"].tolist() == [1, 1]
    widget.select_shape_row(1)
    assert layer.selected_data == {1}
    np.testing.assert_allclose(_camera(viewer).center[-2:], [25 * 0.5, 25 * 2.0])


def test_bad_input_gives_one_clear_message(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_labels(_labels(), name="objects")
    viewer.add_image(np.zeros((10, 10)), name="small")
    widget = MeasureWidget(viewer)
    widget.image_combo.setCurrentText("small")
    assert widget.run() is None
    assert "'small' has shape (10, 10)" in widget.status.text()
    assert widget.results is None


def test_layer_pickers_follow_the_layer_list(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = MeasureWidget(viewer)
    assert widget.labels_combo.count() == 0
    layer = viewer.add_labels(_labels(), name="a")
    assert widget.labels_combo.currentText() == "a"
    layer.name = "renamed"
    assert widget.labels_combo.currentText() == "renamed"
    viewer.layers.remove(layer)
    assert widget.labels_combo.count() == 0


def test_merge_features_without_index_column_maps_rows_to_labels():
    old = pd.DataFrame({"category": ["bg", "x", "y"]})
    meas = pd.DataFrame({"label": [1, 2], "area": [3.0, 4.0]})
    out = merge_features(old, meas)
    assert out["index"].tolist() == [0, 1, 2]  # the old background row stays
    assert out["category"].tolist() == ["bg", "x", "y"]
    assert np.isnan(out["area"].iloc[0]) and out["area"].iloc[1:].tolist() == [3.0, 4.0]


def test_coco_stack_is_measured_per_image_and_written_to_features(make_napari_viewer, qtbot):
    """A COCO stack (leading image axis, label values unique across images) is measured image by
    image; every label has one row, so the results land in the features with a frame column."""
    viewer = make_napari_viewer()
    first = _labels()
    second = np.where(_labels() > 0, _labels() + 3, 0)[::-1]
    stack = np.stack([first, second])
    features = pd.DataFrame(
        {
            "index": np.arange(7),
            "annotation_id": np.arange(7) * 10,
            "category": ["", "a", "b", "a", "b", "b", "a"],
        }
    )
    coco = {
        "source": "x.json",
        "dataset": {},
        "image_shapes": [(60, 80), (60, 80)],
        "image_ids": [1, 2],
    }
    layer = viewer.add_labels(
        stack,
        name="coco stack",
        features=features,
        metadata={"coco": coco},
        scale=(1.0, 0.1, 0.1),
        units=("pixel", "mm", "mm"),
    )
    widget = MeasureWidget(viewer)
    assert widget.time_series.isChecked()
    _run(widget, qtbot)
    feats = layer.features.set_index("index")
    assert feats.loc[[1, 2, 3, 4, 5, 6], "frame"].tolist() == [0, 0, 0, 1, 1, 1]
    counts = np.bincount(stack.ravel())[1:] * 0.01
    np.testing.assert_allclose(feats.loc[[1, 2, 3, 4, 5, 6], "area"], counts)
    assert feats.loc[[4, 5, 6], "annotation_id"].tolist() == [40, 50, 60]
    assert widget.results.attrs["units"]["area"] == "mm²"
    summary = widget.summary.set_index("category")
    assert summary.loc["a", "count"] == 3 and summary.loc["b", "count"] == 3


def test_run_measure_is_synchronous_for_scripts(make_napari_viewer):
    viewer = make_napari_viewer()
    other = viewer.add_labels(np.zeros((5, 5), np.int32), name="other")
    layer = viewer.add_labels(_labels(), name="objects", scale=(0.5, 0.5), units=("µm", "µm"))
    widget = MeasureWidget(viewer)
    widget.labels_combo.setCurrentText(other.name)
    df = widget.run_measure(layer)
    assert widget.labels_combo.currentText() == "objects"
    assert df is widget.results and len(df) == 3
    assert "area" in layer.features.columns and "area" not in other.features.columns


def test_rerun_replaces_old_measurements(make_napari_viewer):
    viewer = make_napari_viewer()
    image = viewer.add_image(np.ones((60, 80)), name="img")
    layer = viewer.add_labels(_labels(), name="objects",
                              features={"index": [1, 2, 3], "category": ["a", "b", "a"]})
    widget = MeasureWidget(viewer)
    widget.run_measure(layer, image)
    assert "intensity_mean" in layer.features.columns
    widget.image_combo.setCurrentText("(none)")
    layer.data = np.where(layer.data == 3, 0, layer.data)
    widget.run_measure(layer)
    feats = layer.features.set_index("index")
    assert "intensity_mean" not in feats.columns and "intensity_mean" not in widget.results
    assert feats.loc[3, "category"] == "a" and np.isnan(feats.loc[3, "area"])  # gone, kept
    assert widget.results["label"].tolist() == [1, 2]


def test_error_in_the_worker_is_one_message_not_a_traceback(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_labels(np.full((20, 20), -3, np.int32), name="negative")
    widget = MeasureWidget(viewer)
    widget.run()
    qtbot.waitUntil(lambda: "Measure failed" in widget.status.text(), timeout=20000)
    qtbot.waitUntil(widget.measure_button.isEnabled, timeout=20000)
    assert "`labels` has negative values (min -3)" in widget.status.text()
    assert widget.results is None


def test_coco_sample_table_reads_label_category_area_first(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-coco-masks", "coins")
    _, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Measure objects")
    widget.shapes_combo.setCurrentText("coins shapes")
    _run(widget, qtbot)
    columns = list(widget.results.columns)
    assert columns[:4] == ["label", "category", "area", "perimeter"]
    ids = [columns.index(c) for c in ("annotation_id", "image_id", "category_id", "iscrowd")]
    assert min(ids) > columns.index("bbox-3")
    assert widget.results.attrs["units"]["area"] == "px²"
    shape_columns = list(widget.shape_results.columns)
    assert shape_columns[:4] == ["shape", "category", "shape_type", "area"]
    assert shape_columns.index("annotation_id") > shape_columns.index("perimeter")
    assert widget.status.text() == (
        "Measured 24 objects of 'coins labels'. Measured 24 shapes of 'coins shapes'."
    )
    widget.save_csv(str(tmp_path / "coins.csv"))
    header = (tmp_path / "coins.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["label", "category", "area [px²]", "perimeter [px]"]


def test_one_object_status_is_singular(make_napari_viewer):
    viewer = make_napari_viewer()
    labels = np.zeros((20, 20), np.int32)
    labels[5:10, 5:10] = 1
    viewer.add_labels(labels, name="one")
    widget = MeasureWidget(viewer)
    widget.run_measure()
    assert widget.status.text() == "Measured 1 object of 'one'."


def test_closed_dock_stops_following_the_layers(make_napari_viewer, qtbot):
    """napari's close button orphans the widget (it stays alive): it must stop listening."""
    viewer = make_napari_viewer()
    viewer.add_labels(_labels(), name="objects")
    dock, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Measure objects")
    connected = len(viewer.layers.events.inserted.callbacks)
    dock.title.close_button.click()
    assert widget.parent() is None
    assert len(viewer.layers.events.inserted.callbacks) == connected - 1
    viewer.add_labels(_labels(), name="later")
    viewer.layers["objects"].name = "renamed"
    combo = [widget.labels_combo.itemText(i) for i in range(widget.labels_combo.count())]
    assert combo == ["objects"]  # untouched while closed
    viewer.window.add_dock_widget(widget)  # docked again: catches up
    combo = [widget.labels_combo.itemText(i) for i in range(widget.labels_combo.count())]
    assert combo == ["renamed", "later"]
    viewer.layers["later"].name = "last"
    assert widget.labels_combo.itemText(1) == "last"


@pytest.mark.parametrize("docked", [False, True])
def test_deleted_measured_layer_is_reported_and_rows_do_nothing(make_napari_viewer, qtbot, docked):
    viewer = make_napari_viewer()
    layer = viewer.add_labels(_labels(), name="objects", scale=(2.0, 2.0))
    if docked:  # napari hands a plugin widget a proxy of the viewer (and of its layers)
        _, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Measure objects")
    else:
        widget = MeasureWidget(viewer)
    _run(widget, qtbot)
    centre = tuple(_camera(viewer).center)
    viewer.layers.remove(layer)
    assert "'objects' was deleted" in widget.status.text()
    widget.table.cellClicked.emit(_row_of_label(widget, 2), 0)
    assert tuple(_camera(viewer).center) == centre
    assert widget.labels_combo.count() == 0


@pytest.mark.parametrize("docked", [False, True])
def test_renamed_layers_stay_chosen(make_napari_viewer, docked):
    viewer = make_napari_viewer()
    viewer.add_labels(_labels(), name="first")
    layer = viewer.add_labels(_labels(), name="objects")
    viewer.add_image(np.zeros((60, 80)), name="first image")
    image = viewer.add_image(np.ones((60, 80)), name="img")
    if docked:
        _, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Measure objects")
    else:
        widget = MeasureWidget(viewer)
    widget.labels_combo.setCurrentText("objects")
    widget.image_combo.setCurrentText("img")
    layer.name = "nuclei"
    image.name = "DAPI"
    assert widget.labels_combo.currentText() == "nuclei"
    assert widget.image_combo.currentText() == "DAPI"
    df = widget.run_measure()
    assert df is not None and "intensity_mean" in df.columns
    assert "area" in layer.features.columns
    viewer.layers.remove(image)
    assert widget.image_combo.currentText() == "(none)"


def test_opens_on_the_active_labels_layer(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.add_labels(_labels(), name="annotations")
    split = viewer.add_labels(_labels(), name="split")
    viewer.add_image(np.zeros((60, 80)), name="img")
    viewer.layers.selection.active = split
    _, widget = viewer.window.add_plugin_dock_widget("napari-coco-masks", "Measure objects")
    assert widget.labels_combo.currentText() == "split"


def test_time_axis_is_never_measured_as_depth(make_napari_viewer, qtbot, monkeypatch):
    """Issue 13 defect 5: a (t, y, x) stack in s, µm, µm was measured as a volume."""
    messages: list[str] = []
    monkeypatch.setattr("napari_coco_masks._widgets.measure.show_error", messages.append)
    viewer = make_napari_viewer()
    stack = np.stack([_labels(), _labels()])
    viewer.add_labels(stack, name="movie", scale=(60.0, 0.5, 0.5), units=("s", "µm", "µm"))
    widget = MeasureWidget(viewer)
    assert widget.time_series.isChecked()  # picked from the first axis' unit
    _run(widget, qtbot)
    df = widget.results
    assert df["frame"].tolist() == [0, 0, 0, 1, 1, 1]
    ref = regionprops_table(_labels(), properties=["label", "area"], spacing=(0.5, 0.5))
    np.testing.assert_allclose(df["area"].to_numpy()[:3], ref["area"])
    headers = [
        widget.table.horizontalHeaderItem(j).text() for j in range(widget.table.columnCount())
    ]
    assert "area [µm²]" in headers and not any("s·" in h for h in headers)

    widget.time_series.setChecked(False)  # the user insists: a clear refusal, not s·µm·µm
    assert widget.run() is None
    assert len(messages) == 1 and "is time (s)" in messages[0] and "per frame" in messages[0]

    viewer.add_labels(stack, name="volume", units=("µm", "µm", "µm"))
    widget.labels_combo.setCurrentText("volume")
    assert not widget.time_series.isChecked()  # a z axis is space


def test_a_coco_stack_measured_per_frame_names_each_frames_own_annotations(make_napari_viewer):
    from pathlib import Path

    from napari_coco_masks._widgets.measure import MeasureWidget
    from napari_coco_masks.coco import load_coco

    path = Path(__file__).parents[1] / "data/coco2017-4img/data_samples/coco_25k/annotations.json"
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin="napari-coco-masks")
    labels = next(layer for layer in layers if layer._type_string == "labels")
    widget = MeasureWidget(viewer)
    widget.time_series.setChecked(True)
    table = widget.run_measure(labels=labels)
    ds = load_coco(path)
    for frame in range(len(ds.images)):
        rows = table[table["frame"] == frame]
        anns = ds.image_annotations(frame)
        for label, ann_id, category in zip(rows["label"], rows["annotation_id"], rows["category"],
                                           strict=True):
            assert ann_id == anns[label - 1].id  # label k of frame f: the k-th of image f
            assert category == ds.category(anns[label - 1]).name
    assert set(table["frame"]) == set(range(len(ds.images)))


def test_histogram_of_one_huge_value(make_napari_viewer, qtbot):
    """Widget fuzz case {"entry": "widgets", "seed": 3608692897}: one object of a Labels layer
    of scale 1e9 has an area of 7e18; ``np.histogram``'s default range (value ± 0.5) has no
    room for 20 bins there and raised "Too many bins for data range" in ``draw_histogram``
    (after Measure: a traceback instead of a histogram)."""
    viewer = make_napari_viewer()
    viewer.add_labels(np.ones((1, 7), np.int32), name="huge", scale=(1e9, 1e9))
    widget = MeasureWidget(viewer)
    widget._refresh_layers()
    widget.labels_combo.setCurrentText("huge")
    _run(widget, qtbot)
    for column in ("area", "centroid_y"):
        widget.column_combo.setCurrentText(column)
        widget.draw_histogram()
        counts, edges = widget.histogram
        assert counts.sum() == 1 and np.all(np.diff(edges) > 0)
