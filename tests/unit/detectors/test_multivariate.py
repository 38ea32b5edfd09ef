"""Multivariate drift: a correlation flip that marginal tests cannot see."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from detectors.multivariate import MultivariateDriftResult, PCAReconstructionDrift, domain_classifier_test


def rows(seed: int, n: int, rho: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pair = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], n)
    noise = rng.normal(0, 1, (n, 2))
    scaled = np.column_stack([pair[:, 0] * 10 + 50, pair[:, 1], noise])  # mixed scales
    return scaled


REFERENCE = rows(0, 4000, 0.8)
FLIPPED = rows(1, 1500, -0.8)
SAME = rows(2, 1500, 0.8)


def test_marginal_ks_tests_do_not_see_the_correlation_flip() -> None:
    p_values = [stats.ks_2samp(REFERENCE[:, j], FLIPPED[:, j]).pvalue for j in range(REFERENCE.shape[1])]
    assert min(p_values) > 0.05 / len(p_values)


def test_pca_reconstruction_detects_the_flip() -> None:
    detector = PCAReconstructionDrift(REFERENCE)
    result = detector.test(FLIPPED, seed=1)
    assert isinstance(result, MultivariateDriftResult)
    assert result.method == "pca_reconstruction" and result.drift_detected
    assert result.statistic > result.threshold and result.p_value is not None and result.p_value < 0.01
    assert (result.n_reference, result.n_current) == (4000, 1500)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_pca_reconstruction_is_quiet_without_drift(seed: int) -> None:
    detector = PCAReconstructionDrift(REFERENCE)
    result = detector.test(rows(seed, 1500, 0.8), seed=seed)
    assert not result.drift_detected
    assert 0.0 <= (result.p_value or 0.0) <= 1.0


def test_pca_is_seeded_and_permutation_invariant() -> None:
    detector = PCAReconstructionDrift(REFERENCE)
    a = detector.test(SAME, seed=5)
    assert a == detector.test(SAME, seed=5)
    shuffled = SAME[np.random.default_rng(0).permutation(SAME.shape[0])]
    assert detector.test(shuffled, seed=5).statistic == pytest.approx(a.statistic)


def test_pca_components_and_missing_values() -> None:
    detector = PCAReconstructionDrift(REFERENCE, variance_kept=0.4)
    assert detector.n_components == 1
    assert PCAReconstructionDrift(REFERENCE, n_components=3).n_components == 3
    with_nan = SAME.copy()
    with_nan[0, 0] = np.nan
    assert np.all(np.isfinite(detector.errors(with_nan)))


def test_domain_classifier_detects_the_flip() -> None:
    result = domain_classifier_test(REFERENCE, FLIPPED, seed=1)
    assert result.method == "domain_classifier" and result.drift_detected
    assert result.statistic > 0.8 and result.statistic > result.threshold >= 0.55
    assert result.p_value == pytest.approx(1 / 20)


@pytest.mark.parametrize("seed", [2])
def test_domain_classifier_is_quiet_without_drift(seed: int) -> None:
    result = domain_classifier_test(REFERENCE, rows(seed, 1500, 0.8), seed=seed)
    assert not result.drift_detected
    assert result.statistic < 0.55


def test_domain_classifier_is_seeded_and_subsamples() -> None:
    a = domain_classifier_test(REFERENCE, FLIPPED, seed=3, max_rows=500, n_permutations=5)
    assert a == domain_classifier_test(REFERENCE, FLIPPED, seed=3, max_rows=500, n_permutations=5)
    assert (a.n_reference, a.n_current) == (500, 500)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: PCAReconstructionDrift(np.zeros(5)), "2-d array"),
        (lambda: PCAReconstructionDrift(REFERENCE, variance_kept=1.5), "variance_kept must be in"),
        (lambda: PCAReconstructionDrift(REFERENCE, n_components=9), "n_components must be in"),
        (lambda: PCAReconstructionDrift(REFERENCE).test(SAME[:, :2]), "must have 4 features"),
        (lambda: PCAReconstructionDrift(REFERENCE).test(SAME, alpha=0.0), "alpha must be in"),
        (lambda: domain_classifier_test(REFERENCE, SAME, min_auc=0.4), "min_auc must be in"),
        (lambda: domain_classifier_test(REFERENCE, SAME[:1]), "at least 2 rows each"),
    ],
)
def test_invalid_arguments(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
