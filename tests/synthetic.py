"""Small deterministic synthetic datasets shared by tests (import as ``tests.synthetic``)."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
