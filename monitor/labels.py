"""Late ground truth: predictions wait in the store until their label arrives, joined by id.

A monitor with ``labels = { source, id, horizon, max_pending }`` reads its predictions from its
main source and the labels from a second source. Each main row with an id becomes a
:class:`~monitor.store.PendingPrediction` (stored in the same transaction as the progress that
covers the row). A label row whose id is pending is joined: the prediction is deleted from the
store and the (target, prediction) pair goes to the monitor's :class:`JoinedTracker`, which

* feeds the pair to the concept-drift detectors in label-arrival order, and
* keeps a bounded sample of the pairs joined while the current data window is open; that
  sample is the window's ``performance`` when the window closes (then it starts over).

Labels for unknown ids (never seen, expired, or dropped because ``max_pending`` was exceeded)
are counted and logged, never an error.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry, Gauge

from detectors.profile import Profile
from detectors.result import PerformanceVerdict
from detectors.sketch import WindowSketch
from monitor.config import LabelsConfig
from monitor.model_tracking import MIN_LABELLED_ROWS, ModelTracker
from monitor.store import PendingPrediction

logger = logging.getLogger(__name__)

LABEL_SAMPLE_SIZE = 5000
"""Joined pairs kept per window for its performance (a uniform sample by id hash beyond that)."""


def _scalar(value: Any) -> Any:
    """A JSON-serialisable Python scalar for a numpy or Python value (``None`` for missing)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _id_text(value: Any) -> str | None:
    """Ids are compared as text; ``1`` and ``1.0`` are the same id, missing ids are ``None``."""
    value = _scalar(value)
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _id_hash(ids: Sequence[str]) -> np.ndarray:
    return np.array([zlib.crc32(i.encode("utf-8", "replace")) for i in ids], dtype=np.int64)


@dataclass(slots=True)
class LabelCounts:
    """Label join counters of one monitor (per process; logged and exported as metrics)."""

    joined: int = 0
    unmatched: int = 0
    expired: int = 0
    dropped: int = 0


class LabelMetrics:
    """``driftwarden_labels{monitor,outcome}``: labels joined, labels for unknown ids, pending
    predictions expired (horizon) or dropped (``max_pending``), since the process started."""

    OUTCOMES = ("joined", "unmatched", "expired", "dropped")

    def __init__(self, registry: CollectorRegistry) -> None:
        self._gauge = Gauge(
            "driftwarden_labels",
            "Label join outcomes since start: joined, unmatched (unknown id), expired, dropped.",
            ["monitor", "outcome"],
            registry=registry,
        )

    def publish(self, monitor: str, counts: LabelCounts) -> None:
        for outcome in self.OUTCOMES:
            self._gauge.labels(monitor=monitor, outcome=outcome).set(getattr(counts, outcome))


