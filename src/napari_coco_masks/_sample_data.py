"""Sample data: scikit-image's coins photo with a COCO instances file of its coins."""

from __future__ import annotations

from pathlib import Path

from napari.types import LayerDataTuple

COINS_JSON = Path(__file__).parent / "data" / "coins.json"


def coins_sample() -> list[LayerDataTuple]:
    """Open the bundled coins photo and its COCO annotations as Image, Labels and Shapes layers."""
    from ._reader import read_coco

    return read_coco(COINS_JSON)
