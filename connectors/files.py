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
from connectors.columnar import values_to_array

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
    if records:
        fast = _uniform_rows_to_columns(records)
        if fast is not None:
            return fast
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


def _uniform_rows_to_columns(records: list[dict[str, Any]]) -> dict[str, np.ndarray] | None:
    """The common case, every row with the same keys in the same order: transpose in C.

    Returns ``None`` (use the general path) when keys differ or a value is a nested object.
    """
    keys = list(records[0].keys())
    if not all(list(r.keys()) == keys for r in records):
        return None
    out: dict[str, np.ndarray] = {}
    for name, col in zip(keys, zip(*(r.values() for r in records), strict=True), strict=True):
        array = values_to_array(col)
        if array is None:
            return None
        out[str(name)] = array
    if not keys:
        return None
    return out


def _tighten(arr: np.ndarray) -> np.ndarray:
    """Use a float array when every present value is a number (much faster downstream).

    A column with no value at all stays ``None`` (an object array), as rows with the same keys
    and the columnar decoders give it (:func:`connectors.columnar.values_to_array`).
    """
    kinds = {type(v) for v in arr[: min(arr.size, 2000)]}
    if kinds == {type(None)} and all(v is None for v in arr.tolist()):
        return arr
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


# --------------------------------------------------------------------------------------------
# Streaming readers for FileSource: a file as a sequence of chunks, in bounded memory.
# --------------------------------------------------------------------------------------------

_SURROGATE_RE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Chunk:
    """Consecutive data rows of a file: the kept rows column-wise and the rows that became dead letters.

    ``row_numbers`` are the 0-based data-row numbers of the kept rows; ``bad`` holds
    (data-row number, dead-letter reason, detail) of the others, sorted by row number.
    """

    columns: dict[str, np.ndarray]
    row_numbers: np.ndarray
    bad: tuple[tuple[int, str, str], ...] = ()

    @property
    def n_rows(self) -> int:
        return int(self.row_numbers.size)


