"""IncrementalPCA out of core, with scikit-learn's contract and labeled results.

Two exact one-pass solvers and one randomized multi-pass solver:

- ``"full"``: the R factor of ``[1 | X]`` merged block by block (its trailing block is the R
  of the centred data), then the SVD of that p x p factor. Exact, chunk-order invariant,
  constant memory; costs about 2 n p^2 flops.
- ``"covariance_eigh"``: the scatter matrix about a fixed shift, accumulated with BLAS
  ``dsyrk`` (n p^2 flops, half the QR's and with a faster kernel), then ``eigh`` of its top
  part. Loses accuracy for components whose variance is below ~1e-7 of the largest.
- ``"randomized"``: a range finder with power iterations over the data (Halko et al.), for
  feature counts whose p x p factor does not fit the memory target; needs a re-readable
  source (``fit``, not ``partial_fit``).

``"auto"`` picks ``"full"`` for up to :data:`QR_MAX_FEATURES` features, ``"covariance_eigh"``
above, and ``"randomized"`` when a p x p float64 matrix exceeds :data:`MATRIX_BYTES`.
"""

from __future__ import annotations

import inspect
import os
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import linalg as sla

from . import kernels, lazy, reduce, store
from .design import open_rows
from .errors import DataError, NotFittedError, PrecisionWarning
from .fields import FieldMatrix
from .labels import FeatureLabels
from .sources import DesignMatrix, MatrixSource, as_matrix

__all__ = ["IncrementalPCA", "pca"]

#: widest data for which "auto" uses the QR (R of [1 | X]) solver; above, the covariance's
#: dsyrk is at least 2x cheaper (measured on 140000 x 3504: 110 s vs 24 s)
QR_MAX_FEATURES = 500
#: largest p x p float64 factor "auto" accepts before switching to the randomized solver
MATRIX_BYTES = 512 * 2**20
#: bytes of float64 rows per block when batch_size is not given
BLOCK_BYTES = 16 * 2**20
_SOLVERS = ("auto", "full", "covariance_eigh", "randomized")
_MISSING = ("raise", "drop")
_RANDOMIZED_PARTIAL = (
    "svd_solver='randomized' needs every row at once (several passes): call fit, or use "
    "'full' or 'covariance_eigh' with partial_fit"
)


def _matrix(
    data: Any,
    columns: list | None = None,
    dim: str | None = None,
    variables: list | None = None,
    layout: Any = None,
    missing: str = "raise",
) -> MatrixSource:
    if missing not in _MISSING:
        raise ValueError(f"missing must be one of {_MISSING}, not {missing!r}")
    if hasattr(data, "terms") and hasattr(data, "n_obs") and hasattr(data, "chunk_rows"):
        return DesignMatrix(data)  # a stored design: read X chunk by chunk
    if isinstance(data, (xr.DataArray, xr.Dataset)):
        if columns is not None:
            raise ValueError(
                "columns= selects DataFrame columns; for xarray data use variables= (a "
                "Dataset) or .sel/.isel (a DataArray)"
            )
        return FieldMatrix(data, dim, variables, layout=layout, missing=missing)
    if variables is not None:
        raise ValueError(
            "variables= selects Dataset variables; pass columns= for a DataFrame's columns"
        )
    return as_matrix(data, columns=columns, dim=dim, missing=missing)


#: relative error of an explained variance above which covariance_eigh warns
COVARIANCE_RTOL = 1e-9


def _warn_covariance_precision(s2: np.ndarray, p: int, k: int) -> None:
    """Warn when eigh of the scatter matrix cannot give a kept variance to ~9 digits.

    Its eigenvalues carry an absolute error of about ``p eps lambda_max``: a component
    whose variance is below ~1e-5 of the largest (for p ~ 1000) loses relative digits,
    where the QR solver keeps them.
    """
    if s2.size == 0 or s2[0] <= 0:
        return
    smallest = s2[k - 1] if s2[k - 1] > 0 else np.finfo(float).tiny
    rel = p * np.finfo(float).eps * s2[0] / smallest
    if rel > COVARIANCE_RTOL:
        warnings.warn(
            f"component {k - 1}'s variance is {smallest / s2[0]:.2g} of the largest, so the "
            f"covariance solver gives it to a relative error of about {rel:.1g}; pass "
            "svd_solver='full' (QR of the data, exact) for those components",
            PrecisionWarning,
            stacklevel=4,
        )


