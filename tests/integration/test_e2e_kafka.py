"""The daemon end to end on the real Kafka broker (issue 6 "Done when", issue 5 faults).

Every test runs ``python -m monitor run`` in a subprocess on its own topic and consumer group,
with a SQLite store in ``tmp_path`` and HTTP on an ephemeral port (read from the log line
``http listening url=...``):

- produce healthy rows, then drifted rows, while the daemon runs (``format = "json"`` and
  ``"json_batch"``): windows evaluated, drift on the drifted windows only, one correctly signed
  ``data_drift`` webhook per event id at the loopback receiver;
- one message of each bad kind between good rows: dead letters with position and reason in
  ``/api/dead-letters`` and ``/metrics``, a wrong-typed value is a ``type_mismatch`` issue, and
  the daemon keeps running;
- SIGKILL twice mid-stream and restart on a 2-partition topic: the windows of an uninterrupted
  run on a fresh group and store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.store import Store
from tests.doubles import webhook_receiver
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.fixtures_daemon import (
    Daemon,
    get,
    model_frame,
    start_daemon,
    stored_results,
    stored_window_count,
    unexpected_tracebacks,
    wait_for,
    window_summary,
    write_profile,
)

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

SECRET_ENV = "DW_E2E_WEBHOOK_SECRET"
SECRET = "e2e-webhook-secret"


# ---- helpers ------------------------------------------------------------------------------------


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-ready dicts."""
    return list(json.loads(frame.to_json(orient="records")))


def produce(
    bootstrap: str,
    topic: str,
    payloads: Iterable[bytes],
    *,
    partition: int | Callable[[int], int] = 0,
) -> int:
    """Send raw ``payloads`` (to one partition, or ``partition(i)``); returns how many."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024, max_request_size=2**21
    )
    n = 0
    try:
        for i, payload in enumerate(payloads):
            p = partition(i) if callable(partition) else partition
            producer.send(topic, value=payload, partition=p)
            n += 1
        producer.flush(60)
    finally:
        producer.close()
    return n


def kafka_config(
    tmp: Path,
    *,
    bootstrap: str,
    topic: str,
    profile: Path,
    window: str,
    group: str | None = None,
    fmt: str = "json",
    source_extra: str = "",
    monitor_extra: str = "",
    routes: Sequence[str] = ("console",),
    sinks: str = "",
    alerts: str = "",
    name: str = "config.toml",
) -> Path:
    """A config with one Kafka source ``k`` (new group, ``earliest``) and one monitor ``m``."""
    group = group or f"dw-e2e-{uuid.uuid4().hex[:8]}"
    text = f"""
[service]
log_format = "text"
shutdown_grace = "10s"

[store]
url = "sqlite:///{(tmp / "store.db").as_posix()}"
reports_dir = "{(tmp / "reports").as_posix()}"

[http]
host = "127.0.0.1"
port = 0

[sources.k]
kind = "kafka"
bootstrap_servers = ["{bootstrap}"]
topic = "{topic}"
group_id = "{group}"
format = "{fmt}"
start_offset = "earliest"
{source_extra}

[[monitors]]
name = "m"
source = "k"
profile = "{profile.as_posix()}"
window = {window}
routes = {json.dumps(list(routes))}
{monitor_extra}

[alerts]
{alerts}

[sinks.console]
kind = "log"
{sinks}
"""
    path = tmp / name
    path.write_text(text)
    return path


def results(port: int, monitor: str = "m") -> list[dict[str, Any]]:
    status, body = get(port, f"/api/monitors/{monitor}/results?limit=10000")
    assert status == 200, body
    return list(body)


def metric_samples(port: int, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Samples of metric ``name`` in ``/metrics``: sorted label items -> value."""
    status, text = get(port, "/metrics")
    assert status == 200
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def stop(daemon: Daemon) -> None:
    """SIGTERM (drain), SIGKILL when it does not stop in time."""
    try:
        daemon.terminate(30)
    except Exception:
        daemon.kill()


