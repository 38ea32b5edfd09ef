"""Row-count and event-time windows: exact boundaries, chunk independence, lateness, restore."""

from __future__ import annotations

import json
import math
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.sketch import ColumnSpec, WindowSketch
from monitor.windowing import MAX_GAP_WINDOWS, ClosedWindow, RowWindows, TimeWindows

SPEC = ColumnSpec(name="x", kind="numeric", edges=(0.0, 10.0))


def new_sketch() -> WindowSketch:
    return WindowSketch([SPEC], sample_size=8)


def summary(closed: list[ClosedWindow]) -> list[tuple[Any, ...]]:
    return [
        (
            c.info.index,
            c.info.first_row,
            c.info.last_row,
            c.info.start,
            c.info.end,
            c.sketch.rows,
            c.sketch.late_rows,
            c.sketch.malformed_rows,
            c.sketch.columns["x"].counts.tolist(),
            round(c.sketch.columns["x"].total, 6),
        )
        for c in closed
    ]


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)]


# --------------------------------------------------------------------------- row windows


def run_rows(
    rows: np.ndarray, size: int, window_rows: int, malformed: tuple[int, ...] = ()
) -> list[ClosedWindow]:
    w = RowWindows(new_sketch, window_rows)
    out: list[ClosedWindow] = []
    bad = np.asarray(malformed, dtype=np.int64)
    for lo, hi in chunks(rows.size, size):
        last = int(rows[hi - 1])
        mal, bad = bad[bad <= last], bad[bad > last]
        out += w.add({"x": rows[lo:hi].astype(float)}, rows[lo:hi], malformed_positions=tuple(mal.tolist()))
    if bad.size:
        out += w.add({"x": np.empty(0)}, np.empty(0, np.int64), malformed_positions=tuple(bad.tolist()))
    return out + w.flush()


@pytest.mark.parametrize("size", [1, 3, 7, 10, 23, 100])
def test_row_windows_exact_boundaries_whatever_the_chunking(size: int) -> None:
    rows = np.arange(23, dtype=np.int64)
    got = [(c.info.index, c.info.first_row, c.info.last_row, c.sketch.rows) for c in run_rows(rows, size, 7)]
    assert got == [(0, 0, 6, 7), (1, 7, 13, 7), (2, 14, 20, 7), (3, 21, 22, 2)]
    assert summary(run_rows(rows, size, 7)) == summary(run_rows(rows, 23, 7))


@pytest.mark.parametrize("size", [1, 2, 5, 50])
def test_row_windows_count_malformed_rows_where_they_fall(size: int) -> None:
    malformed = (3, 4, 15, 21)
    rows = np.setdiff1d(np.arange(22, dtype=np.int64), malformed)
    got = [
        (c.info.index, c.info.first_row, c.info.last_row, c.sketch.rows, c.sketch.malformed_rows)
        for c in run_rows(rows, size, 7, malformed)
    ]
    assert got == [(0, 0, 6, 5, 2), (1, 7, 13, 7, 0), (2, 14, 20, 6, 1), (3, 21, 21, 0, 1)]


def test_row_window_exactly_full_closes_without_flush() -> None:
    w = RowWindows(new_sketch, 5)
    closed = w.add({"x": np.arange(5.0)}, np.arange(5))
    assert [(c.info.first_row, c.info.last_row) for c in closed] == [(0, 4)]
    assert w.flush() == []


def test_row_windows_resume_from_state() -> None:
    rows = np.arange(40, dtype=np.int64)
    whole = run_rows(rows, 40, 6)
    w = RowWindows(new_sketch, 6)
    first = w.add({"x": rows[:15].astype(float)}, rows[:15])
    state = json.loads(json.dumps(w.state()))
    sk = new_sketch()
    sk.restore(state["sketch"])
    resumed = RowWindows(new_sketch, 6, next_index=state["index"], open_sketch=sk)
    rest = resumed.add({"x": rows[15:].astype(float)}, rows[15:]) + resumed.flush()
    assert summary(first + rest) == summary(whole)


def test_row_windows_reject_bad_size() -> None:
    with pytest.raises(ValueError, match="window_rows must be a positive integer, got 0"):
        RowWindows(new_sketch, 0)


# --------------------------------------------------------------------------- time windows


def run_times(
    times: np.ndarray, cuts: list[int], duration: float, lateness: float, *, restore_at: int | None = None
) -> list[ClosedWindow]:
    """Stream ``times`` (NaN: a malformed row without event time) through time windows in chunks."""
    w = TimeWindows(new_sketch, duration, lateness_s=lateness)
    positions = np.arange(times.size, dtype=np.int64)
    out: list[ClosedWindow] = []
    bounds = sorted({0, *cuts, times.size})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        if restore_at is not None and lo == restore_at:
            state = json.loads(json.dumps(w.state()))
            w = TimeWindows(new_sketch, duration, lateness_s=lateness)
            w.restore(state)
        ok = np.isfinite(times[lo:hi])
        t, rows = times[lo:hi][ok], positions[lo:hi][ok]
        malformed = tuple(positions[lo:hi][~ok].tolist())
        out += w.add({"x": t}, rows, event_times=t, malformed_positions=malformed)
    return out + w.flush()