@dataclass(slots=True)
class _PairSample:
    """A bounded sample of joined (target, prediction) pairs: the smallest id hashes win."""

    size: int
    keys: list[int] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    seen: int = 0

    def add(self, ids: Sequence[str], targets: Sequence[Any], predictions: Sequence[Any]) -> None:
        self.seen += len(ids)
        self.keys.extend(int(k) for k in _id_hash(ids))
        self.targets.extend(targets)
        self.predictions.extend(predictions)
        if len(self.keys) > self.size:
            order = np.argsort(np.asarray(self.keys, dtype=np.int64), kind="stable")[: self.size]
            order.sort()  # keep arrival order among the survivors
            self.keys = [self.keys[i] for i in order]
            self.targets = [self.targets[i] for i in order]
            self.predictions = [self.predictions[i] for i in order]

    def clear(self) -> None:
        self.keys, self.targets, self.predictions, self.seen = [], [], [], 0

    def state(self) -> dict[str, Any]:
        return {
            "keys": self.keys,
            "targets": self.targets,
            "predictions": self.predictions,
            "seen": self.seen,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.keys = [int(k) for k in state.get("keys", [])]
        self.targets = list(state.get("targets", []))
        self.predictions = list(state.get("predictions", []))
        self.seen = int(state.get("seen", 0))


class JoinedTracker(ModelTracker):
    """A :class:`ModelTracker` whose labels come from a second source, joined by id.

    The concept detectors see the joined pairs in label-arrival order; a window's performance is
    computed from the pairs joined while it was open (at least ``MIN_LABELLED_ROWS`` of them,
    otherwise the label-free estimate from the window's predictions, as without labels).
    """

    def __init__(
        self,
        profile: Profile,
        *,
        concept_method: str | None = "adwin",
        tolerance: float | None = None,
        sample_size: int = LABEL_SAMPLE_SIZE,
    ) -> None:
        super().__init__(profile, concept_method=concept_method, tolerance=tolerance)
        self.pairs = _PairSample(size=sample_size)

    def add_labelled(self, ids: Sequence[str], targets: Sequence[Any], predictions: Sequence[Any]) -> None:
        """Joined pairs, in label-arrival order."""
        if not ids or not self.enabled:
            return
        assert self.profile.target is not None and self.profile.prediction is not None
        self.pairs.add(ids, targets, predictions)
        columns = {
            self.profile.target: np.array(list(targets), dtype=object),
            self.profile.prediction: np.array(list(predictions), dtype=object),
        }
        self.observe(columns, np.arange(len(ids), dtype=np.int64))

    def performance(self, sketch: WindowSketch) -> PerformanceVerdict | None:
        """Performance of the pairs joined during the window (then the sample starts over)."""
        if len(self.pairs.keys) < MIN_LABELLED_ROWS:
            self.pairs.clear()
            return super().performance(sketch)
        assert self.profile.target is not None and self.profile.prediction is not None
        n = len(self.pairs.keys)
        joined = self.profile.new_sketch(sample_size=n, seed=0)
        joined.update(
            {
                self.profile.target: np.array(self.pairs.targets, dtype=object),
                self.profile.prediction: np.array(self.pairs.predictions, dtype=object),
            },
            row_numbers=np.arange(n, dtype=np.int64),
        )
        self.pairs.clear()
        return super().performance(joined)

    def state(self) -> dict[str, Any]:
        out = super().state()
        out["joined_pairs"] = self.pairs.state()
        return out

    def restore(self, state: Mapping[str, Any]) -> None:
        super().restore(state)
        self.pairs.restore(state.get("joined_pairs", {}))


class LabelJoin:
    """One monitor's side of the join: which predictions to keep and how to read labels.

    Parameters
    ----------
    monitor:
        The monitor's name.
    cfg:
        Its ``labels`` configuration.
    profile:
        Its profile (the prediction column; the target column name unless ``cfg.target``).
    """

    def __init__(self, monitor: str, cfg: LabelsConfig, profile: Profile) -> None:
        self.monitor = monitor
        self.cfg = cfg
        self.id_column = cfg.id
        self.prediction_column = profile.prediction
        self.target_column = cfg.target or profile.target
        self.counts = LabelCounts()
        self.pending_estimate: int | None = None
        if self.prediction_column is None or self.target_column is None:
            logger.warning(
                "labels ignored: the profile has no prediction or target column monitor=%s", monitor
            )

    @property
    def enabled(self) -> bool:
        return self.prediction_column is not None and self.target_column is not None

    def predictions(self, columns: Mapping[str, np.ndarray], n_rows: int) -> list[PendingPrediction]:
        """The pending predictions of a chunk of main-source rows (rows without id or prediction
        cannot be joined and are skipped)."""
        if not self.enabled or n_rows == 0:
            return []
        ids = columns.get(self.id_column)
        preds = columns.get(self.prediction_column or "")
        if ids is None or preds is None:
            return []
        out: list[PendingPrediction] = []
        for raw_id, raw_pred in zip(ids, preds, strict=True):
            key = _id_text(raw_id)
            value = _scalar(raw_pred)
            if key is None or value is None:
                continue
            out.append(PendingPrediction(id=key, prediction=orjson.dumps(value).decode()))
        return out

    def labels(self, columns: Mapping[str, np.ndarray]) -> tuple[list[str], list[Any]]:
        """Ids and targets of a chunk of label rows (rows without id or target are skipped)."""
        ids = columns.get(self.id_column)
        targets = columns.get(self.target_column or "")
        if not self.enabled or ids is None or targets is None:
            return [], []
        out_ids: list[str] = []
        out_targets: list[Any] = []
        for raw_id, raw_target in zip(ids, targets, strict=True):
            key = _id_text(raw_id)
            value = _scalar(raw_target)
            if key is None or value is None:
                continue
            out_ids.append(key)
            out_targets.append(value)
        return out_ids, out_targets


def decode_prediction(pending: PendingPrediction) -> Any:
    """The predicted value stored in a pending prediction."""
    return orjson.loads(pending.prediction)
