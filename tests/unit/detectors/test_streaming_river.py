"""Oracle checks: our detectors against River's on the same seeded streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats

river_drift = pytest.importorskip("river.drift")

from detectors.streaming import ADWIN, DDM, EDDM, HDDM_A, KSWIN, PageHinkley  # noqa: E402
from detectors.streaming.kswin import critical_count, ks_count  # noqa: E402


def ours(detector: Any, stream: list[float]) -> list[int]:
    points = []
    for i, x in enumerate(stream):
        detector.update(x)
        if detector.drift_detected:
            points.append(i)
            detector.reset()  # what River does lazily on the next update
    return points


def theirs(detector: Any, stream: list[float]) -> list[int]:
    points = []
    for i, x in enumerate(stream):
        detector.update(x)
        if detector.drift_detected:
            points.append(i)
    return points


def numeric_stream(seed: int, n: int = 3000) -> list[float]:
    rng = np.random.default_rng(seed)
    return np.r_[
        rng.normal(0, 1, n), rng.normal(1, 1, n), rng.normal(-0.5, 2, n), rng.normal(0, 1, n)
    ].tolist()


def error_stream(seed: int, n: int = 3000) -> list[int]:
    rng = np.random.default_rng(seed)
    rates = np.r_[np.full(n, 0.2), np.full(n, 0.5), np.full(n, 0.1), np.full(n, 0.1)]
    return (rng.random(4 * n) < rates).astype(int).tolist()


PAIRS: list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[[int], list[Any]]]] = [
    ("adwin-default", lambda: ADWIN(), lambda: river_drift.ADWIN(), numeric_stream),
    (
        "adwin-clock1",
        lambda: ADWIN(delta=0.01, clock=1),
        lambda: river_drift.ADWIN(delta=0.01, clock=1),
        error_stream,
    ),
    (
        "adwin-small",
        lambda: ADWIN(max_buckets=2, min_window_length=1, grace_period=0, clock=4),
        lambda: river_drift.ADWIN(max_buckets=2, min_window_length=1, grace_period=0, clock=4),
        numeric_stream,
    ),
    (
        "page_hinkley-river-defaults",
        lambda: PageHinkley(delta=0.005, threshold=50.0, alpha=1 - 0.0001),
        lambda: river_drift.PageHinkley(),
        numeric_stream,
    ),
    (
        "page_hinkley-ours",
        lambda: PageHinkley(),
        lambda: river_drift.PageHinkley(delta=0.05, threshold=100.0, alpha=1.0),
        numeric_stream,
    ),
    (
        "page_hinkley-up",
        lambda: PageHinkley(mode="up", threshold=10.0, delta=0.005, alpha=1 - 0.0001),
        lambda: river_drift.PageHinkley(mode="up", threshold=10.0),
        error_stream,
    ),
    (
        "ddm-river-defaults",
        lambda: DDM(warm_start=30, warning_threshold=2.0, drift_threshold=3.0),
        lambda: river_drift.binary.DDM(),
        error_stream,
    ),
    (
        "ddm-ours",
        lambda: DDM(),
        lambda: river_drift.binary.DDM(warm_start=500, warning_threshold=2.5, drift_threshold=3.5),
        error_stream,
    ),
    (
        "eddm-river-defaults",
        lambda: EDDM(warm_start=30, alpha=0.95, beta=0.9),
        lambda: river_drift.binary.EDDM(),
        error_stream,
    ),
    (
        "eddm-ours",
        lambda: EDDM(),
        lambda: river_drift.binary.EDDM(warm_start=300, alpha=0.8, beta=0.7),
        error_stream,
    ),
    (
        "hddm_a-river-defaults",
        lambda: HDDM_A(drift_confidence=0.001),
        lambda: river_drift.binary.HDDMA(),
        error_stream,
    ),
    (
        "hddm_a-two-sided",
        lambda: HDDM_A(two_sided_test=True),
        lambda: river_drift.binary.HDDMA(drift_confidence=1e-4, two_sided_test=True),
        error_stream,
    ),
]


@pytest.mark.parametrize(
    ("make_ours", "make_theirs", "make_stream"), [p[1:] for p in PAIRS], ids=[p[0] for p in PAIRS]
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_detection_points_as_river(
    make_ours: Callable[[], Any],
    make_theirs: Callable[[], Any],
    make_stream: Callable[[int], list[Any]],
    seed: int,
) -> None:
    stream = make_stream(seed)
    expected = theirs(make_theirs(), stream)
    assert ours(make_ours(), stream) == expected


def test_river_defaults_vs_ours_on_a_drift_free_stream() -> None:
    """River's PageHinkley defaults alarm on drift-free data; ours stay calm (documented difference)."""
    rng = np.random.default_rng(5)
    stream = rng.normal(0, 1, 50_000).tolist()
    assert len(theirs(river_drift.PageHinkley(), stream)) > 10
    assert ours(PageHinkley(), stream) == []
    assert ours(ADWIN(), stream) == theirs(river_drift.ADWIN(), stream) == []


def test_adwin_without_reset_shrinks_its_window_like_the_paper() -> None:
    """River resets ADWIN entirely on the update after a detection; ours keeps the post-change window."""
    stream = numeric_stream(7)
    adwin = ADWIN()
    first = None
    for i, x in enumerate(stream[:4000]):
        adwin.update(x)
        if adwin.drift_detected and first is None:
            first = i
            assert 0 < adwin.width < i + 1
    assert first is not None and 3000 <= first < 3200
    assert adwin.estimation == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("stat_size", [10, 30, 100, 200])
@pytest.mark.parametrize("alpha", [0.05, 0.005, 1e-6, 1e-9])
def test_kswin_decision_equals_scipy_ks_2samp(stat_size: int, alpha: float) -> None:
    rng = np.random.default_rng(stat_size)
    critical = critical_count(stat_size, alpha)
    for shift in np.linspace(0, 2, 15):
        a = rng.normal(0, 1, stat_size)
        b = rng.normal(shift, 1, stat_size)
        result = stats.ks_2samp(a, b, method="auto")
        count = ks_count(a, b)
        assert count / stat_size == pytest.approx(result.statistic)
        assert (count >= critical) == (result.pvalue <= alpha)


def test_kswin_ks_count_with_ties_equals_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, 30).astype(float)
    b = rng.integers(1, 4, 30).astype(float)
    assert ks_count(a, b) / 30 == pytest.approx(stats.ks_2samp(a, b).statistic)


def test_kswin_river_parameters_detect_the_same_changes_as_river() -> None:
    """Same rule, different random sample (numpy Generator vs random.Random): same changes, nearby points."""
    stream = np.r_[np.random.default_rng(9).normal(0, 1, 2000), np.random.default_rng(10).normal(3, 1, 2000)]
    mine = ours(KSWIN(alpha=0.0001, window_size=100, stat_size=30, seed=42), stream.tolist())
    river = theirs(river_drift.KSWIN(alpha=0.0001, seed=42), stream.tolist())
    assert any(2000 <= p < 2040 for p in mine)
    assert any(2000 <= p < 2040 for p in river)


def test_kswin_defaults_are_calm_where_river_defaults_alarm() -> None:
    rng = np.random.default_rng(11)
    stream = rng.normal(0, 1, 6000).tolist()
    assert ours(KSWIN(seed=1), stream) == []
    assert len(theirs(river_drift.KSWIN(seed=1), stream)) >= 1
