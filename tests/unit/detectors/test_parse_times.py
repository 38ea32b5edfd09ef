"""parse_times: the vectorised ISO 8601 reader gives bit-identical results to the pandas path."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from connectors.mapping import parse_event_time
from detectors.inference import _parse_times_pandas, parse_times
from detectors.timeparse import read_iso_seconds


def _object(xs: list[object]) -> np.ndarray:
    arr = np.empty(len(xs), dtype=object)
    arr[:] = xs
    return arr


def assert_same(values: np.ndarray) -> np.ndarray:
    """parse_times equals the pandas oracle bit for bit (nan included); returns the result."""
    got = parse_times(values)
    expected = _parse_times_pandas(values)
    assert got.dtype == expected.dtype == np.float64
    assert got.shape == expected.shape
    assert got.view(np.int64).tolist() == expected.view(np.int64).tolist(), (values, got, expected)
    return got


def test_common_layout_is_read_fast_and_exactly() -> None:
    arr = _object([f"2026-01-01T00:00:{s:02d}.{f:06d}Z" for s in range(60) for f in (0, 600000, 123456)])
    assert not np.isnan(read_iso_seconds(arr).seconds).any()
    out = assert_same(arr)
    assert out[0] == 1767225600.0
    assert out[1] == 1767225600.6


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:03.600000Z",
        "2026-01-01T00:00:03Z",
        "2026-01-01 00:00:03",
        "2026-01-01T00:00:03",
        "2026-01-01T00:00:03.6",
        "2026-01-01T00:00:03.123456789Z",
        "2026-01-01T00:00:03.999999999+05:30",
        "2026-01-01T01:00:00+01:00",
        "2026-01-01T00:00:00-00:00",
        "2024-02-29T00:00:00+23:59",
        "2024-02-29T23:59:59-23:59",
        "1969-12-31T23:59:59.999Z",
        "1900-01-01T00:00:00.5",
        "2000-02-29T12:00:00Z",
        "1678-01-01T00:00:00+23:59",
        "2261-12-31T23:59:59.999999999-23:59",
    ],
)
def test_valid_layouts_are_read_by_the_fast_reader(text: str) -> None:
    arr = _object([text, text])
    assert not np.isnan(read_iso_seconds(arr).seconds).any()
    assert_same(arr)


@pytest.mark.parametrize(
    "text",
    [
        "2016-12-31T23:59:60Z",  # leap second: pandas gives no time
        "2026-02-29T00:00:00",  # not a leap year
        "1900-02-29T00:00:00",  # century, not a leap year
        "2026-04-31T00:00:00",
        "2026-00-10T00:00:00",
        "2026-13-10T00:00:00",
        "2026-01-00T00:00:00",
        "2026-01-01T24:00:00",
        "2026-01-01T00:60:00",
        "2024-02-29T00:00:00+24:00",
        "2024-02-29T00:00:00,02:00",
        "2026-01-01T00:00:03.1234567891Z",  # ten fraction digits
        "2026-01-01T00:00:03.Z",
        "2026-01-01t00:00:03z",
        "2026-01-01T00:00:03+0200",
        "2026-01-01T00:00:03+02",
        "2026-01-01",
        "2026-01-01T00:00",
        " 2026-01-01T00:00:03Z",
        "2026-01-01T00:00:03Z ",
        "2026-01-01T00:00:00Z\x00",
        "2026-01-01T00:00:03Z\x01",
        "2026\x01-01-01T00:00:03",
        "２０２６-01-01T00:00:03Z",  # fullwidth digits
        "2026-01-01T00:00:03Zé",
        "1677-09-22T00:00:00",  # inside pandas' range, outside the fast reader's
        "2262-04-10T00:00:00",
        "1677-01-01T00:00:00",  # outside pandas' nanosecond range
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59Z",
        "01/02/2026 10:00",
        "junk",
        "",
    ],
)
def test_other_strings_fall_back_to_pandas(text: str) -> None:
    arr = _object([text, "2026-01-01T00:00:03.600000Z", text])
    assert np.isnan(read_iso_seconds(_object([text])).seconds).all()
    assert_same(arr)
    assert_same(_object([text]))


@pytest.mark.parametrize(
    "values",
    [
        [],
        [None],
        [None, float("nan")],
        [None, "2026-01-01T00:00:03Z", float("nan"), "2026-01-01T00:00:04Z"],
        ["", "2026-01-01T00:00:03Z", np.nan, "", None],
        ["", None],
        ["2026-01-01T00:00:03", "", "NaT", "2026-01-01T00:00:03+01:00"],
        ["2026-01-01T00:00:03Z", 1767225600.0, 1767225600000, True],
        [1767225600.0, "2026-01-01T00:00:03Z"],  # the first value is a number: pandas decides
        ["1767225600", "2026-01-01T00:00:03Z"],
        ["1767225600", "1767225601000"],
        [None, "1767225600", "2026-01-01T00:00:03Z"],
        ["2026-01-01T00:00:03Z", "1767225600"],
        ["2026-01-01T00:00:03Z", b"2026-01-01T00:00:03Z"],
        ["2026-01-01T00:00:03Z", dt.datetime(2026, 1, 1, 0, 0, 3, tzinfo=dt.UTC)],
        ["2026-01-01T00:00:03Z", "2026-01-01T00:00:03.5Z", "2026-01-01 00:00:03+01:00", "x"],
        ["é", "2026-01-01T00:00:03Z"],
    ],
)
def test_mixed_arrays_match_pandas(values: list[object]) -> None:
    assert_same(_object(values))


@pytest.mark.parametrize(
    "values",
    [
        [1767225600.0, None],
        [None, 1767225600, float("nan")],
        ["2026-01-01T00:00:03Z", 1767225600.0, 1767225600000, True],
        [1767225600, "2026-01-01T00:00:03+01:00", np.int64(1767225601), np.float32(2.5)],
        [np.inf, "2026-01-01T00:00:03Z", -1.5e12],
        [1e17, -1e17, 1e300, 2.5e14, 2.6e14, -6.2e13, -6.3e13, "2026-01-01T00:00:03Z"],
    ],
)
def test_numbers_in_object_arrays_are_epoch_times_wherever_they_are(values: list[object]) -> None:
    """As each value alone (``connectors.mapping.parse_event_time``): pandas would read the
    numbers of a mixed array as nanoseconds."""
    got = assert_same(_object(values))
    for value, seconds in zip(values, got.tolist(), strict=True):
        one = parse_event_time(value.item() if isinstance(value, np.generic) else value)
        assert (seconds != seconds) if one is None else seconds == one.timestamp(), (value, seconds, one)


def test_numpy_str_objects_are_read_where_pandas_raised() -> None:
    # pandas' ISO 8601 parser raises TypeError on numpy.str_ objects; the fast reader reads them.
    arr = _object(["2026-01-01T00:00:03Z", np.str_("2026-01-01T00:00:04Z")])
    with pytest.raises(TypeError):
        _parse_times_pandas(arr)
    assert parse_times(arr).tolist() == [1767225603.0, 1767225604.0]


def test_gaps_do_not_stop_the_fast_reader() -> None:
    arr = _object(["2026-01-01T00:00:03Z", None, "", float("nan"), "2026-01-01T00:00:04Z"])
    out = assert_same(arr)
    assert out[0] == 1767225603.0 and out[4] == 1767225604.0
    read = read_iso_seconds(arr)
    assert np.isnan(read.seconds[1:4]).all()
    assert not read.naive and not read.shifted


def test_zone_kinds_are_reported() -> None:
    assert read_iso_seconds(_object(["2026-01-01T00:00:03"])).naive
    assert not read_iso_seconds(_object(["2026-01-01T00:00:03Z"])).naive
    assert not read_iso_seconds(_object(["2026-01-01T00:00:03+00:00"])).shifted
    assert read_iso_seconds(_object(["2026-01-01T00:00:03-00:30"])).shifted


def test_a_value_holding_the_separator_cannot_shift_the_others() -> None:
    # Joined with \x01 these look like three values of one length; the lengths say otherwise.
    valid = "2026-01-01T00:00:03Z"
    arr = _object([valid + "\x01" + valid, "", "x" * (len(valid) - 1)])
    out = assert_same(arr)
    assert np.isnan(out).all()


def test_same_length_different_layouts_are_all_read() -> None:
    # 25 characters each: 5 fraction digits, 4 digits and Z, or an offset.
    arr = _object(["2026-01-01T00:00:03.12345", "2026-01-01T00:00:03.1234Z", "2026-01-01T00:00:03+02:00"])
    assert not np.isnan(read_iso_seconds(arr).seconds).any()
    assert_same(arr)


def test_unicode_bytes_and_other_dtypes() -> None:
    texts = ["2026-01-01T00:00:03.600000Z", "2026-03-01 10:00:00", "junk"]
    assert_same(np.array(texts))  # numpy str dtype
    assert_same(np.array([t.encode() for t in texts]))  # bytes: pandas alone
    assert_same(np.array(["2026-01-01T00:00:03"], dtype="datetime64[ns]"))
    assert_same(np.array([1.5, np.inf, 2e12]))


def test_many_blocks_with_junk_and_gaps() -> None:
    rng = np.random.default_rng(7)
    seconds = rng.integers(0, 4_000_000_000, size=40_000)
    micros = rng.integers(0, 1_000_000, size=seconds.size)
    texts = [
        (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(s), microseconds=int(u))).isoformat() + "Z"
        for s, u in zip(seconds, micros, strict=True)
    ]
    arr = _object(texts)
    assert not np.isnan(read_iso_seconds(arr).seconds).any()
    assert_same(arr)
    arr[[5, 20_000, 39_999]] = [None, "junk", "2026-02-30T00:00:00Z"]
    arr[17_000] = texts[17_000][:19]  # another length in one block
    out = assert_same(arr)
    assert np.isnan(out).sum() == 3


@pytest.mark.parametrize(
    "values",
    [
        ["2000-01-01T00:00:00", "2000-01-01T00:00:00+00:01", "2000-01-01T00:00:00"],
        ["2000-01-01T00:00:00+00:01", "2000-01-01T00:00:00Z", "2000-01-01T00:00:00"],
        ["2000-01-01T00:00:00+00:01", None, "2000-01-01 00:00:00.5"],
        ["2000-01-01T00:00:00+0001", "2000-01-01T00:00:00"],
        ["2000-01-01T00:00:00+00:01junk", "2000-01-01T00:00:00"],
        ["2000-01-01T00:00:00+00:01", "2000-01-01"],
    ],
)
def test_pandas_carries_an_offset_over_to_later_naive_strings(values: list[object]) -> None:
    # pandas' ISO 8601 pass keeps the last zoned string's offset for later zone-less strings
    # (not for date-only ones); parse_times keeps that behaviour by leaving such arrays to pandas.
    assert_same(_object(values))
