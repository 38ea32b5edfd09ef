"""Metrics: names of the HTTP contract, own registry, durable seeding, last-window gauges."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from monitor.metrics import Metrics
from monitor.store import ProgressUpdate, Store, WindowRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Letter:
    source: str
    position: str
    reason: str
    detail: str = ""
    raw: bytes | None = None


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition keyed by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def result(features: dict[str, bool], checks: list[str]) -> dict[str, Any]:
    return {
        "drift_detected": any(features.values()),
        "drift_share": sum(features.values()) / max(len(features), 1),
        "rows": 10,
        "window": {"index": 0, "first_row": 0, "last_row": 9, "start": None, "end": None},
        "features": {
            name: {
                "method": "psi",
                "statistic": 0.3 if drifted else 0.01,
                "p_value": None,
                "threshold": 0.2,
                "drift_detected": drifted,
            }
            for name, drifted in features.items()
        },
        "quality": {
            "issues": [
                {"column": "c", "check": check, "value": 1, "threshold": 0, "severity": "warning"}
                for check in checks
            ]
        },
    }


def test_contract_metric_names_are_exposed() -> None:
    metrics = Metrics()
    metrics.add_rows("m", 5)
    metrics.add_dead_letters("s", "invalid_json", 2)
    metrics.observe_window("m", result({"age": True}, ["missing_rate"]), 0.02)
    metrics.alert_sent("slack", "ok", 0.1)
    metrics.set_lag("s", "0", 7)
    names = {name for name, _ in samples(metrics)}
    for name in (
        "driftwarden_rows_total",
        "driftwarden_dead_letters_total",
        "driftwarden_windows_evaluated_total",
        "driftwarden_feature_drift",
        "driftwarden_quality_issues",
        "driftwarden_alerts_sent_total",
        "driftwarden_source_lag",
        "driftwarden_evaluation_seconds_bucket",
        "driftwarden_evaluation_seconds_count",
    ):
        assert name in names, name
    values = samples(metrics)
    assert values[("driftwarden_rows_total", (("monitor", "m"),))] == 5
    assert values[("driftwarden_dead_letters_total", (("reason", "invalid_json"), ("source", "s")))] == 2
    assert values[("driftwarden_alerts_sent_total", (("outcome", "ok"), ("sink", "slack")))] == 1
    assert values[("driftwarden_source_lag", (("partition", "0"), ("source", "s")))] == 7
    assert values[("driftwarden_evaluation_seconds_count", (("monitor", "m"),))] == 1


def test_each_instance_owns_its_registry() -> None:
    first, second = Metrics(), Metrics()
    first.add_rows("m", 1)
    assert ("driftwarden_rows_total", (("monitor", "m"),)) not in samples(second)
    assert "driftwarden_rows_total" not in {m.name for m in REGISTRY.collect()}


def test_last_window_gauges_follow_the_latest_result() -> None:
    metrics = Metrics()
    metrics.observe_window("m", result({"age": True, "income": False}, ["missing_rate", "missing_rate"]), 0.1)
    values = samples(metrics)
    assert values[("driftwarden_feature_drift", (("feature", "age"), ("monitor", "m")))] == 1
    assert values[("driftwarden_feature_drift", (("feature", "income"), ("monitor", "m")))] == 0
    assert values[("driftwarden_quality_issues", (("check", "missing_rate"), ("monitor", "m")))] == 2
    assert values[("driftwarden_drift_share", (("monitor", "m"),))] == 0.5

    metrics.observe_window("m", result({"age": False}, []), 0.1)
    values = samples(metrics)
    assert values[("driftwarden_feature_drift", (("feature", "age"), ("monitor", "m")))] == 0
    assert ("driftwarden_feature_drift", (("feature", "income"), ("monitor", "m"))) not in values
    assert values[("driftwarden_quality_issues", (("check", "missing_rate"), ("monitor", "m")))] == 0
    assert values[("driftwarden_windows_evaluated_total", (("monitor", "m"),))] == 2


def test_source_lag_replacement_drops_gone_partitions() -> None:
    metrics = Metrics()
    metrics.set_source_lag("k", {"0": 3, "1": 4})
    metrics.set_source_lag("k", {"1": 1})
    values = samples(metrics)
    assert ("driftwarden_source_lag", (("partition", "0"), ("source", "k"))) not in values
    assert values[("driftwarden_source_lag", (("partition", "1"), ("source", "k")))] == 1


def test_durable_counters_are_seeded_from_the_store(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    window = WindowRecord.from_result(result({"age": True}, []))
    store.commit_progress(
        ProgressUpdate(
            monitor="m",
            source="s",
            checkpoint={"row": 12},
            next_row=12,
            next_window_index=1,
            rows_added=13,
            windows=(window,),
            dead_letters=(Letter(source="s", position="row=3", reason="invalid_json"),),
        )
    )
    metrics = Metrics()
    metrics.seed_from_store(store)
    metrics.add_rows("m", 3)
    values = samples(metrics)
    assert values[("driftwarden_rows_total", (("monitor", "m"),))] == 15
    assert values[("driftwarden_windows_evaluated_total", (("monitor", "m"),))] == 1
    assert values[("driftwarden_source_rows_total", (("source", "s"),))] == 13
    assert values[("driftwarden_dead_letters_total", (("reason", "invalid_json"), ("source", "s")))] == 1
    with pytest.raises(RuntimeError, match="called already"):
        metrics.seed_from_store(store)
    store.dispose()
