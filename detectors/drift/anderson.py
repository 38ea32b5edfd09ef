"""k-sample Anderson-Darling test (``"anderson"``) on two numeric samples."""

from __future__ import annotations

import inspect
import math
import warnings
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

METHOD = "anderson"

# SciPy 1.17 replaced ``midrank=True`` by ``variant="midrank"`` (same test); older versions lack it.
_VARIANT_KW: dict[str, str] = (
    {"variant": "midrank"} if "variant" in inspect.signature(stats.anderson_ksamp).parameters else {}
)


def anderson_test(reference: Any, current: Any, *, threshold: float = 0.05) -> DriftTestResult:
    """Compare two numeric samples with the k-sample Anderson-Darling test (k = 2).

    Parameters
    ----------
    reference, current:
        1-D numeric samples; NaN and infinite values are dropped.
    threshold:
        Significance level in ``(0, 1)``; drift when ``p_value < threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic`` is SciPy's normalised midrank statistic. The test is undefined
        (``statistic`` and ``p_value`` NaN, no drift) when a side is empty, when all
        pooled values are equal, or when there are fewer than 4 values in all.

    Notes
    -----
    The p-value is :func:`scipy.stats.anderson_ksamp`'s interpolation from tabulated
    critical values, floored at 0.001 and capped at 0.25. Both limits are far from the
    usual levels, so the decision is unaffected; SciPy's warnings about the capping
    are silenced.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> anderson_test(rng.normal(size=300), rng.normal(0.5, size=300)).p_value
    0.001
    """
    level = check_threshold(METHOD, threshold, "p_value_below")
    ref = as_sample(reference, name="reference")
    cur = as_sample(current, name="current")
    if ref.size == 0 or cur.size == 0 or ref.size + cur.size < 4:
        return undefined_result(METHOD, "p_value_below", level)
    first = ref[0]
    if (ref == first).all() and (cur == first).all():
        return undefined_result(METHOD, "p_value_below", level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.anderson_ksamp([ref, cur], **_VARIANT_KW)
    statistic, p_value = float(res.statistic), float(res.pvalue)
    if not (math.isfinite(statistic) and math.isfinite(p_value)):
        return undefined_result(METHOD, "p_value_below", level)
    return decided_result(METHOD, "p_value_below", statistic, p_value, level)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, ANDERSON_TEST.column_kinds, reference, current)
    return anderson_test(reference.sample, current.sample, threshold=threshold)


ANDERSON_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"numeric"}),
    decision="p_value_below",
    default_threshold=0.05,
    uses="sample",
    compute=_compute,
    description="k-sample Anderson-Darling test on the reservoir samples",
)
