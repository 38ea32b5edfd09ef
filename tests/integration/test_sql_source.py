"""SqlSource on SQLite and on a real PostgreSQL: incremental polling, ties, checkpoints, validation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    insert,
    inspect,
    text,
)
from sqlalchemy.pool import StaticPool

from connectors.base import ConnectorError
from connectors.mapping import RowMapping
from connectors.sql import SqlSource, SqlSourceSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'serving.db'}"
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


def make_table(engine: Engine, name: str = "predictions") -> Table:
    meta = MetaData()
    table = Table(
        name,
        meta,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("ts", DateTime(timezone=True), nullable=True),
        Column("score", Float),
        Column("label", String(20)),
        Column("amount", Numeric(12, 3)),
    )
    meta.create_all(engine)
    return table


def add(engine: Engine, table: Table, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(table), rows)


def rows_with_ties(start: int, stop: int) -> list[dict[str, Any]]:
    """Ids ``start..stop-1``; every 4 consecutive ids share one timestamp (ties)."""
    return [
        {
            "id": i,
            "ts": T0 + timedelta(minutes=i // 4),
            "score": i / 10,
            "label": f"l{i % 3}",
            "amount": Decimal(i),
        }
        for i in range(start, stop)
    ]


def json_round_trip(checkpoint: Any) -> Any:
    return orjson.loads(orjson.dumps(checkpoint))


def read_all(source: SqlSource, max_rows: int) -> tuple[list[int], Any]:
    ids: list[int] = []
    checkpoint = None
    for _ in range(1000):
        batch = source.poll(max_rows, 0)
        assert len(batch.rows) <= max_rows or source.settings.tiebreaker is None
        if not batch.rows and not batch.dead_letters:
            return ids, batch.checkpoint or checkpoint
        ids += [r["id"] for r in batch.rows]
        checkpoint = batch.checkpoint
    raise AssertionError("source never ran dry")


@pytest.mark.parametrize("tiebreaker", ["id", None])
def test_incremental_polling_with_ties_exactly_once_across_reopen(
    engine: Engine, db_url: str, tiebreaker: str | None
) -> None:
    table = make_table(engine)
    add(engine, table, rows_with_ties(0, 30))
    settings = SqlSourceSettings(
        url=db_url, table="predictions", watermark="ts", tiebreaker=tiebreaker, batch_rows=5
    )

    first = SqlSource("served", settings)
    first.open(None)
    batch = first.poll(5, 0)
    ids = [r["id"] for r in batch.rows]
    batch = first.poll(5, 0)
    ids += [r["id"] for r in batch.rows]
    checkpoint = json_round_trip(batch.checkpoint)
    first.close()
    assert set(checkpoint) == {"watermark"} and isinstance(checkpoint["watermark"][0], str)
    if tiebreaker is None:  # a batch of 5 stops before a half-read group of 4 ties
        assert sorted(ids) == [0, 1, 2, 3, 4, 5, 6, 7] and checkpoint["watermark"][1] is None
    else:
        assert ids == list(range(10)) and checkpoint["watermark"][1] == 9

    add(engine, table, rows_with_ties(30, 45))
    second = SqlSource("served", settings)
    second.open(checkpoint)
    rest, final = read_all(second, 5)
    second.close()
    everything = ids + rest
    assert sorted(everything) == list(range(45))  # none lost, none twice
    if tiebreaker is not None:
        assert everything == list(range(45))  # in (watermark, tiebreaker) order
    else:
        assert [i // 4 for i in everything] == sorted(i // 4 for i in everything)  # in watermark order

    third = SqlSource("served", settings)
    third.open(json_round_trip(final))
    assert third.poll(5, 0).rows == []
    third.close()


def test_more_ties_than_a_batch_without_tiebreaker_are_read_together(engine: Engine, db_url: str) -> None:
    table = make_table(engine)
    add(engine, table, [{"id": i, "ts": T0, "score": 0.0} for i in range(12)])
    add(engine, table, [{"id": 12, "ts": T0 + timedelta(hours=1), "score": 0.0}])
    source = SqlSource("s", SqlSourceSettings(url=db_url, table="predictions", watermark="ts", batch_rows=5))
    source.open(None)
    try:
        assert sorted(r["id"] for r in source.poll(5, 0).rows) == list(range(12))
        assert [r["id"] for r in source.poll(5, 0).rows] == [12]
        assert source.poll(5, 0).rows == []
    finally:
        source.close()


def test_rows_are_mapped_and_null_watermarks_skipped(engine: Engine, db_url: str) -> None:
    table = make_table(engine)
    add(
        engine,
        table,
        [
            {"id": 1, "ts": T0, "score": 0.5, "label": "a", "amount": Decimal("1.5")},
            {"id": 2, "ts": None, "score": 0.6, "label": "b", "amount": None},
            {"id": 3, "ts": T0 + timedelta(seconds=1), "score": None, "label": None, "amount": None},
        ],
    )
    mapping = RowMapping(fields={"prediction": "score", "event_time": "ts"}, required=("label",))
    settings = SqlSourceSettings(
        url=db_url,
        table="predictions",
        watermark="id",
        columns=("id", "ts", "score", "label"),
        mapping=mapping,
    )
    source = SqlSource("served", settings)
    source.open(None)
    try:
        batch = source.poll(100, 0)
    finally:
        source.close()
    assert [r["id"] for r in batch.rows] == [1, 2]
    assert (
        batch.rows[0]["prediction"] == 0.5 and "score" not in batch.rows[0] and "amount" not in batch.rows[0]
    )
    assert batch.rows[1]["event_time"] is None
    assert [(d.reason, d.position, d.source) for d in batch.dead_letters] == [
        ("missing_field", "watermark=[3, None]", "served")
    ]
    assert batch.checkpoint == {"watermark": [3, None]}

    by_time = SqlSource(
        "t", SqlSourceSettings(url=db_url, table="predictions", watermark="ts", tiebreaker="id")
    )
    by_time.open(None)
    try:
        assert [r["id"] for r in by_time.poll(100, 0).rows] == [1, 3]  # a null watermark is never placed
    finally:
        by_time.close()


def test_decimal_and_integer_watermarks_restore_from_json(engine: Engine, db_url: str) -> None:
    table = make_table(engine)
    add(engine, table, [{"id": i, "amount": Decimal(i) / 4, "score": 0.0} for i in range(1, 9)])
    settings = SqlSourceSettings(
        url=db_url, table="predictions", watermark="amount", tiebreaker="id", batch_rows=3
    )
    source = SqlSource("s", settings)
    source.open(None)
    first = source.poll(3, 0)
    source.close()
    checkpoint = json_round_trip(first.checkpoint)
    assert checkpoint == {"watermark": ["0.750", 3]} or checkpoint == {"watermark": ["0.75", 3]}
    source = SqlSource("s", settings)
    source.open(checkpoint)
    try:
        ids, _ = read_all(source, 3)
    finally:
        source.close()
    assert ids == [4, 5, 6, 7, 8]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"table": "predictions; DROP TABLE predictions; --"}, "table"),
        ({"table": 'predictions" --'}, "table"),
        ({"table": "nope"}, "table"),
        ({"watermark": "id; DROP TABLE predictions"}, "watermark"),
        ({"watermark": "id) OR 1=1 --"}, "watermark"),
        ({"tiebreaker": "(SELECT 1)"}, "tiebreaker"),
        ({"columns": ("id", "score, (SELECT version())")}, "columns"),
    ],
)
def test_names_not_in_the_reflected_schema_are_rejected(
    engine: Engine, db_url: str, overrides: dict[str, Any], key: str
) -> None:
    table = make_table(engine)
    add(engine, table, rows_with_ties(0, 3))
    kwargs: dict[str, Any] = {"url": db_url, "table": "predictions", "watermark": "id"} | overrides
    source = SqlSource("served", SqlSourceSettings(**kwargs))
    with pytest.raises(ConnectorError) as err:
        source.open(None)
    message = str(err.value)
    assert message.startswith(f"source 'served': {key}: ")
    assert repr(overrides[key] if key != "columns" else overrides[key][1]) in message
    assert "predictions" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM predictions")).scalar() == 3


def test_views_can_be_polled(engine: Engine, db_url: str) -> None:
    table = make_table(engine)
    add(engine, table, rows_with_ties(0, 6))
    with engine.begin() as conn:
        conn.execute(text("CREATE VIEW recent AS SELECT id, score FROM predictions WHERE id >= 2"))
    source = SqlSource("v", SqlSourceSettings(url=db_url, table="recent", watermark="id"))
    source.open(None)
    try:
        assert [r["id"] for r in source.poll(10, 0).rows] == [2, 3, 4, 5]
    finally:
        source.close()


def test_bad_checkpoints_and_settings() -> None:
    with pytest.raises(ValueError, match="exactly one of url and url_env"):
        SqlSourceSettings(table="t", watermark="id")
    with pytest.raises(ValueError, match="batch_rows"):
        SqlSourceSettings(url="sqlite://", table="t", watermark="id", batch_rows=0)
    with pytest.raises(ValueError, match="tiebreaker"):
        SqlSourceSettings(url="sqlite://", table="t", watermark="id", tiebreaker="id")
    missing = SqlSource(
        "s", SqlSourceSettings(url_env="DW_TEST_NO_SUCH_URL", table="t", watermark="id"), environ={}
    )
    with pytest.raises(ConnectorError, match="url_env: environment variable DW_TEST_NO_SUCH_URL is not set"):
        missing.open(None)


def test_malformed_checkpoint_is_a_connector_error(engine: Engine, db_url: str) -> None:
    make_table(engine)
    source = SqlSource(
        "s", SqlSourceSettings(url=db_url, table="predictions", watermark="ts", tiebreaker="id")
    )
    with pytest.raises(ConnectorError, match="checkpoint"):
        source.open({"watermark": 5})
    source.close()
    source = SqlSource(
        "s", SqlSourceSettings(url=db_url, table="predictions", watermark="ts", tiebreaker="id")
    )
    with pytest.raises(ConnectorError, match="does not fit column 'ts'"):
        source.open({"watermark": ["yesterday", 1]})
    source.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.lists(st.integers(1, 5), min_size=0, max_size=10),
    second=st.lists(st.integers(1, 5), min_size=0, max_size=6),
    batch_rows=st.integers(1, 6),
    reopen_every=st.integers(1, 3),
    tiebreaker=st.sampled_from(["id", None]),
)
def test_property_every_row_exactly_once_whatever_the_ties_and_restarts(
    first: list[int], second: list[int], batch_rows: int, reopen_every: int, tiebreaker: str | None
) -> None:
    """Groups of tied watermarks, any batch size, a restart from the JSON checkpoint every few
    polls, and rows appended (with later watermarks) midway: every row is read exactly once."""
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    table = make_table(engine)
    next_id = 0

    def append(group_sizes: list[int], base_minute: int) -> None:
        nonlocal next_id
        rows = []
        for g, size in enumerate(group_sizes):
            for _ in range(size):
                rows.append({"id": next_id, "ts": T0 + timedelta(minutes=base_minute + g), "score": 0.0})
                next_id += 1
        if rows:
            add(engine, table, rows)

    append(first, 0)
    settings_ = SqlSourceSettings(
        url="sqlite://", table="predictions", watermark="ts", tiebreaker=tiebreaker, batch_rows=batch_rows
    )
    seen: list[int] = []
    checkpoint = None
    appended = False
    source = SqlSource("p", settings_, engine=engine)
    source.open(None)
    for polls in range(1, 500):
        batch = source.poll(100, 0)
        seen += [r["id"] for r in batch.rows]
        checkpoint = batch.checkpoint or checkpoint
        if polls % reopen_every == 0:
            source.close()
            source = SqlSource("p", settings_, engine=engine)
            source.open(json_round_trip(checkpoint))
        if not batch.rows:
            if appended:
                break
            append(second, 100)
            appended = True
    source.close()
    engine.dispose()
    assert sorted(seen) == list(range(next_id))
