"""SQLAlchemy implementation of :class:`alerts.AlertStore` (tables ``alert_*`` on ``monitor.schema.metadata``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from alerts import (
    AlertKey,
    AlertState,
    Finding,
    NewOutboxItem,
    Notification,
    OutboxItem,
    Silence,
    SlackThread,
)
from monitor.schema import UtcDateTime, metadata


def _utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes: they were stored as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


alert_state = Table(
    "alert_state",
    metadata,
    Column("monitor", String(200), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("subject", String(500), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("flagged_streak", Integer, nullable=False),
    Column("clear_streak", Integer, nullable=False),
    Column("since", UtcDateTime()),
    Column("since_window", Integer),
    Column("last_window_index", Integer),
    Column("finding", Text),
    Column("muted", String(16)),
    Column("last_notified_at", UtcDateTime()),
    Column("last_notified_status", String(16)),
    Column("last_notified_severity", String(16)),
    Column("updated_at", UtcDateTime(), nullable=False),
)

alert_cursor = Table(
    "alert_cursor",
    metadata,
    Column("monitor", String(200), primary_key=True),
    Column("last_window_index", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sink", String(200), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("monitor", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime()),
    Column("last_reason", String(32)),
    Column("last_error", Text),
    UniqueConstraint("sink", "event_id", name="uq_alert_outbox_sink_event"),
    Index("ix_alert_outbox_status_id", "status", "id"),
    Index("ix_alert_outbox_sink_status_id", "sink", "status", "id"),
)

alert_silence = Table(
    "alert_silence",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("monitor", String(200), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False, default=""),
    Column("comment", Text, nullable=False, default=""),
    Column("expired", Boolean, nullable=False, default=False),
)

alert_slack_thread = Table(
    "alert_slack_thread",
    metadata,
    Column("sink", String(200), primary_key=True),
    Column("ref", String(700), primary_key=True),
    Column("channel", String(100), nullable=False),
    Column("ts", String(40), nullable=False),
)

ALERT_TABLES = (alert_state, alert_cursor, alert_outbox, alert_silence, alert_slack_thread)


def _finding_json(finding: Finding | None) -> str | None:
    if finding is None:
        return None
    return json.dumps(
        {
            "monitor": finding.monitor,
            "kind": finding.kind,
            "subject": finding.subject,
            "severity": finding.severity,
            "method": finding.method,
            "statistic": finding.statistic,
            "threshold": finding.threshold,
            "p_value": finding.p_value,
            "reference": finding.reference,
            "detail": finding.detail,
        }
    )


def _state_row(state: AlertState, now: datetime) -> dict[str, Any]:
    return {
        "monitor": state.key.monitor,
        "kind": state.key.kind,
        "subject": state.key.subject,
        "status": state.status,
        "severity": state.severity,
        "flagged_streak": state.flagged_streak,
        "clear_streak": state.clear_streak,
        "since": state.since,
        "since_window": state.since_window,
        "last_window_index": state.last_window_index,
        "finding": _finding_json(state.finding),
        "muted": state.muted,
        "last_notified_at": state.last_notified_at,
        "last_notified_status": state.last_notified_status,
        "last_notified_severity": state.last_notified_severity,
        "updated_at": now,
    }


def _state_of(row: Any) -> AlertState:
    finding = Finding(**json.loads(row.finding)) if row.finding else None
    return AlertState(
        key=AlertKey(row.monitor, row.kind, row.subject),
        status=row.status,
        severity=row.severity,
        flagged_streak=row.flagged_streak,
        clear_streak=row.clear_streak,
        since=_utc(row.since),
        since_window=row.since_window,
        last_window_index=row.last_window_index,
        finding=finding,
        muted=row.muted,
        last_notified_at=_utc(row.last_notified_at),
        last_notified_status=row.last_notified_status,
        last_notified_severity=row.last_notified_severity,
    )


def _item_of(row: Any) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        sink=row.sink,
        event_id=row.event_id,
        notification=Notification.from_json(json.loads(row.payload)),
        status=row.status,
        attempts=row.attempts,
        created_at=_utc(row.created_at),  # type: ignore[arg-type]
        next_attempt_at=_utc(row.next_attempt_at),  # type: ignore[arg-type]
        last_reason=row.last_reason,
        last_error=row.last_error,
        delivered_at=_utc(row.delivered_at),
    )


class SqlAlertStore:
    """:class:`alerts.AlertStore` on SQLAlchemy Core (SQLite or PostgreSQL).

    The tables are created by the store's migration (``metadata.create_all``);
    tests may call ``metadata.create_all(engine, tables=ALERT_TABLES)``.
    Every method runs in its own transaction (``engine.begin()``).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- alert state -----------------------------------------------------------------------------
    def get_states(self, monitor: str | None = None) -> dict[AlertKey, AlertState]:
        """Alert states of ``monitor`` (all monitors when ``None``)."""
        query = select(alert_state)
        if monitor is not None:
            query = query.where(alert_state.c.monitor == monitor)
        with self._engine.connect() as conn:
            states = [_state_of(row) for row in conn.execute(query)]
        return {s.key: s for s in states}

    def _put_states(self, conn: Connection, states: Sequence[AlertState], now: datetime) -> None:
        for state in states:
            row = _state_row(state, now)
            key = and_(
                alert_state.c.monitor == state.key.monitor,
                alert_state.c.kind == state.key.kind,
                alert_state.c.subject == state.key.subject,
            )
            if conn.execute(update(alert_state).where(key).values(**row)).rowcount == 0:
                conn.execute(insert(alert_state).values(**row))

    def put_states(self, states: Sequence[AlertState]) -> None:
        """Insert or replace states."""
        with self._engine.begin() as conn:
            self._put_states(conn, states, datetime.now(UTC))

    def last_window_index(self, monitor: str) -> int | None:
        """Index of the last window applied for ``monitor``."""
        with self._engine.connect() as conn:
            return conn.execute(
                select(alert_cursor.c.last_window_index).where(alert_cursor.c.monitor == monitor)
            ).scalar_one_or_none()

    def save_evaluation(
        self,
        monitor: str,
        window_index: int,
        states: Sequence[AlertState],
        items: Sequence[NewOutboxItem],
        now: datetime,
    ) -> None:
        """Store states, enqueue items and advance the cursor in one transaction."""
        with self._engine.begin() as conn:
            self._put_states(conn, states, now)
            self._enqueue(conn, items, now)
            values = {"monitor": monitor, "last_window_index": window_index, "updated_at": now}
            done = conn.execute(
                update(alert_cursor).where(alert_cursor.c.monitor == monitor).values(**values)
            ).rowcount
            if done == 0:
                conn.execute(insert(alert_cursor).values(**values))

    # -- outbox ----------------------------------------------------------------------------------
    def _enqueue(self, conn: Connection, items: Sequence[NewOutboxItem], now: datetime) -> None:
        for item in items:
            n = item.notification
            exists = conn.execute(
                select(alert_outbox.c.id).where(
                    and_(alert_outbox.c.sink == item.sink, alert_outbox.c.event_id == n.event_id)
                )
            ).first()
            if exists is not None:
                continue
            conn.execute(
                insert(alert_outbox).values(
                    sink=item.sink,
                    event_id=n.event_id,
                    monitor=n.monitor,
                    status="pending",
                    payload=json.dumps(n.to_json(), allow_nan=False),
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                )
            )

    def enqueue(self, items: Sequence[NewOutboxItem], now: datetime) -> None:
        """Add items as pending (an existing ``(sink, event_id)`` is left as it is)."""
        with self._engine.begin() as conn:
            self._enqueue(conn, items, now)

    def pending_items(self, limit: int = 1000, *, sink: str | None = None) -> list[OutboxItem]:
        """Pending items (of ``sink``, or of every sink), lowest id first."""
        query = select(alert_outbox).where(alert_outbox.c.status == "pending")
        if sink is not None:
            query = query.where(alert_outbox.c.sink == sink)
        with self._engine.connect() as conn:
            return [_item_of(row) for row in conn.execute(query.order_by(alert_outbox.c.id).limit(limit))]

    def get_item(self, item_id: int) -> OutboxItem | None:
        """One outbox item."""
        with self._engine.connect() as conn:
            row = conn.execute(select(alert_outbox).where(alert_outbox.c.id == item_id)).first()
        return _item_of(row) if row is not None else None

    def list_items(self, *, sink: str | None = None, limit: int = 1000) -> list[OutboxItem]:
        """All outbox items (any status), oldest first; for the CLI and tests."""
        query = select(alert_outbox).order_by(alert_outbox.c.id).limit(limit)
        if sink is not None:
            query = query.where(alert_outbox.c.sink == sink)
        with self._engine.connect() as conn:
            return [_item_of(row) for row in conn.execute(query)]

    def count_items(self) -> dict[str, int]:
        """Number of outbox items per status."""
        query = select(alert_outbox.c.status, func.count()).group_by(alert_outbox.c.status)
        with self._engine.connect() as conn:
            return {status: n for status, n in conn.execute(query)}

    def mark_delivered(self, item_id: int, at: datetime) -> None:
        """Record a successful delivery."""
        with self._engine.begin() as conn:
            conn.execute(
                update(alert_outbox)
                .where(alert_outbox.c.id == item_id)
                .values(status="delivered", delivered_at=at, attempts=alert_outbox.c.attempts + 1)
            )

    def mark_retry(self, item_id: int, *, next_attempt_at: datetime, reason: str, error: str) -> None:
        """Record a failed attempt to retry at ``next_attempt_at``."""
        with self._engine.begin() as conn:
            conn.execute(
                update(alert_outbox)
                .where(alert_outbox.c.id == item_id)
                .values(
                    next_attempt_at=next_attempt_at,
                    last_reason=reason,
                    last_error=error[:2000],
                    attempts=alert_outbox.c.attempts + 1,
                )
            )

    def mark_failed(self, item_id: int, *, at: datetime, reason: str, error: str) -> None:
        """Record a permanent failure."""
        with self._engine.begin() as conn:
            conn.execute(
                update(alert_outbox)
                .where(alert_outbox.c.id == item_id)
                .values(
                    status="failed",
                    next_attempt_at=at,
                    last_reason=reason,
                    last_error=error[:2000],
                    attempts=alert_outbox.c.attempts + 1,
                )
            )

    # -- silences --------------------------------------------------------------------------------
    def add_silence(self, silence: Silence) -> None:
        """Store a silence."""
        with self._engine.begin() as conn:
            conn.execute(
                insert(alert_silence).values(
                    id=silence.id,
                    monitor=silence.monitor,
                    kind=silence.kind,
                    subject=silence.subject,
                    starts_at=silence.starts_at,
                    expires_at=silence.expires_at,
                    created_by=silence.created_by,
                    comment=silence.comment,
                    expired=False,
                )
            )

    def list_silences(self, *, now: datetime | None = None) -> list[Silence]:
        """Silences active at ``now`` (all when ``None``)."""
        query = select(alert_silence).order_by(alert_silence.c.starts_at, alert_silence.c.id)
        with self._engine.connect() as conn:
            rows = list(conn.execute(query))
        silences = [
            Silence(
                id=row.id,
                monitor=row.monitor,
                kind=row.kind,
                subject=row.subject,
                starts_at=_utc(row.starts_at),  # type: ignore[arg-type]
                expires_at=_utc(row.expires_at),  # type: ignore[arg-type]
                created_by=row.created_by,
                comment=row.comment,
            )
            for row in rows
        ]
        if now is None:
            return silences
        return [s for s in silences if s.is_active(now)]

    def expire_silence(self, silence_id: str, at: datetime) -> bool:
        """End an active silence at ``at``."""
        with self._engine.begin() as conn:
            row = conn.execute(select(alert_silence).where(alert_silence.c.id == silence_id)).first()
            if row is None or _utc(row.expires_at) <= at or _utc(row.starts_at) >= at:  # type: ignore[operator]
                return False
            conn.execute(
                update(alert_silence)
                .where(alert_silence.c.id == silence_id)
                .values(expires_at=at, expired=True)
            )
            return True

    # -- retention -------------------------------------------------------------------------------
    def purge(self, before: datetime) -> dict[str, int]:
        """Delete what is older than ``before`` and no longer needed; return the counts per table.

        Delivered and failed outbox items created before ``before``, ``inactive``
        and ``resolved`` alert states last updated before it, and silences that
        expired before it. Pending items and firing or pending alerts are kept.
        """
        with self._engine.begin() as conn:
            outbox = conn.execute(
                delete(alert_outbox).where(
                    and_(
                        alert_outbox.c.status.in_(("delivered", "failed")), alert_outbox.c.created_at < before
                    )
                )
            ).rowcount
            states = conn.execute(
                delete(alert_state).where(
                    and_(
                        alert_state.c.status.in_(("inactive", "resolved")), alert_state.c.updated_at < before
                    )
                )
            ).rowcount
            silences = conn.execute(delete(alert_silence).where(alert_silence.c.expires_at < before)).rowcount
        return {"alert_outbox": outbox, "alert_state": states, "alert_silence": silences}

    # -- slack threads ---------------------------------------------------------------------------
    def get_slack_thread(self, sink: str, ref: str) -> SlackThread | None:
        """The recorded Slack message of ``ref``."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(alert_slack_thread).where(
                    and_(alert_slack_thread.c.sink == sink, alert_slack_thread.c.ref == ref)
                )
            ).first()
        return SlackThread(channel=row.channel, ts=row.ts) if row is not None else None

    def put_slack_thread(self, sink: str, ref: str, thread: SlackThread) -> None:
        """Record (or replace) the Slack message of ``ref``."""
        with self._engine.begin() as conn:
            key = and_(alert_slack_thread.c.sink == sink, alert_slack_thread.c.ref == ref)
            done = conn.execute(
                update(alert_slack_thread).where(key).values(channel=thread.channel, ts=thread.ts)
            ).rowcount
            if done == 0:
                conn.execute(
                    insert(alert_slack_thread).values(
                        sink=sink, ref=ref, channel=thread.channel, ts=thread.ts
                    )
                )
