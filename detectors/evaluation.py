"""Evaluate a window sketch against a profile: drift per column, dataset verdict, quality."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from detectors.drift.base import ColumnSummary, DriftTest
from detectors.drift.registry import default_drift_test, get_drift_test
from detectors.multiple_testing import benjamini_hochberg
from detectors.profile import ColumnProfile, Profile, drift_bins
from detectors.quality import QualityIssue, QualityThresholds, check_quality
from detectors.result import (
    ColumnDrift,
    ConceptVerdict,
    DriftRule,
    PerformanceVerdict,
    WindowInfo,
    WindowResult,
)
from detectors.sketch import WindowSketch


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationSettings:
    """How a window is judged.

    methods, thresholds:
        Per-column overrides of the drift test and its threshold (column -> name / value);
        the key ``"*"`` sets every column.
    drift_rule:
        ``"any"``: the dataset drifted when any feature (after Benjamini-Hochberg control of the
        p-value tests), the prediction, performance or concept signal drifted. ``"share"``: when
        the share of drifted features is at least ``drift_share``.
    fdr_alpha:
        False-discovery rate for the Benjamini-Hochberg step over p-value tests.
    """

    methods: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    drift_rule: DriftRule = "any"
    drift_share: float = 0.5
    fdr_alpha: float = 0.05
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    disabled_checks: frozenset[str] = frozenset()
    small_sample_rows: int = 1000
    multivariate: tuple[str, ...] = ()
    min_values: int = 5  # fewer values than this in a window: statistic reported, no drift verdict
    p_value_threshold: float | None = None  # from a false-alarm budget; explicit thresholds win

    def __post_init__(self) -> None:
        if self.drift_rule not in ("any", "share"):
            raise ValueError(f"drift_rule must be 'any' or 'share', got {self.drift_rule!r}")
        if not 0.0 < self.drift_share <= 1.0:
            raise ValueError(f"drift_share must be in (0, 1], got {self.drift_share!r}")
        if not 0.0 < self.fdr_alpha < 1.0:
            raise ValueError(f"fdr_alpha must be in (0, 1), got {self.fdr_alpha!r}")
        for col, name in self.methods.items():
            get_drift_test(name)  # raises with the list of available tests
            del col


def current_summary(sketch: WindowSketch, col: ColumnProfile) -> ColumnSummary:
    """The current side of a drift test for one column of a window."""
    acc = sketch.columns[col.name]
    vals = sketch.sample.values[col.name]
    if col.type == "numeric":
        sample = vals[~np.isnan(vals)]
    else:
        sample = np.array([v for v in vals.tolist() if v is not None], dtype=object)
    n = acc.n
    counts, edges = drift_bins(acc.counts.copy(), col.edges if col.type == "numeric" else None)
    return ColumnSummary(
        kind=col.type,
        counts=counts,
        edges=edges,
        sample=sample,
        n=n,
        minimum=acc.minimum if n else math.nan,
        maximum=acc.maximum if n else math.nan,
        mean=acc.mean,
        std=acc.std,
    )


def choose_test(
    profile: Profile, col: ColumnProfile, n_current: int, settings: EvaluationSettings
) -> tuple[DriftTest, float]:
    """The drift test and threshold for a column: override, else calibrated, else the default policy."""
    calibrated = profile.thresholds.get(col.name)
    name = settings.methods.get(col.name) or settings.methods.get("*")
    if name is None and calibrated is not None and n_current > settings.small_sample_rows:
        name = str(calibrated["method"])
    n_levels = sum(1 for c in col.counts if c > 0) if col.type == "categorical" else None
    test = get_drift_test(name) if name else default_drift_test(col.type, col.n, n_current, n_levels=n_levels)
    if col.type not in test.column_kinds:
        test = default_drift_test(col.type, col.n, n_current, n_levels=n_levels)
    threshold = settings.thresholds.get(col.name, settings.thresholds.get("*"))
    if threshold is None and calibrated is not None and str(calibrated.get("method")) == test.name:
        threshold = float(calibrated["threshold"])
    if threshold is None and settings.p_value_threshold is not None and test.decision == "p_value_below":
        threshold = settings.p_value_threshold
    return test, float(test.default_threshold if threshold is None else threshold)


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def drift_of_column(
    profile: Profile, sketch: WindowSketch, col: ColumnProfile, settings: EvaluationSettings, *, absent: bool
) -> ColumnDrift:
    """Run the chosen drift test for one column; never raises on data."""
    acc = sketch.columns[col.name]
    test, threshold = choose_test(profile, col, acc.n, settings)
    if absent or acc.n == 0:
        return ColumnDrift(
            name=col.name,
            type=col.type,
            method=test.name,
            statistic=None,
            p_value=None,
            threshold=threshold,
            drift_detected=False,
            n=acc.n,
            note="column missing from the data" if absent else "no values in the window",
        )
    ref = profile.reference_summary(col.name)
    cur = current_summary(sketch, col)
    try:
        r = test(ref, cur, threshold=threshold)
    except (ValueError, FloatingPointError, ZeroDivisionError) as exc:
        return ColumnDrift(
            name=col.name,
            type=col.type,
            method=test.name,
            statistic=None,
            p_value=None,
            threshold=threshold,
            drift_detected=False,
            n=acc.n,
            note=f"test failed: {exc}",
        )
    stat = _finite_or_none(r.statistic)
    p = _finite_or_none(r.p_value)
    too_few = acc.n < settings.min_values
    return ColumnDrift(
        name=col.name,
        type=col.type,
        method=r.method,
        statistic=stat,
        p_value=p,
        threshold=float(r.threshold),
        drift_detected=bool(r.drift_detected) and (stat is not None) and not too_few,
        n=acc.n,
        note=f"only {acc.n} values: no verdict" if too_few else "",
    )


def evaluate_window(
    profile: Profile,
    sketch: WindowSketch,
    *,
    settings: EvaluationSettings | None = None,
    window: WindowInfo | None = None,
    absent_columns: frozenset[str] | None = None,
    expected_rows: int | None = None,
    now: float | None = None,
    max_age_s: float | None = None,
    performance: PerformanceVerdict | None = None,
    concept: ConceptVerdict | None = None,
    extra_issues: tuple[QualityIssue, ...] = (),
) -> WindowResult:
    """Judge one window.

    Parameters
    ----------
    profile, sketch:
        Reference and window summaries (the sketch must be built from ``profile.new_sketch()``).
    settings:
        Methods, thresholds, the dataset rule and quality limits.
    window:
        Position of the window in the stream (``None`` for a one-off ``check``).
    absent_columns:
        Profiled columns absent from the data (for files); ``None`` infers absence from presence counts.
    performance, concept:
        Model-side verdicts computed by the caller from labels and per-row errors.
    """
    s = settings or EvaluationSettings()
    quality = check_quality(
        profile,
        sketch,
        thresholds=s.quality,
        absent_columns=absent_columns,
        expected_rows=expected_rows,
        now=now,
        max_age_s=max_age_s,
    ) + tuple(extra_issues)
    if s.disabled_checks:
        quality = tuple(i for i in quality if i.check not in s.disabled_checks)

    def is_absent(name: str) -> bool:
        if sketch.rows == 0:
            return False
        if absent_columns is not None:
            return name in absent_columns
        return sketch.columns[name].present == 0

    features: dict[str, ColumnDrift] = {}
    prediction: ColumnDrift | None = None
    target: ColumnDrift | None = None
    for col in profile.columns:
        absent = is_absent(col.name)
        if col.role == "feature":
            features[col.name] = drift_of_column(profile, sketch, col, s, absent=absent)
        elif col.role == "prediction" and not absent and sketch.columns[col.name].n > 0:
            prediction = drift_of_column(profile, sketch, col, s, absent=False)
        elif col.role == "target" and not absent and sketch.columns[col.name].n > 0:
            target = drift_of_column(profile, sketch, col, s, absent=False)
    dataset = _dataset_drift(features, prediction, performance, concept, s)
    multivariate = None
    if s.multivariate:
        from detectors.window_multivariate import multivariate_drift

        multivariate = multivariate_drift(profile, sketch, methods=s.multivariate)
        if s.drift_rule == "any" and any(r.drift_detected for r in multivariate.values()):
            dataset = True
    return WindowResult(
        rows=sketch.rows,
        features=MappingProxyType(features),
        prediction=prediction,
        target=target,
        performance=performance,
        concept=concept,
        quality=quality,
        dataset_drift=dataset,
        drift_rule=s.drift_rule,
        drift_share_threshold=s.drift_share,
        window=window,
        multivariate=multivariate,
    )


def _dataset_drift(
    features: Mapping[str, ColumnDrift],
    prediction: ColumnDrift | None,
    performance: PerformanceVerdict | None,
    concept: ConceptVerdict | None,
    s: EvaluationSettings,
) -> bool:
    if s.drift_rule == "share":
        share = sum(1 for f in features.values() if f.drift_detected) / len(features) if features else 0.0
        return share >= s.drift_share
    flagged = False
    p_tests = [f for f in features.values() if f.p_value is not None]
    if p_tests:
        # Benjamini-Hochberg over the p-value tests: a feature counts for the dataset verdict
        # only when its adjusted p-value is below its own threshold.
        bh = benjamini_hochberg([f.p_value for f in p_tests if f.p_value is not None], alpha=s.fdr_alpha)
        for f, adj in zip(p_tests, bh.adjusted_p_values, strict=True):
            if f.drift_detected and adj < f.threshold:
                flagged = True
    if any(f.drift_detected for f in features.values() if f.p_value is None):
        flagged = True
    if prediction is not None and prediction.drift_detected:
        flagged = True
    if performance is not None and performance.drift_detected:
        flagged = True
    if concept is not None and concept.drift_detected:
        flagged = True
    return flagged
