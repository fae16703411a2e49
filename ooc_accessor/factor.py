"""The formula's factors: patsy's EvalFactor, with integer columns read as float64.

patsy evaluates ``I(a * b)`` on the columns as they are, so int64 columns whose product
exceeds 2**63 wrap around silently (int8 at 127, uint64 below zero). Numeric expressions
are evaluated here with every integer column the code reads converted to float64 first,
as R does with numeric vectors: a result too large for float64 becomes inf (refused by
name later), never a wrapped number. ``C(a)`` and any code whose meaning is the user's
own (method calls, other functions, bitwise operators) see the columns unchanged, so an
int column used as a factor keeps its int levels and names.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from patsy import EvalFactor, ModelDesc
from patsy.desc import Term

from .safety import float_evaluable

__all__ = ["Factor", "float_desc"]


def _as_float(v: Any) -> Any:
    """An integer column (numpy or pandas, nullable too) as float64; anything else as is."""
    if isinstance(v, pd.Series):
        if pd.api.types.is_integer_dtype(v.dtype):
            return pd.Series(
                v.to_numpy(dtype=np.float64, na_value=np.nan), index=v.index, name=v.name
            )
        return v
    if isinstance(v, np.ndarray) and v.dtype.kind in "iu":
        return v.astype(np.float64)
    return v


class _FloatInts:
    """A read-only view of a block whose integer columns are read as float64."""

    def __init__(self, data: Any) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return _as_float(self._data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._data


class Factor(EvalFactor):
    """patsy's :class:`~patsy.EvalFactor` evaluating numeric expressions in float64.

    Equal to (and hashing as) the EvalFactor of the same code, so patsy's term logic and
    a spec's codes are unchanged.
    """

    def __init__(self, code: str, origin: Any = None) -> None:
        super().__init__(code, origin)
        self._floats = float_evaluable(self.code)

    def _eval(self, code: str, memorize_state: dict, data: Any) -> Any:
        return super()._eval(code, memorize_state, _FloatInts(data) if self._floats else data)


def float_desc(desc: ModelDesc) -> ModelDesc:
    """``desc`` with every factor a :class:`Factor` (same codes, same origins)."""

    def terms(termlist: list[Term]) -> list[Term]:
        return [Term([Factor(f.code, f.origin) for f in t.factors]) for t in termlist]

    return ModelDesc(terms(desc.lhs_termlist), terms(desc.rhs_termlist))
