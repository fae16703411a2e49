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

This module is the estimator (parameters, fitting protocol, results and their labels). The
solvers' block math is in :mod:`ooc_accessor.pca_solvers`, the reading and checking of
inputs in :mod:`ooc_accessor.pca_inputs`, the matching of features by name in
:mod:`ooc_accessor.names`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin

from . import kernels, options, pca_weights, progress, reduce
from . import pca_solvers as solvers
from .errors import ArgumentError, ArgumentTypeError, DataError, NotFittedError, OOCError
from .fields import FieldMatrix
from .labels import FeatureLabels
from .names import check_component_names
from .pca_inputs import check_params, fitted_source, matrix_source
from .pca_state import atomic
from .plot import PCAPlot, PlotAccessor
from .reprs_html import EstimatorReport
from .signatures import checked, checked_methods
from .sources import DesignMatrix, MatrixSource

__all__ = ["IncrementalPCA"]

#: widest data for which "auto" uses the QR (R of [1 | X]) solver; above, the covariance's
#: dsyrk is at least 2x cheaper (measured on 140000 x 3504: 110 s vs 24 s)
QR_MAX_FEATURES = 500
#: largest p x p float64 factor "auto" accepts before switching to the randomized solver
MATRIX_BYTES = 512 * 2**20
_RANDOMIZED_PARTIAL = (
    "svd_solver='randomized' needs every row at once (several passes): call fit, or use "
    "'full' or 'covariance_eigh' with partial_fit"
)
_SPARSE_PARTIAL = (
    "IncrementalPCA.partial_fit does not support sparse input. Either convert data to dense "
    "or use IncrementalPCA.fit to do so in batches. (fit densifies one batch at a time.)"
)


