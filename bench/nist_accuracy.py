"""NIST StRD linear-regression accuracy: ooc_accessor against numpy and statsmodels.

Fits the eleven NIST linear sets with ``df.ooc.lstsq`` at several chunkings, with
``numpy.linalg.lstsq`` on the same patsy design matrix, and with statsmodels OLS
(``method="pinv"``, its default, and ``method="qr"``), and prints markdown tables of the log
relative error (LRE, correct significant digits, capped at 15) of the parameter estimates
(minimum over parameters), their standard deviations (minimum), the residual standard
deviation and R-squared. ``docs/accuracy.md`` quotes its output.

Run from the repository root::

    python bench/nist_accuracy.py
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import patsy
import scipy
import statsmodels
import statsmodels.api as sm

import ooc_accessor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from nist import (  # the parser lives beside the tests that use it
    DATA_DIR,
    NAMES,
    REQUIRED_PARAMS_LRE,
    Certified,
    lre,
    min_lre,
    read_nist,
)

#: the library's chunkings: 7 and 13 rows per block, and the whole set in one block
CHUNKINGS: tuple[int | None, ...] = (7, 13, None)
QUANTITIES = ("params", "bse", "resid_sd", "rsquared")
TITLES = {
    "params": "Parameter estimates (min LRE over parameters)",
    "bse": "Standard deviations of the estimates (min LRE over parameters)",
    "resid_sd": "Residual standard deviation",
    "rsquared": "R-squared",
}

Scores = dict[str, float]


def score(c: Certified, params, bse, scale: float, rsquared: float) -> Scores:
    """LRE of each certified quantity, given a method's estimates."""
    return {
        "params": min_lre(np.asarray(params), c.params),
        "bse": min_lre(np.asarray(bse), c.bse),
        "resid_sd": lre(np.sqrt(scale), c.resid_sd),
        "rsquared": lre(rsquared, c.rsquared),
    }


def fit_library(c: Certified, chunksize: int | None) -> Scores:
    """``df.ooc.lstsq`` with ``chunksize`` rows per block (``None``: one block)."""
    fit = c.data.ooc.lstsq(c.formula, chunksize=chunksize or len(c.data))
    return score(c, fit.params, fit.bse, fit.scale, fit.rsquared)


def _design(c: Certified) -> tuple[np.ndarray, np.ndarray, bool]:
    y, x = patsy.dmatrices(c.formula, c.data, return_type="dataframe")
    return y.to_numpy()[:, 0], x.to_numpy(), "Intercept" in x.columns


def fit_numpy(c: Certified) -> Scores:
    """``numpy.linalg.lstsq`` (SVD, default ``rcond``); standard errors from ``pinv``."""
    y, x, const = _design(c)
    n, p = x.shape
    b = np.linalg.lstsq(x, y, rcond=None)[0]
    ssr = float(np.sum((y - x @ b) ** 2))
    scale = ssr / (n - p)
    pinv = np.linalg.pinv(x)
    bse = np.sqrt(scale * np.einsum("ij,ij->i", pinv, pinv))
    tss = float(np.sum((y - y.mean()) ** 2)) if const else float(y @ y)
    return score(c, b, bse, scale, 1.0 - ssr / tss)


def fit_statsmodels(method: str) -> Callable[[Certified], Scores]:
    """statsmodels ``OLS(y, X).fit(method=method)`` on the same design matrix."""

    def fit(c: Certified) -> Scores:
        y, x = patsy.dmatrices(c.formula, c.data, return_type="dataframe")
        with warnings.catch_warnings():
            # Filip: pinv reports the design singular, and a negative variance (sqrt -> NaN)
            warnings.simplefilter("ignore")
            res = sm.OLS(y, x).fit(method=method)
            return score(c, res.params, res.bse, res.scale, res.rsquared)

    return fit


def measure() -> pd.DataFrame:
    """LRE table: rows (set, quantity), one column per method."""
    methods: dict[str, Callable[[Certified], Scores]] = {
        f"ooc chunk {k or 'whole'}": (lambda c, k=k: fit_library(c, k)) for k in CHUNKINGS
    }
    methods |= {
        "numpy lstsq": fit_numpy,
        "sm pinv": fit_statsmodels("pinv"),
        "sm qr": fit_statsmodels("qr"),
    }
    rows = {}
    for name in NAMES:
        c = read_nist(name)
        scores = {m: f(c) for m, f in methods.items()}
        for q in QUANTITIES:
            rows[(name, q)] = {m: s[q] for m, s in scores.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["set", "quantity"]
    chunk_cols = [c for c in table.columns if c.startswith("ooc")]
    table.insert(len(chunk_cols), "ooc min", table[chunk_cols].min(axis=1))
    return table


def markdown(table: pd.DataFrame) -> str:
    """One markdown table per quantity; parameters also show the required minimum."""
    out = []
    for q in QUANTITIES:
        t = table.xs(q, level="quantity")
        cols = list(t.columns) + (["required"] if q == "params" else [])
        out += [f"### {TITLES[q]}", "", "| set | " + " | ".join(cols) + " |"]
        out.append("|---|" + "---:|" * len(cols))
        for name, row in t.iterrows():
            cells = [f"{v:.1f}" for v in row]
            if q == "params":
                cells.append(f"{REQUIRED_PARAMS_LRE[name]:g}")
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def versions() -> str:
    """The versions and date the numbers were measured with."""
    return (
        f"Measured {dt.date.today().isoformat()} with ooc_accessor {ooc_accessor.__version__}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, statsmodels "
        f"{statsmodels.__version__}, patsy {patsy.__version__}, pandas {pd.__version__}, "
        f"Python {platform.python_version()} on {platform.machine()} ({platform.system()})."
    )


def main() -> None:
    """Print the versions line and the LRE tables."""
    if not DATA_DIR.is_dir():
        sys.exit(f"NIST data not found at {DATA_DIR}")
    table = measure()
    print(versions())
    print()
    print(markdown(table))


if __name__ == "__main__":
    main()
