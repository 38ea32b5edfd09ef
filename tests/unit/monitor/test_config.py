"""monitor.config: the typed tree, strict all-at-once validation, secrets that never leak."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import (
    ALERT_KINDS,
    AlertsConfig,
    ConfigError,
    ConfigProblem,
    DetectorsConfig,
    DriftwardenConfig,
    FileSourceConfig,
    HttpConfig,
    KafkaSourceConfig,
    LabelsConfig,
    LogSinkConfig,
    RowWindow,
    Secret,
    ServiceConfig,
    SlackSinkConfig,
    SqlSourceConfig,
    TimeWindow,
    WebhookSinkConfig,
    default_config_path,
    describe_config,
    load_config,
)

REPO = Path(__file__).resolve().parents[3]

SLACK_TOKEN = "xoxb-1111-SLACKTOKENVALUE"
HOOK_SECRET = "whsec-HOOKSECRETVALUE"
PG_URL = "postgresql+psycopg://drift:PGPASSWORDVALUE@db.internal:5432/drift"
SASL_PASSWORD = "SASLPASSWORDVALUE"
SQL_URL = "postgresql://reader:SQLPASSWORDVALUE@serving:5432/serving"
SECRET_VALUES = (SLACK_TOKEN, HOOK_SECRET, "PGPASSWORDVALUE", SASL_PASSWORD, "SQLPASSWORDVALUE")

ENV = {
    "SLACK_BOT_TOKEN": SLACK_TOKEN,
    "RETRAIN_WEBHOOK_SECRET": HOOK_SECRET,
    "DRIFTWARDEN_STORE_URL": PG_URL,
    "KAFKA_PASSWORD": SASL_PASSWORD,
    "SERVING_DB_URL": SQL_URL,
}

MINIMAL = """
[sources.demo]
kind = "file"
path = "demo/stream.csv"

[[monitors]]
name = "demo"
source = "demo"
profile = "demo/profile.json"
window = { rows = 5000 }
"""

FULL = """
[service]
log_format = "json"
log_level = "debug"
shutdown_grace = "45s"

[store]
url_env = "DRIFTWARDEN_STORE_URL"
reports_dir = "reports"
retention = "30d"

[http]
host = "0.0.0.0"
port = 9000
public_url = "https://drift.example/"

[sources.demo]
kind = "file"
path = "demo/stream.csv"
rows_per_second = 2000
at_end = "loop"

[sources.features]
kind = "kafka"
bootstrap_servers = ["k1:9092", "k2:9092"]
topic = "model-features"
group_id = "drift"
format = "json_batch"
start_offset = "earliest"
security_protocol = "SASL_SSL"
sasl_mechanism = "SCRAM-SHA-512"
sasl_username = "drift"
sasl_password_env = "KAFKA_PASSWORD"
ssl_cafile = "certs/ca.pem"
max_message_bytes = "4MiB"
fetch_bytes = "16MiB"
fields = { age = "features.age", income = "features.income" }
event_time_source = "message_timestamp"
ssl_check_hostname = false
dead_letter_topic = "model-features-dlq"

[sources.served]
kind = "sql"
url_env = "SERVING_DB_URL"
table = "predictions"
schema = "ml"
columns = ["id", "request_id", "score"]
watermark = "id"
tie_breaker = "request_id"
poll_interval = "15s"
batch_rows = 1000

[[monitors]]
name = "demo"
source = "demo"
profile = "demo/profile.json"
window = { rows = 5000 }
routes = ["console", "oncall"]
detectors = { expected_false_alarms = "1/week", methods = { income = "psi" }, thresholds = { income = 0.2 } }
freshness = "10m"
expected_rows_per_window = 5000

[[monitors]]
name = "scaled"
source = "features"
profile = "demo/profile.json"
window = { duration = "1h", timestamp = "ts", lateness = "5m", max_future = "2h" }
replicas = 3
labels = { source = "served", id = "request_id", horizon = "7d" }
routes = ["retrain"]

[monitors.detectors]
drift_rule = "share"
drift_share = 0.3
concept = "page_hinkley"
quality = { missing_rate = 0.1, disabled = ["duplicate_rows"] }

[alerts]
consecutive_windows = 3
consecutive_windows_by_kind = { quality = 1 }
repeat_interval = "2h"
send_resolved = false

[[alerts.silences]]
monitor = "demo"
kind = "quality"
subject = "income*"
expires_at = 2030-01-01T00:00:00Z
comment = "known upstream outage"

[sinks.console]
kind = "log"

[sinks.oncall]
kind = "slack"
token_env = "SLACK_BOT_TOKEN"
channel = "#ml-oncall"
base_url = "http://127.0.0.1:9999/api"
min_severity = "critical"

