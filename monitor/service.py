"""The daemon: wires config, store, sources, monitors, scheduler, HTTP and alerts (the composition root)."""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.background import BackgroundScheduler

from alerts import DeliveryWorker, HistoryPoint
from connectors.base import DeadLetter
from connectors.kafka import partitions_of
from detectors.profile import Profile
from monitor.alert_store import SqlAlertStore
from monitor.alerting import build_alert_pipeline, build_sinks, window_evaluation
from monitor.cli import load_profile
from monitor.config import (
    DriftwardenConfig,
    FileSourceConfig,
    KafkaSourceConfig,
    RowWindow,
    SqlSourceConfig,
    TimeWindow,
    describe_config,
    load_config,
)
from monitor.evidently_report import write_drift_report
from monitor.http import HttpServer, MonitorView, SourceView
from monitor.labels import LabelMetrics
from monitor.logging import configure_logging
from monitor.metrics import Metrics
from monitor.runtime import (
    EvaluatedWindow,
    MonitorRuntime,
    RecentAlerts,
    SourceWorker,
    utc_now,
    window_record,
)
from monitor.scaleout import ReplicaWindows, WindowEvaluator, evaluated_until, replica_id
from monitor.sources import build_source, monitors_of
from monitor.store import STORE_AWAY, ProgressUpdate, Store

logger = logging.getLogger(__name__)

