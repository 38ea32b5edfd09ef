"""Alerts through the daemon (``python -m monitor run``) to the loopback Slack Web API double and
webhook receiver (issue 5 faults at daemon level, issue 6 "Done when").

The stream is five 1000-row windows from a CSV file source (healthy, healthy, drifted, healthy,
healthy) with ``consecutive_windows = 1`` and ``resolve_windows = 1``: one ``data_drift`` alert
on ``age`` fires at window 2 and resolves at window 3.

- Slack: one ``chat.postMessage`` with Block Kit blocks in the channel, the plot and the
  resolution in its thread; a 429 with ``Retry-After`` is waited out and the message arrives once.
- Outage: Slack answers 500 and the webhook receiver drops connections for a while; after
  recovery everything arrives, in order, once.
- SIGKILL after the send but before it is marked delivered (the double holds its answer while the
  daemon is killed): after a restart the webhook receiver sees the same ``Idempotency-Key`` again,
  and Slack gets no second message. The Slack case keeps its store on PostgreSQL.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.doubles import slack_api, webhook_receiver
from tests.doubles.slack_api import SlackApiDouble
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.fixtures_daemon import Daemon, get, model_frame, start_daemon, wait_for, write_profile

pytestmark = [pytest.mark.integration]

WINDOW = 1000
TOKEN = "xoxb-test-token"
SECRET = "e2e-alerts-secret"
ENV = {"DW_E2E_SLACK_TOKEN": TOKEN, "DW_E2E_HOOK_SECRET": SECRET}


# ---- data and config ----------------------------------------------------------------------------


def write_stream(tmp: Path, windows: list[tuple[int, float]] | None = None) -> Path:
    """Windows 0, 1 healthy; 2 drifted (age + 0.6 sd: no out_of_range issue to inhibit it); 3, 4
    healthy. ``windows`` gives other (seed, age shift) per window."""
    # seeds whose healthy windows flag no feature at all (the KS/chi2 tests of 1000-row windows
    # flag some healthy windows: see test_a_feature_flag_without_dataset_drift_sends_no_alert)
    spec = windows or [(72, 0.0), (74, 0.0), (73, 6.0), (75, 0.0), (76, 0.0)]
    parts = [
        model_frame(WINDOW, seed=seed, shift=shift, start_row=i * WINDOW)
        for i, (seed, shift) in enumerate(spec)
    ]
    frame = pd.concat(parts, ignore_index=True).drop(columns=["y", "pred"])
    path = tmp / "stream.csv"
    frame.to_csv(path, index=False)
    return path


def alerts_config(
    tmp: Path,
    *,
    slack: SlackApiDouble | None = None,
    hook: WebhookReceiver | None = None,
    store_url: str | None = None,
    windows: list[tuple[int, float]] | None = None,
) -> Path:
    """File source ``s`` -> monitor ``m`` -> sinks ``oncall`` (Slack) and/or ``retrain`` (webhook)."""
    profile = write_profile(tmp, labels=False)
    stream = write_stream(tmp, windows)
    store_url = store_url or f"sqlite:///{(tmp / 'store.db').as_posix()}"
    routes = ["console"]
    sinks = ""
    if slack is not None:
        routes.append("oncall")
        sinks += f"""
[sinks.oncall]
kind = "slack"
token_env = "DW_E2E_SLACK_TOKEN"
channel = "#ml-oncall"
base_url = "{slack.base_url}"
timeout = "5s"
"""
    if hook is not None:
        routes.append("retrain")
        sinks += f"""
[sinks.retrain]
kind = "webhook"
url = "{hook.url}"
secret_env = "DW_E2E_HOOK_SECRET"
timeout = "5s"
"""
    text = f"""
[service]
log_format = "text"
shutdown_grace = "15s"

[store]
url = "{store_url}"
reports_dir = "{(tmp / "reports").as_posix()}"

[http]
host = "127.0.0.1"
port = 0

[sources.s]
kind = "file"
path = "{stream.as_posix()}"
rows_per_second = 0
at_end = "idle"

