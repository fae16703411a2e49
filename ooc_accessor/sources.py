"""Sources: what the user holds, turned into blocks of rows.

Nothing downstream knows where rows came from. A source yields pandas DataFrames of at most
``rows`` rows, with the columns a formula uses, in dtypes patsy can read (nullable pandas
dtypes become float64 with NaN), and can be iterated any number of times.
"""

from __future__ import annotations

import builtins
import itertools
import re
from collections.abc import Iterator
from typing import Any

import dask
import numpy as np
import pandas as pd
import patsy.builtins
from patsy import EvalEnvironment
from patsy.eval import ast_names

from . import csvcodes, lazy, options
from .errors import (
    ArgumentError,
    ArgumentTypeError,
    ColumnTypeError,
    DataError,
    MissingColumnError,
)
from .matrices import _preview
from .rowweights import row_weights

#: bytes of design matrix per block when ``chunksize="auto"``, by default: a block, patsy's
#: intermediates (a few copies of it) and a QR work buffer stay well under 100 MB.
#: ``ooc.set_options(chunk_memory=)`` changes it.
AUTO_BLOCK_BYTES = options.DEFAULTS["chunk_memory"]
_PATSY_NAMES = set(patsy.builtins.__all__) | set(dir(builtins))


def auto_rows(n_columns: int, target_bytes: int | None = None) -> int:
    """Rows per block so that ``n_columns`` float64 columns take about ``target_bytes``
    (default: the ``chunk_memory`` option)."""
    target = options.chunk_memory() if target_bytes is None else target_bytes
    return max(1024, int(target // (8 * max(n_columns, 1))))


_QUOTED = re.compile(r"""\bQ\(\s*(?P<q>["'])(?P<name>.*?)(?P=q)\s*\)""")


_C_OF_NAME = re.compile(r"^C\(\s*([A-Za-z_]\w*)\s*[,)]")


def categorical_only(codes: list[str], columns: list[str]) -> frozenset[str]:
    """Columns every factor reading them codes as ``C(name, ...)``: plain categoricals."""
    wrapped = {m.group(1) for code in codes if (m := _C_OF_NAME.match(code.strip()))}
    other = {n for code in codes if not _C_OF_NAME.match(code.strip()) for n in ast_names(code)}
    return frozenset(c for c in columns if c in wrapped and c not in other)


def formula_names(codes: list[str]) -> list[str]:
    """Names the factor codes read, in order of first use, ``Q("odd name")`` included."""
    seen: dict[str, None] = {}
    for code in codes:
        for name in ast_names(code):
            seen.setdefault(name)
        for m in _QUOTED.finditer(code):
            seen.setdefault(m.group("name"))
    return list(seen)


def _needs_conversion(dtype: Any) -> bool:
    """Dtypes patsy misreads: nullable numbers, booleans and strings, and objects (which
    may hold ``pd.NA``, a value patsy takes for a level)."""
    if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.BooleanDtype):
        return True
    if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA:
        return True  # (pandas' default "str" marks missing with NaN, which patsy knows)
    return isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iuf"


def _patsy_ready(col: pd.Series, int_levels: bool = False) -> pd.Series:
    """A column in a dtype patsy handles, the same in every block.

    Nullable numbers become float64 with NaN. Nullable booleans and strings become objects
    with None for a missing value (patsy's NA), whether or not this block has one, so
    every block is coded alike; ``pd.NA`` in an object column becomes None too.
    """
    dtype = col.dtype
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iu" and int_levels:
        # levels 1, 2 (as patsy names an int64 column's), with None for patsy's NA
        return col.astype(object).where(col.notna(), None)
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "iuf":
        return col.astype(np.float64)
    if isinstance(dtype, pd.BooleanDtype) or (
        isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA
    ):
        col = col.astype(object)
    if col.dtype == object and col.hasnans:
        return col.where(col.notna(), None)
    return col


WEIGHTS_COL = "__ooc_weights__"

#: the most a Dataset source reads at once to hand on as several blocks (a store's chunk)
SPAN_BYTES = 64 * 2**20


class FrameSource:
    """An in-memory DataFrame as a source of row blocks.

    Parameters
    ----------
    frame : pandas.DataFrame
    columns : list of str, optional
        The columns the formula (and weights) use; only these are handed on.
    """

    kind = "pandas"
    sample_dim = "obs"
    what = "a column of the frame"
    #: in this process's memory: blocks are built here, never shipped to workers
    remote = False

    def __init__(
        self,
        frame: pd.DataFrame,
        columns: list[str] | None = None,
        int_levels: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.frame = frame
        self.columns = list(columns or [])
        self._convert = [c for c in self.columns if _needs_conversion(frame[c].dtype)]
        #: nullable integer columns read only as C(name): their levels stay ints
        self._int_levels = frozenset(int_levels)

    @property
    def names(self) -> list[str]:
        """Column names a formula can use."""
        return [str(c) for c in self.frame.columns]

    def dtype(self, name: str) -> Any:
        """dtype of column ``name``."""
        return self.frame[name].dtype

    def select(self, columns: list[str], codes: list[str] | None = None) -> FrameSource:
        """The same frame handing on ``columns`` only (``codes``: the factors reading them)."""
        return FrameSource(self.frame, columns, categorical_only(codes or [], columns))

    def with_weights(self, weights: Any) -> tuple[FrameSource, str | None]:
        """The frame with ``weights`` (a column name or one value per row) as a column."""
        if weights is None:
            return self, None
        frame = self.frame
        if isinstance(weights, str):
            if weights not in frame.columns:
                raise MissingColumnError(
                    f"weights={weights!r} is not a column of the frame "
                    f"(columns: {_preview(list(frame.columns))}); pass one of those names, "
                    "or one weight per row"
                )
            return self, weights
        values = row_weights(
            weights, frame.index, len(frame), "frame's", f"a frame of {len(frame)} rows"
        )
        return FrameSource(frame.assign(**{WEIGHTS_COL: values})), WEIGHTS_COL

    def check(self, used: list[str], responses: list[str], weights: str | None) -> None:
        """Checks before any writing (see :func:`check_frame`)."""
        check_frame(self.frame, used, responses, weights)

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
                block = block.assign(
                    **{c: _patsy_ready(block[c], c in self._int_levels) for c in self._convert}
                )
            yield block


def sample_dim_of(obj: Any, dim: str | None) -> str:
    """The sample dimension: ``dim``, or the only dimension of a one-dimensional Dataset."""
    import xarray as xr

    dims = list(obj.dims)
    if dim is None:
        if isinstance(obj, xr.Dataset) and len(dims) == 1:
            lazy.check_sample_dim(dims[0])  # not a name the store uses itself
            return dims[0]
        raise ArgumentError(
            f"pass dim= naming the sample dimension of the {type(obj).__name__} (dims {dims})"
        )
    if dim not in dims:
        raise ArgumentError(
            f"dim={dim!r} is not a dimension of the {type(obj).__name__} (dims "
            f"{tuple(dims)}); pass one of {dims}"
        )
    lazy.check_sample_dim(dim)
    return dim


class DatasetSource:
    """The one-dimensional variables of an ``xr.Dataset`` along ``dim`` as row blocks.

    Variables (data variables and coordinates) whose only dimension is ``dim`` are the
    columns a formula can use; blocks are read one at a time (``isel`` then load), so a
    lazily opened or dask-chunked Dataset is never loaded whole. Row labels are ``dim``'s
    index, or positions when it has none.

    Parameters
    ----------
    ds : xarray.Dataset
    dim : str
        The sample (row) dimension.
    columns : list of str, optional
        The variables the formula (and weights) use.

    Attributes
    ----------
    string_codes : frozenset of str
        String columns of a read_csv store that blocks hand on as pandas Categoricals
        built from the stored codes (categories: the store's sorted level table, every
        one present in the rows), not as strings: those the formula reads only as a
        categorical factor (``name`` or ``C(name, ...)``), on a Dataset holding exactly
        the store's rows (no selection or reordering since it was opened). Set by
        :meth:`select`.
    """

    kind = "xarray"
    what = "a variable of the Dataset"
    string_codes: frozenset[str] = frozenset()
    _coded: dict[str, Any] = {}  # noqa: RUF012 - replaced, never mutated
    _stored: dict[str, Any] = {}  # noqa: RUF012 - replaced, never mutated

    def __init__(self, ds: Any, dim: str, columns: list[str] | None = None) -> None:
        self.ds = ds
        self.sample_dim = dim
        self.columns = list(columns or [])
        for c in self.columns:
            dims = ds[c].dims
            if dims != (dim,):
                raise ColumnTypeError(
                    f"variable {c!r} has dims {dims}; a formula column must lie along {dim!r} "
                    f"only: select or reduce its other dims first (e.g. ds[{c!r}].isel(...)), "
                    "or use .ooc.pca(dim=...), which stacks them into features"
                )

    @property
    def names(self) -> list[str]:
        """Variables along ``dim`` (data variables and coordinates; only 1-D ones can be used)."""
        return [str(n) for n, v in self.ds.variables.items() if self.sample_dim in v.dims]

    def dtype(self, name: str) -> Any:
        """dtype of variable ``name``."""
        return self.ds[name].dtype

    def select(self, columns: list[str], codes: list[str] | None = None) -> DatasetSource:
        """The same Dataset handing on ``columns`` only (and holding only those variables,
        so a worker is sent only their graphs)."""
        data = [c for c in columns if c in self.ds.data_vars]
        coords = [c for c in columns if c not in self.ds.data_vars]
        sub = self.ds[data]
        for c in coords:  # a coordinate used as a column: make sure it comes along
            if c not in sub.variables:
                sub = sub.assign_coords({c: self.ds[c].variable})
        out = DatasetSource(sub, self.sample_dim, columns)
        out._coded = csvcodes.coded_columns(sub, columns, codes or [])
        out.string_codes = frozenset(out._coded)
        plain = [c for c in columns if c not in out._coded]
        out._stored = lazy.stored_arrays(sub, plain)
        return out

    @property
    def n_rows(self) -> int:
        """Length of the sample dimension."""
        return int(self.ds.sizes[self.sample_dim])

    def with_weights(self, weights: Any) -> tuple[DatasetSource, str | None]:
        """The Dataset with ``weights`` (a variable name, or one value per row) added.

        A DataArray or Series is aligned by label on ``dim`` (see :func:`row_weights`).
        """
        if weights is None:
            return self, None
        dim = self.sample_dim
        if isinstance(weights, str):
            if weights not in self.names:
                raise MissingColumnError(
                    f"weights={weights!r} is not a variable of the Dataset along {dim!r} "
                    f"(variables: {_preview(self.names)}); pass one of those names, or one "
                    "weight per row"
                )
            return self, weights
        index = self.ds.indexes.get(dim)
        if _same_rows(weights, dim, index, self.n_rows):
            w = weights.variable  # already on these rows: stays lazy (dask) if it is
        else:
            w = (
                dim,
                row_weights(
                    weights,
                    index,
                    self.n_rows,
                    f"Dataset's {dim!r}",
                    f"{self.n_rows} rows along {dim!r}",
                    dim,
                ),
            )
        return DatasetSource(self.ds.assign({WEIGHTS_COL: w}), dim), WEIGHTS_COL

    def check(self, used: list[str], responses: list[str], weights: str | None) -> None:
        """dtype checks that need no data read (infinite values are caught per block)."""
        if self.n_rows == 0:
            raise DataError(
                f"the Dataset has no rows along {self.sample_dim!r}: nothing to build a design "
                f"from; pass a Dataset with rows (check its selection along {self.sample_dim!r})"
            )
        _check_numeric(self.dtype, responses, weights, "variable", "")

    @property
    def remote(self) -> bool:
        """Whether a dask worker can read the blocks itself (every used variable dask-backed)."""
        return bool(self.columns) and all(self.ds[c].chunks is not None for c in self.columns)

    def ranges(self, rows: int) -> list[tuple[int, int]]:
        """Row ranges of at most ``rows`` rows that never straddle a dask chunk."""
        return [r for _, _, runs in self._segments(rows) for r in runs]

    def _segments(self, rows: int) -> list[tuple[int, int, list[tuple[int, int]]]]:
        """Each dask chunk's rows ``(lo, hi)`` (chunks of all columns merged) and its ranges."""
        dim, n = self.sample_dim, self.n_rows
        edges = {0, n}
        for c in self.columns:
            chunks = self.ds[c].chunksizes.get(dim)
            if chunks:  # never straddle a dask chunk: each would be computed twice
                edges.update(np.cumsum((0, *chunks)).tolist())
        return [
            (lo, hi, [(a, min(a + rows, hi)) for a in range(lo, hi, rows)])
            for lo, hi in itertools.pairwise(sorted(edges))
        ]

    def blocks(self, rows: int) -> Iterator[pd.DataFrame]:
        """Blocks of at most ``rows`` rows as DataFrames, indexed by ``dim``'s labels.

        A store's columns read directly (see :meth:`block`) are read a whole chunk at a
        time, up to :data:`SPAN_BYTES`, and handed on in blocks: HDF5 verifies a chunk's
        checksum whenever any row of it is read, so reading it block by block would verify
        (and read) it once per block.
        """
        whole = not any(c not in self._stored and c not in self._coded for c in self.columns)
        for lo, hi, runs in self._segments(rows):
            if whole and len(runs) > 1 and (hi - lo) * len(self.columns) * 8 <= SPAN_BYTES:
                span = self.block(lo, hi)
                for a, b in runs:
                    yield span.iloc[a - lo : b - lo]
            else:
                for a, b in runs:
                    yield self.block(a, b)

    def block(self, a: int, b: int) -> pd.DataFrame:
        """Rows ``a:b`` as a DataFrame indexed by ``dim``'s labels (infinite values refused)."""
        dim = self.sample_dim
        index = self.ds.indexes.get(dim)
        labels = index[a:b] if index is not None else pd.RangeIndex(a, b, name=dim)
        # read here, in one go: with a distributed client active, a round trip per block and
        # column would make the driver's learn pass crawl (the rows come here either way)
        plain = [c for c in self.columns if c not in self._coded and c not in self._stored]
        values: tuple = ()
        if plain:
            part = self.ds[plain].isel({dim: slice(a, b)})
            with dask.config.set(scheduler="sync"):
                values = dask.compute(*[part[c].data for c in plain])
        data = {c: np.asarray(v) for c, v in zip(plain, values, strict=True)}
        # columns of a store, untouched since opened: one open of the file for all of them;
        # its string columns as their codes, never decoded to strings
        arrays = {**self._stored, **{c: coded.array() for c, coded in self._coded.items()}}
        data.update(lazy.read_many(arrays, slice(a, b)))
        for c, coded in self._coded.items():
            data[c] = coded.categorical_of(data[c])
        frame = pd.DataFrame({c: data[c] for c in self.columns}, index=labels)
        _check_infinite(frame, frame.columns, "variable")
        return frame


def _same_rows(weights: Any, dim: str, index: pd.Index | None, n_rows: int) -> bool:
    """Whether ``weights`` is a DataArray along ``dim`` already labeled like the rows."""
    import xarray as xr

    if not isinstance(weights, xr.DataArray) or weights.dims != (dim,):
        return False
    if weights.sizes[dim] != n_rows or weights.dtype.kind not in "iuf":
        return False
    own = weights.indexes.get(dim)
    return own is None or index is None or own.equals(index)


def _check_numeric(
    dtype_of: Any, responses: list[str], weights: str | None, noun: str, fix: str
) -> None:
    """Refuse a response or weights column whose dtype is not numbers (bool included)."""
    for name in responses + ([weights] if weights else []):
        dtype = dtype_of(name)
        if not (pd.api.types.is_numeric_dtype(dtype) and dtype.kind != "b"):
            role = "weights" if name == weights else "the response"
            raise ColumnTypeError(
                f"{noun} {name!r} is used as {role} but has dtype {dtype}; "
                f"convert it to numbers{fix.format(name=name)}"
            )


def _check_infinite(frame: pd.DataFrame, names: Any, what: str = "column") -> None:
    for name in names:
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
                    f"{what} {name!r} holds {int(inf.sum())} infinite value(s), the first at "
                    f"row {first!r}; replace them (e.g. with NaN, which drops the row)"
                )


def table_source(data: Any, dim: str | None = None) -> FrameSource | DatasetSource:
    """What the user holds (a DataFrame or a Dataset along ``dim``) as a row-block source."""
    import xarray as xr

    if isinstance(data, pd.DataFrame):
        if dim is not None:
            raise ArgumentError(
                f"dim= names a Dataset's sample dimension; a DataFrame has rows: drop dim={dim!r}"
            )
        return FrameSource(data)
    if isinstance(data, xr.Dataset):
        return DatasetSource(data, sample_dim_of(data, dim))
    if isinstance(data, (FrameSource, DatasetSource)):
        return data
    raise ArgumentTypeError(
        f"expected a pandas DataFrame or an xarray Dataset, not {type(data).__name__}; a "
        "formula reads named columns: convert it first (e.g. DataArray.to_dataset(name=...) "
        "or .to_dataframe())"
    )


def used_columns(
    source: Any, codes: list[str], eval_env: EvalEnvironment, formula: str
) -> list[str]:
    """Columns of ``source`` the factor codes read; a name found nowhere is an error."""
    absent = missing_columns(source, codes, eval_env)
    if absent:
        raise MissingColumnError(
            f"formula {formula!r} uses {absent[0]!r}, which is not {source.what} "
            f"(columns: {_preview(source.names)}) nor a name in the calling scope; check the "
            "spelling (Q('odd name') quotes a name that is not a Python identifier)"
        )
    cols = set(source.names)
    return [n for n in formula_names(codes) if n in cols]


def missing_columns(source: Any, codes: list[str], eval_env: EvalEnvironment) -> list[str]:
    """Names the factor codes read that are neither columns of ``source`` nor in scope."""
    cols = set(source.names)
    return [
        n
        for n in formula_names(codes)
        if n not in cols and n not in eval_env.namespace and n not in _PATSY_NAMES
    ]


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
        raise DataError(
            "the frame has no rows: nothing to build a design from; pass a frame with rows"
        )
    dup = frame.columns[frame.columns.duplicated()].unique()
    bad = [c for c in used if c in set(dup)]
    if bad:
        raise DataError(f"column name(s) {bad} appear more than once in the frame; rename them")
    _check_numeric(
        lambda name: frame[name].dtype,
        response_names,
        weights,
        "column",
        " (e.g. pd.to_numeric(df[{name!r}]), or .astype(float) for a bool column)",
    )
    _check_infinite(frame, used)


# the row blocks of a numeric matrix (PCA, SVD) live in their own module; their callers
# import them from here
from .matrices import DesignMatrix, FrameMatrix, MatrixSource, as_matrix  # noqa: E402, F401
