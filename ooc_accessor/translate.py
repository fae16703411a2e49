"""patsy's errors turned into ours, naming the factor, level or column at fault.

And naming the real cause: a level given as another type (``'False'`` for ``False``) is a
type clash, not an unseen level; a NaN that a transform made from values that are present
(``np.log`` of a negative, ``standardize()`` of a constant column) is not missing data.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from patsy import PatsyError
from patsy.design_info import DesignInfo
from patsy.eval import ast_names

from .errors import ColumnTypeError, DataError, FormulaError, UnseenLevelError

_CONVERT = {
    "bool": "data[{c!r}].map({{'True': True, 'False': False}})",
    "number": "pd.to_numeric(data[{c!r}])",
    "str": "data[{c!r}].astype(str)",
    "date": "pd.to_datetime(data[{c!r}])",
}


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
        clash = _clash_in_block(factor, block, list(infos))
        if clash is not None:
            return ColumnTypeError(clash)
        return UnseenLevelError(
            f"level {m.group(1)} of factor {factor!r} was not seen when the design was built "
            f"(levels: {_levels(factor, infos)}); drop those rows, or build the design from "
            "data that has that level"
        )
    if "missing values" in msg:
        made = _transform_nan(block, list(infos))
        if made is not None:
            return DataError(made)
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
    if block is not None and code and "categorical data" in msg:
        # levels must be hashable: lists or dicts in a column cannot be levels
        names = [n for n in _names(code) if n in block.columns]
        what = f"column {names[0]!r}" if names else "it"
        return ColumnTypeError(
            f"{code!r} uses {what} as a factor but its values cannot be levels (they must be "
            f"hashable: str, numbers, bool, dates or tuples, not lists); convert them, e.g. "
            f"to tuples or str\n{msg}"
        )
    if block is not None and code:
        for name in _names(code):
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


def _names(code: str) -> list[str]:
    try:
        return list(dict.fromkeys(ast_names(code)))
    except SyntaxError:
        return []


def _levels(code: str, infos: list[DesignInfo]) -> str:
    for info in infos:
        for factor, fi in info.factor_infos.items():
            if factor.code == code and fi.categories is not None:
                return ", ".join(map(repr, fi.categories))
    return "?"


def _kind(v: Any) -> str:
    """The kind of a level, as patsy matches them (1 == 1.0 == True, never '1')."""
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(v, str):
        return "str"
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return "date"
    return type(v).__name__


def level_type_clash(column: str, code: str, value: Any, levels: list) -> str | None:
    """Why ``value`` of ``column`` matches no level, when the reason is its type.

    None when the design's levels hold a value of the same kind (then the level is truly
    unseen).
    """
    kinds = {_kind(v) for v in levels}
    kind, value = _kind(value), label(value)
    if kind in kinds or not kinds:
        return None
    want = " or ".join(sorted(kinds))
    same = [v for v in levels if str(v) == str(value)]
    reads = f": {value!r} is the level {same[0]!r} written as {kind}" if same else ""
    fix = _CONVERT.get(want, "data[{c!r}].astype(...)").format(c=column)
    return (
        f"column {column!r} holds {value!r} ({kind}) but the design's levels of {code!r} are "
        f"{want} ({', '.join(map(repr, levels))}){reads}; convert the column to {want} "
        f"before building or predicting, e.g. {fix}"
    )


def _clash_in_block(code: str, block: pd.DataFrame | None, infos: list[DesignInfo]) -> str | None:
    """A type clash between ``code``'s column in ``block`` and the levels it learned."""
    if block is None:
        return None
    for info in infos:
        for factor, fi in info.factor_infos.items():
            if factor.code != code or fi.categories is None:
                continue
            names = [n for n in ast_names(code) if n in block.columns]
            if len(names) != 1:
                return None
            try:
                known = set(fi.categories)
            except TypeError:
                return None
            for v in pd.unique(block[names[0]].dropna()):
                if v not in known:
                    return level_type_clash(names[0], code, v, list(fi.categories))
    return None


def inputs_at(text: str, data: pd.DataFrame, row: int) -> str:
    """``" where x = 0.0"``: the columns ``text`` reads, at position ``row`` of ``data``."""
    try:
        names = [n for n in dict.fromkeys(ast_names(text)) if n in data.columns]
    except (SyntaxError, ValueError):
        return ""
    values = ", ".join(f"{n} = {label(data[n].iloc[row])!r}" for n in names)
    return f" where {values}" if values else ""


def _nan_factor(block: pd.DataFrame, infos: list[DesignInfo]) -> tuple[Any, int] | None:
    """The first numerical factor NaN in ``block``, and the first such row."""
    for info in infos:
        for factor, fi in info.factor_infos.items():
            if fi.type != "numerical":
                continue
            try:
                with np.errstate(all="ignore"):
                    v = np.asarray(factor.eval(fi.state, block), dtype=np.float64)
            except Exception:  # only looking: patsy's own error stands
                continue
            nan = np.isnan(v.reshape(len(v), -1)).any(axis=1) if v.ndim else np.isnan([v])
            if nan.any():
                return fi, int(np.flatnonzero(nan)[0])
    return None


def _transform_nan(block: pd.DataFrame | None, infos: list[DesignInfo]) -> str | None:
    """Why a factor is NaN where none of its inputs is missing; None if one is."""
    found = None if block is None or not infos else _nan_factor(block, infos)
    if found is None:
        return None
    fi, row = found
    code = fi.factor.code
    cols = [n for n in ast_names(code) if n in block.columns]
    if not cols or block[cols].iloc[row].isna().any():
        return None
    return (
        f"{code!r} is NaN at row {label(block.index[row])!r}{inputs_at(code, block, row)}, "
        f"although no value is missing there: {_nan_cause(fi, cols)}"
    )


def _nan_cause(fi: Any, cols: list[str]) -> str:
    for obj in fi.state.get("transforms", {}).values():
        name = type(obj).__name__
        learned = getattr(obj, "current_mean", getattr(obj, "_sum", None))
        if name in ("Center", "Standardize") and np.isnan(np.asarray(learned, float)).any():
            return (
                f"{name.lower()}() learned a NaN mean because {cols} held missing values when "
                f"the design was built (patsy's {name.lower()}() does not skip them), so every "
                f"row is NaN; drop those rows first, e.g. data.dropna(subset={cols})"
            )
        if name == "Standardize" and (np.asarray(obj.current_M2, float) == 0).any():
            return (
                f"{cols} held a single value when the design was built, so its standard "
                "deviation is 0 and standardize() divides by zero; leave the constant column "
                "out, or use it without standardize() (the bare column, or center())"
            )
    return (
        "the term is undefined for these values (a log or square root of a negative number, "
        "0/0, inf - inf); fix or drop those rows, or change the term (patsy would drop the "
        "row as if a value were missing)"
    )
