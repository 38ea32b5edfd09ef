"""Scale-out window closing: a window waits for every Kafka partition's event-time watermark, so
a replica still reading a backlog keeps open the windows it has not reached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from connectors.kafka import BATCH_ITEM_STRIDE, POSITION_PARTITION_STRIDE, partitions_of
from detectors.result import WindowResult
from monitor.cli import load_profile
from monitor.config import load_config
from monitor.runtime import MonitorRuntime
from monitor.scaleout import ReplicaWindows, WindowEvaluator, window_key
from monitor.store import PartialWindow, ProgressUpdate, Store
from tests.fixtures_daemon import model_frame, write_config, write_profile

HOUR = 3600.0


def _positions(partition: int, offsets: np.ndarray) -> np.ndarray:
    return partition * POSITION_PARTITION_STRIDE + offsets.astype(np.int64)


def test_replica_windows_keep_the_largest_event_time_of_each_partition() -> None:
    frame = model_frame(6, seed=1)
    replica = ReplicaWindows(
        "m", "r", lambda: None, HOUR, "ts", partition_of=lambda p: partitions_of(p, "json")
    )
    times = pd.to_datetime(frame["ts"], utc=True).astype("int64").to_numpy() / 1e9
    positions = np.concatenate([_positions(2, np.arange(3)), _positions(0, np.arange(3))])
    replica._see(positions, times, np.array([True, True, True, True, True, False]))
    assert replica.watermarks == {2: times[2], 0: times[4]}  # partition 0's last row has no time
    replica._see(positions[:1], times[:1] - 1000.0, np.array([True]))
    assert replica.watermarks[2] == times[2]  # an older row does not move it back


def test_a_row_stamped_too_far_ahead_neither_moves_the_watermark_nor_opens_a_window(tmp_path: Path) -> None:
    profile = load_profile(str(write_profile(tmp_path, labels=False)))
    replica = ReplicaWindows(
        "m",
        "r",
        lambda: profile.new_sketch(sample_size=100, seed=0),
        HOUR,
        "ts",
        partition_of=lambda p: partitions_of(p, "json"),
        max_future_s=24 * HOUR,
    )
    frame = model_frame(4, seed=2)
    cols = {k: frame[k].to_numpy() for k in frame.columns}
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    far = now + 3650 * 24 * HOUR
    cols["ts"] = np.asarray([now - 10.0, far, None, now + HOUR], dtype=object)
    positions = _positions(3, np.arange(4))
    untimed, future = replica.feed(cols, positions, now=now)
    assert untimed.tolist() == [positions[2]]
    assert future == ((int(positions[1]), far),)
    assert replica.watermarks == {3: now + HOUR}
    assert sorted(replica.open) == [now - HOUR, now + HOUR]  # nothing a decade ahead
    assert sum(sk.rows for sk in replica.open.values()) == 2


def test_batch_positions_map_to_their_partition() -> None:
    pos = (np.array([0, 5 * POSITION_PARTITION_STRIDE + 9]) * BATCH_ITEM_STRIDE) + np.array([3, 4095])
    assert partitions_of(pos, "json_batch").tolist() == [0, 5]


T0 = datetime(2026, 1, 1, tzinfo=UTC)  # the store's clock: when watermarks are written


def _evaluator(tmp_path: Path) -> tuple[WindowEvaluator, MonitorRuntime, Store]:
    profile = write_profile(tmp_path, labels=False)
    stream = tmp_path / "stream.jsonl"
    stream.write_text("")
    window = '{ duration = "1h", timestamp = "ts" }'
    cfg = load_config(write_config(tmp_path, stream=stream, profile=profile, window=window), {})
    store = Store.open(cfg.store.url.reveal(), clock=lambda: T0)
    rt = MonitorRuntime(cfg.monitors[0], load_profile(str(profile)))
    evaluator = WindowEvaluator(rt, store, "r1", lease_ttl_s=1e9, settle_s=0.0, idle_s=90.0)
    return evaluator, rt, store


def _write_hours(rt: MonitorRuntime, store: Store, base: float, hours: int, watermark: float) -> None:
    """Replica ``a``'s (empty) partials of ``hours`` windows from ``base``, partition 0 at ``watermark``."""
    sketch = orjson.dumps(rt.pipeline.new_sketch().to_state(), option=orjson.OPT_SERIALIZE_NUMPY)
    partials = tuple(
        PartialWindow(monitor="m", window_key=window_key(base + k * HOUR), replica="a", sketch=sketch, rows=0)
        for k in range(hours)
    )
    store.commit_progress(
        ProgressUpdate(monitor="m", write_state=False, partials=partials, watermarks=((0, watermark),))
    )


def _starts(got: list[tuple[WindowResult, Any, float]]) -> list[float | None]:
    return [r.window.start for r, _, _ in got]


def test_a_lagging_partition_holds_the_windows_it_has_not_reached(tmp_path: Path) -> None:
    evaluator, rt, store = _evaluator(tmp_path)
    base = T0.timestamp() - 100 * HOUR  # old rows (a replay): the wall clock has passed them all
    # replica a is four hours ahead on partition 0; partition 1 (replica b) is still in hour 1
    _write_hours(rt, store, base, 5, base + 4.5 * HOUR)
    store.commit_progress(
        ProgressUpdate(monitor="m", write_state=False, watermarks=((1, base + 1.2 * HOUR),))
    )
    assert _starts(evaluator.run(T0)) == [base]  # only hour 0 is closed on both partitions
    store.commit_progress(
        ProgressUpdate(monitor="m", write_state=False, watermarks=((1, base + 3.0 * HOUR),))
    )
    assert _starts(evaluator.run(T0)) == [base + HOUR, base + 2 * HOUR]
    assert store.pending_windows("m") == (window_key(base + 3 * HOUR), window_key(base + 4 * HOUR))


def test_with_every_partition_idle_the_wall_clock_closes_windows_after_settling(tmp_path: Path) -> None:
    evaluator, rt, store = _evaluator(tmp_path)
    evaluator.settle_s = 3600.0
    base = T0.timestamp() - 100 * HOUR
    _write_hours(rt, store, base, 4, base + 2.5 * HOUR)
    idle = T0 + timedelta(seconds=91)  # no watermark rose within idle_s
    assert evaluator.run(idle) == []  # closed by the clock alone: waits for replicas' last commits
    evaluator.settle_s = 0.0
    assert _starts(evaluator.run(idle)) == [base + k * HOUR for k in range(4)]


def test_an_idle_partition_stops_holding_windows(tmp_path: Path) -> None:
    evaluator, rt, store = _evaluator(tmp_path)
    base = T0.timestamp() - 100 * HOUR
    store.commit_progress(
        ProgressUpdate(monitor="m", write_state=False, watermarks=((1, base + 0.5 * HOUR),))
    )
    later = T0 + timedelta(seconds=120)
    store._clock = lambda: later  # partition 0 rises two minutes after partition 1 last did
    _write_hours(rt, store, base, 3, base + 2.5 * HOUR)
    assert _starts(evaluator.run(T0 + timedelta(seconds=60))) == []  # both active: 1 holds hour 0
    assert _starts(evaluator.run(later)) == [base, base + HOUR]  # 1 idle: 0's watermark decides