@checked_methods  # a bad call: ArgumentTypeError naming the accepted keywords
class IncrementalPCA(
    EstimatorReport, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Principal component analysis in bounded memory, exact whatever the blocks.

    A scikit-learn estimator in full (``BaseEstimator``, ``TransformerMixin``,
    ``check_estimator`` green): ``__init__`` stores parameters, :meth:`fit` resets and folds
    every block, :meth:`partial_fit` folds more rows in constant memory (any number of
    times, any order: the answer is the same), fitted attributes end in ``_``; it works in
    a ``Pipeline``, with ``clone``, ``set_output`` and ``get_feature_names_out``. Features
    are matched by name when the input carries names (``feature_names_in_``).

    Used as a plain estimator, its attributes and :meth:`transform` output are ndarrays
    (pandas with ``set_output(transform="pandas")``). Fitted through the accessors
    (``df.ooc.pca``, ``da.ooc.pca``, ``ds.ooc.pca``, ``design.pca``) its results are
    labeled instead: pandas for pandas input, xarray for xarray input, and the scores of a
    stored design stay lazy and stored (see docs/pca.md).

    Parameters
    ----------
    n_components : int, optional
        Components to keep; ``None`` keeps ``min(n_samples, n_features)``.
    whiten : bool
        Scale the scores to unit variance: each is divided by
        ``max(sqrt(explained_variance_), eps * sqrt(explained_variance_[0]))`` (``eps``
        alone when every variance is 0), so a component of zero variance gives finite
        scores and data of any magnitude unit-variance ones.
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
    random_state : int, numpy Generator or RandomState, optional
        Seed of the randomized solver.
    missing : {"raise", "drop"}
        A sample holding NaN in a feature raises (scikit-learn's behaviour), naming the
        feature and row; ``"drop"`` leaves such samples out of the fit, as statsmodels'
        ``missing="drop"`` (``n_samples_seen_`` counts the samples kept), and
        :meth:`transform` gives them NaN scores. inf always raises.
    weights : DataArray, Series or array, optional
        Feature weights (EOF area weighting, e.g. ``np.sqrt(np.cos(np.deg2rad(ds.lat)))``):
        each centred sample is multiplied by them before the decomposition; matched by
        dim name and coordinate label, or by column name. See :mod:`ooc_accessor.pca_weights`.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Principal axes, largest variance first; signs fixed so each row's largest-magnitude
        entry is positive. On the accessor route: a DataFrame (component x feature) for
        pandas input, a DataArray for xarray input; likewise for the vectors below.
    explained_variance_, explained_variance_ratio_, singular_values_ : (n_components,)
    mean_, var_ : ndarray of shape (n_features,)
        Per-feature mean and variance (ddof 0).
    noise_variance_ : float
        Mean variance of the discarded components (probabilistic PCA's noise).
    n_components_, n_samples_seen_, n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when the input had string feature names (DataFrame columns, a Design's terms,
        a DataArray's feature coordinate, a Dataset's 1-D variables).
    svd_solver_ : str
        The solver used ("auto" resolved).
    """

    #: set by the accessor route (:func:`pca`): labeled attributes and outputs. Not a
    #: parameter, so ``get_params``/``clone`` give a plain scikit-learn estimator.
    _labeled = False
    plot = PlotAccessor(PCAPlot)  # pca.plot.scree(), .components(): not a parameter

    @checked  # IncrementalPCA(progres=...) names the parameters, as every public call
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
        weights: Any = None,
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
        self.weights = weights

    # -- scikit-learn's protocol ----------------------------------------------------------------
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # fit densifies one batch at a time
        tags.input_tags.allow_nan = self.missing == "drop"
        # scores are computed and returned in float64 whatever the input dtype
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "_state", None) is not None

    def set_params(self, **params: Any) -> IncrementalPCA:
        """Set parameters (scikit-learn's protocol); an unknown name is an ArgumentError."""
        valid = self._get_param_names()
        for key in params:
            if key not in valid:
                raise ArgumentError(
                    f"invalid parameter {key!r} for IncrementalPCA; valid: {sorted(valid)}"
                )
        return super().set_params(**params)

    @property
    def _n_features_out(self) -> int:
        return self._solve()["k"]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output names ``incrementalpca0``, ``incrementalpca1``... (scikit-learn's)."""
        self._solve()  # not fitted: our NotFittedError (also scikit-learn's)
        try:
            return super().get_feature_names_out(input_features)
        except ValueError as exc:
            if isinstance(exc, OOCError):
                raise
            raise ArgumentError(str(exc)) from exc

    # -- fitting --------------------------------------------------------------------------------
    def _reset(self) -> None:
        for name in list(vars(self)):
            if (name.endswith("_") and not name.startswith("__")) or name in _FIT_STATE:
                delattr(self, name)

    def _rows(self, src: MatrixSource) -> int:
        if self.batch_size is not None:
            return int(self.batch_size)
        rows = options.chunk_memory() // (8 * max(src.n_features, 1))
        # the QR solver refactors the running p x p R with every block: blocks of at least
        # its cache-sized step keep that overhead under half the work
        return max(1, rows, kernels.sub_rows(src.n_features + 1))

    def _choose_solver(self, p: int) -> str:
        if self.svd_solver != "auto":
            return self.svd_solver
        if 8 * p * p > MATRIX_BYTES:
            return "randomized"
        return "full" if p <= QR_MAX_FEATURES else "covariance_eigh"

    @atomic
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        columns: list | None = None,
        dim: str | None = None,
        variables: list | None = None,
    ) -> IncrementalPCA:
        """Fit on all rows of ``X``: an array, memmap, scipy.sparse matrix, DataFrame,
        Design, DataArray or Dataset.

        Resets the estimator, then folds ``X`` block by block; memory stays a few blocks
        plus the p x p factor whatever the row count (a sparse matrix is densified one
        block at a time). For xarray input, ``dim`` is the sample dimension and every other
        dimension is stacked into features (cells missing at every sample are dropped, and
        come back as NaN); ``variables`` picks a Dataset's variables (default: all along
        ``dim``); ``columns`` picks a DataFrame's.
        """
        check_params(self)
        self._reset()
        src = matrix_source(X, columns, dim, variables, missing=self.missing)
        self._start(src)
        if self.svd_solver_ == "randomized":
            self._fit_randomized(src)
            return self._check_k()
        ranges = src.ranges(self._rows(src))
        groups = solvers.cluster_groups(src, ranges)
        if groups is None or len(groups) < 2:
            with progress.task("PCA fold", src.n_rows, 8 * src.n_features):
                for a, b in ranges:
                    self._fold(src, a, b)
            return self._check_rows(src)._check_k()
        # on a dask.distributed cluster: each worker thread folds a contiguous run of blocks
        # into one factor, and only those p x p factors travel to be merged
        shift = solvers.first_mean(src, ranges) if self.svd_solver_ != "full" else None
        args = (self.svd_solver_, shift)
        self._state = reduce.over_groups(
            solvers.fold_rows, src, ranges, groups, args, solvers.merge_states, desc="PCA fold"
        )
        self.n_samples_seen_ = solvers.state_rows(self._state)
        return self._check_rows(src)._check_k()

    def _check_rows(self, src: MatrixSource) -> IncrementalPCA:
        if getattr(self, "_state", None) is None:
            if src.n_rows:
                raise DataError(solvers.NO_ROWS)
            raise DataError(
                f"X has no rows (shape (0, {src.n_features})): nothing to decompose; pass "
                "data with samples"
            )
        return self

    def _check_k(self) -> IncrementalPCA:
        k, n = self._k_param, self.n_samples_seen_
        if k is not None and k > n:
            raise ArgumentError(
                f"n_components={k} must be at most min(n_samples, n_features) = "
                f"{min(n, self.n_features_in_)} ({n} samples, {self.n_features_in_} features)"
                f"; pass n_components<={min(n, self.n_features_in_)}, or None"
            )
        return self

    @atomic
    def partial_fit(
        self,
        X: Any,
        y: Any = None,
        check_input: bool = True,
        *,
        dim: str | None = None,
        variables: list | None = None,
    ) -> IncrementalPCA:
        """Fold more rows into the fit (constant memory; any number of calls, any order).

        The first call fixes the features (by name when ``X`` carries names) and
        ``n_components``; later calls must match them. For a field, land is what the first
        call's rows miss throughout (later calls cannot change it: values there raise).
        """
        check_params(self)
        if sparse.issparse(X):
            raise ArgumentTypeError(_SPARSE_PARTIAL)
        if not hasattr(self, "n_features_in_"):
            src = matrix_source(X, dim=dim, variables=variables, missing=self.missing)
            if self._choose_solver(src.n_features) == "randomized":
                raise ArgumentError(_RANDOMIZED_PARTIAL)
            self._start(src)
            k = self.n_components
            if k is not None and k > src.n_rows:
                self._reset()
                raise ArgumentError(
                    f"n_components={k} must be less or equal to the batch number of samples "
                    f"{src.n_rows} for the first partial_fit call. Pass at least {k} rows "
                    "first (or fewer components)"
                )
        else:
            if self.n_components != self._k_param:
                raise ArgumentError(
                    f"n_components changed from {self._k_param!r} to {self.n_components!r} "
                    "since the first partial_fit call; set it back, or call fit to start again"
                )
            if self.svd_solver_ == "randomized":
                raise ArgumentError(_RANDOMIZED_PARTIAL)
            src = self._source(X, dim, variables)
            pca_weights.check_unchanged(self.weights, src, self._weights)
        with progress.task("PCA partial_fit", src.n_rows, 8 * src.n_features):
            for a, b in src.ranges(self._rows(src)):
                self._fold(src, a, b)
        return self._check_rows(src)

    def _source(self, X: Any, dim: str | None, variables: list | None = None) -> MatrixSource:
        """New data of the fitted estimator as a source, its features checked by name."""
        return fitted_source(self, X, dim, variables, _field_layout(self._layout))

    def _start(self, src: MatrixSource) -> None:
        p = src.n_features
        if p == 0:
            raise DataError(
                f"X has no features: found array with 0 feature(s) (shape=({src.n_rows}, 0)) "
                "while a minimum of 1 is required. Pass data with at least one numeric column"
            )
        k = self.n_components
        if k is not None and k > p:
            raise ArgumentError(
                f"n_components={k} must be at most min(n_samples, n_features) = "
                f"{min(src.n_rows, p)} (n_features={p}); pass a smaller n_components, or None "
                f"(scikit-learn's words: n_components={k} invalid for n_features={p}, need "
                "more rows than columns for IncrementalPCA processing)"
            )
        self.n_features_in_ = p
        names = src.feature_names
        self._names_in = None if names is None else list(names)
        if names is not None and all(isinstance(n, str) for n in names):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self._layout = (
            src.layout
            if isinstance(src, FieldMatrix)
            else FeatureLabels(src.kind, names, src.feature_dim)
        )
        self._k_param = k
        self._weights = src.weights = pca_weights.feature_weights(self.weights, src)
        self.svd_solver_ = self._choose_solver(p)
        self.n_samples_seen_ = 0
        self._state = None
        self._cache = {}

    def _fold(self, src: MatrixSource, a: int, b: int) -> None:
        self._state = solvers.fold_rows(src, [(a, b)], self.svd_solver_, None, self._state)
        self.n_samples_seen_ = solvers.state_rows(self._state)
        self._cache = {}

    def _fit_randomized(self, src: MatrixSource) -> None:
        p, n = src.n_features, src.n_rows
        k = self.n_components or min(n, p)
        power = self.iterated_power
        if power == "auto":
            power = 7 if k < 0.1 * p else 4
        seed = self.random_state
        if isinstance(seed, np.random.RandomState):  # scikit-learn's kind of seed
            seed = seed.randint(2**31 - 1)
        ranges = src.ranges(self._rows(src))
        self._state, self.n_samples_seen_ = solvers.fit_randomized(
            src,
            ranges,
            k,
            self.n_components,
            self.n_oversamples,
            power,
            np.random.default_rng(seed),
        )
        self._cache = {}

    # -- results --------------------------------------------------------------------------------
    def _solve(self) -> dict[str, Any]:
        """Spectrum and axes from the folded state.

        Cached in a dict filled in place, so reading results never rebinds an attribute
        (scikit-learn's ``check_dict_unchanged``) and more rows empty the cache.
        """
        if getattr(self, "_state", None) is None:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit or partial_fit first"
            )
        if self._cache:
            return self._cache
        n, p = int(self.n_samples_seen_), self.n_features_in_
        kmax = min(n, p)
        k = self._k_param if self._k_param is not None else kmax
        if k > kmax:
            raise ArgumentError(
                f"n_components={k} must be at most min(n_samples, n_features) = {kmax} "
                f"({n} samples seen, {p} features); fold in more rows first"
            )
        names = getattr(getattr(self, "_layout", None), "names", None)
        spec = solvers.spectrum(self.svd_solver_, self._state, n, p, k, names)
        self._cache.update(pca_weights.in_data_units(spec, self._weights))
        return self._cache

    def _label_vec(self, values: np.ndarray, dim: str) -> Any:
        if not self._labeled:
            return values
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
    def components_(self) -> Any:
        """Principal axes (component x feature), signs fixed.

        On the accessor route, for a field (xarray input with several feature dims) the
        axes are unstacked onto the variables' own dims, ``("component", lat, lon)``, NaN
        where a cell is missing at every sample; several variables give a Dataset.
        """
        c = self._solve()["components"]
        if not self._labeled:
            return c
        comp = pd.RangeIndex(c.shape[0], name="component")
        return self._layout.matrix(c, "component", comp)

    @property
    def explained_variance_(self) -> Any:
        """Variance of each component (ddof 1)."""
        return self._label_vec(self._solve()["ev"], "component")

    @property
    def explained_variance_ratio_(self) -> Any:
        """Share of the total variance of each component."""
        return self._label_vec(self._solve()["ratio"], "component")

    @property
    def singular_values_(self) -> Any:
        """Singular values of the centred data for the kept components."""
        return self._label_vec(self._solve()["sv"], "component")

    @property
    def mean_(self) -> Any:
        """Per-feature mean."""
        return self._label_vec(self._solve()["mean"], "feature")

    @property
    def var_(self) -> Any:
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

    def get_covariance(self) -> np.ndarray:
        """Covariance of the data under the probabilistic PCA model (n_features square).

        scikit-learn's definition: ``C.T @ diag(explained_variance_ - noise_variance_) @ C
        + noise_variance_ * I``, ``C`` the ``components_`` times ``sqrt(explained_variance_)``
        when ``whiten=True`` (not the data's covariance then). Right wherever float64 holds
        it (computed in units of a power of two), else a DataError.
        """
        sol = self._solve()
        return solvers.covariance(sol["components"], sol["ev"], sol["noise"], self.whiten)

    def get_precision(self) -> np.ndarray:
        """Inverse of :meth:`get_covariance` (from the orthonormal axes: no p x p inverse).

        Right wherever float64 holds it, else a DataError (also when the covariance is
        singular: ``noise_variance_`` 0 with fewer components than the data's features).
        """
        sol = self._solve()
        return solvers.precision(sol["components"], sol["ev"], sol["noise"], self.whiten)

    # -- transforms -----------------------------------------------------------------------------
    def _projection(self) -> tuple[np.ndarray, np.ndarray]:
        check_params(self)  # set_params after the fit may have put anything there
        sol = self._solve()
        comps = sol["axes"]  # components_ times the weights
        if self.whiten:
            comps = comps / solvers.whiten_scale(sol["ev"])[:, None]
        return sol["center"], comps

    def transform(self, X: Any, *, dim: str | None = None) -> Any:
        """Scores ``(X - mean_) @ components_.T`` (whitened if asked), block by block.

        An ndarray (pandas with ``set_output``) as scikit-learn's. On the accessor route:
        a DataFrame gives a DataFrame on its index, a DataArray a lazy (dask) DataArray
        over its sample dim, and a stored :class:`~ooc_accessor.Design` scores stored
        beside it and opened lazily, dims ``("obs", "component")``.
        """
        mean, comps = self._projection()
        layout = _field_layout(self._layout)
        if self._labeled and isinstance(X, (xr.DataArray, xr.Dataset)):
            if layout is None:
                raise ArgumentError(
                    "this PCA was not fitted on xarray data: pass an array or DataFrame"
                )
            if dim is not None and dim != layout.sample_dim:
                raise ArgumentError(
                    f"dim={dim!r}, but the PCA was fitted along {layout.sample_dim!r}; pass "
                    f"dim={layout.sample_dim!r} (or rename that dimension)"
                )
            rows = max(1, options.chunk_memory() // (8 * max(layout.n_cells, 1)))
            return solvers.field_scores(layout.stack(X, rows), mean, comps)
        src = self._source(X, dim)
        if self._labeled and isinstance(src, DesignMatrix):
            return solvers.stored_scores(src, mean, comps)
        # a row holding NaN gets NaN scores with missing="drop"
        out = solvers.array_scores(src, self._rows(src), mean, comps, self.missing == "drop")
        if self._labeled and src.kind == "pandas" and src.index is not None:
            return pd.DataFrame(
                out, index=src.index, columns=pd.RangeIndex(comps.shape[0], name="component")
            )
        return out

    def fit_transform(self, X: Any, y: Any = None, **kwargs: Any) -> Any:
        """:meth:`fit`, then :meth:`transform` of the same data."""
        return self.fit(X, **kwargs).transform(X, dim=kwargs.get("dim"))

    def inverse_transform(self, X: Any) -> Any:
        """Data from scores: ``scores @ components_ + mean_`` (undoing whitening).

        Scores that carry component names (the columns of :meth:`transform`'s output,
        ``incrementalpca0``... with ``set_output``, or ``component`` 0, 1...) must name the
        fitted components in order.
        """
        check_params(self)
        sol = self._solve()
        comps = sol["components"]
        if self.whiten:
            comps = comps * np.sqrt(sol["ev"])[:, None]
        check_component_names(X, comps.shape[0], self.get_feature_names_out())
        scores = np.asarray(X, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[1] != comps.shape[0]:
            raise ArgumentError(
                f"inverse_transform needs scores of shape (n_samples, {comps.shape[0]}) (the "
                f"fitted n_components), got {scores.shape}; pass what transform returned"
            )
        out = pca_weights.unweigh(scores @ comps, self._weights) + sol["mean"]
        if not self._labeled:
            return out
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


#: what fit resets beside the attributes ending in "_"
_FIT_STATE = ("_state", "_cache", "_layout", "_names_in", "_k_param", "_weights")


def _field_layout(layout: Any) -> Any:
    """The fitted field layout (land cells, dims), or None for non-xarray fits."""
    return layout if layout is not None and not isinstance(layout, FeatureLabels) else None
