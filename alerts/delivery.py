"""The delivery stage: send outbox items, retry with backoff, record the outcome."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from alerts.sink import FailureReason, SendOutcome, Sink
from alerts.store import AlertStore, OutboxItem

logger = logging.getLogger(__name__)

Observer = Callable[[str, SendOutcome, float], None]
"""Called after each attempt with ``(sink name, outcome, seconds)``; feeds metrics."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Exponential backoff with jitter.

    The n-th retry (``attempt`` = 1, 2, ...) waits
    ``min(max_s, initial_s * multiplier ** (attempt - 1)) * (1 - jitter * u)``
    with ``u`` uniform in ``[0, 1)``, and never less than the server's ``Retry-After``.
    """

    initial_s: float = 1.0
    multiplier: float = 2.0
    max_s: float = 300.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.initial_s <= 0:
            raise ValueError(f"initial_s must be > 0, got {self.initial_s!r}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier!r}")
        if self.max_s < self.initial_s:
            raise ValueError(f"max_s must be >= initial_s ({self.initial_s}), got {self.max_s!r}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter!r}")

    def delay_s(self, attempt: int, rng: random.Random, *, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempt must be >= 1, got {attempt!r}")
        base = min(self.max_s, self.initial_s * self.multiplier ** min(attempt - 1, 64))
        delay = base * (1.0 - self.jitter * rng.random())
        return max(delay, retry_after_s or 0.0)


@dataclass(slots=True)
class DeliveryReport:
    """Counts of one :meth:`DeliveryWorker.run_once` or :meth:`DeliveryWorker.drain`."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    remaining: int = 0
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per sink, per outcome label (``ok`` or a failure reason): attempt counts."""

    def add(self, other: DeliveryReport) -> None:
        """Accumulate ``other`` into this report (``remaining`` is replaced)."""
        self.delivered += other.delivered
        self.retried += other.retried
        self.failed += other.failed
        self.remaining = other.remaining
        for sink, counts in other.outcomes.items():
            mine = self.outcomes.setdefault(sink, {})
            for label, n in counts.items():
                mine[label] = mine.get(label, 0) + n


class DeliveryWorker:
    """Send pending outbox items to their sinks; scheduled by the monitor.

    Items of one sink go strictly in outbox order: while a sink's oldest
    pending item waits for a retry, that sink's later items wait too (so a
    resolution never overtakes its firing notification), but other sinks go on.
    The outcome is recorded after each attempt: a crash between a send and its
    record re-sends the same event (same ``Idempotency-Key``) on the next run.

    Parameters
    ----------
    store:
        The outbox.
    sinks:
        Sinks by name. Items for a sink that is not configured stay pending.
    clock:
        Returns the current time (timezone-aware); used by :meth:`drain`.
    backoff:
        Retry delays.
    give_up_after:
        A retryable failure of an item older than this is recorded as failed.
    rng:
        Jitter source (a fresh ``random.Random()`` by default).
    observer:
        Called after each attempt (metrics).
    sleep:
        Used by :meth:`drain` to wait for the next due item.
    """

    def __init__(
        self,
        store: AlertStore,
        sinks: Mapping[str, Sink],
        *,
        clock: Callable[[], datetime],
        backoff: Backoff | None = None,
        give_up_after: timedelta = timedelta(days=1),
        rng: random.Random | None = None,
        observer: Observer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        batch_limit: int = 1000,
    ) -> None:
        if batch_limit < 1:
            raise ValueError(f"batch_limit must be >= 1, got {batch_limit!r}")
        self._store = store
        self._sinks = MappingProxyType(dict(sinks))
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._give_up_after = give_up_after
        self._rng = rng or random.Random()
        self._observer = observer
        self._sleep = sleep
        self._batch_limit = batch_limit
        self._last_error: dict[str, str] = {}
        self._warned_sinks: set[str] = set()

    def run_once(self, now: datetime | None = None) -> DeliveryReport:
        """Attempt every due item once (per sink, in order); return what happened."""
        now = now or self._clock()
        report = DeliveryReport()
        for name, sink in self._sinks.items():
            for item in self._store.pending_items(self._batch_limit, sink=name):
                if item.next_attempt_at > now or not self._attempt(sink, item, now, report):
                    break
        pending = self._store.pending_items(self._batch_limit)
        for orphan in sorted({i.sink for i in pending} - set(self._sinks) - self._warned_sinks):
            self._warned_sinks.add(orphan)
            logger.warning("outbox items for unconfigured sink stay pending sink=%s", orphan)
        report.remaining = len(pending)
        return report

    def _attempt(self, sink: Sink, item: OutboxItem, now: datetime, report: DeliveryReport) -> bool:
        """Send one item and record the outcome; False when the sink must wait."""
        started = time.monotonic()
        try:
            outcome = sink.send(item.notification)
        except Exception as exc:  # a bug in a sink, not a transport failure: never retried
            logger.exception("sink raised sink=%s event_id=%s", item.sink, item.event_id)
            outcome = SendOutcome(ok=False, reason=FailureReason.CLIENT, retryable=False, detail=repr(exc))
        elapsed = time.monotonic() - started
        if self._observer is not None:
            self._observer(item.sink, outcome, elapsed)
        counts = report.outcomes.setdefault(item.sink, {})
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        if outcome.ok:
            self._store.mark_delivered(item.id, now)
            report.delivered += 1
            if self._last_error.pop(item.sink, None) is not None:
                logger.info("sink recovered sink=%s", item.sink)
            logger.info(
                "alert sent sink=%s event_id=%s monitor=%s status=%s attempts=%d",
                item.sink,
                item.event_id,
                item.notification.monitor,
                item.notification.status,
                item.attempts + 1,
            )
            return True
        reason = str(outcome.reason or FailureReason.CLIENT)
        if outcome.retryable and now - item.created_at < self._give_up_after:
            delay = self._backoff.delay_s(item.attempts + 1, self._rng, retry_after_s=outcome.retry_after_s)
            self._store.mark_retry(
                item.id, next_attempt_at=now + timedelta(seconds=delay), reason=reason, error=outcome.detail
            )
            report.retried += 1
            signature = f"{reason}:{outcome.status_code}"
            if self._last_error.get(item.sink) != signature:
                self._last_error[item.sink] = signature
                logger.warning(
                    "notify attempt failed, will retry later sink=%s event_id=%s reason=%s status=%s "
                    "delay_s=%.1f detail=%s",
                    item.sink,
                    item.event_id,
                    reason,
                    outcome.status_code,
                    delay,
                    outcome.detail,
                )
            return False
        self._store.mark_failed(item.id, at=now, reason=reason, error=outcome.detail)
        report.failed += 1
        logger.error(
            "alert delivery failed permanently sink=%s event_id=%s reason=%s status=%s detail=%s",
            item.sink,
            item.event_id,
            reason,
            outcome.status_code,
            outcome.detail,
        )
        return True

    def drain(self, deadline: datetime) -> DeliveryReport:
        """Deliver until the outbox is empty or ``deadline`` (clock time) passes; for shutdown.

        Waits (with ``sleep``) for retries that fall due before the deadline.
        Items still pending at the end stay in the outbox for the next start.
        """
        total = DeliveryReport()
        while True:
            now = self._clock()
            if now >= deadline:
                break
            total.add(self.run_once(now))
            heads = [items[0] for name in self._sinks if (items := self._store.pending_items(1, sink=name))]
            if not heads:
                break
            next_due = min(item.next_attempt_at for item in heads)
            if next_due >= deadline:
                break
            wait = (next_due - self._clock()).total_seconds()
            if wait > 0:
                self._sleep(min(wait, (deadline - self._clock()).total_seconds()))
        total.remaining = len(self._store.pending_items(self._batch_limit))
        return total
