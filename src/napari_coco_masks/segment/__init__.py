"""Segmentation and measurement on numpy and dask arrays. No napari or Qt import lives here."""

__all__: list[str] = []
