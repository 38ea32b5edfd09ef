"""The storage seam of the alerts package (implemented by ``monitor/alert_store.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from alerts.notification import Notification
from alerts.silence import Silence
from alerts.state import AlertKey, AlertState

OutboxStatus = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxItem:
    """One notification for one sink, written before any delivery attempt.

    ``id`` is assigned by the store and increases with insertion order; the
    delivery worker sends each sink's items in ``id`` order.
    """

    id: int
    sink: str
    event_id: str
    notification: Notification
    status: OutboxStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_reason: str | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewOutboxItem:
    """An outbox entry to enqueue."""

    sink: str
    notification: Notification


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackThread:
    """Where a Slack message lives, to reply in its thread."""

    channel: str
    ts: str


class AlertStore(Protocol):
    """Durable alert state, outbox, silences and Slack threads.

    Every method is one transaction. ``enqueue`` and ``save_evaluation`` ignore
    an item whose ``(sink, event_id)`` is already in the outbox, so re-applying
    a window after a crash enqueues nothing twice.
    """

    def get_states(self, monitor: str | None = None) -> dict[AlertKey, AlertState]:
        """Alert states of ``monitor`` (all monitors when ``None``)."""
        ...

    def put_states(self, states: Sequence[AlertState]) -> None:
        """Insert or replace states."""
        ...

    def last_window_index(self, monitor: str) -> int | None:
        """Index of the last window applied for ``monitor``, or ``None``."""
        ...

    def save_evaluation(
        self,
        monitor: str,
        window_index: int,
        states: Sequence[AlertState],
        items: Sequence[NewOutboxItem],
        now: datetime,
    ) -> None:
        """Atomically store the states, enqueue the items and advance the monitor's window cursor."""
        ...

    def enqueue(self, items: Sequence[NewOutboxItem], now: datetime) -> None:
        """Add items to the outbox as pending, due at ``now``."""
        ...

    def pending_items(self, limit: int = 1000, *, sink: str | None = None) -> list[OutboxItem]:
        """Pending items (of ``sink``, or of every sink), oldest (lowest id) first, due or not."""
        ...

    def get_item(self, item_id: int) -> OutboxItem | None:
        """One outbox item, or ``None``."""
        ...

    def mark_delivered(self, item_id: int, at: datetime) -> None:
        """Record a successful delivery."""
        ...

    def mark_retry(self, item_id: int, *, next_attempt_at: datetime, reason: str, error: str) -> None:
        """Record a failed attempt that will be retried at ``next_attempt_at``."""
        ...

    def mark_failed(self, item_id: int, *, at: datetime, reason: str, error: str) -> None:
        """Record a permanent failure (the item is not retried)."""
        ...

    def add_silence(self, silence: Silence) -> None:
        """Store a silence."""
        ...

    def list_silences(self, *, now: datetime | None = None) -> list[Silence]:
        """Silences active at ``now`` (all stored silences when ``None``)."""
        ...

    def expire_silence(self, silence_id: str, at: datetime) -> bool:
        """End a silence at ``at``; False when there is no such active silence."""
        ...

    def get_slack_thread(self, sink: str, ref: str) -> SlackThread | None:
        """The Slack message recorded for ``ref`` (an alert key or ``event:<id>``)."""
        ...

    def put_slack_thread(self, sink: str, ref: str, thread: SlackThread) -> None:
        """Record (insert or replace) the Slack message of ``ref``."""
        ...