def checkpoint_total(db: Path, source: str = "k") -> int:
    """Sum of the committed Kafka offsets of ``source`` in a SQLite store."""
    if not db.exists():
        return 0
    try:
        store = Store.open(f"sqlite:///{db.as_posix()}")
    except Exception:
        return 0
    try:
        cp = store.load_source_checkpoint(source) or {}
    except Exception:
        return 0
    finally:
        store.dispose()
    return sum(int(v) for v in cp.values())


def expected_signature(secret: str, timestamp: str, raw: bytes) -> str:
    """The contract's signature, computed here independently of ``alerts.signature``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def capture_raw_bodies(receiver: WebhookReceiver) -> list[tuple[dict[str, str], bytes]]:
    """Make ``receiver`` also keep every request's headers and exact body bytes."""
    seen: list[tuple[dict[str, str], bytes]] = []

    class Capturing(webhook_receiver._Handler):
        def _check(self, raw: bytes, state: Any) -> str | None:
            seen.append(({k.lower(): v for k, v in self.headers.items()}, raw))
            return super()._check(raw, state)

    receiver._server.RequestHandlerClass = Capturing
    return seen


# ---- 1. produce, detect drift, alert --------------------------------------------------------------

WINDOW = 2000
HEALTHY_WINDOWS = 3
DRIFTED_WINDOWS = 2


@pytest.mark.parametrize("fmt", ["json", "json_batch"])
def test_produce_detect_drift_and_send_one_signed_webhook(
    tmp_path: Path, kafka_bootstrap: str, kafka_topic: Callable[..., str], fmt: str
) -> None:
    profile = write_profile(tmp_path)
    topic = kafka_topic(partitions=1)
    healthy = model_frame(HEALTHY_WINDOWS * WINDOW, seed=21)
    # a shift of 0.6 standard deviations: clear drift, yet (almost) no value outside the profile's
    # range, so no out_of_range quality alert inhibits the data_drift alert on age (alerts/policy.py)
    drifted = model_frame(DRIFTED_WINDOWS * WINDOW, seed=22, shift=6.0, start_row=len(healthy))

    def payloads(frame: pd.DataFrame) -> list[bytes]:
        rows = records(frame)
        if fmt == "json":
            return [json.dumps(r).encode() for r in rows]
        return [json.dumps(rows[i : i + 250]).encode() for i in range(0, len(rows), 250)]

    with WebhookReceiver(SECRET) as receiver:
        raw_requests = capture_raw_bodies(receiver)
        config = kafka_config(
            tmp_path,
            bootstrap=kafka_bootstrap,
            topic=topic,
            profile=profile,
            fmt=fmt,
            window=f"{{ rows = {WINDOW} }}",
            routes=("console", "retrain"),
            alerts="consecutive_windows = 1",
            sinks=f"""
[sinks.retrain]
kind = "webhook"
url = "{receiver.url}"
secret_env = "{SECRET_ENV}"
timeout = "5s"
""",
        )
        daemon = start_daemon(config, tmp_path / "daemon.log", env={SECRET_ENV: SECRET})
        try:
            port = daemon.port()
            produce(kafka_bootstrap, topic, payloads(healthy))
            wait_for(
                lambda: len(results(port)) >= HEALTHY_WINDOWS,
                timeout_s=60,
                interval_s=0.2,
                what="healthy windows",
            )
            assert receiver.requests == 0, "an alert fired on healthy data"
            produce(kafka_bootstrap, topic, payloads(drifted))
            docs = wait_for(
                lambda: (r := results(port)) and len(r) >= HEALTHY_WINDOWS + DRIFTED_WINDOWS and r,
                timeout_s=60,
                interval_s=0.2,
                what="drifted windows",
            )
            wait_for(
                lambda: any(d.body["kind"] == "data_drift" for d in receiver.deliveries),
                timeout_s=30,
                interval_s=0.1,
                what="data_drift webhook",
            )
            time.sleep(2.5)  # a few more delivery ticks: nothing may be sent twice
            assert daemon.proc.poll() is None
        finally:
            stop(daemon)
        log = daemon.text()

    assert not unexpected_tracebacks(log), (log)[-4000:]
    assert [d["window"]["index"] for d in docs] == list(range(HEALTHY_WINDOWS + DRIFTED_WINDOWS))
    assert [(d["window"]["first_row"], d["window"]["last_row"], d["rows"]) for d in docs] == [
        (i * WINDOW, (i + 1) * WINDOW - 1, WINDOW) for i in range(len(docs))
    ]
    flags = [d["features"]["age"]["drift_detected"] for d in docs]
    assert flags == [False] * HEALTHY_WINDOWS + [True] * DRIFTED_WINDOWS
    assert [d["drift_detected"] for d in docs[:HEALTHY_WINDOWS]] == [False] * HEALTHY_WINDOWS
    assert all(d["drift_detected"] for d in docs[HEALTHY_WINDOWS:])

    # every request was valid (signature, timestamp, body) and each event arrived exactly once
    assert receiver.rejected == []
    assert receiver.deliveries, "no webhook arrived"
    assert all(n == 1 for n in receiver.attempts.values()), receiver.attempts
    drift = [d for d in receiver.deliveries if d.body["kind"] == "data_drift"]
    assert len(drift) == 1, [d.body for d in drift]
    hook = drift[0]
    body = hook.body
    assert body["status"] == "firing"
    assert body["monitor"] == "m"
    assert body["event_id"] == hook.idempotency_key
    assert body["window"]["index"] == HEALTHY_WINDOWS  # the first drifted window
    assert body["severity"] in ("warning", "critical")
    names = {s["name"] for s in body["subjects"]}
    assert "age" in names
    drifted_features = {k for k, f in docs[HEALTHY_WINDOWS]["features"].items() if f["drift_detected"]}
    assert names <= drifted_features
    for s in body["subjects"]:
        assert {"name", "method", "statistic", "threshold"} <= set(s)
        feature = docs[HEALTHY_WINDOWS]["features"][s["name"]]
        assert s["method"] == feature["method"]
        assert s["statistic"] == pytest.approx(feature["statistic"])
    # the signature is HMAC-SHA256(secret, "<timestamp>.<raw body>") of the exact bytes sent
    headers = {k.lower(): v for k, v in hook.headers.items()}
    assert headers["content-type"] == "application/json"
    assert abs(int(headers["x-driftwarden-timestamp"]) - time.time()) < 300
    assert len(raw_requests) == len(receiver.deliveries)
    for sent_headers, raw in raw_requests:
        stamp = sent_headers["x-driftwarden-timestamp"]
        assert sent_headers["x-driftwarden-signature"] == expected_signature(SECRET, stamp, raw)
        assert json.loads(raw)["event_id"] == sent_headers["idempotency-key"]
    assert all(d.body["monitor"] == "m" and d.body["status"] == "firing" for d in receiver.deliveries)


