"""Silences: time-boxed mutes of alerts matched by monitor, kind and subject globs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase

from alerts.state import AlertKey


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence:
    """Mute every alert whose key matches all three glob patterns until ``expires_at``.

    Patterns use :func:`fnmatch.fnmatchcase` syntax (``*``, ``?``, ``[ab]``).
    ``subject`` matches either the full subject (``income:missing_rate``) or
    its column (``income``).
    """

    id: str
    monitor: str = "*"
    kind: str = "*"
    subject: str = "*"
    starts_at: datetime
    expires_at: datetime
    created_by: str = ""
    comment: str = ""

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.expires_at.tzinfo is None:
            raise ValueError(
                f"silence times must be timezone-aware, got {self.starts_at!r}, {self.expires_at!r}"
            )
        if self.expires_at <= self.starts_at:
            raise ValueError(
                f"silence expires_at must be after starts_at, got {self.expires_at.isoformat()} "
                f"<= {self.starts_at.isoformat()}"
            )

    def is_active(self, now: datetime) -> bool:
        """True when ``starts_at <= now < expires_at``."""
        return self.starts_at <= now < self.expires_at

    def matches(self, key: AlertKey, now: datetime) -> bool:
        """True when the silence is active at ``now`` and its patterns match ``key``."""
        return (
            self.is_active(now)
            and fnmatchcase(key.monitor, self.monitor)
            and fnmatchcase(key.kind, self.kind)
            and (fnmatchcase(key.subject, self.subject) or fnmatchcase(key.column, self.subject))
        )
