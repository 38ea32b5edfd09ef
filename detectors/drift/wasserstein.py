"""Normalised Wasserstein-1 distance (``"wasserstein"``) on numeric samples or binned counts.

Two entry points compute the same quantity:

* :func:`wasserstein_test` on raw samples (exact, :func:`scipy.stats.wasserstein_distance`);
* :func:`wasserstein_counts_test` on the profile's bin counts plus each side's min and max,
  so a window of any size is tested from its bounded sketch alone. The registered
  :data:`WASSERSTEIN_TEST` uses this one.

Both divide the distance by a scale, :func:`wasserstein_scale`: the reference standard
deviation, so the statistic reads "how many reference standard deviations of mass had to
move", comparable across features (Evidently's ``wasserstein`` uses the same norm).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from detectors.drift._inputs import (
    FloatArray,
    as_count_pair,
    as_sample,
    check_kinds,
    check_threshold,
    decided_result,
    undefined_result,
)
from detectors.drift.base import ColumnSummary, DriftTest, DriftTestResult

METHOD = "wasserstein"


def wasserstein_scale(reference_std: float, pooled_std: float) -> float:
    """The normalisation scale: the reference std, with fallbacks that never divide by zero.

    Parameters
    ----------
    reference_std:
        Standard deviation of the reference values (may be 0 or NaN for a constant or
        too small reference).
    pooled_std:
        Standard deviation of reference and current values together.

    Returns
    -------
    float
        ``reference_std`` when finite and ``> 0``; else ``pooled_std`` when finite and
        ``> 0`` (a constant reference: a current window that moved away from the constant
        by :math:`\\delta` has pooled std :math:`\\le \\delta / 2`, so it scores ``>= 2``);
        else ``1.0`` (every value equal on both sides: the distance is 0 anyway).

    Examples
    --------
    >>> wasserstein_scale(2.0, 3.0), wasserstein_scale(0.0, 0.5), wasserstein_scale(float("nan"), 0.0)
    (2.0, 0.5, 1.0)
    """
    for scale in (reference_std, pooled_std):
        if math.isfinite(scale) and scale > 0.0:
            return float(scale)
    return 1.0


def _result(distance: float, scale: float, threshold: float) -> DriftTestResult:
    statistic = 0.0 if distance == 0.0 else distance / scale
    return decided_result(METHOD, "statistic_above", statistic, None, threshold)


def wasserstein_test(reference: Any, current: Any, *, threshold: float = 0.1) -> DriftTestResult:
    """Wasserstein-1 distance between two numeric samples, in reference standard deviations.

    Parameters
    ----------
    reference, current:
        1-D numeric samples; NaN and infinite values are dropped.
    threshold:
        Distance threshold ``> 0``; drift when ``statistic > threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic = W_1(ref, cur) / wasserstein_scale(std(ref), std(ref + cur))``
        (population standard deviations), ``p_value`` is ``None``. An empty side gives
        NaN and no drift.

    Notes
    -----
    .. math:: W_1 = \\int_{-\\infty}^{\\infty} |F_{ref}(x) - F_{cur}(x)|\\, dx

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> result = wasserstein_test(rng.normal(size=5000), rng.normal(0.5, size=5000))
    >>> round(result.statistic, 1), result.drift_detected
    (0.5, True)
    """
    limit = check_threshold(METHOD, threshold, "statistic_above")
    ref = as_sample(reference, name="reference")
    cur = as_sample(current, name="current")
    if ref.size == 0 or cur.size == 0:
        return undefined_result(METHOD, "statistic_above", limit)
    distance = float(stats.wasserstein_distance(ref, cur))
    scale = wasserstein_scale(float(np.std(ref)), float(np.std(np.concatenate([ref, cur]))))
    return _result(distance, scale, limit)


_TAIL_PIECES = 16


def _tail_cuts(length: float, mass: float, density: float) -> FloatArray:
    """Cut points (from the edge outwards, ``0 .. length``) of equal-mass pieces of an outer bin.

    The outer bin's mass is spread as an exponential density continuing the density of
    the neighbouring inner bin (rate ``density / mass``), truncated at the side's extreme.
    Without a usable neighbour density the pieces are equal-width (uniform spreading).
    """
    fractions = np.linspace(0.0, 1.0, _TAIL_PIECES + 1)
    rate = density / mass if mass > 0 and density > 0 else 0.0
    if rate * length < 1e-9:
        return fractions * length
    captured = -math.expm1(-rate * length)
    cuts = np.empty_like(fractions)
    cuts[:-1] = -np.log1p(-fractions[:-1] * captured) / rate
    cuts[-1] = length
    return cuts


def _side_segments(
    mass: FloatArray, edges: FloatArray, low: float, high: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One side's distribution as segments ``(start, end, mass)`` with uniform mass inside.

    Inner bin ``j`` spans ``[e_{j-1}, e_j]`` clipped to the side's ``[low, high]``. The two
    outer bins span ``[low, e_0]`` and ``[e_last, high]``; their mass is split into
    ``_TAIL_PIECES`` equal-mass pieces following an exponential tail (see
    :func:`_tail_cuts`), so a long, thin tail does not spread its mass evenly up to the
    extreme. A segment clipped to a single point (values equal to an edge, a constant
    column) is a point mass there.
    """
    starts = np.clip(np.concatenate(([low], edges)), low, high)
    ends = np.clip(np.concatenate((edges, [high])), low, high)
    if edges.size < 2:
        return starts, ends, mass
    widths = np.diff(edges)
    upper = _tail_cuts(float(ends[-1] - starts[-1]), float(mass[-1]), float(mass[-2] / widths[-1]))
    lower = _tail_cuts(float(ends[0] - starts[0]), float(mass[0]), float(mass[1] / widths[0]))
    lower_points = ends[0] - lower[::-1]
    upper_points = starts[-1] + upper
    piece = np.full(_TAIL_PIECES, 1.0 / _TAIL_PIECES)
    return (
        np.concatenate((lower_points[:-1], starts[1:-1], upper_points[:-1])),
        np.concatenate((lower_points[1:], ends[1:-1], upper_points[1:])),
        np.concatenate((mass[0] * piece, mass[1:-1], mass[-1] * piece)),
    )


