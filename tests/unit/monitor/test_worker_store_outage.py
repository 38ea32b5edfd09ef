"""A store that goes away for a while (a database restart or failover) stalls the source worker;
it does not kill it. What was pending is written once, exactly as without the outage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.runtime import SourceWorker
from monitor.store import DuplicateWindowError, Store, StoreUnavailableError
from tests.fixtures_daemon import model_frame
from tests.unit.monitor.test_worker_coalescing import ScriptedSource, _batches
from tests.unit.monitor.test_worker_coalescing import _worker as coalescing_worker


def _worker(tmp_path: Path, batches: list[Any]) -> tuple[SourceWorker, Store]:
    worker, _, store = coalescing_worker(tmp_path, ScriptedSource(batches), window="{ rows = 300 }")
    worker.store_retry_s = 0.01
    return worker, store


def _outage(store: Store, failures: int, error: Exception) -> list[int]:
    """Make the next ``failures`` commits of ``store`` fail with ``error``; returns the call log."""
    real = store.commit_many
    calls: list[int] = []

    def flaky(updates: Any) -> None:
        calls.append(len(calls))
        if len(calls) <= failures:
            raise error
        real(updates)

    store.commit_many = flaky  # type: ignore[method-assign]
    return calls


def _stored(store: Store) -> tuple[Any, ...]:
    results = store.results("m", since=0, limit=100)
    state = store.load_monitor_state("m")
    assert state is not None
    return (
        [(d["window"]["index"], d["rows"], d["window"]["first_row"]) for d in results],
        store.load_source_checkpoint("s"),
        state.rows_total,
        state.next_row,
        store.source_totals("s"),
    )


def _run(tmp_path: Path, failures: int) -> tuple[tuple[Any, ...], list[int]]:
    frame = model_frame(1000, seed=4).drop(columns=["y"])
    worker, store = _worker(tmp_path, _batches(frame, [450], columnar=[True, False]))
    dropped = StoreUnavailableError("commit_progress failed: server closed the connection unexpectedly")
    calls = _outage(store, failures, dropped)
    for _ in range(2):
        worker.process(worker._coalesced_poll())
        worker._commit_until_stored()
    return _stored(store), calls


def test_a_store_outage_stalls_the_commit_and_loses_or_repeats_nothing(tmp_path: Path) -> None:
    expected, calls = _run(tmp_path / "steady", 0)
    assert len(calls) == 2
    got, calls = _run(tmp_path / "outage", 3)
    assert len(calls) == 2 + 3
    assert got == expected
    windows, checkpoint, rows_total, next_row, _ = got
    assert [w[:2] for w in windows] == [(0, 300), (1, 300), (2, 300)]
    assert checkpoint == {"row": 1000} and rows_total == 900 and next_row == 1000


def test_the_worker_reports_the_store_while_it_waits_and_gives_up_only_when_stopped(tmp_path: Path) -> None:
    frame = model_frame(400, seed=5).drop(columns=["y"])
    worker, store = _worker(tmp_path, _batches(frame, [], columnar=[True]))
    dropped = StoreUnavailableError("commit_progress failed: connection refused")
    calls = _outage(store, 10**6, dropped)
    worker.process(worker._coalesced_poll())
    original_wait = worker.stop_event.wait
    seen: list[str | None] = []

    def wait(timeout: float | None = None) -> bool:
        seen.append(worker.status().reason)
        if len(seen) == 3:
            worker.stop_event.set()
        return original_wait(0)

    worker.stop_event.wait = wait  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailableError):
        worker._commit_until_stored()
    assert len(calls) == 4  # three retries, then the stop
    assert all(r is not None and r.startswith("store unavailable: ") for r in seen)
    assert not worker.status().connected


def test_a_refused_write_is_not_retried(tmp_path: Path) -> None:
    frame = model_frame(400, seed=6).drop(columns=["y"])
    worker, store = _worker(tmp_path, _batches(frame, [], columnar=[True]))
    calls = _outage(store, 1, DuplicateWindowError("commit_progress conflicted: duplicate key"))
    worker.process(worker._coalesced_poll())
    with pytest.raises(DuplicateWindowError):
        worker._commit_until_stored()
    assert len(calls) == 1
