"""Two-sample Kolmogorov-Smirnov test (``"ks"``) on numeric samples."""

from __future__ import annotations

from typing import Any

from scipy import stats

from detectors.drift._inputs import (
    as_sample,
    check_kinds,
    check_threshold,
    decided_result,
    undefined_result,
)
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "ks"


def ks_test(reference: Any, current: Any, *, threshold: float = 0.05) -> DriftTestResult:
    """Compare two numeric samples with the two-sided two-sample Kolmogorov-Smirnov test.

    Parameters
    ----------
    reference, current:
        1-D numeric samples; NaN and infinite values are dropped.
    threshold:
        Significance level in ``(0, 1)``; drift when ``p_value < threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic`` is the largest distance between the two empirical CDFs, in ``[0, 1]``.
        An empty side gives ``statistic`` and ``p_value`` NaN and no drift.

    Notes
    -----
    :math:`D = \\sup_x |F_{ref}(x) - F_{cur}(x)|`, p-value from :func:`scipy.stats.ks_2samp`
    (exact for small samples, asymptotic otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> result = ks_test(rng.normal(size=500), rng.normal(0.3, size=500))
    >>> result.drift_detected, round(result.statistic, 3)
    (True, 0.212)
    """
    level = check_threshold(METHOD, threshold, "p_value_below")
    ref = as_sample(reference, name="reference")
    cur = as_sample(current, name="current")
    if ref.size == 0 or cur.size == 0:
        return undefined_result(METHOD, "p_value_below", level)
    res = stats.ks_2samp(ref, cur)
    statistic, p_value = float(res.statistic), float(res.pvalue)
    return decided_result(METHOD, "p_value_below", statistic, p_value, level)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, KS_TEST.column_kinds, reference, current)
    return ks_test(reference.sample, current.sample, threshold=threshold)


KS_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"numeric"}),
    decision="p_value_below",
    default_threshold=0.05,
    uses="sample",
    compute=_compute,
    description="two-sample Kolmogorov-Smirnov test on the reservoir samples",
)
