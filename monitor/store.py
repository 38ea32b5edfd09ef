"""The durable store of the daemon: window results, checkpoints, dead letters, profiles, leases.

One SQLAlchemy engine (SQLite by default, PostgreSQL through psycopg 3 in a cluster) behind a
small API. Crash safety rests on :meth:`Store.commit_progress`: the window results a monitor has
evaluated, its open window state, the source checkpoint that covers those rows and the dead
letters met on the way are written in *one* transaction, so after a crash the store holds either
all of a step or none of it, and the source is re-read from the stored checkpoint.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, ParamSpec, Protocol, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    String,
    Table,
    Text,
    and_,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from monitor import schema
from monitor.migrations import migrate

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "MAX_RAW_BYTES",
    "MAX_RESULTS_LIMIT",
    "DeadLetterLike",
    "DuplicateWindowError",
    "MonitorState",
    "MonitorTotals",
    "PartialWindow",
    "PendingPrediction",
    "ProgressUpdate",
    "RetentionResult",
    "SourceTotals",
    "Store",
    "StoreError",
    "StoredDeadLetter",
    "StoredProfile",
    "WindowRecord",
    "create_store_engine",
]

MAX_RESULTS_LIMIT = 10_000
"""Largest ``limit`` accepted by :meth:`Store.results` and :meth:`Store.dead_letters`."""

MAX_RAW_BYTES = 64 * 1024
"""Dead-letter payloads are stored truncated to this many bytes (``raw_size`` keeps the full size)."""

pending_predictions = Table(
    "pending_predictions",
    schema.metadata,
    Column("monitor", String(200), primary_key=True),
    Column("pred_id", String(200), primary_key=True),
    Column("prediction", Text, nullable=False),
    Column("event_time", Float, nullable=True),
    Column("created_at", schema.UtcDateTime, nullable=False),
    Index("ix_pending_predictions_monitor_created", "monitor", "created_at"),
)
"""Predictions waiting for their label (``labels = {...}`` on a monitor), bounded by the monitor's
``max_pending`` and its ``horizon``; created by migration v1 (``create_all``) or v2."""

_WRITE = "driftwarden_write"
"""Execution option marking a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class StoreError(Exception):
    """A store operation failed; ``str()`` says which one and why."""


class StoreUnavailableError(StoreError):
    """The database could not be reached or dropped the connection (a restart, a failover, a
    locked SQLite file): nothing was written, and the same write may be tried again."""


STORE_AWAY: Final = (StoreUnavailableError, OperationalError, InterfaceError)
"""Errors of a store that is away for now (also raw SQLAlchemy ones, from code that uses the
engine directly): the same work may be tried again once it answers."""


class DuplicateWindowError(StoreError):
    """A window result or evaluated-window marker already exists: nothing of the update was written."""


class DeadLetterLike(Protocol):
    """What the store needs of a dead letter (``connectors.base.DeadLetter`` fits)."""

    @property
    def source(self) -> str: ...

    @property
    def position(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def detail(self) -> str: ...

    @property
    def raw(self) -> bytes | None: ...


def _store_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Re-raise SQLAlchemy failures of a public method as :class:`StoreError` naming the method."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailableError(f"store {method.__name__} failed: {exc}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"store {method.__name__} failed: {exc}") from exc

    return wrapper


