"""t_test, f_test, wald_test and the model comparisons equal statsmodels' (rtol 1e-8)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.formula.api as smf
from conftest import FORMULA, make_frame

import ooc_accessor as ooc

CONSTRAINTS = [
    "a = 0",
    "a = b",
    "a = 0, b = 0",
    "2 * a + b = 1, d:c = c",
    "C(cat1)[T.beta] = C(cat1)[T.eps]",
    ["a = 0", "a:b = 0.5"],
]


KEYS = [("nonrobust", None), ("nonrobust", "w"), ("HC3", None), ("HC3", "w")]


def _matrix(terms):
    r = np.zeros((2, len(terms)))
    r[0, terms.index("a")] = 1.0
    r[1, terms.index("b")], r[1, terms.index("c")] = 1.0, -1.0
    return r


@pytest.fixture(scope="module")
def fits():
    df = make_frame(600, seed=5)
    out = {}
    for cov_type in ("nonrobust", "HC3"):
        for weights in (None, "w"):
            fit = df.ooc.lstsq(FORMULA, weights=weights, cov_type=cov_type, chunksize=47)
            model = smf.ols(FORMULA, df) if weights is None else smf.wls(FORMULA, df, weights=df.w)
            out[cov_type, weights] = fit, model.fit(cov_type=cov_type)
    return out


def _same(a, b, rtol=1e-8):
    np.testing.assert_allclose(np.squeeze(a), np.squeeze(b), rtol=rtol, atol=1e-300)


@pytest.mark.parametrize(
    "key", [("nonrobust", None), ("nonrobust", "w"), ("HC3", None), ("HC3", "w")]
)
@pytest.mark.parametrize("spec", [*CONSTRAINTS, "matrix", "pair"])
def test_tests_equal_statsmodels(fits, key, spec):
    fit, ref = fits[key]
    if spec == "matrix":
        spec = _matrix(fit.terms)
    elif spec == "pair":
        spec = (_matrix(fit.terms), np.array([0.5, -1.0]))
    for use_t in (None, True, False):
        t, rt = fit.t_test(spec, use_t=use_t), ref.t_test(spec, use_t=use_t)
        _same(t.effect, rt.effect)
        _same(t.sd, rt.sd)
        _same(t.tvalue, rt.tvalue)
        _same(t.pvalue, rt.pvalue, 1e-6)
        assert t.distribution == rt.distribution
        _same(t.conf_int(), rt.conf_int())
        _same(t.conf_int(0.1), rt.conf_int(0.1))
        if hasattr(rt, "df_denom"):  # statsmodels' z tests carry none
            assert t.df_denom == rt.df_denom
    f, rf = fit.f_test(spec), ref.f_test(spec)
    _same(f.fvalue, rf.fvalue)
    _same(f.pvalue, rf.pvalue, 1e-6)
    assert (f.df_num, f.df_denom) == (rf.df_num, rf.df_denom)
    for use_f in (True, False):
        w, rw = fit.wald_test(spec, use_f=use_f), ref.wald_test(spec, use_f=use_f, scalar=True)
        _same(w.statistic, rw.statistic)
        _same(w.pvalue, rw.pvalue, 1e-6)
        assert w.distribution == rw.distribution and w.df_denom == rw.df_denom


def test_compare_nested_models():
    df = make_frame(500, seed=6)
    small = "y ~ a + b + C(cat1)"
    full, restricted = df.ooc.lstsq(FORMULA, chunksize=31), df.ooc.lstsq(small, chunksize=31)
    rfull, rrestricted = smf.ols(FORMULA, df).fit(), smf.ols(small, df).fit()
    _same(full.compare_f_test(restricted), rfull.compare_f_test(rrestricted))
    _same(full.compare_lr_test(restricted), rfull.compare_lr_test(rrestricted))
    with pytest.raises(ooc.ArgumentError, match="restricted"):
        restricted.compare_f_test(full)
    robust = df.ooc.lstsq(FORMULA, cov_type="HC1")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _same(robust.compare_f_test(restricted), rfull.compare_f_test(rrestricted))
    assert any("robust covariance" in str(w.message) for w in seen)


def test_summary_frame_and_repr(fits):
    fit, ref = fits["nonrobust", None]
    t = fit.t_test("a = 0, b = 0")
    frame = t.summary_frame(alpha=0.1)
    expected = ref.t_test("a = 0, b = 0").summary_frame(alpha=0.1)
    np.testing.assert_allclose(frame.to_numpy(), expected.to_numpy(), rtol=1e-8)
    assert list(frame.columns) == list(expected.columns)
    assert "F=" in repr(fit.f_test("a = 0"))
    with pytest.raises(ooc.ArgumentError, match="no effect"):
        fit.f_test("a = 0").conf_int()


def test_constraints_name_terms_not_positions():
    df = make_frame(300, seed=8)
    one = df.ooc.lstsq("y ~ a + b + c")
    other = df.ooc.lstsq("y ~ c + b + a")  # the same model, terms in another order
    _same(one.t_test("a = 2 * b").tvalue, other.t_test("a = 2 * b").tvalue, 1e-10)
    with pytest.raises(ooc.FormulaError, match="nope"):
        one.t_test("nope = 0")
    with pytest.raises(ooc.ArgumentError):
        one.t_test(np.ones((1, 7)))


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"skip_single": True},
        {"combine_terms": ["a"]},
        {"extra_constraints": [("a = b", "a = b")]},
    ],
)
def test_wald_test_terms_equal_statsmodels(fits, key, kwargs):
    fit, ref = fits[key]
    ours = fit.wald_test_terms(**kwargs)
    theirs = ref.wald_test_terms(**kwargs)
    assert list(ours.table.index) == list(theirs.table.index)
    assert list(ours.table.columns) == list(theirs.table.columns)
    np.testing.assert_allclose(
        ours.table.to_numpy(dtype=float), theirs.table.to_numpy(dtype=float), rtol=1e-8
    )
    assert list(ours.summary_frame().columns) == list(theirs.summary_frame().columns)
