"""Store on a real PostgreSQL server: migrations, atomic commits, leases and scale-out markers."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, inspect, text

from monitor import schema
from monitor.migrations import MIGRATIONS
from monitor.store import (
    DuplicateWindowError,
    PartialWindow,
    ProgressUpdate,
    Store,
    WindowRecord,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Letter:
    source: str
    position: str
    reason: str
    detail: str = ""
    raw: bytes | None = None


def make_result(index: int, *, rows: int = 100) -> dict[str, Any]:
    start = T0 + timedelta(hours=index)
    return {
        "drift_detected": index % 2 == 1,
        "drift_share": 0.5 if index % 2 else 0.0,
        "rows": rows,
        "window": {
            "index": index,
            "first_row": None,
            "last_row": None,
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "features": {
            "é": {
                "method": "psi",
                "statistic": 0.3,
                "p_value": None,
                "threshold": 0.2,
                "drift_detected": True,
            }
        },
        "prediction": None,
        "target": None,
        "performance": None,
        "concept": None,
        "quality": {"issues": []},
    }


def step(first: int, count: int, *, letters: tuple[Letter, ...] = ()) -> ProgressUpdate:
    return ProgressUpdate(
        monitor="m",
        source="s",
        checkpoint={"0": first + count, "1": [17, "x"]},
        open_state=bytes(range(256)),
        next_row=(first + count) * 100,
        next_window_index=first + count,
        rows_added=count * 100,
        windows=tuple(WindowRecord.from_result(make_result(i)) for i in range(first, first + count)),
        dead_letters=letters,
    )


@pytest.fixture
def store(postgres_schema_url: str) -> Store:
    opened = Store.open(postgres_schema_url, clock=lambda: T0)
    yield opened
    opened.dispose()


def test_migrations_create_every_table_once_under_concurrent_starts(postgres_schema_url: str) -> None:
    stores: list[Store] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            stores.append(Store.open(postgres_schema_url))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    names = set(inspect(stores[0].engine).get_table_names())
    assert set(schema.metadata.tables) | {"schema_version"} <= names
    with stores[0].engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM schema_version")).scalar() == len(MIGRATIONS)
    for opened in stores:
        opened.dispose()


def test_plain_postgresql_urls_use_psycopg(postgres_schema_url: str) -> None:
    plain = Store.open(postgres_schema_url.replace("postgresql+psycopg://", "postgresql://"))
    assert plain.engine.dialect.driver == "psycopg"
    assert plain.ping()
    plain.dispose()


def test_commit_progress_round_trip(store: Store) -> None:
    letters = (Letter(source="s", position="partition=0 offset=5", reason="invalid_utf8", raw=b"\xff\x00"),)
    store.commit_progress(step(0, 3, letters=letters))
    store.commit_progress(step(3, 1))
    state = store.load_monitor_state("m")
    assert state is not None
    assert (state.open_state, state.next_window_index, state.rows_total, state.windows_evaluated) == (
        bytes(range(256)),
        4,
        400,
        4,
    )
    assert state.updated_at == T0
    assert store.load_source_checkpoint("s") == {"0": 4, "1": [17, "x"]}
    assert store.source_totals("s").rows == 400 and store.source_totals("s").dead_letters == 1
    assert store.results("m", since=1, limit=2) == [make_result(1), make_result(2)]
    assert store.last_result("m") == make_result(3)
    (letter,) = store.dead_letters(source="s")
    assert letter.raw == b"\xff\x00" and letter.created_at == T0
    assert store.dead_letter_counts() == {("s", "invalid_utf8"): 1}


def test_failure_mid_commit_writes_nothing(store: Store) -> None:
    store.commit_progress(step(0, 1))

    def fail(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "source_state" in statement:
            raise RuntimeError("connection lost")

    event.listen(store.engine, "before_cursor_execute", fail)
    with pytest.raises(RuntimeError, match="connection lost"):
        store.commit_progress(step(1, 2, letters=(Letter(source="s", position="9", reason="oversize"),)))
    event.remove(store.engine, "before_cursor_execute", fail)
    assert len(store.results("m")) == 1
    assert store.load_source_checkpoint("s") == {"0": 1, "1": [17, "x"]}
    assert store.monitor_totals("m").windows_evaluated == 1
    assert store.dead_letters() == []


def test_duplicate_window_rolls_back(store: Store) -> None:
    store.commit_progress(step(0, 2))
    with pytest.raises(DuplicateWindowError):
        store.commit_progress(step(1, 1))
    assert store.monitor_totals("m").windows_evaluated == 2


def test_lease_race_between_stores_has_one_winner(postgres_schema_url: str) -> None:
    stores = [Store.open(postgres_schema_url) for _ in range(2)]
    barrier = threading.Barrier(8)
    wins: list[str] = []

    def contend(index: int) -> None:
        barrier.wait()
        if stores[index % 2].acquire_lease("evaluate:m", f"replica-{index}", 30, T0):
            wins.append(f"replica-{index}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    winner = wins[0]
    assert stores[0].lease_holder("evaluate:m", T0 + timedelta(seconds=29)) == winner
    assert not stores[1].acquire_lease("evaluate:m", "other", 30, T0 + timedelta(seconds=29))
    assert stores[1].acquire_lease("evaluate:m", "other", 30, T0 + timedelta(seconds=30))
    assert stores[0].acquire_lease("evaluate:m", "other", 30, T0 + timedelta(seconds=31))
    for opened in stores:
        opened.dispose()


def test_only_one_leader_publishes_a_window(postgres_schema_url: str) -> None:
    stores = [Store.open(postgres_schema_url) for _ in range(3)]
    for replica in range(3):
        stores[replica].commit_progress(
            ProgressUpdate(
                monitor="m",
                source=f"s{replica}",
                checkpoint={str(replica): 10},
                rows_added=10,
                partials=(
                    PartialWindow(
                        monitor="m",
                        window_key="2026-01-01T00",
                        replica=f"r{replica}",
                        sketch=b"%d" % replica,
                        rows=10,
                    ),
                ),
            )
        )
    assert stores[0].pending_windows("m") == ("2026-01-01T00",)
    assert len(stores[1].load_partials("m", "2026-01-01T00")) == 3
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def publish(index: int) -> None:
        barrier.wait()
        try:
            stores[index].commit_progress(
                ProgressUpdate(
                    monitor="m",
                    next_window_index=1,
                    windows=(WindowRecord.from_result(make_result(0, rows=30)),),
                    evaluated_keys=("2026-01-01T00",),
                )
            )
            outcomes.append("published")
        except DuplicateWindowError:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate", "duplicate", "published"]
    assert len(stores[0].results("m")) == 1
    assert stores[0].monitor_totals("m").rows == 30
    assert stores[0].pending_windows("m") == ()
    assert stores[0].load_partials("m", "2026-01-01T00") == ()
    for opened in stores:
        opened.dispose()


def test_retention(store: Store) -> None:
    store.commit_progress(step(0, 3, letters=(Letter(source="s", position="1", reason="invalid_json"),)))
    outcome = store.delete_older_than(T0 + timedelta(days=1))
    assert (outcome.window_results, outcome.dead_letters) == (2, 1)
    assert [r["window"]["index"] for r in store.results("m")] == [2]
    assert store.monitor_totals("m").windows_evaluated == 3


def test_partition_watermarks_only_rise(store: Store) -> None:
    for marks in (((0, 100.0), (3, 50.0)), ((3, 20.0), (1, 7.5)), ((0, 150.0),)):
        store.commit_progress(ProgressUpdate(monitor="m", write_state=False, watermarks=marks))
    assert {p: t for p, (t, _) in store.partition_watermarks("m").items()} == {0: 150.0, 1: 7.5, 3: 50.0}


def test_first_checkpoints_of_replicas_merge_even_when_they_race(postgres_schema_url: str) -> None:
    """Replicas that start together write their first merged checkpoints at the same moment:
    with no row yet there is nothing to lock, and the later insert must still keep the other
    replica's partitions (a lost partition is read again from offset 0 by its next owner)."""
    stores = [Store.open(postgres_schema_url) for _ in range(4)]
    lost: list[tuple[int, dict[str, Any] | None]] = []
    for round_ in range(30):
        source = f"k{round_}"
        barrier = threading.Barrier(len(stores))

        def commit(index: int, source: str = source, barrier: threading.Barrier = barrier) -> None:
            update = ProgressUpdate(
                source=source, checkpoint={str(index): 750}, merge_checkpoint=True, rows_added=1
            )
            barrier.wait()
            stores[index].commit_progress(update)

        threads = [threading.Thread(target=commit, args=(i,)) for i in range(len(stores))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = stores[0].load_source_checkpoint(source)
        if stored != {str(i): 750 for i in range(len(stores))}:
            lost.append((round_, stored))
        assert stores[0].source_totals(source).rows == len(stores)
    for opened in stores:
        opened.dispose()
    assert lost == []