[sinks.retrain]
kind = "webhook"
url = "https://pipelines.example/retrain"
secret_env = "RETRAIN_WEBHOOK_SECRET"
kinds = ["data_drift", "concept_drift", "performance"]
timeout = "5s"
"""


def make_tree(root: Path) -> Path:
    """The files a configuration may reference, under ``root``."""
    (root / "demo").mkdir(parents=True, exist_ok=True)
    (root / "demo" / "stream.csv").write_text("a,b\n1,2\n")
    (root / "demo" / "profile.json").write_text("{}")
    (root / "certs").mkdir(exist_ok=True)
    (root / "certs" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    return root


def write(root: Path, text: str) -> Path:
    make_tree(root)
    path = root / "config.toml"
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    """Load ``text`` as ``config.toml`` (relative label) and return the error lines."""
    write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config("config.toml", ENV if environ is None else environ)
    lines = str(info.value).splitlines()
    assert lines == [str(p) for p in info.value.problems]
    return lines


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


# ---- defaults and the full tree ------------------------------------------------------------------


def test_empty_file_gives_every_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), {})
    assert config.service == ServiceConfig()
    assert config.service.log_format == "text"
    assert config.service.shutdown_grace == timedelta(seconds=30)
    assert config.http == HttpConfig(enabled=True, host="127.0.0.1", port=8321, public_url=None)
    assert config.store.url.reveal() == f"sqlite:///{tmp_path.resolve()}/var/driftwarden.db"
    assert config.store.is_sqlite
    assert config.store.reports_dir == tmp_path.resolve() / "var" / "reports"
    assert config.store.retention == timedelta(days=90)
    assert config.alerts == AlertsConfig()
    assert config.alerts.consecutive_windows == 2
    assert config.alerts.repeat_interval == timedelta(hours=4)
    assert config.alerts.send_resolved is True
    assert config.monitors == () and dict(config.sources) == {} and dict(config.sinks) == {}


def test_minimal_monitor_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), {})
    source = config.sources["demo"]
    assert isinstance(source, FileSourceConfig)
    assert source.format == "csv" and source.rows_per_second == 0 and source.at_end == "idle"
    monitor = config.monitor("demo")
    assert monitor.window == RowWindow(rows=5000)
    assert monitor.replicas == 1
    assert monitor.labels is None
    assert monitor.routes == ()
    assert monitor.detectors == DetectorsConfig()
    assert monitor.detectors.drift_rule == "any" and monitor.detectors.concept == "adwin"
    assert monitor.freshness is None and monitor.expected_rows_per_window is None


def test_full_example_is_typed(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), ENV)
    root = tmp_path.resolve()
    assert config.path == root / "config.toml"
    assert config.service == ServiceConfig(
        log_format="json", log_level="DEBUG", shutdown_grace=timedelta(seconds=45)
    )
    assert config.store.url.reveal() == PG_URL and config.store.backend == "postgresql"
    assert config.store.reports_dir == root / "reports"
    assert config.http.public_url == "https://drift.example"

    kafka = config.sources["features"]
    assert isinstance(kafka, KafkaSourceConfig)
    assert kafka.bootstrap_servers == ("k1:9092", "k2:9092")
    assert kafka.format == "json_batch" and kafka.start_offset == "earliest"
    assert kafka.sasl_mechanism == "SCRAM-SHA-512" and kafka.sasl_password == Secret(SASL_PASSWORD)
    assert kafka.ssl_cafile == root / "certs" / "ca.pem"
    assert kafka.max_message_bytes == 4 * 1024 * 1024 and kafka.fetch_bytes == 16 * 1024 * 1024
    assert dict(kafka.fields) == {"age": "features.age", "income": "features.income"}
    assert kafka.event_time_source == "message_timestamp" and kafka.ssl_check_hostname is False

    sql = config.sources["served"]
    assert isinstance(sql, SqlSourceConfig)
    assert (
        sql.url.reveal() == SQL_URL
        and (sql.schema, sql.table) == ("ml", "predictions")
        and sql.tie_breaker == "request_id"
    )
    assert sql.columns == ("id", "request_id", "score")
    assert sql.poll_interval == timedelta(seconds=15) and sql.batch_rows == 1000

    demo, scaled = config.monitors
    assert demo.routes == ("console", "oncall")
    assert demo.detectors.expected_false_alarms == pytest.approx(1 / 604800)
    assert dict(demo.detectors.methods) == {"income": "psi"}
    assert dict(demo.detectors.thresholds) == {"income": 0.2}
    assert demo.freshness == timedelta(minutes=10) and demo.expected_rows_per_window == 5000
    assert scaled.window == TimeWindow(
        duration=timedelta(hours=1),
        timestamp="ts",
        lateness=timedelta(minutes=5),
        max_future=timedelta(hours=2),
    )
    assert scaled.replicas == 3
    assert scaled.labels == LabelsConfig(source="served", id="request_id", horizon=timedelta(days=7))
    assert scaled.detectors.drift_rule == "share" and scaled.detectors.drift_share == 0.3
    assert scaled.detectors.concept == "page_hinkley"
    assert scaled.detectors.quality.missing_rate == 0.1
    assert scaled.detectors.quality.disabled == ("duplicate_rows",)

    assert config.alerts.windows_to_fire("quality") == 1
    assert config.alerts.windows_to_fire("data_drift") == 3
    (silence,) = config.alerts.silences
    assert silence.monitor == "demo" and silence.subject == "income*"
    assert silence.expires_at == datetime(2030, 1, 1, tzinfo=UTC)

    assert config.sinks["console"] == LogSinkConfig(name="console")
    slack = config.sinks["oncall"]
    assert isinstance(slack, SlackSinkConfig)
    assert slack.token == Secret(SLACK_TOKEN) and slack.webhook_url is None
    assert slack.base_url == "http://127.0.0.1:9999/api/" and slack.min_severity == "critical"
    assert slack.kinds == ALERT_KINDS
    hook = config.sinks["retrain"]
    assert isinstance(hook, WebhookSinkConfig)
    assert hook.secret.reveal() == HOOK_SECRET
    assert hook.kinds == ("data_drift", "concept_drift", "performance")
    assert hook.timeout == timedelta(seconds=5)


def test_config_is_immutable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), ENV)
    with pytest.raises(AttributeError):
        config.http.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.sources["x"] = config.sources["demo"]  # type: ignore[index]
    with pytest.raises(TypeError):
        config.monitors[0].detectors.methods["age"] = "ks"  # type: ignore[index]


def test_default_config_path() -> None:
    assert default_config_path() == Path("config.toml")


# ---- one line per problem, naming file and key ---------------------------------------------------

BASE_MONITOR = """
[sources.demo]
kind = "file"
path = "demo/stream.csv"

