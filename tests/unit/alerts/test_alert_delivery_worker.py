"""DeliveryWorker: per-sink order, backoff with jitter, Retry-After, permanent failures, drain."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from alerts_factories import T0, drift, window
from alerts_memory_store import InMemoryAlertStore

from alerts import (
    AlertPipeline,
    Backoff,
    DeliveryWorker,
    FailureReason,
    Notification,
    PolicySettings,
    SendOutcome,
    SinkRoute,
)


@dataclass
class ScriptedSink:
    """Returns scripted outcomes (then ok) and records every attempt."""

    name: str
    script: list[SendOutcome] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)

    def send(self, notification: Notification) -> SendOutcome:
        self.attempts.append(notification.event_id)
        outcome = self.script.pop(0) if self.script else SendOutcome.success()
        if outcome.ok:
            self.delivered.append(notification.event_id)
        return outcome


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


SERVER_DOWN = SendOutcome(ok=False, reason=FailureReason.SERVER, retryable=True, detail="down")
BAD_REQUEST = SendOutcome(ok=False, reason=FailureReason.CLIENT, retryable=False, status_code=400)


def fill(store: InMemoryAlertStore, sinks: Iterable[str], windows: int = 4) -> list[str]:
    """Fire and resolve alternately so every window enqueues one notification per sink."""
    pipeline = AlertPipeline(
        store,
        settings=PolicySettings(consecutive_windows=1, resolve_windows=1),
        sinks={s: SinkRoute(sink=s) for s in sinks},
        routes={"fraud": list(sinks)},
    )
    for i in range(windows):
        w = window(i, drift("age")) if i % 2 == 0 else window(i)
        pipeline.process(w, now=T0)
    return [i.event_id for i in store.pending_items() if i.sink == next(iter(sinks))]


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    b = Backoff(initial_s=1, multiplier=2, max_s=60, jitter=0.5)
    rng = random.Random(7)
    for attempt in range(1, 12):
        base = min(60, 2 ** (attempt - 1))
        for _ in range(20):
            assert base * 0.5 <= b.delay_s(attempt, rng) <= base
    assert b.delay_s(1, rng, retry_after_s=30) == 30


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"initial_s": 0}, "initial_s must be > 0"),
        ({"multiplier": 0.5}, "multiplier must be >= 1"),
        ({"max_s": 0.5}, "max_s must be >= initial_s"),
        ({"jitter": 1.0}, r"jitter must be in \[0, 1\)"),
    ],
)
def test_backoff_validation(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Backoff(**kwargs)


def test_sink_down_then_up_delivers_everything_in_order() -> None:
    store = InMemoryAlertStore()
    order = fill(store, ["hook"], windows=6)
    assert len(order) == 6
    sink = ScriptedSink("hook", script=[SERVER_DOWN] * 5)
    clock = Clock(T0)
    worker = DeliveryWorker(
        store, {"hook": sink}, clock=clock, rng=random.Random(1), backoff=Backoff(max_s=30)
    )
    for _ in range(5):
        report = worker.run_once(clock())
        assert (report.delivered, report.retried) == (0, 1)  # only the head is tried while down
        clock.sleep(60)
    report = worker.run_once(clock())
    assert report.delivered == 6 and report.remaining == 0
    assert sink.delivered == order
    assert set(sink.attempts) == set(order) and sink.attempts[:5] == [order[0]] * 5


def test_a_waiting_item_blocks_its_sink_but_not_others() -> None:
    store = InMemoryAlertStore()
    fill(store, ["slow", "fast"])
    slow = ScriptedSink("slow", script=[SERVER_DOWN])
    fast = ScriptedSink("fast")
    worker = DeliveryWorker(store, {"slow": slow, "fast": fast}, clock=lambda: T0, rng=random.Random(1))
    report = worker.run_once(T0)
    assert len(fast.delivered) == 4 and slow.delivered == []
    assert report.outcomes == {"slow": {"server": 1}, "fast": {"ok": 4}}
    assert worker.run_once(T0).delivered == 0  # the retry is not due yet


def test_retry_after_is_honoured() -> None:
    store = InMemoryAlertStore()
    fill(store, ["hook"], windows=1)
    limited = SendOutcome(ok=False, reason=FailureReason.RATE_LIMITED, retryable=True, retry_after_s=120)
    sink = ScriptedSink("hook", script=[limited])
    worker = DeliveryWorker(store, {"hook": sink}, clock=lambda: T0, rng=random.Random(1))
    worker.run_once(T0)
    (item,) = store.pending_items()
    assert item.next_attempt_at == T0 + timedelta(seconds=120)
    assert worker.run_once(T0 + timedelta(seconds=119)).delivered == 0
    assert worker.run_once(T0 + timedelta(seconds=120)).delivered == 1
    assert len(sink.attempts) == 2


def test_permanent_failure_is_recorded_and_the_queue_moves_on() -> None:
    store = InMemoryAlertStore()
    order = fill(store, ["hook"], windows=3)
    sink = ScriptedSink("hook", script=[BAD_REQUEST])
    report = DeliveryWorker(store, {"hook": sink}, clock=lambda: T0).run_once(T0)
    assert (report.failed, report.delivered) == (1, 2)
    failed = [i for i in store.items.values() if i.status == "failed"]
    assert [i.event_id for i in failed] == [order[0]] and failed[0].last_reason == "client"


def test_give_up_after_turns_retries_into_failure() -> None:
    store = InMemoryAlertStore()
    fill(store, ["hook"], windows=1)
    sink = ScriptedSink("hook", script=[SERVER_DOWN, SERVER_DOWN])
    worker = DeliveryWorker(store, {"hook": sink}, clock=lambda: T0, give_up_after=timedelta(hours=1))
    assert worker.run_once(T0).retried == 1
    assert worker.run_once(T0 + timedelta(hours=2)).failed == 1
    assert store.pending_items() == []


def test_sink_that_raises_is_a_permanent_failure_not_a_crash() -> None:
    class Broken:
        name = "hook"

        def send(self, notification: Notification) -> SendOutcome:
            raise RuntimeError("bug")

    store = InMemoryAlertStore()
    fill(store, ["hook"], windows=1)
    report = DeliveryWorker(store, {"hook": Broken()}, clock=lambda: T0).run_once(T0)
    assert report.failed == 1


def test_items_for_unconfigured_sinks_stay_pending() -> None:
    store = InMemoryAlertStore()
    fill(store, ["gone"], windows=1)
    report = DeliveryWorker(store, {}, clock=lambda: T0).run_once(T0)
    assert report.remaining == 1


def test_drain_waits_for_due_retries_until_the_deadline() -> None:
    store = InMemoryAlertStore()
    fill(store, ["hook"], windows=2)
    sink = ScriptedSink("hook", script=[SERVER_DOWN, SERVER_DOWN])
    clock = Clock(T0)
    worker = DeliveryWorker(
        store, {"hook": sink}, clock=clock, sleep=clock.sleep, backoff=Backoff(initial_s=1, jitter=0)
    )
    report = worker.drain(T0 + timedelta(seconds=30))
    assert report.delivered == 2 and report.remaining == 0
    assert clock.now == T0 + timedelta(seconds=3)  # waited 1 s then 2 s


def test_drain_stops_at_the_deadline_and_leaves_items_pending() -> None:
    store = InMemoryAlertStore()
    fill(store, ["hook"], windows=2)
    sink = ScriptedSink("hook", script=[SERVER_DOWN] * 100)
    clock = Clock(T0)
    worker = DeliveryWorker(store, {"hook": sink}, clock=clock, sleep=clock.sleep, backoff=Backoff(jitter=0))
    report = worker.drain(T0 + timedelta(seconds=10))
    assert report.delivered == 0 and report.remaining == 2
    assert clock.now <= T0 + timedelta(seconds=10)


def test_pipeline_skips_replayed_windows_and_enqueues_nothing_twice() -> None:
    store = InMemoryAlertStore()
    pipeline = AlertPipeline(
        store,
        settings=PolicySettings(consecutive_windows=1),
        sinks={"hook": SinkRoute(sink="hook")},
        routes={"fraud": ["hook"]},
    )
    assert pipeline.process(window(0, drift()), now=T0).applied
    assert not pipeline.process(window(0, drift()), now=T0).applied
    assert len(store.items) == 1


def test_pipeline_rejects_routes_to_unknown_sinks() -> None:
    with pytest.raises(
        ValueError, match=r"routes name unknown sinks \['nope'\]; configured sinks: \['hook'\]"
    ):
        AlertPipeline(
            InMemoryAlertStore(),
            settings=PolicySettings(),
            sinks={"hook": SinkRoute(sink="hook")},
            routes={"fraud": ["nope"]},
        )


def test_pipeline_applies_configured_silences() -> None:
    from alerts import Silence

    store = InMemoryAlertStore()
    pipeline = AlertPipeline(
        store,
        settings=PolicySettings(consecutive_windows=1),
        sinks={"hook": SinkRoute(sink="hook")},
        routes={"fraud": ["hook"]},
        silences=[Silence(id="config:0", subject="age", starts_at=T0, expires_at=T0 + timedelta(days=1))],
    )
    result = pipeline.process(window(0, drift("age")), now=T0)
    assert result.enqueued == () and result.policy is not None
    assert result.policy.decisions[0].state.muted == "silence"


def test_a_long_backlog_of_one_sink_does_not_starve_another() -> None:
    store = InMemoryAlertStore()
    fill(store, ["down"], windows=6)
    fill_later = AlertPipeline(
        store,
        settings=PolicySettings(consecutive_windows=1),
        sinks={"up": SinkRoute(sink="up")},
        routes={"other": ["up"]},
    )
    fill_later.process(window(0, drift("age", monitor="other"), monitor="other"), now=T0)
    down = ScriptedSink("down", script=[SERVER_DOWN] * 10)
    up = ScriptedSink("up")
    worker = DeliveryWorker(store, {"down": down, "up": up}, clock=lambda: T0, batch_limit=3)
    report = worker.run_once(T0)
    assert len(up.delivered) == 1 and report.retried == 1
