"""The one serializer of window results: exactly the DESIGN.md JSON contract, and a text table."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from detectors.quality import QualityIssue
from detectors.result import ColumnDrift, PerformanceVerdict, WindowInfo, WindowResult


def _num(x: float | None) -> float | None:
    """NaN and infinities become null; everything else a plain float."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def rfc3339(epoch_s: float | None) -> str | None:
    """Epoch seconds as RFC 3339 UTC with a ``Z`` suffix (``None`` stays ``None``)."""
    if epoch_s is None or not math.isfinite(epoch_s):
        return None
    try:
        dt = datetime.fromtimestamp(epoch_s, tz=UTC)
    except (ValueError, OverflowError, OSError):  # outside years 1..9999: not an RFC 3339 time
        return None
    # %Y does not zero-pad years before 1000 on every platform; RFC 3339 needs four digits
    text = f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}"
    return f"{text}.{dt.microsecond:06d}Z" if dt.microsecond else f"{text}Z"


def _column(c: ColumnDrift) -> dict[str, Any]:
    return {
        "type": c.type,
        "method": c.method,
        "statistic": _num(c.statistic),
        "p_value": _num(c.p_value),
        "threshold": _num(c.threshold),
        "drift_detected": bool(c.drift_detected),
    }


def _performance(p: PerformanceVerdict) -> dict[str, Any]:
    return {
        "metric": p.metric,
        "value": _num(p.value),
        "reference": _num(p.reference),
        "drift_detected": bool(p.drift_detected),
    }


def _issue(i: QualityIssue) -> dict[str, Any]:
    return {
        "column": i.column,
        "check": i.check,
        "value": _num(i.value),
        "threshold": _num(i.threshold),
        "severity": i.severity,
    }


def window_json(w: WindowInfo) -> dict[str, Any]:
    return {
        "index": w.index,
        "first_row": w.first_row,
        "last_row": w.last_row,
        "start": rfc3339(w.start),
        "end": rfc3339(w.end),
    }


def to_json(result: WindowResult) -> dict[str, Any]:
    """The contract object; includes ``window`` when the result belongs to a window."""
    out: dict[str, Any] = {
        "drift_detected": bool(result.drift_detected),
        "drift_share": _num(result.drift_share()),
        "rows": int(result.rows),
    }
    if result.window is not None:
        out["window"] = window_json(result.window)
    out["features"] = {name: _column(c) for name, c in result.features.items()}
    out["prediction"] = _column(result.prediction) if result.prediction else None
    out["target"] = _column(result.target) if result.target else None
    out["performance"] = _performance(result.performance) if result.performance else None
    out["concept"] = (
        {
            "method": result.concept.method,
            "drift_detected": bool(result.concept.drift_detected),
            "detail": result.concept.detail,
        }
        if result.concept
        else None
    )
    out["quality"] = {"issues": [_issue(i) for i in result.quality]}
    if result.multivariate is not None:  # only when asked for (--multivariate): not in the default contract
        out["multivariate"] = {
            name: {
                "method": r.method,
                "statistic": _num(r.statistic),
                "p_value": _num(r.p_value),
                "threshold": _num(r.threshold),
                "drift_detected": bool(r.drift_detected),
            }
            for name, r in result.multivariate.items()
        }
    return out


_BARS = " ▁▂▃▄▅▆▇█"


def _bar(ratio: float | None, width: int = 10) -> str:
    """A bar of statistic/threshold: full width at 2x the threshold; '|' marks the threshold."""
    if ratio is None or not math.isfinite(ratio):
        return " " * width
    filled = max(0.0, min(ratio / 2.0, 1.0)) * width
    full = int(filled)
    cells = ["█"] * full
    if full < width:
        cells.append(_BARS[int((filled - full) * (len(_BARS) - 1))])
    cells += [" "] * (width - len(cells))
    mid = width // 2
    if cells[mid] == " ":
        cells[mid] = "|"
    return "".join(cells[:width])


def _fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3g}"
    return f"{x:.4f}"


def _severity_ratio(c: ColumnDrift) -> float | None:
    if c.p_value is not None:
        # for p-value tests, small p is severe: show threshold/p (capped)
        return min(c.threshold / max(c.p_value, 1e-12), 4.0)
    if c.statistic is None or c.threshold <= 0:
        return None
    return c.statistic / c.threshold


def to_text(result: WindowResult) -> str:
    """A readable summary: verdict line, drifted columns first, then quality issues."""
    lines: list[str] = []
    w = result.window
    head = "DRIFT" if result.drift_detected else "no drift"
    where = ""
    if w is not None:
        where = f"window {w.index} rows {w.first_row}-{w.last_row}"
        if w.start is not None:
            where += f" [{rfc3339(w.start)} .. {rfc3339(w.end)})"
        where += ": "
    n_drift = sum(1 for f in result.features.values() if f.drift_detected)
    lines.append(
        f"{where}{head} — {n_drift}/{len(result.features)} features drifted "
        f"(share {result.drift_share():.2f}), {result.rows} rows"
    )
    cols = list(result.features.values())
    extra = [("prediction", result.prediction), ("target", result.target)]
    cols_sorted = sorted(cols, key=lambda c: (not c.drift_detected, -(_severity_ratio(c) or 0.0), c.name))
    rows: list[tuple[str, ...]] = []
    for label, c in [(c.name, c) for c in cols_sorted] + [(f"<{k}> {c.name}", c) for k, c in extra if c]:
        rows.append(
            (
                "!" if c.drift_detected else " ",
                label,
                c.type[:4],
                c.method,
                _fmt(c.statistic),
                _fmt(c.p_value),
                _fmt(c.threshold),
                _bar(_severity_ratio(c)),
            )
        )
    if rows:
        header = ("", "column", "type", "method", "statistic", "p_value", "threshold", "vs threshold")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for r in [header, *rows]:
            lines.append("  " + "  ".join(v.ljust(widths[i]) for i, v in enumerate(r)).rstrip())
    if result.performance:
        p = result.performance
        lines.append(
            f"performance: {p.metric} {_fmt(p.value)} vs reference {_fmt(p.reference)}"
            + (" — DEGRADED" if p.drift_detected else "")
        )
    if result.concept:
        lines.append(
            f"concept: {result.concept.method} {'DRIFT' if result.concept.drift_detected else 'stable'}"
            + (f" — {result.concept.detail}" if result.concept.detail else "")
        )
    for name, r in (result.multivariate or {}).items():
        lines.append(
            f"multivariate: {name} {_fmt(r.statistic)} vs threshold {_fmt(r.threshold)}"
            + (" — DRIFT" if r.drift_detected else "")
        )
    if result.quality:
        lines.append(f"quality issues ({len(result.quality)}):")
        for i in sorted(result.quality, key=lambda i: (i.severity != "critical", i.column or "", i.check)):
            lines.append(
                f"  [{i.severity}] {i.column or '(window)'}: {i.check} {_fmt(i.value)} > {_fmt(i.threshold)}"
                + (f" — {i.detail}" if i.detail else "")
            )
    else:
        lines.append("quality: no issues")
    return "\n".join(lines)
