"""Small operations behind the CLI: test a sink, list alerts, silence alerts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from alerts.finding import KINDS
from alerts.notification import AlertEntry, Notification, make_event_id
from alerts.reason import NotifyReason
from alerts.silence import Silence
from alerts.sink import SendOutcome, Sink
from alerts.state import AlertKey, AlertState, Status
from alerts.store import AlertStore

TEST_MONITOR = "driftwarden-test"


def sample_notification(*, now: datetime, monitor: str = TEST_MONITOR) -> Notification:
    """A clearly labelled sample notification (``test: true``) with one drift and one quality alert."""
    window = {"index": 0, "first_row": 0, "last_row": 999, "start": None, "end": None}
    return Notification(
        event_id=make_event_id(monitor, f"test-{now.timestamp():.6f}", 0, "firing"),
        monitor=monitor,
        group="window",
        status="firing",
        window=window,
        alerts=(
            AlertEntry(
                key=AlertKey(monitor, "data_drift", "example_feature"),
                status="firing",
                severity="warning",
                reason=NotifyReason.FIRST_NOTIFICATION,
                subject="example_feature",
                method="psi",
                statistic=0.25,
                threshold=0.2,
                since=now,
                since_window=0,
                detail="test notification from driftwarden",
            ),
            AlertEntry(
                key=AlertKey(monitor, "quality", "example_column:missing_rate"),
                status="firing",
                severity="warning",
                reason=NotifyReason.FIRST_NOTIFICATION,
                subject="example_column",
                method="missing_rate",
                statistic=0.12,
                threshold=0.05,
                since=now,
                since_window=0,
            ),
        ),
        created_at=now,
        test=True,
    )


def send_test_notification(sink: Sink, *, now: datetime, monitor: str = TEST_MONITOR) -> SendOutcome:
    """Send :func:`sample_notification` directly to ``sink`` (no outbox, no retry) and return the outcome."""
    return sink.send(sample_notification(now=now, monitor=monitor))


def list_alerts(
    store: AlertStore, *, monitor: str | None = None, statuses: frozenset[Status] | None = None
) -> list[AlertState]:
    """Alert states, firing first then by key; ``statuses`` filters (default: all)."""
    order = {"firing": 0, "pending": 1, "resolved": 2, "inactive": 3}
    states = [s for s in store.get_states(monitor).values() if statuses is None or s.status in statuses]
    return sorted(states, key=lambda s: (order[s.status], s.key))


def add_silence(
    store: AlertStore,
    *,
    now: datetime,
    duration: timedelta,
    monitor: str = "*",
    kind: str = "*",
    subject: str = "*",
    created_by: str = "",
    comment: str = "",
) -> Silence:
    """Store and return a silence active from ``now`` for ``duration``.

    ``kind`` is a glob over the kinds; a plain word must be one of them.
    """
    if duration <= timedelta(0):
        raise ValueError(f"silence duration must be positive, got {duration!r}")
    if not any(ch in kind for ch in "*?[") and kind not in KINDS:
        raise ValueError(f"kind must be a glob or one of {', '.join(KINDS)}, got {kind!r}")
    silence = Silence(
        id=uuid.uuid4().hex,
        monitor=monitor,
        kind=kind,
        subject=subject,
        starts_at=now,
        expires_at=now + duration,
        created_by=created_by,
        comment=comment,
    )
    store.add_silence(silence)
    return silence


def expire_silence(store: AlertStore, silence_id: str, *, now: datetime) -> bool:
    """End silence ``silence_id`` now; False when no such active silence exists."""
    return store.expire_silence(silence_id, now)
