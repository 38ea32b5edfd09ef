"""Turning raw messages and records into row objects: JSON decoding, field mapping, event time.

Pure functions and immutable settings shared by the Kafka, SQL and file sources. Nothing here
does I/O; a message or record that cannot become a row yields a :class:`RowProblem` whose
``reason`` is the dead-letter reason of DESIGN.md ("Rows and dead letters"):

``oversize``, ``invalid_utf8``, ``invalid_json``, ``not_an_object``, ``not_a_list``,
``missing_field``, ``invalid_event_time``.

Everything else is a row: a missing mapped field is simply absent (a missing value for the
monitor), a value of the wrong type is passed through unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, Final, Literal

import numpy as np
import orjson

MESSAGE_FORMATS: Final = ("json", "json_batch")
DEFAULT_MAX_MESSAGE_BYTES: Final = 1024 * 1024

MessageFormat = Literal["json", "json_batch"]

_EPOCH_MS_THRESHOLD: Final = 1e11
"""Epoch numbers above this are milliseconds (1e11 seconds would be the year 5138)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RowProblem:
    """Why a message, or one item of a batch message, is a dead letter and not a row."""

    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodedMessage:
    """The JSON values of one message, before field mapping.

    ``items`` holds one value per candidate row: the single object of a ``json`` message, the
    elements of a ``json_batch`` array, or the rows of a columnar ``json_batch`` object. Items
    are not yet checked to be objects (see :meth:`RowMapping.apply`). ``problem`` is set, and
    ``items`` empty, when the whole message is a dead letter.
    """

    items: tuple[Any, ...] = ()
    problem: RowProblem | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RowMapping:
    """How a decoded object becomes a row.

    Parameters
    ----------
    fields
        Output field name to source path. A path is a top-level key or a dotted path into nested
        objects (``{"age": "features.age"}``); a top-level key spelled exactly like the path (a
        key containing dots) wins over the nested lookup. A path that does not resolve leaves the
        field absent (a missing value).
    include_unmapped
        Keep the top-level keys that no path starts with, unchanged. Top-level keys that a path
        starts with are replaced by their mapped fields (a renamed key does not appear twice).
    required
        Output fields that must be present and not null; otherwise the row is a dead letter with
        reason ``missing_field`` (the id used to join labels, for example).
    event_time_field
        Output field holding the event time. It is required, and its value is normalised to a
        timezone-aware UTC :class:`~datetime.datetime` (see :func:`parse_event_time`); a value
        that is not a timestamp makes the row a dead letter with reason ``invalid_event_time``.
    """

    fields: Mapping[str, str] = field(default_factory=dict)
    include_unmapped: bool = True
    required: tuple[str, ...] = ()
    event_time_field: str | None = None
    _paths: tuple[tuple[str, str, tuple[str, ...]], ...] = field(init=False, repr=False, compare=False)
    _consumed: frozenset[str] = field(init=False, repr=False, compare=False)
    _required: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        paths = []
        for out, path in self.fields.items():
            if not isinstance(out, str) or not out:
                raise ValueError(f"mapped field names must be non-empty strings, got {out!r}")
            if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
                raise ValueError(
                    f"field {out!r}: source path must be a key or dotted path like 'features.age', got {path!r}"
                )
            paths.append((out, path, tuple(path.split("."))))
        for name in self.required:
            if not isinstance(name, str) or not name:
                raise ValueError(f"required field names must be non-empty strings, got {name!r}")
        if self.event_time_field is not None and (
            not isinstance(self.event_time_field, str) or not self.event_time_field
        ):
            raise ValueError(
                f"event_time_field must be a non-empty string or None, got {self.event_time_field!r}"
            )
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
        object.__setattr__(self, "required", tuple(self.required))
        object.__setattr__(self, "_paths", tuple(paths))
        object.__setattr__(
            self, "_consumed", frozenset(p[2][0] for p in paths) | frozenset(p[1] for p in paths)
        )
        required = tuple(self.required)
        if self.event_time_field is not None and self.event_time_field not in required:
            required = (*required, self.event_time_field)
        object.__setattr__(self, "_required", required)

    @property
    def is_identity(self) -> bool:
        """True when :meth:`apply` returns objects unchanged (after the object check)."""
        return not self._paths and not self._required and self.include_unmapped

    @property
    def is_plain(self) -> bool:
        """True when :meth:`apply` keeps every key and value, except that it checks the required
        fields and normalises the event time (:meth:`apply_to_columns` can do it for columns)."""
        return not self._paths and self.include_unmapped

    def apply_to_columns(self, columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        """:meth:`apply` for decoded rows given as columns (:mod:`connectors.columnar` types), when
        :attr:`is_plain`: the columns with the event time normalised to UTC datetimes (exactly
        :func:`parse_event_time` of each value), or ``None`` when any row would be a dead letter
        (a required field missing or null, an event time that is not a timestamp), so the
        caller decodes message by message and each bad row gets its reason.

        Examples
        --------
        >>> m = RowMapping(required=("id",), event_time_field="ts")
        >>> cols = m.apply_to_columns({"id": np.array([1.0]), "ts": np.array(["2026-01-01T00:00:00Z"], dtype=object)})
        >>> cols["ts"][0].isoformat()
        '2026-01-01T00:00:00+00:00'
        >>> m.apply_to_columns({"id": np.array([np.nan]), "ts": np.array(["2026-01-01T00:00:00Z"], dtype=object)}) is None
        True
        """
        if not self.is_plain:
            raise ValueError("apply_to_columns needs a mapping without paths that keeps unmapped keys")
        for name in self._required:
            column = columns.get(name)
            if column is None:
                return None
            missing = np.isnan(column) if column.dtype.kind == "f" else np.equal(column, None)  # type: ignore[call-overload]
            if missing.any():
                return None
        out = dict(columns)
        if self.event_time_field is not None:
            times = [parse_event_time(v) for v in out[self.event_time_field].tolist()]
            if None in times:
                return None
            normalised = np.empty(len(times), dtype=object)
            normalised[:] = times
            out[self.event_time_field] = normalised
        return out

    def apply(self, item: Any, *, event_time: datetime | None = None) -> dict[str, Any] | RowProblem:
        """Map one decoded item to a row, or say why it cannot be one.

        ``item`` may be reused as the row and modified in place (it is a freshly decoded object).
        ``event_time``, when given, is written to :attr:`event_time_field` (the Kafka message
        timestamp, for example) instead of reading it from the item.

        Examples
        --------
        >>> m = RowMapping(fields={"age": "features.age"}, required=("id",))
        >>> m.apply({"id": 7, "features": {"age": 31}, "y": 1})
        {'id': 7, 'y': 1, 'age': 31}
        >>> m.apply({"features": {}}).reason
        'missing_field'
        """
        if type(item) is not dict:
            return RowProblem(
                reason="not_an_object", detail=f"expected a JSON object, got {_json_kind(item)}"
            )
        if self._paths:
            consumed = self._consumed
            row = {k: v for k, v in item.items() if k not in consumed} if self.include_unmapped else {}
            for out, path, parts in self._paths:
                found, value = resolve_path(item, path, parts)
                if found:
                    row[out] = value
        else:
            row = item if self.include_unmapped else {}
        if event_time is not None and self.event_time_field is not None:
            row[self.event_time_field] = event_time
        for name in self._required:
            if row.get(name) is None:
                return RowProblem(
                    reason="missing_field", detail=f"required field {name!r} is missing or null"
                )
        if self.event_time_field is not None:
            raw = row[self.event_time_field]
            ts = parse_event_time(raw)
            if ts is None:
                return RowProblem(
                    reason="invalid_event_time",
                    detail=f"event-time field {self.event_time_field!r} is not a timestamp: {_short(raw)}",
                )
            row[self.event_time_field] = ts
        return row


def resolve_path(obj: Mapping[str, Any], path: str, parts: tuple[str, ...] | None = None) -> tuple[bool, Any]:
    """Look ``path`` up in ``obj``: an exact top-level key first, then the dotted path.

    Returns ``(found, value)``.

    Examples
    --------
    >>> resolve_path({"a": {"b": 1}}, "a.b")
    (True, 1)
    >>> resolve_path({"a.b": 2, "a": {"b": 1}}, "a.b")
    (True, 2)
    >>> resolve_path({"a": 3}, "a.b")
    (False, None)
    """
    if path in obj:
        return True, obj[path]
    if parts is None:
        parts = tuple(path.split("."))
    if len(parts) == 1:
        return False, None
    cur: Any = obj
    for part in parts:
        if type(cur) is not dict or part not in cur:
            return False, None
        cur = cur[part]
    return True, cur


def decode_message(raw: bytes | None, *, fmt: MessageFormat, max_message_bytes: int) -> DecodedMessage:
    """Decode one message of format ``json`` (one object) or ``json_batch`` (many).

    A ``json_batch`` message is a JSON array of objects, or a columnar object
    ``{"col": [v0, v1, ...], ...}`` whose values are equally long arrays.

    Examples
    --------
    >>> decode_message(b'{"a": 1}', fmt="json", max_message_bytes=100).items
    ({'a': 1},)
    >>> decode_message(b'{"a": [1, 2], "b": ["x", "y"]}', fmt="json_batch", max_message_bytes=100).items
    ({'a': 1, 'b': 'x'}, {'a': 2, 'b': 'y'})
    >>> decode_message(b'[1', fmt="json", max_message_bytes=100).problem.reason
    'invalid_json'
    """
    if raw is None:
        return DecodedMessage(problem=RowProblem(reason="invalid_json", detail="empty message (tombstone)"))
    size = len(raw)
    if size > max_message_bytes:
        return DecodedMessage(
            problem=RowProblem(
                reason="oversize", detail=f"{size} bytes > max_message_bytes={max_message_bytes}"
            )
        )
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return DecodedMessage(problem=_classify_decode_error(raw, exc))
    if fmt == "json":
        if type(value) is not dict:
            return DecodedMessage(
                problem=RowProblem(
                    reason="not_an_object", detail=f"expected a JSON object, got {_json_kind(value)}"
                )
            )
        return DecodedMessage(items=(value,))
    if fmt == "json_batch":
        if type(value) is list:
            return DecodedMessage(items=tuple(value))
        if type(value) is dict:
            return _decode_columnar(value)
        return DecodedMessage(
            problem=RowProblem(
                reason="not_a_list",
                detail=f"expected a JSON array of objects or columnar object, got {_json_kind(value)}",
            )
        )
    raise ValueError(f"format must be one of {MESSAGE_FORMATS}, got {fmt!r}")


def _decode_columnar(value: dict[str, Any]) -> DecodedMessage:
    lengths = set()
    for col, vals in value.items():
        if type(vals) is not list:
            return DecodedMessage(
                problem=RowProblem(
                    reason="not_a_list",
                    detail=f"columnar batch: column {col!r} is {_json_kind(vals)}, expected an array",
                )
            )
        lengths.add(len(vals))
    if len(lengths) > 1:
        return DecodedMessage(
            problem=RowProblem(
                reason="not_a_list",
                detail=f"columnar batch: columns have different lengths {sorted(lengths)}",
            )
        )
    cols = list(value)
    rows = tuple(dict(zip(cols, vals, strict=True)) for vals in zip(*value.values(), strict=True))
    return DecodedMessage(items=rows)


def _classify_decode_error(raw: bytes, exc: Exception) -> RowProblem:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return RowProblem(reason="invalid_utf8", detail=f"not valid UTF-8 at byte {uexc.start}")
    if not raw.strip():
        return RowProblem(reason="invalid_json", detail="empty message")
    return RowProblem(reason="invalid_json", detail=str(exc))


def parse_event_time(value: Any) -> datetime | None:
    """Normalise an event time to a timezone-aware UTC datetime, or ``None`` if it is not one.

    Accepts datetimes (naive ones are taken as UTC), dates, RFC 3339 / ISO 8601 strings
    (``Z`` suffix allowed; without an offset they are taken as UTC) and epoch numbers: seconds,
    or milliseconds when larger than 1e11. Booleans, NaN and infinities are not timestamps.

    Examples
    --------
    >>> parse_event_time("2026-01-01T00:00:00Z").isoformat()
    '2026-01-01T00:00:00+00:00'
    >>> parse_event_time(1767225600000).isoformat()
    '2026-01-01T00:00:00+00:00'
    >>> parse_event_time("yesterday") is None
    True
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            return None
        if abs(seconds) > _EPOCH_MS_THRESHOLD:
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            return None
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return None


def timestamp_ms_to_datetime(timestamp_ms: int) -> datetime:
    """A Kafka record timestamp (epoch milliseconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp_ms / 1000.0, tz=UTC)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
