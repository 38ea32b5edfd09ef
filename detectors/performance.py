"""Model performance: metrics, confidence intervals, mergeable accumulators, reference comparison.

Every metric is a vectorised numpy function checked against scikit-learn. A window's
performance is compared with the reference (training) value by
:func:`compare_performance` (from a sample) or :func:`compare_accumulated` (from a
bounded, mergeable accumulator), and flagged only when it is *significantly* worse
than the reference by more than a tolerance.

Which metric needs what (bounded memory for the daemon):

========================  =====================  ===================================
metric                    accumulator            confidence interval
========================  =====================  ===================================
accuracy, precision,      :class:`ConfusionCounts`  exact Clopper-Pearson (binomial)
recall
f1                        :class:`ConfusionCounts`  seeded multinomial bootstrap
mae, rmse, mape, r2       :class:`RegressionSums`   normal approximation from sums
log_loss                  :class:`ScoreHistogram`   normal approximation from sums
roc_auc                   :class:`ScoreHistogram`   Hanley-McNeil normal approximation;
                                                  the AUC itself is exact up to ties
                                                  within a score bin
ece                       :class:`ScoreHistogram`   seeded multinomial bootstrap over bins
                                                  (basic interval: ECE is biased upward)
========================  =====================  ===================================

From a full sample (:func:`compare_performance`) proportions use Clopper-Pearson and
every other metric a seeded percentile bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
from scipy import stats

MetricName = Literal[
    "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "ece", "mae", "rmse", "mape", "r2"
]
MetricKind = Literal["label", "score", "regression"]
CIMethod = Literal["clopper_pearson", "bootstrap", "normal", "none"]

_EPS = float(np.finfo(np.float64).eps)


# ----------------------------------------------------------------------------- metrics


def _as_float(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).ravel()


def _pair(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true).ravel()
    p = np.asarray(y_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.size} and {p.size}")
    return t, p


def accuracy(y_true: object, y_pred: object) -> float:
    """Share of rows where the predicted label equals the true label (nan when empty)."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else math.nan


def precision(y_true: object, y_pred: object, *, pos_label: object = 1) -> float:
    """TP / (TP + FP) for ``pos_label``; 0.0 when nothing is predicted positive (scikit-learn's value)."""
    return ConfusionCounts.from_labels(y_true, y_pred, pos_label=pos_label).precision()


def recall(y_true: object, y_pred: object, *, pos_label: object = 1) -> float:
    """TP / (TP + FN) for ``pos_label``; 0.0 when there is no positive row."""
    return ConfusionCounts.from_labels(y_true, y_pred, pos_label=pos_label).recall()


def f1(y_true: object, y_pred: object, *, pos_label: object = 1) -> float:
    """Harmonic mean of precision and recall: 2 TP / (2 TP + FP + FN); 0.0 when undefined."""
    return ConfusionCounts.from_labels(y_true, y_pred, pos_label=pos_label).f1()


def roc_auc(y_true: object, y_score: object) -> float:
    r"""Area under the ROC curve of binary labels (1 positive) against scores.

    Notes
    -----
    Mann-Whitney form with mid-ranks for ties:
    :math:`(\sum_{i \in pos} r_i - n_+(n_+ + 1)/2) / (n_+ n_-)`. ``nan`` when a class is absent.
    """
    t, s = _pair(y_true, y_score)
    pos = t == 1
    n_pos = int(pos.sum())
    n_neg = t.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = stats.rankdata(s.astype(np.float64))
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def log_loss(y_true: object, y_prob: object) -> float:
    """Mean binary cross-entropy of the positive-class probability (clipped to [eps, 1 - eps])."""
    t, p = _pair(y_true, y_prob)
    if not t.size:
        return math.nan
    return float(np.mean(_row_log_loss(t.astype(np.float64), p.astype(np.float64))))


