"""The daemon's HTTP server: health, readiness, metrics, the JSON API, the dashboard and reports.

A stdlib :class:`~http.server.ThreadingHTTPServer` run on its own thread. What only the running
service knows (sources connected, lag, firing alerts, draining) comes through the
:class:`ServiceView` protocol; history and durable counters come from the :class:`~monitor.store.Store`.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

from sqlalchemy.exc import SQLAlchemyError

from monitor.dashboard import render_dashboard
from monitor.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from monitor.metrics import Metrics
from monitor.store import MAX_RESULTS_LIMIT, Store, StoreError

logger = logging.getLogger(__name__)

__all__ = ["HttpServer", "MonitorView", "ServiceView", "SourceView"]

MAX_ALERTS_LIMIT = 1000
_REPORT_INDEX = re.compile(r"(\d+)\.html$")


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorView:
    """A configured monitor as the running service knows it."""

    name: str
    source: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceView:
    """A configured source's live status: ``lag`` maps partition (or ``"0"``) to messages behind."""

    name: str
    kind: str
    connected: bool
    reason: str = ""
    lag: Mapping[str, int] = field(default_factory=dict)


class ServiceView(Protocol):
    """What the HTTP server asks the running service; every method returns plain data, quickly."""

    def monitor_views(self) -> Sequence[MonitorView]:
        """The configured monitors, in configuration order."""
        ...

    def source_views(self) -> Sequence[SourceView]:
        """The configured sources with their live status."""
        ...

    def firing_alerts(self, monitor: str) -> Sequence[str]:
        """Keys of the monitor's alerts that are firing now."""
        ...

    def recent_alerts(self, limit: int) -> Sequence[Mapping[str, Any]]:
        """Recent alert notifications, newest first, as JSON-ready dicts.

        The dashboard shows the webhook body members ``sent_at``, ``monitor``, ``kind``, ``status``,
        ``severity``, ``subjects`` (``name`` and ``check``) and ``report_url``, plus ``sink`` and
        ``outcome`` when present; missing members are shown empty.
        """
        ...

    def is_draining(self) -> bool:
        """Whether the service is shutting down."""
        ...


class _BadRequest(Exception):
    pass


def _int_param(query: Mapping[str, list[str]], name: str, default: int, low: int, high: int | None) -> int:
    values = query.get(name)
    if not values:
        return default
    raw = values[-1]
    allowed = f"[{low}, {high}]" if high is not None else f">= {low}"
    try:
        value = int(raw, 10)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer {allowed}, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        raise _BadRequest(f"{name} must be an integer {allowed}, got {raw!r}")
    return value


