"""Evidently drift reports: bounded, atomic, and failures become one ReportError line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.evidently_report import ReportError, write_drift_report

pytestmark = pytest.mark.slow


def frames(rows: int, *, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift, 10, rows),
            "country": rng.choice(["de", "fr", "it"], rows),
            "seen_at": pd.Timestamp("2026-01-01"),
        }
    )


def test_writes_a_self_contained_html_report(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "demo" / "7.html"
    written = write_drift_report(
        frames(3000), frames(800, shift=15, seed=1), target, title="demo <window #7>"
    )
    assert written == target
    page = target.read_text(encoding="utf-8")
    assert "<title>demo &lt;window #7&gt;</title>" in page
    assert "age" in page and "country" in page
    assert "<script src=" not in page
    assert [p.name for p in target.parent.iterdir()] == ["7.html"]


def test_samples_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import evidently

    seen: list[int] = []
    original = evidently.Dataset.from_pandas

    def spy(data: pd.DataFrame, **kwargs: Any) -> Any:
        seen.append(len(data))
        return original(data, **kwargs)

    monkeypatch.setattr(evidently.Dataset, "from_pandas", spy)
    write_drift_report(frames(5000), frames(300), tmp_path / "r.html", title="t", max_rows=1000)
    assert seen == [1000, 300]


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        (frames(0), frames(10), "empty data"),
        (frames(10), pd.DataFrame({"other": [1, 2]}), "share no numeric or categorical column"),
    ],
)
def test_bad_inputs_raise_report_error(
    tmp_path: Path, reference: pd.DataFrame, current: pd.DataFrame, message: str
) -> None:
    with pytest.raises(ReportError, match=message):
        write_drift_report(reference, current, tmp_path / "r.html", title="t")


def test_missing_requested_columns(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"columns missing .*'income'"):
        write_drift_report(frames(10), frames(10), tmp_path / "r.html", title="t", columns=["age", "income"])


def test_evidently_failure_is_one_clear_error_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evidently

    def explode(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(evidently.Report, "run", explode)
    with pytest.raises(ReportError, match=r"r.html: evidently report failed: KeyError"):
        write_drift_report(frames(50), frames(50), tmp_path / "r.html", title="t")
    assert list(tmp_path.iterdir()) == []
