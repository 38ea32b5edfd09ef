"""driftwarden alerts: policy (dedup, repeat, resolve, silences, inhibition), outbox delivery and sinks.

Nothing here starts threads or holds global state: the monitor builds an
:class:`AlertPipeline` and a :class:`DeliveryWorker` and schedules
``DeliveryWorker.run_once``.
"""

from alerts.commands import (
    add_silence,
    expire_silence,
    list_alerts,
    sample_notification,
    send_test_notification,
)
from alerts.delivery import Backoff, DeliveryReport, DeliveryWorker
from alerts.errors import AlertError, PayloadError
from alerts.finding import (
    DATASET_SUBJECT,
    KINDS,
    SEVERITIES,
    Finding,
    HistoryPoint,
    Kind,
    Severity,
    WindowEvaluation,
)
from alerts.log_sink import LogSink
from alerts.notification import AlertEntry, Notification, make_event_id
from alerts.pipeline import AlertPipeline, ProcessResult
from alerts.plot import render_plot
from alerts.policy import (
    Decision,
    PolicyResult,
    PolicySettings,
    evaluate_window,
    record_decision,
    should_notify,
    transition,
)
from alerts.reason import NotifyReason
from alerts.routing import SinkRoute, build_notifications
from alerts.signature import sign, verify_signature
from alerts.silence import Silence
from alerts.sink import FailureReason, SendOutcome, Sink, classify_status, parse_retry_after
from alerts.slack import SlackSink, SlackThreadStore
from alerts.slack_message import headline, render_blocks, render_text
from alerts.state import AlertKey, AlertState, Status
from alerts.store import AlertStore, NewOutboxItem, OutboxItem, SlackThread
from alerts.webhook import WebhookSink, webhook_body

__all__ = [
    "DATASET_SUBJECT",
    "KINDS",
    "SEVERITIES",
    "AlertEntry",
    "AlertError",
    "AlertKey",
    "AlertPipeline",
    "AlertState",
    "AlertStore",
    "Backoff",
    "Decision",
    "DeliveryReport",
    "DeliveryWorker",
    "FailureReason",
    "Finding",
    "HistoryPoint",
    "Kind",
    "LogSink",
    "NewOutboxItem",
    "Notification",
    "NotifyReason",
    "OutboxItem",
    "PayloadError",
    "PolicyResult",
    "PolicySettings",
    "ProcessResult",
    "SendOutcome",
    "Severity",
    "Silence",
    "Sink",
    "SinkRoute",
    "SlackSink",
    "SlackThread",
    "SlackThreadStore",
    "Status",
    "WebhookSink",
    "WindowEvaluation",
    "add_silence",
    "build_notifications",
    "classify_status",
    "evaluate_window",
    "expire_silence",
    "headline",
    "list_alerts",
    "make_event_id",
    "parse_retry_after",
    "record_decision",
    "render_blocks",
    "render_plot",
    "render_text",
    "send_test_notification",
    "should_notify",
    "sign",
    "sample_notification",
    "transition",
    "verify_signature",
    "webhook_body",
]