def _row_log_loss(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    losses: np.ndarray = -(t * np.log(p) + (1.0 - t) * np.log1p(-p))
    return losses


def _calibration_bins(p: np.ndarray, n_bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], p)  # the bins of sklearn.calibration.calibration_curve


def expected_calibration_error(y_true: object, y_prob: object, *, n_bins: int = 10) -> float:
    r"""Expected calibration error of the positive-class probability over equal-width bins.

    Notes
    -----
    :math:`\mathrm{ECE} = \sum_b \frac{n_b}{n} |\bar y_b - \bar p_b|`, bins as in
    ``sklearn.calibration.calibration_curve(strategy="uniform")``.
    """
    t, p = _pair(y_true, y_prob)
    if not t.size:
        return math.nan
    p = p.astype(np.float64)
    b = _calibration_bins(p, n_bins)
    pos = np.bincount(b, weights=t.astype(np.float64), minlength=n_bins)
    prob = np.bincount(b, weights=p, minlength=n_bins)
    return float(np.sum(np.abs(pos - prob)) / t.size)


def mae(y_true: object, y_pred: object) -> float:
    """Mean absolute error."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(_as_float(t) - _as_float(p)))) if t.size else math.nan


def rmse(y_true: object, y_pred: object) -> float:
    """Root mean squared error."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((_as_float(t) - _as_float(p)) ** 2))) if t.size else math.nan


def mape(y_true: object, y_pred: object) -> float:
    """Mean absolute percentage error as a fraction, ``|y - yhat| / max(|y|, eps)`` (scikit-learn's)."""
    t, p = _pair(y_true, y_pred)
    if not t.size:
        return math.nan
    tf = _as_float(t)
    return float(np.mean(np.abs(tf - _as_float(p)) / np.maximum(np.abs(tf), _EPS)))


def r2(y_true: object, y_pred: object) -> float:
    """Coefficient of determination; 1.0 for a perfect fit of a constant target, else 0.0 then."""
    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        return math.nan
    tf = _as_float(t)
    sse = float(np.sum((tf - _as_float(p)) ** 2))
    sst = float(np.sum((tf - tf.mean()) ** 2))
    return _r2_from(sse, sst)


def _r2_from(sse: float, sst: float) -> float:
    if sst == 0.0:
        return 1.0 if sse == 0.0 else 0.0
    return 1.0 - sse / sst


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    """A registered metric: name, input kind, direction and sample function."""

    name: str
    kind: MetricKind
    higher_is_better: bool
    compute: Callable[[np.ndarray, np.ndarray], float]


METRICS: Mapping[str, Metric] = MappingProxyType(
    {
        m.name: m
        for m in (
            Metric(name="accuracy", kind="label", higher_is_better=True, compute=accuracy),
            Metric(name="precision", kind="label", higher_is_better=True, compute=precision),
            Metric(name="recall", kind="label", higher_is_better=True, compute=recall),
            Metric(name="f1", kind="label", higher_is_better=True, compute=f1),
            Metric(name="roc_auc", kind="score", higher_is_better=True, compute=roc_auc),
            Metric(name="log_loss", kind="score", higher_is_better=False, compute=log_loss),
            Metric(name="ece", kind="score", higher_is_better=False, compute=expected_calibration_error),
            Metric(name="mae", kind="regression", higher_is_better=False, compute=mae),
            Metric(name="rmse", kind="regression", higher_is_better=False, compute=rmse),
            Metric(name="mape", kind="regression", higher_is_better=False, compute=mape),
            Metric(name="r2", kind="regression", higher_is_better=True, compute=r2),
        )
    }
)
"""Metrics by name; ``higher_is_better`` is each metric's default direction."""


def get_metric(name: str) -> Metric:
    """Look a metric up by name; ValueError lists the available ones."""
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(f"metric must be one of {sorted(METRICS)!r}, got {name!r}") from None


# ----------------------------------------------------------------------------- intervals


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfidenceInterval:
    """Two-sided confidence interval ``[low, high]``."""

    low: float
    high: float


