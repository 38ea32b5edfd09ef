"""Population stability index (``"psi"``) on bin or level counts."""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.drift._inputs import check_kinds, check_threshold, decided_result, undefined_result
from detectors.drift._proportions import fill_zero_shares, shares
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "psi"


def psi_test(reference_counts: Any, current_counts: Any, *, threshold: float = 0.2) -> DriftTestResult:
    """Population stability index between two count vectors over the same bins or levels.

    Parameters
    ----------
    reference_counts, current_counts:
        Counts per bin (numeric, the profile's bins) or per level (categorical), same
        order, finite and ``>= 0``.
    threshold:
        Distance threshold ``> 0``; drift when ``statistic > threshold``. The usual
        reading: < 0.1 stable, 0.1-0.2 moderate shift, > 0.2 significant shift.

    Returns
    -------
    DriftTestResult
        ``statistic`` is the PSI (``>= 0``, symmetric), ``p_value`` is ``None``. An empty
        side gives NaN and no drift.

    Notes
    -----
    .. math:: PSI = \\sum_i (c_i - r_i) \\ln(c_i / r_i)

    with :math:`r_i, c_i` the reference and current shares. Empty bins are smoothed
    as in Evidently's legacy ``psi`` test: a zero share becomes ``1e-4`` (or the
    smallest non-empty share / 1e6 when that is ``<= 1e-4``), without renormalising.

    Examples
    --------
    >>> round(psi_test([250, 250, 250, 250], [100, 200, 300, 400]).statistic, 4)
    0.2282
    """
    limit = check_threshold(METHOD, threshold, "statistic_above")
    pair = shares(reference_counts, current_counts)
    if pair is None:
        return undefined_result(METHOD, "statistic_above", limit)
    ref, cur = fill_zero_shares(pair[0]), fill_zero_shares(pair[1])
    statistic = float(np.sum((cur - ref) * np.log(cur / ref)))
    return decided_result(METHOD, "statistic_above", statistic, None, limit)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, PSI_TEST.column_kinds, reference, current)
    return psi_test(reference.counts, current.counts, threshold=threshold)


PSI_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"numeric", "categorical"}),
    decision="statistic_above",
    default_threshold=0.2,
    uses="counts",
    compute=_compute,
    description="population stability index on profile bins or levels",
)
