"""Runs of a mask along its last axis, and the runs connected to some seeds.

A mask is scanned line by line into runs of True (:class:`Runs`); runs on neighbouring lines
that touch are joined into components (a vectorised union-find for small run graphs, SciPy's
sparse-graph pass for large ones). Cost ~ window size, fast for compact regions. Used by the
window flood of :mod:`._window_flood`. No napari or Qt import lives here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_SMALL_GRAPH = 4000  # runs up to which components are found without SciPy's graphs


@dataclass(frozen=True)
class Runs:
    """Runs of True along the last axis of a mask: line (ravelled leading index), [start, stop)."""

    line: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    shape: tuple[int, ...]

    @classmethod
    def of(cls, mask: np.ndarray) -> Runs:
        """Scan ``mask`` line by line (O(mask.size) vectorised work)."""
        width = mask.shape[-1]
        lines = mask.reshape(-1, width)
        edges = np.empty((lines.shape[0], width + 1), dtype=bool)
        edges[:, 0] = lines[:, 0]
        edges[:, width] = lines[:, -1]
        np.not_equal(lines[:, 1:], lines[:, :-1], out=edges[:, 1:width])
        flips = np.flatnonzero(edges)
        line = flips[0::2] // (width + 1)
        offset = line * (width + 1)
        return cls(line, flips[0::2] - offset, flips[1::2] - offset, mask.shape)

    def neighbour_pairs(self, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of runs on neighbouring lines that touch under ``connectivity``."""
        lead, width = self.shape[:-1], self.shape[-1]
        if not lead or self.line.size == 0:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        pitch = width + 3
        key_start = self.line * pitch + self.start
        key_stop = self.line * pitch + self.stop
        coords = np.unravel_index(self.line, lead) if len(lead) > 1 else None
        firsts, seconds = [], []
        for step in _positive_steps(len(lead), connectivity):
            if coords is None:  # 2D: the next line; runs are sorted by line
                idx = np.arange(np.searchsorted(self.line, lead[0] - 1, side="left"))
                other = self.line[idx] + 1
            else:
                target = [c + d for c, d in zip(coords, step, strict=True)]
                ok = np.ones(self.line.size, dtype=bool)
                for t, n in zip(target, lead, strict=True):
                    ok &= (t >= 0) & (t < n)
                idx = np.flatnonzero(ok)
                other = np.ravel_multi_index([t[idx] for t in target], lead)
            touch = int(np.count_nonzero(step) + 1 <= connectivity)
            lo = np.searchsorted(key_stop, other * pitch + self.start[idx] - touch, side="right")
            hi = np.searchsorted(key_start, other * pitch + self.stop[idx] + touch, side="left")
            count = np.maximum(hi - lo, 0)
            total = int(count.sum())
            if total == 0:
                continue
            firsts.append(np.repeat(idx, count))
            begin = np.repeat(lo - (np.cumsum(count) - count), count)
            seconds.append(begin + np.arange(total))
        if not firsts:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        return np.concatenate(firsts), np.concatenate(seconds)

    def find(self, points: np.ndarray) -> np.ndarray:
        """Index of the run holding each point (local coordinates), -1 where none does."""
        lead, width = self.shape[:-1], self.shape[-1]
        if self.line.size == 0:
            return np.full(len(points), -1)
        line = np.ravel_multi_index(points[:, :-1].T, lead) if lead else np.zeros(len(points), int)
        col = points[:, -1]
        key = line * (width + 3) + col
        k = np.searchsorted(self.line * (width + 3) + self.start, key, side="right") - 1
        hit = (k >= 0) & (self.line[np.maximum(k, 0)] == line) & (self.stop[np.maximum(k, 0)] > col)
        return np.where(hit, k, -1)

    def touched(self, selected: np.ndarray) -> tuple[list[bool], list[bool]]:
        """Per axis: do the selected runs reach the mask's first / last index?"""
        lead = self.shape[:-1]
        coords = list(np.unravel_index(self.line[selected], lead)) if lead else []
        lows = [c.size > 0 and c.min() == 0 for c in coords]
        highs = [c.size > 0 and c.max() == n - 1 for c, n in zip(coords, lead, strict=True)]
        starts, stops = self.start[selected], self.stop[selected]
        lows.append(starts.size > 0 and starts.min() == 0)
        highs.append(stops.size > 0 and stops.max() == self.shape[-1])
        return [bool(x) for x in lows], [bool(x) for x in highs]

    def paint_tight(self, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The selected runs (at least one) painted into their bounding box: (box start, mask)."""
        line, start, stop = self.line[selected], self.start[selected], self.stop[selected]
        lead = self.shape[:-1]
        coords = list(np.unravel_index(line, lead)) if lead else []
        lo = [int(c.min()) for c in coords] + [int(start.min())]
        hi = [int(c.max()) + 1 for c in coords] + [int(stop.max())]
        box = tuple(b - a for a, b in zip(lo, hi, strict=True))
        if lead:
            inner = np.ravel_multi_index(
                [c - a for c, a in zip(coords, lo, strict=False)], box[:-1]
            )
        else:
            inner = np.zeros(line.size, dtype=np.intp)
        tight = Runs(inner, start - lo[-1], stop - lo[-1], box)
        return np.asarray(lo), tight.paint(np.ones(line.size, dtype=bool))

    def paint(self, selected: np.ndarray) -> np.ndarray:
        """Boolean mask of the selected runs (one ``np.repeat`` over gaps and runs)."""
        width, size = self.shape[-1], int(np.prod(self.shape))
        if self.line.size == 0:
            return np.zeros(self.shape, dtype=bool)
        begin = self.line * width + self.start
        end = self.line * width + self.stop
        lengths = np.empty(2 * begin.size + 1, dtype=np.intp)
        lengths[0] = begin[0]
        lengths[2:-1:2] = begin[1:] - end[:-1]
        lengths[1::2] = end - begin
        lengths[-1] = size - end[-1]
        values = np.zeros(lengths.size, dtype=bool)
        values[1::2] = selected
        return np.repeat(values, lengths).reshape(self.shape)


def _positive_steps(ndim: int, connectivity: int) -> list[tuple[int, ...]]:
    """Offsets between neighbouring lines (one sign of each pair) allowed by ``connectivity``."""
    steps = []
    for step in itertools.product((-1, 0, 1), repeat=ndim):
        nonzero = [d for d in step if d]
        if nonzero and nonzero[0] > 0 and len(nonzero) <= connectivity:
            steps.append(step)
    return steps


def connected_runs(runs: Runs, seeds: np.ndarray, connectivity: int) -> np.ndarray:
    """Boolean selection of the runs connected to the runs holding ``seeds``."""
    selected = np.zeros(runs.line.size, dtype=bool)
    found = runs.find(seeds)
    found = np.unique(found[found >= 0])
    if found.size == 0:
        return selected
    first, second = runs.neighbour_pairs(connectivity)
    n = runs.line.size
    if n <= _SMALL_GRAPH:
        component = roots(n, first, second)
        keep = np.zeros(n, dtype=bool)
    else:
        graph = coo_matrix((np.ones(first.size, dtype=np.int8), (first, second)), shape=(n, n))
        count, component = connected_components(graph, directed=False)
        keep = np.zeros(count, dtype=bool)
    keep[component[found]] = True
    return keep[component]


def roots(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Connected components of ``n`` nodes joined by the edges ``first[k]``-``second[k]``.

    Returns each node's root (the smallest node of its component): vectorised hooking of
    roots onto smaller roots, then pointer jumping until every node points at its root. For
    small graphs this is several times quicker than building a sparse matrix for SciPy.
    """
    parent = np.arange(n)
    while first.size:
        a, b = parent[first], parent[second]
        differ = a != b
        if not differ.any():
            break
        first, second, a, b = first[differ], second[differ], a[differ], b[differ]
        parent[np.maximum(a, b)] = np.minimum(a, b)
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return parent
