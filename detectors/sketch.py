"""Window sketches: bounded, mergeable summaries of a batch of rows against a profile's bins.

A :class:`WindowSketch` keeps, per column, counts per profile bin (numeric) or per level
(categorical), missing / mismatched / non-finite counts, moments and extremes; per window a
row-aligned bottom-k sample (keys derived from row numbers, so the sample does not depend
on how rows were chunked), a bottom-k sketch of distinct row hashes for duplicate rates,
and event-time extremes. Memory is O(columns x bins + sample size), independent of rows.

Sketches merge by addition: ``merge(sketch(a), sketch(b))`` equals ``sketch(a ++ b)``
exactly for counts, samples and duplicate sketches, and up to floating-point rounding for
the moments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from detectors.binning import BinIndex
from detectors.values import (
    FactorizedLevels,
    encode_levels,
    factorize_levels,
    fold_row_hashes,
    mix_row_numbers,
    new_row_hashes,
    parse_numeric,
)

SpecKind = Literal["numeric", "categorical"]
MAX_NEW_LEVELS = 100
DUPLICATE_SKETCH_SIZE = 65536


def _float_state(x: float) -> float | str:
    """A float as every JSON encoder keeps it: non-finite values as ``"inf"``, ``"-inf"``, ``"nan"``
    (``json`` would write non-standard ``Infinity`` and orjson ``null``)."""
    return x if math.isfinite(x) else repr(float(x))


def _state_float(v: float | str | None) -> float:
    return math.nan if v is None else float(v)


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSpec:
    """How one column is summarised: numeric with inner bin ``edges``, or categorical with ``levels``."""

    name: str
    kind: SpecKind
    edges: tuple[float, ...] = ()
    levels: tuple[str, ...] = ()
    shift: float = 0.0  # subtracted before accumulating moments (the reference mean), for stability
    _bin_index: BinIndex | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("numeric", "categorical"):
            raise ValueError(f"kind must be 'numeric' or 'categorical', got {self.kind!r}")
        if self.kind == "numeric" and len(self.edges) > 1 and not np.all(np.diff(self.edges) > 0):
            raise ValueError(f"edges of column {self.name!r} must be strictly increasing")

    @property
    def n_bins(self) -> int:
        return len(self.edges) + 1 if self.kind == "numeric" else len(self.levels) + 1

    @property
    def bin_index(self) -> BinIndex:
        """The lookup index of ``edges``, built once per spec (not per chunk)."""
        index = self._bin_index
        if index is None:
            index = BinIndex.from_edges(self.edges)
            object.__setattr__(self, "_bin_index", index)
        return index


@dataclass(slots=True)
class ColumnAccumulator:
    """Running summary of one column. Mutable on purpose: it is the sketch's internal state."""

    spec: ColumnSpec
    counts: np.ndarray
    present: int = 0          # rows in which the field was present (even if null)
    missing: int = 0
    type_mismatch: int = 0
    non_finite: int = 0
    total: float = 0.0        # sum of (x - shift)
    total_sq: float = 0.0     # sum of (x - shift)^2
    minimum: float = float("inf")
    maximum: float = float("-inf")
    new_levels: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, spec: ColumnSpec) -> ColumnAccumulator:
        return cls(spec=spec, counts=np.zeros(spec.n_bins, dtype=np.int64))

    @property
    def n(self) -> int:
        """Number of usable (non-missing, well-typed, finite) values."""
        return int(self.counts.sum())

    def update(self, raw: np.ndarray | FactorizedLevels) -> np.ndarray:
        """Add a column chunk; returns the parsed values (float or level keys) for the sample.

        A categorical chunk may also be given factorized (:func:`~detectors.values.factorize_levels`);
        then the caller already holds the level keys and its ``codes`` are returned instead.
        """
        if self.spec.kind == "numeric":
            if isinstance(raw, FactorizedLevels):
                raw = raw.values()
            self.present += int(raw.size)
            parsed = parse_numeric(raw)
            self.missing += parsed.missing + parsed.type_mismatch + parsed.non_finite
            self.type_mismatch += parsed.type_mismatch
            self.non_finite += parsed.non_finite
            vals = parsed.values
            finite = vals[~np.isnan(vals)] if parsed.missing or parsed.type_mismatch or parsed.non_finite else vals
            if finite.size:
                self.counts += self.spec.bin_index.counts(finite)
                d = finite - self.spec.shift
                with np.errstate(over="ignore", invalid="ignore"):  # huge values: the moments become inf
                    self.total += float(d.sum())
                    self.total_sq += float(np.dot(d, d))
                self.minimum = min(self.minimum, float(finite.min()))
                self.maximum = max(self.maximum, float(finite.max()))
            return vals
        factorized = raw if isinstance(raw, FactorizedLevels) else factorize_levels(raw)
        self.present += factorized.size
        self.missing += factorized.missing
        if factorized.levels.size:
            # Everything below works on the distinct levels of the chunk, not on its rows.
            n_levels = len(self.spec.levels)
            per_level = factorized.counts()
            bins = encode_levels(self.spec.levels, factorized.levels).codes
            np.add.at(self.counts, bins, per_level)
            other = np.flatnonzero(bins == n_levels)
            if other.size:
                pairs = sorted(
                    ((str(factorized.levels[i]), int(per_level[i])) for i in other), key=lambda t: (-t[1], t[0])
                )
                for level, c in pairs:
                    if level in self.new_levels or len(self.new_levels) < MAX_NEW_LEVELS:
                        self.new_levels[level] = self.new_levels.get(level, 0) + c
        return factorized.codes if factorized is raw else factorized.values()

    def merged(self, other: ColumnAccumulator) -> ColumnAccumulator:
        if other.spec != self.spec:
            raise ValueError(f"cannot merge sketches of column {self.spec.name!r} built on different specs")
        new = dict(self.new_levels)
        for k, v in other.new_levels.items():
            if k in new or len(new) < MAX_NEW_LEVELS:
                new[k] = new.get(k, 0) + v
        return ColumnAccumulator(
            spec=self.spec,
            counts=self.counts + other.counts,
            present=self.present + other.present,
            missing=self.missing + other.missing,
            type_mismatch=self.type_mismatch + other.type_mismatch,
            non_finite=self.non_finite + other.non_finite,
            total=self.total + other.total,
            total_sq=self.total_sq + other.total_sq,
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
            new_levels=new,
        )

    @property
    def mean(self) -> float:
        n = self.n
        return self.spec.shift + self.total / n if n else float("nan")

    @property
    def std(self) -> float:
        n = self.n
        if n < 2:
            return float("nan")
        m = self.total / n
        var = max(self.total_sq / n - m * m, 0.0) * n / (n - 1)
        return float(np.sqrt(var))

    def to_state(self) -> dict[str, Any]:
        return {
            "counts": self.counts.tolist(),
            "present": self.present,
            "missing": self.missing,
            "type_mismatch": self.type_mismatch,
            "non_finite": self.non_finite,
            "total": _float_state(self.total),
            "total_sq": _float_state(self.total_sq),
            "minimum": None if not np.isfinite(self.minimum) else self.minimum,
            "maximum": None if not np.isfinite(self.maximum) else self.maximum,
            "new_levels": dict(self.new_levels),
        }

    @classmethod
    def from_state(cls, spec: ColumnSpec, state: Mapping[str, Any]) -> ColumnAccumulator:
        counts = np.asarray(state["counts"], dtype=np.int64)
        if counts.size != spec.n_bins:
            raise ValueError(f"state of column {spec.name!r} has {counts.size} bins, spec has {spec.n_bins}")
        mn, mx = state.get("minimum"), state.get("maximum")
        return cls(
            spec=spec,
            counts=counts,
            present=int(state["present"]),
            missing=int(state["missing"]),
            type_mismatch=int(state["type_mismatch"]),
            non_finite=int(state["non_finite"]),
            total=_state_float(state["total"]),
            total_sq=_state_float(state["total_sq"]),
            minimum=float("inf") if mn is None else float(mn),
            maximum=float("-inf") if mx is None else float(mx),
            new_levels={str(k): int(v) for k, v in state.get("new_levels", {}).items()},
        )


