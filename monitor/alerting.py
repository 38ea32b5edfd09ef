"""From window results to alert findings, and the alert machinery built from the configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from alerts import (
    DATASET_SUBJECT,
    AlertPipeline,
    Finding,
    HistoryPoint,
    LogSink,
    PolicySettings,
    Silence,
    Sink,
    SinkRoute,
    SlackSink,
    WebhookSink,
    WindowEvaluation,
)
from alerts.store import AlertStore
from detectors.multiple_testing import benjamini_hochberg
from monitor.config import (
    DriftwardenConfig,
    LogSinkConfig,
    SlackSinkConfig,
    WebhookSinkConfig,
)


def _drift_severity(c: Mapping[str, Any]) -> str:
    """Critical when far past the threshold: a distance at twice it, a p-value 100x below it."""
    p, stat, thr = c.get("p_value"), c.get("statistic"), c.get("threshold") or 0.0
    if p is not None:
        return "critical" if p < thr / 100.0 else "warning"
    if stat is not None and thr > 0 and stat >= 2.0 * thr:
        return "critical"
    return "warning"


def _drift_finding(monitor: str, kind: str, name: str, c: Mapping[str, Any]) -> Finding:
    return Finding(
        monitor=monitor,
        kind=kind,  # type: ignore[arg-type]
        subject=name,
        severity=_drift_severity(c),  # type: ignore[arg-type]
        method=c.get("method"),
        statistic=c.get("statistic"),
        threshold=c.get("threshold"),
        p_value=c.get("p_value"),
    )


def drifted_features(result: Mapping[str, Any], *, fdr_alpha: float = 0.05) -> list[str]:
    """Features that count as drifted for alerting: the same multiple-testing control as the
    window verdict (Benjamini-Hochberg over the p-value tests), and none at all when the window's
    dataset rule did not fire (e.g. ``drift_rule = "share"`` below its share)."""
    if not result.get("drift_detected"):
        return []
    features = result.get("features") or {}
    p_tests = [(n, f) for n, f in features.items() if f.get("p_value") is not None]
    keep = {n for n, f in features.items() if f.get("drift_detected") and f.get("p_value") is None}
    if p_tests:
        bh = benjamini_hochberg([float(f["p_value"]) for _, f in p_tests], alpha=fdr_alpha)
        for (n, f), adj in zip(p_tests, bh.adjusted_p_values, strict=True):
            if f.get("drift_detected") and adj < float(f.get("threshold") or 0.0):
                keep.add(n)
    return [n for n in features if n in keep]


def findings_from_result(monitor: str, result: Mapping[str, Any], *, prediction: str | None = None) -> tuple[Finding, ...]:
    """One finding per flagged signal of a window result (the JSON contract dict).

    Working from the stored JSON (not the in-memory result) lets the service re-derive the
    alerts of windows stored before a crash interrupted their alert processing.
    """
    out: list[Finding] = []
    for name in drifted_features(result):
        out.append(_drift_finding(monitor, "data_drift", name, result["features"][name]))
    for method, mv in (result.get("multivariate") or {}).items():
        if mv.get("drift_detected") and result.get("drift_detected"):
            out.append(_drift_finding(monitor, "data_drift", f"multivariate:{method}", mv))
    pred = result.get("prediction")
    if pred and pred.get("drift_detected"):
        out.append(_drift_finding(monitor, "prediction_drift", prediction or "prediction", pred))
    perf = result.get("performance")
    if perf and perf.get("drift_detected"):
        value, ref = perf.get("value"), perf.get("reference")
        severe = value is not None and ref is not None and abs(value - ref) > 0.1 * max(abs(ref), 1e-9)
        out.append(
            Finding(
                monitor=monitor,
                kind="performance",
                subject=str(perf.get("metric")),
                severity="critical" if severe else "warning",
                method=perf.get("metric"),
                statistic=value,
                reference=ref,
            )
        )
    concept = result.get("concept")
    if concept and concept.get("drift_detected"):
        out.append(
            Finding(
                monitor=monitor,
                kind="concept_drift",
                subject=str(concept.get("method")),
                severity="warning",
                method=concept.get("method"),
                detail=str(concept.get("detail") or ""),
            )
        )
    for issue in (result.get("quality") or {}).get("issues") or ():
        out.append(
            Finding(
                monitor=monitor,
                kind="quality",
                subject=issue.get("column") or DATASET_SUBJECT,
                severity=issue.get("severity", "warning"),
                method=issue.get("check"),
                statistic=issue.get("value"),
                threshold=issue.get("threshold"),
            )
        )
    return tuple(out)


def window_evaluation(
    monitor: str,
    result: Mapping[str, Any],
    *,
    evaluated_at: datetime,
    prediction: str | None = None,
    report_url: str | None = None,
    dashboard_url: str | None = None,
    source_down: bool = False,
    history: Mapping[str, tuple[HistoryPoint, ...]] | None = None,
) -> WindowEvaluation:
    """The alert policy's view of one evaluated window (a JSON contract dict with ``window``)."""
    kinds = {"data_drift", "quality"}
    if result.get("prediction") is not None:
        kinds.add("prediction_drift")
    if result.get("performance") is not None:
        kinds.add("performance")
    if result.get("concept") is not None:
        kinds.add("concept_drift")
    return WindowEvaluation(
        monitor=monitor,
        window=dict(result["window"]),
        findings=findings_from_result(monitor, result, prediction=prediction),
        evaluated_at=evaluated_at,
        evaluated_kinds=frozenset(kinds),  # type: ignore[arg-type]
        report_url=report_url,
        dashboard_url=dashboard_url,
        model=monitor,
        source_down=source_down,
        history=history or {},
    )


