"""Durations, sizes and rates written as strings with units ("90s", "64MiB", "1/week").

Configuration files spell every quantity with its unit, so that ``timeout = 10`` can never be
read as ten milliseconds by one component and ten seconds by another. The three parsers here
turn such strings into :class:`datetime.timedelta`, a byte count and an event rate per second.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = [
    "DURATION_FORMS",
    "RATE_FORMS",
    "SIZE_FORMS",
    "format_duration",
    "parse_duration",
    "parse_rate",
    "parse_size",
]

DURATION_FORMS = '"500ms", "30s", "5m", "4h", "7d", "1w" or a sum such as "1h30m"'
SIZE_FORMS = '"512B", "64KiB", "64MiB", "1GiB" (or decimal "64kB", "64MB", "1GB", or a plain byte count)'
RATE_FORMS = '"1/week", "2/day", "1/hour", "3/30d" (events per period)'

_DURATION_UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")

_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")

_RATE_PERIODS: dict[str, float] = {
    "second": 1.0,
    "sec": 1.0,
    "minute": 60.0,
    "min": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
    "week": 604800.0,
}
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*(\S+)")


def parse_duration(text: str) -> timedelta:
    """Parse a non-negative duration with units.

    Parameters
    ----------
    text:
        A number followed by a unit (``ms``, ``s``, ``m``, ``h``, ``d``, ``w``), or several such
        parts written together, largest first or not (``"1h30m"``). Decimals are allowed
        (``"1.5h"``); surrounding whitespace is ignored.

    Returns
    -------
    datetime.timedelta
        The duration; ``"0s"`` gives ``timedelta(0)``.

    Raises
    ------
    ValueError
        When ``text`` is not a string of that form; the message names the value and the accepted forms.

    Examples
    --------
    >>> parse_duration("90s")
    datetime.timedelta(seconds=90)
    >>> parse_duration("1h30m") == timedelta(minutes=90)
    True
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: expected a string such as {DURATION_FORMS}")
    compact = text.strip()
    if not _DURATION_WHOLE.fullmatch(compact):
        raise ValueError(f"invalid duration {text!r}: expected {DURATION_FORMS}")
    seconds = 0.0
    for number, unit in _DURATION_PART.findall(compact):
        seconds += float(number) * _DURATION_UNITS[unit]
    if not math.isfinite(seconds) or seconds > timedelta.max.total_seconds():
        raise ValueError(f"invalid duration {text!r}: too large")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Write ``value`` back in the shortest unit form that :func:`parse_duration` reads.

    Examples
    --------
    >>> format_duration(timedelta(hours=4))
    '4h'
    >>> format_duration(timedelta(seconds=90))
    '1m30s'
    >>> format_duration(timedelta(seconds=3690))
    '1h1m30s'
    """
    total_ms = round(value.total_seconds() * 1000)
    if total_ms < 0:
        raise ValueError(f"duration must not be negative, got {value!r}")
    if total_ms == 0:
        return "0s"
    week_ms = round(_DURATION_UNITS["w"] * 1000)
    if total_ms % week_ms == 0:
        return f"{total_ms // week_ms}w"
    parts: list[str] = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = round(_DURATION_UNITS[unit] * 1000)
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_size(text: str | int) -> int:
    """Parse a size in bytes: ``"64MiB"`` (binary units), ``"64MB"`` (decimal units) or a plain count.

    Parameters
    ----------
    text:
        A non-negative number with an optional unit: ``B``, ``kB``/``KB``, ``MB``, ``GB``, ``TB``
        (powers of 1000) or ``KiB``, ``MiB``, ``GiB``, ``TiB`` (powers of 1024), case-insensitive.
        A non-negative ``int`` is taken as a byte count.

    Returns
    -------
    int
        The number of bytes, rounded down.

    Raises
    ------
    ValueError
        When the value is negative, has no number or has an unknown unit.

    Examples
    --------
    >>> parse_size("64MiB")
    67108864
    >>> parse_size("1.5kB")
    1500
    """
    if isinstance(text, bool):
        raise ValueError(f"invalid size {text!r}: expected {SIZE_FORMS}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"invalid size {text!r}: must not be negative")
        return text
    if not isinstance(text, str):
        raise ValueError(f"invalid size {text!r}: expected {SIZE_FORMS}")
    match = _SIZE.fullmatch(text.strip())
    if match is None or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"invalid size {text!r}: expected {SIZE_FORMS}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def parse_rate(text: str) -> float:
    """Parse an event rate such as ``"1/week"`` into events per second.

    Parameters
    ----------
    text:
        ``"<count>/<period>"``: the period is a word (``second``, ``minute``, ``hour``, ``day``,
        ``week``, singular or plural), a bare unit (``s``, ``h``, ``d``, ``w``) or a duration accepted by :func:`parse_duration`
        (``"3/30d"``). The count may be ``0``.

    Returns
    -------
    float
        Events per second.

    Raises
    ------
    ValueError
        When ``text`` is not of that form or the period is zero.

    Examples
    --------
    >>> parse_rate("1/week") * 604800
    1.0
    >>> parse_rate("2/1h") == 2 / 3600
    True
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid rate {text!r}: expected {RATE_FORMS}")
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid rate {text!r}: expected {RATE_FORMS}")
    count = float(match.group(1))
    period_text = match.group(2).lower()
    word = (
        period_text[:-1] if period_text.endswith("s") and period_text[:-1] in _RATE_PERIODS else period_text
    )
    if word in _RATE_PERIODS:
        period_s = _RATE_PERIODS[word]
    elif period_text in _DURATION_UNITS:
        period_s = _DURATION_UNITS[period_text]
    else:
        try:
            period_s = parse_duration(period_text).total_seconds()
        except ValueError:
            raise ValueError(f"invalid rate {text!r}: expected {RATE_FORMS}") from None
    if period_s <= 0:
        raise ValueError(f"invalid rate {text!r}: the period must be longer than zero")
    return count / period_s
