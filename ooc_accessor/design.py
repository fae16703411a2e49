"""Design: a formula's state learned over all chunks, then X and y written block by block.

Pass one runs patsy's incremental builders over every block (categorical levels,
``center()``/``standardize()`` state); pass two builds each block with that fixed state and
appends it to the store. :class:`Design` is the handle on a finished store.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr
from dask.delayed import delayed
from patsy import EvalEnvironment, PatsyError, build_design_matrices, design_matrix_builders
from patsy.design_info import DesignInfo
from patsy.eval import ast_names

from . import lazy, reduce, store
from .errors import (
    ColumnTypeError,
    DataError,
    FormulaError,
    OOCError,
    StoreError,
    UnseenLevelError,
)
from .sources import (
    WEIGHTS_COL,
    DatasetSource,
    FrameSource,
    missing_columns,
    resolve_chunksize,
    table_source,
    used_columns,
)
from .spec import (
    default_eval_env,
    design_spec,
    infos_from_spec,
    model_desc,
    spec_from_json,
    spec_to_json,
)
from .translate import label, translate

if TYPE_CHECKING:
    from .pca import IncrementalPCA
    from .results import LstsqResult, SVDResult

__all__ = ["Design", "build_design", "capture_env", "open_design"]

_MISSING = ("drop", "raise")


def capture_env(eval_env: int | EvalEnvironment) -> EvalEnvironment:
    """The namespace a formula is evaluated in, counted from the caller's caller.

    Each public entry point resolves it once and hands the object down, so ``np.log(x)``
    in a formula sees the user's ``np`` however deep the call goes.
    """
    if isinstance(eval_env, EvalEnvironment):
        return eval_env
    return EvalEnvironment.capture(int(eval_env) + 2)


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
    """patsy's design infos with state learned over all blocks of ``source``."""
    current: list[pd.DataFrame] = []

    def blocks() -> Iterator[pd.DataFrame]:
        for block in source.blocks(rows):
            current[:] = [block]  # the block patsy is reading, to name the culprit
            yield block

    try:
        infos = design_matrix_builders([desc.lhs_termlist, desc.rhs_termlist], blocks, env, missing)
    except PatsyError as exc:
        raise translate(exc, current[0] if current else None, formula) from exc
    except ValueError as exc:
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
        raise ValueError(
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
        ymat, xmat = build_design_matrices(infos, data, NA_action=missing, return_type="dataframe")
    except PatsyError as exc:
        raise translate(exc, block, formula, infos) from exc
    pos = xmat.index.to_numpy()
    x = xmat.to_numpy(dtype=np.float64)
    y = ymat.to_numpy(dtype=np.float64) if ymat.shape[1] else None
    if y is not None and y.shape[1] == 1:
        y = y[:, 0]
    index = block.index[pos]
    _check_finite(x, list(xmat.columns), index)
    if y is not None:
        _check_finite(y[:, None] if y.ndim == 1 else y, list(ymat.columns), index)
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
            unseen = [v for v in seen if v not in set(levels)]
            if unseen:
                raise UnseenLevelError(
                    f"level {unseen[0]!r} of column {name!r} (factor {factor.code!r}) was not "
                    f"seen when the design was built (levels: {', '.join(map(repr, levels))}); "
                    "drop those rows, or build the design from data that has that level"
                )
            out = block.copy() if out is None else out
            out[name] = col.cat.set_categories(levels)
    return block if out is None else out


def _check_finite(a: np.ndarray, names: list[str], index: pd.Index) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"design column {names[col]!r} is {a[row, col]} at row {label(index[row])!r} "
            f"({int(bad[:, col].sum())} such value(s) in this block); fix or drop those rows"
        )


def _response_check(infos: list[DesignInfo], source: FrameSource | DatasetSource) -> None:
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


