"""The Slack sink: Block Kit messages, threads for follow-ups, a plot in the thread.

Retries: the delivery worker's outbox retry (backoff + jitter, ``Retry-After``)
is the only retry stage. The slack-sdk clients are built with
``retry_handlers=[]`` (slack-sdk otherwise adds a ``ConnectionErrorRetryHandler``
by default), so the two are never stacked.
"""

from __future__ import annotations

import logging
import urllib.error
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from alerts.notification import Notification
from alerts.plot import render_plot
from alerts.reason import NotifyReason
from alerts.sink import FailureReason, SendOutcome, classify_status
from alerts.slack_message import headline, render_blocks
from alerts.store import SlackThread

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://slack.com/api/"

AUTH_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
    }
)
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackThreadStore(Protocol):
    """The part of :class:`alerts.AlertStore` the Slack sink uses."""

    def get_slack_thread(self, sink: str, ref: str) -> SlackThread | None:
        """The recorded message of ``ref``."""
        ...

    def put_slack_thread(self, sink: str, ref: str, thread: SlackThread) -> None:
        """Record the message of ``ref`` (replacing an older one)."""
        ...


def _event_ref(notification: Notification) -> str:
    return f"event:{notification.event_id}"


def _classify_api_error(exc: SlackApiError) -> SendOutcome:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    headers = getattr(response, "headers", {}) or {}
    retry_after = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(retry_after, list):
        retry_after = retry_after[0] if retry_after else None
    error = ""
    try:
        error = str(response.get("error", "")) if response is not None else ""
    except (AttributeError, TypeError):
        error = ""
    detail = f"HTTP {status} error={error}"
    if status and status != 200:
        return classify_status(status, retry_after=retry_after, detail=detail)
    if error in ("ratelimited", "rate_limited"):
        return classify_status(429, retry_after=retry_after, detail=detail)
    if error in AUTH_ERRORS:
        return SendOutcome(
            ok=False, reason=FailureReason.AUTH, retryable=False, status_code=status, detail=detail
        )
    if error in RETRYABLE_ERRORS:
        return SendOutcome(
            ok=False, reason=FailureReason.SERVER, retryable=True, status_code=status, detail=detail
        )
    return SendOutcome(
        ok=False, reason=FailureReason.CLIENT, retryable=False, status_code=status, detail=detail
    )


def _classify_transport_error(exc: BaseException) -> SendOutcome:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return SendOutcome(ok=False, reason=FailureReason.TIMEOUT, retryable=True, detail=repr(reason))
    return SendOutcome(ok=False, reason=FailureReason.SERVER, retryable=True, detail=repr(reason))


