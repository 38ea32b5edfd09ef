"""Two-sample Cramér-von Mises test (``"cramervonmises"``) on numeric samples."""

from __future__ import annotations

import math
from typing import Any

from scipy import stats

from detectors.drift._inputs import as_sample, check_kinds, check_threshold, decide, undefined_result
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "cramervonmises"


def cramervonmises_test(reference: Any, current: Any, *, threshold: float = 0.05) -> DriftTestResult:
    """Compare two numeric samples with the two-sample Cramér-von Mises test.

    Parameters
    ----------
    reference, current:
        1-D numeric samples; NaNs are dropped.
    threshold:
        Significance level in ``(0, 1)``; drift when ``p_value < threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic`` is the criterion :math:`T` of :func:`scipy.stats.cramervonmises_2samp`
        (exact p-value for small samples, asymptotic otherwise). Undefined (NaN, no
        drift) when a side has fewer than 2 values.

    Notes
    -----
    :math:`T = \\frac{nm}{(n+m)^2} \\sum (F_{ref}(x) - F_{cur}(x))^2` over the pooled
    sample: a squared-CDF-distance test, more sensitive than KS to differences spread
    over the whole range.

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
    res = stats.cramervonmises_2samp(ref, cur)
    statistic, p_value = float(res.statistic), float(res.pvalue)
    if not (math.isfinite(statistic) and math.isfinite(p_value)):
        return undefined_result(METHOD, "p_value_below", level)
    p_value = min(max(p_value, 0.0), 1.0)
    return DriftTestResult(
        method=METHOD,
        statistic=statistic,
        p_value=p_value,
        threshold=level,
        drift_detected=decide("p_value_below", statistic, p_value, level),
    )


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
