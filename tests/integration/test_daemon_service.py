"""The daemon in-process: lifecycle (uvicorn ``test_signal.py`` style), every HTTP endpoint against
a running :class:`~monitor.service.Service`, durable counters across restarts, and late data.

Each test writes its own stream, profile and config in ``tmp_path`` (SQLite store there, HTTP on
an ephemeral port read from ``service.http.port``). Time windows use an injected clock pinned
before the data, so the scheduler's wall-clock tick never closes a window in these tests.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from monitor.config import load_config
from monitor.service import Service, capture_signals
from monitor.store import Store
from tests.fixtures_daemon import get, metrics_with, model_frame, wait_for, write_config, write_profile

PINNED = datetime(2025, 12, 31, tzinfo=UTC)


def _pinned() -> datetime:
    return PINNED


def _service(config: Path, *, clock: Callable[[], datetime] | None = None) -> Service:
    cfg = load_config(config, {})
    return Service(cfg, environ={}, clock=clock or _pinned, tick_interval_s=0.1, delivery_interval_s=0.1)


@contextmanager
def running(
    config: Path, *, clock: Callable[[], datetime] | None = None, grace_s: float = 10.0
) -> Iterator[Service]:
    """A started service; stopped gracefully (``grace_s``) when the block ends."""
    service = _service(config, clock=clock)
    service.start()
    try:
        yield service
    finally:
        service.stop(grace_s)


def _port(service: Service) -> int:
    assert service.http is not None
    return service.http.port


def _source_done(port: int, rows: int) -> Callable[[], bool]:
    def check() -> bool:
        status, body = get(port, "/api/sources")
        return status == 200 and any(s["name"] == "s" and s["rows"] == rows for s in body)

    return check


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- lifecycle -----------------------------------------------------------------------------------


def test_sigterm_drains_then_restart_continues_at_the_committed_row(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM (through ``capture_signals``, on the main thread as in uvicorn's test_signal.py):
    /healthz goes from ok to draining, shutdown completes, and the committed position equals the
    durable window state, so a restart continues at that row with no duplicate."""
    caplog.set_level(logging.INFO)
    profile = write_profile(tmp_path)
    stream = tmp_path / "stream.csv"
    model_frame(20_000, seed=3).to_csv(stream, index=False)
    config = write_config(tmp_path, stream=stream, profile=profile, window="{ rows = 3000 }")

    service = _service(config)
    release = threading.Event()
    seen: dict[str, Any] = {}
    assert service is not None
    with capture_signals(service):
        service.start()
        port = _port(service)
        assert service.delivery is not None
        real_drain = service.delivery.drain

        def slow_drain(deadline: datetime) -> Any:
            release.wait(10)  # hold shutdown in the drain step while the test looks at /healthz
            return real_drain(deadline)

        service.delivery.drain = slow_drain  # type: ignore[method-assign]

        def operator() -> None:
            try:
                wait_for(_source_done(port, 20_000), timeout_s=30, what="20000 rows read")
                seen["before"] = get(port, "/healthz")
                seen["ready_before"] = get(port, "/readyz")[0]
                os.kill(os.getpid(), signal.SIGTERM)
                wait_for(lambda: get(port, "/healthz")[1].get("status") == "draining", timeout_s=10)
                seen["during"] = get(port, "/healthz")
                seen["ready_during"] = get(port, "/readyz")
            finally:
                release.set()

        helper = threading.Thread(target=operator)
        helper.start()
        try:
            service.run_until_stopped()
        finally:
            service.stop(10)
        helper.join(15)

    assert seen["before"] == (200, {"status": "ok"}) and seen["ready_before"] == 200
    assert seen["during"] == (200, {"status": "draining"})
    assert seen["ready_during"][0] == 503 and "draining" in seen["ready_during"][1]["reason"]
    messages = [r.getMessage() for r in caplog.records]
    steps = [
        "shutdown begin",
        "shutdown: stopping scheduler",
        "shutdown: stopping sources",
        "shutdown: draining alert outbox",
        "shutdown: stopping http",
        "shutdown complete",
    ]
    at = [next(i for i, m in enumerate(messages) if m.startswith(s)) for s in steps]
    assert at == sorted(at), "shutdown steps out of order"

    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        assert store.load_source_checkpoint("s") == {"row": 20_000, "loop": 0}
        state = store.load_monitor_state("m")
        assert state is not None and state.next_row == 20_000 and state.next_window_index == 6
        open_window = orjson.loads(state.open_state or b"{}")["windows"]
        assert open_window["index"] == 6 and open_window["sketch"]["rows"] == 2000
    finally:
        store.dispose()

    # 1000 more rows arrive in the file: the restarted daemon reads only those
    model_frame(1000, seed=4, start_row=20_000).to_csv(stream, mode="a", header=False, index=False)
    with running(config) as again:
        port = _port(again)
        wait_for(_source_done(port, 21_000), timeout_s=30, what="21000 rows")
        status, results = get(port, "/api/monitors/m/results?since=0")
    assert status == 200
    assert [
        (d["window"]["index"], d["window"]["first_row"], d["window"]["last_row"], d["rows"]) for d in results
    ] == [(i, 3000 * i, 3000 * i + 2999, 3000) for i in range(7)]


