"""ConceptDriftMonitor: detection, the feature-drift rule, calm defaults, checkpoints."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from detectors.concept import ConceptDriftMonitor, ConceptMonitorState, ConceptResult
from detectors.streaming import ADWIN, KSWIN


def labels_with_error_rates(seed: int, rates: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = sum(k for k, _ in rates)
    y = rng.integers(0, 2, n)
    wrong = np.concatenate([rng.random(k) < r for k, r in rates])
    return y, np.where(wrong, 1 - y, y)


def test_error_rise_with_stable_features_is_concept_drift() -> None:
    y, pred = labels_with_error_rates(1, [(5000, 0.1), (5000, 0.3)])
    monitor = ConceptDriftMonitor()
    monitor.update_many(y[:5000], pred[:5000])
    calm = monitor.result(features_drifted=False)
    assert calm == ConceptResult(
        method="adwin+hddm_a",
        drift_detected=False,
        detail="no error change in 5000 rows (adwin+hddm_a)",
        detector_fired=None,
        position=None,
        error_drift_detected=False,
        rows=5000,
        error_rate=calm.error_rate,
    )
    assert calm.error_rate == pytest.approx(0.1, abs=0.015)
    monitor.update_many(y[5000:], pred[5000:])
    result = monitor.result(features_drifted=False)
    assert result.drift_detected and result.error_drift_detected
    assert result.detector_fired in ("adwin", "hddm_a") and result.method == result.detector_fired
    assert result.position is not None and 5000 <= result.position < 5400
    assert f"at row {result.position}" in result.detail and result.detector_fired in result.detail
    assert monitor.rows_seen == 10_000


def test_error_rise_with_drifted_features_is_not_concept_drift() -> None:
    y, pred = labels_with_error_rates(2, [(3000, 0.1), (3000, 0.4)])
    monitor = ConceptDriftMonitor()
    monitor.update_many(y, pred)
    result = monitor.result(features_drifted=True)
    assert result.error_drift_detected and not result.drift_detected
    assert "covariate shift" in result.detail


def test_result_starts_a_new_window() -> None:
    y, pred = labels_with_error_rates(3, [(3000, 0.1), (3000, 0.4), (3000, 0.4)])
    monitor = ConceptDriftMonitor()
    monitor.update_many(y[:6000], pred[:6000])
    assert monitor.result(features_drifted=False).drift_detected
    monitor.update_many(y[6000:], pred[6000:])
    later = monitor.result(features_drifted=False)
    assert later.rows == 3000 and not later.drift_detected


def test_regression_error_growth_is_detected() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(0, 5, 8000)
    noise = np.r_[rng.normal(0, 1, 4000), rng.normal(0, 2, 4000)]
    pred = y + noise
    reference_mae = float(np.mean(np.abs(noise[:4000])))
    monitor = ConceptDriftMonitor(task="regression", error_scale=reference_mae)
    monitor.update_many(y, pred)
    result = monitor.result(features_drifted=False)
    assert result.drift_detected and result.position is not None and 4000 <= result.position < 4300


@pytest.mark.parametrize(
    "rate", [0.2, pytest.param(0.05, marks=pytest.mark.slow), pytest.param(0.4, marks=pytest.mark.slow)]
)
def test_defaults_raise_at_most_one_false_alarm_in_200k_classification_rows(rate: float) -> None:
    y, pred = labels_with_error_rates(10, [(200_000, rate)])
    monitor = ConceptDriftMonitor()
    monitor.update_many(y, pred)
    assert monitor.n_detections <= 1


@pytest.mark.parametrize("dist", ["normal", pytest.param("exponential", marks=pytest.mark.slow)])
def test_defaults_raise_at_most_one_false_alarm_in_200k_regression_rows(dist: str) -> None:
    rng = np.random.default_rng(11)
    n = 200_000
    errors = rng.normal(0, 1, n) if dist == "normal" else rng.exponential(1.0, n) * rng.choice([-1, 1], n)
    y = rng.normal(0, 3, n)
    monitor = ConceptDriftMonitor(task="regression", error_scale=float(np.mean(np.abs(errors))))
    monitor.update_many(y, y + errors)
    assert monitor.n_detections <= 1


def test_checkpoint_round_trip_through_json_continues_identically() -> None:
    y, pred = labels_with_error_rates(5, [(3000, 0.1), (3000, 0.35)])
    a = ConceptDriftMonitor(detectors=["adwin", "ddm", KSWIN(seed=3)])
    a.update_many(y[:3100], pred[:3100])
    text = json.dumps(dataclasses.asdict(a.snapshot()))
    state = ConceptMonitorState.from_dict(json.loads(text))
    assert state == a.snapshot()
    b = ConceptDriftMonitor.from_state(state)
    a.update_many(y[3100:], pred[3100:])
    b.update_many(y[3100:], pred[3100:])
    assert a.result(features_drifted=False) == b.result(features_drifted=False)
    assert a.snapshot() == b.snapshot()


def test_custom_detectors_by_name_and_instance() -> None:
    monitor = ConceptDriftMonitor(detectors=["page_hinkley", ADWIN(delta=0.01)])
    assert monitor.methods == ("page_hinkley", "adwin")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "ranking"}, "task must be one of"),
        ({"task": "regression"}, "error_scale must be"),
        ({"task": "regression", "error_scale": 0.0}, "error_scale must be"),
        ({"error_scale": 1.0}, "error_scale applies to regression only"),
        ({"detectors": ["adwinn"]}, "detector must be one of .*adwin"),
        ({"detectors": []}, "at least one"),
        ({"task": "regression", "error_scale": 1.0, "detectors": ["ddm"]}, "need 0/1 errors"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConceptDriftMonitor(**kwargs)  # type: ignore[arg-type]


def test_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        ConceptDriftMonitor().update_many([1, 0], [1])
