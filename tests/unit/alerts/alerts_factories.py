"""Builders shared by the alerts unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts import Finding, HistoryPoint, WindowEvaluation

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MONITOR = "fraud"


def at(window: int, *, step: timedelta = timedelta(hours=1)) -> datetime:
    """Evaluation time of window ``window`` (one per hour from T0)."""
    return T0 + step * window


def drift(
    subject: str = "age", *, severity: str = "warning", statistic: float = 0.21, monitor: str = MONITOR
) -> Finding:
    return Finding(
        monitor=monitor,
        kind="data_drift",
        subject=subject,
        severity=severity,  # type: ignore[arg-type]
        method="wasserstein",
        statistic=statistic,
        threshold=0.1,
    )


def quality(column: str = "income", check: str = "missing_rate", *, severity: str = "critical") -> Finding:
    return Finding(
        monitor=MONITOR,
        kind="quality",
        subject=column,
        severity=severity,  # type: ignore[arg-type]
        method=check,
        statistic=0.31,
        threshold=0.05,
    )


def window(
    index: int, *findings: Finding, evaluated_at: datetime | None = None, **extra: object
) -> WindowEvaluation:
    history = extra.pop("history", None)
    if history is None:
        history = {
            f.subject: tuple(
                HistoryPoint(window_index=i, statistic=0.05 + 0.02 * (i % 7), threshold=f.threshold)
                for i in range(max(0, index - 9), index + 1)
            )
            for f in findings
            if f.statistic is not None
        }
    return WindowEvaluation(
        monitor=extra.pop("monitor", MONITOR),  # type: ignore[arg-type]
        window={
            "index": index,
            "first_row": index * 5000,
            "last_row": index * 5000 + 4999,
            "start": (T0 + timedelta(hours=index)).isoformat().replace("+00:00", "Z"),
            "end": (T0 + timedelta(hours=index + 1)).isoformat().replace("+00:00", "Z"),
        },
        findings=tuple(findings),
        evaluated_at=evaluated_at or at(index),
        history=history,
        **extra,  # type: ignore[arg-type]
    )
