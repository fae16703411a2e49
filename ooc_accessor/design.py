"""Design: a formula's state learned over all chunks, then X and y written block by block.

Pass one runs patsy's incremental builders over every block (categorical levels,
``center()``/``standardize()`` state); pass two builds each block with that fixed state and
appends it to the store. :class:`Design` is the handle on a finished store.
"""

from __future__ import annotations

import inspect
import json
import os
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd
import xarray as xr
from patsy import EvalEnvironment
from patsy.design_info import DesignInfo

from . import assemble, lazy, progress, store
from .arguments import (  # capture_env: importable from here, as before
    capture_env,
    check_keywords,
    check_not_source,
    check_path,
    resolve_chunksize,
)
from .blocks import check_missing_policy, explain_dropped, learn_infos, response_check
from .coltypes import dtypes_attr, stored_dtypes
from .designbase import DesignBase
from .errors import DataError, FormulaError, StoreError
from .learnparts import learn_on_workers
from .parts import append_blocks, worker_groups, write_parts
from .progress import showing as progress_bars
from .reprs import design_report
from .reprs_html import Reported
from .safety import trust_names
from .signatures import checked_methods
from .sources import WEIGHTS_COL, table_source, used_columns
from .spec import (
    default_eval_env,
    design_spec,
    model_desc,
    spec_from_json,
    spec_to_json,
)

if TYPE_CHECKING:
    from .pca import IncrementalPCA
    from .results import LstsqResult, SVDResult
    from .stats.glmresults import GLMResults

__all__ = ["Design", "build_design", "capture_env"]


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
        ``ooc.set_options(chunk_memory=)`` of design matrix (16 MiB by default).
    path : str or path-like, optional
        Where to keep the store. ``None`` makes a temporary store removed when the Design
        is garbage collected, unless :meth:`Design.save` is called.
    missing : {"drop", "raise"}
        Rows with a missing value in a used column are dropped and counted
        (``n_dropped``), as statsmodels' ``missing="drop"``, or raise.
    weights : str or array-like, optional
        A column name, or one weight per row, aligned by label: a Series on its index, a
        DataArray on its coordinate along ``dim`` (one without a coordinate, or an array,
        by position). A row without a weight is an error. Stored with the design and used
        by :meth:`Design.lstsq`.
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
    if path is not None:
        check_not_source(path, data)
    source, infos, wcol, _ = learn_design(data, formula, dim, chunksize, missing, weights, env)
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


def learn_design(
    data: pd.DataFrame | xr.Dataset,
    formula: str,
    dim: str | None,
    chunksize: int | str,
    missing: str,
    weights: Any,
    env: EvalEnvironment,
) -> tuple[Any, list[DesignInfo], str | None, Any]:
    """Pass one: the source of the used columns, the learned DesignInfos of y and X, the
    weights' column (or None) and the whole table (with the weights); :func:`build_design`'s
    parameters."""
    check_missing_policy(missing)
    table = table_source(data, dim)
    desc = model_desc(formula)
    lhs = [f.code for t in desc.lhs_termlist for f in t.factors]
    codes = lhs + [f.code for t in desc.rhs_termlist for f in t.factors]
    table, wcol = table.with_weights(weights)
    used = used_columns(table, codes, env, formula)
    table.check(used, [c for c in lhs if c in table.names], wcol)
    columns = used + ([wcol] if wcol and wcol not in used else [])
    source = table.select(columns, codes)
    rows = resolve_chunksize(chunksize, len(columns), source.n_rows)
    # on a cluster, a remote source's state is learned by the workers and merged here
    infos = learn_on_workers(desc, source, rows, env, missing, formula)
    if infos is None:
        with progress.task("design: learn", source.n_rows):
            infos = learn_infos(desc, source, rows, env, missing, formula)
    response_check(infos, source)
    return source, infos, wcol, table


