"""Row labels in a store: a pandas Index encoded as an array HDF5 holds, and decoded back.

The kind of label (numbers, strings, JSON, dates, periods, intervals) follows from the
index's dtype alone, never from one block's labels, so every block of an index is stored
alike; the ``obs`` variable's attributes say how to decode it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from .errors import StoreError
from .manifest import plain_attr

__all__ = ["OBS_HINTS", "UNIT_NAMES", "decode_index", "index_hints", "index_values", "positions_in"]

#: epoch units of stored datetimes, by pandas unit (CF names, which xarray decodes)
UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
#: attributes of ``obs`` that say how to decode the labels (copied with them)
OBS_HINTS = ("index_kind", "index_name", "index_unit", "index_freq", "index_closed")


def _plain_index(index: pd.Index) -> pd.Index:
    """A categorical index as its values (the labels themselves, in their own dtype)."""
    if isinstance(index, pd.CategoricalIndex):
        return pd.Index(np.asarray(index), dtype=index.categories.dtype, name=index.name)
    return index


def index_values(index: pd.Index) -> tuple[np.ndarray, str]:
    """Row labels as an array HDF5 can hold, and the kind to decode them back.

    The kind follows from the index's dtype alone, never from the labels of one block, so
    every block of an index is stored alike.
    """
    if isinstance(index, pd.MultiIndex):
        return np.asarray([repr(t) for t in index], dtype=object), "str"
    index = _plain_index(index)
    dtype = index.dtype
    if isinstance(dtype, pd.PeriodDtype):
        return np.asarray(index.astype(str), dtype=object), "period"
    if isinstance(dtype, pd.IntervalDtype):
        pairs = zip(index.left.tolist(), index.right.tolist(), strict=True)
        return np.asarray(
            [json.dumps([_plain_label(lo), _plain_label(hi)]) for lo, hi in pairs], dtype=object
        ), "interval"
    if dtype.kind == "M":
        if getattr(dtype, "tz", None) is not None:
            raise StoreError(
                f"the row index has time zone {dtype.tz}, which a store cannot hold; make it "
                "naive first (df.index.tz_convert(None))"
            )
        return index.asi8, "datetime"
    if dtype.kind == "m":
        return index.asi8, "timedelta"
    if dtype.kind in "iuf":
        return index.to_numpy(), "numeric"
    if dtype.kind == "b":
        return index.to_numpy().astype(np.int8), "bool"
    if pd.api.types.is_object_dtype(dtype):
        # ints, floats, bools, None and strings, each as JSON: it comes back the same
        # value of the same type (str() would turn 10 into "10")
        labels = [json.dumps(_plain_label(v)) for v in index]
        return np.asarray(labels, dtype=object), "json"
    if index.hasnans:
        raise StoreError(
            f"the row index holds a missing label (at position {int(np.argmax(index.isna()))}); "
            "a store cannot hold one: fill it (df.index.fillna(...)) or reset_index() first"
        )
    text = np.asarray(index.astype(str), dtype=object)
    bad = next((v for v in text if "\x00" in v), None)
    if bad is not None:
        raise StoreError(
            f"the row label {bad!r} holds a NUL character, which HDF5 strings cannot hold; "
            "replace it or reset_index() first"
        )
    return text, "str"


def positions_in(index: pd.Index, obs: pd.Index) -> np.ndarray:
    """Positions in ``index`` (a data's row labels) of the labels ``obs`` read back from a
    store, -1 where absent. Both sides are compared as the store encodes them, so labels a
    store holds as text (a MultiIndex's tuples, a stacked Dataset's) still match."""
    return pd.Index(index_values(index)[0]).get_indexer(pd.Index(index_values(obs)[0]))


def index_hints(index: pd.Index, kind: str) -> dict[str, Any]:
    """What decoding ``kind`` needs beyond the values: unit, frequency, closed side."""
    index = _plain_index(index)
    hints: dict[str, Any] = {}
    if kind in ("datetime", "timedelta"):
        hints["index_unit"] = index.unit
    elif kind == "period":
        hints["index_freq"] = index.freqstr
    elif kind == "interval":
        hints["index_closed"] = index.closed
    return hints


def _plain_label(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, (int, float, str)):
        return v
    raise StoreError(
        f"the row index holds a label of type {type(v).__name__} that a store cannot hold (it "
        "keeps numbers, strings, bools and None); reset_index() or convert the index to "
        "strings first"
    )


def decode_index(obs: Any) -> pd.Index:
    """A store's ``obs`` variable (an h5py Dataset, or an assembled store's parts) as the
    row labels it was written from."""
    kind = plain_attr(obs.attrs.get("index_kind", "numeric"))
    name = plain_attr(obs.attrs["index_name"]) if "index_name" in obs.attrs else None
    hints = {k: plain_attr(obs.attrs[k]) for k in OBS_HINTS if k in obs.attrs}
    values = obs[:]
    unit = hints.get("index_unit", "ns")
    if kind == "datetime":
        return pd.DatetimeIndex(values.astype(f"datetime64[{unit}]"), name=name)
    if kind == "timedelta":
        return pd.TimedeltaIndex(values.astype(f"timedelta64[{unit}]"), name=name)
    if kind == "bool":
        return pd.Index(values.astype(bool), name=name)
    if kind in ("str", "json", "period", "interval"):
        text = [v.decode() if isinstance(v, bytes) else v for v in values]
        if kind == "json":
            return pd.Index([json.loads(v) for v in text], dtype=object, name=name)
        if kind == "period":
            return pd.PeriodIndex(text, freq=hints["index_freq"], name=name)
        if kind == "interval":
            pairs = np.asarray([json.loads(v) for v in text]).reshape(-1, 2)
            return pd.IntervalIndex.from_arrays(
                pairs[:, 0], pairs[:, 1], closed=hints["index_closed"], name=name
            )
        return pd.Index(text, name=name)
    return pd.Index(values, name=name)
