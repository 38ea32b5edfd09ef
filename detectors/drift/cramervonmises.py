"""Two-sample Cramér-von Mises test (``"cramervonmises"``) on numeric samples."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special, stats

from detectors.drift._inputs import (
    FloatArray,
    as_sample,
    check_kinds,
    check_threshold,
    decided_result,
    undefined_result,
)
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "cramervonmises"


def _limiting_cdf(x: float) -> float:
    """CDF of the Cramér-von Mises statistic for infinite samples (Csörgő and Faraway 1996, eq. 1.3)."""
    if x <= 0.0:
        return 0.0
    total = 0.0
    for k in range(200):
        y = 4 * k + 1
        q = y * y / (16.0 * x)
        weight = math.exp(special.gammaln(k + 0.5) - special.gammaln(k + 1)) / (math.pi**1.5 * math.sqrt(x))
        term = weight * math.sqrt(y) * math.exp(-2.0 * q) * float(special.kve(0.25, q))
        total += term
        if abs(term) < 1e-12:
            break
    return min(max(total, 0.0), 1.0)


def _statistic_with_ties(ref: FloatArray, cur: FloatArray) -> float:
    """T from the two empirical CDFs evaluated at every pooled observation (valid with ties).

    Without ties it equals SciPy's rank formula; with ties SciPy's midrank formula is not
    the CvM criterion and gives spurious tiny p-values (e.g. two samples of one constant).
    """
    n, m = ref.size, cur.size
    pooled = np.concatenate([ref, cur])
    f_ref = np.searchsorted(np.sort(ref), pooled, side="right") / n
    f_cur = np.searchsorted(np.sort(cur), pooled, side="right") / m
    return float(n * m / (n + m) ** 2 * np.sum((f_ref - f_cur) ** 2))


def _asymptotic_p_value(t: float, n: int, m: int) -> float:
    """Anderson's (1962) standardisation of T, then the limiting distribution."""
    k, total = n * m, n + m
    mean = (1.0 + 1.0 / total) / 6.0
    variance = (total + 1) * (4 * k * total - 3 * (n * n + m * m) - 2 * k) / (45.0 * total * total * 4 * k)
    standardised = 1.0 / 6.0 + (t - mean) / math.sqrt(45.0 * variance)
    return min(max(1.0 - _limiting_cdf(standardised), 0.0), 1.0)


def cramervonmises_test(reference: Any, current: Any, *, threshold: float = 0.05) -> DriftTestResult:
    """Compare two numeric samples with the two-sample Cramér-von Mises test.

    Parameters
    ----------
    reference, current:
        1-D numeric samples; NaN and infinite values are dropped.
    threshold:
        Significance level in ``(0, 1)``; drift when ``p_value < threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic`` is the criterion :math:`T`. Without ties this is
        :func:`scipy.stats.cramervonmises_2samp` (exact p-value when both samples have at
        most 20 values, asymptotic otherwise). Undefined (NaN, no drift) when a side has
        fewer than 2 values.

    Notes
    -----
    :math:`T = \\frac{nm}{(n+m)^2} \\sum (F_{ref}(x) - F_{cur}(x))^2` over the pooled
    sample: a squared-CDF-distance test, more sensitive than KS to differences spread
    over the whole range.

    With tied values (discrete or rounded data, constant columns) SciPy's midrank
    formula is not this criterion and rejects almost always (a 3-valued column drawn
    twice from one distribution: p < 0.05 in every trial). There we compute :math:`T`
    from the empirical CDFs directly and take the asymptotic p-value (Anderson 1962,
    Csörgő and Faraway 1996), which is conservative under ties, as KS is.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> cramervonmises_test(rng.normal(size=300), rng.normal(0.5, size=300)).drift_detected
    True
    """
    level = check_threshold(METHOD, threshold, "p_value_below")
    ref = as_sample(reference, name="reference")
    cur = as_sample(current, name="current")
    if ref.size < 2 or cur.size < 2:
        return undefined_result(METHOD, "p_value_below", level)
    if np.unique(np.concatenate([ref, cur])).size < ref.size + cur.size:
        statistic = _statistic_with_ties(ref, cur)
        p_value = _asymptotic_p_value(statistic, ref.size, cur.size)
    else:
        res = stats.cramervonmises_2samp(ref, cur)
        statistic, p_value = float(res.statistic), float(res.pvalue)
    if not (math.isfinite(statistic) and math.isfinite(p_value)):
        return undefined_result(METHOD, "p_value_below", level)
    p_value = min(max(p_value, 0.0), 1.0)
    return decided_result(METHOD, "p_value_below", statistic, p_value, level)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, CRAMERVONMISES_TEST.column_kinds, reference, current)
    return cramervonmises_test(reference.sample, current.sample, threshold=threshold)


CRAMERVONMISES_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"numeric"}),
    decision="p_value_below",
    default_threshold=0.05,
    uses="sample",
    compute=_compute,
    description="two-sample Cramér-von Mises test on the reservoir samples",
)
