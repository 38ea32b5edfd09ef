"""The retraining webhook sink: signed, idempotent JSON POSTs (DESIGN.md webhook contract)."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any

from alerts.notification import Notification, format_time
from alerts.signature import sign
from alerts.sink import FailureReason, SendOutcome, classify_status

logger = logging.getLogger(__name__)

USER_AGENT = "driftwarden-webhook/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow redirects: a signed POST must reach the configured URL or fail."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def webhook_body(notification: Notification, *, sent_at: datetime) -> dict[str, Any]:
    """The JSON body of the webhook contract for ``notification``.

    Members: ``event_id``, ``kind``, ``kinds``, ``status``, ``severity``,
    ``monitor``, ``model``, ``window``, ``subjects``, ``report_url``,
    ``dashboard_url``, ``since``, ``sent_at``, ``test``.
    """
    since = min((a.since for a in notification.alerts if a.since is not None), default=None)
    return {
        "event_id": notification.event_id,
        "kind": notification.kind,
        "kinds": list(notification.kinds),
        "status": notification.status,
        "severity": notification.severity,
        "monitor": notification.monitor,
        "model": notification.model,
        "window": dict(notification.window),
        "subjects": [a.subject_json() for a in notification.alerts],
        "report_url": notification.report_url,
        "dashboard_url": notification.dashboard_url,
        "since": format_time(since) if since is not None else None,
        "sent_at": format_time(sent_at),
        "test": notification.test,
    }


class WebhookSink:
    """POST each notification as signed JSON to ``url``.

    Parameters
    ----------
    name:
        The sink name (``[sinks.<name>]``).
    url:
        The receiver (``url``).
    secret:
        The HMAC secret (read by the monitor from ``secret_env``).
    clock:
        Returns the current time; gives ``sent_at`` and ``X-Driftwarden-Timestamp``.
    timeout_s:
        Connect and read timeout (``timeout``, 10 s by default).

    Notes
    -----
    Headers: ``Content-Type: application/json``, ``Idempotency-Key: <event id>``,
    ``X-Driftwarden-Timestamp: <unix seconds>``, ``X-Driftwarden-Signature:
    v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``. Redirects are
    not followed. Retries are the delivery worker's job; ``send`` tries once.
    """

    def __init__(
        self, name: str, *, url: str, secret: str, clock: Callable[[], datetime], timeout_s: float = 10.0
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url must start with http:// or https://, got {url!r}")
        if not secret:
            raise ValueError(f"webhook sink {name!r} needs a non-empty secret")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self._name = name
        self._url = url
        self._secret = secret
        self._clock = clock
        self._timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirect())

    @property
    def name(self) -> str:
        """The sink name."""
        return self._name

    def __repr__(self) -> str:
        return f"WebhookSink(name={self._name!r}, url={self._url!r}, secret='***')"

    def send(self, notification: Notification) -> SendOutcome:
        """POST ``notification`` once and classify the result."""
        now = self._clock()
        body = json.dumps(
            webhook_body(notification, sent_at=now), separators=(",", ":"), allow_nan=False
        ).encode()
        timestamp = int(now.timestamp())
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": notification.event_id,
                "X-Driftwarden-Timestamp": str(timestamp),
                "X-Driftwarden-Signature": sign(self._secret, timestamp, body),
                "User-Agent": USER_AGENT,
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout_s) as response:
                response.read()
                return classify_status(response.status, detail=f"HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            with exc:
                return classify_status(
                    exc.code, retry_after=exc.headers.get("Retry-After"), detail=f"HTTP {exc.code}", now=now
                )
        except TimeoutError as exc:
            return SendOutcome(ok=False, reason=FailureReason.TIMEOUT, retryable=True, detail=repr(exc))
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                return SendOutcome(
                    ok=False, reason=FailureReason.TIMEOUT, retryable=True, detail=repr(exc.reason)
                )
            return SendOutcome(ok=False, reason=FailureReason.SERVER, retryable=True, detail=repr(exc.reason))
        except OSError as exc:  # connection reset, refused after connect, ...
            return SendOutcome(ok=False, reason=FailureReason.SERVER, retryable=True, detail=repr(exc))