def _check_finite(block: np.ndarray, src: MatrixSource, a: int, nan_ok: bool = False) -> None:
    """Raise, naming the feature and row, on inf (always) and on NaN (unless ``nan_ok``)."""
    inf = np.isinf(block)
    bad, what, fix = inf, "inf", "inf is not missing: fix or drop those rows"
    if not inf.any():
        if nan_ok:
            return
        bad, what = np.isnan(block), "NaN"
        fix = "fill them, or pass missing='drop' to leave the rows holding NaN out"
        if not bad.any():
            return
    counts = bad.sum(axis=0)
    j = int(np.argmax(counts))
    row = a + int(np.argmax(bad[:, j]))
    raise DataError(
        f"feature {src.feature_label(j)!r} holds {int(counts[j])} {what} value(s) in rows "
        f"{a}-{a + len(block) - 1} (the first at row {row}); {fix}"
    )


def _read(src: MatrixSource, a: int, b: int) -> np.ndarray:
    """Rows ``a:b`` of ``src``, checked: NaN raises, or (``src.missing == "drop"``) the
    rows holding one are left out. inf always raises."""
    block = src.block(a, b)
    if block.dtype.kind != "f":
        return block
    drop = src.missing == "drop"
    _check_finite(block, src, a, nan_ok=drop)
    if drop:
        nan = np.isnan(block).any(axis=1)
        if nan.any():
            block = block[~nan]
    return block


def _state_rows(state: Any) -> int:
    """Rows folded into a state: CovStats counts them; R of [1 | X] has sqrt(n) at [0, 0]."""
    if state is None:
        return 0
    if isinstance(state, kernels.CovStats):
        return int(state.nobs)
    return round(float(state[0, 0]) ** 2)


