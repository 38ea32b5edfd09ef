"""Turning raw column values into numbers or category levels, counting what does not fit.

The only place in :mod:`detectors` that touches pandas: ``pandas.factorize`` and
``pandas.to_numeric`` are the vectorised hash and parse loops we need for categorical
levels and for numeric columns that arrive as strings (CSV, JSON with mixed types).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True, kw_only=True)
class NumericValues:
    """A column parsed as numbers.

    ``values`` is float64 with ``nan`` where the value is missing, not a number, or not finite.
    ``missing`` counts absent values (None/NaN/empty), ``type_mismatch`` values present but not
    numbers (e.g. ``"abc"``), ``non_finite`` values that are +/-inf.
    """

    values: np.ndarray
    missing: int
    type_mismatch: int
    non_finite: int


def _is_missing_object(arr: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(arr), dtype=bool)


def parse_numeric(raw: np.ndarray | list[object]) -> NumericValues:
    """Parse a column to float64, counting missing, mismatched and non-finite values.

    Examples
    --------
    >>> r = parse_numeric(np.array([1, "2.5", None, "abc", float("inf")], dtype=object))
    >>> r.values.tolist()[:2], r.missing, r.type_mismatch, r.non_finite
    ([1.0, 2.5], 1, 1, 1)
    """
    arr = np.asarray(raw) if not isinstance(raw, np.ndarray) else raw
    kind = arr.dtype.kind
    if kind in "iub":
        vals = arr.astype(np.float64)
        return NumericValues(values=vals, missing=0, type_mismatch=0, non_finite=0)
    if kind == "f":
        vals = arr.astype(np.float64, copy=True)
        nan = np.isnan(vals)
        inf = np.isinf(vals)
        if inf.any():
            vals[inf] = np.nan
        return NumericValues(values=vals, missing=int(nan.sum()), type_mismatch=0, non_finite=int(inf.sum()))
    if kind == "M" or kind == "m":
        vals = np.full(arr.shape, np.nan)
        return NumericValues(values=vals, missing=0, type_mismatch=int(arr.size), non_finite=0)
    obj = arr.astype(object, copy=False)
    missing_mask = _is_missing_object(obj) | (obj == "")
    inferred = pd.api.types.infer_dtype(obj, skipna=True)
    if inferred == "boolean" or inferred == "mixed":
        # Booleans in a numeric column count as 0/1 (pandas.to_numeric refuses them).
        bools = np.fromiter((isinstance(v, (bool, np.bool_)) for v in obj), bool, obj.size)
        if bools.any():
            obj = obj.copy()
            obj[bools] = obj[bools].astype(int)
    parsed = pd.to_numeric(pd.Series(obj, dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = np.isnan(parsed) & ~missing_mask
    inf = np.isinf(parsed)
    if inf.any():
        parsed[inf] = np.nan
    return NumericValues(
        values=parsed, missing=int(missing_mask.sum()), type_mismatch=int(bad.sum()), non_finite=int(inf.sum())
    )


def _format_number(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def normalize_levels(raw: np.ndarray | list[object]) -> np.ndarray:
    """Category level keys as an object array of ``str``, ``None`` where missing.

    Numbers that are integers print without a decimal point, so ``1``, ``1.0`` and ``"1"``
    are one level; booleans are ``"true"``/``"false"``.

    Examples
    --------
    >>> normalize_levels(np.array([1.0, 2.5, None, True, "x"], dtype=object)).tolist()
    ['1', '2.5', None, 'true', 'x']
    """
    arr = np.asarray(raw) if not isinstance(raw, np.ndarray) else raw
    kind = arr.dtype.kind
    if kind == "b":
        return np.where(arr, "true", "false").astype(object)
    if kind in "iu":
        return arr.astype(str).astype(object)
    if kind == "f":
        out = np.empty(arr.shape, dtype=object)
        nan = np.isnan(arr)
        integral = ~nan & np.isfinite(arr) & (arr == np.round(arr)) & (np.abs(arr) < 1e15)
        out[integral] = arr[integral].astype(np.int64).astype(str)
        rest = ~nan & ~integral
        if rest.any():
            out[rest] = [repr(float(x)) for x in arr[rest]]
        out[nan] = None
        return out
    if kind in "US":
        out = arr.astype(object)
        out[arr == ""] = None
        return out
    obj = arr.astype(object, copy=False)
    missing = _is_missing_object(obj)
    if pd.api.types.infer_dtype(obj, skipna=True) == "string":
        out = obj.copy()
        out[missing] = None
        out[out == ""] = None
        return out
    out = np.empty(obj.shape, dtype=object)
    for i, v in enumerate(obj):
        if missing[i] or v == "":
            out[i] = None
        elif isinstance(v, (bool, np.bool_)):
            out[i] = "true" if v else "false"
        elif isinstance(v, (int, np.integer)):
            out[i] = str(int(v))
        elif isinstance(v, (float, np.floating)):
            out[i] = _format_number(float(v)) if np.isfinite(v) else repr(float(v))
        else:
            out[i] = str(v)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelCodes:
    """Codes of normalised levels against a fixed level list.

    ``codes[i]`` is the level index, ``len(levels)`` for a present value outside the list
    ("other"), and ``-1`` for a missing value.
    """

    codes: np.ndarray
    missing: int


def encode_levels(levels_in_order: tuple[str, ...], normalized: np.ndarray) -> LevelCodes:
    """Map normalised level keys to indices of ``levels_in_order`` (vectorised hash lookup)."""
    n_levels = len(levels_in_order)
    missing_mask = _is_missing_object(normalized)
    if normalized.size == 0:
        return LevelCodes(codes=np.empty(0, dtype=np.int64), missing=0)
    cat = pd.Categorical(normalized, categories=list(levels_in_order)) if n_levels else None
    if cat is None:
        codes = np.full(normalized.size, n_levels, dtype=np.int64)
    else:
        codes = np.asarray(cat.codes, dtype=np.int64)
        codes[codes < 0] = n_levels
    codes[missing_mask] = -1
    return LevelCodes(codes=codes, missing=int(missing_mask.sum()))


@dataclass(frozen=True, slots=True, kw_only=True)
class FactorizedLevels:
    """A categorical column as codes into its distinct normalised levels.

    ``levels`` holds each distinct present level key once (``str``, no ``None``), ``codes[i]``
    the index of row ``i``'s level, ``-1`` where the value is missing. ``values()`` is exactly
    :func:`normalize_levels` of the raw column; summaries, hashes and encodings are computed
    on the few levels instead of on every row.
    """

    codes: np.ndarray
    levels: np.ndarray

    @property
    def size(self) -> int:
        return int(self.codes.size)

    def values(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The normalised level key of every row (or of ``rows``), ``None`` where missing."""
        table = np.empty(self.levels.size + 1, dtype=object)
        table[:-1] = self.levels
        table[-1] = None
        codes = self.codes if rows is None else self.codes[rows]
        return np.asarray(table[codes], dtype=object)  # code -1 picks the trailing None

    def counts(self) -> np.ndarray:
        """Rows per level (``len(levels)`` counts; missing rows are not counted)."""
        return np.bincount(self.codes + 1, minlength=self.levels.size + 1)[1:].astype(np.int64)

    @property
    def missing(self) -> int:
        return int(self.codes.size - int(np.count_nonzero(self.codes >= 0)))


