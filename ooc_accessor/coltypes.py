"""The kinds of column a design was built from, so new data of another kind is named.

A design records each column's dtype when it is built; new data for ``predict``,
``build`` or ``update`` whose column a numerical term reads but that holds no numbers
(text, objects, booleans, dates, a Categorical) is refused by name before patsy sees it,
with the dtype found, the dtype the design was built from and how to convert it.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from patsy.design_info import DesignInfo
from patsy.eval import ast_names

from .errors import ColumnTypeError

__all__ = ["check_numeric_inputs", "dtypes_attr", "stored_dtypes"]


def dtypes_attr(source: Any, skip: str) -> str:
    """The store attribute: ``{column: dtype}`` of the columns ``source`` hands on, as JSON."""
    return json.dumps({c: str(source.dtype(c)) for c in source.columns if c != skip})


def stored_dtypes(text: Any) -> dict[str, str] | None:
    """The stored ``{column: dtype}`` map (only ever shown in messages), or None."""
    try:
        out = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if not isinstance(out, dict):
        return None
    return {str(k): str(v) for k, v in out.items()}


def _is_number(dtype: Any) -> bool:
    try:
        dtype = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        return False
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _to_numbers(name: str, dtype: Any) -> str:
    """How to turn column ``name`` of ``dtype`` into numbers, for a message."""
    if pd.api.types.is_bool_dtype(dtype):
        return f"data[{name!r}].astype(float), where True is 1"
    if isinstance(dtype, pd.CategoricalDtype):
        return f"data[{name!r}].astype(float) for a Categorical of numbers"
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return "pass the numbers it was built from (patsy does not read dates as numbers)"
    return f"pd.to_numeric(data[{name!r}]) for numbers stored as text or objects"


def check_numeric_inputs(
    infos: list[DesignInfo],
    dtype_of: Any,
    names: set[str],
    built: dict[str, str] | None,
) -> None:
    """Refuse a column a numerical term reads that holds no numbers (a ColumnTypeError).

    ``built`` maps the columns to the dtypes the design was built from; a column that
    held no numbers then either (a term such as ``x.str.len()`` made the numbers) is let
    through. Without it (a store that does not record them) every such column is refused,
    which is right once patsy has failed on the block.
    """
    for info in infos:
        for factor, fi in info.factor_infos.items():
            if fi.type != "numerical":
                continue
            for name in ast_names(factor.code):
                dtype = dtype_of(name) if name in names else None
                if dtype is None or _is_number(dtype):
                    continue
                was = (built or {}).get(name)
                if built is not None and not (isinstance(was, str) and _is_number(was)):
                    continue
                raise ColumnTypeError(
                    f"column {name!r} has dtype {dtype}, but the design uses it as numbers in "
                    f"{factor.code!r} (it was built from dtype {was or 'numeric'}); convert "
                    f"it before building or predicting: {_to_numbers(name, dtype)}"
                )
