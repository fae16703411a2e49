"""The ``.ooc`` accessor methods' docstrings, full parameter lists included.

Kept apart from ``accessors.py`` so that module stays a thin list of delegations; the
texts are attached with :func:`documented`, which also drops the accessor's catch-all
``**unknown`` from the signature shown by ``help()`` and Sphinx (it exists only to refuse a
misspelt keyword with the accepted ones named, so it is not a parameter to document).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DESIGN_DOC", "GLM_DOC", "LSTSQ_DOC", "PCA_DOC", "SVD_DOC", "documented"]

F = TypeVar("F", bound=Callable)


def documented(doc: str) -> Callable[[F], F]:
    """Attach ``doc`` to an accessor method and hide its ``**unknown`` catch-all."""

    def attach(fn: F) -> F:
        fn.__doc__ = doc
        sig = inspect.signature(fn)
        shown = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        fn.__signature__ = sig.replace(parameters=shown)  # type: ignore[attr-defined]
        return fn

    return attach


# -- shared parameter texts (numpydoc "name : type" + indented meaning) ----------------------

_FORMULA = """\
formula : str
    A patsy formula, e.g. ``"y ~ a + b + a:b + C(g)"``: the same language and columns
    as patsy (names, order, codings, ``center()``, ``standardize()``)."""

_DIM = """\
dim : str, optional
    The sample (row) dimension of a Dataset; optional when its variables have one
    dimension. Not for a DataFrame (its rows are the samples)."""

_CHUNKSIZE = """\
chunksize : int or "auto", default "auto"
    Rows per block; ``"auto"`` sizes blocks to about ``ooc.set_options(chunk_memory=)``
    of design matrix (16 MiB by default). Chunking never changes the answer."""

_PATH = """\
path : str or path-like, optional
    Where to keep the design's NetCDF store. ``None`` uses a temporary store of about
    ``8 * rows * (columns + 1)`` bytes (in ``ooc.set_options(tmpdir=)``, else
    ``$OOC_ACCESSOR_TMPDIR``, else the system's temporary directory) removed with the
    result."""

_MISSING = """\
missing : {"drop", "raise"}, default "drop"
    A row with a missing value in a used column is dropped and counted (``n_dropped``),
    as statsmodels' ``missing="drop"``, or raises
    :class:`~ooc_accessor.DataError` naming the column and row."""

_COMPRESSION = """\
compression : str, optional
    HDF5 compression filter for the stored blocks, e.g. ``"gzip"``."""

_EVAL_ENV = """\
eval_env : int, dict or patsy.EvalEnvironment, default 0
    Where names in the formula that are not columns are looked up: frames up from the
    caller (0: the caller's namespace), or a dict of names, as patsy."""

_COV = """\
cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "fixed scale"}
    The covariance behind ``bse``, ``pvalues``, ``conf_int`` and the F test, as
    statsmodels' ``fit(cov_type=)``; a robust one costs one more pass over the rows.
cov_kwds : dict, optional
    The covariance's keywords: "cluster" takes ``groups`` (a column name or one label
    per row), "fixed scale" takes ``scale``; the HC types take none.
use_t : bool, optional
    Student t distributions (True) or the normal; by default True for "nonrobust" and
    False for the robust types, as statsmodels."""

PROGRESS = """\
progress : bool, optional
    Show a progress bar (rows done, MB/s, ETA) on each pass over the data; None follows
    ``ooc.set_options(progress=)``, whose default "auto" shows one when a pass takes
    over 2 s."""

_UNKNOWN = """\
ArgumentTypeError
    A keyword this method does not take; the message names the accepted ones."""

_FRAME = """\
    >>> import pandas as pd
    >>> import ooc_accessor as ooc
    >>> df = pd.DataFrame(
    ...     {
    ...         "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ...         "g": ["a", "b", "a", "b", "a", "b"],
    ...         "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0],
    ...     }
    ... )"""


def _params(*parts: str) -> str:
    return "\n".join(parts)


def _indent(text: str) -> str:
    return "\n".join(("    " + line) if line else line for line in text.splitlines())


def _doc(summary: str, body: str, params: str, returns: str, raises: str, examples: str) -> str:
    """A numpydoc docstring, indented as a method's so ``inspect.cleandoc`` reads it."""
    sections = [
        summary,
        "",
        _indent(body),
        "",
        "    Parameters",
        "    ----------",
        _indent(params),
        "",
        "    Returns",
        "    -------",
        _indent(returns),
        "",
        "    Raises",
        "    ------",
        _indent(raises),
        "",
        "    Examples",
        "    --------",
        examples,
        "",
    ]
    return "\n".join(sections)


DESIGN_DOC = _doc(
    "Build ``formula``'s design matrix chunk by chunk into a chunked NetCDF store.",
    """\
The formula's state (categorical levels, ``center()``/``standardize()`` moments) is
learned over every block first, then X and y are written block by block, so memory
stays a few blocks whatever the rows. A DataFrame's index becomes the store's ``obs``
coordinate; a Dataset's variables along ``dim`` are read one block at a time (a lazily
opened or dask-chunked Dataset is never loaded whole).""",
    _params(
        _FORMULA,
        _CHUNKSIZE,
        _PATH,
        _DIM,
        _MISSING,
        """\
weights : str or array-like, optional
    A column name, or one weight per row aligned by label (a Series on its index, a
    DataArray on its coordinate along ``dim``; an array by position). Stored with the
    design and used by :meth:`Design.lstsq <ooc_accessor.Design.lstsq>`.""",
        _COMPRESSION,
        _EVAL_ENV,
        PROGRESS,
    ),
    """\
Design
    A handle on the stored ``X`` (and ``y``): ``terms``, ``n_obs``, ``n_dropped``,
    ``lstsq()``, ``glm()``, ``svd()``, ``pca()``, ``build(new_data)``, ``save(path)``.""",
    _params(
        """\
FormulaError
    The formula does not parse or uses a name that is neither a column nor in
    ``eval_env``.""",
        """\
MissingColumnError
    A column the formula names is not in the data.""",
        _UNKNOWN,
    ),
    _FRAME
    + """
    >>> design = df.ooc.design("y ~ x + C(g)", chunksize=4)
    >>> design.terms
    ['Intercept', 'C(g)[T.b]', 'x']
    >>> design.X.shape
    (6, 3)
    >>> design.discard()  # remove the temporary store now rather than when collected""",
)

LSTSQ_DOC = _doc(
    "Least-squares fit of ``formula`` (statsmodels' OLS, or WLS with ``weights``).",
    """\
One pass over the data: each block's design is built and folded into the R factor of a
tall-skinny QR (never the normal equations). Rank is decided on the column-equilibrated
R; an exact linear dependence is reported (``rank``, a :class:`~ooc_accessor.RankWarning`
naming the terms) and solved min-norm. Without ``path`` nothing is written until
``fittedvalues`` or ``resid`` need the rows. Results are pandas for a DataFrame and xarray
for a Dataset; per-row outputs are lazy, stored xarray objects.""",
    _params(
        _FORMULA + "\n    It needs a left side (the response).",
        """\
weights : str or array-like, optional
    A column name or one weight per row: weighted least squares (statsmodels' WLS). A
    Series or DataArray is aligned by label; a row without a weight is an error.""",
        _DIM,
        _EVAL_ENV,
        _COV,
        _CHUNKSIZE,
        _PATH.replace(
            "removed with the result.",
            "removed with the result. With a path the\n"
            "    design is stored there first, kept, and fitted from the store.",
        ),
        _MISSING,
        _COMPRESSION,
        PROGRESS,
    ),
    """\
LstsqResult
    statsmodels' names: ``params``, ``bse``, ``pvalues``, ``conf_int()``, ``summary()``,
    ``predict()``, ``t_test()``, ``f_test()``, ``update()``...""",
    _params(
        """\
FormulaError
    The formula does not parse or has no left side.""",
        """\
DataError
    A missing value with ``missing="raise"``, or an infinite value.""",
        _UNKNOWN,
    ),
    _FRAME
    + """
    >>> fit = df.ooc.lstsq("y ~ x", chunksize=4)
    >>> fit.params.round(4)
    Intercept    0.0533
    x            0.9943
    dtype: float64
    >>> round(fit.rsquared, 4)
    0.9958
    >>> robust = df.ooc.lstsq("y ~ x", cov_type="HC1")
    >>> robust.cov_type
    'HC1'

    A Dataset gives xarray results over its ``dim``:

    >>> import xarray as xr
    >>> ds = xr.Dataset({"x": ("time", df["x"].to_numpy()), "y": ("time", df["y"].to_numpy())})
    >>> fit = ds.ooc.lstsq("y ~ x", dim="time")
    >>> fit.params.dims, fit.params.round(4).to_series().to_dict()
    (('term',), {'Intercept': 0.0533, 'x': 0.9943})
    >>> fit.resid.dims
    ('time',)""",
)

GLM_DOC = _doc(
    "A generalized linear model of ``formula`` by IRLS (statsmodels' GLM names).",
    """\
The design is stored first (in a temporary store removed with the result, or kept at
``path=``); each IRLS iteration is then one TSQR pass over the store, so memory stays a
few blocks plus O(p^2) whatever the rows.""",
    _params(
        _FORMULA + "\n    It needs one numeric response on the left side.",
        """\
family : str or statsmodels family, default "gaussian"
    ``"binomial"``, ``"poisson"``, ``"gamma"``, ``"gaussian"``, ``"inverse_gaussian"``,
    ``"negativebinomial"`` (alpha 1) or ``"tweedie"`` (var_power 1), or an instance such
    as ``sm.families.Tweedie(var_power=1.5)``, kept with its link.""",
        """\
link : str or statsmodels link, optional
    With a family name: e.g. ``"log"``, ``"probit"``; the canonical link by default.""",
        """\
var_weights, freq_weights : str, number or array-like, optional
    statsmodels' variance and frequency weights: a column's name, one number for all
    rows, or one value per row (a Series or DataArray aligned by label).""",
        """\
offset, exposure : str, number or array-like, optional
    Added to the linear predictor: a column's name, one number, or one value per row;
    ``exposure`` enters as ``log(exposure)`` and needs the log link.""",
        _DIM,
        _EVAL_ENV,
        """\
maxiter : int, default 100
    At most this many IRLS iterations.""",
        """\
tol : float, default 1e-8
    Converged when the scaled deviance changes by at most ``tol`` (see ``atol``).""",
        """\
scale : {"X2", "dev"} or float, optional
    The dispersion: Pearson's chi2 / ``df_resid`` (``"X2"``), the deviance /
    ``df_resid`` (``"dev"``) or the number given; by default 1 for the binomial, Poisson
    and negative binomial families and ``"X2"`` for the others.""",
        """\
atol, rtol : float, optional
    statsmodels' convergence test in full: converged when the criterion changes by at
    most ``atol + rtol * |old|``; ``atol`` defaults to ``tol``, ``rtol`` to 0.""",
        """\
tol_criterion : {"deviance", "params"}, default "deviance"
    What the convergence test watches.""",
        """\
start_params : array-like, optional
    Starting coefficients, one per design column; by default the family's starting
    mean.""",
        _COV.replace(', "fixed scale"}', "}")
        .replace(', "fixed scale" takes ``scale``', "")
        .replace("; by default True for", "; by default False (statsmodels' GLM), also for"),
        _CHUNKSIZE,
        _PATH,
        _MISSING,
        _COMPRESSION,
        PROGRESS,
    ),
    """\
GLMResults
    statsmodels' names: ``params``, ``bse``, ``deviance``, ``llf``, ``aic``,
    ``converged``, ``predict()``, ``summary()``...""",
    _params(
        """\
PerfectSeparationError
    A binomial, Poisson or negative binomial fit whose means meet every response.""",
        """\
ConvergenceError
    No convergence in ``maxiter`` iterations (the deviance history is in the message).""",
        _UNKNOWN,
    ),
    _FRAME
    + """
    >>> glm = df.ooc.glm("y ~ x", family="poisson")
    >>> glm.params.round(4)
    Intercept    0.1003
    x            0.2963
    dtype: float64
    >>> bool(glm.converged)
    True""",
)

SVD_DOC = _doc(
    'Thin SVD of ``formula``\'s design matrix (e.g. ``"0 + a + b + c"``).',
    """\
``s`` and ``Vt`` come from the SVD of the R factor of the stored X (one pass); ``U`` is
computed in a second pass and stored (``8 * rows * k`` bytes, in the same directory as a
temporary design), lazy and as long as the data.
Signs are fixed so each row of ``Vt`` has its largest-magnitude entry positive.""",
    _params(
        _FORMULA
        + "\n    Usually without a left side; one, if given, is stored but not decomposed.",
        """\
k : int, optional
    Components to keep (default all).""",
        _DIM,
        _EVAL_ENV,
        _CHUNKSIZE,
        _PATH,
        _MISSING,
        _COMPRESSION,
        PROGRESS,
    ),
    """\
SVDResult
    ``s`` (by component), ``Vt`` (component x term), ``U`` (lazy, stored), ``rank``.""",
    _params(
        """\
FormulaError
    The formula does not parse.""",
        _UNKNOWN,
    ),
    _FRAME
    + """
    >>> svd = df.ooc.svd("0 + x + y")
    >>> svd.s.round(4)
    component
    0    13.5367
    1     0.1943
    Name: s, dtype: float64
    >>> svd.U.dims
    ('obs', 'component')""",
)

PCA_DOC = _doc(
    "A fitted :class:`~ooc_accessor.IncrementalPCA` of the data, labeled.",
    """\
pandas: ``columns=`` picks the features. xarray: ``dim=`` names the sample dimension and
every other dimension is stacked into features (unstacked again in ``components_``);
``variables=`` picks a Dataset's variables. Results are pandas for a DataFrame, xarray
for a Dataset or DataArray. The fit is exact and reads the data block by block (a
float16 memmap is converted one block at a time).""",
    _params(
        """\
n_components : int, optional
    Components to keep; ``None`` keeps ``min(n_samples, n_features)``.""",
        """\
columns : list, optional
    A DataFrame's columns to use (default: all, which must be numeric).""",
        """\
dim : str, optional
    The sample dimension of a DataArray or Dataset; every other dimension becomes
    features.""",
        """\
variables : list of str, optional
    The Dataset variables to decompose together (default: all along ``dim``).""",
        """\
weights : DataArray or Series, optional
    Feature weights: each sample is multiplied by them before the decomposition
    (xeofs' convention, e.g. ``np.sqrt(np.cos(np.deg2rad(ds.lat)))`` for area
    weighting). For xarray, a DataArray over some or all of the feature dimensions,
    matched by dimension name and coordinate labels (never by position) and broadcast
    over the others; for pandas, a Series indexed by column name.""",
        """\
whiten : bool, default False
    Scale the scores to unit variance.""",
        """\
copy : bool, default True
    Kept for scikit-learn compatibility; the input is never modified.""",
        """\
batch_size : int, optional
    Rows per block; by default about ``ooc.set_options(chunk_memory=)`` of float64
    rows.""",
        """\
svd_solver : {"auto", "full", "covariance_eigh", "randomized"}, default "auto"
    ``"full"``: exact, merged R factors; ``"covariance_eigh"``: the scatter matrix
    (faster for wide data, less accurate for tiny variances); ``"randomized"``: a range
    finder with power iterations, for features too many for a p x p matrix.""",
        """\
iterated_power : int or "auto", default "auto"
    Power iterations of the randomized solver.""",
        """\
n_oversamples : int, default 10
    Extra random directions of the randomized solver.""",
        """\
random_state : int, numpy Generator or RandomState, optional
    Seed of the randomized solver.""",
        """\
missing : {"raise", "drop"}, default "raise"
    A sample holding NaN raises, naming the feature and row; ``"drop"`` leaves such
    samples out of the fit.""",
        PROGRESS,
    ),
    """\
IncrementalPCA
    Fitted; ``components_``, ``explained_variance_ratio_``, ``mean_``... labeled by
    feature and component, ``transform()`` gives labeled scores.""",
    _params(
        """\
DataError
    A NaN with ``missing="raise"`` or an infinite value, naming the feature and row.""",
        """\
ColumnTypeError
    A selected column is not numeric.""",
        _UNKNOWN,
    ),
    """\
    >>> import numpy as np
    >>> import pandas as pd
    >>> import xarray as xr
    >>> import ooc_accessor as ooc
    >>> df = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 4.1, 5.9, 8.0], "c": [0.0, 1, 0, 1]})
    >>> pca = df.ooc.pca(n_components=2, columns=["a", "b"])
    >>> pca.explained_variance_ratio_.round(4)
    component
    0    0.9999
    1    0.0001
    dtype: float64
    >>> da = xr.DataArray(df[["a", "b", "c"]].to_numpy(), dims=("time", "feature"))
    >>> da.ooc.pca(n_components=1, dim="time").components_.dims
    ('component', 'feature')""",
)