def test_request_stop_with_an_idle_source_finishes_and_commits(tmp_path: Path) -> None:
    profile = write_profile(tmp_path)
    stream = tmp_path / "stream.csv"
    model_frame(4000, seed=5).to_csv(stream, index=False)
    config = write_config(tmp_path, stream=stream, profile=profile, window="{ rows = 3000 }")
    service = _service(config)
    service.start()
    runner = threading.Thread(target=lambda: (service.run_until_stopped(), service.stop(10)))
    runner.start()
    wait_for(_source_done(_port(service), 4000), timeout_s=30, what="4000 rows")
    service.request_stop()
    runner.join(20)
    assert not runner.is_alive(), "service did not stop"
    assert all(not w.is_alive() for w in service.workers.values())
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        assert store.load_source_checkpoint("s") == {"row": 4000, "loop": 0}
        assert store.monitor_totals("m").rows == 3000
        state = store.load_monitor_state("m")
        assert state is not None and state.next_row == 4000
    finally:
        store.dispose()


def test_at_end_exit_evaluates_the_partial_window_and_stops(tmp_path: Path) -> None:
    profile = write_profile(tmp_path)
    stream = tmp_path / "stream.csv"
    model_frame(7000, seed=6).to_csv(stream, index=False)
    config = write_config(tmp_path, stream=stream, profile=profile, window="{ rows = 3000 }", at_end="exit")
    service = _service(config)
    service.start()
    try:
        done = threading.Thread(target=service.run_until_stopped)
        done.start()
        done.join(30)
        assert not done.is_alive(), "run_until_stopped did not return at the end of the file"
        status, results = get(_port(service), "/api/monitors/m/results")
    finally:
        service.stop(10)
    assert status == 200
    assert [(d["window"]["first_row"], d["window"]["last_row"], d["rows"]) for d in results] == [
        (0, 2999, 3000),
        (3000, 5999, 3000),
        (6000, 6999, 1000),
    ]


# ---- HTTP endpoints ------------------------------------------------------------------------------


def _time_stream(path: Path, n: int, *, seed: int, start_row: int = 0, bad_every: int = 500) -> int:
    """``n`` rows one second apart; every ``bad_every``-th has an unparseable ``ts``. Returns the
    number of bad rows."""
    frame = model_frame(n, seed=seed, start_row=start_row)
    bad = frame.index[(frame.index + start_row) % bad_every == bad_every - 1]
    frame.loc[bad, "ts"] = "garbage"
    frame.to_csv(path, mode="a" if start_row else "w", header=not start_row, index=False)
    return len(bad)


