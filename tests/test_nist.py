"""NIST StRD linear regression: lstsq reaches the certified values to the required digits.

Each of the eleven sets is fitted through ``df.ooc.lstsq`` with 7 and 13 rows per block and
as one block, and scored by the log relative error (LRE, correct significant digits) of the
parameter estimates, their standard deviations, the residual standard deviation and
R-squared. ``docs/accuracy.md`` has the full table and numpy/statsmodels for comparison
(``bench/nist_accuracy.py`` prints it).
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from nist import (
    FORMULAS,
    MAX_LRE,
    NAMES,
    REQUIRED_PARAMS_LRE,
    Certified,
    lre,
    min_lre,
    read_nist,
)

import ooc_accessor

#: rows per block; None fits the whole set as one block
CHUNKINGS: tuple[int | None, ...] = (7, 13, None)

#: observations and parameters of each set, as NIST's headers state them
SHAPES: dict[str, tuple[int, int]] = {
    "Norris": (36, 2),
    "Pontius": (40, 3),
    "NoInt1": (11, 1),
    "NoInt2": (3, 1),
    "Filip": (82, 11),
    "Longley": (16, 7),
    "Wampler1": (21, 6),
    "Wampler2": (21, 6),
    "Wampler3": (21, 6),
    "Wampler4": (21, 6),
    "Wampler5": (21, 6),
}

#: Lower bounds on the LRE of (standard deviations (min), residual SD, R-squared). These are
#: not the issue's requirements: each is about one digit below the least the library reached
#: over the chunkings 7, 13 and whole (numpy 2.4.6 / OpenBLAS 0.3.31, x86_64; measured values
#: in docs/accuracy.md), the digit left as room for another BLAS's rounding.
SECONDARY_FLOORS: dict[str, tuple[float, float, float]] = {
    "Norris": (11.5, 11.5, 14.0),  # reached 12.8, 12.8, 15
    "Pontius": (11.5, 11.5, 14.0),  # reached 12.7, 12.7, 15
    "NoInt1": (13.0, 13.0, 14.0),  # reached 14.4, 14.6, 15
    "NoInt2": (13.0, 13.0, 14.0),  # reached 14.7, 14.9, 15
    "Filip": (7.0, 7.0, 9.0),  # reached 8.0, 7.9, 10.1
    "Longley": (10.5, 10.5, 12.5),  # reached 11.7, 11.8, 13.9
    "Wampler1": (8.5, 8.5, 14.0),  # reached 9.8, 9.8, 15 (SDs certified 0: absolute error)
    "Wampler2": (13.0, 13.0, 14.0),  # reached 14.5, 14.5, 15 (SDs certified 0: absolute error)
    "Wampler3": (12.0, 12.5, 14.0),  # reached 13.2, 13.6, 15
    "Wampler4": (12.0, 13.5, 14.0),  # reached 13.1, 14.8, 15
    "Wampler5": (12.0, 13.5, 11.5),  # reached 13.1, 14.8, 12.7
}


@cache
def certified(name: str) -> Certified:
    """The parsed set (parsed once per session)."""
    return read_nist(name)


@cache
def fitted(name: str, chunksize: int | None) -> ooc_accessor.LstsqResult:
    """The library's fit of a set (fitted once per session)."""
    c = certified(name)
    return c.data.ooc.lstsq(c.formula, chunksize=chunksize or len(c.data))


def _cases() -> list:
    return [pytest.param(name, k, id=f"{name}-{k or 'whole'}") for name in NAMES for k in CHUNKINGS]


# -- the LRE and the parser ------------------------------------------------------------------


def test_lre():
    assert lre(1.0, 1.0) == MAX_LRE
    assert lre(1.001, 1.0) == pytest.approx(3.0)
    assert lre(-2.0 * (1 - 1e-7), -2.0) == pytest.approx(7.0)
    assert lre(1.0 + 1e-17, 1.0) == MAX_LRE  # rounds to 1.0: exact
    assert lre(1.0 + 4e-16, 1.0) == MAX_LRE  # 15.35 digits, capped
    assert lre(3e-10, 0.0) == pytest.approx(-np.log10(3e-10))  # certified 0: absolute error
    assert lre(0.0, 0.0) == MAX_LRE
    assert lre(5.0, 1.0) == 0.0  # worse than no digit
    assert lre(np.nan, 1.0) == 0.0
    assert min_lre([1.0, 1.01], [1.0, 1.0]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="estimates for"):
        min_lre([1.0], [1.0, 2.0])


@pytest.mark.parametrize("name", NAMES)
def test_parse(name):
    c = certified(name)
    n, p = SHAPES[name]
    assert c.data.shape == (n, 2 if name != "Longley" else 7)
    assert c.params.shape == c.bse.shape == (p,)
    assert not c.data.isna().any().any()
    assert 0 < c.rsquared <= 1 and c.resid_sd >= 0
    assert c.formula == FORMULAS[name]


def test_parse_values():
    """Spot checks against the files' text, first and last lines of each part."""
    longley = certified("Longley")
    assert list(longley.data.columns) == ["y", "x1", "x2", "x3", "x4", "x5", "x6"]
    assert longley.params[0] == -3482258.63459582
    assert longley.bse[-1] == 455.478499142212
    assert longley.data.iloc[0].tolist() == [60323, 83.0, 234289, 2356, 1590, 107608, 1947]
    assert longley.data.iloc[-1].tolist() == [70551, 116.9, 554894, 4007, 2827, 130081, 1962]
    filip = certified("Filip")
    assert filip.params[-1] == -0.402962525080404e-04
    assert filip.resid_sd == 0.334801051324544e-02
    assert filip.rsquared == 0.996727416185620
    assert filip.data.iloc[0].tolist() == [0.8116, -6.860120914]
    noint1 = certified("NoInt1")
    assert noint1.params.tolist() == [2.07438016528926]
    assert noint1.rsquared == 0.999365492298663
    assert certified("Wampler1").bse.tolist() == [0.0] * 6
    assert certified("Wampler5").data["y"].iloc[-1] == 10958421


