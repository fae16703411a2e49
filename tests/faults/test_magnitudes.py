"""Extreme magnitudes (issue 15, class 3): the right answer, or a library error.

Data multiplied by 1e200, 1e-300, subnormal or near float64's largest values, one column
huge and another tiny, weights of extreme size: every result equals the reference fit of
the unscaled data transformed by the known scaling law, at rtol 1e-9, or, where that
value is outside float64's range, accessing it raises :class:`ooc.DataError`. Never a
wrong number, and no numpy RuntimeWarning (overflow, underflow, invalid) on the way: the
library runs under ``warnings.simplefilter("error")``, so a warning raised inside numpy
fails the test too.

Scaling laws (x_j scaled by a_j, y by b, the weights by c): coefficients and standard
errors scale as b / a_j (the intercept's a is 1); t values, p values, R-squared, F are
invariant; sums of squares and mean squares scale as b**2 c; the log-likelihood moves by
``-n log b``. PCA of the data times s: variances scale as s**2, singular values and the
mean as s, components and ratios are invariant. SVD of X times s: singular values scale
as s, ``Vt`` and ``U`` are invariant.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from sklearn.decomposition import PCA

import ooc_accessor as ooc

_TINY = np.finfo(np.float64).tiny
_MAX = np.finfo(np.float64).max
RTOL = 1e-9


def _representable(values) -> bool:
    """Every nonzero value (long double) lies in float64's normal range."""
    v = np.abs(np.asarray(values, dtype=np.longdouble))
    v = v[v != 0]
    return bool(np.all((v >= _TINY) & (v <= _MAX)))


def _check(get, expected, rtol: float = RTOL, atol: float = 0.0) -> None:
    """``get()`` equals ``expected`` (long double, the law applied), or raises DataError
    exactly when ``expected`` is outside float64's range."""
    if _representable(expected):
        got = np.asarray(get(), dtype=np.float64)
        np.testing.assert_allclose(
            got, np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol
        )
    else:
        with pytest.raises(ooc.DataError, match="outside the range float64 can hold"):
            get()


