"""Running monitors: a pipeline per monitor and a worker thread per source."""

from __future__ import annotations

import functools
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
from connectors.columnar import concat_columns
from connectors.files import rows_to_columns
from detectors.profile import Profile
from detectors.result import WindowResult
from detectors.sketch import WindowSketch
from monitor.config import MonitorConfig, RowWindow, TimeWindow
from monitor.durations import format_duration
from monitor.labels import JoinedTracker, LabelJoin, decode_prediction
from monitor.pipeline import MonitorPipeline, WindowSpec
from monitor.report import to_json
from monitor.scaleout import ReplicaWindows
from monitor.settings import evaluation_settings
from monitor.store import (
    STORE_AWAY,
    PartialWindow,
    PendingPrediction,
    ProgressUpdate,
    Store,
    WindowRecord,
)

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
        max_future_s=cfg.window.max_future.total_seconds(),
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
            settings=evaluation_settings(
                cfg.detectors,
                window_seconds=cfg.window.duration.total_seconds()
                if isinstance(cfg.window, TimeWindow)
                else None,
                n_columns=len(profile.columns),
            ),
            expected_rows=cfg.expected_rows_per_window,
            freshness_s=cfg.freshness.total_seconds() if cfg.freshness else None,
            concept_method=cfg.detectors.concept if cfg.detectors.concept is not None else "none",
        )
        self.labels: LabelJoin | None = None
        if cfg.labels is not None:
            self.labels = LabelJoin(cfg.name, cfg.labels, profile)
            if self.labels.enabled:
                self.pipeline.tracker = JoinedTracker(
                    profile,
                    concept_method=cfg.detectors.concept if cfg.detectors.concept is not None else "none",
                )
        self.replica: ReplicaWindows | None = None  # set by the service for replicas > 1
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
            "monitor restored monitor=%s next_row=%d next_window=%d",
            self.name,
            self.next_row,
            state.next_window_index,
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


COALESCE_ROWS = 50_000
COALESCE_S = 0.25
HELD_WINDOWS = 8
"""While the source has a backlog (full batches), closed windows wait for the next interval
commit, up to this many: one store transaction, state snapshot and upstream commit per window
cost ~12% of the throughput when windows close several times a second. Once the source has
caught up, a closed window is committed (and alerted on) at once."""


