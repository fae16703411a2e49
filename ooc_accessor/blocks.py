"""One block of rows through the formula: patsy's state learned over all blocks, then
each block built with that fixed state (rows with a missing value dropped or refused),
both by the vectorized engine of :mod:`ooc_accessor.formula` (patsy's columns, bit for
bit, without its per-value loops).

Errors name the real cause: a level of the wrong type is not "unseen", and a value a
transform cannot take (``np.log`` of a negative, ``standardize()`` of a constant column)
is not a "missing value".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from patsy import EvalEnvironment, PatsyError
from patsy.design_info import DesignInfo
from patsy.eval import ast_names

from . import progress
from .coltypes import check_numeric_inputs
from .errors import (
    ArgumentError,
    ColumnTypeError,
    DataError,
    FormulaError,
    OOCError,
    UnseenLevelError,
)
from .formula import Learner, build_arrays, finish, merge
from .formula.state import State
from .sources import DatasetSource, FrameSource
from .translate import inputs_at, label, level_type_clash, translate

__all__ = [
    "Block",
    "align_categoricals",
    "build_block",
    "check_missing_policy",
    "empty_info",
    "explain_dropped",
    "learn_infos",
    "response_check",
]

_MISSING = ("drop", "raise")


class Block(NamedTuple):
    """One built block: design rows, response, their row labels and positions, weights."""

    x: np.ndarray
    y: np.ndarray | None
    index: pd.Index
    pos: np.ndarray
    w: np.ndarray | None


def empty_info() -> DesignInfo:
    """A design info with no columns (the response side of a design for prediction)."""
    return DesignInfo([], factor_infos={}, term_codings=OrderedDict())


def learn_infos(
    desc: Any,
    source: FrameSource | DatasetSource,
    rows: int,
    env: EvalEnvironment,
    missing: str,
    formula: str,
) -> list[DesignInfo]:
    """patsy's design infos with state learned over all blocks of ``source``.

    Each block's state is learned on its own and merged (:mod:`ooc_accessor.formula`);
    factors the engine leaves to patsy get patsy's passes over the blocks.
    """
    current: list[pd.DataFrame] = []
    passes = [0]

    def blocks() -> Iterator[pd.DataFrame]:
        passes[0] += 1
        if passes[0] > 1:  # patsy's own passes over the data, for the factors it learns
            progress.restart(f"design: learn, pass {passes[0]}")
        for block in source.blocks(rows):
            current[:] = [block]  # the block being read, to name the culprit
            progress.advance(len(block), progress.frame_bytes(block))
            yield block

    try:
        learner = Learner(desc, env, missing, getattr(source, "string_codes", frozenset()))
        state = State()
        for block in blocks():
            state = merge(state, learner.block(block))
        infos = finish(desc, state, env, missing, data_iter_maker=blocks)
    except PatsyError as exc:
        raise translate(exc, current[0] if current else None, formula) from exc
    except (ValueError, TypeError) as exc:
        if isinstance(exc, OOCError):  # ours, from reading a block: already named
            raise
        # patsy codes a factor that has no level at all with np.eye(-1): a bare ValueError
        empty = _all_missing_column(source)
        if empty is None and "negative dimensions" not in str(exc):
            raise FormulaError(
                f"cannot code formula {formula!r}: {exc}; check the terms it names"
            ) from exc
        what = f"column {empty!r} is missing in every row" if empty else "a factor has no level"
        raise DataError(
            f"cannot code formula {formula!r}: {what}, so every row would be dropped "
            f"(patsy: {exc}); fill it, or leave it out of the formula"
        ) from exc
    return infos


def _all_missing_column(source: Any) -> str | None:
    """A used column of an in-memory frame that holds no value at all, if any."""
    frame = getattr(source, "frame", None)
    if frame is None:
        return None
    return next((c for c in source.columns if not frame[c].notna().any()), None)


def check_missing_policy(missing: Any) -> None:
    """``missing`` must be one of statsmodels' names that this library implements."""
    if missing not in _MISSING:
        raise ArgumentError(
            f"missing must be one of {_MISSING}, not {missing!r}: 'drop' leaves rows with a "
            "missing value out, 'raise' stops at the first"
        )