def _strict(fn):
    """Run ``fn`` with every warning an error (numpy's too)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn()


# -- lstsq ------------------------------------------------------------------------------------


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    df["y"] = 1.5 + 2.0 * df.x - 0.5 * df.z + rng.normal(size=n)
    df["w"] = rng.uniform(0.5, 2.0, n)
    return df


#: (scale of x, of z, of y, of the weights or None for OLS)
SCALES = [
    (1e200, 1e200, 1e200, None),  # the issue's example
    (1e-300, 1e-300, 1e-300, None),  # the other one ("'x' is all zeros" today)
    (1e200, 1e-200, 1.0, None),  # mixed: one column huge, another tiny
    (1e-200, 1e200, 1e100, None),
    (1e300, 1e300, 1e-300, None),  # slopes of 1e-600: refused, ratios still right
    (1e-300, 1.0, 1e10, None),  # a tiny, nonzero column: a coefficient of 2e310, refused
    (1e307, 1e307, 1e307, None),  # values near float64's largest (x up to ~7e307)
    (1e150, 1e150, 1e-150, None),
    (1e-310, 1e-310, 1e-310, None),  # subnormal data (the intercept, 1.5e-310, refused)
    (2.0**-1000, 2.0**-1000, 2.0**-990, None),  # subnormal-adjacent, exact powers of two
    (1.0, 1.0, 1.0, 1e300),  # WLS with extreme weights
    (1.0, 1.0, 1.0, 1e-300),
    (1e100, 1.0, 1e-100, 1e250),
    (1e-150, 1e-150, 1e150, 1e-300),
]


def _ids(case) -> str:
    return "x{:g}-z{:g}-y{:g}-w{}".format(*case[:3], case[3])


@pytest.mark.parametrize("case", SCALES, ids=_ids)
@pytest.mark.parametrize("chunksize", [7, 40])
def test_lstsq_follows_the_scaling_law(case, chunksize):
    ax, az, b, c = case
    df = _frame()
    n = len(df)
    weights = "w" if c is not None else None
    ref = (
        smf.wls("y ~ x + z", df, weights=df.w).fit() if weights else smf.ols("y ~ x + z", df).fit()
    )
    scaled = pd.DataFrame(
        {"x": df.x * ax, "z": df.z * az, "y": df.y * b, "w": df.w * (c if c else 1.0)}
    )
    fit = _strict(lambda: scaled.ooc.lstsq("y ~ x + z", weights=weights, chunksize=chunksize))
    ld = np.longdouble
    law = np.array([ld(b), ld(b) / ld(ax), ld(b) / ld(az)])
    sq = ld(b) * ld(b) * ld(c if c else 1.0)
    assert (fit.rank, fit.k_constant, fit.df_model, fit.df_resid) == (3, 1, 2.0, n - 3.0)
    _strict(lambda: _check(lambda: fit.params, ref.params.to_numpy() * law))
    _strict(lambda: _check(lambda: fit.bse, ref.bse.to_numpy() * law))
    _strict(lambda: _check(lambda: fit.conf_int(), ref.conf_int().to_numpy() * law[:, None]))
    _strict(lambda: _check(lambda: fit.tvalues, ref.tvalues.to_numpy()))
    _strict(lambda: _check(lambda: fit.pvalues, ref.pvalues.to_numpy(), rtol=1e-7))
    for name in ("rsquared", "rsquared_adj", "fvalue"):
        _strict(lambda name=name: _check(lambda: getattr(fit, name), getattr(ref, name)))
    _strict(lambda: _check(lambda: fit.f_pvalue, ref.f_pvalue, rtol=1e-7))
    for name in (
        "ssr",
        "ess",
        "centered_tss",
        "uncentered_tss",
        "scale",
        "mse_model",
        "mse_resid",
        "mse_total",
    ):
        _strict(lambda name=name: _check(lambda: getattr(fit, name), ld(getattr(ref, name)) * sq))
    llf = ld(ref.llf) - n * np.log(ld(b))
    _strict(lambda: _check(lambda: fit.llf, llf))
    if _representable(ref.params.to_numpy() * law) and _representable(
        ref.fittedvalues.to_numpy() * ld(b)
    ):
        fitted = _strict(lambda: fit.fittedvalues.values)
        np.testing.assert_allclose(fitted, ref.fittedvalues.to_numpy() * b, rtol=1e-8)
        if _representable(ref.bse.to_numpy() * law):
            text = _strict(lambda: str(fit.summary()))  # the condition number may be inf
            assert "Regression Results" in text


def test_lstsq_issue_example_intercept_and_slope():
    """The issue's example: y ~ x with x and y times 1e200 gave an intercept of ~1e-200."""
    df = _frame()
    ref = smf.ols("y ~ x", df).fit()
    fit = _strict(lambda: (df[["x", "y"]] * 1e200).ooc.lstsq("y ~ x"))
    np.testing.assert_allclose(fit.params["Intercept"], ref.params["Intercept"] * 1e200, rtol=RTOL)
    np.testing.assert_allclose(fit.params["x"], ref.params["x"], rtol=RTOL)
    np.testing.assert_allclose(fit.rsquared, ref.rsquared, rtol=RTOL)


def test_tiny_column_is_not_all_zeros_but_a_zero_column_is():
    df = _frame()
    tiny = df.assign(x=df.x * 1e-300)
    fit = _strict(lambda: tiny.ooc.lstsq("y ~ x + z", chunksize=9))  # no RankWarning
    assert fit.rank == 3
    ref = smf.ols("y ~ x + z", df).fit()
    np.testing.assert_allclose(fit.params["x"], ref.params["x"] * 1e300, rtol=RTOL)
    # the smallest subnormal times small integers: exact values, a slope beyond float64
    smallest = df.assign(x=np.round(df.x * 3) * 5e-324)
    fit = _strict(lambda: smallest.ooc.lstsq("y ~ x + z", chunksize=9))
    assert fit.rank == 3
    with pytest.raises(ooc.DataError, match=r"coefficient of 'x' is about 1e\+32\d"):
        _ = fit.params
    np.testing.assert_allclose(
        fit.rsquared, smf.ols("y ~ I(x/5e-324) + z", smallest).fit().rsquared, rtol=RTOL
    )
    zero = df.assign(x=0.0)
    with pytest.warns(ooc.RankWarning, match="'x' is all zeros"):
        fit = zero.ooc.lstsq("y ~ x + z", chunksize=9)
    assert fit.rank == 2


@pytest.mark.parametrize("s", [1e-300, 1e200, 2.0**-1000])
def test_rank_deficient_minimum_norm_follows_the_law(s):
    """x and I(2*x) both scaled by s: numpy's minimum-norm solution of the unscaled data,
    with those two coefficients times 1/s (the minimum norm is taken in raw units)."""
    df = _frame()
    x = np.column_stack([np.ones(len(df)), df.x, 2 * df.x, df.z])
    beta = np.linalg.lstsq(x, df.y.to_numpy(), rcond=None)[0]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fit = df.assign(x=df.x * s).ooc.lstsq("y ~ x + I(2 * x) + z", chunksize=7)
        params = fit.params.to_numpy()
    assert [type(w.message) for w in seen] == [ooc.RankWarning]
    assert "'I(2 * x)' is a linear combination of 'x'" in str(seen[0].message)
    np.testing.assert_allclose(params, beta * [1, 1 / s, 1 / s, 1], rtol=1e-8)