[sinks.console]
kind = "log"

[[monitors]]
name = "demo"
source = "demo"
profile = "demo/profile.json"
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            BASE_MONITOR + "window = { rows = -5 }",
            "config.toml: monitors[0].window.rows: must be a positive integer, got -5",
        ),
        (
            BASE_MONITOR + 'window = { rows = "5000" }',
            'config.toml: monitors[0].window.rows: must be a positive integer, got "5000"',
        ),
        (
            BASE_MONITOR + 'window = { duration = "1 hour", timestamp = "ts" }',
            'config.toml: monitors[0].window.duration: must be a duration such as "500ms", "30s", "5m", '
            '"4h", "7d", "1w" or a sum such as "1h30m", got "1 hour"',
        ),
        (
            BASE_MONITOR + 'window = { duration = "1h" }',
            "config.toml: monitors[0].window.timestamp: required",
        ),
        (
            BASE_MONITOR + 'window = { duration = "1h", timestamp = "ts", max_future = "0s" }',
            'config.toml: monitors[0].window.max_future: must be longer than zero, got "0s"',
        ),
        (
            BASE_MONITOR + 'window = { rows = 10, max_future = "1d" }',
            "config.toml: monitors[0].window.max_future: only applies to time windows (duration = ...)",
        ),
        (
            BASE_MONITOR + 'window = { rows = 10, duration = "1h" }',
            "config.toml: monitors[0].window.rows: set either rows (count window) or duration (time window), not both",
        ),
        (
            BASE_MONITOR,
            'config.toml: monitors[0].window: required: { rows = 5000 } or { duration = "1h", timestamp = "ts" }',
        ),
        (
            BASE_MONITOR + "window = { rows = 10 }\nwindw = 3",
            "config.toml: monitors[0].windw: unknown key; did you mean 'window'?",
        ),
        (
            BASE_MONITOR + 'window = { rows = 10 }\nroutes = ["console", "pager"]',
            'config.toml: monitors[0].routes[1]: unknown sink "pager"; defined: console',
        ),
        (
            BASE_MONITOR.replace('source = "demo"\n', 'source = "demox"\n') + "window = { rows = 10 }",
            'config.toml: monitors[0].source: unknown source "demox"; defined: demo',
        ),
        (
            BASE_MONITOR.replace("demo/profile.json", "demo/nope.json") + "window = { rows = 10 }",
            "config.toml: monitors[0].profile: file not found: {root}/demo/nope.json",
        ),
        (
            BASE_MONITOR + 'window = { rows = 10 }\nlabels = { source = "nope", id = "rid" }',
            'config.toml: monitors[0].labels.source: unknown source "nope"; defined: demo',
        ),
        (
            BASE_MONITOR + 'window = { rows = 10 }\ndetectors = { drift_rule = "share", drift_share = 1.5 }',
            "config.toml: monitors[0].detectors.drift_share: must be a number from 0 to 1, got 1.5",
        ),
        (
            BASE_MONITOR + 'window = { rows = 10 }\ndetectors = { expected_false_alarms = "once a week" }',
            "config.toml: monitors[0].detectors.expected_false_alarms: must be a positive rate such as "
            '"1/week", "2/day", "1/hour", "3/30d" (events per period), got "once a week"',
        ),
        (
            '[service]\nlog_format = "xml"',
            'config.toml: service.log_format: must be one of "text", "json", got "xml"',
        ),
        (
            "[service]\nshutdown_grace = 30",
            'config.toml: service.shutdown_grace: must be a duration such as "500ms", "30s", "5m", "4h", '
            '"7d", "1w" or a sum such as "1h30m", got 30',
        ),
        ("[http]\nport = 70000", "config.toml: http.port: must be an integer from 0 to 65535, got 70000"),
        ('[http]\nenabled = "yes"', 'config.toml: http.enabled: must be true or false, got "yes"'),
        ("[htp]\nport = 1", "config.toml: htp: unknown key; did you mean 'http'?"),
        (
            '[store]\nurl = "mysql://x/y"',
            "config.toml: store.url: unsupported database 'mysql'; supported: sqlite, postgresql",
        ),
        (
            '[store]\nurl = "sqlite:///a.db"\nurl_env = "DRIFTWARDEN_STORE_URL"',
            "config.toml: store.url: set either url or url_env, not both",
        ),
        (
            '[store]\nurl_env = "NOT_SET"',
            "config.toml: store.url_env: environment variable NOT_SET is not set",
        ),
        (
            '[sources.x]\nkind = "ftp"',
            'config.toml: sources.x.kind: must be one of "file", "kafka", "sql", got "ftp"',
        ),
        (
            "[sources.x]\npath = 'a.csv'",
            'config.toml: sources.x.kind: required, one of "file", "kafka", "sql"',
        ),
        (
            '[sources.x]\nkind = "file"\npath = "demo/other.csv"',
            "config.toml: sources.x.path: file not found: {root}/demo/other.csv",
        ),
        (
            '[sources.s]\nkind = "sql"\nurl_env = "SERVING_DB_URL"\ntable = "t"\nwatermark = "id"\ntie_breaker = "id"',
            'config.toml: sources.s.tie_breaker: must be a column other than the watermark, got "id"',
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"\nbootstrap_servers = ["h:9092"]\nssl_cafile = "certs/ca.pem"',
            'config.toml: sources.k.ssl_cafile: needs security_protocol SSL or SASL_SSL, got "PLAINTEXT"',
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"\nbootstrap_servers = ["h:9092"]\ndead_letter_topic = "t"',
            'config.toml: sources.k.dead_letter_topic: must differ from topic, got "t"',
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"\nbootstrap_servers = ["h:9092"]\nsecurity_protocol = "TLS"\n'
            'ssl_cafile = "certs/ca.pem"',
            'config.toml: sources.k.security_protocol: must be one of "PLAINTEXT", "SSL", "SASL_PLAINTEXT", '
            '"SASL_SSL", got "TLS"',
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"\nbootstrap_servers = ["h:9092"]\nevent_time_source = "broker"',
            'config.toml: sources.k.event_time_source: must be one of "field", "message_timestamp", got "broker"',
        ),
        (
            '[sources.x]\nkind = "file"\npath = "demo/stream.csv"\nat_end = "stop"',
            'config.toml: sources.x.at_end: must be one of "idle", "loop", "exit", got "stop"',
        ),
        (
            '[sources.x]\nkind = "file"\npath = "demo/stream.csv"\nrows_per_second = -1',
            "config.toml: sources.x.rows_per_second: must be a number >= 0, got -1",
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"',
            'config.toml: sources.k.bootstrap_servers: required, e.g. ["127.0.0.1:9092"]',
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"\nbootstrap_servers = ["localhost"]',
            'config.toml: sources.k.bootstrap_servers[0]: must be "host:port", got "localhost"',
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"\nbootstrap_servers = ["h:9092"]\nstart_offset = "oldest"',
            'config.toml: sources.k.start_offset: must be one of "latest", "earliest", got "oldest"',
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"\nbootstrap_servers = ["h:9092"]\nmax_message_bytes = "1 gigabyte"',
            'config.toml: sources.k.max_message_bytes: must be a positive size such as "512B", "64KiB", '
            '"64MiB", "1GiB" (or decimal "64kB", "64MB", "1GB", or a plain byte count), got "1 gigabyte"',
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"\nbootstrap_servers = ["h:9092"]\nfetch_bytes = 0',
            'config.toml: sources.k.fetch_bytes: must be a positive size such as "512B", "64KiB", '
            '"64MiB", "1GiB" (or decimal "64kB", "64MB", "1GB", or a plain byte count), got 0',
        ),
        (
            '[sources.k]\nkind = "kafka"\ntopic = "t"\nbootstrap_servers = ["h:9092"]\nsasl_password_env = "KAFKA_PASSWORD"',
            'config.toml: sources.k.sasl_password_env: needs security_protocol SASL_SSL or SASL_PLAINTEXT, got "PLAINTEXT"',
        ),
        (
            '[sources.s]\nkind = "sql"\nurl_env = "SERVING_DB_URL"\ntable = "t; drop table x"\nwatermark = "id"',
            'config.toml: sources.s.table: must be a SQL identifier such as "predictions", got "t; drop table x"',
        ),
        (
            '[sources.s]\nkind = "sql"\ntable = "t"\nwatermark = "id"',
            "config.toml: sources.s.url: required (or url_env naming an environment variable)",
        ),
        (
            '[sinks.x]\nkind = "email"',
            'config.toml: sinks.x.kind: must be one of "log", "slack", "webhook", got "email"',
        ),
        (
            '[sinks.x]\nkind = "log"\nmin_severity = "info"',
            'config.toml: sinks.x.min_severity: must be one of "warning", "critical", got "info"',
        ),
        (
            '[sinks.x]\nkind = "log"\nkinds = ["drift"]',
            'config.toml: sinks.x.kinds[0]: must be one of "data_drift", "prediction_drift", "concept_drift", '
            '"performance", "quality", got "drift"',
        ),
        (
            '[sinks.x]\nkind = "slack"\ntoken_env = "SLACK_BOT_TOKEN"',
            'config.toml: sinks.x.channel: required with token_env, e.g. "#ml-oncall"',
        ),
        (
            '[sinks.x]\nkind = "slack"\ntoken_env = "NO_SUCH_TOKEN"\nchannel = "#c"',
            "config.toml: sinks.x.token_env: environment variable NO_SUCH_TOKEN is not set",
        ),
        (
            '[sinks.x]\nkind = "slack"\nchannel = "#c"',
            "config.toml: sinks.x.token_env: required (or webhook_url_env for an incoming webhook)",
        ),
        (
            '[sinks.x]\nkind = "webhook"\nurl = "ftp://host/x"\nsecret_env = "RETRAIN_WEBHOOK_SECRET"',
            'config.toml: sinks.x.url: must be an http(s) URL, got "ftp://host/x"',
        ),
        (
            '[sinks.x]\nkind = "webhook"\nurl = "https://host/x"',
            "config.toml: sinks.x.secret_env: required: the environment variable holding the HMAC signing secret",
        ),
        (
            '[sinks.x]\nkind = "webhook"\nurl = "https://host/x"\nsecret_env = "RETRAIN_WEBHOOK_SECRET"\ntimeout = "0s"',
            'config.toml: sinks.x.timeout: must be longer than zero, got "0s"',
        ),
        (
            "[alerts]\nconsecutive_windows = 0",
            "config.toml: alerts.consecutive_windows: must be a positive integer, got 0",
        ),
        (
            "[alerts]\nconsecutive_windows_by_kind = { qualty = 1 }",
            "config.toml: alerts.consecutive_windows_by_kind.qualty: unknown key; did you mean 'quality'?",
        ),
        (
            '[[alerts.silences]]\nmonitor = "*"\nexpires_at = "soon"',
            "config.toml: alerts.silences[0].expires_at: must be an RFC 3339 time with a zone such as "
            '2026-01-31T18:00:00Z, got "soon"',
        ),
        (
            '[[alerts.silences]]\nmonitor = "ghost"\nexpires_at = 2030-01-01T00:00:00Z',
            'config.toml: alerts.silences[0].monitor: unknown monitor "ghost"; defined: none '
            '(or a glob pattern such as "fraud-*")',
        ),
        ("monitors = 3", "config.toml: monitors: must be an array of tables ([[monitors]]), got 3"),
    ],
)
def test_each_problem_is_one_line_with_key_path(tmp_path: Path, text: str, expected: str) -> None:
    lines = problems_of(tmp_path, text)
    assert lines == [expected.replace("{root}", str(tmp_path.resolve()))]