def write_design(
    source: Any,
    infos: list[DesignInfo],
    formula: str,
    *,
    chunksize: int | str,
    path: str | os.PathLike | None,
    missing: str,
    wcol: str | None,
    eval_env: EvalEnvironment | None,
    compression: str | None,
    tmpdir: str | None = None,
) -> Design:
    """Pass two: build every block with the learned state and store it atomically (a
    temporary store, without ``path``, in ``tmpdir`` or the option's directory)."""
    spec_json = check_spec(infos, formula)
    y_names, terms = list(infos[0].column_names), list(infos[1].column_names)
    p = len(terms)
    # no HDF5 chunk longer than the data (it would be allocated whole) nor beyond memory
    rows = resolve_chunksize(chunksize, p + len(y_names) + 1, source.n_rows)
    final = (
        check_path(path, "where to write the design store")
        if path is not None
        else store.temporary_store_path(tmpdir)
    )
    layout = {
        "terms": terms,
        "responses": y_names,
        "chunk_rows": rows,
        "weights": wcol is not None,
        "compression": compression,
    }
    groups = worker_groups(source, infos, rows)
    # the whole store's bytes must be free before a block is built (the parts hold them)
    store.ensure_space(final, source.n_rows * (p + len(y_names) + 2) * 8)
    # an assembled store at ``final`` (a rebuild): its parts go once the new store is there
    old_parts = assemble.owned_parts_dir(final) if os.path.exists(final) else None
    if groups is not None:
        # each worker writes a part store; the store is assembled over them (no row copied)
        def finish(n: int, dropped: int) -> dict[str, Any]:
            check_rows(n, dropped, source, infos, rows, wcol, formula)
            return _store_attrs(source, dropped, formula, spec_json, wcol)

        write_parts(source, groups, final, layout, (spec_json, formula, missing, wcol), finish)
    else:
        with (
            store.DesignWriter(final, **layout) as writer,
            progress.task("design: build", source.n_rows),
        ):
            dropped = append_blocks(
                writer, source, source.blocks(rows), infos, missing, wcol, formula
            )
            check_rows(writer.n, dropped, source, infos, rows, wcol, formula)
            writer.commit(_store_attrs(source, dropped, formula, spec_json, wcol))
    if old_parts is not None and old_parts != assemble.parts_dir_of(final):
        assemble.remove_parts(old_parts)
    # the user's own formula (or one checked when its store was opened): trusted as written
    return Design(final, temporary=path is None, eval_env=eval_env, own_spec=spec_json)


def check_spec(infos: list[DesignInfo], formula: str) -> str:
    """The learned state as the store's JSON spec; a formula with no columns is refused."""
    if not infos[1].column_names:
        raise FormulaError(
            f"formula {formula!r} has no right-hand-side columns; add a term or the "
            "intercept (e.g. 'y ~ 1 + a')"
        )
    return spec_to_json(design_spec(infos, formula))


def check_rows(
    n: int,
    dropped: int,
    source: Any,
    infos: list[DesignInfo],
    rows: int,
    wcol: str | None,
    formula: str,
) -> None:
    """Refuse a design with no rows, or fewer rows than columns.

    With no rows, a term's NaN rather than a missing value may be the cause: that is named
    first (:func:`~ooc_accessor.blocks.explain_dropped`, one more read of ``source`` in
    blocks of ``rows``).
    """
    p = len(infos[1].column_names)
    if n == 0:
        explain_dropped(infos, source.blocks(rows), wcol, formula)
        columns = [c if c != WEIGHTS_COL else "weights" for c in source.columns]
        raise DataError(
            f"all {dropped} rows were dropped for missing values in the columns "
            f"{columns}; nothing is left to fit: fill or drop the missing values of those "
            "columns, or leave an all-missing column out of the formula"
        )
    if n < p:
        raise DataError(
            f"{n} rows remain (after dropping {dropped} with missing values) "
            f"for {p} design columns of {formula!r}; a fit needs at least as many rows as "
            "columns: use more rows or fewer terms"
        )


def _store_attrs(
    source: Any, dropped: int, formula: str, spec_json: str, wcol: str | None
) -> dict[str, Any]:
    """The design store's own attributes (formula, spec, counts, what the source was)."""
    return {
        "formula": formula,
        "spec": spec_json,
        "n_dropped": dropped,
        "weights_column": "" if wcol in (None, WEIGHTS_COL) else wcol,
        "source_kind": source.kind,
        "sample_dim": source.sample_dim,
        # what each column was, so new data of another kind is named in an error
        "column_dtypes": dtypes_attr(source, WEIGHTS_COL),
    }


