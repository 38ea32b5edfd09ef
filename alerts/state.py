"""Alert identity and the per-alert state kept in the store."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from alerts.finding import Finding, Kind, Severity, check_kind

Status = Literal["inactive", "pending", "firing", "resolved"]
NotifiedStatus = Literal["firing", "resolved"]
Mute = Literal["silence", "inhibition"]


@dataclass(frozen=True, slots=True, order=True)
class AlertKey:
    """Identity of an alert: ``(monitor, kind, subject)``.

    For quality alerts the subject is ``"<column>:<check>"`` (``"*:<check>"``
    for dataset-level checks), so two checks on one column are two alerts.
    """

    monitor: str
    kind: Kind
    subject: str

    def __post_init__(self) -> None:
        check_kind(self.kind)

    def __str__(self) -> str:
        return f"{self.monitor}/{self.kind}/{self.subject}"

    @property
    def column(self) -> str:
        """The column (or feature) the alert is about: the subject without a quality check suffix."""
        if self.kind == "quality":
            return self.subject.rsplit(":", 1)[0]
        return self.subject

    @classmethod
    def of(cls, finding: Finding) -> AlertKey:
        """Return the key of ``finding``."""
        return cls(finding.monitor, finding.kind, finding.key_subject)

    @classmethod
    def parse(cls, text: str) -> AlertKey:
        """Parse ``"monitor/kind/subject"`` (the ``str()`` form)."""
        parts = text.split("/", 2)
        if len(parts) != 3:
            raise ValueError(f"alert key must look like 'monitor/kind/subject', got {text!r}")
        return cls(parts[0], check_kind(parts[1]), parts[2])


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertState:
    """State of one alert after some window.

    Attributes
    ----------
    key:
        The alert's identity.
    status:
        ``pending`` (flagged, fewer than ``consecutive_windows`` in a row),
        ``firing``, ``resolved`` or ``inactive`` (was pending, then cleared).
    severity:
        Severity of the latest finding of this episode.
    flagged_streak, clear_streak:
        Windows in a row with / without a finding.
    since:
        When the current episode's first flagged window was evaluated.
    since_window:
        Index of that window.
    last_window_index:
        Index of the last window that updated this state.
    finding:
        The latest finding of this episode (kept while firing on clear windows).
    muted:
        Why notifications are suppressed in the last window, if they are.
    last_notified_at, last_notified_status, last_notified_severity:
        Bookkeeping of the last notification decided for this alert
        (the outbox guarantees its delivery).
    """

    key: AlertKey
    status: Status
    severity: Severity = "warning"
    flagged_streak: int = 0
    clear_streak: int = 0
    since: datetime | None = None
    since_window: int | None = None
    last_window_index: int | None = None
    finding: Finding | None = None
    muted: Mute | None = None
    last_notified_at: datetime | None = None
    last_notified_status: NotifiedStatus | None = None
    last_notified_severity: Severity | None = None

    def with_changes(self, **changes: object) -> AlertState:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)  # type: ignore[arg-type]
