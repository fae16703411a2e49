"""NIST StRD linear-regression files: parser, models, and the log relative error (LRE).

The eleven ``.dat`` files are read exactly as NIST publishes them (CRLF line endings). Each
header says where its parts sit ("Certified Values (lines X to Y)", "Data (lines X to Y)"),
and the parser takes the line numbers from there rather than assuming a layout.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DATA_DIR",
    "FORMULAS",
    "MAX_LRE",
    "NAMES",
    "REQUIRED_PARAMS_LRE",
    "Certified",
    "lre",
    "min_lre",
    "read_nist",
]

#: NIST's files, byte-exact (CRLF kept by .gitattributes), with their README and SHA256SUMS.
DATA_DIR = Path(__file__).resolve().parent / "data" / "nist"

#: digits of a double: LRE is capped here (and exact agreement scores it).
MAX_LRE = 15.0


def _poly(degree: int) -> str:
    """``"y ~ x + I(x**2) + ... + I(x**degree)"``."""
    return "y ~ x" + "".join(f" + I(x**{k})" for k in range(2, degree + 1))


#: the model NIST certifies for each set, as a patsy formula on columns ``y``, ``x``/``x1..``.
FORMULAS: dict[str, str] = {
    "Norris": "y ~ x",
    "Pontius": _poly(2),
    "NoInt1": "y ~ 0 + x",
    "NoInt2": "y ~ 0 + x",
    "Filip": _poly(10),
    "Longley": "y ~ x1 + x2 + x3 + x4 + x5 + x6",
    "Wampler1": _poly(5),
    "Wampler2": _poly(5),
    "Wampler3": _poly(5),
    "Wampler4": _poly(5),
    "Wampler5": _poly(5),
}

#: the sets, in NIST's order of difficulty (lower, average, higher)
NAMES: list[str] = list(FORMULAS)

#: the issue's required minimum LRE of the parameter estimates (minimum over parameters)
REQUIRED_PARAMS_LRE: dict[str, float] = {
    "Norris": 11,
    "Pontius": 11,
    "NoInt1": 13,
    "NoInt2": 13,
    "Longley": 9,
    "Filip": 6,
    "Wampler1": 8,
    "Wampler2": 10,
    "Wampler3": 8,
    "Wampler4": 7,
    "Wampler5": 5.5,
}

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = {
    "certified": re.compile(r"Certified Values\s*\(lines\s+(\d+)\s+to\s+(\d+)\)"),
    "data": re.compile(r"Data\s*\(lines\s+(\d+)\s+to\s+(\d+)\)"),
}
_PARAM = re.compile(rf"^\s*B(\d+)\s+({_NUM})\s+({_NUM})\s*$")
_RESID_SD = re.compile(rf"^\s*Standard Deviation\s+({_NUM})\s*$")
_RSQUARED = re.compile(rf"^\s*R-Squared\s+({_NUM})\s*$")


@dataclass(frozen=True)
class Certified:
    """One NIST StRD linear set: its data and certified values.

    Attributes
    ----------
    name : str
        The set's name, e.g. ``"Filip"``.
    data : pandas.DataFrame
        The observations, columns named as in the file's ``Data:`` line (``y``, ``x``...).
    params : numpy.ndarray
        Certified estimates B0, B1, ... (B1 alone for the no-intercept sets).
    bse : numpy.ndarray
        Their certified standard deviations.
    resid_sd : float
        Certified residual standard deviation.
    rsquared : float
        Certified R-squared (uncentred for the no-intercept sets).
    """

    name: str
    data: pd.DataFrame
    params: np.ndarray
    bse: np.ndarray
    resid_sd: float
    rsquared: float

    @property
    def formula(self) -> str:
        """The certified model as a patsy formula."""
        return FORMULAS[self.name]


def _line_range(lines: list[str], part: str, path: Path) -> tuple[int, int]:
    """0-based ``[start, stop)`` of a part, from the header's "(lines X to Y)" (1-based)."""
    for line in lines[:30]:
        m = _RANGE[part].search(line)
        if m:
            return int(m.group(1)) - 1, int(m.group(2))
    raise ValueError(f"{path}: no '{part} (lines X to Y)' in the header")


def read_nist(name: str, directory: Path = DATA_DIR) -> Certified:
    """Parse ``directory / f"{name}.dat"``.

    Parameters
    ----------
    name : str
        A set's name, e.g. ``"Longley"``.
    directory : pathlib.Path
        Where the ``.dat`` files are.

    Returns
    -------
    Certified
    """
    path = directory / f"{name}.dat"
    # splitlines() takes CRLF as one break, so line k of the file is lines[k - 1]
    lines = path.read_bytes().decode("ascii").splitlines()
    c0, c1 = _line_range(lines, "certified", path)
    d0, d1 = _line_range(lines, "data", path)

    params: dict[int, tuple[float, float]] = {}
    resid_sd = rsquared = None
    for line in lines[c0:c1]:
        if m := _PARAM.match(line):
            params[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
        elif m := _RESID_SD.match(line):
            resid_sd = float(m.group(1))
        elif m := _RSQUARED.match(line):
            rsquared = float(m.group(1))
    if not params or resid_sd is None or rsquared is None:
        raise ValueError(f"{path}: certified values incomplete in lines {c0 + 1} to {c1}")
    order = sorted(params)
    if order != list(range(order[0], order[0] + len(order))):
        raise ValueError(f"{path}: parameters B{order} are not consecutive")

    # the column names are on the "Data:" line just above the first data line
    head = lines[d0 - 1].split()
    if not head or head[0] != "Data:":
        raise ValueError(f"{path}: line {d0} should name the data columns ('Data: y x ...')")
    columns = head[1:]
    rows = [line.split() for line in lines[d0:d1]]
    bad = [i for i, r in enumerate(rows) if len(r) != len(columns)]
    if bad:
        raise ValueError(f"{path}: data line {d0 + bad[0] + 1} has not {len(columns)} values")
    data = pd.DataFrame(np.array(rows, dtype=np.float64), columns=columns)
    return Certified(
        name=name,
        data=data,
        params=np.array([params[k][0] for k in order]),
        bse=np.array([params[k][1] for k in order]),
        resid_sd=resid_sd,
        rsquared=rsquared,
    )


def lre(estimate: float, certified: float) -> float:
    """Log relative error: the number of correct significant digits, capped at 15.

    ``-log10(|estimate - certified| / |certified|)``; when the certified value is exactly 0
    (the exact fits Wampler1/2), the absolute error ``-log10(|estimate|)``. A NaN estimate
    scores 0.
    """
    estimate, certified = float(estimate), float(certified)
    if math.isnan(estimate):
        return 0.0
    err = abs(estimate - certified)
    if certified != 0.0:
        err /= abs(certified)
    if err == 0.0:
        return MAX_LRE
    return float(min(MAX_LRE, max(0.0, -math.log10(err))))


def min_lre(estimates: np.ndarray, certified: np.ndarray) -> float:
    """The least :func:`lre` over paired values (the weakest parameter)."""
    estimates, certified = np.asarray(estimates), np.asarray(certified)
    if estimates.shape != certified.shape:
        raise ValueError(f"{estimates.shape} estimates for {certified.shape} certified values")
    return min(lre(e, c) for e, c in zip(estimates, certified, strict=True))