def _parse_time(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{what} must be an RFC 3339 time, got {value!r}") from exc
    else:
        raise ValueError(f"{what} must be an RFC 3339 string or datetime, got {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _optional_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer or null, got {value!r}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowRecord:
    """One evaluated window as stored: indexed columns plus the JSON contract text.

    Build it with :meth:`from_result` from the DESIGN.md JSON contract dict (with ``window``).
    """

    index: int
    rows: int
    drift_detected: bool
    drift_share: float | None
    result_json: str
    first_row: int | None = None
    last_row: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ValueError(f"window index must be >= 0, got {self.index!r}")
        if self.rows < 0:
            raise ValueError(f"window rows must be >= 0, got {self.rows!r}")

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> WindowRecord:
        """Index a JSON contract result (``drift_detected``, ``drift_share``, ``rows``, ``window``).

        Raises
        ------
        ValueError
            When ``window.index`` or ``rows`` is missing, or the dict is not strict JSON (NaN, objects).
        """
        window = result.get("window")
        if not isinstance(window, Mapping) or "index" not in window:
            raise ValueError(f"result needs a 'window' object with an 'index', got window={window!r}")
        index = _optional_int(window["index"], "window.index")
        rows = _optional_int(result.get("rows"), "rows")
        if index is None or rows is None:
            raise ValueError(
                f"result needs integer 'rows' and 'window.index', got rows={rows!r} index={index!r}"
            )
        share = result.get("drift_share")
        if share is not None and not (isinstance(share, int | float) and math.isfinite(share)):
            raise ValueError(f"drift_share must be a finite number or null, got {share!r}")
        try:
            text_json = json.dumps(result, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"window result {index} is not strict JSON: {exc}") from exc
        return cls(
            index=index,
            rows=rows,
            drift_detected=bool(result.get("drift_detected", False)),
            drift_share=None if share is None else float(share),
            result_json=text_json,
            first_row=_optional_int(window.get("first_row"), "window.first_row"),
            last_row=_optional_int(window.get("last_row"), "window.last_row"),
            start=_parse_time(window.get("start"), "window.start"),
            end=_parse_time(window.get("end"), "window.end"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PartialWindow:
    """One replica's sketch of one event-time window (scale-out), opaque bytes to the store."""

    monitor: str
    window_key: str
    replica: str
    sketch: bytes
    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingPrediction:
    """A prediction waiting for its ground-truth label, joined by ``id``.

    ``prediction`` is the JSON text of the predicted value; ``event_time`` the row's event time
    (epoch seconds) when known.
    """

    id: str
    prediction: str
    event_time: float | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressUpdate:
    """Everything one processing step made durable, written by :meth:`Store.commit_progress`.

    Parameters
    ----------
    monitor
        Monitor whose state is written, or ``None`` (a step that only advances a source).
    source
        Source whose checkpoint and counters are written, or ``None``.
    checkpoint
        The source position after this step (JSON-serialisable); ``None`` keeps the stored one.
    open_state
        Opaque serialised state of the monitor's open window(s); stored as given (``None`` = none).
    next_row
        Row number the monitor gives to its next row (rows are numbered from 0 across restarts).
    next_window_index
        Index of the monitor's next window; must be above every index in ``windows``.
    rows_added
        Rows read from ``source`` in this step (the source's durable row counter).
    windows
        Windows evaluated in this step; each adds its ``rows`` and 1 to the monitor's totals.
    dead_letters
        Dead letters of ``source`` met in this step.
    partials
        Partial window sketches of this replica (scale-out), upserted.
    evaluated_keys
        Event-time window keys evaluated in this step (scale-out); marked evaluated and their
        partials deleted. A key marked already makes the whole update fail with
        :class:`DuplicateWindowError`, so two leaders can never both publish a window.
    write_state
        ``False``: leave the monitor's state row alone (a scale-out replica writes only its
        partials; the evaluator owns ``open_state`` and ``next_window_index``).
    merge_checkpoint
        ``True``: merge ``checkpoint`` into the stored one key by key, keeping the larger integer
        (Kafka partitions shared by replicas: each writes the partitions it read, none regresses).
    pending_added
        Predictions of the monitor that now wait for a label (upserted by id).
    pending_joined
        Ids of pending predictions of the monitor that got their label (deleted).
    watermarks
        ``(partition, event_time)`` pairs: the largest event time (epoch seconds) this replica
        has sketched from each Kafka partition (scale-out). The store keeps the largest per
        partition; written with the partials that hold those rows, so a watermark never runs
        ahead of durable rows.
    """

    monitor: str | None = None
    source: str | None = None
    checkpoint: Mapping[str, Any] | None = None
    open_state: bytes | None = None
    next_row: int = 0
    next_window_index: int = 0
    rows_added: int = 0
    windows: tuple[WindowRecord, ...] = ()
    dead_letters: tuple[DeadLetterLike, ...] = ()
    partials: tuple[PartialWindow, ...] = ()
    evaluated_keys: tuple[str, ...] = ()
    write_state: bool = True
    merge_checkpoint: bool = False
    pending_added: tuple[PendingPrediction, ...] = ()
    pending_joined: tuple[str, ...] = ()
    watermarks: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        if self.monitor is None and (self.pending_added or self.pending_joined):
            raise ValueError("pending_added and pending_joined need a monitor, got monitor=None")
        if self.monitor is None and (
            self.windows or self.open_state is not None or self.evaluated_keys or self.watermarks
        ):
            raise ValueError(
                "windows, open_state, evaluated_keys and watermarks need a monitor, got monitor=None"
            )
        for partition, event_time in self.watermarks:
            if partition < 0 or not math.isfinite(event_time):
                raise ValueError(f"watermark of partition {partition!r} must be finite, got {event_time!r}")
        if self.source is None and (self.checkpoint is not None or self.rows_added or self.dead_letters):
            raise ValueError("checkpoint, rows_added and dead_letters need a source, got source=None")
        if self.rows_added < 0 or self.next_row < 0 or self.next_window_index < 0:
            raise ValueError(
                "rows_added, next_row and next_window_index must be >= 0, got "
                f"{self.rows_added!r}, {self.next_row!r}, {self.next_window_index!r}"
            )
        for window in self.windows:
            if window.index >= self.next_window_index:
                raise ValueError(
                    f"next_window_index must be above every window index, got {self.next_window_index!r} "
                    f"with window {window.index!r}"
                )
        for letter in self.dead_letters:
            if letter.source != self.source:
                raise ValueError(
                    f"dead letter of source {letter.source!r} in an update of source {self.source!r}"
                )
        for partial in self.partials:
            if partial.monitor != self.monitor:
                raise ValueError(
                    f"partial of monitor {partial.monitor!r} in an update of monitor {self.monitor!r}"
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorState:
    """The durable state of one monitor."""

    monitor: str
    open_state: bytes | None
    next_row: int
    next_window_index: int
    rows_total: int
    windows_evaluated: int
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorTotals:
    """Durable counters of a monitor.

    ``rows`` counts rows in evaluated windows, ``windows_evaluated`` the windows, and
    ``rows_received`` every row the monitor received (its ``next_row``, open window included).
    """

    rows: int = 0
    windows_evaluated: int = 0
    rows_received: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceTotals:
    """Durable counters of a source: rows read and dead letters."""

    rows: int = 0
    dead_letters: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredDeadLetter:
    """A dead letter read back from the store (``raw`` truncated to :data:`MAX_RAW_BYTES`)."""

    id: int
    source: str
    position: str
    reason: str
    detail: str
    raw: bytes | None
    raw_size: int | None
    created_at: datetime

    def to_json(self, *, max_raw_chars: int = 2000) -> dict[str, Any]:
        """JSON view for the HTTP API: ``raw`` as text (undecodable bytes replaced), shortened."""
        raw_text = None
        if self.raw is not None:
            raw_text = self.raw.decode("utf-8", errors="replace")[:max_raw_chars]
        return {
            "id": self.id,
            "source": self.source,
            "position": self.position,
            "reason": self.reason,
            "detail": self.detail,
            "raw": raw_text,
            "raw_size": self.raw_size,
            "created_at": self.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredProfile:
    """A versioned training profile of a monitor."""

    monitor: str
    version: int
    digest: str
    profile: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionResult:
    """Rows deleted by :meth:`Store.delete_older_than`, per table."""

    window_results: int = 0
    dead_letters: int = 0
    partial_windows: int = 0
    evaluated_windows: int = 0


def _sqlite_is_memory(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def create_store_engine(
    url: str | URL, *, busy_timeout_s: float = 10.0, connect_timeout_s: int = 10
) -> Engine:
    """Build the engine for ``url``: SQLite (WAL, busy timeout) or PostgreSQL (psycopg 3).

    ``postgresql://`` URLs use psycopg 3 (``postgresql+psycopg://``). The directory of a SQLite
    file is created when missing. Other databases are rejected.

    Raises
    ------
    ValueError
        For a URL of another database.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        memory = _sqlite_is_memory(parsed)
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": busy_timeout_s}}
        if memory:
            kwargs["poolclass"] = StaticPool
        else:
            Path(parsed.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        busy_ms = int(busy_timeout_s * 1000)

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Transactions are begun explicitly (see on_begin), so pysqlite must not begin them itself.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.close()

        def on_begin(connection: Connection) -> None:
            # A write transaction takes the write lock up front, so it waits (busy timeout) instead of
            # failing when it upgrades from a stale read snapshot.
            write = connection.get_execution_options().get(_WRITE, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", on_begin)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = connect_timeout_s
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    raise ValueError(
        f"store url must be sqlite:// or postgresql:// (postgresql+psycopg://), got {parsed.render_as_string()!r}"
    )


class Store:
    """SQLAlchemy-backed store; thread-safe (one engine, one connection per call).

    Parameters
    ----------
    engine
        Engine from :func:`create_store_engine` (SQLite or PostgreSQL).
    clock
        Returns the current UTC time; used for ``created_at``/``updated_at`` stamps.

    Use :meth:`open` to build one from a URL: it also migrates the schema.
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._clock = clock
        # An in-memory SQLite database is one connection shared by every thread (StaticPool); pysqlite
        # connections cannot interleave transactions, so calls are serialised. Pooled engines need no lock.
        self._serial: AbstractContextManager[Any] = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else nullcontext()
        )
        if engine.dialect.name == "postgresql":
            self._insert: Callable[..., Any] = pg_dialect.insert
        elif engine.dialect.name == "sqlite":
            self._insert = sqlite_dialect.insert
        else:
            raise ValueError(f"store engine must be sqlite or postgresql, got {engine.dialect.name!r}")

    @classmethod
    def open(
        cls,
        url: str | URL,
        *,
        clock: Callable[[], datetime] = _utc_now,
        busy_timeout_s: float = 10.0,
    ) -> Store:
        """Connect to ``url``, apply pending migrations and return the store.

        Raises
        ------
        StoreError
            When the database cannot be reached or migrated.
        """
        engine = create_store_engine(url, busy_timeout_s=busy_timeout_s)
        store = cls(engine, clock=clock)
        try:
            with store._write() as connection:
                version = migrate(connection, now=clock())
        except Exception as exc:
            engine.dispose()
            raise StoreError(f"cannot open store {engine.url.render_as_string()}: {exc}") from exc
        logger.info("store opened url=%s schema_version=%d", engine.url.render_as_string(), version)
        return store

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for other stores sharing the database, e.g. alerts)."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._serial, self._engine.connect() as connection:
            connection.execution_options(**{_WRITE: True})
            with connection.begin():
                yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._serial, self._engine.connect() as connection:
            yield connection

    # ---------------------------------------------------------------- progress (crash safety)

    def commit_progress(self, update: ProgressUpdate) -> None:
        """Write one processing step atomically (see :class:`ProgressUpdate`).

        Raises
        ------
        DuplicateWindowError
            A window index or evaluated key exists already; nothing was written.
        StoreError
            The database failed; nothing was written.
        """
        self.commit_many((update,))

    def commit_many(self, updates: Sequence[ProgressUpdate]) -> None:
        """Write several steps (e.g. a monitor and its labels source) in one transaction."""
        now = self._clock()
        try:
            with self._write() as connection:
                for item in updates:
                    self._apply(connection, item, now)
        except StoreError:
            raise
        except IntegrityError as exc:
            # A concurrent writer committed the same window first (the pre-check could not see it).
            raise DuplicateWindowError(
                f"commit_progress conflicted with a concurrent commit, nothing written: {exc}"
            ) from exc
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailableError(f"commit_progress failed, nothing written: {exc}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"commit_progress failed, nothing written: {exc}") from exc

    def _apply(self, connection: Connection, update_: ProgressUpdate, now: datetime) -> None:
        if update_.monitor is not None:
            self._apply_monitor(connection, update_, update_.monitor, now)
        if update_.source is not None:
            self._apply_source(connection, update_, update_.source, now)

    def _apply_monitor(
        self, connection: Connection, update_: ProgressUpdate, monitor: str, now: datetime
    ) -> None:
        table = schema.window_results
        if update_.windows:
            indexes = [window.index for window in update_.windows]
            if len(set(indexes)) != len(indexes):
                raise DuplicateWindowError(
                    f"monitor {monitor!r}: window indexes repeat in one update: {indexes}"
                )
            existing = connection.execute(
                select(table.c.window_index).where(
                    table.c.monitor == monitor, table.c.window_index.in_(indexes)
                )
            ).scalars()
            taken = sorted(existing)
            if taken:
                raise DuplicateWindowError(
                    f"monitor {monitor!r}: window results exist already for indexes {taken}"
                )
            connection.execute(
                insert(table),
                [
                    {
                        "monitor": monitor,
                        "window_index": window.index,
                        "first_row": window.first_row,
                        "last_row": window.last_row,
                        "window_start": window.start,
                        "window_end": window.end,
                        "rows": window.rows,
                        "drift_detected": window.drift_detected,
                        "drift_share": window.drift_share,
                        "result_json": window.result_json,
                        "created_at": now,
                    }
                    for window in update_.windows
                ],
            )
        self._apply_pending(connection, update_, monitor, now)
        self._raise_watermarks(connection, monitor, update_.watermarks, now)
        if not update_.write_state:
            for partial in update_.partials:
                self._upsert_partial(connection, partial, now)
            if update_.evaluated_keys:
                self._mark_evaluated(connection, monitor, update_.evaluated_keys, now)
            return
        state = schema.monitor_state
        statement = self._insert(state).values(
            monitor=monitor,
            open_state=update_.open_state,
            next_row=update_.next_row,
            next_window_index=update_.next_window_index,
            rows_total=sum(window.rows for window in update_.windows),
            windows_evaluated=len(update_.windows),
            updated_at=now,
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[state.c.monitor],
                set_={
                    "open_state": statement.excluded.open_state,
                    "next_row": statement.excluded.next_row,
                    "next_window_index": statement.excluded.next_window_index,
                    "rows_total": state.c.rows_total + statement.excluded.rows_total,
                    "windows_evaluated": state.c.windows_evaluated + statement.excluded.windows_evaluated,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )
        for partial in update_.partials:
            self._upsert_partial(connection, partial, now)
        if update_.evaluated_keys:
            self._mark_evaluated(connection, monitor, update_.evaluated_keys, now)

    def _apply_pending(
        self, connection: Connection, update_: ProgressUpdate, monitor: str, now: datetime
    ) -> None:
        table = pending_predictions
        if update_.pending_joined:
            ids = list(dict.fromkeys(update_.pending_joined))
            for i in range(0, len(ids), 1000):
                connection.execute(
                    delete(table).where(table.c.monitor == monitor, table.c.pred_id.in_(ids[i : i + 1000]))
                )
        if update_.pending_added:
            latest = {p.id: p for p in update_.pending_added}
            rows = [
                {
                    "monitor": monitor,
                    "pred_id": p.id,
                    "prediction": p.prediction,
                    "event_time": p.event_time,
                    "created_at": p.created_at or now,
                }
                for p in latest.values()
            ]
            for i in range(0, len(rows), 1000):
                statement = self._insert(table).values(rows[i : i + 1000])
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[table.c.monitor, table.c.pred_id],
                        set_={
                            "prediction": statement.excluded.prediction,
                            "event_time": statement.excluded.event_time,
                            "created_at": statement.excluded.created_at,
                        },
                    )
                )

    def _merged_checkpoint(
        self, connection: Connection, source: str, checkpoint: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        state = schema.source_state
        query = select(state.c.checkpoint).where(state.c.source == source)
        if self.dialect == "postgresql":
            # Lock the row the merge reads. Before a source's first commit there is no row to
            # lock, and replicas starting together would each insert their own partitions, the
            # later one dropping the other's: create it first (a concurrent insert waits here
            # for the other transaction), then lock it.
            connection.execute(
                self._insert(state)
                .values(source=source, checkpoint=None, rows_total=0, dead_letters_total=0, updated_at=now)
                .on_conflict_do_nothing(index_elements=[state.c.source])
            )
            query = query.with_for_update()
        stored = connection.execute(query).scalar()
        merged = dict(stored or {})
        for key, value in checkpoint.items():
            old = merged.get(key)
            if isinstance(old, int) and isinstance(value, int) and not isinstance(value, bool):
                merged[key] = max(old, value)
            else:
                merged[key] = value
        return merged

    def _apply_source(
        self, connection: Connection, update_: ProgressUpdate, source: str, now: datetime
    ) -> None:
        letters = update_.dead_letters
        if letters:
            connection.execute(
                insert(schema.dead_letters),
                [
                    {
                        "source": source,
                        "position": str(letter.position),
                        "reason": letter.reason,
                        "detail": letter.detail or "",
                        "raw": None if letter.raw is None else bytes(letter.raw[:MAX_RAW_BYTES]),
                        "raw_size": None if letter.raw is None else len(letter.raw),
                        "created_at": now,
                    }
                    for letter in letters
                ],
            )
            totals = schema.dead_letter_totals
            for reason, count in sorted(Counter(letter.reason for letter in letters).items()):
                statement = self._insert(totals).values(source=source, reason=reason, total=count)
                connection.execute(
                    statement.on_conflict_do_update(
                        index_elements=[totals.c.source, totals.c.reason],
                        set_={"total": totals.c.total + statement.excluded.total},
                    )
                )
        state = schema.source_state
        checkpoint = None if update_.checkpoint is None else dict(update_.checkpoint)
        if checkpoint is not None and update_.merge_checkpoint:
            checkpoint = self._merged_checkpoint(connection, source, checkpoint, now)
        statement = self._insert(state).values(
            source=source,
            checkpoint=checkpoint,
            rows_total=update_.rows_added,
            dead_letters_total=len(letters),
            updated_at=now,
        )
        changes: dict[str, Any] = {
            "rows_total": state.c.rows_total + statement.excluded.rows_total,
            "dead_letters_total": state.c.dead_letters_total + statement.excluded.dead_letters_total,
            "updated_at": statement.excluded.updated_at,
        }
        if update_.checkpoint is not None:
            changes["checkpoint"] = statement.excluded.checkpoint
        connection.execute(statement.on_conflict_do_update(index_elements=[state.c.source], set_=changes))

    # ---------------------------------------------------------------- state

    @_store_errors
    def load_monitor_state(self, monitor: str) -> MonitorState | None:
        """Return the monitor's durable state, ``None`` before its first commit."""
        state = schema.monitor_state
        with self._read() as connection:
            row = connection.execute(select(state).where(state.c.monitor == monitor)).first()
        if row is None:
            return None
        return MonitorState(
            monitor=row.monitor,
            open_state=None if row.open_state is None else bytes(row.open_state),
            next_row=int(row.next_row),
            next_window_index=int(row.next_window_index),
            rows_total=int(row.rows_total),
            windows_evaluated=int(row.windows_evaluated),
            updated_at=row.updated_at,
        )

    @_store_errors
    def load_source_checkpoint(self, source: str) -> dict[str, Any] | None:
        """Return the source's stored checkpoint, ``None`` when none was stored."""
        state = schema.source_state
        with self._read() as connection:
            value = connection.execute(select(state.c.checkpoint).where(state.c.source == source)).scalar()
        return None if value is None else dict(value)

    @_store_errors
    def monitor_totals(self, monitor: str) -> MonitorTotals:
        """Durable counters of ``monitor`` since the store was created (zeros before its first commit)."""
        return self._monitor_totals(monitor).get(monitor, MonitorTotals())

    def _monitor_totals(self, monitor: str | None) -> dict[str, MonitorTotals]:
        state = schema.monitor_state
        query = select(state.c.monitor, state.c.rows_total, state.c.windows_evaluated, state.c.next_row)
        if monitor is not None:
            query = query.where(state.c.monitor == monitor)
        with self._read() as connection:
            return {
                row.monitor: MonitorTotals(
                    rows=int(row.rows_total),
                    windows_evaluated=int(row.windows_evaluated),
                    rows_received=int(row.next_row),
                )
                for row in connection.execute(query)
            }

    @_store_errors
    def all_monitor_totals(self) -> dict[str, MonitorTotals]:
        """Totals of every monitor with a stored state (for seeding metrics)."""
        return self._monitor_totals(None)

    @_store_errors
    def source_totals(self, source: str) -> SourceTotals:
        """Rows read and dead letters of ``source``, since the store was created."""
        return self._source_totals(source).get(source, SourceTotals())

    @_store_errors
    def all_source_totals(self) -> dict[str, SourceTotals]:
        """Totals of every source with a stored state (for seeding metrics)."""
        return self._source_totals(None)

    def _source_totals(self, source: str | None) -> dict[str, SourceTotals]:
        state = schema.source_state
        query = select(state.c.source, state.c.rows_total, state.c.dead_letters_total)
        if source is not None:
            query = query.where(state.c.source == source)
        with self._read() as connection:
            return {
                row.source: SourceTotals(rows=int(row.rows_total), dead_letters=int(row.dead_letters_total))
                for row in connection.execute(query)
            }

    # ---------------------------------------------------------------- results

    @staticmethod
    def _check_limit(limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS_LIMIT:
            raise ValueError(f"limit must be an integer in [1, {MAX_RESULTS_LIMIT}], got {limit!r}")

    @_store_errors
    def results(self, monitor: str, since: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Stored result dicts of ``monitor`` with window index >= ``since``, oldest first.

        Raises
        ------
        ValueError
            When ``limit`` is not in [1, 10000] or ``since`` is negative.
        """
        self._check_limit(limit)
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            raise ValueError(f"since must be an integer >= 0, got {since!r}")
        table = schema.window_results
        with self._read() as connection:
            texts = connection.execute(
                select(table.c.result_json)
                .where(table.c.monitor == monitor, table.c.window_index >= since)
                .order_by(table.c.window_index)
                .limit(limit)
            ).scalars()
            return [json.loads(value) for value in texts]

    @_store_errors
    def last_result(self, monitor: str) -> dict[str, Any] | None:
        """The result of the monitor's newest window, ``None`` when it has none."""
        table = schema.window_results
        with self._read() as connection:
            value = connection.execute(
                select(table.c.result_json)
                .where(table.c.monitor == monitor)
                .order_by(table.c.window_index.desc())
                .limit(1)
            ).scalar()
        return None if value is None else json.loads(value)

    # ---------------------------------------------------------------- dead letters

    @_store_errors
    def dead_letters(self, source: str | None = None, limit: int = 100) -> list[StoredDeadLetter]:
        """Stored dead letters, newest first, optionally of one source."""
        self._check_limit(limit)
        table = schema.dead_letters
        query = select(table).order_by(table.c.id.desc()).limit(limit)
        if source is not None:
            query = query.where(table.c.source == source)
        with self._read() as connection:
            return [
                StoredDeadLetter(
                    id=int(row.id),
                    source=row.source,
                    position=row.position,
                    reason=row.reason,
                    detail=row.detail,
                    raw=None if row.raw is None else bytes(row.raw),
                    raw_size=None if row.raw_size is None else int(row.raw_size),
                    created_at=row.created_at,
                )
                for row in connection.execute(query)
            ]

    @_store_errors
    def dead_letter_counts(self) -> dict[tuple[str, str], int]:
        """Durable dead-letter totals by ``(source, reason)`` (kept across retention)."""
        table = schema.dead_letter_totals
        with self._read() as connection:
            rows = connection.execute(select(table.c.source, table.c.reason, table.c.total))
            return {(row.source, row.reason): int(row.total) for row in rows}

    # ---------------------------------------------------------------- profiles

    @_store_errors
    def save_profile(
        self, monitor: str, profile: Mapping[str, Any], *, now: datetime | None = None
    ) -> StoredProfile:
        """Store ``profile`` as the monitor's next version, unless it equals the latest one.

        Replicas starting together may race on the version number: the loser retries once, and
        then finds the winner's identical version.

        Returns
        -------
        StoredProfile
            The new version, or the latest stored one when its digest is the same.
        """
        try:
            return self._save_profile(monitor, profile, now=now)
        except IntegrityError:
            return self._save_profile(monitor, profile, now=now)

    def _save_profile(
        self, monitor: str, profile: Mapping[str, Any], *, now: datetime | None = None
    ) -> StoredProfile:
        text_json = json.dumps(profile, sort_keys=True, allow_nan=False, separators=(",", ":"))
        digest = hashlib.sha256(text_json.encode()).hexdigest()
        stamp = now if now is not None else self._clock()
        table = schema.profiles
        with self._write() as connection:
            latest = connection.execute(
                select(table.c.version, table.c.digest, table.c.created_at)
                .where(table.c.monitor == monitor)
                .order_by(table.c.version.desc())
                .limit(1)
            ).first()
            if latest is not None and latest.digest == digest:
                return StoredProfile(
                    monitor=monitor,
                    version=int(latest.version),
                    digest=digest,
                    profile=json.loads(text_json),
                    created_at=latest.created_at,
                )
            version = 1 if latest is None else int(latest.version) + 1
            connection.execute(
                insert(table).values(
                    monitor=monitor, version=version, digest=digest, profile_json=text_json, created_at=stamp
                )
            )
        return StoredProfile(
            monitor=monitor, version=version, digest=digest, profile=json.loads(text_json), created_at=stamp
        )

    @_store_errors
    def latest_profile(self, monitor: str) -> StoredProfile | None:
        """The monitor's newest stored profile, ``None`` when it has none."""
        table = schema.profiles
        with self._read() as connection:
            row = connection.execute(
                select(table).where(table.c.monitor == monitor).order_by(table.c.version.desc()).limit(1)
            ).first()
        if row is None:
            return None
        return StoredProfile(
            monitor=row.monitor,
            version=int(row.version),
            digest=row.digest,
            profile=json.loads(row.profile_json),
            created_at=row.created_at,
        )

    # ---------------------------------------------------------------- scale-out

    @_store_errors
    def acquire_lease(self, name: str, holder: str, ttl_s: float, now: datetime) -> bool:
        """Take or renew the lease ``name`` for ``ttl_s`` seconds; atomic across processes.

        Returns ``True`` when ``holder`` holds the lease until ``now + ttl_s``: it was free,
        expired, or already held by ``holder`` (renewal). ``False`` when another holder has it.
        """
        if not ttl_s > 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s!r}")
        expires = now + timedelta(seconds=ttl_s)
        table = schema.leases
        with self._write() as connection:
            renewed = connection.execute(
                update(table)
                .where(table.c.name == name, (table.c.holder == holder) | (table.c.expires_at <= now))
                .values(holder=holder, expires_at=expires)
            )
            if renewed.rowcount == 1:
                return True
            created = connection.execute(
                self._insert(table)
                .values(name=name, holder=holder, expires_at=expires)
                .on_conflict_do_nothing(index_elements=[table.c.name])
                .returning(table.c.name)
            )
            return created.first() is not None

    @_store_errors
    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease up if ``holder`` holds it; return whether it did."""
        table = schema.leases
        with self._write() as connection:
            result = connection.execute(delete(table).where(table.c.name == name, table.c.holder == holder))
            return result.rowcount == 1

    @_store_errors
    def lease_holder(self, name: str, now: datetime) -> str | None:
        """The current (unexpired) holder of lease ``name``, or ``None``."""
        table = schema.leases
        with self._read() as connection:
            return connection.execute(
                select(table.c.holder).where(table.c.name == name, table.c.expires_at > now)
            ).scalar()

    def _upsert_partial(self, connection: Connection, partial: PartialWindow, now: datetime) -> None:
        table = schema.partial_windows
        statement = self._insert(table).values(
            monitor=partial.monitor,
            window_key=partial.window_key,
            replica=partial.replica,
            sketch=partial.sketch,
            rows=partial.rows,
            updated_at=now,
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.monitor, table.c.window_key, table.c.replica],
                set_={
                    "sketch": statement.excluded.sketch,
                    "rows": statement.excluded.rows,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )

    def _raise_watermarks(
        self, connection: Connection, monitor: str, watermarks: Sequence[tuple[int, float]], now: datetime
    ) -> None:
        table = schema.partition_watermarks
        for partition, event_time in watermarks:
            statement = self._insert(table).values(
                monitor=monitor, partition=int(partition), event_time=float(event_time), updated_at=now
            )
            rises = statement.excluded.event_time > table.c.event_time
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[table.c.monitor, table.c.partition],
                    set_={
                        "event_time": case((rises, statement.excluded.event_time), else_=table.c.event_time),
                        "updated_at": case((rises, statement.excluded.updated_at), else_=table.c.updated_at),
                    },
                )
            )

    @_store_errors
    def partition_watermarks(self, monitor: str) -> dict[int, tuple[float, datetime]]:
        """Per Kafka partition of a scale-out monitor: the largest event time sketched from it,
        and when that was written (replicas write a watermark when it rises)."""
        table = schema.partition_watermarks
        with self._read() as connection:
            rows = connection.execute(
                select(table.c.partition, table.c.event_time, table.c.updated_at).where(
                    table.c.monitor == monitor
                )
            )
            return {int(p): (float(t), at) for p, t, at in rows}

    def _mark_evaluated(
        self, connection: Connection, monitor: str, keys: Sequence[str], now: datetime
    ) -> None:
        table = schema.evaluated_windows
        for key in keys:
            created = connection.execute(
                self._insert(table)
                .values(monitor=monitor, window_key=key, evaluated_at=now)
                .on_conflict_do_nothing(index_elements=[table.c.monitor, table.c.window_key])
                .returning(table.c.window_key)
            )
            if created.first() is None:
                raise DuplicateWindowError(f"monitor {monitor!r}: window {key!r} was evaluated already")
        partials = schema.partial_windows
        connection.execute(
            delete(partials).where(partials.c.monitor == monitor, partials.c.window_key.in_(list(keys)))
        )

    @_store_errors
    def save_partial(self, partial: PartialWindow, *, now: datetime | None = None) -> None:
        """Upsert one replica's sketch of a window (prefer ``ProgressUpdate.partials`` with a checkpoint)."""
        with self._write() as connection:
            self._upsert_partial(connection, partial, now if now is not None else self._clock())

    @_store_errors
    def load_partials(self, monitor: str, window_key: str) -> tuple[PartialWindow, ...]:
        """All replicas' sketches of one window, ordered by replica."""
        table = schema.partial_windows
        with self._read() as connection:
            rows = connection.execute(
                select(table)
                .where(table.c.monitor == monitor, table.c.window_key == window_key)
                .order_by(table.c.replica)
            )
            return tuple(
                PartialWindow(
                    monitor=row.monitor,
                    window_key=row.window_key,
                    replica=row.replica,
                    sketch=bytes(row.sketch),
                    rows=int(row.rows),
                )
                for row in rows
            )

    @_store_errors
    def pending_windows(self, monitor: str) -> tuple[str, ...]:
        """Window keys with partial sketches that are not evaluated yet, sorted."""
        partials = schema.partial_windows
        evaluated = schema.evaluated_windows
        query = (
            select(partials.c.window_key)
            .distinct()
            .outerjoin(
                evaluated,
                and_(
                    evaluated.c.monitor == partials.c.monitor, evaluated.c.window_key == partials.c.window_key
                ),
            )
            .where(partials.c.monitor == monitor, evaluated.c.window_key.is_(None))
            .order_by(partials.c.window_key)
        )
        with self._read() as connection:
            return tuple(connection.execute(query).scalars())

    @_store_errors
    def mark_evaluated(self, monitor: str, window_key: str, *, now: datetime | None = None) -> bool:
        """Mark a window evaluated (and drop its partials); ``False`` when it was marked already."""
        try:
            with self._write() as connection:
                self._mark_evaluated(
                    connection, monitor, (window_key,), now if now is not None else self._clock()
                )
        except DuplicateWindowError:
            return False
        return True

    @_store_errors
    def is_evaluated(self, monitor: str, window_key: str) -> bool:
        """Whether the window ``window_key`` of ``monitor`` was evaluated."""
        table = schema.evaluated_windows
        with self._read() as connection:
            found = connection.execute(
                select(func.count()).where(table.c.monitor == monitor, table.c.window_key == window_key)
            ).scalar()
        return bool(found)

    # ---------------------------------------------------------------- label join

    @_store_errors
    def find_pending(self, monitor: str, ids: Sequence[str]) -> dict[str, PendingPrediction]:
        """The pending predictions of ``monitor`` among ``ids`` (id -> prediction)."""
        table = pending_predictions
        out: dict[str, PendingPrediction] = {}
        unique = list(dict.fromkeys(ids))
        with self._read() as connection:
            for i in range(0, len(unique), 1000):
                rows = connection.execute(
                    select(table).where(table.c.monitor == monitor, table.c.pred_id.in_(unique[i : i + 1000]))
                )
                for row in rows:
                    out[row.pred_id] = PendingPrediction(
                        id=row.pred_id,
                        prediction=row.prediction,
                        event_time=row.event_time,
                        created_at=row.created_at,
                    )
        return out

    @_store_errors
    def count_pending(self, monitor: str) -> int:
        """Number of predictions of ``monitor`` waiting for a label."""
        table = pending_predictions
        with self._read() as connection:
            return int(
                connection.execute(select(func.count()).where(table.c.monitor == monitor)).scalar() or 0
            )

    @_store_errors
    def expire_pending(self, monitor: str, cutoff: datetime) -> int:
        """Delete the pending predictions of ``monitor`` created before ``cutoff``; return how many."""
        table = pending_predictions
        with self._write() as connection:
            result = connection.execute(
                delete(table).where(table.c.monitor == monitor, table.c.created_at < cutoff)
            )
            return int(result.rowcount or 0)

    @_store_errors
    def trim_pending(self, monitor: str, max_pending: int) -> int:
        """Keep the newest ``max_pending`` pending predictions of ``monitor``; return how many went."""
        if max_pending < 0:
            raise ValueError(f"max_pending must be >= 0, got {max_pending!r}")
        table = pending_predictions
        with self._write() as connection:
            total = int(
                connection.execute(select(func.count()).where(table.c.monitor == monitor)).scalar() or 0
            )
            excess = total - max_pending
            if excess <= 0:
                return 0
            oldest = (
                select(table.c.pred_id)
                .where(table.c.monitor == monitor)
                .order_by(table.c.created_at, table.c.pred_id)
                .limit(excess)
            )
            ids = list(connection.execute(oldest).scalars())
            for i in range(0, len(ids), 1000):
                connection.execute(
                    delete(table).where(table.c.monitor == monitor, table.c.pred_id.in_(ids[i : i + 1000]))
                )
            return len(ids)

    @_store_errors
    def last_evaluated_key(self, monitor: str) -> str | None:
        """The greatest event-time window key of ``monitor`` marked evaluated (scale-out), or ``None``."""
        table = schema.evaluated_windows
        with self._read() as connection:
            return connection.execute(
                select(func.max(table.c.window_key)).where(table.c.monitor == monitor)
            ).scalar()

    # ---------------------------------------------------------------- housekeeping

    @_store_errors
    def delete_older_than(self, cutoff: datetime) -> RetentionResult:
        """Delete history stored before ``cutoff`` (retention).

        Window results, dead letters, partial sketches and evaluated markers older than ``cutoff``
        go; each monitor's newest window result, its state, checkpoints, durable totals and
        profiles stay.
        """
        results = schema.window_results
        newer = results.alias("newer")
        has_newer = select(newer.c.id).where(
            newer.c.monitor == results.c.monitor, newer.c.window_index > results.c.window_index
        )
        with self._write() as connection:
            deleted_results = connection.execute(
                delete(results).where(results.c.created_at < cutoff, has_newer.exists())
            ).rowcount
            deleted_letters = connection.execute(
                delete(schema.dead_letters).where(schema.dead_letters.c.created_at < cutoff)
            ).rowcount
            deleted_partials = connection.execute(
                delete(schema.partial_windows).where(schema.partial_windows.c.updated_at < cutoff)
            ).rowcount
            deleted_marks = connection.execute(
                delete(schema.evaluated_windows).where(schema.evaluated_windows.c.evaluated_at < cutoff)
            ).rowcount
        outcome = RetentionResult(
            window_results=deleted_results,
            dead_letters=deleted_letters,
            partial_windows=deleted_partials,
            evaluated_windows=deleted_marks,
        )
        logger.info(
            "retention cutoff=%s window_results=%d dead_letters=%d partial_windows=%d evaluated_windows=%d",
            cutoff.isoformat(),
            outcome.window_results,
            outcome.dead_letters,
            outcome.partial_windows,
            outcome.evaluated_windows,
        )
        return outcome

    def ping(self) -> bool:
        """Whether the database answers ``SELECT 1``."""
        try:
            with self._read() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            logger.debug("store ping failed error=%s", exc)
            return False
        return True

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()
