"""Generate the bundled demo: a churn model's training data and a production stream that drifts.

Run from the repository root: ``python demo/make_demo.py`` (writes demo/train.csv,
demo/stream.csv; then ``driftwarden profile`` writes demo/profile.json, see the README).
The stream is healthy for its first 30,000 rows; then incomes rise, customers get older and
the "web" channel takes over, while the model's predictions and accuracy slip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
TRAIN_ROWS = 20_000
STREAM_ROWS = 60_000
DRIFT_AT = 30_000
START = pd.Timestamp("2026-01-05T00:00:00Z")


def make(n: int, rng: np.random.Generator, *, drift: np.ndarray) -> pd.DataFrame:
    age = rng.normal(42, 11, n).clip(18, 90).round()
    age = age + drift * rng.normal(7, 2, n).round()
    income = rng.lognormal(10.6, 0.45, n) * np.where(drift, 1.35, 1.0)
    tenure = rng.gamma(2.0, 2.5, n).round(1)
    products = rng.poisson(1.6, n) + 1
    balance = np.maximum(rng.normal(52_000, 30_000, n), 0).round(2)
    credit = rng.normal(650, 80, n).clip(300, 850).round()
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.3, 0.25, 0.25, 0.2])
    web_share = np.where(drift, 0.65, 0.35)
    channel = np.where(rng.random(n) < web_share, "web", np.where(rng.random(n) < 0.5, "branch", "phone"))
    z = -1.2 + 0.03 * (age - 42) - 0.35 * (tenure - 5) / 3 + 0.4 * (products > 2) - 0.004 * (credit - 650)
    # after the drift point the relation between tenure and churn weakens (concept drift)
    z_true = np.where(drift, z + 0.35 * (tenure - 5) / 3 + 0.6 * (channel == "web"), z)
    p_model = 1 / (1 + np.exp(-z))
    churned = (rng.random(n) < 1 / (1 + np.exp(-z_true))).astype(int)
    return pd.DataFrame(
        {
            "age": age.astype(int),
            "income": income.round(2),
            "tenure_years": tenure,
            "num_products": products,
            "balance": balance,
            "credit_score": credit.astype(int),
            "region": region,
            "channel": channel,
            "score": p_model.round(4),
            "prediction": (p_model > 0.5).astype(int),
            "churned": churned,
        }
    )


def main() -> None:
    rng = np.random.default_rng(20260105)
    train = make(TRAIN_ROWS, rng, drift=np.zeros(TRAIN_ROWS, dtype=bool))
    train_ts = START - pd.Timedelta(days=30) + pd.to_timedelta(np.arange(TRAIN_ROWS) * 60, unit="s")
    train.insert(0, "ts", train_ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    train.insert(0, "request_id", [f"t{i:06d}" for i in range(TRAIN_ROWS)])
    train.to_csv(HERE / "train.csv", index=False)
    drift = np.arange(STREAM_ROWS) >= DRIFT_AT
    stream = make(STREAM_ROWS, rng, drift=drift)
    ts = START + pd.to_timedelta(np.arange(STREAM_ROWS) * 6, unit="s")
    stream.insert(0, "ts", ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    stream.insert(0, "request_id", [f"r{i:06d}" for i in range(STREAM_ROWS)])
    stream.to_csv(HERE / "stream.csv", index=False)


if __name__ == "__main__":
    main()
