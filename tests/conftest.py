"""Shared fixtures: frames with NaNs, a categorical, and a non-0-based index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ooc_accessor  # noqa: F401 - registers .ooc


def make_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A regression frame: 4 numeric columns, a 5-level categorical, NaNs, odd index."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(2, 3, size=n),
            "c": rng.uniform(-1, 1, size=n),
            "d": rng.normal(size=n),
            "cat1": rng.choice(["alpha", "beta", "gamma", "delta", "eps"], size=n),
            "w": rng.uniform(0.2, 3.0, size=n),
        }
    )
    df["y"] = (
        1.5
        + 2 * df.a
        - 0.5 * df.b
        + df.c * df.d
        + df.cat1.map({"alpha": 0, "beta": 1, "gamma": -1, "delta": 0.5, "eps": 2})
        + rng.normal(size=n)
    )
    # missing values at fixed rows (those that exist in a short frame)
    df.loc[df.index[[i for i in (3, 17, 50) if i < n]], "a"] = np.nan
    df.loc[df.index[[i for i in (8,) if i < n]], "cat1"] = None
    df.loc[df.index[[i for i in (99,) if i < n]], "y"] = np.nan
    df.index = pd.Index(np.arange(n) * 7 + 1000, name="row")
    return df


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


FORMULA = "y ~ a + b + c + d + d:c + a:b + a:c + C(cat1)"