def test_unknown_drift_method_lists_the_registry(tmp_path: Path) -> None:
    from detectors.drift import DRIFT_TESTS

    lines = problems_of(
        tmp_path, BASE_MONITOR + 'window = { rows = 10 }\ndetectors = { methods = { age = "kss" } }'
    )
    assert lines == [
        'config.toml: monitors[0].detectors.methods.age: unknown method "kss"; '
        f"available: {', '.join(sorted(DRIFT_TESTS))}"
    ]
    assert {"ks", "psi", "wasserstein", "chi2", "jensenshannon"} <= set(DRIFT_TESTS)


def test_odd_keys_are_quoted_and_stay_on_one_line(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, '[http]\n"po\\nrt" = 1\n"a.b" = 2\n[sources."my src"]\nkind = "file"')
    assert lines == [
        "config.toml: http.\"po\\nrt\": unknown key; did you mean 'port'?",
        'config.toml: http."a.b": unknown key; allowed: enabled, host, port, public_url',
        "config.toml: sources.\"my src\": names may use letters, digits, '_', '-' and '.' and must not "
        "start with '-' or '.'",
    ]


def test_problem_fields(tmp_path: Path) -> None:
    write(tmp_path, BASE_MONITOR + "window = { rows = -5 }")
    with pytest.raises(ConfigError) as info:
        load_config("config.toml", {})
    assert info.value.problems == (
        ConfigProblem(
            file="config.toml", key="monitors[0].window.rows", message="must be a positive integer, got -5"
        ),
    )
    assert (info.value.file, info.value.key) == ("config.toml", "monitors[0].window.rows")


