"""The daemon's wall-clock tick on event-time windows (``MonitorPipeline.tick``).

The tick must not close windows of old data (a replay, a backlog after downtime) just because the
wall clock is far ahead of the data: only an idle source lets the event-time clock advance, by the
idle time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.cli import load_profile
from monitor.pipeline import MonitorPipeline, WindowSpec
from tests.fixtures_daemon import model_frame, write_profile

NOW = 1_800_000_000.0  # wall clock, long after the data (2026-01-01 = 1_767_225_600)
T0 = 1_767_225_600.0


@pytest.fixture(scope="module")
def pipeline_factory(tmp_path_factory: pytest.TempPathFactory) -> object:
    profile = load_profile(str(write_profile(tmp_path_factory.mktemp("tick"))))

    def make() -> MonitorPipeline:
        return MonitorPipeline(profile, WindowSpec(duration_s=60.0, timestamp="ts", lateness_s=10.0))

    return make


def _feed(p: MonitorPipeline, seconds: list[float], first_row: int) -> int:
    frame = model_frame(len(seconds), seed=first_row)
    cols = {k: frame[k].to_numpy() for k in frame.columns}
    cols["ts"] = np.asarray([T0 + s for s in seconds], dtype=np.float64)
    out = p.feed(cols, np.arange(first_row, first_row + len(seconds), dtype=np.int64))
    return len(out.results)


def test_wall_clock_far_ahead_does_not_close_windows_while_rows_arrive(pipeline_factory: object) -> None:
    p = pipeline_factory()  # type: ignore[operator]
    assert _feed(p, [float(s) for s in range(30)], 0) == 0
    assert p.tick(NOW) == ()  # the watermark moved since the last tick: rows are arriving
    assert _feed(p, [float(s) for s in range(30, 55)], 30) == 0
    assert p.tick(NOW + 1) == ()
    # the rest of window 0 arrives after the ticks and still counts in window 0
    assert _feed(p, [59.0, 80.0], 55) == 1  # 80 - 10 >= 60 closes window 0
    (result,) = p.windows.flush()
    assert result.sketch.rows == 1  # only the row at 80 s in window 1


def test_an_idle_source_advances_event_time_by_the_idle_seconds(pipeline_factory: object) -> None:
    p = pipeline_factory()  # type: ignore[operator]
    _feed(p, [0.0, 30.0], 0)  # watermark 30 s; window 0 closes at 60 + 10 = 70 s of event time
    assert p.tick(NOW) == ()  # first tick after rows: starts the idle clock
    assert p.tick(NOW + 39) == ()  # event time 30 + 39 = 69 s
    (closed,) = p.tick(NOW + 40)  # 70 s: window 0 is due
    result, sketch = closed
    assert sketch.rows == 2 and result.window.index == 0
    assert p.tick(NOW + 99) == ()  # 129 s: window 1 [60, 120) is due at 130 s
    assert len(p.tick(NOW + 100)) == 1  # an empty window for the silent source


def test_event_time_never_runs_ahead_of_the_wall_clock(pipeline_factory: object) -> None:
    p = pipeline_factory()  # type: ignore[operator]
    future = NOW + 1000.0 - T0
    _feed(p, [future], 0)
    assert p.tick(NOW) == ()
    assert p.tick(NOW + 500) == ()  # idle 500 s, but the wall clock is still before the window end


def test_restored_state_resumes_without_closing_early(pipeline_factory: object, tmp_path: Path) -> None:
    p = pipeline_factory()  # type: ignore[operator]
    _feed(p, [0.0, 30.0], 0)
    q = pipeline_factory()  # type: ignore[operator]
    q.restore(p.state())
    assert q.tick(NOW) == ()  # restarted far later: the idle clock starts now
    assert _feed(q, [50.0, 65.0], 2) == 0  # 65 - 10 < 60: window 0 stays open
    assert len(q.tick(NOW + 10)) == 0
    assert _feed(q, [90.0], 4) == 1


def test_rows_stamped_too_far_ahead_of_the_clock_are_not_placed(tmp_path: Path) -> None:
    """One row decades ahead must not close every window up to it and make the rest late."""
    profile = load_profile(str(write_profile(tmp_path)))
    p = MonitorPipeline(
        profile, WindowSpec(duration_s=60.0, timestamp="ts", lateness_s=10.0, max_future_s=3600.0)
    )
    frame = model_frame(5, seed=3)
    cols = {k: frame[k].to_numpy() for k in frame.columns}
    now = T0 + 100.0
    far = T0 + 40 * 365 * 86400.0  # e.g. epoch milliseconds divided once too few
    cols["ts"] = np.asarray([T0 + 1.0, far, T0 + 2.0, T0 + 50.0, np.nan])
    out = p.feed(cols, np.arange(10, 15, dtype=np.int64), now=now)
    assert out.future == ((11, far),)
    assert out.untimed_positions == (14,)
    assert out.results == ()  # the watermark is the latest placed row (50 s): nothing closed
    cols2 = {k: v[:1] for k, v in cols.items()}
    cols2["ts"] = np.asarray([T0 + 30.0])  # not late: window 0 is still open
    assert p.feed(cols2, np.arange(15, 16, dtype=np.int64), now=now).future == ()
    assert [c.sketch.rows for c in p.windows.flush()] == [4]  # rows 10, 12, 13 and 15 in window 0
    # the bound is inclusive: a row exactly max_future ahead is placed
    cols2["ts"] = np.asarray([now + 3600.0])
    assert p.feed(cols2, np.arange(16, 17, dtype=np.int64), now=now).future == ()
    # without a clock (replaying a file) nothing is too far ahead
    q = MonitorPipeline(profile, WindowSpec(duration_s=60.0, timestamp="ts", max_future_s=3600.0))
    assert q.feed(cols, np.arange(10, 15, dtype=np.int64)).future == ()
