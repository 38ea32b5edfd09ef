"""Per-window model performance and concept drift from the prediction and target columns.

Performance is computed from the window's row-aligned sample (every row for windows up to the
sample size, a uniform sample beyond, with a confidence interval either way). Concept drift runs
streaming change detectors on the per-row error stream, in arrival order, across windows.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from detectors.concept import ConceptDriftMonitor, ConceptMonitorState
from detectors.estimation import Calibration, PerformanceEstimator
from detectors.performance import compare_performance, get_metric
from detectors.profile import Profile
from detectors.result import ConceptVerdict, PerformanceVerdict, WindowInfo
from detectors.sketch import WindowSketch
from detectors.values import normalize_levels, parse_numeric

logger = logging.getLogger(__name__)

PRIMARY_METRIC = {"classification": "accuracy", "regression": "mae"}
DEFAULT_TOLERANCE = {"accuracy": 0.02, "mae": 0.0}
MIN_LABELLED_ROWS = 30


def _labels(values: np.ndarray) -> np.ndarray:
    return normalize_levels(values)


def _present(levels: np.ndarray) -> np.ndarray:
    """Mask of level keys that are not missing (vectorised; ``normalize_levels`` uses ``None``)."""
    return np.asarray(levels != None, dtype=bool)  # noqa: E711 - element-wise on an object array


def positive_level(profile: Profile) -> str | None:
    """The positive class of a binary target: ``"1"``, ``"true"`` or ``"yes"`` if present, else the
    second level in sorted order; ``None`` when the target is not binary."""
    if profile.target is None:
        return None
    levels = sorted(profile.column(profile.target).levels)
    if len(levels) != 2:
        return None
    for cand in ("1", "true", "yes", "positive"):
        if cand in levels:
            return cand
    return levels[1]


def score_mode(profile: Profile) -> bool:
    """A binary classifier whose prediction column is a score in [0, 1] (class = score >= 0.5)."""
    if profile.task != "classification" or profile.prediction is None:
        return False
    col = profile.column(profile.prediction)
    return (
        col.type == "numeric"
        and positive_level(profile) is not None
        and math.isfinite(col.minimum)
        and col.minimum >= 0.0
        and col.maximum <= 1.0
    )


def _negative_level(profile: Profile, pos: str) -> str:
    assert profile.target is not None
    return next(lv for lv in profile.column(profile.target).levels if lv != pos)


def _pairs(
    profile: Profile, target: np.ndarray, prediction: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows where both target and prediction are present, as comparable arrays."""
    if profile.task == "classification" and score_mode(profile):
        pos = positive_level(profile)
        assert pos is not None
        t = _labels(target)
        s = parse_numeric(prediction).values
        ok = _present(t) & ~np.isnan(s)
        labels = np.where(s[ok] >= 0.5, pos, _negative_level(profile, pos))
        return t[ok].astype(str), labels.astype(str)
    if profile.task == "classification":
        t = _labels(target)
        p = _labels(prediction)
        ok = _present(t) & _present(p)
        return t[ok].astype(str), p[ok].astype(str)
    tv = parse_numeric(target).values
    pv = parse_numeric(prediction).values
    ok = ~np.isnan(tv) & ~np.isnan(pv)
    return tv[ok], pv[ok]


