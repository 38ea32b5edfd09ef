"""Chi-square test of homogeneity (``"chi2"``) on categorical level counts."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from detectors.drift._inputs import (
    as_count_pair,
    check_kinds,
    check_threshold,
    decided_result,
    undefined_result,
)
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "chi2"


def chi2_test(reference_counts: Any, current_counts: Any, *, threshold: float = 0.05) -> DriftTestResult:
    """Test whether two count vectors over the same levels come from one distribution.

    Parameters
    ----------
    reference_counts, current_counts:
        Counts per level (same levels, same order), finite and ``>= 0``.
    threshold:
        Significance level in ``(0, 1)``; drift when ``p_value < threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic`` is Pearson's :math:`\\chi^2` of the 2 x k contingency table,
        ``p_value`` its upper tail with ``k - 1`` degrees of freedom.

    Notes
    -----
    This is the two-sample test of homogeneity (:func:`scipy.stats.chi2_contingency`
    with ``correction=False``), not a goodness-of-fit test against reference
    frequencies: both sides are samples, so a level seen only in the current window
    (a new category) has a positive expected count and gives a finite statistic.
    Levels empty on both sides carry no information and are dropped, so no expected
    count is ever zero. With a single non-empty level both sides are identical:
    ``statistic = 0``, ``p_value = 1``. An empty side is undefined (NaN, no drift).
    No Yates correction is applied, also for 2 levels.

    .. math:: \\chi^2 = \\sum_{s, j} (O_{sj} - E_{sj})^2 / E_{sj}, \\quad
              E_{sj} = n_s\\, c_j / N

    Examples
    --------
    >>> result = chi2_test([500, 300, 200], [40, 30, 30])
    >>> round(result.statistic, 3), round(result.p_value, 3), result.drift_detected
    (6.2, 0.045, True)
    """
    level = check_threshold(METHOD, threshold, "p_value_below")
    ref, cur = as_count_pair(reference_counts, current_counts)
    n_ref, n_cur = ref.sum(), cur.sum()
    if n_ref <= 0 or n_cur <= 0:
        return undefined_result(METHOD, "p_value_below", level)
    seen = (ref + cur) > 0
    observed = np.vstack([ref[seen], cur[seen]])
    dof = observed.shape[1] - 1
    if dof == 0:
        statistic, p_value = 0.0, 1.0
    else:
        level_totals = observed.sum(axis=0)
        expected = np.outer([n_ref, n_cur], level_totals) / (n_ref + n_cur)
        statistic = float(((observed - expected) ** 2 / expected).sum())
        p_value = float(stats.chi2.sf(statistic, dof))
    return decided_result(METHOD, "p_value_below", statistic, p_value, level)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, CHI2_TEST.column_kinds, reference, current)
    return chi2_test(reference.counts, current.counts, threshold=threshold)


CHI2_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"categorical"}),
    decision="p_value_below",
    default_threshold=0.05,
    uses="counts",
    compute=_compute,
    description="chi-square test of homogeneity on the level counts",
)
