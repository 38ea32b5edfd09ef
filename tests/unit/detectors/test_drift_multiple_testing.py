"""Benjamini-Hochberg against scipy.stats.false_discovery_control."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from detectors.multiple_testing import BHResult, benjamini_hochberg


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_matches_scipy(seed: int, alpha: float) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=30), rng.uniform(0, 0.01, size=5)])
    rng.shuffle(p)
    expected = stats.false_discovery_control(p, method="bh")
    result = benjamini_hochberg(p.tolist(), alpha=alpha)
    np.testing.assert_allclose(result.adjusted_p_values, expected, rtol=1e-12)
    assert result.rejected == tuple(bool(x) for x in expected <= alpha)
    assert result.alpha == alpha
    assert result.n_rejected() == int((expected <= alpha).sum())


def test_step_up_rejects_by_rank() -> None:
    result = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert result.rejected == (True, False, False, False)
    # 0.02 * 4 / 2 = 0.04 <= 0.05: the step-up rejects both of the two smallest
    assert benjamini_hochberg([0.02, 0.001, 0.9, 0.8]).rejected == (True, True, False, False)


def test_nan_p_values_are_left_out() -> None:
    result = benjamini_hochberg([0.01, math.nan, 0.04])
    expected = stats.false_discovery_control([0.01, 0.04])
    assert result.rejected == (True, False, True)
    assert math.isnan(result.adjusted_p_values[1])
    assert result.adjusted_p_values[0] == pytest.approx(expected[0])
    assert result.adjusted_p_values[2] == pytest.approx(expected[1])


def test_empty_and_all_nan() -> None:
    assert benjamini_hochberg([]) == BHResult(rejected=(), adjusted_p_values=(), alpha=0.05)
    assert benjamini_hochberg([math.nan]).rejected == (False,)


def test_result_is_frozen() -> None:
    result = benjamini_hochberg([0.5])
    with pytest.raises(AttributeError):
        result.alpha = 0.1  # type: ignore[misc]


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, math.nan])
def test_bad_alpha(alpha: float) -> None:
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        benjamini_hochberg([0.1], alpha=alpha)


@pytest.mark.parametrize("bad", [-0.01, 1.5, math.inf])
def test_bad_p_values(bad: float) -> None:
    with pytest.raises(ValueError, match=r"p-values must be in \[0, 1\] or NaN, got"):
        benjamini_hochberg([0.1, bad])
