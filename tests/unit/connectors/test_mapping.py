"""Unit and property tests of connectors.mapping: decoding, field mapping, event time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from connectors.columnar import objects_to_columns
from connectors.files import rows_to_columns
from connectors.mapping import (
    DEFAULT_MAX_MESSAGE_BYTES,
    RowMapping,
    RowProblem,
    decode_message,
    parse_event_time,
    resolve_path,
    timestamp_ms_to_datetime,
)

MAX = DEFAULT_MAX_MESSAGE_BYTES


def reason(raw: bytes | None, fmt: str = "json", max_bytes: int = MAX) -> str | None:
    problem = decode_message(raw, fmt=fmt, max_message_bytes=max_bytes).problem  # type: ignore[arg-type]
    return None if problem is None else problem.reason


# --- decode_message -----------------------------------------------------------------------------


def test_json_object_decodes_to_one_item() -> None:
    decoded = decode_message(b'{"a": 1, "b": "x"}', fmt="json", max_message_bytes=MAX)
    assert decoded.problem is None
    assert decoded.items == ({"a": 1, "b": "x"},)


@pytest.mark.parametrize(
    ("raw", "fmt", "expected"),
    [
        (b'{"a": 1', "json", "invalid_json"),
        (b"", "json", "invalid_json"),
        (b"   ", "json", "invalid_json"),
        (None, "json", "invalid_json"),
        (b'{"a": "\xff\xfe"}', "json", "invalid_utf8"),
        (b"\xc3\x28", "json", "invalid_utf8"),
        (b"[1, 2]", "json", "not_an_object"),
        (b'"text"', "json", "not_an_object"),
        (b"null", "json", "not_an_object"),
        (b"42", "json_batch", "not_a_list"),
        (b'"x"', "json_batch", "not_a_list"),
        (b'{"a": [1, 2], "b": 3}', "json_batch", "not_a_list"),
        (b'{"a": [1, 2], "b": [3]}', "json_batch", "not_a_list"),
        (b"[{]", "json_batch", "invalid_json"),
    ],
)
def test_bad_messages_get_their_reason(raw: bytes | None, fmt: str, expected: str) -> None:
    assert reason(raw, fmt) == expected


def test_oversize_is_checked_before_parsing() -> None:
    raw = orjson.dumps({"x": "a" * 100})
    assert reason(raw, max_bytes=len(raw)) is None
    assert reason(raw, max_bytes=len(raw) - 1) == "oversize"
    problem = decode_message(b"not json at all", fmt="json", max_message_bytes=3).problem
    assert problem is not None and problem.reason == "oversize" and "max_message_bytes=3" in problem.detail


def test_json_batch_array_keeps_items_unchecked() -> None:
    decoded = decode_message(b'[{"a": 1}, 2, {"a": 3}]', fmt="json_batch", max_message_bytes=MAX)
    assert decoded.problem is None
    assert decoded.items == ({"a": 1}, 2, {"a": 3})
    assert isinstance(RowMapping().apply(decoded.items[1]), RowProblem)


def test_json_batch_columnar() -> None:
    decoded = decode_message(
        b'{"a": [1, 2, 3], "b": ["x", null, "z"]}', fmt="json_batch", max_message_bytes=MAX
    )
    assert decoded.items == ({"a": 1, "b": "x"}, {"a": 2, "b": None}, {"a": 3, "b": "z"})
    assert decode_message(b"[]", fmt="json_batch", max_message_bytes=MAX).items == ()
    assert decode_message(b"{}", fmt="json_batch", max_message_bytes=MAX).items == ()


def test_unknown_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        decode_message(b"{}", fmt="csv", max_message_bytes=MAX)  # type: ignore[arg-type]


json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
json_objects = st.dictionaries(st.text(min_size=1, max_size=6), json_scalars, max_size=6)


@given(rows=st.lists(json_objects, max_size=12))
def test_array_and_columnar_batches_agree(rows: list[dict[str, object]]) -> None:
    """A batch sent as an array of rows or as columns decodes to the same rows."""
    keys = sorted({k for r in rows for k in r})
    full = [{k: r.get(k) for k in keys} for r in rows]
    as_array = decode_message(orjson.dumps(full), fmt="json_batch", max_message_bytes=MAX)
    columnar = {k: [r[k] for r in full] for k in keys}
    as_columns = decode_message(orjson.dumps(columnar), fmt="json_batch", max_message_bytes=MAX)
    assert as_array.items == tuple(full)
    if keys:
        assert as_columns.items == tuple(full)


@given(raw=st.binary(max_size=64), fmt=st.sampled_from(["json", "json_batch"]))
def test_any_bytes_decode_or_get_a_known_reason(raw: bytes, fmt: str) -> None:
    """Arbitrary bytes never raise: they decode or become a dead letter with a known reason."""
    decoded = decode_message(raw, fmt=fmt, max_message_bytes=32)  # type: ignore[arg-type]
    if decoded.problem is None:
        assert len(raw) <= 32
    else:
        assert decoded.items == ()
        assert decoded.problem.reason in {
            "oversize",
            "invalid_utf8",
            "invalid_json",
            "not_an_object",
            "not_a_list",
        }


# --- RowMapping ---------------------------------------------------------------------------------


def test_identity_mapping_returns_the_object() -> None:
    m = RowMapping()
    assert m.is_identity
    obj = {"a": 1}
    assert m.apply(obj) is obj
    problem = m.apply([1])
    assert isinstance(problem, RowProblem) and problem.reason == "not_an_object"


def test_renames_and_nested_paths() -> None:
    m = RowMapping(fields={"age": "features.age", "score": "model.out.score", "uid": "user_id"})
    row = m.apply(
        {"user_id": 5, "features": {"age": 31, "income": 2}, "model": {"out": {"score": 0.7}}, "y": 1}
    )
    assert row == {"y": 1, "age": 31, "score": 0.7, "uid": 5}


def test_unresolvable_path_is_a_missing_value_not_a_dead_letter() -> None:
    m = RowMapping(fields={"age": "features.age"})
    assert m.apply({"features": 3, "b": 2}) == {"b": 2}
    assert m.apply({"b": 2}) == {"b": 2}


def test_exact_dotted_key_wins() -> None:
    m = RowMapping(fields={"age": "features.age"})
    assert m.apply({"features.age": 40, "features": {"age": 31}}) == {"age": 40}
    assert resolve_path({"a": {"b": {"c": None}}}, "a.b.c") == (True, None)


def test_include_unmapped_false_keeps_only_mapped_fields() -> None:
    m = RowMapping(fields={"age": "features.age"}, include_unmapped=False)
    assert m.apply({"features": {"age": 31}, "other": 1}) == {"age": 31}


@pytest.mark.parametrize("obj", [{"x": 1}, {"id": None, "x": 1}])
def test_required_field_missing_or_null_is_a_dead_letter(obj: dict[str, object]) -> None:
    problem = RowMapping(required=("id",)).apply(obj)
    assert isinstance(problem, RowProblem)
    assert problem.reason == "missing_field"
    assert "'id'" in problem.detail


def test_event_time_field_is_required_and_normalised() -> None:
    m = RowMapping(fields={"ts": "meta.time"}, event_time_field="ts")
    row = m.apply({"meta": {"time": "2026-01-01T01:00:00+01:00"}, "x": 1})
    assert row == {"x": 1, "ts": datetime(2026, 1, 1, tzinfo=UTC)}
    missing = m.apply({"x": 1})
    assert isinstance(missing, RowProblem) and missing.reason == "missing_field"
    bad = m.apply({"meta": {"time": "soon"}})
    assert isinstance(bad, RowProblem) and bad.reason == "invalid_event_time" and "'soon'" in bad.detail


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fields": {"a": ""}},
        {"fields": {"a": "x..y"}},
        {"fields": {"": "x"}},
        {"required": ("",)},
        {"event_time_field": ""},
    ],
)
def test_bad_mapping_settings_are_value_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RowMapping(**kwargs)  # type: ignore[arg-type]


def test_mapping_is_frozen_and_hashable_settings() -> None:
    m = RowMapping(fields={"a": "b"})
    with pytest.raises(TypeError):
        m.fields["c"] = "d"  # type: ignore[index]


@given(obj=json_objects)
def test_mapping_without_paths_keeps_every_key(obj: dict[str, object]) -> None:
    row = RowMapping(fields={}, required=()).apply(dict(obj))
    assert row == obj


# --- event time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T00:00:00Z", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01 00:00:00", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01", datetime(2026, 1, 1, tzinfo=UTC)),
        (1767225600, datetime(2026, 1, 1, tzinfo=UTC)),
        (1767225600.5, datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        (1767225600000, datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)),
        (date(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_event_time(value: object, expected: datetime) -> None:
    parsed = parse_event_time(value)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize("value", [None, True, "", "soon", float("nan"), float("inf"), [1], {"a": 1}, 1e300])
def test_parse_event_time_rejects_non_timestamps(value: object) -> None:
    assert parse_event_time(value) is None


def test_kafka_timestamp_conversion() -> None:
    assert timestamp_ms_to_datetime(1767225600123) == datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)


# -- the same checks on a whole poll's columns ------------------------------------------------------

time_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**45),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "2026-01-01T00:00:00Z",
            "2026-01-01T01:02:03.5+02:00",
            "2026-01-01 00:00:00",
            "2026-01-01",
            "soon",
            "",
        ]
    ),
)
poll_rows = st.lists(
    st.fixed_dictionaries(
        {"ts": time_values},
        optional={"id": st.integers(0, 10) | st.none(), "x": st.floats(allow_nan=False) | st.none()},
    ),
    min_size=1,
    max_size=20,
)


@given(poll_rows)
@example([{"ts": 0, "id": 0}, {"ts": 0, "x": None, "id": 0}])  # a field with no value: None, not nan
@settings(max_examples=400, deadline=None)
def test_columns_are_mapped_exactly_like_rows_or_not_at_all(rows: list[dict[str, object]]) -> None:
    mapping = RowMapping(required=("id",), event_time_field="ts")
    values = [orjson.dumps(r) for r in rows]
    columns = objects_to_columns(values)
    if columns is None:
        return
    mapped = mapping.apply_to_columns(columns)
    applied = [mapping.apply(orjson.loads(v)) for v in values]
    if any(isinstance(a, RowProblem) for a in applied):
        assert mapped is None  # the poll goes message by message: each bad row gets its reason
        return
    assert mapped is not None
    expected = rows_to_columns([a for a in applied if not isinstance(a, RowProblem)])
    assert sorted(mapped) == sorted(expected)
    for name, column in expected.items():
        assert mapped[name].dtype == column.dtype, name
        assert [None if v != v else v for v in mapped[name].tolist()] == [
            None if v != v else v for v in column.tolist()
        ], name


def test_apply_to_columns_needs_a_plain_mapping() -> None:
    with pytest.raises(ValueError, match="without paths"):
        RowMapping(fields={"a": "b.c"}).apply_to_columns({})


@pytest.mark.parametrize(
    "times",
    [
        ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00+02:00", "2026-01-01 00:00:00"],
        [1_767_225_600, 1_767_225_600_000, 1_767_225_600.5],  # epoch seconds and milliseconds
    ],
)
def test_valid_polls_are_mapped_as_columns(times: list[object]) -> None:
    rows = [{"id": i, "ts": t} for i, t in enumerate(times)]
    mapping = RowMapping(required=("id",), event_time_field="ts")
    columns = objects_to_columns([orjson.dumps(r) for r in rows])
    assert columns is not None
    mapped = mapping.apply_to_columns(columns)
    assert mapped is not None
    expected = [mapping.apply(dict(r)) for r in rows]
    assert mapped["ts"].tolist() == [e["ts"] for e in expected if isinstance(e, dict)]
