"""Argument checks, array coercion and the decision rule shared by the drift tests.

Private to :mod:`detectors.drift`: siblings use the public functions of each test.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from detectors.drift.base import ColumnKind, ColumnSummary, Decision, DriftTestResult

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def check_threshold(method: str, threshold: float, decision: Decision) -> float:
    """Return ``threshold`` as a float, or raise ``ValueError`` naming the allowed range.

    p-value tests need a significance level in ``(0, 1)``; distances need a finite
    threshold ``> 0`` (zero would flag any difference at all, even rounding noise).
    """
    value = float(threshold)
    if decision == "p_value_below":
        if not 0.0 < value < 1.0:
            raise ValueError(f"{method}: threshold must be a p-value level in (0, 1), got {threshold!r}")
    elif not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{method}: threshold must be a finite distance > 0, got {threshold!r}")
    return value


def decide(decision: Decision, statistic: float, p_value: float | None, threshold: float) -> bool:
    """Apply a decision rule; undefined (NaN) values never signal drift.

    ``"p_value_below"``: drift when ``p_value < threshold``.
    ``"statistic_above"``: drift when ``statistic > threshold``.
    """
    if decision == "p_value_below":
        return p_value is not None and not math.isnan(p_value) and p_value < threshold
    return not math.isnan(statistic) and statistic > threshold


def decided_result(
    method: str, decision: Decision, statistic: float, p_value: float | None, threshold: float
) -> DriftTestResult:
    """The result of a test that ran: the verdict follows ``decision`` against ``threshold``."""
    return DriftTestResult(
        method=method,
        statistic=statistic,
        p_value=p_value,
        threshold=threshold,
        drift_detected=decide(decision, statistic, p_value, threshold),
    )


def undefined_result(method: str, decision: Decision, threshold: float) -> DriftTestResult:
    """The result for inputs on which the test is undefined (an empty side, too few values)."""
    return DriftTestResult(
        method=method,
        statistic=float("nan"),
        p_value=float("nan") if decision == "p_value_below" else None,
        threshold=threshold,
        drift_detected=False,
    )


def as_sample(values: Any, *, name: str) -> FloatArray:
    """A 1-D float64 copy of the finite values of ``values``; ``ValueError`` for other shapes.

    NaN and infinite values are dropped: they carry no position on the axis the tests
    compare, and data must never make a drift test raise (quality checks report them).
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of numbers, got shape {array.shape}")
    return array[np.isfinite(array)]


def as_counts(values: Any, *, name: str) -> FloatArray:
    """A 1-D float64 array of finite, non-negative counts; ``ValueError`` otherwise."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of counts, got shape {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{name} must hold finite counts >= 0")
    return array


def as_count_pair(reference: Any, current: Any) -> tuple[FloatArray, FloatArray]:
    """Both count vectors, checked to have the same length (the same bins or levels)."""
    ref = as_counts(reference, name="reference_counts")
    cur = as_counts(current, name="current_counts")
    if ref.shape != cur.shape:
        raise ValueError(
            f"reference_counts and current_counts must have the same length, got {ref.size} and {cur.size}"
        )
    return ref, cur


def check_kinds(
    method: str, allowed: frozenset[ColumnKind], reference: ColumnSummary, current: ColumnSummary
) -> None:
    """Raise ``ValueError`` when a summary's column kind is not one the test accepts."""
    for side, summary in (("reference", reference), ("current", current)):
        if summary.kind not in allowed:
            raise ValueError(
                f"{method}: {side} column kind {summary.kind!r} is not supported, allowed: {sorted(allowed)}"
            )
