"""Shared vocabulary of the drift tests: column summaries in, a frozen result out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

ColumnKind = Literal["numeric", "categorical"]
Decision = Literal["p_value_below", "statistic_above"]
InputKind = Literal["sample", "counts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftTestResult:
    """Outcome of one two-sample drift test on one column.

    ``statistic`` is on the test's own scale; ``p_value`` is ``None`` for distances.
    ``drift_detected`` follows the test's ``decision`` rule against ``threshold``.
    """

    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drift_detected: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSummary:
    """What a drift test may look at for one column of one side (reference or current).

    Attributes
    ----------
    kind:
        ``"numeric"`` or ``"categorical"``.
    counts:
        Numeric: counts per bin of the profile's edges, ``len(edges) + 1`` bins
        (``(-inf, e0), [e0, e1), ..., [e_last, inf)``). Categorical: counts per
        profile level, in the profile's level order, plus a last "other" slot for
        levels not in the profile.
    edges:
        Numeric only: the profile's sorted, strictly increasing inner bin edges; else ``None``.
    sample:
        A uniform sample of the non-missing values (float64 for numeric, object/str
        array for categorical). When ``n`` is at most the reservoir size it holds
        every value, so sample tests are exact.
    n:
        Number of non-missing values summarised by ``counts``.
    minimum, maximum:
        Numeric only: observed extremes of the non-missing values (``nan`` when ``n == 0``).
    mean, std:
        Numeric only: moments of the non-missing values (``nan`` when undefined).
    """

    kind: ColumnKind
    counts: np.ndarray
    edges: np.ndarray | None
    sample: np.ndarray
    n: int
    minimum: float = float("nan")
    maximum: float = float("nan")
    mean: float = float("nan")
    std: float = float("nan")


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftTest:
    """A registered drift test: stable name, accepted column kinds, decision rule, default threshold."""

    name: str
    column_kinds: frozenset[ColumnKind]
    decision: Decision
    default_threshold: float
    uses: InputKind
    compute: Callable[[ColumnSummary, ColumnSummary, float], DriftTestResult]
    description: str = ""

    def __call__(
        self, reference: ColumnSummary, current: ColumnSummary, *, threshold: float | None = None
    ) -> DriftTestResult:
        t = self.default_threshold if threshold is None else float(threshold)
        return self.compute(reference, current, t)
