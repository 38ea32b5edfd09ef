"""Data-quality checks of a window against its profile.

Each check returns :class:`QualityIssue` objects (never raises on data). ``value`` is on the
check's own scale (a share, a count or seconds), ``threshold`` is the limit it crossed, and
``severity`` is ``warning`` or ``critical`` (critical when the value passes the critical limit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from detectors.profile import Profile
from detectors.sketch import WindowSketch

Severity = Literal["warning", "critical"]
CHECKS: tuple[str, ...] = (
    "missing_column",
    "unexpected_column",
    "type_mismatch",
    "malformed_rows",
    "missing_rate",
    "out_of_range",
    "new_category",
    "constant_column",
    "duplicate_rows",
    "non_finite",
    "late_rows",
    "volume",
    "freshness",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityIssue:
    """One data-quality finding of a window. ``column`` is ``None`` for window-level checks."""

    column: str | None
    check: str
    value: float
    threshold: float
    severity: Severity
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityThresholds:
    """Limits of the quality checks (warning / critical).

    missing_rate_increase:
        Absolute increase of a column's missing rate over its training rate.
    type_mismatch_share, out_of_range_share, new_category_share, non_finite_share:
        Share of a column's values; a share above the warning limit is an issue.
    duplicate_increase:
        Absolute increase of the duplicate-row share over training.
    volume_tolerance:
        Relative deviation of rows per window from the expected count.
    """

    missing_rate_increase: float = 0.05
    missing_rate_increase_critical: float = 0.25
    type_mismatch_share: float = 0.0
    type_mismatch_share_critical: float = 0.05
    out_of_range_share: float = 0.01
    out_of_range_share_critical: float = 0.10
    new_category_share: float = 0.0
    new_category_share_critical: float = 0.05
    non_finite_share: float = 0.0
    non_finite_share_critical: float = 0.05
    duplicate_increase: float = 0.05
    duplicate_increase_critical: float = 0.25
    malformed_rows: int = 0
    malformed_rows_critical_share: float = 0.05
    late_rows_share: float = 0.0
    volume_tolerance: float = 0.5
    volume_tolerance_critical: float = 0.9
    min_rows_for_constant: int = 20

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or math.isnan(v) or v < 0:
                raise ValueError(f"quality threshold {name} must be a number >= 0, got {v!r}")


def _sev(value: float, critical: float) -> Severity:
    return "critical" if value > critical else "warning"


def check_quality(
    profile: Profile,
    sketch: WindowSketch,
    *,
    thresholds: QualityThresholds | None = None,
    absent_columns: frozenset[str] | None = None,
    expected_rows: int | None = None,
    now: float | None = None,
    max_age_s: float | None = None,
) -> tuple[QualityIssue, ...]:
    """Run every data-quality check on a window sketch.

    Parameters
    ----------
    profile, sketch:
        The reference and the window.
    absent_columns:
        Profiled columns that were absent from the data (a file without that column).
        When ``None``, a column is absent when no row of the window carried the field.
    expected_rows:
        Expected rows per window, for the ``volume`` check (skipped when ``None``).
    now, max_age_s:
        For ``freshness``: issue when the newest event is older than ``max_age_s`` at ``now``
        (epoch seconds), or when the window has no rows at all.
    """
    t = thresholds or QualityThresholds()
    issues: list[QualityIssue] = []
    rows = sketch.rows
    if sketch.malformed_rows > t.malformed_rows:
        total = rows + sketch.malformed_rows
        share = sketch.malformed_rows / total if total else 1.0
        issues.append(
            QualityIssue(
                column=None,
                check="malformed_rows",
                value=float(sketch.malformed_rows),
                threshold=float(t.malformed_rows),
                severity=_sev(share, t.malformed_rows_critical_share),
                detail=f"{sketch.malformed_rows} rows could not be parsed",
            )
        )
    for name, count in sorted(sketch.unexpected_columns.items()):
        issues.append(
            QualityIssue(
                column=name,
                check="unexpected_column",
                value=float(count),
                threshold=0.0,
                severity="warning",
                detail=f"column {name!r} is not in the profile",
            )
        )
    if sketch.late_rows > 0 and rows + sketch.late_rows > 0:
        share = sketch.late_rows / (rows + sketch.late_rows)
        if share > t.late_rows_share:
            issues.append(
                QualityIssue(
                    column=None,
                    check="late_rows",
                    value=float(sketch.late_rows),
                    threshold=0.0,
                    severity="warning",
                    detail=f"{sketch.late_rows} rows arrived after their window closed (beyond the allowed lateness)",
                )
            )
    if expected_rows is not None and expected_rows > 0:
        dev = abs(rows - expected_rows) / expected_rows
        if dev > t.volume_tolerance:
            issues.append(
                QualityIssue(
                    column=None,
                    check="volume",
                    value=float(rows),
                    threshold=float(expected_rows),
                    severity=_sev(dev, t.volume_tolerance_critical),
                    detail=f"{rows} rows in the window, expected about {expected_rows}",
                )
            )
    if max_age_s is not None and now is not None:
        newest = sketch.event_time_max
        age = math.inf if newest is None else now - newest
        if rows == 0 or age > max_age_s:
            issues.append(
                QualityIssue(
                    column=None,
                    check="freshness",
                    value=age,  # inf (null in JSON) when the window has no event at all
                    threshold=float(max_age_s),
                    severity="critical",
                    detail="no data in the window" if rows == 0 else f"newest event is {age:.0f}s old",
                )
            )
    if rows > 0:
        ref_dup = profile.duplicate_share
        dup = sketch.duplicates.duplicate_share
        if dup - ref_dup > t.duplicate_increase:
            issues.append(
                QualityIssue(
                    column=None,
                    check="duplicate_rows",
                    value=dup,
                    threshold=ref_dup + t.duplicate_increase,
                    severity=_sev(dup - ref_dup, t.duplicate_increase_critical),
                    detail=f"{dup:.1%} of rows repeat another row (training: {ref_dup:.1%})",
                )
            )
    for col in profile.columns:
        acc = sketch.columns[col.name]
        if rows == 0:
            continue
        absent = (col.name in absent_columns) if absent_columns is not None else acc.present == 0
        if absent and col.role == "target":
            continue  # labels arrive later or elsewhere: a window without them is normal
        if absent:
            issues.append(
                QualityIssue(
                    column=col.name,
                    check="missing_column",
                    value=1.0,
                    threshold=0.0,
                    severity="critical",
                    detail=f"profiled column {col.name!r} is missing from the data",
                )
            )
            continue
        for check, count, limit, critical, what in (
            (
                "type_mismatch",
                acc.type_mismatch,
                t.type_mismatch_share,
                t.type_mismatch_share_critical,
                f"not {col.type}",
            ),
            ("non_finite", acc.non_finite, t.non_finite_share, t.non_finite_share_critical, "infinite"),
        ):
            share = count / rows
            if count > 0 and share > limit:
                issues.append(
                    QualityIssue(
                        column=col.name,
                        check=check,
                        value=share,
                        threshold=limit,
                        severity=_sev(share, critical),
                        detail=f"{count} values are {what}",
                    )
                )
        # Missing rate counts absent fields, nulls, mismatched and non-finite values alike.
        missing = acc.missing + (rows - acc.present)
        rate = missing / rows
        ref_rate = col.missing_rate
        if rate - ref_rate > t.missing_rate_increase:
            issues.append(
                QualityIssue(
                    column=col.name,
                    check="missing_rate",
                    value=rate,
                    threshold=ref_rate + t.missing_rate_increase,
                    severity=_sev(rate - ref_rate, t.missing_rate_increase_critical),
                    detail=f"{rate:.1%} missing (training: {ref_rate:.1%})",
                )
            )
        n = acc.n
        if n == 0:
            continue
        if col.type == "numeric":
            if col.edges and math.isfinite(col.minimum) and math.isfinite(col.maximum):
                # The profile's outer edges are the training min and just above the training max,
                # so the outer bins count exactly the values outside the training range.
                below = int(acc.counts[0]) if col.edges[0] >= col.minimum else 0
                above = int(acc.counts[-1]) if col.edges[-1] > col.maximum else 0
                outside = (below + above) / n
                allowed = t.out_of_range_share + 2.0 / (col.n + 1)
                if outside > allowed:
                    issues.append(
                        QualityIssue(
                            column=col.name,
                            check="out_of_range",
                            value=outside,
                            threshold=allowed,
                            severity=_sev(outside, t.out_of_range_share_critical),
                            detail=(
                                f"{below + above} values outside the training range "
                                f"[{col.minimum:.4g}, {col.maximum:.4g}] (window: [{acc.minimum:.4g}, {acc.maximum:.4g}])"
                            ),
                        )
                    )
            if n >= t.min_rows_for_constant and acc.minimum == acc.maximum and col.minimum != col.maximum:
                issues.append(
                    QualityIssue(
                        column=col.name,
                        check="constant_column",
                        value=1.0,
                        threshold=0.0,
                        severity="warning",
                        detail=f"every value is {acc.minimum:.6g}",
                    )
                )
        else:
            other_count = int(acc.counts[-1])
            if not col.levels_truncated and other_count > 0:
                share = other_count / n
                if share > t.new_category_share:
                    top = sorted(acc.new_levels.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
                    issues.append(
                        QualityIssue(
                            column=col.name,
                            check="new_category",
                            value=share,
                            threshold=t.new_category_share,
                            severity=_sev(share, t.new_category_share_critical),
                            detail="new: " + ", ".join(f"{k!r} ({v})" for k, v in top),
                        )
                    )
            nonzero = int((acc.counts > 0).sum())
            ref_nonzero = int(sum(1 for c in col.counts if c > 0))
            if n >= t.min_rows_for_constant and nonzero == 1 and ref_nonzero > 1:
                issues.append(
                    QualityIssue(
                        column=col.name,
                        check="constant_column",
                        value=1.0,
                        threshold=0.0,
                        severity="warning",
                        detail="a single level in the whole window",
                    )
                )
    return tuple(issues)


def issues_by_column(issues: tuple[QualityIssue, ...]) -> Mapping[str, tuple[QualityIssue, ...]]:
    """Group issues by column (window-level issues under ``""``)."""
    out: dict[str, list[QualityIssue]] = {}
    for i in issues:
        out.setdefault(i.column or "", []).append(i)
    return {k: tuple(v) for k, v in out.items()}
