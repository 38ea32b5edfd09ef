"""parse_times (vectorised ISO 8601 reader) equals the pandas-only oracle bit for bit."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.inference import _parse_times_pandas, parse_times

# The oracle's mixed-format pass warns about odd strings; that is pandas' business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

_MUTATION_CHARS = "0123456789-:T Zz+.t,\x01\x00é"


@st.composite
def iso_strings(draw: st.DrawFn) -> str:
    """ISO 8601 / RFC 3339 renderings of a random time, some of them lightly corrupted."""
    when = draw(
        st.one_of(
            st.datetimes(min_value=dt.datetime(1960, 1, 1), max_value=dt.datetime(2100, 1, 1)),
            st.datetimes(min_value=dt.datetime(1600, 1, 1), max_value=dt.datetime(2400, 12, 31)),
            st.datetimes(),
        )
    )
    nanos = when.microsecond * 1000 + draw(st.integers(0, 999))
    digits = draw(st.integers(0, 9))
    fraction = f".{nanos:09d}"[: digits + 1] if digits else ""
    separator = draw(st.sampled_from(["T", " "]))
    suffix = draw(
        st.one_of(
            st.sampled_from(["", "Z"]),
            st.builds(
                lambda sign, hours, minutes: f"{sign}{hours:02d}:{minutes:02d}",
                st.sampled_from("+-"),
                st.integers(0, 25),
                st.integers(0, 59),
            ),
        )
    )
    text = f"{when:%Y-%m-%d}{separator}{when:%H:%M:%S}{fraction}{suffix}"
    if len(f"{when.year}") != 4:
        text = f"{when.year:04d}" + text[text.index("-") :]
    if draw(st.integers(0, 4)) == 0:  # corrupt one character: replace, delete or insert
        at = draw(st.integers(0, len(text) - 1))
        char = draw(st.sampled_from(_MUTATION_CHARS))
        edit = draw(st.sampled_from(["replace", "delete", "insert"]))
        rest = text[at + 1 :] if edit != "insert" else text[at:]
        text = text[:at] + (char if edit != "delete" else "") + rest
    return text


other_values = st.one_of(
    st.text(max_size=30),
    st.none(),
    st.just(float("nan")),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**40), 2**40),
    st.sampled_from(["1767225600", "1767225600.5", "2026-01-01", "01/02/2026", ""]),
)


def _object(xs: list[object]) -> np.ndarray:
    arr = np.empty(len(xs), dtype=object)
    arr[:] = xs
    return arr


def _assert_same(arr: np.ndarray) -> None:
    got = parse_times(arr)
    expected = _parse_times_pandas(arr)
    assert got.view(np.int64).tolist() == expected.view(np.int64).tolist(), (arr, got, expected)


@given(st.lists(iso_strings(), min_size=1, max_size=20))
@settings(max_examples=400, deadline=None)
def test_iso_strings_equal_the_pandas_oracle(texts: list[str]) -> None:
    _assert_same(_object(texts))
    _assert_same(np.array(texts))  # numpy str dtype


@given(st.lists(st.one_of(iso_strings(), other_values), max_size=20))
@settings(max_examples=300, deadline=None)
def test_mixed_values_equal_the_pandas_oracle(values: list[object]) -> None:
    _assert_same(_object(values))


@given(iso_strings(), st.integers(1, 40))
@settings(max_examples=100, deadline=None)
def test_one_layout_repeated_equals_the_pandas_oracle(text: str, repeat: int) -> None:
    _assert_same(_object([text] * repeat))


@given(st.lists(st.one_of(iso_strings(), st.sampled_from([None, "", float("nan")])), max_size=20))
@settings(max_examples=300, deadline=None)
def test_iso_strings_with_gaps_equal_the_pandas_oracle(values: list[object]) -> None:
    _assert_same(_object(values))


@given(
    st.lists(st.one_of(iso_strings(), st.sampled_from([None, ""])), min_size=1, max_size=6),
    st.lists(st.integers(0, 5), min_size=50, max_size=150),
)
@settings(max_examples=100, deadline=None)
def test_long_arrays_with_repeats_equal_the_pandas_oracle(pool: list[object], picks: list[int]) -> None:
    # 50 values or more with repeats: pandas parses through its cache of unique values.
    _assert_same(_object([pool[i % len(pool)] for i in picks]))
