"""From the configuration tree to the detectors' evaluation settings."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

from detectors.evaluation import EvaluationSettings
from detectors.quality import QualityThresholds
from monitor.config import DetectorsConfig


def evaluation_settings(cfg: DetectorsConfig | None) -> EvaluationSettings:
    """Evaluation settings for a monitor's ``detectors`` table (defaults when ``None``)."""
    if cfg is None:
        return EvaluationSettings()
    q = QualityThresholds()
    qc = cfg.quality
    changes: dict[str, float] = {}
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
    return EvaluationSettings(
        methods=MappingProxyType(dict(cfg.methods)),
        thresholds=MappingProxyType({k: float(v) for k, v in cfg.thresholds.items()}),
        drift_rule=cfg.drift_rule,
        drift_share=cfg.drift_share,
        quality=q,
        disabled_checks=frozenset(qc.disabled),
    )
