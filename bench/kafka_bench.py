"""Kafka read throughput: KafkaSource.poll against the bare kafka-python + orjson ceiling.

Produces ``--messages`` one-row JSON messages of ``--fields`` fields to a fresh topic, then reads
them all twice, each time with a fresh consumer group and identical consumer settings:

* ``ceiling``: a bare ``KafkaConsumer.poll`` loop that only parses each value with ``orjson``;
* ``ceiling_keep``: the same, but holding each poll's parsed objects in a list (as any reader
  that hands out batches must; the extra cost is mostly the garbage collector walking them);
* ``source``: :meth:`connectors.kafka.KafkaSource.poll`, which also checks sizes, classifies
  bad messages, builds rows and tracks positions and lag.

The ratio ``source / ceiling`` (and ``source / ceiling_keep``) is what driftwarden's connector
costs on top of the client. Throughputs are best-of ``--repeat`` reads, alternating readers.

Usage (servers from ``scripts/servers start``)::

    .venv/bin/python bench/kafka_bench.py --messages 1000000
    .venv/bin/python bench/kafka_bench.py --messages 200000 --partitions 2 --json

The broker address comes from ``--bootstrap``, ``$DRIFTWARDEN_KAFKA_BOOTSTRAP`` or
``.cache/servers.env``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _common import server_setting  # noqa: E402

from connectors.kafka import DEFAULT_FETCH_BYTES, KafkaSource, KafkaSourceSettings  # noqa: E402

CONSUMER_SETTINGS = {  # the fetch sizes KafkaSource uses by default
    "max_partition_fetch_bytes": DEFAULT_FETCH_BYTES,
    "fetch_max_bytes": 52428800,
    "request_timeout_ms": 30_000,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One read of the whole topic."""

    name: str
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("inf")


def bootstrap_address(explicit: str | None) -> str:
    if explicit:
        return explicit
    return server_setting("DRIFTWARDEN_KAFKA_BOOTSTRAP", "127.0.0.1:19092")


def make_message(i: int, fields: int) -> bytes:
    row: dict[str, object] = {"id": i, "ts": 1767225600 + i}
    for f in range(fields - 2):
        row[f"f{f}"] = (i * 31 + f) % 1000 / 7.0 if f % 3 else f"level{(i + f) % 12}"
    return orjson.dumps(row)


def produce(bootstrap: str, topic: str, messages: int, fields: int) -> float:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=512 * 1024, acks=1)
    start = time.perf_counter()
    template = [make_message(i, fields) for i in range(min(messages, 10_000))]
    for i in range(messages):
        producer.send(topic, value=template[i % len(template)])
    producer.flush(timeout=300)
    producer.close(timeout=30)
    return time.perf_counter() - start


def read_ceiling(bootstrap: str, topic: str, messages: int, max_rows: int, *, keep: bool = False) -> Run:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"bench-ceiling-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **CONSUMER_SETTINGS,
    )
    consumer.subscribe([topic])
    loads = orjson.loads
    seen = 0
    start = None
    while seen < messages:
        records = consumer.poll(timeout_ms=1000, max_records=max_rows)
        if start is None:
            if not records:
                continue
            start = time.perf_counter()
        if keep:  # hold each poll's parsed rows in a list, as any batching reader must
            kept = [loads(msg.value) for batch in records.values() for msg in batch]
            seen += len(kept)
            continue
        for batch in records.values():
            for msg in batch:
                loads(msg.value)
            seen += len(batch)
    seconds = time.perf_counter() - (start or time.perf_counter())
    consumer.close(autocommit=False)
    return Run(name="ceiling_keep" if keep else "ceiling", messages=seen, seconds=seconds)


def read_source(bootstrap: str, topic: str, messages: int, max_rows: int) -> Run:
    settings = KafkaSourceSettings(
        bootstrap_servers=(bootstrap,),
        topic=topic,
        group_id=f"bench-source-{uuid.uuid4().hex[:8]}",
        start_offset="earliest",
    )
    source = KafkaSource("bench", settings)
    source.open(None)
    seen = 0
    start = None
    while seen < messages:
        batch = source.poll(max_rows, 1.0)
        if start is None:
            if not batch.n_rows and not batch.dead_letters:
                continue
            start = time.perf_counter()
        seen += batch.n_rows + len(batch.dead_letters)
    seconds = time.perf_counter() - (start or time.perf_counter())
    source.close()
    return Run(name="source", messages=seen, seconds=seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bootstrap", help="host:port (default: $DRIFTWARDEN_KAFKA_BOOTSTRAP or .cache/servers.env)"
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--fields", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--max-rows", type=int, default=10_000, help="max records per poll (both readers)")
    parser.add_argument("--topic", help="read an existing topic of --messages messages instead of producing")
    parser.add_argument("--repeat", type=int, default=2, help="reads of each kind; the best one counts")
    parser.add_argument("--keep-topic", action="store_true", help="do not delete the produced topic")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    bootstrap = bootstrap_address(args.bootstrap)

    topic = args.topic
    produce_s = None
    if topic is None:
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic(topic, args.partitions, 1)])
        admin.close()
        produce_s = produce(bootstrap, topic, args.messages, args.fields)

    ceilings, keeps, sources = [], [], []
    for _ in range(args.repeat):  # alternate, keep the best of each: the broker's cache warms up
        ceilings.append(read_ceiling(bootstrap, topic, args.messages, args.max_rows))
        keeps.append(read_ceiling(bootstrap, topic, args.messages, args.max_rows, keep=True))
        sources.append(read_source(bootstrap, topic, args.messages, args.max_rows))
    ceiling = min(ceilings, key=lambda r: r.seconds)
    ceiling_keep = min(keeps, key=lambda r: r.seconds)
    source = min(sources, key=lambda r: r.seconds)
    if args.topic is None and not args.keep_topic:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.delete_topics([topic])
        admin.close()
    ratio = source.per_second / ceiling.per_second
    result = {
        "bootstrap": bootstrap,
        "topic": topic,
        "messages": args.messages,
        "fields": args.fields,
        "partitions": args.partitions,
        "max_rows": args.max_rows,
        "produce_seconds": produce_s,
        "repeat": args.repeat,
        "ceiling": asdict(ceiling) | {"per_second": ceiling.per_second},
        "ceiling_keep": asdict(ceiling_keep) | {"per_second": ceiling_keep.per_second},
        "source": asdict(source) | {"per_second": source.per_second},
        "ratio": ratio,
        "ratio_vs_keep": source.per_second / ceiling_keep.per_second,
    }
    if args.json:
        print(json.dumps(result))
    else:
        if produce_s is not None:
            print(f"produced {args.messages} messages of {args.fields} fields in {produce_s:.1f}s")
        for run in (ceiling, ceiling_keep, source):
            print(f"{run.name:12s} {run.messages} msgs in {run.seconds:.2f}s = {run.per_second:,.0f} msg/s")
        print(f"ratio source/ceiling = {ratio:.2f}")
        print(f"ratio source/ceiling_keep = {result['ratio_vs_keep']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
