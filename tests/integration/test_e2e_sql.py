"""The daemon end to end on a SQL source: real PostgreSQL and SQLite (issue 6 "Done when").

- Rows are inserted into a table in batches while ``python -m monitor run`` polls it by an id
  watermark: every window has exactly the rows and statistics that ``driftwarden replay`` (the
  daemon's own windowing, on a file with the same rows) gives.
- SQL injection attempts through ``table`` / ``watermark`` / ``schema`` / ``tie_breaker`` /
  ``columns``: ``driftwarden run`` exits 2 with one line naming the key, no SQL statement is
  executed at all, and the tables are untouched.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)

from monitor.cli import main as cli_main
from tests.fixtures_daemon import (
    Daemon,
    get,
    model_frame,
    start_daemon,
    wait_for,
    window_summary,
    write_profile,
)

pytestmark = [pytest.mark.integration]

WINDOW = 1000
ROWS = 5000
BATCH = 700  # never aligned with the windows
DB_ENV = "DW_E2E_SERVING_DB_URL"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The serving database: a SQLite file, or a fresh schema of the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'serving.db').as_posix()}"
    return str(request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


def predictions_table(metadata: MetaData, name: str = "predictions") -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("ts", String(32), nullable=False),
        Column("age", Float),
        Column("income", Float),
        Column("score", Float),
        Column("city", String(32)),
        Column("y", Integer),
        Column("pred", Integer),
    )


def stream() -> pd.DataFrame:
    head = model_frame(3000, seed=51)
    tail = model_frame(ROWS - 3000, seed=52, shift=8.0, start_row=3000)
    return pd.concat([head, tail], ignore_index=True)


def sql_config(tmp: Path, *, profile: Path, store_url: str, source: str, name: str = "config.toml") -> Path:
    """A config with one SQL source ``s`` (the URL in ``DW_E2E_SERVING_DB_URL``) and monitor ``m``."""
    text = f"""
[service]
log_format = "text"
shutdown_grace = "10s"

[store]
url = "{store_url}"
reports_dir = "{(tmp / "reports").as_posix()}"

[http]
host = "127.0.0.1"
port = 0

[sources.s]
kind = "sql"
url_env = "{DB_ENV}"
{source}

[[monitors]]
name = "m"
source = "s"
profile = "{profile.as_posix()}"
window = {{ rows = {WINDOW} }}
routes = ["console"]

