"""Tumbling windows by row count or by event time, shared by ``replay`` and the daemon.

Rows arrive in chunks (column arrays with their row numbers). A window's state is a
:class:`~detectors.sketch.WindowSketch`, so memory does not grow with the window size.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from detectors.result import WindowInfo
from detectors.sketch import WindowSketch

logger = logging.getLogger(__name__)

MAX_EMPTY_WINDOWS = 10_000
"""At most this many windows are closed by one call (the rest by the next)."""
MAX_GAP_WINDOWS = 1000
"""Empty windows emitted for one gap in event time; the rest of a longer gap is skipped.

A gap shows up as empty windows (freshness, volume), but a jump of years (a row stamped 1970
before the real ones) must not take hours of evaluating empty windows: after this many, the
windowing goes on at the next window holding rows (or the last one due)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedWindow:
    """A window that will receive no more rows, ready to be evaluated."""

    info: WindowInfo
    sketch: WindowSketch


def too_far_ahead(times: np.ndarray, now: float | None, max_future_s: float | None) -> np.ndarray:
    """Which event times (epoch seconds, ``nan`` for none) are more than ``max_future_s`` after ``now``.

    Nothing is too far ahead without a clock or a bound (``None``), as when replaying a file.

    Examples
    --------
    >>> too_far_ahead(np.array([0.0, 90.0, np.nan, 200.0]), 0.0, 100.0).tolist()
    [False, False, False, True]
    >>> too_far_ahead(np.array([1e12]), None, 100.0).tolist()
    [False]
    """
    if now is None or max_future_s is None:
        return np.zeros(times.shape, dtype=bool)
    return times > now + max_future_s  # nan compares False


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"{seconds!r}s"


def _take(columns: Mapping[str, np.ndarray], idx: np.ndarray | slice) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in columns.items()}


class RowWindows:
    """Tumbling windows of ``window_rows`` consecutive row positions.

    Window ``k`` holds positions ``[k * window_rows, (k + 1) * window_rows)``. Positions are the
    0-based row numbers of the stream (for files, data-row numbers; malformed rows keep their
    position and are counted in the window they fall in).
    """

    def __init__(
        self,
        new_sketch: Callable[[], WindowSketch],
        window_rows: int,
        *,
        next_index: int = 0,
        open_sketch: WindowSketch | None = None,
    ) -> None:
        if window_rows <= 0:
            raise ValueError(f"window_rows must be a positive integer, got {window_rows!r}")
        self._new = new_sketch
        self.window_rows = int(window_rows)
        self.index = int(next_index)
        self.sketch = open_sketch if open_sketch is not None else new_sketch()
        self._last_position: int | None = None

    def _close(self, *, complete: bool = True) -> ClosedWindow:
        first = self.index * self.window_rows
        last = first + self.window_rows - 1
        if not complete:
            last = self._last_position if self._last_position is not None else first
        closed = ClosedWindow(
            info=WindowInfo(
                index=self.index,
                first_row=first,
                last_row=last,
                start=self.sketch.event_time_min,
                end=self.sketch.event_time_max,
            ),
            sketch=self.sketch,
        )
        self.index += 1
        self.sketch = self._new()
        return closed

    def add(
        self,
        columns: Mapping[str, np.ndarray],
        row_numbers: np.ndarray,
        *,
        event_times: np.ndarray | None = None,
        malformed_positions: Sequence[int] = (),
        extra_columns: Mapping[str, int] | None = None,
    ) -> list[ClosedWindow]:
        """Add rows (with increasing positions) and return the windows they completed."""
        out: list[ClosedWindow] = []
        n = int(row_numbers.size)
        bad = np.asarray(sorted(malformed_positions), dtype=np.int64)
        lo = 0
        while lo < n or bad.size:
            end_pos = (self.index + 1) * self.window_rows  # first position of the next window
            hi = lo + int(np.searchsorted(row_numbers[lo:], end_pos, side="left"))
            if hi > lo:
                self.sketch.update(
                    _take(columns, slice(lo, hi)),
                    row_numbers=row_numbers[lo:hi],
                    n_rows=hi - lo,
                    event_times=None if event_times is None else event_times[lo:hi],
                    extra_columns=extra_columns,
                )
                self._last_position = int(row_numbers[hi - 1])
            k = int(np.searchsorted(bad, end_pos, side="left"))
            if k:
                self.sketch.malformed_rows += k
                self._last_position = max(self._last_position or 0, int(bad[k - 1]))
                bad = bad[k:]
            lo = hi
            reached = self._last_position is not None and self._last_position >= end_pos - 1
            if reached or lo < n or bad.size:
                out.append(self._close())
            else:
                break
        return out

    def add_position_gap(self, position: int) -> None:
        """Note that stream positions up to ``position`` were consumed (e.g. dead letters)."""
        self._last_position = max(self._last_position or 0, position)

    def flush(self) -> list[ClosedWindow]:
        """Close the open window if it has rows (end of a finite stream)."""
        if self.sketch.rows == 0 and self.sketch.malformed_rows == 0:
            return []
        return [self._close(complete=False)]

    def state(self) -> dict[str, Any]:
        return {"kind": "rows", "index": self.index, "sketch": self.sketch.to_state()}


