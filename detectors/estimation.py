"""Label-free performance estimation for binary classifiers with scores (confidence based, CBPE-like)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from detectors.performance import PerformanceResult, accuracy, roc_auc

CalibrationMethod = Literal["isotonic", "platt"]
EstimatedMetric = Literal["accuracy", "roc_auc"]
_METHODS: tuple[CalibrationMethod, ...] = ("isotonic", "platt")
_METRICS: tuple[EstimatedMetric, ...] = ("accuracy", "roc_auc")


@dataclass(frozen=True, slots=True, kw_only=True)
class Calibration:
    """A fitted score -> probability map, JSON-able (``dataclasses.asdict``).

    ``isotonic``: piecewise linear through ``(x, y)``, clipped at the ends.
    ``platt``: :math:`1 / (1 + e^{-(a s + b)})` with ``a``, ``b``.
    """

    method: CalibrationMethod
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    a: float = 0.0
    b: float = 0.0

    def __call__(self, scores: object) -> np.ndarray:
        """Calibrated positive-class probabilities of ``scores``."""
        s = np.asarray(scores, dtype=np.float64).ravel()
        if self.method == "isotonic":
            out: np.ndarray = np.interp(s, np.asarray(self.x), np.asarray(self.y))
            return out
        z = np.clip(self.a * s + self.b, -500.0, 500.0)
        probs: np.ndarray = 1.0 / (1.0 + np.exp(-z))
        return probs


def fit_calibration(y_true: object, scores: object, *, method: CalibrationMethod = "isotonic") -> Calibration:
    """Fit a calibration of scores to 0/1 labels on the reference set.

    Parameters
    ----------
    y_true
        Reference labels, 1 for the positive class.
    scores
        The model's reference scores (any monotone score; probabilities need not be calibrated).
    method
        ``"isotonic"`` (non-parametric, needs a few thousand rows) or ``"platt"`` (logistic).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS!r}, got {method!r}")
    y = np.asarray(y_true).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true and scores must have the same length, got {y.size} and {s.size}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite numbers")
    labels = set(np.unique(y).tolist())
    if labels != {0, 1}:
        raise ValueError(f"y_true must contain both classes 0 and 1, got {sorted(labels)!r}")
    yf = y.astype(np.float64)
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, yf)
        return Calibration(
            method="isotonic",
            x=tuple(float(v) for v in iso.X_thresholds_),
            y=tuple(float(v) for v in iso.y_thresholds_),
        )
    model = LogisticRegression(C=1e6, max_iter=1000).fit(s.reshape(-1, 1), y.astype(int))
    return Calibration(method="platt", a=float(model.coef_[0, 0]), b=float(model.intercept_[0]))


def expected_accuracy(probs: np.ndarray, predicted_positive: np.ndarray) -> tuple[float, float]:
    r"""Expected accuracy and its standard deviation given calibrated probabilities.

    Notes
    -----
    A row is correct with probability :math:`c_i = p_i` if predicted positive, else
    :math:`1 - p_i`; accuracy is :math:`\frac{1}{n}\sum c_i` with variance
    :math:`\frac{1}{n^2}\sum c_i (1 - c_i)` (Poisson binomial).
    """
    c = np.where(predicted_positive, probs, 1.0 - probs)
    n = c.size
    if n == 0:
        return math.nan, math.nan
    return float(c.mean()), float(math.sqrt(np.sum(c * (1.0 - c))) / n)


def expected_roc_auc(probs: np.ndarray, scores: np.ndarray) -> float:
    r"""Expected ROC AUC of scores whose rows are positive with probability ``probs``.

    Notes
    -----
    Each ordered pair of distinct rows counts as (positive, negative) with weight
    :math:`p_i (1 - p_j)`:

    .. math::

        \widehat{AUC} = \frac{\sum_{i \ne j} p_i (1 - p_j)
        ([s_i > s_j] + \tfrac12 [s_i = s_j])}{\sum_{i \ne j} p_i (1 - p_j)}

    computed in :math:`O(n \log n)` by sorting the scores.
    """
    if probs.size < 2:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    s, p = scores[order], probs[order]
    q = 1.0 - p
    uniq, start = np.unique(s, return_index=True)
    group_q = np.add.reduceat(q, start)
    group_p = np.add.reduceat(p, start)
    q_below = np.cumsum(group_q) - group_q
    numerator = float(np.sum(group_p * (q_below + 0.5 * group_q)) - 0.5 * np.sum(p * q))
    denominator = float(p.sum() * q.sum() - np.sum(p * q))
    if denominator <= 0.0:
        return math.nan
    return numerator / denominator


