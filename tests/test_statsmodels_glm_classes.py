"""statsmodels' own GLM test classes, judging ooc's GLM.

Each class below subclasses a test class of ``statsmodels/genmod/tests/test_glm.py`` (the
installed statsmodels) and overrides only ``setup_class``: the parent's setup runs (it
loads the data and the certified R/Stata results ``res2``, or the statsmodels reference
fit), then ``res1`` is replaced by an ooc GLM of the same rows, built from a DataFrame of
the statsmodels model's endog and exog with a formula ``"y ~ 0 + x0 + x1 + ..."`` in the
exog's column order, its offset/exposure/weights as columns, and its family instance. Every
parent test then runs against ooc at the class's own tolerances.

A test that cannot apply to an out-of-core GLM is skipped, with its reason, from
:data:`SKIPS`; nothing else is.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.genmod.tests.test_glm as smt
from numpy.testing import assert_allclose
from statsmodels.genmod import families as smfam

import ooc_accessor  # noqa: F401  (registers .ooc)
from ooc_accessor.stats.glmresults import GLMResults

_NO_SCORE_TEST = (
    "GLM.score_test (a Lagrange multiplier test against extra exog) is not offered by ooc's GLM"
)
_NO_PREDICTION = (
    "GLMResults.get_prediction (delta-method standard errors of the mean per row) is not "
    "offered by ooc's GLM; predict() is"
)
_INPLACE = (
    "the test multiplies a numpy array in place by a function of res1.mu (`resid2[:, 2] *= "
    "link.deriv(mu) ** 2`); ooc's mu is a lazy dask-backed DataArray, which numpy cannot "
    "write into an ndarray's `out=`. The same comparison runs as test_residuals_lazy"
)
_POSITIONAL_SUM = (
    "calls `score_obs(...).sum(0)`, numpy's positional axis; ooc's score_obs is a lazy "
    "labeled DataArray (dims obs, term) whose sum takes a dim name. The same comparison "
    "runs as test_compare_discrete_lazy"
)
_COUNTS = (
    "the certified values are for binomial counts (successes, failures); ooc takes them as "
    "a proportion with var_weights= the trials, whose likelihood (and residual scale) is "
    "statsmodels' own for that input too: a var_weights-weighted Bernoulli llf without the "
    "binomial coefficient (-110686.32 vs -2998.61 for star98; params, bse and deviance "
    "agree and are tested)"
)
_STATSMODELS_ONLY = "fits and checks statsmodels' own GLM only (no res1 involved)"

#: (class name, test name) -> why the test cannot apply to ooc's GLM
SKIPS: dict[tuple[str, str], str] = {
    **{
        (c, "test_residuals"): _INPLACE
        for c in (
            "TestOocGlmGaussian",
            "TestOocGaussianLog",
            "TestOocGaussianInverse",
            "TestOocGlmBinomial",
            "TestOocGlmBernoulli",
            "TestOocGlmGamma",
            "TestOocGlmGammaLog",
            "TestOocGlmGammaIdentity",
            "TestOocGlmPoisson",
            "TestOocGlmInvgauss",
            "TestOocGlmInvgaussLog",
            "TestOocGlmInvgaussIdentity",
            "TestOocGlmNegbinomial",
            "TestOocGlmPoissonOffset",
            "TestOocStartParams",
            "TestOocGlmGaussianGradient",
        )
    },
    ("TestOocGlmGaussian", "test_compare_OLS"): _NO_PREDICTION,
    ("TestOocGlmGaussianGradient", "test_compare_OLS"): _NO_PREDICTION,
    ("TestOocWtdGlmGammaNewton", "test_init_kwargs"): _STATSMODELS_ONLY,
    **{
        ("TestOocWtdGlmGammaNewton", t): (
            "res2 is statsmodels' Newton fit, whose covariance is the inverse observed "
            "Hessian; ooc fits by IRLS only, whose covariance (as statsmodels' own IRLS "
            "fit's) is the inverse expected information: for the Gamma's non-canonical log "
            "link the two differ (bse up to 18%); params, llf, deviance and the rest agree"
        )
        for t in ("test_standard_errors", "test_tpvalues")
    },
    ("TestOocGlmBernoulli", "test_compare_discrete"): _POSITIONAL_SUM,
    ("TestOocGlmPoisson", "test_compare_discrete"): _POSITIONAL_SUM,
    ("TestOocGlmBernoulli", "test_score_test"): _NO_SCORE_TEST,
    ("TestOocGlmBernoulli", "test_score_r"): _NO_SCORE_TEST,
    ("TestOocGlmBernoulli", "test_get_prediction"): _NO_PREDICTION,
    ("TestOocGlmPoisson", "test_score_test"): _NO_SCORE_TEST,
    ("TestOocGlmPoisson", "test_get_prediction"): _NO_PREDICTION,
    **{
        ("TestOocGlmBinomial", t): _COUNTS
        for t in (
            "test_residuals_lazy",
            "test_aic_R",
            "test_aic_Stata",
            "test_loglike",
            "test_prsquared",
        )
    },
    ("TestOocGlmBinomial", "test_get_distribution_binom_count"): (
        "uses model.n_trials: ooc takes a binomial count as a proportion with "
        "var_weights= the trials, and does not know those weights are trials"
    ),
    ("TestOocGlmBinomial", "test_endog_dtype"): _STATSMODELS_ONLY,
    ("TestOocGlmBinomial", "test_invalid_endog"): _STATSMODELS_ONLY,
    ("TestOocGlmBinomial", "test_invalid_endog_formula"): _STATSMODELS_ONLY,
    ("TestOocGlmPoissonOffset", "test_missing"): _STATSMODELS_ONLY,
    ("TestOocGlmPoissonOffset", "test_predict"): _STATSMODELS_ONLY,
    ("TestOocGlmPoissonOffset", "test_offset_exposure"): (
        "statsmodels' model internals (_get_init_kwds, re-creating a model, "
        "fit_regularized), not offered by ooc's GLM"
    ),
    ("TestOocWtdGlmGammaScale_dev", "test_missing"): _STATSMODELS_ONLY,
}


@pytest.fixture(autouse=True)
def _skip_inapplicable(request: pytest.FixtureRequest) -> None:
    cls = request.node.cls
    key = (cls.__name__ if cls is not None else "", request.node.originalname)
    if key in SKIPS:
        pytest.skip(SKIPS[key])


def _column_names(model) -> list[str]:
    names = list(model.exog_names)
    ok = all(n.isidentifier() and n != "y" for n in names) and len(set(names)) == len(names)
    return names if ok else [f"x{i}" for i in range(len(names))]


def ooc_like(model, chunksize: int | str | None = None, **fit_kwds):
    """An ooc GLM of the rows of the statsmodels GLM ``model`` (same family instance,
    offset, exposure and weights), with ``fit_kwds`` for ``df.ooc.glm``; by default in
    about 30 blocks of an odd size (7 rows at least), so every pass merges many blocks
    without thousands of tasks for a data set of 5000 rows."""
    if chunksize is None:
        chunksize = max(7, (len(model.endog) // 30) | 1)
    names = _column_names(model)
    df = pd.DataFrame(np.asarray(model.exog, dtype=float), columns=names)
    df["y"] = np.asarray(model.endog, dtype=float)
    kw: dict = {}
    init = model._get_init_kwds()
    if init.get("offset") is not None:
        df["off"] = np.asarray(init["offset"], dtype=float)
        kw["offset"] = "off"
    if init.get("exposure") is not None:
        df["expo"] = np.asarray(init["exposure"], dtype=float)
        kw["exposure"] = "expo"
    if model._has_freq_weights:
        df["fw"] = np.asarray(model.freq_weights, dtype=float)
        kw["freq_weights"] = "fw"
    vw = np.asarray(model.var_weights, dtype=float)
    if isinstance(model.family, smfam.Binomial):
        vw = vw * model.n_trials  # a count: a proportion with the trials as var_weights
    if model._has_var_weights or np.any(vw != 1):
        df["vw"] = vw
        kw["var_weights"] = "vw"
    formula = "y ~ 0 + " + " + ".join(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' DomainWarning for a non-safe link
        return df.ooc.glm(formula, family=model.family, chunksize=chunksize, **kw, **fit_kwds)


class OocResiduals:
    """statsmodels' ``test_residuals`` with the link derivative computed first."""

    def test_residuals_lazy(self):
        resid2 = copy.copy(self.res2.resids)
        resid2[:, 2] *= np.asarray(self.res1.family.link.deriv(self.res1.mu)) ** 2
        atol = float(10 ** (-self.decimal_resids))
        resids = np.column_stack(
            (
                self.res1.resid_pearson,
                self.res1.resid_deviance,
                self.res1.resid_working,
                self.res1.resid_anscombe_unscaled,
                self.res1.resid_response,
            )
        )
        assert_allclose(resids, resid2, rtol=1e-6, atol=atol)