def _side_cdf(
    mass: FloatArray, edges: FloatArray, low: float, high: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """One side's binned CDF: knots of its continuous part and its point masses."""
    starts, ends, mass = _side_segments(mass, edges, low, high)
    wide = ends > starts
    wide_mass = mass[wide]
    after = np.cumsum(wide_mass)
    before = after - wide_mass
    knots = np.column_stack([starts[wide], ends[wide]]).ravel()
    values = np.column_stack([before, after]).ravel()
    knots, first = np.unique(knots, return_index=True)  # shared segment ends carry equal values
    points = starts[~wide]
    order = np.argsort(points, kind="stable")
    return knots, values[first], points[order], np.cumsum(mass[~wide][order])


def _cdf_parts(
    at: FloatArray, side: tuple[FloatArray, FloatArray, FloatArray, FloatArray]
) -> tuple[FloatArray, FloatArray]:
    """Continuous part at ``at`` and point-mass part at ``at`` (points ``<= at``)."""
    knots, values, points, point_cum = side
    if knots.size:
        continuous = np.interp(at, knots, values, left=0.0, right=float(values[-1]))
    else:
        continuous = np.zeros_like(at)
    index = np.searchsorted(points, at, side="right")
    discrete = np.concatenate(([0.0], point_cum))[index]
    return continuous, discrete


def _side_range(low: float, high: float, edges: FloatArray) -> tuple[float, float] | None:
    """A usable ``[low, high]`` for one side; edges stand in for unknown extremes."""
    if not math.isfinite(low):
        low = float(edges[0]) if edges.size else math.nan
    if not math.isfinite(high):
        high = float(edges[-1]) if edges.size else math.nan
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return (low, high) if low <= high else (high, low)


def binned_wasserstein_distance(
    reference_counts: Any,
    current_counts: Any,
    *,
    edges: Any,
    reference_range: tuple[float, float],
    current_range: tuple[float, float],
) -> float:
    """Wasserstein-1 distance between two binned distributions (raw units, not normalised).

    Parameters
    ----------
    reference_counts, current_counts:
        Counts per bin, ``len(edges) + 1`` bins: ``(-inf, e_0), [e_0, e_1), ..., [e_last, inf)``.
    edges:
        Strictly increasing inner bin edges (may be empty: one bin).
    reference_range, current_range:
        ``(minimum, maximum)`` observed on each side; they close the outer bins. A
        non-finite extreme is replaced by the outermost edge.

    Returns
    -------
    float
        :math:`\\int |F_{ref} - F_{cur}|`, or NaN when a side is empty or its range is unknown.

    Notes
    -----
    Only counts per bin are known, so each side's CDF is approximated:

    * an inner bin's mass is spread uniformly over the bin, clipped to that side's
      ``[min, max]``;
    * an outer bin's mass (``[min, e_0)`` and ``[e_last, max]``) is spread as an
      exponential tail that continues the side's density in the neighbouring inner bin,
      truncated at the side's extreme, in 16 equal-mass uniform pieces. Spreading it
      uniformly up to the extreme instead would let one far outlier of a heavy-tailed
      reference (lognormal, Pareto) move the whole tail mass and raise false alarms;
    * a bin clipped to a single point (values equal to an edge, a constant column) is a
      point mass.

    Both approximate CDFs are piecewise linear with jumps only at knots, and the integral
    of their absolute difference is computed exactly between knots, splitting at sign
    changes. Measured against :func:`scipy.stats.wasserstein_distance` on the raw samples,
    with 100 reference-quantile bins and a 200k-row reference: no drift on normal,
    exponential, uniform, lognormal and Pareto(3) data, windows of 2k to 100k rows,
    within 0.025 reference standard deviations (under 0.003 for normal and exponential);
    shifts and rescalings within a few % of the distance, up to ~10% when the current
    values spread far outside the reference range, where the distance is large anyway.
    The cost is O(bins log bins), independent of the number of rows.

    Examples
    --------
    >>> binned_wasserstein_distance([0, 10, 0], [0, 0, 10], edges=[0.0, 1.0],
    ...                             reference_range=(0.0, 1.0), current_range=(1.0, 2.0))
    1.0
    """
    ref_counts, cur_counts = as_count_pair(reference_counts, current_counts)
    inner = np.asarray(edges if edges is not None else [], dtype=np.float64).ravel()
    if inner.size + 1 != ref_counts.size:
        raise ValueError(f"counts must have len(edges) + 1 = {inner.size + 1} bins, got {ref_counts.size}")
    if not np.isfinite(inner).all() or (np.diff(inner) <= 0).any():
        raise ValueError("edges must be finite and strictly increasing")
    n_ref, n_cur = ref_counts.sum(), cur_counts.sum()
    ref_span = _side_range(float(reference_range[0]), float(reference_range[1]), inner)
    cur_span = _side_range(float(current_range[0]), float(current_range[1]), inner)
    if n_ref <= 0 or n_cur <= 0 or ref_span is None or cur_span is None:
        return math.nan
    ref_side = _side_cdf(ref_counts / n_ref, inner, *ref_span)
    cur_side = _side_cdf(cur_counts / n_cur, inner, *cur_span)
    grid = np.unique(np.concatenate([ref_side[0], ref_side[2], cur_side[0], cur_side[2]]))
    if grid.size < 2:
        return 0.0
    left, right = grid[:-1], grid[1:]
    ref_left_c, ref_points = _cdf_parts(left, ref_side)
    cur_left_c, cur_points = _cdf_parts(left, cur_side)
    ref_right_c, _ = _cdf_parts(right, ref_side)
    cur_right_c, _ = _cdf_parts(right, cur_side)
    # On (left, right) both CDFs are linear; point masses sit on grid knots only.
    start = (ref_left_c + ref_points) - (cur_left_c + cur_points)
    end = (ref_right_c + ref_points) - (cur_right_c + cur_points)
    width = right - left
    a, b = np.abs(start), np.abs(end)
    same_sign = start * end >= 0.0
    total = a + b
    crossing = np.divide(start**2 + end**2, 2.0 * total, out=np.zeros_like(total), where=total > 0)
    area = np.where(same_sign, width * total / 2.0, width * crossing)
    return float(max(area.sum(), 0.0))


def wasserstein_counts_test(
    reference_counts: Any,
    current_counts: Any,
    *,
    edges: Any,
    reference_range: tuple[float, float],
    current_range: tuple[float, float],
    scale: float,
    threshold: float = 0.1,
) -> DriftTestResult:
    """Normalised Wasserstein-1 distance from bin counts (see :func:`binned_wasserstein_distance`).

    Parameters
    ----------
    reference_counts, current_counts, edges, reference_range, current_range:
        As for :func:`binned_wasserstein_distance`.
    scale:
        The normalisation, usually :func:`wasserstein_scale` of the reference and pooled
        standard deviations; a non-finite or non-positive value falls back to 1.0.
    threshold:
        Distance threshold ``> 0``; drift when ``statistic > threshold``.

    Returns
    -------
    DriftTestResult
        ``statistic = distance / scale``, ``p_value`` is ``None``; NaN and no drift when a
        side is empty.

    Examples
    --------
    >>> edges = [-1.0, 0.0, 1.0]
    >>> result = wasserstein_counts_test([16, 34, 34, 16], [7, 24, 38, 31], edges=edges,
    ...                                  reference_range=(-3.0, 3.0), current_range=(-2.5, 3.5),
    ...                                  scale=1.0)
    >>> round(result.statistic, 3), result.drift_detected
    (0.506, True)
    """
    limit = check_threshold(METHOD, threshold, "statistic_above")
    distance = binned_wasserstein_distance(
        reference_counts,
        current_counts,
        edges=edges,
        reference_range=reference_range,
        current_range=current_range,
    )
    if math.isnan(distance):
        return undefined_result(METHOD, "statistic_above", limit)
    return _result(distance, wasserstein_scale(float(scale), math.nan), limit)


def _pooled_std(reference: ColumnSummary, current: ColumnSummary) -> float:
    """Standard deviation of both sides together, from their counts, means and stds."""
    parts = [
        (s.n, s.mean, s.std if math.isfinite(s.std) else 0.0)
        for s in (reference, current)
        if s.n > 0 and math.isfinite(s.mean)
    ]
    total = sum(n for n, _, _ in parts)
    if total <= 0:
        return math.nan
    mean = sum(n * m for n, m, _ in parts) / total
    variance = sum(n * (sd**2 + (m - mean) ** 2) for n, m, sd in parts) / total
    return math.sqrt(max(variance, 0.0))


def _compute(reference: ColumnSummary, current: ColumnSummary, threshold: float) -> DriftTestResult:
    check_kinds(METHOD, WASSERSTEIN_TEST.column_kinds, reference, current)
    edges = reference.edges if reference.edges is not None else current.edges
    return wasserstein_counts_test(
        reference.counts,
        current.counts,
        edges=np.empty(0) if edges is None else edges,
        reference_range=(reference.minimum, reference.maximum),
        current_range=(current.minimum, current.maximum),
        scale=wasserstein_scale(reference.std, _pooled_std(reference, current)),
        threshold=threshold,
    )


WASSERSTEIN_TEST = DriftTest(
    name=METHOD,
    column_kinds=frozenset({"numeric"}),
    decision="statistic_above",
    default_threshold=0.1,
    uses="counts",
    compute=_compute,
    description="Wasserstein-1 distance from profile bin counts, in reference standard deviations",
)
