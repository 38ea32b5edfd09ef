"""A loopback retraining-webhook receiver that validates requests as a careful receiver does.

It checks ``Content-Type``, the HMAC signature and timestamp freshness with
:func:`alerts.verify_signature`, parses the JSON body, and counts deliveries by
``Idempotency-Key`` (a repeated key is acknowledged but not processed again).
Faults are programmable: ``down`` (connections are closed without a response)
and queued status codes (optionally with ``Retry-After``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alerts import verify_signature


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One accepted request."""

    idempotency_key: str
    body: dict[str, Any]
    headers: dict[str, str]
    duplicate: bool


@dataclass(slots=True)
class _Fault:
    status: int
    retry_after: str | None = None


@dataclass(slots=True)
class _State:
    secret: str
    clock: Callable[[], float]
    tolerance_s: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    down: bool = False
    faults: list[_Fault] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    processed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    requests: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr logging
        return

    def _reply(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        with state.lock:
            state.requests += 1
            if state.down:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            fault = state.faults.pop(0) if state.faults else None
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._reply(fault.status, {"error": f"programmed {fault.status}"}, extra)
            return
        problem = self._check(raw, state)
        if problem is not None:
            with state.lock:
                state.rejected.append(problem)
            self._reply(400 if problem != "bad signature" else 401, {"error": problem})
            return
        key = self.headers["Idempotency-Key"]
        body = json.loads(raw)
        with state.lock:
            duplicate = state.attempts[key] > 0
            state.attempts[key] += 1
            if not duplicate:
                state.processed.append(key)
            state.deliveries.append(
                Delivery(
                    idempotency_key=key, body=body, headers=dict(self.headers.items()), duplicate=duplicate
                )
            )
        self._reply(200, {"ok": True, "duplicate": duplicate})

    def _check(self, raw: bytes, state: _State) -> str | None:
        if self.headers.get("Content-Type") != "application/json":
            return "content type must be application/json"
        if not self.headers.get("Idempotency-Key"):
            return "missing Idempotency-Key"
        timestamp = self.headers.get("X-Driftwarden-Timestamp")
        signature = self.headers.get("X-Driftwarden-Signature")
        if not verify_signature(
            state.secret, timestamp, raw, signature, now=state.clock(), tolerance_s=state.tolerance_s
        ):
            return "bad signature"
        try:
            body = json.loads(raw)
        except ValueError:
            return "body is not JSON"
        required = {
            "event_id",
            "kind",
            "status",
            "severity",
            "monitor",
            "window",
            "subjects",
            "report_url",
            "sent_at",
        }
        missing = required - set(body)
        if missing:
            return f"body lacks {sorted(missing)}"
        if body["event_id"] != self.headers["Idempotency-Key"]:
            return "event_id differs from Idempotency-Key"
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # connections closed on purpose while "down"


class WebhookReceiver:
    """A webhook receiver on ``127.0.0.1`` and an ephemeral port.

    Use as a context manager; ``url`` is the endpoint. ``clock`` gives the
    receiver's unix time (for the freshness check).
    """

    def __init__(
        self, secret: str, *, clock: Callable[[], float] = time.time, tolerance_s: float = 300
    ) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State(secret=secret, clock=clock, tolerance_s=tolerance_s)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="webhook-receiver",
            daemon=True,
        )

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """The endpoint URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/retrain"

    def set_down(self, down: bool) -> None:
        """While down, every connection is closed without a response."""
        with self._server.state.lock:
            self._server.state.down = down

    def fail_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` (before any validation)."""
        with self._server.state.lock:
            self._server.state.faults.extend(_Fault(status, retry_after) for _ in range(times))

    @property
    def deliveries(self) -> list[Delivery]:
        """Accepted (valid) requests, in arrival order, duplicates included."""
        with self._server.state.lock:
            return list(self._server.state.deliveries)

    @property
    def processed(self) -> list[str]:
        """Distinct idempotency keys in first-arrival order (what a deduplicating receiver acts on)."""
        with self._server.state.lock:
            return list(self._server.state.processed)

    @property
    def attempts(self) -> Counter[str]:
        """Valid deliveries per idempotency key."""
        with self._server.state.lock:
            return Counter(self._server.state.attempts)

    @property
    def rejected(self) -> list[str]:
        """Reasons of rejected (invalid) requests."""
        with self._server.state.lock:
            return list(self._server.state.rejected)

    @property
    def requests(self) -> int:
        """Every request received, including faults and rejections."""
        with self._server.state.lock:
            return self._server.state.requests
