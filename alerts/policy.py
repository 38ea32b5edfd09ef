"""The alert policy: pure state transitions and the notification decision.

Nothing here reads a clock or the store: the window, the previous states,
the silences and ``now`` are passed in, and frozen results come out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from alerts.finding import (
    DATASET_SUBJECT,
    DRIFT_KINDS,
    SOURCE_STALE_CHECKS,
    Finding,
    Kind,
    WindowEvaluation,
    check_kind,
    severity_rank,
)
from alerts.reason import NotifyReason
from alerts.silence import Silence
from alerts.state import AlertKey, AlertState, Mute


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySettings:
    """The ``[alerts]`` settings.

    Attributes
    ----------
    consecutive_windows:
        Flagged windows in a row before an alert fires (``>= 1``).
    consecutive_windows_by_kind:
        Per-kind override of ``consecutive_windows``.
    resolve_windows:
        Clear windows in a row before a firing alert resolves (``>= 1``);
        values above 1 keep a flapping signal from firing and resolving
        on every other window.
    repeat_interval:
        A firing alert is notified again after this long (a reminder).
    send_resolved:
        Notify when a notified alert resolves.
    """

    consecutive_windows: int = 2
    consecutive_windows_by_kind: Mapping[Kind, int] = field(default_factory=dict)
    resolve_windows: int = 2
    repeat_interval: timedelta = timedelta(hours=4)
    send_resolved: bool = True

    def __post_init__(self) -> None:
        if self.consecutive_windows < 1:
            raise ValueError(f"consecutive_windows must be >= 1, got {self.consecutive_windows!r}")
        if self.resolve_windows < 1:
            raise ValueError(f"resolve_windows must be >= 1, got {self.resolve_windows!r}")
        if self.repeat_interval <= timedelta(0):
            raise ValueError(f"repeat_interval must be positive, got {self.repeat_interval!r}")
        for kind, count in self.consecutive_windows_by_kind.items():
            check_kind(kind)
            if count < 1:
                raise ValueError(f"consecutive_windows for {kind} must be >= 1, got {count!r}")
        object.__setattr__(
            self, "consecutive_windows_by_kind", MappingProxyType(dict(self.consecutive_windows_by_kind))
        )

    def windows_to_fire(self, kind: Kind) -> int:
        """Flagged windows in a row needed before an alert of ``kind`` fires."""
        return self.consecutive_windows_by_kind.get(kind, self.consecutive_windows)


def should_notify(
    previous: AlertState | None,
    current: AlertState,
    now: datetime,
    *,
    repeat_interval: timedelta,
    send_resolved: bool,
) -> NotifyReason:
    """Decide whether ``current`` must be notified, and why.

    Parameters
    ----------
    previous:
        The alert's state before this window (its ``last_notified_*`` fields
        are the notification log), or ``None`` for a new alert.
    current:
        The state after this window (status, severity, ``muted``).
    now:
        Decision time (timezone-aware).
    repeat_interval:
        Reminder interval for an alert that stays firing.
    send_resolved:
        Whether resolutions are notified.

    Returns
    -------
    NotifyReason
        ``reason.notifies`` tells whether to send.

    Notes
    -----
    A resolution is notified even when the alert is muted: whoever received
    the firing notification deserves to hear that it ended.
    """
    last_status = previous.last_notified_status if previous is not None else None
    if current.status in ("inactive", "pending"):
        return NotifyReason.NOT_FIRING
    if current.status == "resolved":
        if last_status != "firing":
            return NotifyReason.NOTHING_TO_RESOLVE
        return NotifyReason.RESOLVED if send_resolved else NotifyReason.RESOLVED_NOT_SENT
    if current.muted == "silence":
        return NotifyReason.SILENCED
    if current.muted == "inhibition":
        return NotifyReason.INHIBITED
    if previous is None or last_status != "firing":
        return NotifyReason.FIRST_NOTIFICATION
    if previous.last_notified_severity is not None and severity_rank(current.severity) > severity_rank(
        previous.last_notified_severity
    ):
        return NotifyReason.SEVERITY_ESCALATED
    if previous.last_notified_at is None or now - previous.last_notified_at >= repeat_interval:
        return NotifyReason.REPEAT_INTERVAL_ELAPSED
    return NotifyReason.DEDUPLICATED


def record_decision(state: AlertState, reason: NotifyReason, now: datetime) -> AlertState:
    """Return ``state`` with its notification bookkeeping updated for ``reason``."""
    if reason in (NotifyReason.RESOLVED, NotifyReason.RESOLVED_NOT_SENT):
        return state.with_changes(last_notified_at=now, last_notified_status="resolved")
    if reason.notifies:
        return state.with_changes(
            last_notified_at=now, last_notified_status="firing", last_notified_severity=state.severity
        )
    return state


def transition(
    previous: AlertState | None,
    key: AlertKey,
    finding: Finding | None,
    *,
    window_index: int,
    at: datetime,
    settings: PolicySettings,
) -> AlertState | None:
    """Advance one alert by one window (``finding`` is ``None`` for a clear window).

    Returns ``None`` when there was no alert and there is still none. The
    returned state has ``muted=None``; muting is decided for the whole window
    by :func:`evaluate_window`.
    """
    if finding is not None:
        ongoing = previous is not None and previous.status in ("pending", "firing")
        streak = (previous.flagged_streak if ongoing and previous is not None else 0) + 1
        base = previous if ongoing and previous is not None else None
        firing = (previous is not None and previous.status == "firing") or streak >= settings.windows_to_fire(
            key.kind
        )
        return AlertState(
            key=key,
            status="firing" if firing else "pending",
            severity=finding.severity,
            flagged_streak=streak,
            clear_streak=0,
            since=base.since if base is not None else at,
            since_window=base.since_window if base is not None else window_index,
            last_window_index=window_index,
            finding=finding,
            muted=None,
            last_notified_at=previous.last_notified_at if previous else None,
            last_notified_status=previous.last_notified_status if previous else None,
            last_notified_severity=previous.last_notified_severity if previous else None,
        )
    if previous is None:
        return None
    clear = previous.clear_streak + 1
    if previous.status == "firing":
        status = "resolved" if clear >= settings.resolve_windows else "firing"
    elif previous.status == "pending":
        status = "inactive"
    else:
        status = previous.status
    return previous.with_changes(
        status=status, flagged_streak=0, clear_streak=clear, last_window_index=window_index, muted=None
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The state of one alert after a window and whether/why it is notified."""

    state: AlertState
    reason: NotifyReason


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyResult:
    """Outcome of :func:`evaluate_window`: one decision per alert touched by the window."""

    decisions: tuple[Decision, ...]

    @property
    def states(self) -> tuple[AlertState, ...]:
        """The new states to store."""
        return tuple(d.state for d in self.decisions)

    def to_notify(self) -> tuple[Decision, ...]:
        """The decisions that must be notified."""
        return tuple(d for d in self.decisions if d.reason.notifies)