class OocCompareDiscrete:
    """statsmodels' ``test_compare_discrete`` with the score rows summed over ``"obs"``."""

    def test_compare_discrete_lazy(self):
        res1, resd = self.res1, self.resd
        assert_allclose(res1.llf, resd.llf, rtol=1e-10)
        score_obs1 = res1.model.score_obs(res1.params * 0.98)
        score_obsd = resd.model.score_obs(resd.params * 0.98)
        assert_allclose(score_obs1, score_obsd, rtol=1e-10)
        score1 = res1.model.score(res1.params * 0.98)
        assert_allclose(score1, score_obs1.sum("obs"), atol=1e-20)
        score0 = res1.model.score(res1.params)
        assert_allclose(score0, np.zeros(score_obs1.shape[1]), atol=5e-7)
        hessian1 = res1.model.hessian(res1.params * 0.98, observed=False)
        hessiand = resd.model.hessian(resd.params * 0.98)
        assert_allclose(hessian1, hessiand, rtol=1e-10)
        hessian1 = res1.model.hessian(res1.params * 0.98, observed=True)
        assert_allclose(hessian1, hessiand, rtol=1e-9)


def _ooc_class(parent: type, name: str, **fit_kwds) -> type:
    """A subclass of ``parent`` whose setup replaces ``res1`` by the ooc fit (a callable
    keyword value is called with the class after the parent's setup)."""

    @classmethod
    def setup_class(cls):
        parent.setup_class.__func__(cls)
        cls.sm_res1 = cls.res1
        kw = {k: v(cls) if callable(v) else v for k, v in fit_kwds.items()}
        cls.res1 = ooc_like(cls.res1.model, **kw)
        assert isinstance(cls.res1, GLMResults)  # every test below judges ooc's fit

    bases = (parent,)
    if hasattr(parent, "test_residuals"):
        bases += (OocResiduals,)
    if hasattr(parent, "test_compare_discrete"):
        bases += (OocCompareDiscrete,)
    return type(name, bases, {"setup_class": setup_class, "__module__": __name__})


