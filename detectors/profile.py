"""Training profiles: what the model saw, summarised once and stored as versioned JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from detectors.drift.base import ColumnSummary
from detectors.errors import ProfileError
from detectors.inference import COLUMN_TYPES, ColumnType, infer_column_type
from detectors.sketch import ColumnSpec, WindowSketch
from detectors.values import FactorizedLevels, factorize_levels, parse_numeric

PROFILE_FORMAT = "driftwarden.profile"
PROFILE_VERSION = 1
Role = Literal["feature", "target", "prediction"]
Task = Literal["classification", "regression"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnProfile:
    """Reference summary of one monitored column."""

    name: str
    type: Literal["numeric", "categorical"]
    role: Role
    nullable: bool
    missing: int
    rows: int
    counts: tuple[int, ...]
    edges: tuple[float, ...] = ()
    levels: tuple[str, ...] = ()
    levels_truncated: bool = False
    minimum: float = math.nan
    maximum: float = math.nan
    mean: float = math.nan
    std: float = math.nan

    @property
    def missing_rate(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    @property
    def n(self) -> int:
        return int(sum(self.counts))

    def spec(self) -> ColumnSpec:
        return ColumnSpec(
            name=self.name,
            kind=self.type,
            edges=self.edges,
            levels=self.levels,
            shift=self.mean if math.isfinite(self.mean) else 0.0,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """A model's training profile. Build with :func:`build_profile`; store with :meth:`to_dict`."""

    created_at: str
    rows: int
    columns: tuple[ColumnProfile, ...]
    skipped: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    types: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    target: str | None = None
    prediction: str | None = None
    id_column: str | None = None
    timestamp: str | None = None
    task: Task | None = None
    reference_performance: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    sample: Mapping[str, tuple[Any, ...]] = field(default_factory=lambda: MappingProxyType({}))
    duplicate_share: float = 0.0
    thresholds: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.role == "feature")

    @property
    def known_columns(self) -> tuple[str, ...]:
        """Every column the training data had (monitored, skipped or role columns)."""
        names = [c.name for c in self.columns] + list(self.skipped)
        names += [n for n in (self.id_column, self.timestamp) if n]
        return tuple(dict.fromkeys(names))

    def specs(self) -> tuple[ColumnSpec, ...]:
        return tuple(c.spec() for c in self.columns)

    def new_sketch(self, *, sample_size: int = 5000, seed: int = 0) -> WindowSketch:
        """An empty window sketch with this profile's bins and levels."""
        return WindowSketch(
            self.specs(), sample_size=sample_size, seed=seed, known_columns=self.known_columns
        )

    def reference_summary(self, name: str) -> ColumnSummary:
        """The reference side of a drift test for one column."""
        c = self.column(name)
        raw = self.sample.get(name, ())
        if c.type == "numeric":
            arr = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
            sample = arr[~np.isnan(arr)]
        else:
            sample = np.array([v for v in raw if v is not None], dtype=object)
        counts, edges = drift_bins(
            np.asarray(c.counts, dtype=np.int64), c.edges if c.type == "numeric" else None
        )
        return ColumnSummary(
            kind=c.type,
            counts=counts,
            edges=edges,
            sample=sample,
            n=c.n,
            minimum=c.minimum,
            maximum=c.maximum,
            mean=c.mean,
            std=c.std,
        )

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON document (see :func:`profile_from_dict`)."""
        cols = []
        for c in self.columns:
            d: dict[str, Any] = {
                "name": c.name,
                "type": c.type,
                "role": c.role,
                "nullable": c.nullable,
                "rows": c.rows,
                "missing": c.missing,
                "counts": list(c.counts),
            }
            if c.type == "numeric":
                d.update(
                    edges=list(c.edges),
                    min=_num(c.minimum),
                    max=_num(c.maximum),
                    mean=_num(c.mean),
                    std=_num(c.std),
                )
            else:
                d.update(levels=list(c.levels), levels_truncated=c.levels_truncated)
            cols.append(d)
        return {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "created_at": self.created_at,
            "rows": self.rows,
            "target": self.target,
            "prediction": self.prediction,
            "id": self.id_column,
            "timestamp": self.timestamp,
            "task": self.task,
            "schema": dict(self.types),
            "columns": cols,
            "skipped": dict(self.skipped),
            "reference_performance": {k: _num(v) for k, v in self.reference_performance.items()},
            "duplicate_share": self.duplicate_share,
            "thresholds": {k: dict(v) for k, v in self.thresholds.items()},
            "sample": {k: list(v) for k, v in self.sample.items()},
            "extras": _plain(self.extras),
        }

    def with_updates(self, **changes: Any) -> Profile:
        """A copy with some fields replaced (profiles are immutable)."""
        data = {f: getattr(self, f) for f in self.__dataclass_fields__}
        data.update(changes)
        return Profile(**data)


def drift_bins(counts: np.ndarray, edges: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Counts and edges as the drift tests see them.

    The profile's outermost edges are the training minimum and (just above) maximum, so that
    out-of-range values are counted exactly. For drift tests the two outer bins on each side
    are merged back, giving the classic quantile bins with open tails ``(-inf, q_1)`` and
    ``[q_last, inf)``, whose extent each side closes with its own extremes.
    """
    if edges is None:
        return counts, None
    e = np.asarray(edges, dtype=np.float64)
    if e.size < 4:
        return counts, e
    merged = np.concatenate(([counts[0] + counts[1]], counts[2:-2], [counts[-2] + counts[-1]]))
    return merged, e[1:-1]


