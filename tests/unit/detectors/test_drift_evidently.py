"""Our drift tests against Evidently's legacy stattests on the same seeded inputs (test-only oracle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("evidently.legacy.calculations.stattests")

from evidently.legacy.calculations.stattests.anderson_darling_stattest import _anderson_darling  # noqa: E402
from evidently.legacy.calculations.stattests.chisquare_stattest import _chi_stat_test  # noqa: E402
from evidently.legacy.calculations.stattests.cramer_von_mises_stattest import _cramer_von_mises  # noqa: E402
from evidently.legacy.calculations.stattests.hellinger_distance import _hellinger_distance  # noqa: E402
from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon  # noqa: E402
from evidently.legacy.calculations.stattests.kl_div import _kl_div  # noqa: E402
from evidently.legacy.calculations.stattests.ks_stattest import _ks_stat_test  # noqa: E402
from evidently.legacy.calculations.stattests.psi import _psi  # noqa: E402
from evidently.legacy.calculations.stattests.tvd_stattest import _total_variation_distance  # noqa: E402
from evidently.legacy.calculations.stattests.wasserstein_distance_norm import (  # noqa: E402
    _wasserstein_distance_norm,
)
from evidently.legacy.calculations.stattests.z_stattest import _z_stat_test  # noqa: E402
from evidently.legacy.core import ColumnType  # noqa: E402

from detectors.drift import (  # noqa: E402
    anderson_test,
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

NUM = ColumnType.Numerical
CAT = ColumnType.Categorical


def _numeric_pair(seed: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=600), rng.normal(shift, 1.2 if shift else 1.0, size=400)


def _categorical_pair(seed: int, drifted: bool) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    levels = ["a", "b", "c", "d", "e"]
    ref = rng.choice(levels, size=2000, p=[0.4, 0.3, 0.15, 0.1, 0.05]).tolist()
    probs = [0.3, 0.3, 0.2, 0.1, 0.1] if drifted else [0.4, 0.3, 0.15, 0.1, 0.05]
    cur = rng.choice(levels, size=700, p=probs).tolist()
    if drifted:
        cur += ["new"] * 5  # a level the reference never saw
    return ref, cur


def _level_counts(ref: list[str], cur: list[str]) -> tuple[np.ndarray, np.ndarray]:
    levels = sorted(set(ref) | set(cur))
    return (
        np.array([ref.count(level) for level in levels]),
        np.array([cur.count(level) for level in levels]),
    )


@pytest.mark.filterwarnings("ignore::UserWarning")  # scipy's anderson_ksamp, called by Evidently
@pytest.mark.parametrize("shift", [0.0, 0.2, 0.6])
def test_sample_tests_match_evidently(shift: float) -> None:
    ref, cur = _numeric_pair(41, shift)
    cases = [
        (ks_test, _ks_stat_test),
        (anderson_test, _anderson_darling),
        (cramervonmises_test, _cramer_von_mises),
    ]
    for ours, theirs in cases:
        p_value, drifted = theirs(pd.Series(ref), pd.Series(cur), NUM, 0.05)
        result = ours(ref, cur, threshold=0.05)
        assert result.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-12), ours.__name__
        assert result.drift_detected == bool(drifted), ours.__name__


@pytest.mark.parametrize("shift", [0.0, 0.2, 0.6])
def test_wasserstein_sample_matches_evidently(shift: float) -> None:
    ref, cur = _numeric_pair(42, shift)
    value, drifted = _wasserstein_distance_norm(pd.Series(ref), pd.Series(cur), NUM, 0.1)
    result = wasserstein_test(ref, cur)
    assert result.statistic == pytest.approx(value, rel=1e-12)
    assert result.drift_detected == bool(drifted)


@pytest.mark.parametrize("drifted", [False, True])
def test_count_distances_match_evidently_on_categories(drifted: bool) -> None:
    ref, cur = _categorical_pair(43, drifted)
    ref_counts, cur_counts = _level_counts(ref, cur)
    r, c = pd.Series(ref), pd.Series(cur)
    assert psi_test(ref_counts, cur_counts).statistic == pytest.approx(_psi(r, c, CAT, 0.2)[0], rel=1e-10)
    assert kl_test(ref_counts, cur_counts).statistic == pytest.approx(_kl_div(r, c, CAT, 0.1)[0], rel=1e-10)
    js = _jensenshannon(r, c, CAT, 0.1, base=2)[0]
    assert jensenshannon_test(ref_counts, cur_counts).statistic == pytest.approx(js, rel=1e-6)
    hellinger = _hellinger_distance(r.copy(), c.copy(), CAT, 0.1)[0]
    assert hellinger_test(ref_counts, cur_counts).statistic == pytest.approx(hellinger, rel=1e-10)
    assert tv_test(ref_counts, cur_counts).statistic == pytest.approx(
        _total_variation_distance(r, c), rel=1e-10
    )


def test_psi_and_kl_match_evidently_on_numeric_bins() -> None:
    ref, cur = _numeric_pair(44, 0.3)
    # Evidently bins numeric columns with Sturges' rule on the pooled data
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    ref_counts = np.histogram(ref, edges)[0]
    cur_counts = np.histogram(cur, edges)[0]
    r, c = pd.Series(ref), pd.Series(cur)
    assert psi_test(ref_counts, cur_counts).statistic == pytest.approx(_psi(r, c, NUM, 0.2)[0], rel=1e-10)
    assert kl_test(ref_counts, cur_counts).statistic == pytest.approx(_kl_div(r, c, NUM, 0.1)[0], rel=1e-10)


@pytest.mark.parametrize("share", [0.3, 0.34, 0.45])
def test_z_matches_evidently_on_binary_columns(share: float) -> None:
    rng = np.random.default_rng(45)
    ref = (rng.uniform(size=3000) < 0.3).astype(int)
    cur = (rng.uniform(size=800) < share).astype(int)
    p_value, drifted = _z_stat_test(pd.Series(ref), pd.Series(cur), CAT, 0.05)
    result = z_test(np.bincount(ref, minlength=2), np.bincount(cur, minlength=2))
    assert result.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-15)
    assert result.drift_detected == bool(drifted)


@pytest.mark.parametrize("drifted", [False, True])
def test_chi2_agrees_with_evidently_for_a_large_reference(drifted: bool) -> None:
    # Evidently's chisquare is goodness-of-fit against reference frequencies; ours is the
    # two-sample homogeneity test. They agree when the reference is much larger.
    rng = np.random.default_rng(46)
    levels = ["a", "b", "c", "d"]
    ref = rng.choice(levels, size=400_000, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    cur = rng.choice(
        levels, size=1000, p=[0.36, 0.3, 0.2, 0.14] if drifted else [0.4, 0.3, 0.2, 0.1]
    ).tolist()
    p_value, flagged = _chi_stat_test(pd.Series(ref), pd.Series(cur), CAT, 0.05)
    ref_counts, cur_counts = _level_counts(ref, cur)
    result = chi2_test(ref_counts, cur_counts)
    assert result.p_value is not None
    assert np.log(result.p_value) == pytest.approx(np.log(p_value), rel=0.02)  # tails: compare logs
    assert result.drift_detected == bool(flagged) == drifted
