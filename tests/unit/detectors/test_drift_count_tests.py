"""chi2, z, psi, kl, jensenshannon, hellinger and tv against SciPy and the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats
from scipy.spatial import distance

from detectors.drift import (
    chi2_test,
    hellinger_test,
    jensenshannon_test,
    kl_test,
    psi_test,
    tv_test,
    z_test,
)

COUNT_PAIRS = [
    (np.array([500, 300, 200]), np.array([40, 30, 30])),
    (np.array([120, 80, 0, 55, 3]), np.array([100, 90, 12, 40, 0])),
    (np.array([1000, 1000]), np.array([1000, 1000])),
    (np.array([7, 1, 1, 1, 1, 1, 1, 1]), np.array([1, 1, 1, 1, 1, 1, 1, 7])),
]
DISTANCES = [psi_test, kl_test, jensenshannon_test, hellinger_test, tv_test]


@pytest.mark.parametrize(("ref", "cur"), COUNT_PAIRS)
def test_chi2_matches_scipy_contingency(ref: np.ndarray, cur: np.ndarray) -> None:
    seen = (ref + cur) > 0
    table = np.vstack([ref[seen], cur[seen]])
    expected = stats.chi2_contingency(table, correction=False)
    result = chi2_test(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-10, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-10)


def test_chi2_new_category_is_finite_and_detected() -> None:
    result = chi2_test([500, 500, 0], [50, 30, 20])
    assert math.isfinite(result.statistic)
    assert result.drift_detected


def test_chi2_single_level_is_no_drift() -> None:
    result = chi2_test([0, 40, 0], [0, 7, 0])
    assert (result.statistic, result.p_value, result.drift_detected) == (0.0, 1.0, False)


def test_chi2_approaches_goodness_of_fit_with_a_large_reference() -> None:
    rng = np.random.default_rng(3)
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    ref = rng.multinomial(10_000_000, probs)
    cur = rng.multinomial(2000, [0.47, 0.31, 0.16, 0.06])
    gof = stats.chisquare(cur, ref / ref.sum() * cur.sum())
    assert chi2_test(ref, cur).p_value == pytest.approx(gof.pvalue, rel=1e-2)


def _z_oracle(ref: np.ndarray, cur: np.ndarray, level: int) -> tuple[float, float]:
    # statsmodels' proportions_ztest formula, written out (pooled variance, two-sided)
    n1, n2 = ref.sum(), cur.sum()
    p1, p2 = ref[level] / n1, cur[level] / n2
    pooled = (ref[level] + cur[level]) / (n1 + n2)
    z = (p2 - p1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return z, 2 * stats.norm.sf(abs(z))


@pytest.mark.parametrize(("ref", "cur"), COUNT_PAIRS[:2] + COUNT_PAIRS[3:])
def test_z_tests_the_most_frequent_reference_level(ref: np.ndarray, cur: np.ndarray) -> None:
    z, p = _z_oracle(ref, cur, int(np.argmax(ref)))
    result = z_test(ref, cur)
    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(p, rel=1e-12)


def test_z_binary_either_level_gives_the_same_p_value() -> None:
    first = z_test([900, 100], [80, 20], level=0)
    second = z_test([900, 100], [80, 20], level=1)
    assert first.statistic == pytest.approx(-second.statistic)
    assert first.p_value == pytest.approx(second.p_value)
    assert first.drift_detected


def test_z_degenerate_shares() -> None:
    assert z_test([10, 0], [5, 0]).p_value == 1.0
    assert z_test([0, 10], [0, 5]).statistic == 0.0
    with pytest.raises(ValueError, match=r"level must be an index in \[0, 2\)"):
        z_test([1, 2], [3, 4], level=2)


@pytest.mark.parametrize(("ref", "cur"), COUNT_PAIRS)
def test_jensenshannon_matches_scipy(ref: np.ndarray, cur: np.ndarray) -> None:
    expected = distance.jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2)
    assert jensenshannon_test(ref, cur).statistic == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize(("ref", "cur"), COUNT_PAIRS)
def test_hellinger_matches_formula(ref: np.ndarray, cur: np.ndarray) -> None:
    p, q = ref / ref.sum(), cur / cur.sum()
    expected = np.linalg.norm(np.sqrt(p) - np.sqrt(q)) / math.sqrt(2)
    assert hellinger_test(ref, cur).statistic == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize(("ref", "cur"), COUNT_PAIRS)
def test_tv_matches_formula(ref: np.ndarray, cur: np.ndarray) -> None:
    p, q = ref / ref.sum(), cur / cur.sum()
    assert tv_test(ref, cur).statistic == pytest.approx(0.5 * np.abs(p - q).sum(), abs=1e-12)


def _smoothed(counts: np.ndarray) -> np.ndarray:
    share = counts / counts.sum()
    smallest = share[share > 0].min()
    return np.where(share > 0, share, smallest / 1e6 if smallest <= 1e-4 else 1e-4)


@pytest.mark.parametrize(("ref", "cur"), COUNT_PAIRS)
def test_kl_matches_scipy_entropy_and_rel_entr(ref: np.ndarray, cur: np.ndarray) -> None:
    p, q = _smoothed(ref), _smoothed(cur)
    expected = stats.entropy(p, q)
    assert kl_test(ref, cur).statistic == pytest.approx(expected, abs=1e-12)
    p, q = p / p.sum(), q / q.sum()
    assert kl_test(ref, cur).statistic == pytest.approx(special.rel_entr(p, q).sum(), abs=1e-12)


@pytest.mark.parametrize(("ref", "cur"), COUNT_PAIRS)
def test_psi_matches_formula(ref: np.ndarray, cur: np.ndarray) -> None:
    p, q = _smoothed(ref), _smoothed(cur)
    assert psi_test(ref, cur).statistic == pytest.approx(np.sum((q - p) * np.log(q / p)), abs=1e-12)


def test_psi_smoothing_keeps_empty_bins_finite() -> None:
    result = psi_test([100, 100, 0], [100, 100, 50])
    assert math.isfinite(result.statistic) and result.drift_detected
    tiny = psi_test([1_000_000, 1_000_000, 1], [1, 1_000_000, 0])
    assert math.isfinite(tiny.statistic)


@pytest.mark.parametrize("test", [*DISTANCES, chi2_test, z_test])
@pytest.mark.parametrize(("ref", "cur"), [([0, 0], [1, 2]), ([1, 2], [0, 0]), ([], [])])
def test_empty_side_is_undefined_not_an_error(test, ref, cur) -> None:  # type: ignore[no-untyped-def]
    result = test(ref, cur)
    assert math.isnan(result.statistic)
    assert result.drift_detected is False


@pytest.mark.parametrize("test", DISTANCES)
def test_all_in_one_bin(test) -> None:  # type: ignore[no-untyped-def]
    same = test([0, 50, 0], [0, 9, 0])
    assert same.statistic == pytest.approx(0.0, abs=1e-12) and not same.drift_detected
    moved = test([0, 50, 0], [9, 0, 0])
    assert moved.drift_detected


@pytest.mark.parametrize("test", DISTANCES)
@pytest.mark.parametrize("threshold", [0.0, -1.0, float("inf"), float("nan")])
def test_distance_bad_threshold(test, threshold: float) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="threshold must be a finite distance > 0"):
        test([1, 2], [2, 1], threshold=threshold)


@pytest.mark.parametrize("test", [*DISTANCES, chi2_test, z_test])
def test_bad_counts_are_rejected(test) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        test([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="finite counts >= 0"):
        test([1, -2], [1, 2])
    with pytest.raises(ValueError, match="finite counts >= 0"):
        test([1, np.nan], [1, 2])


def test_distance_decision_is_strictly_above_threshold() -> None:
    result = tv_test([1, 1], [3, 1], threshold=0.25)
    assert result.statistic == pytest.approx(0.25)
    assert result.drift_detected is False
    assert result.p_value is None
