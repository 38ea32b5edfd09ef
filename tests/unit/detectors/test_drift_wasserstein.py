"""wasserstein on samples and on binned counts, against scipy.stats.wasserstein_distance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from detectors.drift import (
    binned_wasserstein_distance,
    wasserstein_counts_test,
    wasserstein_scale,
    wasserstein_test,
)


def _binned(reference: np.ndarray, current: np.ndarray, n_bins: int = 100) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, n_bins + 1)[1:-1]))
    ref_counts = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1)
    cur_counts = np.bincount(np.searchsorted(edges, current, side="right"), minlength=edges.size + 1)
    return binned_wasserstein_distance(
        ref_counts,
        cur_counts,
        edges=edges,
        reference_range=(reference.min(), reference.max()),
        current_range=(current.min(), current.max()),
    )


def test_sample_version_matches_scipy_normed_by_reference_std() -> None:
    rng = np.random.default_rng(21)
    ref, cur = rng.normal(2.0, 3.0, size=3000), rng.normal(3.5, 3.0, size=1000)
    result = wasserstein_test(ref, cur)
    assert result.statistic == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-12)
    assert result.p_value is None and result.drift_detected


GENERATORS = {
    "normal": lambda rng, n: rng.normal(size=n),
    "exponential": lambda rng, n: rng.exponential(size=n),
    "uniform": lambda rng, n: rng.uniform(size=n),
    "lognormal": lambda rng, n: rng.lognormal(size=n),
    "pareto3": lambda rng, n: rng.pareto(3.0, size=n),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize(("scale", "shift"), [(1.0, 0.0), (1.0, 0.2), (1.1, 0.2), (0.9, 0.0)])
def test_binned_distance_is_close_to_the_exact_one(name: str, scale: float, shift: float) -> None:
    rng = np.random.default_rng(22)
    draw = GENERATORS[name]
    ref = draw(rng, 100_000)
    cur = draw(rng, 50_000) * scale + shift * ref.std()
    exact = stats.wasserstein_distance(ref, cur)
    # 100 quantile bins: within 3% of the reference std (measured: < 1.5% here)
    assert _binned(ref, cur) == pytest.approx(exact, abs=0.03 * ref.std())


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("window", [2000, 20_000])
def test_binned_distance_raises_no_false_alarm_on_healthy_windows(name: str, window: int) -> None:
    rng = np.random.default_rng(23)
    draw = GENERATORS[name]
    ref = draw(rng, 200_000)
    for _ in range(3):
        assert _binned(ref, draw(rng, window)) / ref.std() < 0.06


def test_binned_distance_exact_on_simple_shapes() -> None:
    # all mass in one uniform bin on each side: [0, 1] vs [1, 2]
    assert binned_wasserstein_distance(
        [0, 10, 0], [0, 0, 10], edges=[0.0, 1.0], reference_range=(0.0, 1.0), current_range=(1.0, 2.0)
    ) == pytest.approx(1.0)
    # point masses (constant sides) at 0.5 and 0.7
    assert binned_wasserstein_distance(
        [0, 5, 0], [0, 8, 0], edges=[0.0, 1.0], reference_range=(0.5, 0.5), current_range=(0.7, 0.7)
    ) == pytest.approx(0.2)
    # no inner edge at all: uniform on [0, 4] vs uniform on [2, 6]
    assert binned_wasserstein_distance(
        [3], [9], edges=[], reference_range=(0.0, 4.0), current_range=(2.0, 6.0)
    ) == pytest.approx(2.0)


def test_binned_distance_crossing_cdfs_integrates_exactly() -> None:
    # uniform [0, 2] vs uniform [0.5, 1.5]: the CDFs cross at 1, W1 = 2 * 0.125
    value = binned_wasserstein_distance(
        [0, 1, 2, 1, 0],
        [0, 0, 4, 0, 0],
        edges=[0.0, 0.5, 1.5, 2.0],
        reference_range=(0.0, 2.0),
        current_range=(0.5, 1.5),
    )
    assert value == pytest.approx(0.25, abs=1e-12)
    dense = stats.wasserstein_distance(np.linspace(0, 2, 200_001), np.linspace(0.5, 1.5, 200_001))
    assert value == pytest.approx(dense, abs=1e-5)


def test_binned_distance_undefined_and_invalid() -> None:
    assert math.isnan(
        binned_wasserstein_distance([0, 0], [1, 1], edges=[0.0], reference_range=(0, 1), current_range=(0, 1))
    )
    assert math.isnan(
        binned_wasserstein_distance(
            [1], [1], edges=[], reference_range=(math.nan, math.nan), current_range=(0.0, 1.0)
        )
    )
    with pytest.raises(ValueError, match=r"len\(edges\) \+ 1 = 2 bins, got 3"):
        binned_wasserstein_distance(
            [1, 1, 1], [1, 1, 1], edges=[0.0], reference_range=(0, 1), current_range=(0, 1)
        )
    with pytest.raises(ValueError, match="strictly increasing"):
        binned_wasserstein_distance(
            [1, 1, 1], [1, 1, 1], edges=[1.0, 0.0], reference_range=(0, 1), current_range=(0, 1)
        )


def test_unknown_extremes_fall_back_to_the_outer_edges() -> None:
    value = binned_wasserstein_distance(
        [0, 4, 0], [0, 4, 0], edges=[0.0, 1.0], reference_range=(math.nan, math.nan), current_range=(0.0, 1.0)
    )
    assert value == pytest.approx(0.0)


def test_scale_fallbacks_never_divide_by_zero() -> None:
    assert wasserstein_scale(2.0, 5.0) == 2.0
    assert wasserstein_scale(0.0, 0.5) == 0.5
    assert wasserstein_scale(math.nan, math.nan) == 1.0
    constant = wasserstein_test(np.full(100, 7.0), np.full(30, 7.0))
    assert (constant.statistic, constant.drift_detected) == (0.0, False)
    moved = wasserstein_test(np.full(100, 7.0), np.full(30, 8.0))
    assert math.isfinite(moved.statistic) and moved.statistic >= 2.0 and moved.drift_detected


def test_counts_test_uses_scale_and_threshold() -> None:
    kwargs = {"edges": [0.0, 1.0], "reference_range": (0.0, 1.0), "current_range": (1.0, 2.0)}
    result = wasserstein_counts_test([0, 10, 0], [0, 0, 10], scale=4.0, threshold=0.2, **kwargs)  # type: ignore[arg-type]
    assert result.statistic == pytest.approx(0.25) and result.drift_detected
    fallback = wasserstein_counts_test([0, 10, 0], [0, 0, 10], scale=0.0, **kwargs)  # type: ignore[arg-type]
    assert fallback.statistic == pytest.approx(1.0)
    empty = wasserstein_counts_test([0, 0, 0], [0, 0, 10], scale=1.0, **kwargs)  # type: ignore[arg-type]
    assert math.isnan(empty.statistic) and not empty.drift_detected and empty.p_value is None
    with pytest.raises(ValueError, match="threshold must be a finite distance > 0"):
        wasserstein_counts_test([0, 10, 0], [0, 0, 10], scale=1.0, threshold=-1.0, **kwargs)  # type: ignore[arg-type]


def test_sample_version_empty_side() -> None:
    result = wasserstein_test(np.array([]), np.array([1.0]))
    assert math.isnan(result.statistic) and result.p_value is None and not result.drift_detected
