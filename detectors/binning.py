"""Fast assignment of values to the bins of fixed, sorted edges (a lookup-table ``searchsorted``).

:class:`BinIndex` gives exactly ``np.searchsorted(edges, x, side="right")`` several times
faster on large arrays: each value is mapped to a cell of a fine uniform grid over the inner
edges ``[edges[1], edges[-2]]`` (values beyond fall in its first or last cell), and a
precomputed table gives the bin of every cell that cannot contain an edge. Values in the few
cells near an edge are resolved by exact comparisons with the edges of that neighbourhood.
When the grid would not pay (few edges, very skewed or discrete edges, small inputs), plain
``searchsorted`` is used; the result is the same either way.

Why it is exact
---------------
The cell of a value is ``f(x) = floor(min(max((x - lo) * scale + 2, 0), top))`` computed
with the same IEEE float64 operations for values and for edges. Every step is monotone
non-decreasing (rounding, multiplication by a positive constant, ``min``/``max`` and
``floor`` all are), so ``e <= x`` implies ``f(e) <= f(x)`` and ``f(e) > f(x)`` implies
``e > x``. Hence, for a value in cell ``k``, every edge whose cell is below ``k - 1`` is
``<= x`` and every edge whose cell is above ``k + 1`` is ``> x``: the bin is the number of
the former plus the number of ``<= x`` among the edges in cells ``k - 1 .. k + 1`` (none for
an unambiguous cell). Checking the neighbouring cells too is one cell wider than the
argument needs, a margin against any surprise in float rounding. No property of the
distance between a value and an edge is used, so ties, ``-0.0``, subnormals and huge
magnitudes are exact. ``nan`` and ``+/-inf`` are left to ``searchsorted`` itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Below this many values, plain ``searchsorted`` is as fast as building the table.
MIN_VALUES = 4096
#: Below this many edges, plain ``searchsorted`` is already fast.
MIN_EDGES = 8
#: Grid cells per narrowest bin (more cells: fewer values near an edge).
CELLS_PER_BIN = 32
MAX_CELLS = 1 << 17
#: When a neighbourhood of three cells can hold more edges than this, plain ``searchsorted`` is used.
MAX_WINDOW_EDGES = 8
#: Above this expected share of values near an edge, plain ``searchsorted`` is used.
MAX_AMBIGUOUS_SHARE = 0.35
#: Values per chunk in :meth:`BinIndex.counts` (temporaries stay in cache).
CHUNK_VALUES = 65_536
_GUARD = 5  # cells beyond the last edge's cell before the top (overflow) cell


@dataclass(frozen=True, slots=True, eq=False)
class BinIndex:
    """Lookup table for ``np.searchsorted(edges, x, side="right")`` on fixed edges.

    Build with :meth:`from_edges`; :meth:`assign` maps values to bin indices ``0 .. len(edges)``.

    Examples
    --------
    >>> index = BinIndex.from_edges(np.linspace(0.0, 1.0, 11))
    >>> x = np.array([-1.0, 0.0, 0.05, 0.1, 0.95, 1.0, 2.0, np.nan])
    >>> index.assign(x).tolist() == np.searchsorted(index.edges, x, side="right").tolist()
    True
    """

    edges: np.ndarray
    lo: float = 0.0
    scale: float = 0.0
    top: float = 0.0
    table: np.ndarray | None = None  # bin per cell; ~first_candidate for ambiguous cells
    padded: np.ndarray | None = None  # edges followed by +inf, for the neighbourhood scan
    window: int = 0  # most edges in any ambiguous neighbourhood

    @classmethod
    def from_edges(cls, edges: Sequence[float] | np.ndarray) -> BinIndex:
        """Index sorted (strictly increasing) ``edges``; falls back to plain search when a grid cannot help."""
        e = np.ascontiguousarray(edges, dtype=np.float64)
        if e.ndim != 1:
            raise ValueError(f"edges must be one-dimensional, got shape {e.shape!r}")
        plain = cls(edges=e)
        if e.size < MIN_EDGES:
            return plain
        # The grid spans the inner edges: the outermost bins are often very wide (the training
        # extremes) and would make every cell coarse; values beyond the grid fall in its
        # first or last cell, which are ambiguous and resolved by the neighbourhood scan.
        lo, hi = float(e[1]), float(e[-2])
        with np.errstate(over="ignore", invalid="ignore"):
            span = hi - lo
            widths = np.diff(e[1:-1])
        if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(span) and span > 0):
            return plain
        if not np.all(widths > 0):
            return plain
        ratio = span / float(widths.min())
        cells = (
            MAX_CELLS if not math.isfinite(ratio) else int(min(max(ratio * CELLS_PER_BIN, 64.0), MAX_CELLS))
        )
        scale = cells / span
        if not math.isfinite(scale) or scale <= 0.0:
            return plain
        top = float(cells + 2 + _GUARD)
        edge_cells = _cells(e, lo, scale, top)
        n_cells = int(top) + 1
        # lt[j] = number of edges whose cell is < j - 1, for j = 0 .. n_cells + 2
        lt = np.searchsorted(edge_cells, np.arange(-1, n_cells + 2), side="left")
        base = lt[:n_cells]  # edges surely <= x for a value in cell k: cells < k - 1
        in_window = lt[3 : n_cells + 3] - base  # edges in cells k - 1 .. k + 1
        ambiguous = in_window > 0
        # Share of values expected in ambiguous cells when bins hold equal shares (quantile
        # bins): above MAX_AMBIGUOUS_SHARE the grid does not pay (very skewed or discrete data).
        inner = edge_cells[1:-1]
        amb_cells = np.cumsum(ambiguous)
        per_bin = np.maximum(np.diff(inner), 1)
        amb_per_bin = amb_cells[inner[1:]] - amb_cells[inner[:-1]]
        if float(np.mean(np.minimum(amb_per_bin / per_bin, 1.0))) > MAX_AMBIGUOUS_SHARE:
            return plain
        dtype = np.int16 if e.size < np.iinfo(np.int16).max else np.int32
        table = np.where(ambiguous, ~base, base).astype(dtype)
        window = int(in_window.max())
        if window > MAX_WINDOW_EDGES:
            return plain
        padded = np.concatenate([e, np.full(window + 1, np.inf)])
        return cls(edges=e, lo=lo, scale=scale, top=top, table=table, padded=padded, window=window)

    def assign(self, values: np.ndarray) -> np.ndarray:
        """Bin index of each value: exactly ``np.searchsorted(self.edges, values, side="right")``."""
        x = np.asarray(values, dtype=np.float64)
        if self.table is None or self.padded is None or x.size < MIN_VALUES or x.ndim != 1:
            return np.searchsorted(self.edges, x, side="right")
        cells = _cells(x, self.lo, self.scale, self.top)
        bins = self.table[cells].astype(np.intp)
        ambiguous = np.flatnonzero(bins < 0)
        if ambiguous.size:
            xa = x[ambiguous]
            cur = ~bins[ambiguous]
            for _ in range(self.window):
                cur += xa >= self.padded[cur]
            odd = ~np.isfinite(xa)  # nan and +/-inf: leave them to searchsorted's own order
            if odd.any():
                cur[odd] = np.searchsorted(self.edges, xa[odd], side="right")
            bins[ambiguous] = cur
        return np.asarray(bins, dtype=np.intp)

    def counts(self, values: np.ndarray) -> np.ndarray:
        """Number of values per bin (``len(edges) + 1`` bins): ``bincount`` of :meth:`assign`.

        Counts values per grid cell first and maps the cell counts through the table, so only
        the values in cells next to an edge are looked at one by one.
        """
        x = np.asarray(values, dtype=np.float64)
        n_bins = self.edges.size + 1
        if self.table is None or self.padded is None or x.size < MIN_VALUES or x.ndim != 1:
            return np.bincount(self.assign(x), minlength=n_bins).astype(np.int64)
        table, padded = self.table, self.padded
        sure = table >= 0
        per_cell = np.zeros(table.size, dtype=np.int64)
        near_edge = np.zeros(n_bins, dtype=np.int64)
        # Chunks keep the temporaries in cache (about twice as fast as whole-array passes).
        chunk = max(CHUNK_VALUES, 4 * table.size)
        buffer = np.empty(min(chunk, x.size), dtype=np.float64)
        for start in range(0, x.size, chunk):
            part = x[start : start + chunk]
            cells = _cells(part, self.lo, self.scale, self.top, out=buffer[: part.size])
            per_cell += np.bincount(cells, minlength=table.size)
            ambiguous = ~sure[cells]
            if ambiguous.any():
                xa = part[ambiguous]
                cur = ~table[cells[ambiguous]].astype(np.intp)
                for _ in range(self.window):
                    cur += xa >= padded[cur]
                odd = ~np.isfinite(xa)
                if odd.any():
                    cur[odd] = np.searchsorted(self.edges, xa[odd], side="right")
                near_edge += np.bincount(cur, minlength=n_bins)
        out = np.bincount(table[sure], weights=per_cell[sure], minlength=n_bins)
        return np.rint(out).astype(np.int64) + near_edge  # exact: float64 counts are integers below 2**53


def _cells(x: np.ndarray, lo: float, scale: float, top: float, *, out: np.ndarray | None = None) -> np.ndarray:
    """The grid cell of each value: a monotone non-decreasing map to ``0 .. top``."""
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.subtract(x, lo, out=out)
        np.multiply(t, scale, out=t)
        np.add(t, 2.0, out=t)
        np.fmin(t, top, out=t)  # nan -> top
        np.fmax(t, 0.0, out=t)
    return np.asarray(t.astype(np.intp), dtype=np.intp)  # truncation is floor on non-negative values


def bin_indices(edges: Sequence[float] | np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(edges, values, side="right")``, computed with a :class:`BinIndex` when faster.

    Examples
    --------
    >>> bin_indices([0.0, 1.0], np.array([-1.0, 0.0, 0.5, 1.0])).tolist()
    [0, 1, 1, 2]
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size < MIN_VALUES:
        return np.asarray(np.searchsorted(np.asarray(edges, dtype=np.float64), x, side="right"), dtype=np.intp)
    return BinIndex.from_edges(edges).assign(x)
