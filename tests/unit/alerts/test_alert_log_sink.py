"""LogSink, the CLI helpers, and the rendering of every kind."""

from __future__ import annotations

import logging

import pytest
from alerts_factories import T0, window
from alerts_memory_store import InMemoryAlertStore

from alerts import (
    Finding,
    LogSink,
    PolicySettings,
    SinkRoute,
    build_notifications,
    evaluate_window,
    render_blocks,
    sample_notification,
    send_test_notification,
)
from tests.doubles.slack_api import check_blocks


def test_log_sink_writes_one_structured_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="alerts.log_sink")
    outcome = send_test_notification(LogSink("console"), now=T0)
    assert outcome.ok and outcome.outcome == "ok"
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("alert sink=console event_id=")
    assert (
        "monitor=driftwarden-test status=firing severity=warning window=0 kinds=data_drift,quality"
        in record.getMessage()
    )
    assert record.alert["test"] is True  # type: ignore[attr-defined]


def test_sample_notification_is_marked_as_test() -> None:
    n = sample_notification(now=T0)
    assert n.test and check_blocks(render_blocks(n)) is None
    assert render_blocks(n)[0]["text"]["text"].endswith("(test)")


def test_every_kind_renders_valid_blocks() -> None:
    findings = [
        Finding(
            monitor="fraud",
            kind="data_drift",
            subject="age",
            method="ks",
            statistic=0.3,
            threshold=0.05,
            p_value=0.001,
        ),
        Finding(
            monitor="fraud",
            kind="prediction_drift",
            subject="pred",
            method="psi",
            statistic=0.4,
            threshold=0.2,
        ),
        Finding(
            monitor="fraud",
            kind="concept_drift",
            subject="adwin",
            method="adwin",
            detail="mean error 0.12 -> 0.25",
        ),
        Finding(
            monitor="fraud",
            kind="performance",
            subject="accuracy",
            method="accuracy",
            statistic=0.81,
            reference=0.9,
            threshold=0.05,
        ),
        Finding(monitor="fraud", kind="quality", subject="*", method="volume", statistic=120, threshold=5000),
    ]
    w = window(4, *findings)
    result = evaluate_window(
        w, {}, silences=(), settings=PolicySettings(consecutive_windows=1), now=w.evaluated_at
    )
    ((_, n),) = build_notifications(w, result.decisions, [SinkRoute(sink="all")])
    blocks = render_blocks(n)
    assert check_blocks(blocks) is None
    text = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "`age` ks 0.3 vs threshold 0.05 (6.0× threshold), p=0.001" in text
    assert "`accuracy` 0.81 vs reference 0.9 (threshold 0.05)" in text
    assert "`adwin` change detected — mean error 0.12 -> 0.25" in text
    assert "dataset volume: 120 vs threshold 5e+03" in text


def test_list_alerts_on_memory_store_is_empty() -> None:
    from alerts import list_alerts

    assert list_alerts(InMemoryAlertStore()) == []
