"""Vectorised reading of fixed-layout ISO 8601 / RFC 3339 timestamp strings.

The layouts read are ``YYYY-MM-DD?HH:MM:SS[.f][Z|+HH:MM|-HH:MM]`` with ``?`` one of ``T`` or a
space and ``.f`` one to nine fraction digits. Everything else (other layouts, out-of-range
fields, years outside 1678..2261, non-ASCII text, non-strings) is left as ``nan`` for the
caller's general parser, so only values whose result is certain are read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import as_strided

Suffix = Literal["", "Z", "offset"]

_BASE_LEN = 19  # YYYY-MM-DDTHH:MM:SS
_SUFFIX_LEN: dict[Suffix, int] = {"": 0, "Z": 1, "offset": 6}
_MAX_FRACTION_DIGITS = 9
_MIN_LEN = _BASE_LEN
_MAX_LEN = _BASE_LEN + 1 + _MAX_FRACTION_DIGITS + 6
# Inside pandas' nanosecond range (1677-09-21 .. 2262-04-11) even after a +-23:59 offset.
_MIN_YEAR = 1678
_MAX_YEAR = 2261
_SEPARATOR = "\x01"  # joins the strings; no layout contains it
_BLOCK_ROWS = 16_384  # values per vectorised step, few enough to stay in cache
_NS_PER_S = 1_000_000_000
_ZERO = ord("0")
_COMMA = ord(",")  # between "+" and "-", the two offset signs


def _month_tables() -> tuple[np.ndarray, np.ndarray]:
    months = np.arange(f"{_MIN_YEAR}-01", f"{_MAX_YEAR + 1}-02", dtype="datetime64[M]")
    days = months.astype("datetime64[D]").astype(np.int64)
    # Seconds of day 0 of each month (so that day * 86400 lands on the date), and its length.
    start_s = ((days[:-1] - 1) * 86_400).astype(np.float64)
    length = np.diff(days).astype(np.float64)
    start_s.flags.writeable = False
    length.flags.writeable = False
    return start_s, length


# Indexed by 12 * year + month - _FIRST_MONTH, for the years _MIN_YEAR .. _MAX_YEAR.
_MONTH_START_S, _MONTH_DAYS = _month_tables()
_FIRST_MONTH = 12 * _MIN_YEAR + 1
_LAST_MONTH = 12 * _MAX_YEAR + 12

# Field rows of the weight matrix: month index (12 * year + month), month, day, hour,
# seconds from day 0 of the month (day * 86400 + hour * 3600 + minute * 60 + second),
# offset hours, offset seconds, and the fraction as milliseconds and the nanoseconds below
# them (three and six digits, so that every field stays below 2**24).
(
    _MONTH_INDEX,
    _MONTH,
    _DAY,
    _HOUR,
    _DAY_SECONDS,
    _OFFSET_HOUR,
    _OFFSET_S,
    _FRACTION_MS,
    _FRACTION_SUB_MS,
) = range(9)
_N_FIELDS = 9


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layout:
    """One fixed string layout: how many fraction digits and which zone suffix."""

    fraction_digits: int
    suffix: Suffix

    @property
    def length(self) -> int:
        fraction = self.fraction_digits + 1 if self.fraction_digits else 0
        return _BASE_LEN + fraction + _SUFFIX_LEN[self.suffix]


@dataclass(frozen=True, slots=True, kw_only=True)
class _LayoutTables:
    """Per-column byte bounds and digit weights that check and read one layout."""

    low: np.ndarray  # uint8 (length, 1), lowest allowed byte per column ("0" for digits)
    span: np.ndarray  # uint8 (length, 1), allowed bytes are low .. low + span
    weights: np.ndarray  # float32 (_N_FIELDS, length), weight of each column's digit per field
    sign_column: int  # column of the offset sign, -1 without an offset
    fraction_digits: int
    naive: bool  # no zone suffix


def _layouts_of_length(length: int) -> tuple[_Layout, ...]:
    layouts = []
    for suffix in _SUFFIX_LEN:
        for digits in range(_MAX_FRACTION_DIGITS + 1):
            layout = _Layout(fraction_digits=digits, suffix=suffix)
            if layout.length == length:
                layouts.append(layout)
    return tuple(layouts)


@lru_cache(maxsize=64)
def _tables(layout: _Layout) -> _LayoutTables:
    n = layout.length
    low = np.zeros(n, dtype=np.uint8)
    high = np.zeros(n, dtype=np.uint8)
    weights = np.zeros((_N_FIELDS, n), dtype=np.float32)

    def digits(start: int, count: int, fields: dict[int, int], top: str = "9") -> None:
        for i in range(count):
            low[start + i] = _ZERO
            high[start + i] = ord(top) if i == 0 else ord("9")
            for field, scale in fields.items():
                weights[field, start + i] = scale * 10 ** (count - 1 - i)

    def literal(column: int, first: str, last: str | None = None) -> None:
        low[column] = ord(first)
        high[column] = ord(last or first)

    digits(0, 4, {_MONTH_INDEX: 12})
    literal(4, "-")
    digits(5, 2, {_MONTH_INDEX: 1, _MONTH: 1}, top="1")
    literal(7, "-")
    digits(8, 2, {_DAY: 1, _DAY_SECONDS: 86_400}, top="3")
    literal(10, " ", "T")  # space or T: the bytes in between are rejected separately
    digits(11, 2, {_HOUR: 1, _DAY_SECONDS: 3600}, top="2")
    literal(13, ":")
    digits(14, 2, {_DAY_SECONDS: 60}, top="5")
    literal(16, ":")
    digits(17, 2, {_DAY_SECONDS: 1}, top="5")
    column = _BASE_LEN
    if layout.fraction_digits:
        literal(column, ".")
        for i in range(layout.fraction_digits):
            if i < 3:
                digits(column + 1 + i, 1, {_FRACTION_MS: 10 ** (2 - i)})
            else:
                digits(column + 1 + i, 1, {_FRACTION_SUB_MS: 10 ** (8 - i)})
        column += 1 + layout.fraction_digits
    sign_column = -1
    if layout.suffix == "Z":
        literal(column, "Z")
    elif layout.suffix == "offset":
        sign_column = column
        literal(column, "+", "-")  # the "," in between is rejected separately
        digits(column + 1, 2, {_OFFSET_HOUR: 1, _OFFSET_S: 3600}, top="2")
        literal(column + 3, ":")
        digits(column + 4, 2, {_OFFSET_S: 60}, top="5")
    span = high - low
    for table in (low, span, weights):
        table.flags.writeable = False
    return _LayoutTables(
        low=low[:, None],
        span=span[:, None],
        weights=weights,
        sign_column=sign_column,
        fraction_digits=layout.fraction_digits,
        naive=not layout.suffix,
    )


def _layout_order(first: bytes) -> tuple[_Layout, ...]:
    """The layouts of this length, the one that the first value looks like first."""
    layouts = _layouts_of_length(len(first))
    if first.endswith(b"Z"):
        suffix: Suffix = "Z"
    elif len(first) >= _BASE_LEN + 6 and first[-6:-5] in (b"+", b"-"):
        suffix = "offset"
    else:
        suffix = ""
    return tuple(sorted(layouts, key=lambda layout: layout.suffix != suffix))


def _read_chunk(columns: np.ndarray, tables: _LayoutTables, seen: set[str]) -> np.ndarray:
    """Seconds since the epoch of each value of a (length, rows) uint8 chunk, nan where not read.

    Adds ``"naive"`` to ``seen`` if a value read has no zone, ``"shifted"`` if one has a
    non-zero UTC offset.
    """
    digits = columns - tables.low  # digit values in digit columns, 0 in literal columns
    ok = (digits <= tables.span).all(axis=0)
    separator = columns[10]
    ok &= (separator == ord("T")) | (separator == ord(" "))
    # Exact in float32: every weight, field and partial sum is an integer below 2**24.
    fields = tables.weights @ digits.astype(np.float32)
    month_index = fields[_MONTH_INDEX]
    month = fields[_MONTH]
    day = fields[_DAY]
    ok &= (month_index >= _FIRST_MONTH) & (month_index <= _LAST_MONTH) & (month >= 1) & (month <= 12)
    row = np.clip(month_index - _FIRST_MONTH, 0, _MONTH_DAYS.size - 1).astype(np.intp)
    ok &= (day >= 1) & (day <= _MONTH_DAYS[row]) & (np.maximum(fields[_HOUR], fields[_OFFSET_HOUR]) <= 23)
    seconds = _MONTH_START_S[row] + fields[_DAY_SECONDS]
    if tables.sign_column >= 0:
        sign = columns[tables.sign_column]
        ok &= sign != _COMMA
        seconds -= fields[_OFFSET_S] * (_COMMA - sign.astype(np.float64))  # "+" is 1, "-" is -1
        if (ok & (fields[_OFFSET_S] != 0)).any():
            seen.add("shifted")
    elif tables.naive and ok.any():
        seen.add("naive")
    ns = seconds.astype(np.int64) * _NS_PER_S
    if tables.fraction_digits:
        ns += fields[_FRACTION_MS].astype(np.int64) * 1_000_000
        if tables.fraction_digits > 3:
            ns += fields[_FRACTION_SUB_MS].astype(np.int64)
    # The same int64 -> float64 -> / 1e9 steps as the pandas path, so the floats are identical.
    out = ns.astype(np.float64) / 1e9
    out[~ok] = np.nan
    return out


def _read_rows(data: np.ndarray, starts: np.ndarray, length: int, out: np.ndarray, seen: set[str]) -> None:
    """Fill ``out`` (nan on entry) for the values of one length starting at ``starts`` in ``data``.

    The layouts of this length are tried in turn on the values not read yet.
    """
    rows = starts.size
    stride = int(starts[1] - starts[0]) if rows > 1 else length + 1
    pending = np.arange(rows)
    evenly = bool((starts == starts[0] + stride * pending).all())
    first = data[starts[0] : starts[0] + length].tobytes()
    for layout in _layout_order(first):
        if evenly and pending.size == rows:
            # Evenly spaced values: the chunk is a strided view of the joined bytes.
            view = as_strided(
                data[int(starts[0]) :], shape=(length, rows), strides=(1, stride), writeable=False
            )
            columns = np.ascontiguousarray(view)
        else:
            columns = data[starts[pending] + np.arange(length)[:, None]]
        seconds = _read_chunk(columns, _tables(layout), seen)
        out[pending] = seconds
        pending = pending[np.isnan(seconds)]
        if not pending.size:
            return


def _read_block(strings: list[str], out: np.ndarray, seen: set[str]) -> None:
    """Fill ``out`` for a block of values (nan where not read)."""
    try:
        joined = _SEPARATOR.join(strings).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        # Some values are not ASCII strings: read the ones that are.
        rows = np.flatnonzero([isinstance(s, str) and s.isascii() for s in strings])
        if rows.size:
            part = np.full(rows.size, np.nan)
            _read_block([strings[i] for i in rows.tolist()], part, seen)
            out[rows] = part
        return
    data = np.frombuffer(joined, dtype=np.uint8)
    n = len(strings)
    length = len(strings[0])
    stride = length + 1
    if data.size == n * stride - 1 and (data[length::stride] == ord(_SEPARATOR)).all():
        if not _MIN_LEN <= length <= _MAX_LEN:
            return
        # Value i starts at byte i * stride if no value holds the separator: true when every
        # value was read (no layout holds it), else counted.
        _read_rows(data, np.arange(n) * stride, length, out, seen)
        if not np.isnan(out).any() or joined.count(_SEPARATOR.encode()) == n - 1:
            return
        out[:] = np.nan
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=n)
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    for length in np.unique(lengths[(lengths >= _MIN_LEN) & (lengths <= _MAX_LEN)]).tolist():
        rows = np.flatnonzero(lengths == length)
        part = np.full(rows.size, np.nan)
        _read_rows(data, starts[rows], length, part, seen)
        out[rows] = part


@dataclass(frozen=True, slots=True, kw_only=True)
class IsoSeconds:
    """What :func:`read_iso_seconds` read.

    Attributes
    ----------
    seconds : numpy.ndarray
        float64 seconds since the Unix epoch (``int64`` nanoseconds divided by 1e9, as pandas
        gives them), ``nan`` for every value not read.
    naive : bool
        Some value read has no zone (taken as UTC).
    shifted : bool
        Some value read has a non-zero UTC offset.
    """

    seconds: np.ndarray
    naive: bool
    shifted: bool


def read_iso_seconds(values: np.ndarray) -> IsoSeconds:
    """Read fixed-layout ISO 8601 strings as seconds since the Unix epoch, leaving the rest.

    Parameters
    ----------
    values : numpy.ndarray
        One-dimensional array of any dtype; only ``str`` elements can be read.

    Returns
    -------
    IsoSeconds
        The seconds (``nan`` for every value this reader does not handle, which the caller
        must parse otherwise) and which kinds of zone were seen.

    Examples
    --------
    >>> read_iso_seconds(np.array(["2026-01-01T00:00:03.600000Z", "junk"], dtype=object)).seconds
    array([1.7672256e+09,           nan])
    """
    n = values.size
    out = np.full(n, np.nan)
    seen: set[str] = set()
    if n and values.ndim == 1:
        for begin in range(0, n, _BLOCK_ROWS):
            strings = values[begin : begin + _BLOCK_ROWS].tolist()
            _read_block(strings, out[begin : begin + _BLOCK_ROWS], seen)
    return IsoSeconds(seconds=out, naive="naive" in seen, shifted="shifted" in seen)
