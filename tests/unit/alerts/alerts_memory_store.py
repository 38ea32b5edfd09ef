"""An in-memory :class:`alerts.AlertStore` for unit tests (never used by library code)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from alerts import AlertKey, AlertState, NewOutboxItem, OutboxItem, Silence, SlackThread


class InMemoryAlertStore:
    """Dict-backed store with the same semantics as ``monitor.alert_store.SqlAlertStore``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.states: dict[AlertKey, AlertState] = {}
        self.cursors: dict[str, int] = {}
        self.items: dict[int, OutboxItem] = {}
        self.silences: dict[str, Silence] = {}
        self.threads: dict[tuple[str, str], SlackThread] = {}
        self._next_id = 1

    def get_states(self, monitor: str | None = None) -> dict[AlertKey, AlertState]:
        return {k: s for k, s in self.states.items() if monitor is None or k.monitor == monitor}

    def put_states(self, states: Sequence[AlertState]) -> None:
        for s in states:
            self.states[s.key] = s

    def last_window_index(self, monitor: str) -> int | None:
        return self.cursors.get(monitor)

    def save_evaluation(
        self,
        monitor: str,
        window_index: int,
        states: Sequence[AlertState],
        items: Sequence[NewOutboxItem],
        now: datetime,
    ) -> None:
        with self._lock:
            self.put_states(states)
            self._enqueue(items, now)
            self.cursors[monitor] = window_index

    def _enqueue(self, items: Sequence[NewOutboxItem], now: datetime) -> None:
        existing = {(i.sink, i.event_id) for i in self.items.values()}
        for item in items:
            if (item.sink, item.notification.event_id) in existing:
                continue
            self.items[self._next_id] = OutboxItem(
                id=self._next_id,
                sink=item.sink,
                event_id=item.notification.event_id,
                notification=item.notification,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            existing.add((item.sink, item.notification.event_id))
            self._next_id += 1

    def enqueue(self, items: Sequence[NewOutboxItem], now: datetime) -> None:
        with self._lock:
            self._enqueue(items, now)

    def pending_items(self, limit: int = 1000, *, sink: str | None = None) -> list[OutboxItem]:
        return [
            i
            for _, i in sorted(self.items.items())
            if i.status == "pending" and (sink is None or i.sink == sink)
        ][:limit]

    def get_item(self, item_id: int) -> OutboxItem | None:
        return self.items.get(item_id)

    def mark_delivered(self, item_id: int, at: datetime) -> None:
        item = self.items[item_id]
        self.items[item_id] = replace(item, status="delivered", delivered_at=at, attempts=item.attempts + 1)

    def mark_retry(self, item_id: int, *, next_attempt_at: datetime, reason: str, error: str) -> None:
        item = self.items[item_id]
        self.items[item_id] = replace(
            item,
            next_attempt_at=next_attempt_at,
            last_reason=reason,
            last_error=error,
            attempts=item.attempts + 1,
        )

    def mark_failed(self, item_id: int, *, at: datetime, reason: str, error: str) -> None:
        item = self.items[item_id]
        self.items[item_id] = replace(
            item, status="failed", last_reason=reason, last_error=error, attempts=item.attempts + 1
        )

    def add_silence(self, silence: Silence) -> None:
        self.silences[silence.id] = silence

    def list_silences(self, *, now: datetime | None = None) -> list[Silence]:
        return [s for s in self.silences.values() if now is None or s.is_active(now)]

    def expire_silence(self, silence_id: str, at: datetime) -> bool:
        s = self.silences.get(silence_id)
        if s is None or not s.is_active(at):
            return False
        self.silences[silence_id] = replace(s, expires_at=at)
        return True

    def get_slack_thread(self, sink: str, ref: str) -> SlackThread | None:
        return self.threads.get((sink, ref))

    def put_slack_thread(self, sink: str, ref: str, thread: SlackThread) -> None:
        self.threads[(sink, ref)] = thread
