"""monitor.logging: one handler, text or JSON lines, key=value fields, secrets masked."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from monitor.config import Secret
from monitor.logging import SecretMaskFilter, configure_logging, extract_fields

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture(autouse=True)
def _restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_driftwarden_handler", False)]


def test_json_lines_have_contract_members_and_fields() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    logging.getLogger("monitor.service").info(
        "window closed monitor=%s index=%d rows=%d share=%.2f", "demo", 3, 5000, 0.25
    )
    (line,) = stream.getvalue().splitlines()
    document = json.loads(line)
    assert TS.fullmatch(document["ts"])
    assert document["level"] == "INFO"
    assert document["logger"] == "monitor.service"
    assert document["msg"] == "window closed monitor=demo index=3 rows=5000 share=0.25"
    assert (document["monitor"], document["index"], document["rows"], document["share"]) == (
        "demo",
        3,
        5000,
        0.25,
    )


def test_text_format() -> None:
    stream = io.StringIO()
    configure_logging("text", "INFO", stream=stream)
    logging.getLogger("monitor.x").warning("sink failed sink=%s reason=%s", "oncall", "timeout")
    (line,) = stream.getvalue().splitlines()
    stamp, level, name, message = line.split(" ", 3)
    assert TS.fullmatch(stamp) and (level, name) == ("WARNING", "monitor.x")
    assert message == "sink failed sink=oncall reason=timeout"


def test_configure_is_idempotent_and_reconfigures_in_place() -> None:
    stream = io.StringIO()
    first = configure_logging("text", "INFO", stream=stream)
    second = configure_logging("json", "WARNING", stream=stream)
    assert first is second and ours() == [first]
    logging.getLogger("m").info("dropped")
    logging.getLogger("m").warning("kept a=1")
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["a"] == 1
    assert logging.getLogger().level == logging.WARNING


def test_other_handlers_are_left_alone() -> None:
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)
    configure_logging("text", "INFO", stream=io.StringIO())
    configure_logging("text", "INFO", stream=io.StringIO())
    assert foreign in logging.getLogger().handlers and len(ours()) == 1


def test_debug_level_and_bad_arguments() -> None:
    stream = io.StringIO()
    configure_logging("text", "debug", stream=stream)
    logging.getLogger("m").debug("visible")
    assert "visible" in stream.getvalue()
    with pytest.raises(ValueError, match="log format must be 'text' or 'json', got 'xml'"):
        configure_logging("xml", "INFO")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match="log level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'"
    ):
        configure_logging("text", "loud")


def test_exceptions_are_one_json_member() -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("m").exception("send failed sink=%s", "retrain")
    (line,) = stream.getvalue().splitlines()
    document = json.loads(line)
    assert document["sink"] == "retrain"
    assert "RuntimeError: boom" in document["exc"] and "Traceback" in document["exc"]


def test_secret_values_are_masked_in_messages_args_and_tracebacks() -> None:
    token = Secret("xoxb-0000-SUPERSECRET")
    for fmt in ("text", "json"):
        stream = io.StringIO()
        configure_logging(fmt, "INFO", stream=stream, secrets=[token, "plain-secret-value"])
        log = logging.getLogger("alerts.slack")
        log.info("calling slack token=%s", token.reveal())
        log.info("url is https://hooks.example/plain-secret-value/x")
        try:
            raise ValueError(f"bad auth {token.reveal()}")
        except ValueError:
            log.exception("failed")
        output = stream.getvalue()
        assert "SUPERSECRET" not in output and "plain-secret-value" not in output
        assert "***" in output
    # a Secret object logged directly is harmless even without the filter
    stream = io.StringIO()
    configure_logging("text", "INFO", stream=stream)
    logging.getLogger("m").info("token=%s", token)
    assert "token=Secret('***')" in stream.getvalue()


def test_reconfiguring_without_secrets_removes_the_filter() -> None:
    stream = io.StringIO()
    handler = configure_logging("text", "INFO", stream=stream, secrets=["abcdefgh"])
    assert any(isinstance(f, SecretMaskFilter) for f in handler.filters)
    configure_logging("text", "INFO", stream=stream)
    assert not any(isinstance(f, SecretMaskFilter) for f in handler.filters)


def test_short_values_are_not_masked() -> None:
    mask = SecretMaskFilter(["abc", "", "longer-secret"])
    assert mask.mask("abc longer-secret") == "abc ***"


def test_extract_fields() -> None:
    assert extract_fields("no fields here") == {}
    assert extract_fields("a=1 b=-2.5 c=true d=\"x y\" e='z w' f=word g=1e3") == {
        "a": 1,
        "b": -2.5,
        "c": True,
        "d": "x y",
        "e": "z w",
        "f": "word",
        "g": 1000.0,
    }
    assert extract_fields("msg=hi level=3 (monitor=m, index=2)") == {
        "field_msg": "hi",
        "field_level": 3,
        "monitor": "m",
        "index": 2,
    }
    assert extract_fields("url=http://h/x?a=1") == {"url": "http://h/x?a=1"}
