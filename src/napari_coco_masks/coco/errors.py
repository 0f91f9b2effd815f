"""The one error type of the COCO core."""

from __future__ import annotations

from os import PathLike


class CocoError(ValueError):
    """A COCO file or dataset that cannot be read or written as asked.

    The message names the file, the JSON path of the offending value
    (``annotations[17].segmentation``) and what to do about it.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, what to do.
    path : str or PathLike, optional
        The file concerned.
    where : str, optional
        JSON path inside the file, e.g. ``annotations[17].segmentation``.
    """

    def __init__(
        self, message: str, *, path: str | PathLike | None = None, where: str | None = None
    ) -> None:
        self.path = None if path is None else str(path)
        self.where = where
        parts = [p for p in (self.path, where) if p]
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ImageReadError(CocoError):
    """An image file that cannot be read (corrupt, truncated, unknown format or too large).

    The annotations of its dataset still open: callers show a blank plane and warn.
    """