class PerformanceEstimator:
    r"""Estimate a binary classifier's accuracy and ROC AUC on unlabelled windows.

    Fit on the labelled reference set (:meth:`fit`): scores are calibrated there,
    and the reference metrics are recorded. On a window of scores only, the
    calibrated probabilities give the expected metric, assuming :math:`P(y \mid s)`
    is unchanged (covariate shift, no concept drift) — the assumption of
    confidence-based performance estimation (CBPE).

    Parameters
    ----------
    calibration
        A fitted :class:`Calibration`.
    threshold
        Scores at or above it are predicted positive.
    reference_accuracy, reference_roc_auc
        The realised metrics on the reference set.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.beta(2, 2, 20000)
    >>> y = (rng.random(20000) < p).astype(int)
    >>> est = PerformanceEstimator.fit(y, p)
    >>> r = est.estimate(rng.beta(5, 1, 5000), metric="accuracy")
    >>> print(r.estimated, round(r.value, 2), r.drift_detected)
    True 0.84 False
    """

    def __init__(
        self,
        calibration: Calibration,
        *,
        threshold: float = 0.5,
        reference_accuracy: float,
        reference_roc_auc: float,
    ) -> None:
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")
        self.calibration = calibration
        self.threshold = float(threshold)
        self.reference_accuracy = float(reference_accuracy)
        self.reference_roc_auc = float(reference_roc_auc)

    @classmethod
    def fit(
        cls,
        y_true: object,
        scores: object,
        *,
        method: CalibrationMethod = "isotonic",
        threshold: float = 0.5,
    ) -> PerformanceEstimator:
        """Calibrate on the reference set and record its realised accuracy and ROC AUC."""
        calibration = fit_calibration(y_true, scores, method=method)
        s = np.asarray(scores, dtype=np.float64).ravel()
        y = np.asarray(y_true).ravel()
        return cls(
            calibration,
            threshold=threshold,
            reference_accuracy=accuracy(y, (s >= threshold).astype(y.dtype)),
            reference_roc_auc=roc_auc(y, s),
        )

    def estimate(
        self,
        scores: object,
        *,
        metric: EstimatedMetric = "accuracy",
        reference_value: float | None = None,
        tolerance: float = 0.0,
        confidence_level: float = 0.95,
    ) -> PerformanceResult:
        """Estimated metric of a window from its scores alone.

        The interval is a normal approximation of the realised metric's spread
        given the calibrated probabilities (Poisson binomial for accuracy,
        Hanley-McNeil with the expected class counts for ROC AUC).
        ``drift_detected`` when it lies wholly below ``reference_value - tolerance``
        (default reference: the realised metric on the reference set).
        """
        if metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS!r}, got {metric!r}")
        if not (math.isfinite(tolerance) and tolerance >= 0.0):
            raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
        if not 0.0 < confidence_level < 1.0:
            raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}")
        s = np.asarray(scores, dtype=np.float64).ravel()
        s = s[np.isfinite(s)]
        probs = self.calibration(s)
        z = float(stats.norm.ppf(0.5 + confidence_level / 2.0))
        if metric == "accuracy":
            reference = self.reference_accuracy if reference_value is None else float(reference_value)
            value, sd = expected_accuracy(probs, s >= self.threshold)
        else:
            reference = self.reference_roc_auc if reference_value is None else float(reference_value)
            value = expected_roc_auc(probs, s)
            sd = _hanley_mcneil_sd(value, float(probs.sum()), float((1.0 - probs).sum()))
        low, high = (value - z * sd, value + z * sd) if math.isfinite(sd) else (math.nan, math.nan)
        low, high = max(low, 0.0), min(high, 1.0)
        return PerformanceResult(
            metric=metric,
            value=value,
            reference=reference,
            ci_low=low,
            ci_high=high,
            n=int(s.size),
            drift_detected=bool(math.isfinite(value) and high < reference - tolerance),
            tolerance=float(tolerance),
            higher_is_better=True,
            ci_method="normal",
            confidence_level=confidence_level,
            estimated=True,
        )


def _hanley_mcneil_sd(auc: float, n_pos: float, n_neg: float) -> float:
    if not math.isfinite(auc) or n_pos < 1.0 or n_neg < 1.0:
        return math.nan
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (
        n_pos * n_neg
    )
    return math.sqrt(max(var, 0.0))