class TimeWindows:
    """Tumbling event-time windows of ``duration_s`` seconds, aligned to the Unix epoch.

    A window ``[start, start + duration)`` closes when the watermark (the latest event time seen)
    passes ``end + lateness_s``, or when :meth:`advance` is called with a wall-clock time past
    that. Rows for a window that already closed are late: they are counted in the ``late_rows``
    of the next window to close and not added to any sketch. Windows with no rows between two
    closed windows are emitted empty (so gaps show up as freshness/volume issues).
    """

    def __init__(
        self,
        new_sketch: Callable[[], WindowSketch],
        duration_s: float,
        *,
        lateness_s: float = 0.0,
        next_index: int = 0,
        closed_until: float | None = None,
    ) -> None:
        if not duration_s > 0:
            raise ValueError(f"window duration must be positive, got {duration_s!r}s")
        if lateness_s < 0:
            raise ValueError(f"lateness must be >= 0, got {lateness_s!r}s")
        self._new = new_sketch
        self.duration_s = float(duration_s)
        self.lateness_s = float(lateness_s)
        self.index = int(next_index)
        self.open: dict[float, WindowSketch] = {}
        self.closed_until = closed_until  # end of the last closed window
        self.watermark: float | None = None
        self.pending_late = 0
        self.pending_malformed = 0  # malformed rows seen while no window was open
        self.empty_run = 0  # empty windows closed since the last one with rows (MAX_GAP_WINDOWS)

    def _start_of(self, t: np.ndarray) -> np.ndarray:
        return np.floor(t / self.duration_s) * self.duration_s

    def add(
        self,
        columns: Mapping[str, np.ndarray],
        row_numbers: np.ndarray,
        *,
        event_times: np.ndarray,
        malformed_positions: Sequence[int] = (),
        extra_columns: Mapping[str, int] | None = None,
    ) -> list[ClosedWindow]:
        """Add rows with their event times (epoch seconds, no NaN) and return closed windows.

        The result does not depend on how the stream is cut into chunks: a row is late when its
        window was closed by the watermark of the rows *before* it, and late rows are counted in
        the first window that closes after they arrived.
        """
        if event_times.size != row_numbers.size:
            raise ValueError("event_times and row_numbers differ in length")
        n = int(event_times.size)
        if n == 0:
            prev = -math.inf if self.watermark is None else self.watermark
            self._count_malformed(np.full(len(malformed_positions), prev))
            return []
        d, lag = self.duration_s, self.lateness_s
        prev = -math.inf if self.watermark is None else self.watermark
        running = np.maximum.accumulate(np.concatenate([[prev], event_times.astype(np.float64)]))
        wm_before, wm_after = running[:-1], running[1:]
        starts = self._start_of(event_times)
        late = starts + d <= wm_before - lag
        if self.closed_until is not None:
            late |= starts < self.closed_until
        keep = ~late
        if keep.any():
            ks = starts[keep]
            kept_idx = np.flatnonzero(keep)
            for s in np.unique(ks):
                sel = kept_idx[ks == s]
                sk = self.open.get(float(s))
                if sk is None:
                    sk = self._new()
                    self.open[float(s)] = sk
                sk.update(
                    _take(columns, sel),
                    row_numbers=row_numbers[sel],
                    n_rows=int(sel.size),
                    event_times=event_times[sel],
                    extra_columns=extra_columns,
                )
        if malformed_positions:
            # the watermark when each malformed row arrived: the running maximum of the rows before it
            before = np.searchsorted(
                row_numbers, np.asarray(malformed_positions, dtype=np.int64), side="left"
            )
            self._count_malformed(running[before])
        self.watermark = float(wm_after[-1])
        late_rows = np.flatnonzero(late)
        out: list[ClosedWindow] = []
        limit = self.watermark - lag
        consumed = 0
        for start in self._closable_starts(limit):
            end = start + d
            close_row = int(np.searchsorted(wm_after - lag, end, side="left"))
            upto = int(np.searchsorted(late_rows, close_row, side="right"))
            self.pending_late += upto - consumed
            consumed = max(consumed, upto)
            out.append(self._emit(start, self._take_open(start)))
        self.pending_late += int(late_rows.size) - consumed
        return out

    def _closable_starts(self, limit: float) -> list[float]:
        """Starts of windows (open ones and empty gaps) whose end is at or before ``limit``.

        Every such window is due, even an empty gap with no open window after it: a row for it
        would be late already. Emitting gaps as soon as they are due (not when a later window
        closes) keeps late-row attribution independent of how the stream is chunked.
        """
        if self.closed_until is not None:
            nxt = self.closed_until
        elif self.open:
            nxt = min(self.open)
        else:
            return []
        out: list[float] = []
        empty_run = self.empty_run  # as _emit will count them
        d = self.duration_s
        skipped_from: float | None = None
        while nxt + d <= limit and len(out) < MAX_EMPTY_WINDOWS:
            empty = nxt not in self.open
            if empty and empty_run >= MAX_GAP_WINDOWS:
                later = [s for s in self.open if s > nxt]
                target = min(later) if later else math.floor((limit - d) / d) * d  # the last window due
                if target > nxt:
                    skipped_from, nxt = nxt, target
                    continue  # the window after the gap, if it is due
            if skipped_from is not None:
                logger.warning(
                    "event time gap: %d empty windows from %s to %s skipped (the first %d were emitted)",
                    round((nxt - skipped_from) / d),
                    _iso(skipped_from),
                    _iso(nxt),
                    MAX_GAP_WINDOWS,
                )
                skipped_from = None
            empty_run = empty_run + 1 if empty else 0
            out.append(nxt)
            nxt = nxt + d
        return out

    def _count_malformed(self, watermarks: np.ndarray) -> None:
        """Count malformed rows (no event time) given the watermark when each arrived.

        Each is counted in the window holding that watermark (the newest event so far), so the
        counts do not depend on how the stream is chunked; before any event, or when that window
        was already closed by :meth:`advance`, in the next window to close. Never dropped.
        """
        if watermarks.size == 0:
            return
        known = np.isfinite(watermarks)
        self.pending_malformed += int((~known).sum())
        if known.any():
            starts, counts = np.unique(self._start_of(watermarks[known]), return_counts=True)
            for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
                sketch = self.open.get(float(start))
                if sketch is not None:
                    sketch.malformed_rows += int(count)
                else:
                    self.pending_malformed += int(count)

    def advance(self, now_s: float) -> list[ClosedWindow]:
        """Close windows whose end plus lateness is at or before the wall-clock time ``now_s``,
        including empty ones, so a silent source still produces windows (freshness)."""
        limit = now_s - self.lateness_s
        out: list[ClosedWindow] = []
        for start in self._closable_starts(limit):
            out.append(self._emit(start, self._take_open(start)))
        if self.closed_until is not None:
            while self.closed_until + self.duration_s <= limit and len(out) < MAX_EMPTY_WINDOWS:
                if self.open and min(self.open) <= self.closed_until:
                    break
                out.append(self._emit(self.closed_until, self._new()))
        return out

    def _take_open(self, start: float) -> WindowSketch:
        """The open window at ``start`` (removed from the open ones), or a new empty sketch."""
        sketch = self.open.pop(start, None)
        return sketch if sketch is not None else self._new()

    def _emit(self, start: float, sketch: WindowSketch) -> ClosedWindow:
        sketch.late_rows += self.pending_late
        self.pending_late = 0
        sketch.malformed_rows += self.pending_malformed
        self.pending_malformed = 0
        self.empty_run = 0 if sketch.rows else self.empty_run + 1
        info = WindowInfo(
            index=self.index,
            first_row=sketch.first_row,
            last_row=sketch.last_row,
            start=start,
            end=start + self.duration_s,
        )
        self.index += 1
        self.closed_until = start + self.duration_s
        return ClosedWindow(info=info, sketch=sketch)

    def flush(self) -> list[ClosedWindow]:
        """Close every open window in order (end of a finite stream).

        Late or malformed rows still pending when no window is open go to one more (empty) window
        after the last closed one; with no event time in the whole stream there is no window at all.
        """
        if not self.open:
            if (self.pending_late or self.pending_malformed) and self.closed_until is not None:
                return [self._emit(self.closed_until, self._new())]
            return []
        last = max(self.open)
        out = [self._emit(s, self._take_open(s)) for s in self._closable_starts(last + self.duration_s)]
        return out

    def state(self) -> dict[str, Any]:
        return {
            "kind": "time",
            "index": self.index,
            "closed_until": self.closed_until,
            "watermark": self.watermark,
            "pending_late": self.pending_late,
            "pending_malformed": self.pending_malformed,
            "empty_run": self.empty_run,
            "open": {repr(s): sk.to_state() for s, sk in self.open.items()},
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.index = int(state["index"])
        self.closed_until = state.get("closed_until")
        self.watermark = state.get("watermark")
        self.pending_late = int(state.get("pending_late", 0))
        self.pending_malformed = int(state.get("pending_malformed", 0))
        self.empty_run = int(state.get("empty_run", 0))
        self.open = {}
        for key, st in state.get("open", {}).items():
            sk = self._new()
            sk.restore(st)
            self.open[float(key)] = sk
