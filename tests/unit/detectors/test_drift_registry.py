"""The registry, the default policy, and every DriftTest adapter on ColumnSummary pairs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import MappingProxyType

import numpy as np
import pytest
from scipy import stats

import detectors.drift as drift
from detectors.drift import (
    DRIFT_TESTS,
    ColumnSummary,
    DriftTest,
    UnknownDriftTestError,
    default_drift_test,
    get_drift_test,
)
from detectors.errors import DetectorError

NAMES = {
    "ks": ("p_value_below", 0.05, "sample"),
    "anderson": ("p_value_below", 0.05, "sample"),
    "cramervonmises": ("p_value_below", 0.05, "sample"),
    "chi2": ("p_value_below", 0.05, "counts"),
    "z": ("p_value_below", 0.05, "counts"),
    "wasserstein": ("statistic_above", 0.1, "counts"),
    "psi": ("statistic_above", 0.2, "counts"),
    "jensenshannon": ("statistic_above", 0.1, "counts"),
    "hellinger": ("statistic_above", 0.1, "counts"),
    "kl": ("statistic_above", 0.1, "counts"),
    "tv": ("statistic_above", 0.1, "counts"),
}


def numeric_summary(values: np.ndarray, edges: np.ndarray) -> ColumnSummary:
    values = values[~np.isnan(values)]
    n = values.size
    return ColumnSummary(
        kind="numeric",
        counts=np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1),
        edges=edges,
        sample=values,
        n=n,
        minimum=float(values.min()) if n else math.nan,
        maximum=float(values.max()) if n else math.nan,
        mean=float(values.mean()) if n else math.nan,
        std=float(values.std()) if n else math.nan,
    )


def categorical_summary(values: Sequence[str], levels: Sequence[str]) -> ColumnSummary:
    index = {level: i for i, level in enumerate(levels)}
    counts = np.zeros(len(levels) + 1, dtype=np.int64)
    for value in values:
        counts[index.get(value, len(levels))] += 1
    return ColumnSummary(
        kind="categorical", counts=counts, edges=None, sample=np.array(values, dtype=object), n=len(values)
    )


def test_registry_is_immutable_and_complete() -> None:
    assert isinstance(DRIFT_TESTS, MappingProxyType)
    assert set(DRIFT_TESTS) == set(NAMES)
    for name, (decision, threshold, uses) in NAMES.items():
        test = DRIFT_TESTS[name]
        assert (test.name, test.decision, test.default_threshold, test.uses) == (
            name,
            decision,
            threshold,
            uses,
        )
        assert test.description
    with pytest.raises(TypeError):
        DRIFT_TESTS["mine"] = DRIFT_TESTS["ks"]  # type: ignore[index]


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown drift test 'kolmogorov', available: anderson, chi2, "):
        get_drift_test("kolmogorov")
    with pytest.raises(UnknownDriftTestError) as info:
        get_drift_test("PSI")
    assert isinstance(info.value, DetectorError) and info.value.name == "PSI"
    assert get_drift_test("psi") is DRIFT_TESTS["psi"]


@pytest.mark.parametrize(
    ("kind", "n_current", "n_levels", "expected"),
    [
        ("numeric", 0, None, "ks"),
        ("numeric", 1000, None, "ks"),
        ("numeric", 1001, None, "wasserstein"),
        ("numeric", 1_000_000, None, "wasserstein"),
        ("categorical", 1000, None, "chi2"),
        ("categorical", 1000, 5, "chi2"),
        ("categorical", 1000, 2, "z"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("categorical", 1_000_000, None, "jensenshannon"),
    ],
)
def test_default_policy(kind: str, n_current: int, n_levels: int | None, expected: str) -> None:
    test = default_drift_test(kind, 50_000, n_current, n_levels=n_levels)  # type: ignore[arg-type]
    assert test.name == expected and kind in test.column_kinds


def test_default_policy_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="kind must be 'numeric' or 'categorical', got 'text'"):
        default_drift_test("text", 10, 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample sizes must be >= 0"):
        default_drift_test("numeric", -1, 10)


def test_public_surface() -> None:
    for name in drift.__all__:
        assert hasattr(drift, name), name
    assert {"ks_test", "psi_test", "DRIFT_TESTS", "DriftTestResult", "get_drift_test"} <= set(drift.__all__)


def test_healthy_million_rows_raise_nothing_with_the_default_policy() -> None:
    rng = np.random.default_rng(31)
    ref = rng.normal(size=100_000)
    edges = np.quantile(ref, np.linspace(0, 1, 101)[1:-1])
    # a real but irrelevant shift of 0.01 std: a p-value test on 1M rows flags it
    cur = rng.normal(0.01, size=1_000_000)
    assert stats.ks_2samp(ref, cur).pvalue < 0.05
    test = default_drift_test("numeric", ref.size, cur.size)
    result = test(numeric_summary(ref, edges), numeric_summary(cur, edges))
    assert result.method == "wasserstein" and not result.drift_detected and result.statistic < 0.05


NUMERIC_TESTS = sorted(name for name, test in DRIFT_TESTS.items() if "numeric" in test.column_kinds)
CATEGORICAL_TESTS = sorted(name for name, test in DRIFT_TESTS.items() if "categorical" in test.column_kinds)


@pytest.mark.parametrize("name", NUMERIC_TESTS)
def test_numeric_adapters_detect_a_shift_and_accept_equal_data(name: str) -> None:
    rng = np.random.default_rng(32)
    ref = rng.normal(size=5000)
    edges = np.quantile(ref, np.linspace(0, 1, 21)[1:-1])
    test = DRIFT_TESTS[name]
    same = test(numeric_summary(ref, edges), numeric_summary(ref.copy(), edges))
    shifted = test(numeric_summary(ref, edges), numeric_summary(rng.normal(1.0, size=800), edges))
    assert not same.drift_detected and shifted.drift_detected
    assert shifted.method == name and shifted.threshold == test.default_threshold


@pytest.mark.parametrize("name", CATEGORICAL_TESTS)
def test_categorical_adapters_detect_a_shift_and_accept_equal_data(name: str) -> None:
    levels = ["a", "b", "c"]
    ref = ["a"] * 500 + ["b"] * 300 + ["c"] * 200
    test = DRIFT_TESTS[name]
    same = test(categorical_summary(ref, levels), categorical_summary(ref[::2], levels))
    shifted = test(
        categorical_summary(ref, levels), categorical_summary(["a"] * 100 + ["b"] * 300 + ["d"] * 100, levels)
    )
    assert not same.drift_detected and shifted.drift_detected
    assert math.isfinite(shifted.statistic)


def test_threshold_override_through_the_adapter() -> None:
    levels = ["a", "b"]
    ref, cur = (
        categorical_summary(["a"] * 60 + ["b"] * 40, levels),
        categorical_summary(["a"] * 40 + ["b"] * 60, levels),
    )
    assert DRIFT_TESTS["tv"](ref, cur).drift_detected
    assert not DRIFT_TESTS["tv"](ref, cur, threshold=0.5).drift_detected
    with pytest.raises(ValueError, match=r"tv: threshold must be a finite distance > 0, got -0.5"):
        DRIFT_TESTS["tv"](ref, cur, threshold=-0.5)


@pytest.mark.parametrize("name", sorted(n for n, t in DRIFT_TESTS.items() if len(t.column_kinds) == 1))
def test_wrong_column_kind_is_a_clear_error(name: str) -> None:
    test = DRIFT_TESTS[name]
    wrong = "categorical" if "numeric" in test.column_kinds else "numeric"
    summary = ColumnSummary(kind=wrong, counts=np.array([1, 1]), edges=None, sample=np.array([1.0]), n=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"column kind '{wrong}' is not supported"):
        test(summary, summary)


def _edge_case_summaries() -> list[tuple[str, ColumnSummary, ColumnSummary]]:
    edges = np.array([0.0, 1.0, 2.0])
    empty = numeric_summary(np.array([]), edges)
    constant = numeric_summary(np.full(300, 1.0), edges)
    other_constant = numeric_summary(np.full(50, 1.5), edges)
    single = numeric_summary(np.array([0.5]), edges)
    one_bin = numeric_summary(np.linspace(1.1, 1.9, 40), edges)
    return [
        ("empty current", constant, empty),
        ("empty reference", empty, constant),
        ("both empty", empty, empty),
        ("constant equal", constant, numeric_summary(np.full(10, 1.0), edges)),
        ("constant moved", constant, other_constant),
        ("single values", single, numeric_summary(np.array([0.7]), edges)),
        ("all in one bin", one_bin, numeric_summary(np.linspace(1.2, 1.8, 30), edges)),
    ]


@pytest.mark.parametrize("name", NUMERIC_TESTS)
def test_numeric_edge_cases_never_raise(name: str) -> None:
    test = DRIFT_TESTS[name]
    for label, ref, cur in _edge_case_summaries():
        result = test(ref, cur)
        assert result.method == name, label
        if math.isnan(result.statistic):
            assert result.drift_detected is False, label
        if result.p_value is not None and not math.isnan(result.p_value):
            assert 0.0 <= result.p_value <= 1.0, label
        if label in ("empty current", "empty reference", "both empty"):
            assert math.isnan(result.statistic) and not result.drift_detected, label
        if label == "constant equal":
            assert not result.drift_detected, label


def test_wasserstein_adapter_constant_columns() -> None:
    edges = np.array([0.0, 1.0, 2.0])
    test = DRIFT_TESTS["wasserstein"]
    same = test(numeric_summary(np.full(300, 1.0), edges), numeric_summary(np.full(10, 1.0), edges))
    assert (same.statistic, same.drift_detected) == (0.0, False)
    moved = test(numeric_summary(np.full(300, 1.0), edges), numeric_summary(np.full(50, 1.5), edges))
    assert math.isfinite(moved.statistic) and moved.drift_detected


def test_every_registered_test_is_a_drift_test() -> None:
    for test in DRIFT_TESTS.values():
        assert isinstance(test, DriftTest)
        assert test.column_kinds <= {"numeric", "categorical"}
