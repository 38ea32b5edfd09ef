"""Two-proportion z-test (``"z"``) on the share of one categorical level."""

from __future__ import annotations

import math
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

METHOD = "z"


def z_test(
    reference_counts: Any, current_counts: Any, *, threshold: float = 0.05, level: int | None = None
) -> DriftTestResult:
    """Test whether one level's share differs between reference and current (pooled z-test).

    Parameters
    ----------
    reference_counts, current_counts:
        Counts per level (same levels, same order), finite and ``>= 0``.
    threshold:
        Significance level in ``(0, 1)``; drift when ``p_value < threshold``.
    level:
        Index of the level whose share is tested. By default the most frequent
        reference level (the first one on ties). For a binary column either level
        gives the same ``|z|`` and p-value.

    Returns
    -------
    DriftTestResult
        ``statistic`` is :math:`z`, positive when the level's share grew in the
        current window; ``p_value`` is two-sided. When the pooled share is 0 or 1
        both sides agree exactly: ``statistic = 0``, ``p_value = 1``. An empty side is
        undefined (NaN, no drift).

    Notes
    -----
    .. math:: z = \\frac{\\hat p_{cur} - \\hat p_{ref}}
                       {\\sqrt{\\bar p (1 - \\bar p) (1/n_{ref} + 1/n_{cur})}},
              \\quad \\bar p = \\frac{x_{ref} + x_{cur}}{n_{ref} + n_{cur}}

    Examples
    --------
    >>> result = z_test([900, 100], [80, 20])
    >>> round(result.statistic, 3), round(result.p_value, 4)
    (-3.058, 0.0022)
    """
    alpha = check_threshold(METHOD, threshold, "p_value_below")
    ref, cur = as_count_pair(reference_counts, current_counts)
    if level is not None and not 0 <= level < ref.size:
        raise ValueError(f"z: level must be an index in [0, {ref.size}), got {level!r}")
    n_ref, n_cur = float(ref.sum()), float(cur.sum())
    if n_ref <= 0 or n_cur <= 0:
        return undefined_result(METHOD, "p_value_below", alpha)
    index = int(np.argmax(ref)) if level is None else level
    share_ref, share_cur = ref[index] / n_ref, cur[index] / n_cur
    pooled = (ref[index] + cur[index]) / (n_ref + n_cur)
    variance = pooled * (1.0 - pooled) * (1.0 / n_ref + 1.0 / n_cur)
    if variance <= 0.0:
        statistic, p_value = 0.0, 1.0
    else:
        statistic = float((share_cur - share_ref) / math.sqrt(variance))
        p_value = float(2.0 * stats.norm.sf(abs(statistic)))
    return decided_result(METHOD, "p_value_below", statistic, p_value, alpha)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, Z_TEST.column_kinds, reference, current)
    return z_test(reference.counts, current.counts, threshold=threshold)


Z_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"categorical"}),
    decision="p_value_below",
    default_threshold=0.05,
    uses="counts",
    compute=_compute,
    description="two-proportion z-test on the share of the most frequent reference level",
)
