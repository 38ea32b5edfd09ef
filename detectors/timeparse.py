"""Vectorised reading of fixed-layout ISO 8601 / RFC 3339 timestamp strings.

The layouts read are ``YYYY-MM-DD?HH:MM:SS[.f][Z|+HH:MM|-HH:MM]`` with ``?`` one of ``T`` or a
space and ``.f`` one to nine fraction digits. Everything else (other layouts, out-of-range
fields, years outside 1678..2261, non-ASCII text, non-strings) is left as ``nan`` for the
caller's general parser, so only values whose result is certain are read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

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

# First columns of the two-digit numbers: year (two pairs), month, day, hour, minute, second.
_PAIRS = (0, 2, 5, 8, 11, 14, 17)
_FRACTION_COLUMN = _BASE_LEN + 1


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
    """Per-column byte bounds and digit positions that check and read one layout."""

    low: np.ndarray  # uint8 (length, 1), lowest allowed byte per column ("0" for digits)
    span: np.ndarray  # uint8 (length, 1), allowed bytes are low .. low + span
    pairs: np.ndarray  # intp, first columns of the two-digit numbers (_PAIRS, offset h and m)
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

    def digits(start: int, count: int, top: str = "9") -> None:
        low[start : start + count] = _ZERO
        high[start : start + count] = ord("9")
        high[start] = ord(top)

    def literal(column: int, first: str, last: str | None = None) -> None:
        low[column] = ord(first)
        high[column] = ord(last or first)

    digits(0, 4)
    literal(4, "-")
    digits(5, 2, top="1")
    literal(7, "-")
    digits(8, 2, top="3")
    literal(10, " ", "T")  # space or T: the bytes in between are rejected separately
    digits(11, 2, top="2")
    literal(13, ":")
    digits(14, 2, top="5")
    literal(16, ":")
    digits(17, 2, top="5")
    column = _BASE_LEN
    if layout.fraction_digits:
        literal(column, ".")
        digits(_FRACTION_COLUMN, layout.fraction_digits)
        column += 1 + layout.fraction_digits
    pairs: tuple[int, ...] = _PAIRS
    sign_column = -1
    if layout.suffix == "Z":
        literal(column, "Z")
    elif layout.suffix == "offset":
        sign_column = column
        literal(column, "+", "-")  # the "," in between is rejected separately
        digits(column + 1, 2, top="2")
        literal(column + 3, ":")
        digits(column + 4, 2, top="5")
        pairs = (*_PAIRS, column + 1, column + 4)
    span = high - low
    pair_columns = np.array(pairs, dtype=np.intp)
    for table in (low, span, pair_columns):
        table.flags.writeable = False
    return _LayoutTables(
        low=low[:, None],
        span=span[:, None],
        pairs=pair_columns,
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
    # Two-digit numbers (uint8), then fields as exact float64 integers. No matmul: a BLAS call
    # would start threads, which costs more than it saves on a busy machine.
    pairs = (digits[tables.pairs] * 10 + digits[tables.pairs + 1]).astype(np.float64)
    year = pairs[0] * 100 + pairs[1]
    month = pairs[2]
    day = pairs[3]
    month_index = year * 12 + month
    ok &= (year >= _MIN_YEAR) & (year <= _MAX_YEAR) & (month >= 1) & (month <= 12)
    row = np.clip(month_index - _FIRST_MONTH, 0, _MONTH_DAYS.size - 1).astype(np.intp)
    ok &= (day >= 1) & (day <= _MONTH_DAYS[row]) & (pairs[4] <= 23)
    seconds = _MONTH_START_S[row] + (day * 86_400 + pairs[4] * 3600 + pairs[5] * 60 + pairs[6])
    if tables.sign_column >= 0:
        sign = columns[tables.sign_column]
        offset_s = pairs[7] * 3600 + pairs[8] * 60
        ok &= (sign != _COMMA) & (pairs[7] <= 23)
        seconds -= offset_s * (_COMMA - sign.astype(np.float64))  # "+" is 1, "-" is -1
        if (ok & (offset_s != 0)).any():
            seen.add("shifted")
    elif tables.naive and ok.any():
        seen.add("naive")
    ns = seconds.astype(np.int64) * _NS_PER_S
    if tables.fraction_digits:
        fraction = digits[_FRACTION_COLUMN].astype(np.int32)
        for column in range(_FRACTION_COLUMN + 1, _FRACTION_COLUMN + tables.fraction_digits):
            fraction *= 10
            fraction += digits[column]
        ns += fraction.astype(np.int64) * 10 ** (_MAX_FRACTION_DIGITS - tables.fraction_digits)
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
            windows = sliding_window_view(data, length)  # row i is data[i : i + length]
            columns = np.ascontiguousarray(windows[starts[pending]].T)
        seconds = _read_chunk(columns, _tables(layout), seen)
        out[pending] = seconds
        pending = pending[np.isnan(seconds)]
        if not pending.size:
            return


def _read_block(block: np.ndarray, out: np.ndarray, seen: set[str]) -> None:
    """Fill ``out`` for a block of values (nan where not read)."""
    strings = block.tolist()
    try:
        joined = _SEPARATOR.join(strings).encode("ascii")
    except (TypeError, UnicodeEncodeError) as error:
        # Not all values are ASCII strings (None for a missing time, say): read those that are.
        if isinstance(error, TypeError):
            keep = np.fromiter(map(isinstance, strings, repeat(str)), dtype=bool, count=len(strings))
        else:
            keep = np.array([s.isascii() for s in strings], dtype=bool)
        if keep.any():
            part = np.full(int(keep.sum()), np.nan)
            _read_block(block[keep], part, seen)
            out[keep] = part
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
        seen_here: set[str] = set()
        _read_rows(data, np.arange(n) * stride, length, out, seen_here)
        if not np.isnan(out).any() or joined.count(_SEPARATOR.encode()) == n - 1:
            seen |= seen_here
            return
        out[:] = np.nan
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=n)
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    counts = np.bincount(np.minimum(lengths, _MAX_LEN + 1), minlength=_MAX_LEN + 2)
    for length in (np.flatnonzero(counts[_MIN_LEN : _MAX_LEN + 1]) + _MIN_LEN).tolist():
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
            _read_block(values[begin : begin + _BLOCK_ROWS], out[begin : begin + _BLOCK_ROWS], seen)
    return IsoSeconds(seconds=out, naive="naive" in seen, shifted="shifted" in seen)
