"""Multivariate drift of a window: the reference and window row samples as numeric matrices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from detectors.multivariate import MultivariateDriftResult, PCAReconstructionDrift, domain_classifier_test
from detectors.profile import Profile
from detectors.sketch import WindowSketch

MULTIVARIATE_METHODS: tuple[str, ...] = ("pca_reconstruction", "domain_classifier")
MIN_ROWS = 50


def _numeric_features(profile: Profile) -> list[str]:
    return [c.name for c in profile.columns if c.role == "feature" and c.type == "numeric"]


def multivariate_drift(
    profile: Profile,
    sketch: WindowSketch,
    *,
    methods: Sequence[str] = MULTIVARIATE_METHODS,
    seed: int = 0,
) -> Mapping[str, MultivariateDriftResult]:
    """Run the multivariate tests on the numeric features' row samples (reference vs window).

    They catch joint changes that no single feature shows (a flipped correlation with unchanged
    marginals). Windows with fewer than 50 sampled rows, or profiles with fewer than two numeric
    features, give an empty mapping.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> from detectors.profile import build_profile
    >>> ref = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], 4000)
    >>> p = build_profile({"a": ref[:, 0], "b": ref[:, 1]}, created_at="x")
    >>> cur = rng.multivariate_normal([0, 0], [[1, -0.9], [-0.9, 1]], 1000)
    >>> s = p.new_sketch(); s.update({"a": cur[:, 0], "b": cur[:, 1]})
    >>> {k: v.drift_detected for k, v in multivariate_drift(p, s).items()}
    {'pca_reconstruction': True, 'domain_classifier': True}
    """
    for m in methods:
        if m not in MULTIVARIATE_METHODS:
            raise ValueError(f"multivariate method must be one of {MULTIVARIATE_METHODS}, got {m!r}")
    names = _numeric_features(profile)
    if len(names) < 2:
        return MappingProxyType({})
    ref = np.column_stack(
        [np.array([np.nan if v is None else v for v in profile.sample.get(n, ())], dtype=np.float64) for n in names]
    )
    cur = np.column_stack([sketch.sample.values[n].astype(np.float64) for n in names])
    ref = ref[np.isfinite(ref).any(axis=1)]
    cur = cur[np.isfinite(cur).any(axis=1)]
    if ref.shape[0] < MIN_ROWS or cur.shape[0] < MIN_ROWS:
        return MappingProxyType({})
    means = np.nanmean(ref, axis=0)
    means = np.where(np.isfinite(means), means, 0.0)
    ref = np.where(np.isfinite(ref), ref, means)
    cur = np.where(np.isfinite(cur), cur, means)
    out: dict[str, MultivariateDriftResult] = {}
    if "pca_reconstruction" in methods:
        out["pca_reconstruction"] = PCAReconstructionDrift(ref).test(cur, seed=seed)
    if "domain_classifier" in methods:
        out["domain_classifier"] = domain_classifier_test(ref, cur, seed=seed)
    return MappingProxyType(out)
