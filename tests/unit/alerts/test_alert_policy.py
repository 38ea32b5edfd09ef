"""The alert policy: should_notify exhaustively, then windows through evaluate_window."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Sequence
from datetime import timedelta

import pytest
from alerts_factories import MONITOR, T0, at, drift, quality, window

from alerts import (
    AlertKey,
    AlertState,
    Finding,
    NotifyReason,
    PolicySettings,
    Silence,
    WindowEvaluation,
    evaluate_window,
    should_notify,
    transition,
)

REPEAT = timedelta(hours=4)
KEY = AlertKey(MONITOR, "data_drift", "age")


def run(
    windows: Iterable[WindowEvaluation],
    settings: PolicySettings,
    *,
    silences: Sequence[Silence] = (),
    states: dict[AlertKey, AlertState] | None = None,
) -> tuple[list[tuple[int, str, NotifyReason]], dict[AlertKey, AlertState]]:
    """Thread states through windows; return the notifying (window, key, reason) and the final states."""
    states = dict(states or {})
    sent = []
    for w in windows:
        result = evaluate_window(w, states, silences=silences, settings=settings, now=w.evaluated_at)
        for d in result.decisions:
            states[d.state.key] = d.state
            if d.reason.notifies:
                sent.append((w.window_index, str(d.state.key), d.reason))
    return sent, states


# ---- should_notify: every combination against a decision table ---------------------------------


def expected_reason(
    prev: AlertState | None, cur: AlertState, elapsed: timedelta | None, send_resolved: bool
) -> NotifyReason:
    """The documented decision table, written independently of the implementation."""
    last = None if prev is None else prev.last_notified_status
    table = {
        "inactive": lambda: NotifyReason.NOT_FIRING,
        "pending": lambda: NotifyReason.NOT_FIRING,
        "resolved": lambda: (
            NotifyReason.NOTHING_TO_RESOLVE
            if last != "firing"
            else (NotifyReason.RESOLVED if send_resolved else NotifyReason.RESOLVED_NOT_SENT)
        ),
    }
    if cur.status in table:
        return table[cur.status]()
    if cur.muted is not None:
        return {"silence": NotifyReason.SILENCED, "inhibition": NotifyReason.INHIBITED}[cur.muted]
    if last != "firing":
        return NotifyReason.FIRST_NOTIFICATION
    assert prev is not None
    if prev.last_notified_severity == "warning" and cur.severity == "critical":
        return NotifyReason.SEVERITY_ESCALATED
    if elapsed is None or elapsed >= REPEAT:
        return NotifyReason.REPEAT_INTERVAL_ELAPSED
    return NotifyReason.DEDUPLICATED


PREVIOUS_LOGS = [
    (None, None, None),
    ("firing", "warning", timedelta(minutes=5)),
    ("firing", "critical", timedelta(minutes=5)),
    ("firing", "warning", REPEAT),
    ("firing", "critical", REPEAT + timedelta(seconds=1)),
    ("firing", "warning", REPEAT - timedelta(seconds=1)),
    ("resolved", "warning", timedelta(minutes=5)),
    ("resolved", "critical", timedelta(days=3)),
]


def all_cases() -> Iterable[tuple[object, ...]]:
    now = at(100)
    for has_previous, log, prev_status, status, muted, severity, send_resolved in itertools.product(
        (False, True),
        PREVIOUS_LOGS,
        ("inactive", "pending", "firing", "resolved"),
        ("inactive", "pending", "firing", "resolved"),
        (None, "silence", "inhibition"),
        ("warning", "critical"),
        (True, False),
    ):
        if not has_previous and (log[0] is not None or prev_status != "inactive"):
            continue
        last_status, last_severity, elapsed = log
        prev = (
            AlertState(
                key=KEY,
                status=prev_status,
                severity="warning",
                last_notified_status=last_status,
                last_notified_severity=last_severity,
                last_notified_at=None if elapsed is None else now - elapsed,
            )
            if has_previous
            else None
        )
        cur = AlertState(
            key=KEY, status=status, severity=severity, muted=muted if status == "firing" else None
        )
        yield prev, cur, elapsed, send_resolved, now


def test_should_notify_matches_decision_table() -> None:
    cases = list(all_cases())
    mismatches = []
    for prev, cur, elapsed, send_resolved, now in cases:
        got = should_notify(prev, cur, now, repeat_interval=REPEAT, send_resolved=send_resolved)  # type: ignore[arg-type]
        want = expected_reason(prev, cur, elapsed, send_resolved)  # type: ignore[arg-type]
        if got != want:
            mismatches.append((prev, cur, send_resolved, got, want))
    assert len(cases) > 1500
    assert mismatches == []


def test_should_notify_covers_every_reason() -> None:
    seen = {
        should_notify(p, c, now, repeat_interval=REPEAT, send_resolved=s)  # type: ignore[arg-type]
        for p, c, _, s, now in all_cases()
    }
    assert seen == set(NotifyReason)


def test_notifying_reasons() -> None:
    assert {r for r in NotifyReason if r.notifies} == {
        NotifyReason.FIRST_NOTIFICATION,
        NotifyReason.SEVERITY_ESCALATED,
        NotifyReason.REPEAT_INTERVAL_ELAPSED,
        NotifyReason.RESOLVED,
    }


# ---- settings validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"consecutive_windows": 0}, "consecutive_windows must be >= 1, got 0"),
        ({"resolve_windows": 0}, "resolve_windows must be >= 1"),
        ({"repeat_interval": timedelta(0)}, "repeat_interval must be positive"),
        ({"consecutive_windows_by_kind": {"drift": 2}}, "kind must be one of"),
        ({"consecutive_windows_by_kind": {"quality": 0}}, "consecutive_windows for quality must be >= 1"),
    ],
)
def test_settings_reject_bad_values(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PolicySettings(**kwargs)  # type: ignore[arg-type]


# ---- transitions -------------------------------------------------------------------------------


def test_transition_without_alert_or_finding_is_none() -> None:
    assert transition(None, KEY, None, window_index=0, at=T0, settings=PolicySettings()) is None


def test_consecutive_windows_before_firing() -> None:
    settings = PolicySettings(consecutive_windows=3, resolve_windows=1)
    sent, states = run([window(i, drift()) for i in range(5)], settings)
    assert sent == [(2, str(KEY), NotifyReason.FIRST_NOTIFICATION)]
    state = states[KEY]
    assert state.status == "firing"
    assert state.since == at(0)
    assert state.since_window == 0
    assert state.flagged_streak == 5


def test_a_clear_window_resets_the_pending_streak() -> None:
    settings = PolicySettings(consecutive_windows=2)
    sent, states = run([window(0, drift()), window(1), window(2, drift()), window(3)], settings)
    assert sent == []
    assert states[KEY].status == "inactive"


def test_per_kind_consecutive_windows() -> None:
    settings = PolicySettings(consecutive_windows=3, consecutive_windows_by_kind={"quality": 1})
    sent, _ = run([window(0, drift(), quality())], settings)
    assert sent == [(0, f"{MONITOR}/quality/income:missing_rate", NotifyReason.FIRST_NOTIFICATION)]


def test_dedup_then_repeat_then_escalation() -> None:
    settings = PolicySettings(consecutive_windows=1, repeat_interval=timedelta(hours=4))
    windows = [window(i, drift()) for i in range(10)] + [window(10, drift(severity="critical"))]
    sent, _ = run(windows, settings)
    assert [(w, r) for w, _, r in sent] == [
        (0, NotifyReason.FIRST_NOTIFICATION),
        (4, NotifyReason.REPEAT_INTERVAL_ELAPSED),
        (8, NotifyReason.REPEAT_INTERVAL_ELAPSED),
        (10, NotifyReason.SEVERITY_ESCALATED),
    ]


def test_resolution_needs_resolve_windows_clear_windows() -> None:
    settings = PolicySettings(consecutive_windows=1, resolve_windows=2)
    sent, states = run([window(0, drift()), window(1), window(2), window(3)], settings)
    assert [(w, r) for w, _, r in sent] == [(0, NotifyReason.FIRST_NOTIFICATION), (2, NotifyReason.RESOLVED)]
    assert states[KEY].status == "resolved"
    assert states[KEY].last_notified_status == "resolved"


def test_no_resolved_notification_when_send_resolved_is_off() -> None:
    settings = PolicySettings(consecutive_windows=1, resolve_windows=1, send_resolved=False)
    sent, states = run([window(0, drift()), window(1), window(2, drift())], settings)
    assert [(w, r) for w, _, r in sent] == [
        (0, NotifyReason.FIRST_NOTIFICATION),
        (2, NotifyReason.FIRST_NOTIFICATION),
    ]
    assert states[KEY].status == "firing"


def test_refiring_after_resolution_is_a_first_notification_with_new_since() -> None:
    settings = PolicySettings(consecutive_windows=1, resolve_windows=1)
    sent, states = run([window(0, drift()), window(1), window(2, drift())], settings)
    assert [r for _, _, r in sent] == [
        NotifyReason.FIRST_NOTIFICATION,
        NotifyReason.RESOLVED,
        NotifyReason.FIRST_NOTIFICATION,
    ]
    assert states[KEY].since_window == 2


def test_kinds_not_evaluated_keep_their_state() -> None:
    settings = PolicySettings(consecutive_windows=1, resolve_windows=1)
    perf = Finding(monitor=MONITOR, kind="performance", subject="accuracy", method="accuracy", statistic=0.8)
    no_labels = frozenset({"data_drift", "prediction_drift", "concept_drift", "quality"})
    sent, states = run([window(0, perf), window(1, evaluated_kinds=no_labels)], settings)
    assert [r for _, _, r in sent] == [NotifyReason.FIRST_NOTIFICATION]
    assert states[AlertKey(MONITOR, "performance", "accuracy")].status == "firing"


def test_duplicate_findings_keep_the_most_severe() -> None:
    settings = PolicySettings(consecutive_windows=1)
    _, states = run([window(0, drift(severity="warning"), drift(severity="critical"))], settings)
    assert states[KEY].severity == "critical"


def test_other_monitors_states_are_left_alone() -> None:
    settings = PolicySettings(consecutive_windows=1, resolve_windows=1)
    other = AlertState(
        key=AlertKey("other", "data_drift", "age"), status="firing", last_notified_status="firing"
    )
    result = evaluate_window(window(0), {other.key: other}, silences=(), settings=settings, now=at(0))
    assert result.decisions == ()


def test_window_replay_is_not_the_policys_job_but_states_are_monotonic() -> None:
    settings = PolicySettings(consecutive_windows=1)
    _, states = run([window(0, drift()), window(1, drift())], settings)
    assert states[KEY].last_window_index == 1


# ---- silences ----------------------------------------------------------------------------------


def silence(**patterns: str) -> Silence:
    return Silence(id="s1", starts_at=at(2), expires_at=at(5), **patterns)


@pytest.mark.parametrize(
    ("patterns", "silenced"),
    [
        ({}, True),
        ({"monitor": "fraud"}, True),
        ({"monitor": "fr*"}, True),
        ({"monitor": "other"}, False),
        ({"kind": "data_drift"}, True),
        ({"kind": "quality"}, False),
        ({"kind": "*_drift", "subject": "a?e"}, True),
        ({"subject": "income"}, False),
    ],
)
def test_silence_patterns(patterns: dict[str, str], silenced: bool) -> None:
    assert silence(**patterns).matches(KEY, at(3)) is silenced


def test_silence_subject_matches_a_quality_alerts_column() -> None:
    key = AlertKey(MONITOR, "quality", "income:missing_rate")
    assert silence(subject="income").matches(key, at(3))
    assert silence(subject="income:missing_rate").matches(key, at(3))
    assert not silence(subject="income:out_of_range").matches(key, at(3))


def test_silence_is_active_only_in_its_interval() -> None:
    s = silence()
    assert [s.is_active(at(i)) for i in range(7)] == [False, False, True, True, True, False, False]


def test_silence_rejects_bad_interval() -> None:
    with pytest.raises(ValueError, match="expires_at must be after starts_at"):
        Silence(id="x", starts_at=at(2), expires_at=at(2))
    with pytest.raises(ValueError, match="timezone-aware"):
        Silence(id="x", starts_at=at(2).replace(tzinfo=None), expires_at=at(3))


def test_silenced_alert_is_not_notified_until_the_silence_expires() -> None:
    settings = PolicySettings(consecutive_windows=1, repeat_interval=timedelta(days=1))
    sent, states = run([window(i, drift()) for i in range(7)], settings, silences=[silence()])
    # fires at 0 (before the silence), silenced 2..4 (no reminder anyway), not re-notified after
    assert [(w, r) for w, _, r in sent] == [(0, NotifyReason.FIRST_NOTIFICATION)]
    assert states[KEY].muted is None


def test_alert_that_starts_firing_under_a_silence_notifies_when_it_expires() -> None:
    settings = PolicySettings(consecutive_windows=1)
    sent, _ = run([window(i, drift()) for i in range(2, 7)], settings, silences=[silence()])
    assert [(w, r) for w, _, r in sent] == [(5, NotifyReason.FIRST_NOTIFICATION)]


def test_resolution_of_a_notified_alert_is_sent_even_when_silenced() -> None:
    settings = PolicySettings(consecutive_windows=1, resolve_windows=1)
    sent, _ = run([window(1, drift()), window(2), window(3)], settings, silences=[silence()])
    assert [(w, r) for w, _, r in sent] == [(1, NotifyReason.FIRST_NOTIFICATION), (2, NotifyReason.RESOLVED)]


# ---- inhibition --------------------------------------------------------------------------------


def test_quality_alert_on_a_column_inhibits_drift_on_that_column_only() -> None:
    settings = PolicySettings(consecutive_windows=1)
    sent, states = run([window(0, drift("income"), drift("age"), quality("income"))], settings)
    keys = {k for _, k, _ in sent}
    assert keys == {f"{MONITOR}/data_drift/age", f"{MONITOR}/quality/income:missing_rate"}
    assert states[AlertKey(MONITOR, "data_drift", "income")].muted == "inhibition"


def test_drift_notifies_once_the_quality_problem_is_gone() -> None:
    settings = PolicySettings(consecutive_windows=1, resolve_windows=1, send_resolved=False)
    sent, _ = run([window(0, drift("income"), quality("income")), window(1, drift("income"))], settings)
    assert [(w, k, r) for w, k, r in sent if "data_drift" in k] == [
        (1, f"{MONITOR}/data_drift/income", NotifyReason.FIRST_NOTIFICATION)
    ]


def test_source_down_inhibits_every_drift_kind_but_not_quality() -> None:
    settings = PolicySettings(consecutive_windows=1)
    concept = Finding(monitor=MONITOR, kind="concept_drift", subject="adwin", method="adwin")
    sent, _ = run([window(0, drift(), concept, quality(), source_down=True)], settings)
    assert [k for _, k, _ in sent] == [f"{MONITOR}/quality/income:missing_rate"]


def test_stale_source_freshness_check_inhibits_drift() -> None:
    settings = PolicySettings(consecutive_windows=1)
    stale = quality("*", "freshness")
    sent, _ = run([window(0, drift(), stale)], settings)
    assert [k for _, k, _ in sent] == [f"{MONITOR}/quality/*:freshness"]


def test_dataset_level_volume_check_does_not_inhibit_drift() -> None:
    settings = PolicySettings(consecutive_windows=1)
    sent, _ = run([window(0, drift(), quality("*", "volume"))], settings)
    assert len(sent) == 2


# ---- flapping ----------------------------------------------------------------------------------


def test_flapping_feature_over_50_windows_gives_few_notifications() -> None:
    rng = random.Random(20260101)
    flags = [rng.random() < 0.5 for _ in range(50)]
    settings = PolicySettings(consecutive_windows=2, resolve_windows=2, repeat_interval=timedelta(hours=24))
    windows = [window(i, drift()) if flag else window(i) for i, flag in enumerate(flags)]
    sent, _ = run(windows, settings)
    # reference count: a direct simulation of the documented rules
    firing, flagged, clear, expected = False, 0, 0, 0
    last_sent = None
    for i, flag in enumerate(flags):
        flagged, clear = (flagged + 1, 0) if flag else (0, clear + 1)
        if not firing and flagged >= 2:
            firing, expected, last_sent = True, expected + 1, i
        elif firing and clear >= 2:
            firing, expected = False, expected + 1
        elif firing and last_sent is not None and i - last_sent >= 24:
            expected, last_sent = expected + 1, i
    assert len(sent) == expected
    assert len(sent) <= 12
    # with no hysteresis the same flags would notify far more often
    noisy, _ = run(windows, PolicySettings(consecutive_windows=1, resolve_windows=1))
    assert len(noisy) > 2 * len(sent)


def test_strictly_alternating_feature_never_fires_with_two_consecutive_windows() -> None:
    windows = [window(i, drift()) if i % 2 == 0 else window(i) for i in range(50)]
    sent, _ = run(windows, PolicySettings(consecutive_windows=2))
    assert sent == []