@dataclass(slots=True)
class RowSample:
    """Row-aligned bottom-k sample: the ``size`` rows with the smallest keys."""

    size: int
    keys: np.ndarray
    values: dict[str, np.ndarray]

    @classmethod
    def empty(cls, size: int, names: Sequence[str], kinds: Mapping[str, SpecKind]) -> RowSample:
        return cls(
            size=size,
            keys=np.empty(0, dtype=np.uint64),
            values={n: np.empty(0, dtype=np.float64 if kinds[n] == "numeric" else object) for n in names},
        )

    def offer(self, keys: np.ndarray, values: Mapping[str, np.ndarray]) -> None:
        if self.size <= 0 or keys.size == 0:
            return
        if keys.size > self.size:
            pick = np.argpartition(keys, self.size - 1)[: self.size]
            keys = keys[pick]
            values = {n: v[pick] for n, v in values.items()}
        if self.keys.size >= self.size:
            cutoff = self.keys.max()
            keep_new = keys < cutoff
            if not keep_new.any():
                return
            keys = keys[keep_new]
            values = {n: v[keep_new] for n, v in values.items()}
        all_keys = np.concatenate([self.keys, keys])
        merged = {n: np.concatenate([self.values[n], values[n]]) for n in self.values}
        if all_keys.size > self.size:
            idx = np.argpartition(all_keys, self.size - 1)[: self.size]
            idx.sort()
            all_keys = all_keys[idx]
            merged = {n: v[idx] for n, v in merged.items()}
        self.keys = all_keys
        self.values = merged

    def merged(self, other: RowSample) -> RowSample:
        out = RowSample(size=self.size, keys=self.keys.copy(), values={n: v.copy() for n, v in self.values.items()})
        out.offer(other.keys, other.values)
        return out

    def ordered(self) -> RowSample:
        """The same sample sorted by key (a canonical order for comparisons)."""
        order = np.argsort(self.keys, kind="stable")
        return RowSample(size=self.size, keys=self.keys[order], values={n: v[order] for n, v in self.values.items()})