# ---- 2. dead letters through the daemon ------------------------------------------------------------


def test_each_bad_message_is_a_dead_letter_and_the_daemon_keeps_running(
    tmp_path: Path, kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    profile = write_profile(tmp_path)
    topic = kafka_topic(partitions=1)
    good = [json.dumps(r).encode() for r in records(model_frame(1500, seed=31))]
    wrong_type = records(model_frame(1, seed=32, start_row=100_000))[0]
    wrong_type["ts"] = "2026-01-01T00:05:00Z"
    wrong_type["age"] = "forty"
    no_time = records(model_frame(1, seed=33, start_row=100_001))[0]
    del no_time["ts"]
    bad_time = records(model_frame(1, seed=34, start_row=100_002))[0]
    bad_time["ts"] = "not a time"
    oversize = records(model_frame(1, seed=35, start_row=100_003))[0]
    oversize["blob"] = "x" * 6000
    bad: list[tuple[int, bytes, str | None]] = [  # (insert before good row n, message, reason)
        (10, b'{"id": 1, "age": ', "invalid_json"),
        (20, b'{"id": 2, "city": "\xff\xfe"}', "invalid_utf8"),
        (30, b"[1, 2, 3]", "not_an_object"),
        (40, b'"just a string"', "not_an_object"),
        (50, json.dumps(oversize).encode(), "oversize"),
        (60, json.dumps(no_time).encode(), "missing_field"),
        (70, json.dumps(bad_time).encode(), "invalid_event_time"),
        (80, json.dumps(wrong_type).encode(), None),  # a row with a type_mismatch, not a dead letter
    ]
    messages: list[bytes] = []
    expected: dict[str, str] = {}
    inserts = {at: (msg, reason) for at, msg, reason in bad}
    for i, msg in enumerate(good):
        if i in inserts:
            bad_msg, reason = inserts[i]
            if reason is not None:
                expected[f"partition=0 offset={len(messages)}"] = reason
            messages.append(bad_msg)
        messages.append(msg)

    config = kafka_config(
        tmp_path,
        bootstrap=kafka_bootstrap,
        topic=topic,
        profile=profile,
        window='{ duration = "10m", timestamp = "ts", lateness = "0s" }',
        source_extra='max_message_bytes = "4KiB"',
    )
    daemon = start_daemon(config, tmp_path / "daemon.log")
    try:
        port = daemon.port()
        produce(kafka_bootstrap, topic, messages)
        wait_for(
            lambda: checkpoint_total(tmp_path / "store.db") >= len(messages),
            timeout_s=60,
            interval_s=0.2,
            what="every message consumed",
        )
        docs = wait_for(lambda: (r := results(port)) and len(r) >= 2 and r, timeout_s=30, what="2 windows")
        status, letters = get(port, "/api/dead-letters?source=k&limit=100")
        assert status == 200
        # the counters move just after the store commit the checkpoint above was read from
        dead_metric = wait_for(
            lambda: (
                (m := metric_samples(port, "driftwarden_dead_letters_total"))
                and sum(v for k, v in m.items() if dict(k).get("source") == "k") >= len(expected)
                and m
            ),
            timeout_s=15,
            what="the dead-letter counters",
        )
        status_s, sources = get(port, "/api/sources")
        health, _ = get(port, "/healthz")
        assert daemon.proc.poll() is None, "the daemon died on a bad message"
        assert health == 200
        # and it still takes new rows after the bad ones
        more = records(model_frame(700, seed=36, start_row=1500))
        produce(kafka_bootstrap, topic, [json.dumps(r).encode() for r in more])
        wait_for(lambda: len(results(port)) >= 3, timeout_s=30, what="a window after the bad messages")
    finally:
        stop(daemon)

    assert not unexpected_tracebacks(daemon.text()), (daemon.text())[-4000:]
    got = {d["position"]: d["reason"] for d in letters}
    assert got == expected
    assert all(d["source"] == "k" for d in letters)
    by_reason: dict[str, int] = {}
    for reason in expected.values():
        by_reason[reason] = by_reason.get(reason, 0) + 1
    metric = {dict(k)["reason"]: v for k, v in dead_metric.items() if dict(k).get("source") == "k"}
    assert {r: int(v) for r, v in metric.items() if v} == by_reason
    assert status_s == 200
    (k,) = [s for s in sources if s["name"] == "k"]
    assert k["dead_letters"] == len(expected)

    # the wrong-typed row is a row of window 0 with a type_mismatch quality issue on its column
    first = docs[0]
    assert first["window"]["start"] == "2026-01-01T00:00:00Z"
    assert first["rows"] == 601
    issues = [i for i in first["quality"]["issues"] if i["check"] == "type_mismatch"]
    assert [i["column"] for i in issues] == ["age"]
    assert issues[0]["value"] == pytest.approx(1 / 601)
    assert docs[1]["rows"] == 600
    assert not any(i["check"] == "type_mismatch" for i in docs[1]["quality"]["issues"])


# ---- 3. SIGKILL and restart: exactly the windows of an uninterrupted run ---------------------------

ROWS = 50_000
KILL_WINDOW = 7000
HALF = ROWS // 2


def _stream() -> list[bytes]:
    frame = pd.concat(
        [model_frame(35_000, seed=41), model_frame(ROWS - 35_000, seed=42, shift=12.0, start_row=35_000)],
        ignore_index=True,
    )
    return [json.dumps(r).encode() for r in records(frame)]


def _produce_paced(bootstrap: str, topic: str, chunk: list[bytes], partition: int) -> None:
    piece = KILL_WINDOW // 2
    for lo in range(0, len(chunk), piece):
        produce(bootstrap, topic, chunk[lo : lo + piece], partition=partition)
        time.sleep(0.15)


def _run_phases(
    tmp: Path,
    *,
    bootstrap: str,
    topic: str,
    profile: Path,
    messages: list[bytes],
    kills: int,
) -> tuple[list[dict[str, Any]], int, str]:
    """Partition 0 gets the first half, then (once consumed) partition 1 the second half, so the
    receive order is the same in every run. With ``kills``, the daemon is SIGKILLed that many
    times per phase as soon as a new window is stored, and restarted. Returns the stored window
    results, the number of kills that hit a running daemon, and the log."""
    db = tmp / "store.db"

    def config() -> Path:
        # Every start joins a fresh consumer group: the broker would hold a SIGKILLed member's
        # partitions for session_timeout_ms (45 s in connectors/kafka.py, not configurable), and
        # where a new group starts must not matter: the store's checkpoint is the truth.
        return kafka_config(
            tmp,
            bootstrap=bootstrap,
            topic=topic,
            profile=profile,
            window=f"{{ rows = {KILL_WINDOW} }}",
            # small fetches (~160 rows), so a restarted daemon reads a backlog in many steps
            # and a kill can land while it is still reading
            source_extra='max_message_bytes = "64KiB"\nfetch_bytes = "64KiB"',
        )

    log = tmp / "daemon.log"
    hits = 0
    daemon = start_daemon(config(), log)
    for phase, (part, chunk) in enumerate([(0, messages[:HALF]), (1, messages[HALF:])]):
        # Paced in pieces smaller than a window: the daemon reads a whole backlog in one or two
        # polls, so without pacing a kill could only land after it had read everything.
        producer = threading.Thread(target=_produce_paced, args=(bootstrap, topic, chunk, part))
        producer.start()
        goal = HALF * (phase + 1)
        for _ in range(kills):
            target = stored_window_count(db) + 1
            wait_for(
                lambda t=target, d=daemon: stored_window_count(db) >= t or d.proc.poll() is not None,
                timeout_s=60,
                interval_s=0.005,
                what=f"{target} windows",
            )
            assert daemon.proc.poll() is None, daemon.text()[-3000:]
            hits += checkpoint_total(db) < goal
            daemon.kill()
            daemon = start_daemon(config(), log)
        producer.join(120)
        wait_for(lambda g=goal: checkpoint_total(db) >= g, timeout_s=90, interval_s=0.1, what=f"{goal} rows")
    wait_for(lambda: stored_window_count(db) >= ROWS // KILL_WINDOW, timeout_s=30, what="every window")
    stop(daemon)
    return stored_results(db), hits, daemon.text()


@pytest.mark.slow
def test_sigkill_twice_and_restart_give_the_windows_of_an_uninterrupted_run(
    tmp_path: Path, kafka_bootstrap: str, kafka_topic: Callable[..., str]
) -> None:
    profile = write_profile(tmp_path)
    messages = _stream()
    ref_dir, crash_dir = tmp_path / "reference", tmp_path / "crashed"
    ref_dir.mkdir()
    crash_dir.mkdir()
    reference, _, ref_log = _run_phases(
        ref_dir,
        bootstrap=kafka_bootstrap,
        topic=kafka_topic(partitions=2, suffix="-ref"),
        profile=profile,
        messages=messages,
        kills=0,
    )
    crashed, hits, log = _run_phases(
        crash_dir,
        bootstrap=kafka_bootstrap,
        topic=kafka_topic(partitions=2, suffix="-crash"),
        profile=profile,
        messages=messages,
        kills=1,
    )
    assert not unexpected_tracebacks(ref_log + log), (ref_log + log)[-4000:]
    assert hits >= 1, "no kill hit the daemon before it had read everything"
    n = ROWS // KILL_WINDOW
    assert len(reference) == n
    assert [(d["window"]["first_row"], d["window"]["last_row"]) for d in reference] == [
        (i * KILL_WINDOW, (i + 1) * KILL_WINDOW - 1) for i in range(n)
    ]
    assert not reference[0]["drift_detected"] and reference[-1]["features"]["age"]["drift_detected"]
    assert len(crashed) == n
    for ref, got in zip(reference, crashed, strict=True):
        a, b = window_summary(ref), window_summary(got)
        assert b == a, (a["index"], {k: (a[k], b[k]) for k in a if a[k] != b[k]})
