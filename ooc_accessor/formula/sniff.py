"""Categorical values, vectorized: the levels a block holds and its integer codes.

patsy sniffs levels and codes values with a Python loop over every value. Here the loop
runs over a block's *distinct* values only (``pd.factorize``), applying patsy's own rules
to each: its NA test (``NAAction.is_categorical_NA``: ``None`` or anything ``float()``
reads as NaN, so the string ``"nan"`` too; not ``pd.NA`` nor ``NaT``), ``True``/``False``
implying both levels, a bool dtype being ``{False, True}``, a pandas Categorical's
categories being its levels. Whatever this cannot decide exactly (2-D or scalar values,
unhashable values, nulls other than ``None``/NaN, dates) returns ``None``, and the caller
uses patsy's own per-value code for that factor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from patsy import PatsyError
from patsy.categorical import _CategoricalBox, categorical_to_int
from patsy.missing import NAAction
from patsy.util import safe_is_pandas_categorical

__all__ = ["codes_of", "distinct", "present_categories", "unbox"]

# pd.factorize hashes these kinds of arrays by value, as Python's dict would
_KINDS = "biufUO"


def unbox(value: Any) -> tuple[Any, Any, tuple | None, bool]:
    """``(data, contrast, fixed levels, has contrast)`` of a factor's value (``C()`` box)."""
    if isinstance(value, _CategoricalBox):
        levels = None if value.levels is None else tuple(value.levels)
        return value.data, value.contrast, levels, True
    return value, getattr(value, "contrast", None), None, hasattr(value, "contrast")


def _hashable_kind(dtype: np.dtype) -> bool:
    """Whether pd.factorize takes this numpy dtype (it has no float16 hash table)."""
    return dtype.kind in _KINDS and dtype != np.float16


def _array(data: Any) -> Any:
    """A 1-D Series or ndarray patsy would iterate value by value, or None."""
    if isinstance(data, pd.Series):
        dtype = data.dtype
        if isinstance(dtype, np.dtype):
            return data if _hashable_kind(dtype) else None
        return data if isinstance(dtype, pd.StringDtype) else None
    if isinstance(data, np.ndarray) and data.ndim == 1 and _hashable_kind(data.dtype):
        return data
    return None


def _nulls_are_na(data: Any, codes: np.ndarray) -> bool:
    """Whether every value pandas calls null is one patsy calls NA (None or a float NaN)."""
    null = codes < 0
    if not null.any():
        return True
    values = np.asarray(data[null] if isinstance(data, np.ndarray) else data.to_numpy()[null])
    if values.dtype.kind == "f":
        return True
    if values.dtype.kind != "O":
        return False
    kinds = pd.unique(np.frompyfunc(type, 1, 1)(values))
    return all(k is type(None) or issubclass(k, (float, np.floating)) for k in kinds)


def distinct(data: Any) -> tuple[np.ndarray, list] | None:
    """``(codes, uniques)``: each value's index into its distinct values, patsy-typed.

    Uniques are in order of first occurrence and typed as patsy's loop sees them (a
    Series yields Python scalars, an ndarray numpy scalars); NA values (None, NaN) have
    code -1. None when the values cannot be handled exactly here.
    """
    arr = _array(data)
    if arr is None:
        return None
    try:
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    except TypeError:  # unhashable values: patsy's loop says which
        return None
    if not _nulls_are_na(arr, codes):
        return None
    if isinstance(arr, pd.Series):
        values = list(pd.Series(uniques, dtype=arr.dtype))
    else:
        values = list(np.asarray(uniques, dtype=arr.dtype))
    return codes, values


def first_bool(data: Any, codes: np.ndarray, i: int) -> int | None:
    """The first row whose value is coded ``i`` and is a Python bool, if any.

    pandas codes ``1`` and ``True`` (``0`` and ``False``) alike and keeps the first seen,
    but patsy's rule "``True`` or ``False`` adds both levels" acts where a bool is.
    """
    rows = np.flatnonzero(codes == i)
    values = np.asarray(data, dtype=object)[rows]
    hit = np.flatnonzero(
        np.frompyfunc(lambda v: v is True or v is False, 1, 1)(values).astype(bool)
    )
    return int(rows[hit[0]]) if hit.size else None