@checked_methods  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
class Design(Reported, DesignBase):
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
        trust: Iterable[str] | None = None,
        own_spec: str | None = None,
    ) -> None:
        attrs = store.read_attrs(path, verify=verify)
        self._path = os.path.abspath(path)
        where = f"design store {os.fspath(path)!r}"
        text = attrs.get("spec")
        try:
            self._spec = spec_from_json(text)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{where}: its spec is not JSON ({exc}); rebuild it") from exc
        for key in ("formula", "weights_column", "source_kind", "sample_dim"):
            if not isinstance(attrs.get(key, ""), str):
                raise StoreError(f"{where}: its {key!r} attribute is not text; rebuild it")
        if attrs.get("source_kind", "pandas") not in ("pandas", "xarray"):
            raise StoreError(f"{where}: its source_kind attribute is not pandas or xarray")
        #: a spec this session wrote is the user's own code; any other is checked as data
        self._where = None if own_spec is not None and text == own_spec else where
        namespace = (eval_env if eval_env is not None else default_eval_env()).namespace
        self._trust = trust_names(trust, namespace)
        try:
            self.formula: str = attrs["formula"]
            self.n_obs: int = int(attrs["n_obs"])
            self.n_dropped: int = int(attrs["n_dropped"])
            self.chunk_rows: int = int(attrs["chunk_rows"])
            #: unique per written store: reads check it, so a store rewritten at the same
            #: path during a computation is refused rather than mixed with this one
            self.store_id: str = str(attrs["store_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{where} lacks a valid {exc} attribute; rebuild it") from exc
        self.weights_column: str | None = attrs.get("weights_column") or None
        self.has_weights: bool = "weights" in attrs["variables"]
        #: "pandas" or "xarray": what labeled results look like
        self.source_kind: str = attrs.get("source_kind", "pandas")
        #: the row dimension's name in xarray outputs (a Dataset's ``dim``, else "obs")
        self.sample_dim: str = attrs.get("sample_dim", "obs")
        self._column_dtypes = stored_dtypes(attrs.get("column_dtypes"))
        self._eval_env = eval_env
        self._infos: list[DesignInfo] | None = None
        self._ds: xr.Dataset | None = None
        #: rows per part of a store assembled from a cluster's part stores, else None
        self._part_rows: list[int] | None = (
            [int(e["rows"]) for e in json.loads(attrs["parts"])] if "parts" in attrs else None
        )
        parts = assemble.owned_parts_dir(self._path) if self._part_rows is not None else None
        self._finalizer = (
            weakref.finalize(self, assemble.remove_store, self._path, parts) if temporary else None
        )

    # -- labels -----------------------------------------------------------------
    @property
    def path(self) -> str:
        """Path of the store."""
        return self._path

    def _dataset(self) -> xr.Dataset:
        if self._ds is None:
            # opening builds a pandas index of obs (8 bytes a row, in memory): that is why
            # the reductions read the store with h5py and never go through here
            keep = self if self._finalizer is not None else None  # a temporary store's owner
            rows = self.chunk_rows if self._part_rows is None else self._row_chunks()
            self._ds = open_rows(self._path, rows, self.sample_dim, self.store_id, keep)
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
        if self._part_rows is None:
            return [(a, min(a + r, self.n_obs)) for a in range(0, self.n_obs, r)]
        # an assembled store: each part's own chunks, so a block is one chunk of one part
        out, start = [], 0
        for n in self._part_rows:
            out += [(start + a, start + min(a + r, n)) for a in range(0, n, r)]
            start += n
        return out

    def _row_chunks(self) -> tuple[int, ...]:
        return tuple(b - a for a, b in self.blocks())

    # -- results ----------------------------------------------------------------
    def lstsq(
        self,
        weights: Any = None,
        *,
        cov_type: str = "nonrobust",
        cov_kwds: dict | None = None,
        use_t: bool | None = None,
        progress: bool | None = None,
    ) -> LstsqResult:
        """Least-squares fit of y on X from the R factor of ``[X | y]`` (TSQR).

        Parameters
        ----------
        weights : array-like, optional
            One non-negative weight per stored row (WLS); a Series or DataArray is aligned
            by label on :attr:`obs`. ``None`` uses the weights stored with the design, if
            any, else ordinary least squares. A stored design has no columns: a column's
            name is refused (give ``weights=`` when the design is built instead).
        cov_type, cov_kwds, use_t
            As :func:`~ooc_accessor.results.lstsq` (cluster groups: one value per stored
            row, or a Series aligned on :attr:`obs`); a robust type costs one more pass.
        progress : bool, optional
            Progress bars on the passes; None follows ``ooc.set_options(progress=)``.

        Returns
        -------
        LstsqResult
        """
        # results sit a floor above; the method is here because users call it on a Design
        from .results import lstsq_design

        with progress_bars(progress):
            return lstsq_design(self, weights, cov_type=cov_type, cov_kwds=cov_kwds, use_t=use_t)

    def glm(
        self,
        family: Any = "gaussian",
        link: Any = None,
        var_weights: Any = None,
        freq_weights: Any = None,
        offset: Any = None,
        exposure: Any = None,
        *,
        maxiter: int = 100,
        tol: float = 1e-8,
        cov_type: str = "nonrobust",
        cov_kwds: dict | None = None,
        use_t: bool | None = None,
        progress: bool | None = None,
        **fit_options: Any,
    ) -> GLMResults:
        """A generalized linear model of y on X by IRLS, one pass over the store per
        iteration (statsmodels' ``GLM(...).fit()``).

        Parameters
        ----------
        family : str or statsmodels family
            ``"binomial"``, ``"poisson"``, ``"gamma"``, ``"gaussian"``,
            ``"inverse_gaussian"``, ``"negativebinomial"``, ``"tweedie"`` or an instance.
        link : str or statsmodels link, optional
            With a family name; its canonical link by default.
        var_weights, freq_weights, offset, exposure : array-like, optional
            One value per stored row (a Series or DataArray aligned on :attr:`obs`) or
            one number for all; a stored design has no columns to name.
        maxiter, tol : int, float
            statsmodels' IRLS iteration limit and deviance tolerance.
        cov_type, cov_kwds, use_t
            As :func:`~ooc_accessor.stats.glmfit.glm` (cluster groups: one value per
            stored row, or a Series aligned on :attr:`obs`).
        **fit_options
            statsmodels' ``scale``, ``atol``, ``rtol``, ``tol_criterion`` and
            ``start_params`` (see :func:`~ooc_accessor.stats.glmfit.glm`).
        progress : bool, optional
            Progress bars on the passes; None follows ``ooc.set_options(progress=)``.

        Returns
        -------
        GLMResults
        """
        from .stats.glmfit import glm_design

        named = list(inspect.signature(Design.glm).parameters)[1:-1]  # all but self, **
        fits = ("scale", "atol", "rtol", "tol_criterion", "start_params")
        check_keywords("Design.glm", fit_options, (*named, *fits))
        with progress_bars(progress):
            return glm_design(
                self,
                family,
                link,
                var_weights,
                freq_weights,
                offset,
                exposure,
                maxiter=maxiter,
                tol=tol,
                cov_type=cov_type,
                cov_kwds=cov_kwds,
                use_t=use_t,
                **fit_options,
            )

    def svd(self, k: int | None = None, *, progress: bool | None = None) -> SVDResult:
        """Thin SVD of X: ``s`` and ``Vt`` in one pass (TSQR), ``U`` stored in a second.

        Parameters
        ----------
        k : int, optional
            Components to keep (default ``min(n_obs, n_terms)``).
        progress : bool, optional
            Progress bars on the passes; None follows ``ooc.set_options(progress=)``.

        Returns
        -------
        SVDResult
        """
        from .results import svd_design

        with progress_bars(progress):
            return svd_design(self, k)

    def pca(
        self, n_components: int | None = None, *, progress: bool | None = None, **kwargs: Any
    ) -> IncrementalPCA:
        """PCA of X (centred by column): a fitted :class:`~ooc_accessor.IncrementalPCA`.

        ``kwargs`` are IncrementalPCA's parameters (``whiten``, ``svd_solver``,
        ``weights``...).
        """
        from .pca_call import pca

        with progress_bars(progress):
            return pca(self, n_components, **kwargs)

    def save(self, path: str | os.PathLike) -> Design:
        """Keep the store at ``path`` (a temporary store is moved, a kept one copied)."""
        check_path(path, "where to keep the design store")
        target = store.check_target(path)  # not a directory, nor a user's other file
        if target == self._path:
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
            return self
        self.close()
        # as every store is written: an exclusive, marked temporary beside the target, its
        # room checked, renamed over the target when complete (StoreError on failure)
        # an assembled store goes with its parts directory (or is written out whole)
        assemble.keep(self._path, target, move=self._finalizer is not None)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._path = target
        if self._part_rows is not None:  # it may have been written out as one file
            attrs = store.read_attrs(target)
            self.store_id = str(attrs["store_id"])
            self._part_rows = (
                [int(e["rows"]) for e in json.loads(attrs["parts"])] if "parts" in attrs else None
            )
        return self

    def discard(self) -> None:
        """Remove a temporary store now (its rows turned out not to be wanted)."""
        self.close()
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None

    def close(self) -> None:
        """Close the lazily opened dataset (the store stays)."""
        if self._ds is not None:
            self._ds.close()
            self._ds = None

    _report = design_report  # __repr__ and _repr_html_ (reprs.py)


def open_rows(
    path: str,
    chunk_rows: int,
    sample_dim: str = "obs",
    store_id: str | None = None,
    keep: Any = None,
) -> xr.Dataset:
    """A store of rows (a design, U, scores) opened lazily, bound to that store (see lazy)."""
    return lazy.open_rows(path, chunk_rows, sample_dim, store_id, store.decode_index, keep)
