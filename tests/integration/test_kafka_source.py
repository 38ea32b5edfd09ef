"""KafkaSource against a real broker: positions, dead letters, lag, mapping, rebalances."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors.base import Batch, DeadLetter
from connectors.kafka import KafkaSource, KafkaSourceSettings
from connectors.mapping import RowMapping

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.timeout(90)]


def settings(bootstrap: str, topic: str, **kw: Any) -> KafkaSourceSettings:
    kw.setdefault("group_id", f"g-{topic}")
    kw.setdefault("start_offset", "earliest")
    kw.setdefault("status_interval_s", 0.0)
    kw.setdefault("request_timeout_ms", 10_000)
    return KafkaSourceSettings(bootstrap_servers=(bootstrap,), topic=topic, **kw)


def produce(
    bootstrap: str, topic: str, values: list[bytes | None], *, partition: int | None = None, **kw: Any
) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024, linger_ms=5)
    try:
        for i, value in enumerate(values):
            p = partition if partition is not None else None
            producer.send(
                topic, value=value, key=str(i).encode() if value is None else None, partition=p, **kw
            )
        producer.flush(timeout=20)
    finally:
        producer.close(timeout=10)


def rows_of(batch: Batch) -> list[dict[str, Any]]:
    """The batch's rows as dicts, also when the source handed out columns (missing values left out)."""
    if batch.columns is None:
        return list(batch.rows)
    names = list(batch.columns)
    out: list[dict[str, Any]] = []
    for values in zip(*(batch.columns[c].tolist() for c in names), strict=True):
        out.append({k: v for k, v in zip(names, values, strict=True) if v is not None and v == v})
    return out


def drain(
    source: KafkaSource, *, rows: int = 0, dead: int = 0, max_rows: int = 1000, timeout_s: float = 30
) -> Batch:
    """Poll until at least ``rows`` rows and ``dead`` dead letters arrived; merge the batches."""
    got_rows: list[dict[str, Any]] = []
    got_dead: list[DeadLetter] = []
    got_positions: list[int] = []
    checkpoint = None
    deadline = time.monotonic() + timeout_s
    while len(got_rows) < rows or len(got_dead) < dead:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out: {len(got_rows)}/{rows} rows, {len(got_dead)}/{dead} dead letters"
            )
        batch = source.poll(max_rows, 0.5)
        rows_now = rows_of(batch)
        got_rows += rows_now
        got_dead += batch.dead_letters
        assert batch.positions is not None and len(batch.positions) == len(rows_now)
        got_positions += [int(p) for p in batch.positions]
        checkpoint = batch.checkpoint or checkpoint
    return Batch(rows=got_rows, dead_letters=got_dead, checkpoint=checkpoint, positions=got_positions)


def quiet(source: KafkaSource, seconds: float = 1.5) -> Batch:
    """Poll for a while and return everything that arrived (expected: nothing)."""
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows += rows_of(source.poll(1000, 0.3))
    return Batch(rows=rows)