STARTUP_FAILURE = 3
LABEL_EXPIRY_INTERVAL_S = 60.0
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Service:
    """The long-running daemon.

    ``start()`` opens the store, restores each monitor's open windows, starts one thread per
    source, the scheduler (time-window ticks, freshness, alert delivery, retention) and HTTP.
    ``stop()`` shuts down in order: scheduler, sources (persisting open state and committing
    positions), alert outbox drain until the grace deadline, HTTP, store.
    """

    def __init__(
        self,
        config: DriftwardenConfig,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
        tick_interval_s: float = 1.0,
        delivery_interval_s: float = 1.0,
    ) -> None:
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        self.clock = clock
        self.tick_interval_s = tick_interval_s
        self.delivery_interval_s = delivery_interval_s
        self.metrics = Metrics()
        self.label_metrics = LabelMetrics(self.metrics.registry)
        self.store: Store | None = None
        self.alert_store: SqlAlertStore | None = None
        self.monitors: dict[str, MonitorRuntime] = {}
        self.workers: dict[str, SourceWorker] = {}
        self.label_workers: dict[str, SourceWorker] = {}  # label source -> the worker that reads it
        self.replica = replica_id()
        self.evaluators: dict[str, WindowEvaluator] = {}
        self._last_label_expiry = 0.0
        self.http: HttpServer | None = None
        self.scheduler: BackgroundScheduler | None = None
        self.delivery: DeliveryWorker | None = None
        self.recent = RecentAlerts()
        self._draining = False
        self._stopped = threading.Event()
        self._stop_requested = threading.Event()
        self._alert_lock = threading.Lock()
        self._jobs_waiting: set[str] = set()  # scheduler jobs held up by an unreachable store
        self._reports: queue.Queue[tuple[str, int, Profile, Any] | None] = queue.Queue(maxsize=16)
        self._report_thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.config
        logger.info("startup begin config=%s", cfg.path)
        logger.info("effective config %s", json.dumps(describe_config(cfg), default=str))
        # Profiles first: a broken profile is bad input (exit 2) and must not leave a new store behind.
        profiles = {m.name: load_profile(str(m.profile)) for m in cfg.monitors}
        self.store = Store.open(cfg.store.url.reveal())
        self.metrics.seed_from_store(self.store)
        self.alert_store = SqlAlertStore(self.store.engine)
        self.alert_pipeline = build_alert_pipeline(cfg, self.alert_store)
        sinks = build_sinks(cfg, threads=self.alert_store, clock=self.clock)
        self.delivery = DeliveryWorker(
            self.alert_store,
            sinks,
            clock=self.clock,
            give_up_after=cfg.alerts.give_up_after,
            observer=self._observe_delivery,
        )
        for mcfg in cfg.monitors:
            profile = profiles[mcfg.name]
            self.store.save_profile(mcfg.name, profile.to_dict())
            rt = MonitorRuntime(mcfg, profile)
            rt.restore(self.store)
            self.monitors[mcfg.name] = rt
            if mcfg.replicas > 1 and isinstance(mcfg.window, TimeWindow):
                self._scale_out(rt, mcfg.window)
        self._replay_unalerted_windows()
        label_names = {m.labels.source for m in cfg.monitors if m.labels is not None}
        for name, scfg in cfg.sources.items():
            mons = [self.monitors[m.name] for m in monitors_of(cfg, name)]
            if not mons:
                if name not in label_names:
                    logger.info("source has no monitor, not started source=%s", name)
                continue
            labels = sorted({m.cfg.labels.source for m in mons if m.cfg.labels is not None})
            worker_ref: list[SourceWorker] = []
            shared = any(m.replica is not None for m in mons)
            worker = SourceWorker(
                build_source(
                    scfg,
                    cfg,
                    environ=self.environ,
                    on_revoked=(lambda _p, ref=worker_ref: ref[0].revoked() if ref else None)
                    if shared
                    else None,
                    on_assigned=(lambda _p, n=name: self._stored_checkpoint(n)) if shared else None,
                ),
                mons,
                self.store,
                on_windows=self._on_windows,
                on_rows=self._on_rows,
                stop_on_end=getattr(scfg, "at_end", "") == "exit",
                live=not isinstance(scfg, FileSourceConfig),
                idle_wait_s=scfg.poll_interval.total_seconds() if isinstance(scfg, SqlSourceConfig) else 0.0,
                label_sources=[build_source(cfg.sources[ls], cfg, environ=self.environ) for ls in labels],
            )
            worker_ref.append(worker)
            self.workers[name] = worker
            for ls in labels:
                if ls in self.label_workers or ls in {m.source for m in cfg.monitors}:
                    logger.warning(
                        "label source is read by more than one worker source=%s; labels may be joined twice",
                        ls,
                    )
                self.label_workers[ls] = worker
        Path(cfg.store.reports_dir).mkdir(parents=True, exist_ok=True)
        self._report_thread = threading.Thread(target=self._report_loop, name="reports", daemon=True)
        self._report_thread.start()
        if cfg.http.enabled:
            self.http = HttpServer(
                self.store,
                self.metrics,
                self,
                host=cfg.http.host,
                port=cfg.http.port,
                reports_dir=cfg.store.reports_dir,
            )
            self.http.start()
            logger.info("http listening url=%s", self.http.url)
        for worker in self.workers.values():
            worker.start()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )
        self.scheduler.add_listener(
            self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
        )
        for job, fn, every in (
            ("tick", self.tick, {"seconds": self.tick_interval_s}),
            ("deliver", self.deliver, {"seconds": self.delivery_interval_s}),
            ("freshness", self.check_freshness, {"seconds": 5}),
            ("retention", self.retention, {"hours": 1}),
        ):
            self.scheduler.add_job(
                self._waiting_for_store(job, fn), "interval", **every, id=job, replace_existing=True
            )
        self.scheduler.start()
        logger.info("startup complete monitors=%d sources=%d", len(self.monitors), len(self.workers))

    def _scale_out(self, rt: MonitorRuntime, window: TimeWindow) -> None:
        """Replicas > 1: sketch partial windows here, evaluate them while holding the lease."""
        assert self.store is not None
        source = self.config.sources[rt.cfg.source]
        assert isinstance(source, KafkaSourceConfig)  # replicas > 1 need one (checked by the config)
        fmt = source.format
        rt.replica = ReplicaWindows(
            rt.name,
            self.replica,
            rt.pipeline.new_sketch,
            window.duration.total_seconds(),
            window.timestamp,
            partition_of=lambda positions: partitions_of(positions, fmt),
            max_future_s=window.max_future.total_seconds(),
        )
        rt.replica.learn_evaluated(evaluated_until(self.store, rt.name, window.duration.total_seconds()))
        self.evaluators[rt.name] = WindowEvaluator(
            rt,
            self.store,
            self.replica,
            lease_ttl_s=max(3.0 * self.tick_interval_s, 3.0),
            settle_s=max(2.0 * self.tick_interval_s, 3.0),
            # longer than the group's session timeout: a killed replica's partitions stay active
            idle_s=max(2.0 * source.session_timeout.total_seconds(), 60.0),
        )
        logger.info("scale-out monitor=%s replica=%s replicas=%d", rt.name, self.replica, rt.cfg.replicas)

    def _stored_checkpoint(self, source: str) -> Mapping[str, Any] | None:
        """The store's checkpoint of a shared source (a partition may have moved on elsewhere)."""
        if self.store is None:
            return None
        return self.store.load_source_checkpoint(source)

    @property
    def dashboard_url(self) -> str | None:
        if self.config.http.public_url:
            return self.config.http.public_url.rstrip("/") + "/dashboard"
        if self.http is not None:
            return self.http.url.rstrip("/") + "/dashboard"
        return None

    def _base_url(self) -> str | None:
        if self.config.http.public_url:
            return self.config.http.public_url.rstrip("/")
        if self.http is not None:
            return self.http.url.rstrip("/")
        return None

    def request_stop(self) -> None:
        self._stop_requested.set()

    def run_until_stopped(self) -> None:
        """Block until a stop is requested or every finite source has finished."""
        while not self._stop_requested.wait(0.5):
            if self.workers and all(w.finished.is_set() for w in self.workers.values()):
                if all(w.end_of_data for w in self.workers.values()):
                    logger.info("every source reached its end; stopping")
                    break

    def stop(self, timeout_s: float | None = None) -> None:
        grace = self.config.service.shutdown_grace.total_seconds() if timeout_s is None else timeout_s
        deadline = time.monotonic() + grace
        self._draining = True
        logger.info("shutdown begin grace=%.0fs", grace)
        if self.scheduler is not None:
            logger.info("shutdown: stopping scheduler")
            self.scheduler.shutdown(wait=True)
        logger.info("shutdown: stopping sources")
        for w in self.workers.values():
            w.stop_event.set()
        for w in self.workers.values():
            w.join(max(deadline - time.monotonic(), 0.1))
            if w.is_alive():
                logger.warning("source did not stop in time source=%s", w.source.name)
        for ev in self.evaluators.values():
            try:
                ev.release()
            except Exception as exc:
                logger.warning("evaluator lease not released monitor=%s error=%s", ev.rt.name, exc)
        if self.delivery is not None:
            logger.info("shutdown: draining alert outbox")
            try:
                self.delivery.drain(self.clock() + timedelta(seconds=max(deadline - time.monotonic(), 0.0)))
            except Exception:
                logger.exception("alert drain failed")
        self._reports.put(None)
        if self._report_thread is not None:
            self._report_thread.join(max(min(deadline - time.monotonic(), 5.0), 0.1))
        if self.http is not None:
            logger.info("shutdown: stopping http")
            self.http.stop()
        if self.store is not None:
            self.store.dispose()
        self._stopped.set()
        logger.info("shutdown complete")

    # ---- jobs -----------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock()
        now_s = now.timestamp()
        for w in self.workers.values():
            if w.connected and not w.finished.is_set():
                w.tick(now_s)
        if self.evaluators:
            self._evaluate_scale_out(now)
        if self.label_workers and time.monotonic() - self._last_label_expiry >= LABEL_EXPIRY_INTERVAL_S:
            self._last_label_expiry = time.monotonic()
            for w in set(self.label_workers.values()):
                w.expire_labels(now)
        self._publish_label_counts()

    def _evaluate_scale_out(self, now: datetime) -> None:
        assert self.store is not None
        for name, ev in self.evaluators.items():
            rt = self.monitors[name]
            try:
                done = ev.run(now)
            except STORE_AWAY:
                raise  # the store is away: the tick job logs one line and waits for it
            except Exception:
                logger.exception("scale-out evaluation failed monitor=%s", name)
                continue
            if done:
                self._on_windows(
                    [
                        EvaluatedWindow(
                            monitor=name,
                            result=result,
                            result_json=window_record(result)[1],
                            sketch=sketch,
                            seconds=seconds,
                        )
                        for result, sketch, seconds in done
                    ]
                )
            if rt.replica is not None:
                until = evaluated_until(self.store, name, rt.replica.duration_s)
                with rt.lock:
                    rt.replica.learn_evaluated(until)

    def _publish_label_counts(self) -> None:
        for m in self.monitors.values():
            if m.labels is not None:
                self.label_metrics.publish(m.name, m.labels.counts)

    def deliver(self) -> None:
        if self.delivery is not None:
            self.delivery.run_once(self.clock())

    def retention(self) -> None:
        if self.store is not None:
            cutoff = self.clock() - self.config.store.retention
            result = self.store.delete_older_than(cutoff)
            if self.alert_store is not None:
                self.alert_store.purge(cutoff)
            logger.info("retention cleanup %s", result)

    def check_freshness(self) -> None:
        """A row-window monitor whose source has been silent too long gets an empty window with a
        ``freshness`` issue (time windows produce empty windows on their own)."""
        now = time.time()
        for m in self.monitors.values():
            fresh = m.cfg.freshness
            if fresh is None or not isinstance(m.cfg.window, RowWindow) or m.stale_reported:
                continue
            last = m.last_data_at
            worker = self.workers.get(m.cfg.source)
            if last is None or worker is None:
                continue
            age = now - last
            if age <= fresh.total_seconds():
                continue
            self._report_stale(m, worker, age, fresh.total_seconds())

    def _report_stale(self, m: MonitorRuntime, worker: SourceWorker, age: float, limit: float) -> None:
        from detectors.evaluation import evaluate_window
        from detectors.quality import QualityIssue
        from detectors.result import WindowInfo
        from monitor.runtime import window_record

        with m.lock:
            index = m.next_window_index
            info = WindowInfo(index=index, first_row=None, last_row=None, start=None, end=None)
            issue = QualityIssue(
                column=None,
                check="freshness",
                value=age,
                threshold=limit,
                severity="critical",
                detail=f"no data for {age:.0f}s",
            )
            result = evaluate_window(
                m.profile,
                m.pipeline.new_sketch(),
                settings=m.pipeline.settings,
                window=info,
                extra_issues=(issue,),
            )
            m.pipeline.windows.index = index + 1
            m.stale_reported = True
            record, doc = window_record(result)
            state = m.state_bytes()
        assert self.store is not None
        self.store.commit_progress(
            ProgressUpdate(
                monitor=m.name,
                open_state=state,
                next_row=m.next_row,
                next_window_index=index + 1,
                windows=(record,),
            )
        )
        self._on_windows(
            [
                EvaluatedWindow(
                    monitor=m.name,
                    result=result,
                    result_json=doc,
                    sketch=m.pipeline.new_sketch(),
                    seconds=0.0,
                )
            ]
        )

    def _waiting_for_store(self, job: str, fn: Callable[[], object]) -> Callable[[], None]:
        """``fn`` as a scheduler job that, while the store is unreachable, logs one line and
        waits for its next run (instead of a traceback a second); other errors still fail it."""

        def run() -> None:
            try:
                fn()
            except STORE_AWAY as exc:
                if job not in self._jobs_waiting:
                    self._jobs_waiting.add(job)
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    logger.warning("scheduler job waiting for the store job=%s error=%s", job, first)
                return
            if job in self._jobs_waiting:
                self._jobs_waiting.discard(job)
                logger.info("scheduler job running again job=%s", job)

        return run

    def _on_job_event(self, event: JobEvent) -> None:
        kind = {
            EVENT_JOB_ERROR: "error",
            EVENT_JOB_MISSED: "missed",
            EVENT_JOB_MAX_INSTANCES: "max_instances",
        }.get(event.code, "other")
        self.metrics.scheduler_event(str(event.job_id), kind)
        if kind == "error":
            logger.error(
                "scheduler job failed job=%s error=%s", event.job_id, getattr(event, "exception", "")
            )
        else:
            logger.warning("scheduler job %s job=%s", kind, event.job_id)

    # ---- callbacks from source workers -----------------------------------------------------
    def _on_rows(self, source: str, rows: int, dead: Sequence[DeadLetter]) -> None:
        if rows:
            self.metrics.add_source_rows(source, rows)
            for m in self.monitors.values():  # rows received, as seeded from the store's next_row
                if m.cfg.source == source:
                    self.metrics.add_rows(m.name, rows)
        for d in dead:
            self.metrics.add_dead_letters(source, d.reason)
        worker = self.workers.get(source) or self.label_workers.get(source)
        if worker is not None:
            self.metrics.set_source_lag(source, dict(worker.source_status(source).lag))

    def _on_windows(self, windows: Sequence[EvaluatedWindow]) -> None:
        for ev in windows:
            doc = ev.result_json
            self.metrics.observe_window(ev.monitor, doc, ev.seconds)
            w = doc["window"]
            logger.info(
                "window evaluated monitor=%s index=%d rows=%d first_row=%s last_row=%s drift=%s drift_share=%.3f "
                "drifted=%s quality_issues=%d",
                ev.monitor,
                w["index"],
                doc["rows"],
                w["first_row"],
                w["last_row"],
                doc["drift_detected"],
                doc["drift_share"] or 0.0,
                ",".join(n for n, f in doc["features"].items() if f["drift_detected"]) or "-",
                len(doc["quality"]["issues"]),
            )
            report_url = None
            if doc["drift_detected"] and ev.result.rows > 0:
                report_url = self._queue_report(ev)
            self._alert(ev.monitor, doc, report_url)

    def _alert(self, monitor: str, doc: Mapping[str, Any], report_url: str | None) -> None:
        m = self.monitors[monitor]
        history = {
            name: tuple(HistoryPoint(window_index=i, statistic=s, threshold=t) for i, s, t in dq)
            for name, dq in m.history.items()
        }
        worker = self.workers.get(m.cfg.source)
        source_down = worker is not None and not worker.status().connected
        evaluation = window_evaluation(
            monitor,
            doc,
            evaluated_at=self.clock(),
            prediction=m.profile.prediction,
            report_url=report_url,
            dashboard_url=self.dashboard_url,
            source_down=source_down,
            history=history,
        )
        with self._alert_lock:
            backoff = 0.5
            while True:
                try:
                    out = self.alert_pipeline.process(evaluation, now=self.clock())
                    break
                except STORE_AWAY as exc:
                    # Windows are alerted on in order (the alert cursor skips older ones), so this
                    # one waits for the store; when stopping, the next start replays it.
                    if self._draining or self._stop_requested.is_set():
                        logger.warning(
                            "alert processing left to the next start monitor=%s window=%s error=%s",
                            monitor,
                            doc["window"]["index"],
                            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                        )
                        return
                    logger.warning(
                        "alert processing waits for the store monitor=%s window=%s retry_in=%.1fs",
                        monitor,
                        doc["window"]["index"],
                        backoff,
                    )
                    self._stop_requested.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                except Exception:
                    logger.exception(
                        "alert processing failed monitor=%s window=%s", monitor, doc["window"]["index"]
                    )
                    return
        for item in out.enqueued:
            n = item.notification
            self.recent.add(
                {
                    "sink": item.sink,
                    "monitor": monitor,
                    "event_id": n.event_id,
                    "kind": n.kind,
                    "kinds": list(n.kinds),
                    "status": n.status,
                    "severity": n.severity,
                    "window": dict(n.window),
                    "subjects": [
                        {
                            "kind": a.kind,
                            "name": a.subject,
                            "method": a.method,
                            "statistic": a.statistic,
                            "threshold": a.threshold,
                        }
                        for a in n.alerts
                    ],
                    "report_url": n.report_url,
                    "sent_at": n.created_at.isoformat().replace("+00:00", "Z"),
                }
            )

    def _replay_unalerted_windows(self) -> None:
        """Windows stored before a crash interrupted their alert processing get it now."""
        assert self.store is not None and self.alert_store is not None
        for name in self.monitors:
            last = self.alert_store.last_window_index(name)
            since = 0 if last is None else last + 1
            for doc in self.store.results(name, since=since, limit=10_000):
                self.monitors[name].remember(doc)
                self._alert(name, doc, None)

    # ---- evidently reports -----------------------------------------------------------------
    def _queue_report(self, ev: EvaluatedWindow) -> str | None:
        index = int(ev.result_json["window"]["index"])
        rel = f"{ev.monitor}/window-{index}.html"
        try:
            self._reports.put_nowait((ev.monitor, index, self.monitors[ev.monitor].profile, ev.sketch))
        except queue.Full:
            logger.warning("report queue full, report skipped monitor=%s index=%d", ev.monitor, index)
            return None
        base = self._base_url()
        return f"{base}/reports/{rel}" if base else None

    def _report_loop(self) -> None:
        while True:
            job = self._reports.get()
            if job is None:
                return
            monitor, index, profile, sketch = job
            try:
                cols = [c.name for c in profile.columns if c.role == "feature"]
                ref = pd.DataFrame({c: list(profile.sample.get(c, ())) for c in cols})
                cur = pd.DataFrame({c: sketch.sample.values[c] for c in cols})
                path = Path(self.config.store.reports_dir) / monitor / f"window-{index}.html"
                path.parent.mkdir(parents=True, exist_ok=True)
                write_drift_report(ref, cur, path, title=f"{monitor} window {index}")
                logger.info("report written monitor=%s index=%d path=%s", monitor, index, path)
            except Exception as exc:
                logger.warning("report failed monitor=%s index=%d error=%s", monitor, index, exc)

    # ---- delivery metrics ------------------------------------------------------------------
    def _observe_delivery(self, sink: str, outcome: Any, seconds: float | None) -> None:
        self.metrics.alert_sent(str(sink), str(outcome.outcome), seconds)

    # ---- ServiceView for HTTP --------------------------------------------------------------
    def monitor_views(self) -> Sequence[MonitorView]:
        return [MonitorView(name=m.cfg.name, source=m.cfg.source) for m in self.monitors.values()]

    def source_views(self) -> Sequence[SourceView]:
        out = []
        for name, scfg in self.config.sources.items():
            w = self.workers.get(name) or self.label_workers.get(name)
            st = w.source_status(name) if w is not None else None
            out.append(
                SourceView(
                    name=name,
                    kind=scfg.kind,
                    # a source no monitor reads cannot be connected: it does not hold readiness back
                    connected=bool(st and st.connected) or bool(w and w.end_of_data) or w is None,
                    reason=(st.reason if st else "not used by any monitor"),
                    lag=dict(st.lag) if st else {},
                )
            )
        return out

    def firing_alerts(self, monitor: str) -> Sequence[str]:
        if self.alert_store is None:
            return []
        states = self.alert_store.get_states(monitor)
        return sorted(str(k) for k, s in states.items() if s.status == "firing")

    def recent_alerts(self, limit: int) -> Sequence[Mapping[str, Any]]:
        return self.recent.latest(limit)

    def is_draining(self) -> bool:
        return self._draining


