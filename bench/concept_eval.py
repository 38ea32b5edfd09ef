"""Concept-drift benchmark: our streaming detectors vs River's defaults on synthetic streams.

For each stream a model (scikit-learn ``HistGradientBoostingClassifier``) is trained
on rows before the drift and then frozen; its per-row 0/1 errors on the rest of
the stream feed every detector. A detector is reset right after each alarm (River
resets itself lazily on the next update, which is equivalent).

Reported per stream and detector:

- delay: rows from the drift start to the first alarm at or after it
  (``missed`` if none before the stream ends),
- false alarms per 100k drift-free rows: alarms before the drift start, over the
  pre-drift rows of every stream plus long drift-free streams.

The drift starts at the first row of the new concept (abrupt, incremental,
feature-stable) or, for the gradual stream, ``width`` rows before the centre of
River's sigmoid, where 1.8% of the rows already follow the new concept.

Run: ``.venv/bin/python bench/concept_eval.py`` (about 1-2 minutes on 2 idle cores;
``--scale 0.5`` for a quicker, noisier run; ``--river-kswin`` adds River's slow KSWIN).
"""

from __future__ import annotations

import os

os.environ.setdefault(
    "OMP_NUM_THREADS", "1"
)  # before scikit-learn: its OpenMP pool thrashes on 2 loaded cores

import argparse  # noqa: E402
import sys
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from river import drift as river_drift  # noqa: E402
from river.datasets import synth  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

from detectors.concept import ConceptDriftMonitor  # noqa: E402
from detectors.streaming import ADWIN, DDM, EDDM, HDDM_A, KSWIN, PageHinkley  # noqa: E402

TRAIN_ROWS = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream:
    """An evaluation stream: 0/1 errors of a frozen model, and where the drift starts (None: drift free)."""

    name: str
    kind: str
    errors: np.ndarray
    drift_start: int | None
    error_before: float
    error_after: float


@dataclass(slots=True)
class Tally:
    delays: dict[str, int | None] = field(default_factory=dict)
    per_stream: dict[str, int] = field(default_factory=dict)
    false_alarms: int = 0
    drift_free_rows: int = 0
    seconds: float = 0.0


