"""SQL source: incremental polling of a table or view by a monotonic watermark column.

Each poll reads rows after the checkpoint ``{"watermark": [value, tiebreak]}`` in
``(watermark, tiebreaker)`` order, at most ``batch_rows`` of them, with SQLAlchemy Core and
bound parameters only. The table and every column named in the settings are checked against
the reflected schema, and the query is built from the reflected :class:`~sqlalchemy.Table`, so
no SQL text is ever assembled from configuration. Works on any SQLAlchemy dialect; tested on
SQLite and PostgreSQL.

Without a tie-breaker column, rows sharing the last watermark value of a batch are never split
across batches (the batch stops before them, or, when a single value has more than
``batch_rows`` rows, all of them are read together), so ties are neither lost nor duplicated.

Known limitation (as with every watermark poller): a row committed later with a watermark
*below* the checkpoint, e.g. a sequence value taken by a transaction that commits after a
higher one, is not read. Use a watermark that is assigned at commit time, or a view that
hides rows younger than the longest transaction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Engine, MetaData, Table, and_, create_engine, inspect, or_, select
from sqlalchemy import types as satypes
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from connectors.base import Batch, Checkpoint, ConnectorError, DeadLetter, SourceStatus
from connectors.mapping import RowMapping

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlSourceSettings:
    """Everything a :class:`SqlSource` needs, as plain typed values.

    Parameters
    ----------
    url, url_env
        The SQLAlchemy database URL, or the name of the environment variable holding it
        (exactly one of them; the URL usually carries a password, so prefer ``url_env``).
    table
        Table or view name, as the database spells it.
    schema
        Database schema of the table (default: the connection's default schema).
    watermark
        A monotonic (non-decreasing) column; rows are read in its order.
    tiebreaker
        Optional column making ``(watermark, tiebreaker)`` unique (e.g. the primary key).
    columns
        Columns to read (default: all). The watermark and tie-breaker are always read.
    batch_rows
        Upper bound on rows per poll.
    mapping
        Renames, required fields and event-time field applied to each row.
    """

    url: str | None = field(default=None, repr=False)
    url_env: str | None = None
    table: str
    schema: str | None = None
    watermark: str
    tiebreaker: str | None = None
    columns: tuple[str, ...] | None = None
    batch_rows: int = 50_000
    mapping: RowMapping = field(default_factory=RowMapping)

    def __post_init__(self) -> None:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("exactly one of url and url_env must be given")
        for key in ("table", "watermark"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{key} must be a non-empty string, got {value!r}")
        if self.tiebreaker is not None and (not self.tiebreaker or self.tiebreaker == self.watermark):
            raise ValueError(f"tiebreaker must be a column other than the watermark, got {self.tiebreaker!r}")
        if self.columns is not None:
            object.__setattr__(self, "columns", tuple(self.columns))
            if not self.columns or not all(isinstance(c, str) and c for c in self.columns):
                raise ValueError(f"columns must be non-empty column names or None, got {self.columns!r}")
        if isinstance(self.batch_rows, bool) or not isinstance(self.batch_rows, int) or self.batch_rows <= 0:
            raise ValueError(f"batch_rows must be a positive integer, got {self.batch_rows!r}")


class SqlSource:
    """Rows from a SQL table or view, read incrementally (implements :class:`connectors.base.Source`).

    Parameters
    ----------
    name
        The source's name in the config; used in dead letters, errors and logs.
    settings
        Connection, table and column settings.
    environ
        Where ``url_env`` is looked up (default :data:`os.environ`).
    engine
        An existing engine to use instead of creating one from the URL (not disposed on close).
    """

    def __init__(
        self,
        name: str,
        settings: SqlSourceSettings,
        *,
        environ: Mapping[str, str] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._environ = os.environ if environ is None else environ
        self._engine = engine
        self._owns_engine = engine is None
        self._table: Table | None = None
        self._select: list[Column[Any]] = []
        self._last: tuple[Any, Any] | None = None
        self._status = SourceStatus(connected=False, reason="not opened")

    # -- Source protocol ---------------------------------------------------------------------------

    def open(self, checkpoint: Checkpoint | None) -> None:
        """Connect, reflect and validate the table and columns, and restore ``checkpoint``."""
        if self._table is not None:
            raise ConnectorError(f"source {self.name!r}: already open")
        s = self.settings
        if self._engine is None:
            url = s.url
            if url is None:
                url = self._environ.get(s.url_env or "")
                if not url:
                    raise ConnectorError(
                        f"source {self.name!r}: url_env: environment variable {s.url_env} is not set"
                    )
            try:
                self._engine = create_engine(url, pool_pre_ping=True)
            except (SQLAlchemyError, ValueError, ImportError) as exc:
                raise ConnectorError(f"source {self.name!r}: url: cannot use database URL: {exc}") from exc
        try:
            table = self._reflect(self._engine)
        except ConnectorError:
            self._dispose()
            raise
        except SQLAlchemyError as exc:
            self._dispose()
            self._status = SourceStatus(connected=False, reason=f"{type(exc).__name__}: {exc}")
            raise ConnectorError(
                f"source {self.name!r}: cannot read table {s.table!r}: {_first_line(exc)}"
            ) from exc
        self._table = table
        wm = table.c[s.watermark]
        tb = table.c[s.tiebreaker] if s.tiebreaker is not None else None
        names = s.columns if s.columns is not None else tuple(c.name for c in table.columns)
        selected = [table.c[n] for n in names]
        for col in (wm, tb):
            if col is not None and col.name not in names:
                selected.append(col)
        self._select = selected
        self._last = self._restore(checkpoint)
        self._status = SourceStatus(connected=True)
        logger.info(
            "sql source opened source=%s table=%s watermark=%s tiebreaker=%s after=%s",
            self.name,
            s.table,
            s.watermark,
            s.tiebreaker,
            self._last,
        )

    def poll(self, max_rows: int, timeout_s: float) -> Batch:
        """Read up to ``min(max_rows, batch_rows)`` rows after the checkpoint (never waits).

        ``timeout_s`` is unused: a query returns what is there; the caller paces polls
        (``poll_interval``).
        """
        table = self._require_open()
        if max_rows <= 0:
            raise ValueError(f"max_rows must be positive, got {max_rows!r}")
        s = self.settings
        limit = min(max_rows, s.batch_rows)
        wm = table.c[s.watermark]
        tb = table.c[s.tiebreaker] if s.tiebreaker is not None else None
        stmt = select(*self._select).where(wm.is_not(None))
        if tb is not None:
            stmt = stmt.where(tb.is_not(None))
        if self._last is not None:
            last_wm, last_tb = self._last
            if tb is not None:
                stmt = stmt.where(or_(wm > last_wm, and_(wm == last_wm, tb > last_tb)))
            else:
                stmt = stmt.where(wm > last_wm)
        stmt = stmt.order_by(wm, tb) if tb is not None else stmt.order_by(wm)
        assert self._engine is not None
        try:
            with self._engine.connect() as conn:
                records = [dict(r._mapping) for r in conn.execute(stmt.limit(limit))]
                if tb is None and len(records) == limit:
                    records = self._complete_ties(conn, stmt, records, wm)
        except SQLAlchemyError as exc:
            self._status = SourceStatus(connected=False, reason=f"{type(exc).__name__}: {_first_line(exc)}")
            raise ConnectorError(f"source {self.name!r}: query failed: {_first_line(exc)}") from exc
        self._status = SourceStatus(connected=True)
        if not records:
            return Batch(checkpoint=self._checkpoint())
        rows: list[dict[str, Any]] = []
        dead: list[DeadLetter] = []
        mapping = s.mapping
        wm_name, tb_name = wm.key, (tb.key if tb is not None else None)
        for record in records:
            key = (record[wm_name], record[tb_name] if tb_name is not None else None)
            if s.columns is not None:
                record = {n: record[n] for n in s.columns}
            row = mapping.apply(record)
            if type(row) is dict:
                rows.append(row)
            else:
                dead.append(
                    DeadLetter(
                        source=self.name,
                        position=f"watermark={_position(key)}",
                        reason=row.reason,  # type: ignore[union-attr]
                        detail=row.detail,  # type: ignore[union-attr]
                    )
                )
        last = records[-1]
        self._last = (last[wm_name], last[tb_name] if tb_name is not None else None)
        return Batch(rows=rows, dead_letters=dead, checkpoint=self._checkpoint())

    def commit(self, checkpoint: Checkpoint) -> None:
        """Nothing to tell a database: the stored checkpoint is the only position."""
        self._require_open()

    def status(self) -> SourceStatus:
        """Whether the last query succeeded (lag is not known for SQL sources)."""
        return self._status

    def close(self) -> None:
        """Dispose of the engine's connections (if this source created the engine)."""
        self._table = None
        self._dispose()
        self._status = SourceStatus(connected=False, reason="closed")

    # -- helpers -----------------------------------------------------------------------------------

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The position after the last row read, JSON-serialisable."""
        return self._checkpoint()

    def _require_open(self) -> Table:
        if self._table is None:
            raise ConnectorError(f"source {self.name!r}: not open")
        return self._table

    def _dispose(self) -> None:
        if self._engine is not None and self._owns_engine:
            self._engine.dispose()
            self._engine = None

    def _reflect(self, engine: Engine) -> Table:
        s = self.settings
        insp = inspect(engine)
        available = set(insp.get_table_names(schema=s.schema)) | set(insp.get_view_names(schema=s.schema))
        if s.table not in available:
            where = f" in schema {s.schema!r}" if s.schema else ""
            raise ConnectorError(
                f"source {self.name!r}: table: {s.table!r} not found{where} (available: {_names(available)})"
            )
        try:
            table = Table(s.table, MetaData(), schema=s.schema, autoload_with=engine)
        except NoSuchTableError as exc:
            raise ConnectorError(f"source {self.name!r}: table: {s.table!r} not found") from exc
        columns = [c.name for c in table.columns]
        wanted: list[tuple[str, str]] = [("watermark", s.watermark)]
        if s.tiebreaker is not None:
            wanted.append(("tiebreaker", s.tiebreaker))
        wanted.extend(("columns", c) for c in s.columns or ())
        for key, name in wanted:
            if name not in table.c:
                raise ConnectorError(
                    f"source {self.name!r}: {key}: column {name!r} not in table {s.table!r} "
                    f"(columns: {_names(columns)})"
                )
        return table

    def _complete_ties(
        self, conn: Any, stmt: Any, records: list[dict[str, Any]], wm: Column[Any]
    ) -> list[dict[str, Any]]:
        """Never split rows sharing a watermark value across batches (no tie-breaker)."""
        last_wm = records[-1][wm.key]
        if records[0][wm.key] != last_wm:
            while records and records[-1][wm.key] == last_wm:
                records.pop()
            return records
        logger.warning(
            "sql source: more than batch_rows rows share one watermark value source=%s watermark=%r",
            self.name,
            last_wm,
        )
        return [dict(r._mapping) for r in conn.execute(stmt.where(wm == last_wm))]

    def _checkpoint(self) -> Checkpoint | None:
        if self._last is None:
            return None
        return {"watermark": [_to_json(self._last[0]), _to_json(self._last[1])]}

    def _restore(self, checkpoint: Checkpoint | None) -> tuple[Any, Any] | None:
        if not checkpoint:
            return None
        value = checkpoint.get("watermark")
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
            raise ConnectorError(
                f"source {self.name!r}: checkpoint must be {{'watermark': [value, tiebreak]}}, got {checkpoint!r}"
            )
        table = self._require_open()
        s = self.settings
        wm_value = _from_json(value[0], table.c[s.watermark], source=self.name)
        tb_value = None
        if s.tiebreaker is not None:
            tb_value = _from_json(value[1], table.c[s.tiebreaker], source=self.name)
            if (wm_value is None) != (tb_value is None):
                raise ConnectorError(
                    f"source {self.name!r}: checkpoint {checkpoint!r} has only half a position"
                )
        return None if wm_value is None else (wm_value, tb_value)


def _to_json(value: Any) -> Any:
    """A watermark value as JSON: datetimes, dates and times as ISO strings, decimals as strings."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _from_json(value: Any, column: Column[Any], *, source: str) -> Any:
    """Undo :func:`_to_json` using the reflected column type."""
    if value is None:
        return None
    col_type = column.type
    try:
        if isinstance(col_type, satypes.DateTime):
            return datetime.fromisoformat(value)
        if isinstance(col_type, satypes.Date):
            return date.fromisoformat(value)
        if isinstance(col_type, satypes.Time):
            return time.fromisoformat(value)
        if isinstance(col_type, satypes.Numeric) and not isinstance(col_type, satypes.Float):
            if col_type.asdecimal and isinstance(value, str | int):
                return Decimal(str(value))
            return value
        if isinstance(col_type, satypes.LargeBinary):
            return bytes.fromhex(value)
    except (TypeError, ValueError) as exc:
        raise ConnectorError(
            f"source {source!r}: checkpoint value {value!r} does not fit column {column.name!r} ({col_type}): {exc}"
        ) from exc
    return value


def _position(key: tuple[Any, Any]) -> str:
    wm, tb = key
    return f"[{_to_json(wm)!r}, {_to_json(tb)!r}]"


def _names(names: Any, limit: int = 20) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    return shown + (f", ... ({len(ordered)} in all)" if len(ordered) > limit else "") if ordered else "none"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
