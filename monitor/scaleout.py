"""Scale-out of one event-time monitor over N replicas sharing a Kafka consumer group.

Each replica sketches the rows of the partitions it owns into :class:`ReplicaWindows` and writes
them as partial window sketches (``PartialWindow``) in its progress transaction, with the source
checkpoint merged partition by partition. The replica that holds the lease
``evaluator:<monitor>`` runs :class:`WindowEvaluator`: it merges every replica's partial of a
closed window (exactly: sketches add) and commits the window once; a
:class:`~monitor.store.DuplicateWindowError` means another replica did it first.

A window ``[start, end)`` is closed when ``end + lateness`` is at or before the event-time
watermark of every active Kafka partition: the largest event time sketched from it, stored with
the partials holding those rows, so a replica still reading a backlog holds the windows it has not
reached open however far ahead the others are. A partition is active while its watermark rose
within ``idle_s`` (longer than a consumer-group session timeout, so a killed replica's partitions
hold windows until their new owner reads them). With no active partition the wall clock closes
windows (``end + lateness`` at or before it), after ``settle_s`` more seconds for rows replicas
have read but not yet committed. Rows reaching a replica for a window already evaluated are late:
counted in the ``late_rows`` of a later window. Each row's sample slot is keyed by its source position
(``partition * 2**40 + offset``), so the merged window does not depend on which replica read which
row; ``first_row``/``last_row`` have no meaning across replicas and are ``null``.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import orjson

from detectors.inference import parse_times
from detectors.result import WindowInfo, WindowResult
from detectors.sketch import WindowSketch
from monitor.store import DuplicateWindowError, PartialWindow, ProgressUpdate, Store, WindowRecord
from monitor.windowing import MAX_GAP_WINDOWS, ClosedWindow, too_far_ahead

if TYPE_CHECKING:
    from monitor.runtime import MonitorRuntime

logger = logging.getLogger(__name__)


def replica_id() -> str:
    """A name unique to this process: host, pid and a random suffix (a restart is a new replica)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def window_key(start: float) -> str:
    """The store key of the window starting at ``start`` (epoch seconds); sorts in time order."""
    return f"{start:020.3f}"


def key_start(key: str) -> float:
    return float(key)


class ReplicaWindows:
    """This replica's sketches of the open event-time windows of one monitor.

    Sketches are cumulative over the replica's life (a partial is upserted whole); a window is
    dropped once the store says it was evaluated.
    """

    def __init__(
        self,
        monitor: str,
        replica: str,
        new_sketch: Callable[[], WindowSketch],
        duration_s: float,
        timestamp: str,
        partition_of: Callable[[np.ndarray], np.ndarray] | None = None,
        max_future_s: float | None = None,
    ) -> None:
        self.monitor = monitor
        self.max_future_s = max_future_s
        self.partition_of = partition_of  # row positions -> Kafka partitions (for watermarks)
        self.watermarks: dict[int, float] = {}
        self._risen: set[int] = set()
        self.replica = replica
        self._new = new_sketch
        self.duration_s = float(duration_s)
        self.timestamp = timestamp
        self.open: dict[float, WindowSketch] = {}
        self.saved_rows: dict[float, int] = {}
        self.dirty: set[float] = set()
        self.evaluated_until: float | None = None
        self.pending_late = 0

    def feed(
        self, columns: Mapping[str, np.ndarray], positions: np.ndarray, *, now: float | None = None
    ) -> tuple[np.ndarray, tuple[tuple[int, float], ...]]:
        """Sketch a chunk of rows; returns the rows that could not be placed.

        Those are the positions of rows without a usable event time, and (position, event
        time) of rows more than ``max_future_s`` ahead of ``now`` (as
        :meth:`monitor.pipeline.MonitorPipeline.feed`).
        """
        raw = columns.get(self.timestamp)
        times = parse_times(raw) if raw is not None else np.full(positions.size, np.nan)
        ahead = too_far_ahead(times, now, self.max_future_s)
        untimed = np.isnan(times)
        bad = untimed | ahead
        starts = np.floor(times / self.duration_s) * self.duration_s
        ok = ~bad
        self._see(positions, times, ok)
        if self.evaluated_until is not None:
            late = ok & (starts < self.evaluated_until)
            self.pending_late += int(late.sum())
            ok &= ~late
        idx = np.flatnonzero(ok)
        for s in np.unique(starts[idx]):
            sel = idx[starts[idx] == s]
            sk = self.open.get(float(s))
            if sk is None:
                sk = self._new()
                self.open[float(s)] = sk
            sk.update(
                {k: v[sel] for k, v in columns.items()},
                row_numbers=positions[sel],
                n_rows=int(sel.size),
                event_times=times[sel],
            )
            self.dirty.add(float(s))
        future = tuple(zip(positions[ahead].tolist(), times[ahead].tolist(), strict=True))
        return positions[untimed], future

    def _see(self, positions: np.ndarray, times: np.ndarray, ok: np.ndarray) -> None:
        """Raise each partition's watermark to the largest event time among its timed rows."""
        if self.partition_of is None or not ok.any():
            return
        parts = self.partition_of(positions[ok])
        t = times[ok]
        order = np.argsort(parts, kind="stable")
        parts, t = parts[order], t[order]
        firsts = np.flatnonzero(np.r_[True, parts[1:] != parts[:-1]])
        for p, hi in zip(parts[firsts].tolist(), np.maximum.reduceat(t, firsts).tolist(), strict=True):
            if hi > self.watermarks.get(p, -math.inf):
                self.watermarks[p] = hi
                self._risen.add(p)

    def risen_watermarks(self) -> tuple[tuple[int, float], ...]:
        """The watermarks that rose since the last call (to write in the progress commit)."""
        out = tuple(sorted((p, self.watermarks[p]) for p in self._risen))
        self._risen.clear()
        return out

    def partials(self) -> tuple[PartialWindow, ...]:
        """The partial sketches changed since the last call (to write in the progress commit;
        then :meth:`sent`, or :meth:`unsent` when the commit failed)."""
        if self.pending_late and self.open:
            target = max(self.open)
            self.open[target].late_rows += self.pending_late
            self.pending_late = 0
            self.dirty.add(target)
        out = []
        for s in sorted(self.dirty):
            sk = self.open.get(s)
            if sk is None:
                continue
            out.append(
                PartialWindow(
                    monitor=self.monitor,
                    window_key=window_key(s),
                    replica=self.replica,
                    sketch=orjson.dumps(sk.to_state(), option=orjson.OPT_SERIALIZE_NUMPY),
                    rows=sk.rows,
                )
            )
        self.dirty.clear()
        return tuple(out)

    def sent(self, partials: Sequence[PartialWindow]) -> None:
        """The store holds ``partials`` now."""
        for p in partials:
            self.saved_rows[key_start(p.window_key)] = p.rows

    def unsent(self, partials: Sequence[PartialWindow], watermarks: Sequence[tuple[int, float]]) -> None:
        """The commit that was to write ``partials`` and ``watermarks`` failed: write them next time."""
        self.dirty.update(key_start(p.window_key) for p in partials if key_start(p.window_key) in self.open)
        self._risen.update(p for p, _ in watermarks)

    def learn_evaluated(self, until: float | None) -> None:
        """Windows starting before ``until`` were evaluated: drop them (unsaved rows become late)."""
        if until is None or (self.evaluated_until is not None and until <= self.evaluated_until):
            return
        self.evaluated_until = until
        for s in [s for s in self.open if s < until]:
            sk = self.open.pop(s)
            lost = sk.rows - self.saved_rows.pop(s, 0)
            self.dirty.discard(s)
            if lost > 0:
                self.pending_late += lost
                logger.warning(
                    "rows sketched after their window was evaluated, counted late monitor=%s window=%s rows=%d",
                    self.monitor,
                    window_key(s),
                    lost,
                )


