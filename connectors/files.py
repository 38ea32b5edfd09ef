"""Files as tables and as streams: CSV, Parquet and JSON Lines, chosen by extension."""

from __future__ import annotations

import bisect
import csv
import io
import logging
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd

from connectors.base import Batch, Checkpoint, ConnectorError, DeadLetter, SourceStatus

logger = logging.getLogger(__name__)

FILE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
AtEnd = Literal["idle", "loop", "exit"]


class FileFormatError(ConnectorError):
    """A file that cannot be read at all; ``str()`` names the file and the problem."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """A file read whole, column-wise.

    ``columns`` maps each column to a numpy array of ``n_rows`` values; ``malformed_rows`` counts
    data rows that could not be parsed (ragged CSV lines, JSON lines that are not objects), whose
    0-based data-row numbers are in ``malformed_positions``. ``row_numbers`` gives each kept row's
    0-based data-row number in the file (rows after a malformed one keep their file position).
    """

    path: str
    columns: dict[str, np.ndarray]
    n_rows: int
    row_numbers: np.ndarray
    malformed_rows: int = 0
    malformed_positions: tuple[int, ...] = ()
    malformed_reasons: tuple[str, ...] = field(default_factory=tuple)


def file_format(path: str | Path) -> str:
    """The format of a file by its extension, or :class:`FileFormatError`."""
    suffix = Path(path).suffix.lower()
    fmt = FILE_FORMATS.get(suffix)
    if fmt is None:
        raise FileFormatError(
            f"{path}: unknown file extension {suffix or '(none)'!r} (expected .csv, .parquet or .jsonl)"
        )
    return fmt


def _read_bytes(path: str | Path) -> bytes:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data.strip():
        raise FileFormatError(f"{path}: file is empty")
    return data


def _decode_utf8(path: str | Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileFormatError(
            f"{path}: line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text.removeprefix("\ufeff")


_SKIP_RE = re.compile(r"Skipping line (\d+): (.*)")


def _frame_to_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in frame.columns:
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        if isinstance(col.dtype, pd.DatetimeTZDtype):  # an extension dtype too: test it first
            arr = col.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        elif pd.api.types.is_extension_array_dtype(col.dtype):
            arr = col.to_numpy(dtype=object, na_value=None)
        else:
            arr = col.to_numpy()
        out[str(name)] = arr
    return out


def _is_blank_record(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def _csv_header(text: str) -> list[str]:
    """The first non-blank CSV record (the header), parsed on its own ([] if the csv module cannot)."""
    try:
        for record in csv.reader(io.StringIO(text)):
            if not _is_blank_record(record):
                return record
    except csv.Error:  # e.g. an unbalanced quote: pandas reports it
        return []
    return []


def _parse_csv(path: str | Path, text: str) -> tuple[pd.DataFrame, list[str]]:
    """``pandas.read_csv`` with ragged lines skipped; returns the frame and the warning texts."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            frame = pd.read_csv(io.StringIO(text), on_bad_lines="warn", index_col=False, low_memory=False)
        except pd.errors.EmptyDataError:
            raise FileFormatError(f"{path}: file is empty (no header)") from None
        except pd.errors.ParserError as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise FileFormatError(f"{path}: not a readable CSV file ({msg})") from None
    return frame, [str(w.message) for w in caught]


def _read_csv_text(path: str | Path, text: str) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """The frame of the well-formed rows, and (0-based data-row position, reason) of the ragged ones."""
    header = _csv_header(text)
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise FileFormatError(f"{path}: duplicate column names in the header ({', '.join(map(repr, dupes))})")
    frame, messages = _parse_csv(path, text)
    if any("Length of header or names does not match" in m for m in messages):
        # The first data row is wider than the header: pandas then sizes every row on it and
        # silently truncates. Split the records ourselves and let pandas parse the good ones.
        frame, bad = _reparse_ragged_csv(path, text, header)
    else:
        lines: list[tuple[int, str]] = []
        for message in messages:
            for m in _SKIP_RE.finditer(message):
                lines.append((int(m.group(1)), m.group(2).strip()))
        lines.sort()
        positions = _data_row_positions(text, [line for line, _ in lines])
        bad = [(pos, reason) for pos, (_, reason) in zip(positions, lines, strict=True)]
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed and len(unnamed) == len(frame.columns):
        raise FileFormatError(f"{path}: the header has no column names")
    return frame, bad


def _reparse_ragged_csv(
    path: str | Path, text: str, header: list[str]
) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    good = io.StringIO()
    writer = csv.writer(good)
    bad: list[tuple[int, str]] = []
    position = -1  # the header record is position -1
    try:
        for record in csv.reader(io.StringIO(text)):
            if _is_blank_record(record):
                continue
            if position >= 0 and len(record) > len(header):
                bad.append((position, f"expected {len(header)} fields, saw {len(record)}"))
            else:
                writer.writerow(record)
            position += 1
    except csv.Error as exc:
        raise FileFormatError(f"{path}: not a readable CSV file (record {position + 2}: {exc})") from None
    frame, _ = _parse_csv(path, good.getvalue())
    return frame, bad


