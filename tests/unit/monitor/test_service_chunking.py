"""The daemon's results must not depend on how a source cuts the stream into batches (a restart
resumes at a checkpoint, so batch boundaries move): one chunk and random chunks give identical
window results, for row windows and for time windows with late rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detectors.profile import Profile
from monitor.cli import load_profile
from monitor.pipeline import MonitorPipeline, WindowSpec
from monitor.report import to_json
from tests.fixtures_daemon import BASE_TIME, drifting_stream, window_summary, write_profile

ROWS = 12_000


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    return load_profile(str(write_profile(tmp_path_factory.mktemp("chunking"))))


def _stream() -> dict[str, np.ndarray]:
    frame = drifting_stream(ROWS, drift_from=7000)
    rng = np.random.default_rng(3)
    delay = np.where(rng.uniform(size=ROWS) < 0.05, rng.uniform(0, 900, ROWS), 0.0)
    frame["ts"] = (BASE_TIME + pd.to_timedelta(np.arange(ROWS) - np.round(delay), unit="s")).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    return {k: frame[k].to_numpy() for k in frame.columns}


def _run(profile: Profile, spec: WindowSpec, cuts: list[int]) -> list[dict[str, object]]:
    cols = _stream()
    p = MonitorPipeline(profile, spec)
    out = []
    bounds = [0, *cuts, ROWS]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        if hi > lo:
            feed = p.feed({k: v[lo:hi] for k, v in cols.items()}, np.arange(lo, hi, dtype=np.int64))
            out.extend(feed.results)
    out.extend(p.flush())
    return [window_summary(to_json(r)) for r, _ in out]


@pytest.mark.parametrize(
    "spec",
    [WindowSpec(rows=1700), WindowSpec(duration_s=900.0, timestamp="ts", lateness_s=300.0)],
    ids=["rows", "time"],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_results_do_not_depend_on_batch_boundaries(profile: Profile, spec: WindowSpec, seed: int) -> None:
    whole = _run(profile, spec, [])
    cuts = sorted(np.random.default_rng(seed).choice(np.arange(1, ROWS), size=25, replace=False).tolist())
    chunked = _run(profile, spec, cuts)
    assert len(whole) > 5
    assert chunked == whole


def test_time_windows_count_late_rows_the_same_in_every_chunking(profile: Profile, tmp_path: Path) -> None:
    spec = WindowSpec(duration_s=900.0, timestamp="ts", lateness_s=300.0)
    whole = _run(profile, spec, [])
    late = [q for w in whole for q in w["quality"] if q[1] == "late_rows"]  # type: ignore[union-attr]
    assert late, "the stream has rows later than the lateness"
    assert _run(profile, spec, list(range(500, ROWS, 500))) == whole
