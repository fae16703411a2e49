"""A read_csv string column as integer codes plus its table of levels.

The writer keeps, per string column, the distinct strings seen so far (the level table, in
the order first seen) and stores each chunk as codes into it: ``pd.factorize`` codes the
chunk against its own few distinct values, which are looked up once in the table (new ones
appended), so each chunk costs a hash per value in C and a lookup per *distinct* value, as
``pandas.api.types.union_categoricals`` merges categories. Codes take the smallest signed
integer type that holds the level count (-1 marks a missing value); the column is rewritten
wider only when a later chunk brings more levels than its type holds. At commit the table
is sorted (patsy sorts string levels) and the codes remapped once, so a reader's categories
are the sorted table and ``table[codes]`` gives back the strings.

A reader decodes a chunk of codes with :class:`CodesDecoder` (the table is read once per
process, and checked against the SHA-256 the writer recorded), and a design reads the codes
themselves as a pandas Categorical (:class:`CodedColumn`): no string is decoded.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np
import pandas as pd
from patsy.eval import ast_names
from patsy.missing import NAAction

from . import lazy
from .errors import CSVError, StoreError
from .manifest import hash_values, plain_attr

__all__ = ["CodedColumn", "CodesDecoder", "LevelTable", "code_dtype", "text_of"]

#: the attribute of a codes variable naming its level table (a variable of its own)
LEVELS_ATTR = "ooc_levels"
#: the attribute holding the SHA-256 of the level table (checked whenever it is read)
LEVELS_SHA_ATTR = "ooc_levels_sha256"
#: the encoding key under which an opened Dataset's string variable carries its codes
ENCODING_KEY = "ooc_codes"
_CODE_TYPES = (np.int8, np.int16, np.int32, np.int64)


def code_dtype(n_levels: int) -> np.dtype:
    """The smallest signed integer type whose codes ``0 .. n_levels - 1`` (and -1) fit."""
    for t in _CODE_TYPES:
        if n_levels <= np.iinfo(t).max:
            return np.dtype(t)
    raise AssertionError(n_levels)  # more levels than int64 holds: not reachable


def text_of(col: pd.Series) -> pd.Series:
    """A chunk's string column as text (numbers in a string column: their text, as a
    whole-file read gives them; missing values stay missing)."""
    if isinstance(col.dtype, pd.StringDtype):
        return col  # the common case: factorized as it is (pyarrow-backed, in C)
    present = col.notna().to_numpy()
    values = col.to_numpy(dtype=object)[present]
    if col.dtype.kind == "f":  # floats as a whole-file read of the column writes them
        text = [repr(v) if isinstance(v, float) else str(v) for v in values]
    else:
        text = values.astype(str).astype(object)
    out = np.full(len(col), None, dtype=object)
    out[present] = text
    return pd.Series(out, index=col.index, name=col.name, dtype=object)


def table_digest(table: np.ndarray) -> str:
    """The SHA-256 of a level table, as the manifest hashes strings."""
    h = hashlib.sha256()
    hash_values(h, table, None)
    return h.hexdigest()


class LevelTable:
    """The distinct strings of one column, in the order first seen, with a lookup.

    The lookup is a dict from level to code, consulted once per distinct value of a chunk
    (``pd.factorize`` has reduced the chunk to those in C): amortized O(1) a level, so
    the cost stays linear in the rows whatever the number of levels (an id column too).
    """

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._parts: list[np.ndarray] = []
        self.n = 0

    def codes(self, text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Codes of a chunk's values into the table (-1: missing), in the smallest type that
        holds the table's codes, and the levels it added (in the order first seen; their
        codes are the table's last ones)."""
        local, uniq = pd.factorize(text, use_na_sentinel=True)
        uniq = np.asarray(uniq, dtype=object)
        get = self._codes.get
        mapping = np.fromiter((get(u, -1) for u in uniq), dtype=np.int64, count=len(uniq))
        todo = np.flatnonzero(mapping < 0)
        new = uniq[todo]
        if len(new):
            mapping[todo] = np.arange(self.n, self.n + len(new))
            self._codes.update(zip(new.tolist(), range(self.n, self.n + len(new)), strict=True))
            self._parts.append(new)
            self.n += len(new)
        # the last entry: a missing value (local code -1) stays -1; codes in their stored
        # type straight away (one pass over the rows)
        mapping = np.append(mapping, -1).astype(code_dtype(self.n))
        return mapping[local], new

    def levels(self) -> np.ndarray:
        """Every level, in the order first seen (an object array of str)."""
        if not self._parts:
            return np.empty(0, dtype=object)
        return np.concatenate(self._parts)

    def sorted(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The table sorted as patsy sorts strings, and each old code's new code (None:
        already sorted)."""
        levels = self.levels()
        order = np.argsort(levels, kind="stable")
        if np.array_equal(order, np.arange(len(levels))):
            return levels, None
        rank = np.empty(len(levels), dtype=np.int64)
        rank[order] = np.arange(len(levels))
        return levels[order], rank


def refuse_nul(new: np.ndarray, codes: np.ndarray, first_code: int, col: pd.Series, where: str):
    """HDF5 strings end at a NUL: a level holding one is refused, its first row named."""
    if not len(new) or "\x00" not in "".join(new):  # one pass in C: the common case
        return
    k = next(i for i, v in enumerate(new) if "\x00" in v)
    raise nul_error(col, int(np.argmax(codes == first_code + k)), where)


def nul_error(col: pd.Series, i: int, where: str) -> CSVError:
    """The error for a NUL character in row ``i`` of a chunk's column ``col``."""
    label = col.index[i]
    label = label.item() if isinstance(label, np.generic) else label
    row = (
        f"data row {label} (counting from 0, the header not counted)"
        if isinstance(col.index, pd.RangeIndex)
        else f"the row labelled {label!r}"
    )
    return CSVError(
        f"column {col.name!r} holds a NUL character (\\x00) at {row}, "
        f"{where.strip() or 'in the file'}; a store cannot hold it: remove it from the "
        "file, or pass converters={" + repr(col.name) + ": lambda s: "
        "s.replace('\\x00', '')} to read_csv"
    )


