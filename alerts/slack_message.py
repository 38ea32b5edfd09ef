"""Block Kit layout of a notification: readable in ten seconds at 3 a.m."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerts.finding import Kind
from alerts.notification import AlertEntry, Notification, format_time

MAX_LINES = 5
HEADER_LIMIT = 150

KIND_TITLES: dict[Kind, str] = {
    "data_drift": "data drift",
    "prediction_drift": "prediction drift",
    "concept_drift": "concept drift",
    "performance": "performance drop",
    "quality": "data quality",
}
SECTION_TITLES: dict[Kind, str] = {
    "data_drift": "Top drifted features",
    "prediction_drift": "Prediction drift",
    "concept_drift": "Concept drift",
    "performance": "Performance",
    "quality": "Quality issues",
}


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}"


def _ratio(entry: AlertEntry) -> str:
    if entry.statistic is None or not entry.threshold:
        return ""
    return f" ({entry.statistic / entry.threshold:.1f}× threshold)"


def entry_line(entry: AlertEntry) -> str:
    """One mrkdwn bullet for ``entry``; a resolved entry shows its last flagged value."""
    if entry.kind == "quality":
        name = "dataset" if entry.subject == "*" else f"`{entry.subject}`"
        measure = f"{entry.method}: {_fmt(entry.statistic)} vs threshold {_fmt(entry.threshold)}"
    elif entry.kind == "performance":
        name = f"`{entry.subject}`"
        measure = f"{_fmt(entry.statistic)} vs reference {_fmt(entry.reference)}"
        if entry.threshold is not None:
            measure += f" (threshold {_fmt(entry.threshold)})"
    elif entry.kind == "concept_drift":
        name = f"`{entry.subject}`"
        measure = "change detected" + (f": {_fmt(entry.statistic)}" if entry.statistic is not None else "")
    else:
        name = f"`{entry.subject}`"
        measure = f"{entry.method or 'statistic'} {_fmt(entry.statistic)} vs threshold {_fmt(entry.threshold)}{_ratio(entry)}"
    if entry.p_value is not None:
        measure += f", p={entry.p_value:.2g}"
    if entry.status == "resolved":
        return f":white_check_mark: {name} back to normal (last flagged: {measure})"
    icon = ":red_circle:" if entry.severity == "critical" else ":large_orange_circle:"
    detail = f" — {entry.detail}" if entry.detail else ""
    return f"{icon} {name} {measure}{detail}"


def _names(entries: Sequence[AlertEntry], limit: int = 3) -> str:
    names = [f"`{e.subject}`" for e in entries[:limit]]
    more = len(entries) - limit
    return ", ".join(names) + (f" (+{more} more)" if more > 0 else "")


def headline(notification: Notification) -> str:
    """The one-line summary: who, what, since when, how bad (also the ``text`` fallback)."""
    who = notification.monitor if not notification.model else f"{notification.model} ({notification.monitor})"
    parts = []
    for kind in notification.kinds:
        entries = [a for a in notification.alerts if a.kind == kind]
        parts.append(f"{KIND_TITLES[kind]} in {_names(entries)}")
    what = "; ".join(parts)
    index = notification.window_index
    if notification.status == "resolved":
        return f"RESOLVED {who}: {what} is back to normal as of window #{index}"
    first = min((a for a in notification.alerts if a.since is not None), key=lambda a: a.since, default=None)  # type: ignore[arg-type,return-value]
    since = ""
    if first is not None and first.since is not None:
        since = f" since window #{first.since_window} ({format_time(first.since)})"
    test = "TEST " if notification.test else ""
    return f"{test}{notification.severity.upper()} {who}: {what}{since}"


def _window_context(notification: Notification) -> str:
    w = notification.window
    parts = [f"window #{notification.window_index}"]
    if w.get("first_row") is not None and w.get("last_row") is not None:
        parts.append(f"rows {w['first_row']}–{w['last_row']}")
    if w.get("start") and w.get("end"):
        parts.append(f"{w['start']} → {w['end']}")
    parts.append(f"event `{notification.event_id[:12]}`")
    return " · ".join(parts)


def render_blocks(notification: Notification) -> list[dict[str, Any]]:
    """The Block Kit ``blocks`` of ``notification``.

    Layout: header (status, severity, monitor), a section with the headline,
    one section per kind (at most five lines each, most exceeded first),
    a context line (window, rows, time range, event id) and link buttons
    (dashboard, Evidently report) when there are links.
    """
    icon = (
        ":white_check_mark:"
        if notification.status == "resolved"
        else (":rotating_light:" if notification.severity == "critical" else ":warning:")
    )
    label = "Resolved" if notification.status == "resolved" else notification.severity.capitalize()
    title = f"{icon} {label}: {notification.model or notification.monitor}"
    if notification.test:
        title += " (test)"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_LIMIT], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": headline(notification)}},
    ]
    for kind in notification.kinds:
        entries = [a for a in notification.alerts if a.kind == kind]
        lines = [entry_line(e) for e in entries[:MAX_LINES]]
        if len(entries) > MAX_LINES:
            lines.append(f"… and {len(entries) - MAX_LINES} more")
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{SECTION_TITLES[kind]}*\n" + "\n".join(lines)},
            }
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _window_context(notification)}]}
    )
    buttons = []
    if notification.dashboard_url:
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Dashboard"},
                "url": notification.dashboard_url,
            }
        )
    if notification.report_url:
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Evidently report"},
                "url": notification.report_url,
            }
        )
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def render_text(notification: Notification) -> str:
    """Plain-text rendering (the docs' example, and a readable log form)."""
    lines = [headline(notification)]
    for kind in notification.kinds:
        entries = [a for a in notification.alerts if a.kind == kind]
        lines.append(f"{SECTION_TITLES[kind]}:")
        lines.extend(f"  {entry_line(e)}" for e in entries[:MAX_LINES])
        if len(entries) > MAX_LINES:
            lines.append(f"  … and {len(entries) - MAX_LINES} more")
    lines.append(_window_context(notification))
    if notification.dashboard_url:
        lines.append(f"Dashboard: {notification.dashboard_url}")
    if notification.report_url:
        lines.append(f"Evidently report: {notification.report_url}")
    return "\n".join(lines)
