"""``check`` versus evidently's DataDriftPreset report on the same in-memory data.

Each run happens in a fresh Python process (this script re-invoked with ``--child``), which
generates the seeded data itself, so timings include no data transfer and memory peaks
belong to one tool only. Measured per run:

* wall and CPU time of the tool's work only (data generation excluded). driftwarden: build the
  profile from the reference (type inference, quantile edges, level counts, reference sketch),
  sketch the current data, evaluate and serialise the JSON result. evidently:
  ``Report([DataDriftPreset()]).run(current, reference)`` and ``snapshot.dict()``;
* peak RSS of the process (``ru_maxrss``) and the RSS after generating the data, whose
  difference is the tool's own working memory;
* driftwarden's sketching throughput: values sketched per CPU-second (one thread, so per core),
  for the current window (``WindowSketch.update``) and for the whole profile build.

Data: 20 columns (15 numeric of four shapes, 5 categorical with 7 levels), no drift, seeded.
Threads of BLAS/OpenMP are pinned to 1 in the children for both tools.

Usage::

    .venv/bin/python bench/check_bench.py                 # 100k and 1M rows (evidently ~1 min at 1M)
    .venv/bin/python bench/check_bench.py --quick         # 10k and 100k rows
    .venv/bin/python bench/check_bench.py --sizes 1000000 --repeat 5 --json
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    CREATED_AT,
    bench_plans,
    evidently_snapshot,
    make_data,
    peak_rss_kib,
    rss_kib,
    run_child,
    timed,
    to_frame,
)

SCRIPT = str(Path(__file__).resolve())


def child_driftwarden(rows: int, seed: int, numeric: int, categorical: int) -> dict[str, Any]:
    import numpy as np

    from detectors.evaluation import evaluate_window
    from detectors.inference import infer_column_type
    from detectors.profile import build_profile
    from monitor.report import to_json

    plans = bench_plans(numeric, categorical)
    ref = make_data(plans, rows, seed, current=False)
    cur = make_data(plans, rows, seed, current=True)
    gc.collect()
    base_kib = rss_kib()
    profile, t_profile = timed(lambda: build_profile(ref, created_at=CREATED_AT))
    sketch = profile.new_sketch()
    _, t_sketch = timed(lambda: sketch.update(cur))
    result, t_eval = timed(lambda: evaluate_window(profile, sketch))
    _, t_json = timed(lambda: json.dumps(to_json(result)))
    peak_kib = peak_rss_kib()
    # Not part of the check: how much of the profile time is column type inference.
    _, t_infer = timed(lambda: [infer_column_type(np.asarray(v)) for v in ref.values()])
    n_values = rows * len(plans)
    phases = {"profile": t_profile, "sketch": t_sketch, "evaluate": t_eval, "json": t_json}
    return {
        "tool": "driftwarden",
        "rows": rows,
        "wall_s": sum(t.wall_s for t in phases.values()),
        "cpu_s": sum(t.cpu_s for t in phases.values()),
        "phases": {k: asdict(v) for k, v in phases.items()},
        "infer_cpu_s": t_infer.cpu_s,
        "base_rss_mib": base_kib / 1024,
        "peak_rss_mib": peak_kib / 1024,
        "sketch_values_per_cpu_s": n_values / t_sketch.cpu_s if t_sketch.cpu_s > 0 else float("inf"),
        "profile_values_per_cpu_s": n_values / t_profile.cpu_s if t_profile.cpu_s > 0 else float("inf"),
        "drifted": sorted(k for k, v in result.features.items() if v.drift_detected),
    }


def child_evidently(rows: int, seed: int, numeric: int, categorical: int) -> dict[str, Any]:
    import warnings

    warnings.filterwarnings("ignore")
    import evidently  # noqa: F401  (import cost is not part of the run)
    from _common import evidently_verdicts
    from evidently import Report  # noqa: F401
    from evidently.presets import DataDriftPreset  # noqa: F401

    plans = bench_plans(numeric, categorical)
    ref_df = to_frame(make_data(plans, rows, seed, current=False))
    cur_df = to_frame(make_data(plans, rows, seed, current=True))
    gc.collect()
    base_kib = rss_kib()

    def run() -> Any:
        snapshot = evidently_snapshot(ref_df, cur_df)
        snapshot.dict()
        return snapshot

    snapshot, t = timed(run)
    peak_kib = peak_rss_kib()
    verdicts = evidently_verdicts(snapshot)
    return {
        "tool": "evidently",
        "rows": rows,
        "wall_s": t.wall_s,
        "cpu_s": t.cpu_s,
        "base_rss_mib": base_kib / 1024,
        "peak_rss_mib": peak_kib / 1024,
        "drifted": sorted(k for k, v in verdicts.items() if v["drift"]),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Best:
    tool: str
    rows: int
    runs: list[dict[str, Any]]

    def min(self, key: str) -> float:
        return min(float(r[key]) for r in self.runs)

    @property
    def fastest(self) -> dict[str, Any]:
        return min(self.runs, key=lambda r: float(r["wall_s"]))


def _fmt_rate(v: float) -> str:
    return f"{v / 1e6:.1f} M"


def markdown(results: list[Best], numeric: int, categorical: int) -> str:
    cols = numeric + categorical
    out = [
        f"Data: {cols} columns ({numeric} numeric, {categorical} categorical), reference and current of equal size, "
        "no drift. Times: minimum over runs, each in a fresh process; memory: peak RSS of the run with the "
        "lowest wall time, and the part above the RSS holding the generated data.",
        "",
        "| rows | tool | runs | wall s | CPU s | peak RSS MiB | RSS above data MiB | columns flagged |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for b in results:
        f = b.fastest
        out.append(
            f"| {b.rows:,} | {b.tool} | {len(b.runs)} | {b.min('wall_s'):.2f} | {b.min('cpu_s'):.2f} | "
            f"{f['peak_rss_mib']:.0f} | {f['peak_rss_mib'] - f['base_rss_mib']:.0f} | {len(f['drifted'])} |"
        )
    by_rows: dict[int, dict[str, Best]] = {}
    for b in results:
        by_rows.setdefault(b.rows, {})[b.tool] = b
    ratio_lines = []
    for rows, tools in sorted(by_rows.items()):
        if "driftwarden" in tools and "evidently" in tools:
            d, e = tools["driftwarden"], tools["evidently"]
            d_extra = d.fastest["peak_rss_mib"] - d.fastest["base_rss_mib"]
            e_extra = e.fastest["peak_rss_mib"] - e.fastest["base_rss_mib"]
            ratio_lines.append(
                f"| {rows:,} | {e.min('wall_s') / d.min('wall_s'):.1f}x | {e.min('cpu_s') / d.min('cpu_s'):.1f}x | "
                f"{e.fastest['peak_rss_mib'] / d.fastest['peak_rss_mib']:.1f}x | "
                f"{e_extra / max(d_extra, 1.0):.1f}x |"
            )
    if ratio_lines:
        out += [
            "",
            "Ratios evidently / driftwarden (higher is better for driftwarden):",
            "",
            "| rows | wall | CPU | peak RSS | RSS above data |",
            "|---:|---:|---:|---:|---:|",
            *ratio_lines,
        ]
    dw = [b for b in results if b.tool == "driftwarden"]
    if dw:
        out += [
            "",
            "driftwarden phases (CPU s, fastest run) and sketching throughput (values per CPU-second, one thread):",
            "",
            "| rows | profile | of which type inference | sketch current | evaluate | JSON | "
            "sketch values/s/core | profile values/s/core |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for b in dw:
            f = b.fastest
            ph = f["phases"]
            out.append(
                f"| {b.rows:,} | {ph['profile']['cpu_s']:.3f} | {f['infer_cpu_s']:.3f} | {ph['sketch']['cpu_s']:.3f} | "
                f"{ph['evaluate']['cpu_s']:.3f} | {ph['json']['cpu_s']:.4f} | "
                f"{_fmt_rate(max(r['sketch_values_per_cpu_s'] for r in b.runs))} | "
                f"{_fmt_rate(max(r['profile_values_per_cpu_s'] for r in b.runs))} |"
            )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes", default="100000,1000000", help="comma-separated row counts (default 100k and 1M)"
    )
    ap.add_argument("--quick", action="store_true", help="10k and 100k rows")
    ap.add_argument(
        "--repeat", type=int, default=3, help="fresh-process runs of driftwarden per size (min is kept)"
    )
    ap.add_argument(
        "--evidently-repeat", type=int, default=1, help="fresh-process runs of evidently per size"
    )
    ap.add_argument("--skip-evidently", action="store_true")
    ap.add_argument("--numeric", type=int, default=15)
    ap.add_argument("--categorical", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="also print all raw results as JSON")
    ap.add_argument("--child", choices=["driftwarden", "evidently"], help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        fn = child_driftwarden if args.child == "driftwarden" else child_evidently
        print(json.dumps(fn(args.rows, args.seed, args.numeric, args.categorical)))
        return 0
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    results: list[Best] = []
    common = [
        "--seed",
        str(args.seed),
        "--numeric",
        str(args.numeric),
        "--categorical",
        str(args.categorical),
    ]
    for rows in sizes:
        tools = [("driftwarden", args.repeat)]
        if not args.skip_evidently:
            tools.append(("evidently", args.evidently_repeat))
        for tool, repeat in tools:
            runs = []
            for i in range(max(repeat, 1)):
                r = run_child([SCRIPT, "--child", tool, "--rows", str(rows), *common])
                print(
                    f"# {tool} rows={rows} run={i + 1}: wall {r['wall_s']:.2f} s, cpu {r['cpu_s']:.2f} s, "
                    f"peak {r['peak_rss_mib']:.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
                runs.append(r)
            results.append(Best(tool=tool, rows=rows, runs=runs))
    print(markdown(results, args.numeric, args.categorical))
    if args.json:
        print(json.dumps([asdict(b) for b in results], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
