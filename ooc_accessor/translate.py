"""patsy's errors turned into ours, naming the factor, level or column at fault."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from patsy import PatsyError
from patsy.design_info import DesignInfo
from patsy.eval import ast_names

from .errors import ColumnTypeError, DataError, FormulaError, UnseenLevelError


def label(v: Any) -> Any:
    """A row label as the user wrote it (numpy scalars unwrapped) for messages."""
    return v.item() if isinstance(v, np.generic) else v


def _origin_code(exc: PatsyError) -> str | None:
    """The part of the formula patsy's error points at (its caret span)."""
    origin = getattr(exc, "origin", None)
    if origin is None:
        return None
    return origin.code[origin.start : origin.end]


def _unseen_factor(level: str, block: pd.DataFrame | None, infos: list[DesignInfo]) -> str:
    """Which categorical factor holds ``level`` (patsy's message does not say).

    The factor whose column holds the level as written; else, when the level comes out
    of a transform (``C(g.str.upper())``), the only categorical factor reading the block,
    or all of them.
    """
    candidates = []
    for info in infos:
        for factor, fi in info.factor_infos.items():
            if fi.type != "categorical" or block is None:
                continue
            names = [n for n in ast_names(factor.code) if n in block.columns]
            for name in names:
                if (block[name].astype(str) == level).any():
                    return factor.code
            if names and factor.code not in candidates:
                candidates.append(factor.code)
    return " or ".join(candidates) if candidates else "?"


def translate(
    exc: PatsyError, block: pd.DataFrame | None, formula: str, infos: list[DesignInfo] = ()
) -> Exception:
    """patsy's error as one of ours, with the offending factor, level or column named."""
    msg = str(exc)
    code = _origin_code(exc)
    m = re.search(r"observation with value (.+?) does not match any of the expected levels", msg)
    if m:
        level = m.group(1).strip("'\"")
        factor = _unseen_factor(level, block, list(infos))
        return UnseenLevelError(
            f"level {m.group(1)} of factor {factor!r} was not seen when the design was built "
            f"(levels: {_levels(factor, infos)}); drop those rows, or build the design from "
            "data that has that level"
        )
    if "missing values" in msg:
        cols = [] if block is None else [c for c in block.columns if block[c].isna().any()]
        counts = ", ".join(f"{c!r} ({int(block[c].isna().sum())} missing)" for c in cols)
        first = (
            f" (the first at row {label(block.index[block[cols[0]].isna().to_numpy()][0])!r})"
            if cols
            else ""
        )
        return DataError(
            f"missing='raise' and column(s) {counts or '?'} hold missing values{first}; "
            f"fill them, or pass missing='drop' to drop those rows\n{msg}"
        )
    if block is not None and code:
        try:
            names = ast_names(code)
        except SyntaxError:
            names = []
        for name in names:
            if name in block.columns and not pd.api.types.is_numeric_dtype(block[name].dtype):
                return ColumnTypeError(
                    f"column {name!r} has dtype {block[name].dtype} but {code!r} uses it as "
                    f"numbers; convert it (pd.to_numeric) or use it as a factor, C({name})\n{msg}"
                )
    where = f" in {code!r}" if code else ""
    return FormulaError(
        f"cannot evaluate formula {formula!r}{where}; fix the term patsy's reason below "
        f"points at:\n{msg}"
    )


def _levels(code: str, infos: list[DesignInfo]) -> str:
    for info in infos:
        for factor, fi in info.factor_infos.items():
            if factor.code == code and fi.categories is not None:
                return ", ".join(map(repr, fi.categories))
    return "?"