def policy_settings(config: DriftwardenConfig) -> PolicySettings:
    a = config.alerts
    return PolicySettings(
        consecutive_windows=a.consecutive_windows,
        consecutive_windows_by_kind=dict(a.consecutive_windows_by_kind),
        resolve_windows=a.resolve_windows,
        repeat_interval=a.repeat_interval,
        send_resolved=a.send_resolved,
    )


def sink_routes(config: DriftwardenConfig) -> dict[str, SinkRoute]:
    routes: dict[str, SinkRoute] = {}
    for name, s in config.sinks.items():
        routes[name] = SinkRoute(
            sink=name,
            kinds=frozenset(s.kinds),  # type: ignore[arg-type]
            min_severity=s.min_severity,
            group_by="kind" if isinstance(s, WebhookSinkConfig) else "window",
        )
    return routes


def config_silences(config: DriftwardenConfig) -> tuple[Silence, ...]:
    return tuple(
        Silence(
            id=f"config-{i}",
            monitor=s.monitor,
            kind=s.kind,
            subject=s.subject,
            starts_at=s.starts_at,
            expires_at=s.expires_at,
            created_by="config",
            comment=s.comment,
        )
        for i, s in enumerate(config.alerts.silences)
    )


def build_alert_pipeline(config: DriftwardenConfig, store: AlertStore) -> AlertPipeline:
    return AlertPipeline(
        store,
        settings=policy_settings(config),
        sinks=sink_routes(config),
        routes={m.name: m.routes for m in config.monitors},
        silences=config_silences(config),
    )


def build_sink(sink_cfg: Any, *, threads: Any, clock: Callable[[], datetime]) -> Sink:
    """A sink object from its ``[sinks.<name>]`` table (secrets revealed only here)."""
    if isinstance(sink_cfg, LogSinkConfig):
        return LogSink(sink_cfg.name)
    if isinstance(sink_cfg, SlackSinkConfig):
        timeout = sink_cfg.timeout.total_seconds()
        if sink_cfg.token is not None:
            return SlackSink.with_token(
                sink_cfg.name,
                token=sink_cfg.token.reveal(),
                channel=sink_cfg.channel or "",
                threads=threads,
                base_url=sink_cfg.base_url,
                timeout_s=timeout,
                plot=sink_cfg.plot,
            )
        if sink_cfg.webhook_url is not None:
            return SlackSink.with_webhook_url(sink_cfg.name, url=sink_cfg.webhook_url.reveal(), timeout_s=timeout)
        raise ValueError(f"sinks.{sink_cfg.name}: needs token_env or webhook_url_env")
    if isinstance(sink_cfg, WebhookSinkConfig):
        return WebhookSink(
            sink_cfg.name,
            url=sink_cfg.url,
            secret=sink_cfg.secret.reveal(),
            clock=clock,
            timeout_s=sink_cfg.timeout.total_seconds(),
        )
    raise ValueError(f"unknown sink kind {type(sink_cfg).__name__}")


def build_sinks(config: DriftwardenConfig, *, threads: Any, clock: Callable[[], datetime]) -> dict[str, Sink]:
    return {name: build_sink(s, threads=threads, clock=clock) for name, s in config.sinks.items()}