def read_table(f: h5py.File, path: str, column: str, name: str, digest: str) -> np.ndarray:
    """A column's level table read and checked (its variable, type and SHA-256)."""
    ds = f.get(name)
    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
        raise StoreError(
            f"{path!r}: the level table {name!r} of column {column!r} is missing or not "
            "one-dimensional; the store was changed: read the CSV files again"
        )
    if h5py.check_string_dtype(ds.dtype) is None:
        raise StoreError(
            f"{path!r}: the level table {name!r} of column {column!r} holds no strings; "
            "the store was changed: read the CSV files again"
        )
    try:
        raw = ds[:]
        table = np.array([v.decode() if isinstance(v, bytes) else v for v in raw], dtype=object)
    except (OSError, ValueError, RuntimeError) as exc:  # incl. UnicodeDecodeError
        raise StoreError(
            f"cannot read the level table {name!r} of column {column!r} of {path!r} "
            f"({type(exc).__name__}: {exc}): the store is damaged; read the CSV files again"
        ) from exc
    if table_digest(table) != digest:
        raise StoreError(
            f"{path!r}: the level table {name!r} of column {column!r} differs from what was "
            "written (its SHA-256 does not match): the store is damaged; read the CSV files "
            "again"
        )
    # a writer stores the distinct levels sorted; the codes' meaning and the design's
    # levels rely on it, so a table otherwise (a crafted file) is refused
    if any(a >= b for a, b in itertools.pairwise(table)):
        raise StoreError(
            f"{path!r}: the level table {name!r} of column {column!r} is not a sorted list "
            "of distinct levels, as this library writes it: the store was changed; read the "
            "CSV files again"
        )
    return table


