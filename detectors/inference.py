"""Column type inference for profiles: numeric, categorical, datetime or text."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from detectors.timeparse import IsoSeconds, read_iso_seconds

ColumnType = Literal["numeric", "categorical", "datetime", "text"]
COLUMN_TYPES: tuple[ColumnType, ...] = ("numeric", "categorical", "datetime", "text")

_PARSE_SHARE = 0.95  # share of present values that must parse for a type to be chosen
_MAX_CATEGORICAL_LEVELS = 1000
_TEXT_UNIQUE_SHARE = 0.5
_HEAD = 200_000  # values looked at to infer a type


def infer_column_type(values: np.ndarray, *, max_levels: int = _MAX_CATEGORICAL_LEVELS) -> ColumnType:
    """Infer the monitoring type of one column.

    Rules: booleans are categorical; numbers are numeric, except integer-like columns with at
    most two distinct values (flags), which are categorical; strings that parse as numbers
    (at least 95 % of present values) are numeric, as dates are datetime; other strings are
    categorical unless they look like free text or ids (more than ``max_levels`` distinct
    values, or more than half of the values distinct), which are skipped as ``text``.

    Examples
    --------
    >>> infer_column_type(np.array([1.5, 2.0, 3.25]))
    'numeric'
    >>> infer_column_type(np.array(["a", "b", "a", "a"], dtype=object))
    'categorical'
    """
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind == "b":
        return "categorical"
    if kind in "iuf":
        finite = arr[np.isfinite(arr)] if kind == "f" else arr
        if finite.size and np.unique(finite[:100_000]).size <= 2 and np.all(finite == np.round(finite)):
            return "categorical"
        return "numeric"
    if kind in "Mm":
        return "datetime"
    # Only the first 200k present values are looked at: scan a growing prefix, not the whole column.
    stop = min(arr.size, 2 * _HEAD)
    while True:
        series = pd.Series(arr[:stop], dtype=object)
        present = series[series.notna() & (series != "")]
        if len(present) >= _HEAD or stop >= arr.size:
            break
        stop = min(arr.size, stop * 4)
    if present.empty:
        return "numeric"
    head = present.iloc[:_HEAD]
    inferred = pd.api.types.infer_dtype(head, skipna=True)
    if inferred == "boolean":
        return "categorical"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return infer_column_type(pd.to_numeric(head).to_numpy(dtype=np.float64))
    if inferred in ("datetime", "datetime64", "date"):
        return "datetime"
    if inferred == "string":
        # Strings parse (or not) one by one: parse each distinct string once, weight by its rows.
        codes, uniques = pd.factorize(head.to_numpy(dtype=object))
        parses = pd.to_numeric(pd.Series(uniques, dtype=object), errors="coerce").notna().to_numpy()
        share = float(np.bincount(codes, minlength=len(uniques))[parses].sum()) / len(head)
        if share >= _PARSE_SHARE:
            as_num = pd.to_numeric(head, errors="coerce")
            return infer_column_type(as_num.dropna().to_numpy(dtype=np.float64))
        n_unique = len(uniques)
    else:
        as_num = pd.to_numeric(head, errors="coerce")
        if as_num.notna().mean() >= _PARSE_SHARE:
            return infer_column_type(as_num.dropna().to_numpy(dtype=np.float64))
        n_unique = head.astype(str).nunique()
    if inferred in ("string", "mixed") and n_unique > 2 and _looks_like_dates(head):
        return "datetime"
    if n_unique > max_levels or (n_unique > 50 and n_unique > _TEXT_UNIQUE_SHARE * len(head)):
        return "text"
    return "categorical"


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.iloc[:500].astype(str)
    if (
        not sample.str.contains(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}", regex=True).mean()
        >= _PARSE_SHARE
    ):
        return False
    parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
    return bool(parsed.notna().mean() >= _PARSE_SHARE)


def _is_number(value: object) -> bool:
    """An int or float (numpy's too), not a bool: an epoch time wherever it appears."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _first_is_numeric(series: pd.Series) -> bool:
    """Whether the first present value looks like a number (epoch seconds) rather than a date."""
    present = series.dropna()
    if present.empty:
        return True
    first = present.iloc[0]
    if isinstance(first, (int, float, np.integer, np.floating)) and not isinstance(first, bool):
        return True
    if isinstance(first, str):
        try:
            float(first)
        except ValueError:
            return False
        return True
    return False


_FIRST_SECOND = -62135596800.0
"""0001-01-01T00:00:00Z in epoch seconds: datetimes (and ``parse_event_time``) start there."""
_PAST_LAST_SECOND = 253402300800.0
"""10000-01-01T00:00:00Z: the first second after the last datetime."""


def parse_times(values: np.ndarray) -> np.ndarray:
    """Event times as float seconds since the Unix epoch (``nan`` where unparseable).

    Numbers are taken as epoch seconds (or milliseconds when above 1e11); strings are
    ISO 8601 / RFC 3339; naive times are taken as UTC. Infinite numbers are no time (``nan``).
    Strings of the common fixed layouts (``2026-01-01T00:00:03.600000Z``) are read by a
    vectorised reader; the rest go through pandas, with the same result either way.
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "OU" and arr.ndim == 1:
        read = read_iso_seconds(arr)
        if _fast_read_is_exact(arr, read):
            return read.seconds
    return _parse_times_pandas(arr)


def _fast_read_is_exact(arr: np.ndarray, read: IsoSeconds) -> bool:
    """Whether the fast reader's result is exactly what pandas gives for the whole array.

    pandas' ISO 8601 pass carries the UTC offset of the last zoned string over to later
    strings without a zone, and any string it reads can set that offset. So the fast result
    is used only when every value was read or is None, NaN or "" (no time, and no change to
    that offset), at least one was read, and zone-less values do not meet non-zero offsets.
    Then the first present value is not a number, so pandas reads every value as a date
    string too, each on its own.
    """
    if read.naive and read.shifted:
        return False
    unread = np.flatnonzero(np.isnan(read.seconds))
    if unread.size == arr.size:
        return False
    return all(_is_skipped(v) for v in arr[unread].tolist())


def _is_skipped(value: object) -> bool:
    """None, NaN or the empty string: no time for pandas, and no change to its offset."""
    if isinstance(value, str):
        return not value
    return value is None or (isinstance(value, float) and value != value)


def _parse_times_pandas(values: np.ndarray) -> np.ndarray:
    """``parse_times`` done by pandas alone: the fallback, and the oracle the fast reader is tested against."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        out = arr.astype(np.float64)  # always a copy
        out[~np.isfinite(out)] = np.nan
        ms = np.abs(out) > 1e11
        out[ms] = out[ms] / 1000.0
        out[(out < _FIRST_SECOND) | (out >= _PAST_LAST_SECOND)] = np.nan  # no datetime: not a time
        return out
    if arr.dtype.kind == "M":
        return _seconds(pd.DatetimeIndex(arr))
    if arr.dtype == object and arr.ndim == 1:
        # numbers among other values are epoch times each (pandas would read them as nanoseconds)
        numbers = np.fromiter(map(_is_number, arr.tolist()), dtype=bool, count=arr.size)
        if numbers.any() and not numbers.all():
            out = np.empty(arr.size, dtype=np.float64)
            out[numbers] = _parse_times_pandas(arr[numbers].astype(np.float64))
            out[~numbers] = _parse_times_pandas(arr[~numbers])
            return out
    series = pd.Series(arr, dtype=object)
    if _first_is_numeric(series):
        numeric = pd.to_numeric(series, errors="coerce")
        if numeric.notna().all() and len(series):
            return _parse_times_pandas(numeric.to_numpy(dtype=np.float64))
    return _parse_time_strings(series)


def _parse_time_strings(series: pd.Series) -> np.ndarray:
    """Seconds since the epoch of an object series of (mostly) date strings, by pandas."""
    # RFC 3339 / ISO 8601 first (about 3x faster); anything it cannot read gets the mixed parser.
    ts = pd.DatetimeIndex(pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601"))
    retry = ts.isna() & series.notna().to_numpy()
    if retry.any():
        mixed = pd.DatetimeIndex(pd.to_datetime(series, errors="coerce", utc=True, format="mixed"))
        ts = ts.where(~retry, mixed)
    return _seconds(ts)


def _seconds(ts: pd.DatetimeIndex) -> np.ndarray:
    if ts.tz is None:
        ts = ts.tz_localize("UTC")
    ns = ts.asi8.astype(np.float64)
    out = ns / 1e9
    out[ts.isna()] = np.nan
    return out
