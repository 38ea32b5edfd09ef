"""SourceWorker coalescing: small batches are merged by form, nothing is lost or processed twice,
and a partition revocation in the middle processes what was already polled before committing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from connectors.base import Batch, SourceStatus
from monitor.cli import load_profile
from monitor.config import load_config
from monitor.runtime import HELD_WINDOWS, MonitorRuntime, SourceWorker, merge_batches
from monitor.store import Store
from tests.fixtures_daemon import model_frame, write_config, write_profile


class ScriptedSource:
    """Hands out prepared batches, then empty ones; ``on_poll[i]`` runs inside the i-th poll
    (as Kafka runs a rebalance callback inside ``poll``)."""

    def __init__(self, batches: list[Batch], on_poll: dict[int, Callable[[], None]] | None = None) -> None:
        self.name = "s"
        self.batches = list(batches)
        self.on_poll = on_poll or {}
        self.polls = 0

    def poll(self, max_rows: int, timeout_s: float) -> Batch:
        hook = self.on_poll.get(self.polls)
        self.polls += 1
        if hook is not None:
            hook()
        return self.batches.pop(0) if self.batches else Batch()

    def status(self) -> SourceStatus:
        return SourceStatus(connected=True)

    def close(self) -> None:
        pass


def _columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy(dtype=np.float64 if frame[c].dtype.kind in "if" else object) for c in frame}


def _batches(frame: pd.DataFrame, cuts: list[int], *, columnar: list[bool]) -> list[Batch]:
    out = []
    bounds = [0, *cuts, len(frame)]
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        part = frame.iloc[lo:hi]
        positions = list(range(lo, hi))
        if columnar[i]:
            out.append(
                Batch(
                    columns=_columns(part),
                    n_columnar_rows=hi - lo,
                    checkpoint={"row": hi},
                    positions=positions,
                )
            )
        else:
            rows: list[dict[str, Any]] = part.to_dict(orient="records")
            out.append(Batch(rows=rows, checkpoint={"row": hi}, positions=positions))
    return out


def _worker(
    tmp_path: Path, source: ScriptedSource, window: str = "{ rows = 100000 }"
) -> tuple[SourceWorker, MonitorRuntime, Store]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    profile = write_profile(tmp_path, labels=False)
    stream = tmp_path / "stream.jsonl"
    stream.write_text("")
    cfg = load_config(write_config(tmp_path, stream=stream, profile=profile, window=window), {})
    store = Store.open(cfg.store.url.reveal())
    rt = MonitorRuntime(cfg.monitors[0], load_profile(str(profile)))
    rt.restore(store)
    worker = SourceWorker(source, [rt], store, on_windows=lambda _w: None, on_rows=lambda *_: None)  # type: ignore[arg-type]
    return worker, rt, store


def test_small_batches_are_merged_by_form_in_order(tmp_path: Path) -> None:
    frame = model_frame(900, seed=1).drop(columns=["y"])
    batches = _batches(frame, [100, 250, 400, 600, 700], columnar=[True, True, False, False, True, True])
    source = ScriptedSource(batches)
    worker, rt, _ = _worker(tmp_path, source)
    got = [worker._coalesced_poll() for _ in range(4)]
    assert [b.n_rows for b in got] == [250, 350, 300, 0]
    assert [b.columns is not None for b in got[:3]] == [True, False, True]
    assert [b.checkpoint for b in got[:3]] == [{"row": 250}, {"row": 600}, {"row": 900}]
    assert not worker._stash and not worker._held
    positions = [int(p) for b in got if b.positions is not None for p in b.positions]
    assert positions == list(range(900))
    merged = got[0]
    assert merged.columns is not None
    np.testing.assert_array_equal(merged.columns["age"], frame["age"].to_numpy(dtype=np.float64)[:250])
    assert merged.columns["city"].tolist() == frame["city"].tolist()[:250]


def test_columns_typed_apart_are_handed_out_one_by_one() -> None:
    a = Batch(columns={"c": np.array([1.0, 2.0])}, n_columnar_rows=2, checkpoint={"row": 2})
    b = Batch(columns={"c": np.array(["x"], dtype=object)}, n_columnar_rows=1, checkpoint={"row": 3})
    assert merge_batches([a, b]) is None
    empty = Batch(columns={"c": np.array([None, None], dtype=object)}, n_columnar_rows=2)
    merged = merge_batches([a, empty])
    assert merged is not None and merged.columns is not None
    assert merged.columns["c"].dtype == np.float64 and merged.n_columnar_rows == 4


def test_revocation_processes_held_batches_before_committing(tmp_path: Path) -> None:
    frame = model_frame(600, seed=2).drop(columns=["y"])
    batches = _batches(frame, [200, 400], columnar=[True, True, True])
    seen: dict[str, Any] = {}
    source = ScriptedSource(batches)
    worker, rt, store = _worker(tmp_path, source)

    def revoke() -> None:  # inside the second poll, as kafka-python runs on_partitions_revoked
        worker.revoked()
        seen["checkpoint"] = store.load_source_checkpoint("s")
        seen["rows"] = rt.next_row

    source.on_poll[1] = revoke
    batch = worker._coalesced_poll()
    # what was polled before the revocation is in the committed state, with its checkpoint
    assert seen == {"checkpoint": {"row": 200}, "rows": 200}
    # ... and is not handed out again: the returned batch starts after it
    assert batch.checkpoint == {"row": 600} and batch.n_rows == 400
    assert batch.positions is not None and [int(p) for p in batch.positions] == list(range(200, 600))
    worker.process(batch)
    worker.commit(upstream=False)
    assert rt.next_row == 600 and store.load_source_checkpoint("s") == {"row": 600}


def test_closed_windows_wait_for_the_interval_only_while_catching_up(tmp_path: Path) -> None:
    worker, rt, store = _worker(tmp_path, ScriptedSource([]))
    worker.commit_interval_s = 3600.0  # only the window rule can trigger here
    worker._last_commit = time.monotonic()
    assert not worker._commit_due(backlog=True) and not worker._commit_due(backlog=False)
    frame = model_frame(100_000, seed=3).drop(columns=["y"])
    worker.process(_batches(frame, [], columnar=[True])[0])  # closes the 100k-row window
    assert sum(map(len, worker._pending_windows.values())) == 1
    assert not worker._commit_due(backlog=True)  # a backlog: held for the interval
    assert worker._commit_due(backlog=False)  # caught up: committed and alerted at once
    worker._pending_windows["m"] = worker._pending_windows.popitem()[1] * HELD_WINDOWS
    assert worker._commit_due(backlog=True)  # ... and never more than HELD_WINDOWS held
    worker._pending_windows.clear()
    worker._last_commit = time.monotonic() - 3601.0
    assert worker._commit_due(backlog=True)  # the interval commits the progress either way
