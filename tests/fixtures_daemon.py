"""Helpers for daemon tests: data files, profiles, config files and a daemon subprocess.

Every test writes its own files under ``tmp_path``: a training CSV and its profile (made with the
real ``driftwarden profile`` command, in-process), a stream file, and a ``config.toml`` with a
SQLite store in ``tmp_path`` and ``port = 0`` (the bound port is read from the log or from
``service.http.port``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]


PORT_RE = re.compile(r"http listening url=http://[\d.]+:(\d+)")
BASE_TIME = pd.Timestamp("2026-01-01T00:00:00Z")


def model_frame(n: int, *, seed: int = 0, shift: float = 0.0, start_row: int = 0) -> pd.DataFrame:
    """A model-monitoring table: ``id``, ``ts`` (one row per second from 2026-01-01), numeric
    ``age``/``income``/``score``, categorical ``city``, binary target ``y`` and prediction ``pred``.
    ``shift`` moves ``age`` by that many units (drift)."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40.0 + shift, 10.0, n).round(1)
    ts = BASE_TIME + pd.to_timedelta(np.arange(start_row, start_row + n), unit="s")
    frame = pd.DataFrame(
        {
            "id": np.arange(start_row, start_row + n),
            "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "age": age,
            "income": rng.lognormal(10.0, 0.5, n).round(2),
            "score": rng.uniform(0.0, 1.0, n).round(4),
            "city": rng.choice(["amsterdam", "berlin", "cairo"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    frame["y"] = (age + rng.normal(0.0, 5.0, n) > 40.0).astype(int)
    frame["pred"] = (age > 40.0).astype(int)
    return frame


def drifting_stream(n: int, *, drift_from: int, seed: int = 1, shift: float = 15.0) -> pd.DataFrame:
    """``n`` rows; rows from ``drift_from`` on have ``age`` shifted by ``shift``."""
    head = model_frame(drift_from, seed=seed)
    tail = model_frame(n - drift_from, seed=seed + 1, shift=shift, start_row=drift_from)
    return pd.concat([head, tail], ignore_index=True)


def write_profile(tmp: Path, *, train_rows: int = 5000, seed: int = 0, labels: bool = True) -> Path:
    """Write a training CSV and its profile with ``driftwarden profile``; returns the profile path.

    With ``labels=False`` the profile has no target and prediction (``y`` and ``pred`` are
    excluded), so no performance or concept detectors run."""
    train = tmp / "train.csv"
    model_frame(train_rows, seed=seed).to_csv(train, index=False)
    out = tmp / "profile.json"
    roles = ["--target", "y", "--prediction", "pred"] if labels else ["--exclude", "y,pred"]
    code = cli_main(["profile", str(train), "-o", str(out), *roles, "--id", "id", "--timestamp", "ts"])
    assert code == 0, "driftwarden profile failed"
    return out


def write_config(
    tmp: Path,
    *,
    stream: Path,
    profile: Path,
    window: str = "{ rows = 5000 }",
    at_end: str = "idle",
    rows_per_second: float = 0,
    grace: str = "10s",
    port: int = 0,
    extra_sources: str = "",
    extra_monitors: str = "",
    name: str = "config.toml",
) -> Path:
    """A config with one file source ``s`` and one monitor ``m`` storing into ``tmp/store.db``."""
    text = f"""
[service]
log_format = "text"
shutdown_grace = "{grace}"

[store]
url = "sqlite:///{(tmp / "store.db").as_posix()}"
reports_dir = "{(tmp / "reports").as_posix()}"

[http]
host = "127.0.0.1"
port = {port}

[sources.s]
kind = "file"
path = "{stream.as_posix()}"
rows_per_second = {rows_per_second}
at_end = "{at_end}"
{extra_sources}

[[monitors]]
name = "m"
source = "s"
profile = "{profile.as_posix()}"
window = {window}
routes = ["console"]
{extra_monitors}

[sinks.console]
kind = "log"
"""
    path = tmp / name
    path.write_text(text)
    return path


# ---- a daemon in a subprocess --------------------------------------------------------------------


@dataclass
class Daemon:
    """``python -m monitor run`` in a subprocess, logging to ``log``."""

    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def port(self, timeout_s: float = 30.0) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = PORT_RE.search(self.text())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.text()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"daemon did not start listening in {timeout_s}s:\n{self.text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)


def start_daemon(config: Path, log: Path, *, env: Mapping[str, str] | None = None) -> Daemon:
    environ = dict(os.environ)
    environ.update(env or {})
    environ["PYTHONPATH"] = str(REPO) + os.pathsep + environ.get("PYTHONPATH", "")
    fh = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        cwd=str(config.parent),
        stdout=fh,
        stderr=subprocess.STDOUT,
        env=environ,
    )
    fh.close()
    return Daemon(proc=proc, log=log)


def run_cli(args: Sequence[str], *, cwd: Path, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = str(REPO) + os.pathsep + environ.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=environ,
    )


# ---- HTTP and store ----------------------------------------------------------------------------


def get(port: int, path: str, timeout_s: float = 10.0) -> tuple[int, Any]:
    """GET ``path``; returns (status, parsed JSON or text)."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            status, body, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, body, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    if "json" in ctype:
        return status, json.loads(body)
    return status, body.decode()


def wait_for(
    predicate: Callable[[], Any], *, timeout_s: float = 30.0, interval_s: float = 0.05, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or predicate}")
        time.sleep(interval_s)


def metrics_with(port: int, *samples: str, timeout_s: float = 10.0) -> str:
    """``/metrics`` once it holds every line in ``samples`` (values without a trailing ``.0``).

    The daemon moves its counters just after the store commit: a test that saw the commit in the
    store or the API may read ``/metrics`` a moment before the counters catch up.
    """

    def text() -> str | None:
        status, body = get(port, "/metrics")
        assert status == 200
        lines = set(body.replace(".0\n", "\n").splitlines())
        return body if all(s in lines for s in samples) else None

    return wait_for(text, timeout_s=timeout_s, what=f"/metrics with {samples}")


def stored_window_count(db: Path, monitor: str = "m") -> int:
    """Windows of ``monitor`` in a SQLite store (read with sqlite3, safe while the daemon writes)."""
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        row = con.execute("SELECT count(*) FROM window_results WHERE monitor = ?", (monitor,)).fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()
    return int(row[0])


def stored_results(db: Path, monitor: str = "m") -> list[dict[str, Any]]:
    """Every stored window result of ``monitor``, oldest first (the JSON contract documents)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute(
            "SELECT result_json FROM window_results WHERE monitor = ? ORDER BY window_index", (monitor,)
        ).fetchall()
    finally:
        con.close()
    return [json.loads(r[0]) for r in rows]


def stored_dead_letters(db: Path) -> list[tuple[str, str, str]]:
    """(source, position, reason) of every stored dead letter, in insertion order."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute("SELECT source, position, reason FROM dead_letters ORDER BY id").fetchall()
    finally:
        con.close()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def window_summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a window result that must not depend on crashes or batch boundaries."""
    w = doc["window"]
    quality = sorted((i["column"] or "", i["check"], i["value"]) for i in doc["quality"]["issues"])
    return {
        "index": w["index"],
        "first_row": w["first_row"],
        "last_row": w["last_row"],
        "start": w["start"],
        "end": w["end"],
        "rows": doc["rows"],
        "drift_detected": doc["drift_detected"],
        "features": {
            k: (f["method"], f["statistic"], f["p_value"], f["drift_detected"])
            for k, f in doc["features"].items()
        },
        "prediction": doc["prediction"],
        "performance": doc["performance"],
        "concept": doc["concept"],
        "quality": quality,
    }


KNOWN_LIBRARY_TRACEBACKS = (
    # kafka-python 3 closing a consumer: its IO thread can still be inside recv() when the
    # transport is closed, and it logs that with a traceback (the close completes normally).
    ("kafka.net.transport", "Error receiving network data closing socket"),
)


def unexpected_tracebacks(log: str) -> list[str]:
    """The log lines that introduce a traceback, except kafka-python's known close race.

    A traceback follows the ERROR line that logged it; any traceback not logged by one of
    :data:`KNOWN_LIBRARY_TRACEBACKS` (logger, message) is returned."""
    lines = log.splitlines()
    found = []
    for i, line in enumerate(lines):
        if not line.startswith("Traceback"):
            continue
        head = next((lines[j] for j in range(i - 1, -1, -1) if lines[j][:4].isdigit()), "")
        if not any(f" {logger} " in head and message in head for logger, message in KNOWN_LIBRARY_TRACEBACKS):
            found.append(head or line)
    return found
