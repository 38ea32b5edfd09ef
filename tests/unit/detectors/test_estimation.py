"""Label-free performance estimation: calibration, expected metrics close to the realised ones."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, roc_auc_score

from detectors.estimation import (
    Calibration,
    PerformanceEstimator,
    expected_roc_auc,
    fit_calibration,
)


def calibrated_set(seed: int, n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(a, b, n)
    return (rng.random(n) < p).astype(int), p


@settings(max_examples=40, deadline=None)
@given(
    probs=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=25),
    data=st.data(),
)
def test_expected_roc_auc_equals_the_pairwise_definition(probs: list[float], data: st.DataObject) -> None:
    p = np.array(probs)
    s = np.array(data.draw(st.lists(st.integers(0, 5), min_size=p.size, max_size=p.size)), dtype=float)
    num = den = 0.0
    for i in range(p.size):
        for j in range(p.size):
            if i != j:
                w = p[i] * (1 - p[j])
                den += w
                num += w * (1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0)
    got = expected_roc_auc(p, s)
    if den <= 1e-12:
        assert np.isnan(got) or den > 0
    else:
        assert got == pytest.approx(num / den, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("method", ["isotonic", "platt"])
@pytest.mark.parametrize(("a", "b"), [(2.0, 2.0), (5.0, 1.0), (1.0, 3.0), (0.7, 0.7)])
def test_estimates_are_close_to_realised_under_covariate_shift(method: str, a: float, b: float) -> None:
    y_ref, p_ref = calibrated_set(0, 20_000, 2.0, 2.0)
    # Platt needs logit scores; isotonic takes any monotone transform (here p**3).
    transform = (lambda p: np.log(p / (1 - p))) if method == "platt" else (lambda p: p**3)
    threshold = 0.0 if method == "platt" else 0.125
    estimator = PerformanceEstimator.fit(
        y_ref, transform(np.clip(p_ref, 1e-9, 1 - 1e-9)), method=method, threshold=threshold
    )  # type: ignore[arg-type]
    errors_acc, errors_auc = [], []
    for seed in range(1, 6):
        y, p = calibrated_set(seed, 5000, a, b)
        s = transform(np.clip(p, 1e-9, 1 - 1e-9))
        acc = estimator.estimate(s, metric="accuracy")
        auc = estimator.estimate(s, metric="roc_auc")
        assert acc.estimated and auc.estimated and acc.n == 5000
        assert acc.ci_low <= acc.value <= acc.ci_high
        errors_acc.append(acc.value - accuracy_score(y, (s >= threshold).astype(int)))
        errors_auc.append(auc.value - roc_auc_score(y, s))
    assert abs(np.mean(errors_acc)) < 0.01 and max(map(abs, errors_acc)) < 0.03
    assert abs(np.mean(errors_auc)) < 0.015 and max(map(abs, errors_auc)) < 0.04


def test_reference_metrics_are_the_realised_ones() -> None:
    y, p = calibrated_set(3, 5000, 2.0, 2.0)
    estimator = PerformanceEstimator.fit(y, p)
    assert estimator.reference_accuracy == pytest.approx(accuracy_score(y, (p >= 0.5).astype(int)))
    assert estimator.reference_roc_auc == pytest.approx(roc_auc_score(y, p))


def test_scores_moving_to_the_uncertain_region_flag_an_estimated_drop() -> None:
    y, p = calibrated_set(4, 20_000, 2.0, 2.0)
    estimator = PerformanceEstimator.fit(y, p)
    _, uncertain = calibrated_set(5, 3000, 30.0, 30.0)
    result = estimator.estimate(uncertain, metric="accuracy")
    assert result.drift_detected and result.value < estimator.reference_accuracy - 0.1
    assert not estimator.estimate(uncertain, metric="accuracy", tolerance=0.5).drift_detected
    _, same = calibrated_set(6, 3000, 2.0, 2.0)
    assert not estimator.estimate(same, metric="accuracy").drift_detected
    assert not estimator.estimate(same, metric="roc_auc").drift_detected


def test_calibration_is_json_able_and_applies_with_numpy() -> None:
    y, p = calibrated_set(7, 4000, 2.0, 2.0)
    for method in ("isotonic", "platt"):
        cal = fit_calibration(y, p, method=method)  # type: ignore[arg-type]
        revived = Calibration(
            **{
                k: tuple(v) if isinstance(v, list) else v
                for k, v in json.loads(json.dumps(dataclasses.asdict(cal))).items()
            }
        )
        assert revived == cal
        probs = cal(np.linspace(-1, 2, 50))
        assert np.all((probs >= 0) & (probs <= 1)) and np.all(np.diff(probs) >= -1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fit_calibration([0, 1], [0.1, 0.2], method="beta"), "method must be one of"),  # type: ignore[arg-type]
        (lambda: fit_calibration([1, 1], [0.1, 0.2]), "both classes"),
        (lambda: fit_calibration([0, 1], [0.1]), "same length"),
        (lambda: fit_calibration([0, 1], [0.1, float("nan")]), "finite"),
    ],
)
def test_invalid_calibration_inputs(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_invalid_estimate_arguments() -> None:
    y, p = calibrated_set(8, 1000, 2.0, 2.0)
    estimator = PerformanceEstimator.fit(y, p)
    with pytest.raises(ValueError, match="metric must be one of"):
        estimator.estimate(p, metric="f1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tolerance must be"):
        estimator.estimate(p, tolerance=-1.0)
