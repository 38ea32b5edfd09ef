"""Why an alert is or is not notified: the result of :func:`alerts.should_notify`."""

from __future__ import annotations

from enum import StrEnum


class NotifyReason(StrEnum):
    """Named outcome of the notification decision (as Alertmanager's ``NotifyReason``)."""

    FIRST_NOTIFICATION = "first_notification"
    """The alert started firing (or fires again after a resolution)."""
    SEVERITY_ESCALATED = "severity_escalated"
    """Still firing, now ``critical`` after a ``warning`` notification."""
    REPEAT_INTERVAL_ELAPSED = "repeat_interval_elapsed"
    """Still firing and ``repeat_interval`` has passed since the last notification."""
    RESOLVED = "resolved"
    """A notified firing alert resolved and ``send_resolved`` is on."""
    NOT_FIRING = "not_firing"
    """Inactive or pending (fewer than ``consecutive_windows`` flagged windows)."""
    DEDUPLICATED = "deduplicated"
    """Still firing and already notified within ``repeat_interval``."""
    SILENCED = "silenced"
    """Firing but matched by an active silence."""
    INHIBITED = "inhibited"
    """Firing but muted by a quality alert on its column or a stale/down source."""
    RESOLVED_NOT_SENT = "resolved_not_sent"
    """Resolved, but ``send_resolved`` is off."""
    NOTHING_TO_RESOLVE = "nothing_to_resolve"
    """Resolved, but no firing notification was ever sent for this episode."""

    @property
    def notifies(self) -> bool:
        """True when a notification must be sent."""
        return self in _NOTIFYING


_NOTIFYING = frozenset(
    {
        NotifyReason.FIRST_NOTIFICATION,
        NotifyReason.SEVERITY_ESCALATED,
        NotifyReason.REPEAT_INTERVAL_ELAPSED,
        NotifyReason.RESOLVED,
    }
)
