"""A loopback Slack Web API double for ``WebClient(base_url=...)`` and ``WebhookClient``.

It validates requests as Slack does for the calls driftwarden makes:

- ``Authorization: Bearer <token>`` (else ``invalid_auth``);
- ``chat.postMessage``: known channel (name ``#x`` or id), a non-empty ``text``
  fallback, ``blocks`` a list of objects each with a known ``type`` (header text
  plain_text of at most 150 characters, section with text or fields, at most 50
  blocks), ``thread_ts`` naming an existing top-level message of that channel;
- the ``files_upload_v2`` flow: ``files.getUploadURLExternal`` (``filename``,
  ``length``) -> raw POST to the returned ``upload_url`` (size must match) ->
  ``files.completeUploadExternal`` (``files`` JSON with uploaded ids, channel id,
  optional existing ``thread_ts``);
- incoming webhooks at ``/services/...`` (JSON with ``text`` or ``blocks``).

Faults are programmable per method: ``fail_next("chat.postMessage", 429,
retry_after="3")`` or ``500``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BLOCK_TYPES = frozenset({"header", "section", "context", "actions", "divider", "image", "rich_text"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A posted message."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadedFile:
    """A completed file upload."""

    id: str
    filename: str
    title: str | None
    data: bytes
    channel: str
    thread_ts: str | None


@dataclass(slots=True)
class _Fault:
    status: int
    retry_after: str | None
    error: str


@dataclass(slots=True)
class _State:
    token: str
    channels: dict[str, str]
    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: list[Message] = field(default_factory=list)
    files: list[UploadedFile] = field(default_factory=list)
    pending_uploads: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    faults: dict[str, list[_Fault]] = field(default_factory=dict)
    webhook_posts: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0


def check_blocks(blocks: object) -> str | None:
    """Return why ``blocks`` is not valid Block Kit (for what we send), or ``None``."""
    if not isinstance(blocks, list) or not blocks:
        return "blocks must be a non-empty list"
    if len(blocks) > 50:
        return "too many blocks"
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            return f"invalid block {block!r}"
        kind = block["type"]
        if kind == "header":
            text = block.get("text", {})
            if text.get("type") != "plain_text" or not (0 < len(text.get("text", "")) <= 150):
                return "header needs plain_text of 1..150 characters"
        if kind == "section":
            text = block.get("text")
            if text is None and not block.get("fields"):
                return "section needs text or fields"
            if text is not None and (
                text.get("type") not in ("mrkdwn", "plain_text") or not text.get("text")
            ):
                return "section text must be mrkdwn or plain_text and non-empty"
            if text is not None and len(text["text"]) > 3000:
                return "section text longer than 3000 characters"
        if kind == "context" and not block.get("elements"):
            return "context needs elements"
        if kind == "actions":
            for element in block.get("elements", []):
                if element.get("type") == "button" and not str(element.get("url", "")).startswith("http"):
                    return "button url must be http(s)"
    return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def _send(self, status: int, payload: object, headers: Mapping[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, error: str) -> None:
        with self.server.state.lock:
            self.server.state.errors.append(error)
        self._send(200, {"ok": False, "error": error})

    def _params(self, raw: bytes) -> dict[str, Any]:
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            return dict(json.loads(raw or b"{}"))
        query = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        query.update(parse_qs(urlparse(self.path).query, keep_blank_values=True))
        return {k: v[0] for k, v in query.items()}

    def do_POST(self) -> None:  # noqa: N802
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        path = urlparse(self.path).path
        if path.startswith("/upload/"):
            self._upload(path.removeprefix("/upload/"), raw)
            return
        if path.startswith("/services/"):
            self._incoming_webhook(path, raw)
            return
        if not path.startswith("/api/"):
            self._send(404, {"ok": False, "error": "not_found"})
            return
        method = path.removeprefix("/api/")
        with state.lock:
            state.calls.append(method)
            faults = state.faults.get(method)
            fault = faults.pop(0) if faults else None
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(fault.status, {"ok": False, "error": fault.error}, headers)
            return
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            self._error("invalid_auth")
            return
        params = self._params(raw)
        handler = {
            "chat.postMessage": self._post_message,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "auth.test": lambda p: self._send(200, {"ok": True, "user_id": "U0BOT", "team_id": "T0TEAM"}),
        }.get(method)
        if handler is None:
            self._send(404, {"ok": False, "error": "unknown_method"})
            return
        handler(params)

    def _channel_id(self, channel: object) -> str | None:
        state = self.server.state
        if not isinstance(channel, str):
            return None
        if channel in state.channels.values():
            return channel
        return state.channels.get(channel.lstrip("#"))

    def _thread_exists(self, channel: str, thread_ts: str) -> bool:
        return any(
            m.channel == channel and m.ts == thread_ts and m.thread_ts is None
            for m in self.server.state.messages
        )

    def _post_message(self, params: dict[str, Any]) -> None:
        state = self.server.state
        channel = self._channel_id(params.get("channel"))
        if channel is None:
            self._error("channel_not_found")
            return
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            self._error("no_text")
            return
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        problem = check_blocks(blocks)
        if problem is not None:
            self._error(f"invalid_blocks: {problem}")
            return
        thread_ts = params.get("thread_ts")
        with state.lock:
            if thread_ts is not None and not self._thread_exists(channel, str(thread_ts)):
                state.errors.append("thread_not_found")
                error = True
            else:
                error = False
                state.counter += 1
                ts = f"{1767225600 + state.counter}.{state.counter:06d}"
                state.messages.append(
                    Message(channel=channel, ts=ts, thread_ts=thread_ts, text=text, blocks=list(blocks))  # type: ignore[arg-type]
                )
        if error:
            self._send(200, {"ok": False, "error": "thread_not_found"})
            return
        self._send(200, {"ok": True, "channel": channel, "ts": ts, "message": {"text": text, "ts": ts}})

    def _get_upload_url(self, params: dict[str, Any]) -> None:
        state = self.server.state
        filename = params.get("filename")
        try:
            length = int(params.get("length", ""))
        except ValueError:
            self._error("invalid_arguments")
            return
        if not filename or length <= 0:
            self._error("invalid_arguments")
            return
        with state.lock:
            state.counter += 1
            file_id = f"F{state.counter:08d}"
            state.pending_uploads[file_id] = {"filename": filename, "length": length, "data": None}
        host, port = self.server.server_address[:2]
        self._send(
            200, {"ok": True, "upload_url": f"http://{host}:{port}/upload/{file_id}", "file_id": file_id}
        )

    def _upload(self, file_id: str, raw: bytes) -> None:
        state = self.server.state
        with state.lock:
            pending = state.pending_uploads.get(file_id)
            if pending is None or pending["length"] != len(raw):
                state.errors.append("upload_mismatch")
                bad = True
            else:
                pending["data"] = raw
                bad = False
        if bad:
            self._send(400, b"bad upload")
            return
        self._send(200, f"OK - {len(raw)}".encode())

    def _complete_upload(self, params: dict[str, Any]) -> None:
        state = self.server.state
        try:
            files = json.loads(params.get("files", ""))
        except ValueError:
            self._error("invalid_arguments")
            return
        channel = self._channel_id(params.get("channel_id"))
        if params.get("channel_id") is not None and channel is None:
            self._error("channel_not_found")
            return
        thread_ts = params.get("thread_ts")
        with state.lock:
            if thread_ts is not None and (channel is None or not self._thread_exists(channel, thread_ts)):
                state.errors.append("thread_not_found")
                self._send(200, {"ok": False, "error": "thread_not_found"})
                return
            done = []
            for f in files:
                pending = state.pending_uploads.get(f.get("id"))
                if pending is None or pending["data"] is None:
                    state.errors.append("file_not_uploaded")
                    self._send(200, {"ok": False, "error": "file_not_found"})
                    return
                done.append(
                    UploadedFile(
                        id=f["id"],
                        filename=pending["filename"],
                        title=f.get("title"),
                        data=pending["data"],
                        channel=channel or "",
                        thread_ts=thread_ts,
                    )
                )
            for f in done:
                del state.pending_uploads[f.id]
                state.files.append(f)
        self._send(200, {"ok": True, "files": [{"id": f.id, "title": f.title} for f in done]})

    def _incoming_webhook(self, path: str, raw: bytes) -> None:
        state = self.server.state
        with state.lock:
            state.calls.append("incoming_webhook")
            faults = state.faults.get("incoming_webhook")
            fault = faults.pop(0) if faults else None
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(fault.status, fault.error.encode(), headers)
            return
        try:
            payload = json.loads(raw)
        except ValueError:
            self._send(400, b"invalid_payload")
            return
        if not payload.get("text") and not payload.get("blocks"):
            self._send(400, b"no_text")
            return
        if payload.get("blocks") is not None and check_blocks(payload["blocks"]) is not None:
            self._send(400, b"invalid_blocks")
            return
        with state.lock:
            state.webhook_posts.append(payload)
        self._send(200, b"ok")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class SlackApiDouble:
    """The Slack double on ``127.0.0.1`` and an ephemeral port; a context manager.

    Parameters
    ----------
    token:
        The only accepted bot token.
    channels:
        Channel name (without ``#``) to id.
    """

    def __init__(self, *, token: str = "xoxb-test-token", channels: Mapping[str, str] | None = None) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State(token=token, channels=dict(channels or {"ml-oncall": "C0ONCALL"}))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="slack-double",
            daemon=True,
        )

    def __enter__(self) -> SlackApiDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """For ``WebClient(base_url=...)``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    @property
    def webhook_url(self) -> str:
        """An incoming-webhook URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/services/T0TEAM/B0HOOK/secret"

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        error: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (or ``"incoming_webhook"``) with ``status``."""
        default = "ratelimited" if status == 429 else "internal_error"
        with self._server.state.lock:
            self._server.state.faults.setdefault(method, []).extend(
                _Fault(status, retry_after, error or default) for _ in range(times)
            )

    def _get(self, name: str) -> Any:
        with self._server.state.lock:
            return list(getattr(self._server.state, name))

    @property
    def messages(self) -> list[Message]:
        """Posted messages, in order."""
        return self._get("messages")

    @property
    def files(self) -> list[UploadedFile]:
        """Completed uploads, in order."""
        return self._get("files")

    @property
    def calls(self) -> list[str]:
        """Web API method names called, in order (faults included)."""
        return self._get("calls")

    @property
    def errors(self) -> list[str]:
        """Validation errors returned."""
        return self._get("errors")

    @property
    def webhook_posts(self) -> list[dict[str, Any]]:
        """Accepted incoming-webhook payloads."""
        return self._get("webhook_posts")
