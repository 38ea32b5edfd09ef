"""Routing and grouping of notifications; the stored JSON form; event ids."""

from __future__ import annotations

import json

import pytest
from alerts_factories import MONITOR, at, drift, quality, window
from hypothesis import given
from hypothesis import strategies as st

from alerts import (
    Finding,
    Notification,
    NotifyReason,
    PayloadError,
    PolicySettings,
    SinkRoute,
    build_notifications,
    evaluate_window,
    make_event_id,
)

SETTINGS = PolicySettings(consecutive_windows=1)


def notifications(w, routes):  # type: ignore[no-untyped-def]
    result = evaluate_window(w, {}, silences=(), settings=SETTINGS, now=w.evaluated_at)
    return build_notifications(w, result.decisions, routes)


def test_one_notification_per_window_and_route() -> None:
    w = window(
        3, drift("age", statistic=0.15), drift("income", statistic=0.5), quality("zip", severity="warning")
    )
    out = notifications(w, [SinkRoute(sink="oncall"), SinkRoute(sink="console")])
    assert [sink for sink, _ in out] == ["oncall", "console"]
    n = out[0][1]
    assert n.group == "window"
    assert n.kinds == ("data_drift", "quality")
    # most exceeded first within a severity
    assert [a.subject for a in n.alerts] == ["income", "age", "zip"]
    assert n.severity == "warning"
    assert n.event_id == make_event_id(MONITOR, "window", 3, "firing")


def test_webhook_routes_group_by_kind() -> None:
    w = window(3, drift("age"), quality("zip"))
    out = notifications(w, [SinkRoute(sink="retrain", group_by="kind")])
    assert sorted(n.group for _, n in out) == ["data_drift", "quality"]
    assert len({n.event_id for _, n in out}) == 2


def test_kind_and_severity_filters() -> None:
    w = window(1, drift("age", severity="warning"), drift("income", severity="critical"), quality("zip"))
    out = notifications(
        w,
        [
            SinkRoute(sink="retrain", kinds=frozenset({"data_drift"}), group_by="kind"),
            SinkRoute(sink="pager", min_severity="critical"),
            SinkRoute(sink="nothing", kinds=frozenset({"performance"})),
        ],
    )
    by_sink = {sink: n for sink, n in out}
    assert set(by_sink) == {"retrain", "pager"}
    assert [a.subject for a in by_sink["retrain"].alerts] == ["income", "age"]
    assert [a.subject for a in by_sink["pager"].alerts] == ["income", "zip"]


def test_resolved_alerts_use_the_notified_severity_and_a_separate_notification() -> None:
    settings = PolicySettings(consecutive_windows=1, resolve_windows=1)
    w0 = window(0, drift("age", severity="critical"))
    r0 = evaluate_window(w0, {}, silences=(), settings=settings, now=at(0))
    states = {d.state.key: d.state for d in r0.decisions}
    w1 = window(1, drift("income"))
    r1 = evaluate_window(w1, states, silences=(), settings=settings, now=at(1))
    out = build_notifications(
        w1, r1.decisions, [SinkRoute(sink="pager", min_severity="critical"), SinkRoute(sink="all")]
    )
    statuses = sorted((sink, n.status) for sink, n in out)
    assert statuses == [("all", "firing"), ("all", "resolved"), ("pager", "resolved")]
    resolved = next(n for s, n in out if s == "pager")
    assert resolved.alerts[0].severity == "critical"
    assert resolved.alerts[0].reason == NotifyReason.RESOLVED


def test_nothing_to_send_gives_no_notification() -> None:
    assert notifications(window(0), [SinkRoute(sink="all")]) == ()


def test_sink_route_validation() -> None:
    with pytest.raises(ValueError, match="severity must be one of warning, critical, got 'info'"):
        SinkRoute(sink="x", min_severity="info")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="group_by must be"):
        SinkRoute(sink="x", group_by="monitor")  # type: ignore[arg-type]


def test_event_id_is_stable_and_distinct() -> None:
    a = make_event_id("m", "data_drift", 7, "firing")
    assert a == make_event_id("m", "data_drift", 7, "firing")
    assert (
        len(
            {
                a,
                make_event_id("m", "data_drift", 7, "resolved"),
                make_event_id("m", "quality", 7, "firing"),
                make_event_id("m", "data_drift", 8, "firing"),
                make_event_id("n", "data_drift", 7, "firing"),
            }
        )
        == 5
    )
    assert len(a) == 32 and all(c in "0123456789abcdef" for c in a)


def test_notification_json_round_trip() -> None:
    w = window(
        5,
        drift("age"),
        quality("*", "volume"),
        report_url="http://r/5.html",
        dashboard_url="http://d",
        model="m1",
    )
    ((_, n),) = notifications(w, [SinkRoute(sink="all")])
    text = json.dumps(n.to_json(), allow_nan=False)
    assert Notification.from_json(json.loads(text)) == n
    assert n.history  # the factory provides a history for drift subjects


def test_bad_payload_raises_payload_error() -> None:
    with pytest.raises(PayloadError, match="version"):
        Notification.from_json({"version": 99})
    w = window(5, drift("age"))
    ((_, n),) = notifications(w, [SinkRoute(sink="all")])
    data = n.to_json()
    del data["alerts"][0]["key"]
    with pytest.raises(PayloadError, match="malformed"):
        Notification.from_json(data)


finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@given(
    subject=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
    statistic=st.none() | finite,
    threshold=st.none() | finite,
    severity=st.sampled_from(["warning", "critical"]),
    index=st.integers(min_value=0, max_value=10**5),
)
def test_notification_round_trip_property(subject, statistic, threshold, severity, index) -> None:  # type: ignore[no-untyped-def]
    f = Finding(
        monitor=MONITOR,
        kind="data_drift",
        subject=subject,
        severity=severity,
        method="psi",
        statistic=statistic,
        threshold=threshold,
    )
    w = window(index, f, history={})
    ((_, n),) = notifications(w, [SinkRoute(sink="all")])
    assert Notification.from_json(json.loads(json.dumps(n.to_json()))) == n


def test_finding_and_window_validation() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Finding(monitor="m", kind="drift", subject="a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="quality finding needs its check"):
        Finding(monitor="m", kind="quality", subject="a")
    with pytest.raises(ValueError, match=r"window\['index'\] must be an int >= 0"):
        window(-1)
    with pytest.raises(ValueError, match="differs from evaluation monitor"):
        window(0, drift(monitor="other"))


def test_window_must_be_json() -> None:
    from alerts import WindowEvaluation

    with pytest.raises(ValueError, match="window must be the contract's JSON object"):
        WindowEvaluation(monitor="m", window={"index": 1, "start": at(0)}, evaluated_at=at(0))
