"""Shared pieces of the check and verdict-quality benchmarks: seeded data, the two tools, memory.

Both tools see the same in-memory data: driftwarden a mapping of numpy columns (what its file
readers produce), evidently a pandas DataFrame (what its API takes). Each measured run happens
in a fresh process (see :func:`run_child`) so that imports, caches and allocator state of one
run do not leak into the next; the child prints one JSON object on its last stdout line.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CREATED_AT = "2026-01-01T00:00:00Z"
LEVELS = np.array(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"], dtype=object)
LEVEL_SHARES = np.array([0.35, 0.25, 0.15, 0.10, 0.08, 0.05, 0.02])

# Drift kinds injected by the verdict-quality benchmark (None: no drift).
NUMERIC_DRIFTS = ("shift_0.1", "shift_0.25", "shift_0.5", "variance_x1.5")
CATEGORICAL_DRIFTS = ("share_change", "new_category")


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnPlan:
    """One generated column: its base distribution and the drift injected into the current side."""

    name: str
    kind: str  # "numeric" | "categorical"
    base: str  # numeric: normal | lognormal | gamma | uniform; categorical: levels
    drift: str | None = None


def server_setting(key: str, default: str) -> str:
    """``key`` from the environment, else from ``.cache/servers.env`` (``scripts/servers start``
    writes it), else ``default``."""
    if os.environ.get(key):
        return os.environ[key]
    env_file = Path(__file__).resolve().parents[1] / ".cache" / "servers.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            k, _, v = line.partition("=")
            if k.strip() == key:
                return v.strip()
    return default


def numeric_base(rng: np.random.Generator, base: str, n: int) -> np.ndarray:
    """Reference-distributed values of a numeric column."""
    if base == "normal":
        return rng.normal(50.0, 10.0, n)
    if base == "lognormal":
        return rng.lognormal(3.0, 0.5, n)
    if base == "gamma":
        return rng.gamma(2.0, 5.0, n)
    if base == "uniform":
        return rng.uniform(0.0, 100.0, n)
    raise ValueError(f"unknown numeric base {base!r}, expected normal, lognormal, gamma or uniform")


def _population_moments(base: str) -> tuple[float, float]:
    """Mean and standard deviation of a base distribution (drift is injected in these units)."""
    if base == "normal":
        return 50.0, 10.0
    if base == "lognormal":
        m = float(np.exp(3.0 + 0.125))
        return m, float(np.sqrt(np.exp(0.25) - 1.0) * m)
    if base == "gamma":
        return 10.0, float(np.sqrt(2.0) * 5.0)
    if base == "uniform":
        return 50.0, 100.0 / float(np.sqrt(12.0))
    raise ValueError(f"unknown numeric base {base!r}")


def make_column(rng: np.random.Generator, plan: ColumnPlan, n: int, *, current: bool) -> np.ndarray:
    """Values of one column; the plan's drift is applied only when ``current``."""
    drift = plan.drift if current else None
    if plan.kind == "numeric":
        x = numeric_base(rng, plan.base, n)
        mean, std = _population_moments(plan.base)
        if drift is not None and drift.startswith("shift_"):
            x = x + float(drift.removeprefix("shift_")) * std
        elif drift == "variance_x1.5":
            x = mean + (x - mean) * float(np.sqrt(1.5))
        elif drift is not None:
            raise ValueError(f"unknown numeric drift {drift!r}, expected one of {NUMERIC_DRIFTS}")
        return x
    shares = LEVEL_SHARES.copy()
    levels = LEVELS
    if drift == "share_change":
        shares[0] -= 0.10  # 35 % -> 25 %
        shares[2] += 0.10  # 15 % -> 25 %
    elif drift == "new_category":
        levels = np.append(LEVELS, "hotel")
        shares = np.append(LEVEL_SHARES * 0.9, 0.10)  # a level never seen in training takes 10 %
    elif drift is not None:
        raise ValueError(f"unknown categorical drift {drift!r}, expected one of {CATEGORICAL_DRIFTS}")
    return levels[rng.choice(levels.size, size=n, p=shares / shares.sum())]


def make_data(plans: list[ColumnPlan], n: int, seed: int, *, current: bool) -> dict[str, np.ndarray]:
    """A seeded table (name -> column); reference and current use different seeds."""
    rng = np.random.default_rng([seed, 1 if current else 0])
    return {p.name: make_column(rng, p, n, current=current) for p in plans}


def bench_plans(numeric: int = 15, categorical: int = 5) -> list[ColumnPlan]:
    """The check benchmark's table: no drift, mixed distributions (15 numeric, 5 categorical by default)."""
    bases = ("normal", "lognormal", "gamma", "uniform")
    plans = [
        ColumnPlan(name=f"num_{i:02d}", kind="numeric", base=bases[i % len(bases)]) for i in range(numeric)
    ]
    plans += [ColumnPlan(name=f"cat_{i:02d}", kind="categorical", base="levels") for i in range(categorical)]
    return plans


def to_frame(columns: Mapping[str, np.ndarray]) -> Any:
    import pandas as pd

    return pd.DataFrame(dict(columns))


def rss_kib() -> int:
    """Current resident set size of this process (KiB)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_rss_kib() -> int:
    """Peak resident set size of this process so far (KiB, Linux ``ru_maxrss``)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


@dataclass(frozen=True, slots=True, kw_only=True)
class Timed:
    wall_s: float
    cpu_s: float


def timed(fn: Callable[[], Any]) -> tuple[Any, Timed]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, Timed(wall_s=time.perf_counter() - t0, cpu_s=time.process_time() - c0)


def driftwarden_verdicts(ref: Mapping[str, np.ndarray], cur: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The in-memory ``check`` pipeline: profile the reference, sketch the current data, evaluate, serialise."""
    from detectors.evaluation import evaluate_window
    from detectors.profile import build_profile
    from monitor.report import to_json

    profile = build_profile(ref, created_at=CREATED_AT)
    sketch = profile.new_sketch()
    sketch.update(cur)
    result = evaluate_window(profile, sketch)
    doc = to_json(result)
    json.dumps(doc)
    return doc


def evidently_snapshot(ref_df: Any, cur_df: Any) -> Any:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    return Report([DataDriftPreset()]).run(cur_df, ref_df)


def evidently_verdicts(snapshot: Any) -> dict[str, dict[str, Any]]:
    """Per-column verdicts of a DataDriftPreset snapshot: ``{column: {method, value, threshold, drift}}``.

    Evidently's rule (``legacy/calculations/stattests``): p-value tests drift when the p-value is
    below the threshold (``<=`` for K-S), distances when the value is ``>=`` the threshold.
    """
    out: dict[str, dict[str, Any]] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        method = str(config.get("method"))
        value = float(metric["value"])
        threshold = float(config.get("threshold"))
        if "p_value" in method:
            drift = value <= threshold if method.startswith("K-S") else value < threshold
        else:
            drift = value >= threshold
        out[str(config["column"])] = {
            "method": method,
            "value": value,
            "threshold": threshold,
            "drift": drift,
        }
    return out


def run_child(args: list[str], *, timeout_s: float = 1800.0) -> dict[str, Any]:
    """Run ``python <script> <args>`` in a fresh process and parse the JSON on its last stdout line."""
    env = dict(
        os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1"
    )
    proc = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        cwd=str(REPO),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args!r} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return dict(json.loads(lines[-1]))
