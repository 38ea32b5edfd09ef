"""Calibrated drift thresholds: the null distribution of each test's statistic, by bootstrap.

A fixed distance threshold (``wasserstein`` 0.1, ``jensenshannon`` 0.1) means different
things on different columns and window sizes: a lumpy or skewed column in small windows
crosses it by chance far more often than a smooth column in large ones. Calibration asks instead: *how
large is this column's statistic when nothing has changed?* and puts the threshold where a
healthy window crosses it with a chosen probability.

How (:func:`calibrate_thresholds`):

1. Each training column is turned once into its *cells*: the share of rows in each profile
   bin (numeric, by ``searchsorted`` on the profile's edges) or level slot (categorical), plus
   the missing share, exactly as a :class:`~detectors.sketch.WindowSketch` would count them.
2. A bootstrap window is ``window_rows`` rows drawn with replacement from the training rows.
   One column's counts in such a window are multinomial with the cell shares, so they are
   drawn directly (``numpy.random.Generator.multinomial``, vectorised over all draws): the
   cost does not depend on the window size and no profile is rebuilt per window. Numeric
   windows also need their minimum and maximum (they close the outer bins of
   ``wasserstein``); these are drawn exactly given the counts, from the training values of
   the lowest and highest non-empty bins. Columns are calibrated one at a time (the budget
   handles "any column", see :mod:`monitor.calibration`), so correlations between columns
   need not be kept.
3. The reference side is resampled too (a multinomial draw of the training size from the
   profile's own bin shares), because in production both sides are samples: the profile of
   one training set against one window. With a large training set this changes little.
4. The registered drift test computes the statistic of every bootstrap window against its
   bootstrap reference; the threshold is the ``1 - alarm_probability`` quantile of these
   statistics (never below their median).

When the wanted quantile is beyond what the draws resolve (fewer than ``10 / alarm_probability``
draws, the usual case: one false alarm a week with hourly windows and 20 columns asks for the
99.97th percentile), the tail is extrapolated by *peaks over threshold* with an exponential
tail: the draws above their 80th percentile ``u`` are fitted with an exponential
distribution (mean excess ``m``), giving ``u + m * ln(0.2 / alarm_probability)``. This is
the generalised Pareto tail with its shape fixed at 0; the statistics here (norm-like
distances of bin shares) have light tails, for which this errs on the safe side. Measured
on 30,000 bootstrap windows of 2,000 rows (normal and lognormal ``wasserstein``, an
8-level ``jensenshannon``), with 1,000 draws per fit: at a target of 3e-4 per window the
thresholds came out 8-16% above the true quantile and the realised rates were 0 to 1e-4;
a free-shape Pareto fit was unbiased but 2-3 times as variable, and a gamma fit to the
squared statistic undershot ``wasserstein`` by a factor of 3. The result records this as
``basis="exponential_tail"`` with the fit, and the threshold is never below the highest
empirical quantile the draws do resolve.

p-value tests (``ks``, ``chi2``, ``z``, ...) need no bootstrap: their p-value already has a
known null distribution (uniform, or conservative for tied or discrete data), so the
threshold is the alarm probability itself
(``basis="p_value_level"``).

Limits: the bootstrap treats training rows as exchangeable (no seasonality, no time order,
no correlation between consecutive rows), and it can only be as good as the training data
is large; see ``docs/calibration.md``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from detectors.drift.base import ColumnSummary, DriftTest
from detectors.drift.registry import SMALL_WINDOW_MAX, default_drift_test, get_drift_test
from detectors.profile import ColumnProfile, Profile, drift_bins
from detectors.values import encode_levels, normalize_levels, parse_numeric

Basis = Literal["empirical_quantile", "exponential_tail", "p_value_level", "default_degenerate"]

#: Quantile levels recorded for every bootstrapped column (plus the maximum).
NULL_QUANTILE_LEVELS: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)
#: Draws needed per tail event: an empirical ``1 - p`` quantile needs about ``10 / p`` draws.
DRAWS_PER_TAIL_EVENT = 10
#: Quantile of the bootstrap statistics above which the tail is fitted when extrapolating.
TAIL_START_QUANTILE = 0.8


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnCalibration:
    """The calibrated threshold of one column.

    Attributes
    ----------
    name, method:
        Column and the drift test the threshold is for (the default policy's test at this
        window size unless a method was given).
    decision:
        The test's rule: ``"statistic_above"`` (distances) or ``"p_value_below"``.
    threshold:
        The calibrated threshold, on the test's own scale.
    alarm_probability:
        Target probability that a healthy window crosses ``threshold`` on this column.
    basis:
        ``"empirical_quantile"`` (enough draws), ``"exponential_tail"`` (extrapolated, see the
        module docstring), ``"p_value_level"`` (p-value test: threshold = probability) or
        ``"default_degenerate"`` (every bootstrap statistic was 0 or undefined, e.g. a
        constant column: the test's default threshold is kept).
    draws:
        Bootstrap windows that gave a statistic (0 for p-value tests).
    expected_values:
        Non-missing values a window of ``window_rows`` rows is expected to hold for this
        column (what picks the default test).
    null_quantiles:
        Summary of the bootstrap statistics: ``{"0.5": ..., "0.9": ..., "0.95": ...,
        "0.99": ..., "max": ...}``; empty for p-value tests.
    tail_fit:
        For ``exponential_tail``: ``{"tail_start_quantile", "tail_start", "mean_excess"}``
        of the exponential fitted to the exceedances; else empty.
    default_threshold:
        The test's uncalibrated default, for comparison.
    """

    name: str
    method: str
    decision: str
    threshold: float
    alarm_probability: float
    basis: Basis
    draws: int
    expected_values: int
    null_quantiles: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    tail_fit: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    default_threshold: float = math.nan

    @property
    def null_median(self) -> float | None:
        """Median of the bootstrap statistics (``None`` for p-value tests)."""
        return self.null_quantiles.get("0.5")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (what the profile's ``extras.calibration`` stores per column)."""
        return {
            "method": self.method,
            "decision": self.decision,
            "threshold": self.threshold,
            "alarm_probability": self.alarm_probability,
            "basis": self.basis,
            "draws": self.draws,
            "expected_values": self.expected_values,
            "null_quantiles": dict(self.null_quantiles),
            "tail_fit": dict(self.tail_fit),
            "default_threshold": self.default_threshold,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationResult:
    """Calibrated thresholds for the columns of one profile at one window size.

    ``draws`` is the number of bootstrap windows drawn (shared by all bootstrapped columns);
    ``alarm_probability`` maps each column to its per-window target; ``warnings`` are plain
    sentences about conditions that make the calibration less trustworthy.
    """

    window_rows: int
    draws: int
    seed: int
    reference_noise: bool
    training_rows: int
    columns: Mapping[str, ColumnCalibration]
    warnings: tuple[str, ...] = ()

    @property
    def alarm_probability(self) -> Mapping[str, float]:
        return MappingProxyType({k: c.alarm_probability for k, c in self.columns.items()})

    def thresholds(self) -> dict[str, dict[str, Any]]:
        """``{column: {"method": ..., "threshold": ...}}``, the shape of ``Profile.thresholds``."""
        return {k: {"method": c.method, "threshold": c.threshold} for k, c in self.columns.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_rows": self.window_rows,
            "draws": self.draws,
            "seed": self.seed,
            "reference_noise": self.reference_noise,
            "training_rows": self.training_rows,
            "warnings": list(self.warnings),
            "columns": {k: c.to_dict() for k, c in self.columns.items()},
        }


def expected_values(col: ColumnProfile, window_rows: int) -> int:
    """Non-missing values expected in a window of ``window_rows`` rows (training missing rate)."""
    if col.rows <= 0:
        return window_rows
    return int(round(window_rows * col.n / col.rows))


def planned_test(
    profile: Profile, name: str, window_rows: int, *, methods: Mapping[str, str] | None = None
) -> DriftTest:
    """The drift test a window of ``window_rows`` rows will get for column ``name``.

    Mirrors :func:`detectors.evaluation.choose_test`: a method named in ``methods`` (by
    column or ``"*"``) when it accepts the column's kind, else the default policy for the
    expected number of non-missing values.
    """
    col = profile.column(name)
    n_cur = expected_values(col, window_rows)
    n_levels = sum(1 for c in col.counts if c > 0) if col.type == "categorical" else None
    wanted = (methods or {}).get(name) or (methods or {}).get("*")
    if wanted:
        test = get_drift_test(wanted)
        if col.type in test.column_kinds:
            return test
    return default_drift_test(col.type, col.n, n_cur, n_levels=n_levels)


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnCells:
    """One training column as a bootstrap population: cell shares and, numeric, values per bin.

    ``shares[0]`` is the share of missing rows, ``shares[1 + b]`` the share of profile bin or
    level slot ``b``. Numeric columns also keep their finite values sorted (so each bin's
    values are a contiguous slice from ``starts[b]``, ``sizes[b]`` long) and each bin's mean
    and (population) variance.
    """

    shares: np.ndarray
    sorted_values: np.ndarray | None = None
    starts: np.ndarray | None = None
    sizes: np.ndarray | None = None
    bin_means: np.ndarray | None = None
    bin_variances: np.ndarray | None = None


def column_cells(col: ColumnProfile, raw: np.ndarray) -> ColumnCells:
    """Turn a training column into :class:`ColumnCells` with the profile's bins or levels."""
    n_bins = len(col.counts)
    n_rows = int(np.asarray(raw).shape[0])
    if n_rows == 0:
        raise ValueError(f"column {col.name!r} has no training rows")
    if col.type == "categorical":
        codes = encode_levels(col.levels, normalize_levels(raw)).codes.astype(np.int64)
        cells = np.bincount(codes + 1, minlength=n_bins + 1)
        return ColumnCells(shares=cells / n_rows)
    vals = parse_numeric(raw).values
    finite = np.sort(vals[~np.isnan(vals)])
    bins = np.searchsorted(np.asarray(col.edges, dtype=np.float64), finite, side="right")
    sizes = np.bincount(bins, minlength=n_bins)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    sums = np.bincount(bins, weights=finite, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(sizes > 0, sums / np.maximum(sizes, 1), 0.0)
        centred = finite - means[bins]
        variances = np.bincount(bins, weights=centred * centred, minlength=n_bins) / np.maximum(sizes, 1)
    shares = np.concatenate(([n_rows - finite.size], sizes)) / n_rows
    return ColumnCells(
        shares=shares,
        sorted_values=finite,
        starts=starts,
        sizes=sizes,
        bin_means=means,
        bin_variances=variances,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Prepared:
    col: ColumnProfile
    test: DriftTest
    cells: ColumnCells
    reference: ColumnSummary


def _extreme_values(
    cells: ColumnCells, counts: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum of each bootstrap window, drawn given its bin counts.

    Given the counts, a window's values in bin ``b`` are ``c_b`` draws with replacement from
    the training values in that bin, so its maximum is in the highest non-empty bin, at sorted
    position ``ceil(m_b * U ** (1 / c_b))`` (``P(max <= k-th) = (k / m_b) ** c_b``), and its
    minimum likewise in the lowest one. Exact, whatever the window size.
    """
    assert cells.sorted_values is not None and cells.starts is not None and cells.sizes is not None
    draws, n_bins = counts.shape
    nonempty = counts > 0
    rows = np.arange(draws)
    hi_bin = n_bins - 1 - np.argmax(nonempty[:, ::-1], axis=1)
    lo_bin = np.argmax(nonempty, axis=1)
    hi_c, lo_c = counts[rows, hi_bin], counts[rows, lo_bin]
    hi_m, lo_m = cells.sizes[hi_bin], cells.sizes[lo_bin]
    with np.errstate(divide="ignore", invalid="ignore"):
        hi_k = np.ceil(hi_m * rng.random(draws) ** (1.0 / np.maximum(hi_c, 1))).astype(np.int64)
        lo_k = np.floor(lo_m * (1.0 - rng.random(draws) ** (1.0 / np.maximum(lo_c, 1)))).astype(np.int64)
    hi_k = np.clip(hi_k, 1, np.maximum(hi_m, 1)) - 1
    lo_k = np.clip(lo_k, 0, np.maximum(lo_m - 1, 0))
    top = cells.sorted_values.size - 1
    return (
        cells.sorted_values[np.minimum(cells.starts[lo_bin] + lo_k, top)],
        cells.sorted_values[np.minimum(cells.starts[hi_bin] + hi_k, top)],
    )


def _window_summaries(
    prep: _Prepared, window_rows: int, draws: int, rng: np.random.Generator, *, reference_noise: bool
) -> list[tuple[ColumnSummary, ColumnSummary]]:
    """Reference and current summaries of ``draws`` bootstrap windows of one column.

    The cell counts of a window of ``window_rows`` rows drawn with replacement are multinomial
    with the training cell shares, so they are drawn directly: the cost does not depend on
    the window size. Extremes are drawn exactly given the counts (:func:`_extreme_values`);
    mean and std from the counts and each bin's training mean and variance (they only matter
    for the ``wasserstein`` scale when the reference std is zero).
    """
    col, cells = prep.col, prep.cells
    full = rng.multinomial(window_rows, cells.shares, size=draws)
    counts = full[:, 1:]
    n = counts.sum(axis=1)
    ref_counts = None
    if reference_noise and prep.reference.n > 0:
        base = np.asarray(prep.reference.counts, dtype=np.float64)
        ref_counts = rng.multinomial(prep.reference.n, base / base.sum(), size=draws)
    numeric = cells.sorted_values is not None and cells.sorted_values.size > 0
    if numeric:
        assert cells.bin_means is not None and cells.bin_variances is not None
        lo, hi = _extreme_values(cells, counts, rng)
        shift = col.mean if math.isfinite(col.mean) else 0.0
        centred = cells.bin_means - shift
        with np.errstate(invalid="ignore", divide="ignore"):
            m = counts @ centred / n
            second = counts @ (cells.bin_variances + centred * centred) / n
            var = np.maximum(second - m * m, 0.0) * n / (n - 1)
        mean = shift + m
        std = np.where(n >= 2, np.sqrt(var), np.nan)
    edges = col.edges if col.type == "numeric" else None
    empty = np.empty(0, dtype=np.float64 if col.type == "numeric" else object)
    out: list[tuple[ColumnSummary, ColumnSummary]] = []
    for i in range(draws):
        cur_counts, cur_edges = drift_bins(counts[i], edges)
        ni = int(n[i])
        cur = ColumnSummary(kind=col.type, counts=cur_counts, edges=cur_edges, sample=empty, n=ni)
        if numeric and ni > 0:
            cur = replace(
                cur, minimum=float(lo[i]), maximum=float(hi[i]), mean=float(mean[i]), std=float(std[i])
            )
        ref = prep.reference if ref_counts is None else replace(prep.reference, counts=ref_counts[i])
        out.append((ref, cur))
    return out


def _exponential_tail(statistics: np.ndarray, probability: float) -> tuple[float, dict[str, float]] | None:
    """``1 - probability`` quantile from an exponential fit to the exceedances of the top 20%.

    Peaks over threshold with the generalised Pareto shape fixed at 0 (the exponential,
    Gumbel-domain limit): ``u + mean_excess * ln(p_u / probability)``, with ``u`` the
    ``TAIL_START_QUANTILE`` quantile and ``p_u`` the share of draws above it.
    """
    u = float(np.quantile(statistics, TAIL_START_QUANTILE))
    excess = statistics[statistics > u] - u
    if excess.size < 2:
        return None
    mean_excess = float(excess.mean())
    share = excess.size / statistics.size
    if not (mean_excess > 0 and math.isfinite(mean_excess)) or share <= probability:
        return None
    q = u + mean_excess * math.log(share / probability)
    return q, {"tail_start_quantile": TAIL_START_QUANTILE, "tail_start": u, "mean_excess": mean_excess}


def _quantiles(statistics: np.ndarray) -> dict[str, float]:
    qs = np.quantile(statistics, NULL_QUANTILE_LEVELS)
    out = {f"{lvl:g}": float(q) for lvl, q in zip(NULL_QUANTILE_LEVELS, qs, strict=True)}
    out["max"] = float(statistics.max())
    return out


def threshold_from_null(statistics: np.ndarray, probability: float) -> tuple[float, Basis, dict[str, float]]:
    """The ``1 - probability`` quantile of bootstrap statistics, extrapolated when needed.

    Returns the threshold, how it was obtained and the tail-fit parameters (empty unless
    extrapolated). The threshold is never below the median of ``statistics``; ``nan`` with
    ``"default_degenerate"`` when every statistic is 0.
    """
    s = np.asarray(statistics, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0 or float(s.max()) <= 0.0:
        return math.nan, "default_degenerate", {}
    median = float(np.median(s))
    if s.size * probability >= DRAWS_PER_TAIL_EVENT:
        return max(float(np.quantile(s, 1.0 - probability)), median), "empirical_quantile", {}
    # The finest quantile the draws resolve is a floor: the wanted one lies further out.
    floor = float(np.quantile(s, max(1.0 - DRAWS_PER_TAIL_EVENT / s.size, 0.5)))
    fit = _exponential_tail(s, probability)
    if fit is None:
        return max(float(s.max()), median), "exponential_tail", {}
    q, params = fit
    return max(q, floor, median), "exponential_tail", params


def calibrate_thresholds(
    profile: Profile,
    columns: Mapping[str, np.ndarray],
    *,
    window_rows: int,
    alarm_probability: float | Mapping[str, float],
    seed: int,
    names: Sequence[str] | None = None,
    methods: Mapping[str, str] | None = None,
    draws: int | None = None,
    min_draws: int = 200,
    max_draws: int = 1000,
    reference_noise: bool = True,
) -> CalibrationResult:
    """Calibrate per-column drift thresholds for windows of ``window_rows`` rows.

    Parameters
    ----------
    profile:
        The training profile (its bins, levels and reference counts are what windows are
        compared with).
    columns:
        The training data, column-wise (the table the profile was built from).
    window_rows:
        Rows per window in production (``>= 1``).
    alarm_probability:
        Per window, the probability in ``(0, 1)`` that a healthy window crosses a column's
        threshold; one value for every column or a mapping column -> value.
    seed:
        Seed of the bootstrap (``numpy.random.default_rng``); same inputs, same thresholds.
    names:
        Columns to calibrate (default: every profiled column present in ``columns``).
    methods:
        Drift test per column (or ``"*"``), as in the monitor's ``detectors.methods``;
        default: the test the default policy picks at this window size.
    draws:
        Bootstrap windows; ``None`` picks ``10 / min(alarm_probability)`` clipped to
        ``[min_draws, max_draws]``.
    reference_noise:
        Also resample the reference counts (multinomial, training size), see the module docstring.

    Returns
    -------
    CalibrationResult
        One :class:`ColumnCalibration` per calibrated column.

    Raises
    ------
    ValueError
        For a non-positive window, a probability outside ``(0, 1)``, an unknown column or
        method, or no training rows.
    """
    if not isinstance(window_rows, int) or window_rows < 1:
        raise ValueError(f"window_rows must be a positive integer, got {window_rows!r}")
    if min_draws < 1 or max_draws < min_draws:
        raise ValueError(
            f"need 1 <= min_draws <= max_draws, got min_draws={min_draws!r}, max_draws={max_draws!r}"
        )
    if draws is not None and draws < 1:
        raise ValueError(f"draws must be a positive integer or None, got {draws!r}")
    known = {c.name for c in profile.columns}
    chosen = (
        tuple(names) if names is not None else tuple(c.name for c in profile.columns if c.name in columns)
    )
    for name in chosen:
        if name not in known:
            raise ValueError(f"column {name!r} is not in the profile (profiled: {', '.join(sorted(known))})")
        if name not in columns:
            raise ValueError(f"column {name!r} is not in the training data given for calibration")
    probs: dict[str, float] = {}
    for name in chosen:
        p = alarm_probability.get(name) if isinstance(alarm_probability, Mapping) else alarm_probability
        if p is None:
            raise ValueError(f"no alarm probability given for column {name!r}")
        p = float(p)
        if not 0.0 < p < 1.0:
            raise ValueError(f"alarm probability of column {name!r} must be in (0, 1), got {p!r}")
        probs[name] = p
    n_rows = len(next(iter(columns.values()))) if columns else 0
    if chosen and n_rows == 0:
        raise ValueError("the training data has no rows to draw bootstrap windows from")

    results: dict[str, ColumnCalibration] = {}
    prepared: dict[str, _Prepared] = {}
    for name in chosen:
        col = profile.column(name)
        test = planned_test(profile, name, window_rows, methods=methods)
        n_exp = expected_values(col, window_rows)
        if test.decision == "p_value_below":
            results[name] = ColumnCalibration(
                name=name,
                method=test.name,
                decision=test.decision,
                threshold=probs[name],
                alarm_probability=probs[name],
                basis="p_value_level",
                draws=0,
                expected_values=n_exp,
                default_threshold=test.default_threshold,
            )
            continue
        if test.uses != "counts":
            raise ValueError(
                f"cannot calibrate {test.name!r} on column {name!r}: only count-based distances are bootstrapped"
            )
        prepared[name] = _Prepared(
            col=col,
            test=test,
            cells=column_cells(col, np.asarray(columns[name])),
            reference=profile.reference_summary(name),
        )

    n_draws = 0
    warnings: list[str] = []
    if prepared:
        smallest = min(probs[n] for n in prepared)
        n_draws = draws or min(max(math.ceil(DRAWS_PER_TAIL_EVENT / smallest), min_draws), max_draws)
        statistics = _bootstrap(prepared, window_rows, n_draws, seed, reference_noise)
        for name, prep in prepared.items():
            s = statistics[name]
            s = s[np.isfinite(s)]
            thr, basis, fit = threshold_from_null(s, probs[name])
            if basis == "default_degenerate":
                thr = prep.test.default_threshold
            results[name] = ColumnCalibration(
                name=name,
                method=prep.test.name,
                decision=prep.test.decision,
                threshold=float(thr),
                alarm_probability=probs[name],
                basis=basis,
                draws=int(s.size),
                expected_values=expected_values(prep.col, window_rows),
                null_quantiles=MappingProxyType(_quantiles(s) if s.size else {}),
                tail_fit=MappingProxyType(fit),
                default_threshold=prep.test.default_threshold,
            )
        if n_rows < 5 * window_rows:
            warnings.append(
                f"the training data has {n_rows} rows, fewer than 5 windows of {window_rows}: "
                "bootstrap windows overlap heavily and the thresholds are uncertain"
            )
        extrapolated = sorted(n for n, r in results.items() if r.basis == "exponential_tail")
        if extrapolated:
            warnings.append(
                f"{len(extrapolated)} column(s) needed a quantile beyond {n_draws} draws; "
                "their thresholds extrapolate an exponential tail"
            )
    for name, r in results.items():
        if r.decision == "p_value_below" and r.expected_values > SMALL_WINDOW_MAX and not methods:
            warnings.append(f"column {name!r}: p-value test on windows of {r.expected_values} values")
    return CalibrationResult(
        window_rows=window_rows,
        draws=n_draws,
        seed=seed,
        reference_noise=reference_noise,
        training_rows=n_rows,
        columns=MappingProxyType({n: results[n] for n in chosen}),
        warnings=tuple(warnings),
    )


def _bootstrap(
    prepared: Mapping[str, _Prepared],
    window_rows: int,
    n_draws: int,
    seed: int,
    reference_noise: bool,
) -> dict[str, np.ndarray]:
    """Statistic of every bootstrap window for every prepared column (NaN when undefined).

    Each column gets its own generator, seeded with ``seed`` and the CRC-32 of its name, so a
    column's thresholds do not depend on which other columns are calibrated with it.
    """
    out: dict[str, np.ndarray] = {}
    for name, prep in prepared.items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
        stats_ = np.full(n_draws, np.nan)
        for i, (ref, cur) in enumerate(
            _window_summaries(prep, window_rows, n_draws, rng, reference_noise=reference_noise)
        ):
            if cur.n > 0:
                stats_[i] = prep.test(ref, cur).statistic
        out[name] = stats_
    return out
