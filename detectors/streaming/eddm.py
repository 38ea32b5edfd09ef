"""EDDM: early drift detection from the distance between errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detectors.streaming.base import DetectorState, StreamingDetector, check_int, check_range
from detectors.streaming.ddm import check_binary


@dataclass(frozen=True, slots=True, kw_only=True)
class EDDMState(DetectorState):
    """Checkpoint of an :class:`EDDM` detector."""

    params: tuple[tuple[str, Any], ...]
    n: int
    last_error: int
    n_errors: int
    distance_mean: float
    distance_m2: float
    p2s_max: float
    drift_detected: bool
    warning_detected: bool


class EDDM(StreamingDetector[EDDMState]):
    r"""Early Drift Detection Method for a 0/1 error stream.

    Parameters
    ----------
    warm_start
        Values and errors needed after a reset before a warning or change.
    alpha
        Warning when the level drops below ``alpha``.
    beta
        Change when the level drops below ``beta`` (``beta <= alpha``).

    Notes
    -----
    With :math:`p'_i` and :math:`s'_i` the mean and standard deviation (ddof 1) of
    the distance between consecutive errors, and :math:`(p' + 2s')_{max}` their
    maximum so far, the level is :math:`(p'_i + 2 s'_i) / (p' + 2s')_{max}`: a warning
    below :math:`\alpha`, a change below :math:`\beta`.

    Our defaults ``warm_start=300, alpha=0.8, beta=0.7`` (River: 30, 0.95, 0.9) are
    much calmer but EDDM stays the noisiest detector here: its level is relative to
    the best value seen since the last reset, which is noisy for a while after each
    (re)start. Measured on 50 fresh drift-free Bernoulli streams of 20k values (1M
    values, a reset after each alarm) at error rates 0.05 / 0.2: River's defaults
    914 / 1285 false alarms, ours 8 / 1. The price is delay: median about 930 rows
    for an error rate 0.05 -> 0.15 and 3400 rows for 0.2 -> 0.4. Prefer
    :class:`~detectors.streaming.HDDM_A`; EDDM is not in the default
    :class:`~detectors.concept.ConceptDriftMonitor`. With :meth:`reset` called right
    after each detection the detection points equal
    River's (tested). Unlike River, a change clears the warning flag; ``drift_detected``
    is the event of the latest update and ``warning_detected`` the zone the detector is in.

    References
    ----------
    M. Baena-Garcia et al. (2006). Early drift detection method. Fourth
    International Workshop on Knowledge Discovery from Data Streams.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> errors = np.concatenate([rng.random(1000) < 0.2, rng.random(1000) < 0.6]).astype(int)
    >>> eddm = EDDM()
    >>> for i, e in enumerate(errors):
    ...     eddm.update(e)
    ...     if eddm.drift_detected:
    ...         print(f"Change detected at index {i}")
    ...         eddm.reset()
    Change detected at index 1443
    """

    method = "eddm"
    state_type = EDDMState

    def __init__(self, *, warm_start: int = 300, alpha: float = 0.8, beta: float = 0.7) -> None:
        super().__init__()
        check_int("warm_start", warm_start, 0)
        check_range("alpha", alpha, 0.0, 1.0, low_open=True, high_open=True)
        check_range("beta", beta, 0.0, alpha, low_open=True)
        self._warm_start = warm_start
        self._alpha = float(alpha)
        self._beta = float(beta)
        self.reset()

    def params(self) -> dict[str, Any]:
        return {"warm_start": self._warm_start, "alpha": self._alpha, "beta": self._beta}

    @classmethod
    def test_params(cls) -> tuple[dict[str, Any], ...]:
        return ({}, {"warm_start": 5, "alpha": 0.95, "beta": 0.9})

    def reset(self) -> None:
        self._drift_detected = False
        self._warning_detected = False
        self._n = 0
        self._last_error = 0
        self._n_errors = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._p2s_max = -1.0

    def update(self, x: float) -> None:
        value = check_binary(x)
        self._drift_detected = False
        self._n += 1
        if value != 1.0:
            return
        self._n_errors += 1
        distance = float(self._n - self._last_error)
        old = self._mean
        self._mean += (1.0 / self._n_errors) * (distance - old)
        self._m2 += (distance - old) * (distance - self._mean)
        self._last_error = self._n
        if self._n <= self._warm_start:
            return
        std = (self._m2 / (self._n_errors - 1)) ** 0.5 if self._n_errors > 1 else 0.0
        p2s = self._mean + 2.0 * std
        if p2s > self._p2s_max:
            self._p2s_max = p2s
        elif self._n_errors > self._warm_start:
            level = p2s / self._p2s_max
            self._drift_detected = level < self._beta
            self._warning_detected = not self._drift_detected and level < self._alpha

    def snapshot(self) -> EDDMState:
        return EDDMState(
            params=tuple(self.params().items()),
            n=self._n,
            last_error=self._last_error,
            n_errors=self._n_errors,
            distance_mean=self._mean,
            distance_m2=self._m2,
            p2s_max=self._p2s_max,
            drift_detected=self._drift_detected,
            warning_detected=self._warning_detected,
        )

    def restore(self, state: EDDMState) -> None:
        self._check_state(state)
        self._n = state.n
        self._last_error = state.last_error
        self._n_errors = state.n_errors
        self._mean = state.distance_mean
        self._m2 = state.distance_m2
        self._p2s_max = state.p2s_max
        self._drift_detected = state.drift_detected
        self._warning_detected = state.warning_detected