class IncrementalPCA:
    """Principal component analysis in bounded memory, exact whatever the blocks.

    scikit-learn's estimator contract: ``__init__`` stores parameters, :meth:`fit` resets
    and folds every block, :meth:`partial_fit` folds more rows in constant memory (any
    number of times, any order: the answer is the same), fitted attributes end in ``_``.
    It works as a step of a scikit-learn ``Pipeline`` (``get_params``/``set_params``,
    ``clone``).

    Parameters
    ----------
    n_components : int, optional
        Components to keep; ``None`` keeps ``min(n_samples, n_features)``.
    whiten : bool
        Scale the scores to unit variance.
    copy : bool
        Kept for scikit-learn compatibility; the input is never modified.
    batch_size : int, optional
        Rows per block in :meth:`fit`; by default about 16 MiB of float64 rows.
    svd_solver : {"auto", "full", "covariance_eigh", "randomized"}
        See the module docstring for what each does and when ``"auto"`` picks it.
    iterated_power : int or "auto"
        Power iterations of the randomized solver (``"auto"``: 7, or 4 when
        ``n_components`` is at least 10% of the features, as scikit-learn).
    n_oversamples : int
        Extra random directions of the randomized solver.
    random_state : int or numpy Generator, optional
        Seed of the randomized solver.
    missing : {"raise", "drop"}
        A sample holding NaN in a feature raises (scikit-learn's behaviour), naming the
        feature and row; ``"drop"`` leaves such samples out of the fit, as statsmodels'
        ``missing="drop"`` (``n_samples_seen_`` counts the samples kept), and
        :meth:`transform` gives them NaN scores. inf always raises.

    Attributes
    ----------
    components_ : (n_components, n_features)
        Principal axes, largest variance first; signs fixed so each row's largest-magnitude
        entry is positive. A DataFrame (component x feature) for pandas input, a DataArray
        for xarray input, an ndarray otherwise; likewise for the vectors below.
    explained_variance_, explained_variance_ratio_, singular_values_ : (n_components,)
    mean_, var_ : (n_features,)
        Per-feature mean and variance (ddof 0).
    noise_variance_ : float
        Mean variance of the discarded components (probabilistic PCA's noise).
    n_components_, n_samples_seen_, n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when the input had string column names.
    svd_solver_ : str
        The solver used ("auto" resolved).
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        whiten: bool = False,
        copy: bool = True,
        batch_size: int | None = None,
        svd_solver: str = "auto",
        iterated_power: int | str = "auto",
        n_oversamples: int = 10,
        random_state: Any = None,
        missing: str = "raise",
    ) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.copy = copy
        self.batch_size = batch_size
        self.svd_solver = svd_solver
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.random_state = random_state
        self.missing = missing

    # -- scikit-learn's parameter protocol ----------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator (scikit-learn's protocol)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> IncrementalPCA:
        """Set parameters (scikit-learn's protocol); unknown names raise ``ValueError``."""
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"invalid parameter {key!r} for IncrementalPCA; valid: {sorted(valid)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            k: v.default for k, v in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = [
            f"{k}={getattr(self, k)!r}"
            for k in self._param_names()
            if getattr(self, k) != defaults[k]
        ]
        return f"IncrementalPCA({', '.join(changed)})"

    # -- fitting --------------------------------------------------------------------------------
    def _reset(self) -> None:
        for name in list(vars(self)):
            if name.endswith("_") or name.startswith("_state"):
                delattr(self, name)
        self._cache = None

    def _rows(self, src: MatrixSource) -> int:
        if self.batch_size is not None:
            b = self.batch_size
            if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
                raise ValueError(
                    f"batch_size must be a positive int (rows per block) or None, not {b!r}"
                )
            return int(b)
        rows = BLOCK_BYTES // (8 * max(src.n_features, 1))
        # the QR solver refactors the running p x p R with every block: blocks of at least
        # its cache-sized step keep that overhead under half the work
        return max(1, rows, kernels.sub_rows(src.n_features + 1))

    def _choose_solver(self, p: int) -> str:
        if self.svd_solver not in _SOLVERS:
            raise ValueError(f"svd_solver must be one of {_SOLVERS}, not {self.svd_solver!r}")
        if self.svd_solver != "auto":
            return self.svd_solver
        if 8 * p * p > MATRIX_BYTES:
            return "randomized"
        return "full" if p <= QR_MAX_FEATURES else "covariance_eigh"

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        columns: list | None = None,
        dim: str | None = None,
        variables: list | None = None,
    ):
        """Fit on all rows of ``X``: a DataFrame, array, memmap, Design, DataArray or Dataset.

        Resets the estimator, then folds ``X`` block by block; memory stays a few blocks
        plus the p x p factor whatever the row count. For xarray input, ``dim`` is the
        sample dimension and every other dimension is stacked into features (cells missing
        at every sample are dropped, and come back as NaN); ``variables`` picks a Dataset's
        variables (default: all along ``dim``).
        """
        self._reset()
        src = _matrix(X, columns, dim, variables, missing=self.missing)
        self._start(src)
        if self.svd_solver_ == "randomized":
            self._fit_randomized(src)
            return self
        ranges = src.ranges(self._rows(src))
        groups = _groups(src, ranges)
        if groups is None or len(groups) < 2:
            for a, b in ranges:
                self._fold(src, a, b)
            return self._check_rows(src)
        # on a dask.distributed cluster: each worker thread folds a contiguous run of blocks
        # into one factor, and only those p x p factors travel to be merged
        shift = _first_mean(src, ranges) if self.svd_solver_ != "full" else None
        args = (self.svd_solver_, shift)
        self._state = reduce.over_groups(_fold_rows, src, ranges, groups, args, _merge_states)
        self.n_samples_seen_ = _state_rows(self._state)
        return self._check_rows(src)

    def _check_rows(self, src: MatrixSource) -> IncrementalPCA:
        if getattr(self, "_state", None) is None:
            if src.n_rows:
                raise DataError(_NO_ROWS)
            raise DataError("X has no rows: nothing to decompose; pass data with samples")
        return self

    def partial_fit(
        self,
        X: Any,
        y: Any = None,
        check_input: bool = True,
        *,
        dim: str | None = None,
        variables: list | None = None,
    ) -> IncrementalPCA:
        """Fold more rows into the fit (constant memory; any number of calls, any order)."""
        fitted = getattr(self, "_layout", None)
        layout = _field_layout(fitted)
        src = _matrix(X, dim=dim, variables=variables, layout=layout, missing=self.missing)
        if not hasattr(self, "n_features_in_"):
            if self._choose_solver(src.n_features) == "randomized":
                raise ValueError(_RANDOMIZED_PARTIAL)
            self._start(src)
        elif src.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {src.n_features} features, but IncrementalPCA was fitted with "
                f"{self.n_features_in_}"
            )
        if self.svd_solver_ == "randomized":
            raise ValueError(_RANDOMIZED_PARTIAL)
        for a, b in src.ranges(self._rows(src)):
            self._fold(src, a, b)
        return self._check_rows(src)

    def _start(self, src: MatrixSource) -> None:
        p = src.n_features
        if p == 0:
            raise ValueError(
                "X has no features (0 columns); pass data with at least one numeric column"
            )
        if self.n_components is not None and (
            not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1
        ):
            raise ValueError(
                f"n_components must be a positive int or None, not {self.n_components!r}"
            )
        if self.n_components is not None and self.n_components > p:
            raise ValueError(
                f"n_components={self.n_components} must be at most min(n_samples, n_features)"
                f" = {min(src.n_rows, p)} (n_features={p})"
            )
        self.n_features_in_ = p
        names = src.feature_names
        if names is not None and all(isinstance(n, str) for n in names):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self._layout = (
            src.layout
            if isinstance(src, FieldMatrix)
            else FeatureLabels(src.kind, names, src.feature_dim)
        )
        self.svd_solver_ = self._choose_solver(p)
        self.n_samples_seen_ = 0
        self._state = None
        self._cache = None

    def _fold(self, src: MatrixSource, a: int, b: int) -> None:
        self._state = _fold_rows(src, [(a, b)], self.svd_solver_, None, self._state)
        self.n_samples_seen_ = _state_rows(self._state)
        self._cache = None

    # -- the randomized solver ------------------------------------------------------------------
    def _fit_randomized(self, src: MatrixSource) -> None:
        p, n = src.n_features, src.n_rows
        k = self.n_components or min(n, p)
        width = min(p, k + int(self.n_oversamples))
        power = self.iterated_power
        if power == "auto":
            power = 7 if k < 0.1 * p else 4
        rng = np.random.default_rng(self.random_state)
        ranges = src.ranges(self._rows(src))
        groups = _groups(src, ranges)

        def over(fn: Any, *args: Any, merge: Any = reduce.sum_parts) -> Any:
            return reduce.over_groups(fn, src, ranges, groups, args, merge)

        sums = over(_sum_rows)  # pass 1: the rows kept, the mean, then the variances
        n = round(float(sums[-1]))
        if n == 0:
            raise DataError(_NO_ROWS)
        k = min(k, n) if self.n_components is None else k
        width = min(p, k + int(self.n_oversamples))
        mean = sums[:-1] / n
        sq = over(_sq_rows, mean)
        basis = np.linalg.qr(rng.standard_normal((p, width)))[0]
        # one pass each: Z = A'A basis, orthonormalized. The first pass is the range finder
        # itself (scikit-learn's n_iter=0 also multiplies by the data once): power + 1 passes
        for _ in range(int(power) + 1):
            basis = np.linalg.qr(over(_gram_rows, mean, basis))[0]
        # last pass: R of A basis, whose SVD gives s and V
        r = over(_r_rows, mean, basis, merge=kernels.stack_r)
        _, s, wt = np.linalg.svd(kernels.square_r(r, width))
        self._state = ("randomized", mean, sq, s, wt @ basis.T)
        self.n_samples_seen_ = n
        self._cache = None

    # -- results --------------------------------------------------------------------------------
    def _solve(self) -> dict[str, Any]:
        """Spectrum and axes from the folded state (cached until more rows arrive)."""
        if getattr(self, "_cache", None) is not None:
            return self._cache
        if getattr(self, "_state", None) is None:
            raise NotFittedError(
                "this IncrementalPCA is not fitted yet; call fit or partial_fit first"
            )
        n, p = self.n_samples_seen_, self.n_features_in_
        kmax = min(n, p)
        k = self.n_components if self.n_components is not None else kmax
        if k > kmax:
            raise ValueError(
                f"n_components={k} must be at most min(n_samples, n_features) = {kmax} "
                f"({n} samples seen, {p} features)"
            )
        if self.svd_solver_ == "full":
            _, mean, rc = kernels.split_centred_r(self._state, p)
            _, s, vt = np.linalg.svd(rc)
            s2 = s**2
            var = np.einsum("ij,ij->j", rc, rc) / n
            total = float(np.sum(s2))
        elif self.svd_solver_ == "covariance_eigh":
            mean, scatter = kernels.cov_scatter(self._state)
            var = np.diag(scatter) / n
            total = float(np.trace(scatter))
            w, v = sla.eigh(scatter, lower=False, subset_by_index=[p - k, p - 1], overwrite_a=True)
            s2 = np.clip(w[::-1], 0.0, None)
            s, vt = np.sqrt(s2), v[:, ::-1].T
            _warn_covariance_precision(s2, p, k)
        else:
            _, mean, sq, s, vt = self._state
            s2, var, total = s**2, sq / n, float(np.sum(sq))
        vt = kernels.svd_flip_rows(vt[:k])
        ev = s2 / max(n - 1, 1)
        total_ev = total / max(n - 1, 1)
        noise = (total_ev - ev[:k].sum()) / (kmax - k) if k < kmax else 0.0
        self._cache = {
            "components": vt,
            "ev": ev[:k],
            "ratio": ev[:k] / total_ev if total_ev > 0 else np.zeros(k),
            "sv": s[:k],
            "mean": mean,
            "var": var,
            "noise": max(float(noise), 0.0),
            "k": k,
        }
        return self._cache

    def _label_vec(self, values: np.ndarray, dim: str):
        kind = self._layout.kind
        if dim != "component":
            return self._layout.vector(values)
        if kind == "numpy":
            return values
        idx = pd.RangeIndex(values.shape[0], name="component")
        if kind == "xarray":
            return xr.DataArray(values, dims=("component",), coords={"component": idx})
        return pd.Series(values, index=idx)

    @property
    def components_(self):
        """Principal axes (component x feature), signs fixed.

        For a field (xarray input with several feature dims) the axes are unstacked onto
        the variables' own dims, ``("component", lat, lon)``, NaN where a cell is missing
        at every sample; several variables give a Dataset.
        """
        c = self._solve()["components"]
        comp = pd.RangeIndex(c.shape[0], name="component")
        return self._layout.matrix(c, "component", comp)

    @property
    def explained_variance_(self):
        """Variance of each component (ddof 1)."""
        return self._label_vec(self._solve()["ev"], "component")

    @property
    def explained_variance_ratio_(self):
        """Share of the total variance of each component."""
        return self._label_vec(self._solve()["ratio"], "component")

    @property
    def singular_values_(self):
        """Singular values of the centred data for the kept components."""
        return self._label_vec(self._solve()["sv"], "component")

    @property
    def mean_(self):
        """Per-feature mean."""
        return self._label_vec(self._solve()["mean"], "feature")

    @property
    def var_(self):
        """Per-feature variance (ddof 0, as scikit-learn's IncrementalPCA)."""
        return self._label_vec(self._solve()["var"], "feature")

    @property
    def noise_variance_(self) -> float:
        """Mean variance of the components not kept."""
        return self._solve()["noise"]

    @property
    def n_components_(self) -> int:
        """Components kept."""
        return self._solve()["k"]

    # -- transforms -----------------------------------------------------------------------------
    def _projection(self) -> tuple[np.ndarray, np.ndarray]:
        sol = self._solve()
        comps = sol["components"]
        if self.whiten:
            comps = comps / np.sqrt(sol["ev"])[:, None]
        return sol["mean"], comps

    def transform(self, X: Any, *, dim: str | None = None):
        """Scores ``(X - mean_) @ components_.T`` (whitened if asked), block by block.

        An ndarray or memmap gives an ndarray (scikit-learn's contract), a DataFrame a
        DataFrame on its index, a DataArray a lazy (dask) DataArray over its sample dim, and
        a stored :class:`~ooc_accessor.Design` scores stored beside it and opened lazily,
        dims ``("obs", "component")``.
        """
        mean, comps = self._projection()
        if isinstance(X, (xr.DataArray, xr.Dataset)):
            layout = _field_layout(self._layout)
            if layout is None:
                raise ValueError("this PCA was not fitted on xarray data: pass an array")
            if dim is not None and dim != layout.sample_dim:
                raise ValueError(
                    f"dim={dim!r}, but the PCA was fitted along {layout.sample_dim!r}; pass "
                    f"dim={layout.sample_dim!r} (or rename that dimension)"
                )
            rows = max(1, BLOCK_BYTES // (8 * max(layout.n_cells, 1)))
            stacked = layout.stack(X, rows)
            centred = stacked - xr.DataArray(mean, dims=("feature",))
            basis = xr.DataArray(comps, dims=("component", "feature"))
            scores = xr.dot(centred, basis, dim="feature").rename("scores")
            return scores.assign_coords(component=np.arange(comps.shape[0]))
        src = _matrix(X, missing=self.missing)
        if src.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {src.n_features} features, but IncrementalPCA was fitted with "
                f"{self.n_features_in_}"
            )
        if isinstance(src, DesignMatrix):
            return _stored_scores(src, mean, comps)
        out = np.empty((src.n_rows, comps.shape[0]))
        nan_ok = self.missing == "drop"  # a row holding NaN gets NaN scores
        for a, b in src.ranges(self._rows(src)):
            block = src.block(a, b)
            _check_finite(block, src, a, nan_ok=nan_ok)
            out[a:b] = (np.asarray(block, dtype=np.float64) - mean) @ comps.T
        if src.kind == "pandas" and src.index is not None:
            return pd.DataFrame(
                out, index=src.index, columns=pd.RangeIndex(comps.shape[0], name="component")
            )
        return out

    def fit_transform(self, X: Any, y: Any = None, **kwargs: Any):
        """:meth:`fit`, then :meth:`transform` of the same data."""
        return self.fit(X, **kwargs).transform(X)

    def inverse_transform(self, X: Any):
        """Data from scores: ``scores @ components_ + mean_`` (undoing whitening)."""
        sol = self._solve()
        comps = sol["components"]
        if self.whiten:
            comps = comps * np.sqrt(sol["ev"])[:, None]
        scores = np.asarray(X, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[1] != comps.shape[0]:
            raise ValueError(
                f"inverse_transform needs scores of shape (n_samples, {comps.shape[0]}) (the "
                f"fitted n_components), got {scores.shape}; pass what transform returned"
            )
        out = scores @ comps + sol["mean"]
        if isinstance(X, pd.DataFrame):
            return FeatureLabels("pandas", self._layout.names).matrix(out, "index", X.index)
        if isinstance(X, xr.DataArray):
            sample = X.dims[0]
            index = X.indexes[sample] if sample in X.indexes else np.arange(X.shape[0])
            if isinstance(self._layout, FeatureLabels):
                return FeatureLabels("xarray", self._layout.names, self._layout.feature_dim).matrix(
                    out, sample, index
                )
            return self._layout.matrix(out, sample, index)
        return out


def _first_mean(src: MatrixSource, ranges: list[tuple[int, int]]) -> np.ndarray:
    """The covariance solver's shift: the mean of the first block with rows (keeps the
    sums small)."""
    for a, b in ranges:
        block = _read(src, a, b)
        if len(block):
            return _block_mean(block)
    raise DataError(_NO_ROWS)


_NO_ROWS = (
    "every row holds a missing value (missing='drop' left none): nothing to decompose; "
    "fill the missing values, or leave the features that are always missing out"
)


def _fold_rows(
    src: MatrixSource,
    ranges: list[tuple[int, int]],
    solver: str,
    shift: np.ndarray | None,
    state: Any = None,
) -> Any:
    """Fold the rows ``ranges`` of ``src`` into ``state`` (an R factor or CovStats).

    A module-level function so a dask worker can run it on a pickled source (whose reads
    run where they are called: see ``FieldMatrix._raw``).
    """
    for a, b in ranges:
        block = _read(src, a, b)
        if not len(block):  # every row dropped for a missing value
            continue
        if solver == "full":
            state = kernels.centred_r(block, r0=state)
        else:
            if shift is None:
                shift = state.shift if state is not None else _block_mean(block)
            state = kernels.cov_stats(block, shift, into=state)
    return state


def _groups(src: MatrixSource, ranges: list) -> list | None:
    """Runs of blocks for the workers of an active cluster, when they can read ``src``."""
    return reduce.worker_groups(ranges) if getattr(src, "remote", False) else None


def _sum_rows(src: MatrixSource, ranges: list) -> np.ndarray:
    """Column sums of the rows ``ranges`` (checked), then the rows kept: randomized pass 1."""
    total = np.zeros(src.n_features + 1)
    for a, b in ranges:
        block = _read(src, a, b)
        total[:-1] += np.asarray(block, dtype=np.float64).sum(axis=0)
        total[-1] += len(block)
    return total


def _sq_rows(src: MatrixSource, ranges: list, mean: np.ndarray) -> np.ndarray:
    """Column sums of squares about ``mean``."""
    sq = np.zeros(src.n_features)
    for a, b in ranges:
        blk = np.asarray(_read(src, a, b), dtype=np.float64) - mean
        sq += np.einsum("ij,ij->j", blk, blk)
    return sq


def _gram_rows(src: MatrixSource, ranges: list, mean: np.ndarray, basis: np.ndarray):
    """``A' A basis`` over the rows ``ranges`` of the centred data A."""
    z = np.zeros((src.n_features, basis.shape[1]))
    for a, b in ranges:
        blk = np.asarray(_read(src, a, b), dtype=np.float64) - mean
        z += blk.T @ (blk @ basis)
    return z


def _r_rows(src: MatrixSource, ranges: list, mean: np.ndarray, basis: np.ndarray):
    """The R factor of ``A basis`` over the rows ``ranges``."""
    r = None
    for a, b in ranges:
        block = _read(src, a, b)
        if not len(block):
            continue
        part = kernels.data_r(block, mean, basis)
        r = part if r is None else kernels.stack_r([r, part])
    return r


def _block_mean(block: np.ndarray) -> np.ndarray:
    """A block's column means in float64 (the covariance solver's shift)."""
    return np.asarray(block, dtype=np.float64).mean(axis=0)


def _merge_states(parts: list) -> Any:
    """Merge folded states of disjoint row sets (R factors, or CovStats about one shift)."""
    if isinstance(parts[0], kernels.CovStats):
        return kernels.merge_cov_stats(parts)
    return kernels.stack_r(parts)


def _field_layout(layout: Any) -> Any:
    """The fitted field layout (land cells, dims), or None for non-xarray fits."""
    return layout if layout is not None and not isinstance(layout, FeatureLabels) else None


def _stored_scores(src: DesignMatrix, mean: np.ndarray, comps: np.ndarray) -> xr.DataArray:
    """Scores of a stored design, written beside it block by block, opened lazily.

    The file lives as long as the returned DataArray (it is removed when that is collected).
    """
    design = src.design
    blocks = reduce.stream_blocks(
        reduce.project_block, design.path, design.blocks(), comps.T, mean, design.store_id
    )
    path = store.temporary_store_path(os.path.dirname(design.path))
    k = comps.shape[0]
    store.write_row_matrix(
        path, design.path, "scores", list(range(k)), "component", blocks, design.chunk_rows
    )
    owner = lazy.TemporaryFile(path)  # held by every output computed from the scores
    return open_rows(path, design.chunk_rows, design.sample_dim, keep=owner)["scores"]


def pca(
    data: Any,
    n_components: int | None = None,
    *,
    columns: list | None = None,
    dim: str | None = None,
    variables: list | None = None,
    **kwargs: Any,
) -> IncrementalPCA:
    """A fitted :class:`IncrementalPCA` of ``data`` (the accessors' ``pca``).

    Parameters
    ----------
    data : DataFrame, ndarray, memmap, DataArray or Design
    n_components : int, optional
    columns : list, optional
        Columns of a DataFrame to use (default: all, which must be numeric).
    dim : str, optional
        The sample dimension of a DataArray or Dataset; the other dims become features.
    variables : list of str, optional
        The Dataset variables to decompose together (default: all along ``dim``).
    **kwargs
        Other :class:`IncrementalPCA` parameters (``whiten``, ``svd_solver``...).
    """
    est = IncrementalPCA(n_components, **kwargs)
    return est.fit(data, columns=columns, dim=dim, variables=variables)
