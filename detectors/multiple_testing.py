"""Multiple-testing control across the columns of one window (Benjamini-Hochberg FDR)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True, kw_only=True)
class BHResult:
    """Outcome of the Benjamini-Hochberg procedure, in the order of the input p-values.

    Attributes
    ----------
    rejected:
        ``True`` where the null hypothesis (no drift) is rejected at false discovery rate ``alpha``.
    adjusted_p_values:
        BH-adjusted p-values (``q``-values): reject exactly where ``adjusted <= alpha``.
        NaN where the input was NaN.
    alpha:
        The false discovery rate the decisions control.
    """

    rejected: tuple[bool, ...]
    adjusted_p_values: tuple[float, ...]
    alpha: float

    def n_rejected(self) -> int:
        """How many hypotheses were rejected."""
        return sum(self.rejected)


def benjamini_hochberg(p_values: Sequence[float], *, alpha: float = 0.05) -> BHResult:
    """Control the false discovery rate of many drift p-values (Benjamini-Hochberg step-up).

    Parameters
    ----------
    p_values:
        One p-value per test, each in ``[0, 1]``, or NaN for a test that could not be
        computed (an empty column): NaN is never rejected and does not count in ``m``.
    alpha:
        False discovery rate in ``(0, 1)``.

    Returns
    -------
    BHResult
        Decisions and adjusted p-values in input order; the same adjusted values as
        :func:`scipy.stats.false_discovery_control` (``method="bh"``) on the non-NaN inputs.

    Notes
    -----
    With the :math:`m` p-values sorted, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`, reject
    :math:`H_{(1)}, \\dots, H_{(k)}` for the largest :math:`k` with
    :math:`p_{(k)} \\le k \\alpha / m`. The adjusted p-value is
    :math:`\\min_{j \\ge i} \\min(1, m\\, p_{(j)} / j)`. The FDR is controlled under
    independence or positive dependence of the tests.

    References
    ----------
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a
    practical and powerful approach to multiple testing. JRSS B 57(1), 289-300.

    Examples
    --------
    >>> result = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    >>> result.rejected, [round(p, 3) for p in result.adjusted_p_values]
    ((True, False, False, False), [0.04, 0.053, 0.053, 0.5])
    """
    level = float(alpha)
    if not 0.0 < level < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    values = np.asarray(p_values, dtype=np.float64).reshape(-1)
    known = ~np.isnan(values)
    if ((values[known] < 0.0) | (values[known] > 1.0)).any():
        bad = [float(v) for v in values[known] if not 0.0 <= v <= 1.0]
        raise ValueError(f"p-values must be in [0, 1] or NaN, got {bad[0]!r}")
    adjusted = np.full(values.shape, math.nan)
    observed = values[known]
    m = observed.size
    if m:
        order = np.argsort(observed, kind="stable")
        ranked = observed[order] * m / np.arange(1, m + 1)
        stepped = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
        restored = np.empty(m)
        restored[order] = stepped
        adjusted[known] = restored
    rejected = tuple(bool(known[i] and adjusted[i] <= level) for i in range(values.size))
    return BHResult(
        rejected=rejected,
        adjusted_p_values=tuple(float(v) for v in adjusted),
        alpha=level,
    )
