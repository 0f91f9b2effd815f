"""Fixtures of the recipe tests: a folder of real and broken images, one small dask client."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_coco_masks.demo import DATA

JPGS = sorted((Path(__file__).parents[1] / "data" / "coco2017-4img").rglob("*.jpg"))


@pytest.fixture(scope="module")
def client():
    """One in-process worker with one thread (cheap on a shared 2-core machine), closed after."""
    from distributed import Client

    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as c:
        yield c


def make_volume(path: Path) -> Path:
    """A 3D TIFF (12, 40, 40) with two blobs."""
    rng = np.random.default_rng(0)
    volume = np.full((12, 40, 40), 20, np.uint8)
    volume[2:7, 5:15, 5:15] = 200
    volume[4:10, 20:34, 18:30] = 200
    volume += rng.integers(0, 10, volume.shape, dtype=np.uint8)
    tifffile.imwrite(path, volume)
    return path


def make_ome(path: Path, size: float = 0.5, unit: str = "µm") -> Path:
    """The coins as a 2D OME-TIFF with a pixel size."""
    import imageio.v3 as iio

    tifffile.imwrite(path, iio.imread(DATA / "coins.png"), ome=True, metadata={
        "axes": "YX", "PhysicalSizeX": size, "PhysicalSizeY": size,
        "PhysicalSizeXUnit": unit, "PhysicalSizeYUnit": unit})  # fmt: skip
    return path


@pytest.fixture
def ome_maker():
    """:func:`make_ome`, for tests that need an OME-TIFF of their own pixel size."""
    return make_ome


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """Good images (PNG, two JPEGs, a 3D TIFF, an OME-TIFF) and broken ones, in one folder."""
    folder = tmp_path / "images"
    folder.mkdir()
    good = {"coins": folder / "coins.png"}
    shutil.copyfile(DATA / "coins.png", good["coins"])
    for k, jpg in enumerate(JPGS[:2]):
        good[f"jpg{k}"] = folder / jpg.name
        shutil.copyfile(jpg, good[f"jpg{k}"])
    good["volume"] = make_volume(folder / "volume.tif")
    good["ome"] = make_ome(folder / "coins.ome.tif")
    return good


@pytest.fixture
def broken(tmp_path: Path) -> dict[str, Path]:
    """A truncated JPEG, bytes that are no image, a 4D TIFF."""
    folder = tmp_path / "broken"
    folder.mkdir()
    data = JPGS[0].read_bytes()
    paths = {"truncated": folder / "truncated.jpg", "garbage": folder / "garbage.png",
             "4d": folder / "four_d.tif"}  # fmt: skip
    paths["truncated"].write_bytes(data[: len(data) // 3])
    paths["garbage"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    tifffile.imwrite(paths["4d"], np.zeros((2, 3, 20, 20), np.uint8), photometric="minisblack")
    return paths
