"""The one serializer: the DESIGN.md JSON contract and the text summary."""

from __future__ import annotations

import json
import math
from types import MappingProxyType

import pytest

from detectors.quality import QualityIssue
from detectors.result import ColumnDrift, ConceptVerdict, PerformanceVerdict, WindowInfo, WindowResult
from monitor.report import rfc3339, to_json, to_text

TOP_KEYS = [
    "drift_detected",
    "drift_share",
    "rows",
    "features",
    "prediction",
    "target",
    "performance",
    "concept",
    "quality",
]
COLUMN_KEYS = ["type", "method", "statistic", "p_value", "threshold", "drift_detected"]


def drift(name: str, *, detected: bool, statistic: float | None, p_value: float | None = None) -> ColumnDrift:
    return ColumnDrift(
        name=name,
        type="numeric",
        method="ks" if p_value is not None else "wasserstein",
        statistic=statistic,
        p_value=p_value,
        threshold=0.05 if p_value is not None else 0.1,
        drift_detected=detected,
    )


def result(*, window: WindowInfo | None = None) -> WindowResult:
    return WindowResult(
        rows=5000,
        features=MappingProxyType(
            {
                "calm": drift("calm", detected=False, statistic=0.01),
                "nan_stat": drift("nan_stat", detected=False, statistic=math.nan, p_value=math.inf),
                "moved": drift("moved", detected=True, statistic=0.31),
                "ks_moved": drift("ks_moved", detected=True, statistic=0.2, p_value=1e-9),
            }
        ),
        prediction=ColumnDrift(
            name="pred",
            type="categorical",
            method="psi",
            statistic=0.02,
            p_value=None,
            threshold=0.2,
            drift_detected=False,
        ),
        target=None,
        performance=PerformanceVerdict(
            metric="accuracy", value=0.81, reference=math.nan, drift_detected=True
        ),
        concept=ConceptVerdict(method="adwin", drift_detected=True, detail="change at row 4100"),
        quality=(
            QualityIssue(
                column="income", check="missing_rate", value=0.31, threshold=0.05, severity="critical"
            ),
            QualityIssue(
                column=None, check="volume", value=math.inf, threshold=1000.0, severity="warning", detail="x"
            ),
        ),
        dataset_drift=True,
        window=window,
    )


def no_nan(text: str) -> object:
    def refuse(token: str) -> object:
        raise AssertionError(f"non-JSON constant {token} in output")

    return json.loads(text, parse_constant=refuse)


def test_to_json_has_exactly_the_contract_keys() -> None:
    doc = to_json(result())
    assert list(doc) == TOP_KEYS
    for f in doc["features"].values():
        assert list(f) == COLUMN_KEYS
    assert list(doc["prediction"]) == COLUMN_KEYS
    assert doc["target"] is None
    assert list(doc["performance"]) == ["metric", "value", "reference", "drift_detected"]
    assert list(doc["concept"]) == ["method", "drift_detected", "detail"]
    assert [list(i) for i in doc["quality"]["issues"]] == [
        ["column", "check", "value", "threshold", "severity"]
    ] * 2
    assert doc["drift_share"] == 0.5 and doc["drift_detected"] is True and doc["rows"] == 5000


def test_non_finite_numbers_become_null() -> None:
    doc = no_nan(json.dumps(to_json(result()), allow_nan=False))
    assert isinstance(doc, dict)
    assert doc["features"]["nan_stat"]["statistic"] is None and doc["features"]["nan_stat"]["p_value"] is None
    assert doc["performance"]["reference"] is None
    assert doc["quality"]["issues"][1]["value"] is None


def test_window_member_only_for_windows() -> None:
    assert "window" not in to_json(result())
    info = WindowInfo(index=3, first_row=15000, last_row=19999, start=1767225600.0, end=1767229200.0)
    doc = to_json(result(window=info))
    assert list(doc) == TOP_KEYS[:3] + ["window"] + TOP_KEYS[3:]
    assert doc["window"] == {
        "index": 3,
        "first_row": 15000,
        "last_row": 19999,
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-01T01:00:00Z",
    }
    empty = to_json(result(window=WindowInfo(index=0, first_row=None, last_row=None)))
    assert empty["window"]["start"] is None and empty["window"]["first_row"] is None


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (0.0, "1970-01-01T00:00:00Z"),
        (1767225600.5, "2026-01-01T00:00:00.500000Z"),
        (None, None),
        (math.nan, None),
        (-1.5, "1969-12-31T23:59:58.500000Z"),
        (-6e10, "0068-09-03T13:20:00Z"),  # four-digit years
        (253402300800.0, None),  # year 10000: no RFC 3339 form, and never an exception
        (-1e13, None),
    ],
)
def test_rfc3339(epoch: float | None, text: str | None) -> None:
    assert rfc3339(epoch) == text


def test_no_features_means_share_zero() -> None:
    r = WindowResult(
        rows=0,
        features=MappingProxyType({}),
        prediction=None,
        target=None,
        performance=None,
        concept=None,
        quality=(),
        dataset_drift=False,
    )
    doc = to_json(r)
    assert doc["drift_share"] == 0.0 and doc["features"] == {} and doc["quality"] == {"issues": []}
    assert "quality: no issues" in to_text(r)


def test_text_lists_drifted_features_first_and_critical_issues_first() -> None:
    info = WindowInfo(index=2, first_row=10, last_row=19, start=0.0, end=3600.0)
    text = to_text(result(window=info))
    lines = text.splitlines()
    assert lines[0].startswith("window 2 rows 10-19 [1970-01-01T00:00:00Z .. 1970-01-01T01:00:00Z): DRIFT")
    assert "2/4 features drifted" in lines[0]
    order = [ln.split()[1] if ln.strip().startswith("!") else ln.split()[0] for ln in lines[2:6]]
    assert set(order[:2]) == {"moved", "ks_moved"} and set(order[2:]) == {"calm", "nan_stat"}
    assert any("<prediction> pred" in ln for ln in lines)
    assert "performance: accuracy 0.8100 vs reference - — DEGRADED" in text
    assert "concept: adwin DRIFT — change at row 4100" in text
    issues = text[text.index("quality issues (2):") :].splitlines()[1:]
    assert issues[0].strip().startswith("[critical] income: missing_rate")
    assert issues[1].strip().startswith("[warning] (window): volume")