@dataclass
class CodedColumn:
    """Where a string column's codes and level table are, for readers in any process.

    Picklable: a path, names, the store id and (once read) the table.
    """

    path: str
    column: str
    var: str  # the codes variable
    table_var: str
    digest: str
    store_id: str
    n: int
    code_type: str
    #: the dask name of the Dataset variable decoded from these codes: a Dataset whose
    #: variable still has it holds exactly the store's rows, in order
    dask_name: str = ""
    _table: np.ndarray | None = field(default=None, repr=False, compare=False)
    _na_like: np.ndarray | None = field(default=None, repr=False, compare=False)

    def table(self) -> np.ndarray:
        """The sorted level table (read once per process)."""
        if self._table is None:
            with lazy.open_checked(self.path, self.store_id, "read_csv store") as f:
                self._table = read_table(f, self.path, self.column, self.table_var, self.digest)
        return self._table

    def check(self, codes: np.ndarray) -> np.ndarray:
        """``codes`` as int64, refused unless each is -1 or a row of the table."""
        codes = np.asarray(codes).astype(np.int64, copy=False)
        if codes.size and (codes.min() < -1 or codes.max() >= len(self.table())):
            raise StoreError(
                f"{self.path!r}: column {self.column!r} holds codes outside its level table "
                f"({len(self.table())} levels); the store was changed: read the CSV files again"
            )
        return codes

    def array(self) -> lazy.StoreArray:
        """The stored codes, as raw rows (:meth:`check` them)."""
        return lazy.StoreArray(
            self.path, self.var, self.store_id, (self.n,), np.dtype(self.code_type),
            what="read_csv store",
        )  # fmt: skip

    def categorical_of(self, codes: np.ndarray) -> pd.Categorical:
        """Raw stored ``codes`` (checked here) as a Categorical of the sorted table.

        A level patsy reads as missing in text (one ``float()`` parses as NaN: ``"NAN"``,
        ``" nan"``, ``"+nan"``; pandas keeps those as text) is missing here too, so the
        design drops (or refuses) those rows as patsy does on the strings.
        """
        codes = self.check(codes)
        na_like = self.na_like()
        if na_like.any():
            codes = np.where(na_like[np.maximum(codes, 0)] & (codes >= 0), -1, codes)
        return pd.Categorical.from_codes(codes, dtype=self.dtype())

    def na_like(self) -> np.ndarray:
        """Which levels of the table patsy's NA rule (None, a float NaN) takes for missing."""
        if self._na_like is None:
            na = NAAction()
            self._na_like = np.fromiter(
                (na.is_categorical_NA(v) for v in self.table()), dtype=bool, count=-1
            )
        return self._na_like

    def dtype(self) -> pd.CategoricalDtype:
        """The column's categories: the sorted level table."""
        return pd.CategoricalDtype(pd.Index(self.table(), dtype=object))

    def __getstate__(self) -> dict:
        # a worker reads the table itself (small, but not sent with every task)
        return {**vars(self), "_table": None, "_na_like": None}


class CodesDecoder:
    """Decodes a chunk of codes to strings (-1: NaN) from its column's level table."""

    def __init__(self, column: CodedColumn) -> None:
        self.column = column
        self._lookup: np.ndarray | None = None

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        codes = self.column.check(codes)
        if self._lookup is None:
            self._lookup = np.append(self.column.table(), np.nan)  # code -1: the last, NaN
        return self._lookup[codes]

    def __getstate__(self) -> dict:
        return {"column": self.column, "_lookup": None}


def coded_column(
    path: str, column: str, ds: h5py.Dataset, store_id: str, n: int
) -> CodedColumn | None:
    """The :class:`CodedColumn` of a stored variable, or None (not a codes variable)."""
    name = plain_attr(ds.attrs.get(LEVELS_ATTR, ""))
    if not name:
        return None
    digest = plain_attr(ds.attrs.get(LEVELS_SHA_ATTR, ""))
    if not isinstance(name, str) or not isinstance(digest, str) or ds.dtype.kind != "i":
        raise StoreError(
            f"{path!r}: column {column!r} names a level table but is not stored as integer "
            "codes with a table checksum; the store was changed: read the CSV files again"
        )
    return CodedColumn(path, column, ds.name.lstrip("/"), name, digest, store_id, n, ds.dtype.str)


_CATEGORICAL_USE = re.compile(r"^(?:C\(\s*)?(?P<name>[A-Za-z_]\w*)\s*(?:\)|,.*\))?$", re.DOTALL)


def coded_columns(ds: Any, columns: list[str], codes: list[str]) -> dict[str, CodedColumn]:
    """The columns of ``ds`` a design can read as codes: ``{column: CodedColumn}``.

    A string column of a read_csv store qualifies when its variable still holds exactly
    the store's rows in order (its dask array is the one the store was opened with: no
    ``isel``, reordering or rechunking since, so every level of the table is present) and
    every factor in ``codes`` reading it is the bare name or ``C(name, ...)`` (a
    categorical: any other use of the text gets the strings).
    """
    uses: dict[str, bool] = {}
    for code in codes:
        m = _CATEGORICAL_USE.match(code.strip())
        plain = m.group("name") if m is not None else None
        for name in ast_names(code):
            uses[name] = uses.get(name, True) and name == plain
    out = {}
    for c in columns:
        var = ds.variables.get(c)
        coded = var.encoding.get(ENCODING_KEY) if var is not None else None
        if not isinstance(coded, CodedColumn) or not uses.get(c, False):
            continue
        if getattr(var.data, "name", None) == coded.dask_name and var.shape == (coded.n,):
            out[c] = coded
    return out