@contextmanager
def capture_signals(service: Service) -> Iterator[None]:
    """First SIGINT/SIGTERM asks for a graceful stop; a second one exits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    count = {"n": 0}

    def handle(sig: int, frame: FrameType | None) -> None:
        count["n"] += 1
        if count["n"] == 1:
            logger.info("signal received signal=%s: stopping gracefully", signal.Signals(sig).name)
            service.request_stop()
        else:
            logger.warning("second signal: exiting now")
            os._exit(130)

    original = {s: signal.signal(s, handle) for s in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for s, h in original.items():
            signal.signal(s, h)


def run_service(config_path: str | Path, *, environ: Mapping[str, str] | None = None) -> int:
    """``driftwarden run``: load config (exit 2 on errors, raised to the CLI), run until stopped."""
    env = dict(os.environ if environ is None else environ)
    cfg = load_config(config_path, env)
    configure_logging(cfg.service.log_format, cfg.service.log_level, secrets=cfg.secrets())
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    service = Service(cfg, environ=env)
    with capture_signals(service):
        try:
            service.start()
        except OSError as exc:
            logger.error("startup failed: %s", exc)
            service.stop(timeout_s=5)
            return STARTUP_FAILURE
        try:
            service.run_until_stopped()
        finally:
            service.stop()
    return 0
