"""Tests for napari_coco_masks.segment.classifier against scikit-image / scikit-learn and truth."""

from __future__ import annotations

import doctest
import os
from importlib.resources import files

import numpy as np
import pytest
import skops.io as sio
from scipy import ndimage as ndi
from skimage import data, measure
from skimage.feature import multiscale_basic_features
from skimage.future import predict_segmenter
from sklearn.preprocessing import FunctionTransformer

from napari_coco_masks.demo import coins_strokes
from napari_coco_masks.segment import classifier as cl
from napari_coco_masks.segment.classifier import (
    FeatureSettings,
    coco_training_labels,
    load_classifier,
    pixel_features,
    predict_pixels,
    save_classifier,
    semantic_to_instances,
    train_classifier,
)

COINS_JSON = str(files("napari_coco_masks") / "data" / "coins.json")
SMALL = FeatureSettings(sigma_min=1, sigma_max=8)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a & b) / np.count_nonzero(a | b))


def texture_task(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fine stripes (period 3 px) inside a random blob, coarse ones (12 px) outside, in noise.

    Both textures have the same mean and contrast and a random orientation and phase, so
    intensity alone cannot tell them apart.
    """
    rng = np.random.default_rng(seed)
    shape = (160, 160)
    yy, xx = np.mgrid[: shape[0], : shape[1]]

    def stripes(period: float) -> np.ndarray:
        a = rng.uniform(0, np.pi)
        return np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period + rng.uniform(0, 6))

    fine, coarse = stripes(3.0), stripes(12.0)
    cy, cx = rng.uniform(70, 90, 2)
    radius = 50 + 8 * np.sin(3 * np.arctan2(yy - cy, xx - cx) + rng.uniform(0, 6))
    truth = np.hypot(yy - cy, xx - cx) < radius
    image = np.where(truth, fine, coarse) * 60 + 128 + rng.normal(0, 15, shape)
    return np.clip(image, 0, 255).astype(np.uint8), truth


def texture_strokes(truth: np.ndarray) -> np.ndarray:
    """Grid lines every 16 px: class 2 inside the blob, class 1 outside, 2 px from its edge."""
    strokes = np.zeros(truth.shape, np.uint8)
    lines = np.zeros(truth.shape, bool)
    lines[::16, :] = lines[:, ::16] = True
    strokes[lines & ~ndi.binary_dilation(truth, iterations=2)] = 1
    strokes[lines & ndi.binary_erosion(truth, iterations=2)] = 2
    return strokes


@pytest.fixture(scope="module")
def coins() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coins image, its truth (the bundled COCO annotations) and strokes on 3 coins + background."""
    return coins_strokes()


@pytest.fixture(scope="module")
def coins_classifier(coins) -> cl.PixelClassifier:
    image, _, strokes = coins
    return train_classifier(image, strokes, n_estimators=30)


# --------------------------------------------------------------------------- features


def test_features_are_skimage_with_sigmas_in_physical_units() -> None:
    image = data.camera()[::8, ::8]
    settings = FeatureSettings(sigma_min=1.0, sigma_max=8.0)
    ours = pixel_features(image, settings, spacing=0.5)
    ref = multiscale_basic_features(image, sigma_min=2.0, sigma_max=16.0, num_sigma=4)
    np.testing.assert_array_equal(ours, ref)
    assert ours.shape[-1] == settings.n_features(1, 2) == 16


def test_anisotropic_features_match_skimage_per_axis() -> None:
    image = data.camera()[::8, ::8]
    settings = FeatureSettings(sigma_min=1.0, sigma_max=4.0, edges=False)
    # the per-axis path run with square pixels is skimage's recipe
    forced = cl._features_per_axis(image, settings, np.repeat(settings.sigmas[:, None], 2, 1), 1)
    np.testing.assert_allclose(forced, multiscale_basic_features(image, edges=False, sigma_min=1, sigma_max=4),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    stretched = pixel_features(image, settings, spacing=(2.0, 1.0))
    assert stretched.shape == (*image.shape, settings.n_features())
    assert not np.allclose(stretched, pixel_features(image, settings))


def test_rgb_features_per_channel() -> None:
    rgb = data.astronaut()[::16, ::16]
    ours = pixel_features(np.moveaxis(rgb, -1, 0), SMALL, channel_axis=0)
    ref = multiscale_basic_features(rgb, sigma_min=1, sigma_max=8, channel_axis=-1)
    np.testing.assert_array_equal(ours, ref)


# --------------------------------------------------------------------------- quality


def test_held_out_texture_task_iou() -> None:
    image, truth = texture_task(1)
    settings = FeatureSettings(sigma_min=0.5, sigma_max=4)
    clf = train_classifier(image, texture_strokes(truth), settings, n_estimators=30)
    for seed in (2, 3):  # other blobs, orientations, phases and noise
        held_out, held_truth = texture_task(seed)
        assert iou(predict_pixels(clf, held_out) == 2, held_truth) >= 0.9
    # intensity alone cannot do it: the task really needs texture
    flat = train_classifier(image, texture_strokes(truth), FeatureSettings(edges=False, texture=False,
                            sigma_min=0.5, sigma_max=0.5), n_estimators=30)  # fmt: skip
    assert iou(predict_pixels(flat, held_out) == 2, held_truth) < 0.6


def test_coins_strokes_on_three_coins_iou(coins, coins_classifier) -> None:
    image, truth, strokes = coins
    assert np.unique(ndi.label(strokes == 2)[0]).size - 1 == 3
    assert iou(predict_pixels(coins_classifier, image) == 2, truth) >= 0.9


def test_train_from_coco_masks_of_several_images(coins) -> None:
    image, truth, _ = coins
    labels, names = coco_training_labels(COINS_JSON, by="object")
    assert names == {1: "background", 2: "object"}
    left, right = image[:, :192], image[:, 192:]
    clf = train_classifier([left, right[:150]], [labels[0][:, :192], labels[0][:150, 192:]],
                           SMALL, n_estimators=20, class_names=names)  # fmt: skip
    assert clf.class_names[2] == "object"
    assert iou(predict_pixels(clf, right[150:]) == 2, truth[150:, 192:]) >= 0.9


def test_coco_labels_by_category_are_the_masks() -> None:
    from napari_coco_masks.coco import load_coco
    from napari_coco_masks.coco.raster import annotation_mask

    labels, names = coco_training_labels(COINS_JSON)
    assert names == {1: "background", 2: "small coin", 3: "large coin"}
    dataset = load_coco(COINS_JSON)
    for ann in dataset.image_annotations(0):
        mask = annotation_mask(ann, 303, 384)
        assert np.all(labels[0][mask] == ann.category_position + 2)
    assert np.count_nonzero(labels[0] == 1) == 303 * 384 - np.count_nonzero(labels[0] > 1)


# --------------------------------------------------------------------------- prediction


def test_prediction_equals_bare_predict_segmenter(coins, coins_classifier) -> None:
    image = coins[0]
    features = multiscale_basic_features(image)
    ref = predict_segmenter(features, coins_classifier.forest)
    labels, proba = predict_pixels(coins_classifier, image, probabilities=True)
    np.testing.assert_array_equal(labels, ref)
    assert labels.dtype == np.uint8
    assert proba.shape == (*image.shape, 2)
    np.testing.assert_allclose(proba.sum(-1), 1, atol=1e-5)
    np.testing.assert_array_equal(coins_classifier.classes[proba.argmax(-1)], labels)


def test_big_frames_in_bands_give_exactly_the_whole_frame(
    monkeypatch, coins, coins_classifier
) -> None:
    image, _, strokes = coins
    whole, whole_p = predict_pixels(coins_classifier, image, probabilities=True)
    whole_fit = train_classifier(image, strokes, SMALL, n_estimators=5)
    monkeypatch.setattr(cl, "MAX_FEATURE_PIXELS", 40_000)  # bands of 104 rows + a 67-row halo
    assert len(list(cl._feature_bands(image, coins_classifier.settings, None, None))) == 3
    banded, banded_p = predict_pixels(coins_classifier, image, probabilities=True)
    np.testing.assert_array_equal(banded, whole)
    np.testing.assert_array_equal(banded_p, whole_p)
    banded_fit = train_classifier(image, strokes, SMALL, n_estimators=5)
    np.testing.assert_array_equal(
        predict_pixels(banded_fit, image), predict_pixels(whole_fit, image)
    )


def test_stack_is_predicted_frame_by_frame(coins_classifier, coins) -> None:
    image = coins[0][:100, :120]
    stack = np.stack([image, image[::-1]], axis=1)  # frames on axis 1
    labels, proba = predict_pixels(coins_classifier, stack, frame_axis=1, probabilities=True)
    assert labels.shape == (100, 2, 120) and proba.shape == (100, 2, 120, 2)
    np.testing.assert_array_equal(labels[:, 1], predict_pixels(coins_classifier, image[::-1]))
    np.testing.assert_array_equal(labels[:, 0], predict_pixels(coins_classifier, image))


def test_iter_predict_validates_first_then_reports_each_frame(coins_classifier, coins) -> None:
    stack = np.stack([coins[0][:60, :70]] * 3)
    with pytest.raises(ValueError, match=r"trained on images of 1 channel\(s\) but the image"):
        cl.iter_predict_pixels(
            coins_classifier, np.stack([stack] * 3, -1), frame_axis=0, channel_axis=-1
        )
    steps = cl.iter_predict_pixels(coins_classifier, stack, frame_axis=0)
    progress = []
    while True:
        try:
            progress.append(next(steps))
        except StopIteration as stop:
            result = stop.value
            break
    assert progress == [(1, 3), (2, 3), (3, 3)]
    np.testing.assert_array_equal(result, predict_pixels(coins_classifier, stack, frame_axis=0))


def test_colour_stack_keeps_its_frame_axis() -> None:
    rgb = data.astronaut()[::16, ::16]
    strokes = np.zeros(rgb.shape[:2], np.uint8)
    strokes[5:10, 5:20] = 1
    strokes[20:25, 10:25] = 2
    clf = train_classifier(rgb, strokes, SMALL, channel_axis=-1, n_estimators=5)
    movie = np.stack([rgb, rgb[:, ::-1]], axis=-1)  # (Y, X, C, T)
    out = predict_pixels(
        clf, np.moveaxis(movie, 2, 0), channel_axis=0, frame_axis=-1
    )  # (C, Y, X, T)
    assert out.shape == (*rgb.shape[:2], 2)
    np.testing.assert_array_equal(out[..., 1], predict_pixels(clf, rgb[:, ::-1], channel_axis=-1))


def test_instances_are_connected_components_or_the_split_hook() -> None:
    semantic = np.array([[1, 2, 2, 1, 3], [1, 1, 1, 2, 3], [2, 2, 1, 2, 1]])
    np.testing.assert_array_equal(
        semantic_to_instances(semantic, 2), measure.label(semantic == 2, connectivity=1)
    )
    np.testing.assert_array_equal(semantic_to_instances(semantic, [2, 3], connectivity=2),
                                  measure.label(np.isin(semantic, [2, 3]), connectivity=2))  # fmt: skip
    seen = []
    out = semantic_to_instances(
        semantic, 3, split=lambda m: seen.append(m.copy()) or m.astype(int) * 7
    )
    assert seen and np.array_equal(seen[0], semantic == 3) and out.max() == 7


def test_instances_split_hook_takes_the_watershed_split() -> None:
    from functools import partial

    from napari_coco_masks.segment.watershed import split_touching

    yy, xx = np.mgrid[:40, :60]
    semantic = np.ones((40, 60), np.uint8)
    semantic[(np.hypot(yy - 20, xx - 18) < 12) | (np.hypot(yy - 20, xx - 40) < 12)] = 2
    assert semantic_to_instances(semantic, 2).max() == 1  # touching: one connected component
    split = semantic_to_instances(semantic, 2, split=partial(split_touching, min_distance=8))
    np.testing.assert_array_equal(split, split_touching(semantic == 2, min_distance=8))
    assert split.max() == 2


# --------------------------------------------------------------------------- bad input


def test_too_few_pixels_says_how_many_more_per_class() -> None:
    image = np.arange(400, dtype=np.uint8).reshape(20, 20)
    strokes = np.zeros((20, 20), np.uint8)
    strokes[0, :12] = 1
    strokes[5, :5] = 2
    with pytest.raises(
        ValueError, match=r"class 1: 12 labelled, 8 more, class 2: 5 labelled, 15 more"
    ):
        train_classifier(image, strokes, SMALL)
    strokes[strokes == 2] = 1
    with pytest.raises(
        ValueError, match="only class 1 is labelled: paint at least 20 pixels of at least 2"
    ):
        train_classifier(image, strokes, SMALL)
    with pytest.raises(ValueError, match="no pixel is labelled"):
        train_classifier(image, np.zeros_like(strokes), SMALL)


def test_classifier_is_refused_on_other_images_or_settings() -> None:
    rgb = data.astronaut()[::8, ::8]
    strokes = np.zeros(rgb.shape[:2], np.uint8)
    strokes[5:10, 5:20] = 1
    strokes[40:45, 20:40] = 2
    clf = train_classifier(rgb, strokes, SMALL, channel_axis=-1, n_estimators=5)
    with pytest.raises(
        ValueError, match=r"trained on images of 3 channel\(s\) but the image .* has 1"
    ):
        predict_pixels(clf, rgb[..., 0])
    with pytest.raises(
        ValueError, match=r"trained on other feature settings: sigma_max=16.0 \(trained with 8"
    ):
        predict_pixels(clf, rgb, channel_axis=-1, settings=FeatureSettings(sigma_min=1))
    with pytest.raises(ValueError, match="trained on uint8 images but the image is uint16"):
        predict_pixels(clf, rgb.astype(np.uint16), channel_axis=-1)
    with pytest.raises(
        ValueError, match=r"`labels\[0\]` \(shape \(3, 3\)\) must have the spatial shape"
    ):
        train_classifier(rgb, np.ones((3, 3), int), channel_axis=-1)


# --------------------------------------------------------------------------- files


def test_save_load_round_trip_keeps_settings_and_versions(
    tmp_path, coins, coins_classifier
) -> None:
    import sklearn

    image = coins[0][:80, :80]
    path = save_classifier(coins_classifier, tmp_path / "coins.skops")
    loaded = load_classifier(path)
    assert loaded.settings == coins_classifier.settings and loaded.dtype == "uint8"
    assert loaded.versions["scikit-learn"] == sklearn.__version__
    assert "napari-coco-masks" in loaded.versions
    np.testing.assert_array_equal(
        predict_pixels(loaded, image), predict_pixels(coins_classifier, image)
    )
    assert not list(tmp_path.glob(".*tmp"))


def test_load_refuses_foreign_files_and_warns_on_versions(tmp_path, coins_classifier) -> None:
    other = tmp_path / "other.skops"
    sio.dump({"weights": [1, 2]}, other)
    with pytest.raises(ValueError, match="not a napari-coco-masks pixel classifier"):
        load_classifier(other)
    smuggled = tmp_path / "smuggled.skops"
    sio.dump({"format": cl.FORMAT[0], "forest": FunctionTransformer(func=os.getcwd)}, smuggled)
    with pytest.raises(
        ValueError, match=r"refusing to load types a pixel classifier does not hold: \['posix"
    ):
        load_classifier(smuggled)
    sio.dump({"format": cl.FORMAT[0], "format_version": 1}, smuggled)
    with pytest.raises(ValueError, match=r"lacks 'forest', 'settings'"):
        load_classifier(smuggled)
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a skops classifier file"):
        load_classifier(junk)
    path = save_classifier(coins_classifier, tmp_path / "c.skops")
    payload = sio.loads(path.read_bytes(), trusted=sio.get_untrusted_types(data=path.read_bytes()))
    payload["versions"]["scikit-learn"] = "0.1"
    sio.dump(payload, tmp_path / "old.skops")
    with pytest.warns(UserWarning, match="trained with scikit-learn 0.1, running"):
        load_classifier(tmp_path / "old.skops")


def test_the_new_segment_modules_import_no_napari_or_qt() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from napari_coco_masks.segment import classifier, clusters, cutout, edges, onnx_model\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'PyQt6', 'vispy')]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(cl, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0
