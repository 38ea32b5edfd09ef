"""The dashboard: one self-contained HTML page (inline CSS and vanilla JS, no external assets).

The page fetches the JSON API of :mod:`monitor.http` (``/api/monitors``, ``/api/monitors/{name}/results``,
``/api/sources``, ``/api/alerts``, ``/api/dead-letters``, ``/readyz``) and draws, per monitor, SVG
charts of each feature's drift statistic against its threshold (drifted windows in red), the
drift share, prediction drift and performance over windows, the last window's quality issues and
links to evidently reports (``report_url`` members of the results).
"""

from __future__ import annotations

import html
from importlib import resources

__all__ = ["render_dashboard"]


def render_dashboard(*, title: str = "driftwarden", refresh_s: float = 10.0, max_windows: int = 200) -> bytes:
    """Return the dashboard page as UTF-8 HTML.

    Parameters
    ----------
    title
        The page title.
    refresh_s
        Seconds between refreshes of the data in the browser.
    max_windows
        How many of each monitor's latest windows the charts show (1 to 10000).
    """
    if not refresh_s > 0:
        raise ValueError(f"refresh_s must be > 0, got {refresh_s!r}")
    if not 1 <= max_windows <= 10_000:
        raise ValueError(f"max_windows must be in [1, 10000], got {max_windows!r}")
    template = resources.files("monitor").joinpath("static/dashboard.html").read_text(encoding="utf-8")
    page = (
        template.replace("__TITLE__", html.escape(title))
        .replace("__REFRESH_MS__", str(int(refresh_s * 1000)))
        .replace("__MAX_WINDOWS__", str(int(max_windows)))
    )
    return page.encode("utf-8")