def build_design(
    data: pd.DataFrame | xr.Dataset,
    formula: str,
    *,
    dim: str | None = None,
    chunksize: int | str = "auto",
    path: str | os.PathLike | None = None,
    missing: str = "drop",
    weights: str | Any | None = None,
    eval_env: int | EvalEnvironment = 0,
    compression: str | None = None,
) -> Design:
    """Build the design matrix of ``formula`` on ``frame`` into a chunked NetCDF store.

    Parameters
    ----------
    data : pandas.DataFrame or xarray.Dataset
        The data. A frame's index becomes the store's ``obs`` coordinate. A Dataset's
        variables along ``dim`` are the formula's columns, read one block at a time (a
        lazily opened or dask-chunked Dataset is never loaded whole); results come back
        as xarray objects over ``dim``.
    formula : str
        A patsy formula, e.g. ``"y ~ a + b + a:b + C(g)"``; no left side for SVD/PCA.
    dim : str, optional
        The sample (row) dimension of a Dataset; optional when it has one dimension.
    chunksize : int or "auto"
        Rows per block; ``"auto"`` sizes blocks to about
        :data:`~ooc_accessor.sources.AUTO_BLOCK_BYTES` of design matrix.
    path : str or path-like, optional
        Where to keep the store. ``None`` makes a temporary store removed when the Design
        is garbage collected, unless :meth:`Design.save` is called.
    missing : {"drop", "raise"}
        Rows with a missing value in a used column are dropped and counted
        (``n_dropped``), as statsmodels' ``missing="drop"``, or raise.
    weights : str or array-like, optional
        A column name, or one weight per row of ``frame`` (a Series aligns on the index);
        stored with the design and used by :meth:`Design.lstsq`.
    eval_env : int or patsy.EvalEnvironment
        Where names in the formula that are not columns are looked up (frames up from the
        caller, as patsy).
    compression : str, optional
        HDF5 compression filter for the stored blocks, e.g. ``"gzip"``.

    Returns
    -------
    Design
    """
    env = capture_env(eval_env)
    check_missing_policy(missing)
    table = table_source(data, dim)
    desc = model_desc(formula)
    lhs = [f.code for t in desc.lhs_termlist for f in t.factors]
    codes = lhs + [f.code for t in desc.rhs_termlist for f in t.factors]
    table, wcol = table.with_weights(weights)
    used = used_columns(table, codes, env, formula)
    table.check(used, [c for c in lhs if c in table.names], wcol)
    columns = used + ([wcol] if wcol and wcol not in used else [])
    source = table.select(columns)
    infos = learn_infos(
        desc, source, resolve_chunksize(chunksize, len(columns)), env, missing, formula
    )
    _response_check(infos, source)
    return write_design(
        source,
        infos,
        formula,
        chunksize=chunksize,
        path=path,
        missing=missing,
        wcol=wcol,
        eval_env=env,
        compression=compression,
    )


