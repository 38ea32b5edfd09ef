"""SQLAlchemy Core metadata shared by every table of the store.

The core tables of :mod:`monitor.store` are defined here; other modules (``monitor.alert_store``)
add their own tables to the same :data:`metadata`. Tables are created only by the versioned
migrations of :mod:`monitor.migrations`, never by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text, which still sorts and
    compares correctly because every value is normalised to UTC before it is written.
    Naive datetimes are rejected: the store never guesses a timezone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware datetimes, got {value!r}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Id = BigInteger().with_variant(Integer(), "sqlite")
"""Autoincrementing key: SQLite only autoincrements ``INTEGER PRIMARY KEY``."""

profiles = Table(
    "profiles",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("monitor", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("profile_json", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("monitor", "version"),
)

window_results = Table(
    "window_results",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("monitor", String(200), nullable=False),
    Column("window_index", BigInteger, nullable=False),
    Column("first_row", BigInteger, nullable=True),
    Column("last_row", BigInteger, nullable=True),
    Column("window_start", UtcDateTime, nullable=True),
    Column("window_end", UtcDateTime, nullable=True),
    Column("rows", BigInteger, nullable=False),
    Column("drift_detected", Boolean, nullable=False),
    Column("drift_share", Float, nullable=True),
    Column("result_json", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("monitor", "window_index"),
    Index("ix_window_results_created_at", "created_at"),
)

monitor_state = Table(
    "monitor_state",
    metadata,
    Column("monitor", String(200), primary_key=True),
    Column("open_state", LargeBinary, nullable=True),
    Column("next_row", BigInteger, nullable=False),
    Column("next_window_index", BigInteger, nullable=False),
    Column("rows_total", BigInteger, nullable=False),
    Column("windows_evaluated", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("checkpoint", JSON, nullable=True),
    Column("rows_total", BigInteger, nullable=False),
    Column("dead_letters_total", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("position", Text, nullable=False),
    Column("reason", String(100), nullable=False),
    Column("detail", Text, nullable=False),
    Column("raw", LargeBinary, nullable=True),
    Column("raw_size", BigInteger, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_dead_letters_source_id", "source", "id"),
    Index("ix_dead_letters_created_at", "created_at"),
)

dead_letter_totals = Table(
    "dead_letter_totals",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("reason", String(100), primary_key=True),
    Column("total", BigInteger, nullable=False),
)

partial_windows = Table(
    "partial_windows",
    metadata,
    Column("monitor", String(200), primary_key=True),
    Column("window_key", String(200), primary_key=True),
    Column("replica", String(200), primary_key=True),
    Column("sketch", LargeBinary, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

partition_watermarks = Table(
    "partition_watermarks",
    metadata,
    Column("monitor", String(200), primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("event_time", Float(precision=53), nullable=False),  # epoch seconds, the largest seen
    Column("updated_at", UtcDateTime, nullable=False),
)

evaluated_windows = Table(
    "evaluated_windows",
    metadata,
    Column("monitor", String(200), primary_key=True),
    Column("window_key", String(200), primary_key=True),
    Column("evaluated_at", UtcDateTime, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)
