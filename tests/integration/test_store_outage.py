"""The daemon through a PostgreSQL outage (a restart or failover, as the client sees it): the
source worker waits and retries its commit instead of dying, and the stored windows are exactly
those of an uninterrupted run (DESIGN.md: nothing lost, nothing counted twice)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.doubles.tcp_proxy import TcpProxy
from tests.fixtures_daemon import (
    drifting_stream,
    start_daemon,
    stored_results,
    wait_for,
    window_summary,
    write_config,
    write_profile,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

ROWS = 24_000
WINDOW_ROWS = 2500


def _pg_results(url: str) -> list[dict[str, object]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT result_json FROM window_results WHERE monitor = 'm' ORDER BY window_index")
            ).fetchall()
    except Exception:  # the schema is created by the daemon's first migration
        return []
    finally:
        engine.dispose()
    return [json.loads(r[0]) for r in rows]


def test_a_postgres_outage_stalls_the_daemon_and_loses_or_repeats_nothing(
    tmp_path: Path, postgres_schema_url: str
) -> None:
    profile = write_profile(tmp_path)
    stream = tmp_path / "stream.csv"
    drifting_stream(ROWS, drift_from=15_000).to_csv(stream, index=False)
    spec = f"{{ rows = {WINDOW_ROWS} }}"

    ref_dir = tmp_path / "reference"
    ref_dir.mkdir()
    reference_config = write_config(ref_dir, stream=stream, profile=profile, window=spec, at_end="exit")
    reference = start_daemon(reference_config, ref_dir / "daemon.log")
    assert reference.proc.wait(120) == 0, reference.text()[-3000:]
    expected = [window_summary(d) for d in stored_results(ref_dir / "store.db")]
    assert len(expected) == -(-ROWS // WINDOW_ROWS)

    url = make_url(postgres_schema_url)
    assert url.host is not None and url.port is not None
    with TcpProxy((url.host, url.port)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        out_dir = tmp_path / "outage"
        out_dir.mkdir()
        config = write_config(
            out_dir, stream=stream, profile=profile, window=spec, at_end="exit", rows_per_second=4000
        )
        sqlite_url = f'url = "sqlite:///{(out_dir / "store.db").as_posix()}"'
        config.write_text(config.read_text().replace(sqlite_url, f'url = "{proxied}"'))
        daemon = start_daemon(config, out_dir / "daemon.log")
        wait_for(lambda: len(_pg_results(postgres_schema_url)) >= 2, timeout_s=60, what="2 stored windows")
        proxy.cut()
        time.sleep(4.0)  # a few commits fail meanwhile
        assert daemon.proc.poll() is None, daemon.text()[-3000:]
        proxy.restore()
        assert daemon.proc.wait(120) == 0, daemon.text()[-3000:]
    log = daemon.text()
    assert proxy.refused > 0, "the outage did not meet a connection attempt"
    assert "store commit failed, retrying" in log and "store back, progress committed" in log
    assert "source worker failed" not in log, log[-4000:]
    # the scheduler's jobs wait too, with one line each rather than a traceback a second
    assert "scheduler job waiting for the store job=deliver" in log
    assert "Traceback" not in log, log[-4000:]
    got = [window_summary(d) for d in _pg_results(postgres_schema_url)]
    assert got == expected
