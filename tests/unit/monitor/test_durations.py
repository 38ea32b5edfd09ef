"""Durations, sizes and rates with units."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.durations import format_duration, parse_duration, parse_rate, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("4h", timedelta(hours=4)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        (" 10s ", timedelta(seconds=10)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration_accepts_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "30 s", "5min", "-5s", "s", "1y", "1h 30m", "nan"])
def test_parse_duration_rejects_with_value_and_forms(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as info:
        parse_duration(text)
    assert repr(text) in str(info.value)
    assert '"30s"' in str(info.value)


def test_parse_duration_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="invalid duration 30"):
        parse_duration(30)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**12))
def test_format_duration_round_trips(milliseconds: int) -> None:
    value = timedelta(milliseconds=milliseconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(days=90), "90d"),
        (timedelta(weeks=1), "1w"),
        (timedelta(hours=4), "4h"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(0), "0s"),
        (timedelta(milliseconds=1500), "1s500ms"),
    ],
)
def test_format_duration_is_short(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("64MiB", 64 * 1024**2),
        ("1MiB", 1048576),
        ("64mib", 64 * 1024**2),
        ("1GiB", 1024**3),
        ("512KiB", 512 * 1024),
        ("64MB", 64_000_000),
        ("1.5kB", 1500),
        ("100B", 100),
        ("4096", 4096),
        (4096, 4096),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MiB", "64 Mbit", "-1MiB", -1, True, 1.5, "64XB"])
def test_parse_size_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="invalid size") as info:
        parse_size(text)  # type: ignore[arg-type]
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("1/week", 1 / 604800),
        ("1/weeks", 1 / 604800),
        ("2/day", 2 / 86400),
        ("1/hour", 1 / 3600),
        ("3/30d", 3 / (30 * 86400)),
        ("1/h", 1 / 3600),
        ("0/day", 0.0),
        ("0.5 / minute", 0.5 / 60),
    ],
)
def test_parse_rate(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["1", "week", "1/fortnight", "1/0s", "x/day", "1/"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid rate") as info:
        parse_rate(text)
    assert repr(text) in str(info.value)
