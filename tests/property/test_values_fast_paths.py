"""The fast paths of detectors.values agree exactly with the row-by-row definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.values import factorize_levels, hash_rows, normalize_levels

scalars = st.one_of(
    st.sampled_from(["a", "b", "", "1", "1.0", "true", "x y"]),
    st.text(max_size=3),
    st.none(),
    st.just(float("nan")),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 2.5, 1e16]),
)
strings_or_missing = st.one_of(st.sampled_from(["a", "b", "", "c"]), st.none(), st.just(float("nan")))


def _object(xs: list[object]) -> np.ndarray:
    arr = np.empty(len(xs), dtype=object)
    arr[:] = xs
    return arr


@given(st.lists(scalars, max_size=60))
@settings(max_examples=300, deadline=None)
def test_factorized_levels_are_normalized_levels_of_mixed_objects(xs: list[object]) -> None:
    arr = _object(xs)
    f = factorize_levels(arr)
    expected = normalize_levels(arr)
    assert f.values().tolist() == expected.tolist()
    assert f.missing == sum(v is None for v in expected.tolist())
    assert len(set(f.levels.tolist())) == f.levels.size  # one code per level key
    np.testing.assert_array_equal(hash_rows([f], arr.size), hash_rows([expected], arr.size))


@given(st.lists(strings_or_missing, max_size=80))
@settings(max_examples=200, deadline=None)
def test_factorized_levels_of_string_columns(xs: list[object]) -> None:
    arr = _object(xs)
    f = factorize_levels(arr)
    assert f.values().tolist() == normalize_levels(arr).tolist()
    counts = dict(zip(f.levels.tolist(), f.counts().tolist(), strict=True))
    assert counts == {k: xs.count(k) for k in set(xs) if isinstance(k, str) and k != ""}


@given(
    st.sampled_from(["float64", "int64", "bool", "float32"]),
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=60),
)
@settings(max_examples=200, deadline=None)
def test_factorized_levels_of_typed_arrays(dtype: str, xs: list[float]) -> None:
    raw = np.array(xs, dtype=np.float64)
    if dtype in ("int64", "bool"):
        raw = np.clip(np.nan_to_num(raw, nan=0.0, posinf=7.0, neginf=-7.0), -1e15, 1e15)
    arr = raw.astype(dtype)
    f = factorize_levels(arr)
    assert f.values().tolist() == normalize_levels(arr).tolist()


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=60), st.integers(0, 3))
@settings(max_examples=200, deadline=None)
def test_row_hashes_of_numbers_match_pandas(xs: list[float], extra: int) -> None:
    x = np.array(xs + [0.0, -0.0][:extra], dtype=np.float64)
    ints = np.arange(x.size, dtype=np.int64) - 3
    expected = np.full(x.size, np.uint64(0xCBF29CE484222325), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in (x, ints):
            expected = (expected ^ pd.util.hash_array(col, categorize=False)) * np.uint64(0x100000001B3)
    np.testing.assert_array_equal(hash_rows([x, ints], x.size), expected)


def test_row_hashes_over_several_chunks_match_pandas() -> None:
    x = np.random.default_rng(3).normal(size=200_003)
    x[::11] = np.nan
    expected = (np.uint64(0xCBF29CE484222325) ^ pd.util.hash_array(x, categorize=False)) * np.uint64(
        0x100000001B3
    )
    np.testing.assert_array_equal(hash_rows([x], x.size), expected)
