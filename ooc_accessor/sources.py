"""Sources: what the user holds, turned into blocks of rows.

Nothing downstream knows where rows came from. A source yields pandas DataFrames of at most
``rows`` rows, with the columns a formula uses, in dtypes patsy can read (nullable pandas
dtypes become float64 with NaN), and can be iterated any number of times.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import patsy.builtins
from patsy import EvalEnvironment
from patsy.eval import ast_names

from .errors import ColumnTypeError, DataError, MissingColumnError

#: bytes of design matrix per block when ``chunksize="auto"``: a block, patsy's
#: intermediates (a few copies of it) and a QR work buffer stay well under 100 MB.
AUTO_BLOCK_BYTES = 16 * 2**20
_PATSY_NAMES = set(patsy.builtins.__all__) | set(dir(builtins))


def auto_rows(n_columns: int, target_bytes: int = AUTO_BLOCK_BYTES) -> int:
    """Rows per block so that ``n_columns`` float64 columns take about ``target_bytes``."""
    return max(1024, int(target_bytes // (8 * max(n_columns, 1))))


def resolve_chunksize(chunksize: int | str, n_columns: int) -> int:
    """Rows per block from ``chunksize`` ("auto" or a positive int)."""
    if isinstance(chunksize, str):
        if chunksize != "auto":
            raise ValueError(f"chunksize must be 'auto' or a positive int, not {chunksize!r}")
        return auto_rows(n_columns)
    if isinstance(chunksize, (bool, np.bool_)) or not isinstance(chunksize, (int, np.integer)):
        raise TypeError(f"chunksize must be 'auto' or a positive int, not {chunksize!r}")
    if chunksize < 1:
        raise ValueError(f"chunksize must be a positive number of rows, not {chunksize}")
    return int(chunksize)


_QUOTED = re.compile(r"""\bQ\(\s*(?P<q>["'])(?P<name>.*?)(?P=q)\s*\)""")


def formula_names(codes: list[str]) -> list[str]:
    """Names the factor codes read, in order of first use, ``Q("odd name")`` included."""
    seen: dict[str, None] = {}
    for code in codes:
        for name in ast_names(code):
            seen.setdefault(name)
        for m in _QUOTED.finditer(code):
            seen.setdefault(m.group("name"))
    return list(seen)


def _patsy_ready(col: pd.Series) -> pd.Series:
    """A column in a dtype patsy handles: nullable numbers become float64 with NaN."""
    dtype = col.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iuf":
        return col.astype(np.float64)
    if isinstance(dtype, pd.BooleanDtype):
        return col.astype(object).where(col.notna(), None) if col.hasnans else col.astype(bool)
    return col


class FrameSource:
    """An in-memory DataFrame as a source of row blocks.

    Parameters
    ----------
    frame : pandas.DataFrame
    columns : list of str
        The columns the formula (and weights) use; only these are handed on.
    """

    def __init__(self, frame: pd.DataFrame, columns: list[str]) -> None:
        self.frame = frame
        self.columns = columns
        self._convert = [
            c
            for c in columns
            if isinstance(frame[c].dtype, pd.api.extensions.ExtensionDtype)
            and (frame[c].dtype.kind in "iuf" or isinstance(frame[c].dtype, pd.BooleanDtype))
        ]

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.frame)

    def blocks(self, rows: int) -> Iterator[pd.DataFrame]:
        """Blocks of at most ``rows`` rows, with the used columns only."""
        sub = self.frame[self.columns] if self.columns else self.frame.iloc[:, :0]
        for start in range(0, len(sub), rows):
            block = sub.iloc[start : start + rows]
            if self._convert:
                block = block.assign(**{c: _patsy_ready(block[c]) for c in self._convert})
            yield block


def used_columns(
    frame: pd.DataFrame, codes: list[str], eval_env: EvalEnvironment, formula: str
) -> list[str]:
    """Columns of ``frame`` the factor codes read; a name found nowhere is an error."""
    absent = missing_columns(frame, codes, eval_env)
    if absent:
        raise MissingColumnError(
            f"formula {formula!r} uses {absent[0]!r}, which is not a column of the frame "
            f"(columns: {_preview(list(frame.columns))}) nor a name in the calling scope"
        )
    cols = set(map(str, frame.columns))
    return [n for n in formula_names(codes) if n in cols]


def missing_columns(frame: pd.DataFrame, codes: list[str], eval_env: EvalEnvironment) -> list[str]:
    """Names the factor codes read that are neither columns of ``frame`` nor in scope."""
    cols = set(map(str, frame.columns))
    return [
        n
        for n in formula_names(codes)
        if n not in cols and n not in eval_env.namespace and n not in _PATSY_NAMES
    ]


def _preview(items: list[Any], k: int = 12) -> str:
    shown = ", ".join(repr(i) for i in items[:k])
    return shown + (f", ... ({len(items)} in all)" if len(items) > k else "")


def check_frame(
    frame: pd.DataFrame, used: list[str], response_names: list[str], weights: str | None
) -> None:
    """Checks on an in-memory frame that need no formula evaluation, before any writing.

    Raises
    ------
    DataError
        No rows, or an infinite value in a used numeric column (named, with a row label).
    ColumnTypeError
        A response or weights column that is not numeric.
    """
    if len(frame) == 0:
        raise DataError("the frame has no rows: nothing to build a design from")
    dup = frame.columns[frame.columns.duplicated()].unique()
    bad = [c for c in used if c in set(dup)]
    if bad:
        raise DataError(f"column name(s) {bad} appear more than once in the frame; rename them")
    for name in response_names + ([weights] if weights else []):
        col = frame[name]
        if not (pd.api.types.is_numeric_dtype(col.dtype) and col.dtype.kind != "b"):
            role = "weights" if name == weights else "the response"
            raise ColumnTypeError(
                f"column {name!r} is used as {role} but has dtype {col.dtype}; "
                f"convert it to numbers (e.g. pd.to_numeric(df[{name!r}]))"
            )
    for name in used:
        col = frame[name]
        if col.dtype.kind == "f" or (
            isinstance(col.dtype, pd.api.extensions.ExtensionDtype) and col.dtype.kind == "f"
        ):
            values = np.asarray(col.to_numpy(dtype=np.float64, na_value=np.nan))
            inf = np.isinf(values)
            if inf.any():
                first = frame.index[int(np.argmax(inf))]
                first = first.item() if isinstance(first, np.generic) else first
                raise DataError(
                    f"column {name!r} holds {int(inf.sum())} infinite value(s), the first at "
                    f"row {first!r}; replace them (e.g. with NaN, which drops the row)"
                )