def proportion_ci(successes: int, n: int, *, confidence_level: float = 0.95) -> ConfidenceInterval:
    """Exact Clopper-Pearson interval of a binomial proportion (``scipy.stats.binomtest``).

    ``n == 0`` gives ``(nan, nan)``.
    """
    _check_level(confidence_level)
    if n == 0:
        return ConfidenceInterval(low=math.nan, high=math.nan)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], got {successes!r}")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(
        confidence_level=confidence_level, method="exact"
    )
    return ConfidenceInterval(low=float(ci.low), high=float(ci.high))


def bootstrap_ci(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    y_true: object,
    y_pred: object,
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 1000,
    seed: int | np.random.Generator = 0,
    interval: Literal["percentile", "basic"] = "percentile",
) -> ConfidenceInterval:
    r"""Bootstrap interval of a paired statistic, resampling rows with a seeded generator.

    ``interval="basic"`` reflects the percentiles about the estimate
    (:math:`2\hat\theta - q_{hi}, 2\hat\theta - q_{lo}`), which corrects a bootstrap bias
    such as ECE's upward one. Resamples where the statistic is undefined (nan) are dropped.
    """
    _check_level(confidence_level)
    if n_resamples < 10:
        raise ValueError(f"n_resamples must be >= 10, got {n_resamples!r}")
    t, p = _pair(y_true, y_pred)
    if t.size == 0:
        return ConfidenceInterval(low=math.nan, high=math.nan)
    rng = _rng(seed)
    values = np.empty(n_resamples)
    for i in range(n_resamples):
        idx = rng.integers(0, t.size, t.size)
        values[i] = statistic(t[idx], p[idx])
    ci = _quantile_ci(values, confidence_level)
    if interval == "basic":
        estimate = statistic(t, p)
        return ConfidenceInterval(low=2 * estimate - ci.high, high=2 * estimate - ci.low)
    return ci


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, int) and not isinstance(seed, bool):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be an int or a numpy.random.Generator, got {seed!r}")


def _check_level(confidence_level: float) -> None:
    if not 0.0 < confidence_level < 1.0:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}")


def _normal_ci(value: float, se: float, confidence_level: float) -> ConfidenceInterval:
    z = float(stats.norm.ppf(0.5 + confidence_level / 2.0))
    return ConfidenceInterval(low=value - z * se, high=value + z * se)


