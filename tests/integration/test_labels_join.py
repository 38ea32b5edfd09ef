"""Late labels joined to predictions by id: pending predictions in the store, performance and
concept drift from the joined pairs, bounded and expiring pending predictions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connectors.base import Batch, SourceStatus
from monitor.cli import load_profile
from monitor.config import load_config
from monitor.labels import JoinedTracker
from monitor.runtime import EvaluatedWindow, MonitorRuntime, SourceWorker
from monitor.store import Store
from tests.fixtures_daemon import (
    model_frame,
    start_daemon,
    stored_results,
    wait_for,
    write_config,
    write_profile,
)

pytestmark = pytest.mark.integration


class IdleSource:
    """A source the test drives by hand (the worker thread is not started)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def status(self) -> SourceStatus:
        return SourceStatus(connected=True)

    def close(self) -> None:
        pass


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [dict(r) for r in json.loads(frame.to_json(orient="records"))]


def _setup(
    tmp_path: Path, *, max_pending: int = 1_000_000, window: str = "{ rows = 1000 }"
) -> tuple[SourceWorker, MonitorRuntime, Store, list[EvaluatedWindow]]:
    profile = write_profile(tmp_path)
    stream = tmp_path / "stream.jsonl"
    stream.write_text("")
    labels = tmp_path / "labels.jsonl"
    labels.write_text("")
    cfg_path = write_config(
        tmp_path,
        stream=stream,
        profile=profile,
        window=window,
        extra_sources=f'\n[sources.l]\nkind = "file"\npath = "{labels.as_posix()}"\n',
        extra_monitors=(
            f'labels = {{ source = "l", id = "id", horizon = "7d", max_pending = {max_pending} }}'
        ),
    )
    cfg = load_config(cfg_path, {})
    store = Store.open(cfg.store.url.reveal())
    rt = MonitorRuntime(cfg.monitors[0], load_profile(str(profile)))
    rt.restore(store)
    out: list[EvaluatedWindow] = []
    worker = SourceWorker(
        IdleSource("s"),  # type: ignore[arg-type]
        [rt],
        store,
        on_windows=out.extend,
        on_rows=lambda *_: None,
        label_sources=[IdleSource("l")],  # type: ignore[list-item]
    )
    return worker, rt, store, out


def test_labels_join_pending_predictions_and_window_performance(tmp_path: Path) -> None:
    worker, rt, store, out = _setup(tmp_path)
    frame = model_frame(1500, seed=3)
    preds = frame.drop(columns=["y"])
    worker.process(Batch(rows=_rows(preds.iloc[:1000]), checkpoint={"row": 1000}))
    worker.commit()
    # window 0 closed without labels: label-free estimate or nothing, never "accuracy"
    assert len(out) == 1 and (out[0].result_json["performance"] or {}).get("metric") != "accuracy"
    assert store.count_pending("m") == 1000
    worker.process(Batch(rows=_rows(preds.iloc[1000:1200]), checkpoint={"row": 1200}))
    labels = frame[["id", "y"]].iloc[:600]
    unknown = pd.DataFrame({"id": [10_000_001, 10_000_002], "y": [1, 0]})
    worker.process_labels("l", Batch(rows=_rows(pd.concat([labels, unknown])), checkpoint={"row": 602}))
    worker.commit()
    assert rt.labels is not None
    assert rt.labels.counts.joined == 600 and rt.labels.counts.unmatched == 2
    assert store.count_pending("m") == 1200 - 600
    assert store.load_source_checkpoint("l") == {"row": 602}
    assert store.source_totals("l").rows == 602
    # labels for rows of the open window (1000..1199, still uncommitted ids included)
    worker.process(Batch(rows=_rows(preds.iloc[1200:1500]), checkpoint={"row": 1500}))
    worker.process_labels(
        "l", Batch(rows=_rows(frame[["id", "y"]].iloc[1000:1400]), checkpoint={"row": 1002})
    )
    worker.commit()
    assert store.count_pending("m") == 1500 - 1000
    # a restart restores the joined pairs of the open window
    tracker = rt.pipeline.tracker
    assert isinstance(tracker, JoinedTracker) and len(tracker.pairs.keys) == 1000
    rt2 = MonitorRuntime(rt.cfg, rt.profile)
    rt2.restore(store)
    assert isinstance(rt2.pipeline.tracker, JoinedTracker) and len(rt2.pipeline.tracker.pairs.keys) == 1000
    # window 1 closes: its performance comes from the 1000 pairs joined while it was open
    worker.flush_monitors()
    worker.commit()
    perf = out[-1].result_json["performance"]
    assert perf["metric"] == "accuracy"
    joined = frame.iloc[list(range(600)) + list(range(1000, 1400))]
    expected = float((joined["y"] == joined["pred"]).mean())
    assert perf["value"] == pytest.approx(expected)
    assert out[-1].result_json["concept"] is not None
    store.dispose()


