"""Total variation distance (``"tv"``) on bin or level counts."""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.drift._inputs import check_kinds, check_threshold, decided_result, undefined_result
from detectors.drift._proportions import shares
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "tv"


def tv_test(reference_counts: Any, current_counts: Any, *, threshold: float = 0.1) -> DriftTestResult:
    """Total variation distance between two count vectors over the same bins or levels.

    Parameters
    ----------
    reference_counts, current_counts:
        Counts per bin (numeric) or per level (categorical), same order, finite and ``>= 0``.
    threshold:
        Distance threshold ``> 0``; drift when ``statistic > threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic`` in ``[0, 1]``: the largest difference in probability that the two
        distributions give to any set of bins; symmetric; ``p_value`` is ``None``. An
        empty side gives NaN and no drift.

    Notes
    -----
    .. math:: TV(r, c) = \\tfrac12 \\sum_i |r_i - c_i|

    Evidently's legacy ``TVD`` test reports a permutation p-value of this distance;
    ours reports the distance itself, which does not shrink towards "drift" as windows
    grow.

    Examples
    --------
    >>> round(tv_test([250, 250, 250, 250], [100, 200, 300, 400]).statistic, 4)
    0.2
    """
    limit = check_threshold(METHOD, threshold, "statistic_above")
    pair = shares(reference_counts, current_counts)
    if pair is None:
        return undefined_result(METHOD, "statistic_above", limit)
    ref, cur = pair
    statistic = min(float(0.5 * np.sum(np.abs(ref - cur))), 1.0)
    return decided_result(METHOD, "statistic_above", statistic, None, limit)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, TV_TEST.column_kinds, reference, current)
    return tv_test(reference.counts, current.counts, threshold=threshold)


TV_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"numeric", "categorical"}),
    decision="statistic_above",
    default_threshold=0.1,
    uses="counts",
    compute=_compute,
    description="total variation distance on profile bins or levels",
)