[[monitors]]
name = "m"
source = "s"
profile = "{profile.as_posix()}"
window = {{ rows = {WINDOW} }}
routes = {json.dumps(routes)}

[alerts]
consecutive_windows = 1
resolve_windows = 1
send_resolved = true

[sinks.console]
kind = "log"
{sinks}
"""
    path = tmp / "config.toml"
    path.write_text(text)
    return path


def run(config: Path, tmp: Path, log: str = "daemon.log") -> tuple[Daemon, int]:
    """Start the daemon (a new ``log`` file per start: its port is read from the log)."""
    daemon = start_daemon(config, tmp / log, env=ENV)
    return daemon, daemon.port()


def stop(daemon: Daemon) -> None:
    try:
        daemon.terminate(30)
    except Exception:
        daemon.kill()


def alerts_sent(port: int) -> dict[tuple[str, str], float]:
    status, text = get(port, "/metrics")
    assert status == 200
    return {
        (s.labels["sink"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "driftwarden_alerts_sent_total"
    }


def sent_at_least(port: int, goal: dict[tuple[str, str], int]) -> dict[tuple[str, str], float]:
    """The alert counters once each of ``goal`` has reached its count.

    A receiver records a request before its response reaches the daemon, and the daemon counts
    the delivery only then: reading the counters right after the receiver saw a message races.
    """
    return wait_for(
        lambda: (sent := alerts_sent(port)) and all(sent.get(k, 0) >= n for k, n in goal.items()) and sent,
        timeout_s=15,
        what=f"alert counters {goal}",
    )


def windows(port: int) -> list[dict[str, Any]]:
    status, body = get(port, "/api/monitors/m/results")
    assert status == 200
    return list(body)


def check_drift_windows(port: int) -> None:
    docs = wait_for(lambda: (r := windows(port)) and len(r) >= 5 and r, timeout_s=30, what="5 windows")
    assert [d["features"]["age"]["drift_detected"] for d in docs] == [False, False, True, False, False]
    assert [d["drift_detected"] for d in docs] == [False, False, True, False, False]


def top_and_thread(slack: SlackApiDouble) -> tuple[slack_api.Message, list[slack_api.Message]]:
    """The one top-level message and the replies in its thread (asserts there is exactly one)."""
    top = [m for m in slack.messages if m.thread_ts is None]
    assert len(top) == 1, [m.text for m in top]
    replies = [m for m in slack.messages if m.thread_ts is not None]
    assert all(m.thread_ts == top[0].ts and m.channel == top[0].channel for m in replies)
    return top[0], replies


def check_slack_conversation(slack: SlackApiDouble) -> None:
    """One firing message with Block Kit in #ml-oncall naming age, then the resolution in its thread."""
    assert slack.errors == []
    top, replies = top_and_thread(slack)
    assert top.channel == "C0ONCALL"
    assert slack_api.check_blocks(top.blocks) is None
    assert top.blocks[0]["type"] == "header"
    flat = json.dumps(top.blocks)
    assert "age" in flat
    assert "resolved" not in top.text.lower()
    assert len(replies) == 1, [m.text for m in replies]
    assert "resolved" in replies[0].text.lower() or "resolved" in json.dumps(replies[0].blocks).lower()
    # the plot of the recent statistics went into the thread
    assert [(f.channel, f.thread_ts) for f in slack.files] == [(top.channel, top.ts)]
    assert slack.files[0].data.startswith(b"\x89PNG")


# ---- 1. Slack: Block Kit message, thread, Retry-After ----------------------------------------------


def test_slack_message_thread_and_retry_after(tmp_path: Path) -> None:
    with SlackApiDouble(token=TOKEN) as slack:
        slack.fail_next("chat.postMessage", 429, retry_after="2")
        daemon, port = run(alerts_config(tmp_path, slack=slack), tmp_path)
        try:
            check_drift_windows(port)
            wait_for(lambda: len(slack.messages) >= 2, timeout_s=30, what="firing and resolved messages")
            sent = sent_at_least(port, {("oncall", "ok"): 2})
        finally:
            stop(daemon)
        log = daemon.text()
        calls = slack.calls
        check_slack_conversation(slack)
    assert "Traceback" not in log, log[-4000:]
    # one 429, then exactly two successful posts (firing, resolution): nothing sent twice
    assert calls.count("chat.postMessage") == 3
    assert sent.get(("oncall", "rate_limited")) == 1
    assert sent.get(("oncall", "ok")) == 2
    m = re.search(r"notify attempt failed.*sink=oncall.*reason=rate_limited.*delay_s=([\d.]+)", log)
    assert m is not None, log[-3000:]
    assert float(m.group(1)) >= 2.0