def build_block(
    infos: list[DesignInfo], block: pd.DataFrame, missing: str, wcol: str | None, formula: str
) -> Block:
    """Build one block with fixed state; rows with a missing value are dropped (or raise)."""
    n = len(block)
    # positional labels survive patsy's NA drop and work with a duplicated index
    data = block.set_axis(pd.RangeIndex(n), axis=0)
    wv = None
    if wcol is not None:
        wv = block[wcol].to_numpy(dtype=np.float64, na_value=np.nan)
        nan = np.isnan(wv)
        if nan.any():
            if missing == "raise":
                raise DataError(
                    "missing='raise' and the weights hold NaN at row "
                    f"{label(block.index[nan][0])!r}; fill that weight, or pass "
                    "missing='drop' to drop the row"
                )
            data = data[~nan]
        bad = (wv < 0) | np.isinf(wv)
        if bad.any():
            raise DataError(
                f"weights must be finite and non-negative; row {label(block.index[bad][0])!r} "
                f"has {float(wv[bad][0])}: fix that weight (a zero weight leaves a row out)"
            )
    data = align_categoricals(data, infos)
    try:
        (y, x), pos = build_arrays(infos, data, missing)
    except PatsyError as exc:
        raise translate(exc, block, formula, infos) from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, OOCError):
            raise
        # patsy fails to format its own "non-numeric data" error (an AttributeError): a
        # column a numerical term reads holds no numbers; name it
        check_numeric_inputs(infos, block.dtypes.get, set(block.columns), None)
        raise FormulaError(
            f"cannot build formula {formula!r} on rows {label(block.index[0])!r}.."
            f"{label(block.index[-1])!r} ({type(exc).__name__}: {exc}); check the terms it "
            "names and those columns' types"
        ) from exc
    y = y if y.shape[1] else None
    if y is not None and y.shape[1] == 1:
        y = y[:, 0]
    index = block.index[pos]
    _check_finite(x, list(infos[1].column_names), index, data, pos)
    if y is not None:
        names = list(infos[0].column_names)
        _check_finite(y[:, None] if y.ndim == 1 else y, names, index, data, pos)
    return Block(x, y, index, pos, None if wv is None else wv[pos])


def align_categoricals(block: pd.DataFrame, infos: list[DesignInfo]) -> pd.DataFrame:
    """pandas Categorical columns recoded to the levels the design learned.

    patsy insists that a Categorical's categories equal the learned levels exactly, so new
    data whose categories are a subset, or in another order, or include unused ones,
    would fail. Those are recoded; a value outside the learned levels is an
    :class:`UnseenLevelError` naming the column and the level.
    """
    out = None
    for info in infos:
        for factor, fi in info.factor_infos.items():
            if fi.type != "categorical":
                continue
            names = [n for n in ast_names(factor.code) if n in block.columns]
            if len(names) != 1 or not isinstance(block[names[0]].dtype, pd.CategoricalDtype):
                continue
            name, levels = names[0], list(fi.categories)
            col = block[name]
            if list(col.cat.categories) == levels:
                continue
            seen = col.cat.remove_unused_categories().cat.categories
            known = set(levels)
            unseen = [v for v in seen if v not in known]
            if unseen:
                clash = level_type_clash(name, factor.code, unseen[0], levels)
                if clash is not None:
                    raise ColumnTypeError(clash)
                raise UnseenLevelError(
                    f"level {unseen[0]!r} of column {name!r} (factor {factor.code!r}) was not "
                    f"seen when the design was built (levels: {', '.join(map(repr, levels))}); "
                    "drop those rows, or build the design from data that has that level"
                )
            out = block.copy() if out is None else out
            out[name] = col.cat.set_categories(levels)
    return block if out is None else out


def _check_finite(
    a: np.ndarray, names: list[str], index: pd.Index, data: pd.DataFrame, pos: np.ndarray
) -> None:
    # one pass that every NaN or inf reaches (a sum that overflows only sends us to the
    # full check), instead of a boolean matrix per block
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(a)):
            return
    bad = ~np.isfinite(a)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        where = inputs_at(names[col], data.loc[pos], row)
        raise DataError(
            f"design column {names[col]!r} is {a[row, col]} at row {label(index[row])!r}"
            f"{where} ({int(bad[:, col].sum())} such value(s) in this block); fix or drop "
            "those rows"
        )


def explain_dropped(
    infos: list[DesignInfo], blocks: Iterator[pd.DataFrame], wcol: str | None, formula: str
) -> None:
    """When every row was dropped, blame a term that made the NaN, if one did.

    patsy drops a row wherever a factor's value is NaN, as statsmodels does, so a row whose
    inputs are all present is dropped when ``np.log`` of a negative value, or
    ``standardize()`` of a constant column, is NaN there. When that leaves nothing, the
    first such row is rebuilt alone with ``NA_action="raise"`` and the error names the
    term, the row, its inputs and the cause (else the caller blames missing values).
    """
    for block in blocks:
        columns = [c for c in block.columns if c != wcol]
        present = np.flatnonzero(~block[columns].isna().any(axis=1).to_numpy())
        if wcol is not None:
            present = present[~np.isnan(block[wcol].to_numpy(np.float64, na_value=np.nan))[present]]
        if present.size == 0:
            continue
        row = align_categoricals(block.iloc[present[:1]], infos)
        try:
            build_arrays(infos, row, "raise")
        except PatsyError as exc:
            raise translate(exc, row, formula, infos) from exc
        return


def response_check(infos: list[DesignInfo], source: FrameSource | DatasetSource) -> None:
    """A categorical response would become several columns: refuse it by name."""
    y_info = infos[0]
    if len(y_info.column_names) <= 1:
        return
    for fi in y_info.factor_infos.values():
        if fi.type == "categorical":
            code = fi.factor.code
            dtype = source.dtype(code) if code in source.names else "categorical"
            raise ColumnTypeError(
                f"the response {code!r} is categorical (dtype {dtype}), so it would become "
                f"{len(y_info.column_names)} columns; a regression needs a numeric response: "
                "put a numeric column on the left of '~' (not C(...))"
            )
