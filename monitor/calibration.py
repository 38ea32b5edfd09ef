"""``driftwarden profile --calibrate``: turn a false-alarm budget into per-column thresholds.

The user says how often a healthy stream may raise a drift flag (``"1/week"``) and how often
a window closes (``"1h"``). This module turns that into a probability per window and per
column, asks :func:`detectors.calibration.calibrate_thresholds` for the thresholds, and
records them in the profile (``thresholds``) with an explanation (``extras.calibration``).

The budget, step by step (``docs/calibration.md`` says the same in plain words):

1. Alarm probability per window: ``rate * window interval``. One alarm a week with hourly
   windows is 168 windows a week, so ``1/168`` per window. The expected number of false
   alarms per week is then exactly the chosen rate.
2. A window is flagged when *any* column in the dataset rule (features and the prediction)
   crosses its threshold. The probability of the union is at most the sum of the columns'
   probabilities (Bonferroni), so each of the ``m`` columns gets ``1/m`` of the window's
   budget. This holds however correlated the columns are; with correlated columns the real
   rate is lower than the target.
3. Distance tests get the ``1 - alpha/m`` quantile of their bootstrap null distribution.
   p-value tests on features pass through the Benjamini-Hochberg step of the dataset rule,
   which under a healthy stream flags the window with probability at most the common
   threshold; so the ``k`` feature p-value tests share one threshold ``k * alpha / m``
   (their ``k`` shares of the budget). The prediction and the target are judged alone and get
   ``alpha / m``. The target is not in the dataset rule and does not count in ``m``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from detectors.calibration import CalibrationResult, calibrate_thresholds, planned_test
from detectors.profile import Profile
from monitor.durations import format_duration, parse_duration, parse_rate

logger = logging.getLogger(__name__)

__all__ = [
    "CalibrationBudget",
    "alarm_budget",
    "calibrate_profile",
    "calibration_mismatch",
    "calibration_record",
    "column_probabilities",
]

_WEEK_S = 604800.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationBudget:
    """Per-window and per-column alarm probabilities derived from a rate and a cadence.

    Attributes
    ----------
    window_probability:
        Probability that a healthy window is flagged (``rate * interval``).
    windows_per_week:
        Windows closing per week at this cadence.
    rule_columns:
        Columns whose flag makes the window flagged (features and the prediction).
    column_probability:
        Per column of the rule: ``window_probability / len(rule_columns)``.
    """

    window_probability: float
    windows_per_week: float
    rule_columns: tuple[str, ...]
    column_probability: float


def alarm_budget(profile: Profile, *, expected_false_alarms: str, window_every: str) -> CalibrationBudget:
    """Split a false-alarm rate into probabilities per window and per column.

    Parameters
    ----------
    profile:
        The profile whose features and prediction make up the dataset rule.
    expected_false_alarms:
        A rate such as ``"1/week"`` (see :func:`monitor.durations.parse_rate`), ``> 0``.
    window_every:
        How often a window closes, e.g. ``"1h"`` (see :func:`monitor.durations.parse_duration`).

    Raises
    ------
    ValueError
        When a value cannot be parsed, is zero, or allows one or more false alarms per window.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> cols = (SimpleNamespace(name="a", role="feature"), SimpleNamespace(name="b", role="feature"))
    >>> b = alarm_budget(SimpleNamespace(columns=cols), expected_false_alarms="1/week", window_every="1h")
    >>> round(1 / b.window_probability), round(1 / b.column_probability)
    (168, 336)
    """
    rate_s = parse_rate(expected_false_alarms)
    if rate_s <= 0:
        raise ValueError(f"expected false alarms must be more than zero, got {expected_false_alarms!r}")
    interval_s = parse_duration(window_every).total_seconds()
    if interval_s <= 0:
        raise ValueError(f"window interval must be longer than zero, got {window_every!r}")
    per_window = rate_s * interval_s
    if per_window >= 1.0:
        raise ValueError(
            f"expected false alarms {expected_false_alarms!r} with a window every {window_every!r} allows "
            f"{per_window:.3g} false alarms per window; it must be below 1 (choose a lower rate)"
        )
    rule = tuple(c.name for c in profile.columns if c.role in ("feature", "prediction"))
    return CalibrationBudget(
        window_probability=per_window,
        windows_per_week=_WEEK_S / interval_s,
        rule_columns=rule,
        column_probability=per_window / max(len(rule), 1),
    )


def column_probabilities(
    profile: Profile,
    budget: CalibrationBudget,
    *,
    window_rows: int,
    names: tuple[str, ...],
    methods: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """The threshold probability of each column (step 3 of the module docstring)."""
    alpha = budget.column_probability
    roles = {c.name: c.role for c in profile.columns}
    feature_p = [
        n
        for n in names
        if roles[n] == "feature"
        and planned_test(profile, n, window_rows, methods=methods).decision == "p_value_below"
    ]
    shared = min(len(feature_p) * alpha, budget.window_probability)
    return {n: (shared if n in feature_p else alpha) for n in names}


def calibrate_profile(
    profile: Profile,
    columns: Mapping[str, np.ndarray],
    *,
    window_rows: int,
    expected_false_alarms: str = "1/week",
    window_every: str = "1h",
    seed: int = 0,
    methods: Mapping[str, str] | None = None,
    max_draws: int = 1000,
    rows_per_second: float | None = None,
) -> Profile:
    """A copy of ``profile`` with thresholds calibrated for a healthy false-alarm rate.

    Parameters
    ----------
    profile, columns:
        The profile and the training table it was built from.
    window_rows:
        Rows per production window (the calibration is for this size only).
    expected_false_alarms, window_every:
        The budget and the window cadence (see :func:`alarm_budget`).
    seed:
        Bootstrap seed.
    methods:
        Drift test per column as configured in ``detectors.methods`` (default: the default policy).
    max_draws:
        Most bootstrap windows to draw.
    rows_per_second:
        Traffic rate of a row-count window; when given, a window closes every
        ``window_rows / rows_per_second`` seconds and ``window_every`` is ignored.

    Returns
    -------
    Profile
        With ``thresholds[col] = {"method", "threshold"}`` for every calibrated column (other
        existing entries kept) and ``extras["calibration"]`` describing the budget and the
        per-column null distributions.
    """
    if rows_per_second is not None:
        if not (math.isfinite(rows_per_second) and rows_per_second > 0):
            raise ValueError(f"rows per second must be a positive number, got {rows_per_second!r}")
        window_every = format_duration(timedelta(seconds=window_rows / rows_per_second))
    budget = alarm_budget(profile, expected_false_alarms=expected_false_alarms, window_every=window_every)
    names = tuple(c.name for c in profile.columns if c.name in columns)
    probs = column_probabilities(profile, budget, window_rows=window_rows, names=names, methods=methods)
    result = calibrate_thresholds(
        profile,
        columns,
        window_rows=window_rows,
        alarm_probability=probs,
        seed=seed,
        names=names,
        methods=methods,
        max_draws=max_draws,
    )
    for warning in result.warnings:
        logger.warning("calibration: %s", warning)
    logger.info(
        "calibrated columns=%d window_rows=%d draws=%d alarm_probability_per_window=%.3g",
        len(result.columns),
        window_rows,
        result.draws,
        budget.window_probability,
    )
    thresholds = {k: dict(v) for k, v in profile.thresholds.items()}
    thresholds.update(result.thresholds())
    extras = dict(profile.extras)
    extras["calibration"] = calibration_record(result, budget, expected_false_alarms, window_every)
    return profile.with_updates(thresholds=thresholds, extras=extras)


def calibration_record(
    result: CalibrationResult, budget: CalibrationBudget, expected_false_alarms: str, window_every: str
) -> dict[str, Any]:
    """The ``extras.calibration`` block of a calibrated profile (JSON-ready)."""
    doc = result.to_dict()
    doc.update(
        expected_false_alarms=expected_false_alarms,
        window_every=window_every,
        windows_per_week=budget.windows_per_week,
        alarm_probability_per_window=budget.window_probability,
        rule_columns=list(budget.rule_columns),
        alarm_probability_per_column=budget.column_probability,
        budget=(
            "alarm probability per window = rate x window interval; split equally over the "
            "features and prediction (Bonferroni: the window is flagged when any of them is); "
            "feature p-value tests share their parts through the Benjamini-Hochberg step"
        ),
    )
    return doc


def calibration_mismatch(profile: Profile, *, window_rows: int | None) -> str | None:
    """A one-line warning when a profile was calibrated for another window size, else ``None``.

    The daemon and ``replay`` can log it at start: calibrated thresholds only match the noise
    of the window size they were computed for. ``window_rows`` is ``None`` for time windows
    (whose size is not known in advance; nothing to compare).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> p = SimpleNamespace(extras={"calibration": {"window_rows": 5000}})
    >>> calibration_mismatch(p, window_rows=5000) is None
    True
    >>> calibration_mismatch(p, window_rows=500)
    'profile thresholds were calibrated for windows of 5000 rows, this monitor uses 500 rows: run profile --calibrate --window-rows 500'
    """
    block = profile.extras.get("calibration")
    if not isinstance(block, Mapping) or window_rows is None:
        return None
    calibrated = block.get("window_rows")
    if not isinstance(calibrated, int) or calibrated == window_rows:
        return None
    return (
        f"profile thresholds were calibrated for windows of {calibrated} rows, this monitor uses "
        f"{window_rows} rows: run profile --calibrate --window-rows {window_rows}"
    )
