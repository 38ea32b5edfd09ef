"""Prometheus metrics of the daemon, on a registry owned by one :class:`Metrics` object."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from monitor.store import Store

logger = logging.getLogger(__name__)

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""``Content-Type`` of :meth:`Metrics.render` (Prometheus text format 0.0.4)."""

_EVALUATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SEND_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The daemon's metrics; every collector lives on :attr:`registry`, none on the global one.

    Counters that must survive restarts (rows, windows, dead letters) are seeded once from the
    store with :meth:`seed_from_store` before the service starts counting.

    Metrics
    -------
    ``driftwarden_rows_total{monitor}``
        Rows the monitor received (seeded from its durable ``next_row``).
    ``driftwarden_source_rows_total{source}``
        Rows read from the source (seeded from the store).
    ``driftwarden_dead_letters_total{source,reason}``
        Messages or rows that could not become rows.
    ``driftwarden_windows_evaluated_total{monitor}``
        Windows evaluated.
    ``driftwarden_feature_drift{monitor,feature}``
        1 when the feature drifted in the last window, else 0.
    ``driftwarden_feature_drift_statistic{monitor,feature}``
        The feature's drift statistic in the last window.
    ``driftwarden_drift_detected{monitor}`` / ``driftwarden_drift_share{monitor}``
        Dataset drift flag and share of drifted features in the last window.
    ``driftwarden_quality_issues{monitor,check}``
        Quality issues of each check in the last window.
    ``driftwarden_alerts_sent_total{sink,outcome}`` / ``driftwarden_alert_send_seconds{sink}``
        Notifications by outcome (ok, retryable reason, permanent reason ...) and their latency.
    ``driftwarden_source_lag{source,partition}``
        Messages behind the end of the source.
    ``driftwarden_evaluation_seconds{monitor}``
        Time to evaluate one window.
    ``driftwarden_scheduler_events_total{job,event}``
        Scheduler job errors, misses and overlaps.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._rows = Counter(
            "driftwarden_rows", "Rows received by a monitor.", ["monitor"], registry=registry
        )
        self._source_rows = Counter(
            "driftwarden_source_rows", "Rows read from a source.", ["source"], registry=registry
        )
        self._dead_letters = Counter(
            "driftwarden_dead_letters",
            "Messages or rows that could not become rows.",
            ["source", "reason"],
            registry=registry,
        )
        self._windows = Counter(
            "driftwarden_windows_evaluated", "Windows evaluated.", ["monitor"], registry=registry
        )
        self._feature_drift = Gauge(
            "driftwarden_feature_drift",
            "1 when the feature drifted in the monitor's last window, else 0.",
            ["monitor", "feature"],
            registry=registry,
        )
        self._feature_statistic = Gauge(
            "driftwarden_feature_drift_statistic",
            "Drift statistic of the feature in the monitor's last window.",
            ["monitor", "feature"],
            registry=registry,
        )
        self._drift_detected = Gauge(
            "driftwarden_drift_detected",
            "1 when the monitor's last window drifted (dataset rule), else 0.",
            ["monitor"],
            registry=registry,
        )
        self._drift_share = Gauge(
            "driftwarden_drift_share",
            "Share of drifted features in the monitor's last window.",
            ["monitor"],
            registry=registry,
        )
        self._quality = Gauge(
            "driftwarden_quality_issues",
            "Quality issues of a check in the monitor's last window.",
            ["monitor", "check"],
            registry=registry,
        )
        self._alerts = Counter(
            "driftwarden_alerts_sent",
            "Notifications by sink and outcome.",
            ["sink", "outcome"],
            registry=registry,
        )
        self._alert_seconds = Histogram(
            "driftwarden_alert_send_seconds",
            "Latency of one notification attempt.",
            ["sink"],
            buckets=_SEND_BUCKETS,
            registry=registry,
        )
        self._lag = Gauge(
            "driftwarden_source_lag",
            "Messages behind the end of the source, per partition.",
            ["source", "partition"],
            registry=registry,
        )
        self._evaluation = Histogram(
            "driftwarden_evaluation_seconds",
            "Time to evaluate one window.",
            ["monitor"],
            buckets=_EVALUATION_BUCKETS,
            registry=registry,
        )
        self._scheduler = Counter(
            "driftwarden_scheduler_events",
            "Scheduler job errors, misses and overlaps.",
            ["job", "event"],
            registry=registry,
        )
        self._lock = threading.Lock()
        self._features: dict[str, set[str]] = {}
        self._checks: dict[str, set[str]] = {}
        self._partitions: dict[str, set[str]] = {}
        self._seeded = False

    def seed_from_store(self, store: Store) -> None:
        """Start the durable counters from the store's totals; call once, before counting.

        Raises
        ------
        RuntimeError
            When called twice (counters can only grow; seeding twice would double them).
        """
        with self._lock:
            if self._seeded:
                raise RuntimeError("Metrics.seed_from_store was called already")
            self._seeded = True
        for monitor, totals in store.all_monitor_totals().items():
            self._rows.labels(monitor=monitor).inc(totals.rows_received)
            self._windows.labels(monitor=monitor).inc(totals.windows_evaluated)
        for source, source_totals in store.all_source_totals().items():
            self._source_rows.labels(source=source).inc(source_totals.rows)
        for (source, reason), total in store.dead_letter_counts().items():
            self._dead_letters.labels(source=source, reason=reason).inc(total)
        logger.info("metrics seeded from store")

    def add_rows(self, monitor: str, rows: int) -> None:
        """Count ``rows`` received by ``monitor``."""
        if rows:
            self._rows.labels(monitor=monitor).inc(rows)

    def add_source_rows(self, source: str, rows: int) -> None:
        """Count ``rows`` read from ``source``."""
        if rows:
            self._source_rows.labels(source=source).inc(rows)

    def add_dead_letters(self, source: str, reason: str, count: int = 1) -> None:
        """Count ``count`` dead letters of ``source`` with ``reason``."""
        if count:
            self._dead_letters.labels(source=source, reason=reason).inc(count)

    def observe_window(self, monitor: str, result: Mapping[str, Any], seconds: float) -> None:
        """Record one evaluated window (a JSON contract dict) and how long it took."""
        self._windows.labels(monitor=monitor).inc()
        self._evaluation.labels(monitor=monitor).observe(seconds)
        self._drift_detected.labels(monitor=monitor).set(1 if result.get("drift_detected") else 0)
        share = result.get("drift_share")
        if isinstance(share, int | float):
            self._drift_share.labels(monitor=monitor).set(share)
        features = result.get("features") or {}
        counts: dict[str, int] = {}
        quality = result.get("quality") or {}
        for issue in quality.get("issues") or ():
            check = str(issue.get("check", "unknown"))
            counts[check] = counts.get(check, 0) + 1
        with self._lock:
            for feature in self._features.get(monitor, set()) - set(features):
                self._feature_drift.remove(monitor, feature)
                self._feature_statistic.remove(monitor, feature)
            self._features[monitor] = set(features)
            for feature, test in features.items():
                self._feature_drift.labels(monitor=monitor, feature=feature).set(
                    1 if test.get("drift_detected") else 0
                )
                statistic = test.get("statistic")
                if isinstance(statistic, int | float):
                    self._feature_statistic.labels(monitor=monitor, feature=feature).set(statistic)
            checks = self._checks.setdefault(monitor, set())
            checks.update(counts)
            for check in checks:
                self._quality.labels(monitor=monitor, check=check).set(counts.get(check, 0))

    def alert_sent(self, sink: str, outcome: str, seconds: float | None = None) -> None:
        """Count one notification attempt of ``sink`` with ``outcome`` (``ok`` or a failure reason)."""
        self._alerts.labels(sink=sink, outcome=outcome).inc()
        if seconds is not None:
            self._alert_seconds.labels(sink=sink).observe(seconds)

    def set_lag(self, source: str, partition: str, lag: int) -> None:
        """Set the lag of one partition of ``source``."""
        with self._lock:
            self._partitions.setdefault(source, set()).add(str(partition))
        self._lag.labels(source=source, partition=str(partition)).set(lag)

    def set_source_lag(self, source: str, lag: Mapping[str, int]) -> None:
        """Replace the lag of every partition of ``source`` (partitions not in ``lag`` are dropped)."""
        with self._lock:
            known = self._partitions.get(source, set())
            for partition in known - {str(p) for p in lag}:
                self._lag.remove(source, partition)
            self._partitions[source] = {str(p) for p in lag}
        for partition, value in lag.items():
            self._lag.labels(source=source, partition=str(partition)).set(value)

    def scheduler_event(self, job: str, event: str) -> None:
        """Count a scheduler event (``error``, ``missed``, ``max_instances``) of ``job``."""
        self._scheduler.labels(job=job, event=event).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of :attr:`registry`."""
        return generate_latest(self.registry)