class WindowEvaluator:
    """Merges and evaluates closed windows of one scale-out monitor while holding its lease."""

    def __init__(
        self,
        runtime: MonitorRuntime,
        store: Store,
        replica: str,
        *,
        lease_ttl_s: float,
        settle_s: float,
        idle_s: float = 90.0,
    ) -> None:
        self.rt = runtime
        self.store = store
        self.replica = replica
        self.lease = f"evaluator:{runtime.name}"
        self.lease_ttl_s = lease_ttl_s
        self.settle_s = settle_s
        self.idle_s = idle_s
        self.leading = False
        self._due_since: dict[str, float] = {}
        spec = runtime.pipeline.window
        assert spec.duration_s is not None
        self.duration_s = float(spec.duration_s)
        self.lateness_s = float(spec.lateness_s)

    def run(self, now: datetime) -> list[tuple[WindowResult, WindowSketch, float]]:
        """One scheduler tick: take or renew the lease; evaluate due windows when holding it."""
        held = self.store.acquire_lease(self.lease, self.replica, self.lease_ttl_s, now)
        if held and not self.leading:
            logger.info("evaluator lease taken monitor=%s replica=%s", self.rt.name, self.replica)
            self._reload()
        elif not held and self.leading:
            logger.info("evaluator lease lost monitor=%s replica=%s", self.rt.name, self.replica)
        self.leading = held
        if not held:
            self._due_since.clear()
            return []
        try:
            return self._evaluate_due(now)
        except DuplicateWindowError as exc:
            logger.warning(
                "window evaluated by another replica, state reloaded monitor=%s: %s", self.rt.name, exc
            )
            self._reload()
            return []
        except Exception:
            self._reload()  # the in-memory index may have moved on without a commit
            raise

    def release(self) -> None:
        if self.leading:
            self.store.release_lease(self.lease, self.replica)
            self.leading = False

    def _reload(self) -> None:
        with self.rt.lock:
            state = self.store.load_monitor_state(self.rt.name)
            if state is not None and state.open_state:
                self.rt.pipeline.restore(orjson.loads(state.open_state))
            elif state is not None:
                self.rt.pipeline.windows.index = state.next_window_index

    def _due(self, start: float, watermark: float | None, now_s: float) -> str | None:
        """``"watermark"`` when every active partition has passed the window (its rows are
        durable); with no active partition, ``"clock"`` when the wall clock has (replicas may
        still be committing); else ``None``. While partitions are active the wall clock closes
        nothing: a replica replaying old rows, or resuming a killed replica's partitions, keeps
        its windows open."""
        end = start + self.duration_s + self.lateness_s
        if watermark is not None:
            return "watermark" if end <= watermark else None
        return "clock" if end <= now_s else None

    def _watermark(self, now: datetime) -> float | None:
        """The smallest watermark of the partitions whose watermark rose within ``idle_s``
        (a partition that stopped sending, or whose rows stopped rising, would hold every window
        forever), or ``None`` when none did: then the wall clock closes windows."""
        marks = self.store.partition_watermarks(self.rt.name)
        active = [t for t, at in marks.values() if (now - at).total_seconds() <= self.idle_s]
        return min(active) if active else None

    def _evaluate_due(self, now: datetime) -> list[tuple[WindowResult, WindowSketch, float]]:
        keys = self.store.pending_windows(self.rt.name)
        if not keys:
            return []
        now_s = now.timestamp()
        watermark = self._watermark(now)
        ready: list[str] = []
        mono = time.monotonic()
        due: list[tuple[str, str]] = []
        for key in keys:
            why = self._due(key_start(key), watermark, now_s)
            if why is None:
                break
            due.append((key, why))
            self._due_since.setdefault(key, mono)
        for key, why in due:  # in window order; closed by the clock alone: settled for settle_s
            if why == "clock" and mono - self._due_since[key] < self.settle_s:
                break
            ready.append(key)
        if not ready:
            return []
        out: list[tuple[WindowResult, WindowSketch, float]] = []
        records: list[WindowRecord] = []
        evaluated: list[str] = []
        windows = self.rt.pipeline.windows
        with self.rt.lock:
            late_carry = 0
            for key in ready:
                start = key_start(key)
                t0 = time.perf_counter()
                partials = self.store.load_partials(self.rt.name, key)
                merged = self.rt.pipeline.new_sketch()
                for p in partials:
                    sk = self.rt.pipeline.new_sketch()
                    sk.restore(orjson.loads(p.sketch))
                    merged = merged.merged(sk)
                closed_until = getattr(windows, "closed_until", None)
                if closed_until is not None and start < closed_until:
                    # a window already passed (evaluated as an empty gap): its rows are late
                    late_carry += merged.rows + merged.late_rows
                    evaluated.append(key)
                    continue
                gap = closed_until
                n_gaps = 0
                while gap is not None and gap < start and n_gaps < MAX_GAP_WINDOWS:
                    result, sk = self._evaluate(gap, self.rt.pipeline.new_sketch())
                    out.append((result, sk, 0.0))
                    evaluated.append(window_key(gap))
                    gap += self.duration_s
                    n_gaps += 1
                merged.late_rows += late_carry
                late_carry = 0
                result, sk = self._evaluate(start, merged)
                out.append((result, sk, time.perf_counter() - t0))
                evaluated.append(key)
            if late_carry:
                logger.warning("late partial windows dropped monitor=%s rows=%d", self.rt.name, late_carry)
            from monitor.runtime import window_record

            for result, _, _ in out:
                records.append(window_record(result)[0])
            state = self.rt.state_bytes()
            next_index = self.rt.next_window_index
        self.store.commit_progress(
            ProgressUpdate(
                monitor=self.rt.name,
                open_state=state,
                next_row=self.rt.next_row,
                next_window_index=next_index,
                windows=tuple(records),
                evaluated_keys=tuple(dict.fromkeys(evaluated)),
            )
        )
        for key in ready:
            self._due_since.pop(key, None)
        return out

    def _evaluate(self, start: float, sketch: WindowSketch) -> tuple[WindowResult, WindowSketch]:
        windows = self.rt.pipeline.windows
        sketch.first_row = None
        sketch.last_row = None
        info = WindowInfo(
            index=windows.index, first_row=None, last_row=None, start=start, end=start + self.duration_s
        )
        windows.index += 1
        windows.closed_until = start + self.duration_s  # type: ignore[union-attr]
        # Concept drift: the window's labelled sample rows, in position-hash order (there is no
        # global arrival order across replicas).
        target, prediction = self.rt.profile.target, self.rt.profile.prediction
        values = sketch.sample.ordered().values
        if target is not None and prediction is not None and target in values and prediction in values:
            n = int(values[target].shape[0])
            self.rt.pipeline.tracker.observe(
                {target: values[target], prediction: values[prediction]}, np.arange(n, dtype=np.int64)
            )
        # MonitorPipeline's own evaluation (volume history, performance, concept) of a closed window.
        result, sk = self.rt.pipeline._evaluate(ClosedWindow(info=info, sketch=sketch))
        return result, sk


def evaluated_until(store: Store, monitor: str, duration_s: float) -> float | None:
    """End of the newest evaluated window of a scale-out monitor, ``None`` before the first."""
    key = store.last_evaluated_key(monitor)
    if key is None:
        return None
    newest = key_start(key)
    return newest + duration_s if math.isfinite(newest) else None