def take(dataset: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for x, y in dataset.take(n):
        xs.append([float(v) for v in x.values()])
        ys.append(int(y))
    return np.asarray(xs), np.asarray(ys)


def feature_stable_stream(seed: int, n: int, position: int) -> Iterator[tuple[dict[str, float], int]]:
    """Gaussian features, identical before and after; the labelling hyperplane turns at ``position``."""
    rng = np.random.default_rng(seed)
    w_before = np.array([1.0, 1.0, 0.5, -0.5, 0.0])
    w_after = np.array([1.0, -1.0, 0.5, -0.5, 0.0])
    for i in range(n):
        x = rng.normal(0, 1, 5)
        w = w_before if i < position else w_after
        y = int(x @ w > 0) ^ int(rng.random() < 0.05)
        yield {f"x{j}": float(v) for j, v in enumerate(x)}, y


class _Finite:
    def __init__(self, gen: Callable[[], Iterator[tuple[dict[str, float], int]]]) -> None:
        self._gen = gen

    def take(self, n: int) -> Iterator[tuple[dict[str, float], int]]:
        it = self._gen()
        for _ in range(n):
            yield next(it)


def _abrupt(before: Any, after: Any, position: int) -> _Finite:
    """``position`` rows of ``before`` then rows of ``after``, which starts fresh.

    (River's ``ConceptDriftStream`` overflows ``math.exp`` for an abrupt ``width=1``
    far from the start, so abrupt drifts are concatenated here.)
    """

    def gen() -> Iterator[tuple[dict[str, float], int]]:
        yield from before.take(position)
        yield from iter(after)

    return _Finite(gen)


def build_streams(scale: float) -> list[Stream]:
    n_eval = int(30_000 * scale)
    pre = n_eval // 2
    position = TRAIN_ROWS + pre
    total = TRAIN_ROWS + n_eval
    gradual_width = max(int(4000 * scale), 100)
    free_rows = int(60_000 * scale)
    specs: list[tuple[str, str, Any, int | None]] = [
        (
            "sea",
            "abrupt",
            _abrupt(
                synth.SEA(variant=0, noise=0.05, seed=1), synth.SEA(variant=2, noise=0.05, seed=2), position
            ),
            pre,
        ),
        (
            "agrawal",
            "abrupt",
            _abrupt(
                synth.Agrawal(classification_function=0, seed=1),
                synth.Agrawal(classification_function=2, seed=2),
                position,
            ),
            pre,
        ),
        (
            "agrawal",
            "gradual",
            synth.ConceptDriftStream(
                synth.Agrawal(classification_function=1, seed=4),
                synth.Agrawal(classification_function=3, seed=5),
                position=position,
                width=gradual_width,
                seed=6,
            ),
            pre - gradual_width,  # River's sigmoid: 1.8% of rows come from the new concept here
        ),
        (
            "hyperplane",
            "incremental",
            _abrupt(
                synth.Hyperplane(seed=7, n_features=10, mag_change=0.0),
                synth.Hyperplane(seed=7, n_features=10, n_drift_features=5, mag_change=0.005, sigma=0.0),
                position,
            ),
            pre,
        ),
        (
            "gaussian",
            "feature-stable",
            _Finite(lambda: feature_stable_stream(9, total, position)),
            pre,
        ),
        ("sea", "drift-free", synth.SEA(variant=0, noise=0.05, seed=10), None),
        ("agrawal", "drift-free", synth.Agrawal(classification_function=0, seed=11), None),
    ]
    streams = []
    for name, kind, dataset, start in specs:
        n = TRAIN_ROWS + (free_rows if start is None else n_eval)
        x, y = take(dataset, n)
        model = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(
            x[:TRAIN_ROWS], y[:TRAIN_ROWS]
        )
        errors = (model.predict(x[TRAIN_ROWS:]) != y[TRAIN_ROWS:]).astype(np.float64)
        cut = start if start is not None else errors.size
        after = errors[cut + (gradual_width if kind == "gradual" else 0) :]
        streams.append(
            Stream(
                name=name,
                kind=kind,
                errors=errors,
                drift_start=start,
                error_before=float(errors[:cut].mean()),
                error_after=float(after.mean()) if after.size else float("nan"),
            )
        )
    return streams


def detector_factories(river_kswin: bool) -> dict[str, Callable[[], Any]]:
    factories: dict[str, Callable[[], Any]] = {
        "ours ADWIN": ADWIN,
        "ours PageHinkley": PageHinkley,
        "ours DDM": DDM,
        "ours EDDM": EDDM,
        "ours HDDM_A": HDDM_A,
        "ours KSWIN": lambda: KSWIN(seed=1),
        "ours ConceptDriftMonitor": lambda: _MonitorAdapter(),
        "river ADWIN": river_drift.ADWIN,
        "river PageHinkley": river_drift.PageHinkley,
        "river DDM": river_drift.binary.DDM,
        "river EDDM": river_drift.binary.EDDM,
        "river HDDMA": river_drift.binary.HDDMA,
    }
    if river_kswin:
        factories["river KSWIN"] = lambda: river_drift.KSWIN(seed=1)
    return factories


class _MonitorAdapter:
    """The combined monitor, fed row by row like a detector."""

    def __init__(self) -> None:
        self._monitor = ConceptDriftMonitor()
        self.drift_detected = False

    def update(self, x: float) -> None:
        before = self._monitor.n_detections
        self._monitor.update_errors([x])
        self.drift_detected = self._monitor.n_detections > before

    def reset(self) -> None:  # the monitor resets its detectors itself
        pass


def alarms(make: Callable[[], Any], errors: np.ndarray, *, ours: bool) -> list[int]:
    detector = make()
    found = []
    for i, x in enumerate(errors.tolist()):
        detector.update(x if ours else int(x))
        if detector.drift_detected:
            found.append(i)
            if ours:
                detector.reset()
    return found


def evaluate(streams: list[Stream], factories: dict[str, Callable[[], Any]]) -> dict[str, Tally]:
    tallies = {name: Tally() for name in factories}
    for stream in streams:
        for name, make in factories.items():
            started = time.perf_counter()
            points = alarms(make, stream.errors, ours=name.startswith("ours"))
            tally = tallies[name]
            tally.seconds += time.perf_counter() - started
            start = stream.drift_start if stream.drift_start is not None else stream.errors.size
            early = sum(1 for p in points if p < start)
            tally.false_alarms += early
            tally.per_stream[f"{stream.name} {stream.kind}"] = early
            tally.drift_free_rows += start
            if stream.drift_start is not None:
                after = [p for p in points if p >= start]
                tally.delays[f"{stream.name} {stream.kind}"] = after[0] - start if after else None
    return tallies


def render(streams: list[Stream], tallies: dict[str, Tally]) -> str:
    drifting = [f"{s.name} {s.kind}" for s in streams if s.drift_start is not None]
    lines = [
        "| detector | " + " | ".join(f"{d} delay" for d in drifting) + " | missed | false alarms / 100k | s |"
    ]
    lines.append("|" + "---|" * (len(drifting) + 4))
    for name, t in tallies.items():
        cells = ["missed" if t.delays[d] is None else str(t.delays[d]) for d in drifting]
        missed = sum(1 for d in drifting if t.delays[d] is None)
        rate = 1e5 * t.false_alarms / max(t.drift_free_rows, 1)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {missed} | {rate:.1f} | {t.seconds:.1f} |")
    lines.append("")
    lines.append("| stream | drift starts at row | error rate before | error rate after |")
    lines.append("|---|---|---|---|")
    for s in streams:
        start = "none" if s.drift_start is None else str(s.drift_start)
        lines.append(f"| {s.name} {s.kind} | {start} | {s.error_before:.3f} | {s.error_after:.3f} |")
    lines.append("")
    names = [f"{s.name} {s.kind}" for s in streams]
    lines.append("False alarms (alarms before the drift start) per stream:")
    lines.append("")
    lines.append("| detector | " + " | ".join(names) + " |")
    lines.append("|" + "---|" * (len(names) + 1))
    for name, t in tallies.items():
        lines.append(f"| {name} | " + " | ".join(str(t.per_stream[n]) for n in names) + " |")
    drift_free = next(iter(tallies.values())).drift_free_rows
    lines.append("")
    lines.append(f"Drift-free rows behind the false-alarm rate: {drift_free}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="stream length factor (default 1.0)")
    parser.add_argument(
        "--river-kswin",
        action="store_true",
        help="also run River's KSWIN (slow: about 360 us per value, +2 min)",
    )
    args = parser.parse_args(argv)
    if not 0.05 <= args.scale <= 20:
        parser.error(f"--scale must be in [0.05, 20], got {args.scale}")
    started = time.perf_counter()
    streams = build_streams(args.scale)
    tallies = evaluate(streams, detector_factories(args.river_kswin))
    sys.stdout.write(render(streams, tallies) + "\n")
    sys.stdout.write(f"\nTotal time: {time.perf_counter() - started:.0f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
