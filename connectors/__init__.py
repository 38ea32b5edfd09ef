"""driftwarden connectors: sources of rows (files, Kafka, SQL) behind one small protocol."""

from connectors.base import Batch, Checkpoint, ConnectorError, DeadLetter, Source, SourceStatus
from connectors.files import FileFormatError, FileSource, Table, read_table, rows_to_columns
from connectors.kafka import KafkaSource, KafkaSourceSettings
from connectors.mapping import RowMapping
from connectors.sql import SqlSource, SqlSourceSettings

__all__ = [
    "Batch",
    "Checkpoint",
    "ConnectorError",
    "DeadLetter",
    "FileFormatError",
    "FileSource",
    "KafkaSource",
    "KafkaSourceSettings",
    "RowMapping",
    "Source",
    "SourceStatus",
    "SqlSource",
    "SqlSourceSettings",
    "Table",
    "read_table",
    "rows_to_columns",
]
