"""Counts to shares, and the zero-share smoothing used by PSI and KL.

Private to :mod:`detectors.drift`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.drift._inputs import FloatArray, as_count_pair

#: Share given to an empty bin or level before taking logarithms (PSI, KL).
ZERO_SHARE = 1e-4
#: When the smallest non-empty share is itself <= ZERO_SHARE, empty bins get that share / ZERO_SHARE_DIVISOR.
ZERO_SHARE_DIVISOR = 1e6


def shares(reference_counts: Any, current_counts: Any) -> tuple[FloatArray, FloatArray] | None:
    """Checked count vectors as shares summing to 1, or ``None`` when either side is empty."""
    ref, cur = as_count_pair(reference_counts, current_counts)
    n_ref, n_cur = ref.sum(), cur.sum()
    if n_ref <= 0 or n_cur <= 0:
        return None
    return ref / n_ref, cur / n_cur


def fill_zero_shares(share: FloatArray) -> FloatArray:
    """Replace zero shares by a small positive share, as Evidently's legacy PSI/KL do.

    Empty bins get ``ZERO_SHARE`` (1e-4), or, when the smallest non-empty share is
    already ``<= 1e-4``, that smallest share divided by 1e6, so an empty bin always
    weighs less than any observed one. The result is not renormalised (the added mass
    is at most ``1e-4`` per empty bin). ``share`` must have a positive entry.
    """
    positive = share[share > 0]
    smallest = float(positive.min())
    fill = smallest / ZERO_SHARE_DIVISOR if smallest <= ZERO_SHARE else ZERO_SHARE
    return np.where(share > 0, share, fill)