def test_unknown_secret_value_key_points_at_env(tmp_path: Path) -> None:
    lines = problems_of(
        tmp_path,
        '[sinks.x]\nkind = "slack"\ntoken = "xoxb-inline"\ntoken_env = "SLACK_BOT_TOKEN"\nchannel = "#c"',
    )
    assert lines == [
        "config.toml: sinks.x.token: unknown key; secrets are never values in the file: "
        "set token_env to the name of an environment variable"
    ]
    assert "xoxb-inline" not in "\n".join(lines)


def test_replicas_need_postgres_and_kafka(tmp_path: Path) -> None:
    lines = problems_of(
        tmp_path, BASE_MONITOR + 'window = { duration = "1h", timestamp = "ts" }\nreplicas = 2'
    )
    assert lines == [
        "config.toml: monitors[0].replicas: 2 replicas need a PostgreSQL store; store.url is SQLite",
        'config.toml: monitors[0].replicas: 2 replicas need a kafka source; "demo" is a file source',
    ]


def test_row_window_cannot_be_shared_by_replicas(tmp_path: Path) -> None:
    text = """
[store]
url_env = "DRIFTWARDEN_STORE_URL"
[sources.k]
kind = "kafka"
bootstrap_servers = ["k1:9092"]
topic = "t"
[[monitors]]
name = "m"
source = "k"
profile = "demo/profile.json"
window = { rows = 10 }
replicas = 2
"""
    assert problems_of(tmp_path, text) == [
        "config.toml: monitors[0].window: a row-count window cannot be shared by 2 replicas; use an "
        'event-time window { duration = "1h", timestamp = "ts" }'
    ]


