"""``profile --calibrate``: the false-alarm budget, the profile it writes, and check/replay using it."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from detectors.evaluation import evaluate_window
from detectors.profile import Profile, build_profile
from monitor.calibration import alarm_budget, calibrate_profile, calibration_mismatch, column_probabilities
from monitor.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.synthetic import synthetic_frame  # noqa: E402


def columns_of(n: int, seed: int) -> dict[str, np.ndarray]:
    frame = synthetic_frame(n, seed=seed)
    return {c: frame[c].to_numpy() for c in frame.columns}


@pytest.fixture(scope="module")
def training() -> tuple[Profile, dict[str, np.ndarray]]:
    cols = columns_of(30_000, seed=1)
    profile = build_profile(
        cols, created_at="2026-01-01T00:00:00Z", target="y", prediction="pred", id_column="id", timestamp="ts"
    )
    return profile, cols


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# -- the budget ---------------------------------------------------------------------------------


def test_one_per_week_with_hourly_windows(training: tuple[Profile, dict[str, np.ndarray]]) -> None:
    profile, _ = training
    budget = alarm_budget(profile, expected_false_alarms="1/week", window_every="1h")
    assert budget.windows_per_week == pytest.approx(168.0)
    assert budget.window_probability == pytest.approx(1 / 168)
    # features age, income, city, flag and the prediction; the target is not in the dataset rule
    assert budget.rule_columns == ("age", "income", "city", "flag", "pred")
    assert budget.column_probability == pytest.approx(1 / 168 / 5)


def test_expected_alarms_per_period_equal_the_rate(training: tuple[Profile, dict[str, np.ndarray]]) -> None:
    profile, _ = training
    for rate, every, per_day in (("2/day", "30m", 2.0), ("3/30d", "4h", 0.1), ("1/hour", "5m", 24.0)):
        budget = alarm_budget(profile, expected_false_alarms=rate, window_every=every)
        windows_per_day = budget.windows_per_week / 7
        assert budget.window_probability * windows_per_day == pytest.approx(per_day)


@pytest.mark.parametrize(
    ("rate", "every", "message"),
    [
        ("0/week", "1h", "more than zero, got '0/week'"),
        ("often", "1h", "invalid rate 'often'"),
        ("1/week", "soon", "invalid duration 'soon'"),
        ("1/week", "0s", "longer than zero, got '0s'"),
        ("2/hour", "1h", "allows 2 false alarms per window; it must be below 1"),
    ],
)
def test_bad_budgets_are_rejected(
    training: tuple[Profile, dict[str, np.ndarray]], rate: str, every: str, message: str
) -> None:
    profile, _ = training
    with pytest.raises(ValueError) as info:
        alarm_budget(profile, expected_false_alarms=rate, window_every=every)
    assert message in str(info.value)


def test_feature_p_value_tests_share_their_budget(training: tuple[Profile, dict[str, np.ndarray]]) -> None:
    profile, _ = training
    budget = alarm_budget(profile, expected_false_alarms="1/day", window_every="1h")
    names = ("age", "income", "city", "flag", "y", "pred")
    small = column_probabilities(profile, budget, window_rows=500, names=names)
    alpha = budget.column_probability
    # four feature p-value tests go through Benjamini-Hochberg together: one shared level 4 * alpha
    assert small == pytest.approx(
        {
            "age": 4 * alpha,
            "income": 4 * alpha,
            "city": 4 * alpha,
            "flag": 4 * alpha,
            "y": alpha,
            "pred": alpha,
        }
    )
    large = column_probabilities(profile, budget, window_rows=5000, names=names)
    assert large == pytest.approx(dict.fromkeys(names, alpha))


# -- the calibrated profile -----------------------------------------------------------------------


def test_calibrated_profile_records_thresholds_and_explanation(
    training: tuple[Profile, dict[str, np.ndarray]],
) -> None:
    profile, cols = training
    profile = profile.with_updates(
        thresholds={"other": {"method": "psi", "threshold": 0.3}}, extras={"kept": 1}
    )
    out = calibrate_profile(
        profile, cols, window_rows=2000, expected_false_alarms="1/week", window_every="1h", seed=3
    )
    assert set(out.thresholds) == {"other", "age", "income", "city", "flag", "y", "pred"}
    assert dict(out.thresholds["other"]) == {"method": "psi", "threshold": 0.3}
    assert out.thresholds["age"]["method"] == "wasserstein"
    assert out.thresholds["city"]["method"] == "jensenshannon"
    doc = json.loads(json.dumps(out.to_dict(), allow_nan=False))
    cal = doc["extras"]["calibration"]
    assert doc["extras"]["kept"] == 1
    assert cal["window_rows"] == 2000 and cal["expected_false_alarms"] == "1/week"
    assert cal["alarm_probability_per_window"] == pytest.approx(1 / 168)
    assert cal["alarm_probability_per_column"] == pytest.approx(1 / 168 / 5)
    assert cal["draws"] == 1000
    age = cal["columns"]["age"]
    assert age["threshold"] == doc["thresholds"]["age"]["threshold"]
    assert age["basis"] == "exponential_tail"
    assert age["threshold"] >= age["null_quantiles"]["0.5"]
    # the profile round-trips through JSON with its calibration
    from detectors.profile import profile_from_dict

    again = profile_from_dict(doc)
    assert again.thresholds["age"]["threshold"] == out.thresholds["age"]["threshold"]


def test_mismatched_window_size_is_reported(training: tuple[Profile, dict[str, np.ndarray]]) -> None:
    profile, cols = training
    assert calibration_mismatch(profile, window_rows=2000) is None  # not calibrated
    calibrated = calibrate_profile(profile, cols, window_rows=1500, max_draws=200)
    assert calibration_mismatch(calibrated, window_rows=1500) is None
    assert calibration_mismatch(calibrated, window_rows=None) is None
    message = calibration_mismatch(calibrated, window_rows=6000)
    assert message is not None and "1500 rows" in message and "--window-rows 6000" in message


def test_rows_per_second_sets_the_cadence(training: tuple[Profile, dict[str, np.ndarray]]) -> None:
    profile, cols = training
    # 3000 rows at 5 rows/s: a window every 10 minutes, 1008 a week
    out = calibrate_profile(profile, cols, window_rows=3000, rows_per_second=5.0, max_draws=200)
    cal = out.extras["calibration"]
    assert cal["window_every"] == "10m"
    assert cal["windows_per_week"] == pytest.approx(1008.0)
    with pytest.raises(ValueError, match="rows per second must be a positive number, got 0.0"):
        calibrate_profile(profile, cols, window_rows=3000, rows_per_second=0.0)


def _healthy_dataset_alarms(profile: Profile, windows: int, rows: int, seed: int) -> int:
    flagged = 0
    for i in range(windows):
        sketch = profile.new_sketch()
        sketch.update(columns_of(rows, seed=seed + i))
        flagged += evaluate_window(profile, sketch).dataset_drift
    return flagged


@pytest.mark.parametrize(("window_rows", "windows"), [(2000, 150), (500, 200)])
def test_healthy_stream_respects_the_window_budget(
    training: tuple[Profile, dict[str, np.ndarray]], window_rows: int, windows: int
) -> None:
    # 1/hour with a window every 6 minutes: at most 0.1 flagged windows per window, dataset rule "any".
    profile, cols = training
    calibrated = calibrate_profile(
        profile, cols, window_rows=window_rows, expected_false_alarms="1/hour", window_every="6m", seed=0
    )
    flagged = _healthy_dataset_alarms(calibrated, windows, window_rows, seed=1000)
    assert flagged <= stats.binom.isf(1e-3, windows, 0.1)


def test_shifted_stream_is_flagged(training: tuple[Profile, dict[str, np.ndarray]]) -> None:
    profile, cols = training
    calibrated = calibrate_profile(profile, cols, window_rows=2000, expected_false_alarms="1/week", seed=0)
    for seed in range(5):
        frame = synthetic_frame(2000, seed=500 + seed, shift=3.0)  # age moves by 0.3 sd
        sketch = calibrated.new_sketch()
        sketch.update({c: frame[c].to_numpy() for c in frame.columns})
        result = evaluate_window(calibrated, sketch)
        assert result.features["age"].drift_detected
        assert result.features["age"].threshold == calibrated.thresholds["age"]["threshold"]


# -- the command line -----------------------------------------------------------------------------


def test_profile_calibrate_then_check_and_replay_use_the_thresholds(
    make_csv: Callable[..., Path], tmp_path: Path
) -> None:
    train = make_csv("train.csv", 20_000, seed=1)
    stream = make_csv("stream.csv", 4000, seed=2)
    prof = tmp_path / "profile.json"
    code, _, err = run(
        [
            "profile", str(train), "-o", str(prof), "--target", "y", "--prediction", "pred", "--id", "id",
            "--timestamp", "ts", "--calibrate", "--window-rows", "2000", "--expected-false-alarms", "2/week",
            "--window-every", "30m",
        ]
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(prof.read_text())
    thresholds = doc["thresholds"]
    assert {thresholds[c]["method"] for c in ("age", "income")} == {"wasserstein"}
    assert doc["extras"]["calibration"]["alarm_probability_per_window"] == pytest.approx(2 / 336)
    assert all(t["threshold"] != 0.1 for t in thresholds.values())

    code, out, err = run(["check", "--profile", str(prof), str(stream), "--format", "json"])
    assert code == 0, err
    result = json.loads(out)
    for name, feature in result["features"].items():
        assert feature["method"] == thresholds[name]["method"]
        assert feature["threshold"] == pytest.approx(thresholds[name]["threshold"])
    assert result["prediction"]["threshold"] == pytest.approx(thresholds["pred"]["threshold"])

    code, out, err = run(["replay", "--profile", str(prof), str(stream), "--window-rows", "2000"])
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(lines) == 2
    for line in lines:
        for name, feature in line["features"].items():
            assert feature["threshold"] == pytest.approx(thresholds[name]["threshold"])


def test_calibrate_without_window_rows_is_one_line_exit_2(
    make_csv: Callable[..., Path], tmp_path: Path
) -> None:
    train = make_csv("train.csv", 500)
    prof = tmp_path / "p.json"
    code, out, err = run(["profile", str(train), "-o", str(prof), "--calibrate"])
    assert code == 2
    assert err.count("\n") == 1 and "--window-rows" in err
    assert "Traceback" not in err and not prof.exists()


def test_calibrate_with_a_bad_rate_is_one_line_exit_2(make_csv: Callable[..., Path], tmp_path: Path) -> None:
    train = make_csv("train.csv", 500)
    prof = tmp_path / "p.json"
    code, _, err = run(
        [
            "profile",
            str(train),
            "-o",
            str(prof),
            "--calibrate",
            "--window-rows",
            "100",
            "--expected-false-alarms",
            "x",
        ]
    )
    assert code == 2
    assert err.count("\n") == 1 and "invalid rate 'x'" in err
    assert not prof.exists()