def _num(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _freeze(v: Any) -> Any:
    if isinstance(v, Mapping):
        return MappingProxyType({str(k): _freeze(x) for k, x in v.items()})
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    return v


def _f(v: Any) -> float:
    return math.nan if v is None else float(v)


def profile_from_dict(doc: Any, *, source: str = "profile") -> Profile:
    """Read a profile document, raising :class:`ProfileError` naming what is wrong."""
    if not isinstance(doc, dict):
        raise ProfileError(f"{source}: not a driftwarden profile (expected a JSON object)")
    if doc.get("format") != PROFILE_FORMAT:
        raise ProfileError(f"{source}: not a driftwarden profile (format is {doc.get('format')!r})")
    if doc.get("version") != PROFILE_VERSION:
        raise ProfileError(
            f"{source}: unsupported profile version {doc.get('version')!r} (this driftwarden reads {PROFILE_VERSION})"
        )
    for key, kind in (
        ("columns", list),
        ("sample", dict),
        ("reference_performance", dict),
        ("extras", dict),
        ("thresholds", dict),
        ("skipped", dict),
        ("schema", dict),
    ):
        if key in doc and not isinstance(doc[key], kind):
            raise ProfileError(
                f"{source}: malformed profile ({key!r} must be a JSON {kind.__name__.replace('dict', 'object').replace('list', 'array')})"
            )
    for key in ("target", "prediction", "id", "timestamp"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ProfileError(f"{source}: malformed profile ({key!r} must be a column name or null)")
    if doc.get("task") not in (None, "classification", "regression"):
        raise ProfileError(f"{source}: malformed profile (task must be classification, regression or null)")
    try:
        columns = []
        for c in doc["columns"]:
            if c["type"] == "numeric":
                columns.append(
                    ColumnProfile(
                        name=str(c["name"]),
                        type="numeric",
                        role=c["role"],
                        nullable=bool(c["nullable"]),
                        rows=int(c["rows"]),
                        missing=int(c["missing"]),
                        counts=tuple(int(x) for x in c["counts"]),
                        edges=tuple(float(x) for x in c["edges"]),
                        minimum=_f(c.get("min")),
                        maximum=_f(c.get("max")),
                        mean=_f(c.get("mean")),
                        std=_f(c.get("std")),
                    )
                )
            elif c["type"] == "categorical":
                columns.append(
                    ColumnProfile(
                        name=str(c["name"]),
                        type="categorical",
                        role=c["role"],
                        nullable=bool(c["nullable"]),
                        rows=int(c["rows"]),
                        missing=int(c["missing"]),
                        counts=tuple(int(x) for x in c["counts"]),
                        levels=tuple(str(x) for x in c["levels"]),
                        levels_truncated=bool(c.get("levels_truncated", False)),
                    )
                )
            else:
                raise ProfileError(f"{source}: column {c.get('name')!r} has unknown type {c['type']!r}")
            col = columns[-1]
            if col.role not in ("feature", "target", "prediction"):
                raise ProfileError(f"{source}: column {col.name!r} has unknown role {col.role!r}")
            if col.type == "numeric" and any(b <= a for a, b in zip(col.edges, col.edges[1:], strict=False)):
                raise ProfileError(
                    f"{source}: column {col.name!r} has bin edges that are not strictly increasing"
                )
            if col.type == "numeric" and not all(math.isfinite(e) for e in col.edges):
                raise ProfileError(f"{source}: column {col.name!r} has non-finite bin edges")
            if any(c < 0 for c in col.counts):
                raise ProfileError(f"{source}: column {col.name!r} has negative counts")
            if len(set(col.levels)) != len(col.levels):
                raise ProfileError(f"{source}: column {col.name!r} has duplicate levels")
            expected = len(col.edges) + 1 if col.type == "numeric" else len(col.levels) + 1
            if len(col.counts) != expected:
                raise ProfileError(
                    f"{source}: column {col.name!r} has {len(col.counts)} counts, expected {expected}"
                )
        names = {c.name for c in columns}
        for key in ("target", "prediction"):
            if doc.get(key) is not None and doc[key] not in names:
                raise ProfileError(
                    f"{source}: malformed profile ({key} column {doc[key]!r} has no column entry)"
                )
        for c in columns:
            values = doc.get("sample", {}).get(c.name, [])
            if not isinstance(values, list):
                raise ProfileError(f"{source}: malformed profile (sample of {c.name!r} must be an array)")
            if c.type == "numeric" and not all(
                v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values
            ):
                raise ProfileError(
                    f"{source}: malformed profile (sample of {c.name!r} has non-numeric values)"
                )
        return Profile(
            created_at=str(doc.get("created_at", "")),
            rows=int(doc["rows"]),
            columns=tuple(columns),
            skipped=MappingProxyType(dict(doc.get("skipped", {}))),
            types=MappingProxyType(dict(doc.get("schema", {}))),
            target=doc.get("target"),
            prediction=doc.get("prediction"),
            id_column=doc.get("id"),
            timestamp=doc.get("timestamp"),
            task=doc.get("task"),
            reference_performance=MappingProxyType(
                {k: _f(v) for k, v in doc.get("reference_performance", {}).items()}
            ),
            sample=MappingProxyType({k: tuple(v) for k, v in doc.get("sample", {}).items()}),
            duplicate_share=float(doc.get("duplicate_share", 0.0)),
            thresholds=_freeze(doc.get("thresholds", {})),
            extras=_freeze(doc.get("extras", {})),
        )
    except ProfileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ProfileError(f"{source}: malformed profile ({type(exc).__name__}: {exc})") from None


def numeric_edges(
    values: np.ndarray, *, bins: int = 100, max_values: int = 500_000, seed: int = 0
) -> tuple[float, ...]:
    """Inner bin edges for a numeric column.

    Columns with at most ``bins`` distinct values get one bin per value (exact for discrete
    data); others get the ``1/bins ... (bins-1)/bins`` quantiles, from a seeded sample of at most
    ``max_values`` values (quantiles of 500k values are within 0.1 percentile points). The first
    edge is the training minimum and the last one the next float above the training maximum, so
    the open outer bins ``(-inf, min)`` and ``(max, inf)`` count exactly the out-of-range values.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (0.0,)
    lo, hi = float(finite.min()), float(finite.max())
    top = float(np.nextafter(hi, np.inf))
    if finite.size > max_values:
        rng = np.random.default_rng(seed)
        finite = finite[rng.integers(0, finite.size, size=max_values)]
    if np.unique(finite[:10_000]).size <= bins:
        uniq = np.unique(finite)
        if uniq.size <= bins:
            return (lo, *(float(x) for x in uniq if x > lo), top)
    qs = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
    inner = [float(x) for x in np.unique(qs) if lo < x < top]
    return (lo, *inner, top)


def build_profile(
    columns: Mapping[str, np.ndarray],
    *,
    created_at: str,
    target: str | None = None,
    prediction: str | None = None,
    id_column: str | None = None,
    timestamp: str | None = None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    exclude: Sequence[str] = (),
    bins: int = 100,
    max_levels: int = 200,
    sample_size: int = 5000,
    seed: int = 0,
) -> Profile:
    """Profile a training table given column-wise.

    Parameters
    ----------
    columns:
        Column name to values (equal lengths).
    created_at:
        RFC 3339 time to record (the caller owns the clock).
    target, prediction, id_column, timestamp:
        Role columns; id and timestamp are never monitored as features.
    categorical, numeric:
        Force a column's type (overrides inference).
    exclude:
        Columns to leave out entirely.
    bins:
        Quantile bins per numeric column (plus open outer bins).
    max_levels:
        Levels tracked per categorical column; the rest are counted as "other".
    sample_size:
        Rows kept in the reference sample for exact small-sample tests.
    """
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins!r}")
    if max_levels < 1:
        raise ValueError(f"max_levels must be >= 1, got {max_levels!r}")
    names = list(columns)
    for role, col in (
        ("target", target),
        ("prediction", prediction),
        ("id", id_column),
        ("timestamp", timestamp),
    ):
        if col is not None and col not in columns:
            raise ValueError(f"--{role} column {col!r} is not in the data (columns: {', '.join(names)})")
    for opt, cols in (("categorical", categorical), ("exclude", exclude), ("numeric", numeric)):
        for col in cols:
            if col not in columns:
                raise ValueError(f"--{opt} column {col!r} is not in the data (columns: {', '.join(names)})")
    n_rows = len(next(iter(columns.values()))) if columns else 0
    if n_rows == 0:
        raise ValueError("the training data has no rows")
    skipped: dict[str, str] = {}
    types: dict[str, str] = {}
    specs: list[ColumnSpec] = []
    roles: dict[str, Role] = {}
    meta: dict[str, dict[str, Any]] = {}
    factorized: dict[str, FactorizedLevels] = {}  # categorical columns, factorized once
    for name in names:
        if name in exclude:
            skipped[name] = "excluded on request"
            continue
        raw = np.asarray(columns[name])
        if name == id_column:
            types[name] = "id"
            continue
        if name == timestamp:
            types[name] = "datetime"
            continue
        ctype: ColumnType
        if name in categorical:
            ctype = "categorical"
        elif name in numeric:
            ctype = "numeric"
        else:
            ctype = infer_column_type(raw)
        if ctype not in COLUMN_TYPES:
            raise ValueError(f"unknown column type {ctype!r}")
        types[name] = ctype
        col_role: Role = "target" if name == target else "prediction" if name == prediction else "feature"
        if ctype in ("datetime", "text"):
            if col_role != "feature":
                ctype = "categorical"
                types[name] = ctype
            else:
                skipped[name] = (
                    "datetime column: not monitored for drift"
                    if ctype == "datetime"
                    else "text or id-like column (too many distinct values): not monitored for drift"
                )
                continue
        roles[name] = col_role
        if ctype == "numeric":
            vals = parse_numeric(raw).values
            edges = numeric_edges(vals, bins=bins, seed=seed)
            finite = vals[~np.isnan(vals)]
            shift = float(finite.mean()) if finite.size else 0.0
            specs.append(ColumnSpec(name=name, kind="numeric", edges=edges, shift=shift))
        else:
            factorized[name] = factorize_levels(raw)
            level_keys = factorized[name].levels.tolist()
            level_rows = factorized[name].counts().tolist()
            order = sorted(zip(level_keys, level_rows, strict=True), key=lambda t: (-t[1], t[0]))
            levels = tuple(str(u) for u, _ in order[:max_levels])
            meta[name] = {"truncated": len(order) > max_levels}
            specs.append(ColumnSpec(name=name, kind="categorical", levels=levels))
    sketch = WindowSketch(specs, sample_size=sample_size, seed=seed, known_columns=names)
    sketch.update(
        {s.name: factorized[s.name] if s.name in factorized else np.asarray(columns[s.name]) for s in specs},
        first_row=0,
        n_rows=n_rows,
    )
    profiles = []
    for spec in specs:
        acc = sketch.columns[spec.name]
        profiles.append(
            ColumnProfile(
                name=spec.name,
                type=spec.kind,
                role=roles[spec.name],
                nullable=acc.missing > 0,
                missing=acc.missing,
                rows=n_rows,
                counts=tuple(int(x) for x in acc.counts),
                edges=spec.edges,
                levels=spec.levels,
                levels_truncated=bool(meta.get(spec.name, {}).get("truncated", False)),
                minimum=acc.minimum if acc.n else math.nan,
                maximum=acc.maximum if acc.n else math.nan,
                mean=acc.mean,
                std=acc.std,
            )
        )
    smp = sketch.sample.ordered()
    sample: dict[str, tuple[Any, ...]] = {}
    for spec in specs:
        v = smp.values[spec.name]
        if spec.kind == "numeric":
            sample[spec.name] = tuple(
                None if math.isnan(x) else x for x in v.tolist()
            )  # tolist: Python floats
        else:
            sample[spec.name] = tuple(v.tolist())
    task: Task | None = None
    if target is not None and target in roles:
        task = "classification" if types[target] == "categorical" else "regression"
    return Profile(
        created_at=created_at,
        rows=n_rows,
        columns=tuple(profiles),
        skipped=MappingProxyType(skipped),
        types=MappingProxyType(types),
        target=target,
        prediction=prediction,
        id_column=id_column,
        timestamp=timestamp,
        task=task,
        sample=MappingProxyType(sample),
        duplicate_share=sketch.duplicates.duplicate_share,
    )