def write_design(
    source: FrameSource | DatasetSource,
    infos: list[DesignInfo],
    formula: str,
    *,
    chunksize: int | str,
    path: str | os.PathLike | None,
    missing: str,
    wcol: str | None,
    eval_env: EvalEnvironment | None,
    compression: str | None,
) -> Design:
    """Pass two: build every block with the learned state and store it atomically."""
    y_names, terms = list(infos[0].column_names), list(infos[1].column_names)
    p = len(terms)
    if p == 0:
        raise FormulaError(
            f"formula {formula!r} has no right-hand-side columns; add a term or the "
            "intercept (e.g. 'y ~ 1 + a')"
        )
    rows = resolve_chunksize(chunksize, p + len(y_names) + 1)
    if chunksize == "auto":  # no HDF5 chunk longer than the data: it would be allocated whole
        rows = min(rows, max(source.n_rows, 1))
    final = os.fspath(path) if path is not None else store.temporary_store_path()
    spec_json = spec_to_json(design_spec(infos, formula))
    layout = {
        "terms": terms,
        "responses": y_names,
        "chunk_rows": rows,
        "weights": wcol is not None,
        "compression": compression,
    }
    groups = _worker_groups(source, infos, rows)
    # the whole store's bytes must be free before a block is built (parts: their share)
    store.ensure_space(final, source.n_rows * (p + len(y_names) + 2) * 8 * (1 + bool(groups)))
    parts_dir = None
    try:
        if groups is not None:
            # on a dask.distributed cluster: each worker builds a run of blocks into a part
            # store of its own (one writer per file), and the parts are copied in order
            parts_dir = _parts_dir(final)
            parts = [os.path.join(parts_dir, f"part-{i:05d}.nc") for i in range(len(groups))]
            tasks = [
                delayed(build_part, pure=False)(
                    source, g, spec_json, formula, missing, wcol, part, layout
                )
                for g, part in zip(groups, parts, strict=True)
            ]
            counts = reduce.compute(*tasks)
        with store.DesignWriter(final, **layout) as writer:
            if groups is not None:
                dropped = sum(d for _, d in counts)
                for part in parts:
                    writer.copy_from(part)
            else:
                dropped = _append_blocks(
                    writer, source, source.blocks(rows), infos, missing, wcol, formula
                )
            _finish(writer, infos, source, dropped, p, formula, spec_json, wcol)
    finally:
        if parts_dir is not None:
            shutil.rmtree(parts_dir, ignore_errors=True)
    return Design(final, temporary=path is None, eval_env=eval_env)


def _append_blocks(
    writer: store.DesignWriter,
    source: Any,
    blocks: Any,
    infos: list[DesignInfo],
    missing: str,
    wcol: str | None,
    formula: str,
) -> int:
    """Build each block and append it; returns the rows dropped for missing values."""
    dropped = 0
    for block in blocks:
        built = build_block(infos, block, missing, wcol, formula)
        dropped += len(block) - len(built.index)
        writer.append(built.x, built.y, built.index, built.w)
    return dropped


def _worker_groups(source: Any, infos: list[DesignInfo], rows: int) -> list | None:
    """Runs of blocks for the cluster's workers, when they can build them on their own.

    That needs a source a worker can read (a dask-backed Dataset) and a formula that only
    calls numpy and patsy (the caller's namespace does not travel).
    """
    if not getattr(source, "remote", False):
        return None
    codes = [f.code for info in infos for f in info.factor_infos]
    if missing_columns(source, codes, default_eval_env()):
        return None
    groups = reduce.worker_groups(source.ranges(rows))
    return groups if groups is not None and len(groups) > 1 else None


def _parts_dir(final: str) -> str:
    """A fresh directory beside ``final`` for the workers' part stores (a shared disk)."""
    directory = os.path.dirname(os.path.abspath(final))
    parts = os.path.join(directory, f".{os.path.basename(final)}.parts-{uuid.uuid4().hex[:12]}")
    os.mkdir(parts)
    return parts


@functools.lru_cache(maxsize=8)
def _infos_for(spec_json: str) -> list[DesignInfo]:
    """A worker's design infos, rebuilt from the JSON spec once per process."""
    return infos_from_spec(spec_from_json(spec_json), default_eval_env())


def build_part(
    source: Any,
    ranges: list[tuple[int, int]],
    spec_json: str,
    formula: str,
    missing: str,
    wcol: str | None,
    part: str,
    layout: dict,
) -> tuple[int, int]:
    """Worker task: build the blocks ``ranges`` of ``source`` into the part store ``part``.

    patsy's DesignInfo does not pickle: the formula state travels as its JSON spec and is
    rebuilt here. The part is written atomically, so a task rerun after a lost worker
    replaces it whole. Returns ``(rows written, rows dropped)``.
    """
    infos = _infos_for(spec_json)
    with store.DesignWriter(part, **layout) as writer:
        blocks = (source.block(a, b) for a, b in ranges)
        dropped = _append_blocks(writer, source, blocks, infos, missing, wcol, formula)
        writer.commit({"part": 1})
    return writer.n, dropped


