"""Kafka source: rows from a topic, read by a consumer group with offsets owned by the store.

The monitor stores each batch's checkpoint (``{"<partition>": next_offset}``) in the same
transaction as the window state that includes those rows, and gives it back to
:meth:`KafkaSource.open` after a restart. When partitions are assigned, the consumer seeks to
those stored positions; partitions without one start from the group's committed offset, or
``start_offset`` for a new group. Offsets are committed to Kafka (:meth:`KafkaSource.commit`)
only for tooling and lag dashboards; the store, not the broker, is the truth.

Threading: one thread owns a source. kafka-python 3 runs rebalance callbacks on its IO thread
while the owner is inside :meth:`KafkaSource.poll` or :meth:`KafkaSource.close`, so the
``on_revoked`` / ``on_assigned`` callbacks must be short. :meth:`KafkaSource.status` only reads
a snapshot and is safe to call from any thread.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Final, Literal

import numpy as np
import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from connectors.base import Batch, Checkpoint, ConnectorError, DeadLetter, SourceStatus
from connectors.columnar import SchemaHint, batches_to_columns, concat_columns, objects_to_columns
from connectors.mapping import (
    DEFAULT_MAX_MESSAGE_BYTES,
    MESSAGE_FORMATS,
    MessageFormat,
    RowMapping,
    decode_message,
    timestamp_ms_to_datetime,
)

logger = logging.getLogger(__name__)

START_OFFSETS: Final = ("latest", "earliest")
EVENT_TIME_SOURCES: Final = ("field", "message_timestamp")
SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", "OAUTHBEARER")
PROBE_TIMEOUT_MS: Final = 2_000
"""Bound on the status round trip, so an unreachable broker does not stall the owner's poll loop."""
PROBE_BACKOFF_MAX_S: Final = 60.0
RAW_LIMIT_BYTES: Final = 16 * 1024
"""Dead letters keep at most this many bytes of the raw message (the dead-letter topic gets all)."""

POSITION_PARTITION_STRIDE: Final = 2**40
"""Row positions (``Batch.positions``) are ``partition * 2**40 + offset``: unique and stable, so a
row's sample slot does not depend on which replica read it."""

BATCH_ITEM_STRIDE: Final = 4096
"""A ``json_batch`` row's position is ``message_position * 4096 + min(item, 4095)``."""
DEFAULT_FETCH_BYTES: Final = 8 * 1024 * 1024
"""Bytes the consumer fetches per partition in one request (Kafka's ``max.partition.fetch.bytes``,
whose default of 1 MiB holds only a few thousand rows: one fetch round trip per poll, with the
monitor idle while it runs, cost ~20% of batched throughput)."""
DRAIN_BYTES: Final = 8 * 1024 * 1024
"""One :meth:`KafkaSource.poll` stops taking already-fetched records beyond this many bytes."""
DRAIN_S: Final = 0.1
"""... or after this many seconds."""

_VALUE: Final = attrgetter("value")
_OFFSET: Final = attrgetter("offset")

