"""Unit tests of the data-quality checks: each fires on a crafted window, none on healthy data."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.evaluation import evaluate_window
from detectors.profile import Profile, build_profile
from detectors.quality import CHECKS, QualityIssue, QualityThresholds, check_quality, issues_by_column
from detectors.sketch import WindowSketch

N = 5000


def columns(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.uniform(0.0, 100.0, n),
        "c": rng.choice(np.array(["a", "b", "c"], dtype=object), n),
        "y": rng.integers(0, 2, n),
    }


@pytest.fixture(scope="module")
def profile() -> Profile:
    return build_profile(columns(N, 0), created_at="t", target="y")


def window(profile: Profile, cols: dict[str, np.ndarray], **kw: object) -> WindowSketch:
    sk = profile.new_sketch()
    sk.update(cols, first_row=0, **kw)  # type: ignore[arg-type]
    return sk


def only(issues: tuple[QualityIssue, ...], check: str) -> QualityIssue:
    found = [i for i in issues if i.check == check]
    assert len(found) == 1, issues
    return found[0]


def test_healthy_window_has_no_issues(profile: Profile) -> None:
    sk = window(profile, columns(2000, 1), event_times=np.linspace(0.0, 3600.0, 2000))
    assert check_quality(profile, sk, expected_rows=2000, now=3600.0, max_age_s=600.0) == ()


def test_checks_list_is_complete() -> None:
    assert set(CHECKS) >= {
        "missing_column",
        "unexpected_column",
        "type_mismatch",
        "malformed_rows",
        "missing_rate",
        "out_of_range",
        "new_category",
        "constant_column",
        "duplicate_rows",
        "volume",
        "freshness",
    }


def test_missing_column_but_not_a_missing_target(profile: Profile) -> None:
    cols = columns(500, 1)
    del cols["c"], cols["y"]
    issues = check_quality(profile, window(profile, cols))
    i = only(issues, "missing_column")
    assert (i.column, i.severity) == ("c", "critical")
    assert [x.check for x in issues] == ["missing_column"]
    # with an explicit list of absent columns (files) the verdict is the same
    assert check_quality(profile, window(profile, cols), absent_columns=frozenset({"c", "y"})) == issues


def test_unexpected_column(profile: Profile) -> None:
    cols = {**columns(500, 1), "extra": np.zeros(500)}
    i = only(check_quality(profile, window(profile, cols)), "unexpected_column")
    assert (i.column, i.value, i.severity) == ("extra", 500.0, "warning")


@pytest.mark.parametrize(("bad", "severity"), [(10, "warning"), (100, "critical")])
def test_type_mismatch(profile: Profile, bad: int, severity: str) -> None:
    cols = columns(1000, 1)
    x = cols["x"].astype(object)
    x[:bad] = "n/a"
    cols["x"] = x
    issues = check_quality(profile, window(profile, cols))
    i = only(issues, "type_mismatch")
    assert (i.column, i.value, i.severity) == ("x", bad / 1000, severity)


@pytest.mark.parametrize(("bad", "severity"), [(3, "warning"), (200, "critical")])
def test_malformed_rows(profile: Profile, bad: int, severity: str) -> None:
    sk = window(profile, columns(1000, 1))
    sk.malformed_rows = bad
    i = only(check_quality(profile, sk), "malformed_rows")
    assert (i.column, i.value, i.severity) == (None, float(bad), severity)


@pytest.mark.parametrize(("share", "severity"), [(0.04, None), (0.10, "warning"), (0.40, "critical")])
def test_missing_rate(profile: Profile, share: float, severity: str | None) -> None:
    cols = columns(1000, 1)
    x = cols["x"].copy()
    x[: int(share * 1000)] = np.nan
    cols["x"] = x
    issues = [i for i in check_quality(profile, window(profile, cols)) if i.check == "missing_rate"]
    if severity is None:
        assert issues == []
    else:
        assert len(issues) == 1
        assert (issues[0].column, issues[0].value, issues[0].severity) == (
            "x",
            pytest.approx(share),
            severity,
        )
        assert issues[0].threshold == pytest.approx(0.05)


def test_missing_rate_change_with_the_same_distribution_is_quality_not_drift(profile: Profile) -> None:
    cols = columns(4000, 2)
    x = cols["x"].copy()
    x[::3] = np.nan  # a third missing, the rest drawn from the training distribution
    cols["x"] = x
    result = evaluate_window(profile, window(profile, cols))
    assert not result.features["x"].drift_detected
    i = only(result.quality, "missing_rate")
    assert i.value == pytest.approx(1334 / 4000)
    assert i.severity == "critical"


def test_out_of_range_counts_exactly(profile: Profile) -> None:
    col = profile.column("x")
    x = np.full(1000, 50.0)
    x[:500] = np.linspace(col.minimum, col.maximum, 500)  # the training extremes are in range
    x[500:530] = col.maximum + 1.0
    x[530:550] = col.minimum - 1e-9
    rng = np.random.default_rng(4)
    x[550:] = rng.uniform(10, 90, 450)
    issues = check_quality(profile, window(profile, {"x": x, "c": columns(1000, 1)["c"]}))
    i = only(issues, "out_of_range")
    assert i.value == pytest.approx(50 / 1000)
    assert i.severity == "warning"
    assert "50 values outside" in i.detail
    assert i.threshold == pytest.approx(0.01 + 2.0 / (N + 1))


def test_in_range_extremes_are_not_out_of_range(profile: Profile) -> None:
    col = profile.column("x")
    x = np.concatenate([np.full(10, col.minimum), np.full(10, col.maximum), np.linspace(1, 99, 80)])
    assert not [i for i in check_quality(profile, window(profile, {"x": x})) if i.check == "out_of_range"]


def test_new_category(profile: Profile) -> None:
    c = columns(1000, 1)["c"].copy()
    c[:100] = "zz"
    c[100:103] = "qq"
    i = only(check_quality(profile, window(profile, {"x": columns(1000, 1)["x"], "c": c})), "new_category")
    assert (i.column, i.value, i.severity) == ("c", pytest.approx(0.103), "critical")
    assert "'zz' (100)" in i.detail and "'qq' (3)" in i.detail


def test_no_new_category_issue_when_the_profile_truncated_levels() -> None:
    p = build_profile(columns(N, 0), created_at="t", max_levels=2)
    assert p.column("c").levels_truncated
    assert not [i for i in check_quality(p, window(p, columns(500, 1))) if i.check == "new_category"]


def test_constant_column(profile: Profile) -> None:
    cols = {"x": np.full(25, 42.0), "c": np.array(["b"] * 25, dtype=object)}
    issues = check_quality(profile, window(profile, cols))
    const = sorted(i.column for i in issues if i.check == "constant_column")
    assert const == ["c", "x"]
    small = {"x": np.full(19, 42.0), "c": np.array(["b"] * 19, dtype=object)}
    assert not [i for i in check_quality(profile, window(profile, small)) if i.check == "constant_column"]


def test_duplicate_rows(profile: Profile) -> None:
    base = columns(100, 1)
    cols = {k: np.concatenate([v] * 10) for k, v in base.items()}
    i = only(check_quality(profile, window(profile, cols)), "duplicate_rows")
    assert i.value == pytest.approx(0.9)
    assert i.severity == "critical"


@pytest.mark.parametrize(("bad", "severity"), [(1, "warning"), (100, "critical")])
def test_non_finite(profile: Profile, bad: int, severity: str) -> None:
    cols = columns(1000, 1)
    x = cols["x"].copy()
    x[:bad] = np.inf
    cols["x"] = x
    i = only(check_quality(profile, window(profile, cols)), "non_finite")
    assert (i.column, i.value, i.severity) == ("x", bad / 1000, severity)


@pytest.mark.parametrize(
    ("rows", "severity"), [(1000, None), (1400, None), (400, "warning"), (50, "critical")]
)
def test_volume(profile: Profile, rows: int, severity: str | None) -> None:
    issues = [
        i
        for i in check_quality(profile, window(profile, columns(rows, 1)), expected_rows=1000)
        if i.check == "volume"
    ]
    if severity is None:
        assert issues == []
    else:
        assert [(i.value, i.threshold, i.severity) for i in issues] == [(float(rows), 1000.0, severity)]


def test_freshness(profile: Profile) -> None:
    sk = window(profile, columns(100, 1), event_times=np.linspace(0.0, 100.0, 100))
    assert not check_quality(profile, sk, now=150.0, max_age_s=60.0)
    i = only(check_quality(profile, sk, now=200.0, max_age_s=60.0), "freshness")
    assert (i.value, i.threshold, i.severity) == (100.0, 60.0, "critical")
    empty = only(check_quality(profile, profile.new_sketch(), now=200.0, max_age_s=60.0), "freshness")
    assert empty.detail == "no data in the window"


def test_late_rows(profile: Profile) -> None:
    sk = window(profile, columns(100, 1))
    sk.late_rows = 5
    i = only(check_quality(profile, sk), "late_rows")
    assert (i.value, i.severity) == (5.0, "warning")


def test_empty_window_without_freshness_has_no_issues(profile: Profile) -> None:
    assert check_quality(profile, profile.new_sketch()) == ()


def test_threshold_validation() -> None:
    with pytest.raises(
        ValueError, match="quality threshold missing_rate_increase must be a number >= 0, got -1"
    ):
        QualityThresholds(missing_rate_increase=-1)
    with pytest.raises(ValueError, match="out_of_range_share must be a number >= 0, got nan"):
        QualityThresholds(out_of_range_share=float("nan"))


def test_custom_thresholds_are_applied(profile: Profile) -> None:
    cols = columns(1000, 1)
    x = cols["x"].copy()
    x[:100] = np.nan
    cols["x"] = x
    sk = window(profile, cols)
    assert only(check_quality(profile, sk), "missing_rate").severity == "warning"
    lenient = QualityThresholds(missing_rate_increase=0.2)
    assert not [i for i in check_quality(profile, sk, thresholds=lenient) if i.check == "missing_rate"]


def test_issues_by_column(profile: Profile) -> None:
    sk = window(profile, {**columns(100, 1), "extra": np.zeros(100)})
    sk.malformed_rows = 1
    grouped = issues_by_column(check_quality(profile, sk))
    assert set(grouped) == {"", "extra"}


def test_training_data_checked_against_its_own_profile_is_clean() -> None:
    rng = np.random.default_rng(9)
    cols = {
        **columns(3000, 9),
        "n": np.where(rng.random(3000) < 0.1, np.nan, rng.normal(size=3000)),
        "k": rng.choice(np.array(["p", "q", None], dtype=object), 3000),
    }
    profile = build_profile(cols, created_at="t", target="y")
    sk = profile.new_sketch()
    for lo in range(0, 3000, 700):
        sk.update({k: v[lo : lo + 700] for k, v in cols.items()}, first_row=lo)
    result = evaluate_window(profile, sk)
    assert result.quality == ()
    assert not result.drift_detected
    assert not any(f.drift_detected for f in result.features.values())
