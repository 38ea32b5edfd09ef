"""The notification: what the outbox stores and every sink renders."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal

from alerts.errors import PayloadError
from alerts.finding import HistoryPoint, Kind, Severity, check_kind, check_severity
from alerts.reason import NotifyReason
from alerts.state import AlertKey, NotifiedStatus

Group = Kind | Literal["window"]
PAYLOAD_VERSION = 1


def make_event_id(monitor: str, group: str, window_index: int, status: str) -> str:
    """Return the stable event id of ``(monitor, group, window index, status)``.

    The same inputs give the same id in every process, so a notification that
    is re-enqueued or re-sent after a crash keeps its ``Idempotency-Key``.
    """
    text = "\x1f".join((monitor, group, str(window_index), status))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` suffix, second precision unless there are microseconds."""
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time` (accepts any ISO 8601 with an offset or ``Z``)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEntry:
    """One alert inside a notification."""

    key: AlertKey
    status: NotifiedStatus
    severity: Severity
    reason: NotifyReason
    subject: str
    method: str | None = None
    statistic: float | None = None
    threshold: float | None = None
    p_value: float | None = None
    reference: float | None = None
    detail: str = ""
    since: datetime | None = None
    since_window: int | None = None

    @property
    def kind(self) -> Kind:
        """The alert's kind."""
        return self.key.kind

    def subject_json(self) -> dict[str, Any]:
        """The ``subjects[]`` member of the webhook contract."""
        if self.kind == "quality":
            return {
                "name": self.subject,
                "check": self.method,
                "value": _number(self.statistic),
                "threshold": _number(self.threshold),
                "severity": self.severity,
            }
        out: dict[str, Any] = {
            "name": self.subject,
            "method": self.method,
            "statistic": _number(self.statistic),
            "threshold": _number(self.threshold),
            "severity": self.severity,
        }
        if self.p_value is not None:
            out["p_value"] = _number(self.p_value)
        if self.reference is not None:
            out["reference"] = _number(self.reference)
        return out

    def to_json(self) -> dict[str, Any]:
        """Lossless JSON form (the outbox payload)."""
        return {
            "key": str(self.key),
            "status": self.status,
            "severity": self.severity,
            "reason": self.reason.value,
            "subject": self.subject,
            "method": self.method,
            "statistic": _number(self.statistic),
            "threshold": _number(self.threshold),
            "p_value": _number(self.p_value),
            "reference": _number(self.reference),
            "detail": self.detail,
            "since": format_time(self.since) if self.since else None,
            "since_window": self.since_window,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertEntry:
        """Inverse of :meth:`to_json`."""
        return cls(
            key=AlertKey.parse(data["key"]),
            status=data["status"],
            severity=check_severity(data["severity"]),
            reason=NotifyReason(data["reason"]),
            subject=data["subject"],
            method=data.get("method"),
            statistic=data.get("statistic"),
            threshold=data.get("threshold"),
            p_value=data.get("p_value"),
            reference=data.get("reference"),
            detail=data.get("detail", ""),
            since=parse_time(data["since"]) if data.get("since") else None,
            since_window=data.get("since_window"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One message to one sink: the alerts of one window, monitor, group and status.

    Attributes
    ----------
    event_id:
        Stable id (:func:`make_event_id`); the webhook ``Idempotency-Key``.
    monitor, model:
        Monitor name and (optional) model name.
    group:
        ``"window"`` when every kind of the window is in this one message
        (Slack, log), else the single kind (webhook: one kind per event).
    status:
        ``firing`` or ``resolved``.
    window:
        The ``window`` member of the JSON contract.
    alerts:
        The alerts notified, most severe first.
    created_at:
        When the window was evaluated.
    history:
        Recent statistics of the notified subjects (oldest first) for plots.
    test:
        True for :func:`alerts.send_test_notification`.
    """

    event_id: str
    monitor: str
    group: str
    status: NotifiedStatus
    window: Mapping[str, Any]
    alerts: tuple[AlertEntry, ...]
    created_at: datetime
    model: str | None = None
    report_url: str | None = None
    dashboard_url: str | None = None
    history: Mapping[str, tuple[HistoryPoint, ...]] = field(default_factory=dict)
    test: bool = False

    def __post_init__(self) -> None:
        if self.group != "window":
            check_kind(self.group)
        if self.status not in ("firing", "resolved"):
            raise ValueError(f"status must be 'firing' or 'resolved', got {self.status!r}")
        if not self.alerts:
            raise ValueError("a notification needs at least one alert, got none")
        object.__setattr__(self, "window", MappingProxyType(dict(self.window)))
        object.__setattr__(self, "history", MappingProxyType(dict(self.history)))

    @property
    def severity(self) -> Severity:
        """The highest severity of the alerts."""
        return "critical" if any(a.severity == "critical" for a in self.alerts) else "warning"

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """The distinct kinds of the alerts, in order of appearance."""
        return tuple(dict.fromkeys(a.kind for a in self.alerts))

    @property
    def kind(self) -> Kind:
        """The group's kind, or the first alert's kind for a ``window`` group."""
        return self.kinds[0] if self.group == "window" else self.group  # type: ignore[return-value]

    @property
    def window_index(self) -> int:
        """The window's ``index``."""
        return int(self.window["index"])

    @property
    def keys(self) -> tuple[AlertKey, ...]:
        """The alert keys, in order."""
        return tuple(a.key for a in self.alerts)

    def to_json(self) -> dict[str, Any]:
        """Lossless JSON form stored in the outbox."""
        return {
            "version": PAYLOAD_VERSION,
            "event_id": self.event_id,
            "monitor": self.monitor,
            "model": self.model,
            "group": self.group,
            "status": self.status,
            "window": dict(self.window),
            "alerts": [a.to_json() for a in self.alerts],
            "created_at": format_time(self.created_at),
            "report_url": self.report_url,
            "dashboard_url": self.dashboard_url,
            "history": {
                subject: [
                    {"window_index": p.window_index, "statistic": p.statistic, "threshold": p.threshold}
                    for p in points
                ]
                for subject, points in self.history.items()
            },
            "test": self.test,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notification:
        """Inverse of :meth:`to_json`; raises :class:`PayloadError` on a bad document."""
        if data.get("version") != PAYLOAD_VERSION:
            raise PayloadError(
                f"notification payload version must be {PAYLOAD_VERSION}, got {data.get('version')!r}"
            )
        try:
            return cls(
                event_id=data["event_id"],
                monitor=data["monitor"],
                model=data.get("model"),
                group=data["group"],
                status=data["status"],
                window=data["window"],
                alerts=tuple(AlertEntry.from_json(a) for a in data["alerts"]),
                created_at=parse_time(data["created_at"]),
                report_url=data.get("report_url"),
                dashboard_url=data.get("dashboard_url"),
                history={
                    subject: tuple(
                        HistoryPoint(
                            window_index=p["window_index"],
                            statistic=p["statistic"],
                            threshold=p.get("threshold"),
                        )
                        for p in points
                    )
                    for subject, points in data.get("history", {}).items()
                },
                test=bool(data.get("test", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f"notification payload is malformed: {exc!r}") from exc
