"""End to end: windows -> AlertPipeline -> SQLite outbox -> DeliveryWorker -> loopback webhook and Slack.

No real outside service is needed: the receivers are the loopback doubles in
``tests/doubles`` (they validate signatures, Block Kit and threads), so these
tests carry no ``integration`` marker and run everywhere.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from alerts import (
    AlertPipeline,
    Backoff,
    DeliveryWorker,
    Finding,
    HistoryPoint,
    PolicySettings,
    SinkRoute,
    SlackSink,
    WebhookSink,
    WindowEvaluation,
)
from monitor.alert_store import ALERT_TABLES, SqlAlertStore
from monitor.schema import metadata
from tests.doubles.slack_api import SlackApiDouble
from tests.doubles.webhook_receiver import WebhookReceiver

SECRET = "integration-secret"
TOKEN = "xoxb-integration"
MONITOR = "fraud"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def real_clock() -> datetime:
    return datetime.now(UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def engine_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'driftwarden.db'}"
    engine = create_engine(url)
    metadata.create_all(engine, tables=list(ALERT_TABLES))
    engine.dispose()
    return url


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as r:
        yield r


@pytest.fixture
def slack() -> Iterator[SlackApiDouble]:
    with SlackApiDouble(token=TOKEN) as s:
        yield s


def evaluation(index: int, *, drifting: bool) -> WindowEvaluation:
    findings = (
        (
            Finding(
                monitor=MONITOR,
                kind="data_drift",
                subject="age",
                severity="critical",
                method="wasserstein",
                statistic=0.3,
                threshold=0.1,
            ),
            Finding(
                monitor=MONITOR,
                kind="quality",
                subject="income",
                method="missing_rate",
                statistic=0.2,
                threshold=0.05,
            ),
        )
        if drifting
        else ()
    )
    history = {
        "age": tuple(
            HistoryPoint(window_index=i, statistic=0.02 * i, threshold=0.1) for i in range(index + 1)
        )
    }
    return WindowEvaluation(
        monitor=MONITOR,
        window={"index": index, "first_row": index * 1000, "last_row": index * 1000 + 999},
        findings=findings,
        evaluated_at=T0 + timedelta(minutes=index),
        report_url=f"https://reports.example/{index}.html",
        history=history,
    )


def build(engine_url: str, receiver: WebhookReceiver, slack: SlackApiDouble, clock: Clock):  # type: ignore[no-untyped-def]
    store = SqlAlertStore(create_engine(engine_url))
    pipeline = AlertPipeline(
        store,
        settings=PolicySettings(consecutive_windows=1, resolve_windows=1),
        sinks={
            "retrain": SinkRoute(sink="retrain", kinds=frozenset({"data_drift"}), group_by="kind"),
            "oncall": SinkRoute(sink="oncall"),
        },
        routes={MONITOR: ["retrain", "oncall"]},
    )
    sinks = {
        "retrain": WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=real_clock, timeout_s=2),
        "oncall": SlackSink.with_token(
            "oncall", token=TOKEN, channel="#ml-oncall", threads=store, base_url=slack.base_url, timeout_s=2
        ),
    }
    worker = DeliveryWorker(
        store, sinks, clock=clock, rng=random.Random(3), backoff=Backoff(initial_s=1, max_s=20)
    )
    return store, pipeline, worker


def feed(pipeline: AlertPipeline, windows: range) -> None:
    for i in windows:
        pipeline.process(evaluation(i, drifting=i % 2 == 0), now=T0 + timedelta(minutes=i))


def test_sink_down_then_up_delivers_every_notification_in_order(
    engine_url: str, receiver: WebhookReceiver, slack: SlackApiDouble
) -> None:
    clock = Clock()
    store, pipeline, worker = build(engine_url, receiver, slack, clock)
    feed(pipeline, range(6))  # fire, resolve, fire, resolve, fire, resolve
    expected = {
        sink: [i.event_id for i in store.pending_items() if i.sink == sink] for sink in ("retrain", "oncall")
    }
    assert len(expected["retrain"]) == 6 and len(expected["oncall"]) == 6

    receiver.set_down(True)
    slack.fail_next("chat.postMessage", 500, times=4)
    for _ in range(4):
        worker.run_once(clock())
        clock.advance(30)
    assert receiver.processed == [] and slack.messages == []

    receiver.set_down(False)
    report = worker.run_once(clock())
    assert report.remaining == 0, report
    assert receiver.processed == expected["retrain"]
    assert [d.body["status"] for d in receiver.deliveries] == ["firing", "resolved"] * 3
    assert receiver.rejected == []
    # Slack: each firing starts a message, each resolution replies in its thread
    messages = slack.messages
    assert len(messages) == 6 and slack.errors == []
    for firing, resolved in zip(messages[::2], messages[1::2], strict=True):
        assert firing.thread_ts is None and resolved.thread_ts == firing.ts
    # a plot needs two points of history: windows 2 and 4, not window 0
    assert [f.filename for f in slack.files] == ["fraud-window-2.png", "fraud-window-4.png"]
    assert [f.thread_ts for f in slack.files] == [messages[2].ts, messages[4].ts]
    assert store.count_items() == {"delivered": 12}


class CrashingStore(SqlAlertStore):
    """Dies (raises) in the first mark_delivered: the send happened, its record did not."""

    crashed = False

    def mark_delivered(self, item_id: int, at: datetime) -> None:
        if not CrashingStore.crashed:
            CrashingStore.crashed = True
            raise RuntimeError("simulated crash between send and mark")
        super().mark_delivered(item_id, at)


def test_crash_after_send_before_mark_resends_with_the_same_idempotency_key(
    engine_url: str, receiver: WebhookReceiver, slack: SlackApiDouble
) -> None:
    clock = Clock()
    store, pipeline, _ = build(engine_url, receiver, slack, clock)
    feed(pipeline, range(2))
    crashing = CrashingStore(create_engine(engine_url))
    sink = WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=real_clock, timeout_s=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        DeliveryWorker(crashing, {"retrain": sink}, clock=clock).run_once(clock())
    first_key = receiver.deliveries[0].idempotency_key

    # "restart": a new store object and worker over the same database file
    restarted = SqlAlertStore(create_engine(engine_url))
    report = DeliveryWorker(restarted, {"retrain": sink}, clock=clock).run_once(clock())
    assert report.delivered == 2
    keys = [d.idempotency_key for d in receiver.deliveries]
    assert keys[0] == keys[1] == first_key  # re-sent with the same key
    assert receiver.attempts[first_key] == 2 and receiver.deliveries[1].duplicate
    assert len(set(keys)) == len(receiver.processed) == 2  # the receiver acted once per event


def test_retry_after_is_honoured_end_to_end(
    engine_url: str, receiver: WebhookReceiver, slack: SlackApiDouble
) -> None:
    clock = Clock()
    store, pipeline, worker = build(engine_url, receiver, slack, clock)
    feed(pipeline, range(1))
    receiver.fail_next(429, retry_after="30")
    slack.fail_next("chat.postMessage", 429, retry_after="45")
    worker.run_once(clock())
    assert receiver.requests == 1 and slack.calls == ["chat.postMessage"]
    clock.advance(29)
    worker.run_once(clock())
    assert receiver.requests == 1 and receiver.processed == []
    clock.advance(1)
    worker.run_once(clock())
    assert len(receiver.processed) == 1 and slack.messages == []
    clock.advance(14)
    worker.run_once(clock())
    assert slack.messages == []
    clock.advance(1)
    report = worker.run_once(clock())
    assert len(slack.messages) == 1 and report.remaining == 0
    retried = [i for i in store.list_items() if i.attempts == 2]
    assert {i.sink for i in retried} == {"retrain", "oncall"}


def test_one_sinks_outage_does_not_block_the_other(
    engine_url: str, receiver: WebhookReceiver, slack: SlackApiDouble
) -> None:
    clock = Clock()
    _, pipeline, worker = build(engine_url, receiver, slack, clock)
    feed(pipeline, range(3))
    receiver.set_down(True)
    report = worker.run_once(clock())
    assert len(slack.messages) == 3
    assert report.outcomes["retrain"] == {"server": 1}
    assert receiver.processed == []


def test_drain_delivers_before_the_deadline(
    engine_url: str, receiver: WebhookReceiver, slack: SlackApiDouble
) -> None:
    clock = Clock()
    _, pipeline, _ = build(engine_url, receiver, slack, clock)
    feed(pipeline, range(2))
    store = SqlAlertStore(create_engine(engine_url))
    for item in store.pending_items():
        if item.sink == "oncall":
            store.mark_delivered(item.id, clock())
    sink = WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=real_clock, timeout_s=2)
    worker = DeliveryWorker(
        store, {"retrain": sink}, clock=clock, sleep=clock.advance, backoff=Backoff(initial_s=0.5, jitter=0)
    )
    receiver.fail_next(503, times=2)
    report = worker.drain(clock() + timedelta(seconds=10))
    assert report.delivered == 2 and report.remaining == 0
    assert len(receiver.processed) == 2


@pytest.mark.integration
@pytest.mark.postgres
def test_alert_store_on_postgresql(postgres_schema_url: str, receiver: WebhookReceiver) -> None:
    engine = create_engine(postgres_schema_url)
    metadata.create_all(engine, tables=list(ALERT_TABLES))
    store = SqlAlertStore(engine)
    clock = Clock()
    pipeline = AlertPipeline(
        store,
        settings=PolicySettings(consecutive_windows=1, resolve_windows=1),
        sinks={"retrain": SinkRoute(sink="retrain", group_by="kind")},
        routes={MONITOR: ["retrain"]},
    )
    feed(pipeline, range(4))
    assert not pipeline.process(evaluation(3, drifting=False), now=clock()).applied
    states = store.get_states(MONITOR)
    assert {s.status for s in states.values()} == {"resolved"}
    assert all(s.since is not None and s.since.tzinfo is not None for s in states.values())
    receiver.fail_next(500)
    sink = WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=real_clock, timeout_s=2)
    worker = DeliveryWorker(store, {"retrain": sink}, clock=clock, backoff=Backoff(initial_s=1, jitter=0))
    worker.run_once(clock())
    clock.advance(1)
    report = worker.run_once(clock())
    assert report.remaining == 0 and len(receiver.processed) == 8  # 2 kinds x (fire, resolve) x 2
    assert store.count_items() == {"delivered": 8}
    engine.dispose()
