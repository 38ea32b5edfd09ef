"""Kullback-Leibler divergence (``"kl"``) of the current distribution from the reference."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from detectors.drift._inputs import check_kinds, check_threshold, decided_result, undefined_result
from detectors.drift._proportions import fill_zero_shares, shares
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "kl"


def kl_test(reference_counts: Any, current_counts: Any, *, threshold: float = 0.1) -> DriftTestResult:
    """Kullback-Leibler divergence :math:`D(ref \\| cur)` between two count vectors, in nats.

    Parameters
    ----------
    reference_counts, current_counts:
        Counts per bin (numeric) or per level (categorical), same order, finite and ``>= 0``.
    threshold:
        Distance threshold ``> 0``; drift when ``statistic > threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic`` is the divergence (``>= 0``; not symmetric), ``p_value`` is ``None``.
        An empty side gives NaN and no drift.

    Notes
    -----
    .. math:: D(r \\| c) = \\sum_i r_i \\ln(r_i / c_i)

    Zero shares are smoothed on both sides exactly as for ``psi`` (``1e-4``, or the
    smallest non-empty share / 1e6), then both sides are renormalised to sum to 1,
    which is what Evidently's legacy ``kl_div`` computes through
    :func:`scipy.stats.entropy`. Without smoothing a level absent from the current
    window would make the divergence infinite.

    Examples
    --------
    >>> round(kl_test([250, 250, 250, 250], [100, 200, 300, 400]).statistic, 4)
    0.1218
    """
    limit = check_threshold(METHOD, threshold, "statistic_above")
    pair = shares(reference_counts, current_counts)
    if pair is None:
        return undefined_result(METHOD, "statistic_above", limit)
    ref, cur = fill_zero_shares(pair[0]), fill_zero_shares(pair[1])
    ref, cur = ref / ref.sum(), cur / cur.sum()
    statistic = max(float(np.sum(special.rel_entr(ref, cur))), 0.0)
    return decided_result(METHOD, "statistic_above", statistic, None, limit)


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, KL_TEST.column_kinds, reference, current)
    return kl_test(reference.counts, current.counts, threshold=threshold)


KL_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"numeric", "categorical"}),
    decision="statistic_above",
    default_threshold=0.1,
    uses="counts",
    compute=_compute,
    description="Kullback-Leibler divergence D(reference || current) on profile bins or levels",
)
