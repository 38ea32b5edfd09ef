"""The dashboard in real headless Chromium, fed by a real server with synthetic window results.

Chromium is Debian's ``chromium`` (``apt-get install chromium``); without it the test is skipped
locally and fails in CI (``CI=true``).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib import image

from monitor.http import HttpServer, MonitorView, SourceView
from monitor.metrics import Metrics
from monitor.store import ProgressUpdate, Store, WindowRecord

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

LINE_RGB = (0x25, 0x63, 0xEB)  # COLORS.line of the dashboard: statistic lines
DRIFT_RGB = (0xDC, 0x26, 0x26)  # COLORS.drift: drifted windows
SHARE_RGB = (0x7C, 0x3A, 0xED)  # COLORS.share: drift share line
FEATURES = ("age", "income", "country", "tenure")
WINDOWS = 40
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        message = "headless Chromium not installed (apt-get install chromium)"
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message}; CI=true: a missing browser is a failure", pytrace=False)
        pytest.skip(message)
    return found


def synthetic_result(index: int) -> dict[str, Any]:
    """Window ``index`` of a stream whose ``age`` and ``tenure`` drift from window 25 on."""
    rng = np.random.default_rng(index)
    shift = max(0, index - 25) / 10
    features = {}
    for name, method, threshold in (("age", "wasserstein", 0.1), ("income", "psi", 0.2)):
        statistic = abs(rng.normal(0.03, 0.01)) + (shift * 0.15 if name == "age" else 0.0)
        features[name] = {
            "type": "numeric",
            "method": method,
            "statistic": statistic,
            "p_value": None,
            "threshold": threshold,
            "drift_detected": statistic > threshold,
        }
    for name, method in (("country", "chi2"), ("tenure", "ks")):
        p_value = float(rng.uniform(0.2, 0.9)) * (math.exp(-12 * shift) if name == "tenure" else 1.0)
        features[name] = {
            "type": "categorical" if name == "country" else "numeric",
            "method": method,
            "statistic": 0.1,
            "p_value": p_value,
            "threshold": 0.05,
            "drift_detected": p_value < 0.05,
        }
    drifted = sum(test["drift_detected"] for test in features.values())
    start = T0 + timedelta(hours=index)
    result: dict[str, Any] = {
        "drift_detected": drifted > 0,
        "drift_share": drifted / len(features),
        "rows": 1000,
        "window": {
            "index": index,
            "first_row": index * 1000,
            "last_row": index * 1000 + 999,
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "features": features,
        "prediction": {
            "type": "numeric",
            "method": "psi",
            "statistic": 0.02 + shift * 0.05,
            "p_value": None,
            "threshold": 0.2,
            "drift_detected": 0.02 + shift * 0.05 > 0.2,
        },
        "target": None,
        "performance": {
            "metric": "accuracy",
            "value": 0.9 - shift * 0.02,
            "reference": 0.9,
            "drift_detected": shift > 1,
        },
        "concept": {"method": "adwin", "drift_detected": shift > 1, "detail": "mean of errors rose"},
        "quality": {
            "issues": [
                {
                    "column": "income",
                    "check": "missing_rate",
                    "value": 0.31,
                    "threshold": 0.05,
                    "severity": "critical",
                }
            ]
            if index > 30
            else []
        },
    }
    if index % 10 == 0:
        result["report_url"] = f"/reports/demo/{index}.html"
    return result


@dataclass
class DemoView:
    def monitor_views(self) -> Sequence[MonitorView]:
        return [MonitorView(name="demo", source="stream")]

    def source_views(self) -> Sequence[SourceView]:
        return [SourceView(name="stream", kind="file", connected=True, lag={"0": 3})]

    def firing_alerts(self, monitor: str) -> Sequence[str]:
        return ["demo:data_drift"]

    def recent_alerts(self, limit: int) -> Sequence[Mapping[str, Any]]:
        return [
            {
                "event_id": "e-1",
                "kind": "data_drift",
                "status": "firing",
                "severity": "critical",
                "monitor": "demo",
                "sent_at": "2026-01-02T15:00:00Z",
                "subjects": [{"name": "age", "method": "wasserstein", "statistic": 0.4, "threshold": 0.1}],
                "report_url": "/reports/demo/30.html",
            }
        ]

    def is_draining(self) -> bool:
        return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HttpServer]:
    store = Store.open(f"sqlite:///{tmp_path / 'dash.db'}")
    store.commit_progress(
        ProgressUpdate(
            monitor="demo",
            source="stream",
            checkpoint={"row": WINDOWS * 1000},
            next_row=WINDOWS * 1000,
            next_window_index=WINDOWS,
            rows_added=WINDOWS * 1000,
            windows=tuple(WindowRecord.from_result(synthetic_result(i)) for i in range(WINDOWS)),
        )
    )
    reports = tmp_path / "reports" / "demo"
    reports.mkdir(parents=True)
    (reports / "30.html").write_text("<html>evidently</html>")
    (reports / "window-35.html").write_text("<html>evidently</html>")  # listed by /api/reports only
    running = HttpServer(store, Metrics(), DemoView(), port=0, reports_dir=tmp_path / "reports")
    running.start()
    yield running
    running.stop()
    store.dispose()


def run_chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    command = [
        chromium_binary(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
        "--virtual-time-budget=5000",
        "--enable-logging=stderr",
        *extra,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def pixels_near(picture: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 24) -> int:
    channels = picture[..., :3]
    if channels.dtype != np.uint8:
        channels = np.round(channels * 255).astype(np.int16)
    distance = np.abs(channels.astype(np.int16) - np.array(rgb, dtype=np.int16)).max(axis=-1)
    return int((distance <= tolerance).sum())


def test_dashboard_draws_charts_in_chromium(server: HttpServer, tmp_path: Path) -> None:
    url = f"{server.url}/dashboard"
    shot = tmp_path / "dashboard.png"
    done = run_chromium(tmp_path, url, f"--screenshot={shot}")
    assert shot.exists(), done.stderr[-3000:]
    assert "Uncaught" not in done.stderr, done.stderr[-3000:]
    picture = image.imread(shot)
    assert picture.shape[:2] == (1600, 1280)
    assert pixels_near(picture, LINE_RGB) > 1500, "statistic lines not drawn"
    assert pixels_near(picture, DRIFT_RGB) > 300, "drifted points not drawn"
    assert pixels_near(picture, SHARE_RGB) > 200, "drift share line not drawn"

    dumped = run_chromium(tmp_path, url, "--dump-dom")
    dom = dumped.stdout
    assert 'data-rendered="true"' in dom, dumped.stderr[-3000:]
    assert '<div class="error" id="error" style="display: none;"></div>' in dom
    feature_lines = re.findall(r'<path class="dw-line feature-line"[^>]* d="M[\d. L]+"', dom)
    assert len(feature_lines) == len(FEATURES)
    assert len(re.findall(r'<circle class="dw-drift"', dom)) >= 15
    for name in FEATURES:
        assert f'data-feature="{name}"' in dom
    assert 'href="/reports/demo/30.html"' in dom
    assert re.search(
        r'<a class="pill report bad" href="/reports/demo/window-35.html"[^>]*>window #35</a>', dom
    )
    assert "missing_rate" in dom and "firing: demo:data_drift" in dom
    # drifted features are sorted first
    order = [dom.index(f'data-feature="{name}"') for name in ("age", "tenure", "income")]
    assert order[0] < order[2] and order[1] < order[2]
