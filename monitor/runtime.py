"""Running monitors: a pipeline per monitor and a worker thread per source."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from connectors.base import Batch, DeadLetter, Source, SourceStatus
from connectors.files import rows_to_columns
from detectors.profile import Profile
from detectors.result import WindowResult
from detectors.sketch import WindowSketch
from monitor.config import MonitorConfig, RowWindow, TimeWindow
from monitor.pipeline import MonitorPipeline, WindowSpec
from monitor.report import to_json
from monitor.settings import evaluation_settings
from monitor.store import ProgressUpdate, Store, WindowRecord

logger = logging.getLogger(__name__)

HISTORY_WINDOWS = 48


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluatedWindow:
    """A window evaluated and made durable, handed to alerts, metrics and reports."""

    monitor: str
    result: WindowResult
    result_json: Mapping[str, Any]
    sketch: WindowSketch
    seconds: float


def window_spec(cfg: MonitorConfig) -> WindowSpec:
    if isinstance(cfg.window, RowWindow):
        return WindowSpec(rows=cfg.window.rows)
    assert isinstance(cfg.window, TimeWindow)
    return WindowSpec(
        duration_s=cfg.window.duration.total_seconds(),
        timestamp=cfg.window.timestamp,
        lateness_s=cfg.window.lateness.total_seconds(),
    )


class MonitorRuntime:
    """One monitor's live state. Its lock guards the pipeline (source thread vs scheduler tick)."""

    def __init__(self, cfg: MonitorConfig, profile: Profile) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.profile = profile
        self.lock = threading.Lock()
        self.pipeline = MonitorPipeline(
            profile,
            window_spec(cfg),
            settings=evaluation_settings(cfg.detectors),
            expected_rows=cfg.expected_rows_per_window,
            freshness_s=cfg.freshness.total_seconds() if cfg.freshness else None,
            concept_method=cfg.detectors.concept,
        )
        self.next_row = 0
        self.last_data_at: float | None = None
        self.stale_reported = False
        self.history: dict[str, deque[tuple[int, float, float]]] = {}

    def restore(self, store: Store) -> None:
        state = store.load_monitor_state(self.name)
        if state is None:
            return
        self.next_row = state.next_row
        if state.open_state:
            self.pipeline.restore(orjson.loads(state.open_state))
        else:
            self.pipeline.windows.index = state.next_window_index
        logger.info(
            "monitor restored monitor=%s next_row=%d next_window=%d", self.name, self.next_row, state.next_window_index
        )

    def state_bytes(self) -> bytes:
        return orjson.dumps(self.pipeline.state(), option=orjson.OPT_SERIALIZE_NUMPY)

    @property
    def next_window_index(self) -> int:
        return int(self.pipeline.windows.index)

    def remember(self, result_json: Mapping[str, Any]) -> None:
        idx = int(result_json["window"]["index"])
        for name, f in (result_json.get("features") or {}).items():
            stat = f.get("statistic")
            if stat is None:
                continue
            dq = self.history.setdefault(name, deque(maxlen=HISTORY_WINDOWS))
            dq.append((idx, float(stat), float(f.get("threshold") or 0.0)))


def window_record(result: WindowResult) -> tuple[WindowRecord, dict[str, Any]]:
    doc = to_json(result)
    return WindowRecord.from_result(doc), doc


