"""driftwarden connectors: sources of rows (files, Kafka, SQL) behind one small protocol."""

from connectors.base import Batch, Checkpoint, ConnectorError, DeadLetter, Source, SourceStatus
from connectors.files import FileFormatError, FileSource, Table, read_table, rows_to_columns

__all__ = [
    "Batch",
    "Checkpoint",
    "ConnectorError",
    "DeadLetter",
    "FileFormatError",
    "FileSource",
    "Source",
    "SourceStatus",
    "Table",
    "read_table",
    "rows_to_columns",
]