def test_replicas_with_kafka_postgres_and_time_window_are_fine(tmp_path: Path) -> None:
    text = """
[store]
url_env = "DRIFTWARDEN_STORE_URL"
[sources.k]
kind = "kafka"
bootstrap_servers = "k1:9092,k2:9092"
topic = "t"
[[monitors]]
name = "m"
source = "k"
profile = "demo/profile.json"
window = { duration = "1h", timestamp = "ts" }
replicas = 4
"""
    config = load_config(write(tmp_path, text), ENV)
    assert config.monitors[0].replicas == 4
    source = config.sources["k"]
    assert isinstance(source, KafkaSourceConfig) and source.bootstrap_servers == ("k1:9092", "k2:9092")


def test_all_problems_are_gathered(tmp_path: Path) -> None:
    text = """
[service]
log_format = "xml"
shutdown_grace = "soon"
[http]
prot = 8080
[sources.k]
kind = "kafka"
topic = "t"
[[monitors]]
name = "a"
source = "nowhere"
profile = "missing.json"
window = { rows = 0 }
routes = ["ghost"]
[[monitors]]
name = "a"
source = "k"
profile = "demo/profile.json"
window = { rows = 10 }
[sinks.s]
kind = "slack"
token_env = "UNSET_TOKEN"
channel = "#c"
"""
    lines = problems_of(tmp_path, text, environ={})
    keys = [line.split(": ")[1] for line in lines]
    assert keys == [
        "service.log_format",
        "service.shutdown_grace",
        "http.prot",
        "sources.k.bootstrap_servers",
        "sinks.s.token_env",
        "monitors[0].source",
        "monitors[0].profile",
        "monitors[0].window.rows",
        "monitors[0].routes[0]",
        "monitors[1].name",
    ]
    assert all(line.startswith("config.toml: ") and "\n" not in line for line in lines)
    assert lines[-1] == 'config.toml: monitors[1].name: duplicate monitor name "a" (also monitors[0])'


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[service\nlog_format = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config("config.toml", {})
    assert str(info.value).startswith("config.toml: invalid TOML: ")
    assert "line 1" in str(info.value) and len(str(info.value).splitlines()) == 1
    with pytest.raises(ConfigError, match=r"^nope\.toml: file not found$"):
        load_config("nope.toml", {})


# ---- secrets ---------------------------------------------------------------------------------------


def test_secret_type() -> None:
    secret = Secret("hunter2-value")
    assert repr(secret) == "Secret('***')" == str(secret) == f"{secret}"
    assert secret.reveal() == "hunter2-value"
    assert secret == Secret("hunter2-value") and secret != Secret("other")
    assert "hunter2" not in repr([secret, {"k": secret}])


def test_secrets_never_appear_in_repr_str_or_description(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), ENV)
    rendered = [repr(config), str(config), json.dumps(describe_config(config))]
    for text in rendered:
        for value in SECRET_VALUES:
            assert value not in text
    assert {s.reveal() for s in config.secrets()} == {
        SLACK_TOKEN,
        HOOK_SECRET,
        PG_URL,
        SASL_PASSWORD,
        SQL_URL,
    }


def test_secrets_never_appear_in_config_errors(tmp_path: Path) -> None:
    text = FULL.replace('token_env = "SLACK_BOT_TOKEN"', f'token_env = "{SLACK_TOKEN}"').replace(
        'log_format = "json"', 'log_format = "yaml"'
    )
    environ = {**ENV, "DRIFTWARDEN_STORE_URL": "mysql://u:PGPASSWORDVALUE@h/db"}
    lines = problems_of(tmp_path, text, environ)
    message = "\n".join(lines)
    for value in SECRET_VALUES:
        assert value not in message
    assert "config.toml: store.url_env: unsupported database 'mysql'; supported: sqlite, postgresql" in lines
    assert (
        'config.toml: sinks.oncall.token_env: must name an environment variable such as "SLACK_BOT_TOKEN" '
        "(the value is not shown: it may be a secret)"
    ) in lines