def _check_readable(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise FileFormatError(f"{path}: is a directory, not a file")
    if size == 0:
        raise FileFormatError(f"{path}: file is empty")


def _read_csv_header(path: Path) -> list[str]:
    """The header record, checked as :func:`read_table` checks it."""
    line = 0
    record: list[str] = []
    try:
        with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
            for rec in csv.reader(fh):
                line += 1
                if not _is_blank_record(rec):
                    record = rec
                    break
    except csv.Error as exc:
        raise FileFormatError(f"{path}: not a readable CSV file (header: {exc})") from None
    if not record:
        raise FileFormatError(f"{path}: file is empty (no header)")
    for name in record:
        m = _SURROGATE_RE.search(name)
        if m is not None:
            bad = ord(m.group()) - 0xDC00
            raise FileFormatError(f"{path}: line {line}: not valid UTF-8 (byte 0x{bad:02x} in the header)")
    if len(set(record)) != len(record):
        dupes = sorted({h for h in record if record.count(h) > 1})
        raise FileFormatError(f"{path}: duplicate column names in the header ({', '.join(map(repr, dupes))})")
    return record


def _record_cut(buf: bytes, lines: int) -> int:
    """End offset of the first ``lines`` lines of ``buf`` that ends a CSV record, or 0 if there is none.

    A newline ends a record when the double quotes before it are balanced (RFC 4180 quoting).
    """
    newlines = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
    if newlines.size == 0:
        return 0
    k = min(lines, newlines.size) - 1
    cut = int(newlines[k]) + 1
    quotes = buf.count(b'"', 0, cut)
    while quotes % 2:
        k += 1
        if k >= newlines.size:
            return 0
        nxt = int(newlines[k]) + 1
        quotes += buf.count(b'"', cut, nxt)
        cut = nxt
    return cut


def _csv_blocks(path: Path, chunk_rows: int) -> Iterator[bytes]:
    """The bytes of the file in blocks of about ``chunk_rows`` lines, each ending at a record boundary."""
    max_pending = 256 << 20
    buf = b""
    with path.open("rb") as fh:
        eof = False
        while True:
            while not eof and len(buf) <= max_pending and buf.count(b"\n") <= chunk_rows:
                more = fh.read(max(1 << 16, min(chunk_rows * 64, 8 << 20)))
                if not more:
                    eof = True
                buf += more
            cut = _record_cut(buf, chunk_rows) if not eof else len(buf)
            if cut == 0 and not eof:
                if len(buf) > max_pending:  # unbalanced quotes: give up on record boundaries
                    cut = buf.rfind(b"\n") + 1 or len(buf)
                else:
                    more = fh.read(8 << 20)
                    eof = not more
                    buf += more
                    continue
            block, buf = buf[:cut], buf[cut:]
            if block:
                yield block
            if eof and not buf:
                return


def _iter_csv_chunks(path: Path, chunk_rows: int, skip_rows: int = 0) -> Iterator[_Chunk]:
    """CSV in blocks of whole records, each parsed exactly as :func:`read_table` parses a file.

    Blocks of plain records (see :func:`_plain_row_count`) that lie wholly within the first
    ``skip_rows`` rows are counted, not parsed: they come as chunks without columns.
    """
    header = _read_csv_header(path)
    out = io.StringIO()
    csv.writer(out).writerow(header)
    header_text = out.getvalue()
    start = 0
    skipped = 0
    seen_header = False
    for raw in _csv_blocks(path, chunk_rows):
        block = raw if seen_header else raw.removeprefix(b"\xef\xbb\xbf")
        if not seen_header and not block.strip():
            continue  # blank lines before the header
        if seen_header and skipped < skip_rows:
            n = _plain_row_count(block, len(header))
            if n is not None and skipped + n <= skip_rows:
                yield _Chunk(columns={}, row_numbers=np.arange(start, start + n, dtype=np.int64))
                start += n
                skipped += n
                continue
        prefix = header_text if seen_header else ""
        seen_header = True
        try:
            text = prefix + block.decode("utf-8")
        except UnicodeDecodeError:
            chunk, n = _csv_records_chunk(
                path, prefix + block.decode("utf-8", "surrogateescape"), header, start
            )
        else:
            chunk, n = _csv_text_chunk(path, text, start)
        start += n
        skipped += chunk.n_rows
        if n:
            yield chunk


_BLANK_LINE_BYTES_RE = re.compile(rb"\n[ \t\r]*\n")


def _plain_row_count(block: bytes, n_fields: int) -> int | None:
    """Rows of a block of newline-terminated lines that are all well-formed records, else None.

    Plain means: valid UTF-8, no double quote, no blank line, no line with more than ``n_fields``
    fields. Every such line is one kept row for :func:`read_table`, so it can be counted unparsed.
    """
    if not block.endswith(b"\n") or b'"' in block or block.lstrip(b" \t\r").startswith(b"\n"):
        return None
    if _BLANK_LINE_BYTES_RE.search(block):
        return None
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return None
    data = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(data == 10)
    commas = np.searchsorted(np.flatnonzero(data == 44), ends)
    fields = np.diff(commas, prepend=0) + 1
    if fields.size and int(fields.max()) > n_fields:
        return None
    return int(ends.size)


def _csv_text_chunk(path: Path, text: str, start: int) -> tuple[_Chunk, int]:
    """A block (with its header line) parsed by :func:`_read_csv_text`; also its number of data rows."""
    frame, bad = _read_csv_text(path, text)
    positions = np.asarray([p for p, _ in bad], dtype=np.int64)
    total = len(frame) + len(bad)
    keep = np.setdiff1d(np.arange(total, dtype=np.int64), positions)
    if keep.size != len(frame):  # as read_table: never misalign
        keep = np.arange(len(frame), dtype=np.int64)
    chunk = _Chunk(
        columns=_frame_to_columns(frame),
        row_numbers=keep + start,
        bad=tuple((int(p) + start, "malformed_row", r) for p, r in bad),
    )
    return chunk, total


def _csv_records_chunk(path: Path, text: str, header: list[str], start: int) -> tuple[_Chunk, int]:
    """A block with bytes that are not UTF-8, split by the csv module: such records become dead letters."""
    good = io.StringIO()
    writer = csv.writer(good)
    writer.writerow(header)
    numbers: list[int] = []
    bad: list[tuple[int, str, str]] = []
    position = -1  # the header record
    try:
        for record in csv.reader(io.StringIO(text)):
            if _is_blank_record(record):
                continue
            if position >= 0:
                if any(_SURROGATE_RE.search(v) for v in record):
                    bad.append((position + start, "invalid_utf8", "not valid UTF-8"))
                elif len(record) > len(header):
                    detail = f"expected {len(header)} fields, saw {len(record)}"
                    bad.append((position + start, "malformed_row", detail))
                else:
                    writer.writerow(record)
                    numbers.append(position + start)
            position += 1
    except csv.Error as exc:
        raise FileFormatError(
            f"{path}: not a readable CSV file (data row {start + position + 1}: {exc})"
        ) from None
    rows = np.asarray(numbers, dtype=np.int64)
    if numbers:
        frame, _ = _parse_csv(path, good.getvalue())
        columns = _frame_to_columns(frame)
    else:
        columns = {}
    return _Chunk(columns=columns, row_numbers=rows, bad=tuple(bad)), position


def _iter_jsonl_chunks(path: Path, chunk_rows: int) -> Iterator[_Chunk]:
    """JSON Lines in blocks of ``chunk_rows`` data rows, split on ``\\n`` only (as :func:`read_table`)."""
    names: dict[str, None] = {}
    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    bad: list[tuple[int, str, str]] = []
    row = 0
    line_no = 0
    with path.open("rb") as fh:
        for raw in fh:
            line_no += 1
            line = raw.removesuffix(b"\n").removesuffix(b"\r")
            if line_no == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad.append(
                        (
                            row,
                            "invalid_utf8",
                            f"line {line_no}: not valid UTF-8 (byte 0x{line[exc.start]:02x})",
                        )
                    )
                else:
                    if not text.strip():  # only Unicode whitespace: a blank line for read_table too
                        continue
                    bad.append((row, "malformed_row", "invalid JSON"))
            else:
                if isinstance(obj, dict):
                    records.append(obj)
                    numbers.append(row)
                else:
                    bad.append((row, "malformed_row", "not a JSON object"))
            row += 1
            if len(numbers) + len(bad) >= chunk_rows:
                yield _jsonl_chunk(records, numbers, bad, names)
                records, numbers, bad = [], [], []
    if numbers or bad:
        yield _jsonl_chunk(records, numbers, bad, names)


def _jsonl_chunk(
    records: list[dict[str, Any]], numbers: list[int], bad: list[tuple[int, str, str]], names: dict[str, None]
) -> _Chunk:
    columns = rows_to_columns(records)
    for name in columns:
        names.setdefault(name, None)
    n = len(records)
    out: dict[str, np.ndarray] = {}
    for name in names:  # a field seen in an earlier chunk stays a column (all missing here)
        out[name] = columns[name] if name in columns else np.full(n, np.nan)
    return _Chunk(columns=out, row_numbers=np.asarray(numbers, dtype=np.int64), bad=tuple(bad))


def _open_parquet(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_readable(path)
    try:
        return pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)  # read column pages as needed
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FileFormatError(f"{path}: not a readable Parquet file ({msg})") from None


def _iter_parquet_chunks(parquet: Any, chunk_rows: int, skip_rows: int) -> Iterator[_Chunk]:
    """Record batches of a ``pyarrow.parquet.ParquetFile``; whole row groups before ``skip_rows`` are not read."""
    import pyarrow as pa

    meta = parquet.metadata
    first_group = 0
    start = 0
    while first_group < meta.num_row_groups and start + meta.row_group(first_group).num_rows <= skip_rows:
        start += meta.row_group(first_group).num_rows
        first_group += 1
    groups = list(range(first_group, meta.num_row_groups))
    if not groups:
        return
    for batch in parquet.iter_batches(batch_size=chunk_rows, row_groups=groups):
        lo = max(skip_rows - start, 0)
        n = batch.num_rows
        if lo >= n:
            start += n
            continue
        if lo:
            batch = batch.slice(lo)
        frame = pa.Table.from_batches([batch]).to_pandas()
        yield _Chunk(
            columns=_frame_to_columns(frame), row_numbers=np.arange(start + lo, start + n, dtype=np.int64)
        )
        start += n


class FileSource:
    """A file replayed as a stream (the embedded demo and batch backfills), read in bounded memory.

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
    chunk_rows:
        Rows read from the file at a time; memory is bounded by one chunk, whatever the file size.
        CSV: blocks of about ``chunk_rows`` lines cut at record boundaries (balanced double quotes),
        each parsed by ``pandas.read_csv`` exactly as :func:`read_table` parses a whole file (ragged
        and blank lines, a first row wider than the header); Parquet: ``ParquetFile.iter_batches``
        without pre-buffering; JSON Lines: line by line. A batch never spans two chunks.

    Notes
    -----
    The checkpoint is ``{"row": n, "loop": k}``: ``n`` rows of the file delivered so far in loop
    ``k``, malformed rows not counted (as before the streaming reader). Rows that cannot be parsed (ragged CSV lines, JSON lines
    that are not objects, lines with bytes that are not UTF-8) are dead letters with their 0-based
    data-row position ``row=<p>`` and reason ``malformed_row`` or ``invalid_utf8``; a batch reports
    every such row up to the next row it did not deliver, so the checkpoint after it is exact and
    :meth:`open` skips them with the delivered rows (each is reported once). A file whose rows are
    all malformed reports them again after a restart at row 0. Dead letters are reported in the
    first loop only. Unlike :func:`read_table`, a byte that is not UTF-8 costs only its row; in the
    header it is a :class:`FileFormatError` naming the line.

    Column kinds are inferred per chunk (a numeric column may come as int in one chunk and float
    or text in another); the monitor parses values, so its statistics do not depend on it.
    ``status().lag`` is the number of rows left: known from the metadata for Parquet, and for CSV
    and JSON Lines once the end of the file was reached (empty before that).

    :meth:`open` skips to the checkpoint without building rows: whole Parquet row groups are not
    read; CSV and JSON Lines chunks before it are still parsed (which rows are malformed is only
    known by parsing), so a restart near the end of a large text file takes about one read of it.
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
        chunk_rows: int = 65_536,
    ) -> None:
        if rows_per_second < 0:
            raise ValueError(f"rows_per_second must be >= 0, got {rows_per_second!r}")
        if at_end not in ("idle", "loop", "exit"):
            raise ValueError(f"at_end must be 'idle', 'loop' or 'exit', got {at_end!r}")
        if chunk_rows <= 0:
            raise ValueError(f"chunk_rows must be positive, got {chunk_rows!r}")
        self.name = name
        self.path = Path(path)
        self.rows_per_second = float(rows_per_second)
        self.at_end: AtEnd = at_end
        self.chunk_rows = int(chunk_rows)
        self._clock = clock
        self._sleep = sleep
        self._opened = False
        self._chunks: Iterator[_Chunk] | None = None
        self._chunk: _Chunk | None = None
        self._i = 0  # next kept row of the chunk
        self._j = 0  # next dead row of the chunk
        self._eof = True
        self._pos = 0
        self._loop = 0
        self._total: int | None = None  # rows of the file, once known
        self._pending_dead: list[DeadLetter] = []
        self._budget = 0.0
        self._last = clock()

    # -- reading ----------------------------------------------------------------------------------

    def _start(self, skip_rows: int) -> None:
        """(Re)open the file at the first row and skip ``skip_rows`` delivered rows."""
        self._close_chunks()
        fmt = file_format(self.path)
        if fmt == "parquet":
            parquet = _open_parquet(self.path)
            self._total = int(parquet.metadata.num_rows)
            if self._total == 0:
                raise FileFormatError(f"{self.path}: no data rows")
            skip_rows = min(skip_rows, self._total)
            self._chunks = _iter_parquet_chunks(parquet, self.chunk_rows, skip_rows)
            delivered, skip_rows = skip_rows, 0
        else:
            _check_readable(self.path)
            if fmt == "csv":
                self._chunks = _iter_csv_chunks(self.path, self.chunk_rows, skip_rows)
            else:
                self._chunks = _iter_jsonl_chunks(self.path, self.chunk_rows)
            delivered = 0
        self._chunk, self._i, self._j, self._eof = None, 0, 0, False
        self._pending_dead = []
        report = delivered == 0 and skip_rows == 0 and self._loop == 0
        seen_any = self._next_chunk()
        if not seen_any and delivered == 0:
            raise FileFormatError(f"{self.path}: no data rows")
        while skip_rows > 0 and self._chunk is not None:
            take = min(skip_rows, self._chunk.n_rows - self._i)
            self._i += take
            skip_rows -= take
            delivered += take
            if self._i >= self._chunk.n_rows and skip_rows > 0:
                self._next_chunk()
        if skip_rows > 0:
            logger.warning(
                "file source checkpoint beyond the end source=%s path=%s row=%d rows=%d",
                self.name,
                self.path,
                delivered + skip_rows,
                delivered,
            )
        self._settle(report)
        self._pos = delivered
        if self._eof:
            self._total = delivered

    def _next_chunk(self) -> bool:
        """Move to the next chunk; False (and ``_eof``) at the end of the file."""
        assert self._chunks is not None
        chunk = next(self._chunks, None)
        self._chunk, self._i, self._j = chunk, 0, 0
        if chunk is None:
            self._eof = True
            return False
        return True

    def _settle(self, report: bool) -> None:
        """Consume the dead rows before the next kept row (across chunks), keeping them as dead letters if ``report``."""
        while self._chunk is not None:
            chunk = self._chunk
            limit = int(chunk.row_numbers[self._i]) if self._i < chunk.n_rows else None
            while self._j < len(chunk.bad) and (limit is None or chunk.bad[self._j][0] < limit):
                if report:
                    p, reason, detail = chunk.bad[self._j]
                    self._pending_dead.append(
                        DeadLetter(source=self.name, position=f"row={p}", reason=reason, detail=detail)
                    )
                self._j += 1
            if limit is not None:
                return
            self._next_chunk()

    def _close_chunks(self) -> None:
        chunks = self._chunks
        self._chunks, self._chunk = None, None
        close = getattr(chunks, "close", None)
        if close is not None:
            close()

    # -- Source -----------------------------------------------------------------------------------

    def open(self, checkpoint: Checkpoint | None) -> None:
        file_format(self.path)
        row = int(checkpoint.get("row", 0)) if checkpoint else 0
        self._loop = int(checkpoint.get("loop", 0)) if checkpoint else 0
        if row < 0:
            raise ValueError(f"checkpoint row must be >= 0, got {row!r}")
        self._start(row)
        self._opened = True
        self._last = self._clock()
        self._budget = 0.0
        logger.info(
            "file source opened source=%s path=%s row=%d loop=%d rows=%s",
            self.name,
            self.path,
            self._pos,
            self._loop,
            "unknown" if self._total is None else self._total,
        )

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
        if not self._opened:
            raise ConnectorError(f"source {self.name}: poll() before open()")
        if self._eof and self.at_end == "loop" and self._pos > 0:
            self._loop += 1
            self._start(0)
        if self._eof:
            dead, self._pending_dead = self._pending_dead, []
            if not dead and self.at_end != "exit" and timeout_s > 0:
                self._sleep(min(timeout_s, 0.5))
            return Batch(dead_letters=dead, checkpoint=self.checkpoint(), end_of_data=self.at_end == "exit")
        chunk = self._chunk
        assert chunk is not None
        allowed = self._allowance(max_rows, timeout_s)
        n = min(allowed, chunk.n_rows - self._i)
        if self.rows_per_second > 0:
            self._budget += allowed - n  # rows the end of a chunk held back stay allowed
        if n <= 0:
            return Batch(checkpoint=self.checkpoint())
        lo, hi = self._i, self._i + n
        cols = {k: v[lo:hi] for k, v in chunk.columns.items()}
        self._i = hi
        self._pos += n
        self._settle(self._loop == 0)
        if self._eof:
            self._total = self._pos
        dead, self._pending_dead = self._pending_dead, []
        return Batch(
            columns=cols,
            n_columnar_rows=n,
            dead_letters=dead,
            checkpoint=self.checkpoint(),
            end_of_data=self.at_end == "exit" and self._eof,
        )

    def checkpoint(self) -> dict[str, int]:
        return {"row": self._pos, "loop": self._loop}

    def commit(self, checkpoint: Checkpoint) -> None:
        """Nothing upstream to tell: the store's checkpoint is the file position."""

    def status(self) -> SourceStatus:
        if not self._opened:
            return SourceStatus(connected=False, reason="not opened")
        if self._total is None:
            return SourceStatus(connected=True)
        return SourceStatus(connected=True, lag={"0": max(self._total - self._pos, 0)})

    def close(self) -> None:
        self._close_chunks()
        self._opened = False
