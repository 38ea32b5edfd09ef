"""Hellinger distance (``"hellinger"``) on bin or level counts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.drift._inputs import check_kinds, check_threshold, decided_result, undefined_result
from detectors.drift._proportions import shares
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "hellinger"


def hellinger_test(reference_counts: Any, current_counts: Any, *, threshold: float = 0.1) -> DriftTestResult:
    """Hellinger distance between two count vectors over the same bins or levels.

    Parameters
    ----------
    reference_counts, current_counts:
        Counts per bin (numeric) or per level (categorical), same order, finite and ``>= 0``.
    threshold:
        Distance threshold ``> 0``; drift when ``statistic > threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic`` in ``[0, 1]``, symmetric; ``p_value`` is ``None``. An empty side
        gives NaN and no drift.

    Notes
    -----
    .. math:: H(r, c) = \\sqrt{1 - \\sum_i \\sqrt{r_i c_i}}
              = \\tfrac{1}{\\sqrt 2} \\lVert \\sqrt r - \\sqrt c \\rVert_2

    computed in the second form, which is exactly 0 for identical shares (the first
    loses about 1e-8 to rounding near 0). No smoothing is needed.

    Examples
    --------
    >>> round(hellinger_test([250, 250, 250, 250], [100, 200, 300, 400]).statistic, 4)
    0.1679
    """
    limit = check_threshold(METHOD, threshold, "statistic_above")
    pair = shares(reference_counts, current_counts)
    if pair is None:
        return undefined_result(METHOD, "statistic_above", limit)
    ref, cur = pair
    statistic = min(float(np.linalg.norm(np.sqrt(ref) - np.sqrt(cur))) / math.sqrt(2.0), 1.0)
    return decided_result(METHOD, "statistic_above", statistic, None, limit)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, HELLINGER_TEST.column_kinds, reference, current)
    return hellinger_test(reference.counts, current.counts, threshold=threshold)


HELLINGER_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"numeric", "categorical"}),
    decision="statistic_above",
    default_threshold=0.1,
    uses="counts",
    compute=_compute,
    description="Hellinger distance on profile bins or levels",
)
