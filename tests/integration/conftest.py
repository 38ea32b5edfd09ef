"""Real servers for integration tests: Apache Kafka and PostgreSQL.

Fixtures read ``DRIFTWARDEN_KAFKA_BOOTSTRAP`` / ``DRIFTWARDEN_PG_URL`` from the environment or
from ``.cache/servers.env`` (written by ``scripts/servers start``). When the server does not
answer, it is started with ``scripts/kafka/start`` / ``scripts/postgres/start`` (idempotent).
A server that cannot be reached or started skips the tests locally and FAILS them in CI
(``CI=true``): CI never silently skips the real-server tests.

Per test: :func:`kafka_topic` creates uniquely named topics; :func:`postgres_schema_url` gives a
URL whose ``search_path`` is a fresh schema (dropped afterwards), so tests never see each
other's tables.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVERS_ENV = REPO / ".cache" / "servers.env"
START_TIMEOUT_S = 900  # the first Kafka start resolves jars from Maven Central


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing server is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


def _read_servers_env() -> dict[str, str]:
    values: dict[str, str] = {}
    if SERVERS_ENV.exists():
        for line in SERVERS_ENV.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    return values


def _tcp_open(host: str, port: int, timeout_s: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _resolve_server(var: str, script: str, probe: Callable[[str], bool]) -> str:
    explicit = os.environ.get(var)
    if explicit:
        if probe(explicit):
            return explicit
        _unavailable(f"{var}={explicit} does not answer")
    cached = _read_servers_env().get(var)
    if cached and probe(cached):
        return cached
    try:
        done = subprocess.run(
            [str(REPO / script)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"{script} could not run: {exc}")
        raise AssertionError("unreachable") from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        _unavailable(f"{script} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    value = lines[-1].strip()
    if not probe(value):
        _unavailable(f"{script} printed {value!r} but it does not answer")
    return value


def _kafka_answers(bootstrap: str) -> bool:
    return _tcp_open(*_host_port(bootstrap.split(",")[0]))


def _postgres_answers(url: str) -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """``host:port`` of the real Kafka broker."""
    return _resolve_server("DRIFTWARDEN_KAFKA_BOOTSTRAP", "scripts/kafka/start", _kafka_answers)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the real PostgreSQL database ``driftwarden_test``."""
    return _resolve_server("DRIFTWARDEN_PG_URL", "scripts/postgres/start", _postgres_answers)


@pytest.fixture
def kafka_topic(kafka_bootstrap: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """Factory creating uniquely named topics: ``kafka_topic(partitions=1) -> name``; deleted afterwards."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=15_000)
    created: list[str] = []
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name)[:60]

    def make(partitions: int = 1, suffix: str = "") -> str:
        name = f"dw-{base}{suffix}-{uuid.uuid4().hex[:8]}"
        admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=15_000)
        created.append(name)
        return name

    yield make
    try:
        if created:
            admin.delete_topics(created, timeout_ms=15_000)
    except Exception:  # a leftover topic on a throwaway broker is harmless
        pass
    finally:
        admin.close()


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A URL of ``driftwarden_test`` whose ``search_path`` is a fresh schema, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