def factorize_levels(raw: np.ndarray | list[object]) -> FactorizedLevels:
    """Factorize a column into normalised level keys (the same keys as :func:`normalize_levels`).

    Raw values are factorized first and only the distinct values are normalised when that is
    safe (numbers, booleans, or objects that are all strings); mixed object columns, where
    Python equality would merge ``1``, ``1.0`` and ``True``, are normalised row by row first.

    Examples
    --------
    >>> f = factorize_levels(np.array(["b", "a", None, "b", ""], dtype=object))
    >>> f.codes.tolist(), f.levels.tolist(), f.values().tolist()
    ([0, 1, -1, 0, -1], ['b', 'a'], ['b', 'a', None, 'b', None])
    """
    arr = np.asarray(raw) if not isinstance(raw, np.ndarray) else raw
    codes: np.ndarray
    uniques: np.ndarray
    normalized_uniques: np.ndarray | None = None
    if arr.dtype.kind in "biufO" and arr.ndim == 1:
        codes, uniq = pd.factorize(arr, use_na_sentinel=True)
        uniques = np.asarray(uniq, dtype=arr.dtype if arr.dtype.kind != "O" else object)
        if arr.dtype.kind != "O" or uniques.size == 0 or pd.api.types.infer_dtype(uniques, skipna=False) == "string":
            normalized_uniques = normalize_levels(uniques)
    if normalized_uniques is None:
        codes, uniq = pd.factorize(normalize_levels(arr), use_na_sentinel=True)
        normalized_uniques = np.asarray(uniq, dtype=object)
    # Distinct raw values can share a key (-0.0 and 0.0 -> "0"; "" -> missing): merge them.
    remap, levels = pd.factorize(normalized_uniques, use_na_sentinel=True)
    levels = np.asarray(levels, dtype=object)
    code_type = np.int32 if levels.size < np.iinfo(np.int32).max else np.int64  # half the memory per row
    if levels.size != normalized_uniques.size or (remap.size and int(remap.min()) < 0):
        table = np.concatenate(([-1], remap)).astype(code_type)
        codes = table[np.asarray(codes, dtype=np.intp) + 1]
    return FactorizedLevels(codes=np.asarray(codes, dtype=code_type), levels=levels)


