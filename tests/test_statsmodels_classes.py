"""statsmodels' own regression test classes, run on ooc fits.

Each class below subclasses one of ``statsmodels/regression/tests/test_regression.py``'s
classes (imported from the installed statsmodels) and overrides only ``setup_class``:
``res1`` is an ooc fit of the same data through a formula on a DataFrame, ``res2`` stays
statsmodels' certified or reference result (Longley from NIST, Greene's credit card data
from Stata, statsmodels' own fit). Their test methods, tolerances included, are the judge.

A test that cannot apply to a formula interface or an out-of-core design is skipped, each
with its reason, from :data:`SKIPPED` (test name -> reason, every class) and
:data:`SKIPPED_PANDAS` (tests that index a labeled result by position, ``x[-1]`` or
``conf_int()[i][0]``: skipped for a DataFrame input only), and nowhere else. Each class
fitted on a DataFrame has a ``...Dataset`` twin fitted on the same data as an
xarray Dataset, whose results (DataArrays) index by position as arrays do, so those tests
run there. statsmodels' classes not run at all are in :data:`NOT_SUBCLASSED`, with why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.datasets import ccard, longley
from statsmodels.regression.linear_model import GLS, OLS, WLS
from statsmodels.regression.tests import test_regression as smt
from statsmodels.regression.tests.results import results_regression as smr
from statsmodels.tools.tools import add_constant

import ooc_accessor  # noqa: F401 - registers .ooc

#: statsmodels' test name -> why it cannot apply to an ooc fit (skipped in every class)
SKIPPED: dict[str, str] = {
    "test_norm_resid": (
        "compares two row outputs with numpy's scalar assert_almost_equal, which calls bool() "
        "on an elementwise comparison unless one side is an ndarray: ooc's row outputs are "
        "lazy DataArrays (statsmodels' own pandas results, Series, fail it alike); the same "
        "identity is checked by test_norm_resid_identity below"
    ),
}
SKIPPED.update(
    {
        **{
            f"test_LM_{case}": (
                "builds its reference with res1_restricted.wresid[:, None]: ooc's wresid is a "
                "lazy DataArray, which has no newaxis indexing; the same statistics against "
                "statsmodels' compare_lm_test are test_lm_against_statsmodels below"
            )
            for case in (
                "homoskedastic",
                "heteroskedastic_nodemean",
                "heteroskedastic_demean",
                "heteroskedastic_LRversion",
            )
        },
        **{
            name: (
                "el_test (empirical likelihood) maximizes over one weight per observation, "
                "n numbers held and re-weighted in memory each iteration: not offered out of "
                "core"
            )
            for name in (
                "test_el_test_invalid_method_raises",
                "test_el_test_result_object_default_warns",
                "test_el_test_result_object_true_full",
                "test_el_test_result_object_true_nuisance",
            )
        },
    }
)
#: statsmodels' classes (or parts of their setup) not run on ooc fits, and why
NOT_SUBCLASSED: dict[str, str] = {
    "TestGLS": "GLS with a full n x n sigma (an AR(1) Toeplitz matrix): not out of core",
    "TestGLS_large_data": (
        "GLS with sigma as an (n, 1) array against OLS: array-shape handling of "
        "statsmodels' GLS; the formula fit is TestOocGLSOLS"
    ),
    "TestNxNx, TestNxOneNx, TestNxNxOne": (
        "vary the ndarray shapes ((n,) against (n, 1)) of endog and exog: a formula on a "
        "frame always has one response column and named term columns, which is "
        "TestOocDataDimensions"
    ),
    "TestDataDimensions (df_model += 1)": (
        "its setup adds 1 to model.df_model in place before fitting; an ooc fit's model is "
        "a read-only view of a finished fit, so res2 is statsmodels' fit of the same "
        "data without that edit"
    ),
    "TestWLS_CornerCases": (
        "statsmodels' WLS constructor on arrays (weights of shape (10, 10), whiten() of a "
        "3-D array, its SingularMatrixWarning); ooc's errors and RankWarning have their "
        "own tests (test_errors.py, test_rank.py)"
    ),
    "TestYuleWalker, TestRegularizedFit": (
        "yule_walker/burg and fit_regularized (elastic net) are other estimators, not least squares"
    ),
}
#: test name -> why it cannot apply to a fit on a DataFrame; the Dataset twins run these
SKIPPED_PANDAS: dict[str, str] = {
    "test_confidenceintervals": (
        "reads conf_int() as an ndarray (conf1[i][0] = row i, lower bound); a labeled "
        "DataFrame (statsmodels' own for pandas input) selects column i there; run on the "
        "Dataset twin, whose DataArray indexes by position"
    ),
    **{
        f"test_{hc}_errors": (
            f"reads {hc}_se[-1] by position: pandas 3 refuses a position on a Series labeled "
            "by term (statsmodels' own pandas results fail it alike); run on the Dataset twin"
        )
        for hc in ("HC0", "HC1", "HC2", "HC3")
    },
}

LONGLEY_X = ["GNPDEFL", "GNP", "UNEMP", "ARMED", "POP", "YEAR"]
CCARD_X = ["AGE", "INCOME", "INCOMESQ", "OWNRENT"]


def _skip_listed(cls: type) -> type:
    """Mark each test of ``cls`` named in :data:`SKIPPED` (and :data:`SKIPPED_PANDAS` for
    a class fitted on a DataFrame) as skipped, with its reason; a test a parent class
    skipped that this class runs (a Dataset twin's) gets statsmodels' original back."""
    table = SKIPPED if getattr(cls, "dataset_input", False) else {**SKIPPED, **SKIPPED_PANDAS}
    for name in dir(cls):
        if not name.startswith("test"):
            continue
        test = getattr(cls, name)
        original = getattr(test, "_statsmodels_test", test)
        if name in table:

            def skipped(self, _t=original) -> None:  # pragma: no cover - never runs
                _t(self)

            skipped.__name__ = name
            skipped._statsmodels_test = original  # type: ignore[attr-defined]
            setattr(cls, name, pytest.mark.skip(reason=table[name])(skipped))
        elif original is not test:
            setattr(cls, name, original)
    return cls


def _lstsq(df: pd.DataFrame, formula: str, dataset: bool, **kwargs):
    """An ooc fit of ``formula`` on ``df``, or on ``df`` as a Dataset (dim ``index``)."""
    if dataset:
        return df.to_xarray().ooc.lstsq(formula, dim="index", **kwargs)
    return df.ooc.lstsq(formula, **kwargs)


def _norm_resid_identity(res) -> None:
    """statsmodels' test_norm_resid on arrays: resid_pearson = wresid / sqrt(ssr / df)."""
    resid = np.asarray(res.wresid)
    norm_resid = resid / np.sqrt(np.sum(resid**2.0) / res.df_resid)
    np.testing.assert_almost_equal(np.asarray(res.resid_pearson), norm_resid, 7)


def _longley_frame(const: bool = True) -> pd.DataFrame:
    """Longley's data as one frame; ``const``: a column of ones named ``const``, last, as
    statsmodels' ``add_constant(prepend=False)`` puts it."""
    data = longley.load()
    df = pd.concat([data.endog, data.exog], axis=1)
    if const:
        df["const"] = 1.0
    return df


def _formula(y: str, xs: list[str]) -> str:
    return f"{y} ~ 0 + {' + '.join(xs)}"


def _longley_arrays(const: bool = True) -> tuple[np.ndarray, np.ndarray]:
    data = longley.load()
    exog = np.asarray(data.exog)
    return np.asarray(data.endog), (add_constant(exog, prepend=False) if const else exog)


# -- Longley, OLS (NIST's certified values) -------------------------------------------------
@_skip_listed
class TestOocOLS(smt.TestOLS):
    dataset_input = False

    @classmethod
    def setup_class(cls) -> None:
        endog, exog = _longley_arrays()
        df = _longley_frame()
        cls.res1 = _lstsq(df, _formula("TOTEMP", [*LONGLEY_X, "const"]), cls.dataset_input)
        res2 = smr.Longley()
        res2.wresid = OLS(endog, exog).fit().wresid  # statsmodels' own workaround
        cls.res2 = res2
        cls.res_qr = OLS(endog, exog).fit(method="qr")
        model_qr = OLS(endog, exog)
        q, r = np.linalg.qr(exog)
        model_qr.exog_Q, model_qr.exog_R = q, r
        model_qr.normalized_cov_params = np.linalg.inv(np.dot(r.T, r))
        model_qr.rank = np.linalg.matrix_rank(r)
        cls.res_qr_manual = model_qr.fit(method="qr")

    def test_norm_resid_identity(self) -> None:
        _norm_resid_identity(self.res1)


@_skip_listed
class TestOocOLSDataset(TestOocOLS):
    dataset_input = True


# -- Longley, regression through the origin ---------------------------------------------------
@_skip_listed
class TestOocRTO(smt.TestRTO):
    dataset_input = False

    @classmethod
    def setup_class(cls) -> None:
        endog, exog = _longley_arrays(const=False)
        df = _longley_frame(const=False)
        cls.res1 = _lstsq(df, _formula("TOTEMP", LONGLEY_X), cls.dataset_input)
        res2 = smr.LongleyRTO()
        res2.wresid = OLS(endog, exog).fit().wresid
        cls.res2 = res2
        cls.res_qr = OLS(endog, exog).fit(method="qr")


@_skip_listed
class TestOocRTODataset(TestOocRTO):
    dataset_input = True


# -- Greene's credit card data, WLS with analytic weights (Stata) -----------------------------
def _ccard_frame() -> pd.DataFrame:
    dta = ccard.load()
    df = pd.concat([dta.endog, dta.exog], axis=1)
    df["const"] = 1.0
    weights = 1 / df["INCOMESQ"].to_numpy()  # statsmodels: 1 / exog[:, 2]
    df["w"] = weights * 72.0 / weights.sum()  # Stata's analytic weights sum to nobs
    return df


@_skip_listed
class TestOocWLSExogWeights(smt.TestWLSExogWeights):
    dataset_input = False

    @classmethod
    def setup_class(cls) -> None:
        df = _ccard_frame()
        formula = _formula("AVGEXP", [*CCARD_X, "const"])
        cls.res1 = _lstsq(df, formula, cls.dataset_input, weights="w")
        cls.res2 = smr.CCardWLS()
        cls.res2.wresid = df["w"].to_numpy() ** 0.5 * cls.res2.resid
        corr_ic = 2 * (cls.res1.llf - cls.res2.llf)
        cls.res2.aic -= corr_ic
        cls.res2.bic -= corr_ic
        cls.res2.llf += 0.5 * np.sum(np.log(cls.res1.model.weights))


@_skip_listed
class TestOocWLSExogWeightsDataset(TestOocWLSExogWeights):
    dataset_input = True


# -- WLS with one scalar weight against statsmodels' array of them ---------------------------
@_skip_listed
class TestOocWLSScalarVsArray(smt.TestWLSScalarVsArray):
    dataset_input = False

    @classmethod
    def setup_class(cls) -> None:
        endog, exog = _longley_arrays()
        exog = add_constant(np.asarray(longley.load().exog), prepend=True)
        df = _longley_frame(const=False)
        formula = "TOTEMP ~ " + " + ".join(LONGLEY_X)
        cls.res1 = _lstsq(df, formula, cls.dataset_input, weights=1.0 / 3)
        cls.res2 = WLS(endog, exog, weights=[1 / 3.0] * len(endog)).fit()


@_skip_listed
class TestOocWLSScalarVsArrayDataset(TestOocWLSScalarVsArray):
    dataset_input = True


# -- WLS with unit weights is OLS --------------------------------------------------------------
@_skip_listed
class TestOocWLSOLS(smt.TestWLS_OLS):
    dataset_input = False

    @classmethod
    def setup_class(cls) -> None:
        endog, exog = _longley_arrays()
        df = _longley_frame().assign(w=1.0)
        formula = _formula("TOTEMP", [*LONGLEY_X, "const"])
        cls.res1 = _lstsq(df, formula, cls.dataset_input, weights="w")
        cls.res2 = OLS(endog, exog).fit()


@_skip_listed
class TestOocWLSOLSDataset(TestOocWLSOLS):
    dataset_input = True


# -- WLS against statsmodels' GLS with the diagonal sigma it is -------------------------------
@_skip_listed
class TestOocWLSGLS(smt.TestWLS_GLS):
    dataset_input = False

    @classmethod
    def setup_class(cls) -> None:
        dta = ccard.load()
        endog, exog = np.asarray(dta.endog), np.asarray(dta.exog)
        sigma = exog[:, 2]
        df = pd.concat([dta.endog, dta.exog], axis=1).assign(w=1 / sigma)
        cls.res1 = _lstsq(df, _formula("AVGEXP", CCARD_X), cls.dataset_input, weights="w")
        cls.res2 = GLS(endog, exog, sigma=sigma).fit()


@_skip_listed
class TestOocWLSGLSDataset(TestOocWLSGLS):
    dataset_input = True


# -- OLS against statsmodels' GLS without sigma -------------------------------------------------
@_skip_listed
class TestOocGLSOLS(smt.TestGLS_OLS):
    dataset_input = False

    @classmethod
    def setup_class(cls) -> None:
        endog, exog = _longley_arrays()
        formula = _formula("TOTEMP", [*LONGLEY_X, "const"])
        cls.res1 = _lstsq(_longley_frame(), formula, cls.dataset_input)
        cls.res2 = GLS(endog, exog).fit()


@_skip_listed
class TestOocGLSOLSDataset(TestOocGLSOLS):
    dataset_input = True


@_skip_listed
class TestOocGLSAltSigma(smt.TestGLS_alt_sigma):
    dataset_input = False

    @classmethod
    def setup_class(cls) -> None:
        endog, exog = _longley_arrays()
        cls.endog, cls.exog = endog, exog
        formula = _formula("TOTEMP", [*LONGLEY_X, "const"])
        cls.res1 = _lstsq(_longley_frame(), formula, cls.dataset_input)
        cls.res2 = OLS(endog, exog).fit()


@_skip_listed
class TestOocGLSAltSigmaDataset(TestOocGLSAltSigma):
    dataset_input = True


# -- one regressor, no constant (the data-dimension classes' data) -----------------------------
@_skip_listed
class TestOocDataDimensions(smt.TestDataDimensions):
    dataset_input = False

    @classmethod
    def setup_class(cls) -> None:
        rs = np.random.RandomState(54321)
        endog = rs.uniform(0, 20, size=30)
        exog = rs.uniform(0, 20, size=30)
        df = pd.DataFrame({"y": endog, "x": exog})
        cls.res1 = _lstsq(df, "y ~ 0 + x", cls.dataset_input)
        # statsmodels' class adds 1 to model.df_model in place (see NOT_SUBCLASSED)
        cls.res2 = OLS(endog, exog[:, None]).fit()


@_skip_listed
class TestOocDataDimensionsDataset(TestOocDataDimensions):
    dataset_input = True


# -- tests of hypotheses on the Longley fit ---------------------------------------------------
def _longley_fit(names: list[str] | None = None):
    df = _longley_frame()
    xs = [*LONGLEY_X, "const"]
    if names is not None:
        df = df.rename(columns=dict(zip(LONGLEY_X, names, strict=True)))
        xs = [*names, "const"]
    return df.ooc.lstsq(_formula("TOTEMP", xs))


X_NAMES = [f"x{i}" for i in range(1, 7)]


class TestOocFtest(smt.TestFtest):
    @classmethod
    def setup_class(cls) -> None:
        cls.res1 = _longley_fit()
        cls.Ftest = cls.res1.f_test(np.identity(7)[:-1, :])


class TestOocFTest2(smt.TestFTest2):
    @classmethod
    def setup_class(cls) -> None:
        res1 = _longley_fit(X_NAMES)
        cls.Ftest1 = res1.f_test([[0, 1, -1, 0, 0, 0, 0], [0, 0, 0, 0, 1, -1, 0]])
        cls.NewFtest1 = res1.f_test("x2 = x3, x5 = x6")


class TestOocFtestQ(smt.TestFtestQ):
    @classmethod
    def setup_class(cls) -> None:
        r = np.array(
            [
                [0, 1, 1, 0, 0, 0, 0],
                [0, 1, 0, 1, 0, 0, 0],
                [0, 1, 0, 0, 0, 0, 0],
                [0, 0, 0, 0, 1, 0, 0],
                [0, 0, 0, 0, 0, 1, 0],
            ]
        )
        cls.Ftest1 = _longley_fit().f_test((r, np.array([0, 0, 0, 1, 0])))


class TestOocTtest(smt.TestTtest):
    @classmethod
    def setup_class(cls) -> None:
        cls.res1 = _longley_fit(X_NAMES)
        cls.Ttest = cls.res1.t_test(np.identity(7))
        cls.NewTTest = cls.res1.t_test("x1 = 0, x2 = 0, x3 = 0, x4 = 0, x5 = 0, x6 = 0, const = 0")


class TestOocTtest2(smt.TestTtest2):
    @classmethod
    def setup_class(cls) -> None:
        r = np.zeros(7)
        r[4:6] = [1, -1]
        cls.Ttest1 = _longley_fit().t_test(r)


# -- OLS, WLS and (diagonal) GLS agree: the GLS entries as the WLS fits they are ------------
def _longley_weighted(weights: list[np.ndarray | None]) -> list:
    """ooc fits of Longley with each of ``weights`` (None: OLS)."""
    df = _longley_frame()
    formula = _formula("TOTEMP", [*LONGLEY_X, "const"])
    fits = []
    for w in weights:
        if w is None:
            fits.append(df.ooc.lstsq(formula))
        else:
            fits.append(df.assign(w=w).ooc.lstsq(formula, weights="w"))
    return fits


class TestOocOLSGLSWLSEquivalence(smt.TestOLS_GLS_WLS_equivalence):
    @classmethod
    def setup_class(cls) -> None:
        n = 16
        w = np.ones(n)
        # OLS, WLS(w), GLS(sigma=100 w) = WLS(1 / (100 w)), GLS(diag(0.1 w)) = WLS(10 / w)
        cls.results = _longley_weighted([None, w, 1 / (100 * w), 1 / (0.1 * w)])


class TestOocGLSWLSEquivalence(smt.TestGLS_WLS_equivalence):
    @classmethod
    def setup_class(cls) -> None:
        rs = np.random.RandomState(5)
        w = rs.uniform(0.5, 1, 16)
        w_inv = 1.0 / w
        # WLS(w), WLS(0.01 w), GLS(sigma=100 / w) and GLS(diag(0.1 / w)) as WLS
        cls.results = _longley_weighted([w, 0.01 * w, 1 / (100 * w_inv), 1 / (0.1 * w_inv)])


class TestOocNonFit(smt.TestNonFit):
    @classmethod
    def setup_class(cls) -> None:
        endog, exog = _longley_arrays()
        cls.endog, cls.exog = endog, exog
        cls.ols_model = _longley_fit().model


# -- Lagrange-multiplier comparisons of nested fits -------------------------------------------
@_skip_listed
class TestOocLM(smt.TestLM):
    @classmethod
    def setup_class(cls) -> None:
        rs = np.random.RandomState(1234)
        x = rs.randn(100, 3)
        y = np.dot(x, np.ones((3, 1))) + rs.randn(100, 1)
        df = pd.DataFrame({"y": y[:, 0], "x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2]})
        cls.res1_full = df.ooc.lstsq("y ~ 0 + x0 + x1 + x2", chunksize=37)
        cls.res1_restricted = df.ooc.lstsq("y ~ 0 + x0")
        cls.res2_full = cls.res1_full.get_robustcov_results("HC0")
        cls.res2_restricted = cls.res1_restricted.get_robustcov_results("HC0")
        cls.x = x
        cls.Y = y

    @pytest.mark.parametrize(
        "robust, kwargs",
        [
            (False, {}),  # homoskedastic
            (True, {"demean": False}),
            (True, {}),  # demeaned scores
            (True, {"use_lr": True}),  # the full fit's scores
        ],
    )
    def test_lm_against_statsmodels(self, robust: bool, kwargs: dict) -> None:
        full, restr = OLS(self.Y, self.x).fit(), OLS(self.Y, self.x[:, 0]).fit()
        if robust:
            full, restr = full.get_robustcov_results("HC0"), restr.get_robustcov_results("HC0")
            ours = self.res2_full.compare_lm_test(self.res2_restricted, **kwargs)
        else:
            ours = self.res1_full.compare_lm_test(self.res1_restricted, **kwargs)
        ref = full.compare_lm_test(restr, **kwargs)
        np.testing.assert_almost_equal(ours[0], ref[0], 7)  # statsmodels' DECIMAL_7
        np.testing.assert_allclose(ours[1], ref[1], rtol=1e-9)
        assert ours[2] == ref[2] == 2.0


@_skip_listed
class TestOocCompareNamedTuple(smt.TestCompareAndElTestNamedTuple):
    @classmethod
    def setup_class(cls) -> None:
        rs = np.random.RandomState(12345)
        x = rs.standard_normal((200, 2))
        y = 1 + x[:, 0] + rs.standard_normal(200)
        df = pd.DataFrame({"y": y, "x1": x[:, 0], "x2": x[:, 1]})
        cls.res_full = df.ooc.lstsq("y ~ x1 + x2")
        cls.res_restr = df.ooc.lstsq("y ~ x1")

    def test_compare_lr_test_fields(self) -> None:
        sm = smt.OLS(self.res_full.model.endog.values, self.res_full.model.exog.values).fit()
        sm_r = smt.OLS(sm.model.endog, sm.model.exog[:, :2]).fit()
        for large in (False, True):
            res = self.res_full.compare_lr_test(self.res_restr, large_sample=large)
            ref = sm.compare_lr_test(sm_r, large_sample=large)
            assert res._fields == ref._fields == ("statistic", "pvalue", "df_diff")
            assert res[0] == res.statistic and res[2] == res.df_diff == 1.0
            np.testing.assert_allclose(tuple(res), tuple(ref), rtol=1e-10)