_BLANK_LINE_RE = re.compile(r"(?:^|\n)[ \t\r]*\n")


def _data_row_positions(text: str, lines: list[int]) -> list[int]:
    """0-based data-row numbers of the CSV records the reader reported by 1-based line number.

    The reader numbers records (a quoted field spanning lines is one record) with the header as
    line 1, and counts blank lines, which it skips and which are therefore not data rows.
    """
    if not lines:
        return []
    if not _BLANK_LINE_RE.search(text):
        return [line - 2 for line in lines]
    blank: list[int] = []
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text)), start=1):
            if number > lines[-1]:
                break
            if _is_blank_record(record):
                blank.append(number)
    except csv.Error:  # a field the csv module refuses (over its size limit): use the blanks seen so far
        pass
    return [line - 2 - bisect.bisect_left(blank, line) for line in lines]


def read_table(path: str | Path) -> Table:
    """Read a whole file (by extension) into columns.

    Raises :class:`FileFormatError` for what cannot be read at all: unknown extension, missing or
    empty file, bytes that are not UTF-8, no rows, a corrupt Parquet file. Ragged CSV lines and
    JSON lines that are not objects are counted as malformed rows instead.
    """
    fmt = file_format(path)
    if fmt == "parquet":
        return _read_parquet(path)
    data = _read_bytes(path)
    text = _decode_utf8(path, data)
    if fmt == "csv":
        frame, bad = _read_csv_text(path, text)
        positions = [pos for pos, _ in bad]
        n = len(frame)
        total = n + len(positions)
        if total == 0:
            raise FileFormatError(f"{path}: no data rows (only a header)")
        keep = np.setdiff1d(np.arange(total, dtype=np.int64), np.asarray(positions, dtype=np.int64))
        if keep.size != n:  # cannot happen unless the reader's line numbers drift; never misalign
            keep = np.arange(n, dtype=np.int64)
        return Table(
            path=str(path),
            columns=_frame_to_columns(frame),
            n_rows=n,
            row_numbers=keep,
            malformed_rows=len(positions),
            malformed_positions=tuple(positions),
            malformed_reasons=tuple(r for _, r in bad),
        )
    return _read_jsonl(path, text)


def _read_jsonl(path: str | Path, text: str) -> Table:
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    bad_pos: list[int] = []
    reasons: list[str] = []
    row = 0
    for line in text.split("\n"):  # not splitlines(): JSON strings may hold U+2028, U+0085, ...
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad_pos.append(row)
            reasons.append("invalid JSON")
        else:
            if isinstance(obj, dict):
                records.append(obj)
                numbers.append(row)
            else:
                bad_pos.append(row)
                reasons.append("not a JSON object")
        row += 1
    if row == 0:
        raise FileFormatError(f"{path}: file is empty")
    columns = rows_to_columns(records)
    return Table(
        path=str(path),
        columns=columns,
        n_rows=len(records),
        row_numbers=np.asarray(numbers, dtype=np.int64),
        malformed_rows=len(bad_pos),
        malformed_positions=tuple(bad_pos),
        malformed_reasons=tuple(reasons),
    )


