"""Multivariate drift: PCA reconstruction error and a domain classifier.

Both catch changes that per-feature (marginal) tests cannot see, such as a flipped
correlation between two features whose marginals stay the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold


@dataclass(frozen=True, slots=True, kw_only=True)
class MultivariateDriftResult:
    """Outcome of a multivariate drift test on a window of rows.

    ``statistic`` is on the method's own scale (mean reconstruction error, or the
    domain classifier's ROC AUC); drift when it is above ``threshold``.
    ``p_value`` is the bootstrap or permutation p-value.
    """

    method: str
    statistic: float
    threshold: float
    p_value: float | None
    drift_detected: bool
    n_reference: int
    n_current: int


def _matrix(name: str, data: object, n_features: int | None = None) -> np.ndarray:
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array of rows x features, got {x.ndim} dimension(s)")
    if n_features is not None and x.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} features, got {x.shape[1]}")
    return x


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, int) and not isinstance(seed, bool):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be an int or a numpy.random.Generator, got {seed!r}")


class PCAReconstructionDrift:
    r"""Drift of the mean PCA reconstruction error of standardised rows.

    Parameters
    ----------
    reference
        Reference rows (n x d, numeric). Missing values are replaced by the
        reference mean of their column.
    variance_kept
        Keep the fewest principal components explaining at least this share of the
        standardised variance, in (0, 1).
    n_components
        Or a fixed number of components (overrides ``variance_kept``).

    Notes
    -----
    Rows are standardised with the reference mean and standard deviation,
    :math:`z = (x - \mu) / \sigma`, projected on the top-:math:`k` principal axes
    :math:`W` and reconstructed; the per-row error is
    :math:`e = \lVert z - z W W^\top \rVert^2 / d`. The window statistic is the mean
    error. Its threshold is the :math:`1 - \alpha` quantile of the means of
    seeded bootstrap samples (of the window's size) of the reference errors.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], 3000)
    >>> cur = rng.multivariate_normal([0, 0], [[1, -0.9], [-0.9, 1]], 1000)
    >>> detector = PCAReconstructionDrift(ref)
    >>> r = detector.test(cur)
    >>> print(r.drift_detected, round(r.statistic, 2), round(r.threshold, 2))
    True 1.01 0.05
    """

    method = "pca_reconstruction"

    def __init__(
        self, reference: object, *, variance_kept: float = 0.9, n_components: int | None = None
    ) -> None:
        x = _matrix("reference", reference)
        n, d = x.shape
        if n < 2 or d < 1:
            raise ValueError(f"reference needs at least 2 rows and 1 feature, got {n} x {d}")
        if not 0.0 < variance_kept < 1.0:
            raise ValueError(f"variance_kept must be in (0, 1), got {variance_kept!r}")
        if n_components is not None and not 1 <= n_components <= d:
            raise ValueError(f"n_components must be in [1, {d}], got {n_components!r}")
        self._mean = np.nanmean(x, axis=0)
        if not np.all(np.isfinite(self._mean)):
            raise ValueError("reference has a column without any finite value")
        std = np.nanstd(x, axis=0)
        self._std = np.where(std > 0, std, 1.0)
        z = self._standardise(x)
        _, sing, vt = np.linalg.svd(z, full_matrices=False)
        explained = sing**2 / max(float(np.sum(sing**2)), 1e-300)
        if n_components is None:
            k = int(np.searchsorted(np.cumsum(explained), variance_kept) + 1)
            k = min(k, d)
        else:
            k = n_components
        self.n_components = k
        self._axes = vt[:k].T
        self._reference_errors = self.errors(x)

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        z = (x - self._mean) / self._std
        return np.where(np.isfinite(z), z, 0.0)

    def errors(self, rows: object) -> np.ndarray:
        """Per-row reconstruction error of ``rows``."""
        x = _matrix("rows", rows, self._mean.size)
        z = self._standardise(x)
        residual = z - (z @ self._axes) @ self._axes.T
        out: np.ndarray = np.sum(residual * residual, axis=1) / z.shape[1]
        return out

    def test(
        self,
        current: object,
        *,
        alpha: float = 0.01,
        n_resamples: int = 1000,
        seed: int | np.random.Generator = 0,
    ) -> MultivariateDriftResult:
        """Test a window of rows against the reference.

        Parameters
        ----------
        current
            Window rows, same features as the reference.
        alpha
            Level of the bootstrap threshold, in (0, 1).
        n_resamples
            Bootstrap samples of the reference error mean.
        seed
            Seed or generator of the bootstrap.
        """
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if n_resamples < 10:
            raise ValueError(f"n_resamples must be >= 10, got {n_resamples!r}")
        errors = self.errors(current)
        m = errors.size
        if m == 0:
            raise ValueError("current must have at least one row")
        rng = _rng(seed)
        ref = self._reference_errors
        means = np.empty(n_resamples)
        for i in range(n_resamples):
            means[i] = ref[rng.integers(0, ref.size, m)].mean()
        statistic = float(errors.mean())
        threshold = float(np.quantile(means, 1.0 - alpha))
        p_value = float((1 + np.sum(means >= statistic)) / (n_resamples + 1))
        return MultivariateDriftResult(
            method=self.method,
            statistic=statistic,
            threshold=threshold,
            p_value=p_value,
            drift_detected=statistic > threshold,
            n_reference=int(ref.size),
            n_current=int(m),
        )


def _quadratic_features(z: np.ndarray) -> np.ndarray:
    d = z.shape[1]
    rows, cols = np.triu_indices(d)
    return np.hstack([z, z[:, rows] * z[:, cols]])


def _cv_auc(features: np.ndarray, labels: np.ndarray, folds: int, seed: int) -> float:
    scores = np.empty(labels.size)
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in split.split(features, labels):
        model = LogisticRegression(C=1.0, max_iter=500)
        model.fit(features[train], labels[train])
        scores[test] = model.decision_function(features[test])
    return float(roc_auc_score(labels, scores))


def domain_classifier_test(
    reference: object,
    current: object,
    *,
    alpha: float = 0.05,
    n_permutations: int = 19,
    min_auc: float = 0.55,
    folds: int = 2,
    max_rows: int = 2000,
    seed: int = 0,
) -> MultivariateDriftResult:
    r"""Can a classifier tell window rows from reference rows?

    Parameters
    ----------
    reference, current
        Rows (n x d, numeric) of the reference and of the window.
    alpha
        Level of the permutation test, in (0, 1).
    n_permutations
        Label permutations for the null distribution of the AUC (with 19 the
        smallest p-value is 0.05).
    min_auc
        Effect-size floor: never flag below this AUC, so that huge windows do not
        flag negligible differences.
    folds
        Cross-validation folds; the AUC is computed on held-out predictions.
    max_rows
        At most this many rows per side are used (a seeded subsample).
    seed
        Seed of the subsample, the folds and the permutations.

    Notes
    -----
    Features are standardised with the reference statistics and augmented with all
    pairwise products, so the logistic-regression domain classifier sees changes
    of correlation as well as of location and scale. The statistic is the
    cross-validated ROC AUC of reference (0) vs window (1). The threshold is
    :math:`\max(\text{min\_auc}, q_{1-\alpha})` of the AUCs under permuted labels,
    and the p-value is :math:`(1 + \#\{AUC_\pi \ge AUC\}) / (1 + B)`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], 1000)
    >>> cur = rng.multivariate_normal([0, 0], [[1, -0.9], [-0.9, 1]], 1000)
    >>> r = domain_classifier_test(ref, cur)
    >>> print(r.drift_detected, round(r.statistic, 2), r.p_value)
    True 0.95 0.05
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations!r}")
    if not 0.5 <= min_auc < 1.0:
        raise ValueError(f"min_auc must be in [0.5, 1), got {min_auc!r}")
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds!r}")
    if max_rows < folds:
        raise ValueError(f"max_rows must be >= folds ({folds}), got {max_rows!r}")
    ref = _matrix("reference", reference)
    cur = _matrix("current", current, ref.shape[1])
    if ref.shape[0] < folds or cur.shape[0] < folds:
        raise ValueError(
            f"reference and current need at least {folds} rows each, got {ref.shape[0]} and {cur.shape[0]}"
        )
    rng = np.random.default_rng(seed)
    if ref.shape[0] > max_rows:
        ref = ref[rng.choice(ref.shape[0], max_rows, replace=False)]
    if cur.shape[0] > max_rows:
        cur = cur[rng.choice(cur.shape[0], max_rows, replace=False)]
    mean = np.nanmean(ref, axis=0)
    std = np.nanstd(ref, axis=0)
    std = np.where(std > 0, std, 1.0)
    z = (np.vstack([ref, cur]) - mean) / std
    z = np.where(np.isfinite(z), z, 0.0)
    features = _quadratic_features(z)
    labels = np.r_[np.zeros(ref.shape[0], dtype=int), np.ones(cur.shape[0], dtype=int)]
    statistic = _cv_auc(features, labels, folds, seed)
    null = np.array([_cv_auc(features, rng.permutation(labels), folds, seed) for _ in range(n_permutations)])
    threshold = max(min_auc, float(np.quantile(null, 1.0 - alpha)))
    p_value = float((1 + np.sum(null >= statistic)) / (n_permutations + 1))
    return MultivariateDriftResult(
        method="domain_classifier",
        statistic=statistic,
        threshold=threshold,
        p_value=p_value,
        drift_detected=bool(statistic > threshold and math.isfinite(statistic)),
        n_reference=int(ref.shape[0]),
        n_current=int(cur.shape[0]),
    )
