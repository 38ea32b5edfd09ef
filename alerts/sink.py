"""The sink seam: ``send(notification) -> SendOutcome``, and HTTP outcome classification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

from alerts.notification import Notification


class FailureReason(StrEnum):
    """Why a send failed; a metrics label (as Alertmanager's ``Reason``)."""

    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    CLIENT = "client"
    SERVER = "server"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendOutcome:
    """Result of one send attempt.

    Attributes
    ----------
    ok:
        The sink accepted the notification.
    reason:
        Failure class when not ``ok``.
    retryable:
        Network errors, 5xx, 408 and 429 are retried; other failures are permanent.
    retry_after_s:
        Minimum wait the server asked for (``Retry-After``), if any.
    status_code:
        HTTP status, when there was a response.
    detail:
        One line for logs and the outbox record.
    """

    ok: bool
    reason: FailureReason | None = None
    retryable: bool = False
    retry_after_s: float | None = None
    status_code: int | None = None
    detail: str = ""

    @property
    def outcome(self) -> str:
        """Metrics label: ``ok`` or the failure reason."""
        return "ok" if self.ok else str(self.reason)

    @classmethod
    def success(cls, *, status_code: int | None = None, detail: str = "") -> SendOutcome:
        """An accepted send."""
        return cls(ok=True, status_code=status_code, detail=detail)


class Sink(Protocol):
    """A notification destination. ``send`` never raises for transport failures."""

    @property
    def name(self) -> str:
        """The sink's configured name (``[sinks.<name>]``)."""
        ...

    def send(self, notification: Notification) -> SendOutcome:
        """Deliver ``notification`` once; classify any failure."""
        ...


RETRYABLE_STATUS = frozenset({408, 429})


def classify_status(
    status_code: int, *, retry_after: str | None = None, detail: str = "", now: datetime | None = None
) -> SendOutcome:
    """Classify an HTTP status as Alertmanager's ``Retrier.Check`` does.

    2xx is ok; 5xx, 408 and 429 are retryable; 401/403 are ``auth``; other
    4xx (and anything else) are permanent ``client`` failures.
    """
    if 200 <= status_code < 300:
        return SendOutcome.success(status_code=status_code, detail=detail)
    wait = parse_retry_after(retry_after, now=now)
    if status_code == 429:
        return SendOutcome(
            ok=False,
            reason=FailureReason.RATE_LIMITED,
            retryable=True,
            retry_after_s=wait,
            status_code=status_code,
            detail=detail,
        )
    if status_code == 408:
        return SendOutcome(
            ok=False,
            reason=FailureReason.TIMEOUT,
            retryable=True,
            retry_after_s=wait,
            status_code=status_code,
            detail=detail,
        )
    if 500 <= status_code < 600:
        return SendOutcome(
            ok=False,
            reason=FailureReason.SERVER,
            retryable=True,
            retry_after_s=wait,
            status_code=status_code,
            detail=detail,
        )
    reason = FailureReason.AUTH if status_code in (401, 403) else FailureReason.CLIENT
    return SendOutcome(ok=False, reason=reason, retryable=False, status_code=status_code, detail=detail)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or ``None``."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
