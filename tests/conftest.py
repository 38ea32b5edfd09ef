"""Shared fixtures: small deterministic synthetic datasets written to ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def synthetic_frame(n: int, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """A model-monitoring table: id, ts (one row per second), two numeric and two categorical
    features, a binary target ``y`` and prediction ``pred``. ``shift`` moves ``age``'s mean."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40.0 + shift, 10.0, n).round(1)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": pd.date_range("2026-01-01", periods=n, freq="s").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "age": age,
            "income": rng.lognormal(10.0, 1.0, n).round(2),
            "city": rng.choice(["amsterdam", "berlin", "cairo"], n, p=[0.5, 0.3, 0.2]),
            "flag": rng.integers(0, 2, n),
        }
    )
    frame["y"] = (age + rng.normal(0.0, 5.0, n) > 40.0).astype(int)
    frame["pred"] = (age > 40.0).astype(int)
    return frame


@pytest.fixture
def make_csv(tmp_path: Path) -> Callable[..., Path]:
    """``make_csv(name, n, seed=0, shift=0.0)`` writes :func:`synthetic_frame` to ``tmp_path/name``."""

    def _make(name: str, n: int, *, seed: int = 0, shift: float = 0.0) -> Path:
        path = tmp_path / name
        synthetic_frame(n, seed=seed, shift=shift).to_csv(path, index=False)
        return path

    return _make
