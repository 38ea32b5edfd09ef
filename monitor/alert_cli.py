"""``driftwarden alerts test|list|silence``: alert tools that work against the configured store."""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from typing import TextIO

from alerts import add_silence, list_alerts, send_test_notification
from monitor.alert_store import SqlAlertStore
from monitor.alerting import build_sink
from monitor.config import load_config
from monitor.durations import parse_duration
from monitor.store import Store


class AlertCommandError(ValueError):
    """A bad ``alerts`` invocation (unknown sink, bad duration); one line."""


def _now() -> datetime:
    return datetime.now(tz=UTC)


def run_alerts_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run one ``alerts`` subcommand; returns the exit code."""
    cfg = load_config(args.config, os.environ)
    if args.alerts_command == "test":
        if args.sink not in cfg.sinks:
            known = ", ".join(sorted(cfg.sinks)) or "none"
            raise AlertCommandError(f"{cfg.path}: sinks.{args.sink}: no such sink (configured: {known})")
        store = Store.open(cfg.store.url.reveal())
        try:
            sink = build_sink(cfg.sinks[args.sink], threads=SqlAlertStore(store.engine), clock=_now)
            outcome = send_test_notification(sink, now=_now())
        finally:
            store.dispose()
        if outcome.ok:
            out.write(f"test notification sent to sink {args.sink}\n")
            return 0
        out.write(
            f"test notification to sink {args.sink} failed: {outcome.reason} "
            f"(status {outcome.status_code}) {outcome.detail}\n"
        )
        return 1
    store = Store.open(cfg.store.url.reveal())
    try:
        alert_store = SqlAlertStore(store.engine)
        if args.alerts_command == "list":
            states = list_alerts(alert_store)
            silences = alert_store.list_silences(now=_now())
            if args.format == "json":
                doc = {
                    "alerts": [
                        {
                            "key": str(s.key),
                            "status": s.status,
                            "severity": s.severity,
                            "since": s.since.isoformat() if s.since else None,
                            "since_window": s.since_window,
                            "last_window_index": s.last_window_index,
                        }
                        for s in states
                    ],
                    "silences": [
                        {
                            "id": s.id,
                            "monitor": s.monitor,
                            "kind": s.kind,
                            "subject": s.subject,
                            "expires_at": s.expires_at.isoformat(),
                            "comment": s.comment,
                        }
                        for s in silences
                    ],
                }
                out.write(json.dumps(doc) + "\n")
            else:
                if not states:
                    out.write("no alerts\n")
                for s in states:
                    out.write(f"{s.status:9} {s.severity:8} {s.key}  since window {s.since_window}\n")
                for sil in silences:
                    out.write(
                        f"silence {sil.id} {sil.monitor}/{sil.kind}/{sil.subject} until {sil.expires_at.isoformat()}"
                        + (f" ({sil.comment})" if sil.comment else "")
                        + "\n"
                    )
            return 0
        if args.alerts_command == "silence":
            try:
                duration = parse_duration(args.duration)
            except ValueError as exc:
                raise AlertCommandError(f"--for: {exc}") from None
            silence = add_silence(
                alert_store,
                now=_now(),
                duration=duration,
                monitor=args.monitor,
                kind=args.kind,
                subject=args.subject,
                created_by=os.environ.get("USER", "cli"),
                comment=args.comment,
            )
            out.write(
                f"silence {silence.id} {silence.monitor}/{silence.kind}/{silence.subject} "
                f"until {silence.expires_at.isoformat()}\n"
            )
            return 0
        raise AlertCommandError(f"unknown alerts command {args.alerts_command!r}")
    finally:
        store.dispose()