def sniffed_levels(data: Any, codes: np.ndarray, uniques: list, na_action: NAAction) -> dict:
    """patsy's level set of one block from its distinct values, in patsy's insertion order.

    patsy adds each value in row order, ``True``/``False`` adding both bools; of equal
    values (``1 == 1.0 == True``) the first added names the level.
    """
    events: list[tuple[int, int, Any]] = []  # (row, order, value or None for the bools)
    objects = isinstance(data.dtype, np.dtype) and data.dtype.kind == "O"
    hidden = False
    for i, u in enumerate(uniques):
        if na_action.is_categorical_NA(u):
            continue
        events.append((i, 0, u))  # uniques come in order of first occurrence
        if (
            objects
            and not isinstance(u, bool)
            and isinstance(u, (int, float, np.number, np.bool_))
            and u in (0, 1)
        ):
            hidden = True
    if hidden:  # a bool coded with an equal 0 or 1 seen first: place it at its own row
        first = pd.Series(np.arange(len(codes))).groupby(codes).first()
        placed = [(int(first[i]), 0, u) for i, _, u in events]
        for i, _, u in events:
            row = first_bool(data, codes, i) if not isinstance(u, bool) else None
            if row is not None:
                placed.append((row, 1, None))
        events = sorted(placed, key=lambda e: (e[0], e[1]))
    levels: dict = {}
    for _, _, u in events:
        if u is None or u is True or u is False:
            levels.update({True: None, False: None})
        else:
            levels[u] = None
    return levels


def present_categories(data: pd.Series) -> list:
    """The categories a Categorical Series actually holds, in category order."""
    codes = np.asarray(data.cat.codes)
    cats = data.cat.categories
    seen = np.bincount(codes[codes >= 0].astype(np.intp), minlength=len(cats)) > 0
    return list(cats[seen])


def codes_of(value: Any, levels: tuple, na_action: NAAction, origin: Any) -> np.ndarray:
    """patsy's ``categorical_to_int`` (the same codes, the same errors), vectorized.

    Values patsy would reject (an unseen level, an unhashable value) and whatever
    :func:`distinct` cannot handle go through patsy's own function, so its errors and
    messages are unchanged.
    """
    data, boxed = value, False
    if isinstance(value, _CategoricalBox):
        if value.levels is not None and tuple(value.levels) != levels:
            return np.asarray(categorical_to_int(value, levels, na_action, origin=origin))
        data, boxed = value.data, True
    if safe_is_pandas_categorical(data):
        cats = data.cat.categories if isinstance(data, pd.Series) else data.categories
        if len(cats) != len(levels) or tuple(cats) != levels:
            return np.asarray(categorical_to_int(data, levels, na_action, origin=origin))
        codes = np.asarray(data.cat.codes if isinstance(data, pd.Series) else data.codes)
        codes = codes.astype(np.intp)
        if boxed:
            # patsy takes a Categorical's codes as they are only unboxed; inside C() it
            # codes value by value, so a category it reads as NA ('NAN') is missing there
            na = np.array([na_action.is_categorical_NA(c) for c in cats] + [False])
            if na.any():
                codes = np.where(na[codes], -1, codes)
        return codes
    found = distinct(data)
    if found is None:
        return np.asarray(categorical_to_int(data, levels, na_action, origin=origin))
    codes, uniques = found
    try:
        lookup = dict(zip(levels, range(len(levels)), strict=True))
        table = np.array(
            [-1 if na_action.is_categorical_NA(u) else lookup[u] for u in uniques] + [-1],
            dtype=np.intp,
        )
    except (KeyError, TypeError):
        # patsy's loop raises its own error at the first offending row
        return np.asarray(categorical_to_int(data, levels, na_action, origin=origin))
    return table[codes]


def check_shape(data: Any, origin: Any) -> None:
    """patsy's refusal of 2-D categorical data."""
    if getattr(data, "ndim", 1) > 1:
        raise PatsyError("categorical data cannot be >1-dimensional", origin)