def rows_to_columns(records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Column-wise arrays from row dicts; a field absent from a row is ``None`` there.

    Nested objects and lists are kept as JSON text (so they can be counted as type mismatches).
    """
    names: dict[str, None] = {}
    for r in records:
        for k in r:
            if k not in names:
                names[k] = None
    out: dict[str, np.ndarray] = {}
    n = len(records)
    for name in names:
        arr = np.empty(n, dtype=object)
        for i, r in enumerate(records):
            v = r.get(name)
            if isinstance(v, (dict, list)):
                v = orjson.dumps(v).decode()
            arr[i] = v
        out[str(name)] = _tighten(arr)
    return out


def _tighten(arr: np.ndarray) -> np.ndarray:
    """Use a float array when every present value is a number (much faster downstream)."""
    kinds = {type(v) for v in arr[: min(arr.size, 2000)]}
    if kinds <= {int, float, type(None)}:
        try:
            return np.array([np.nan if v is None else v for v in arr], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            return arr
    return arr


def _read_parquet(path: str | Path) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.exists():
        raise FileFormatError(f"{path}: no such file")
    if p.stat().st_size == 0:
        raise FileFormatError(f"{path}: file is empty")
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileFormatError(f"{path}: not a readable Parquet file ({msg})") from None
    if table.num_rows == 0:
        raise FileFormatError(f"{path}: no data rows")
    frame = table.to_pandas()
    return Table(
        path=str(path),
        columns=_frame_to_columns(frame),
        n_rows=len(frame),
        row_numbers=np.arange(len(frame), dtype=np.int64),
    )


def iter_table_chunks(table: Table, chunk_rows: int) -> Iterator[tuple[dict[str, np.ndarray], np.ndarray]]:
    """Slices of a table: (columns, row numbers), ``chunk_rows`` rows at a time."""
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows!r}")
    for lo in range(0, table.n_rows, chunk_rows):
        hi = min(lo + chunk_rows, table.n_rows)
        yield {k: v[lo:hi] for k, v in table.columns.items()}, table.row_numbers[lo:hi]


class FileSource:
    """A file replayed as a stream (the embedded demo and batch backfills).

    Parameters
    ----------
    name, path:
        Source name (for dead letters and metrics) and the file (``.csv``, ``.parquet``, ``.jsonl``).
    rows_per_second:
        Replay pace; ``0`` delivers as fast as the monitor polls.
    at_end:
        ``"idle"`` keeps the source open with no more rows, ``"loop"`` starts again from the first
        row (the demo), ``"exit"`` reports ``end_of_data`` so the daemon can stop (batch jobs).
    clock, sleep:
        Injected time functions (tests drive the pace without sleeping).

    The checkpoint is ``{"row": n, "loop": k}``: rows of the file delivered so far in the current loop.
    """

    def __init__(
        self,
        name: str,
        path: str | Path,
        *,
        rows_per_second: float = 0.0,
        at_end: AtEnd = "idle",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rows_per_second < 0:
            raise ValueError(f"rows_per_second must be >= 0, got {rows_per_second!r}")
        if at_end not in ("idle", "loop", "exit"):
            raise ValueError(f"at_end must be 'idle', 'loop' or 'exit', got {at_end!r}")
        self.name = name
        self.path = Path(path)
        self.rows_per_second = float(rows_per_second)
        self.at_end: AtEnd = at_end
        self._clock = clock
        self._sleep = sleep
        self._table: Table | None = None
        self._pos = 0
        self._loop = 0
        self._budget = 0.0
        self._last = clock()
        self._malformed_reported = False

    def open(self, checkpoint: Checkpoint | None) -> None:
        file_format(self.path)
        self._table = read_table(self.path)
        self._pos = int(checkpoint.get("row", 0)) if checkpoint else 0
        self._loop = int(checkpoint.get("loop", 0)) if checkpoint else 0
        self._malformed_reported = self._pos > 0 or self._loop > 0
        self._last = self._clock()
        self._budget = 0.0
        logger.info("file source opened source=%s path=%s rows=%d", self.name, self.path, self._table.n_rows)

    def _allowance(self, max_rows: int, timeout_s: float) -> int:
        if self.rows_per_second <= 0:
            return max_rows
        now = self._clock()
        self._budget = min(
            self._budget + (now - self._last) * self.rows_per_second, max(self.rows_per_second, 1.0)
        )
        self._last = now
        if self._budget < 1.0:
            wait = min(timeout_s, (1.0 - self._budget) / self.rows_per_second)
            if wait > 0:
                self._sleep(wait)
            now = self._clock()
            self._budget += (now - self._last) * self.rows_per_second
            self._last = now
        allowed = int(min(self._budget, max_rows))
        self._budget -= allowed
        return allowed

    def poll(self, max_rows: int, timeout_s: float) -> Batch:
        table = self._table
        if table is None:
            raise ConnectorError(f"source {self.name}: poll() before open()")
        if self._pos >= table.n_rows:
            if self.at_end == "loop" and table.n_rows > 0:
                self._pos = 0
                self._loop += 1
            else:
                if self.at_end == "idle" and timeout_s > 0:
                    self._sleep(min(timeout_s, 0.5))
                return Batch(checkpoint=self.checkpoint(), end_of_data=self.at_end == "exit")
        n = min(self._allowance(max_rows, timeout_s), table.n_rows - self._pos)
        if n <= 0:
            return Batch(checkpoint=self.checkpoint())
        lo, hi = self._pos, self._pos + n
        cols = {k: v[lo:hi] for k, v in table.columns.items()}
        self._pos = hi
        dead: list[DeadLetter] = []
        if not self._malformed_reported:
            self._malformed_reported = True
            dead = [
                DeadLetter(source=self.name, position=f"row={p}", reason="malformed_row", detail=r)
                for p, r in zip(table.malformed_positions, table.malformed_reasons, strict=False)
            ]
        return Batch(
            columns=cols,
            n_columnar_rows=n,
            dead_letters=dead,
            checkpoint=self.checkpoint(),
            end_of_data=self.at_end == "exit" and self._pos >= table.n_rows,
        )

    def checkpoint(self) -> dict[str, int]:
        return {"row": self._pos, "loop": self._loop}

    def commit(self, checkpoint: Checkpoint) -> None:
        """Nothing upstream to tell: the store's checkpoint is the file position."""

    def status(self) -> SourceStatus:
        if self._table is None:
            return SourceStatus(connected=False, reason="not opened")
        return SourceStatus(connected=True, lag={"0": max(self._table.n_rows - self._pos, 0)})

    def close(self) -> None:
        self._table = None
