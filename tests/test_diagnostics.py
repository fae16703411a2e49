"""The summary's residual diagnostics equal statsmodels' (Omnibus, Skew, Kurtosis,
Durbin-Watson across block boundaries, Jarque-Bera, Cond. No.), and its columns never run
together."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.formula.api as smf
from conftest import FORMULA, make_frame
from nist import read_nist
from statsmodels.stats.stattools import durbin_watson, jarque_bera, omni_normtest


def _expected(ref):
    jb, jbpv, skew, kurtosis = jarque_bera(ref.wresid)
    omni, omnipv = omni_normtest(ref.wresid)
    return {
        "jb": jb,
        "jbpv": jbpv,
        "skew": skew,
        "kurtosis": kurtosis,
        "omni": omni,
        "omnipv": omnipv,
        "durbin_watson": durbin_watson(ref.wresid),
        "condno": ref.condition_number,
    }


@pytest.mark.parametrize("chunksize", [1, 2, 37, "auto"])
@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("stored", [False, True])
def test_diagnostics_equal_statsmodels(chunksize, weights, stored, tmp_path):
    df = make_frame(300, seed=4)
    path = tmp_path / "d.nc" if stored else None
    fit = df.ooc.lstsq(FORMULA, weights=weights, chunksize=chunksize, path=path)
    ref = (
        smf.ols(FORMULA, df).fit() if weights is None else smf.wls(FORMULA, df, weights=df.w).fit()
    )
    got = fit.diagn
    for key, value in _expected(ref).items():
        np.testing.assert_allclose(got[key], value, rtol=1e-9, err_msg=key)


def test_after_update_the_boundary_between_designs_counts():
    df = make_frame(500, seed=7).dropna()
    fit = df.iloc[:230].ooc.lstsq(FORMULA, chunksize=19).update(df.iloc[230:])
    ref = smf.ols(FORMULA, df).fit()
    for key, value in _expected(ref).items():
        np.testing.assert_allclose(fit.diagn[key], value, rtol=1e-9, err_msg=key)


def test_magnitudes_do_not_overflow():
    df = make_frame(300, seed=4).dropna()
    big = df.assign(y=df.y * 1e200)
    fit, huge = df.ooc.lstsq(FORMULA, chunksize=41), big.ooc.lstsq(FORMULA, chunksize=41)
    for key in ("omni", "skew", "kurtosis", "jb", "durbin_watson"):
        np.testing.assert_allclose(huge.diagn[key], fit.diagn[key], rtol=1e-9, err_msg=key)


def test_summary_shows_them_and_columns_never_run_together():
    c = read_nist("Longley")  # coefficients of -3.48e6 and standard errors of 8.9e5
    fit = c.data.ooc.lstsq(c.formula)
    text = str(fit.summary())
    for label in ("Omnibus:", "Durbin-Watson:", "Jarque-Bera (JB):", "Skew:", "Kurtosis:"):
        assert label in text
    rows = [line for line in text.splitlines() if line.startswith(("Intercept", "x1", "x6"))]
    assert rows
    for line in rows:
        cells = line.split()
        assert len(cells) == 7, line  # term + six numbers, each apart
        np.testing.assert_allclose(float(cells[1]), fit.params[cells[0]], rtol=1e-3)
    html = fit.summary()._repr_html_()  # the fit's own repr runs no pass: the summary does
    assert "Durbin-Watson" in html and "Omnibus" in html
