"""The policy stage: window in, alert states and outbox items out (one transaction)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from alerts.finding import WindowEvaluation
from alerts.policy import PolicyResult, PolicySettings, evaluate_window
from alerts.routing import SinkRoute, build_notifications
from alerts.silence import Silence
from alerts.store import AlertStore, NewOutboxItem

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessResult:
    """What :meth:`AlertPipeline.process` did with one window."""

    applied: bool
    """False when the window was already applied (a replay after a restart)."""
    policy: PolicyResult | None
    enqueued: tuple[NewOutboxItem, ...]


class AlertPipeline:
    """Apply windows to alert states and enqueue the resulting notifications.

    Parameters
    ----------
    store:
        The durable :class:`AlertStore`.
    settings:
        The ``[alerts]`` settings.
    sinks:
        Routing filters per sink name (``[sinks.<name>]``).
    routes:
        Sink names per monitor (``[[monitors]] routes``); a monitor that is
        not listed notifies no sink.
    silences:
        Silences from the configuration (``[[alerts.silences]]``), applied
        together with the silences stored by :func:`alerts.add_silence`.
    """

    def __init__(
        self,
        store: AlertStore,
        *,
        settings: PolicySettings,
        sinks: Mapping[str, SinkRoute],
        routes: Mapping[str, Sequence[str]],
        silences: Sequence[Silence] = (),
    ) -> None:
        unknown = sorted({name for names in routes.values() for name in names} - set(sinks))
        if unknown:
            raise ValueError(f"routes name unknown sinks {unknown}; configured sinks: {sorted(sinks)}")
        self._store = store
        self._settings = settings
        self._sinks = MappingProxyType(dict(sinks))
        self._routes = MappingProxyType({m: tuple(names) for m, names in routes.items()})
        self._silences = tuple(silences)

    def process(self, evaluation: WindowEvaluation, *, now: datetime) -> ProcessResult:
        """Apply ``evaluation`` once; a window index at or below the stored cursor is skipped."""
        last = self._store.last_window_index(evaluation.monitor)
        if last is not None and evaluation.window_index <= last:
            logger.info(
                "alert window already applied monitor=%s index=%d last=%d",
                evaluation.monitor,
                evaluation.window_index,
                last,
            )
            return ProcessResult(applied=False, policy=None, enqueued=())
        states = self._store.get_states(evaluation.monitor)
        silences = [*self._silences, *self._store.list_silences(now=now)]
        result = evaluate_window(evaluation, states, silences=silences, settings=self._settings, now=now)
        routes = [self._sinks[name] for name in self._routes.get(evaluation.monitor, ())]
        items = tuple(
            NewOutboxItem(sink=sink, notification=n)
            for sink, n in build_notifications(evaluation, result.decisions, routes)
        )
        self._store.save_evaluation(evaluation.monitor, evaluation.window_index, result.states, items, now)
        for decision in result.to_notify():
            logger.info(
                "alert %s key=%s severity=%s reason=%s",
                decision.state.status,
                decision.state.key,
                decision.state.severity,
                decision.reason,
            )
        return ProcessResult(applied=True, policy=result, enqueued=items)
