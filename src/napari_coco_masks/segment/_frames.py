"""Frame by frame: the one loop over the frames of a series that every segment function uses.

:func:`map_frames` yields each frame's result (a GUI reports progress per frame),
:class:`UniqueIds` keeps label values unique over the frames, :func:`stack_frames` assembles
the frames into one array, :func:`drain` runs a step generator to its end. Frames are read one
at a time (dask frames are loaded only when their turn comes). No napari or Qt import lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

__all__ = ["UniqueIds", "drain", "frame_of", "map_frames", "stack_frames"]

T = TypeVar("T")
R = TypeVar("R")

#: What :func:`stack_frames` yields after each frame: ``(frames done, number of frames)``.
Progress = Generator[tuple[int, int], None, np.ndarray]


def frame_of(array: Any, frame_axis: int | None, index: int) -> Any:
    """Frame ``index`` of ``array`` along ``frame_axis`` (the array itself when None)."""
    if frame_axis is None or array is None:
        return array
    return array[(slice(None),) * frame_axis + (index,)]


def map_frames(
    n_frames: int, segment: Callable[[int], T], frames: Sequence[int] | None = None
) -> Iterator[tuple[int, T]]:
    """Yield ``(index, segment(index))`` for every frame, or only for ``frames``.

    Parameters
    ----------
    n_frames : int
        Number of frames of the series.
    segment : callable
        Computes one frame's result from its index.
    frames : sequence of int, optional
        The frames to compute (negative indices count from the end); default: all, in order.

    Raises
    ------
    ValueError
        If an index of ``frames`` is out of range (raised when its turn comes).

    Examples
    --------
    >>> list(map_frames(3, lambda i: i * 10, frames=[2, -3]))
    [(2, 20), (0, 0)]
    """
    for index in range(n_frames) if frames is None else frames:
        index = int(index)
        if not -n_frames <= index < n_frames:
            raise ValueError(f"frame {index} is out of range for {n_frames} frames")
        yield index % n_frames, segment(index % n_frames)


class UniqueIds:
    """Offset each frame's labels so that no value repeats over a series.

    Frame ``t`` continues from the largest label of the frames before it (0 stays 0).

    Examples
    --------
    >>> ids = UniqueIds()
    >>> [ids(np.array([0, 1, 2])).tolist(), ids(np.array([1, 0])).tolist()]
    [[0, 1, 2], [3, 0]]
    """

    def __init__(self) -> None:
        self.top = 0

    def __call__(self, labels: np.ndarray) -> np.ndarray:
        """Offset ``labels`` in place (and return them)."""
        if self.top:
            labels[labels > 0] += self.top
        self.top = max(self.top, int(labels.max(initial=0)))
        return labels


def stack_frames(
    results: Iterable[tuple[int, np.ndarray]], shape: tuple[int, ...], frame_axis: int | None
) -> Progress:
    """Write each frame's labels into one int32 array of ``shape``, yielding progress.

    With ``frame_axis`` None, ``results`` holds one ``(0, labels)`` item: the whole array.
    Yields ``(frames done, number of frames)`` after each frame; returns the array.

    Examples
    --------
    >>> steps = stack_frames([(0, np.ones(2)), (1, np.zeros(2))], (2, 2), 0)
    >>> drain(steps).tolist()
    [[1, 1], [0, 0]]
    """
    if frame_axis is None:
        (_, labels), = results
        yield (1, 1)
        return np.asarray(labels, dtype=np.int32)
    n_frames = shape[frame_axis]
    out = np.zeros(shape, dtype=np.int32)
    for done, (index, labels) in enumerate(results, start=1):
        out[(slice(None),) * frame_axis + (index,)] = labels
        yield (done, n_frames)
    return out


def drain(steps: Generator[Any, None, R]) -> R:
    """Run a step generator to its end in the calling thread and return its result.

    Examples
    --------
    >>> def steps():
    ...     yield 1
    ...     return "done"
    >>> drain(steps())
    'done'
    """
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
