"""Slack: Block Kit layout, the plot, and SlackSink against the loopback Web API double."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from alerts_factories import MONITOR, drift, quality, window
from alerts_memory_store import InMemoryAlertStore

from alerts import (
    FailureReason,
    Notification,
    PolicySettings,
    SinkRoute,
    SlackSink,
    WindowEvaluation,
    build_notifications,
    evaluate_window,
    headline,
    render_blocks,
    render_plot,
    render_text,
    send_test_notification,
)
from tests.doubles.slack_api import SlackApiDouble, check_blocks

TOKEN = "xoxb-test-token"
SETTINGS = PolicySettings(consecutive_windows=1, resolve_windows=1, repeat_interval=timedelta(hours=2))


class Driver:
    """Feeds windows through the policy and returns the Slack notification of each."""

    def __init__(self) -> None:
        self.states: dict = {}

    def notify(self, w: WindowEvaluation) -> list[Notification]:
        result = evaluate_window(w, self.states, silences=(), settings=SETTINGS, now=w.evaluated_at)
        self.states.update({d.state.key: d.state for d in result.decisions})
        return [n for _, n in build_notifications(w, result.decisions, [SinkRoute(sink="oncall")])]


def big_window(index: int = 12) -> WindowEvaluation:
    findings = [drift(f"f{i}", statistic=0.1 + 0.05 * i) for i in range(7)]
    return window(
        index,
        *findings,
        drift("income", severity="critical", statistic=0.9),
        quality("zip", "missing_rate"),
        model="fraud-v3",
        report_url="https://reports.example/fraud/12.html",
        dashboard_url="https://dash.example/fraud",
    )


def test_block_layout() -> None:
    (n,) = Driver().notify(big_window())
    blocks = render_blocks(n)
    assert check_blocks(blocks) is None
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context", "actions"]
    assert blocks[0]["text"]["text"] == ":rotating_light: Critical: fraud-v3"
    head = blocks[1]["text"]["text"]
    assert head.startswith(
        "CRITICAL fraud-v3 (fraud): data drift in `income`, `f6`, `f5` (+5 more); data quality in `zip`"
    )
    assert "since window #12 (2026-01-01T12:00:00Z)" in head
    drift_lines = blocks[2]["text"]["text"].splitlines()
    assert drift_lines[0] == "*Top drifted features*"
    assert drift_lines[1] == ":red_circle: `income` wasserstein 0.9 vs threshold 0.1 (9.0× threshold)"
    assert len(drift_lines) == 1 + 5 + 1 and drift_lines[-1] == "… and 3 more"
    assert (
        blocks[3]["text"]["text"]
        == "*Quality issues*\n:red_circle: `zip` missing_rate: 0.31 vs threshold 0.05"
    )
    assert "window #12 · rows 60000–64999" in blocks[4]["elements"][0]["text"]
    assert [e["url"] for e in blocks[5]["elements"]] == [
        "https://dash.example/fraud",
        "https://reports.example/fraud/12.html",
    ]


def test_text_rendering_and_resolution_headline() -> None:
    driver = Driver()
    driver.notify(window(0, drift("age")))
    (resolved,) = driver.notify(window(1))
    assert resolved.status == "resolved"
    assert headline(resolved) == "RESOLVED fraud: data drift in `age` is back to normal as of window #1"
    text = render_text(resolved)
    assert text.splitlines()[1] == "Top drifted features:"
    assert render_blocks(resolved)[0]["text"]["text"] == ":white_check_mark: Resolved: fraud"


def test_plot_is_a_png_of_the_worst_subjects() -> None:
    (n,) = Driver().notify(big_window())
    png = render_plot(n)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n") and 2_000 < len(png) < 200_000
    (no_history,) = Driver().notify(window(3, drift("age"), history={}))
    assert render_plot(no_history) is None


@pytest.fixture
def slack() -> Iterator[SlackApiDouble]:
    with SlackApiDouble(token=TOKEN) as double:
        yield double


def bot_sink(slack: SlackApiDouble, store: InMemoryAlertStore, *, token: str = TOKEN) -> SlackSink:
    return SlackSink.with_token(
        "oncall", token=token, channel="#ml-oncall", threads=store, base_url=slack.base_url, timeout_s=5
    )


def test_bot_posts_message_then_plot_in_thread(slack: SlackApiDouble) -> None:
    store = InMemoryAlertStore()
    (n,) = Driver().notify(big_window())
    outcome = bot_sink(slack, store).send(n)
    assert outcome.ok, outcome
    assert slack.errors == []
    (message,) = slack.messages
    assert message.channel == "C0ONCALL" and message.thread_ts is None
    assert message.text == headline(n)
    assert slack.calls == ["chat.postMessage", "files.getUploadURLExternal", "files.completeUploadExternal"]
    (plot,) = slack.files
    assert plot.thread_ts == message.ts and plot.data.startswith(b"\x89PNG")
    assert store.get_slack_thread("oncall", f"{MONITOR}/data_drift/income").ts == message.ts  # type: ignore[union-attr]


def test_follow_ups_and_resolution_go_to_the_thread(slack: SlackApiDouble) -> None:
    store = InMemoryAlertStore()
    sink = bot_sink(slack, store)
    driver = Driver()
    sent = []
    for w in [window(0, drift("age"))] + [window(i, drift("age")) for i in (1, 2, 3)] + [window(4)]:
        for n in driver.notify(w):
            assert sink.send(n).ok
            sent.append(n)
    assert [n.status for n in sent] == ["firing", "firing", "resolved"]  # first, reminder at +2h, resolved
    first, reminder, resolved = slack.messages
    assert first.thread_ts is None
    assert reminder.thread_ts == first.ts and resolved.thread_ts == first.ts
    assert slack.errors == []


def test_resend_after_crash_does_not_post_twice(slack: SlackApiDouble) -> None:
    store = InMemoryAlertStore()
    (n,) = Driver().notify(window(0, drift("age")))
    assert bot_sink(slack, store).send(n).ok
    outcome = bot_sink(slack, store).send(n)
    assert outcome.ok and "already posted" in outcome.detail
    assert len(slack.messages) == 1


def test_rate_limit_and_server_errors_are_retryable(slack: SlackApiDouble) -> None:
    store = InMemoryAlertStore()
    (n,) = Driver().notify(window(0, drift("age")))
    slack.fail_next("chat.postMessage", 429, retry_after="3")
    outcome = bot_sink(slack, store).send(n)
    assert (outcome.reason, outcome.retryable, outcome.retry_after_s) == (
        FailureReason.RATE_LIMITED,
        True,
        3.0,
    )
    slack.fail_next("chat.postMessage", 500)
    outcome = bot_sink(slack, store).send(n)
    assert (outcome.reason, outcome.retryable) == (FailureReason.SERVER, True)
    assert slack.calls == ["chat.postMessage", "chat.postMessage"]  # no hidden slack-sdk retries
    assert bot_sink(slack, store).send(n).ok


def test_bad_token_is_a_permanent_auth_failure(slack: SlackApiDouble) -> None:
    (n,) = Driver().notify(window(0, drift("age")))
    outcome = bot_sink(slack, InMemoryAlertStore(), token="xoxb-wrong").send(n)
    assert (outcome.ok, outcome.reason, outcome.retryable) == (False, FailureReason.AUTH, False)


def test_unknown_channel_is_a_permanent_client_failure(slack: SlackApiDouble) -> None:
    (n,) = Driver().notify(window(0, drift("age")))
    sink = SlackSink.with_token("oncall", token=TOKEN, channel="#nope", threads=None, base_url=slack.base_url)
    outcome = sink.send(n)
    assert (outcome.ok, outcome.reason, outcome.retryable) == (False, FailureReason.CLIENT, False)


def test_failed_plot_upload_does_not_fail_the_notification(slack: SlackApiDouble) -> None:
    (n,) = Driver().notify(big_window())
    slack.fail_next("files.getUploadURLExternal", 500)
    assert bot_sink(slack, InMemoryAlertStore()).send(n).ok
    assert len(slack.messages) == 1 and slack.files == []


def test_incoming_webhook_mode(slack: SlackApiDouble) -> None:
    sink = SlackSink.with_webhook_url("hook", url=slack.webhook_url, timeout_s=5)
    (n,) = Driver().notify(big_window())
    assert sink.send(n).ok
    (post,) = slack.webhook_posts
    assert post["text"] == headline(n) and post["blocks"] == render_blocks(n)
    slack.fail_next("incoming_webhook", 429, retry_after="2")
    outcome = sink.send(n)
    assert (outcome.reason, outcome.retryable, outcome.retry_after_s) == (
        FailureReason.RATE_LIMITED,
        True,
        2.0,
    )


def test_send_test_notification(slack: SlackApiDouble) -> None:
    from alerts_factories import T0

    outcome = send_test_notification(bot_sink(slack, InMemoryAlertStore()), now=T0)
    assert outcome.ok
    assert slack.messages[0].text.startswith("TEST WARNING driftwarden-test:")


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        SlackSink("x")
    with pytest.raises(ValueError, match="needs a non-empty token"):
        SlackSink.with_token("x", token="", channel="#c", threads=None)
    assert "xoxb" not in repr(SlackSink.with_token("x", token="xoxb-1", channel="#c", threads=None))


def test_resolved_lines_show_the_last_flagged_value() -> None:
    driver = Driver()
    driver.notify(window(0, drift("age"), quality("*", "volume")))
    (resolved,) = driver.notify(window(1))
    lines = render_text(resolved).splitlines()
    assert (
        "  :white_check_mark: `age` back to normal (last flagged: wasserstein 0.21 vs threshold 0.1 (2.1× threshold))"
        in lines
    )
    assert (
        "  :white_check_mark: dataset back to normal (last flagged: volume: 0.31 vs threshold 0.05)" in lines
    )
