"""Performance metrics against scikit-learn; intervals, accumulators and the reference comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from detectors import performance as perf
from detectors.performance import (
    ConfusionCounts,
    RegressionSums,
    ScoreHistogram,
    compare_accumulated,
    compare_performance,
    proportion_ci,
)


def classification_sample(seed: int, n: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    prob = rng.uniform(0.01, 0.99, n)
    y = (rng.random(n) < prob).astype(int)
    return y, prob, (prob > 0.5).astype(int)


def regression_sample(seed: int, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, n)
    return y, y + rng.normal(0, 1, n)


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_equal_sklearn(seed: int) -> None:
    y, prob, pred = classification_sample(seed)
    assert perf.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    assert perf.precision(y, pred) == pytest.approx(skm.precision_score(y, pred))
    assert perf.recall(y, pred) == pytest.approx(skm.recall_score(y, pred))
    assert perf.f1(y, pred) == pytest.approx(skm.f1_score(y, pred))
    assert perf.roc_auc(y, prob) == pytest.approx(skm.roc_auc_score(y, prob))
    assert perf.log_loss(y, prob) == pytest.approx(skm.log_loss(y, prob))
    true_rate, mean_prob = calibration_curve(y, prob, n_bins=10, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], prob), minlength=10)
    expected_ece = np.sum(counts[counts > 0] * np.abs(true_rate - mean_prob)) / y.size
    assert perf.expected_calibration_error(y, prob) == pytest.approx(expected_ece)


def test_label_metrics_with_other_positive_label_and_degenerate_cases() -> None:
    y = np.array(["a", "b", "b", "a", "b"])
    p = np.array(["a", "a", "b", "b", "b"])
    assert perf.precision(y, p, pos_label="b") == pytest.approx(skm.precision_score(y, p, pos_label="b"))
    assert perf.f1(y, p, pos_label="a") == pytest.approx(skm.f1_score(y, p, pos_label="a"))
    assert perf.precision([0, 1], [0, 0]) == 0.0
    assert math.isnan(perf.roc_auc([1, 1], [0.2, 0.3]))
    assert math.isnan(perf.accuracy([], []))
    assert perf.roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.5)


@pytest.mark.parametrize("seed", range(5))
def test_regression_metrics_equal_sklearn(seed: int) -> None:
    y, pred = regression_sample(seed)
    assert perf.mae(y, pred) == pytest.approx(skm.mean_absolute_error(y, pred))
    assert perf.rmse(y, pred) == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)))
    assert perf.mape(y, pred) == pytest.approx(skm.mean_absolute_percentage_error(y, pred))
    assert perf.r2(y, pred) == pytest.approx(skm.r2_score(y, pred))
    assert perf.r2([1, 1, 1], [1, 1, 1]) == skm.r2_score([1, 1, 1], [1, 1, 1])
    assert perf.r2([1, 1, 1], [1, 2, 1]) == skm.r2_score([1, 1, 1], [1, 2, 1])


def test_mismatched_lengths_and_unknown_metric_are_value_errors() -> None:
    with pytest.raises(ValueError, match="same length"):
        perf.accuracy([1, 0], [1])
    with pytest.raises(ValueError, match="metric must be one of .*accuracy"):
        compare_performance(0.9, [1], [1], metric="acuracy")
    with pytest.raises(ValueError, match="tolerance must be"):
        compare_performance(0.9, [1], [1], metric="accuracy", tolerance=-0.1)
    with pytest.raises(ValueError, match="confidence_level must be in"):
        proportion_ci(3, 10, confidence_level=1.5)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 500), data=st.data())
def test_clopper_pearson_equals_the_beta_quantiles(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    ci = proportion_ci(k, n, confidence_level=0.9)
    low = 0.0 if k == 0 else stats.beta.ppf(0.05, k, n - k + 1)
    high = 1.0 if k == n else stats.beta.ppf(0.95, k + 1, n - k)
    assert ci.low == pytest.approx(low, abs=1e-9)
    assert ci.high == pytest.approx(high, abs=1e-9)
    assert 0.0 <= ci.low <= k / n <= ci.high <= 1.0


def test_clopper_pearson_covers_at_least_the_nominal_level() -> None:
    rng = np.random.default_rng(0)
    n, p = 200, 0.83
    ks = rng.binomial(n, p, 2000)
    covered = [proportion_ci(int(k), n).low <= p <= proportion_ci(int(k), n).high for k in ks[:400]]
    assert np.mean(covered) >= 0.94


def test_bootstrap_ci_is_seeded_and_brackets_the_value() -> None:
    y, pred = regression_sample(1)
    a = perf.bootstrap_ci(perf.mae, y, pred, seed=3, n_resamples=300)
    b = perf.bootstrap_ci(perf.mae, y, pred, seed=3, n_resamples=300)
    assert a == b
    assert a.low < perf.mae(y, pred) < a.high


def test_accuracy_drop_is_flagged_only_when_significant_and_beyond_tolerance() -> None:
    y, prob, pred = classification_sample(2, n=2000)
    ref = perf.accuracy(y, pred)
    same = compare_performance(ref, y, pred, metric="accuracy")
    assert not same.drift_detected and same.ci_method == "clopper_pearson"
    assert same.ci_low <= same.value <= same.ci_high and same.n == 2000
    flipped = pred.copy()
    flipped[:300] = 1 - flipped[:300]
    worse = compare_performance(ref, y, flipped, metric="accuracy")
    assert worse.drift_detected and worse.change() < 0
    tolerant = compare_performance(ref, y, flipped, metric="accuracy", tolerance=0.3)
    assert not tolerant.drift_detected
    better_than_reference = compare_performance(ref - 0.2, y, pred, metric="accuracy")
    assert not better_than_reference.drift_detected


def test_lower_is_better_metrics_flag_increases() -> None:
    y, pred = regression_sample(3, n=1000)
    ref = perf.mae(y, pred)
    assert not compare_performance(ref, y, pred, metric="mae", n_resamples=200).drift_detected
    result = compare_performance(ref, y, pred + 1.0, metric="mae", n_resamples=200)
    assert result.drift_detected and not result.higher_is_better and result.ci_method == "bootstrap"
    flipped = compare_performance(ref, y, pred + 1.0, metric="mae", higher_is_better=True, n_resamples=200)
    assert not flipped.drift_detected


@pytest.mark.parametrize("metric", ["f1", "roc_auc", "log_loss", "ece"])
def test_score_metrics_compare(metric: str) -> None:
    y, prob, pred = classification_sample(4, n=1500)
    x = pred if metric == "f1" else prob
    ref = perf.METRICS[metric].compute(y, x)
    result = compare_performance(ref, y, x, metric=metric, n_resamples=200)
    assert not result.drift_detected
    assert result.ci_low <= result.value
    if metric != "ece":  # ECE's basic interval may end below the (upward-biased) estimate
        assert result.value <= result.ci_high


# ----------------------------------------------------------------------------- accumulators


def test_confusion_counts_merge_and_match_sample_metrics() -> None:
    y, _, pred = classification_sample(5)
    whole = ConfusionCounts.from_labels(y, pred)
    merged = ConfusionCounts.from_labels(y[:123], pred[:123]) + ConfusionCounts.from_labels(
        y[123:], pred[123:]
    )
    assert merged == whole
    assert whole.accuracy() == pytest.approx(skm.accuracy_score(y, pred))
    assert whole.f1() == pytest.approx(skm.f1_score(y, pred))
    tn, fp, fn, tp = skm.confusion_matrix(y, pred).ravel()
    assert (whole.tn, whole.fp, whole.fn, whole.tp) == (tn, fp, fn, tp)


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=2, max_size=60),
    cut=st.integers(0, 60),
)
def test_regression_sums_merge_equals_whole(values: list[tuple[float, float]], cut: int) -> None:
    y = np.array([v[0] for v in values])
    p = np.array([v[1] for v in values])
    cut = min(cut, len(values))
    whole = RegressionSums.from_arrays(y, p)
    merged = RegressionSums.from_arrays(y[:cut], p[:cut]) + RegressionSums.from_arrays(y[cut:], p[cut:])
    assert merged.n == whole.n
    for name in ("mae", "rmse"):
        assert getattr(merged, name)() == pytest.approx(getattr(whole, name)(), rel=1e-9, abs=1e-9)


def test_regression_sums_equal_sklearn() -> None:
    y, pred = regression_sample(6)
    s = RegressionSums.from_arrays(y, pred)
    assert s.mae() == pytest.approx(skm.mean_absolute_error(y, pred))
    assert s.rmse() == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)))
    assert s.mape() == pytest.approx(skm.mean_absolute_percentage_error(y, pred))
    assert s.r2() == pytest.approx(skm.r2_score(y, pred))


def test_score_histogram_merge_and_metrics() -> None:
    y, prob, _ = classification_sample(7, n=3000)
    whole = ScoreHistogram.from_arrays(y, prob, n_bins=1000)
    merged = ScoreHistogram.from_arrays(y[:1000], prob[:1000], n_bins=1000) + ScoreHistogram.from_arrays(
        y[1000:], prob[1000:], n_bins=1000
    )
    assert merged.positives == whole.positives and merged.negatives == whole.negatives
    assert merged.log_loss() == pytest.approx(skm.log_loss(y, prob))
    assert whole.roc_auc() == pytest.approx(skm.roc_auc_score(y, prob), abs=2e-3)
    assert whole.expected_calibration_error() == pytest.approx(perf.expected_calibration_error(y, prob))
    with pytest.raises(ValueError, match="cannot merge"):
        _ = whole + ScoreHistogram.empty(10)
    with pytest.raises(ValueError, match="must divide"):
        whole.expected_calibration_error(n_bins=7)


@pytest.mark.parametrize(
    ("metric", "make"),
    [
        ("accuracy", "counts"),
        ("precision", "counts"),
        ("recall", "counts"),
        ("f1", "counts"),
        ("mae", "sums"),
        ("rmse", "sums"),
        ("mape", "sums"),
        ("r2", "sums"),
        ("roc_auc", "hist"),
        ("log_loss", "hist"),
        ("ece", "hist"),
    ],
)
def test_compare_accumulated_agrees_with_the_sample_comparison(metric: str, make: str) -> None:
    if make == "sums":
        y, x = regression_sample(8, n=3000)
        acc: perf.Accumulator = RegressionSums.from_arrays(y, x)
        degrade = x + 2.0
        worse: perf.Accumulator = RegressionSums.from_arrays(y, degrade)
    else:
        y, prob, pred = classification_sample(8, n=3000)
        x = pred if make == "counts" else prob
        degrade = 1 - x if make == "counts" else np.clip(1.2 - prob, 0, 1)
        if make == "counts":
            acc, worse = ConfusionCounts.from_labels(y, x), ConfusionCounts.from_labels(y, degrade)
        else:
            acc, worse = ScoreHistogram.from_arrays(y, x), ScoreHistogram.from_arrays(y, degrade)
    ref = perf.METRICS[metric].compute(y, x)
    sample = compare_performance(ref, y, x, metric=metric, n_resamples=300)
    sketched = compare_accumulated(ref, acc, metric=metric, n_resamples=300)
    assert sketched.value == pytest.approx(sample.value, abs=5e-3)
    assert sketched.ci_high - sketched.ci_low == pytest.approx(sample.ci_high - sample.ci_low, rel=0.35)
    assert not sketched.drift_detected
    assert compare_accumulated(ref, worse, metric=metric, n_resamples=300).drift_detected


def test_compare_accumulated_rejects_the_wrong_accumulator() -> None:
    with pytest.raises(ValueError, match="needs ConfusionCounts"):
        compare_accumulated(0.9, RegressionSums(), metric="accuracy")
    with pytest.raises(ValueError, match="needs a ScoreHistogram"):
        compare_accumulated(0.9, ConfusionCounts(), metric="roc_auc")


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 1), st.floats(0.0, 1.0), st.integers(0, 1)), min_size=2, max_size=80
    ),
    seed=st.integers(0, 1000),
)
def test_metrics_are_permutation_invariant(rows: list[tuple[int, float, int]], seed: int) -> None:
    y = np.array([r[0] for r in rows])
    prob = np.array([r[1] for r in rows])
    pred = np.array([r[2] for r in rows])
    order = np.random.default_rng(seed).permutation(len(rows))
    for name, metric in perf.METRICS.items():
        x = prob if metric.kind == "score" else pred
        a = metric.compute(y, x)
        b = metric.compute(y[order], x[order])
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12), name