def _finish(
    writer: store.DesignWriter,
    infos: list[DesignInfo],
    source: Any,
    dropped: int,
    p: int,
    formula: str,
    spec_json: str,
    wcol: str | None,
) -> None:
    """Refuse a store with no or too few rows, else write its attributes and commit it."""
    if writer.n == 0:
        stateful = [
            f.code
            for info in infos
            for f, fi in info.factor_infos.items()
            if fi.state.get("transforms")
        ]
        hint = (
            f"; note that {stateful[0]!r} is NaN everywhere when its column has a "
            "missing value (patsy's rule): drop those rows first"
            if stateful
            else ": fill or drop the missing values of those columns, or leave an "
            "all-missing column out of the formula"
        )
        columns = [c if c != WEIGHTS_COL else "weights" for c in source.columns]
        raise DataError(
            f"all {dropped} rows were dropped for missing values in the columns "
            f"{columns}; nothing is left to fit{hint}"
        )
    if writer.n < p:
        raise DataError(
            f"{writer.n} rows remain (after dropping {dropped} with missing values) "
            f"for {p} design columns of {formula!r}; a fit needs at least as many rows as "
            "columns: use more rows or fewer terms"
        )
    writer.commit(
        {
            "formula": formula,
            "spec": spec_json,
            "n_dropped": dropped,
            "weights_column": "" if wcol in (None, WEIGHTS_COL) else wcol,
            "source_kind": source.kind,
            "sample_dim": source.sample_dim,
        }
    )


