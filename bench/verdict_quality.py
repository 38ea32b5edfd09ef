"""Verdict quality: driftwarden's ``check`` and evidently's DataDriftPreset on pairs with known drift.

Every *drift pair* is a reference and a current table whose columns each carry one known
change (or none) in the current side:

* numeric: mean shift of 0.1, 0.25 and 0.5 standard deviations, variance x1.5, and two
  columns without drift;
* categorical: a share change (35 % -> 25 % of the top level, 15 % -> 25 % of the third),
  a new level taking 10 % of the rows, and one column without drift.

Every *no-drift pair* has the same columns with no change at all. Base distributions of the
numeric columns (normal, lognormal, gamma, uniform) rotate with the pair's seed. Both tools
run with their defaults on the same in-memory data; a column counts as flagged when the tool's
per-column verdict says drift (driftwarden: ``features[col].drift_detected``; evidently: the
ValueDrift value against its threshold, with evidently's own comparison rule).

Usage::

    .venv/bin/python bench/verdict_quality.py                # 10k and 100k rows
    .venv/bin/python bench/verdict_quality.py --large        # also 1M rows (evidently: ~30 s a pair)
    .venv/bin/python bench/verdict_quality.py --sizes 10000 --pairs 10 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ColumnPlan,
    driftwarden_verdicts,
    evidently_snapshot,
    evidently_verdicts,
    make_data,
    timed,
    to_frame,
)

BASES = ("normal", "lognormal", "gamma", "uniform")
NUMERIC_COLUMNS: tuple[str | None, ...] = (
    "shift_0.1",
    "shift_0.25",
    "shift_0.5",
    "variance_x1.5",
    None,
    None,
)
CATEGORICAL_COLUMNS: tuple[str | None, ...] = ("share_change", "new_category", None)
DEFAULT_PAIRS = {10_000: 6, 100_000: 3, 1_000_000: 1}


def pair_plans(seed: int, *, drifted: bool) -> list[ColumnPlan]:
    plans = []
    for i, drift in enumerate(NUMERIC_COLUMNS):
        base = BASES[(i + seed) % len(BASES)]
        plans.append(
            ColumnPlan(
                name=f"num{i}_{drift or 'none'}", kind="numeric", base=base, drift=drift if drifted else None
            )
        )
    for i, drift in enumerate(CATEGORICAL_COLUMNS):
        plans.append(
            ColumnPlan(
                name=f"cat{i}_{drift or 'none'}",
                kind="categorical",
                base="levels",
                drift=drift if drifted else None,
            )
        )
    return plans


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One column of one pair, judged by both tools."""

    rows: int
    seed: int
    pair: str  # "drift" | "no_drift"
    column: str
    base: str
    drift: str | None
    dw_flag: bool
    dw_method: str
    dw_statistic: float | None
    ev_flag: bool
    ev_method: str
    ev_value: float


def run_pair(rows: int, seed: int, *, drifted: bool) -> tuple[list[Outcome], dict[str, Any]]:
    plans = pair_plans(seed, drifted=drifted)
    ref = make_data(plans, rows, seed, current=False)
    cur = make_data(plans, rows, seed, current=True)
    dw, t_dw = timed(lambda: driftwarden_verdicts(ref, cur))
    ref_df, cur_df = to_frame(ref), to_frame(cur)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        snap, t_ev = timed(lambda: evidently_snapshot(ref_df, cur_df))
        ev = evidently_verdicts(snap)
    out = []
    for p in plans:
        f = dw["features"][p.name]
        e = ev[p.name]
        out.append(
            Outcome(
                rows=rows,
                seed=seed,
                pair="drift" if drifted else "no_drift",
                column=p.name,
                base=p.base,
                drift=p.drift,
                dw_flag=bool(f["drift_detected"]),
                dw_method=str(f["method"]),
                dw_statistic=f["statistic"],
                ev_flag=bool(e["drift"]),
                ev_method=str(e["method"]),
                ev_value=float(e["value"]),
            )
        )
    ev_share = sum(1 for v in ev.values() if v["drift"]) / len(ev) if ev else 0.0
    meta = {
        "rows": rows,
        "seed": seed,
        "pair": "drift" if drifted else "no_drift",
        "dw_dataset_drift": bool(dw["drift_detected"]),
        "ev_dataset_drift": ev_share >= 0.5,  # DataDriftPreset's default drift_share
        "dw_seconds": t_dw.wall_s,
        "ev_seconds": t_ev.wall_s,
    }
    return out, meta


def _rate(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)}"


def _pr(outcomes: list[Outcome], key: str) -> tuple[str, str, int]:
    tp = sum(1 for o in outcomes if o.drift is not None and getattr(o, key))
    fp = sum(1 for o in outcomes if o.drift is None and getattr(o, key))
    fn = sum(1 for o in outcomes if o.drift is not None and not getattr(o, key))
    precision = f"{tp / (tp + fp):.2f}" if tp + fp else "n/a"
    recall = f"{tp / (tp + fn):.2f}" if tp + fn else "n/a"
    return precision, recall, fp


def _mean(xs: list[float | None]) -> str:
    vals = [x for x in xs if x is not None]
    return f"{sum(vals) / len(vals):.3f}" if vals else "n/a"


