"""A restarted daemon restores each monitor's open window from the store: state -> restore ->
continue must give the results of an uninterrupted pipeline (row and time windows, and the
partial window flushed at the end of a finite source right after a restart)."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from detectors.profile import Profile
from monitor.cli import load_profile
from monitor.pipeline import MonitorPipeline, WindowSpec
from monitor.report import to_json
from tests.fixtures_daemon import model_frame, window_summary, write_profile

SPECS = [WindowSpec(rows=1000), WindowSpec(duration_s=600.0, timestamp="ts", lateness_s=60.0)]


@pytest.fixture(scope="module", params=[False, True], ids=["features", "labels"])
def profile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Profile:
    return load_profile(str(write_profile(tmp_path_factory.mktemp("restore"), labels=request.param)))


def _cols(n: int, seed: int, start: int) -> dict[str, np.ndarray]:
    f = model_frame(n, seed=seed, start_row=start)
    return {k: f[k].to_numpy() for k in f.columns}


def _summaries(results: object) -> list[dict[str, object]]:
    return [window_summary(to_json(r)) for r, _ in results]  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec", SPECS, ids=["rows", "time"])
@pytest.mark.parametrize("cut", [1, 999, 1000, 2500])
def test_state_round_trip_through_json_continues_exactly(
    profile: Profile, spec: WindowSpec, cut: int
) -> None:
    a, b = _cols(cut, 1, 0), _cols(4000 - cut, 2, cut)
    whole = MonitorPipeline(profile, spec)
    expected = list(whole.feed(a, np.arange(cut)).results)
    expected += whole.feed(b, np.arange(cut, 4000)).results
    expected += whole.flush()

    first = MonitorPipeline(profile, spec)
    got = list(first.feed(a, np.arange(cut)).results)
    stored = orjson.loads(orjson.dumps(first.state(), option=orjson.OPT_SERIALIZE_NUMPY))
    second = MonitorPipeline(profile, spec)
    second.restore(stored)
    got += second.feed(b, np.arange(cut, 4000)).results
    got += second.flush()
    assert _summaries(got) == _summaries(expected)


def test_partial_row_window_flushed_right_after_a_restart_keeps_its_last_row(profile: Profile) -> None:
    """A crash after the last batch was committed but before the end-of-file flush: the restarted
    daemon reads no more rows and flushes the restored open window."""
    p = MonitorPipeline(profile, WindowSpec(rows=1000))
    p.feed(_cols(2500, 1, 0), np.arange(2500))
    q = MonitorPipeline(profile, WindowSpec(rows=1000))
    q.restore(orjson.loads(orjson.dumps(p.state(), option=orjson.OPT_SERIALIZE_NUMPY)))
    assert _summaries(q.flush()) == _summaries(p.flush())