def test_time_windows_hand_worked_example() -> None:
    # duration 10, lateness 2: the watermark 12 closes [0, 10), so the row at t=3 that follows is late
    # and counted in the next window to close; [30, 40) has no rows and is emitted empty.
    times = np.array([1.0, 5.0, 11.0, 12.0, 3.0, 14.0, 25.0, 47.0])
    got = [
        (
            c.info.index,
            c.info.start,
            c.info.end,
            c.sketch.rows,
            c.sketch.late_rows,
            c.info.first_row,
            c.info.last_row,
        )
        for c in run_times(times, [], 10.0, 2.0)
    ]
    assert got == [
        (0, 0.0, 10.0, 2, 0, 0, 1),
        (1, 10.0, 20.0, 3, 1, 2, 5),
        (2, 20.0, 30.0, 1, 0, 6, 6),
        (3, 30.0, 40.0, 0, 0, None, None),  # an empty gap window
        (4, 40.0, 50.0, 1, 0, 7, 7),
    ]


def test_time_window_row_within_lateness_is_not_late() -> None:
    times = np.array([1.0, 11.0, 9.0, 13.0])
    got = [(c.info.start, c.sketch.rows, c.sketch.late_rows) for c in run_times(times, [], 10.0, 2.0)]
    assert got == [(0.0, 2, 0), (10.0, 2, 0)]


event_times = st.lists(
    st.one_of(st.integers(min_value=0, max_value=120), st.just(math.nan)), min_size=1, max_size=60
)


@settings(max_examples=200, deadline=None)
@given(
    event_times,
    st.lists(st.integers(min_value=0, max_value=60), max_size=5),
    st.sampled_from([0.0, 5.0, 25.0]),
)
def test_time_windows_do_not_depend_on_chunking(times: list[float], cuts: list[int], lateness: float) -> None:
    t = np.asarray(times, dtype=np.float64)
    cuts = [c for c in cuts if c < t.size]
    whole = summary(run_times(t, [], 10.0, lateness))
    assert summary(run_times(t, cuts, 10.0, lateness)) == whole
    assert summary(run_times(t, list(range(t.size)), 10.0, lateness)) == whole
    # every row is either in a window or counted late exactly once; every malformed row once
    assert sum(w[5] + w[6] for w in whole) == int(np.isfinite(t).sum())
    if np.isfinite(t).any():  # with no event time at all there is no window to count them in
        assert sum(w[7] for w in whole) == int(np.isnan(t).sum())
    # indices consecutive from 0, windows contiguous in time
    assert [w[0] for w in whole] == list(range(len(whole)))
    assert all(a[4] == b[3] for a, b in zip(whole, whole[1:], strict=False))


@settings(max_examples=100, deadline=None)
@given(event_times, st.integers(min_value=1, max_value=59), st.sampled_from([0.0, 5.0]))
def test_time_windows_restore_mid_stream(times: list[float], cut: int, lateness: float) -> None:
    t = np.asarray(times, dtype=np.float64)
    cut = min(cut, t.size - 1) if t.size > 1 else 0
    expected = summary(run_times(t, [cut], 10.0, lateness))
    assert summary(run_times(t, [cut], 10.0, lateness, restore_at=cut)) == expected


def test_advance_on_idle_emits_due_windows_including_empty_ones() -> None:
    w = TimeWindows(new_sketch, 60.0, lateness_s=10.0)
    assert w.add({"x": np.array([1.0, 2.0])}, np.array([0, 1]), event_times=np.array([5.0, 30.0])) == []
    assert w.advance(65.0) == []  # end 60 + lateness 10 not reached
    closed = w.advance(70.0)
    assert [(c.info.start, c.sketch.rows) for c in closed] == [(0.0, 2)]
    assert w.advance(129.0) == []
    idle = w.advance(250.0)
    assert [(c.info.index, c.info.start, c.info.end, c.sketch.rows) for c in idle] == [
        (1, 60.0, 120.0, 0),
        (2, 120.0, 180.0, 0),
        (3, 180.0, 240.0, 0),
    ]
    # rows for a window closed by advance() are late
    late = w.add({"x": np.array([0.0])}, np.array([2]), event_times=np.array([100.0]))
    assert late == []
    nxt = w.advance(1000.0)
    assert nxt[0].info.start == 240.0 and nxt[0].sketch.late_rows == 1


def test_time_windows_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="window duration must be positive, got 0"):
        TimeWindows(new_sketch, 0.0)
    with pytest.raises(ValueError, match="lateness must be >= 0, got -1"):
        TimeWindows(new_sketch, 10.0, lateness_s=-1.0)
    w = TimeWindows(new_sketch, 10.0)
    with pytest.raises(ValueError, match="differ in length"):
        w.add({"x": np.zeros(2)}, np.arange(2), event_times=np.zeros(3))