@dataclass(slots=True)
class DuplicateSketch:
    """Bottom-k sketch of distinct row hashes with their counts (exactly mergeable)."""

    size: int
    hashes: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls, size: int = DUPLICATE_SKETCH_SIZE) -> DuplicateSketch:
        return cls(size=size, hashes=np.empty(0, np.uint64), counts=np.empty(0, np.int64))

    def add(self, hashes: np.ndarray, counts: np.ndarray | None = None) -> None:
        if hashes.size == 0:
            return
        if counts is None:
            counts = np.ones(hashes.size, dtype=np.int64)
        if self.hashes.size >= self.size:
            cutoff = self.hashes[-1]
            keep = hashes <= cutoff
            hashes, counts = hashes[keep], counts[keep]
            if hashes.size == 0:
                return
        # The kept hashes are sorted: sort the new ones, then a stable sort of the two runs is a
        # linear merge (timsort finds the runs); equal neighbours add their counts.
        order = np.argsort(hashes, kind="stable")
        allh = np.concatenate([self.hashes, hashes[order]])
        allc = np.concatenate([self.counts, counts[order]])
        order = np.argsort(allh, kind="stable")
        allh, allc = allh[order], allc[order]
        starts = np.flatnonzero(np.concatenate(([True], allh[1:] != allh[:-1])))
        self.hashes = allh[starts[: self.size]]
        self.counts = np.add.reduceat(allc, starts[: self.size + 1])[: self.size].astype(np.int64, copy=False)

    def merged(self, other: DuplicateSketch) -> DuplicateSketch:
        out = DuplicateSketch(size=self.size, hashes=self.hashes.copy(), counts=self.counts.copy())
        out.add(other.hashes, other.counts)
        return out

    @property
    def duplicate_share(self) -> float:
        """Share of rows that repeat an earlier row (estimated from the sketched hashes)."""
        total = int(self.counts.sum())
        return (total - int(self.hashes.size)) / total if total else 0.0