class _Api:
    """Routing and the handlers' logic, independent of the socket server."""

    def __init__(self, store: Store, metrics: Metrics, view: ServiceView, reports_dir: Path | None) -> None:
        self.store = store
        self.metrics = metrics
        self.view = view
        self.reports_dir = reports_dir.resolve() if reports_dir is not None else None
        self.dashboard = render_dashboard()

    def monitor_names(self) -> dict[str, MonitorView]:
        return {monitor.name: monitor for monitor in self.view.monitor_views()}

    def healthz(self) -> tuple[int, Any]:
        return 200, {"status": "draining" if self.view.is_draining() else "ok"}

    def readyz(self) -> tuple[int, Any]:
        if self.view.is_draining():
            return 503, {"ready": False, "reason": "draining: the service is shutting down"}
        if not self.store.ping():
            return 503, {"ready": False, "reason": "store unreachable"}
        down = [source for source in self.view.source_views() if not source.connected]
        if down:
            reasons = "; ".join(
                f"source {source.name} not connected" + (f": {source.reason}" if source.reason else "")
                for source in down
            )
            return 503, {"ready": False, "reason": reasons}
        return 200, {"ready": True}

    def monitors(self) -> tuple[int, Any]:
        body = []
        for monitor in self.view.monitor_views():
            totals = self.store.monitor_totals(monitor.name)
            body.append(
                {
                    "name": monitor.name,
                    "source": monitor.source,
                    "rows": totals.rows,
                    "windows_evaluated": totals.windows_evaluated,
                    "last_window": self.store.last_result(monitor.name),
                    "firing": list(self.view.firing_alerts(monitor.name)),
                }
            )
        return 200, body

    def results(self, name: str, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        since = _int_param(query, "since", 0, 0, None)
        limit = _int_param(query, "limit", 100, 1, MAX_RESULTS_LIMIT)
        if name not in self.monitor_names():
            known = ", ".join(sorted(self.monitor_names())) or "none"
            return 404, {"error": f"unknown monitor {name!r}; known monitors: {known}"}
        return 200, self.store.results(name, since=since, limit=limit)

    def sources(self) -> tuple[int, Any]:
        body = []
        for source in self.view.source_views():
            totals = self.store.source_totals(source.name)
            lag = {str(partition): int(value) for partition, value in source.lag.items()}
            body.append(
                {
                    "name": source.name,
                    "kind": source.kind,
                    "connected": source.connected,
                    "reason": source.reason,
                    "rows": totals.rows,
                    "dead_letters": totals.dead_letters,
                    "lag": sum(lag.values()) if lag else None,
                    "lag_by_partition": lag,
                }
            )
        return 200, body

    def dead_letters(self, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        limit = _int_param(query, "limit", 100, 1, MAX_RESULTS_LIMIT)
        source = (query.get("source") or [""])[-1] or None
        letters = self.store.dead_letters(source=source, limit=limit)
        return 200, [letter.to_json() for letter in letters]

    def alerts(self, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        limit = _int_param(query, "limit", 50, 1, MAX_ALERTS_LIMIT)
        return 200, [dict(alert) for alert in self.view.recent_alerts(limit)]

    def reports(self, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        limit = _int_param(query, "limit", 20, 1, MAX_ALERTS_LIMIT)
        monitor = (query.get("monitor") or [""])[-1]
        if monitor and ("/" in monitor or "\\" in monitor or monitor.startswith(".")):
            raise _BadRequest(f"monitor must be a plain name, got {monitor!r}")
        if self.reports_dir is None:
            return 200, []
        base = self.reports_dir / monitor if monitor else self.reports_dir
        if not base.is_dir():
            return 200, []
        found: list[tuple[float, Path]] = []
        for file in base.rglob("*.html"):
            relative = file.relative_to(self.reports_dir)
            if any(part.startswith(".") for part in relative.parts) or not file.is_file():
                continue
            found.append((file.stat().st_mtime, relative))
        found.sort(key=lambda item: (-item[0], item[1].as_posix()))
        body = []
        for modified, relative in found[:limit]:
            index = _REPORT_INDEX.search(relative.name)
            body.append(
                {
                    "monitor": relative.parts[0] if len(relative.parts) > 1 else None,
                    "name": relative.as_posix(),
                    "url": "/reports/" + quote(relative.as_posix()),
                    "window_index": int(index.group(1)) if index else None,
                    "modified": datetime.fromtimestamp(modified, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
        return 200, body

    def metrics_text(self) -> bytes:
        for source in self.view.source_views():
            self.metrics.set_source_lag(source.name, source.lag)
        return self.metrics.render()

    def report_file(self, relative: str) -> Path | None:
        """The file under ``reports_dir`` named by ``relative``, or ``None`` (missing or unsafe)."""
        if self.reports_dir is None:
            return None
        name = unquote(relative)
        parts = name.split("/")
        if not name or "\\" in name or "\x00" in name or any(part in ("", ".", "..") for part in parts):
            return None
        if any(part.startswith(".") for part in parts):
            return None
        candidate = (self.reports_dir / name).resolve()
        if not candidate.is_relative_to(self.reports_dir) or not candidate.is_file():
            return None
        return candidate


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "driftwarden"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("http %s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch(head=False)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch(head=True)

    def _method_not_allowed(self) -> None:
        self._send_json(405, {"error": f"method {self.command} not allowed; use GET"}, head=False, allow=True)

    do_POST = do_PUT = do_DELETE = do_PATCH = _method_not_allowed  # noqa: N815 - stdlib naming

    def _dispatch(self, *, head: bool) -> None:
        api = self.server.api
        split = urlsplit(self.path)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            if path == "/healthz":
                self._send_json(*api.healthz(), head=head)
            elif path == "/readyz":
                self._send_json(*api.readyz(), head=head)
            elif path == "/metrics":
                self._send(200, api.metrics_text(), METRICS_CONTENT_TYPE, head=head)
            elif path in ("/", "/dashboard/"):
                self._redirect("/dashboard", head=head)
            elif path == "/dashboard":
                self._send(200, api.dashboard, "text/html; charset=utf-8", head=head)
            elif path == "/api/monitors":
                self._send_json(*api.monitors(), head=head)
            elif path.startswith("/api/monitors/") and path.endswith("/results"):
                name = unquote(path[len("/api/monitors/") : -len("/results")])
                if not name or "/" in name:
                    self._send_json(404, {"error": f"no such resource {path!r}"}, head=head)
                else:
                    self._send_json(*api.results(name, query), head=head)
            elif path == "/api/sources":
                self._send_json(*api.sources(), head=head)
            elif path == "/api/dead-letters":
                self._send_json(*api.dead_letters(query), head=head)
            elif path == "/api/alerts":
                self._send_json(*api.alerts(query), head=head)
            elif path == "/api/reports":
                self._send_json(*api.reports(query), head=head)
            elif path.startswith("/reports/"):
                self._send_report(api.report_file(path[len("/reports/") :]), head=head)
            else:
                self._send_json(404, {"error": f"no such resource {path!r}"}, head=head)
        except _BadRequest as exc:
            self._send_json(400, {"error": str(exc)}, head=head)
        except (StoreError, SQLAlchemyError) as exc:
            logger.warning("http store error path=%s error=%s", path, exc)
            self._send_json(503, {"error": f"store unavailable: {exc}"}, head=head)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("http client went away path=%s", path)
        except Exception:
            logger.exception("http handler failed path=%s", path)
            self._send_json(500, {"error": "internal error; see the daemon log"}, head=head)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        *,
        head: bool,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, *, head: bool, allow: bool = False) -> None:
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        headers = {"Allow": "GET, HEAD"} if allow else None
        self._send(status, body, "application/json", head=head, headers=headers)

    def _redirect(self, location: str, *, head: bool) -> None:
        self._send(302, b"", "text/plain", head=head, headers={"Location": location})

    def _send_report(self, file: Path | None, *, head: bool) -> None:
        if file is None:
            self._send_json(404, {"error": "no such report"}, head=head)
            return
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        size = file.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(size))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            with file.open("rb") as handle:
                shutil.copyfileobj(handle, self.wfile)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: _Api) -> None:
        self.api = api
        super().__init__(address, _Handler)


class HttpServer:
    """The daemon's HTTP endpoints (DESIGN.md, HTTP contract), served on a background thread.

    Parameters
    ----------
    store, metrics, view
        History and counters, the metrics registry, and the live service view.
    host, port
        Where to listen; ``port=0`` picks a free port (read it from :attr:`port` after :meth:`start`).
    reports_dir
        Directory served under ``/reports/`` (``None``: no reports).
    """

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        view: ServiceView,
        *,
        host: str = "127.0.0.1",
        port: int = 8321,
        reports_dir: Path | str | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in [0, 65535], got {port!r}")
        self._api = _Api(store, metrics, view, Path(reports_dir) if reports_dir is not None else None)
        self._host = host
        self._requested_port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None  # kept after stop: links in late alerts still name it

    def start(self) -> None:
        """Bind and serve on a background thread. Raises ``OSError`` when the port is taken."""
        if self._server is not None:
            raise RuntimeError("HttpServer.start was called already")
        self._server = _Server((self._host, self._requested_port), self._api)
        self._bound_port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="http", daemon=True
        )
        self._thread.start()
        logger.info("http listening url=%s", self.url)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop serving and close the socket; idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout_s)
        self._server = None
        self._thread = None
        logger.info("http stopped")

    @property
    def port(self) -> int:
        """The bound port (the ephemeral one when ``port=0`` was asked), also after :meth:`stop`.

        Alerts sent while the daemon shuts down (after the server stopped) still link to it.
        """
        if self._bound_port is None:
            raise RuntimeError("HttpServer is not started")
        return self._bound_port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8321``."""
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"http://{host}:{self.port}"