RevokedCallback = Callable[[tuple[int, ...]], None]
AssignedCallback = Callable[[tuple[int, ...]], Checkpoint | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaSourceSettings:
    """Everything a :class:`KafkaSource` needs, as plain typed values.

    Parameters
    ----------
    bootstrap_servers
        ``host:port`` strings.
    topic, group_id
        The topic to read and the consumer group to read it in.
    format
        ``json`` (one object per message) or ``json_batch`` (an array of objects, or a columnar
        object ``{"col": [...], ...}``).
    start_offset
        Where a new group (no stored checkpoint, no committed offset) starts: ``latest`` or
        ``earliest``.
    max_message_bytes
        Larger messages are dead letters (``oversize``).
    fetch_bytes
        Bytes fetched per partition in one request (at least ``max_message_bytes``); the client
        buffers up to this much per assigned partition.
    mapping
        Field renames / nested paths, required fields and the event-time field.
    event_time_source
        ``field``: the event time is the mapping's ``event_time_field`` of the message;
        ``message_timestamp``: the Kafka record timestamp is written to that field.
    dead_letter_topic
        When set, every dead letter is also published there (full raw value, original key,
        headers ``driftwarden-reason``, ``driftwarden-detail``, ``driftwarden-position``,
        ``driftwarden-source``); they are flushed before offsets are committed.
    security_protocol, sasl_mechanism, sasl_plain_username, sasl_password_env, ssl_cafile,
    ssl_certfile, ssl_keyfile, ssl_password_env, ssl_check_hostname
        Passed to kafka-python. Secrets are named by environment variable (``*_env``), read at
        :meth:`KafkaSource.open`.
    status_interval_s
        Minimum seconds between lag refreshes that need a broker round trip.
    """

    bootstrap_servers: tuple[str, ...]
    topic: str
    group_id: str
    format: MessageFormat = "json"
    start_offset: Literal["latest", "earliest"] = "latest"
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    fetch_bytes: int = DEFAULT_FETCH_BYTES
    mapping: RowMapping = field(default_factory=RowMapping)
    event_time_source: Literal["field", "message_timestamp"] = "field"
    dead_letter_topic: str | None = None
    client_id: str = "driftwarden"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_plain_username: str | None = None
    sasl_password_env: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password_env: str | None = None
    ssl_check_hostname: bool = True
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 3_000
    max_poll_interval_ms: int = 300_000
    request_timeout_ms: int = 30_000
    connect_timeout_ms: int = 30_000
    status_interval_s: float = 5.0

    def __post_init__(self) -> None:
        if isinstance(self.bootstrap_servers, str):
            object.__setattr__(self, "bootstrap_servers", (self.bootstrap_servers,))
        object.__setattr__(self, "bootstrap_servers", tuple(self.bootstrap_servers))
        if not self.bootstrap_servers or not all(isinstance(s, str) and s for s in self.bootstrap_servers):
            raise ValueError(
                f"bootstrap_servers must be non-empty host:port strings, got {self.bootstrap_servers!r}"
            )
        for key in ("topic", "group_id", "client_id"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{key} must be a non-empty string, got {value!r}")
        if self.format not in MESSAGE_FORMATS:
            raise ValueError(f"format must be one of {MESSAGE_FORMATS}, got {self.format!r}")
        if self.start_offset not in START_OFFSETS:
            raise ValueError(f"start_offset must be one of {START_OFFSETS}, got {self.start_offset!r}")
        if self.event_time_source not in EVENT_TIME_SOURCES:
            raise ValueError(
                f"event_time_source must be one of {EVENT_TIME_SOURCES}, got {self.event_time_source!r}"
            )
        if self.event_time_source == "message_timestamp" and self.mapping.event_time_field is None:
            raise ValueError(
                "event_time_source='message_timestamp' needs mapping.event_time_field (the field to fill)"
            )
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise ValueError(
                f"security_protocol must be one of {SECURITY_PROTOCOLS}, got {self.security_protocol!r}"
            )
        if self.sasl_mechanism is not None and self.sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(f"sasl_mechanism must be one of {SASL_MECHANISMS}, got {self.sasl_mechanism!r}")
        if self.security_protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise ValueError(f"security_protocol={self.security_protocol!r} needs sasl_mechanism")
        if not isinstance(self.max_message_bytes, int) or self.max_message_bytes <= 0:
            raise ValueError(f"max_message_bytes must be a positive integer, got {self.max_message_bytes!r}")
        if not isinstance(self.fetch_bytes, int) or self.fetch_bytes <= 0:
            raise ValueError(f"fetch_bytes must be a positive integer, got {self.fetch_bytes!r}")
        if self.dead_letter_topic is not None and (
            not self.dead_letter_topic or self.dead_letter_topic == self.topic
        ):
            raise ValueError(
                f"dead_letter_topic must be a non-empty topic other than {self.topic!r}, got {self.dead_letter_topic!r}"
            )
        for key in (
            "session_timeout_ms",
            "heartbeat_interval_ms",
            "max_poll_interval_ms",
            "request_timeout_ms",
        ):
            value = getattr(self, key)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")
        if self.status_interval_s < 0:
            raise ValueError(f"status_interval_s must be >= 0, got {self.status_interval_s!r}")


class _Listener(ConsumerRebalanceListener):
    """Seeks assigned partitions to stored positions; tells the owner about revocations first."""

    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._source._handle_revoked(revoked)

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._source._handle_assigned(assigned)


class KafkaSource:
    """Rows from a Kafka topic (implements :class:`connectors.base.Source`).

    Parameters
    ----------
    name
        The source's name in the config; used in dead letters and logs.
    settings
        Connection, decoding and mapping settings.
    environ
        Where ``*_env`` secrets are looked up (default :data:`os.environ`).
    on_revoked
        Called with the partition numbers being taken away, before they go (on a rebalance and on
        :meth:`close`), so the monitor can persist partial window state and the checkpoint first.
    on_assigned
        Called with newly assigned partition numbers; may return the stored checkpoint for them
        (the store is the truth), which overrides positions this source knows. Needed when several
        replicas share a group: a partition that comes back may have moved on elsewhere.

    Notes
    -----
    Batch checkpoints hold the next offset of every partition this source has read (also ones
    since revoked); offsets are committed to Kafka only for partitions currently assigned.
    """

    def __init__(
        self,
        name: str,
        settings: KafkaSourceSettings,
        *,
        environ: Mapping[str, str] | None = None,
        on_revoked: RevokedCallback | None = None,
        on_assigned: AssignedCallback | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._environ = os.environ if environ is None else environ
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._positions: dict[int, int] = {}
        self._assigned: frozenset[int] = frozenset()
        self._revoked_in_poll: set[int] = set()
        self._schema_hint = SchemaHint()  # the previous poll's column types (columnar decoding)
        self._status = SourceStatus(connected=False, reason="not opened")
        self._last_probe = float("-inf")
        self._probe_interval_s = settings.status_interval_s

    # -- Source protocol ---------------------------------------------------------------------------

    def open(self, checkpoint: Checkpoint | None) -> None:
        """Create the consumer, subscribe, and remember ``checkpoint`` positions to seek to."""
        if self._consumer is not None:
            raise ConnectorError(f"source {self.name!r}: already open")
        self._positions = parse_checkpoint(checkpoint, source=self.name)
        s = self.settings
        common = self._client_config()
        try:
            self._consumer = KafkaConsumer(
                group_id=s.group_id,
                enable_auto_commit=False,
                auto_offset_reset=s.start_offset,
                session_timeout_ms=s.session_timeout_ms,
                heartbeat_interval_ms=s.heartbeat_interval_ms,
                max_poll_interval_ms=s.max_poll_interval_ms,
                max_partition_fetch_bytes=max(s.fetch_bytes, s.max_message_bytes),
                **common,
            )
            self._consumer.subscribe(topics=[s.topic], listener=_Listener(self))
            if s.dead_letter_topic is not None:
                self._producer = KafkaProducer(acks="all", linger_ms=5, **common)
        except KafkaError as exc:
            self._close_clients()
            self._status = SourceStatus(connected=False, reason=_describe(exc))
            raise ConnectorError(
                f"source {self.name!r}: cannot connect to Kafka {','.join(s.bootstrap_servers)}: {exc}"
            ) from exc
        self._status = SourceStatus(connected=True, reason="")
        logger.info(
            "kafka source opened source=%s topic=%s group=%s positions=%s",
            self.name,
            s.topic,
            s.group_id,
            self._positions,
        )

    def poll(self, max_rows: int, timeout_s: float) -> Batch:
        """Return rows of at most ``max_rows`` messages, waiting at most ``timeout_s``.

        After the first records arrive, what the client has already fetched is taken too (without
        waiting), up to ``max_rows`` messages or :data:`DRAIN_BYTES`, so the monitor gets chunks
        of thousands of rows. For ``json_batch`` the bound is on messages, so a batch may hold
        more rows than ``max_rows`` (a message is never split across batches).

        Well-formed flat JSON without renames or nested paths is decoded for the whole poll at
        once into columns (:mod:`connectors.columnar`), with required fields and the event time
        checked per column (:meth:`RowMapping.apply_to_columns`); anything else, and every poll
        holding a bad message or row, is decoded message by message, which turns bad ones into
        dead letters.
        """
        consumer = self._require_open()
        if max_rows <= 0:
            raise ValueError(f"max_rows must be positive, got {max_rows!r}")
        records = self._fetch(consumer, max_rows, timeout_s)
        for partition, messages in records.items():
            self._positions[partition] = messages[-1].offset + 1
        batch = self._decode_columnar(records) if self._columnar else None
        if batch is None:
            batch = self._decode_each(records)
        self._refresh_status(bool(records))
        return batch

    def _fetch(self, consumer: KafkaConsumer, max_rows: int, timeout_s: float) -> dict[int, list[Any]]:
        """Records by partition: one waiting poll, then what is already fetched, within bounds.

        A partition revoked while collecting loses the records collected for it so far: they
        are not in this replica's state, and its next owner reads them from the stored position.
        """
        collected: dict[int, list[Any]] = {}
        self._revoked_in_poll = set()
        wait_ms = max(0, int(timeout_s * 1000))
        taken = size = 0
        deadline = time.monotonic() + DRAIN_S
        while True:
            try:
                records = consumer.poll(timeout_ms=wait_ms, max_records=max_rows - taken)
            except KafkaError as exc:
                self._status = SourceStatus(connected=False, reason=_describe(exc), lag=self._status.lag)
                raise ConnectorError(f"source {self.name!r}: poll failed: {exc}") from exc
            for partition in self._revoked_in_poll:
                collected.pop(partition, None)
            self._revoked_in_poll.clear()
            if not records:
                break
            for tp, messages in records.items():
                if messages:
                    collected.setdefault(tp.partition, []).extend(messages)
                    taken += len(messages)
                    size += sum(len(v) for v in map(_VALUE, messages) if v is not None)
            wait_ms = 0
            if taken >= max_rows or size >= DRAIN_BYTES or time.monotonic() >= deadline:
                break
        return collected

    @property
    def _columnar(self) -> bool:
        s = self.settings
        return s.mapping.is_plain and s.event_time_source == "field"

    def _decode_columnar(self, records: Mapping[int, list[Any]]) -> Batch | None:
        """The whole poll as columns (:func:`decode_chunk` per partition), or ``None`` when any
        message needs the per-message path."""
        parts: list[DecodedChunk] = []
        for partition, messages in records.items():
            chunk = decode_chunk(
                self.settings.format,
                partition,
                messages,
                max_message_bytes=self.settings.max_message_bytes,
                hint=self._schema_hint,
            )
            if chunk is None:
                return None
            parts.append(chunk)
        if not parts:
            return None
        columns = concat_columns([p.columns for p in parts])
        mapping = self.settings.mapping
        if columns is not None and not mapping.is_identity:
            columns = mapping.apply_to_columns(columns)  # required fields, event time
        if columns is None:
            return None
        positions = parts[0].positions if len(parts) == 1 else np.concatenate([p.positions for p in parts])
        return Batch(
            columns=columns,
            n_columnar_rows=int(positions.size),
            checkpoint=self.checkpoint,
            positions=positions,
        )

    def _decode_each(self, records: Mapping[int, list[Any]]) -> Batch:
        rows: list[dict[str, Any]] = []
        positions: list[int] = []  # per row: partition * 2**40 + offset (json_batch: * 2**12 + item)
        dead: list[DeadLetter] = []
        s = self.settings
        mapping = s.mapping
        identity = mapping.is_identity
        use_ts = s.event_time_source == "message_timestamp"
        fmt = s.format
        max_bytes = s.max_message_bytes
        fast = identity and fmt == "json"
        loads = orjson.loads
        for partition, messages in records.items():
            base = partition * POSITION_PARTITION_STRIDE
            for msg in messages:
                if fast:  # the common case inline: a small, valid JSON object, no mapping
                    value = msg.value
                    if value is not None and len(value) <= max_bytes:
                        try:
                            obj = loads(value)
                        except orjson.JSONDecodeError:
                            obj = None
                        if type(obj) is dict:
                            rows.append(obj)
                            positions.append(base + msg.offset)
                            continue
                decoded = decode_message(msg.value, fmt=fmt, max_message_bytes=max_bytes)
                if decoded.problem is not None:
                    dead.append(self._dead_letter(msg, decoded.problem.reason, decoded.problem.detail, None))
                    continue
                event_time = timestamp_ms_to_datetime(msg.timestamp) if use_ts else None
                position = base + msg.offset
                for index, item in enumerate(decoded.items):
                    row_position = (
                        position * BATCH_ITEM_STRIDE + min(index, BATCH_ITEM_STRIDE - 1)
                        if fmt == "json_batch"
                        else position
                    )
                    if identity and type(item) is dict:
                        rows.append(item)
                        positions.append(row_position)
                        continue
                    row = mapping.apply(item, event_time=event_time)
                    if type(row) is dict:
                        rows.append(row)
                        positions.append(row_position)
                    else:
                        item_index = index if fmt == "json_batch" else None
                        dead.append(self._dead_letter(msg, row.reason, row.detail, item_index))  # type: ignore[union-attr]
        return Batch(
            rows=rows,
            dead_letters=dead,
            checkpoint=self.checkpoint,
            end_of_data=False,
            positions=positions,
        )

    def commit(self, checkpoint: Checkpoint) -> None:
        """Commit ``checkpoint`` offsets of currently assigned partitions to the consumer group.

        Dead letters published to the dead-letter topic are flushed first. A failed commit is
        logged, not raised: the stored checkpoint stays the truth.
        """
        consumer = self._require_open()
        positions = parse_checkpoint(checkpoint, source=self.name)
        if self._producer is not None:
            try:
                self._producer.flush(timeout=self.settings.request_timeout_ms / 1000)
            except KafkaError as exc:
                raise ConnectorError(f"source {self.name!r}: dead-letter topic flush failed: {exc}") from exc
        topic = self.settings.topic
        offsets = {
            TopicPartition(topic, p): OffsetAndMetadata(offset, "", -1)
            for p, offset in positions.items()
            if p in self._assigned
        }
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, timeout_ms=self.settings.request_timeout_ms)
        except KafkaError as exc:
            logger.warning("kafka commit failed source=%s offsets=%s error=%s", self.name, positions, exc)

    def status(self) -> SourceStatus:
        """Connection state and lag per partition, as of the owner's last poll."""
        return self._status

    def close(self) -> None:
        """Leave the group (revocation callback first) and close the clients, bounded in time."""
        if self._consumer is None:
            return
        self._close_clients()
        self._assigned = frozenset()
        self._status = SourceStatus(connected=False, reason="closed")
        logger.info("kafka source closed source=%s", self.name)

    # -- helpers -----------------------------------------------------------------------------------

    @property
    def checkpoint(self) -> Checkpoint | None:
        """Position after the last polled message of each partition this source has seen."""
        return {str(p): o for p, o in sorted(self._positions.items())} if self._positions else None

    def _require_open(self) -> KafkaConsumer:
        if self._consumer is None:
            raise ConnectorError(f"source {self.name!r}: not open")
        return self._consumer

    def _client_config(self) -> dict[str, Any]:
        s = self.settings
        config: dict[str, Any] = {
            "bootstrap_servers": list(s.bootstrap_servers),
            "client_id": s.client_id,
            "request_timeout_ms": s.request_timeout_ms,
            "bootstrap_timeout_ms": s.connect_timeout_ms,
            "security_protocol": s.security_protocol,
        }
        if s.sasl_mechanism is not None:
            config["sasl_mechanism"] = s.sasl_mechanism
            config["sasl_plain_username"] = s.sasl_plain_username
            if s.sasl_password_env is not None:
                config["sasl_plain_password"] = self._secret(s.sasl_password_env, "sasl_password_env")
        if s.security_protocol in ("SSL", "SASL_SSL"):
            config["ssl_check_hostname"] = s.ssl_check_hostname
            for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
                if getattr(s, key) is not None:
                    config[key] = getattr(s, key)
            if s.ssl_password_env is not None:
                config["ssl_password"] = self._secret(s.ssl_password_env, "ssl_password_env")
        return config

    def _secret(self, env_name: str, key: str) -> str:
        value = self._environ.get(env_name)
        if not value:
            raise ConnectorError(f"source {self.name!r}: {key}: environment variable {env_name} is not set")
        return value

    def _dead_letter(self, msg: Any, reason: str, detail: str, index: int | None) -> DeadLetter:
        position = f"partition={msg.partition} offset={msg.offset}"
        if index is not None:
            position += f" index={index}"
        raw = msg.value
        if self._producer is not None:
            headers = [
                ("driftwarden-reason", reason.encode()),
                ("driftwarden-detail", detail.encode("utf-8", "replace")),
                ("driftwarden-position", position.encode()),
                ("driftwarden-source", self.name.encode("utf-8", "replace")),
            ]
            try:
                self._producer.send(self.settings.dead_letter_topic, value=raw, key=msg.key, headers=headers)
            except KafkaError as exc:
                logger.warning(
                    "dead-letter publish failed source=%s position=%s error=%s", self.name, position, exc
                )
        return DeadLetter(
            source=self.name,
            position=position,
            reason=reason,
            detail=detail,
            raw=None if raw is None else bytes(raw[:RAW_LIMIT_BYTES]),
        )

    def _handle_assigned(self, assigned: Any) -> None:
        partitions = tuple(sorted(tp.partition for tp in assigned))
        self._assigned = self._assigned | frozenset(partitions)
        if self._on_assigned is not None:
            stored = self._on_assigned(partitions)
            if stored:
                self._positions.update(parse_checkpoint(stored, source=self.name))
        consumer = self._consumer
        if consumer is None:
            return
        for tp in assigned:
            offset = self._positions.get(tp.partition)
            if offset is not None:
                consumer.seek(tp, offset)
        logger.info(
            "kafka partitions assigned source=%s partitions=%s seek=%s",
            self.name,
            list(partitions),
            {p: self._positions[p] for p in partitions if p in self._positions},
        )

    def _handle_revoked(self, revoked: Any) -> None:
        partitions = tuple(sorted(tp.partition for tp in revoked))
        if not partitions:
            return
        logger.info("kafka partitions revoked source=%s partitions=%s", self.name, list(partitions))
        self._revoked_in_poll.update(partitions)
        if self._on_revoked is not None:
            self._on_revoked(partitions)
        self._assigned = self._assigned - frozenset(partitions)

    def _refresh_status(self, got_records: bool) -> None:
        """Update the status snapshot.

        At most every ``status_interval_s`` one ListOffsets round trip gives exact lag and proves
        the broker reachable; in between, lag is estimated from the high-water marks of fetch
        responses (free), and records arriving prove the connection.
        """
        consumer = self._consumer
        if consumer is None:
            return
        assigned = sorted(consumer.assignment() or (), key=lambda tp: tp.partition)
        previous = self._status
        connected, reason = previous.connected or got_records, "" if got_records else previous.reason
        lag: dict[str, int] = {}
        now = time.monotonic()
        if now - self._last_probe >= self._probe_interval_s:
            self._last_probe = now
            timeout_ms = min(self.settings.request_timeout_ms, PROBE_TIMEOUT_MS)
            try:
                ends = consumer.end_offsets(assigned, timeout_ms=timeout_ms) if assigned else {}
                for tp in assigned:
                    pos = self._positions.get(tp.partition)
                    if pos is None:
                        pos = consumer.position(tp, timeout_ms=timeout_ms)
                    if pos is not None and tp in ends:
                        lag[str(tp.partition)] = max(0, ends[tp] - pos)
                connected, reason = True, ""
                self._probe_interval_s = self.settings.status_interval_s
            except KafkaError as exc:
                connected, reason = False, _describe(exc)
                # Back off while the broker is away, so the owner's poll loop stays responsive.
                self._probe_interval_s = min(
                    PROBE_BACKOFF_MAX_S, max(2 * self._probe_interval_s, self.settings.status_interval_s, 1.0)
                )
                if reason != previous.reason:
                    logger.warning("kafka source unreachable source=%s error=%s", self.name, reason)
        for tp in assigned:
            key = str(tp.partition)
            if key in lag:
                continue
            end, pos = consumer.highwater(tp), self._positions.get(tp.partition)
            if end is not None and pos is not None:
                lag[key] = max(0, end - pos)
            elif key in previous.lag:
                lag[key] = previous.lag[key]
        self._status = SourceStatus(connected=connected, reason=reason, lag=dict(sorted(lag.items())))

    def _close_clients(self) -> None:
        timeout_ms = self.settings.request_timeout_ms
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.flush(timeout=timeout_ms / 1000)
                producer.close(timeout=timeout_ms / 1000)
            except KafkaError as exc:
                logger.warning("dead-letter producer close failed source=%s error=%s", self.name, exc)
        consumer = self._consumer
        if consumer is not None:
            try:  # leaving the group runs the revocation callback, which may still use the consumer
                consumer.close(autocommit=False, timeout_ms=timeout_ms)
            except KafkaError as exc:
                logger.warning("kafka consumer close failed source=%s error=%s", self.name, exc)
            finally:
                self._consumer = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodedChunk:
    """Messages of one partition decoded into columns, with each row's position."""

    columns: dict[str, np.ndarray]
    positions: np.ndarray


def decode_chunk(
    fmt: MessageFormat,
    partition: int,
    messages: list[Any],
    *,
    max_message_bytes: int,
    hint: SchemaHint | None = None,
) -> DecodedChunk | None:
    """Consecutive messages of one partition as columns (:mod:`connectors.columnar`), or ``None``
    when any of them needs the per-message path (a tombstone, an oversize or odd message).
    ``hint`` carries the column types from one poll to the next (:class:`SchemaHint`)."""
    values = list(map(_VALUE, messages))
    if None in values or max(map(len, values)) > max_message_bytes:
        return None
    starts = np.fromiter(map(_OFFSET, messages), dtype=np.int64, count=len(messages))
    starts += partition * POSITION_PARTITION_STRIDE
    if fmt == "json":
        columns = objects_to_columns(values, hint)
        if columns is None:
            return None
        return DecodedChunk(columns=columns, positions=starts)
    decoded = batches_to_columns(values, hint)
    if decoded is None:
        return None
    columns, sizes = decoded
    counts = np.asarray(sizes, dtype=np.int64)
    ends = np.cumsum(counts)
    item = np.arange(int(ends[-1]), dtype=np.int64) - np.repeat(ends - counts, counts)
    positions = np.repeat(starts * BATCH_ITEM_STRIDE, counts) + np.minimum(item, BATCH_ITEM_STRIDE - 1)
    return DecodedChunk(columns=columns, positions=positions)


def partitions_of(positions: np.ndarray, fmt: MessageFormat) -> np.ndarray:
    """The partition of each row position (``Batch.positions``) of a source reading ``fmt``.

    Examples
    --------
    >>> partitions_of(np.array([5, 3 * POSITION_PARTITION_STRIDE + 7]), "json").tolist()
    [0, 3]
    >>> partitions_of(np.array([(2 * POSITION_PARTITION_STRIDE + 9) * BATCH_ITEM_STRIDE + 4]), "json_batch").tolist()
    [2]
    """
    stride = POSITION_PARTITION_STRIDE * (BATCH_ITEM_STRIDE if fmt == "json_batch" else 1)
    return np.asarray(positions, dtype=np.int64) // stride


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def parse_checkpoint(checkpoint: Checkpoint | None, *, source: str) -> dict[int, int]:
    """``{"<partition>": next_offset}`` as ``{partition: offset}``; rejects anything else.

    Examples
    --------
    >>> parse_checkpoint({"0": 12, "3": 4}, source="s")
    {0: 12, 3: 4}
    """
    if not checkpoint:
        return {}
    positions: dict[int, int] = {}
    for key, value in checkpoint.items():
        try:
            partition = int(key)
        except (TypeError, ValueError):
            raise ConnectorError(
                f"source {source!r}: checkpoint key {key!r} is not a partition number (expected {{'0': 123, ...}})"
            ) from None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or partition < 0:
            raise ConnectorError(
                f"source {source!r}: checkpoint offset for partition {key!r} must be a non-negative integer, got {value!r}"
            )
        positions[partition] = value
    return positions
