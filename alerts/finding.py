"""Input of the alerts package: what one evaluated window flagged.

The monitor converts each window result into one :class:`WindowEvaluation`
holding one :class:`Finding` per flagged signal; ``docs/alerts.md`` gives the
exact mapping from the JSON contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, get_args

Kind = Literal["data_drift", "prediction_drift", "concept_drift", "performance", "quality"]
Severity = Literal["warning", "critical"]

KINDS: tuple[Kind, ...] = get_args(Kind)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
DRIFT_KINDS: frozenset[Kind] = frozenset({"data_drift", "prediction_drift", "concept_drift", "performance"})
DATASET_SUBJECT = "*"
"""Subject of a quality finding that concerns no single column (volume, freshness...)."""

SOURCE_STALE_CHECKS: frozenset[str] = frozenset({"freshness"})
"""Quality checks that mean the source is stale: they mute the monitor's drift alerts."""


def severity_rank(severity: Severity) -> int:
    """Return 0 for ``"warning"`` and 1 for ``"critical"``."""
    return SEVERITIES.index(severity)


def check_kind(kind: str) -> Kind:
    """Return ``kind`` if it is one of :data:`KINDS`, else raise ``ValueError``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind  # type: ignore[return-value]


def check_severity(severity: str) -> Severity:
    """Return ``severity`` if it is ``"warning"`` or ``"critical"``, else raise ``ValueError``."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    return severity  # type: ignore[return-value]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One flagged signal of one window.

    Attributes
    ----------
    monitor:
        Monitor name.
    kind:
        ``data_drift`` (a feature), ``prediction_drift``, ``concept_drift``,
        ``performance`` or ``quality``.
    subject:
        The feature or column name; the prediction column for ``prediction_drift``;
        the metric for ``performance``; the detector method for ``concept_drift``;
        :data:`DATASET_SUBJECT` (``"*"``) for dataset-level quality checks.
    severity:
        ``"warning"`` or ``"critical"``.
    method:
        Drift method (``"psi"``, ``"ks"``, ``"adwin"``...), the quality check
        (``"missing_rate"``...) or the performance metric.
    statistic:
        The drift statistic on the method's own scale, the quality check's
        value, or the performance value; ``None`` when there is none.
    threshold:
        The threshold the statistic was compared with, if any.
    p_value:
        The p-value of a hypothesis test, else ``None``.
    reference:
        The reference value (performance on training data), else ``None``.
    detail:
        A short human-readable explanation (may be empty).
    """

    monitor: str
    kind: Kind
    subject: str
    severity: Severity = "warning"
    method: str | None = None
    statistic: float | None = None
    threshold: float | None = None
    p_value: float | None = None
    reference: float | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        check_kind(self.kind)
        check_severity(self.severity)
        if not self.monitor:
            raise ValueError("monitor must be a non-empty name, got ''")
        if not self.subject:
            raise ValueError("subject must be a non-empty name, got ''")
        if self.kind == "quality" and not self.method:
            raise ValueError(f"a quality finding needs its check in method, got {self.method!r}")

    @property
    def key_subject(self) -> str:
        """Subject part of the alert key: ``column:check`` for quality, else ``subject``."""
        if self.kind == "quality":
            return f"{self.subject}:{self.method}"
        return self.subject


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryPoint:
    """One past value of a subject's statistic, for the Slack plot."""

    window_index: int
    statistic: float
    threshold: float | None = None


def _freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowEvaluation:
    """Everything the alert policy needs about one evaluated window of one monitor.

    Attributes
    ----------
    monitor:
        Monitor name.
    window:
        The ``window`` member of the JSON contract (``index``, ``first_row``,
        ``last_row``, ``start``, ``end``); ``index`` is required.
    findings:
        One finding per flagged signal; signals that are fine are simply absent.
    evaluated_at:
        When the window was evaluated (timezone-aware).
    evaluated_kinds:
        Kinds this window could judge. An alert of a kind outside this set
        keeps its state (e.g. ``performance`` while labels have not arrived).
    report_url:
        Link to the window's Evidently report, if any.
    dashboard_url:
        Link to the monitor's dashboard, if any.
    model:
        Name of the monitored model, if configured.
    source_down:
        True when the monitor's source is down or stale: drift alerts of this
        monitor are then muted (inhibited).
    history:
        Recent statistics per subject (oldest first), for the Slack plot;
        may be empty.
    """

    monitor: str
    window: Mapping[str, Any]
    findings: tuple[Finding, ...] = ()
    evaluated_at: datetime
    evaluated_kinds: frozenset[Kind] = frozenset(KINDS)
    report_url: str | None = None
    dashboard_url: str | None = None
    model: str | None = None
    source_down: bool = False
    history: Mapping[str, tuple[HistoryPoint, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        index = self.window.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError(f"window['index'] must be an int >= 0, got {index!r}")
        if self.evaluated_at.tzinfo is None:
            raise ValueError(f"evaluated_at must be timezone-aware, got {self.evaluated_at!r}")
        for finding in self.findings:
            if finding.monitor != self.monitor:
                raise ValueError(
                    f"finding monitor {finding.monitor!r} differs from evaluation monitor {self.monitor!r}"
                )
        for kind in self.evaluated_kinds:
            check_kind(kind)
        try:
            json.dumps(dict(self.window), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"window must be the contract's JSON object, got {dict(self.window)!r}: {exc}"
            ) from exc
        object.__setattr__(self, "window", _freeze(self.window))
        object.__setattr__(self, "history", _freeze(self.history))

    @property
    def window_index(self) -> int:
        """The window's ``index``."""
        return int(self.window["index"])
