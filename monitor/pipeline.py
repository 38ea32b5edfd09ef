"""One monitor's path from rows to window results: windows, sketches, evaluation.

Shared by ``driftwarden replay`` and the daemon, so both say the same thing about the same rows.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.evaluation import EvaluationSettings, evaluate_window
from detectors.inference import parse_times
from detectors.profile import Profile
from detectors.result import WindowResult
from detectors.sketch import WindowSketch
from monitor.model_tracking import ModelTracker
from monitor.windowing import ClosedWindow, RowWindows, TimeWindows, too_far_ahead

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowSpec:
    """Either ``rows`` (row-count windows) or ``duration_s`` with a ``timestamp`` column.

    ``max_future_s``: a row whose event time is further than this ahead of the ``now`` given to
    :meth:`MonitorPipeline.feed` is not placed (``None``: no bound, as when replaying a file).
    """

    rows: int | None = None
    duration_s: float | None = None
    timestamp: str | None = None
    lateness_s: float = 0.0
    max_future_s: float | None = None

    def __post_init__(self) -> None:
        if (self.rows is None) == (self.duration_s is None):
            raise ValueError("a window needs exactly one of rows or duration")
        if self.duration_s is not None and not self.timestamp:
            raise ValueError("a time window needs a timestamp column")


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedOutcome:
    """What one chunk of rows produced: evaluated windows, and rows that could not be placed."""

    results: tuple[tuple[WindowResult, WindowSketch], ...] = ()
    untimed_positions: tuple[int, ...] = ()
    future: tuple[tuple[int, float], ...] = ()
    """Rows whose event time was too far ahead of the clock: (row number, epoch seconds)."""


@dataclass(slots=True)
class _Expected:
    history: list[int] = field(default_factory=list)


class MonitorPipeline:
    """Windows and evaluates one monitor's rows.

    Parameters
    ----------
    profile:
        The model's training profile.
    window:
        Row-count or event-time windows.
    settings:
        Drift tests, thresholds, dataset rule and quality limits.
    expected_rows:
        Rows expected per window for the ``volume`` check (``None``: learn it from the median
        of the previous windows, for time windows only).
    freshness_s:
        For time windows: a window whose newest event is older than this at its end (or that is
        empty) gets a ``freshness`` issue. Defaults to the window duration.
    sample_size, seed:
        Row sample kept per window for exact small-sample tests.
    """

    def __init__(
        self,
        profile: Profile,
        window: WindowSpec,
        *,
        settings: EvaluationSettings | None = None,
        expected_rows: int | None = None,
        freshness_s: float | None = None,
        sample_size: int = 5000,
        seed: int = 0,
        next_index: int = 0,
        concept_method: str | None = "adwin",
    ) -> None:
        self.profile = profile
        self.window = window
        self.settings = settings or EvaluationSettings()
        self.expected_rows = expected_rows
        self.freshness_s = freshness_s
        self._sample_size = sample_size
        self._seed = seed
        self._expected = _Expected()
        self._tick_watermark: float | None = None  # watermark at the previous tick
        self._idle_since = 0.0  # wall-clock time at which the watermark last moved
        self.tracker = ModelTracker(profile, concept_method=concept_method)
        self.windows: RowWindows | TimeWindows
        if window.rows is not None:
            self.windows = RowWindows(self.new_sketch, window.rows, next_index=next_index)
        else:
            assert window.duration_s is not None
            self.windows = TimeWindows(
                self.new_sketch, window.duration_s, lateness_s=window.lateness_s, next_index=next_index
            )

    def new_sketch(self) -> WindowSketch:
        return self.profile.new_sketch(sample_size=self._sample_size, seed=self._seed)

    @property
    def timestamp_column(self) -> str | None:
        return self.window.timestamp or self.profile.timestamp

    def feed(
        self,
        columns: Mapping[str, np.ndarray],
        row_numbers: np.ndarray,
        *,
        malformed_positions: Sequence[int] = (),
        untimed_as_malformed: bool = False,
        now: float | None = None,
    ) -> FeedOutcome:
        """Add a chunk of rows (increasing row numbers) and evaluate the windows it closes.

        Rows of a time-windowed monitor without a usable event time cannot be placed: they are
        returned in ``untimed_positions`` (the daemon stores them as dead letters) or, with
        ``untimed_as_malformed`` (replay of a file), counted as malformed rows. Neither can rows
        more than the window's ``max_future_s`` ahead of ``now`` (the wall clock, in epoch
        seconds, when the daemon received them): they are returned in ``future``.
        """
        ts_col = self.timestamp_column
        times: np.ndarray | None = None
        if ts_col is not None and ts_col in columns:
            times = parse_times(columns[ts_col])
        untimed: tuple[int, ...] = ()
        future: tuple[tuple[int, float], ...] = ()
        if isinstance(self.windows, TimeWindows):
            if times is None:
                times = np.full(row_numbers.size, np.nan)
            ahead = too_far_ahead(times, now, self.window.max_future_s)
            if ahead.any():
                future = tuple(zip(row_numbers[ahead].tolist(), times[ahead].tolist(), strict=True))
            bad = np.isnan(times) | ahead
            if bad.any():
                untimed = tuple(int(x) for x in row_numbers[bad & ~ahead])
                keep = ~bad
                columns = {k: v[keep] for k, v in columns.items()}
                row_numbers = row_numbers[keep]
                times = times[keep]
                if untimed_as_malformed:
                    malformed_positions = tuple(sorted((*malformed_positions, *untimed)))
                    untimed = ()
        if isinstance(self.windows, TimeWindows):
            assert times is not None
            # Cut the chunk after each row whose watermark can close a window, so the concept
            # detectors have seen exactly the rows that arrived before the close, whatever the chunking.
            results_t: list[tuple[WindowResult, WindowSketch]] = []
            lo, n = 0, int(row_numbers.size)
            pending_bad = np.asarray(sorted(malformed_positions), dtype=np.int64)
            for hi in self._time_cuts(times):
                seg = {k: v[lo:hi] for k, v in columns.items()}
                self.tracker.observe(seg, row_numbers[lo:hi])
                # malformed rows go with the segment they arrived in (before the next segment's first row)
                if hi < n:
                    seg_bad, pending_bad = (
                        pending_bad[pending_bad < row_numbers[hi]],
                        pending_bad[pending_bad >= row_numbers[hi]],
                    )
                else:
                    seg_bad, pending_bad = pending_bad, pending_bad[:0]
                closed = self.windows.add(
                    seg,
                    row_numbers[lo:hi],
                    event_times=times[lo:hi],
                    malformed_positions=tuple(int(x) for x in seg_bad),
                )
                results_t.extend(self._evaluate(c) for c in closed)
                lo = hi
            return FeedOutcome(results=tuple(results_t), untimed_positions=untimed, future=future)
        # Row windows: feed the concept detectors window by window, so each verdict covers
        # exactly the rows of its window whatever the chunking.
        results: list[tuple[WindowResult, WindowSketch]] = []
        bad = np.asarray(sorted(malformed_positions), dtype=np.int64)
        size = self.windows.window_rows
        lo = 0
        n = int(row_numbers.size)
        while True:
            end_pos = (self.windows.index + 1) * size
            hi = lo + int(np.searchsorted(row_numbers[lo:], end_pos, side="left"))
            seg = {k: v[lo:hi] for k, v in columns.items()}
            self.tracker.observe(seg, row_numbers[lo:hi])
            more = hi < n
            mal = bad[bad < end_pos] if more else bad
            bad = bad[bad >= end_pos] if more else bad[:0]
            closed = self.windows.add(
                seg,
                row_numbers[lo:hi],
                event_times=None if times is None else times[lo:hi],
                malformed_positions=tuple(int(x) for x in mal),
            )
            results.extend(self._evaluate(c) for c in closed)
            lo = hi
            if not more and bad.size == 0:
                break
            if not more:
                closed = self.windows.add(
                    {k: v[:0] for k, v in columns.items()},
                    row_numbers[:0],
                    malformed_positions=tuple(int(x) for x in bad),
                )
                results.extend(self._evaluate(c) for c in closed)
                break
        return FeedOutcome(results=tuple(results), untimed_positions=untimed)

    def _time_cuts(self, times: np.ndarray) -> list[int]:
        """Ends of the segments of a time-window chunk: after every row that moves the watermark
        (minus lateness) past a window boundary, and at the end of the chunk."""
        assert isinstance(self.windows, TimeWindows)
        n = int(times.size)
        if n == 0:
            return [0]
        prev = -np.inf if self.windows.watermark is None else self.windows.watermark
        marks = np.maximum.accumulate(np.concatenate([[prev], times.astype(np.float64)]))
        step = np.floor((marks - self.windows.lateness_s) / self.windows.duration_s)
        cuts = [int(i) + 1 for i in np.flatnonzero(step[1:] > step[:-1])]
        if not cuts or cuts[-1] != n:
            cuts.append(n)
        return cuts

    def tick(self, now_s: float) -> tuple[tuple[WindowResult, WindowSketch], ...]:
        """Wall-clock tick: close time windows that are due even when no rows arrive.

        The event-time clock is the watermark while rows arrive. Only while the source is idle
        (the watermark did not move since the previous tick) does it advance with the wall clock:
        to ``watermark + idle seconds`` (at most ``now_s``). So a backlog or a replay of old data
        is never closed early by the wall clock (its rows would all become late), and a silent
        source still produces (empty) windows once it has been idle long enough.
        """
        if not isinstance(self.windows, TimeWindows):
            return ()
        watermark = self.windows.watermark
        if watermark is None:
            return tuple(self._evaluate(c) for c in self.windows.advance(now_s))
        if watermark != self._tick_watermark:
            self._tick_watermark, self._idle_since = watermark, now_s
            return ()
        event_now = min(now_s, watermark + max(now_s - self._idle_since, 0.0))
        return tuple(self._evaluate(c) for c in self.windows.advance(event_now))

    def flush(self) -> tuple[tuple[WindowResult, WindowSketch], ...]:
        """End of a finite stream: evaluate the open windows."""
        return tuple(self._evaluate(c) for c in self.windows.flush())

    def _evaluate(self, closed: ClosedWindow) -> tuple[WindowResult, WindowSketch]:
        sk = closed.sketch
        info = closed.info
        expected = self.expected_rows
        now = None
        max_age = None
        if isinstance(self.windows, TimeWindows):
            if expected is None and len(self._expected.history) >= 3:
                expected = int(np.median(self._expected.history[-24:]))
            now = info.end
            max_age = self.freshness_s if self.freshness_s is not None else self.window.duration_s
        performance = self.tracker.performance(sk)
        result = evaluate_window(
            self.profile,
            sk,
            settings=self.settings,
            window=info,
            expected_rows=expected,
            now=now,
            max_age_s=max_age,
            performance=performance,
        )
        concept = self.tracker.concept_verdict(
            features_drifted=any(f.drift_detected for f in result.features.values())
        )
        if concept is not None:
            result = dataclasses.replace(
                result, concept=concept, dataset_drift=result.dataset_drift or concept.drift_detected
            )
        if isinstance(self.windows, TimeWindows) and sk.rows > 0:
            self._expected.history.append(sk.rows)
        return result, sk

    def state(self) -> dict[str, Any]:
        """Open windows and trackers as a JSON-serialisable document (for the store)."""
        return {
            "windows": self.windows.state(),
            "expected_history": list(self._expected.history[-24:]),
            "tracker": self.tracker.state(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state` document (after a restart)."""
        w = state["windows"]
        if isinstance(self.windows, RowWindows):
            if w.get("kind") != "rows":
                raise ValueError("stored window state is not of row-count windows")
            self.windows.index = int(w["index"])
            sk = self.new_sketch()
            sk.restore(w["sketch"])
            self.windows.sketch = sk
            if sk.last_row is not None:  # a partial window flushed right after a restart ends there
                self.windows.add_position_gap(int(sk.last_row))
        else:
            if w.get("kind") != "time":
                raise ValueError("stored window state is not of time windows")
            self.windows.restore(w)
        self._expected.history = [int(x) for x in state.get("expected_history", [])]
        self.tracker.restore(state.get("tracker", {}))
