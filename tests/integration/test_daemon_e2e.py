"""The daemon end to end as users run it: ``python -m monitor run`` on the bundled demo, and the
command line's answers to bad configuration (exit 2, one line naming the key or file)."""

from __future__ import annotations

import logging
import re
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from monitor.cli import main as cli_main
from tests.fixtures_daemon import (
    REPO,
    get,
    metrics_with,
    run_cli,
    start_daemon,
    wait_for,
    write_config,
    write_profile,
)

CONTRACT_KEYS = {
    "drift_detected",
    "drift_share",
    "rows",
    "window",
    "features",
    "prediction",
    "target",
    "performance",
    "concept",
    "quality",
}
WINDOW_KEYS = {"index", "first_row", "last_row", "start", "end"}
METRICS = (
    "driftwarden_rows_total",
    "driftwarden_dead_letters_total",
    "driftwarden_windows_evaluated_total",
    "driftwarden_feature_drift",
    "driftwarden_quality_issues",
    "driftwarden_alerts_sent_total",
    "driftwarden_source_lag",
    "driftwarden_evaluation_seconds",
)
DEMO_ROWS = 60_000
DEMO_DRIFT_ROW = 30_000


def _demo_copy(tmp: Path) -> Path:
    """The repository's config.toml and demo/ in ``tmp``: the same file with port 0 and no pacing."""
    shutil.copytree(REPO / "demo", tmp / "demo", ignore=shutil.ignore_patterns("train.csv", "*.py"))
    text = (REPO / "config.toml").read_text()
    text, n_port = re.subn(r"(?m)^port = \d+", "port = 0", text)
    text, n_pace = re.subn(r"(?m)^rows_per_second = \d+", "rows_per_second = 0", text)
    assert n_port == 1 and n_pace == 1, "config.toml changed shape; update this test"
    config = tmp / "config.toml"
    config.write_text(text)
    return config


@pytest.mark.slow
def test_demo_daemon_end_to_end(tmp_path: Path) -> None:
    config = _demo_copy(tmp_path)
    daemon = start_daemon(config, tmp_path / "daemon.log")
    try:
        port = daemon.port()
        wait_for(lambda: get(port, "/readyz")[0] == 200, timeout_s=30, what="/readyz 200")
        assert get(port, "/healthz") == (200, {"status": "ok"})

        def all_windows() -> list[dict[str, object]] | None:
            status, body = get(port, "/api/monitors")
            assert status == 200
            return body if body and body[0]["windows_evaluated"] == DEMO_ROWS // 5000 else None

        monitors = wait_for(all_windows, timeout_s=60, interval_s=0.2, what="12 demo windows")
        (demo,) = monitors
        assert demo["name"] == "demo" and demo["source"] == "demo"
        assert demo["rows"] == DEMO_ROWS
        assert demo["last_window"]["window"]["index"] == DEMO_ROWS // 5000 - 1

        status, results = get(port, "/api/monitors/demo/results?since=0")
        assert status == 200 and len(results) == DEMO_ROWS // 5000
        for i, doc in enumerate(results):
            assert set(doc) >= CONTRACT_KEYS
            assert set(doc["window"]) == WINDOW_KEYS
            assert doc["window"]["index"] == i
            assert (doc["window"]["first_row"], doc["window"]["last_row"]) == (5000 * i, 5000 * i + 4999)
            assert doc["rows"] == 5000
            for name, f in doc["features"].items():
                assert {"type", "method", "statistic", "p_value", "threshold", "drift_detected"} <= set(f), (
                    name
                )
            for issue in doc["quality"]["issues"]:
                assert issue["severity"] in ("warning", "critical")
        before = [d["drift_detected"] for d in results if d["window"]["last_row"] < DEMO_DRIFT_ROW]
        after = [d["drift_detected"] for d in results if d["window"]["first_row"] >= DEMO_DRIFT_ROW]
        assert not any(before), "no drift is expected before row 30000"
        assert all(after), "the demo drifts from row 30000 on"
        assert get(port, "/api/monitors/demo/results?since=10&limit=1")[1][0]["window"]["index"] == 10

        text = metrics_with(
            port,
            'driftwarden_rows_total{monitor="demo"} 60000',
            'driftwarden_windows_evaluated_total{monitor="demo"} 12',
        )
        for name in METRICS:
            assert re.search(rf"(?m)^{name}", text) or f"# TYPE {name}" in text, name

        t0 = time.monotonic()
        code = daemon.terminate(timeout_s=30)
        took = time.monotonic() - t0
    finally:
        daemon.kill()
    log = daemon.text()
    assert code == 0, log[-3000:]
    assert took < 30
    assert "shutdown complete" in log
    assert "Traceback" not in log


