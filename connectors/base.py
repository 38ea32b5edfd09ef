"""The seam between sources and the monitor: batches of decoded rows with their positions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

Checkpoint = Mapping[str, Any]
"""JSON-serialisable source position *after* a batch, e.g. ``{"0": 1234, "1": 99}`` for
Kafka partitions (next offset to read), ``{"watermark": [17, 3]}`` for SQL, ``{"row": 5000}`` for files.
The monitor stores it in the same transaction as the window state that includes those rows,
and gives it back to :meth:`Source.open` after a restart; the store, not the broker, is the truth."""


class ConnectorError(Exception):
    """Base error of :mod:`connectors`; ``str()`` is the one line the CLI prints."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A message or row that could not become a row object (see DESIGN.md, Rows and dead letters)."""

    source: str
    position: str  # e.g. "partition=0 offset=17", "row=42", "watermark=[17, 3]"
    reason: str  # invalid_json | invalid_utf8 | not_an_object | not_a_list | oversize | missing_field | ...
    detail: str = ""
    raw: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """Rows read by one :meth:`Source.poll`, in source order.

    ``rows`` are flat mappings of field name to value (after the source's field mapping);
    ``checkpoint`` is the position after the last message of the batch (cumulative, not a delta);
    ``end_of_data`` is true when a finite source (a file with ``at_end = "exit"``) has no more rows.
    File sources may deliver ``columns`` (name -> numpy array, ``n_columnar_rows`` long) instead
    of row dicts, which is much cheaper; a batch carries one form or the other.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    checkpoint: Checkpoint | None = None
    end_of_data: bool = False
    columns: Mapping[str, Any] | None = None  # optional column-wise rows (name -> array), instead of ``rows``
    n_columnar_rows: int = 0  # number of rows in ``columns``
    malformed_rows: int = 0  # rows of a file that could not be parsed (counted, not dead letters)
    # per row, a unique stable source position (Kafka: partition * 2**40 + offset; a list or an
    # int64 array), or None
    positions: Sequence[int] | np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(self.rows) + self.n_columnar_rows


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceStatus:
    """Health of a source for /readyz and /metrics."""

    connected: bool
    reason: str = ""
    lag: Mapping[str, int] = field(default_factory=dict)  # partition -> messages behind


class Source(Protocol):
    """A stream of rows. One thread owns a source; it is not shared across threads."""

    name: str

    def open(self, checkpoint: Checkpoint | None) -> None:
        """Connect and position at ``checkpoint`` (or the configured start when ``None``)."""

    def poll(self, max_rows: int, timeout_s: float) -> Batch:
        """Return up to ``max_rows`` rows, waiting at most ``timeout_s`` for the first one."""

    def commit(self, checkpoint: Checkpoint) -> None:
        """Tell the upstream system that everything up to ``checkpoint`` is durably processed."""

    def status(self) -> SourceStatus:
        """Connection state and lag."""

    def close(self) -> None:
        """Release connections; bounded in time."""