[sinks.console]
kind = "log"
"""
    path = tmp / name
    path.write_text(text)
    return path


def results(port: int) -> list[dict[str, Any]]:
    status, body = get(port, "/api/monitors/m/results?limit=10000")
    assert status == 200, body
    return list(body)


def replay_reference(
    tmp: Path, profile: Path, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> list[Any]:
    """``driftwarden replay`` of the same rows from a file, one result per full window."""
    path = tmp / "reference.csv"
    frame.to_csv(path, index=False)
    capsys.readouterr()
    code = cli_main(
        ["replay", "--profile", str(profile), str(path), "--window-rows", str(WINDOW), "--format", "jsonl"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_rows_inserted_while_the_daemon_polls_give_exact_windows(
    tmp_path: Path, db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = write_profile(tmp_path)
    frame = stream()
    metadata = MetaData()
    table = predictions_table(metadata)
    metadata.create_all(engine)
    # the store is on the same server as the data: PostgreSQL for the PostgreSQL run
    store_url = (
        db_url if db_url.startswith("postgresql") else f"sqlite:///{(tmp_path / 'store.db').as_posix()}"
    )
    config = sql_config(
        tmp_path,
        profile=profile,
        store_url=store_url,
        source='table = "predictions"\nwatermark = "id"\npoll_interval = "200ms"\nbatch_rows = 400',
    )
    daemon: Daemon = start_daemon(config, tmp_path / "daemon.log", env={DB_ENV: db_url})
    records = json.loads(frame.to_json(orient="records"))
    try:
        port = daemon.port()
        wait_for(lambda: get(port, "/readyz")[0] == 200, timeout_s=30, what="ready")
        for start in range(0, ROWS, BATCH):
            with engine.begin() as conn:
                conn.execute(insert(table), records[start : start + BATCH])
            time.sleep(0.15)
        docs = wait_for(
            lambda: (r := results(port)) and len(r) >= ROWS // WINDOW and r,
            timeout_s=60,
            interval_s=0.2,
            what="every window",
        )
        status, sources = get(port, "/api/sources")
        assert daemon.proc.poll() is None
    finally:
        daemon.terminate(30)
    log = daemon.text()
    assert "Traceback" not in log, log[-4000:]

    reference = replay_reference(tmp_path, profile, frame, capsys)
    assert len(docs) == ROWS // WINDOW
    assert [(d["window"]["first_row"], d["window"]["last_row"], d["rows"]) for d in docs] == [
        (i * WINDOW, (i + 1) * WINDOW - 1, WINDOW) for i in range(ROWS // WINDOW)
    ]
    for got, ref in zip(docs, reference, strict=False):
        a, b = window_summary(ref), window_summary(got)
        assert b == a, (a["index"], {k: (a[k], b[k]) for k in a if a[k] != b[k]})
    assert [d["features"]["age"]["drift_detected"] for d in docs] == [False, False, False, True, True]
    (s,) = sources
    assert (s["name"], s["kind"], s["connected"], s["rows"], s["dead_letters"]) == ("s", "sql", True, ROWS, 0)


INJECTIONS = [
    ("table", 'table = "predictions; DROP TABLE victim"\nwatermark = "id"', "sources.s.table"),
    ("watermark", 'table = "predictions"\nwatermark = "id) OR 1=1 --"', "sources.s.watermark"),
    ("quote", 'table = "predictions\\" ; DROP TABLE victim; --"\nwatermark = "id"', "sources.s.table"),
    (
        "schema",
        'schema = "public; DROP TABLE victim"\ntable = "predictions"\nwatermark = "id"',
        "sources.s.schema",
    ),
    (
        "tie_breaker",
        'table = "predictions"\nwatermark = "id"\ntie_breaker = "ts/**/OR/**/1=1"',
        "sources.s.tie_breaker",
    ),
    (
        "columns",
        'table = "predictions"\nwatermark = "id"\ncolumns = ["age", "1; DELETE FROM predictions"]',
        "sources.s.columns[1]",
    ),
]


@pytest.mark.parametrize(("case", "source", "key"), INJECTIONS, ids=[c[0] for c in INJECTIONS])
def test_sql_injection_through_config_is_rejected_before_any_sql_runs(
    tmp_path: Path,
    db_url: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    source: str,
    key: str,
) -> None:
    profile = write_profile(tmp_path)
    metadata = MetaData()
    table = predictions_table(metadata)
    victim = predictions_table(metadata, "victim")
    metadata.create_all(engine)
    rows = json.loads(model_frame(10, seed=61).to_json(orient="records"))
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
        conn.execute(insert(victim), rows)
    config = sql_config(
        tmp_path, profile=profile, store_url=f"sqlite:///{(tmp_path / 'store.db').as_posix()}", source=source
    )
    monkeypatch.setenv(DB_ENV, db_url)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        capsys.readouterr()
        code = cli_main(["run", "--config", str(config)])
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert f"{key}:" in lines[0] and "SQL identifier" in lines[0], lines[0]
    assert "Traceback" not in err
    assert statements == [], "SQL ran although the configuration was rejected"
    assert not (tmp_path / "store.db").exists()
    names = set(inspect(engine).get_table_names())
    assert {"predictions", "victim"} <= names
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar() == 10
        assert conn.execute(select(func.count()).select_from(victim)).scalar() == 10


def _scans(engine: Engine, table: str) -> int:
    """Sequential plus index scans of ``table`` in the current schema (PostgreSQL statistics)."""
    query = text(
        "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
        "WHERE relname = :t AND schemaname = current_schema()"
    )
    with engine.connect() as conn:
        return int(conn.execute(query, {"t": table}).scalar() or 0)


@pytest.mark.postgres
def test_an_idle_sql_source_is_polled_once_per_poll_interval(
    tmp_path: Path, postgres_schema_url: str
) -> None:
    engine = create_engine(postgres_schema_url)
    try:
        metadata = MetaData()
        predictions_table(metadata)
        metadata.create_all(engine)
        config = sql_config(
            tmp_path,
            profile=write_profile(tmp_path),
            store_url=f"sqlite:///{(tmp_path / 'store.db').as_posix()}",
            source='table = "predictions"\nwatermark = "id"\npoll_interval = "10s"',
        )
        daemon = start_daemon(config, tmp_path / "daemon.log", env={DB_ENV: postgres_schema_url})
        try:
            port = daemon.port()
            wait_for(lambda: get(port, "/readyz")[0] == 200, timeout_s=30, what="ready")
            time.sleep(1.5)  # statistics reach pg_stat_user_tables with a short delay
            before = _scans(engine, "predictions")
            time.sleep(4.0)
            after = _scans(engine, "predictions")
        finally:
            daemon.terminate(30)
    finally:
        engine.dispose()
    # at most one poll in 4 s with poll_interval = 10 s (one more for a statistics flush boundary)
    assert after - before <= 2, f"{after - before} scans of an idle table in 4 s"