# -- accuracy ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "chunksize"), _cases())
def test_params_lre(name, chunksize):
    """The issue's required digits on every parameter estimate, at every chunking."""
    fit = fitted(name, chunksize)
    c = certified(name)
    assert len(fit.params) == SHAPES[name][1]
    digits = min_lre(fit.params.to_numpy(), c.params)
    assert digits >= REQUIRED_PARAMS_LRE[name], f"{name}: {digits:.2f} digits"


@pytest.mark.parametrize(("name", "chunksize"), _cases())
def test_secondary_lre(name, chunksize):
    """Standard deviations, residual SD and R-squared (measured floors, see above)."""
    fit = fitted(name, chunksize)
    c = certified(name)
    got = (
        min_lre(fit.bse.to_numpy(), c.bse),
        lre(np.sqrt(fit.scale), c.resid_sd),
        lre(fit.rsquared, c.rsquared),
    )
    floors = SECONDARY_FLOORS[name]
    for what, digits, floor in zip(("bse", "resid SD", "R^2"), got, floors, strict=True):
        assert digits >= floor, f"{name} {what}: {digits:.2f} digits < {floor}"


@pytest.mark.parametrize(("name", "chunksize"), _cases())
def test_model_bookkeeping(name, chunksize):
    """Full rank everywhere, NIST's residual degrees of freedom, and the constant detected."""
    fit = fitted(name, chunksize)
    n, p = SHAPES[name]
    assert fit.rank == p
    assert fit.df_resid == n - p
    assert fit.nobs == n
    assert fit.k_constant == (0 if name.startswith("NoInt") else 1)


@pytest.mark.parametrize("chunksize", CHUNKINGS)
def test_filip_full_rank(chunksize):
    """Filip (condition ~1e15, ~2e-10 after equilibration) is not called rank deficient.

    numpy's lstsq and statsmodels' pinv drop a singular value here and lose every digit.
    """
    c = certified("Filip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = c.data.ooc.lstsq(c.formula, chunksize=chunksize or len(c.data))
    assert not [w for w in caught if issubclass(w.category, ooc_accessor.RankWarning)]
    assert fit.rank == 11
    assert fit.df_resid == 71
    # on the raw design the smallest singular value (5.7e-16 relative) sits below numpy's
    # cutoff, eps * max(n, p) = 1.8e-14, which is why numpy calls the design rank 10
    sv = fit.singular_values
    assert sv.shape == (11,)
    assert 0 < sv[-1] / sv[0] < np.finfo(np.float64).eps * 82


# -- an exact dependence is reported ----------------------------------------------------------


def _copy_frame(n: int = 50, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["a2"] = 2 * df["a"]
    df["y"] = 1.0 + df["a"] - 0.5 * df["b"] + rng.normal(scale=0.1, size=n)
    return df


@pytest.mark.parametrize(
    ("formula", "p"),
    [("y ~ a + a2 + b", 4), ("y ~ 0 + a + a2 + b", 3)],
    ids=["intercept", "no-intercept"],
)
@pytest.mark.parametrize("chunksize", [7, 50])
def test_exact_copy_is_rank_deficient(formula, p, chunksize):
    """``a2 = 2 a``: one rank short, a RankWarning naming both, numpy's minimum-norm fit."""
    df = _copy_frame()
    with pytest.warns(ooc_accessor.RankWarning, match=rf"rank {p - 1} for {p} columns") as rec:
        fit = df.ooc.lstsq(formula, chunksize=chunksize)
    msg = str(rec[0].message)
    assert "'a'" in msg and "'a2'" in msg  # names the dependent pair...
    assert "'b'" not in msg and "'Intercept'" not in msg  # ...and nothing else
    assert fit.rank == p - 1
    assert fit.df_resid == len(df) - (p - 1)
    y, x = (df["y"].to_numpy(), df[["a", "a2", "b"]].to_numpy())
    if p == 4:
        x = np.column_stack([np.ones(len(df)), x])
    expected = np.linalg.lstsq(x, y, rcond=None)[0]
    np.testing.assert_allclose(fit.params.to_numpy(), expected, rtol=1e-8)
    # the minimum-norm split of a's effect: a2's coefficient is twice a's
    assert fit.params["a2"] == pytest.approx(2 * fit.params["a"], rel=1e-8)


@pytest.mark.parametrize("name", ["Longley", "Wampler1", "Wampler3", "Wampler4", "Wampler5"])
def test_params_lre_at_every_chunk_size(name):
    """Every block size from 1 row to the whole set keeps the required digits.

    Before the refinement pass, Wampler5 split 13 + 8 rows scored 5.38 (a plain Householder
    QR of that split does too): a one-pass float64 QR of a large-residual problem can land
    anywhere in 5.1-8.1 digits depending on the order of operations.
    """
    c = certified(name)
    for k in range(1, len(c.data) + 1):
        fit = c.data.ooc.lstsq(c.formula, chunksize=k)
        digits = min_lre(fit.params.to_numpy(), c.params)
        assert digits >= REQUIRED_PARAMS_LRE[name] + 3, f"{name} chunksize={k}: {digits:.2f}"
