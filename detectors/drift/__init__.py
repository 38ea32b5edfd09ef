"""Two-sample drift tests: plain functions on arrays, and registered :class:`DriftTest` adapters.

Sample tests (p-values): ``ks``, ``anderson``, ``cramervonmises``. Count tests (p-values):
``chi2``, ``z``. Distances on counts: ``wasserstein``, ``psi``, ``jensenshannon``,
``hellinger``, ``kl``, ``tv``. See :mod:`detectors.drift.registry` for the default policy.
"""

from __future__ import annotations

from detectors.drift.anderson import ANDERSON_TEST, anderson_test
from detectors.drift.base import ColumnKind, ColumnSummary, Decision, DriftTest, DriftTestResult, InputKind
from detectors.drift.chi2 import CHI2_TEST, chi2_test
from detectors.drift.cramervonmises import CRAMERVONMISES_TEST, cramervonmises_test
from detectors.drift.hellinger import HELLINGER_TEST, hellinger_test
from detectors.drift.jensenshannon import JENSENSHANNON_TEST, jensenshannon_test
from detectors.drift.kl import KL_TEST, kl_test
from detectors.drift.ks import KS_TEST, ks_test
from detectors.drift.psi import PSI_TEST, psi_test
from detectors.drift.registry import (
    DRIFT_TESTS,
    SMALL_WINDOW_MAX,
    UnknownDriftTestError,
    default_drift_test,
    get_drift_test,
)
from detectors.drift.tv import TV_TEST, tv_test
from detectors.drift.wasserstein import (
    WASSERSTEIN_TEST,
    binned_wasserstein_distance,
    wasserstein_counts_test,
    wasserstein_scale,
    wasserstein_test,
)
from detectors.drift.z import Z_TEST, z_test

__all__ = [
    "ANDERSON_TEST",
    "CHI2_TEST",
    "CRAMERVONMISES_TEST",
    "DRIFT_TESTS",
    "HELLINGER_TEST",
    "JENSENSHANNON_TEST",
    "KL_TEST",
    "KS_TEST",
    "PSI_TEST",
    "SMALL_WINDOW_MAX",
    "TV_TEST",
    "WASSERSTEIN_TEST",
    "Z_TEST",
    "ColumnKind",
    "ColumnSummary",
    "Decision",
    "DriftTest",
    "DriftTestResult",
    "InputKind",
    "UnknownDriftTestError",
    "anderson_test",
    "binned_wasserstein_distance",
    "chi2_test",
    "cramervonmises_test",
    "default_drift_test",
    "get_drift_test",
    "hellinger_test",
    "jensenshannon_test",
    "kl_test",
    "ks_test",
    "psi_test",
    "tv_test",
    "wasserstein_counts_test",
    "wasserstein_scale",
    "wasserstein_test",
    "z_test",
]
