"""Jensen-Shannon distance (``"jensenshannon"``), base 2, on bin or level counts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from detectors.drift._inputs import check_kinds, check_threshold, decided_result, undefined_result
from detectors.drift._proportions import shares
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "jensenshannon"


def jensenshannon_test(
    reference_counts: Any, current_counts: Any, *, threshold: float = 0.1
) -> DriftTestResult:
    """Jensen-Shannon distance (base 2) between two count vectors over the same bins or levels.

    Parameters
    ----------
    reference_counts, current_counts:
        Counts per bin (numeric) or per level (categorical), same order, finite and ``>= 0``.
    threshold:
        Distance threshold in ``(0, 1]`` in practice; drift when ``statistic > threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic`` is the JS *distance* in ``[0, 1]`` (the square root of the
        divergence), equal to ``scipy.spatial.distance.jensenshannon(r, c, base=2)``;
        symmetric; ``p_value`` is ``None``. An empty side gives NaN and no drift.

    Notes
    -----
    .. math:: JS(r, c) = \\sqrt{\\tfrac12 D_2(r \\| m) + \\tfrac12 D_2(c \\| m)},
              \\quad m = \\tfrac12 (r + c)

    No smoothing is needed: :math:`m_i > 0` wherever :math:`r_i` or :math:`c_i` is.
    Evidently's legacy ``jensenshannon`` uses the natural log by default (a distance
    larger by :math:`\\sqrt{\\ln 2}`); ours is bounded by 1.

    Examples
    --------
    >>> round(jensenshannon_test([250, 250, 250, 250], [100, 200, 300, 400]).statistic, 4)
    0.2005
    """
    limit = check_threshold(METHOD, threshold, "statistic_above")
    pair = shares(reference_counts, current_counts)
    if pair is None:
        return undefined_result(METHOD, "statistic_above", limit)
    ref, cur = pair
    middle = (ref + cur) / 2.0
    divergence = (np.sum(special.rel_entr(ref, middle)) + np.sum(special.rel_entr(cur, middle))) / 2.0
    statistic = min(math.sqrt(max(float(divergence) / math.log(2.0), 0.0)), 1.0)
    return decided_result(METHOD, "statistic_above", statistic, None, limit)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, JENSENSHANNON_TEST.column_kinds, reference, current)
    return jensenshannon_test(reference.counts, current.counts, threshold=threshold)


JENSENSHANNON_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"numeric", "categorical"}),
    decision="statistic_above",
    default_threshold=0.1,
    uses="counts",
    compute=_compute,
    description="Jensen-Shannon distance (base 2) on profile bins or levels",
)