def test_every_endpoint_against_a_running_service(tmp_path: Path) -> None:
    profile = write_profile(tmp_path)
    stream = tmp_path / "stream.csv"
    bad_first = _time_stream(stream, 6000, seed=7)
    kafka = f"""
[sources.k]
kind = "kafka"
bootstrap_servers = ["127.0.0.1:{_closed_port()}"]
topic = "nobody-home"
"""
    monitor_k = f"""
[[monitors]]
name = "km"
source = "k"
profile = "{profile.as_posix()}"
window = {{ rows = 100 }}
"""
    window = '{ duration = "10m", timestamp = "ts", lateness = "1m" }'
    config = write_config(
        tmp_path, stream=stream, profile=profile, window=window, extra_sources=kafka, extra_monitors=monitor_k
    )
    # grace 3 s: a kafka source that cannot connect holds shutdown for the whole grace (see report)
    with running(config, grace_s=3) as service:
        port = _port(service)
        wait_for(_source_done(port, 6000), timeout_s=30, what="6000 rows read")

        assert get(port, "/healthz") == (200, {"status": "ok"})
        status, body = get(port, "/readyz")
        assert status == 503 and body["ready"] is False and "source k" in body["reason"]

        status, sources = get(port, "/api/sources")
        by_name = {s["name"]: s for s in sources}
        assert by_name["s"]["kind"] == "file" and by_name["s"]["connected"] is True
        assert by_name["s"]["dead_letters"] == bad_first and by_name["s"]["lag"] == 0
        assert by_name["k"]["kind"] == "kafka" and by_name["k"]["connected"] is False

        status, letters = get(port, "/api/dead-letters?source=s&limit=1000")
        assert status == 200 and len(letters) == bad_first
        positions = [int(d["position"].removeprefix("row=")) for d in letters]
        assert positions == sorted(positions, reverse=True), "dead letters are newest first"
        assert all(d["reason"] == "missing_field" and d["source"] == "s" for d in letters)
        assert positions[-1] == 499
        assert len(get(port, "/api/dead-letters?limit=3")[1]) == 3

        status, monitors = get(port, "/api/monitors")
        m = next(x for x in monitors if x["name"] == "m")
        # 6000 s of data in 10-minute windows: 9 closed by the watermark (the 10th stays open)
        assert m["windows_evaluated"] == 9
        results = get(port, "/api/monitors/m/results?since=0&limit=10000")[1]
        assert m["rows"] == sum(d["rows"] for d in results)
        assert m["last_window"] == results[-1]
        assert [d["window"]["index"] for d in get(port, "/api/monitors/m/results?since=3&limit=2")[1]] == [
            3,
            4,
        ]
        assert get(port, "/api/monitors/m/results?since=100")[1] == []
        assert get(port, "/api/monitors/km/results")[1] == []

        status, err = get(port, "/api/monitors/nope/results")
        assert status == 404 and "nope" in err["error"]
        for query in ("since=-1", "since=abc", "limit=0", "limit=10001"):
            status, err = get(port, f"/api/monitors/m/results?{query}")
            assert status == 400, query
            assert query.split("=")[0] in err["error"]

        metrics_with(  # prometheus_client writes labels in sorted order
            port,
            f'driftwarden_dead_letters_total{{reason="missing_field",source="s"}} {bad_first}',
            'driftwarden_rows_total{monitor="m"} 6000',
        )
        first_rows, first_windows = m["rows"], m["windows_evaluated"]

    # restart with 3000 more rows in the file: every count continues from the durable totals
    bad_second = _time_stream(stream, 3000, seed=8, start_row=6000)
    with running(config, grace_s=3) as service:
        port = _port(service)
        wait_for(_source_done(port, 9000), timeout_s=30, what="9000 rows read")
        sources = {s["name"]: s for s in get(port, "/api/sources")[1]}
        assert sources["s"]["rows"] == 9000
        assert sources["s"]["dead_letters"] == bad_first + bad_second
        letters = get(port, "/api/dead-letters?source=s&limit=1000")[1]
        assert len(letters) == bad_first + bad_second
        assert int(letters[0]["position"].removeprefix("row=")) == 8999
        m = next(x for x in get(port, "/api/monitors")[1] if x["name"] == "m")
        results = get(port, "/api/monitors/m/results?since=0&limit=10000")[1]
        assert m["windows_evaluated"] == 14 > first_windows
        assert m["rows"] == sum(d["rows"] for d in results) > first_rows
        assert [d["window"]["index"] for d in results] == list(range(14))
        # every row with a usable time is in exactly one window (none late in this stream)
        placed = sum(d["rows"] for d in results)
        open_rows = 9000 - (bad_first + bad_second) - placed
        assert 0 < open_rows <= 600
        metrics_with(port, 'driftwarden_rows_total{monitor="m"} 9000')  # durable across the restart


# ---- late data ---------------------------------------------------------------------------------


