"""Versioned schema migrations of the store.

The store's schema is changed only here, by an ordered tuple of :class:`Migration` steps. The
``schema_version`` table records every applied step; :func:`migrate` applies the missing ones in
order, inside the caller's transaction, so a failed step leaves the schema as it was (PostgreSQL
and SQLite both have transactional DDL). Concurrent starts are serialised: on PostgreSQL by a
transaction-level advisory lock, on SQLite by the caller's ``BEGIN IMMEDIATE``.

To change the schema, append a step (``Migration(version=2, ...)``); never edit an applied one.
A new table added to :data:`monitor.schema.metadata` after version 1 needs a step that creates it,
for example ``metadata.tables["x"].create(connection, checkfirst=True)``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert, select, text

from monitor.schema import UtcDateTime, metadata

logger = logging.getLogger(__name__)

__all__ = ["MIGRATIONS", "Migration", "MigrationError", "current_version", "migrate", "schema_version"]

_ADVISORY_LOCK_ID = 0x44524946_5457_41  # "DRIFTWA": any constant shared by all driftwarden processes

version_metadata = MetaData()
schema_version = Table(
    "schema_version",
    version_metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)


class MigrationError(Exception):
    """The store's schema cannot be brought to the version this code expects."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One schema step: ``apply`` runs inside the migration transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_initial_schema(connection: Connection) -> None:
    # monitor.alert_store adds the alert_* tables to the shared metadata when it is imported.
    # It is developed separately and may be absent; it is the only optional import here.
    try:
        importlib.import_module("monitor.alert_store")
    except ImportError:
        logger.info("migration v1: monitor.alert_store not importable, alert tables not created")
    metadata.create_all(connection, checkfirst=True)


def _create_pending_predictions(connection: Connection) -> None:
    # The table is defined by monitor.store (imported before any migration runs).
    table = metadata.tables.get("pending_predictions")
    if table is None:
        importlib.import_module("monitor.store")
        table = metadata.tables["pending_predictions"]
    table.create(connection, checkfirst=True)


def _create_partition_watermarks(connection: Connection) -> None:
    metadata.tables["partition_watermarks"].create(connection, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(version=1, description="initial schema", apply=_create_initial_schema),
    Migration(version=2, description="pending predictions (label join)", apply=_create_pending_predictions),
    Migration(
        version=3,
        description="event-time watermarks per Kafka partition (scale-out)",
        apply=_create_partition_watermarks,
    ),
)


def current_version(connection: Connection) -> int:
    """Return the highest applied migration version, 0 for an empty database."""
    if not connection.dialect.has_table(connection, schema_version.name):
        return 0
    found = connection.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc()))
    row = found.first()
    return 0 if row is None else int(row[0])


def migrate(
    connection: Connection,
    *,
    migrations: tuple[Migration, ...] = MIGRATIONS,
    now: datetime | None = None,
) -> int:
    """Apply the pending migrations in order and return the resulting schema version.

    Parameters
    ----------
    connection
        A connection inside an open (write) transaction; the caller commits.
    migrations
        The ordered steps; versions must be 1, 2, 3, ... without gaps.
    now
        Time recorded in ``schema_version.applied_at`` (default: the current UTC time).

    Returns
    -------
    int
        The schema version after migrating.

    Raises
    ------
    MigrationError
        When the database has a newer schema than ``migrations`` know, or the steps are misnumbered.
    """
    expected = tuple(range(1, len(migrations) + 1))
    if tuple(m.version for m in migrations) != expected:
        raise MigrationError(
            f"migration versions must be {expected}, got {tuple(m.version for m in migrations)}"
        )
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    schema_version.create(connection, checkfirst=True)
    version = current_version(connection)
    if version > len(migrations):
        raise MigrationError(
            f"store schema version {version} is newer than this driftwarden supports ({len(migrations)})"
        )
    applied_at = now if now is not None else datetime.now(UTC)
    for step in migrations[version:]:
        logger.info("applying migration version=%d description=%s", step.version, step.description)
        step.apply(connection)
        connection.execute(
            insert(schema_version).values(
                version=step.version, description=step.description, applied_at=applied_at
            )
        )
        version = step.version
    return version