# ---- configuration errors through the CLI --------------------------------------------------------
# One real subprocess (the exit status of ``python -m monitor``); the others call the same CLI entry
# point in-process, which is much faster (each subprocess pays the imports).


def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _run_in_process(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    capsys.readouterr()
    try:
        code = cli_main(["run", "--config", str(config)])
    finally:  # `run` installs the daemon's log handler on the root logger: take it off again
        root.handlers[:] = handlers
        root.setLevel(level)
    return code, capsys.readouterr().err


def test_run_with_a_missing_profile_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, stream=tmp_path / "stream.csv", profile=tmp_path / "nope.json")
    (tmp_path / "stream.csv").write_text("a\n1\n")
    proc = run_cli(["run", "--config", str(config)], cwd=tmp_path)
    assert proc.returncode == 2
    line = _one_error_line(proc.stderr)
    assert "monitors[0].profile" in line and "nope.json" in line


def test_run_with_a_bad_key_exits_2_naming_the_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = write_profile(tmp_path)
    config = write_config(
        tmp_path, stream=tmp_path / "train.csv", profile=profile, window='{ rows = "many" }'
    )
    code, err = _run_in_process(config, capsys)
    assert code == 2
    line = _one_error_line(err)
    assert "monitors[0].window.rows" in line and "config.toml" in line


@pytest.mark.parametrize(
    ("key", "bad", "path"),
    [
        ("port = 0", "port = 70000", "http.port"),
        ('at_end = "idle"', 'at_end = "later"', "sources.s.at_end"),
        ('shutdown_grace = "10s"', 'shutdown_grace = "ten"', "service.shutdown_grace"),
        ('kind = "file"', 'kind = "ftp"', "sources.s.kind"),
    ],
)
def test_run_with_bad_values_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, bad: str, path: str
) -> None:
    profile = write_profile(tmp_path)
    config = write_config(tmp_path, stream=tmp_path / "train.csv", profile=profile)
    text = config.read_text()
    assert key in text
    config.write_text(text.replace(key, bad, 1))
    code, err = _run_in_process(config, capsys)
    assert code == 2
    assert path in _one_error_line(err)


def test_run_with_a_truncated_profile_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 naming the profile, no traceback. The profile is only read at service start, after
    logging is configured, so startup log lines come before the error line (not a single line)."""
    profile = write_profile(tmp_path)
    profile.write_text(profile.read_text()[:200])
    config = write_config(tmp_path, stream=tmp_path / "train.csv", profile=profile)
    code, err = _run_in_process(config, capsys)
    assert code == 2
    assert "Traceback" not in err
    last = [ln for ln in err.splitlines() if ln.strip()][-1]
    assert last.startswith("driftwarden: error:") and "profile.json" in last


def test_run_with_a_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_in_process(tmp_path / "absent.toml", capsys)
    assert code == 2
    assert "absent.toml" in _one_error_line(err)


# ---- signals -------------------------------------------------------------------------------------


def test_a_second_sigterm_forces_the_exit(tmp_path: Path) -> None:
    """The first SIGTERM starts a graceful stop; a second one exits at once (status 130). The stop is
    held up by a Kafka source that cannot connect (it blocks in the client's bootstrap), which
    keeps the daemon in its "stopping sources" step for up to the 30 s grace."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    profile = write_profile(tmp_path)
    kafka = f"""
[sources.k]
kind = "kafka"
bootstrap_servers = ["127.0.0.1:{closed}"]
topic = "nobody-home"
"""
    monitor_k = f"""
[[monitors]]
name = "km"
source = "k"
profile = "{profile.as_posix()}"
window = {{ rows = 100 }}
"""
    config = write_config(
        tmp_path,
        stream=tmp_path / "train.csv",
        profile=profile,
        grace="30s",
        extra_sources=kafka,
        extra_monitors=monitor_k,
    )
    daemon = start_daemon(config, tmp_path / "daemon.log")
    try:
        daemon.port()
        time.sleep(1.0)  # let the kafka worker enter its connection attempt
        daemon.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutdown: stopping sources" in daemon.text(), timeout_s=20, what="stopping sources")
        if daemon.proc.poll() is None:
            daemon.proc.send_signal(signal.SIGTERM)
        code = daemon.proc.wait(10)
    finally:
        daemon.kill()
    log = daemon.text()
    if code == 0:  # the kafka source stopped quickly after all: the graceful stop finished first
        assert "shutdown complete" in log
    else:
        assert code == 130, log[-3000:]
        assert "second signal" in log and "shutdown complete" not in log
