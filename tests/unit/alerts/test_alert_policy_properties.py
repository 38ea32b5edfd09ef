"""Properties of the policy over random flag sequences (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from alerts_factories import drift, window
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts import NotifyReason, PolicySettings, evaluate_window


@settings(max_examples=150, deadline=None)
@given(
    flags=st.lists(st.booleans(), min_size=1, max_size=60),
    to_fire=st.integers(1, 4),
    to_resolve=st.integers(1, 3),
    repeat_h=st.integers(1, 30),
    send_resolved=st.booleans(),
)
def test_notifications_follow_the_episode_structure(
    flags: list[bool], to_fire: int, to_resolve: int, repeat_h: int, send_resolved: bool
) -> None:
    policy = PolicySettings(
        consecutive_windows=to_fire,
        resolve_windows=to_resolve,
        repeat_interval=timedelta(hours=repeat_h),
        send_resolved=send_resolved,
    )
    states: dict = {}
    reasons: list[tuple[int, NotifyReason]] = []
    streak = 0
    for i, flag in enumerate(flags):
        w = window(i, drift()) if flag else window(i, history={})
        result = evaluate_window(w, states, silences=(), settings=policy, now=w.evaluated_at)
        for d in result.decisions:
            states[d.state.key] = d.state
            if d.reason.notifies:
                reasons.append((i, d.reason))
        streak = streak + 1 if flag else 0
        # a first notification happens exactly when a streak reaches the firing count
        firsts_now = [r for j, r in reasons if j == i and r == NotifyReason.FIRST_NOTIFICATION]
        if firsts_now:
            assert streak == to_fire
    # firing and resolved notifications alternate, starting with a first notification
    kinds = [r for _, r in reasons if r in (NotifyReason.FIRST_NOTIFICATION, NotifyReason.RESOLVED)]
    if send_resolved:
        assert all(
            kinds[k] == (NotifyReason.FIRST_NOTIFICATION if k % 2 == 0 else NotifyReason.RESOLVED)
            for k in range(len(kinds))
        )
    else:
        assert NotifyReason.RESOLVED not in kinds
    # reminders are at least repeat_interval apart (one window per hour)
    last = None
    for i, r in reasons:
        if r == NotifyReason.REPEAT_INTERVAL_ELAPSED:
            assert last is not None and i - last >= repeat_h
        if r != NotifyReason.RESOLVED:
            last = i
    # never more notifications than windows
    assert len(reasons) <= len(flags)
