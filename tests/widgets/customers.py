"""Small data for the Train and Predict wizard tests: it trains in a blink."""

from __future__ import annotations

import numpy as np
import pandas as pd


def customers(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """Customers with a number, a category, a flag and a date, a class to predict (``churn``)
    that depends on them and a numeric target (``spend``)."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 60, n)
    region = rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2])
    support = rng.random(n) < 0.4
    score = -0.08 * tenure + 1.5 * support + np.where(region == "east", 1.0, 0.0)
    churn = np.where(score + rng.normal(0, 0.5, n) > -1.2, "yes", "no")
    return pd.DataFrame(
        {
            "tenure": tenure,
            "region": region,
            "support_calls": support,
            "signup": pd.date_range("2023-01-01", periods=n, freq="D"),
            "spend": 20 + 2.5 * tenure + rng.normal(0, 3, n),
            "churn": churn,
        }
    )
