"""Scale-out: a 4-partition topic read by 1 replica and by 3 replica processes (one killed with
SIGKILL mid-stream) gives the same windows: row counts, drift statistics, quality issues."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from monitor.store import Store
from tests.fixtures_daemon import (
    Daemon,
    model_frame,
    start_daemon,
    unexpected_tracebacks,
    wait_for,
    write_profile,
)

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

PARTITIONS = 4
ROWS = 6000
HOUR = pd.Timedelta(hours=1)


def _data() -> tuple[pd.DataFrame, pd.Timestamp]:
    """6000 rows over 4 event-time hours starting in the future (the wall clock closes nothing),
    with drift in the last two hours."""
    base = (pd.Timestamp.now(tz="UTC") + 3 * HOUR).floor("h")
    head = model_frame(ROWS // 2, seed=11)
    tail = model_frame(ROWS - ROWS // 2, seed=12, shift=12.0, start_row=ROWS // 2)
    frame = pd.concat([head, tail], ignore_index=True)
    ts = base + pd.to_timedelta(frame["id"].to_numpy() * (4 * 3600 / ROWS), unit="s")
    frame["ts"] = ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return frame, base


def _produce(bootstrap: str, topic: str, frame: pd.DataFrame) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for rec in json.loads(frame.to_json(orient="records")):
        producer.send(topic, value=json.dumps(rec).encode(), partition=int(rec["id"]) % PARTITIONS)
    producer.flush(30)
    producer.close()


def _markers(bootstrap: str, topic: str, base: pd.Timestamp) -> None:
    """One row per partition far past the data: the watermark that closes every data window."""
    marker = model_frame(PARTITIONS, seed=99, start_row=10_000_000)
    marker["ts"] = (base + 10 * HOUR).strftime("%Y-%m-%dT%H:%M:%SZ")
    _produce(bootstrap, topic, marker)


def _config(
    tmp: Path, name: str, *, store_url: str, bootstrap: str, topic: str, group: str, replicas: int
) -> Path:
    profile = tmp / "profile.json"
    text = f"""
[service]
log_format = "text"
shutdown_grace = "10s"

[store]
url = "{store_url}"
reports_dir = "{(tmp / "reports").as_posix()}"

[http]
host = "127.0.0.1"
port = 0

[sources.k]
kind = "kafka"
bootstrap_servers = ["{bootstrap}"]
topic = "{topic}"
group_id = "{group}"
start_offset = "earliest"

[[monitors]]
name = "m"
source = "k"
profile = "{profile.as_posix()}"
window = {{ duration = "1h", timestamp = "ts", lateness = "5h" }}
replicas = {replicas}
routes = ["console"]

[sinks.console]
kind = "log"
"""
    path = tmp / name
    path.write_text(text)
    return path


def _consumed(store_url: str, total: int) -> bool:
    store = Store.open(store_url)
    try:
        cp = store.load_source_checkpoint("k") or {}
    finally:
        store.dispose()
    return sum(int(v) for v in cp.values()) >= total


def _windows(store_url: str, starts: list[str]) -> list[dict[str, Any]] | None:
    store = Store.open(store_url)
    try:
        docs = store.results("m", limit=1000)
    finally:
        store.dispose()
    by_start = {d["window"]["start"]: d for d in docs}
    if not all(s in by_start for s in starts):
        return None
    return [by_start[s] for s in starts]


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": doc["window"]["index"],
        "end": doc["window"]["end"],
        "rows": doc["rows"],
        "drift_detected_features": {k: f["drift_detected"] for k, f in doc["features"].items()},
        "statistics": {k: (f["method"], f["statistic"], f["p_value"]) for k, f in doc["features"].items()},
        "prediction": doc["prediction"],
        "performance": doc["performance"],
        "quality": sorted((i["column"] or "", i["check"], i["value"]) for i in doc["quality"]["issues"]),
    }


def _stop(daemons: list[Daemon]) -> None:
    for d in daemons:
        try:
            d.terminate(20)
        except Exception:
            d.kill()


@pytest.mark.parametrize("kill_one", [False, True], ids=["three", "three-one-killed"])
def test_three_replicas_match_one(
    tmp_path: Path, kafka_bootstrap: str, kafka_topic: Any, postgres_schema_url: str, kill_one: bool
) -> None:
    write_profile(tmp_path)
    frame, base = _data()
    starts = [(base + i * HOUR).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(4)]

    # one replica, SQLite
    single_topic = kafka_topic(partitions=PARTITIONS, suffix="-one")
    _produce(kafka_bootstrap, single_topic, frame)
    single_url = f"sqlite:///{(tmp_path / 'single.db').as_posix()}"
    cfg1 = _config(
        tmp_path,
        "one.toml",
        store_url=single_url,
        bootstrap=kafka_bootstrap,
        topic=single_topic,
        group="one",
        replicas=1,
    )
    one = start_daemon(cfg1, tmp_path / "one.log")
    try:
        wait_for(
            lambda: _consumed(single_url, ROWS), timeout_s=90, interval_s=0.5, what="single replica consumed"
        )
        _markers(kafka_bootstrap, single_topic, base)
        expected = wait_for(
            lambda: _windows(single_url, starts), timeout_s=60, interval_s=0.5, what="single windows"
        )
    finally:
        _stop([one])

    # three replicas, PostgreSQL, same data on another topic
    topic = kafka_topic(partitions=PARTITIONS, suffix="-three")
    half = frame.iloc[: ROWS // 2]
    _produce(kafka_bootstrap, topic, half)
    cfg3 = _config(
        tmp_path,
        "three.toml",
        store_url=postgres_schema_url,
        bootstrap=kafka_bootstrap,
        topic=topic,
        group="three",
        replicas=3,
    )
    daemons = [start_daemon(cfg3, tmp_path / f"r{i}.log") for i in range(3)]
    try:
        wait_for(
            lambda: _consumed(postgres_schema_url, ROWS // 2),
            timeout_s=120,
            interval_s=0.5,
            what="first half",
        )
        if kill_one:
            daemons[1].kill()
        _produce(kafka_bootstrap, topic, frame.iloc[ROWS // 2 :])
        wait_for(
            lambda: _consumed(postgres_schema_url, ROWS), timeout_s=150, interval_s=0.5, what="all consumed"
        )
        time.sleep(2.0)  # the last partials are committed with the checkpoint; let the evaluator see them
        _markers(kafka_bootstrap, topic, base)
        got = wait_for(
            lambda: _windows(postgres_schema_url, starts),
            timeout_s=90,
            interval_s=0.5,
            what="scale-out windows",
        )
    finally:
        _stop([d for i, d in enumerate(daemons) if not (kill_one and i == 1)])
    logs = "".join(d.text() for d in daemons)
    assert not unexpected_tracebacks(logs), (logs)[-4000:]
    assert [d["rows"] for d in got] == [d["rows"] for d in expected]
    assert sum(d["rows"] for d in got) == ROWS
    for a, b in zip(got, expected, strict=True):
        assert a["window"]["first_row"] is None and a["window"]["last_row"] is None
        assert _summary(a) == _summary(b)
    # each window was evaluated once
    store = Store.open(postgres_schema_url)
    try:
        indexes = [d["window"]["index"] for d in store.results("m", limit=1000)]
    finally:
        store.dispose()
    assert len(indexes) == len(set(indexes))
