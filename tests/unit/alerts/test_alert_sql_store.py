"""monitor.alert_store.SqlAlertStore on a SQLite file (tables made with metadata.create_all)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alerts_factories import MONITOR, T0, drift, quality, window
from sqlalchemy import create_engine

from alerts import (
    AlertKey,
    AlertPipeline,
    NewOutboxItem,
    PolicySettings,
    SinkRoute,
    SlackThread,
    add_silence,
    expire_silence,
    list_alerts,
)
from monitor.alert_store import ALERT_TABLES, SqlAlertStore
from monitor.schema import metadata


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlAlertStore]:
    engine = create_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    metadata.create_all(engine, tables=list(ALERT_TABLES))
    yield SqlAlertStore(engine)
    engine.dispose()


def pipeline(store: SqlAlertStore, **settings: object) -> AlertPipeline:
    return AlertPipeline(
        store,
        settings=PolicySettings(**{"consecutive_windows": 1, **settings}),  # type: ignore[arg-type]
        sinks={"hook": SinkRoute(sink="hook", group_by="kind"), "chat": SinkRoute(sink="chat")},
        routes={MONITOR: ["hook", "chat"]},
    )


def test_tables_are_on_the_shared_metadata_with_alert_prefix() -> None:
    names = {t.name for t in ALERT_TABLES}
    assert names <= set(metadata.tables)
    assert all(n.startswith("alert_") for n in names)


def test_states_round_trip(store: SqlAlertStore) -> None:
    result = pipeline(store).process(window(0, drift("age"), quality("income")), now=T0)
    stored = store.get_states(MONITOR)
    assert stored == {s.key: s for s in result.policy.states}  # type: ignore[union-attr]
    state = stored[AlertKey(MONITOR, "data_drift", "age")]
    assert state.since == T0 and state.since.tzinfo is not None
    assert store.get_states("other") == {}
    assert store.last_window_index(MONITOR) == 0


def test_outbox_is_ordered_idempotent_and_round_trips(store: SqlAlertStore) -> None:
    result = pipeline(store).process(window(0, drift("age"), quality("income")), now=T0)
    items = store.pending_items()
    assert [i.id for i in items] == sorted(i.id for i in items)
    assert [(i.sink, i.notification) for i in items] == [(e.sink, e.notification) for e in result.enqueued]
    store.enqueue([NewOutboxItem(sink=e.sink, notification=e.notification) for e in result.enqueued], T0)
    assert len(store.pending_items()) == len(items) == 3  # hook: data_drift + quality; chat: one
    assert items[0].next_attempt_at == T0 and items[0].attempts == 0


def test_mark_retry_delivered_failed(store: SqlAlertStore) -> None:
    pipeline(store).process(window(0, drift("age"), quality("income")), now=T0)
    a, b, c = store.pending_items()
    store.mark_retry(a.id, next_attempt_at=T0 + timedelta(seconds=5), reason="server", error="HTTP 500")
    store.mark_delivered(b.id, T0)
    store.mark_failed(c.id, at=T0, reason="client", error="HTTP 400")
    (pending,) = store.pending_items()
    assert (pending.id, pending.attempts, pending.next_attempt_at, pending.last_reason) == (
        a.id,
        1,
        T0 + timedelta(seconds=5),
        "server",
    )
    assert store.get_item(b.id).status == "delivered"  # type: ignore[union-attr]
    assert store.get_item(c.id).last_error == "HTTP 400"  # type: ignore[union-attr]
    assert store.count_items() == {"pending": 1, "delivered": 1, "failed": 1}


def test_replayed_window_is_skipped(store: SqlAlertStore) -> None:
    p = pipeline(store)
    assert p.process(window(0, drift("age")), now=T0).applied
    assert not p.process(window(0, drift("age")), now=T0).applied
    assert len(store.list_items()) == 2


def test_silences(store: SqlAlertStore) -> None:
    s = add_silence(
        store, now=T0, duration=timedelta(hours=2), monitor=MONITOR, subject="age", comment="deploy"
    )
    assert store.list_silences(now=T0 + timedelta(hours=1)) == [s]
    assert store.list_silences(now=T0 + timedelta(hours=3)) == []
    result = pipeline(store).process(window(0, drift("age")), now=T0 + timedelta(minutes=1))
    assert result.enqueued == ()
    assert expire_silence(store, s.id, now=T0 + timedelta(minutes=30))
    assert not expire_silence(store, s.id, now=T0 + timedelta(minutes=40))
    assert store.list_silences(now=T0 + timedelta(minutes=31)) == []
    assert len(store.list_silences()) == 1
    with pytest.raises(ValueError, match="kind must be a glob or one of"):
        add_silence(store, now=T0, duration=timedelta(hours=1), kind="drift")


def test_slack_threads(store: SqlAlertStore) -> None:
    assert store.get_slack_thread("chat", "k") is None
    store.put_slack_thread("chat", "k", SlackThread(channel="C1", ts="1.1"))
    store.put_slack_thread("chat", "k", SlackThread(channel="C1", ts="2.2"))
    assert store.get_slack_thread("chat", "k") == SlackThread(channel="C1", ts="2.2")
    assert store.get_slack_thread("other", "k") is None


def test_list_alerts_puts_firing_first(store: SqlAlertStore) -> None:
    p = pipeline(store, consecutive_windows_by_kind={"quality": 3})
    p.process(window(0, drift("age"), quality("income")), now=T0)
    states = list_alerts(store)
    assert [(s.key.kind, s.status) for s in states] == [("data_drift", "firing"), ("quality", "pending")]
    assert [s.key.kind for s in list_alerts(store, statuses=frozenset({"pending"}))] == ["quality"]


def test_naive_datetimes_are_refused(store: SqlAlertStore) -> None:
    from sqlalchemy.exc import StatementError

    pipeline(store).process(window(0, drift("age")), now=T0)
    item = store.pending_items()[0]
    with pytest.raises((ValueError, StatementError), match="timezone-aware"):
        store.mark_delivered(item.id, T0.replace(tzinfo=None))


def test_purge_keeps_pending_items_and_live_alerts(store: SqlAlertStore) -> None:
    p = pipeline(store, resolve_windows=1)
    p.process(window(0, drift("age"), quality("income")), now=T0)
    p.process(window(1, drift("age")), now=T0 + timedelta(hours=1))  # income resolves
    for item in store.pending_items()[:2]:
        store.mark_delivered(item.id, T0)
    add_silence(store, now=T0, duration=timedelta(minutes=5))
    counts = store.purge(T0 + timedelta(days=1))
    assert counts == {"alert_outbox": 2, "alert_state": 1, "alert_silence": 1}
    assert [s.status for s in store.get_states(MONITOR).values()] == ["firing"]
    assert len(store.pending_items()) == len(store.list_items())
