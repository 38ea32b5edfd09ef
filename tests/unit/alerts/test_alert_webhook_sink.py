"""WebhookSink against the loopback receiver: contract headers and body, failure classes."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alerts_factories import drift, quality, window

from alerts import (
    FailureReason,
    Notification,
    PolicySettings,
    SinkRoute,
    WebhookSink,
    build_notifications,
    evaluate_window,
    sign,
)
from tests.doubles.webhook_receiver import WebhookReceiver

SECRET = "retrain-secret"


def real_clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as r:
        yield r


def drift_notification(index: int = 3) -> Notification:
    w = window(index, drift("age"), drift("income", severity="critical"), report_url="http://reports/3.html")
    result = evaluate_window(
        w, {}, silences=(), settings=PolicySettings(consecutive_windows=1), now=w.evaluated_at
    )
    ((_, n),) = build_notifications(w, result.decisions, [SinkRoute(sink="retrain", group_by="kind")])
    return n


def test_post_follows_the_contract(receiver: WebhookReceiver) -> None:
    sink = WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=real_clock)
    n = drift_notification()
    outcome = sink.send(n)
    assert outcome.ok, outcome
    assert receiver.rejected == []
    (delivery,) = receiver.deliveries
    assert delivery.idempotency_key == n.event_id
    assert delivery.headers["Content-Type"] == "application/json"
    assert abs(int(delivery.headers["X-Driftwarden-Timestamp"]) - time.time()) < 5
    body = delivery.body
    assert body["event_id"] == n.event_id
    assert body["kind"] == "data_drift"
    assert body["status"] == "firing"
    assert body["severity"] == "critical"
    assert body["monitor"] == "fraud"
    assert body["window"]["index"] == 3
    assert body["report_url"] == "http://reports/3.html"
    assert body["sent_at"].endswith("Z")
    assert body["subjects"][0] == {
        "name": "income",
        "method": "wasserstein",
        "statistic": 0.21,
        "threshold": 0.1,
        "severity": "critical",
    }


def test_quality_subjects_use_check_and_value(receiver: WebhookReceiver) -> None:
    w = window(1, quality("income"))
    result = evaluate_window(
        w, {}, silences=(), settings=PolicySettings(consecutive_windows=1), now=w.evaluated_at
    )
    ((_, n),) = build_notifications(w, result.decisions, [SinkRoute(sink="retrain", group_by="kind")])
    assert WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=real_clock).send(n).ok
    assert receiver.deliveries[0].body["subjects"] == [
        {"name": "income", "check": "missing_rate", "value": 0.31, "threshold": 0.05, "severity": "critical"}
    ]


def test_wrong_secret_is_rejected_as_auth_failure(receiver: WebhookReceiver) -> None:
    outcome = WebhookSink("retrain", url=receiver.url, secret="wrong", clock=real_clock).send(
        drift_notification()
    )
    assert (outcome.ok, outcome.reason, outcome.retryable, outcome.status_code) == (
        False,
        FailureReason.AUTH,
        False,
        401,
    )
    assert receiver.rejected == ["bad signature"]


def test_stale_timestamp_is_rejected(receiver: WebhookReceiver) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    outcome = WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=lambda: old).send(
        drift_notification()
    )
    assert not outcome.ok and not outcome.retryable


@pytest.mark.parametrize(
    ("status", "retry_after", "reason", "retryable", "wait"),
    [
        (500, None, FailureReason.SERVER, True, None),
        (503, "7", FailureReason.SERVER, True, 7.0),
        (429, "3", FailureReason.RATE_LIMITED, True, 3.0),
        (408, None, FailureReason.TIMEOUT, True, None),
        (400, None, FailureReason.CLIENT, False, None),
        (404, None, FailureReason.CLIENT, False, None),
        (403, None, FailureReason.AUTH, False, None),
    ],
)
def test_status_classification(
    receiver: WebhookReceiver,
    status: int,
    retry_after: str | None,
    reason: FailureReason,
    retryable: bool,
    wait: float | None,
) -> None:
    receiver.fail_next(status, retry_after=retry_after)
    outcome = WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=real_clock).send(
        drift_notification()
    )
    assert (outcome.ok, outcome.reason, outcome.retryable, outcome.retry_after_s, outcome.status_code) == (
        False,
        reason,
        retryable,
        wait,
        status,
    )


def test_receiver_down_is_retryable(receiver: WebhookReceiver) -> None:
    receiver.set_down(True)
    outcome = WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=real_clock).send(
        drift_notification()
    )
    assert not outcome.ok and outcome.retryable and outcome.reason == FailureReason.SERVER


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = WebhookSink("retrain", url=f"http://127.0.0.1:{port}/x", secret=SECRET, clock=real_clock)
    outcome = sink.send(drift_notification())
    assert not outcome.ok and outcome.retryable


def test_timeout_is_retryable_timeout() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)  # accepts the connection, never answers
        url = f"http://127.0.0.1:{server.getsockname()[1]}/x"
        sink = WebhookSink("retrain", url=url, secret=SECRET, clock=real_clock, timeout_s=0.3)
        outcome = sink.send(drift_notification())
    assert (outcome.ok, outcome.reason, outcome.retryable) == (False, FailureReason.TIMEOUT, True)


def test_same_event_same_idempotency_key_and_receiver_dedups(receiver: WebhookReceiver) -> None:
    sink = WebhookSink("retrain", url=receiver.url, secret=SECRET, clock=real_clock)
    n = drift_notification()
    assert sink.send(n).ok and sink.send(n).ok
    assert receiver.attempts[n.event_id] == 2
    assert receiver.processed == [n.event_id]


def test_constructor_validation_and_repr_hides_secret() -> None:
    with pytest.raises(ValueError, match="must start with http"):
        WebhookSink("r", url="ftp://x", secret="s", clock=real_clock)
    with pytest.raises(ValueError, match="non-empty secret"):
        WebhookSink("r", url="http://x", secret="", clock=real_clock)
    assert "s3" not in repr(WebhookSink("r", url="http://x", secret="s3", clock=real_clock))


def test_receiver_double_rejects_unsigned_requests(receiver: WebhookReceiver) -> None:
    import urllib.error
    import urllib.request

    body = b'{"event_id": "x"}'
    request = urllib.request.Request(
        receiver.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": "x",
            "X-Driftwarden-Timestamp": str(int(time.time())),
            "X-Driftwarden-Signature": sign("nope", int(time.time()), body),
        },
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 401