class Design:
    """A handle on a stored design matrix (X, y and their labels).

    Made by ``df.ooc.design(...)``, :func:`open_design` or :meth:`build`; holds no rows in
    memory. ``X`` and ``y`` are lazy, dask-backed DataArrays read from the store.

    Attributes
    ----------
    formula : str
    terms : list of str
        Column names of X, in order (patsy's).
    path : str
    n_obs : int
        Rows stored.
    n_dropped : int
        Rows dropped for missing values when the store was built.
    """

    def __init__(
        self,
        path: str,
        *,
        temporary: bool = False,
        eval_env: EvalEnvironment | None = None,
        verify: bool = False,
    ) -> None:
        attrs = store.read_attrs(path, verify=verify)
        self._path = os.path.abspath(path)
        self._spec = spec_from_json(attrs["spec"])
        self.formula: str = attrs["formula"]
        self.n_obs: int = int(attrs["n_obs"])
        self.n_dropped: int = int(attrs["n_dropped"])
        self.chunk_rows: int = int(attrs["chunk_rows"])
        self.weights_column: str | None = attrs.get("weights_column") or None
        self.has_weights: bool = "weights" in attrs["variables"]
        #: unique per written store: reads check it, so a store rewritten at the same path
        #: during a computation is refused rather than mixed with this one
        self.store_id: str = str(attrs["store_id"])
        #: "pandas" or "xarray": what labeled results look like
        self.source_kind: str = attrs.get("source_kind", "pandas")
        #: the row dimension's name in xarray outputs (a Dataset's ``dim``, else "obs")
        self.sample_dim: str = attrs.get("sample_dim", "obs")
        self._eval_env = eval_env
        self._infos: list[DesignInfo] | None = None
        self._ds: xr.Dataset | None = None
        self._finalizer = (
            weakref.finalize(self, store.remove_file, self._path) if temporary else None
        )

    # -- labels -----------------------------------------------------------------
    @property
    def path(self) -> str:
        """Path of the store."""
        return self._path

    @property
    def terms(self) -> list[str]:
        """Column names of X."""
        return list(self._spec["matrices"][1]["column_names"])

    @property
    def responses(self) -> list[str]:
        """Column names of y (empty without a left side)."""
        return list(self._spec["matrices"][0]["column_names"])

    @property
    def spec(self) -> dict:
        """The JSON-able formula state (levels, transform state), as saved in the store."""
        return self._spec

    @property
    def design_infos(self) -> list[DesignInfo]:
        """patsy's DesignInfo of y and X, rebuilt from the saved spec."""
        if self._infos is None:
            self._infos = infos_from_spec(self._spec, self._eval_env)
        return self._infos

    def _dataset(self) -> xr.Dataset:
        if self._ds is None:
            # opening builds a pandas index of obs (8 bytes a row, in memory): that is why
            # the reductions read the store with h5py and never go through here
            keep = self if self._finalizer is not None else None  # a temporary store's owner
            self._ds = open_rows(self._path, self.chunk_rows, self.sample_dim, self.store_id, keep)
        return self._ds

    @property
    def X(self) -> xr.DataArray:  # noqa: N802 - the design matrix's conventional name
        """The design matrix, lazy, dims ``("obs", "term")`` (a Dataset's ``dim`` for obs)."""
        return self._dataset()["X"]

    @property
    def y(self) -> xr.DataArray | None:
        """The response, lazy, dims ``("obs",)`` (or ``("obs", "response")``); or None."""
        ds = self._dataset()
        if "y" not in ds:
            return None
        y = ds["y"]
        return y.rename(self.responses[0]) if y.ndim == 1 else y

    @property
    def weights(self) -> xr.DataArray | None:
        """Stored weights, lazy, dims ``("obs",)``; or None."""
        return self._dataset()["weights"] if self.has_weights else None

    @property
    def obs(self) -> pd.Index:
        """The stored row labels (the source's own index)."""
        return store.read_index(self._path)

    def blocks(self) -> list[tuple[int, int]]:
        """Row ranges ``(start, stop)`` of the stored chunks, the unit of every reduction."""
        r = self.chunk_rows
        return [(a, min(a + r, self.n_obs)) for a in range(0, self.n_obs, r)]

    # -- results ----------------------------------------------------------------
    def lstsq(self, weights: Any = None) -> LstsqResult:
        """Least-squares fit of y on X from the R factor of ``[X | y]`` (TSQR).

        Parameters
        ----------
        weights : array-like, optional
            One non-negative weight per stored row (WLS). ``None`` uses the weights stored
            with the design, if any, else ordinary least squares.

        Returns
        -------
        LstsqResult
        """
        # results sit a floor above; the method is here because users call it on a Design
        from .results import lstsq_design

        return lstsq_design(self, weights=weights)

    def svd(self, k: int | None = None) -> SVDResult:
        """Thin SVD of X: ``s`` and ``Vt`` in one pass (TSQR), ``U`` stored in a second.

        Parameters
        ----------
        k : int, optional
            Components to keep (default ``min(n_obs, n_terms)``).

        Returns
        -------
        SVDResult
        """
        from .results import svd_design

        return svd_design(self, k)

    def pca(self, n_components: int | None = None, **kwargs: Any) -> IncrementalPCA:
        """PCA of X (centred by column): a fitted :class:`~ooc_accessor.IncrementalPCA`.

        ``kwargs`` are IncrementalPCA's parameters (``whiten``, ``svd_solver``...).
        """
        from .pca import pca

        return pca(self, n_components, **kwargs)

    def build(
        self,
        data: pd.DataFrame | xr.Dataset,
        *,
        dim: str | None = None,
        path: str | os.PathLike | None = None,
        chunksize: int | str = "auto",
        missing: str = "drop",
        weights: str | Any | None = None,
    ) -> Design:
        """The same columns (levels, transform state) for new data, stored.

        A response column absent from ``data`` is left out (a design for prediction). A
        categorical level the design never saw raises :class:`UnseenLevelError`.
        ``weights`` is a column name or one weight per row, as in :func:`build_design`.
        """
        check_missing_policy(missing)
        y_info, x_info = self.design_infos
        env = self._eval_env if self._eval_env is not None else default_eval_env()
        table = table_source(data, dim)
        if missing_columns(table, [f.code for f in y_info.factor_infos], env):
            y_info = empty_info()
        codes = [f.code for info in (y_info, x_info) for f in info.factor_infos]
        table, wcol = table.with_weights(weights)
        used = used_columns(table, codes, env, self.formula)
        columns = used + ([wcol] if wcol and wcol not in used else [])
        return write_design(
            table.select(columns),
            [y_info, x_info],
            self.formula,
            chunksize=chunksize,
            path=path,
            missing=missing,
            wcol=wcol,
            eval_env=self._eval_env,
            compression=None,
        )

    def predictor_blocks(
        self, data: pd.DataFrame | xr.Dataset, chunksize: int | str = "auto", dim: str | None = None
    ) -> Iterator[tuple[int, Block]]:
        """X of ``data`` built block by block in memory: ``(first row, Block)`` pairs."""
        x_info = self.design_infos[1]
        env = self._eval_env if self._eval_env is not None else default_eval_env()
        table = table_source(data, dim)
        used = used_columns(table, [f.code for f in x_info.factor_infos], env, self.formula)
        rows = resolve_chunksize(chunksize, len(self.terms))
        start = 0
        for block in table.select(used).blocks(rows):
            yield start, build_block([empty_info(), x_info], block, "drop", None, self.formula)
            start += len(block)

    def save(self, path: str | os.PathLike) -> Design:
        """Keep the store at ``path`` (a temporary store is moved, a kept one copied)."""
        target = store.check_target(path)  # not a directory, nor a user's other file
        if target == self._path:
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
            return self
        self.close()
        tmp = f"{target}.tmp-save"
        if self._finalizer is not None:
            shutil.move(self._path, tmp)
            self._finalizer.detach()
            self._finalizer = None
        else:
            shutil.copyfile(self._path, tmp)
        store.replace(tmp, target)  # an existing target keeps its mode and owner
        self._path = target
        return self

    def close(self) -> None:
        """Close the lazily opened dataset (the store stays)."""
        if self._ds is not None:
            self._ds.close()
            self._ds = None

    def __repr__(self) -> str:
        kind = "temporary" if self._finalizer is not None else "stored"
        return (
            f"<ooc.Design {self.formula!r}: {self.n_obs} obs x {len(self.terms)} terms "
            f"({self.n_dropped} dropped), {kind} at {self._path}>"
        )