class SourceWorker(threading.Thread):
    """Owns one source: polls it, feeds its monitors, commits progress, hands windows on.

    Progress (open window state + source checkpoint + dead letters + new windows) is written in
    one store transaction, then the source's position is committed upstream: at-least-once with
    exact recovery, since after a crash the store's checkpoint and window state agree.
    """

    def __init__(
        self,
        source: Source,
        monitors: Sequence[MonitorRuntime],
        store: Store,
        *,
        on_windows: Callable[[list[EvaluatedWindow]], None],
        on_rows: Callable[[str, int, Sequence[DeadLetter]], None],
        max_rows: int = 50_000,
        poll_timeout_s: float = 0.5,
        commit_interval_s: float = 1.0,
        stop_on_end: bool = True,
    ) -> None:
        super().__init__(name=f"source-{source.name}", daemon=True)
        self.source = source
        self.monitors = tuple(monitors)
        self.store = store
        self.on_windows = on_windows
        self.on_rows = on_rows
        self.max_rows = max_rows
        self.poll_timeout_s = poll_timeout_s
        self.commit_interval_s = commit_interval_s
        self.stop_on_end = stop_on_end
        self.stop_event = threading.Event()
        self.finished = threading.Event()
        self.error: str | None = None
        self.connected = False
        self.end_of_data = False
        self._status = SourceStatus(connected=False, reason="starting")
        self._pending_rows = 0
        self._pending_dead: list[DeadLetter] = []
        self._pending_windows: dict[str, list[tuple[WindowRecord, dict[str, Any], EvaluatedWindow]]] = {}
        self._checkpoint: Mapping[str, Any] | None = None
        self._dirty = False
        self._last_commit = time.monotonic()
        self._lock = threading.RLock()  # pending progress is shared with the scheduler's tick

    def status(self) -> SourceStatus:
        return self._status

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # a connector failure must not kill the process silently
            self.error = f"{type(exc).__name__}: {exc}"
            self._status = SourceStatus(connected=False, reason=self.error)
            logger.exception("source worker failed source=%s", self.source.name)
        finally:
            try:
                self.commit()
            except Exception:
                logger.exception("final commit failed source=%s", self.source.name)
            try:
                self.source.close()
            except Exception:
                logger.exception("source close failed source=%s", self.source.name)
            self.finished.set()

    def _open(self) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                self.source.open(self.store.load_source_checkpoint(self.source.name))
                self._status = self.source.status()
                self.connected = True
                return
            except Exception as exc:
                self._status = SourceStatus(connected=False, reason=f"{type(exc).__name__}: {exc}")
                logger.warning("source open failed source=%s error=%s retry_in=%.0fs", self.source.name, exc, backoff)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _run(self) -> None:
        self._open()
        while not self.stop_event.is_set():
            batch = self.source.poll(self.max_rows, self.poll_timeout_s)
            self._status = self.source.status()
            self.process(batch)
            if self._pending_windows or (
                self._dirty and time.monotonic() - self._last_commit >= self.commit_interval_s
            ):
                self.commit()
            if batch.end_of_data:
                self.end_of_data = True
                if self.stop_on_end:
                    self.flush_monitors()
                    self.commit()
                    break

    def process(self, batch: Batch) -> None:
        with self._lock:
            self._process(batch)

    def _process(self, batch: Batch) -> None:
        n = batch.n_rows
        if batch.checkpoint is not None:
            self._checkpoint = batch.checkpoint
            self._dirty = True
        if batch.dead_letters:
            self._pending_dead.extend(batch.dead_letters)
            self._dirty = True
        if n == 0:
            return
        columns = batch.columns if batch.columns is not None else rows_to_columns(batch.rows)
        if batch.columns is not None and batch.rows:
            raise ValueError("a batch carries either rows or columns, not both")
        now = time.time()
        for m in self.monitors:
            with m.lock:
                rows = np.arange(m.next_row, m.next_row + n, dtype=np.int64)
                m.next_row += n
                m.last_data_at = now
                m.stale_reported = False
                t0 = time.perf_counter()
                outcome = m.pipeline.feed(columns, rows)
                took = time.perf_counter() - t0
                for pos in outcome.untimed_positions:
                    self._pending_dead.append(
                        DeadLetter(
                            source=self.source.name,
                            position=f"row={pos}",
                            reason="missing_field",
                            detail=f"no usable event time in field {m.pipeline.timestamp_column!r}",
                        )
                    )
                self._collect(m, outcome.results, took)
        self._pending_rows += n
        self._dirty = True

    def _collect(self, m: MonitorRuntime, results: Sequence[tuple[WindowResult, WindowSketch]], took: float) -> None:
        for result, sketch in results:
            record, doc = window_record(result)
            ev = EvaluatedWindow(monitor=m.name, result=result, result_json=doc, sketch=sketch, seconds=took)
            self._pending_windows.setdefault(m.name, []).append((record, doc, ev))
            m.remember(doc)

    def flush_monitors(self) -> None:
        """End of a finite source: evaluate the open partial windows."""
        with self._lock:
            self._flush_monitors()

    def _flush_monitors(self) -> None:
        for m in self.monitors:
            with m.lock:
                self._collect(m, m.pipeline.flush(), 0.0)
        self._dirty = True

    def tick(self, now_s: float) -> None:
        """Wall-clock tick from the scheduler: close due time windows even without rows."""
        closed = False
        with self._lock:
            closed = self._tick(now_s)
        if closed:
            self.commit()

    def _tick(self, now_s: float) -> bool:
        closed = False
        for m in self.monitors:
            with m.lock:
                results = m.pipeline.tick(now_s)
                if results:
                    self._collect(m, results, 0.0)
                    closed = True
        if closed:
            self._dirty = True
        return closed

    def commit(self) -> None:
        """Write pending progress in one transaction, then commit the position upstream."""
        with self._lock:
            self._commit()

    def _commit(self) -> None:
        if not self._dirty and not self._pending_windows:
            return
        updates: list[ProgressUpdate] = []
        evaluated: list[EvaluatedWindow] = []
        for i, m in enumerate(self.monitors):
            with m.lock:
                state = m.state_bytes()
                pending = self._pending_windows.pop(m.name, [])
                updates.append(
                    ProgressUpdate(
                        monitor=m.name,
                        source=self.source.name if i == 0 else None,
                        checkpoint=self._checkpoint if i == 0 else None,
                        open_state=state,
                        next_row=m.next_row,
                        next_window_index=m.next_window_index,
                        rows_added=self._pending_rows if i == 0 else 0,
                        windows=tuple(r for r, _, _ in pending),
                        dead_letters=tuple(self._pending_dead) if i == 0 else (),
                    )
                )
                evaluated.extend(ev for _, _, ev in pending)
        if not updates:
            updates.append(
                ProgressUpdate(
                    source=self.source.name,
                    checkpoint=self._checkpoint,
                    rows_added=self._pending_rows,
                    dead_letters=tuple(self._pending_dead),
                )
            )
        self.store.commit_many(updates)
        rows, dead = self._pending_rows, list(self._pending_dead)
        self._pending_rows = 0
        self._pending_dead = []
        self._dirty = False
        self._last_commit = time.monotonic()
        if self._checkpoint is not None:
            try:
                self.source.commit(self._checkpoint)
            except Exception as exc:
                logger.warning("upstream commit failed source=%s error=%s", self.source.name, exc)
        self.on_rows(self.source.name, rows, dead)
        if evaluated:
            self.on_windows(evaluated)


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(slots=True)
class RecentAlerts:
    """A bounded, thread-safe list of recent notifications for the dashboard."""

    items: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, item: dict[str, Any]) -> None:
        with self.lock:
            self.items.appendleft(item)

    def latest(self, limit: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.items)[:limit]