def reference_extras(profile: Profile, columns: Mapping[str, np.ndarray]) -> Profile:
    """Record the model's reference performance (from the training file's target and prediction)."""
    if profile.target is None or profile.prediction is None or profile.task is None:
        return profile
    if profile.target not in columns or profile.prediction not in columns:
        return profile
    t, p = _pairs(profile, np.asarray(columns[profile.target]), np.asarray(columns[profile.prediction]))
    if t.size == 0:
        return profile
    perf: dict[str, float] = {}
    if profile.task == "classification":
        perf["accuracy"] = float(np.mean(t == p))
        levels = [c for c in profile.column(profile.target).levels]
        if len(levels) == 2:
            pos = "1" if "1" in levels else levels[-1]
            tp = float(np.sum((t == pos) & (p == pos)))
            fp = float(np.sum((t != pos) & (p == pos)))
            fn = float(np.sum((t == pos) & (p != pos)))
            perf["precision"] = tp / (tp + fp) if tp + fp else 0.0
            perf["recall"] = tp / (tp + fn) if tp + fn else 0.0
            perf["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        if score_mode(profile):
            est = _fit_estimator(profile, columns)
            if est is not None:
                perf["roc_auc"] = est.reference_roc_auc
                extras = dict(profile.extras)
                extras["estimation"] = {
                    "calibration": dataclasses.asdict(est.calibration),
                    "threshold": est.threshold,
                    "reference_accuracy": est.reference_accuracy,
                    "reference_roc_auc": est.reference_roc_auc,
                    "positive": positive_level(profile),
                }
                profile = profile.with_updates(extras=MappingProxyType(extras))
    else:
        err = t - p
        perf["mae"] = float(np.mean(np.abs(err)))
        perf["rmse"] = float(np.sqrt(np.mean(err * err)))
        sst = float(np.sum((t - t.mean()) ** 2))
        perf["r2"] = 1.0 - float(np.sum(err * err)) / sst if sst > 0 else math.nan
    return profile.with_updates(reference_performance=MappingProxyType(perf))


def _fit_estimator(profile: Profile, columns: Mapping[str, np.ndarray]) -> PerformanceEstimator | None:
    assert profile.target is not None and profile.prediction is not None
    pos = positive_level(profile)
    t = _labels(np.asarray(columns[profile.target]))
    s = parse_numeric(np.asarray(columns[profile.prediction])).values
    ok = _present(t) & ~np.isnan(s)
    y = (t[ok] == pos).astype(int)
    if y.size < 100 or y.min() == y.max():
        return None
    try:
        return PerformanceEstimator.fit(y, s[ok])
    except ValueError as exc:
        logger.warning("performance estimator not fitted error=%s", exc)
        return None


def load_estimator(profile: Profile) -> PerformanceEstimator | None:
    """The label-free performance estimator recorded in a profile, if any."""
    doc = profile.extras.get("estimation")
    if not doc:
        return None
    cal = doc["calibration"]
    calibration = Calibration(
        method=cal["method"],
        x=tuple(float(v) for v in cal.get("x", ())),
        y=tuple(float(v) for v in cal.get("y", ())),
        a=float(cal.get("a", 0.0)),
        b=float(cal.get("b", 0.0)),
    )
    return PerformanceEstimator(
        calibration,
        threshold=float(doc.get("threshold", 0.5)),
        reference_accuracy=float(doc["reference_accuracy"]),
        reference_roc_auc=float(doc["reference_roc_auc"]),
    )


class ModelTracker:
    """Follows a monitor's labelled rows: performance per window, concept drift across windows.

    Parameters
    ----------
    profile:
        The training profile (target, prediction, task and reference performance).
    concept_method:
        A streaming detector name (``"adwin"``, ``"hddm_a"``, ...); ``None`` or ``"default"`` for the
        calm combination of :func:`detectors.concept.default_detectors`; ``"none"`` turns it off.
    tolerance:
        Acceptable absolute degradation of the primary metric before performance is flagged.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        concept_method: str | None = "adwin",
        tolerance: float | None = None,
    ) -> None:
        self.profile = profile
        self.enabled = (
            profile.target is not None and profile.prediction is not None and profile.task is not None
        )
        self.metric = PRIMARY_METRIC.get(profile.task or "", "accuracy")
        self.tolerance = DEFAULT_TOLERANCE.get(self.metric, 0.0) if tolerance is None else tolerance
        self.reference = profile.reference_performance.get(self.metric)
        self._labelled_since_verdict = 0
        self.estimator = load_estimator(profile) if self.enabled else None
        self.concept: ConceptDriftMonitor | None = None
        if self.enabled and concept_method != "none":
            scale = None
            if profile.task == "regression":
                mae = profile.reference_performance.get("mae")
                scale = mae if mae is not None and math.isfinite(mae) and mae > 0 else 1.0
            detectors = None if concept_method in (None, "default") else [concept_method]
            try:
                self.concept = ConceptDriftMonitor(
                    task=profile.task,  # type: ignore[arg-type]
                    error_scale=scale,
                    detectors=detectors,
                )
            except (ValueError, KeyError) as exc:
                logger.warning("concept detector not available method=%s error=%s", concept_method, exc)
                self.concept = ConceptDriftMonitor(task=profile.task, error_scale=scale)  # type: ignore[arg-type]

    def observe(self, columns: Mapping[str, np.ndarray], row_numbers: np.ndarray) -> None:
        """Feed the labelled rows of a chunk (in arrival order) to the concept detectors."""
        if not self.enabled or self.concept is None:
            return
        assert self.profile.target is not None and self.profile.prediction is not None
        if self.profile.target not in columns or self.profile.prediction not in columns:
            return
        t, p = _pairs(self.profile, np.asarray(columns[self.profile.target]), np.asarray(columns[self.profile.prediction]))
        if t.size == 0:
            return
        self.concept.update_many(t, p)
        self._labelled_since_verdict += int(t.size)

    def close_window(
        self, sketch: WindowSketch, info: WindowInfo | None, *, features_drifted: bool = False
    ) -> tuple[PerformanceVerdict | None, ConceptVerdict | None]:
        """Performance of the window (from its row sample) and the concept verdict since the last one."""
        return self.performance(sketch), self.concept_verdict(features_drifted=features_drifted)

    def performance(self, sketch: WindowSketch) -> PerformanceVerdict | None:
        if not self.enabled or self.reference is None or not math.isfinite(self.reference):
            return None
        assert self.profile.target is not None and self.profile.prediction is not None
        tgt = sketch.sample.values.get(self.profile.target)
        pred = sketch.sample.values.get(self.profile.prediction)
        if pred is None:
            return None
        if tgt is None:
            return self.estimated_performance(pred)
        t, p = _pairs(self.profile, tgt, pred)
        if t.size < MIN_LABELLED_ROWS:
            return self.estimated_performance(pred)
        metric = get_metric(self.metric)
        try:
            r = compare_performance(
                float(self.reference),
                t,
                p,
                metric=metric.name,
                tolerance=self.tolerance,
                n_resamples=300,
                seed=0,
                pos_label=t[0] if metric.kind == "label" else 1,
            )
        except ValueError as exc:
            logger.warning("performance not computed metric=%s error=%s", metric.name, exc)
            return None
        return PerformanceVerdict(
            metric=r.metric,
            value=r.value,
            reference=r.reference,
            drift_detected=r.drift_detected,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            n=r.n,
        )

    def estimated_performance(self, scores: np.ndarray) -> PerformanceVerdict | None:
        """Accuracy estimated from calibrated scores when a window has no labels (CBPE)."""
        if self.estimator is None:
            return None
        s = parse_numeric(scores).values
        s = s[~np.isnan(s)]
        if s.size < MIN_LABELLED_ROWS:
            return None
        r = self.estimator.estimate(s, metric="accuracy", tolerance=self.tolerance)
        return PerformanceVerdict(
            metric="estimated_accuracy",
            value=r.value,
            reference=r.reference,
            drift_detected=r.drift_detected,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            n=r.n,
            estimated=True,
        )

    def concept_verdict(self, *, features_drifted: bool) -> ConceptVerdict | None:
        if self.concept is None or self._labelled_since_verdict == 0:
            return None
        r = self.concept.result(features_drifted=features_drifted)
        self._labelled_since_verdict = 0
        return ConceptVerdict(method=r.method, drift_detected=r.drift_detected, detail=r.detail)

    def state(self) -> dict[str, Any]:
        if self.concept is None:
            return {}
        return {
            "concept": dataclasses.asdict(self.concept.snapshot()),
            "labelled_since_verdict": self._labelled_since_verdict,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        if self.concept is None or not state.get("concept"):
            return
        self.concept = ConceptDriftMonitor.from_state(ConceptMonitorState.from_dict(state["concept"]))
        self._labelled_since_verdict = int(state.get("labelled_since_verdict", 0))
