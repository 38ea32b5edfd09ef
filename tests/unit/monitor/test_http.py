"""HTTP server: every endpoint of the DESIGN.md HTTP contract against a real server on an ephemeral port."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from monitor.http import HttpServer, MonitorView, SourceView
from monitor.metrics import Metrics
from monitor.store import ProgressUpdate, Store, StoreError, WindowRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Letter:
    source: str
    position: str
    reason: str
    detail: str = ""
    raw: bytes | None = None


@dataclass
class FakeView:
    """A ServiceView test double with settable live state."""

    monitors: list[MonitorView] = field(default_factory=lambda: [MonitorView(name="demo", source="stream")])
    sources: list[SourceView] = field(
        default_factory=lambda: [
            SourceView(name="stream", kind="kafka", connected=True, lag={"0": 5, "1": 2})
        ]
    )
    firing: dict[str, list[str]] = field(default_factory=lambda: {"demo": ["demo:data_drift"]})
    alerts: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"event_id": "e1", "kind": "data_drift", "status": "firing", "monitor": "demo"}
        ]
    )
    draining: bool = False

    def monitor_views(self) -> Sequence[MonitorView]:
        return self.monitors

    def source_views(self) -> Sequence[SourceView]:
        return self.sources

    def firing_alerts(self, monitor: str) -> Sequence[str]:
        return self.firing.get(monitor, [])

    def recent_alerts(self, limit: int) -> Sequence[Mapping[str, Any]]:
        return self.alerts[:limit]

    def is_draining(self) -> bool:
        return self.draining


def make_result(index: int) -> dict[str, Any]:
    return {
        "drift_detected": index >= 3,
        "drift_share": 1.0 if index >= 3 else 0.0,
        "rows": 50,
        "window": {
            "index": index,
            "first_row": index * 50,
            "last_row": index * 50 + 49,
            "start": None,
            "end": None,
        },
        "features": {
            "x": {
                "type": "numeric",
                "method": "ks",
                "statistic": 0.4,
                "p_value": 0.001,
                "threshold": 0.05,
                "drift_detected": index >= 3,
            }
        },
        "prediction": None,
        "target": None,
        "performance": None,
        "concept": None,
        "quality": {"issues": []},
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'http.db'}")
    opened.commit_progress(
        ProgressUpdate(
            monitor="demo",
            source="stream",
            checkpoint={"0": 250},
            next_row=260,
            next_window_index=5,
            rows_added=262,
            windows=tuple(WindowRecord.from_result(make_result(i)) for i in range(5)),
            dead_letters=(
                Letter(source="stream", position="partition=0 offset=3", reason="invalid_json", raw=b"{oops"),
                Letter(source="stream", position="partition=1 offset=9", reason="oversize"),
            ),
        )
    )
    yield opened
    opened.dispose()


@pytest.fixture
def view() -> FakeView:
    return FakeView()


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    directory = tmp_path / "reports"
    (directory / "demo").mkdir(parents=True)
    (directory / "demo" / "3.html").write_text("<html>report 3</html>")
    (directory / ".hidden.html").write_text("hidden")
    (tmp_path / "secret.txt").write_text("do not serve")
    return directory


@pytest.fixture
def server(store: Store, view: FakeView, reports: Path) -> Iterator[HttpServer]:
    running = HttpServer(store, Metrics(), view, host="127.0.0.1", port=0, reports_dir=reports)
    running.start()
    yield running
    running.stop()


def request(server: HttpServer, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def get_json(server: HttpServer, path: str) -> tuple[int, Any]:
    status, headers, body = request(server, path)
    assert headers["content-type"] == "application/json"
    return status, json.loads(body)


def test_port_zero_binds_an_ephemeral_port_and_stop_releases_it(store: Store, view: FakeView) -> None:
    running = HttpServer(store, Metrics(), view, port=0)
    with pytest.raises(RuntimeError, match="not started"):
        running.url  # noqa: B018
    running.start()
    port = running.port
    assert port > 0 and running.url == f"http://127.0.0.1:{port}"
    running.stop()
    running.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    # alerts sent while the daemon drains, after the server stopped, still link to it
    assert running.url == f"http://127.0.0.1:{port}"


def test_healthz_reports_draining_but_stays_ok(server: HttpServer, view: FakeView) -> None:
    assert get_json(server, "/healthz") == (200, {"status": "ok"})
    view.draining = True
    assert get_json(server, "/healthz") == (200, {"status": "draining"})


def test_readyz(server: HttpServer, view: FakeView, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_json(server, "/readyz") == (200, {"ready": True})
    view.sources = [SourceView(name="stream", kind="kafka", connected=False, reason="broker down")]
    status, body = get_json(server, "/readyz")
    assert status == 503 and body == {"ready": False, "reason": "source stream not connected: broker down"}
    view.sources = []
    monkeypatch.setattr(store, "ping", lambda: False)
    assert get_json(server, "/readyz") == (503, {"ready": False, "reason": "store unreachable"})
    view.draining = True
    status, body = get_json(server, "/readyz")
    assert status == 503 and body["reason"].startswith("draining")


def test_api_monitors(server: HttpServer, store: Store) -> None:
    status, body = get_json(server, "/api/monitors")
    assert status == 200
    assert body == [
        {
            "name": "demo",
            "source": "stream",
            "rows": 250,
            "windows_evaluated": 5,
            "last_window": make_result(4),
            "firing": ["demo:data_drift"],
        }
    ]


def test_api_results(server: HttpServer) -> None:
    status, body = get_json(server, "/api/monitors/demo/results")
    assert status == 200 and body == [make_result(i) for i in range(5)]
    status, body = get_json(server, "/api/monitors/demo/results?since=2&limit=2")
    assert [r["window"]["index"] for r in body] == [2, 3]
    assert get_json(server, "/api/monitors/demo/results?since=99")[1] == []
    assert len(get_json(server, "/api/monitors/demo/results?limit=10000")[1]) == 5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=abc", "since must be an integer >= 0, got 'abc'"),
        ("since=-1", "since must be an integer >= 0, got '-1'"),
        ("limit=0", "limit must be an integer [1, 10000], got '0'"),
        ("limit=10001", "limit must be an integer [1, 10000], got '10001'"),
        ("limit=1.5", "limit must be an integer [1, 10000], got '1.5'"),
        ("limit=", "limit must be an integer [1, 10000], got ''"),
    ],
)
def test_api_results_rejects_bad_numbers(server: HttpServer, query: str, message: str) -> None:
    assert get_json(server, f"/api/monitors/demo/results?{query}") == (400, {"error": message})


def test_api_results_unknown_monitor(server: HttpServer) -> None:
    status, body = get_json(server, "/api/monitors/nope/results")
    assert status == 404 and "unknown monitor 'nope'" in body["error"] and "demo" in body["error"]
    assert get_json(server, "/api/monitors//results")[0] == 404


def test_api_sources(server: HttpServer) -> None:
    status, body = get_json(server, "/api/sources")
    assert status == 200
    assert body == [
        {
            "name": "stream",
            "kind": "kafka",
            "connected": True,
            "reason": "",
            "rows": 262,
            "dead_letters": 2,
            "lag": 7,
            "lag_by_partition": {"0": 5, "1": 2},
        }
    ]


def test_api_dead_letters(server: HttpServer) -> None:
    status, body = get_json(server, "/api/dead-letters")
    assert status == 200
    assert [(d["position"], d["reason"]) for d in body] == [
        ("partition=1 offset=9", "oversize"),
        ("partition=0 offset=3", "invalid_json"),
    ]
    assert body[1]["raw"] == "{oops" and body[1]["source"] == "stream"
    assert len(get_json(server, "/api/dead-letters?source=stream&limit=1")[1]) == 1
    assert get_json(server, "/api/dead-letters?source=other")[1] == []
    assert get_json(server, "/api/dead-letters?limit=x")[0] == 400


def test_api_alerts(server: HttpServer) -> None:
    assert get_json(server, "/api/alerts") == (200, FakeView().alerts)
    assert get_json(server, "/api/alerts?limit=0")[0] == 400


def test_metrics_endpoint_includes_live_lag(server: HttpServer) -> None:
    status, headers, body = request(server, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode()
    assert 'driftwarden_source_lag{partition="0",source="stream"} 5.0' in text
    assert "# TYPE driftwarden_rows_total counter" in text


def test_root_redirects_to_the_dashboard(server: HttpServer) -> None:
    status, headers, _ = request(server, "/")
    assert status == 302 and headers["location"] == "/dashboard"


def test_dashboard_is_self_contained(server: HttpServer) -> None:
    status, headers, body = request(server, "/dashboard")
    page = body.decode()
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert "<script>" in page and "/api/monitors" in page
    assert "<link" not in page and "src=" not in page
    external = [chunk for chunk in page.split('"') if chunk.startswith(("http://", "https://", "//"))]
    assert external == ["http://www.w3.org/2000/svg"]


def test_reports_are_served(server: HttpServer) -> None:
    status, headers, body = request(server, "/reports/demo/3.html")
    assert (status, body) == (200, b"<html>report 3</html>")
    assert headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    [
        "/reports/../secret.txt",
        "/reports/%2e%2e/secret.txt",
        "/reports/demo/../../secret.txt",
        "/reports/demo/%2E%2E/%2E%2E/secret.txt",
        "/reports/..%2fsecret.txt",
        "/reports/.hidden.html",
        "/reports//etc/passwd",
        "/reports/%2Fetc%2Fpasswd",
        "/reports/demo",
        "/reports/missing.html",
        "/reports/",
    ],
)
def test_reports_refuse_traversal_and_missing_files(server: HttpServer, path: str) -> None:
    status, _, body = request(server, path)
    assert status == 404 and b"do not serve" not in body and b"root:" not in body


def test_head_unknown_and_wrong_method(server: HttpServer) -> None:
    status, headers, body = request(server, "/healthz", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    assert get_json(server, "/nope")[0] == 404
    status, headers, _ = request(server, "/api/monitors", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_store_failure_is_503(server: HttpServer, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(monitor: str) -> None:
        raise StoreError("store last_result failed: database is locked")

    monkeypatch.setattr(store, "last_result", broken)
    status, body = get_json(server, "/api/monitors")
    assert status == 503 and "database is locked" in body["error"]


def test_concurrent_requests(server: HttpServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths = [
        "/api/monitors",
        "/api/sources",
        "/api/dead-letters",
        "/api/monitors/demo/results",
        "/metrics",
    ] * 6
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda path: request(server, path)[0], paths))
    assert statuses == [200] * len(paths)


def test_in_memory_store_under_concurrent_requests(view: FakeView) -> None:
    from concurrent.futures import ThreadPoolExecutor

    memory = Store.open("sqlite://")
    running = HttpServer(memory, Metrics(), view, port=0)
    running.start()
    try:
        paths = ["/api/monitors", "/api/sources", "/api/dead-letters", "/readyz"] * 8
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda path: request(running, path)[0], paths))
        assert statuses == [200] * len(paths)
    finally:
        running.stop()
        memory.dispose()


def test_api_reports_lists_report_files_newest_first(server: HttpServer, reports: Path) -> None:
    import os

    (reports / "demo" / "window-12.html").write_text("<html>12</html>")
    (reports / "other").mkdir()
    (reports / "other" / "1.html").write_text("<html>other</html>")
    os.utime(reports / "demo" / "3.html", (1_700_000_000, 1_700_000_000))
    os.utime(reports / "demo" / "window-12.html", (1_800_000_000, 1_800_000_000))
    os.utime(reports / "other" / "1.html", (1_600_000_000, 1_600_000_000))
    status, body = get_json(server, "/api/reports?monitor=demo")
    assert status == 200
    assert body == [
        {
            "monitor": "demo",
            "name": "demo/window-12.html",
            "url": "/reports/demo/window-12.html",
            "window_index": 12,
            "modified": "2027-01-15T08:00:00Z",
        },
        {
            "monitor": "demo",
            "name": "demo/3.html",
            "url": "/reports/demo/3.html",
            "window_index": 3,
            "modified": "2023-11-14T22:13:20Z",
        },
    ]
    assert [r["name"] for r in get_json(server, "/api/reports")[1]] == [
        "demo/window-12.html",
        "demo/3.html",
        "other/1.html",
    ]
    assert get_json(server, "/api/reports?monitor=nope")[1] == []
    assert get_json(server, "/api/reports?monitor=..")[0] == 400
    assert get_json(server, "/api/reports?limit=1")[1][0]["name"] == "demo/window-12.html"