# -- statsmodels' certified results (R, Stata) ------------------------------------------------
TestOocGlmGaussian = _ooc_class(smt.TestGlmGaussian, "TestOocGlmGaussian")
TestOocGaussianLog = _ooc_class(smt.TestGaussianLog, "TestOocGaussianLog")
TestOocGaussianInverse = _ooc_class(smt.TestGaussianInverse, "TestOocGaussianInverse")
TestOocGlmBinomial = _ooc_class(smt.TestGlmBinomial, "TestOocGlmBinomial")
TestOocGlmBernoulli = _ooc_class(smt.TestGlmBernoulli, "TestOocGlmBernoulli")
TestOocGlmGamma = _ooc_class(smt.TestGlmGamma, "TestOocGlmGamma")
TestOocGlmGammaLog = _ooc_class(smt.TestGlmGammaLog, "TestOocGlmGammaLog")
TestOocGlmGammaIdentity = _ooc_class(smt.TestGlmGammaIdentity, "TestOocGlmGammaIdentity")
TestOocGlmPoisson = _ooc_class(smt.TestGlmPoisson, "TestOocGlmPoisson")
TestOocGlmInvgauss = _ooc_class(smt.TestGlmInvgauss, "TestOocGlmInvgauss")
TestOocGlmInvgaussLog = _ooc_class(smt.TestGlmInvgaussLog, "TestOocGlmInvgaussLog")
TestOocGlmInvgaussIdentity = _ooc_class(smt.TestGlmInvgaussIdentity, "TestOocGlmInvgaussIdentity")
TestOocGlmNegbinomial = _ooc_class(smt.TestGlmNegbinomial, "TestOocGlmNegbinomial", scale="x2")
TestOocGlmPoissonOffset = _ooc_class(smt.TestGlmPoissonOffset, "TestOocGlmPoissonOffset")
# statsmodels fits res1 of these by Newton; ooc has IRLS only, judged by the same res2
TestOocGlmGaussianGradient = _ooc_class(smt.TestGlmGaussianGradient, "TestOocGlmGaussianGradient")
TestOocStartParams = _ooc_class(
    smt.TestStartParams,
    "TestOocStartParams",
    start_params=lambda cls: sm.OLS(cls.data.endog, cls.data.exog).fit().params,
)