# ---- 2. outage then recovery ----------------------------------------------------------------------


def test_sinks_down_then_up_deliver_everything_once(tmp_path: Path) -> None:
    with SlackApiDouble(token=TOKEN) as slack, WebhookReceiver(SECRET) as hook:
        slack.fail_next("chat.postMessage", 500, times=3)
        hook.set_down(True)
        daemon, port = run(alerts_config(tmp_path, slack=slack, hook=hook), tmp_path)
        try:
            check_drift_windows(port)
            wait_for(lambda: hook.requests >= 3, timeout_s=30, what="3 refused webhook attempts")
            assert hook.deliveries == []
            hook.set_down(False)
            wait_for(lambda: len(slack.messages) >= 2, timeout_s=40, what="slack after recovery")
            wait_for(lambda: len(hook.processed) >= 2, timeout_s=40, what="webhooks after recovery")
            sent = sent_at_least(port, {("oncall", "ok"): 2, ("retrain", "ok"): 2})
        finally:
            stop(daemon)
        log = daemon.text()
        check_slack_conversation(slack)
        deliveries = hook.deliveries
        attempts = hook.attempts
        rejected = hook.rejected
    assert "Traceback" not in log, log[-4000:]
    assert rejected == []
    assert all(n == 1 for n in attempts.values()), attempts
    assert [(d.body["kind"], d.body["status"]) for d in deliveries] == [
        ("data_drift", "firing"),
        ("data_drift", "resolved"),
    ]
    assert deliveries[0].body["window"]["index"] == 2
    assert deliveries[1].body["window"]["index"] == 3
    assert [s["name"] for s in deliveries[0].body["subjects"]] == ["age"]
    assert sent.get(("oncall", "server")) == 3
    assert sent.get(("oncall", "ok")) == 2
    assert sent.get(("retrain", "ok")) == 2
    assert sent.get(("retrain", "server"), 0) + sent.get(("retrain", "timeout"), 0) >= 3


# ---- 3. SIGKILL after the send, before it is marked ------------------------------------------------


class Hold:
    """Makes a double hold one answer until released; ``held`` is set while it waits."""

    def __init__(self) -> None:
        self.armed = True
        self.held = threading.Event()
        self.release = threading.Event()

    def wait(self) -> None:
        if self.armed:
            self.armed = False
            self.held.set()
            self.release.wait(30)


@pytest.fixture
def hold() -> Iterator[Hold]:
    h = Hold()
    yield h
    h.release.set()


