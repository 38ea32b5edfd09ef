"""ks, anderson and cramervonmises against SciPy on the same seeded samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from detectors.drift import anderson_test, cramervonmises_test, ks_test


@pytest.mark.parametrize("shift", [0.0, 0.15, 0.5])
@pytest.mark.parametrize("sizes", [(50, 40), (2000, 700)])
def test_ks_matches_scipy(shift: float, sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(11)
    ref, cur = rng.normal(size=sizes[0]), rng.normal(shift, size=sizes[1])
    expected = stats.ks_2samp(ref, cur)
    result = ks_test(ref, cur, threshold=0.05)
    assert result.method == "ks"
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result.drift_detected == (expected.pvalue < 0.05)


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_anderson_matches_scipy(shift: float) -> None:
    rng = np.random.default_rng(12)
    ref, cur = rng.normal(size=400), rng.normal(shift, size=300)
    with pytest.warns(UserWarning):  # scipy warns about the p-value cap/floor or midrank
        expected = stats.anderson_ksamp([ref, cur])
    result = anderson_test(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result.drift_detected == (expected.pvalue < 0.05)


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("sizes", [(8, 7), (500, 300)])
def test_cramervonmises_matches_scipy(shift: float, sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(13)
    ref, cur = rng.normal(size=sizes[0]), rng.normal(shift, size=sizes[1])
    expected = stats.cramervonmises_2samp(ref, cur)
    result = cramervonmises_test(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-15)


def test_nans_are_dropped() -> None:
    rng = np.random.default_rng(14)
    ref, cur = rng.normal(size=100), rng.normal(size=80)
    with_nans = np.concatenate([ref, [np.nan, np.nan]])
    assert ks_test(with_nans, cur) == ks_test(ref, cur)
    assert cramervonmises_test(with_nans, cur) == cramervonmises_test(ref, cur)


@pytest.mark.parametrize("test", [ks_test, anderson_test, cramervonmises_test])
@pytest.mark.parametrize(
    ("ref", "cur"),
    [([], [1.0, 2.0]), ([1.0, 2.0], []), ([], []), ([np.nan], [1.0, 2.0])],
)
def test_empty_side_is_undefined_not_an_error(test, ref, cur) -> None:  # type: ignore[no-untyped-def]
    result = test(np.asarray(ref, dtype=float), np.asarray(cur, dtype=float))
    assert math.isnan(result.statistic)
    assert result.p_value is not None and math.isnan(result.p_value)
    assert result.drift_detected is False


@pytest.mark.parametrize("test", [ks_test, anderson_test, cramervonmises_test])
def test_constant_identical_columns_show_no_drift(test) -> None:  # type: ignore[no-untyped-def]
    result = test(np.full(200, 3.0), np.full(50, 3.0))
    assert result.drift_detected is False


@pytest.mark.parametrize("test", [ks_test, anderson_test, cramervonmises_test])
def test_single_values_never_raise(test) -> None:  # type: ignore[no-untyped-def]
    result = test(np.array([1.0]), np.array([2.0]))
    assert result.drift_detected is False


def test_constant_but_different_columns_drift() -> None:
    assert ks_test(np.full(200, 3.0), np.full(200, 4.0)).drift_detected
    assert anderson_test(np.full(200, 3.0), np.full(200, 4.0)).drift_detected


@pytest.mark.parametrize("test", [ks_test, anderson_test, cramervonmises_test])
@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_bad_threshold_is_rejected(test, threshold: float) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"threshold must be a p-value level in \(0, 1\)"):
        test(np.arange(10.0), np.arange(10.0), threshold=threshold)


def test_bad_shapes_are_rejected_and_infinities_dropped() -> None:
    with pytest.raises(ValueError, match="1-D"):
        ks_test(np.zeros((3, 3)), np.zeros(3))
    ref, cur = np.arange(10.0), np.arange(5.0)
    with_inf = np.concatenate([ref, [np.inf, -np.inf]])
    for test in (ks_test, anderson_test, cramervonmises_test):
        assert test(with_inf, cur) == test(ref, cur)


def test_cramervonmises_ties_use_the_ecdf_criterion() -> None:
    rng = np.random.default_rng(15)
    false_alarms = 0
    for _ in range(100):
        ref = rng.integers(0, 3, size=300).astype(float)
        cur = rng.integers(0, 3, size=200).astype(float)
        result = cramervonmises_test(ref, cur)
        # T is the ECDF criterion: mean over the pooled points of the squared CDF gap
        pooled = np.concatenate([ref, cur])
        gap = (ref[:, None] <= pooled).mean(axis=0) - (cur[:, None] <= pooled).mean(axis=0)
        assert result.statistic == pytest.approx(300 * 200 / 500**2 * np.sum(gap**2))
        false_alarms += result.drift_detected
    assert false_alarms <= 10  # scipy's midrank formula flags all 100 here


def test_cramervonmises_asymptotic_p_value_matches_scipy_without_ties() -> None:
    from detectors.drift.cramervonmises import _asymptotic_p_value

    rng = np.random.default_rng(16)
    for n, m, shift in [(30, 25, 0.0), (300, 200, 0.2), (1000, 50, 0.5)]:
        ref, cur = rng.normal(size=n), rng.normal(shift, size=m)
        expected = stats.cramervonmises_2samp(ref, cur, method="asymptotic")
        assert _asymptotic_p_value(float(expected.statistic), n, m) == pytest.approx(
            expected.pvalue, rel=1e-9
        )