# -- frequency weights against the rows repeated (statsmodels' fit of the long data) ---------
TestOocWtdGlmPoisson = _ooc_class(smt.TestWtdGlmPoisson, "TestOocWtdGlmPoisson")
TestOocWtdGlmPoissonHC0 = _ooc_class(
    smt.TestWtdGlmPoissonHC0, "TestOocWtdGlmPoissonHC0", cov_type="HC0"
)
TestOocWtdGlmPoissonClu = _ooc_class(
    smt.TestWtdGlmPoissonClu,
    "TestOocWtdGlmPoissonClu",
    cov_type="cluster",
    cov_kwds={"groups": np.arange(1, 18) // 2, "use_correction": False},
)
TestOocWtdGlmPoissonNewton = _ooc_class(smt.TestWtdGlmPoissonNewton, "TestOocWtdGlmPoissonNewton")
TestOocWtdGlmGammaNewton = _ooc_class(smt.TestWtdGlmGammaNewton, "TestOocWtdGlmGammaNewton")
TestOocWtdGlmBinomial = _ooc_class(smt.TestWtdGlmBinomial, "TestOocWtdGlmBinomial")
TestOocWtdGlmNegativeBinomial = _ooc_class(
    smt.TestWtdGlmNegativeBinomial, "TestOocWtdGlmNegativeBinomial"
)
TestOocWtdGlmGamma = _ooc_class(smt.TestWtdGlmGamma, "TestOocWtdGlmGamma")
TestOocWtdGlmGaussian = _ooc_class(smt.TestWtdGlmGaussian, "TestOocWtdGlmGaussian")
TestOocWtdGlmInverseGaussian = _ooc_class(
    smt.TestWtdGlmInverseGaussian, "TestOocWtdGlmInverseGaussian"
)
TestOocWtdGlmGammaScale_X2 = _ooc_class(
    smt.TestWtdGlmGammaScale_X2, "TestOocWtdGlmGammaScale_X2", scale="X2"
)
TestOocWtdGlmGammaScale_dev = _ooc_class(
    smt.TestWtdGlmGammaScale_dev, "TestOocWtdGlmGammaScale_dev", scale="dev"
)
TestOocWtdTweedieLog = _ooc_class(smt.TestWtdTweedieLog, "TestOocWtdTweedieLog")
TestOocWtdTweediePower2 = _ooc_class(smt.TestWtdTweediePower2, "TestOocWtdTweediePower2")
TestOocWtdTweediePower15 = _ooc_class(smt.TestWtdTweediePower15, "TestOocWtdTweediePower15")


# -- statsmodels' convergence criteria (atol, rtol, tol_criterion) --------------------------
class OocFitOf:
    """``fit(**kwds)`` of a statsmodels model's rows by ooc (TestConvergence calls
    ``cls.model.fit(atol=, rtol=, tol_criterion=)`` and checks the fit_history)."""

    def __init__(self, model) -> None:
        self.sm_model = model

    def fit(self, **kwds):
        return ooc_like(self.sm_model, **kwds)


class TestOocConvergence(smt.TestConvergence):
    @classmethod
    def setup_class(cls):
        super().setup_class()
        cls.model = OocFitOf(cls.model)


# -- Tweedie: certified results, and the special powers against the named families ----------
TestOocTweediePower15 = _ooc_class(smt.TestTweediePower15, "TestOocTweediePower15")
TestOocTweediePower2 = _ooc_class(smt.TestTweediePower2, "TestOocTweediePower2")
TestOocTweedieLog1 = _ooc_class(smt.TestTweedieLog1, "TestOocTweedieLog1")
TestOocTweedieLog15Fair = _ooc_class(smt.TestTweedieLog15Fair, "TestOocTweedieLog15Fair")
TestOocTweedieSpecialLog0 = _ooc_class(smt.TestTweedieSpecialLog0, "TestOocTweedieSpecialLog0")
TestOocTweedieSpecialLog1 = _ooc_class(smt.TestTweedieSpecialLog1, "TestOocTweedieSpecialLog1")
TestOocTweedieSpecialLog2 = _ooc_class(smt.TestTweedieSpecialLog2, "TestOocTweedieSpecialLog2")
TestOocTweedieSpecialLog3 = _ooc_class(smt.TestTweedieSpecialLog3, "TestOocTweedieSpecialLog3")
