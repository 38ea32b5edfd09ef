"""Hypothesis properties of the drift tests and of Benjamini-Hochberg."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from detectors.drift import (
    anderson_test,
    binned_wasserstein_distance,
    chi2_test,
    cramervonmises_test,
    hellinger_test,
    jensenshannon_test,
    kl_test,
    ks_test,
    psi_test,
    tv_test,
    wasserstein_test,
    z_test,
)
from detectors.multiple_testing import benjamini_hochberg

SAMPLE_TESTS = [ks_test, anderson_test, cramervonmises_test]
SYMMETRIC_SAMPLE_TESTS = SAMPLE_TESTS
COUNT_DISTANCES = [psi_test, kl_test, jensenshannon_test, hellinger_test, tv_test]
SYMMETRIC_COUNT_TESTS = [psi_test, jensenshannon_test, hellinger_test, tv_test, chi2_test]
BOUNDED_BY_ONE = [jensenshannon_test, hellinger_test, tv_test]

values = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False),
    st.integers(-3, 3).map(float),  # ties and constant columns
)
samples = st.lists(values, min_size=0, max_size=40).map(lambda xs: np.array(xs, dtype=np.float64))


@st.composite
def count_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    size = draw(st.integers(1, 10))
    counts = st.lists(st.integers(0, 500), min_size=size, max_size=size)
    return np.array(draw(counts), dtype=float), np.array(draw(counts), dtype=float)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("test", SAMPLE_TESTS)
@given(x=samples, y=samples)
@settings(max_examples=60, deadline=None)
def test_sample_p_values_are_probabilities(test, x: np.ndarray, y: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    result = test(x, y)
    assert result.p_value is not None
    if math.isnan(result.p_value):
        assert not result.drift_detected
    else:
        assert 0.0 <= result.p_value <= 1.0
        assert result.drift_detected == (result.p_value < result.threshold)


@pytest.mark.parametrize("test", SAMPLE_TESTS)
@given(x=samples)
@settings(max_examples=60, deadline=None)
def test_identical_samples_show_no_drift(test, x: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    assert not test(x, x.copy()).drift_detected


@pytest.mark.parametrize("test", [*SAMPLE_TESTS, wasserstein_test])
@given(x=samples, y=samples, seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_sample_tests_are_permutation_invariant(test, x: np.ndarray, y: np.ndarray, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    first, second = test(x, y), test(rng.permutation(x), rng.permutation(y))
    assert _same(first.statistic, second.statistic)
    assert _same(first.p_value, second.p_value)
    assert first.drift_detected == second.drift_detected


@pytest.mark.parametrize("test", SYMMETRIC_SAMPLE_TESTS)
@given(x=samples, y=samples)
@settings(max_examples=60, deadline=None)
def test_sample_tests_are_symmetric(test, x: np.ndarray, y: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    forward, backward = test(x, y), test(y, x)
    assert _same(forward.statistic, backward.statistic)
    assert _same(forward.p_value, backward.p_value)


@given(x=samples, y=samples)
@settings(max_examples=60, deadline=None)
def test_wasserstein_sample_is_finite_and_nonnegative(x: np.ndarray, y: np.ndarray) -> None:
    result = wasserstein_test(x, y)
    if x.size and y.size:
        assert math.isfinite(result.statistic) and result.statistic >= 0.0
    else:
        assert math.isnan(result.statistic) and not result.drift_detected


@pytest.mark.parametrize("test", [*COUNT_DISTANCES, chi2_test, z_test])
@given(pair=count_pairs())
@settings(max_examples=80, deadline=None)
def test_count_tests_are_well_defined(test, pair: tuple[np.ndarray, np.ndarray]) -> None:  # type: ignore[no-untyped-def]
    ref, cur = pair
    result = test(ref, cur)
    if ref.sum() == 0 or cur.sum() == 0:
        assert math.isnan(result.statistic) and not result.drift_detected
        return
    assert math.isfinite(result.statistic)
    if result.p_value is not None:
        assert 0.0 <= result.p_value <= 1.0
    else:
        assert result.statistic >= 0.0
    if test in BOUNDED_BY_ONE:
        assert result.statistic <= 1.0


@pytest.mark.parametrize("test", [*COUNT_DISTANCES, chi2_test, z_test])
@given(pair=count_pairs(), factor=st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_identical_and_proportional_counts_show_no_drift(test, pair, factor: int) -> None:  # type: ignore[no-untyped-def]
    ref, _ = pair
    if ref.sum() == 0:
        return
    same = test(ref, ref * factor)
    assert not same.drift_detected
    if same.p_value is None:
        assert same.statistic == pytest.approx(0.0, abs=1e-9)
    else:
        assert same.p_value == pytest.approx(1.0)


@pytest.mark.parametrize("test", [*COUNT_DISTANCES, chi2_test])
@given(pair=count_pairs(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_count_tests_are_invariant_to_level_order(test, pair, seed: int) -> None:  # type: ignore[no-untyped-def]
    ref, cur = pair
    order = np.random.default_rng(seed).permutation(ref.size)
    first, second = test(ref, cur), test(ref[order], cur[order])
    assert _same(first.statistic, second.statistic)
    assert _same(first.p_value, second.p_value)


@pytest.mark.parametrize("test", SYMMETRIC_COUNT_TESTS)
@given(pair=count_pairs())
@settings(max_examples=60, deadline=None)
def test_symmetric_count_tests(test, pair) -> None:  # type: ignore[no-untyped-def]
    ref, cur = pair
    forward, backward = test(ref, cur), test(cur, ref)
    assert _same(forward.statistic, backward.statistic)
    assert _same(forward.p_value, backward.p_value)


@given(pair=count_pairs())
@settings(max_examples=60, deadline=None)
def test_z_on_binary_columns_is_symmetric_in_p(pair) -> None:  # type: ignore[no-untyped-def]
    ref, cur = pair[0][:2], pair[1][:2]
    if ref.size < 2 or ref.sum() == 0 or cur.sum() == 0:
        return
    assert _same(z_test(ref, cur, level=0).p_value, z_test(cur, ref, level=0).p_value)
    assert _same(z_test(ref, cur, level=0).p_value, z_test(ref, cur, level=1).p_value)


@st.composite
def binned_pairs(
    draw: st.DrawFn,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float], tuple[float, float]]:
    edges = np.unique(np.array(draw(st.lists(st.integers(-50, 50), min_size=0, max_size=8)), dtype=float))
    ref_counts, cur_counts = (
        np.array(
            draw(st.lists(st.integers(0, 100), min_size=edges.size + 1, max_size=edges.size + 1)), dtype=float
        )
        for _ in range(2)
    )
    lo, hi = (edges[0], edges[-1]) if edges.size else (0.0, 0.0)

    def span() -> tuple[float, float]:
        a = draw(st.floats(lo - 20, lo, allow_nan=False))
        b = draw(st.floats(hi, hi + 20, allow_nan=False))
        return a, b

    return ref_counts, cur_counts, edges, span(), span()


@given(case=binned_pairs())
@settings(max_examples=100, deadline=None)
def test_binned_wasserstein_is_a_symmetric_nonnegative_distance(case) -> None:  # type: ignore[no-untyped-def]
    ref, cur, edges, ref_span, cur_span = case
    forward = binned_wasserstein_distance(
        ref, cur, edges=edges, reference_range=ref_span, current_range=cur_span
    )
    backward = binned_wasserstein_distance(
        cur, ref, edges=edges, reference_range=cur_span, current_range=ref_span
    )
    if ref.sum() == 0 or cur.sum() == 0:
        assert math.isnan(forward) and math.isnan(backward)
        return
    assert forward >= 0.0 and math.isfinite(forward)
    assert forward == pytest.approx(backward, rel=1e-9, abs=1e-9)
    # bounded by the distance between the extremes of the two supports
    assert forward <= max(ref_span[1], cur_span[1]) - min(ref_span[0], cur_span[0]) + 1e-9
    same = binned_wasserstein_distance(
        ref, ref * 3, edges=edges, reference_range=ref_span, current_range=ref_span
    )
    assert same == pytest.approx(0.0, abs=1e-9)


p_value_lists = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=30)


@given(p=p_value_lists, alpha=st.floats(0.001, 0.5))
@settings(max_examples=100, deadline=None)
def test_benjamini_hochberg_matches_scipy_and_is_monotone(p: list[float], alpha: float) -> None:
    result = benjamini_hochberg(p, alpha=alpha)
    np.testing.assert_allclose(
        result.adjusted_p_values, stats.false_discovery_control(p), rtol=1e-9, atol=1e-15
    )
    adjusted = np.array(result.adjusted_p_values)
    assert ((adjusted >= np.array(p) - 1e-15) & (adjusted <= 1.0)).all()
    order = np.argsort(p, kind="stable")
    assert (np.diff(adjusted[order]) >= -1e-15).all()
    rejected = np.array(result.rejected)
    if rejected.any():  # step-up: everything at or below the largest rejected p-value is rejected
        assert rejected[np.array(p) <= max(np.array(p)[rejected])].all()


@given(p=p_value_lists, seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_benjamini_hochberg_is_permutation_equivariant(p: list[float], seed: int) -> None:
    order = np.random.default_rng(seed).permutation(len(p))
    first = benjamini_hochberg(p)
    second = benjamini_hochberg([p[i] for i in order])
    assert second.rejected == tuple(first.rejected[i] for i in order)
    np.testing.assert_allclose(second.adjusted_p_values, [first.adjusted_p_values[i] for i in order])
