"""driftwarden detectors: pure statistics, no I/O.

Profiles and mergeable window sketches, two-sample drift tests, data-quality checks,
streaming change detectors, model performance, concept drift, label-free estimation and
multivariate drift. Nothing here reads a clock, a file or a socket; results are frozen dataclasses.
"""

from detectors.concept import ConceptDriftMonitor, ConceptMonitorState, ConceptResult
from detectors.drift import (
    DRIFT_TESTS,
    ColumnSummary,
    DriftTest,
    DriftTestResult,
    default_drift_test,
    get_drift_test,
)
from detectors.errors import DetectorError, ProfileError
from detectors.estimation import Calibration, PerformanceEstimator, fit_calibration
from detectors.evaluation import EvaluationSettings, evaluate_window
from detectors.multiple_testing import BHResult, benjamini_hochberg
from detectors.multivariate import MultivariateDriftResult, PCAReconstructionDrift, domain_classifier_test
from detectors.performance import (
    METRICS,
    ConfusionCounts,
    PerformanceResult,
    RegressionSums,
    ScoreHistogram,
    compare_accumulated,
    compare_performance,
    proportion_ci,
)
from detectors.profile import ColumnProfile, Profile, build_profile, profile_from_dict
from detectors.quality import QualityIssue, QualityThresholds, check_quality
from detectors.result import ColumnDrift, ConceptVerdict, PerformanceVerdict, WindowInfo, WindowResult
from detectors.sketch import ColumnSpec, WindowSketch, merge_sketches
from detectors.streaming import (
    ADWIN,
    DDM,
    EDDM,
    HDDM_A,
    KSWIN,
    STREAMING_DETECTORS,
    DetectorState,
    PageHinkley,
    StreamingDetector,
)
from detectors.window_multivariate import multivariate_drift

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
