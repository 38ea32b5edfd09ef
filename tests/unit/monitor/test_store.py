"""Store on SQLite: migrations, atomic progress commits, history queries, leases, retention."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, inspect, text

from monitor import schema
from monitor.migrations import MIGRATIONS, current_version, schema_version
from monitor.store import (
    MAX_RAW_BYTES,
    DuplicateWindowError,
    PartialWindow,
    ProgressUpdate,
    Store,
    StoreError,
    WindowRecord,
    create_store_engine,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    """A settable clock for created_at/updated_at stamps."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True, slots=True, kw_only=True)
class Letter:
    source: str
    position: str
    reason: str
    detail: str = ""
    raw: bytes | None = None


def make_result(index: int, *, rows: int = 100, drifted: bool = False) -> dict[str, Any]:
    start = T0 + timedelta(hours=index)
    return {
        "drift_detected": drifted,
        "drift_share": 0.5 if drifted else 0.0,
        "rows": rows,
        "window": {
            "index": index,
            "first_row": index * rows,
            "last_row": index * rows + rows - 1,
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "features": {
            "age": {
                "type": "numeric",
                "method": "wasserstein",
                "statistic": 0.2 if drifted else 0.01,
                "p_value": None,
                "threshold": 0.1,
                "drift_detected": drifted,
            }
        },
        "prediction": None,
        "target": None,
        "performance": None,
        "concept": None,
        "quality": {"issues": []},
    }


def step(
    first: int,
    count: int,
    *,
    monitor: str = "m",
    source: str = "s",
    rows: int = 100,
    letters: tuple[Letter, ...] = (),
) -> ProgressUpdate:
    """An update that evaluates windows first..first+count-1 of ``rows`` rows each."""
    windows = tuple(WindowRecord.from_result(make_result(i, rows=rows)) for i in range(first, first + count))
    end = (first + count) * rows
    return ProgressUpdate(
        monitor=monitor,
        source=source,
        checkpoint={"row": end + 7},
        open_state=b"open-%d" % end,
        next_row=end + 7,
        next_window_index=first + count,
        rows_added=count * rows + 7,
        windows=windows,
        dead_letters=letters,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sub' / 'store.db'}"


@pytest.fixture
def store(db_url: str, clock: Clock) -> Store:
    opened = Store.open(db_url, clock=clock)
    yield opened
    opened.dispose()


def test_open_creates_every_table_and_records_the_schema_version(store: Store) -> None:
    names = set(inspect(store.engine).get_table_names())
    assert set(schema.metadata.tables) <= names
    assert "schema_version" in names
    with store.engine.connect() as connection:
        assert current_version(connection) == len(MIGRATIONS)


def test_open_is_idempotent_and_keeps_data(db_url: str, clock: Clock) -> None:
    first = Store.open(db_url, clock=clock)
    first.commit_progress(step(0, 1))
    first.dispose()
    again = Store.open(db_url, clock=clock)
    assert again.monitor_totals("m").windows_evaluated == 1
    with again.engine.connect() as connection:
        versions = connection.execute(text("SELECT COUNT(*) FROM schema_version")).scalar()
    assert versions == len(MIGRATIONS)
    again.dispose()


def test_open_refuses_a_newer_schema(db_url: str) -> None:
    Store.open(db_url).dispose()
    engine = create_store_engine(db_url)
    with engine.begin() as connection:
        connection.execute(insert(schema_version).values(version=99, description="future", applied_at=T0))
    engine.dispose()
    with pytest.raises(StoreError, match="newer than this driftwarden supports"):
        Store.open(db_url)


def test_sqlite_uses_wal_and_a_busy_timeout(store: Store) -> None:
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_in_memory_sqlite_serialises_concurrent_threads() -> None:
    memory = Store.open("sqlite://")
    memory.commit_progress(step(0, 2))
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        barrier.wait()
        try:
            for _ in range(20):
                assert len(memory.results("m")) >= 2
                memory.last_result("m")
                memory.dead_letters()
            memory.commit_progress(
                ProgressUpdate(source=f"s{worker}", checkpoint={"row": worker}, rows_added=1)
            )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(memory.all_source_totals()) == 9


def test_other_databases_are_rejected() -> None:
    with pytest.raises(ValueError, match="sqlite:// or postgresql://"):
        create_store_engine("mysql://u@localhost/db")


def test_commit_progress_round_trip(store: Store, clock: Clock) -> None:
    letters = (Letter(source="s", position="row=3", reason="invalid_json", detail="bad", raw=b"{x"),)
    store.commit_progress(step(0, 2, letters=letters))

    state = store.load_monitor_state("m")
    assert state is not None
    assert (state.open_state, state.next_row, state.next_window_index) == (b"open-200", 207, 2)
    assert (state.rows_total, state.windows_evaluated, state.updated_at) == (200, 2, clock.now)
    assert store.load_source_checkpoint("s") == {"row": 207}
    assert store.source_totals("s").rows == 207
    assert store.source_totals("s").dead_letters == 1
    assert store.monitor_totals("m").rows == 200
    assert store.monitor_totals("m").rows_received == 207
    assert store.results("m") == [make_result(0), make_result(1)]
    assert store.last_result("m") == make_result(1)
    (letter,) = store.dead_letters()
    assert (letter.source, letter.position, letter.reason, letter.raw) == (
        "s",
        "row=3",
        "invalid_json",
        b"{x",
    )
    assert letter.created_at == clock.now


def test_unknown_names_have_empty_state(store: Store) -> None:
    assert store.load_monitor_state("nope") is None
    assert store.load_source_checkpoint("nope") is None
    assert store.monitor_totals("nope").rows == 0
    assert store.source_totals("nope").dead_letters == 0
    assert store.results("nope") == []
    assert store.last_result("nope") is None


def test_counters_accumulate_and_survive_reopening(db_url: str, clock: Clock) -> None:
    first = Store.open(db_url, clock=clock)
    first.commit_progress(step(0, 2))
    first.commit_progress(step(2, 3))
    first.dispose()
    again = Store.open(db_url, clock=clock)
    assert again.monitor_totals("m").rows == 500
    assert again.monitor_totals("m").windows_evaluated == 5
    assert again.source_totals("s").rows == 207 + 307
    assert again.all_monitor_totals()["m"].windows_evaluated == 5
    assert again.all_source_totals()["s"].rows == 514
    again.dispose()


def test_checkpoint_none_keeps_the_stored_one(store: Store) -> None:
    store.commit_progress(step(0, 1))
    store.commit_progress(ProgressUpdate(source="s", rows_added=5))
    assert store.load_source_checkpoint("s") == {"row": 107}
    assert store.source_totals("s").rows == 112


def test_results_since_limit_and_order(store: Store) -> None:
    store.commit_progress(step(0, 30))
    assert [r["window"]["index"] for r in store.results("m", since=25)] == [25, 26, 27, 28, 29]
    assert [r["window"]["index"] for r in store.results("m", since=3, limit=2)] == [3, 4]
    assert len(store.results("m")) == 30
    for bad in (0, 10_001, -1):
        with pytest.raises(ValueError, match="limit must be an integer in"):
            store.results("m", limit=bad)
    with pytest.raises(ValueError, match="since must be"):
        store.results("m", since=-1)


def test_duplicate_window_rolls_back_the_whole_update(store: Store) -> None:
    store.commit_progress(step(0, 2))
    letters = (Letter(source="s", position="row=1", reason="oversize"),)
    with pytest.raises(DuplicateWindowError, match=r"indexes \[1\]"):
        store.commit_progress(step(1, 2, letters=letters))
    assert store.load_source_checkpoint("s") == {"row": 207}
    assert store.monitor_totals("m").windows_evaluated == 2
    assert store.dead_letters() == []
    assert len(store.results("m")) == 2


def test_failure_mid_commit_writes_nothing(store: Store) -> None:
    store.commit_progress(step(0, 1))

    def fail_on_source_state(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "source_state" in statement:
            raise RuntimeError("disk on fire")

    event.listen(store.engine, "before_cursor_execute", fail_on_source_state)
    letters = (Letter(source="s", position="row=150", reason="invalid_json"),)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.commit_progress(step(1, 2, letters=letters))
    event.remove(store.engine, "before_cursor_execute", fail_on_source_state)

    assert [r["window"]["index"] for r in store.results("m")] == [0]
    state = store.load_monitor_state("m")
    assert state is not None and state.open_state == b"open-100" and state.next_window_index == 1
    assert store.load_source_checkpoint("s") == {"row": 107}
    assert store.dead_letters() == []
    assert store.dead_letter_counts() == {}
    store.commit_progress(step(1, 2, letters=letters))
    assert store.monitor_totals("m").windows_evaluated == 3


def test_a_process_killed_mid_commit_leaves_the_previous_state(db_url: str, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys
        from sqlalchemy import event
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import step
        from monitor.store import Store
        store = Store.open({db_url!r})
        store.commit_progress(step(0, 1))
        def die(conn, cursor, statement, *args):
            if "source_state" in statement:
                os._exit(17)
        event.listen(store.engine, "before_cursor_execute", die)
        store.commit_progress(step(1, 1))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 17, done.stderr
    reopened = Store.open(db_url)
    assert [r["window"]["index"] for r in reopened.results("m")] == [0]
    assert reopened.load_source_checkpoint("s") == {"row": 107}
    state = reopened.load_monitor_state("m")
    assert state is not None and state.next_window_index == 1
    reopened.dispose()


def test_commit_many_is_one_transaction(store: Store) -> None:
    labels = ProgressUpdate(source="labels", checkpoint={"row": 9}, rows_added=9)
    store.commit_many((step(0, 1), labels))
    assert store.load_source_checkpoint("labels") == {"row": 9}
    with pytest.raises(DuplicateWindowError):
        store.commit_many(
            (ProgressUpdate(source="labels", checkpoint={"row": 20}, rows_added=11), step(0, 1))
        )
    assert store.load_source_checkpoint("labels") == {"row": 9}


def test_dead_letters_newest_first_filtered_truncated_and_counted(store: Store, clock: Clock) -> None:
    big = b"x" * (MAX_RAW_BYTES + 10)
    store.commit_progress(
        ProgressUpdate(
            source="a",
            rows_added=0,
            dead_letters=(
                Letter(source="a", position="p=0 o=1", reason="invalid_json", raw=b"\xff\xfe"),
                Letter(source="a", position="p=0 o=2", reason="oversize", raw=big),
            ),
        )
    )
    clock.now = T0 + timedelta(minutes=1)
    store.commit_progress(
        ProgressUpdate(
            source="b", dead_letters=(Letter(source="b", position="row=5", reason="invalid_json"),)
        )
    )
    assert [d.position for d in store.dead_letters()] == ["row=5", "p=0 o=2", "p=0 o=1"]
    assert [d.position for d in store.dead_letters(source="a", limit=1)] == ["p=0 o=2"]
    oversize = store.dead_letters(source="a", limit=1)[0]
    assert oversize.raw is not None and len(oversize.raw) == MAX_RAW_BYTES and oversize.raw_size == len(big)
    view = store.dead_letters(source="a")[1].to_json()
    assert view["raw"] == "\ufffd\ufffd" and view["reason"] == "invalid_json"
    assert view["created_at"] == "2026-01-01T00:00:00.000000Z"
    assert store.dead_letter_counts() == {
        ("a", "invalid_json"): 1,
        ("a", "oversize"): 1,
        ("b", "invalid_json"): 1,
    }


def test_window_record_from_result_indexes_the_contract() -> None:
    record = WindowRecord.from_result(make_result(3, drifted=True))
    assert (record.index, record.rows, record.drift_detected, record.drift_share) == (3, 100, True, 0.5)
    assert (record.first_row, record.last_row) == (300, 399)
    assert record.start == T0 + timedelta(hours=3)
    assert record.end == T0 + timedelta(hours=4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("window"), "needs a 'window' object"),
        (lambda r: r["window"].pop("index"), "needs a 'window' object"),
        (lambda r: r.update(rows="many"), "rows must be an integer"),
        (lambda r: r.update(drift_share=float("nan")), "drift_share must be a finite number"),
        (lambda r: r["features"]["age"].update(statistic=float("inf")), "not strict JSON"),
        (lambda r: r.update(extra=object()), "not strict JSON"),
        (lambda r: r["window"].update(start="yesterday"), "window.start must be an RFC 3339"),
    ],
)
def test_window_record_rejects_bad_results(change: Any, message: str) -> None:
    result = make_result(0)
    change(result)
    with pytest.raises(ValueError, match=message):
        WindowRecord.from_result(result)


def test_progress_update_validation() -> None:
    with pytest.raises(ValueError, match="need a monitor"):
        ProgressUpdate(windows=(WindowRecord.from_result(make_result(0)),), next_window_index=1)
    with pytest.raises(ValueError, match="need a source"):
        ProgressUpdate(monitor="m", checkpoint={"row": 1})
    with pytest.raises(ValueError, match="next_window_index must be above"):
        ProgressUpdate(monitor="m", windows=(WindowRecord.from_result(make_result(4)),), next_window_index=4)
    with pytest.raises(ValueError, match="dead letter of source 'x'"):
        ProgressUpdate(source="s", dead_letters=(Letter(source="x", position="1", reason="r"),))
    with pytest.raises(ValueError, match=">= 0"):
        ProgressUpdate(source="s", rows_added=-1)


def test_profiles_are_versioned_by_content(store: Store, clock: Clock) -> None:
    assert store.latest_profile("m") is None
    first = store.save_profile("m", {"columns": {"age": {"type": "numeric"}}})
    same = store.save_profile("m", {"columns": {"age": {"type": "numeric"}}})
    assert (first.version, same.version, same.digest) == (1, 1, first.digest)
    clock.now = T0 + timedelta(days=1)
    second = store.save_profile("m", {"columns": {"age": {"type": "categorical"}}})
    latest = store.latest_profile("m")
    assert second.version == 2 and latest is not None
    assert (latest.version, latest.profile, latest.created_at) == (2, second.profile, clock.now)


def test_lease_is_exclusive_renewable_and_expires(store: Store) -> None:
    assert store.acquire_lease("evaluate:m", "a", 30, T0)
    assert not store.acquire_lease("evaluate:m", "b", 30, T0 + timedelta(seconds=10))
    assert store.acquire_lease("evaluate:m", "a", 30, T0 + timedelta(seconds=20))
    assert store.lease_holder("evaluate:m", T0 + timedelta(seconds=49)) == "a"
    assert not store.acquire_lease("evaluate:m", "b", 30, T0 + timedelta(seconds=49))
    assert store.acquire_lease("evaluate:m", "b", 30, T0 + timedelta(seconds=50))
    assert not store.release_lease("evaluate:m", "a")
    assert store.release_lease("evaluate:m", "b")
    assert store.lease_holder("evaluate:m", T0) is None
    with pytest.raises(ValueError, match="ttl_s must be > 0"):
        store.acquire_lease("x", "a", 0, T0)


def test_lease_race_has_one_winner(store: Store) -> None:
    barrier = threading.Barrier(8)
    wins: list[str] = []

    def contend(holder: str) -> None:
        barrier.wait()
        if store.acquire_lease("race", holder, 60, T0):
            wins.append(holder)

    threads = [threading.Thread(target=contend, args=(f"h{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert store.lease_holder("race", T0) == wins[0]


def test_partials_pending_and_evaluated(store: Store) -> None:
    store.save_partial(PartialWindow(monitor="m", window_key="w1", replica="r1", sketch=b"a", rows=3))
    store.save_partial(PartialWindow(monitor="m", window_key="w1", replica="r2", sketch=b"b", rows=4))
    store.save_partial(PartialWindow(monitor="m", window_key="w1", replica="r1", sketch=b"a2", rows=5))
    store.save_partial(PartialWindow(monitor="m", window_key="w2", replica="r1", sketch=b"c", rows=1))
    assert [(p.replica, p.sketch, p.rows) for p in store.load_partials("m", "w1")] == [
        ("r1", b"a2", 5),
        ("r2", b"b", 4),
    ]
    assert store.pending_windows("m") == ("w1", "w2")
    assert store.mark_evaluated("m", "w2")
    assert not store.mark_evaluated("m", "w2")
    assert store.is_evaluated("m", "w2") and not store.is_evaluated("m", "w1")
    assert store.pending_windows("m") == ("w1",)
    assert store.load_partials("m", "w2") == ()

    evaluated = ProgressUpdate(
        monitor="m",
        next_window_index=1,
        windows=(WindowRecord.from_result(make_result(0)),),
        evaluated_keys=("w1",),
    )
    store.commit_progress(evaluated)
    assert store.pending_windows("m") == () and store.load_partials("m", "w1") == ()
    with pytest.raises(DuplicateWindowError, match="evaluated already"):
        store.commit_progress(
            ProgressUpdate(
                monitor="m",
                next_window_index=2,
                windows=(WindowRecord.from_result(make_result(1)),),
                evaluated_keys=("w1",),
            )
        )
    assert len(store.results("m")) == 1


def test_partials_in_a_progress_update_go_with_the_checkpoint(store: Store) -> None:
    partial = PartialWindow(monitor="m", window_key="w", replica="r", sketch=b"s", rows=2)
    store.commit_progress(
        ProgressUpdate(monitor="m", source="s", checkpoint={"0": 5}, rows_added=2, partials=(partial,))
    )
    assert store.load_partials("m", "w") == (partial,)
    assert store.load_source_checkpoint("s") == {"0": 5}


def test_retention_deletes_old_history_but_keeps_totals_and_the_last_window(
    store: Store, clock: Clock
) -> None:
    store.commit_progress(step(0, 3, letters=(Letter(source="s", position="1", reason="invalid_json"),)))
    store.save_partial(PartialWindow(monitor="m", window_key="old", replica="r", sketch=b"", rows=0))
    clock.now = T0 + timedelta(days=100)
    store.commit_progress(step(3, 1))
    outcome = store.delete_older_than(T0 + timedelta(days=10))
    assert (outcome.window_results, outcome.dead_letters, outcome.partial_windows) == (3, 1, 1)
    assert [r["window"]["index"] for r in store.results("m")] == [3]
    assert store.monitor_totals("m").windows_evaluated == 4
    assert store.dead_letter_counts() == {("s", "invalid_json"): 1}

    clock.now = T0 + timedelta(days=300)
    store.delete_older_than(T0 + timedelta(days=200))
    assert store.last_result("m") == make_result(3)


def test_naive_datetimes_are_rejected(store: Store) -> None:
    with pytest.raises(StoreError, match="timezone-aware"):
        store.acquire_lease("x", "a", 5, datetime(2026, 1, 1))


def test_ping(store: Store) -> None:
    assert store.ping()
    unreachable = Store(create_store_engine("postgresql://nobody@127.0.0.1:1/none", connect_timeout_s=1))
    assert not unreachable.ping()
    unreachable.dispose()


def test_partition_watermarks_only_rise(store: Store, clock: Clock) -> None:
    assert store.partition_watermarks("m") == {}
    update = ProgressUpdate(monitor="m", write_state=False, watermarks=((0, 100.0), (3, 50.0)))
    store.commit_progress(update)
    first = clock.now
    clock.now = first + timedelta(seconds=30)
    # another replica that took partition 3 over reports an older time, and partition 1 is new
    store.commit_progress(ProgressUpdate(monitor="m", write_state=False, watermarks=((3, 20.0), (1, 7.5))))
    store.commit_progress(ProgressUpdate(monitor="m", write_state=False, watermarks=((0, 150.0),)))
    # the time of a watermark is when it last rose (partition 3 did not)
    assert store.partition_watermarks("m") == {0: (150.0, clock.now), 1: (7.5, clock.now), 3: (50.0, first)}
    assert store.partition_watermarks("other") == {}
    with pytest.raises(ValueError, match="need a monitor"):
        ProgressUpdate(source="s", watermarks=((0, 1.0),))
    with pytest.raises(ValueError, match="must be finite"):
        ProgressUpdate(monitor="m", watermarks=((0, float("nan")),))
