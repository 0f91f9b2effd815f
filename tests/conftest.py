"""Shared test fixtures. napari's pytest plugin provides ``make_napari_viewer``."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """The folder of real COCO files copied from ../shared/data/coco (see each SOURCE.txt)."""
    return DATA


