"""BinIndex.assign is exactly np.searchsorted(edges, x, side="right"), on any float64 input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from detectors.binning import MIN_VALUES, BinIndex, bin_indices

any_float = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=64)
finite_float = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True, width=64)
special = st.sampled_from(
    [
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        -1.7976931348623157e308,
        np.inf,
        -np.inf,
        np.nan,
        1.0,
        -1.0,
    ]
)


def _strict(xs: list[float]) -> np.ndarray:
    e = np.unique(np.array(xs, dtype=np.float64))  # sorted; -0.0 and 0.0 are one value
    return e


@st.composite
def edges_and_values(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    style = draw(st.sampled_from(["quantiles", "uniform", "integers", "raw", "tiny", "huge"]))
    n_edges = draw(st.integers(8, 120))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if style == "quantiles":
        data = rng.standard_normal(2000) * draw(st.sampled_from([1e-300, 1e-6, 1.0, 1e6, 1e300]))
        data += draw(st.sampled_from([0.0, 1.0, -1e6, 1e12]))
        edges = _strict(list(np.quantile(data, np.linspace(0, 1, n_edges))))
    elif style == "uniform":
        start = draw(st.floats(-1e300, 1e300))
        edges = _strict(list(np.linspace(start, start + abs(start) + 1.0, n_edges)))
    elif style == "integers":
        start = draw(st.integers(-1000, 1000))
        edges = np.arange(start, start + n_edges, dtype=np.float64)
    elif style == "tiny":
        edges = np.arange(n_edges, dtype=np.float64) * 5e-324  # subnormal spacing
    elif style == "huge":
        edges = _strict(
            [-1.7976931348623157e308, *np.linspace(-1e308, 1e308, n_edges - 2), 1.7976931348623157e308]
        )
    else:
        edges = _strict(draw(st.lists(finite_float, min_size=n_edges, max_size=n_edges)))
    assume(edges.size >= 2 and bool(np.all(np.isfinite(edges))))
    # values: random in the range, exactly on edges, next to edges, specials
    lo, hi = float(edges[0]), float(edges[-1])
    on = rng.choice(edges, MIN_VALUES)
    with np.errstate(over="ignore", invalid="ignore"):
        inside = lo + (hi - lo) * rng.random(MIN_VALUES)
        near = np.concatenate([np.nextafter(on, np.inf), np.nextafter(on, -np.inf)])
    inside = inside[np.isfinite(inside)]
    extra = np.array(draw(st.lists(st.one_of(any_float, special), max_size=50)), dtype=np.float64)
    values = np.concatenate([inside, on, near, extra, np.array([0.0, -0.0, np.nan, np.inf, -np.inf])])
    rng.shuffle(values)
    return edges, values


@given(edges_and_values())
@settings(max_examples=300, deadline=None)
def test_assign_equals_searchsorted(case: tuple[np.ndarray, np.ndarray]) -> None:
    edges, values = case
    expected = np.searchsorted(edges, values, side="right")
    index = BinIndex.from_edges(edges)
    event(f"lookup table used: {index.table is not None}")
    np.testing.assert_array_equal(index.assign(values), expected)
    np.testing.assert_array_equal(bin_indices(edges, values), expected)
    np.testing.assert_array_equal(index.counts(values), np.bincount(expected, minlength=edges.size + 1))


@given(st.lists(finite_float, min_size=8, max_size=60), st.lists(st.one_of(any_float, special), max_size=60))
@settings(max_examples=300, deadline=None)
def test_assign_equals_searchsorted_on_arbitrary_floats(
    raw_edges: list[float], raw_values: list[float]
) -> None:
    edges = _strict(raw_edges)
    values = np.concatenate([np.array(raw_values, dtype=np.float64), np.repeat(edges, 2)])
    values = np.resize(values, max(MIN_VALUES, values.size))  # long enough to use the table
    np.testing.assert_array_equal(
        BinIndex.from_edges(edges).assign(values), np.searchsorted(edges, values, side="right")
    )


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(1).standard_normal(200_000),
        np.random.default_rng(2).lognormal(0, 2, 200_000),
        np.random.default_rng(3).standard_cauchy(200_000),
        np.random.default_rng(4).poisson(5, 200_000).astype(np.float64),
    ],
    ids=["normal", "lognormal", "cauchy", "poisson"],
)
def test_profile_like_edges_use_the_table_and_agree(data: np.ndarray) -> None:
    edges = np.quantile(data, np.linspace(0, 1, 101))
    edges = np.unique(np.append(edges, np.nextafter(edges[-1], np.inf)))
    index = BinIndex.from_edges(edges)
    if data.min() > -1e3 and data.max() < 1e3 and np.unique(data).size > 1000:
        assert index.table is not None  # bell-shaped data takes the fast path
    shifted = data * 1.1 + 0.05
    for x in (data, shifted):
        expected = np.searchsorted(edges, x, side="right")
        np.testing.assert_array_equal(index.assign(x), expected)
        # several chunks of BinIndex.counts
        np.testing.assert_array_equal(index.counts(x), np.bincount(expected, minlength=edges.size + 1))


def test_rejects_non_vector_edges() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        BinIndex.from_edges(np.zeros((2, 2)))
