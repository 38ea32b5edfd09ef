"""Page-Hinkley test: a CUSUM on deviations from the running mean."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from detectors.streaming.base import DetectorState, StreamingDetector, check_finite, check_int, check_range

Mode = Literal["up", "down", "both"]
_MODES: tuple[Mode, ...] = ("up", "down", "both")


@dataclass(frozen=True, slots=True, kw_only=True)
class PageHinkleyState(DetectorState):
    """Checkpoint of a :class:`PageHinkley` detector."""

    params: tuple[tuple[str, Any], ...]
    n: int
    mean: float
    sum_increase: float
    sum_decrease: float
    min_increase: float | None
    max_decrease: float
    drift_detected: bool


class PageHinkley(StreamingDetector[PageHinkleyState]):
    r"""Page-Hinkley change detector for the mean of a stream.

    Parameters
    ----------
    min_instances
        Values needed after a reset before a change can be signalled.
    delta
        Magnitude of change tolerated per value (on the data's own scale).
    threshold
        Detection threshold :math:`\lambda` on the cumulative sum.
    alpha
        Forgetting factor of the cumulative sums, in (0, 1].
    mode
        ``"up"`` (increases only), ``"down"`` or ``"both"``.

    Notes
    -----
    With the running mean :math:`\bar x_t`,

    .. math::

        m^+_t = \alpha m^+_{t-1} + (x_t - \bar x_t - \delta), \qquad
        m^-_t = \alpha m^-_{t-1} + (x_t - \bar x_t + \delta)

    and a change is signalled when :math:`m^+_t - \min_s m^+_s > \lambda` (increase)
    or :math:`\max_s m^-_s - m^-_t > \lambda` (decrease).

    The test is scale dependent: ``delta`` and ``threshold`` are on the data's scale
    and the defaults assume roughly unit variance. Our defaults
    (``delta=0.05, threshold=100, alpha=1``) are calmer than River's
    (``delta=0.005, threshold=50, alpha=0.9999``). Measured on 1M drift-free N(0, 1)
    values with a reset after each alarm: River's defaults 636 false alarms, ours 1
    (0 on Bernoulli(0.05/0.2/0.4) streams); on 50 fresh streams of 20k N(0, 1)
    values: River's 620, ours 0. The forgetting factor is the main cause:
    with :math:`lpha < 1` the sum :math:`m^+` becomes a stationary process whose
    spread (about :math:`1/\sqrt{2(1-lpha)}` = 70 for River's value) exceeds the
    threshold. A 1-sigma mean shift is caught after about 90 values (median over
    20 seeds); an error rate rising 0.2 -> 0.4 after about 850.

    Unlike River there is no lazy reset: after a detection call :meth:`reset`.
    With the reset called right after each detection the detection points equal
    River's (tested).

    References
    ----------
    E. S. Page (1954). Continuous inspection schemes. Biometrika 41(1/2), 100-115.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(12345)
    >>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)])
    >>> ph = PageHinkley()
    >>> for i, x in enumerate(stream):
    ...     ph.update(x)
    ...     if ph.drift_detected:
    ...         print(f"Change detected at index {i}")
    ...         ph.reset()
    Change detected at index 1088
    """

    method = "page_hinkley"
    state_type = PageHinkleyState

    def __init__(
        self,
        *,
        min_instances: int = 30,
        delta: float = 0.05,
        threshold: float = 100.0,
        alpha: float = 1.0,
        mode: Mode = "both",
    ) -> None:
        super().__init__()
        check_int("min_instances", min_instances, 1)
        check_range("delta", delta, 0.0, math.inf, high_open=True)
        check_range("threshold", threshold, 0.0, math.inf, low_open=True, high_open=True)
        check_range("alpha", alpha, 0.0, 1.0, low_open=True)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES!r}, got {mode!r}")
        self._min_instances = min_instances
        self._delta = float(delta)
        self._threshold = float(threshold)
        self._alpha = float(alpha)
        self._mode: Mode = mode
        self.reset()

    def params(self) -> dict[str, Any]:
        return {
            "min_instances": self._min_instances,
            "delta": self._delta,
            "threshold": self._threshold,
            "alpha": self._alpha,
            "mode": self._mode,
        }

    @classmethod
    def test_params(cls) -> tuple[dict[str, Any], ...]:
        return ({}, {"mode": "up", "threshold": 5.0}, {"delta": 0.0, "alpha": 0.999, "min_instances": 1})

    def reset(self) -> None:
        self._drift_detected = False
        self._n = 0
        self._mean = 0.0
        self._sum_increase = 0.0
        self._sum_decrease = 0.0
        self._min_increase = math.inf
        self._max_decrease = -1.0

    def update(self, x: float) -> None:
        value = check_finite("x", x)
        self._n += 1
        self._mean += (1.0 / self._n) * (value - self._mean)
        dev = value - self._mean
        self._sum_increase = self._alpha * self._sum_increase + dev - self._delta
        self._sum_decrease = self._alpha * self._sum_decrease + dev + self._delta
        self._min_increase = min(self._min_increase, self._sum_increase)
        self._max_decrease = max(self._max_decrease, self._sum_decrease)
        if self._n < self._min_instances:
            return
        up = self._sum_increase - self._min_increase > self._threshold
        down = self._max_decrease - self._sum_decrease > self._threshold
        if self._mode == "up":
            self._drift_detected = up
        elif self._mode == "down":
            self._drift_detected = down
        else:
            self._drift_detected = up or down

    def snapshot(self) -> PageHinkleyState:
        return PageHinkleyState(
            params=tuple(self.params().items()),
            n=self._n,
            mean=self._mean,
            sum_increase=self._sum_increase,
            sum_decrease=self._sum_decrease,
            min_increase=None if math.isinf(self._min_increase) else self._min_increase,
            max_decrease=self._max_decrease,
            drift_detected=self._drift_detected,
        )

    def restore(self, state: PageHinkleyState) -> None:
        self._check_state(state)
        self._n = state.n
        self._mean = state.mean
        self._sum_increase = state.sum_increase
        self._sum_decrease = state.sum_decrease
        self._min_increase = math.inf if state.min_increase is None else state.min_increase
        self._max_decrease = state.max_decrease
        self._drift_detected = state.drift_detected
