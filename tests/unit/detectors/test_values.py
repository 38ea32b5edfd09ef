"""Unit tests of raw-value parsing: numbers, level keys, codes, row hashes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.values import (
    encode_levels,
    hash_rows,
    level_counts,
    mix_row_numbers,
    normalize_levels,
    parse_numeric,
)


@pytest.mark.parametrize(
    ("raw", "values", "missing", "mismatch", "non_finite"),
    [
        (np.array([1, 2, 3]), [1.0, 2.0, 3.0], 0, 0, 0),
        (np.array([True, False]), [1.0, 0.0], 0, 0, 0),
        (np.array([1.5, np.nan, np.inf, -np.inf]), [1.5, None, None, None], 1, 0, 2),
        (
            np.array(["1", "2.5", "", None, "x", "-inf"], dtype=object),
            [1.0, 2.5, None, None, None, None],
            2,
            1,
            1,
        ),
        (np.array([1, "2", True, None], dtype=object), [1.0, 2.0, 1.0, None], 1, 0, 0),
        (np.array(["a", "b"]), [None, None], 0, 2, 0),
        (np.array(["2026-01-01"], dtype="datetime64[ns]"), [None], 0, 1, 0),
    ],
)
def test_parse_numeric(
    raw: np.ndarray, values: list[float | None], missing: int, mismatch: int, non_finite: int
) -> None:
    r = parse_numeric(raw)
    assert [None if math.isnan(v) else v for v in r.values.tolist()] == values
    assert (r.missing, r.type_mismatch, r.non_finite) == (missing, mismatch, non_finite)


def test_parse_numeric_does_not_modify_its_input() -> None:
    raw = np.array([1.0, np.inf])
    parse_numeric(raw)
    assert np.isinf(raw[1])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (np.array([True, False]), ["true", "false"]),
        (np.array([1, 20]), ["1", "20"]),
        (np.array([1.0, 2.5, np.nan]), ["1", "2.5", None]),
        (np.array(["a", ""]), ["a", None]),
        (np.array(["a", None, "", np.nan], dtype=object), ["a", None, None, None]),
        (np.array([1, 1.0, "1", True, 2.5, math.inf], dtype=object), ["1", "1", "1", "true", "2.5", "inf"]),
    ],
)
def test_normalize_levels(raw: np.ndarray, expected: list[str | None]) -> None:
    assert normalize_levels(raw).tolist() == expected


def test_one_level_whatever_the_array_type() -> None:
    keys = {
        normalize_levels(a).tolist()[0]
        for a in (np.array([1]), np.array([1.0]), np.array(["1"], dtype=object))
    }
    assert keys == {"1"}


def test_encode_levels() -> None:
    r = encode_levels(("a", "b"), np.array(["b", "a", "z", None], dtype=object))
    assert r.codes.tolist() == [1, 0, 2, -1]
    assert r.missing == 1
    assert encode_levels((), np.array(["q", None], dtype=object)).codes.tolist() == [0, -1]
    assert encode_levels(("a",), np.array([], dtype=object)).codes.size == 0


def test_level_counts_most_frequent_first_ties_by_level() -> None:
    assert level_counts(np.array(["b", "a", "c", "c", None, "b"], dtype=object)) == [
        ("b", 2),
        ("c", 2),
        ("a", 1),
    ]
    assert level_counts(np.array([None], dtype=object)) == []


def test_hash_rows_equal_rows_hash_equal() -> None:
    x = np.array([1.0, 1.0, 2.0, np.nan, np.nan])
    c = np.array(["a", "a", "a", None, None], dtype=object)
    h = hash_rows([x, c], 5)
    assert h[0] == h[1] and h[3] == h[4]
    assert len({h[0], h[2], h[3]}) == 3
    # chunking does not change a row's hash
    assert hash_rows([x[2:], c[2:]], 3).tolist() == h[2:].tolist()


def test_mix_row_numbers_is_deterministic_and_seeded() -> None:
    rows = np.arange(1000)
    a = mix_row_numbers(rows, 0)
    assert a.tolist() == mix_row_numbers(rows, 0).tolist()
    assert np.unique(a).size == 1000
    assert a[10:20].tolist() == mix_row_numbers(rows[10:20], 0).tolist()
    assert a.tolist() != mix_row_numbers(rows, 1).tolist()
