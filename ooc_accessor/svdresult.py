"""The thin SVD of a stored design: ``s`` and ``Vt`` from the R factor in one pass, ``U``
in a second, stored (:class:`SVDResult`, :func:`svd`, :func:`svd_design`)."""

from __future__ import annotations

import os
import weakref
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from . import kernels, progress, reduce, solve, store
from .arguments import check_keywords
from .design import Design, build_design, capture_env, open_rows
from .errors import ArgumentError
from .reprs import svd_report
from .reprs_html import Reported
from .scaling import exact_scale
from .signatures import checked_methods

__all__ = ["SVD_KEYWORDS", "SVDResult", "svd", "svd_design"]

#: build_design's keywords svd passes on (it has no weights: it would ignore them)
SVD_KEYWORDS = ("formula", "k", "dim", "eval_env", "chunksize", "path", "missing", "compression")


@checked_methods  # a misspelt keyword is an ArgumentTypeError naming the accepted ones
class SVDResult(Reported):
    """Thin SVD ``X = U diag(s) Vt`` of a stored design.

    ``s`` and ``Vt`` come from the SVD of the R factor of X (one pass, TSQR); ``U = X V / s``
    is computed in a second pass and stored beside the design, so it is lazy and as long
    as the data. Signs are fixed so each row of ``Vt`` has its largest-magnitude entry
    positive, which makes them independent of the chunking.

    Attributes
    ----------
    s : pandas.Series or xarray.DataArray
        Singular values by component, largest first (xarray for a Dataset's design).
    Vt : pandas.DataFrame or xarray.DataArray
        Right singular vectors, component x term.
    U : xarray.DataArray
        Left singular vectors, lazy, dims ``("obs", "component")`` on the stored rows (a
        Dataset's ``dim`` in place of ``obs``).
    rank : int
        The rank of X: how many of all its singular values (not only the ``k`` kept) are
        above the rank tolerance (as ``numpy.linalg.matrix_rank``).
    share : pandas.Series or xarray.DataArray
        By component (as ``s``): each kept component's share of the sum of squares of X,
        ``s**2 / sum(all s**2)`` (over every singular value, so with ``k`` below the rank
        the shares sum below 1).
    """

    def __init__(
        self,
        s: np.ndarray,
        vt: np.ndarray,
        design: Design,
        u_path: str,
        rank: int,
        share: np.ndarray,
    ) -> None:
        k = s.size
        comp = pd.RangeIndex(k, name="component")
        if design.source_kind == "xarray":
            self.s = xr.DataArray(s, dims=("component",), coords={"component": comp}, name="s")
            self.share = self.s.copy(data=np.asarray(share, dtype=float)).rename("share")
            self.Vt = xr.DataArray(
                vt,
                dims=("component", "term"),
                coords={"component": comp, "term": design.terms},
                name="Vt",
            )
        else:
            self.s = pd.Series(s, index=comp, name="s")
            self.share = pd.Series(np.asarray(share, dtype=float), index=comp, name="share")
            self.Vt = pd.DataFrame(vt, index=comp, columns=pd.Index(design.terms, name="term"))
        self.rank = rank
        self.design = design
        self.path = u_path
        self._store_id = store.store_id_of(u_path)  # U is read from this store only
        self._finalizer = weakref.finalize(self, store.remove_file, u_path)
        self._ds: xr.Dataset | None = None

    @property
    def U(self) -> xr.DataArray:  # noqa: N802 - the conventional name
        """Left singular vectors, lazy (dask), dims ``("obs", "component")``."""
        if self._ds is None:
            self._ds = open_rows(
                self.path, self.design.chunk_rows, self.design.sample_dim, self._store_id, self
            )
        return self._ds["U"]

    _report = svd_report  # __repr__ and _repr_html_ (reprs.py)


def svd_design(design: Design, k: int | None = None) -> SVDResult:
    """SVD of a stored design's X (see :meth:`Design.svd`)."""
    p, n = len(design.terms), design.n_obs
    kmax = min(n, p)
    if k is None:
        k = kmax
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= kmax:
        raise ArgumentError(f"k must be an int from 1 to min(n_obs, n_terms) = {kmax}, not {k!r}")
    graph = reduce.x_r_graph(design.path, design.blocks(), design.store_id)
    row_bytes = 8 * p
    e, r = reduce.compute(graph, desc="svd: R pass", row_bytes=row_bytes)[0]
    # the SVD of R for X * 2**-e: the same vectors, singular values scaled by 2**-e
    _, s_all, vt = np.linalg.svd(kernels.square_r(r, p))
    vt = kernels.svd_flip_rows(vt[:k])
    s = s_all[:k]
    # the rank and the shares from every singular value of R, not only the k kept: the
    # design's rank, and each share of ||X||_F^2 (in the scaled units: no overflow)
    tol = solve.rank_tolerance(n, p) * (s_all[0] if s_all.size else 0.0)
    rank = int(np.sum(s_all > tol))
    total = float(np.sum(s_all**2))
    share = s**2 / total if total > 0 else np.zeros_like(s)
    kept = int(np.sum(s > tol))
    s_raw = exact_scale(
        s[:kept],
        e,
        "the singular value",
        [f"component {i} of {design.formula!r}" for i in range(kept)],
        "rescale the columns (multiply or divide them by a power of ten)",
    )
    s_raw = np.concatenate([s_raw, np.ldexp(s[kept:], e)])
    # U = X V / s, from the scaled X; a zero singular value leaves its column of U at zero
    scale = np.where(s > tol, 1.0 / np.where(s > 0, s, 1.0), 0.0)
    proj = vt.T * scale

    blocks = reduce.stream_blocks(
        reduce.project_block, design.path, design.blocks(), proj, None, design.store_id, e
    )
    u_path = store.temporary_store_path(os.path.dirname(design.path))
    with progress.task("svd: U pass", n, row_bytes):
        store.write_row_matrix(
            u_path, design.path, "U", list(range(k)), "component", blocks, design.chunk_rows
        )
    return SVDResult(s_raw, vt, design, u_path, rank, share)


def svd(
    data: pd.DataFrame | xr.Dataset,
    formula: str,
    k: int | None = None,
    *,
    dim: str | None = None,
    eval_env: Any = 0,
    **design_kwargs: Any,
) -> SVDResult:
    """SVD of ``formula``'s design matrix on ``data`` (a formula without a left side).

    Parameters
    ----------
    data : pandas.DataFrame or xarray.Dataset
    formula : str
        E.g. ``"0 + a + b + c"``; a left side, if any, is stored but not decomposed.
    dim : str, optional
        A Dataset's sample dimension.
    k : int, optional
        Components to keep (default all).
    **design_kwargs
        ``chunksize``, ``path``, ``missing``: see :func:`~ooc_accessor.design.build_design`.
    """
    check_keywords("svd", design_kwargs, SVD_KEYWORDS)
    env = capture_env(eval_env)
    return svd_design(build_design(data, formula, dim=dim, eval_env=env, **design_kwargs), k)