def test_exactly_once_across_close_and_reopen_from_checkpoint(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic(partitions=2)
    produce(kafka_bootstrap, topic, [orjson.dumps({"id": i, "x": i * 0.5}) for i in range(300)])
    first = KafkaSource("k", settings(kafka_bootstrap, topic))
    first.open(None)
    seen: list[int] = []
    while len(seen) < 120:  # stop in the middle, as a crash after a durable window would
        batch = first.poll(40, 1.0)
        seen += [r["id"] for r in rows_of(batch)]
        checkpoint = batch.checkpoint or None
    first.close()
    assert checkpoint is not None and set(checkpoint) <= {"0", "1"}
    assert sum(checkpoint.values()) == len(seen)  # next offsets count exactly the rows returned

    produce(kafka_bootstrap, topic, [orjson.dumps({"id": i, "x": i * 0.5}) for i in range(300, 350)])
    # Nothing was committed to Kafka: only the stored checkpoint prevents re-reading from offset 0.
    second = KafkaSource("k", settings(kafka_bootstrap, topic))
    second.open(checkpoint)
    try:
        rest = drain(second, rows=350 - len(seen))
        assert quiet(second).rows == []
    finally:
        second.close()
    ids = seen + [r["id"] for r in rest.rows]
    assert len(set(rest.positions or [])) == len(rest.rows)
    assert {p >> 40 for p in rest.positions or []} <= {0, 1}  # partition * 2**40 + offset
    assert sorted(ids) == list(range(350))  # nothing lost, nothing twice
    assert rest.checkpoint is not None and sum(rest.checkpoint.values()) == 350


def test_stored_checkpoint_wins_over_committed_group_offset(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic()
    produce(kafka_bootstrap, topic, [orjson.dumps({"id": i}) for i in range(50)])
    source = KafkaSource("k", settings(kafka_bootstrap, topic))
    source.open(None)
    batch = drain(source, rows=50)
    source.commit({"0": 10})  # the broker now says 10 ...
    source.close()
    assert batch.checkpoint == {"0": 50}

    reopened = KafkaSource("k", settings(kafka_bootstrap, topic))
    reopened.open({"0": 40})  # ... but the store says 40
    try:
        assert [r["id"] for r in drain(reopened, rows=10).rows] == list(range(40, 50))
        assert quiet(reopened).rows == []
    finally:
        reopened.close()

    # Without a stored checkpoint the group's committed offset is the fallback.
    fallback = KafkaSource("k", settings(kafka_bootstrap, topic))
    fallback.open(None)
    try:
        assert [r["id"] for r in drain(fallback, rows=40).rows] == list(range(10, 50))
    finally:
        fallback.close()


def test_new_group_with_latest_skips_old_messages(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic()
    produce(kafka_bootstrap, topic, [orjson.dumps({"id": i}) for i in range(5)])
    source = KafkaSource("k", settings(kafka_bootstrap, topic, start_offset="latest"))
    source.open(None)
    try:
        deadline = time.monotonic() + 30
        while "0" not in source.status().lag:  # joined and positioned at the end
            assert time.monotonic() < deadline, "no assignment"
            assert rows_of(source.poll(100, 0.3)) == []
        produce(kafka_bootstrap, topic, [orjson.dumps({"id": i}) for i in range(5, 8)])
        assert [r["id"] for r in drain(source, rows=3).rows] == [5, 6, 7]
    finally:
        source.close()


def test_each_bad_message_becomes_the_right_dead_letter(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic()
    dlq = kafka_topic(suffix="-dlq")
    messages: list[bytes | None] = [
        orjson.dumps({"id": 1, "ts": "2026-01-01T00:00:00Z", "x": 1.5}),  # 0 ok
        b'{"id": 2, "ts": ',  # 1 invalid_json
        b'{"id": 3, "name": "\xff\xfe"}',  # 2 invalid_utf8
        b"[1, 2, 3]",  # 3 not_an_object
        orjson.dumps({"id": 5, "ts": "2026-01-01T00:00:00Z", "blob": "a" * 5000}),  # 4 oversize
        orjson.dumps({"ts": "2026-01-01T00:00:00Z", "x": 1}),  # 5 missing_field (id)
        orjson.dumps({"id": 7, "x": 1}),  # 6 missing_field (event time)
        orjson.dumps({"id": 8, "ts": "not a time"}),  # 7 invalid_event_time
        orjson.dumps({"id": 9, "ts": 1767225600, "x": "abc"}),  # 8 ok: wrong type is not a dead letter
    ]
    produce(kafka_bootstrap, topic, messages, partition=0)
    mapping = RowMapping(required=("id",), event_time_field="ts")
    source = KafkaSource(
        "events",
        settings(kafka_bootstrap, topic, max_message_bytes=4096, mapping=mapping, dead_letter_topic=dlq),
    )
    source.open(None)
    try:
        batch = drain(source, rows=2, dead=7)
        source.commit(batch.checkpoint or {})
    finally:
        source.close()
    assert [r["id"] for r in batch.rows] == [1, 9]
    assert batch.positions == [0, 8]  # partition 0: the offsets
    assert batch.rows[0]["ts"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert batch.rows[1]["x"] == "abc"
    got = {d.position: d.reason for d in batch.dead_letters}
    assert got == {
        "partition=0 offset=1": "invalid_json",
        "partition=0 offset=2": "invalid_utf8",
        "partition=0 offset=3": "not_an_object",
        "partition=0 offset=4": "oversize",
        "partition=0 offset=5": "missing_field",
        "partition=0 offset=6": "missing_field",
        "partition=0 offset=7": "invalid_event_time",
    }
    assert all(d.source == "events" for d in batch.dead_letters)
    by_offset = {d.position: d for d in batch.dead_letters}
    assert by_offset["partition=0 offset=1"].raw == messages[1]
    assert "'id'" in by_offset["partition=0 offset=5"].detail
    assert "'ts'" in by_offset["partition=0 offset=6"].detail
    assert batch.checkpoint == {"0": 9}

    # The dead letters were re-published with their reason and position.
    consumer = KafkaConsumer(
        dlq, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=10_000
    )
    try:
        republished = []
        for msg in consumer:
            republished.append(msg)
            if len(republished) == 7:
                break
    finally:
        consumer.close()
    assert len(republished) == 7
    headers = [dict(m.headers) for m in republished]
    assert [h["driftwarden-reason"].decode() for h in headers] == [
        "invalid_json",
        "invalid_utf8",
        "not_an_object",
        "oversize",
        "missing_field",
        "missing_field",
        "invalid_event_time",
    ]
    assert headers[0]["driftwarden-position"] == b"partition=0 offset=1"
    assert republished[3].value == messages[4]  # the full message, not the truncated copy


def test_json_batch_formats_and_dead_letters(kafka_bootstrap: str, kafka_topic: Callable[..., str]) -> None:
    topic = kafka_topic()
    messages = [
        orjson.dumps([{"id": 1, "f": {"age": 30}}, {"id": 2, "f": {"age": 31}}]),  # 0 array of objects
        orjson.dumps({"id": [3, 4, 5], "f.age": [32, 33, None]}),  # 1 columnar (dotted key wins)
        orjson.dumps({"id": 6}),  # 2 not_a_list (columnar needs arrays)
        orjson.dumps([{"id": 7}, "oops", {"f": {"age": 1}}]),  # 3 one good row, two item dead letters
        b"{broken",  # 4 invalid_json
    ]
    produce(kafka_bootstrap, topic, messages, partition=0)
    mapping = RowMapping(fields={"age": "f.age"}, required=("id",))
    source = KafkaSource("b", settings(kafka_bootstrap, topic, format="json_batch", mapping=mapping))
    source.open(None)
    try:
        batch = drain(source, rows=6, dead=4)
    finally:
        source.close()
    assert [(r["id"], r.get("age")) for r in batch.rows] == [
        (1, 30),
        (2, 31),
        (3, 32),
        (4, 33),
        (5, None),
        (7, None),
    ]
    assert batch.positions == [0, 1, 4096, 4097, 4098, 3 * 4096]  # offset * 4096 + item index
    assert {d.position: d.reason for d in batch.dead_letters} == {
        "partition=0 offset=2": "not_a_list",
        "partition=0 offset=3 index=1": "not_an_object",
        "partition=0 offset=3 index=2": "missing_field",
        "partition=0 offset=4": "invalid_json",
    }


def test_event_time_from_message_timestamp(kafka_bootstrap: str, kafka_topic: Callable[..., str]) -> None:
    topic = kafka_topic()
    stamp_ms = 1767225600123
    produce(kafka_bootstrap, topic, [orjson.dumps({"id": 1})], partition=0, timestamp_ms=stamp_ms)
    mapping = RowMapping(event_time_field="event_time")
    source = KafkaSource(
        "t", settings(kafka_bootstrap, topic, mapping=mapping, event_time_source="message_timestamp")
    )
    source.open(None)
    try:
        batch = drain(source, rows=1)
    finally:
        source.close()
    assert batch.rows == [{"id": 1, "event_time": datetime(2026, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)}]


def test_lag_per_partition(kafka_bootstrap: str, kafka_topic: Callable[..., str]) -> None:
    topic = kafka_topic(partitions=2)
    produce(kafka_bootstrap, topic, [orjson.dumps({"id": i}) for i in range(100)], partition=0)
    produce(kafka_bootstrap, topic, [orjson.dumps({"id": i}) for i in range(20)], partition=1)
    source = KafkaSource("lag", settings(kafka_bootstrap, topic))
    assert source.status().connected is False
    source.open(None)
    try:
        got = 0
        deadline = time.monotonic() + 30
        while got < 30:
            assert time.monotonic() < deadline
            got += len(rows_of(source.poll(30 - got, 1.0)))
        status = source.status()
        assert status.connected
        assert set(status.lag) == {"0", "1"}
        assert sum(status.lag.values()) == 120 - 30
        drain(source, rows=90)
        assert source.status().lag == {"0": 0, "1": 0}
    finally:
        source.close()
    assert source.status().connected is False


def test_rebalance_hands_partitions_over_through_the_store(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    """on_revoked persists positions first; the next owner seeks to them via on_assigned."""
    topic = kafka_topic(partitions=2)
    produce(kafka_bootstrap, topic, [orjson.dumps({"id": i}) for i in range(40)])
    store: dict[str, int] = {}
    revoked: list[tuple[int, ...]] = []
    assigned: dict[str, list[tuple[int, ...]]] = {"a": [], "b": []}

    def persist(partitions: tuple[int, ...]) -> None:
        revoked.append(partitions)
        store.update(first.checkpoint or {})

    def load(who: str) -> Callable[[tuple[int, ...]], dict[str, int]]:
        def on_assigned(partitions: tuple[int, ...]) -> dict[str, int]:
            assigned[who].append(partitions)
            return {k: v for k, v in store.items() if int(k) in partitions}

        return on_assigned

    common = {"session_timeout_ms": 10_000}
    first = KafkaSource(
        "a", settings(kafka_bootstrap, topic, **common), on_revoked=persist, on_assigned=load("a")
    )
    second = KafkaSource("b", settings(kafka_bootstrap, topic, **common), on_assigned=load("b"))
    first.open(None)
    try:
        assert sorted(r["id"] for r in drain(first, rows=40).rows) == list(range(40))
        second.open(None)
        deadline = time.monotonic() + 60
        later: list[int] = []
        while not (revoked and assigned["b"] and len(assigned["a"]) >= 2):
            assert time.monotonic() < deadline, f"no rebalance: revoked={revoked} assigned={assigned}"
            later += [r["id"] for r in rows_of(first.poll(100, 0.2)) + rows_of(second.poll(100, 0.2))]
        assert revoked[0] == (0, 1)
        assert store == {"0": store["0"], "1": store["1"]} and sum(store.values()) == 40
        assert sorted(assigned["a"][-1] + assigned["b"][-1]) == [0, 1]

        produce(kafka_bootstrap, topic, [orjson.dumps({"id": i}) for i in range(40, 60)])
        deadline = time.monotonic() + 30
        while len(later) < 20:
            assert time.monotonic() < deadline, f"got {sorted(later)}"
            later += [r["id"] for r in rows_of(first.poll(100, 0.2)) + rows_of(second.poll(100, 0.2))]
        later += [r["id"] for r in quiet(first, 0.5).rows + quiet(second, 0.5).rows]
        assert sorted(later) == list(range(40, 60))  # nothing re-read after the hand-over
    finally:
        second.close()
        first.close()


def test_unreachable_broker_and_missing_secret_are_connector_errors() -> None:
    from connectors.base import ConnectorError

    sasl = KafkaSourceSettings(
        bootstrap_servers=("127.0.0.1:1",),
        topic="t",
        group_id="g",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="u",
        sasl_password_env="DW_TEST_KAFKA_PASSWORD",
    )
    with pytest.raises(ConnectorError, match="DW_TEST_KAFKA_PASSWORD"):
        KafkaSource("s", sasl, environ={}).open(None)
    with pytest.raises(ConnectorError, match="not open"):
        KafkaSource("s", sasl, environ={}).poll(10, 0.1)
    nowhere = KafkaSourceSettings(
        bootstrap_servers=("127.0.0.1:1",), topic="t", group_id="g", connect_timeout_ms=1000
    )
    source = KafkaSource("s", nowhere)
    with pytest.raises(ConnectorError, match="source 's': cannot connect to Kafka 127.0.0.1:1"):
        source.open(None)
    assert source.status().connected is False
    source.close()


def test_committed_offsets_are_visible_to_kafka_tools(
    kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic()
    produce(kafka_bootstrap, topic, [orjson.dumps({"id": i}) for i in range(5)])
    source = KafkaSource("c", settings(kafka_bootstrap, topic, group_id=f"commit-{topic}"))
    source.open(None)
    try:
        batch = drain(source, rows=5)
        source.commit(batch.checkpoint or {})
    finally:
        source.close()
    probe = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=f"commit-{topic}", enable_auto_commit=False
    )
    try:
        assert probe.committed(TopicPartition(topic, 0)) == 5
    finally:
        probe.close()


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"format": "csv"}, "format must be one of"),
        ({"start_offset": "beginning"}, "start_offset must be one of"),
        ({"security_protocol": "TLS"}, "security_protocol must be one of"),
        ({"security_protocol": "SASL_SSL"}, "needs sasl_mechanism"),
        ({"max_message_bytes": 0}, "max_message_bytes"),
        ({"dead_letter_topic": "t"}, "dead_letter_topic"),
        ({"event_time_source": "message_timestamp"}, "needs mapping.event_time_field"),
        ({"topic": ""}, "topic must be"),
        ({"bootstrap_servers": ()}, "bootstrap_servers"),
    ],
)
def test_settings_are_validated(overrides: dict[str, Any], match: str) -> None:
    kwargs: dict[str, Any] = {
        "bootstrap_servers": ("127.0.0.1:1",),
        "topic": "t",
        "group_id": "g",
    } | overrides
    with pytest.raises(ValueError, match=match):
        KafkaSourceSettings(**kwargs)


def test_checkpoints_are_validated() -> None:
    from connectors.base import ConnectorError
    from connectors.kafka import parse_checkpoint

    assert parse_checkpoint({"0": 3, "2": 0}, source="s") == {0: 3, 2: 0}
    assert parse_checkpoint(None, source="s") == {}
    for bad in ({"p0": 1}, {"0": -1}, {"0": "12"}, {"0": True}, {"0": 1.5}):
        with pytest.raises(ConnectorError, match="source 's': checkpoint"):
            parse_checkpoint(bad, source="s")