class SlackSink:
    """Send notifications to Slack with a bot token (Web API) or an incoming webhook.

    Use :meth:`with_token` or :meth:`with_webhook_url`.

    With a bot token, a notification that contains a newly firing alert starts a
    new message in ``channel``; reminders, escalations and resolutions reply in
    the thread of the alert's message; a PNG plot of the worst subjects'
    recent statistics is uploaded into the thread with ``files_upload_v2``
    (best effort: a failed upload does not fail the notification). The
    message ts is recorded per event before returning, so a re-send after a
    crash does not post twice. An incoming webhook supports neither threads
    nor files: every notification is a new message.
    """

    def __init__(
        self,
        name: str,
        *,
        client: WebClient | None = None,
        channel: str | None = None,
        threads: SlackThreadStore | None = None,
        webhook: WebhookClient | None = None,
        plot: bool = True,
    ) -> None:
        if (client is None) == (webhook is None):
            raise ValueError(
                f"slack sink {name!r} needs exactly one of a bot token client or a webhook client"
            )
        if client is not None and not channel:
            raise ValueError(f"slack sink {name!r} with a bot token needs a channel, got {channel!r}")
        self._name = name
        self._client = client
        self._channel = channel
        self._threads = threads
        self._webhook = webhook
        self._plot = plot

    @classmethod
    def with_token(
        cls,
        name: str,
        *,
        token: str,
        channel: str,
        threads: SlackThreadStore | None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 10.0,
        plot: bool = True,
    ) -> SlackSink:
        """A bot-token sink (``token_env``, ``channel``, ``base_url``, ``timeout``)."""
        if not token:
            raise ValueError(f"slack sink {name!r} needs a non-empty token")
        if not base_url.endswith("/"):
            base_url += "/"
        client = WebClient(
            token=token, base_url=base_url, timeout=max(1, round(timeout_s)), retry_handlers=[]
        )
        return cls(name, client=client, channel=channel, threads=threads, plot=plot)

    @classmethod
    def with_webhook_url(cls, name: str, *, url: str, timeout_s: float = 10.0) -> SlackSink:
        """An incoming-webhook sink (``webhook_url_env``, ``timeout``)."""
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"slack webhook url must start with http:// or https://, got {url[:8]!r}...")
        return cls(name, webhook=WebhookClient(url, timeout=max(1, round(timeout_s)), retry_handlers=[]))

    @property
    def name(self) -> str:
        """The sink name."""
        return self._name

    def __repr__(self) -> str:
        mode = "token" if self._client is not None else "webhook"
        return f"SlackSink(name={self._name!r}, mode={mode!r}, channel={self._channel!r})"

    def send(self, notification: Notification) -> SendOutcome:
        """Post ``notification`` once and classify any failure."""
        try:
            if self._client is not None:
                return self._send_web_api(self._client, notification)
            assert self._webhook is not None
            return self._send_webhook(self._webhook, notification)
        except SlackApiError as exc:
            return _classify_api_error(exc)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            return _classify_transport_error(exc)
        except (SlackClientError, OSError) as exc:
            return SendOutcome(ok=False, reason=FailureReason.SERVER, retryable=True, detail=repr(exc))

    def _send_webhook(self, webhook: WebhookClient, notification: Notification) -> SendOutcome:
        response = webhook.send(text=headline(notification), blocks=render_blocks(notification))
        headers = {str(k).lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
        retry_after = headers.get("retry-after")
        if isinstance(retry_after, list):
            retry_after = retry_after[0] if retry_after else None
        return classify_status(
            response.status_code, retry_after=retry_after, detail=f"HTTP {response.status_code}"
        )

    def _thread_for(self, notification: Notification) -> SlackThread | None:
        if self._threads is None:
            return None
        if any(a.reason == NotifyReason.FIRST_NOTIFICATION for a in notification.alerts):
            return None
        for entry in notification.alerts:
            thread = self._threads.get_slack_thread(self._name, str(entry.key))
            if thread is not None:
                return thread
        return None

    def _send_web_api(self, client: WebClient, notification: Notification) -> SendOutcome:
        posted = (
            self._threads.get_slack_thread(self._name, _event_ref(notification)) if self._threads else None
        )
        if posted is not None:
            logger.info(
                "slack message already posted sink=%s event_id=%s ts=%s",
                self._name,
                notification.event_id,
                posted.ts,
            )
            return SendOutcome.success(detail=f"already posted ts={posted.ts}")
        thread = self._thread_for(notification)
        kwargs: dict[str, Any] = {
            "channel": thread.channel if thread else self._channel,
            "text": headline(notification),
            "blocks": render_blocks(notification),
            "unfurl_links": False,
        }
        if thread is not None:
            kwargs["thread_ts"] = thread.ts
        response = client.chat_postMessage(**kwargs)
        message = SlackThread(channel=str(response["channel"]), ts=str(response["ts"]))
        if self._threads is not None:
            self._threads.put_slack_thread(self._name, _event_ref(notification), message)
            if thread is None:
                for entry in notification.alerts:
                    if entry.status == "firing":
                        self._threads.put_slack_thread(self._name, str(entry.key), message)
        if self._plot and notification.status == "firing":
            self._upload_plot(client, notification, thread.ts if thread else message.ts, message.channel)
        return SendOutcome.success(status_code=200, detail=f"ts={message.ts}")

    def _upload_plot(
        self, client: WebClient, notification: Notification, thread_ts: str, channel: str
    ) -> None:
        png = render_plot(notification)
        if png is None:
            return
        try:
            client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                file=png,
                filename=f"{notification.monitor}-window-{notification.window_index}.png",
                title=f"{notification.monitor}: recent statistics",
            )
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning(
                "slack plot upload failed sink=%s event_id=%s error=%r",
                self._name,
                notification.event_id,
                exc,
            )