class WindowSketch:
    """Summary of a window of rows against fixed column specs (see module docstring).

    Parameters
    ----------
    specs:
        The columns to summarise (features, prediction, target) with their bins or levels.
    sample_size:
        Rows kept in the row-aligned sample (exact tests use it; windows up to this size keep every row).
    seed:
        Seed of the row-number hash that orders the sample.
    hash_columns:
        Columns whose values define a duplicate row (default: every spec column).

    Examples
    --------
    >>> spec = ColumnSpec(name="x", kind="numeric", edges=(0.0, 1.0))
    >>> a = WindowSketch([spec]); a.update({"x": np.array([-1.0, 0.5, 2.0])}, first_row=0)
    >>> b = WindowSketch([spec]); b.update({"x": np.array([0.2])}, first_row=3)
    >>> a.merged(b).columns["x"].counts.tolist()
    [1, 2, 1]
    """

    def __init__(
        self,
        specs: Sequence[ColumnSpec],
        *,
        sample_size: int = 5000,
        seed: int = 0,
        hash_columns: Sequence[str] | None = None,
        known_columns: Sequence[str] = (),
    ) -> None:
        if sample_size < 0:
            raise ValueError(f"sample_size must be >= 0, got {sample_size!r}")
        self.specs: tuple[ColumnSpec, ...] = tuple(specs)
        self.sample_size = sample_size
        self.seed = seed
        self.hash_columns = tuple(hash_columns) if hash_columns is not None else tuple(s.name for s in specs)
        self.known_columns = frozenset(known_columns) | {s.name for s in specs}
        self.columns: dict[str, ColumnAccumulator] = {s.name: ColumnAccumulator.empty(s) for s in specs}
        self.rows = 0
        self.malformed_rows = 0
        self.late_rows = 0
        self.first_row: int | None = None
        self.last_row: int | None = None
        self.event_time_min: float | None = None
        self.event_time_max: float | None = None
        self.unexpected_columns: dict[str, int] = {}
        self.sample = RowSample.empty(sample_size, [s.name for s in specs], {s.name: s.kind for s in specs})
        self.duplicates = DuplicateSketch.empty()

    def _empty_like(self) -> WindowSketch:
        return WindowSketch(
            self.specs,
            sample_size=self.sample_size,
            seed=self.seed,
            hash_columns=self.hash_columns,
            known_columns=tuple(self.known_columns),
        )

    def update(
        self,
        columns: Mapping[str, np.ndarray | FactorizedLevels],
        *,
        first_row: int | None = None,
        row_numbers: np.ndarray | None = None,
        n_rows: int | None = None,
        event_times: np.ndarray | None = None,
        extra_columns: Mapping[str, int] | None = None,
    ) -> None:
        """Add a chunk of rows given column-wise.

        ``columns`` maps names to equal-length arrays (categorical ones may be given as
        :class:`~detectors.values.FactorizedLevels`); a spec column that is absent is counted
        as not present (``missing_column`` when absent from the whole window). Row numbers come
        from ``row_numbers`` or consecutive from ``first_row``. ``extra_columns`` counts fields
        that are not in the profile (name -> rows), for ``unexpected_column``.
        """
        lengths = {v.size if isinstance(v, FactorizedLevels) else int(np.asarray(v).shape[0]) for v in columns.values()}
        if n_rows is None:
            if len(lengths) > 1:
                raise ValueError(f"columns have different lengths: {sorted(lengths)}")
            n_rows = lengths.pop() if lengths else 0
        if n_rows == 0:
            return
        if row_numbers is None:
            start = self.rows if first_row is None else first_row
            row_numbers = np.arange(start, start + n_rows, dtype=np.int64)
        # Rows of the sample are chosen first (RowSample.offer would pick the same ones: keys
        # are distinct), and row hashes are folded column by column, so that each column's
        # parsed values can be dropped as soon as it is summarised: memory stays at a few
        # columns whatever the chunk's width.
        keys: np.ndarray | None = None
        rows: np.ndarray | None = None
        if self.sample.size > 0:
            keys = mix_row_numbers(row_numbers, self.seed)
            if keys.size > self.sample.size:
                rows = np.argpartition(keys, self.sample.size - 1)[: self.sample.size]
                keys = keys[rows]
        spec_names = [s.name for s in self.specs]
        hash_order = [c for c in self.hash_columns if c in self.columns]
        hashed = set(hash_order)
        in_spec_order = hash_order == [n for n in spec_names if n in hashed]
        hashes = new_row_hashes(n_rows) if hash_order else None
        held: dict[str, np.ndarray | FactorizedLevels] = {}  # only when hashing needs another order
        picked: dict[str, np.ndarray] = {}
        for spec in self.specs:
            raw = columns.get(spec.name)
            acc = self.columns[spec.name]
            value: np.ndarray | FactorizedLevels
            if raw is None:
                value = np.full(n_rows, np.nan) if spec.kind == "numeric" else np.full(n_rows, None, dtype=object)
            elif spec.kind == "categorical":
                # Factorize once: the accumulator, the row hashes and the sample share the codes.
                value = raw if isinstance(raw, FactorizedLevels) else factorize_levels(np.asarray(raw))
                acc.update(value)
            else:
                value = acc.update(raw if isinstance(raw, FactorizedLevels) else np.asarray(raw))
            if keys is not None:
                if isinstance(value, FactorizedLevels):
                    picked[spec.name] = value.values(rows)
                else:
                    picked[spec.name] = value if rows is None else value[rows]
            if hashes is not None and spec.name in hashed:
                if in_spec_order:
                    fold_row_hashes(hashes, value)
                else:
                    held[spec.name] = value
        for name in columns:
            if name not in self.known_columns:
                self.unexpected_columns[name] = self.unexpected_columns.get(name, 0) + n_rows
        for name, cnt in (extra_columns or {}).items():
            if name not in self.known_columns:
                self.unexpected_columns[name] = self.unexpected_columns.get(name, 0) + int(cnt)
        self.rows += n_rows
        lo, hi = int(row_numbers.min()), int(row_numbers.max())
        self.first_row = lo if self.first_row is None else min(self.first_row, lo)
        self.last_row = hi if self.last_row is None else max(self.last_row, hi)
        if event_times is not None and event_times.size:
            ok = event_times[np.isfinite(event_times)]
            if ok.size:
                self._see_times(float(ok.min()), float(ok.max()))
        if keys is not None:
            self.sample.offer(keys, picked)
        if hashes is not None:
            if not in_spec_order:
                for name in hash_order:
                    fold_row_hashes(hashes, held[name])
            size = self.duplicates.size
            if hashes.size > 2 * size:
                # Only the `size` smallest distinct hashes can survive in the bottom-k sketch:
                # when the `size` smallest hashes are distinct, drop everything above them.
                smallest = np.unique(np.partition(hashes, size - 1)[:size])
                if smallest.size == size:
                    hashes = hashes[hashes <= smallest[-1]]
            self.duplicates.add(hashes)

    def _see_times(self, lo: float, hi: float) -> None:
        self.event_time_min = lo if self.event_time_min is None else min(self.event_time_min, lo)
        self.event_time_max = hi if self.event_time_max is None else max(self.event_time_max, hi)

    def merged(self, other: WindowSketch) -> WindowSketch:
        """A new sketch equal to the sketch of both windows' rows."""
        if other.specs != self.specs:
            raise ValueError("cannot merge sketches built on different column specs")
        out = self._empty_like()
        out.columns = {n: acc.merged(other.columns[n]) for n, acc in self.columns.items()}
        out.rows = self.rows + other.rows
        out.malformed_rows = self.malformed_rows + other.malformed_rows
        out.late_rows = self.late_rows + other.late_rows
        firsts = [r for r in (self.first_row, other.first_row) if r is not None]
        lasts = [r for r in (self.last_row, other.last_row) if r is not None]
        out.first_row = min(firsts) if firsts else None
        out.last_row = max(lasts) if lasts else None
        for s in (self, other):
            if s.event_time_min is not None and s.event_time_max is not None:
                out._see_times(s.event_time_min, s.event_time_max)
        out.unexpected_columns = dict(self.unexpected_columns)
        for k, v in other.unexpected_columns.items():
            out.unexpected_columns[k] = out.unexpected_columns.get(k, 0) + v
        out.sample = self.sample.merged(other.sample)
        out.duplicates = self.duplicates.merged(other.duplicates)
        return out

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable state (for the store); :meth:`from_state` inverts it."""
        sample_values: dict[str, list[Any]] = {}
        for n, v in self.sample.values.items():
            if v.dtype.kind == "f":
                obj = v.astype(object)
                obj[np.isnan(v)] = None
                sample_values[n] = obj.tolist()
            else:
                sample_values[n] = v.tolist()
        return {
            "rows": self.rows,
            "malformed_rows": self.malformed_rows,
            "late_rows": self.late_rows,
            "first_row": self.first_row,
            "last_row": self.last_row,
            "event_time_min": self.event_time_min,
            "event_time_max": self.event_time_max,
            "unexpected_columns": dict(self.unexpected_columns),
            "columns": {n: acc.to_state() for n, acc in self.columns.items()},
            "sample": {"keys": self.sample.keys.tolist(), "values": sample_values},  # tolist: Python ints
            "duplicates": {
                "hashes": self.duplicates.hashes.tolist(),
                "counts": self.duplicates.counts.tolist(),
            },
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace this (empty) sketch's contents with a stored :meth:`to_state` document."""
        self.rows = int(state["rows"])
        self.malformed_rows = int(state.get("malformed_rows", 0))
        self.late_rows = int(state.get("late_rows", 0))
        self.first_row = state.get("first_row")
        self.last_row = state.get("last_row")
        self.event_time_min = state.get("event_time_min")
        self.event_time_max = state.get("event_time_max")
        self.unexpected_columns = {str(k): int(v) for k, v in state.get("unexpected_columns", {}).items()}
        cols = state["columns"]
        self.columns = {s.name: ColumnAccumulator.from_state(s, cols[s.name]) for s in self.specs}
        smp = state["sample"]
        values: dict[str, np.ndarray] = {}
        for s in self.specs:
            raw = smp["values"].get(s.name, [])
            if s.kind == "numeric":
                values[s.name] = np.array([np.nan if x is None else x for x in raw], dtype=np.float64)
            else:
                values[s.name] = np.array(raw, dtype=object)
        self.sample = RowSample(size=self.sample_size, keys=np.array(smp["keys"], dtype=np.uint64), values=values)
        dup = state["duplicates"]
        self.duplicates = DuplicateSketch(
            size=DUPLICATE_SKETCH_SIZE,
            hashes=np.array(dup["hashes"], dtype=np.uint64),
            counts=np.array(dup["counts"], dtype=np.int64),
        )


def merge_sketches(sketches: Sequence[WindowSketch]) -> WindowSketch:
    """Merge several partial sketches of one window (e.g. from Kafka partitions or replicas)."""
    if not sketches:
        raise ValueError("merge_sketches needs at least one sketch")
    out = sketches[0]
    for s in sketches[1:]:
        out = out.merged(s)
    return out
