"""Properties of window sketches: merging partial sketches equals sketching all rows.

``merge(sketch(a), sketch(b)) == sketch(a ++ b)`` exactly for every count, the extremes, the
new levels (under the cap), the row sample and the duplicate sketch; the moments agree up to
floating-point rounding. ``to_state``/``restore`` is an identity and merging is associative.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detectors.sketch import MAX_NEW_LEVELS, ColumnSpec, WindowSketch

SPECS = (
    ColumnSpec(name="x", kind="numeric", edges=(-10.0, -1.0, 0.0, 0.5, 1.0, 10.0), shift=0.25),
    ColumnSpec(name="c", kind="categorical", levels=("a", "b", "1", "true")),
)

numeric_cell = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.integers(min_value=-20, max_value=20),
    st.sampled_from([None, math.nan, math.inf, -math.inf, "", "abc", "2.5", "-3", "inf", True, False]),
)
categorical_cell = st.one_of(
    st.sampled_from(["a", "b", "1", "true", "new1", "new2", "", None, math.nan, 1, 1.0, 2.5, True, False]),
    st.text(alphabet="xyz", min_size=1, max_size=3),
)


@st.composite
def tables(draw: st.DrawFn) -> tuple[dict[str, np.ndarray], list[int]]:
    """A two-column table (object arrays with mixed junk) and sorted cut points."""
    n = draw(st.integers(min_value=0, max_value=60))
    x = draw(st.lists(numeric_cell, min_size=n, max_size=n))
    c = draw(st.lists(categorical_cell, min_size=n, max_size=n))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=n), min_size=1, max_size=3)))
    xa = np.empty(n, dtype=object)
    xa[:] = x
    ca = np.empty(n, dtype=object)
    ca[:] = c
    return {"x": xa, "c": ca}, cuts


def sketch_of(columns: dict[str, np.ndarray], lo: int, hi: int, *, sample_size: int = 16) -> WindowSketch:
    sk = WindowSketch(SPECS, sample_size=sample_size, seed=7)
    sk.update({k: v[lo:hi] for k, v in columns.items()}, first_row=lo, n_rows=hi - lo)
    return sk


def exact_view(sk: WindowSketch) -> dict[str, Any]:
    """Everything that must agree exactly, as plain comparable values (NaN as None)."""
    cols = {}
    for name, acc in sk.columns.items():
        cols[name] = {
            "counts": acc.counts.tolist(),
            "present": acc.present,
            "missing": acc.missing,
            "type_mismatch": acc.type_mismatch,
            "non_finite": acc.non_finite,
            "min": acc.minimum,
            "max": acc.maximum,
            "new_levels": dict(sorted(acc.new_levels.items())),
        }
    smp = sk.sample.ordered()
    values = {
        n: [None if isinstance(v, float) and math.isnan(v) else v for v in arr.tolist()]
        for n, arr in smp.values.items()
    }
    return {
        "rows": sk.rows,
        "first_row": sk.first_row,
        "last_row": sk.last_row,
        "malformed": sk.malformed_rows,
        "columns": cols,
        "sample_keys": smp.keys.tolist(),
        "sample_values": values,
        "dup_hashes": sk.duplicates.hashes.tolist(),
        "dup_counts": sk.duplicates.counts.tolist(),
    }


def assert_moments_close(a: WindowSketch, b: WindowSketch) -> None:
    for name in a.columns:
        x, y = a.columns[name], b.columns[name]
        scale = max(1.0, abs(x.total_sq), abs(y.total_sq))
        assert math.isclose(x.total, y.total, rel_tol=1e-9, abs_tol=1e-9 * scale)
        assert math.isclose(x.total_sq, y.total_sq, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_merge_of_parts_equals_sketch_of_whole(data: tuple[dict[str, np.ndarray], list[int]]) -> None:
    columns, cuts = data
    n = columns["x"].size
    bounds = [0, *cuts, n]
    parts = [sketch_of(columns, lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merged(p)
    whole = sketch_of(columns, 0, n)
    assert exact_view(merged) == exact_view(whole)
    assert_moments_close(merged, whole)


@settings(max_examples=100, deadline=None)
@given(tables())
def test_chunked_updates_equal_one_update(data: tuple[dict[str, np.ndarray], list[int]]) -> None:
    columns, cuts = data
    n = columns["x"].size
    bounds = [0, *cuts, n]
    chunked = WindowSketch(SPECS, sample_size=16, seed=7)
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        chunked.update({k: v[lo:hi] for k, v in columns.items()}, first_row=lo, n_rows=hi - lo)
    whole = sketch_of(columns, 0, n)
    assert exact_view(chunked) == exact_view(whole)
    assert_moments_close(chunked, whole)


@settings(max_examples=100, deadline=None)
@given(tables())
def test_state_round_trip_is_identity(data: tuple[dict[str, np.ndarray], list[int]]) -> None:
    columns, _ = data
    sk = sketch_of(columns, 0, columns["x"].size)
    doc = json.loads(json.dumps(sk.to_state(), allow_nan=False))
    back = WindowSketch(SPECS, sample_size=16, seed=7)
    back.restore(doc)
    assert exact_view(back) == exact_view(sk)
    assert back.to_state() == sk.to_state()


@settings(max_examples=100, deadline=None)
@given(tables())
def test_merge_is_associative_and_commutative(data: tuple[dict[str, np.ndarray], list[int]]) -> None:
    columns, cuts = data
    n = columns["x"].size
    i, j = cuts[0], cuts[-1]
    a, b, c = sketch_of(columns, 0, i), sketch_of(columns, i, j), sketch_of(columns, j, n)
    left = a.merged(b).merged(c)
    right = a.merged(b.merged(c))
    assert exact_view(left) == exact_view(right)
    assert exact_view(a.merged(b)) == exact_view(b.merged(a))
    assert_moments_close(left, right)


def test_new_levels_merge_exactly_under_the_cap() -> None:
    levels = np.array([f"n{i}" for i in range(MAX_NEW_LEVELS - 1)] * 3, dtype=object)
    cols = {"x": np.zeros(levels.size), "c": levels}
    a, b = sketch_of(cols, 0, 100), sketch_of(cols, 100, levels.size)
    whole = sketch_of(cols, 0, levels.size)
    assert a.merged(b).columns["c"].new_levels == whole.columns["c"].new_levels
    assert sum(whole.columns["c"].new_levels.values()) == levels.size


def test_new_levels_are_capped() -> None:
    levels = np.array([f"n{i}" for i in range(3 * MAX_NEW_LEVELS)], dtype=object)
    sk = sketch_of({"x": np.zeros(levels.size), "c": levels}, 0, levels.size)
    acc = sk.columns["c"]
    assert len(acc.new_levels) == MAX_NEW_LEVELS
    assert int(acc.counts[-1]) == levels.size  # the "other" bin still counts every row


def _state_bytes(n: int) -> int:
    rng = np.random.default_rng(3)
    sk = WindowSketch(SPECS, sample_size=500, seed=1)
    for lo in range(0, n, 50_000):
        hi = min(n, lo + 50_000)
        sk.update(
            {
                "x": rng.normal(size=hi - lo),
                "c": rng.choice(np.array(["a", "b", "z"], dtype=object), hi - lo),
            },
            first_row=lo,
        )
    assert sk.sample.keys.size <= 500
    assert sk.duplicates.hashes.size <= sk.duplicates.size
    return len(json.dumps(sk.to_state()))


def test_state_size_does_not_grow_with_rows() -> None:
    """Past the sample and duplicate-sketch capacity, more rows do not make the state bigger."""
    small, large = _state_bytes(100_000), _state_bytes(300_000)
    assert large <= small * 1.05
