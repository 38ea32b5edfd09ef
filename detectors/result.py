"""Frozen results of one window's evaluation (serialised by ``monitor.report.to_json``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from detectors.quality import QualityIssue

DriftRule = Literal["any", "share"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnDrift:
    """Drift verdict of one column (feature, prediction or target)."""

    name: str
    type: Literal["numeric", "categorical"]
    method: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drift_detected: bool
    n: int = 0
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceVerdict:
    """Model performance in the window against the training reference."""

    metric: str
    value: float | None
    reference: float | None
    drift_detected: bool
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    estimated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ConceptVerdict:
    """Concept-drift verdict: which change detector fired and where."""

    method: str
    drift_detected: bool
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowInfo:
    """Where a window lies in the stream: 0-based inclusive row numbers, event-time bounds."""

    index: int
    first_row: int | None
    last_row: int | None
    start: float | None = None   # epoch seconds (event-time windows)
    end: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowResult:
    """Everything driftwarden concluded about one window (or one ``check`` batch)."""

    rows: int
    features: Mapping[str, ColumnDrift]
    prediction: ColumnDrift | None
    target: ColumnDrift | None
    performance: PerformanceVerdict | None
    concept: ConceptVerdict | None
    quality: tuple[QualityIssue, ...]
    dataset_drift: bool
    drift_rule: DriftRule = "any"
    drift_share_threshold: float = 0.5
    window: WindowInfo | None = None
    multivariate: Mapping[str, Any] | None = None  # opt-in: method -> MultivariateDriftResult

    def drift_share(self) -> float:
        """Share of monitored features whose drift test fired (0 when there are none)."""
        if not self.features:
            return 0.0
        return sum(1 for f in self.features.values() if f.drift_detected) / len(self.features)

    @property
    def drift_detected(self) -> bool:
        """The dataset rule (see DESIGN.md): any signal after multiple-testing control, or the share."""
        return self.dataset_drift

    def drifted_features(self) -> tuple[ColumnDrift, ...]:
        return tuple(f for f in self.features.values() if f.drift_detected)