def _holding_webhook(receiver: WebhookReceiver, hold: Hold) -> None:
    """The receiver records the delivery, then holds its 200 answer."""

    class Holding(webhook_receiver._Handler):
        def _reply(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            if status == 200:
                hold.wait()
            super()._reply(status, payload, headers)

    receiver._server.RequestHandlerClass = Holding


def _holding_slack(slack: SlackApiDouble, hold: Hold) -> None:
    """The double posts the message, then holds the plot upload that follows it in the same send."""

    class Holding(slack_api._Handler):
        def _get_upload_url(self, params: dict[str, Any]) -> None:
            hold.wait()
            super()._get_upload_url(params)

    slack._server.RequestHandlerClass = Holding


def _kill_when(daemon: Daemon, condition: Callable[[], bool], what: str) -> None:
    wait_for(lambda: condition() or daemon.proc.poll() is not None, timeout_s=30, what=what)
    assert daemon.proc.poll() is None, daemon.text()[-3000:]
    daemon.kill()


def test_sigkill_after_webhook_send_before_mark_resends_the_same_idempotency_key(
    tmp_path: Path, hold: Hold
) -> None:
    with WebhookReceiver(SECRET) as hook:
        _holding_webhook(hook, hold)
        config = alerts_config(tmp_path, hook=hook)
        daemon, _ = run(config, tmp_path)
        _kill_when(daemon, hold.held.is_set, "the firing webhook")
        first = hook.deliveries
        hold.release.set()
        daemon, port = run(config, tmp_path, "restarted.log")
        try:
            wait_for(lambda: len(hook.processed) >= 2, timeout_s=30, what="resent firing and the resolution")
            wait_for(lambda: alerts_sent(port).get(("retrain", "ok"), 0) >= 2, timeout_s=15, what="marked")
            windows_after = windows(port)
        finally:
            stop(daemon)
        log = daemon.text()
        deliveries = hook.deliveries
        attempts = hook.attempts
        processed = hook.processed
    assert "Traceback" not in log, log[-4000:]
    assert len(first) == 1 and first[0].body["status"] == "firing"
    key = first[0].idempotency_key
    # the same event again (same key, same body apart from sent_at), acted on once by the receiver
    assert attempts[key] == 2
    assert processed == [key, processed[1]] and processed[1] != key
    again = [d for d in deliveries if d.idempotency_key == key]
    assert again[1].duplicate
    strip = {"sent_at"}
    assert {k: v for k, v in again[1].body.items() if k not in strip} == {
        k: v for k, v in first[0].body.items() if k not in strip
    }
    resolved = [d for d in deliveries if d.body["status"] == "resolved"]
    assert len(resolved) == 1 and attempts[resolved[0].idempotency_key] == 1
    # the restart neither lost nor repeated windows
    assert [d["window"]["index"] for d in windows_after] == [0, 1, 2, 3, 4]


@pytest.mark.postgres
def test_sigkill_after_slack_post_before_mark_posts_no_second_message(
    tmp_path: Path, hold: Hold, postgres_schema_url: str
) -> None:
    with SlackApiDouble(token=TOKEN) as slack:
        _holding_slack(slack, hold)
        config = alerts_config(tmp_path, slack=slack, store_url=postgres_schema_url)
        daemon, _ = run(config, tmp_path)
        _kill_when(daemon, hold.held.is_set, "the firing message's plot upload")
        assert len(slack.messages) == 1
        hold.release.set()
        daemon, port = run(config, tmp_path, "restarted.log")
        try:
            wait_for(lambda: len(slack.messages) >= 2, timeout_s=30, what="the resolution")
            wait_for(lambda: alerts_sent(port).get(("oncall", "ok"), 0) >= 2, timeout_s=15, what="marked")
        finally:
            stop(daemon)
        log = daemon.text()
        assert slack.errors == []
        top, replies = top_and_thread(slack)
        calls = slack.calls
    assert "Traceback" not in log, log[-4000:]
    assert "slack message already posted" in log
    assert len(replies) == 1 and "resolved" in (replies[0].text + json.dumps(replies[0].blocks)).lower()
    assert calls.count("chat.postMessage") == 2


# ---- 4. a feature flag that the dataset verdict overrules -------------------------------------------


def test_a_feature_flag_without_dataset_drift_sends_no_alert(tmp_path: Path) -> None:
    # seed 71: income's KS p = 0.016 < 0.05 flags the feature, BH over 4 features does not
    with WebhookReceiver(SECRET) as hook:
        daemon, port = run(alerts_config(tmp_path, hook=hook, windows=[(71, 0.0), (72, 0.0)]), tmp_path)
        try:
            docs = wait_for(
                lambda: (r := windows(port)) and len(r) >= 2 and r, timeout_s=30, what="2 windows"
            )
            time.sleep(3.0)  # three delivery ticks
        finally:
            stop(daemon)
        deliveries = hook.deliveries
    first = docs[0]
    assert first["features"]["income"]["drift_detected"] and first["features"]["income"]["p_value"] > 0.01
    assert first["drift_detected"] is False
    assert [d.body for d in deliveries if d.body["kind"] == "data_drift"] == []