def test_time_windows_never_drop_malformed_rows() -> None:
    w = TimeWindows(new_sketch, 10.0)
    out = w.add(
        {"x": np.empty(0)}, np.empty(0, np.int64), event_times=np.empty(0), malformed_positions=(0, 1)
    )
    out += w.add({"x": np.array([1.0])}, np.array([2]), event_times=np.array([1.0]), malformed_positions=(3,))
    out += w.add({"x": np.array([15.0])}, np.array([4]), event_times=np.array([15.0]))
    out += w.add({"x": np.empty(0)}, np.empty(0, np.int64), event_times=np.empty(0), malformed_positions=(5,))
    state = json.loads(json.dumps(w.state()))
    resumed = TimeWindows(new_sketch, 10.0)
    resumed.restore(state)
    out += resumed.flush()
    assert [(c.info.start, c.sketch.rows, c.sketch.malformed_rows) for c in out] == [
        (0.0, 1, 3),
        (10.0, 1, 1),
    ]


def test_flush_keeps_counts_pending_after_advance_closed_everything() -> None:
    w = TimeWindows(new_sketch, 10.0)
    w.add({"x": np.array([1.0])}, np.array([0]), event_times=np.array([5.0]))
    assert [c.info.start for c in w.advance(25.0)] == [0.0, 10.0]
    assert (
        w.add({"x": np.empty(0)}, np.empty(0, np.int64), event_times=np.empty(0), malformed_positions=(1,))
        == []
    )
    assert w.add({"x": np.array([2.0])}, np.array([2]), event_times=np.array([3.0])) == []  # late
    (last,) = w.flush()
    assert (last.info.start, last.sketch.rows, last.sketch.malformed_rows, last.sketch.late_rows) == (
        20.0,
        0,
        1,
        1,
    )
    assert w.flush() == []


def test_a_jump_of_years_emits_the_first_empty_windows_then_goes_on_where_the_rows_are(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A row stamped 1970 ahead of rows of 2026 (hourly windows: 491k windows apart)."""
    hour = 3600.0
    real = 1_767_225_600.0 + np.arange(6) * 1800.0  # 2026-01-01, three hours of rows
    times = np.concatenate([[0.0], real])
    got = run_times(times, [1, 3], hour, 0.0)
    assert len(got) == 1 + MAX_GAP_WINDOWS + 3
    assert [c.info.index for c in got] == list(range(len(got)))
    assert [c.sketch.rows for c in got] == [1] + [0] * MAX_GAP_WINDOWS + [2, 2, 2]
    assert got[MAX_GAP_WINDOWS].info.start == MAX_GAP_WINDOWS * hour  # the last empty one
    assert got[MAX_GAP_WINDOWS + 1].info.start == real[0]
    assert sum(c.sketch.late_rows for c in got) == 0  # no 2026 row became late
    (skipped,) = [r.getMessage() for r in caplog.records if "event time gap" in r.getMessage()]
    assert "489895 empty windows from 1970-02-11T17:00:00Z to 2026-01-01T00:00:00Z skipped" in skipped


def test_an_idle_source_after_a_long_silence_gets_the_first_empty_windows_and_the_last_due() -> None:
    w = TimeWindows(new_sketch, 60.0)
    w.add({"x": np.array([1.0])}, np.array([0]), event_times=np.array([5.0]))
    closed = w.advance(60.0 * 5000)
    assert len(closed) == 1 + MAX_GAP_WINDOWS + 1
    assert closed[-1].info.start == 60.0 * 4999 and closed[-1].info.end == 60.0 * 5000
    assert w.advance(60.0 * 5001)[0].info.start == 60.0 * 5000  # and on from there, one by one


@settings(max_examples=200, deadline=None)
@given(
    event_times,
    st.lists(st.integers(min_value=0, max_value=60), max_size=5),
    st.sampled_from([0.0, 5.0, 25.0]),
    st.integers(min_value=0, max_value=59),
)
def test_skipping_long_gaps_does_not_depend_on_chunking_or_restarts(
    times: list[float], cuts: list[int], lateness: float, restore_at: int
) -> None:
    """With gaps of at most 2 empty windows emitted: the same windows however the stream is cut
    or restarted, every row counted once, and a window with rows never skipped."""
    t = np.asarray(times, dtype=np.float64)
    cuts = [c for c in cuts if c < t.size]
    with mock.patch("monitor.windowing.MAX_GAP_WINDOWS", 2):
        whole = summary(run_times(t, [], 10.0, lateness))
        assert summary(run_times(t, cuts, 10.0, lateness)) == whole
        assert summary(run_times(t, list(range(t.size)), 10.0, lateness)) == whole
        cut = min(restore_at, t.size - 1)
        assert summary(run_times(t, [cut], 10.0, lateness, restore_at=cut)) == summary(
            run_times(t, [cut], 10.0, lateness)
        )
    assert sum(w[5] + w[6] for w in whole) == int(np.isfinite(t).sum())
    assert [w[0] for w in whole] == list(range(len(whole)))
    starts = [w[3] for w in whole]
    assert starts == sorted(set(starts))
    empty_runs = "".join("e" if w[5] == 0 else "r" for w in whole)
    assert "eee" not in empty_runs