def test_describe_config_masks_and_is_json(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), ENV)
    described = describe_config(config)
    assert described["store"]["url"] == "***"
    assert described["store"]["url_env"] == "DRIFTWARDEN_STORE_URL"
    assert described["sinks"]["oncall"]["token"] == "***"
    assert described["sinks"]["retrain"]["secret"] == "***"
    assert described["sources"]["features"]["sasl_password"] == "***"
    assert described["alerts"]["repeat_interval"] == "2h"
    assert described["monitors"][1]["window"] == {
        "type": "time",
        "duration": "1h",
        "timestamp": "ts",
        "lateness": "5m",
        "max_future": "2h",
    }
    assert described["alerts"]["silences"][0]["expires_at"] == "2030-01-01T00:00:00Z"
    json.dumps(described)


def test_describe_config_hides_a_password_written_in_the_file(tmp_path: Path) -> None:
    text = '[store]\nurl = "postgresql://drift:INFILEPASSWORD@db:5432/drift?sslmode=require"'
    config = load_config(write(tmp_path, text), {})
    shown = describe_config(config)["store"]["url"]
    assert "INFILEPASSWORD" not in shown and "sslmode" not in shown
    assert shown.startswith("postgresql://drift:***@db:5432/drift")


# ---- paths -------------------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "etc" / "driftwarden"
    write(conf_dir, MINIMAL + '[store]\nurl = "sqlite:///state/dw.db"\nreports_dir = "out"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("..") / "etc" / "driftwarden" / "config.toml", {})
    root = conf_dir.resolve()
    assert config.sources["demo"].path == root / "demo" / "stream.csv"  # type: ignore[union-attr]
    assert config.monitors[0].profile == root / "demo" / "profile.json"
    assert config.store.reports_dir == root / "out"
    assert config.store.url.reveal() == f"sqlite:///{root}/state/dw.db"


def test_absolute_paths_and_memory_sqlite_are_kept(tmp_path: Path) -> None:
    profile = make_tree(tmp_path / "abs") / "demo" / "profile.json"
    text = MINIMAL.replace('"demo/profile.json"', json.dumps(str(profile))) + '[store]\nurl = "sqlite://"\n'
    config = load_config(write(tmp_path, text), {})
    assert config.monitors[0].profile == profile
    assert config.store.url.reveal() == "sqlite://"


def test_file_format_is_inferred_from_the_extension(tmp_path: Path) -> None:
    make_tree(tmp_path)
    (tmp_path / "demo" / "s.parquet").write_bytes(b"PAR1")
    (tmp_path / "demo" / "s.jsonl").write_text("{}\n")
    (tmp_path / "demo" / "s.dat").write_text("x")
    text = """
[sources.p]
kind = "file"
path = "demo/s.parquet"
[sources.j]
kind = "file"
path = "demo/s.jsonl"
[sources.c]
kind = "file"
path = "demo/stream.csv"
"""
    config = load_config(write(tmp_path, text), {})
    assert [config.sources[n].format for n in ("p", "j", "c")] == ["parquet", "jsonl", "csv"]  # type: ignore[union-attr]
    lines = problems_of(tmp_path, '[sources.d]\nkind = "file"\npath = "demo/s.dat"')
    assert lines == [
        "config.toml: sources.d.path: unknown file extension '.dat' of 's.dat'; "
        "expected .csv, .jsonl, .ndjson, .parquet, .pq"
    ]


# ---- the shipped configuration -----------------------------------------------------------------------


def test_shipped_config_runs_the_demo(tmp_path: Path) -> None:
    shipped = REPO / "config.toml"
    copy = make_tree(tmp_path / "repo") / "config.toml"
    shutil.copyfile(shipped, copy)
    config = load_config(copy, {})
    assert isinstance(config, DriftwardenConfig)
    root = copy.parent.resolve()
    assert config.http.port == 8321
    assert config.store.url.reveal() == f"sqlite:///{root}/var/driftwarden.db"
    assert config.store.reports_dir == root / "var" / "reports"
    source = config.sources["demo"]
    assert isinstance(source, FileSourceConfig)
    assert source.path == root / "demo" / "stream.csv"
    assert source.rows_per_second == 2000 and source.at_end == "idle" and source.format == "csv"
    (monitor,) = config.monitors
    assert monitor.name == "demo" and monitor.source == "demo"
    assert monitor.profile == root / "demo" / "profile.json"
    assert monitor.window == RowWindow(rows=5000)
    assert monitor.routes == ("console",)
    assert config.sinks["console"] == LogSinkConfig(name="console")


# ---- the documentation -------------------------------------------------------------------------------


def test_documented_complete_example_parses(tmp_path: Path) -> None:
    docs = (REPO / "docs" / "config.md").read_text()
    example = docs.split("## Complete example", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    etc = make_tree(tmp_path / "etc")
    (etc / "profiles").mkdir()
    (etc / "profiles" / "credit.json").write_text("{}")
    (etc / "kafka-ca.pem").write_text("")
    text = example.replace("/etc/driftwarden/", f"{etc}/").replace("/var/lib/driftwarden/", f"{tmp_path}/")
    config = load_config(write(tmp_path, text), {**ENV, "SLACK_BOT_TOKEN": SLACK_TOKEN})
    assert config.monitor("credit").replicas == 3


def test_every_key_is_documented() -> None:
    import dataclasses

    import monitor.config as module

    docs = (REPO / "docs" / "config.md").read_text()
    derived = {"name", "path", "url", "token", "webhook_url", "secret", "sasl_password", "ssl_password"}
    missing = []
    for cls_name in module.__all__:
        cls = getattr(module, cls_name)
        if cls_name in ("ConfigProblem", "DriftwardenConfig"):
            continue
        if isinstance(cls, type) and dataclasses.is_dataclass(cls):
            for item in dataclasses.fields(cls):
                if item.name not in derived and f"`{item.name}`" not in docs:
                    missing.append(f"{cls_name}.{item.name}")
    assert missing == []


# ---- deployment files --------------------------------------------------------------------------------


def test_docker_image_config_parses(tmp_path: Path) -> None:
    text = (REPO / "deploy" / "docker" / "config.toml").read_text()
    demo = make_tree(tmp_path / "share") / "demo"
    text = text.replace("/usr/share/driftwarden/demo/", f"{demo}/").replace(
        "/var/lib/driftwarden/", f"{tmp_path}/"
    )
    config = load_config(write(tmp_path, text), {})
    assert config.http.host == "0.0.0.0" and config.http.port == 8321
    assert config.store.url.reveal() == f"sqlite:///{tmp_path}/driftwarden.db"


def test_kubernetes_configmap_parses_and_matches_the_deployment(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    k8s = REPO / "deploy" / "k8s"
    configmap = yaml.safe_load((k8s / "configmap.yaml").read_text())
    deployment = yaml.safe_load((k8s / "deployment.yaml").read_text())
    etc = tmp_path / "etc"
    (etc / "profiles").mkdir(parents=True)
    (etc / "profiles" / "credit.json").write_text("{}")
    (etc / "kafka").mkdir()
    (etc / "kafka" / "ca.crt").write_text("")
    text = configmap["data"]["config.toml"].replace("/etc/driftwarden/", f"{etc}/")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    environ = {
        item["name"]: "x-" + item["valueFrom"]["secretKeyRef"]["key"]
        for item in container["env"]
        if "valueFrom" in item
    }
    environ["DRIFTWARDEN_STORE_URL"] = "postgresql+psycopg://u:p@db/drift"
    config = load_config(write(tmp_path, text), environ)
    # every *_env key of the config is provided by the Deployment
    described = json.dumps(describe_config(config))
    env_names = set(re.findall(r'"[a-z_]*_env": "([A-Z_]+)"', described))
    assert env_names <= set(environ) and env_names
    assert deployment["spec"]["replicas"] == config.monitor("credit").replicas
    probes = {name: container[name]["httpGet"]["path"] for name in ("livenessProbe", "readinessProbe")}
    assert probes == {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > config.service.shutdown_grace.total_seconds()


# ---- gathering, as a property ----------------------------------------------------------------------

INDEPENDENT_MISTAKES: tuple[tuple[str, str], ...] = (
    ('[service]\nlog_format = "xml"', "service.log_format"),
    ("[http]\nport = -1", "http.port"),
    ('[store]\nretention = "forever"', "store.retention"),
    ('[alerts]\nrepeat_interval = "0s"', "alerts.repeat_interval"),
    ('[sources.bad_file]\nkind = "file"\npath = "nope.csv"', "sources.bad_file.path"),
    ('[sources.bad_kafka]\nkind = "kafka"\ntopic = "t"', "sources.bad_kafka.bootstrap_servers"),
    ('[sinks.bad_log]\nkind = "log"\nmin_severity = "info"', "sinks.bad_log.min_severity"),
    (
        '[sinks.bad_hook]\nkind = "webhook"\nurl = "https://h/x"\nsecret_env = "UNSET_VAR"',
        "sinks.bad_hook.secret_env",
    ),
    (
        '[[monitors]]\nname = "m"\nsource = "nowhere"\nprofile = "demo/profile.json"\nwindow = { rows = 1 }',
        "monitors[0].source",
    ),
)


@given(st.sets(st.integers(min_value=0, max_value=len(INDEPENDENT_MISTAKES) - 1)))
@settings(max_examples=40, deadline=None)
def test_every_mistake_is_reported_once(chosen: set[int]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = write(Path(directory), "\n".join(INDEPENDENT_MISTAKES[i][0] for i in sorted(chosen)))
        try:
            load_config(path, {})
        except ConfigError as error:
            reported = [problem.key for problem in error.problems]
        else:
            reported = []
    assert sorted(reported) == sorted(INDEPENDENT_MISTAKES[i][1] for i in chosen)


def test_kustomization_lists_existing_manifests() -> None:
    yaml = pytest.importorskip("yaml")
    k8s = REPO / "deploy" / "k8s"
    kustomization = yaml.safe_load((k8s / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        document = yaml.safe_load((k8s / resource).read_text())
        assert document["apiVersion"] and document["kind"] and document["metadata"]["name"]
    assert "secret.example.yaml" not in kustomization["resources"]


def test_secrets_are_those_from_the_environment_only(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), {})
    assert config.secrets() == ()
