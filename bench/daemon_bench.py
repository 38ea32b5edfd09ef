"""Daemon throughput and peak memory, from rows read to evaluated windows.

Two ways, reported side by side:

* ``daemon``: the real daemon, ``python -m monitor run`` in a subprocess, on a Parquet file
  source (``at_end = "exit"``, ``rows_per_second = 0``) with a SQLite store in ``bench/out/``.
  Times come from the daemon's own log: *read* is opening the file (the whole file is read into
  memory by the file source), *process* is from the file being open to the last window evaluated
  (polling 50k-row batches, sketching, evaluating, committing progress to the store).
  Peak memory is the subprocess's ``VmHWM``, which includes the whole file held by the source.
* ``pipeline``: :class:`monitor.pipeline.MonitorPipeline` fed in-process with 50k-row chunks (what a
  source worker hands it), in a fresh subprocess per configuration, so the numbers show the
  windowing and evaluation cost alone and the memory of the sketches, without a file in memory.
  The same pre-generated chunk is fed again and again with new row numbers.

Data: 20 columns: 16 numeric features, 2 categorical features, a binary target and a prediction
(so performance and concept drift are evaluated too); no drift (no evidently reports are written).

Usage::

    .venv/bin/python bench/daemon_bench.py                 # default table (a few minutes)
    .venv/bin/python bench/daemon_bench.py --daemon-rows 2000000 --daemon-window 100000 \\
        --pipeline-rows 20000000 --pipeline-window 100000 --pipeline-window 10000000

Generated files are kept in ``bench/out/`` (gitignored) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"
CHUNK_ROWS = 50_000
N_NUMERIC = 16
LEVELS = ("a", "b", "c", "d", "e")


def frame(n: int, *, seed: int) -> pd.DataFrame:
    """``n`` rows of the 20-column benchmark table."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i in range(N_NUMERIC):
        data[f"f{i}"] = rng.normal(i, 1.0 + i / 4, n).round(3)
    data["c0"] = rng.choice(LEVELS, n, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    data["c1"] = rng.choice(LEVELS[:3], n)
    signal = data["f0"] + data["f1"] - 1.0
    data["y"] = (signal + rng.normal(0, 0.5, n) > 0).astype(np.int64)
    data["pred"] = (signal > 0).astype(np.int64)
    return pd.DataFrame(data)


def vm_hwm_kib(pid: int | str = "self") -> int:
    """Peak resident set size (``VmHWM``) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


PROFILES = ("model", "features")


def write_profile(out: Path, kind: str = "model") -> Path:
    """``model``: ``y`` and ``pred`` are the target and prediction (performance and per-row concept
    drift detectors run); ``features``: all 20 columns are monitored features, no labels."""
    from monitor.cli import main as cli_main

    path = out / f"profile-{kind}.json"
    if not path.exists():
        train = out / "train.csv"
        if not train.exists():
            frame(50_000, seed=0).to_csv(train, index=False)
        roles = ["--target", "y", "--prediction", "pred"] if kind == "model" else []
        if cli_main(["profile", str(train), "-o", str(path), *roles]) != 0:
            raise SystemExit("driftwarden profile failed")
    return path


def write_stream(out: Path, rows: int) -> Path:
    path = out / f"stream-{rows}.parquet"
    if path.exists():
        return path
    parts = [frame(min(1_000_000, rows - lo), seed=1 + lo // 1_000_000) for lo in range(0, rows, 1_000_000)]
    pd.concat(parts, ignore_index=True).to_parquet(path, index=False)
    return path


# ---- in-process pipeline -------------------------------------------------------------------------


def pipeline_run(rows: int, window: int, kind: str) -> dict[str, Any]:
    """Feed ``rows`` rows in 50k chunks to a fresh pipeline; runs inside its own subprocess."""
    from monitor.cli import load_profile
    from monitor.pipeline import MonitorPipeline, WindowSpec

    profile = load_profile(str(write_profile(OUT, kind)))
    chunk = frame(CHUNK_ROWS, seed=1)
    cols = {k: chunk[k].to_numpy() for k in chunk.columns}
    base_kib = vm_hwm_kib()
    pipe = MonitorPipeline(profile, WindowSpec(rows=window))
    windows = 0
    t0 = time.perf_counter()
    for lo in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - lo)
        part = cols if n == CHUNK_ROWS else {k: v[:n] for k, v in cols.items()}
        windows += len(pipe.feed(part, np.arange(lo, lo + n, dtype=np.int64)).results)
    seconds = time.perf_counter() - t0
    return {
        "rows": rows,
        "windows": windows,
        "seconds": seconds,
        "peak_kib": vm_hwm_kib(),
        "base_kib": base_kib,
    }


# ---- the daemon ---------------------------------------------------------------------------------

LOG_TIME = re.compile(r"^(\S+Z) ")


def _stamp(log: str, needle: str, *, last: bool = False) -> float:
    lines = [ln for ln in log.splitlines() if needle in ln]
    if not lines:
        raise RuntimeError(f"daemon log has no {needle!r}:\n{log[-2000:]}")
    m = LOG_TIME.match(lines[-1] if last else lines[0])
    assert m is not None
    return datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()


def daemon_run(stream: Path, profile: Path, rows: int, window: int) -> dict[str, Any]:
    run_dir = OUT / f"daemon-{rows}-{window}-{profile.stem}"
    run_dir.mkdir(parents=True, exist_ok=True)
    for f in run_dir.glob("store.db*"):
        f.unlink()
    config = run_dir / "config.toml"
    config.write_text(
        f"""
[service]
shutdown_grace = "30s"
[store]
url = "sqlite:///{(run_dir / "store.db").as_posix()}"
reports_dir = "{(run_dir / "reports").as_posix()}"
[http]
port = 0
[sources.bench]
kind = "file"
path = "{stream.as_posix()}"
rows_per_second = 0
at_end = "exit"
[[monitors]]
name = "bench"
source = "bench"
profile = "{profile.as_posix()}"
window = {{ rows = {window} }}
routes = ["log"]
[sinks.log]
kind = "log"
"""
    )
    log_path = run_dir / "daemon.log"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with log_path.open("wb") as fh:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            cwd=run_dir,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                try:
                    peak = max(peak, vm_hwm_kib(proc.pid))
                except (FileNotFoundError, ProcessLookupError, ValueError):
                    return
                stop.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        wall = time.monotonic() - t0
        stop.set()
        sampler.join()
    log = log_path.read_text(errors="replace")
    if code != 0:
        raise RuntimeError(f"daemon exited with {code}:\n{log[-3000:]}")
    started = _stamp(log, "startup complete")
    opened = _stamp(log, "file source opened")
    last = _stamp(log, "window evaluated", last=True)
    return {
        "rows": rows,
        "windows": log.count("window evaluated"),
        "read_s": opened - started,
        "process_s": last - opened,
        "wall_s": wall,
        "peak_kib": peak,
    }


# ---- driver -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    way: str
    profile: str
    window: int
    rows: int
    windows: int
    rows_per_s: float
    end_to_end_rows_per_s: float | None
    peak_mib: float
    note: str


def _pipeline_row(rows: int, window: int, kind: str) -> Row:
    out = subprocess.run(
        [sys.executable, __file__, "_pipeline", str(rows), str(window), kind],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return Row(
        way="pipeline (in-process, 50k chunks)",
        profile=kind,
        window=window,
        rows=rows,
        windows=r["windows"],
        rows_per_s=rows / r["seconds"],
        end_to_end_rows_per_s=None,
        peak_mib=r["peak_kib"] / 1024,
        note=f"{r['seconds']:.1f}s; RSS before feeding {r['base_kib'] / 1024:.0f} MiB",
    )


def _daemon_row(rows: int, window: int, kind: str) -> Row:
    profile = write_profile(OUT, kind)
    stream = write_stream(OUT, rows)
    r = daemon_run(stream, profile, rows, window)
    return Row(
        way="daemon (python -m monitor run, Parquet file)",
        profile=kind,
        window=window,
        rows=rows,
        windows=r["windows"],
        rows_per_s=rows / r["process_s"],
        end_to_end_rows_per_s=rows / (r["read_s"] + r["process_s"]),
        peak_mib=r["peak_kib"] / 1024,
        note=f"read {r['read_s']:.1f}s, process {r['process_s']:.1f}s, process wall {r['wall_s']:.1f}s",
    )


def markdown(rows: list[Row]) -> str:
    head = "| way | profile | window rows | rows | windows | rows/s (process) | rows/s (incl. file read) | peak RSS MiB | note |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        e2e = f"{r.end_to_end_rows_per_s:,.0f}" if r.end_to_end_rows_per_s else "-"
        lines.append(
            f"| {r.way} | {r.profile} | {r.window:,} | {r.rows:,} | {r.windows} | {r.rows_per_s:,.0f} | {e2e} | "
            f"{r.peak_mib:,.0f} | {r.note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_pipeline"]:
        OUT.mkdir(parents=True, exist_ok=True)
        print(json.dumps(pipeline_run(int(argv[1]), int(argv[2]), argv[3])))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--daemon-rows", type=int, default=2_000_000)
    ap.add_argument("--daemon-window", type=int, action="append")
    ap.add_argument("--pipeline-rows", type=int, default=20_000_000)
    ap.add_argument("--pipeline-window", type=int, action="append")
    ap.add_argument(
        "--profile", choices=PROFILES, action="append", help="model and/or features (default both)"
    )
    ap.add_argument("--skip-daemon", action="store_true")
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    kinds = args.profile or list(PROFILES)
    for kind in kinds:
        write_profile(OUT, kind)
    results: list[Row] = []
    for kind in kinds:
        if not args.skip_pipeline:
            for w in args.pipeline_window or [100_000, 10_000_000]:
                results.append(_pipeline_row(args.pipeline_rows, w, kind))
                print(markdown(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        if not args.skip_daemon:
            for w in args.daemon_window or [100_000]:
                results.append(_daemon_row(args.daemon_rows, w, kind))
                print(markdown(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(markdown(results))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
