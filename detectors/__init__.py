"""driftwarden detectors: pure statistics, no I/O.

Profiles and mergeable window sketches, two-sample drift tests, data-quality checks,
streaming change detectors, model performance, concept drift, label-free estimation and
multivariate drift. Nothing here reads a clock, a file or a socket; results are frozen dataclasses.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names resolve lazily (PEP 562): importing ``detectors`` does not pull in scipy.stats or
# scikit-learn until a name that needs them is used, which keeps the CLI quick to start.
_EXPORTS: dict[str, str] = {
    "ADWIN": "detectors.streaming",
    "BHResult": "detectors.multiple_testing",
    "Calibration": "detectors.estimation",
    "ColumnDrift": "detectors.result",
    "ColumnProfile": "detectors.profile",
    "ColumnSpec": "detectors.sketch",
    "ColumnSummary": "detectors.drift",
    "ConceptDriftMonitor": "detectors.concept",
    "ConceptMonitorState": "detectors.concept",
    "ConceptResult": "detectors.concept",
    "ConceptVerdict": "detectors.result",
    "ConfusionCounts": "detectors.performance",
    "DDM": "detectors.streaming",
    "DRIFT_TESTS": "detectors.drift",
    "DetectorError": "detectors.errors",
    "DetectorState": "detectors.streaming",
    "DriftTest": "detectors.drift",
    "DriftTestResult": "detectors.drift",
    "EDDM": "detectors.streaming",
    "EvaluationSettings": "detectors.evaluation",
    "HDDM_A": "detectors.streaming",
    "KSWIN": "detectors.streaming",
    "METRICS": "detectors.performance",
    "MultivariateDriftResult": "detectors.multivariate",
    "PCAReconstructionDrift": "detectors.multivariate",
    "PageHinkley": "detectors.streaming",
    "PerformanceEstimator": "detectors.estimation",
    "PerformanceResult": "detectors.performance",
    "PerformanceVerdict": "detectors.result",
    "Profile": "detectors.profile",
    "ProfileError": "detectors.errors",
    "QualityIssue": "detectors.quality",
    "QualityThresholds": "detectors.quality",
    "RegressionSums": "detectors.performance",
    "STREAMING_DETECTORS": "detectors.streaming",
    "ScoreHistogram": "detectors.performance",
    "StreamingDetector": "detectors.streaming",
    "WindowInfo": "detectors.result",
    "WindowResult": "detectors.result",
    "WindowSketch": "detectors.sketch",
    "benjamini_hochberg": "detectors.multiple_testing",
    "build_profile": "detectors.profile",
    "check_quality": "detectors.quality",
    "compare_accumulated": "detectors.performance",
    "compare_performance": "detectors.performance",
    "default_drift_test": "detectors.drift",
    "domain_classifier_test": "detectors.multivariate",
    "evaluate_window": "detectors.evaluation",
    "fit_calibration": "detectors.estimation",
    "get_drift_test": "detectors.drift",
    "merge_sketches": "detectors.sketch",
    "multivariate_drift": "detectors.window_multivariate",
    "profile_from_dict": "detectors.profile",
    "proportion_ci": "detectors.performance",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'detectors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ADWIN",
    "DDM",
    "DRIFT_TESTS",
    "EDDM",
    "HDDM_A",
    "KSWIN",
    "METRICS",
    "STREAMING_DETECTORS",
    "BHResult",
    "Calibration",
    "ColumnDrift",
    "ColumnProfile",
    "ColumnSpec",
    "ColumnSummary",
    "ConceptDriftMonitor",
    "ConceptMonitorState",
    "ConceptResult",
    "ConceptVerdict",
    "ConfusionCounts",
    "DetectorError",
    "DetectorState",
    "DriftTest",
    "DriftTestResult",
    "EvaluationSettings",
    "MultivariateDriftResult",
    "PCAReconstructionDrift",
    "PageHinkley",
    "PerformanceEstimator",
    "PerformanceResult",
    "PerformanceVerdict",
    "Profile",
    "ProfileError",
    "QualityIssue",
    "QualityThresholds",
    "RegressionSums",
    "ScoreHistogram",
    "StreamingDetector",
    "WindowInfo",
    "WindowResult",
    "WindowSketch",
    "benjamini_hochberg",
    "build_profile",
    "check_quality",
    "compare_accumulated",
    "compare_performance",
    "default_drift_test",
    "domain_classifier_test",
    "evaluate_window",
    "fit_calibration",
    "get_drift_test",
    "merge_sketches",
    "multivariate_drift",
    "profile_from_dict",
    "proportion_ci",
]
