"""Evidently data-drift reports: a self-contained HTML page per window, for people to dig into.

Reports are written on bounded samples of the reference and current data, so their cost does not
grow with window size. Evidently is optional at runtime in spirit: any failure is raised as
:class:`ReportError` with one clear line for the caller to log; it never takes the daemon down.
"""

from __future__ import annotations

import html
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["ReportError", "write_drift_report"]

DEFAULT_MAX_ROWS = 5000


class ReportError(Exception):
    """An evidently report could not be written; ``str()`` is one line naming the file and cause."""


def _sample(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    return frame.sample(n=max_rows, random_state=seed).reset_index(drop=True)


def _split_columns(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    numerical: list[str] = []
    categorical: list[str] = []
    for column in columns:
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype):
            categorical.append(column)
        elif pd.api.types.is_numeric_dtype(dtype):
            numerical.append(column)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        else:
            categorical.append(column)
    return numerical, categorical


def write_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    path: Path | str,
    *,
    title: str,
    columns: Sequence[str] | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
    seed: int = 0,
) -> Path:
    """Write evidently's data-drift report of ``current`` against ``reference`` as HTML.

    Parameters
    ----------
    reference, current
        Training sample and window sample; only their common columns (or ``columns``) are compared.
    path
        The HTML file to write (its directory is created); written atomically.
    title
        Name of the report (shown by evidently), e.g. ``"demo window #12"``.
    columns
        Columns to compare (default: the common columns, in ``reference`` order). Datetime
        columns are skipped; numeric columns are numerical, everything else categorical.
    max_rows
        Each frame is sampled down to at most this many rows (seeded), which bounds time and size.
    seed
        Seed of the sampling.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ReportError
        When the inputs are empty or share no column, or evidently fails.
    """
    target = Path(path)
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows!r}")
    if reference.empty or current.empty:
        raise ReportError(
            f"{target}: cannot report drift on empty data (reference rows={len(reference)}, current rows={len(current)})"
        )
    if columns is None:
        wanted = [column for column in reference.columns if column in set(current.columns)]
    else:
        missing = [
            column for column in columns if column not in reference.columns or column not in current.columns
        ]
        if missing:
            raise ReportError(f"{target}: columns missing from reference or current data: {missing}")
        wanted = list(columns)
    numerical, categorical = _split_columns(reference, wanted)
    if not numerical and not categorical:
        raise ReportError(f"{target}: reference and current data share no numeric or categorical column")
    used = numerical + categorical
    try:
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
        reference_data = Dataset.from_pandas(
            _sample(reference[used], max_rows, seed), data_definition=definition
        )
        current_data = Dataset.from_pandas(_sample(current[used], max_rows, seed), data_definition=definition)
        target.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            snapshot = Report([DataDriftPreset()]).run(current_data, reference_data, name=title)
            handle, temporary = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=target.parent)
            os.close(handle)
            try:
                page = snapshot.get_html_str(as_iframe=False)
                page = page.replace(
                    '<meta charset="UTF-8">', f'<meta charset="UTF-8"><title>{html.escape(title)}</title>', 1
                )
                Path(temporary).write_text(page, encoding="utf-8")
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
    except ReportError:
        raise
    except Exception as exc:  # evidently raises many kinds; the daemon must only log them
        raise ReportError(f"{target}: evidently report failed: {type(exc).__name__}: {exc}") from exc
    logger.info("evidently report written path=%s columns=%d", target, len(used))
    return target