def test_pending_predictions_are_bounded_and_expire(tmp_path: Path) -> None:
    worker, rt, store, _ = _setup(tmp_path, max_pending=300)
    preds = model_frame(500, seed=4).drop(columns=["y"])
    worker.process(Batch(rows=_rows(preds), checkpoint={"row": 500}))
    worker.commit()
    assert rt.labels is not None
    assert store.count_pending("m") == 300
    assert rt.labels.counts.dropped == 200
    # the oldest went: ids are inserted in one step, so ties break by id text; 300 survive
    worker.expire_labels(datetime.now(tz=UTC) + timedelta(days=8))
    assert store.count_pending("m") == 0
    assert rt.labels.counts.expired == 300
    store.dispose()


def test_daemon_joins_labels_from_a_second_file(tmp_path: Path) -> None:
    profile = write_profile(tmp_path)
    frame = model_frame(3000, seed=5)
    stream = tmp_path / "stream.jsonl"
    frame.drop(columns=["y"]).to_json(stream, orient="records", lines=True)
    labels = tmp_path / "labels.jsonl"
    # labels come in slower than predictions, plus a few for ids that were never predicted
    lab = pd.concat([frame[["id", "y"]], pd.DataFrame({"id": [900_001, 900_002], "y": [0, 1]})])
    lab.to_json(labels, orient="records", lines=True)
    cfg = write_config(
        tmp_path,
        stream=stream,
        profile=profile,
        window="{ rows = 1000 }",
        at_end="exit",
        rows_per_second=2000,
        extra_sources=(
            f'\n[sources.l]\nkind = "file"\npath = "{labels.as_posix()}"\nrows_per_second = 1500\nat_end = "idle"\n'
        ),
        extra_monitors='labels = { source = "l", id = "id", horizon = "7d" }',
    )
    daemon = start_daemon(cfg, tmp_path / "daemon.log")
    try:
        assert daemon.proc.wait(60) == 0, daemon.text()[-3000:]
    finally:
        daemon.kill()
    db = tmp_path / "store.db"
    results = stored_results(db)
    assert [r["window"]["index"] for r in results] == [0, 1, 2]
    assert any((r["performance"] or {}).get("metric") == "accuracy" for r in results), results
    store = Store.open(f"sqlite:///{db.as_posix()}")
    try:
        pending = store.count_pending("m")
        labelled_rows = store.source_totals("l").rows
        assert 0 < labelled_rows
        # every prediction is either still pending or was joined by one of the label rows read
        assert 3000 - labelled_rows <= pending < 3000
    finally:
        store.dispose()
    wait_for(lambda: "traceback" not in daemon.text().lower(), timeout_s=1)


def test_a_label_batch_whose_lookups_fail_is_processed_again_whole(tmp_path: Path) -> None:
    """The store away while labels are joined: nothing of the batch is applied until its lookups
    succeed, so the retried batch joins and counts exactly what an undisturbed one does."""
    from sqlalchemy.exc import OperationalError

    def joined_after(tmp: Path, failures: int) -> tuple[Any, ...]:
        tmp.mkdir()
        worker, rt, store, _ = _setup(tmp)
        worker.store_retry_s = 0.0
        frame = model_frame(800, seed=4)
        worker.process(Batch(rows=_rows(frame.drop(columns=["y"]).iloc[:700]), checkpoint={"row": 700}))
        worker.commit()  # the predictions are pending in the store
        real, real_read = store.find_pending, store._read
        calls: list[int] = []

        def flaky_read() -> Any:  # the connection fails under find_pending, as when the server is away
            if len(calls) <= failures:
                raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))
            return real_read()

        def flaky(monitor: str, ids: Any) -> Any:
            calls.append(1)
            return real(monitor, ids)

        store._read = flaky_read  # type: ignore[method-assign]
        store.find_pending = flaky  # type: ignore[method-assign]
        labels = Batch(rows=_rows(frame[["id", "y"]].iloc[100:500]), checkpoint={"row": 400})
        worker._until_store_answers(
            lambda: worker.process_labels("l", labels), "label lookup", "labels joined"
        )
        store._read = real_read  # type: ignore[method-assign]
        worker.commit()
        assert rt.labels is not None and len(calls) == failures + 1
        return (
            rt.labels.counts.joined,
            rt.labels.counts.unmatched,
            store.count_pending("m"),
            store.source_totals("l").rows,
            store.load_source_checkpoint("l"),
        )

    steady = joined_after(tmp_path / "steady", 0)
    assert steady == (400, 0, 300, 400, {"row": 400})
    assert joined_after(tmp_path / "outage", 2) == steady
