"""The log sink: one structured log line per notification."""

from __future__ import annotations

import logging

from alerts.notification import Notification
from alerts.sink import SendOutcome

logger = logging.getLogger(__name__)


class LogSink:
    """Write each notification as one ``key=value`` log line (WARNING when firing, INFO when resolved).

    The line carries ``sink``, ``event_id``, ``monitor``, ``status``,
    ``severity``, ``window``, ``kinds`` and ``subjects`` (``kind:name`` list);
    with the JSON log format every field is also in the record's ``extra``
    member ``alert``.
    """

    def __init__(self, name: str, *, logger_name: str | None = None) -> None:
        self._name = name
        self._logger = logging.getLogger(logger_name) if logger_name else logger

    @property
    def name(self) -> str:
        """The sink name."""
        return self._name

    def send(self, notification: Notification) -> SendOutcome:
        """Log ``notification``; always succeeds."""
        subjects = ",".join(f"{a.kind}:{a.subject}" for a in notification.alerts)
        level = logging.WARNING if notification.status == "firing" else logging.INFO
        self._logger.log(
            level,
            "alert sink=%s event_id=%s monitor=%s status=%s severity=%s window=%d kinds=%s subjects=%s",
            self._name,
            notification.event_id,
            notification.monitor,
            notification.status,
            notification.severity,
            notification.window_index,
            ",".join(notification.kinds),
            subjects,
            extra={"alert": notification.to_json()},
        )
        return SendOutcome.success()
