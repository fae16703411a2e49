"""One block through fixed DesignInfos: X and y, vectorized, equal to patsy's bit for bit.

Each factor is evaluated once; categorical values become integer codes against the
learned levels (:func:`~ooc_accessor.formula.sniff.codes_of`), numerical ones are
patsy's own evaluation (already vectorized). Rows with a missing value are dropped or
refused by patsy's NAAction, then each subterm's columns are products in patsy's order
(the left-most factor iterating fastest), multiplied in factor order as patsy does, so
every value is the one patsy computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from patsy import PatsyError
from patsy.build import _CheckMatch, _eval_factor, _subterm_column_combinations
from patsy.design_info import DesignInfo
from patsy.missing import NAAction
from patsy.util import atleast_2d_column_default, safe_issubdtype

from .sniff import codes_of, unbox

__all__ = ["build_arrays"]


def _evaluate(fi: Any, data: pd.DataFrame, na: NAAction) -> tuple[Any, np.ndarray, Any]:
    """``(values, NA mask, what carries the index)`` of one factor on ``data``."""
    if fi.type == "numerical":
        # patsy's _eval_factor, on the numpy array (no pandas ufunc dispatch per block);
        # anything its checks would refuse goes through it, for its own error
        value = fi.factor.eval(fi.state, data)
        arr = atleast_2d_column_default(np.asarray(value))
        if (
            arr.ndim == 2
            and arr.shape[1] == fi.num_columns
            and safe_issubdtype(arr.dtype, np.number)
        ):
            return arr, na.is_numerical_NA(arr), value
        value, is_na = _eval_factor(fi, data, na)
        return value, np.asarray(is_na), value
    value = fi.factor.eval(fi.state, data)
    codes = codes_of(value, fi.categories, na, fi.factor)
    if codes.ndim != 1:  # as patsy's own assertion, as an error
        raise PatsyError("categorical data cannot be >1-dimensional", fi.factor)
    return codes, codes == -1, unbox(value)[0]


def build_arrays(
    infos: list[DesignInfo], data: pd.DataFrame, na_action: str | NAAction
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each DesignInfo's matrix on ``data`` and the index labels of the rows kept.

    The same as ``patsy.build_design_matrices(infos, data, NA_action=na_action,
    return_type="dataframe")``, values and errors alike, without its per-value loops.
    """
    na = NAAction(na_action) if isinstance(na_action, str) else na_action
    values: dict = {}
    nas: dict = {}
    rows = _CheckMatch("Number of rows", lambda a, b: a == b)
    index = _CheckMatch("Index", lambda a, b: a.equals(b))
    index.check(data.index, "data.index", None)
    rows.check(data.shape[0], "data argument", None)
    for info in infos:
        for fi in info.factor_infos.values():
            if fi in values:
                continue
            value, is_na, carrier = _evaluate(fi, data, na)
            name, origin = fi.factor.name(), fi.factor.origin
            rows.check(value.shape[0], name, origin)
            if isinstance(carrier, (pd.Series, pd.DataFrame)):
                index.check(carrier.index, name, origin)
            values[fi] = np.asarray(value)
            nas[fi] = is_na
    labels = np.asarray(index.value)
    n = rows.value
    if na.on_NA == "raise":
        na.handle_NA(list(values.values()), list(nas.values()), [fi.factor.origin for fi in nas])
    elif nas:
        drop = np.logical_or.reduce(list(nas.values()))
        if drop.any():
            keep = ~drop
            values = {fi: v[keep] for fi, v in values.items()}
            labels = labels[keep]
            n = len(labels)
    # a product that overflows is refused by name afterwards (non-finite design values)
    with np.errstate(over="ignore", invalid="ignore"):
        return [_matrix(info, values, n) for info in infos], labels


def _matrix(info: DesignInfo, values: dict, n: int) -> np.ndarray:
    """One design matrix from the factors' values (patsy's ``_build_subterm``).

    Each column is the product of its factors' columns, taken in factor order from 1 as
    patsy does (so the same floating-point result). The matrix is column-major: each
    column is computed in place, contiguous (4x faster than into a row-major matrix).
    """
    out = np.empty((n, len(info.column_names)), dtype=np.float64, order="F")
    factor_infos = info.factor_infos
    negative: dict = {}
    col = 0
    for subterms in info.term_codings.values():
        for subterm in subterms:
            for combo in _subterm_column_combinations(factor_infos, subterm):
                column = out[:, col]
                if not subterm.factors:  # the intercept
                    column[...] = 1
                # the first factor is written, the others multiply: 1 * v is v exactly, so
                # this is patsy's product bit for bit, one pass over the column fewer
                for i, (factor, j) in enumerate(zip(subterm.factors, combo, strict=True)):
                    fi = factor_infos[factor]
                    v = values[fi]
                    if fi.type == "categorical":
                        if fi not in negative:
                            negative[fi] = bool(v.size) and v.min() < 0
                        if negative[fi]:
                            raise PatsyError(
                                "can't build a design matrix containing missing values", factor
                            )
                        coded = subterm.contrast_matrices[factor].matrix[:, j]
                        if i == 0:  # codes are in range: "clip" spares take's out= buffer
                            np.take(coded, v, out=column, mode="clip")
                        else:
                            column *= np.take(coded, v)
                    elif i == 0:
                        column[...] = v[:, j]
                    else:
                        column *= v[:, j]
                col += 1
    return out