def test_lstsq_update_merges_blocks_of_different_magnitude():
    """Blocks whose scales differ by 1e300 merge exactly (the stats are rescaled)."""
    df = _frame()
    big = df.assign(x=df.x * 1e150, y=df.y * 1e150)
    ref = smf.ols("y ~ x + z", big.assign(x=big.x / 1e150, y=big.y / 1e150)).fit()
    fit = _strict(lambda: big.iloc[:20].ooc.lstsq("y ~ x + z", chunksize=6))
    fit = _strict(lambda: fit.update(big.iloc[20:]))
    np.testing.assert_allclose(fit.params, ref.params * [1e150, 1.0, 1e150], rtol=RTOL)
    np.testing.assert_allclose(fit.rsquared, ref.rsquared, rtol=RTOL)
    # a block with a zero column merged with one of 1e-300 values: the tiny values survive
    mixed = df.assign(x=np.where(np.arange(len(df)) < 20, 0.0, df.x * 1e-300))
    fit = _strict(lambda: mixed.ooc.lstsq("y ~ x + z", chunksize=20))
    ref = smf.ols("y ~ I(x * 1e300) + z", mixed).fit()
    np.testing.assert_allclose(
        fit.params.to_numpy()[1], ref.params.to_numpy()[1] * 1e300, rtol=RTOL
    )


# -- SVD --------------------------------------------------------------------------------------


@pytest.mark.parametrize("s", [1e200, 1e-200, 1e300, 2.5e306, 1e-300, 2.0**-1000])
def test_svd_follows_the_scaling_law(s):
    df = _frame()[["x", "z", "y"]]
    ref = df.ooc.svd("0 + x + z + y")
    fit = _strict(lambda: (df * s).ooc.svd("0 + x + z + y", chunksize=7))
    s_ref = np.asarray(ref.s, dtype=np.longdouble) * np.longdouble(s)
    _check(lambda: fit.s.to_numpy(), s_ref)
    np.testing.assert_allclose(fit.Vt.to_numpy(), ref.Vt.to_numpy(), rtol=RTOL, atol=1e-14)
    np.testing.assert_allclose(_strict(lambda: fit.U.values), ref.U.values, rtol=1e-8, atol=1e-14)
    sv = np.linalg.svd(df.to_numpy(), compute_uv=False)
    np.testing.assert_allclose(ref.s.to_numpy(), sv, rtol=RTOL)


def test_svd_of_subnormal_data_is_refused():
    df = _frame()[["x", "z"]] * 1e-310
    with pytest.raises(ooc.DataError, match=r"singular value .* about 1e-30\d"):
        _strict(lambda: df.ooc.svd("0 + x + z", chunksize=7))


def test_svd_mixed_columns_top_component():
    df = _frame()[["x", "z"]].assign(x=lambda d: d.x * 1e150, z=lambda d: d.z * 1e-150)
    fit = _strict(lambda: df.ooc.svd("0 + x + z", chunksize=9))
    np.testing.assert_allclose(fit.s.to_numpy()[0], np.linalg.norm(df.x / 1e150) * 1e150, rtol=RTOL)
    # the small one: the residual of z after x, ~1e-150, computed without underflow
    x, z = df.x.to_numpy() / 1e150, df.z.to_numpy() * 1e150
    resid = np.linalg.norm(z - x * (x @ z) / (x @ x)) * 1e-150
    np.testing.assert_allclose(fit.s.to_numpy()[1], resid, rtol=1e-7)


# -- PCA --------------------------------------------------------------------------------------


def _pca_data(n: int = 60, p: int = 4) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) + 3 * rng.normal(size=p)


def _fit(solver: str, data, how: str, n_components: int = 3):
    est = ooc.IncrementalPCA(n_components, svd_solver=solver, batch_size=17, random_state=0)
    if how == "fit":
        return est.fit(data)
    for part in np.array_split(np.arange(len(data)), 3):
        est.partial_fit(data.iloc[part] if isinstance(data, pd.DataFrame) else data[part])
    return est


