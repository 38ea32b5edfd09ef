"""Shared contract of the streaming change detectors (River's shape, explicit reset)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Generic, Self, TypeVar


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorState:
    """Base of every detector checkpoint: a frozen, JSON-able record.

    ``dataclasses.asdict(state)`` gives plain JSON types; :meth:`from_dict` reads
    such a mapping back (JSON lists become tuples again).
    """

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build a state from ``dataclasses.asdict`` output (possibly JSON round-tripped).

        Parameters
        ----------
        data
            Mapping with exactly the fields of this state class.

        Returns
        -------
        DetectorState
            The state, with lists turned back into tuples.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted(names - set(data))
        if unknown or missing:
            raise ValueError(
                f"{cls.__name__} fields do not match: unknown {unknown!r}, missing {missing!r}; "
                f"allowed {sorted(names)!r}"
            )
        return cls(**{k: _freeze(v) for k, v in data.items()})


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


StateT = TypeVar("StateT", bound=DetectorState)


class StreamingDetector(ABC, Generic[StateT]):
    """A change detector fed one value at a time.

    ``update(x)`` sets the read-only flags ``drift_detected`` and ``warning_detected``
    for that value. Unlike River, nothing is forgotten implicitly: after a detection
    the caller handles it and then calls :meth:`reset`. Without a reset the detector
    keeps its statistics and goes on testing (the flag then reflects the latest value).
    """

    method: ClassVar[str]
    state_type: ClassVar[type[DetectorState]]

    def __init__(self) -> None:
        self._drift_detected = False
        self._warning_detected = False

    @property
    def drift_detected(self) -> bool:
        """Whether the latest :meth:`update` signalled a change."""
        return self._drift_detected

    @property
    def warning_detected(self) -> bool:
        """Whether the latest :meth:`update` signalled a warning (always False if unsupported)."""
        return self._warning_detected

    @abstractmethod
    def update(self, x: float) -> None:
        """Feed one value; sets ``drift_detected`` / ``warning_detected``."""

    @abstractmethod
    def reset(self) -> None:
        """Forget everything seen so far (parameters stay)."""

    @abstractmethod
    def snapshot(self) -> StateT:
        """Return a frozen, JSON-able checkpoint of the full state."""

    @abstractmethod
    def restore(self, state: StateT) -> None:
        """Continue exactly from ``state`` (taken from a detector with the same parameters)."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Constructor arguments that reproduce this detector (JSON-able)."""

    @classmethod
    def test_params(cls) -> tuple[dict[str, Any], ...]:
        """Parameter sets for the generic detector test (River's ``_unit_test_params``)."""
        return ({},)

    @classmethod
    def from_state(cls, state: StateT) -> Self:
        """Build a detector from a checkpoint taken by :meth:`snapshot`."""
        if not isinstance(state, cls.state_type):
            raise ValueError(
                f"{cls.__name__}.from_state needs a {cls.state_type.__name__}, got {type(state).__name__}"
            )
        detector = cls(**_params_of(state))
        detector.restore(state)
        return detector

    def _check_state(self, state: DetectorState) -> None:
        if not isinstance(state, self.state_type):
            raise ValueError(
                f"{type(self).__name__}.restore needs a {self.state_type.__name__}, got {type(state).__name__}"
            )
        theirs = _params_of(state)
        mine = self.params()
        if theirs != mine:
            raise ValueError(f"state parameters {theirs!r} differ from this detector's {mine!r}")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def _params_of(state: DetectorState) -> dict[str, Any]:
    params = getattr(state, "params", None)
    if not isinstance(params, tuple):
        raise ValueError(f"{type(state).__name__} has no params tuple")
    return {k: v for k, v in params}


def check_finite(name: str, x: float) -> float:
    """Return ``float(x)`` or raise ValueError when it is not a finite number."""
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {x!r}")
    return value


def check_range(
    name: str, value: float, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> None:
    """Raise ValueError naming ``value`` and the allowed interval when it lies outside."""
    ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok or (isinstance(value, float) and math.isnan(value)):
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value!r}")


def check_int(name: str, value: int, minimum: int) -> None:
    """Raise ValueError unless ``value`` is an int (not bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
