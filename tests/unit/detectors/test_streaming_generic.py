"""Every streaming detector through its declared test_params: construct, determinism, reset, checkpoint."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.streaming import STREAMING_DETECTORS, StreamingDetector

BINARY = {"ddm", "eddm", "hddm_a"}

CASES = [
    pytest.param(cls, params, id=f"{name}-{i}")
    for name, cls in STREAMING_DETECTORS.items()
    for i, params in enumerate(cls.test_params())
]


def make_stream(method: str, seed: int, n: int = 3000) -> list[float]:
    rng = np.random.default_rng(seed)
    if method in BINARY:
        rate = np.r_[np.full(n // 2, 0.15), np.full(n - n // 2, 0.45)]
        return (rng.random(n) < rate).astype(float).tolist()
    return np.r_[rng.normal(0, 1, n // 2), rng.normal(1.5, 1, n - n // 2)].tolist()


def run(detector: StreamingDetector[Any], stream: list[float]) -> list[tuple[int, bool, bool]]:
    out = []
    for i, x in enumerate(stream):
        detector.update(x)
        out.append((i, detector.drift_detected, detector.warning_detected))
        if detector.drift_detected:
            detector.reset()
    return out


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_construct_and_detect_an_abrupt_change(
    cls: type[StreamingDetector[Any]], params: dict[str, Any]
) -> None:
    detector = cls(**params)
    assert not detector.drift_detected and not detector.warning_detected
    flags = run(detector, make_stream(cls.method, 1))
    assert any(d for i, d, _ in flags if i >= 1500), "the change in the second half is detected"
    assert cls.method in repr(detector).lower() or cls.__name__ in repr(detector)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_deterministic(cls: type[StreamingDetector[Any]], params: dict[str, Any]) -> None:
    stream = make_stream(cls.method, 2)
    assert run(cls(**params), stream) == run(cls(**params), stream)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_reset_equals_fresh(cls: type[StreamingDetector[Any]], params: dict[str, Any]) -> None:
    stream = make_stream(cls.method, 3)
    used = cls(**params)
    run(used, stream[:1700])
    used.reset()
    assert not used.drift_detected and not used.warning_detected
    assert used.snapshot() == cls(**params).snapshot()
    assert run(used, stream) == run(cls(**params), stream)


@pytest.mark.parametrize(("cls", "params"), CASES)
@pytest.mark.parametrize("cut", [0, 10, 1499, 1600, 2999])
def test_snapshot_restore_round_trip_through_json(
    cls: type[StreamingDetector[Any]], params: dict[str, Any], cut: int
) -> None:
    stream = make_stream(cls.method, 4)
    original = cls(**params)
    head = run(original, stream[:cut])
    state = original.snapshot()
    text = json.dumps(dataclasses.asdict(state), allow_nan=False)
    revived_state = cls.state_type.from_dict(json.loads(text))
    assert revived_state == state
    revived = cls.from_state(revived_state)
    assert revived.snapshot() == state
    assert (revived.drift_detected, revived.warning_detected) == (
        original.drift_detected,
        original.warning_detected,
    )
    assert head + run(original, stream[cut:]) == head + run(revived, stream[cut:])


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_state_is_frozen(cls: type[StreamingDetector[Any]], params: dict[str, Any]) -> None:
    state = cls(**params).snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.params = ()  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(STREAMING_DETECTORS))
def test_restore_rejects_other_parameters_and_types(name: str) -> None:
    cls = STREAMING_DETECTORS[name]
    first, *rest = cls.test_params()
    detector = cls(**first)
    if rest:
        with pytest.raises(ValueError, match="differ"):
            detector.restore(cls(**rest[0]).snapshot())
    other = next(c for n, c in STREAMING_DETECTORS.items() if n != name)
    with pytest.raises(ValueError, match="needs a"):
        detector.restore(other(**other.test_params()[0]).snapshot())


@pytest.mark.parametrize("name", sorted(STREAMING_DETECTORS))
def test_from_dict_rejects_unknown_fields(name: str) -> None:
    cls = STREAMING_DETECTORS[name]
    data = dataclasses.asdict(cls(**cls.test_params()[0]).snapshot())
    data["bogus"] = 1
    with pytest.raises(ValueError, match="bogus"):
        cls.state_type.from_dict(data)


@pytest.mark.parametrize("name", sorted(STREAMING_DETECTORS))
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2.0, -1.0])
def test_update_rejects_invalid_values(name: str, bad: float) -> None:
    cls = STREAMING_DETECTORS[name]
    detector = cls(**cls.test_params()[0])
    if name not in BINARY and bad in (2.0, -1.0):
        detector.update(bad)  # numeric detectors accept any finite value
        return
    with pytest.raises(ValueError, match="x must"):
        detector.update(bad)


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(STREAMING_DETECTORS)),
    values=st.lists(st.integers(0, 1), min_size=0, max_size=400),
    cut=st.integers(0, 400),
)
def test_checkpoint_anywhere_continues_identically(name: str, values: list[int], cut: int) -> None:
    cls = STREAMING_DETECTORS[name]
    params = cls.test_params()[-1]
    stream = [float(v) for v in values]
    cut = min(cut, len(stream))
    a = cls(**params)
    run(a, stream[:cut])
    b = cls.from_state(a.snapshot())
    assert run(a, stream[cut:]) == run(b, stream[cut:])
