"""Crash safety of the daemon: SIGKILL at random moments and restart gives exactly the windows of
an uninterrupted run (DESIGN.md: nothing lost on a crash, nothing counted twice after a restart).

Each run is ``python -m monitor run`` in a subprocess on a file source with ``at_end = "exit"``.
The reference run reads the file as fast as it can (50k-row batches); the crashed run is paced
(batches of a few thousand rows, never aligned with the 7000-row windows), killed with SIGKILL
2-3 times after some windows were stored, and restarted on the same store until it finishes.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fixtures_daemon import (
    BASE_TIME,
    drifting_stream,
    start_daemon,
    stored_dead_letters,
    stored_results,
    stored_window_count,
    wait_for,
    window_summary,
    write_config,
    write_profile,
)

ROWS = 120_000
WINDOW_ROWS = 7000
PACED_ROWS_PER_SECOND = 20_000


def _row_stream(tmp: Path) -> Path:
    path = tmp / "stream.csv"
    drifting_stream(ROWS, drift_from=80_000).to_csv(path, index=False)
    return path


def _time_stream(tmp: Path) -> Path:
    """Rows one second apart, some late: 4% up to 8 minutes (within the 10-minute lateness),
    1% 1-2 hours (beyond it); every 5000th row has an unparseable time (a dead letter)."""
    frame = drifting_stream(ROWS, drift_from=80_000)
    rng = np.random.default_rng(7)
    u = rng.uniform(size=ROWS)
    delay = np.where(u < 0.04, rng.uniform(0, 480, ROWS), 0.0)
    delay = np.where(u > 0.99, rng.uniform(3600, 7200, ROWS), delay)
    ts = BASE_TIME + pd.to_timedelta(np.arange(ROWS) - np.round(delay), unit="s")
    text = ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)
    text[4999::5000] = "not a time"
    frame["ts"] = text
    path = tmp / "stream.csv"
    frame.to_csv(path, index=False)
    return path


def _run_to_end(config: Path, log: Path, timeout_s: float = 120.0) -> None:
    daemon = start_daemon(config, log)
    code = daemon.proc.wait(timeout_s)
    assert code == 0, daemon.text()[-3000:]
    assert "shutdown complete" in daemon.text()


def _run_with_kills(config: Path, db: Path, log: Path, *, kills: int, seed: int) -> int:
    """Start, SIGKILL after a random number of new windows (plus a random delay), restart; repeat
    ``kills`` times, then run to the end. Returns how many kills hit a running daemon."""
    rnd = random.Random(seed)
    hits = 0
    for _ in range(kills):
        before = stored_window_count(db)
        daemon = start_daemon(config, log)
        target = before + rnd.randint(1, 4)
        wait_for(
            lambda d=daemon, t=target: stored_window_count(db) >= t or d.proc.poll() is not None,
            timeout_s=60,
            interval_s=0.01,
            what=f"{target} stored windows",
        )
        if daemon.proc.poll() is None:
            time.sleep(rnd.uniform(0.0, 0.3))
            hits += daemon.proc.poll() is None
            daemon.kill()
    _run_to_end(config, log)
    return hits


def _compare(reference: list[dict[str, object]], crashed: list[dict[str, object]]) -> None:
    assert [d["window"]["index"] for d in crashed] == list(range(len(crashed)))  # type: ignore[index]
    assert len(crashed) == len(reference)
    for ref, got in zip(reference, crashed, strict=True):
        a, b = window_summary(ref), window_summary(got)
        assert b == a, (a["index"], _diff(a, b))


def _diff(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    return {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}


@pytest.mark.slow
@pytest.mark.parametrize("window", ["rows", "time"])
def test_sigkill_and_restart_give_the_windows_of_an_uninterrupted_run(tmp_path: Path, window: str) -> None:
    profile = write_profile(tmp_path)
    if window == "rows":
        stream = _row_stream(tmp_path)
        spec = f"{{ rows = {WINDOW_ROWS} }}"
    else:
        stream = _time_stream(tmp_path)
        spec = '{ duration = "1h", timestamp = "ts", lateness = "10m" }'

    ref_dir = tmp_path / "reference"
    ref_dir.mkdir()
    ref_config = write_config(ref_dir, stream=stream, profile=profile, window=spec, at_end="exit")
    _run_to_end(ref_config, ref_dir / "daemon.log")
    reference = stored_results(ref_dir / "store.db")
    ref_dead = stored_dead_letters(ref_dir / "store.db")

    crash_dir = tmp_path / "crashed"
    crash_dir.mkdir()
    config = write_config(
        crash_dir,
        stream=stream,
        profile=profile,
        window=spec,
        at_end="exit",
        rows_per_second=PACED_ROWS_PER_SECOND,
    )
    hits = _run_with_kills(
        config, crash_dir / "store.db", crash_dir / "daemon.log", kills=3, seed=len(window)
    )
    assert hits >= 2, "the daemon finished before it could be killed twice"
    crashed = stored_results(crash_dir / "store.db")

    if window == "rows":
        assert len(reference) == -(-ROWS // WINDOW_ROWS)
        assert [(d["window"]["first_row"], d["window"]["last_row"]) for d in reference] == [
            (i * WINDOW_ROWS, min((i + 1) * WINDOW_ROWS, ROWS) - 1) for i in range(len(reference))
        ]
        assert sum(d["rows"] for d in reference) == ROWS
        assert not reference[0]["drift_detected"] and reference[-1]["features"]["age"]["drift_detected"]
    else:
        late = sum(i["value"] for d in reference for i in d["quality"]["issues"] if i["check"] == "late_rows")
        assert late > 0
        assert sum(d["rows"] for d in reference) + late + ROWS // 5000 == ROWS
        assert len(ref_dead) == ROWS // 5000
    _compare(reference, crashed)
    assert sorted(stored_dead_letters(crash_dir / "store.db")) == sorted(ref_dead)