def markdown(outcomes: list[Outcome], metas: list[dict[str, Any]]) -> str:
    sizes = sorted({o.rows for o in outcomes})
    lines = [
        "Per drift kind: columns flagged / columns (drift pairs), mean statistic "
        "(driftwarden: wasserstein in reference std / jensenshannon base 2; "
        "evidently: Wasserstein normed / Jensen-Shannon, natural log; thresholds 0.1 both).",
        "",
        "| rows | drift | driftwarden flagged | evidently flagged | driftwarden mean stat | evidently mean stat |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    kinds = [k for k in NUMERIC_COLUMNS + CATEGORICAL_COLUMNS if k is not None]
    for n in sizes:
        for kind in [*kinds, None]:
            sel = [o for o in outcomes if o.rows == n and o.pair == "drift" and o.drift == kind]
            if not sel:
                continue
            label = kind or "none (drift pairs)"
            lines.append(
                f"| {n:,} | {label} | {_rate([o.dw_flag for o in sel])} | {_rate([o.ev_flag for o in sel])} | "
                f"{_mean([o.dw_statistic for o in sel])} | {_mean([o.ev_value for o in sel])} |"
            )
    lines += [
        "",
        "Per-feature precision / recall over all pairs (a flagged column without injected drift is a false alarm):",
        "",
        "| rows | pairs | driftwarden precision | driftwarden recall | evidently precision | evidently recall | "
        "driftwarden false alarms (no-drift pairs) | evidently false alarms (no-drift pairs) | "
        "dataset drift on no-drift pairs (dw / ev) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        sel = [o for o in outcomes if o.rows == n]
        clean = [o for o in sel if o.pair == "no_drift"]
        dp, dr, _ = _pr(sel, "dw_flag")
        ep, er, _ = _pr(sel, "ev_flag")
        n_pairs = len({(o.seed, o.pair) for o in sel})
        m = [x for x in metas if x["rows"] == n and x["pair"] == "no_drift"]
        lines.append(
            f"| {n:,} | {n_pairs} | {dp} | {dr} | {ep} | {er} | "
            f"{sum(o.dw_flag for o in clean)}/{len(clean)} | {sum(o.ev_flag for o in clean)}/{len(clean)} | "
            f"{sum(x['dw_dataset_drift'] for x in m)}/{len(m)} / {sum(x['ev_dataset_drift'] for x in m)}/{len(m)} |"
        )
    misses = [o for o in outcomes if o.drift is not None and o.ev_flag and not o.dw_flag]
    alarms = [o for o in outcomes if o.drift is None and o.dw_flag]
    lines += ["", "Where driftwarden misses the target:", ""]
    if not misses and not alarms:
        lines.append(
            "- nowhere: no false alarm, and every drift evidently flagged was flagged by driftwarden too."
        )
    for o in misses:
        lines.append(
            f"- missed, evidently flagged: rows={o.rows:,} seed={o.seed} {o.column} ({o.base}, {o.drift}): "
            f"driftwarden {o.dw_method}={o.dw_statistic}, evidently {o.ev_method}={o.ev_value:.4f}"
        )
    for o in alarms:
        lines.append(
            f"- false alarm: rows={o.rows:,} seed={o.seed} pair={o.pair} {o.column} ({o.base}): "
            f"driftwarden {o.dw_method}={o.dw_statistic}"
        )
    gains = [o for o in outcomes if o.drift is not None and o.dw_flag and not o.ev_flag]
    if gains:
        lines += ["", f"Drifts flagged by driftwarden only: {len(gains)} ("]
        lines[-1] += ", ".join(f"{o.rows:,}/{o.drift}/{o.base}" for o in gains) + ")"
    secs = defaultdict(lambda: [0.0, 0.0])
    for x in metas:
        secs[x["rows"]][0] += x["dw_seconds"]
        secs[x["rows"]][1] += x["ev_seconds"]
    lines += [
        "",
        "Wall time spent (all pairs): "
        + "; ".join(
            f"{n:,} rows: driftwarden {a:.1f} s, evidently {b:.1f} s" for n, (a, b) in sorted(secs.items())
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated row counts")
    ap.add_argument("--large", action="store_true", help="add 1M rows (slow: evidently)")
    ap.add_argument("--pairs", type=int, help="drift pairs and no-drift pairs per size (default 6 / 3 / 1)")
    ap.add_argument("--seed", type=int, default=100, help="first seed")
    ap.add_argument("--json", action="store_true", help="also print every outcome as JSON")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.large and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    outcomes: list[Outcome] = []
    metas: list[dict[str, Any]] = []
    run_pair(2000, 0, drifted=True)  # warm-up: imports and first-call costs of both tools are not timed
    for n in sizes:
        pairs = args.pairs or DEFAULT_PAIRS.get(n, 2)
        for k in range(pairs):
            for drifted in (True, False):
                out, meta = run_pair(n, args.seed + k, drifted=drifted)
                outcomes += out
                metas.append(meta)
                print(
                    f"# rows={n} seed={args.seed + k} {'drift' if drifted else 'no-drift'}: "
                    f"driftwarden {sum(o.dw_flag for o in out)} flagged ({meta['dw_seconds']:.2f} s), "
                    f"evidently {sum(o.ev_flag for o in out)} flagged ({meta['ev_seconds']:.2f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    print(markdown(outcomes, metas))
    if args.json:
        print(json.dumps({"outcomes": [asdict(o) for o in outcomes], "pairs": metas}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