def _aligned(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of ``a`` with the signs of the matching rows of ``b``."""
    return a * np.sign(np.sum(a * b, axis=1))[:, None]


SOLVERS = ["full", "covariance_eigh", "randomized"]
#: scales at which every variance fits float64 (and A'A, for the randomized solver)
IN_RANGE = [1e150, 1e100, 1e-100, 1e-150]


#: (solver, how): the randomized solver has no partial_fit (it refuses; tested elsewhere)
ROUTES = [
    (v, h)
    for v in SOLVERS
    for h in ("fit", "partial_fit")
    if (v, h) != ("randomized", "partial_fit")
]


@pytest.mark.parametrize("s", IN_RANGE)
@pytest.mark.parametrize(("solver", "how"), ROUTES)
def test_pca_follows_the_scaling_law(solver, how, s):
    x = _pca_data()
    ref = PCA(3, svd_solver="full").fit(x)
    est = _strict(lambda: _fit(solver, x * s, how))
    got = _strict(lambda: np.asarray(est.explained_variance_))
    np.testing.assert_allclose(got / s / s, ref.explained_variance_, rtol=RTOL)
    np.testing.assert_allclose(
        np.asarray(est.explained_variance_ratio_), ref.explained_variance_ratio_, rtol=RTOL
    )
    np.testing.assert_allclose(
        np.asarray(est.singular_values_) / s, ref.singular_values_, rtol=RTOL
    )
    comps = np.asarray(est.components_)
    np.testing.assert_allclose(_aligned(comps, ref.components_), ref.components_, atol=1e-9)
    np.testing.assert_allclose(np.asarray(est.mean_) / s, ref.mean_, rtol=RTOL)
    np.testing.assert_allclose(np.asarray(est.var_) / s / s, x.var(axis=0), rtol=RTOL)
    np.testing.assert_allclose(est.noise_variance_ / s / s, ref.noise_variance_, rtol=1e-7)


@pytest.mark.parametrize("s", [1e200, 1e-170, 1e300])
@pytest.mark.parametrize(("solver", "how"), ROUTES)
def test_pca_variance_beyond_float64_is_refused_by_name(solver, how, s):
    """Data times 1e200 has variances of about 1e400: a DataError naming a column and
    the magnitude, never inf (as today) or 0."""
    df = pd.DataFrame(_pca_data() * s, columns=["a", "b", "c", "d"])
    with pytest.raises(ooc.DataError, match=r"feature '[abcd]'") as info:
        _strict(lambda: np.asarray(_fit(solver, df, how).explained_variance_))
    assert "1e+4" in str(info.value) or "1e-3" in str(info.value) or "1.8e308" in str(info.value)


@pytest.mark.parametrize("solver", SOLVERS)
def test_pca_near_float64_max(solver):
    """Values of ~1e307 with a spread: variances of ~1e613, refused (the full solver before
    its QR would overflow into garbage); nearly constant ones: a variance of 0 is right."""
    x = _pca_data()
    df = pd.DataFrame(x * 1e307 / 8, columns=["a", "b", "c", "d"])
    with pytest.raises(ooc.DataError, match=r"1e\+3\d\d|1\.8e308"):
        _strict(lambda: np.asarray(_fit(solver, df, "fit").explained_variance_))
    flat = np.full((60, 3), 1e307)  # 1e307 + anything below 1e291 is 1e307 in float64
    if solver == "covariance_eigh":
        est = _strict(lambda: _fit(solver, flat, "fit", n_components=2))
        np.testing.assert_allclose(np.asarray(est.mean_), 1e307, rtol=RTOL)
        np.testing.assert_array_equal(np.asarray(est.var_), 0.0)
        np.testing.assert_array_equal(np.asarray(est.explained_variance_), 0.0)
    else:  # their sums (randomized) or QR (full) overflow: refused, never a wrong number
        with pytest.raises(ooc.DataError, match=r"overflow|beyond float64"):
            _strict(lambda: np.asarray(_fit(solver, flat, "fit", n_components=2).var_))


@pytest.mark.parametrize("solver", SOLVERS)
def test_pca_mixed_scales(solver):
    """Feature a times 1e100, c times 1e-100: every per-feature variance (1e200 .. 1e-200)
    and the leading component are right."""
    x = _pca_data()
    scale = np.array([1e100, 1.0, 1e-100, 1.0])
    # one component: the second's variance is ~1e-300 of the first, which the covariance
    # solver could only give to an absolute error (it warns so)
    est = _strict(lambda: _fit(solver, x * scale, "fit", n_components=1))
    np.testing.assert_allclose(np.asarray(est.var_), x.var(axis=0) * scale**2, rtol=RTOL)
    n = len(x)
    np.testing.assert_allclose(
        np.asarray(est.explained_variance_)[0], x[:, 0].var() * n / (n - 1) * 1e200, rtol=RTOL
    )
    np.testing.assert_allclose(np.abs(np.asarray(est.components_)[0]), [1, 0, 0, 0], atol=1e-12)
