"""From the configuration tree to the detectors' evaluation settings."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

from detectors.evaluation import EvaluationSettings
from detectors.quality import QualityThresholds
from monitor.config import DetectorsConfig


def evaluation_settings(
    cfg: DetectorsConfig | None, *, window_seconds: float | None = None, n_columns: int = 1
) -> EvaluationSettings:
    """Evaluation settings for a monitor's ``detectors`` table (defaults when ``None``).

    ``expected_false_alarms`` (a rate) becomes, for time windows of ``window_seconds``, the
    per-window alarm probability ``rate * window_seconds``, split over ``n_columns`` (Bonferroni):
    the level of the p-value tests. Distance thresholds need the training data to be calibrated:
    ``driftwarden profile --calibrate --expected-false-alarms ...`` records them in the profile.
    """
    if cfg is None:
        return EvaluationSettings()
    q = QualityThresholds()
    qc = cfg.quality
    changes: dict[str, Any] = {}
    if qc.missing_rate is not None:
        changes["missing_rate_increase"] = qc.missing_rate
    if qc.out_of_range is not None:
        changes["out_of_range_share"] = qc.out_of_range
    if qc.new_category is not None:
        changes["new_category_share"] = qc.new_category
    if qc.duplicate_rows is not None:
        changes["duplicate_increase"] = qc.duplicate_rows
    if qc.type_mismatch is not None:
        changes["type_mismatch_share"] = qc.type_mismatch
    if qc.volume_tolerance is not None:
        changes["volume_tolerance"] = qc.volume_tolerance
    if changes:
        q = replace(q, **changes)
    p_threshold = None
    if cfg.expected_false_alarms is not None and window_seconds:
        per_window = min(cfg.expected_false_alarms * window_seconds, 0.5)
        p_threshold = max(per_window / max(n_columns, 1), 1e-12)
    multivariate: tuple[str, ...] = ()
    if cfg.multivariate:
        from detectors.window_multivariate import MULTIVARIATE_METHODS

        multivariate = MULTIVARIATE_METHODS
    return EvaluationSettings(
        multivariate=multivariate,
        p_value_threshold=p_threshold,
        methods=MappingProxyType(dict(cfg.methods)),
        thresholds=MappingProxyType({k: float(v) for k, v in cfg.thresholds.items()}),
        drift_rule=cfg.drift_rule,
        drift_share=cfg.drift_share,
        quality=q,
        disabled_checks=frozenset(qc.disabled),
    )