_FNV_PRIME = np.uint64(0x100000001B3)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _hash_numbers(arr: np.ndarray) -> np.ndarray:
    """``pandas.util.hash_array(arr, categorize=False)`` for a 64-bit numeric array.

    The same splitmix64 finaliser on the value's bits, computed in place in cache-sized chunks.
    """
    bits = arr.view(np.uint64)
    vals = np.empty_like(bits)
    chunk = 65_536
    tmp = np.empty(min(chunk, bits.size), dtype=np.uint64)
    for start in range(0, bits.size, chunk):
        v = vals[start : start + chunk]
        t = tmp[: v.size]
        np.copyto(v, bits[start : start + chunk])
        for shift, mult in ((30, _MIX_1), (27, _MIX_2), (31, None)):
            np.right_shift(v, np.uint64(shift), out=t)
            np.bitwise_xor(v, t, out=v)
            if mult is not None:
                np.multiply(v, mult, out=v)
    return vals


def _hash_column(col: np.ndarray | FactorizedLevels) -> np.ndarray:
    if isinstance(col, FactorizedLevels):
        table = np.empty(col.levels.size + 1, dtype=object)
        table[:-1] = col.levels
        table[-1] = None
        hashed = np.asarray(pd.util.hash_array(table, categorize=False), dtype=np.uint64)
        return np.asarray(hashed[col.codes], dtype=np.uint64)
    if col.size == 0:
        return np.empty(0, np.uint64)
    if col.dtype in (np.float64, np.int64, np.uint64) and col.ndim == 1:
        return _hash_numbers(np.ascontiguousarray(col))
    arr = col if col.dtype.kind != "O" else col.astype(object)
    return np.asarray(pd.util.hash_array(arr, categorize=False), dtype=np.uint64)


def new_row_hashes(n_rows: int) -> np.ndarray:
    """The starting value of :func:`fold_row_hashes` for ``n_rows`` rows."""
    return np.full(n_rows, np.uint64(0xCBF29CE484222325), dtype=np.uint64)


def fold_row_hashes(hashes: np.ndarray, column: np.ndarray | FactorizedLevels) -> None:
    """Fold one more column into running row hashes, in place (see :func:`hash_rows`)."""
    with np.errstate(over="ignore"):
        np.bitwise_xor(hashes, _hash_column(column), out=hashes)
        np.multiply(hashes, _FNV_PRIME, out=hashes)


def hash_rows(columns: list[np.ndarray | FactorizedLevels], n_rows: int) -> np.ndarray:
    """A 64-bit hash per row over the given columns (equal rows hash equal).

    A :class:`FactorizedLevels` column hashes exactly as its ``values()`` array would. The
    result equals :func:`new_row_hashes` folded with each column in order.
    """
    h = new_row_hashes(n_rows)
    for col in columns:
        fold_row_hashes(h, col)
    return h


def mix_row_numbers(row_numbers: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic pseudo-random 64-bit keys from row numbers (splitmix64 finaliser).

    The same row number and seed always give the same key, so a bottom-k sample chosen by
    these keys is identical however a stream is split into chunks or partial windows.
    """
    with np.errstate(over="ignore"):
        z = row_numbers.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def level_counts(normalized: np.ndarray) -> list[tuple[str, int]]:
    """Counts of present level keys, most frequent first (ties by level)."""
    series = pd.Series(normalized, dtype=object).dropna()
    if series.empty:
        return []
    vc = series.astype(str).value_counts(sort=False)
    pairs = [(str(k), int(c)) for k, c in vc.items()]
    pairs.sort(key=lambda t: (-t[1], t[0]))
    return pairs