def open_rows(
    path: str,
    chunk_rows: int,
    sample_dim: str = "obs",
    store_id: str | None = None,
    keep: Any = None,
) -> xr.Dataset:
    """A store of rows (a design, U, scores) opened lazily, bound to that store (see lazy)."""
    return lazy.open_rows(path, chunk_rows, sample_dim, store_id, store.decode_index, keep)


def open_design(
    path: str | os.PathLike, eval_env: EvalEnvironment | None = None, *, verify: bool = True
) -> Design:
    """Open a design store written by ``design(..., path=...)`` or :meth:`Design.save`.

    Parameters
    ----------
    path : str or path-like
    eval_env : patsy.EvalEnvironment, optional
        Namespace for functions the formula calls beyond numpy (``np``) and patsy's.
    verify : bool
        Read the whole store once and check that every value is the one written (SHA-256
        per variable, recorded when it was written) before handing it out. ``False`` skips
        that pass for a store too large to read twice: its structure, attributes and chunk
        index are still checked, and each chunk's checksum whenever a fit reads it.

    Raises
    ------
    StoreError
        The file is missing, incomplete, not a design store, or damaged (truncated, a
        chunk failing its checksum, a variable removed, an attribute edited): the message
        names the file and what is wrong.
    """
    path = os.fspath(path)
    design = Design(path, eval_env=eval_env, verify=verify)
    try:
        design.design_infos  # noqa: B018 - fail now, not at first use
    except FormulaError as exc:
        raise StoreError(f"cannot rebuild the formula state saved in {path!r}: {exc}") from exc
    return design