# ----------------------------------------------------------------------------- accumulators


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfusionCounts:
    """Binary confusion counts of one window; mergeable by addition (``a + b``)."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    @classmethod
    def from_labels(cls, y_true: object, y_pred: object, *, pos_label: object = 1) -> ConfusionCounts:
        """Count a window's labels; ``pos_label`` is the positive class."""
        t, p = _pair(y_true, y_pred)
        tpos = t == pos_label
        ppos = p == pos_label
        return cls(
            tp=int(np.sum(tpos & ppos)),
            fp=int(np.sum(~tpos & ppos)),
            tn=int(np.sum(~tpos & ~ppos)),
            fn=int(np.sum(tpos & ~ppos)),
        )

    def __add__(self, other: ConfusionCounts) -> ConfusionCounts:
        return ConfusionCounts(
            tp=self.tp + other.tp, fp=self.fp + other.fp, tn=self.tn + other.tn, fn=self.fn + other.fn
        )

    @property
    def n(self) -> int:
        """Number of rows counted."""
        return self.tp + self.fp + self.tn + self.fn

    def accuracy(self) -> float:
        """(TP + TN) / n; nan when empty."""
        return (self.tp + self.tn) / self.n if self.n else math.nan

    def precision(self) -> float:
        """TP / (TP + FP); 0.0 when nothing is predicted positive."""
        d = self.tp + self.fp
        return self.tp / d if d else 0.0

    def recall(self) -> float:
        """TP / (TP + FN); 0.0 when there is no positive row."""
        d = self.tp + self.fn
        return self.tp / d if d else 0.0

    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN); 0.0 when undefined."""
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RegressionSums:
    """Sums of a window's errors ``e = y - yhat``; mergeable by addition, O(1) memory.

    ``ape`` is ``|e| / max(|y|, eps)``.
    """

    n: int = 0
    sum_abs: float = 0.0
    sum_sq: float = 0.0
    sum_sq_sq: float = 0.0
    sum_ape: float = 0.0
    sum_ape_sq: float = 0.0
    sum_y: float = 0.0
    sum_y_sq: float = 0.0

    @classmethod
    def from_arrays(cls, y_true: object, y_pred: object) -> RegressionSums:
        """Sum a window's targets and predictions."""
        t, p = _pair(y_true, y_pred)
        tf, pf = _as_float(t), _as_float(p)
        e = tf - pf
        sq = e * e
        ape = np.abs(e) / np.maximum(np.abs(tf), _EPS)
        return cls(
            n=int(tf.size),
            sum_abs=float(np.sum(np.abs(e))),
            sum_sq=float(np.sum(sq)),
            sum_sq_sq=float(np.sum(sq * sq)),
            sum_ape=float(np.sum(ape)),
            sum_ape_sq=float(np.sum(ape * ape)),
            sum_y=float(np.sum(tf)),
            sum_y_sq=float(np.sum(tf * tf)),
        )

    def __add__(self, other: RegressionSums) -> RegressionSums:
        return RegressionSums(
            n=self.n + other.n,
            sum_abs=self.sum_abs + other.sum_abs,
            sum_sq=self.sum_sq + other.sum_sq,
            sum_sq_sq=self.sum_sq_sq + other.sum_sq_sq,
            sum_ape=self.sum_ape + other.sum_ape,
            sum_ape_sq=self.sum_ape_sq + other.sum_ape_sq,
            sum_y=self.sum_y + other.sum_y,
            sum_y_sq=self.sum_y_sq + other.sum_y_sq,
        )

    def mae(self) -> float:
        """Mean absolute error."""
        return self.sum_abs / self.n if self.n else math.nan

    def rmse(self) -> float:
        """Root mean squared error."""
        return math.sqrt(self.sum_sq / self.n) if self.n else math.nan

    def mape(self) -> float:
        """Mean absolute percentage error (fraction)."""
        return self.sum_ape / self.n if self.n else math.nan

    def sst(self) -> float:
        """Total sum of squares of the targets about their mean."""
        return max(self.sum_y_sq - self.sum_y * self.sum_y / self.n, 0.0) if self.n else math.nan

    def r2(self) -> float:
        """Coefficient of determination from the sums."""
        return _r2_from(self.sum_sq, self.sst()) if self.n >= 2 else math.nan


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreHistogram:
    """Positive-class probabilities of a window in ``n_bins`` equal-width bins on [0, 1].

    Per bin: positive and negative counts and the sum of probabilities; plus the
    sums of the per-row log loss and its square. Mergeable by addition (same bins).
    ROC AUC from it treats scores in one bin as ties (error at most the tie mass
    of a bin); use ``n_bins`` of 100 or more for it. ECE with ``n_bins=10`` needs
    10 bins, which :meth:`calibration_view` derives when ``n_bins`` is a multiple.
    """

    n_bins: int
    positives: tuple[int, ...]
    negatives: tuple[int, ...]
    sum_prob: tuple[float, ...]
    sum_log_loss: float = 0.0
    sum_log_loss_sq: float = 0.0

    @classmethod
    def empty(cls, n_bins: int = 100) -> ScoreHistogram:
        """An empty histogram with ``n_bins`` bins."""
        if n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {n_bins!r}")
        return cls(n_bins=n_bins, positives=(0,) * n_bins, negatives=(0,) * n_bins, sum_prob=(0.0,) * n_bins)

    @classmethod
    def from_arrays(cls, y_true: object, y_prob: object, *, n_bins: int = 100) -> ScoreHistogram:
        """Bin a window's 0/1 labels and probabilities (values outside [0, 1] are clipped)."""
        if n_bins < 1:
            raise ValueError(f"n_bins must be >= 1, got {n_bins!r}")
        t, p = _pair(y_true, y_prob)
        tf = _as_float(t)
        pf = np.clip(_as_float(p), 0.0, 1.0)
        b = _calibration_bins(pf, n_bins)
        pos = np.bincount(b, weights=tf, minlength=n_bins)
        count = np.bincount(b, minlength=n_bins)
        losses = _row_log_loss(tf, pf)
        return cls(
            n_bins=n_bins,
            positives=tuple(int(round(v)) for v in pos),
            negatives=tuple(int(c - round(v)) for c, v in zip(count, pos, strict=True)),
            sum_prob=tuple(float(v) for v in np.bincount(b, weights=pf, minlength=n_bins)),
            sum_log_loss=float(np.sum(losses)),
            sum_log_loss_sq=float(np.sum(losses * losses)),
        )

    def __add__(self, other: ScoreHistogram) -> ScoreHistogram:
        if other.n_bins != self.n_bins:
            raise ValueError(f"cannot merge histograms with {self.n_bins} and {other.n_bins} bins")
        return ScoreHistogram(
            n_bins=self.n_bins,
            positives=tuple(a + b for a, b in zip(self.positives, other.positives, strict=True)),
            negatives=tuple(a + b for a, b in zip(self.negatives, other.negatives, strict=True)),
            sum_prob=tuple(a + b for a, b in zip(self.sum_prob, other.sum_prob, strict=True)),
            sum_log_loss=self.sum_log_loss + other.sum_log_loss,
            sum_log_loss_sq=self.sum_log_loss_sq + other.sum_log_loss_sq,
        )

    @property
    def n(self) -> int:
        """Number of rows binned."""
        return sum(self.positives) + sum(self.negatives)

    def roc_auc(self) -> float:
        """ROC AUC with scores in one bin counted as ties; nan when a class is absent."""
        pos = np.asarray(self.positives, dtype=np.float64)
        neg = np.asarray(self.negatives, dtype=np.float64)
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos == 0 or n_neg == 0:
            return math.nan
        neg_below = np.cumsum(neg) - neg
        return float(np.sum(pos * (neg_below + 0.5 * neg)) / (n_pos * n_neg))

    def log_loss(self) -> float:
        """Mean log loss (exact, from the sums)."""
        return self.sum_log_loss / self.n if self.n else math.nan

    def expected_calibration_error(self, *, n_bins: int = 10) -> float:
        """ECE over ``n_bins`` equal-width bins (``self.n_bins`` must be a multiple of it)."""
        pos, count, prob = self._coarse(n_bins)
        total = count.sum()
        return float(np.sum(np.abs(pos - prob)) / total) if total else math.nan

    def _coarse(self, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if n_bins < 1 or self.n_bins % n_bins:
            raise ValueError(f"n_bins must divide the histogram's {self.n_bins} bins, got {n_bins!r}")
        k = self.n_bins // n_bins
        pos = np.asarray(self.positives, dtype=np.float64).reshape(n_bins, k).sum(axis=1)
        neg = np.asarray(self.negatives, dtype=np.float64).reshape(n_bins, k).sum(axis=1)
        prob = np.asarray(self.sum_prob, dtype=np.float64).reshape(n_bins, k).sum(axis=1)
        return pos, pos + neg, prob


Accumulator = ConfusionCounts | RegressionSums | ScoreHistogram


# ----------------------------------------------------------------------------- comparison


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceResult:
    """A window's performance against the reference.

    ``drift_detected`` is true only when the whole confidence interval lies on the
    worse side of ``reference`` by more than ``tolerance``. ``estimated`` is true
    when ``value`` is estimated without labels (:mod:`detectors.estimation`).
    """

    metric: str
    value: float
    reference: float
    ci_low: float
    ci_high: float
    n: int
    drift_detected: bool
    tolerance: float = 0.0
    higher_is_better: bool = True
    ci_method: CIMethod = "none"
    confidence_level: float = 0.95
    estimated: bool = False

    def change(self) -> float:
        """``value - reference`` (negative is worse when higher is better)."""
        return self.value - self.reference


def _decide(
    metric: str,
    value: float,
    reference: float,
    ci: ConfidenceInterval,
    n: int,
    *,
    tolerance: float,
    higher_is_better: bool,
    ci_method: CIMethod,
    confidence_level: float,
    estimated: bool = False,
) -> PerformanceResult:
    if higher_is_better:
        worse = ci.high < reference - tolerance
    else:
        worse = ci.low > reference + tolerance
    return PerformanceResult(
        metric=metric,
        value=value,
        reference=float(reference),
        ci_low=ci.low,
        ci_high=ci.high,
        n=n,
        drift_detected=bool(worse and math.isfinite(value)),
        tolerance=tolerance,
        higher_is_better=higher_is_better,
        ci_method=ci_method,
        confidence_level=confidence_level,
        estimated=estimated,
    )


def _check_common(reference_value: float, tolerance: float) -> None:
    if not math.isfinite(reference_value):
        raise ValueError(f"reference_value must be a finite number, got {reference_value!r}")
    if not (math.isfinite(tolerance) and tolerance >= 0.0):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")


def compare_performance(
    reference_value: float,
    y_true: object,
    y_pred: object,
    *,
    metric: str,
    tolerance: float = 0.0,
    higher_is_better: bool | None = None,
    confidence_level: float = 0.95,
    n_resamples: int = 1000,
    seed: int | np.random.Generator = 0,
    pos_label: object = 1,
) -> PerformanceResult:
    """Compare a window's metric (from its rows) with the reference value.

    Parameters
    ----------
    reference_value
        The metric on the reference (training) data.
    y_true, y_pred
        The window's labels or targets and its predicted labels, positive-class
        probabilities (``roc_auc``, ``log_loss``, ``ece``) or predicted values.
    metric
        A name in :data:`METRICS`.
    tolerance
        Absolute degradation that is acceptable (``>= 0``).
    higher_is_better
        Direction; defaults to the metric's own.
    confidence_level
        Level of the two-sided interval.
    n_resamples, seed
        Bootstrap settings for metrics that are not proportions.
    pos_label
        Positive class of label metrics.

    Returns
    -------
    PerformanceResult
        ``drift_detected`` when significantly worse than ``reference_value - tolerance``.

    Examples
    --------
    >>> y = [1, 0] * 200
    >>> r = compare_performance(0.95, y, [1, 0] * 150 + [0, 1] * 50, metric="accuracy")
    >>> print(r.value, round(r.ci_high, 3), r.drift_detected)
    0.75 0.792 True
    """
    m = get_metric(metric)
    _check_common(reference_value, tolerance)
    _check_level(confidence_level)
    direction = m.higher_is_better if higher_is_better is None else bool(higher_is_better)
    t, p = _pair(y_true, y_pred)
    n = int(t.size)
    ci_method: CIMethod
    if m.name in ("accuracy", "precision", "recall"):
        counts = ConfusionCounts.from_labels(t, p, pos_label=pos_label)
        value, k, trials = _proportion(m.name, counts)
        ci = proportion_ci(k, trials, confidence_level=confidence_level)
        ci_method = "clopper_pearson"
    else:
        fn: Callable[[np.ndarray, np.ndarray], float] = m.compute
        if m.name == "f1":

            def fn(a: np.ndarray, b: np.ndarray) -> float:
                return f1(a, b, pos_label=pos_label)

        value = fn(t, p)
        ci = bootstrap_ci(
            fn,  # ECE gets the basic interval: its bootstrap distribution is biased upward
            t,
            p,
            confidence_level=confidence_level,
            n_resamples=n_resamples,
            seed=seed,
            interval="basic" if m.name == "ece" else "percentile",
        )
        if m.name == "ece":
            ci = ConfidenceInterval(low=max(ci.low, 0.0), high=ci.high)
        ci_method = "bootstrap"
    return _decide(
        m.name,
        value,
        reference_value,
        ci,
        n,
        tolerance=float(tolerance),
        higher_is_better=direction,
        ci_method=ci_method,
        confidence_level=confidence_level,
    )


def _proportion(name: str, c: ConfusionCounts) -> tuple[float, int, int]:
    if name == "accuracy":
        return c.accuracy(), c.tp + c.tn, c.n
    if name == "precision":
        return c.precision(), c.tp, c.tp + c.fp
    return c.recall(), c.tp, c.tp + c.fn


def compare_accumulated(
    reference_value: float,
    accumulator: Accumulator,
    *,
    metric: str,
    tolerance: float = 0.0,
    higher_is_better: bool | None = None,
    confidence_level: float = 0.95,
    n_resamples: int = 1000,
    seed: int | np.random.Generator = 0,
    ece_bins: int = 10,
) -> PerformanceResult:
    """Compare a window's metric, computed from a bounded accumulator, with the reference value.

    The accumulator must fit the metric: :class:`ConfusionCounts` for label metrics,
    :class:`RegressionSums` for regression metrics, :class:`ScoreHistogram` for
    ``roc_auc``, ``log_loss`` and ``ece``. Intervals: see the module table.
    """
    m = get_metric(metric)
    _check_common(reference_value, tolerance)
    _check_level(confidence_level)
    direction = m.higher_is_better if higher_is_better is None else bool(higher_is_better)
    ci_method: CIMethod
    if m.kind == "label":
        if not isinstance(accumulator, ConfusionCounts):
            raise ValueError(f"metric {m.name!r} needs ConfusionCounts, got {type(accumulator).__name__}")
        n = accumulator.n
        if m.name == "f1":
            value = accumulator.f1()
            ci = _multinomial_f1_ci(accumulator, confidence_level, n_resamples, _rng(seed))
            ci_method = "bootstrap"
        else:
            value, k, trials = _proportion(m.name, accumulator)
            ci = proportion_ci(k, trials, confidence_level=confidence_level)
            ci_method = "clopper_pearson"
    elif m.kind == "regression":
        if not isinstance(accumulator, RegressionSums):
            raise ValueError(f"metric {m.name!r} needs RegressionSums, got {type(accumulator).__name__}")
        n = accumulator.n
        value, ci = _regression_ci(m.name, accumulator, confidence_level)
        ci_method = "normal"
    else:
        if not isinstance(accumulator, ScoreHistogram):
            raise ValueError(f"metric {m.name!r} needs a ScoreHistogram, got {type(accumulator).__name__}")
        n = accumulator.n
        value, ci, ci_method = _score_ci(
            m.name, accumulator, confidence_level, n_resamples, _rng(seed), ece_bins
        )
    return _decide(
        m.name,
        value,
        reference_value,
        ci,
        n,
        tolerance=float(tolerance),
        higher_is_better=direction,
        ci_method=ci_method,
        confidence_level=confidence_level,
    )


def _quantile_ci(values: np.ndarray, confidence_level: float) -> ConfidenceInterval:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return ConfidenceInterval(low=math.nan, high=math.nan)
    tail = (1.0 - confidence_level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return ConfidenceInterval(low=float(low), high=float(high))


def _multinomial_f1_ci(
    c: ConfusionCounts, confidence_level: float, n_resamples: int, rng: np.random.Generator
) -> ConfidenceInterval:
    if c.n == 0:
        return ConfidenceInterval(low=math.nan, high=math.nan)
    probs = np.array([c.tp, c.fp, c.tn, c.fn], dtype=np.float64) / c.n
    draws = rng.multinomial(c.n, probs, size=n_resamples).astype(np.float64)
    tp, fp, fn = draws[:, 0], draws[:, 1], draws[:, 3]
    denom = 2 * tp + fp + fn
    f1s = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return _quantile_ci(f1s, confidence_level)


def _regression_ci(name: str, s: RegressionSums, level: float) -> tuple[float, ConfidenceInterval]:
    nan = ConfidenceInterval(low=math.nan, high=math.nan)
    if s.n < 2:
        return {"mae": s.mae(), "rmse": s.rmse(), "mape": s.mape(), "r2": s.r2()}[name], nan
    n = s.n
    if name == "mae":
        mean = s.mae()
        var = max(s.sum_sq / n - mean * mean, 0.0) * n / (n - 1)
        return mean, _normal_ci(mean, math.sqrt(var / n), level)
    if name == "mape":
        mean = s.mape()
        var = max(s.sum_ape_sq / n - mean * mean, 0.0) * n / (n - 1)
        return mean, _normal_ci(mean, math.sqrt(var / n), level)
    mse = s.sum_sq / n
    var_sq = max(s.sum_sq_sq / n - mse * mse, 0.0) * n / (n - 1)
    mse_ci = _normal_ci(mse, math.sqrt(var_sq / n), level)
    if name == "rmse":
        return math.sqrt(mse), ConfidenceInterval(
            low=math.sqrt(max(mse_ci.low, 0.0)), high=math.sqrt(max(mse_ci.high, 0.0))
        )
    # r2 = 1 - MSE / var(y), treating the window's target variance as fixed
    var_y = s.sst() / n
    if var_y == 0.0:
        return s.r2(), nan
    return s.r2(), ConfidenceInterval(low=1.0 - mse_ci.high / var_y, high=1.0 - mse_ci.low / var_y)


def _score_ci(
    name: str, h: ScoreHistogram, level: float, n_resamples: int, rng: np.random.Generator, ece_bins: int
) -> tuple[float, ConfidenceInterval, CIMethod]:
    nan = ConfidenceInterval(low=math.nan, high=math.nan)
    if name == "log_loss":
        n = h.n
        if n < 2:
            return h.log_loss(), nan, "normal"
        mean = h.log_loss()
        var = max(h.sum_log_loss_sq / n - mean * mean, 0.0) * n / (n - 1)
        return mean, _normal_ci(mean, math.sqrt(var / n), level), "normal"
    if name == "roc_auc":
        auc = h.roc_auc()
        n_pos, n_neg = sum(h.positives), sum(h.negatives)
        if not math.isfinite(auc):
            return auc, nan, "normal"
        q1 = auc / (2.0 - auc)
        q2 = 2.0 * auc * auc / (1.0 + auc)
        var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (
            n_pos * n_neg
        )
        ci = _normal_ci(auc, math.sqrt(max(var, 0.0)), level)
        return auc, ConfidenceInterval(low=max(ci.low, 0.0), high=min(ci.high, 1.0)), "normal"
    value = h.expected_calibration_error(n_bins=ece_bins)
    pos, count, prob = h._coarse(ece_bins)
    n = int(count.sum())
    if n == 0:
        return value, nan, "bootstrap"
    # resample the window as a multinomial over (bin, label) cells; mean probability per bin kept fixed
    neg = count - pos
    cells = np.concatenate([pos, neg]) / n
    draws = rng.multinomial(n, cells, size=n_resamples).astype(np.float64)
    mean_prob = np.divide(prob, count, out=np.zeros_like(prob), where=count > 0)
    bpos, bneg = draws[:, :ece_bins], draws[:, ece_bins:]
    eces = np.sum(np.abs(bpos - (bpos + bneg) * mean_prob), axis=1) / n
    ci = _quantile_ci(eces, level)  # basic interval: ECE's bootstrap distribution is biased upward
    return value, ConfidenceInterval(low=max(2 * value - ci.high, 0.0), high=2 * value - ci.low), "bootstrap"
