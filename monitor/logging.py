"""Log handlers for the daemon and the CLI: human text or JSON lines, installed once.

Library modules only do ``logger = logging.getLogger(__name__)`` and log with %-style arguments
and stable ``key=value`` fields (``"window closed monitor=%s index=%d rows=%d"``). This module is
the one place that decides where those records go and how they look:

- ``text``: ``2026-01-01T00:00:00.123Z INFO monitor.service window closed monitor=demo index=3``
- ``json``: one object per line, ``{"ts", "level", "logger", "msg", ...}`` plus every
  ``key=value`` pair of the message as its own member (``"monitor": "demo", "index": 3``), and
  ``exc`` with the traceback when there is one.

A :class:`SecretMaskFilter` on the handler replaces the values of known secrets with ``***``
before anything is written, as a second line of defence behind :class:`monitor.config.Secret`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TextIO

__all__ = [
    "JsonFormatter",
    "SecretMaskFilter",
    "TextFormatter",
    "configure_logging",
    "extract_fields",
]

LogFormat = Literal["text", "json"]

_HANDLER_MARK = "_driftwarden_handler"
_RESERVED = frozenset({"ts", "level", "logger", "msg", "exc"})
_FIELD = re.compile(r'(?<![^\s,;(\[{])([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\]|\\.)*"|\'[^\']*\'|[^\s,;)\]}]+)')
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
MASK = "***"


class _Revealable(Protocol):
    def reveal(self) -> str: ...


def _format_ts(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def extract_fields(message: str) -> dict[str, Any]:
    """Return the ``key=value`` pairs of a log message, values typed where obvious.

    Integers and floats become numbers, ``true``/``false`` booleans, quoted values lose their
    quotes; everything else stays a string. Keys that collide with the JSON line's own members
    (``ts``, ``level``, ``logger``, ``msg``, ``exc``) are prefixed with ``field_``.

    Examples
    --------
    >>> extract_fields("window closed monitor=demo index=3 share=0.25 reason='no data'")
    {'monitor': 'demo', 'index': 3, 'share': 0.25, 'reason': 'no data'}
    """
    fields: dict[str, Any] = {}
    for key, raw in _FIELD.findall(message):
        name = f"field_{key}" if key in _RESERVED else key
        fields[name] = _typed(raw)
    return fields


def _typed(raw: str) -> Any:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        inner = raw[1:-1]
        if raw[0] == '"':
            try:
                return json.loads(raw)
            except ValueError:
                return inner
        return inner
    if _INT.fullmatch(raw):
        return int(raw)
    if _FLOAT.fullmatch(raw):
        return float(raw)
    if raw in ("true", "True"):
        return True
    if raw in ("false", "False"):
        return False
    return raw


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    """The traceback of ``record``: live ``exc_info``, or text already rendered (and masked)."""
    if record.exc_info:
        return formatter.formatException(record.exc_info)
    return record.exc_text or None


class TextFormatter(logging.Formatter):
    """``<RFC 3339 UTC time> <LEVEL> <logger> <message>``, traceback on the following lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_format_ts(record.created)} {record.levelname} {record.name} {record.getMessage()}"
        exc = _exception_text(self, record)
        if exc:
            line += "\n" + exc
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg``, the message's
    ``key=value`` fields, and ``exc`` (the traceback) when present."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        document: dict[str, Any] = {
            "ts": _format_ts(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": message,
        }
        document.update(extract_fields(message))
        exc = _exception_text(self, record)
        if exc:
            document["exc"] = exc
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return json.dumps(document, ensure_ascii=False, default=str)


class SecretMaskFilter(logging.Filter):
    """Replace the values of the given secrets by ``***`` in every record passing the handler.

    The message is rendered once (``record.getMessage()``), masked, and stored back with no
    arguments, so every formatter downstream sees the masked text; tracebacks are masked too.

    Parameters
    ----------
    secrets:
        Objects with a ``reveal()`` method (:class:`monitor.config.Secret`) or plain strings.
        Values shorter than 4 characters are ignored: masking them would garble ordinary text.
    """

    def __init__(self, secrets: Iterable[_Revealable | str] = ()) -> None:
        super().__init__()
        values = {s if isinstance(s, str) else s.reveal() for s in secrets}
        self._values = tuple(sorted((v for v in values if len(v) >= 4), key=len, reverse=True))

    @property
    def active(self) -> bool:
        """Whether there is anything to mask."""
        return bool(self._values)

    def mask(self, text: str) -> str:
        """Return ``text`` with every secret value replaced by ``***``."""
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._values:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is logging's problem, not ours
            return True
        record.msg = self.mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
            record.exc_info = None
        return True


def configure_logging(
    fmt: LogFormat = "text",
    level: int | str = "INFO",
    *,
    stream: TextIO | None = None,
    secrets: Iterable[_Revealable | str] = (),
) -> logging.Handler:
    """Install (or update) driftwarden's handler on the root logger.

    Calling it again replaces the format, level, stream and secrets of the same handler instead
    of adding a second one, so the CLI may call it early with defaults and again once the
    configuration is loaded. Handlers installed by others (pytest's ``caplog``) are left alone.

    Parameters
    ----------
    fmt:
        ``"text"`` or ``"json"`` (JSON lines).
    level:
        A :mod:`logging` level or its name (``"INFO"``); applied to the root logger.
    stream:
        Where to write; ``sys.stderr`` by default.
    secrets:
        Values to mask in every record (objects with ``reveal()`` or strings).

    Returns
    -------
    logging.Handler
        The installed handler.

    Raises
    ------
    ValueError
        When ``fmt`` or ``level`` is not a known value.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be 'text' or 'json', got {fmt!r}")
    numeric_level = _level_number(level)
    root = logging.getLogger()
    target = stream if stream is not None else sys.stderr
    handler = next((h for h in root.handlers if getattr(h, _HANDLER_MARK, False)), None)
    if handler is None or getattr(handler, "stream", None) is not target:
        if handler is not None:
            root.removeHandler(handler)
        handler = logging.StreamHandler(target)
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for old in [f for f in handler.filters if isinstance(f, SecretMaskFilter)]:
        handler.removeFilter(old)
    mask = SecretMaskFilter(secrets)
    if mask.active:
        handler.addFilter(mask)
    handler.setLevel(logging.NOTSET)
    root.setLevel(numeric_level)
    logging.captureWarnings(True)
    return handler


def _level_number(level: int | str) -> int:
    if isinstance(level, bool):
        raise ValueError(f"log level must be a level name or number, got {level!r}")
    if isinstance(level, int):
        return level
    names = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    upper = str(level).upper()
    if upper not in names:
        raise ValueError(f"log level must be one of {', '.join(names)}, got {level!r}")
    return int(logging.getLevelName(upper))