def _results(port: int, monitor: str, *, at_least: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """The monitor's stored window results, once there are ``at_least`` of them."""
    return wait_for(
        lambda: (r := get(port, f"/api/monitors/{monitor}/results")[1]) and len(r) >= at_least and r,
        timeout_s=timeout_s,
        what=f"{at_least} windows of {monitor}",
    )


def _rows_at(seconds: list[int], *, seed: int = 9) -> pd.DataFrame:
    frame = model_frame(len(seconds), seed=seed)
    frame["ts"] = (pd.Timestamp("2026-01-01T00:00:00Z") + pd.to_timedelta(seconds, unit="s")).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    return frame


def test_late_rows_within_lateness_join_their_window_and_later_ones_are_counted(tmp_path: Path) -> None:
    """1-minute windows, 30 s lateness. Row times (seconds): 0..59 (window 0), 70 (window 1),
    50 (late but within lateness: window 0), 100 (watermark 100 - 30 >= 60 closes window 0),
    55 (too late: ``late_rows`` of the next window to close), 110..119, then 200 (closes window 1)."""
    profile = write_profile(tmp_path)
    seconds = [*range(60), 70, 50, 100, 55, *range(110, 120), 200]
    stream = tmp_path / "stream.csv"
    _rows_at(seconds).to_csv(stream, index=False)
    window = '{ duration = "1m", timestamp = "ts", lateness = "30s" }'
    config = write_config(tmp_path, stream=stream, profile=profile, window=window)
    with running(config) as service:
        port = _port(service)
        wait_for(_source_done(port, len(seconds)), timeout_s=30, what="rows read")
        results = _results(port, "m", at_least=2)
    w0, w1 = results[0], results[1]
    assert w0["window"]["start"] == "2026-01-01T00:00:00Z" and w0["window"]["end"] == "2026-01-01T00:01:00Z"
    assert w0["rows"] == 61  # 0..59 and the row at 50 s that arrived within the lateness
    assert w0["window"]["first_row"] == 0 and w0["window"]["last_row"] == 61
    assert not [i for i in w0["quality"]["issues"] if i["check"] == "late_rows"]
    assert w1["rows"] == 1 + 1 + 10  # 70, 100 and 110..119
    late = [i for i in w1["quality"]["issues"] if i["check"] == "late_rows"]
    assert len(late) == 1 and late[0]["value"] == 1


def test_a_row_stamped_decades_ahead_is_a_dead_letter_on_a_live_source_and_a_row_on_a_file(
    tmp_path: Path,
) -> None:
    """The same rows from a SQL table (a live stream: ``window.max_future`` applies) and from a
    file (a replay of recorded rows: no clock to compare with). On the table, the row at 2090 is
    a dead letter; without the bound it would close every minute up to 2090 and make the rows
    after it late."""
    profile = write_profile(tmp_path)
    seconds = [*range(30), 40, *range(45, 60), 70, 200]
    frame = _rows_at(seconds)
    frame.loc[30, "ts"] = "2090-01-01T00:00:00Z"  # the row at 40 s, as a broken producer stamps it
    frame.insert(0, "rid", range(len(frame)))
    stream = tmp_path / "stream.csv"
    frame.to_csv(stream, index=False)
    serving = tmp_path / "serving.db"
    with sqlite3.connect(serving) as db:
        frame.to_sql("predictions", db, index=False)
    window = '{ duration = "1m", timestamp = "ts", lateness = "0s", max_future = "1h" }'
    table = f"""
[sources.q]
kind = "sql"
url = "sqlite:///{serving.as_posix()}"
table = "predictions"
watermark = "rid"
poll_interval = "100ms"
"""
    on_table = f"""
[[monitors]]
name = "mq"
source = "q"
profile = "{profile.as_posix()}"
window = {window}
"""
    config = write_config(
        tmp_path, stream=stream, profile=profile, window=window, extra_sources=table, extra_monitors=on_table
    )
    with running(config) as service:
        port = _port(service)
        wait_for(_source_done(port, len(seconds)), timeout_s=30, what="file rows read")
        live = _results(port, "mq", at_least=3, timeout_s=30)
        replayed = get(port, "/api/monitors/m/results")[1]
        letters = get(port, "/api/dead-letters?limit=10")[1]
        metrics_with(port, 'driftwarden_dead_letters_total{reason="invalid_event_time",source="q"} 1')
    assert [d["window"]["start"][11:16] for d in live] == ["00:00", "00:01", "00:02"]
    assert [d["rows"] for d in live] == [45, 1, 0]  # 0..29 and 45..59; 70; none (200 is still open)
    assert not [i for d in live for i in d["quality"]["issues"] if i["check"] == "late_rows"]
    (letter,) = letters
    assert letter["source"] == "q" and letter["reason"] == "invalid_event_time"
    assert letter["position"] == "row=30"
    assert "2090-01-01T00:00:00Z" in letter["detail"] and "window.max_future" in letter["detail"]
    # the file's replay places the row at 2090 (no dead letter from s): event time jumps there,
    # the minute of rows 0..29 closes, then empty minutes (the rows after it are late)
    assert [d["rows"] for d in replayed[:3]] == [30, 0, 0]


def test_alert_processing_waits_for_the_store_and_keeps_the_windows_in_order(tmp_path: Path) -> None:
    """A window's alert processing that meets an unreachable store is retried, not dropped: the
    alert cursor would skip it once a later window was applied."""
    from monitor.store import StoreUnavailableError

    profile = write_profile(tmp_path)
    stream = tmp_path / "stream.csv"
    model_frame(3000, seed=11).to_csv(stream, index=False)
    config = write_config(
        tmp_path, stream=stream, profile=profile, window="{ rows = 1000 }", rows_per_second=1000
    )
    service = _service(config)
    service.start()
    calls: list[int] = []
    try:
        assert service.alert_pipeline is not None and service.alert_store is not None
        real = service.alert_pipeline.process

        def flaky(evaluation: Any, *, now: datetime) -> Any:
            calls.append(evaluation.window_index)
            if len(calls) <= 2:
                raise StoreUnavailableError("store last_window_index failed: connection refused")
            return real(evaluation, now=now)

        service.alert_pipeline.process = flaky  # type: ignore[method-assign]
        alert_store = service.alert_store
        wait_for(lambda: alert_store.last_window_index("m") == 2, timeout_s=30, what="alerts of 3 windows")
    finally:
        service.stop(10)
    assert calls == [0, 0, 0, 1, 2]
