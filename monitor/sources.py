"""Source objects built from the configuration (the only place that knows every connector)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.base import Source
from connectors.files import FileSource
from connectors.kafka import KafkaSource, KafkaSourceSettings
from connectors.mapping import RowMapping
from connectors.sql import SqlSource, SqlSourceSettings
from monitor.config import (
    DriftwardenConfig,
    FileSourceConfig,
    KafkaSourceConfig,
    MonitorConfig,
    SourceConfig,
    SqlSourceConfig,
    TimeWindow,
)

RevokedCallback = Callable[..., None]
AssignedCallback = Callable[..., Any]


def _event_time_field(config: DriftwardenConfig, source: str) -> str | None:
    """The event-time field monitors of this source window by (it becomes a required field)."""
    for m in config.monitors:
        if m.source == source and isinstance(m.window, TimeWindow):
            return m.window.timestamp
    return None


def _required(config: DriftwardenConfig, source: str) -> tuple[str, ...]:
    req: list[str] = []
    for m in config.monitors:
        # The id places a label row, and a prediction row of a monitor that joins labels.
        if m.labels is not None and source in (m.labels.source, m.source):
            req.append(m.labels.id)
    return tuple(dict.fromkeys(req))


def build_source(
    cfg: SourceConfig,
    config: DriftwardenConfig,
    *,
    environ: Mapping[str, str],
    on_revoked: RevokedCallback | None = None,
    on_assigned: AssignedCallback | None = None,
) -> Source:
    """A connector for one ``[sources.<name>]`` table."""
    if isinstance(cfg, FileSourceConfig):
        return FileSource(cfg.name, cfg.path, rows_per_second=cfg.rows_per_second, at_end=cfg.at_end)
    if isinstance(cfg, KafkaSourceConfig):
        ts = _event_time_field(config, cfg.name)
        mapping = RowMapping(
            fields=dict(cfg.fields),
            include_unmapped=cfg.include_unmapped,
            required=_required(config, cfg.name),
            event_time_field=ts,
        )
        settings = KafkaSourceSettings(
            bootstrap_servers=tuple(cfg.bootstrap_servers),
            topic=cfg.topic,
            group_id=cfg.group_id,
            client_id=cfg.client_id,
            format=cfg.format,
            start_offset=cfg.start_offset,
            max_message_bytes=cfg.max_message_bytes,
            fetch_bytes=cfg.fetch_bytes,
            mapping=mapping,
            event_time_source=cfg.event_time_source if ts else "field",
            dead_letter_topic=cfg.dead_letter_topic,
            security_protocol=cfg.security_protocol,
            sasl_mechanism=cfg.sasl_mechanism,
            sasl_plain_username=cfg.sasl_username,
            sasl_password_env=cfg.sasl_password_env,
            ssl_cafile=str(cfg.ssl_cafile) if cfg.ssl_cafile else None,
            ssl_certfile=str(cfg.ssl_certfile) if cfg.ssl_certfile else None,
            ssl_keyfile=str(cfg.ssl_keyfile) if cfg.ssl_keyfile else None,
            ssl_password_env=cfg.ssl_password_env,
            ssl_check_hostname=cfg.ssl_check_hostname,
            session_timeout_ms=int(cfg.session_timeout.total_seconds() * 1000),
            # A member learns of a rebalance from its next heartbeat: every second, a replica that
            # joins a busy group gets its partitions within ~1 s (with session_timeout / 10, up to
            # 4.5 s, while the others read everything).
            heartbeat_interval_ms=min(1_000, int(cfg.session_timeout.total_seconds() * 1000) // 3),
        )
        return KafkaSource(
            cfg.name, settings, environ=environ, on_revoked=on_revoked, on_assigned=on_assigned
        )
    if isinstance(cfg, SqlSourceConfig):
        ts = _event_time_field(config, cfg.name)
        settings_sql = SqlSourceSettings(
            url=cfg.url.reveal(),
            table=cfg.table,
            schema=cfg.schema,
            watermark=cfg.watermark,
            tiebreaker=cfg.tie_breaker,
            batch_rows=cfg.batch_rows,
            mapping=RowMapping(required=_required(config, cfg.name), event_time_field=ts),
        )
        return SqlSource(cfg.name, settings_sql, environ=environ)
    raise ValueError(f"unknown source kind {type(cfg).__name__}")


def monitors_of(config: DriftwardenConfig, source: str) -> tuple[MonitorConfig, ...]:
    return tuple(m for m in config.monitors if m.source == source)
