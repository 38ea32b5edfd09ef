"""Routing: which sink gets which alerts, grouped into one notification per window."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from alerts.finding import KINDS, Kind, Severity, WindowEvaluation, check_kind, check_severity, severity_rank
from alerts.notification import AlertEntry, Notification, make_event_id
from alerts.policy import Decision

GroupBy = Literal["window", "kind"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SinkRoute:
    """The routing filters of one sink (``[sinks.<name>]``).

    Attributes
    ----------
    sink:
        Sink name.
    kinds:
        Kinds this sink receives (all by default).
    min_severity:
        Lowest severity this sink receives (``"warning"`` by default).
    group_by:
        ``"window"``: one notification per window and status with every kind
        (Slack, log); ``"kind"``: one per window, kind and status (webhook:
        the contract's body has a single ``kind``).
    """

    sink: str
    kinds: frozenset[Kind] = frozenset(KINDS)
    min_severity: Severity = "warning"
    group_by: GroupBy = "window"

    def __post_init__(self) -> None:
        for kind in self.kinds:
            check_kind(kind)
        check_severity(self.min_severity)
        if self.group_by not in ("window", "kind"):
            raise ValueError(f"group_by must be 'window' or 'kind', got {self.group_by!r}")

    def accepts(self, entry: AlertEntry) -> bool:
        """True when ``entry`` passes this sink's kind and severity filters."""
        return entry.kind in self.kinds and severity_rank(entry.severity) >= severity_rank(self.min_severity)


def _entry(decision: Decision) -> AlertEntry:
    state = decision.state
    finding = state.finding
    resolved = state.status == "resolved"
    severity = (state.last_notified_severity or state.severity) if resolved else state.severity
    subject = finding.subject if finding is not None else state.key.column
    return AlertEntry(
        key=state.key,
        status="resolved" if resolved else "firing",
        severity=severity,
        reason=decision.reason,
        subject=subject,
        method=finding.method if finding else None,
        statistic=finding.statistic if finding else None,
        threshold=finding.threshold if finding else None,
        p_value=finding.p_value if finding else None,
        reference=finding.reference if finding else None,
        detail=finding.detail if finding else "",
        since=state.since,
        since_window=state.since_window,
    )


def _sort_key(entry: AlertEntry) -> tuple[int, int, float, str]:
    stat = entry.statistic if entry.statistic is not None else 0.0
    threshold = entry.threshold or 0.0
    excess = stat / threshold if threshold else stat
    return (-severity_rank(entry.severity), KINDS.index(entry.kind), -excess, entry.key.subject)


def build_notifications(
    evaluation: WindowEvaluation,
    decisions: Iterable[Decision],
    routes: Iterable[SinkRoute],
) -> tuple[tuple[str, Notification], ...]:
    """Group the notifying decisions of one window into ``(sink, notification)`` pairs.

    Each route receives at most one notification per status (``group_by="window"``)
    or per kind and status (``group_by="kind"``), with the alerts that pass its
    filters, most severe and most exceeded first.
    """
    entries = sorted((_entry(d) for d in decisions if d.reason.notifies), key=_sort_key)
    out: list[tuple[str, Notification]] = []
    for route in routes:
        accepted = [e for e in entries if route.accepts(e)]
        groups: dict[tuple[str, str], list[AlertEntry]] = {}
        for entry in accepted:
            key: tuple[str, str] = ("window" if route.group_by == "window" else entry.kind, entry.status)
            groups.setdefault(key, []).append(entry)
        for (group, status), members in groups.items():
            subjects = {e.subject for e in members}
            out.append(
                (
                    route.sink,
                    Notification(
                        event_id=make_event_id(evaluation.monitor, group, evaluation.window_index, status),
                        monitor=evaluation.monitor,
                        model=evaluation.model,
                        group=group,
                        status=status,  # type: ignore[arg-type]
                        window=evaluation.window,
                        alerts=tuple(members),
                        created_at=evaluation.evaluated_at,
                        report_url=evaluation.report_url,
                        dashboard_url=evaluation.dashboard_url,
                        history={s: p for s, p in evaluation.history.items() if s in subjects},
                    ),
                )
            )
    return tuple(out)
