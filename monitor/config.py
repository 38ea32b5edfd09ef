"""The typed configuration tree: ``config.toml`` read once into frozen dataclasses.

:func:`load_config` reads the file with :mod:`tomllib`, checks every key at once and either
returns a :class:`DriftwardenConfig` or raises one :class:`ConfigError` listing every problem,
one line each, naming the file and the dotted key (``config.toml: monitors[0].window.rows: must
be a positive integer, got -5``). Unknown keys are errors, so a typo never silently falls back to
a default. Secrets are never values in the file: a key ending in ``_env`` names an environment
variable, whose value is held in a :class:`Secret` that prints as ``Secret('***')``.

Relative paths (profiles, file sources, ``reports_dir``, SQLite URLs, CA files) are resolved
against the directory of the configuration file, so the daemon behaves the same from any
working directory. Every key is documented in ``docs/config.md``.
"""

from __future__ import annotations

import dataclasses
import difflib
import hmac
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, TypeVar, cast, get_args

from monitor.durations import (
    DURATION_FORMS,
    RATE_FORMS,
    SIZE_FORMS,
    format_duration,
    parse_duration,
    parse_rate,
    parse_size,
)

__all__ = [
    "ALERT_KINDS",
    "AlertKind",
    "AlertsConfig",
    "ConfigError",
    "ConfigProblem",
    "DetectorsConfig",
    "DriftwardenConfig",
    "FileSourceConfig",
    "HttpConfig",
    "KafkaSourceConfig",
    "LabelsConfig",
    "LogSinkConfig",
    "MonitorConfig",
    "QualityConfig",
    "RowWindow",
    "Secret",
    "ServiceConfig",
    "SilenceConfig",
    "SinkConfig",
    "SlackSinkConfig",
    "SourceConfig",
    "SqlSourceConfig",
    "StoreConfig",
    "TimeWindow",
    "WebhookSinkConfig",
    "WindowConfig",
    "default_config_path",
    "describe_config",
    "load_config",
]

LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
AtEnd = Literal["idle", "loop", "exit"]
FileFormat = Literal["csv", "parquet", "jsonl"]
KafkaFormat = Literal["json", "json_batch"]
StartOffset = Literal["latest", "earliest"]
EventTimeSource = Literal["field", "message_timestamp"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
Severity = Literal["warning", "critical"]
AlertKind = Literal["data_drift", "prediction_drift", "concept_drift", "performance", "quality"]
DriftRule = Literal["any", "share"]
QualityCheck = Literal[
    "missing_column",
    "unexpected_column",
    "type_mismatch",
    "malformed_rows",
    "missing_rate",
    "out_of_range",
    "new_category",
    "constant_column",
    "duplicate_rows",
    "volume",
    "freshness",
]

ALERT_KINDS: Final[tuple[AlertKind, ...]] = get_args(AlertKind)
QUALITY_CHECKS: Final[tuple[QualityCheck, ...]] = get_args(QualityCheck)
FILE_EXTENSIONS: Final[Mapping[str, FileFormat]] = MappingProxyType(
    {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
)
DEFAULT_MAX_FUTURE: Final = timedelta(days=1)
"""``window.max_future`` when not set: event times up to a day ahead of the clock are placed."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_SQL_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST_PORT = re.compile(r"[^\s:,]+:\d{1,5}|\[[0-9A-Fa-f:]+\]:\d{1,5}")


def default_config_path() -> Path:
    """Return the configuration file used when none is given: ``./config.toml``."""
    return Path("config.toml")


# --------------------------------------------------------------------------------------------
# Secrets and errors
# --------------------------------------------------------------------------------------------


class Secret:
    """A secret value (token, password, database URL) read from the environment.

    ``repr()`` and ``str()`` are always ``Secret('***')``, so a secret cannot leak through a log
    line, an exception message or a dataclass ``repr``; :meth:`reveal` returns the value for the
    one call that needs it.

    Examples
    --------
    >>> token = Secret("xoxb-123")
    >>> token
    Secret('***')
    >>> f"token={token}"
    "token=Secret('***')"
    >>> token.reveal()
    'xoxb-123'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret value must be a str, got {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """Return the secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigProblem:
    """One thing wrong with a configuration file.

    ``str()`` is the one line shown to the user: ``<file>: <key>: <message>`` (or
    ``<file>: <message>`` when the problem is the file as a whole).
    """

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        if self.key:
            return f"{self.file}: {self.key}: {self.message}"
        return f"{self.file}: {self.message}"


class ConfigError(Exception):
    """A configuration file cannot be used; ``str()`` is every problem, one line each.

    Parameters
    ----------
    problems:
        At least one :class:`ConfigProblem`; all the problems found in one pass over the file.
    """

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("ConfigError needs at least one problem")
        super().__init__(str(self))

    @classmethod
    def single(cls, file: str, key: str, message: str) -> ConfigError:
        """Build the error for one problem."""
        return cls([ConfigProblem(file=file, key=key, message=message)])

    @property
    def file(self) -> str:
        """The file of the first problem."""
        return self.problems[0].file

    @property
    def key(self) -> str:
        """The dotted key of the first problem."""
        return self.problems[0].key

    @property
    def message(self) -> str:
        """The message of the first problem."""
        return self.problems[0].message

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


# --------------------------------------------------------------------------------------------
# The configuration tree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceConfig:
    """``[service]``: process-wide settings."""

    log_format: LogFormat = "text"
    log_level: LogLevel = "INFO"
    shutdown_grace: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """``[store]``: where results, checkpoints, the alert outbox and dead letters live."""

    url: Secret = Secret("sqlite:///var/driftwarden.db")
    url_env: str | None = None
    reports_dir: Path = Path("var/reports")
    retention: timedelta = timedelta(days=90)

    @property
    def backend(self) -> str:
        """The database kind of :attr:`url`: ``"sqlite"`` or ``"postgresql"``."""
        return _url_backend(self.url.reveal())

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is a SQLite file (one process only)."""
        return self.backend == "sqlite"


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpConfig:
    """``[http]``: health, metrics and API endpoint."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8321
    public_url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSourceConfig:
    """``[sources.<name>]`` with ``kind = "file"``: replay a CSV, Parquet or JSON-lines file."""

    name: str
    kind: Literal["file"] = "file"
    path: Path
    format: FileFormat
    rows_per_second: float = 0.0
    at_end: AtEnd = "idle"


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSourceConfig:
    """``[sources.<name>]`` with ``kind = "kafka"``: JSON messages from one topic."""

    name: str
    kind: Literal["kafka"] = "kafka"
    bootstrap_servers: tuple[str, ...]
    topic: str
    group_id: str = "driftwarden"
    client_id: str = "driftwarden"
    format: KafkaFormat = "json"
    start_offset: StartOffset = "latest"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password_env: str | None = None
    sasl_password: Secret | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_password_env: str | None = None
    ssl_password: Secret | None = None
    ssl_check_hostname: bool = True
    max_message_bytes: int = 1024 * 1024
    fetch_bytes: int = 8 * 1024 * 1024
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    include_unmapped: bool = True
    event_time_source: EventTimeSource = "field"
    dead_letter_topic: str | None = None
    session_timeout: timedelta = timedelta(seconds=45)


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlSourceConfig:
    """``[sources.<name>]`` with ``kind = "sql"``: poll a table by a monotonic watermark column."""

    name: str
    kind: Literal["sql"] = "sql"
    url: Secret
    url_env: str | None = None
    table: str
    schema: str | None = None
    watermark: str
    tie_breaker: str | None = None
    columns: tuple[str, ...] | None = None
    poll_interval: timedelta = timedelta(seconds=10)
    batch_rows: int = 50_000


SourceConfig = FileSourceConfig | KafkaSourceConfig | SqlSourceConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class RowWindow:
    """``window = { rows = N }``: a window closes after N rows (one consumer only)."""

    rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeWindow:
    """``window = { duration, timestamp, lateness, max_future }``: tumbling event-time windows.

    ``max_future`` bounds how far ahead of the wall clock an event time may be when the daemon
    receives the row from a live source (Kafka, SQL; a file replays recorded rows). One row
    stamped decades ahead (a sentinel date, a broken producer clock) would otherwise move the
    event-time clock there: every window up to it would close and every later row would be
    late. Such a row is a dead letter instead.
    """

    duration: timedelta
    timestamp: str
    lateness: timedelta = timedelta(0)
    max_future: timedelta = DEFAULT_MAX_FUTURE


WindowConfig = RowWindow | TimeWindow


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelsConfig:
    """``labels = { source, id, ... }``: late ground truth joined to predictions by id."""

    source: str
    id: str
    target: str | None = None
    horizon: timedelta = timedelta(days=7)
    max_pending: int = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityConfig:
    """``detectors.quality``: data-quality thresholds; ``None`` means the check's own default."""

    missing_rate: float | None = None
    out_of_range: float | None = None
    new_category: float | None = None
    duplicate_rows: float | None = None
    type_mismatch: float | None = None
    volume_tolerance: float | None = None
    disabled: tuple[QualityCheck, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DetectorsConfig:
    """``detectors = { ... }``: which tests run on which column and how drift is decided."""

    expected_false_alarms: float | None = None
    methods: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    thresholds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    drift_rule: DriftRule = "any"
    drift_share: float = 0.5
    concept: str | None = "adwin"
    quality: QualityConfig = QualityConfig()
    multivariate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorConfig:
    """``[[monitors]]``: one model's stream checked against one profile."""

    name: str
    source: str
    profile: Path
    window: WindowConfig
    replicas: int = 1
    labels: LabelsConfig | None = None
    routes: tuple[str, ...] = ()
    detectors: DetectorsConfig = DetectorsConfig()
    freshness: timedelta | None = None
    expected_rows_per_window: int | None = None


EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class SilenceConfig:
    """``[[alerts.silences]]``: mute alerts matching all three glob patterns until ``expires_at``.

    Patterns use :func:`fnmatch.fnmatchcase` syntax (``*``, ``?``, ``[ab]``), as
    ``alerts.Silence`` does; ``subject`` matches a full subject (``income:missing_rate``) or a column.
    """

    monitor: str = "*"
    kind: str = "*"
    subject: str = "*"
    starts_at: datetime = EPOCH
    expires_at: datetime
    comment: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertsConfig:
    """``[alerts]``: when a flagged window becomes a notification, and how long delivery is retried."""

    consecutive_windows: int = 2
    consecutive_windows_by_kind: Mapping[AlertKind, int] = field(default_factory=lambda: MappingProxyType({}))
    resolve_windows: int = 2
    repeat_interval: timedelta = timedelta(hours=4)
    send_resolved: bool = True
    give_up_after: timedelta = timedelta(days=1)
    silences: tuple[SilenceConfig, ...] = ()

    def windows_to_fire(self, kind: AlertKind) -> int:
        """Flagged windows in a row needed before an alert of ``kind`` fires."""
        return self.consecutive_windows_by_kind.get(kind, self.consecutive_windows)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogSinkConfig:
    """``[sinks.<name>]`` with ``kind = "log"``: alerts as log lines."""

    name: str
    kind: Literal["log"] = "log"
    min_severity: Severity = "warning"
    kinds: tuple[AlertKind, ...] = ALERT_KINDS


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackSinkConfig:
    """``[sinks.<name>]`` with ``kind = "slack"``: a bot token and channel, or an incoming webhook."""

    name: str
    kind: Literal["slack"] = "slack"
    token_env: str | None = None
    token: Secret | None = None
    webhook_url_env: str | None = None
    webhook_url: Secret | None = None
    channel: str | None = None
    base_url: str = "https://slack.com/api/"
    min_severity: Severity = "warning"
    kinds: tuple[AlertKind, ...] = ALERT_KINDS
    timeout: timedelta = timedelta(seconds=10)
    plot: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSinkConfig:
    """``[sinks.<name>]`` with ``kind = "webhook"``: HMAC-signed JSON POSTs (retraining pipelines)."""

    name: str
    kind: Literal["webhook"] = "webhook"
    url: str
    secret_env: str
    secret: Secret
    min_severity: Severity = "warning"
    kinds: tuple[AlertKind, ...] = ALERT_KINDS
    timeout: timedelta = timedelta(seconds=10)


SinkConfig = LogSinkConfig | SlackSinkConfig | WebhookSinkConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftwardenConfig:
    """The whole configuration, validated; immutable after start (a reload is a restart)."""

    path: Path
    service: ServiceConfig = ServiceConfig()
    store: StoreConfig = StoreConfig()
    http: HttpConfig = HttpConfig()
    sources: Mapping[str, SourceConfig] = field(default_factory=lambda: MappingProxyType({}))
    monitors: tuple[MonitorConfig, ...] = ()
    alerts: AlertsConfig = AlertsConfig()
    sinks: Mapping[str, SinkConfig] = field(default_factory=lambda: MappingProxyType({}))

    def monitor(self, name: str) -> MonitorConfig:
        """Return the monitor called ``name``; ``KeyError`` lists the defined ones."""
        for monitor in self.monitors:
            if monitor.name == name:
                return monitor
        known = ", ".join(m.name for m in self.monitors) or "none"
        raise KeyError(f"unknown monitor {name!r}; defined: {known}")

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret taken from the environment (for log filters that mask their values)."""
        found: list[Secret] = []
        _collect_secrets(self, found)
        return tuple(found)


def _collect_secrets(value: object, found: list[Secret]) -> None:
    if isinstance(value, Secret):
        if value.reveal():
            found.append(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            if item.name == "url" and getattr(value, "url_env", "") is None:
                continue  # a URL written in the file is not a secret (its password part is masked in logs)
            _collect_secrets(getattr(value, item.name), found)
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect_secrets(item, found)
    elif isinstance(value, tuple):
        for item in value:
            _collect_secrets(item, found)


# --------------------------------------------------------------------------------------------
# Effective configuration, secrets masked
# --------------------------------------------------------------------------------------------

MASK: Final = "***"


def describe_config(config: DriftwardenConfig) -> dict[str, Any]:
    """Return the effective configuration as plain JSON-able data with every secret masked.

    Durations are written back as unit strings (``"4h"``), paths as strings and secrets as
    ``"***"``; a database URL written in the file (not taken from the environment) is shown with
    its password masked. This is what the daemon logs at startup.

    Parameters
    ----------
    config:
        A loaded configuration.

    Returns
    -------
    dict
        Nested dicts, lists, strings, numbers, booleans and ``None``.
    """
    described = _describe(config)
    assert isinstance(described, dict)
    return described


def _describe(value: object) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime):
        return _format_datetime(value)
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for item in dataclasses.fields(value):
            out[item.name] = _describe(getattr(value, item.name))
        if isinstance(value, RowWindow | TimeWindow):
            out = {"type": "rows" if isinstance(value, RowWindow) else "time", **out}
        url_env = getattr(value, "url_env", MASK)
        if url_env is None and isinstance(getattr(value, "url", None), Secret):
            out["url"] = _masked_url(value.url.reveal())  # type: ignore[attr-defined]
        return out
    if isinstance(value, Mapping):
        return {str(k): _describe(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_describe(v) for v in value]
    return value


def _format_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        return value.isoformat()
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _masked_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown fully masked
        return MASK
    if parsed.query:
        parsed = parsed.set(query={})
        return parsed.render_as_string(hide_password=True) + "?" + MASK
    return parsed.render_as_string(hide_password=True)


def _url_backend(url: str) -> str:
    scheme = url.split(":", 1)[0]
    return scheme.split("+", 1)[0].lower()


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_config(path: str | Path, environ: Mapping[str, str]) -> DriftwardenConfig:
    """Read and validate a configuration file.

    Parameters
    ----------
    path:
        The TOML file. Relative paths inside it are resolved against its directory.
    environ:
        The environment that ``*_env`` keys are looked up in (pass ``os.environ``).

    Returns
    -------
    DriftwardenConfig
        The validated, immutable configuration tree.

    Raises
    ------
    ConfigError
        With every problem of the file at once (unreadable file, invalid TOML, unknown keys,
        wrong types, bad durations, unknown names, missing files, unset environment variables).
    """
    file_label = str(path)
    config_path = Path(path)
    try:
        raw_bytes = config_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError.single(file_label, "", "file not found") from None
    except OSError as exc:
        raise ConfigError.single(file_label, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError.single(file_label, "", "not valid UTF-8") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError.single(file_label, "", f"invalid TOML: {exc}") from None
    reader = _Reader(file=file_label, base_dir=config_path.resolve().parent, environ=environ)
    config = reader.read(document, config_path.resolve())
    if reader.problems:
        raise ConfigError(reader.problems)
    return config


_T = TypeVar("_T")
_N = TypeVar("_N", float, None)
_D = TypeVar("_D", timedelta, None)
_MISSING: Final = object()


def _show(value: object) -> str:
    """Render a value found in the file for an error message, TOML-like."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, datetime):
        return value.isoformat()
    return type(value).__name__


def _key_part(name: str) -> str:
    """A key as TOML writes it in a dotted path: bare when possible, else quoted (one line)."""
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def _choices(options: Iterable[str]) -> str:
    return ", ".join(json.dumps(option) for option in options)


_K = TypeVar("_K")


class _Reader:
    """One pass over the TOML document, gathering problems instead of stopping at the first."""

    def __init__(self, *, file: str, base_dir: Path, environ: Mapping[str, str]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.environ = environ
        self.problems: list[ConfigProblem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(ConfigProblem(file=self.file, key=key, message=message))

    def table(self, key: str, raw: object, allowed: Iterable[str]) -> _Table:
        return _Table(self, key, raw, tuple(allowed))

    def resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    # ---- the sections ------------------------------------------------------------------------

    def read(self, document: dict[str, Any], path: Path) -> DriftwardenConfig:
        top = self.table("", document, ("service", "store", "http", "sources", "monitors", "alerts", "sinks"))
        service = self.read_service(top.get("service"))
        store = self.read_store(top.get("store"))
        http = self.read_http(top.get("http"))
        sources: dict[str, SourceConfig] = self.read_named("sources", top.get("sources"), self.read_source)
        sinks: dict[str, SinkConfig] = self.read_named("sinks", top.get("sinks"), self.read_sink)
        monitors = self.read_monitors(top.get("monitors"), sources, sinks, store)
        alerts = self.read_alerts(top.get("alerts"), monitors)
        return DriftwardenConfig(
            path=path,
            service=service,
            store=store,
            http=http,
            sources=MappingProxyType(sources),
            monitors=monitors,
            alerts=alerts,
            sinks=MappingProxyType(sinks),
        )

    def read_service(self, raw: object) -> ServiceConfig:
        t = self.table("service", raw, ("log_format", "log_level", "shutdown_grace"))
        return ServiceConfig(
            log_format=cast(LogFormat, t.choice("log_format", get_args(LogFormat), default="text")),
            log_level=cast(LogLevel, t.choice("log_level", get_args(LogLevel), default="INFO", upper=True)),
            shutdown_grace=t.duration("shutdown_grace", default=timedelta(seconds=30)),
        )

    def read_store(self, raw: object) -> StoreConfig:
        t = self.table("store", raw, ("url", "url_env", "reports_dir", "retention"))
        url, url_env = self.read_db_url(t, default="sqlite:///var/driftwarden.db")
        return StoreConfig(
            url=url,
            url_env=url_env,
            reports_dir=t.path("reports_dir", default="var/reports", must_exist=False) or Path("var/reports"),
            retention=t.duration("retention", default=timedelta(days=90), positive=True),
        )

    def read_db_url(self, t: _Table, *, default: str | None) -> tuple[Secret, str | None]:
        """Read ``url`` or ``url_env``: exactly one (or neither when there is a default)."""
        url = t.string("url", default=None)
        url_env = t.env_name("url_env")
        if url is not None and url_env is not None:
            t.problem("url", "set either url or url_env, not both")
            return Secret(url), url_env
        from_env = False
        if url_env is not None:
            value = self.environ.get(url_env, "")
            if not value:
                t.problem("url_env", f"environment variable {url_env} is not set")
                return Secret(""), url_env
            url, from_env = value, True
        elif url is None:
            if default is None:
                t.problem("url", "required (or url_env naming an environment variable)")
                return Secret(""), None
            url = default
        key = "url_env" if from_env else "url"
        shown = f"the value of {url_env}" if from_env else "the value"
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", url, flags=re.DOTALL)
        if match is None:
            t.problem(
                key,
                f'{shown} is not a database URL such as "sqlite:///var/driftwarden.db" '
                "(not shown: it may hold a password)",
            )
            return Secret(url), url_env
        backend = _url_backend(url)
        allowed = ("sqlite", "postgresql")
        if backend not in allowed:
            t.problem(key, f"unsupported database {backend!r}; supported: {', '.join(allowed)}")
        if backend == "sqlite" and not from_env:
            url = self.resolve_sqlite_url(url)
        return Secret(url), url_env

    def resolve_sqlite_url(self, url: str) -> str:
        scheme, rest = url.split("://", 1)
        if not rest.startswith("/"):
            return url  # sqlite://host/... is not a file URL; leave it to SQLAlchemy
        database, sep, query = rest[1:].partition("?")
        if not database or database == ":memory:" or database.startswith("/"):
            return url
        return f"{scheme}:///{self.resolve(database)}{sep}{query}"

    def read_http(self, raw: object) -> HttpConfig:
        t = self.table("http", raw, ("enabled", "host", "port", "public_url"))
        public_url = t.string("public_url", default=None)
        if public_url is not None and not re.fullmatch(r"https?://\S+", public_url):
            t.problem("public_url", f"must be an http(s) URL, got {_show(public_url)}")
        return HttpConfig(
            enabled=t.boolean("enabled", default=True),
            host=t.string("host", default="127.0.0.1", nonempty=True) or "127.0.0.1",
            port=t.integer("port", default=8321, minimum=0, maximum=65535),
            public_url=public_url.rstrip("/") if public_url else None,
        )

    def read_named(
        self, key: str, raw: object, read_one: Callable[[str, str, object], _T | None]
    ) -> dict[str, _T]:
        if raw is _MISSING:
            return {}
        if not isinstance(raw, dict):
            self.problem(key, f"must be a table of named entries, got {_show(raw)}")
            return {}
        out: dict[str, _T] = {}
        for name, item in raw.items():
            item_key = f"{key}.{_key_part(name)}"
            if not _NAME.fullmatch(name):
                self.problem(
                    item_key,
                    "names may use letters, digits, '_', '-' and '.' and must not start with '-' or '.'",
                )
                continue
            result = read_one(item_key, name, item)
            if result is not None:
                out[name] = result
        return out

    # ---- sources -----------------------------------------------------------------------------

    def read_by_kind(
        self,
        key: str,
        name: str,
        raw: object,
        readers: Mapping[str, Callable[[str, str, dict[str, Any]], _K]],
    ) -> _K | None:
        """Read a ``[sources.<name>]`` or ``[sinks.<name>]`` table with the reader of its ``kind``."""
        if not isinstance(raw, dict):
            self.problem(key, f"must be a table, got {_show(raw)}")
            return None
        kind = raw.get("kind", _MISSING)
        if kind is _MISSING:
            self.problem(f"{key}.kind", f"required, one of {_choices(readers)}")
            return None
        if kind not in readers:
            self.problem(f"{key}.kind", f"must be one of {_choices(readers)}, got {_show(kind)}")
            return None
        return readers[cast(str, kind)](key, name, raw)

    def read_source(self, key: str, name: str, raw: object) -> SourceConfig | None:
        readers: dict[str, Callable[[str, str, dict[str, Any]], SourceConfig | None]] = {
            "file": self.read_file_source,
            "kafka": self.read_kafka_source,
            "sql": self.read_sql_source,
        }
        return self.read_by_kind(key, name, raw, readers)

    def read_file_source(self, key: str, name: str, raw: dict[str, Any]) -> FileSourceConfig | None:
        t = self.table(key, raw, ("kind", "path", "rows_per_second", "at_end"))
        t.get("kind")
        path = t.path("path", default=None, must_exist=False)
        fmt: FileFormat | None = None
        if path is None and t.ok("path"):
            t.problem("path", "required: the CSV, Parquet or JSON-lines file to read")
        elif path is not None and t.ok("path"):
            fmt = FILE_EXTENSIONS.get(path.suffix.lower())
            if fmt is None:
                t.problem(
                    "path",
                    f"unknown file extension {path.suffix or '(none)'!r} of {path.name!r}; "
                    f"expected {', '.join(sorted(FILE_EXTENSIONS))}",
                )
            elif not path.is_file():
                t.problem(
                    "path", f"{'is a directory, not a file' if path.is_dir() else 'file not found'}: {path}"
                )
        return FileSourceConfig(
            name=name,
            path=path or Path(),
            format=fmt or "csv",
            rows_per_second=t.number("rows_per_second", default=0.0, minimum=0.0),
            at_end=cast(AtEnd, t.choice("at_end", get_args(AtEnd), default="idle")),
        )

    def read_kafka_source(self, key: str, name: str, raw: dict[str, Any]) -> KafkaSourceConfig | None:
        t = self.table(
            key,
            raw,
            (
                "kind",
                "bootstrap_servers",
                "topic",
                "group_id",
                "client_id",
                "format",
                "start_offset",
                "security_protocol",
                "sasl_mechanism",
                "sasl_username",
                "sasl_password_env",
                "ssl_cafile",
                "ssl_certfile",
                "ssl_keyfile",
                "ssl_password_env",
                "ssl_check_hostname",
                "max_message_bytes",
                "fetch_bytes",
                "fields",
                "include_unmapped",
                "event_time_source",
                "dead_letter_topic",
                "session_timeout",
            ),
        )
        t.get("kind")
        servers = self.read_bootstrap_servers(t)
        protocol = cast(
            SecurityProtocol,
            t.choice("security_protocol", get_args(SecurityProtocol), default="PLAINTEXT", upper=True),
        )
        mechanism = t.choice("sasl_mechanism", get_args(SaslMechanism), default=None, upper=True)
        username = t.string("sasl_username", default=None, nonempty=True)
        password_env = t.env_name("sasl_password_env")
        password = t.secret("sasl_password_env", password_env)
        protocol_ok = t.ok("security_protocol")
        if protocol.startswith("SASL"):
            if mechanism is None and t.ok("sasl_mechanism"):
                t.problem("sasl_mechanism", f"required with security_protocol {_show(protocol)}")
            if username is None and t.ok("sasl_username"):
                t.problem("sasl_username", f"required with security_protocol {_show(protocol)}")
            if password_env is None and t.ok("sasl_password_env"):
                t.problem("sasl_password_env", f"required with security_protocol {_show(protocol)}")
        elif protocol_ok:
            for sasl_key in ("sasl_mechanism", "sasl_username", "sasl_password_env"):
                if t.has(sasl_key):
                    t.problem(
                        sasl_key, f"needs security_protocol SASL_SSL or SASL_PLAINTEXT, got {_show(protocol)}"
                    )
        ssl_files = {
            name: t.path(name, default=None, must_exist=True)
            for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
        }
        ssl_password_env = t.env_name("ssl_password_env")
        if protocol not in ("SSL", "SASL_SSL") and protocol_ok:
            for ssl_key in (*ssl_files, "ssl_password_env", "ssl_check_hostname"):
                if t.has(ssl_key):
                    t.problem(ssl_key, f"needs security_protocol SSL or SASL_SSL, got {_show(protocol)}")
        topic = t.string("topic", required=True, nonempty=True) or ""
        dead_letter_topic = t.string("dead_letter_topic", default=None, nonempty=True)
        if dead_letter_topic is not None and dead_letter_topic == topic:
            t.problem("dead_letter_topic", f"must differ from topic, got {_show(dead_letter_topic)}")
        return KafkaSourceConfig(
            name=name,
            bootstrap_servers=servers,
            topic=topic,
            group_id=t.string("group_id", default="driftwarden", nonempty=True) or "driftwarden",
            client_id=t.string("client_id", default="driftwarden", nonempty=True) or "driftwarden",
            format=cast(KafkaFormat, t.choice("format", get_args(KafkaFormat), default="json")),
            start_offset=cast(StartOffset, t.choice("start_offset", get_args(StartOffset), default="latest")),
            security_protocol=protocol,
            sasl_mechanism=cast(SaslMechanism | None, mechanism),
            sasl_username=username,
            sasl_password_env=password_env,
            sasl_password=password,
            ssl_cafile=ssl_files["ssl_cafile"],
            ssl_certfile=ssl_files["ssl_certfile"],
            ssl_keyfile=ssl_files["ssl_keyfile"],
            ssl_password_env=ssl_password_env,
            ssl_password=t.secret("ssl_password_env", ssl_password_env),
            ssl_check_hostname=t.boolean("ssl_check_hostname", default=True),
            max_message_bytes=t.size("max_message_bytes", default=1024 * 1024),
            fetch_bytes=t.size("fetch_bytes", default=8 * 1024 * 1024),
            fields=MappingProxyType(t.string_map("fields")),
            include_unmapped=t.boolean("include_unmapped", default=True),
            event_time_source=cast(
                EventTimeSource, t.choice("event_time_source", get_args(EventTimeSource), default="field")
            ),
            dead_letter_topic=dead_letter_topic,
            session_timeout=t.duration("session_timeout", default=timedelta(seconds=45), positive=True),
        )

    def read_bootstrap_servers(self, t: _Table) -> tuple[str, ...]:
        raw = t.get("bootstrap_servers")
        if raw is _MISSING:
            t.problem("bootstrap_servers", 'required, e.g. ["127.0.0.1:9092"]')
            return ()
        if isinstance(raw, str):
            items: list[object] = [part.strip() for part in raw.split(",")]
        elif isinstance(raw, list):
            items = list(raw)
        else:
            t.problem("bootstrap_servers", f'must be an array of "host:port" strings, got {_show(raw)}')
            return ()
        if not items:
            t.problem("bootstrap_servers", 'must list at least one "host:port"')
            return ()
        servers: list[str] = []
        for index, item in enumerate(items):
            if not isinstance(item, str) or not _HOST_PORT.fullmatch(item):
                t.problem(f"bootstrap_servers[{index}]", f'must be "host:port", got {_show(item)}')
                continue
            servers.append(item)
        return tuple(servers)

    def read_sql_source(self, key: str, name: str, raw: dict[str, Any]) -> SqlSourceConfig | None:
        t = self.table(
            key,
            raw,
            (
                "kind",
                "url",
                "url_env",
                "table",
                "schema",
                "watermark",
                "tie_breaker",
                "columns",
                "poll_interval",
                "batch_rows",
            ),
        )
        t.get("kind")
        url, url_env = self.read_db_url(t, default=None)
        watermark = t.identifier("watermark", required=True) or ""
        tie_breaker = t.identifier("tie_breaker")
        if tie_breaker is not None and tie_breaker == watermark:
            t.problem("tie_breaker", f"must be a column other than the watermark, got {_show(tie_breaker)}")
        columns: tuple[str, ...] | None = None
        if t.has("columns"):
            columns = t.string_list("columns", default=())
            for index, column in enumerate(columns):
                if not _SQL_IDENTIFIER.fullmatch(column):
                    t.problem(f"columns[{index}]", f"must be a SQL identifier, got {_show(column)}")
            if not columns and t.ok("columns"):
                t.problem("columns", "must list at least one column (leave it out to read all columns)")
        return SqlSourceConfig(
            name=name,
            url=url,
            url_env=url_env,
            table=t.identifier("table", required=True) or "",
            schema=t.identifier("schema"),
            watermark=watermark,
            tie_breaker=tie_breaker,
            columns=columns,
            poll_interval=t.duration("poll_interval", default=timedelta(seconds=10), positive=True),
            batch_rows=t.integer("batch_rows", default=50_000, minimum=1),
        )

    # ---- sinks -------------------------------------------------------------------------------

    def read_sink(self, key: str, name: str, raw: object) -> SinkConfig | None:
        readers: dict[str, Callable[[str, str, dict[str, Any]], SinkConfig | None]] = {
            "log": self.read_log_sink,
            "slack": self.read_slack_sink,
            "webhook": self.read_webhook_sink,
        }
        return self.read_by_kind(key, name, raw, readers)

    def read_log_sink(self, key: str, name: str, raw: dict[str, Any]) -> LogSinkConfig:
        t = self.table(key, raw, ("kind", "min_severity", "kinds"))
        t.get("kind")
        return LogSinkConfig(name=name, min_severity=t.severity(), kinds=t.alert_kinds())

    def read_slack_sink(self, key: str, name: str, raw: dict[str, Any]) -> SlackSinkConfig:
        t = self.table(
            key,
            raw,
            (
                "kind",
                "token_env",
                "webhook_url_env",
                "channel",
                "base_url",
                "min_severity",
                "kinds",
                "timeout",
                "plot",
            ),
        )
        t.get("kind")
        token_env = t.env_name("token_env")
        webhook_env = t.env_name("webhook_url_env")
        channel = t.string("channel", default=None, nonempty=True)
        if token_env is not None and webhook_env is not None:
            t.problem("token_env", "set either token_env or webhook_url_env, not both")
        elif token_env is None and webhook_env is None and t.ok("token_env") and t.ok("webhook_url_env"):
            t.problem("token_env", "required (or webhook_url_env for an incoming webhook)")
        if token_env is not None and channel is None and t.ok("channel"):
            t.problem("channel", 'required with token_env, e.g. "#ml-oncall"')
        base_url = t.string("base_url", default="https://slack.com/api/", nonempty=True) or ""
        if not re.fullmatch(r"https?://\S+", base_url):
            t.problem("base_url", f"must be an http(s) URL, got {_show(base_url)}")
        elif not base_url.endswith("/"):
            base_url += "/"
        return SlackSinkConfig(
            name=name,
            token_env=token_env,
            token=t.secret("token_env", token_env),
            webhook_url_env=webhook_env,
            webhook_url=t.secret("webhook_url_env", webhook_env),
            channel=channel,
            base_url=base_url,
            min_severity=t.severity(),
            kinds=t.alert_kinds(),
            timeout=t.duration("timeout", default=timedelta(seconds=10), positive=True),
            plot=t.boolean("plot", default=True),
        )

    def read_webhook_sink(self, key: str, name: str, raw: dict[str, Any]) -> WebhookSinkConfig:
        t = self.table(key, raw, ("kind", "url", "secret_env", "min_severity", "kinds", "timeout"))
        t.get("kind")
        url = t.string("url", required=True, nonempty=True) or ""
        if url and not re.fullmatch(r"https?://\S+", url):
            t.problem("url", f"must be an http(s) URL, got {_show(url)}")
        secret_env = t.env_name("secret_env")
        if secret_env is None and t.ok("secret_env"):
            t.problem("secret_env", "required: the environment variable holding the HMAC signing secret")
        return WebhookSinkConfig(
            name=name,
            url=url,
            secret_env=secret_env or "",
            secret=t.secret("secret_env", secret_env) or Secret(""),
            min_severity=t.severity(),
            kinds=t.alert_kinds(),
            timeout=t.duration("timeout", default=timedelta(seconds=10), positive=True),
        )

    # ---- monitors ----------------------------------------------------------------------------

    def read_monitors(
        self,
        raw: object,
        sources: Mapping[str, SourceConfig],
        sinks: Mapping[str, SinkConfig],
        store: StoreConfig,
    ) -> tuple[MonitorConfig, ...]:
        if raw is _MISSING:
            return ()
        if not isinstance(raw, list):
            self.problem("monitors", f"must be an array of tables ([[monitors]]), got {_show(raw)}")
            return ()
        monitors: list[MonitorConfig] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(raw):
            key = f"monitors[{index}]"
            monitor = self.read_monitor(key, item, sources, sinks, store)
            if monitor is None:
                continue
            if monitor.name in seen:
                self.problem(
                    f"{key}.name",
                    f"duplicate monitor name {_show(monitor.name)} (also monitors[{seen[monitor.name]}])",
                )
            seen.setdefault(monitor.name, index)
            monitors.append(monitor)
        return tuple(monitors)

    def read_monitor(
        self,
        key: str,
        raw: object,
        sources: Mapping[str, SourceConfig],
        sinks: Mapping[str, SinkConfig],
        store: StoreConfig,
    ) -> MonitorConfig | None:
        if not isinstance(raw, dict):
            self.problem(key, f"must be a table, got {_show(raw)}")
            return None
        t = self.table(
            key,
            raw,
            (
                "name",
                "source",
                "profile",
                "window",
                "replicas",
                "labels",
                "routes",
                "detectors",
                "freshness",
                "expected_rows_per_window",
            ),
        )
        name = t.string("name", required=True, nonempty=True) or ""
        if name and not _NAME.fullmatch(name):
            t.problem("name", f"may use letters, digits, '_', '-' and '.', got {_show(name)}")
        source = t.string("source", required=True, nonempty=True) or ""
        if source and source not in sources and t.ok("source"):
            if not self.has_problem_under(f"sources.{source}"):
                t.problem("source", f"unknown source {_show(source)}; defined: {_names(sources)}")
        profile = t.path("profile", default=None, must_exist=True)
        if profile is None and t.ok("profile"):
            t.problem("profile", "required: the profile JSON written by `driftwarden profile`")
        window = self.read_window(f"{key}.window", t.get("window"))
        replicas = t.integer("replicas", default=1, minimum=1)
        if replicas > 1:
            if isinstance(window, RowWindow):
                t.problem(
                    "window",
                    f"a row-count window cannot be shared by {replicas} replicas; "
                    'use an event-time window { duration = "1h", timestamp = "ts" }',
                )
            if store.is_sqlite:
                t.problem("replicas", f"{replicas} replicas need a PostgreSQL store; store.url is SQLite")
            source_config = sources.get(source)
            if source_config is not None and source_config.kind != "kafka":
                t.problem(
                    "replicas",
                    f"{replicas} replicas need a kafka source; {_show(source)} is a {source_config.kind} source",
                )
        labels = self.read_labels(f"{key}.labels", t.get("labels"), sources)
        routes = t.string_list("routes", default=())
        for index, route in enumerate(routes):
            if route not in sinks and not self.has_problem_under(f"sinks.{route}"):
                self.problem(
                    f"{key}.routes[{index}]", f"unknown sink {_show(route)}; defined: {_names(sinks)}"
                )
        expected = t.get("expected_rows_per_window")
        return MonitorConfig(
            name=name,
            source=source,
            profile=profile or Path(),
            window=window,
            replicas=replicas,
            labels=labels,
            routes=routes,
            detectors=self.read_detectors(f"{key}.detectors", t.get("detectors")),
            freshness=t.duration("freshness", default=None, positive=True),
            expected_rows_per_window=(
                None if expected is _MISSING else t.integer("expected_rows_per_window", default=1, minimum=1)
            ),
        )

    def has_problem_under(self, key: str) -> bool:
        return any(p.key == key or p.key.startswith(key + ".") for p in self.problems)

    def read_window(self, key: str, raw: object) -> WindowConfig:
        placeholder = RowWindow(rows=1)
        if raw is _MISSING:
            self.problem(key, 'required: { rows = 5000 } or { duration = "1h", timestamp = "ts" }')
            return placeholder
        if not isinstance(raw, dict):
            self.problem(key, f"must be a table such as {{ rows = 5000 }}, got {_show(raw)}")
            return placeholder
        t = self.table(key, raw, ("rows", "duration", "timestamp", "lateness", "max_future"))
        if t.has("rows") and t.has("duration"):
            t.problem("rows", "set either rows (count window) or duration (time window), not both")
            return placeholder
        if t.has("rows"):
            for other in ("timestamp", "lateness", "max_future"):
                if t.has(other):
                    t.problem(other, "only applies to time windows (duration = ...)")
            return RowWindow(rows=t.integer("rows", default=1, minimum=1))
        if t.has("duration"):
            return TimeWindow(
                duration=t.duration("duration", default=timedelta(hours=1), positive=True),
                timestamp=t.string("timestamp", required=True, nonempty=True) or "",
                lateness=t.duration("lateness", default=timedelta(0)),
                max_future=t.duration("max_future", default=DEFAULT_MAX_FUTURE, positive=True),
            )
        self.problem(key, 'needs rows = N or duration = "1h" (with timestamp = "<field>")')
        return placeholder

    def read_labels(self, key: str, raw: object, sources: Mapping[str, SourceConfig]) -> LabelsConfig | None:
        if raw is _MISSING:
            return None
        t = self.table(key, raw, ("source", "id", "target", "horizon", "max_pending"))
        if not t.valid:
            return None
        source = t.string("source", required=True, nonempty=True) or ""
        if source and source not in sources and not self.has_problem_under(f"sources.{source}"):
            t.problem("source", f"unknown source {_show(source)}; defined: {_names(sources)}")
        return LabelsConfig(
            source=source,
            id=t.string("id", required=True, nonempty=True) or "",
            target=t.string("target", default=None, nonempty=True),
            horizon=t.duration("horizon", default=timedelta(days=7), positive=True),
            max_pending=t.integer("max_pending", default=1_000_000, minimum=1),
        )

    def read_detectors(self, key: str, raw: object) -> DetectorsConfig:
        if raw is _MISSING:
            return DetectorsConfig()
        t = self.table(
            key,
            raw,
            (
                "expected_false_alarms",
                "methods",
                "thresholds",
                "drift_rule",
                "drift_share",
                "concept",
                "quality",
                "multivariate",
            ),
        )
        if not t.valid:
            return DetectorsConfig()
        methods = t.string_map("methods")
        known = _known_methods()
        for column, method in methods.items():
            if known is not None and method not in known:
                self.problem(
                    f"{key}.methods.{_key_part(column)}",
                    f"unknown method {_show(method)}; available: {', '.join(sorted(known))}",
                )
        thresholds = t.number_map("thresholds", minimum=0.0)
        rule = cast(DriftRule, t.choice("drift_rule", get_args(DriftRule), default="any"))
        share = t.number("drift_share", default=0.5, minimum=0.0, maximum=1.0)
        if t.has("drift_share") and rule != "share" and t.ok("drift_rule") and t.ok("drift_share"):
            t.problem("drift_share", 'only used with drift_rule = "share"')
        return DetectorsConfig(
            expected_false_alarms=t.rate("expected_false_alarms"),
            methods=MappingProxyType(methods),
            thresholds=MappingProxyType(thresholds),
            drift_rule=rule,
            drift_share=share,
            concept=self.read_concept(t),
            quality=self.read_quality(f"{key}.quality", t.get("quality")),
            multivariate=t.boolean("multivariate", default=False),
        )

    def read_concept(self, t: _Table) -> str | None:
        value = t.string("concept", default="adwin", nonempty=True)
        if value is None or value == "none":
            return None
        known = _known_streaming_detectors()
        if known is not None and value not in known:
            t.problem(
                "concept",
                f"unknown change detector {_show(value)}; available: {', '.join(sorted(known))}, none",
            )
            return "adwin"
        return value

    def read_quality(self, key: str, raw: object) -> QualityConfig:
        if raw is _MISSING:
            return QualityConfig()
        rates = ("missing_rate", "out_of_range", "new_category", "duplicate_rows", "type_mismatch")
        t = self.table(key, raw, (*rates, "volume_tolerance", "disabled"))
        if not t.valid:
            return QualityConfig()
        values = {name: t.number(name, default=None, minimum=0.0, maximum=1.0) for name in rates}
        disabled = t.string_list("disabled", default=(), choices=QUALITY_CHECKS)
        return QualityConfig(
            missing_rate=values["missing_rate"],
            out_of_range=values["out_of_range"],
            new_category=values["new_category"],
            duplicate_rows=values["duplicate_rows"],
            type_mismatch=values["type_mismatch"],
            volume_tolerance=t.number("volume_tolerance", default=None, minimum=0.0),
            disabled=cast(tuple[QualityCheck, ...], disabled),
        )

    # ---- alerts ------------------------------------------------------------------------------

    def read_alerts(self, raw: object, monitors: tuple[MonitorConfig, ...]) -> AlertsConfig:
        t = self.table(
            "alerts",
            raw,
            (
                "consecutive_windows",
                "consecutive_windows_by_kind",
                "resolve_windows",
                "repeat_interval",
                "send_resolved",
                "give_up_after",
                "silences",
            ),
        )
        by_kind: dict[AlertKind, int] = {}
        raw_by_kind = t.get("consecutive_windows_by_kind")
        if raw_by_kind is not _MISSING:
            k = self.table("alerts.consecutive_windows_by_kind", raw_by_kind, ALERT_KINDS)
            for kind in ALERT_KINDS:
                if k.has(kind):
                    by_kind[kind] = k.integer(kind, default=1, minimum=1)
        return AlertsConfig(
            consecutive_windows=t.integer("consecutive_windows", default=2, minimum=1),
            consecutive_windows_by_kind=MappingProxyType(by_kind),
            resolve_windows=t.integer("resolve_windows", default=2, minimum=1),
            repeat_interval=t.duration("repeat_interval", default=timedelta(hours=4), positive=True),
            send_resolved=t.boolean("send_resolved", default=True),
            give_up_after=t.duration("give_up_after", default=timedelta(days=1), positive=True),
            silences=self.read_silences(t.get("silences"), {m.name for m in monitors}),
        )

    def read_silences(self, raw: object, monitor_names: set[str]) -> tuple[SilenceConfig, ...]:
        if raw is _MISSING:
            return ()
        if not isinstance(raw, list):
            self.problem(
                "alerts.silences", f"must be an array of tables ([[alerts.silences]]), got {_show(raw)}"
            )
            return ()
        silences: list[SilenceConfig] = []
        for index, item in enumerate(raw):
            key = f"alerts.silences[{index}]"
            t = self.table(key, item, ("monitor", "kind", "subject", "starts_at", "expires_at", "comment"))
            if not t.valid:
                continue
            monitor = t.string("monitor", default="*", nonempty=True) or "*"
            if not _is_glob(monitor) and monitor not in monitor_names:
                t.problem(
                    "monitor",
                    f"unknown monitor {_show(monitor)}; defined: {', '.join(sorted(monitor_names)) or 'none'}"
                    ' (or a glob pattern such as "fraud-*")',
                )
            kind = t.string("kind", default="*", nonempty=True) or "*"
            if not _is_glob(kind) and kind not in ALERT_KINDS:
                t.problem(
                    "kind", f"must be one of {_choices(ALERT_KINDS)} or a glob pattern, got {_show(kind)}"
                )
            starts_at = t.timestamp("starts_at") or EPOCH
            expires_at = t.timestamp("expires_at")
            if expires_at is None and t.ok("expires_at"):
                t.problem("expires_at", "required: when the silence ends, e.g. 2026-01-31T18:00:00Z")
            elif expires_at is not None and expires_at <= starts_at:
                t.problem("expires_at", f"must be after starts_at, got {_format_datetime(expires_at)}")
            silences.append(
                SilenceConfig(
                    monitor=monitor,
                    kind=kind,
                    subject=t.string("subject", default="*", nonempty=True) or "*",
                    starts_at=starts_at,
                    expires_at=expires_at or EPOCH,
                    comment=t.string("comment", default="") or "",
                )
            )
        return tuple(silences)


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def _names(named: Mapping[str, object]) -> str:
    return ", ".join(sorted(named)) or "none"


def _known_methods() -> frozenset[str] | None:
    """The drift-test names of the detectors registry, or ``None`` when it is not available."""
    try:
        from detectors import drift
    except ImportError:  # pragma: no cover - detectors is part of this distribution
        return None
    registry = getattr(drift, "DRIFT_TESTS", None)
    if not isinstance(registry, Mapping) or not registry:
        return None
    return frozenset(str(name) for name in registry)


def _known_streaming_detectors() -> frozenset[str] | None:
    """The streaming change-detector names, or ``None`` when the registry is not available."""
    try:
        from detectors import streaming
    except ImportError:  # pragma: no cover - detectors is part of this distribution
        return None
    registry = getattr(streaming, "STREAMING_DETECTORS", None)
    if not isinstance(registry, Mapping) or not registry:
        return None
    return frozenset(str(name) for name in registry)


class _Table:
    """Typed access to one TOML table; every bad value becomes a problem and a placeholder."""

    def __init__(self, reader: _Reader, key: str, raw: object, allowed: tuple[str, ...]) -> None:
        self.reader = reader
        self.key = key
        self.valid = True
        self.bad: set[str] = set()
        if raw is _MISSING:
            raw = {}
        if not isinstance(raw, dict):
            reader.problem(key, f"must be a table, got {_show(raw)}")
            self.valid = False
            raw = {}
        self.raw: dict[str, Any] = raw
        for name in raw:
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                if f"{name}_env" in allowed:
                    message = f"unknown key; secrets are never values in the file: set {name}_env to the name of an environment variable"
                elif hint:
                    message = f"unknown key; did you mean {hint[0]!r}?"
                else:
                    message = f"unknown key; allowed: {', '.join(sorted(allowed))}"
                reader.problem(self.keypath(_key_part(name)), message)

    def keypath(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def problem(self, name: str, message: str) -> None:
        self.bad.add(name)
        self.reader.problem(self.keypath(name), message)

    def ok(self, name: str) -> bool:
        """Whether no problem was reported for ``name`` yet (avoids piling on follow-up errors)."""
        return name not in self.bad

    def has(self, name: str) -> bool:
        return name in self.raw

    def get(self, name: str) -> Any:
        return self.raw.get(name, _MISSING)

    def string(
        self, name: str, *, default: str | None = None, required: bool = False, nonempty: bool = False
    ) -> str | None:
        value = self.get(name)
        if value is _MISSING:
            if required:
                self.problem(name, "required")
            return default
        if not isinstance(value, str):
            self.problem(name, f"must be a string, got {_show(value)}")
            return default
        if nonempty and not value.strip():
            self.problem(name, "must not be empty")
            return default
        return value

    def identifier(self, name: str, *, required: bool = False) -> str | None:
        value = self.string(name, default=None, required=required, nonempty=True)
        if value is not None and not _SQL_IDENTIFIER.fullmatch(value):
            self.problem(name, f'must be a SQL identifier such as "predictions", got {_show(value)}')
            return None
        return value

    def env_name(self, name: str) -> str | None:
        value = self.string(name, default=None, nonempty=True)
        if value is not None and not _ENV_NAME.fullmatch(value):
            self.problem(
                name,
                'must name an environment variable such as "SLACK_BOT_TOKEN" '
                "(the value is not shown: it may be a secret)",
            )
            return None
        return value

    def secret(self, name: str, env_name: str | None) -> Secret | None:
        """Look up the environment variable named by ``name`` (already read as ``env_name``)."""
        if env_name is None:
            return None
        value = self.reader.environ.get(env_name, "")
        if not value:
            self.problem(name, f"environment variable {env_name} is not set")
            return None
        return Secret(value)

    def choice(
        self, name: str, options: tuple[str, ...], *, default: str | None, upper: bool = False
    ) -> str | None:
        value = self.get(name)
        if value is _MISSING:
            return default
        if isinstance(value, str):
            candidate = value.upper() if upper else value
            if candidate in options:
                return candidate
        self.problem(name, f"must be one of {_choices(options)}, got {_show(value)}")
        return default

    def boolean(self, name: str, *, default: bool) -> bool:
        value = self.get(name)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.problem(name, f"must be true or false, got {_show(value)}")
            return default
        return value

    def integer(
        self, name: str, *, default: int, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.get(name)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, f"must be {_integer_kind(minimum, maximum)}, got {_show(value)}")
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.problem(name, f"must be {_integer_kind(minimum, maximum)}, got {_show(value)}")
            return default
        return value

    def number(
        self,
        name: str,
        *,
        default: _N,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | _N:
        value = self.get(name)
        if value is _MISSING:
            return default
        kind = _number_kind(minimum, maximum)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.problem(name, f"must be {kind}, got {_show(value)}")
            return default
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            self.problem(name, f"must be {kind}, got {_show(value)}")
            return default
        return float(value)

    def duration(self, name: str, *, default: _D, positive: bool = False) -> timedelta | _D:
        value = self.get(name)
        if value is _MISSING:
            return default
        try:
            parsed = parse_duration(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.problem(name, f"must be a duration such as {DURATION_FORMS}, got {_show(value)}")
            return default
        if positive and parsed <= timedelta(0):
            self.problem(name, f"must be longer than zero, got {_show(value)}")
            return default
        return parsed

    def size(self, name: str, *, default: int) -> int:
        value = self.get(name)
        if value is _MISSING:
            return default
        try:
            parsed = parse_size(value) if isinstance(value, str | int) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed <= 0:
            self.problem(name, f"must be a positive size such as {SIZE_FORMS}, got {_show(value)}")
            return default
        return parsed

    def rate(self, name: str) -> float | None:
        value = self.get(name)
        if value is _MISSING:
            return None
        try:
            parsed = parse_rate(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed <= 0:
            self.problem(name, f"must be a positive rate such as {RATE_FORMS}, got {_show(value)}")
            return None
        return parsed

    def timestamp(self, name: str) -> datetime | None:
        value = self.get(name)
        if value is _MISSING:
            return None
        parsed: datetime | None = None
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
        if parsed is None or parsed.tzinfo is None:
            self.problem(
                name, f"must be an RFC 3339 time with a zone such as 2026-01-31T18:00:00Z, got {_show(value)}"
            )
            return None
        return parsed

    def path(self, name: str, *, default: str | None, must_exist: bool) -> Path | None:
        value = self.get(name)
        if value is _MISSING:
            return None if default is None else self.reader.resolve(default)
        if not isinstance(value, str) or not value.strip():
            self.problem(name, f"must be a non-empty path string, got {_show(value)}")
            return None
        resolved = self.reader.resolve(value)
        if must_exist and not resolved.is_file():
            reason = "is a directory, not a file" if resolved.is_dir() else "file not found"
            self.problem(name, f"{reason}: {resolved}")
            return resolved
        return resolved

    def string_list(
        self, name: str, *, default: tuple[str, ...], choices: tuple[str, ...] | None = None
    ) -> tuple[str, ...]:
        value = self.get(name)
        if value is _MISSING:
            return default
        if not isinstance(value, list):
            self.problem(name, f"must be an array of strings, got {_show(value)}")
            return default
        items: list[str] = []
        for index, item in enumerate(value):
            item_key = f"{name}[{index}]"
            if not isinstance(item, str) or not item:
                self.problem(item_key, f"must be a non-empty string, got {_show(item)}")
            elif choices is not None and item not in choices:
                self.problem(item_key, f"must be one of {_choices(choices)}, got {_show(item)}")
            elif item in items:
                self.problem(item_key, f"duplicate entry {_show(item)}")
            else:
                items.append(item)
        return tuple(items)

    def string_map(self, name: str) -> dict[str, str]:
        value = self.get(name)
        if value is _MISSING:
            return {}
        if not isinstance(value, dict):
            self.problem(name, f"must be a table of strings, got {_show(value)}")
            return {}
        out: dict[str, str] = {}
        for item_name, item in value.items():
            if not isinstance(item, str) or not item:
                self.problem(
                    f"{name}.{_key_part(item_name)}", f"must be a non-empty string, got {_show(item)}"
                )
            else:
                out[item_name] = item
        return out

    def number_map(self, name: str, *, minimum: float) -> dict[str, float]:
        value = self.get(name)
        if value is _MISSING:
            return {}
        if not isinstance(value, dict):
            self.problem(name, f"must be a table of numbers, got {_show(value)}")
            return {}
        out: dict[str, float] = {}
        for item_name, item in value.items():
            if isinstance(item, bool) or not isinstance(item, int | float) or item != item or item < minimum:
                self.problem(
                    f"{name}.{_key_part(item_name)}", f"must be a number >= {minimum:g}, got {_show(item)}"
                )
            else:
                out[item_name] = float(item)
        return out

    def severity(self) -> Severity:
        return cast(Severity, self.choice("min_severity", get_args(Severity), default="warning"))

    def alert_kinds(self) -> tuple[AlertKind, ...]:
        kinds = self.string_list("kinds", default=ALERT_KINDS, choices=ALERT_KINDS)
        if self.get("kinds") == []:
            self.problem("kinds", f"must list at least one of {_choices(ALERT_KINDS)}")
            return ALERT_KINDS
        return cast(tuple[AlertKind, ...], kinds)


def _integer_kind(minimum: int | None, maximum: int | None) -> str:
    if minimum == 1 and maximum is None:
        return "a positive integer"
    if minimum is not None and maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    if minimum is not None:
        return f"an integer >= {minimum}"
    return "an integer"


def _number_kind(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a number from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"a number >= {minimum:g}"
    return "a number"