def merge_batches(parts: Sequence[Batch]) -> Batch | None:
    """One batch of consecutive batches of one form (the last checkpoint wins), or ``None`` when
    columnar parts type a column differently (a float column in one, text in another)."""
    dead: list[DeadLetter] = []
    checkpoint = None
    for p in parts:
        dead.extend(p.dead_letters)
        if p.checkpoint is not None:
            checkpoint = p.checkpoint
    end_of_data = any(p.end_of_data for p in parts)
    with_rows = [p for p in parts if p.n_rows]
    if any(p.columns is not None for p in with_rows):
        if not all(p.columns is not None for p in with_rows):
            raise ValueError("merge_batches merges batches of one form: rows or columns")
        columns = concat_columns([p.columns for p in with_rows if p.columns is not None])
        if columns is None:
            return None
        n = sum(p.n_columnar_rows for p in with_rows)
        positions: Any = None
        if all(p.positions is not None for p in with_rows):
            positions = np.concatenate([np.asarray(p.positions, dtype=np.int64) for p in with_rows])
        return Batch(
            columns=columns,
            n_columnar_rows=n,
            dead_letters=dead,
            checkpoint=checkpoint,
            end_of_data=end_of_data,
            malformed_rows=sum(p.malformed_rows for p in parts),
            positions=positions,
        )
    rows: list[dict[str, Any]] = []
    row_positions: list[int] | None = []
    for p in parts:
        rows.extend(p.rows)
        if row_positions is not None:
            if p.positions is None and p.rows:
                row_positions = None
            elif p.positions is not None:
                row_positions.extend(p.positions)
    return Batch(
        rows=rows,
        dead_letters=dead,
        checkpoint=checkpoint,
        end_of_data=end_of_data,
        malformed_rows=sum(p.malformed_rows for p in parts),
        positions=row_positions if row_positions else None,
    )


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
        label_sources: Sequence[Source] = (),
        idle_wait_s: float = 0.0,
        live: bool = True,
    ) -> None:
        super().__init__(name=f"source-{source.name}", daemon=True)
        self.source = source
        # a live stream's event times are checked against the wall clock (window.max_future);
        # a file source replays recorded rows, whose times say nothing about the clock
        self.live = live
        self.label_sources = tuple(label_sources)
        self._stash: deque[Batch] = deque()
        self._held: list[Batch] = []  # polled, not yet processed (see _coalesced_poll)
        self.idle_wait_s = float(idle_wait_s)  # sources whose poll never waits (SQL): pause when idle
        self._label_status: dict[str, SourceStatus] = {
            ls.name: SourceStatus(connected=False, reason="starting") for ls in self.label_sources
        }
        self._label_progress: dict[str, _LabelProgress] = {
            ls.name: _LabelProgress() for ls in self.label_sources
        }
        self._pending_add: dict[str, dict[str, PendingPrediction]] = {}
        self._pending_joined: dict[str, list[str]] = {}
        self.monitors = tuple(monitors)
        self.store = store
        self.on_windows = on_windows
        self.on_rows = on_rows
        self.max_rows = max_rows
        self.poll_timeout_s = poll_timeout_s
        self.commit_interval_s = commit_interval_s
        self.stop_on_end = stop_on_end
        self.stop_event = threading.Event()
        self.store_retry_s = 0.5  # first wait before retrying a failed store commit (doubling to 10 s)
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

    def source_status(self, name: str) -> SourceStatus:
        """Status of the main source or of one of its label sources."""
        if name == self.source.name:
            return self._status
        return self._label_status.get(name, SourceStatus(connected=False, reason="unknown source"))

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
            for src in (self.source, *self.label_sources):
                try:
                    src.close()
                except Exception:
                    logger.exception("source close failed source=%s", src.name)
            self.finished.set()

    def _open(self) -> None:
        backoff = 1.0
        opened: set[str] = set()
        while not self.stop_event.is_set():
            try:
                for src in (self.source, *self.label_sources):
                    if src.name in opened:
                        continue
                    src.open(self.store.load_source_checkpoint(src.name))
                    opened.add(src.name)
                    if src is self.source:
                        self._status = src.status()
                    else:
                        self._label_status[src.name] = src.status()
                self.connected = True
                return
            except Exception as exc:
                self._status = SourceStatus(connected=False, reason=f"{type(exc).__name__}: {exc}")
                logger.warning(
                    "source open failed source=%s error=%s retry_in=%.0fs", self.source.name, exc, backoff
                )
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _run(self) -> None:
        self._open()
        while not self.stop_event.is_set():
            batch = self._coalesced_poll()
            self._status = self.source.status()
            self.process(batch)
            for ls in self.label_sources:
                labels = ls.poll(self.max_rows, 0.0 if batch.n_rows else self.poll_timeout_s / 4)
                self._label_status[ls.name] = ls.status()
                self._until_store_answers(
                    functools.partial(self.process_labels, ls.name, labels), "label lookup", "labels joined"
                )
            if self._commit_due(backlog=batch.n_rows >= COALESCE_ROWS):
                self._commit_until_stored()
            if batch.end_of_data:
                self.end_of_data = True
                if self.stop_on_end:
                    self.flush_monitors()
                    self._commit_until_stored()
                    break
            if self.idle_wait_s > 0 and batch.n_rows == 0 and not batch.dead_letters:
                if self._dirty:
                    self._commit_until_stored()
                self.stop_event.wait(self.idle_wait_s)

    def _commit_until_stored(self) -> None:
        """:meth:`commit`, retried while the store is unreachable (a database restart or
        failover): nothing is read meanwhile, and what was pending is written once it is back.
        Gives up only when the worker is asked to stop (the rows are then read again after a
        restart: their positions were not committed)."""
        self._until_store_answers(self.commit, "commit", "progress committed")

    def _until_store_answers(self, action: Callable[[], None], what: str, done: str) -> None:
        """Run ``action`` (which changes nothing when the store fails it) until the store answers."""
        backoff = self.store_retry_s
        failing_since: float | None = None
        while True:
            try:
                action()
            except STORE_AWAY as exc:
                if self.stop_event.is_set():
                    raise
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if failing_since is None:
                    failing_since = time.monotonic()
                self._status = SourceStatus(connected=False, reason=f"store unavailable: {reason}")
                logger.warning(
                    "store %s failed, retrying source=%s error=%s retry_in=%.1fs",
                    what,
                    self.source.name,
                    reason,
                    backoff,
                )
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if failing_since is not None:
                self._status = self.source.status()
                logger.info(
                    "store back, %s source=%s after=%.1fs",
                    done,
                    self.source.name,
                    time.monotonic() - failing_since,
                )
            return

    def _commit_due(self, *, backlog: bool) -> bool:
        """Commit every ``commit_interval_s``; closed windows at once, unless the source is
        catching up on a backlog, where they wait for the interval (or :data:`HELD_WINDOWS`).
        Either way the store holds window results, window state and source position of one
        moment, so a crash in between recomputes the same windows from the same rows."""
        if (
            self._dirty or self._pending_windows
        ) and time.monotonic() - self._last_commit >= self.commit_interval_s:
            return True
        held = sum(map(len, self._pending_windows.values()))
        return held > 0 and (not backlog or held >= HELD_WINDOWS)

    def _coalesced_poll(self) -> Batch:
        """Poll, then keep polling without waiting while batches are small, up to
        ``COALESCE_ROWS`` rows or ``COALESCE_S`` seconds: per-chunk costs (parsing event times,
        sketch updates) fall from ~1.5 to ~0.7 us/row between 6k and 50k-row chunks, and one
        Kafka fetch holds a few thousand rows. Batches are merged only with batches of their
        form (rows or columns); the rest wait in the stash for the next call.

        Batches polled but not yet processed are held in ``_held``: a partition revocation
        during a later poll processes them first (:meth:`revoked`), so the state it commits
        holds every row read from the partitions that go."""
        batch = self._stash.popleft() if self._stash else self.source.poll(self.max_rows, self.poll_timeout_s)
        if not batch.n_rows or batch.end_of_data or batch.n_rows >= COALESCE_ROWS:
            return batch
        columnar = batch.columns is not None
        self._held = [batch]
        rows = batch.n_rows
        deadline = time.monotonic() + COALESCE_S
        while rows < COALESCE_ROWS and time.monotonic() < deadline and not self.stop_event.is_set():
            if self._stash:
                more = self._stash.popleft()
            else:
                more = self.source.poll(min(self.max_rows, COALESCE_ROWS - rows), 0.0)
            if more.n_rows and self._held and (more.columns is not None) != columnar:
                self._stash.appendleft(more)  # not mergeable: handed out by the next call
                break
            if not self._held:  # a revocation processed what was held
                columnar = more.columns is not None
            self._held.append(more)
            rows += more.n_rows
            if not more.n_rows or more.end_of_data:
                break
        parts, self._held = self._held, []
        if len(parts) == 1:
            return parts[0]
        merged = merge_batches(parts)
        if merged is None:  # columns typed differently: hand the parts out one by one
            self._stash.extendleft(reversed(parts[1:]))
            return parts[0]
        return merged

    def revoked(self) -> None:
        """Partitions are being taken away (a Kafka rebalance; called on the consumer's IO thread
        while this worker waits inside ``poll``): process the batches polled so far, then write
        the progress, so the next owner starts exactly after the rows this replica counted."""
        with self._lock:
            held, self._held = self._held, []
            for batch in held:
                self._process(batch)
            self._commit(upstream=False)

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
        clock = now if self.live else None
        for m in self.monitors:
            with m.lock:
                rows = np.arange(m.next_row, m.next_row + n, dtype=np.int64)
                m.next_row += n
                m.last_data_at = now
                m.stale_reported = False
                if m.replica is not None:
                    if batch.positions is not None and len(batch.positions) == n:
                        positions = np.asarray(batch.positions, dtype=np.int64)
                    else:
                        positions = rows
                    untimed, future = m.replica.feed(columns, positions, now=clock)
                    for pos in untimed:
                        self._pending_dead.append(
                            DeadLetter(
                                source=self.source.name,
                                position=f"position={int(pos)}",
                                reason="missing_field",
                                detail=f"no usable event time in field {m.replica.timestamp!r}",
                            )
                        )
                    self._future_dead(m, "position", future)
                    continue
                if m.labels is not None:
                    adds = self._pending_add.setdefault(m.name, {})
                    for p in m.labels.predictions(columns, n):
                        adds[p.id] = p
                t0 = time.perf_counter()
                outcome = m.pipeline.feed(columns, rows, now=clock)
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
                self._future_dead(m, "row", outcome.future)
                self._collect(m, outcome.results, took)
        self._pending_rows += n
        self._dirty = True

    def _future_dead(self, m: MonitorRuntime, position: str, future: Sequence[tuple[int, float]]) -> None:
        """Dead letters for rows stamped too far ahead of the clock (``window.max_future``)."""
        if not future:
            return
        window = m.cfg.window
        assert isinstance(window, TimeWindow)
        ahead = format_duration(window.max_future)
        for pos, t in future:
            stamp = datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")
            self._pending_dead.append(
                DeadLetter(
                    source=self.source.name,
                    position=f"{position}={pos}",
                    reason="invalid_event_time",
                    detail=f"event time {stamp} in field {window.timestamp!r} is more than {ahead} "
                    f"ahead of the clock (monitor {m.name!r}, window.max_future)",
                )
            )

    def process_labels(self, source: str, batch: Batch) -> None:
        """Join a batch of the label source ``source`` to the pending predictions of its monitors."""
        with self._lock:
            self._process_labels(source, batch)

    def _process_labels(self, source: str, batch: Batch) -> None:
        # The store is read first, and nothing changes before every read succeeded: a batch
        # whose lookups fail (the store is away) is processed again whole.
        n = batch.n_rows
        lookups: dict[str, tuple[list[str], list[Any], dict[str, PendingPrediction]]] = {}
        if n:
            columns = batch.columns if batch.columns is not None else rows_to_columns(batch.rows)
            for m in self.monitors:
                join = m.labels
                if join is None or join.cfg.source != source or not join.enabled:
                    continue
                ids, targets = join.labels(columns)
                if not ids:
                    continue
                adds_before = self._pending_add.get(m.name, {})
                joined_before = set(self._pending_joined.get(m.name, []))
                stored = self.store.find_pending(
                    m.name, [i for i in ids if i not in adds_before and i not in joined_before]
                )
                lookups[m.name] = (list(ids), list(targets), stored)
        progress = self._label_progress[source]
        if batch.checkpoint is not None:
            progress.checkpoint = batch.checkpoint
            self._dirty = True
        if batch.dead_letters:
            progress.dead.extend(batch.dead_letters)
            self._dirty = True
        if n == 0:
            return
        progress.rows += n
        self._dirty = True
        for m in self.monitors:
            if m.name not in lookups:
                continue
            join = m.labels
            assert join is not None
            ids, targets, found = lookups[m.name]
            adds = self._pending_add.setdefault(m.name, {})
            joined = self._pending_joined.setdefault(m.name, [])
            joined_now = set(joined)
            j_ids: list[str] = []
            j_targets: list[Any] = []
            j_preds: list[Any] = []
            unmatched = 0
            for key, target in zip(ids, targets, strict=True):
                pending = adds.pop(key, None)
                if pending is None and key not in joined_now:
                    pending = found.get(key)
                if pending is None:
                    unmatched += 1
                    continue
                joined.append(key)
                joined_now.add(key)
                j_ids.append(key)
                j_targets.append(target)
                j_preds.append(decode_prediction(pending))
            with m.lock:
                tracker = m.pipeline.tracker
                if isinstance(tracker, JoinedTracker):
                    tracker.add_labelled(j_ids, j_targets, j_preds)
            join.counts.joined += len(j_ids)
            join.counts.unmatched += unmatched
            if join.pending_estimate is not None:
                join.pending_estimate = max(join.pending_estimate - len(j_ids), 0)
            if unmatched:
                logger.info(
                    "labels without a pending prediction monitor=%s source=%s count=%d joined=%d",
                    m.name,
                    source,
                    unmatched,
                    len(j_ids),
                )

    def expire_labels(self, now: datetime) -> None:
        """Drop pending predictions older than their monitor's label horizon (counted)."""
        for m in self.monitors:
            join = m.labels
            if join is None or not join.enabled:
                continue
            gone = self.store.expire_pending(m.name, now - join.cfg.horizon)
            if gone:
                join.counts.expired += gone
                if join.pending_estimate is not None:
                    join.pending_estimate = max(join.pending_estimate - gone, 0)
                logger.info("pending predictions expired monitor=%s count=%d", m.name, gone)

    def _bound_pending(self) -> None:
        for m in self.monitors:
            join = m.labels
            if join is None or not join.enabled:
                continue
            if join.pending_estimate is None:
                join.pending_estimate = self.store.count_pending(m.name)
            if join.pending_estimate <= join.cfg.max_pending:
                continue
            gone = self.store.trim_pending(m.name, join.cfg.max_pending)
            join.counts.dropped += gone
            join.pending_estimate = self.store.count_pending(m.name)
            if gone:
                logger.warning(
                    "pending predictions over max_pending, oldest dropped monitor=%s count=%d max_pending=%d",
                    m.name,
                    gone,
                    join.cfg.max_pending,
                )

    def _collect(
        self, m: MonitorRuntime, results: Sequence[tuple[WindowResult, WindowSketch]], took: float
    ) -> None:
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
            if m.replica is not None:
                continue  # scale-out windows close on the evaluator, never at one replica's end
            with m.lock:
                self._collect(m, m.pipeline.flush(), 0.0)
        self._dirty = True

    def tick(self, now_s: float) -> None:
        """Wall-clock tick from the scheduler: close due time windows even without rows.

        Skipped while the worker is busy with a batch (the source is not idle then), so the
        scheduler never queues up behind a long batch and logs skipped runs.
        """
        if not self._lock.acquire(blocking=False):
            return
        try:
            closed = self._tick(now_s)
        finally:
            self._lock.release()
        if closed:
            self.commit()

    def _tick(self, now_s: float) -> bool:
        closed = False
        for m in self.monitors:
            if m.replica is not None:
                continue
            with m.lock:
                results = m.pipeline.tick(now_s)
                if results:
                    self._collect(m, results, 0.0)
                    closed = True
        if closed:
            self._dirty = True
        return closed

    def commit(self, *, upstream: bool = True) -> None:
        """Write pending progress in one transaction, then commit the position upstream.

        ``upstream=False`` (from a Kafka rebalance callback, where the consumer cannot block)
        skips the upstream commit: the store's checkpoint is the truth anyway.
        """
        with self._lock:
            self._commit(upstream=upstream)

    def _commit(self, *, upstream: bool = True) -> None:
        if not self._dirty and not self._pending_windows:
            return
        updates: list[ProgressUpdate] = []
        evaluated: list[EvaluatedWindow] = []
        # Nothing pending is dropped before the store has it: a failed commit is retried whole.
        # (The worker lock, held here, keeps anything from being added meanwhile.)
        sent: list[tuple[MonitorRuntime, tuple[PartialWindow, ...], tuple[tuple[int, float], ...]]] = []
        for i, m in enumerate(self.monitors):
            with m.lock:
                state = m.state_bytes()
                pending = list(self._pending_windows.get(m.name, []))
                added = tuple(self._pending_add.get(m.name, {}).values())
                joined_ids = tuple(self._pending_joined.get(m.name, []))
                if m.replica is not None:
                    partials, watermarks = m.replica.partials(), m.replica.risen_watermarks()
                    sent.append((m, partials, watermarks))
                    updates.append(
                        ProgressUpdate(
                            monitor=m.name,
                            source=self.source.name if i == 0 else None,
                            checkpoint=self._checkpoint if i == 0 else None,
                            merge_checkpoint=True,
                            write_state=False,
                            rows_added=self._pending_rows if i == 0 else 0,
                            dead_letters=tuple(self._pending_dead) if i == 0 else (),
                            partials=partials,
                            watermarks=watermarks,
                        )
                    )
                    continue
                sent.append((m, (), ()))
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
                        pending_added=added,
                        pending_joined=joined_ids,
                    )
                )
                evaluated.extend(ev for _, _, ev in pending)
        for name, progress in self._label_progress.items():
            updates.append(
                ProgressUpdate(
                    source=name,
                    checkpoint=progress.checkpoint,
                    rows_added=progress.rows,
                    dead_letters=tuple(progress.dead),
                )
            )
        if not updates:
            updates.append(
                ProgressUpdate(
                    source=self.source.name,
                    checkpoint=self._checkpoint,
                    rows_added=self._pending_rows,
                    dead_letters=tuple(self._pending_dead),
                )
            )
        try:
            self.store.commit_many(updates)
        except Exception:
            for m, partials, watermarks in sent:
                if m.replica is not None:
                    m.replica.unsent(partials, watermarks)
            raise
        for m, partials, _ in sent:
            if m.replica is not None:
                m.replica.sent(partials)
            self._pending_windows.pop(m.name, None)
            self._pending_joined.pop(m.name, None)
            waiting = self._pending_add.pop(m.name, {})
            if m.labels is not None and m.labels.pending_estimate is not None:
                m.labels.pending_estimate += len(waiting)
        rows, dead = self._pending_rows, list(self._pending_dead)
        self._pending_rows = 0
        self._pending_dead = []
        label_done = {name: progress.take() for name, progress in self._label_progress.items()}
        self._dirty = False
        self._last_commit = time.monotonic()
        # counters, window metrics and alerts follow the store at once, not after the upstream
        # round trips below (the store is what makes them durable)
        self.on_rows(self.source.name, rows, dead)
        for name, (label_rows, label_dead) in label_done.items():
            self.on_rows(name, label_rows, label_dead)
        if evaluated:
            self.on_windows(evaluated)
        if self._checkpoint is not None and upstream:
            try:
                self.source.commit(self._checkpoint)
            except Exception as exc:
                logger.warning("upstream commit failed source=%s error=%s", self.source.name, exc)
        for ls in self.label_sources:
            checkpoint = self._label_progress[ls.name].checkpoint
            if checkpoint is not None:
                try:
                    ls.commit(checkpoint)
                except Exception as exc:
                    logger.warning("upstream commit failed source=%s error=%s", ls.name, exc)
        try:
            self._bound_pending()
        except Exception as exc:  # bounding is housekeeping: retried after the next commit
            logger.warning("pending predictions not bounded source=%s error=%s", self.source.name, exc)


@dataclass(slots=True)
class _LabelProgress:
    """Uncommitted progress of a label source read by a worker."""

    checkpoint: Mapping[str, Any] | None = None
    rows: int = 0
    dead: list[DeadLetter] = field(default_factory=list)

    def take(self) -> tuple[int, list[DeadLetter]]:
        out = (self.rows, self.dead)
        self.rows, self.dead = 0, []
        return out


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