def _mute_for(
    state: AlertState,
    *,
    silences: Iterable[Silence],
    now: datetime,
    flagged_quality_columns: frozenset[str],
    source_stale: bool,
) -> Mute | None:
    if state.status != "firing":
        return None
    if any(s.matches(state.key, now) for s in silences):
        return "silence"
    if state.key.kind in DRIFT_KINDS and source_stale:
        return "inhibition"
    if state.key.kind == "data_drift" and state.key.column in flagged_quality_columns:
        return "inhibition"
    return None


def evaluate_window(
    evaluation: WindowEvaluation,
    states: Mapping[AlertKey, AlertState],
    *,
    silences: Iterable[Silence],
    settings: PolicySettings,
    now: datetime,
) -> PolicyResult:
    """Apply one window to the monitor's alert states and decide the notifications.

    Parameters
    ----------
    evaluation:
        The window's findings.
    states:
        The monitor's current alert states (other monitors' states are ignored).
    silences:
        Silences to apply (inactive ones are ignored).
    settings:
        The ``[alerts]`` settings.
    now:
        Decision time: silences, repeat interval and bookkeeping use it.

    Returns
    -------
    PolicyResult
        One decision per alert that had a finding or a state of an evaluated kind.

    Notes
    -----
    Inhibition: a pending or firing quality alert on column *c* mutes the
    ``data_drift`` alert on *c*; ``evaluation.source_down`` or a pending or
    firing dataset-level ``freshness`` alert mutes every drift-kind alert
    (data, prediction, concept, performance) of the monitor.
    """
    silences = tuple(silences)
    by_key: dict[AlertKey, Finding] = {}
    for finding in evaluation.findings:
        key = AlertKey.of(finding)
        kept = by_key.get(key)
        if kept is None or severity_rank(finding.severity) > severity_rank(kept.severity):
            by_key[key] = finding
    keys = set(by_key)
    keys.update(k for k in states if k.monitor == evaluation.monitor and k.kind in evaluation.evaluated_kinds)
    advanced: dict[AlertKey, AlertState] = {}
    for key in sorted(keys):
        new = transition(
            states.get(key),
            key,
            by_key.get(key),
            window_index=evaluation.window_index,
            at=evaluation.evaluated_at,
            settings=settings,
        )
        if new is not None:
            advanced[key] = new
    live_quality = [
        s for s in advanced.values() if s.key.kind == "quality" and s.status in ("pending", "firing")
    ]
    flagged_columns = frozenset(s.key.column for s in live_quality if s.key.column != DATASET_SUBJECT)
    source_stale = evaluation.source_down or any(
        s.key.column == DATASET_SUBJECT and s.key.subject.rsplit(":", 1)[-1] in SOURCE_STALE_CHECKS
        for s in live_quality
    )
    decisions = []
    for key, state in advanced.items():
        muted = _mute_for(
            state,
            silences=silences,
            now=now,
            flagged_quality_columns=flagged_columns,
            source_stale=source_stale,
        )
        state = state.with_changes(muted=muted)
        reason = should_notify(
            states.get(key),
            state,
            now,
            repeat_interval=settings.repeat_interval,
            send_resolved=settings.send_resolved,
        )
        decisions.append(Decision(state=record_decision(state, reason, now), reason=reason))
    return PolicyResult(decisions=tuple(decisions))
