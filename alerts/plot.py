"""A small PNG of the worst subjects' statistic over recent windows (matplotlib, Agg)."""

from __future__ import annotations

import io

from alerts.finding import HistoryPoint
from alerts.notification import Notification

MAX_SERIES = 3


def render_plot(notification: Notification, *, max_series: int = MAX_SERIES) -> bytes | None:
    """PNG bytes plotting ``statistic`` per window for the worst notified subjects.

    The subjects are the first ``max_series`` alerts (already sorted most
    exceeded first) that have at least two history points; each series'
    threshold is drawn dashed. Returns ``None`` when there is nothing to plot.
    Uses an explicit ``Figure`` and Agg canvas: no pyplot, no global backend.
    """
    series: list[tuple[str, tuple[HistoryPoint, ...]]] = []
    for entry in notification.alerts:
        points = notification.history.get(entry.subject, ())
        if len(points) >= 2 and entry.subject not in {s for s, _ in series}:
            series.append((entry.subject, points))
        if len(series) >= max_series:
            break
    if not series:
        return None
    # imported here: matplotlib takes about half a second to import, and only Slack plots need it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for i, (subject, points) in enumerate(series):
        color = f"C{i}"
        xs = [p.window_index for p in points]
        axes.plot(xs, [p.statistic for p in points], marker="o", markersize=3, color=color, label=subject)
        thresholds = [p.threshold for p in points if p.threshold is not None]
        if len(thresholds) == len(points):
            axes.plot(xs, thresholds, linestyle="--", linewidth=1, color=color, alpha=0.7)
    axes.set_xlabel("window")
    axes.set_ylabel("statistic")
    axes.set_title(f"{notification.monitor}: statistic vs threshold (dashed)", fontsize=9)
    axes.legend(fontsize=8, loc="upper left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
