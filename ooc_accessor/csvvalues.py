"""A CSV column's integers and dates stored exactly, whatever their width or unit.

pandas gives integer columns the width their values need (``uint64`` above ``2**63 - 1``,
another width when ``dtype=`` asks for it) and dates in the unit it parsed them to
(``datetime64[us]`` for a CSV's text): a store keeps that width and that unit, so no value
wraps. Integers beyond 64 bits (pandas gives them as Python ints in an object column) have
no stored type and are refused with the column and row named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import CSVError

#: netCDF's ``units`` of an integer time variable, by numpy's datetime unit
_UNIT_NAMES = {
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
}
_EPOCH = " since 1970-01-01"


def row_text(index: pd.Index, i: int) -> str:
    """The ``i``-th row of a chunk, as a user finds it in the file."""
    label = index[i]
    label = label.item() if isinstance(label, np.generic) else label
    if isinstance(index, pd.RangeIndex):
        return f"data row {label} (counting from 0, the header not counted)"
    return f"the row labelled {label!r}"


def int_dtype(col: pd.Series) -> np.dtype:
    """The numpy integer dtype pandas gave a column (a nullable one: its numpy dtype)."""
    return np.dtype(getattr(col.dtype, "numpy_dtype", col.dtype))


def date_dtype(col: pd.Series) -> np.dtype:
    """``datetime64`` in the unit pandas gave the column."""
    dtype = col.dtype
    if getattr(dtype, "kind", "") == "M" and np.dtype(dtype).name != "object":
        unit = np.datetime_data(np.dtype(dtype))[0]
        if unit in _UNIT_NAMES:
            return np.dtype(f"datetime64[{unit}]")
    return np.dtype("datetime64[ns]")


def date_units(dtype: np.dtype) -> str:
    """The netCDF ``units`` attribute of dates stored as int64 in ``dtype``'s unit."""
    return _UNIT_NAMES[np.datetime_data(dtype)[0]] + _EPOCH


def units_dtype(units: str) -> np.dtype | None:
    """The ``datetime64`` dtype of a stored ``units`` attribute (None: not one of ours)."""
    for unit, name in _UNIT_NAMES.items():
        if units == name + _EPOCH:
            return np.dtype(f"datetime64[{unit}]")
    return None


def merge_int_dtypes(
    name: str, have: np.dtype | None, new: np.dtype, negative: bool, where: str
) -> np.dtype:
    """The stored integer dtype after a chunk of ``new`` (``have``: so far, if any).

    As a whole-file read: widths widen; ``uint64`` with no negative value anywhere stays
    ``uint64``; ``uint64`` values beside negative ones need more than 64 bits, refused.
    """
    if have is None or have == new:
        return new
    if {have.kind, new.kind} == {"i", "u"} and max(have.itemsize, new.itemsize) == 8:
        unsigned = have if have.kind == "u" else new
        if unsigned.itemsize == 8:
            if negative:
                raise CSVError(
                    f"column {name!r} holds integers above 9223372036854775807 and negative "
                    f"ones ({where}): together they need more than 64 bits, which a store "
                    f"cannot hold; pass dtype={{{name!r}: float}} (approximate) or "
                    f"dtype={{{name!r}: str}} (exact, as text) to read_csv"
                )
            return np.dtype(np.uint64)
    return np.promote_types(have, new)


def as_int(col: pd.Series, dtype: np.dtype, where: str) -> np.ndarray:
    """A chunk's integers as ``dtype``, every value checked to fit (none wraps)."""
    values = col.to_numpy(dtype=int_dtype(col))
    if values.dtype != dtype and values.size:
        info = np.iinfo(dtype)
        low, high = int(values.min()), int(values.max())
        if low < info.min or high > info.max:
            bad = int(np.argmax((values < 0) if low < info.min else (values > 0)))
            raise CSVError(
                f"column {col.name!r} holds {values[bad]} at {row_text(col.index, bad)} "
                f"({where}), which does not fit the column's {dtype} read so far; pass "
                f"dtype={{{col.name!r}: float}} (or str) to read_csv"
            )
    return values.astype(dtype, copy=False)


def as_dates(col: pd.Series, dtype: np.dtype, where: str) -> np.ndarray:
    """A chunk's dates as int64 counts of ``dtype``'s unit (NaT: int64's minimum).

    A chunk parsed to another unit is converted when every date is exactly representable
    in the column's unit and range, else refused (no date is wrapped or rounded).
    """
    unit = np.datetime_data(dtype)[0]
    have = date_dtype(col)
    series = col if col.dtype.kind == "M" else pd.to_datetime(col)
    if have != dtype:
        try:
            converted = series.dt.as_unit(unit)
            exact = bool(
                (converted.dt.as_unit(np.datetime_data(have)[0]) == series)[series.notna()].all()
            )
        except (OverflowError, pd.errors.OutOfBoundsDatetime):
            exact = False
        if not exact:
            raise CSVError(
                f"column {col.name!r} holds dates {where} that do not fit the column's "
                f"unit {unit!r} read so far (out of its range or finer than it); pass "
                f"dtype={{{col.name!r}: str}} to read_csv to keep them as text"
            )
        series = converted
    return series.to_numpy(dtype=dtype).view(np.int64)


def refuse_big_ints(col: pd.Series, where: str) -> None:
    """Refuse a column pandas gave as Python ints beyond 64 bits (an object column).

    Stored as text they would read back as strings (a sum becomes a concatenation).
    A column pandas itself gives as text is not looked at.
    """
    if col.dtype != object:
        return
    if pd.api.types.infer_dtype(col, skipna=True) not in ("integer", "mixed-integer"):
        return
    for i, v in enumerate(col.to_numpy()):
        if isinstance(v, int) and not isinstance(v, bool) and not (-(2**63) <= v < 2**64):
            raise CSVError(
                f"column {col.name!r} holds the integer {v} at {row_text(col.index, i)} "
                f"({where}), beyond 64 bits: a store cannot hold it as a number; pass "
                f"dtype={{{col.name!r}: float}} (approximate) or dtype={{{col.name!r}: str}} "
                "(exact, as text) to read_csv"
            )
