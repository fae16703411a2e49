"""lstsq without ``path=``: built and folded block by block, its design written on demand.

The fit must equal the stored design's fit and statsmodels' at every chunking; nothing is
written until a row-length output asks; the design then written is checked against the
fit's digests, so data changed after the fit is refused instead of paired with it.
"""

from __future__ import annotations

import gc
import os

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import xarray as xr
from conftest import FORMULA, make_frame
from nist import min_lre, read_nist

import ooc_accessor as ooc
from ooc_accessor import solve, streamfit
from ooc_accessor.files import TMPDIR_ENV


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    """Temporary stores go to a directory of their own, so the test can list them."""
    d = tmp_path / "temps"
    d.mkdir()
    monkeypatch.setenv(TMPDIR_ENV, str(d))
    return d


def _stores(d) -> list[str]:
    return sorted(p.name for p in d.iterdir())


@pytest.mark.parametrize("chunksize", [1, 7, 61, 997, "auto"])
@pytest.mark.parametrize("weights", [None, "w"])
def test_equals_stored_fit_and_statsmodels(chunksize, weights, tmp_path):
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, weights=weights, chunksize=chunksize)
    assert isinstance(fit._design, streamfit.DeferredDesign)
    kept = df.ooc.lstsq(FORMULA, weights=weights, chunksize=chunksize, path=tmp_path / "d.nc")
    assert isinstance(kept._design, ooc.Design)
    ref = (
        smf.ols(FORMULA, df).fit()
        if weights is None
        else smf.wls(FORMULA, df, weights=df[weights]).fit()
    )
    assert list(fit.params.index) == list(ref.params.index)
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-9)
    np.testing.assert_allclose(fit.params, kept.params, rtol=1e-12)
    np.testing.assert_allclose(fit.bse, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(fit.ssr, ref.ssr, rtol=1e-10)
    np.testing.assert_allclose(fit.rsquared, ref.rsquared, rtol=1e-10)
    assert fit.nobs == ref.nobs == kept.nobs
    assert fit._design.n_dropped == len(df) - ref.nobs == kept._design.n_dropped


def test_writes_nothing_until_rows_are_asked_for(tmpdir_env):
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, chunksize=50)
    assert _stores(tmpdir_env) == []
    ref = smf.ols(FORMULA, df).fit()
    # summary, predict and conf_int need no rows of the design
    fit.summary().table()
    pred = fit.predict(df.iloc[:30])
    np.testing.assert_allclose(pred.dropna(), ref.predict(df.iloc[:30]).dropna(), rtol=1e-10)
    assert _stores(tmpdir_env) == []
    assert "not written yet" in repr(fit._design)
    fitted = fit.fittedvalues
    assert len(_stores(tmpdir_env)) == 1  # the design's temporary store, now
    np.testing.assert_allclose(fitted.values, ref.fittedvalues.values, rtol=1e-10)
    assert list(fitted["obs"].values) == list(ref.fittedvalues.index)
    np.testing.assert_allclose(fit.resid.values, ref.resid.values, rtol=1e-8, atol=1e-12)
    # written once
    assert fit._design.stored() is fit._design.stored()


def test_written_design_goes_with_the_fit(tmpdir_env):
    def fitted_path() -> str:
        fit = make_frame().ooc.lstsq(FORMULA, chunksize=50)
        assert float(fit.fittedvalues.sum()) != 0.0
        return fit._design.path

    path = fitted_path()
    gc.collect()
    assert not os.path.exists(path)
    assert _stores(tmpdir_env) == []


def test_saved_design_of_a_streamed_fit(tmp_path):
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, weights="w", chunksize=33)
    design = fit._design.save(tmp_path / "kept.nc")
    again = ooc.open_design(tmp_path / "kept.nc")
    refit = again.lstsq()
    np.testing.assert_allclose(refit.params, fit.params, rtol=1e-12)
    assert design.n_obs == fit.nobs
    np.testing.assert_array_equal(again.obs, smf.ols(FORMULA, df).fit().fittedvalues.index)


def _scale_a(df):
    df["a"] = df["a"] * (1 + 1e-7)


def _merge_levels(df):
    df["cat1"] = df["cat1"].replace("beta", "eps")


def _relabel(df):
    df.index = df.index + 1


def _double_weights(df):
    df["w"] = df["w"] * 2


@pytest.mark.parametrize("change", [_scale_a, _merge_levels, _relabel, _double_weights])
def test_data_changed_after_the_fit_is_refused(change, tmpdir_env):
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, weights="w", chunksize=40)
    change(df)
    with pytest.raises(ooc.DataError, match="changed after it was fitted"):
        _ = fit.fittedvalues
    assert _stores(tmpdir_env) == []  # the store that did not match is gone
    assert fit._design._stored is None


def test_rows_dropped_after_the_fit_are_refused(tmpdir_env):
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, chunksize=40)
    df.loc[df.index[5], "b"] = np.nan
    with pytest.raises(ooc.DataError, match="changed after it was fitted"):
        _ = fit.resid
    assert _stores(tmpdir_env) == []


def test_text_row_labels(tmpdir_env):
    df = make_frame(120)
    df.index = pd.Index([f"r{i}" for i in range(len(df))], name="key")
    fit = df.ooc.lstsq(FORMULA, chunksize=17)
    ref = smf.ols(FORMULA, df).fit()
    np.testing.assert_allclose(fit.fittedvalues.values, ref.fittedvalues.values, rtol=1e-10)
    assert list(fit.fittedvalues["obs"].values) == list(ref.fittedvalues.index)
    df2 = df.copy()
    df2.index = pd.Index([f"s{i}" for i in range(len(df))], name="key")
    fit2 = df2.ooc.lstsq(FORMULA, chunksize=17)
    df2.index = df.index
    with pytest.raises(ooc.DataError, match="obs"):
        _ = fit2.fittedvalues


def test_csv_store_replaced_after_the_fit(tmp_path, tmpdir_env):
    df = make_frame(300).dropna()
    csv = tmp_path / "d.csv"
    df.to_csv(csv, index=False)
    ds = ooc.read_csv(csv, tmp_path / "d.nc", progress=False)
    fit = ds.ooc.lstsq(FORMULA, chunksize=41)
    ref = smf.ols(FORMULA, df.reset_index(drop=True)).fit()
    np.testing.assert_allclose(fit.params.values, ref.params.values, rtol=1e-9)
    assert isinstance(fit.params, xr.DataArray)
    ds.close()
    df2 = df.copy()
    df2["y"] = df2["y"] + 1.0
    df2.to_csv(csv, index=False)
    ooc.read_csv(csv, tmp_path / "d.nc", progress=False).close()
    with pytest.raises((ooc.DataError, ooc.StoreError)):
        _ = fit.fittedvalues.values
    assert _stores(tmpdir_env) == []


def test_fold_threads_do_not_change_the_answer(monkeypatch):
    df = make_frame(2000, seed=3)
    fits = []
    for threads in (1, 2, 4):
        monkeypatch.setattr(streamfit, "fold_threads", lambda t=threads: t)
        fits.append(df.ooc.lstsq(FORMULA, chunksize=37))
    for fit in fits[1:]:
        np.testing.assert_array_equal(fit.params.values, fits[0].params.values)
        np.testing.assert_array_equal(fit.bse.values, fits[0].bse.values)


def test_update_and_fittedvalues_across_designs():
    df = make_frame(600, seed=4)
    first, second = df.iloc[:350], df.iloc[350:]
    fit = first.ooc.lstsq(FORMULA, chunksize=29).update(second)
    ref = smf.ols(FORMULA, df).fit()
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-9)
    np.testing.assert_allclose(fit.fittedvalues.values, ref.fittedvalues.values, rtol=1e-10)


def test_refinement_pass_is_streamed(monkeypatch, tmp_path):
    """The second, gradient pass (forced here) runs over the rebuilt blocks."""
    c = read_nist("Filip")
    monkeypatch.setattr(solve, "needs_refinement", lambda *a: True)
    calls = []
    original = streamfit.stream_gradient
    monkeypatch.setattr(streamfit, "stream_gradient", lambda *a: calls.append(1) or original(*a))
    fit = c.data.ooc.lstsq(c.formula, chunksize=23)
    assert calls, "the refinement pass was not taken"
    kept = c.data.ooc.lstsq(c.formula, chunksize=23, path=tmp_path / "filip.nc")
    np.testing.assert_allclose(fit.params.values, kept.params.values, rtol=1e-12)
    assert min_lre(fit.params.values, c.params) >= 7.5
    # the same gradient from the source, then from the store once it is written
    beta = fit.params.values
    from_source = fit._design.gradient(beta)
    _ = fit.fittedvalues
    np.testing.assert_allclose(fit._design.gradient(beta), from_source, rtol=1e-9)


def test_multiple_responses_refused_before_a_pass(monkeypatch):
    df = make_frame()
    monkeypatch.setattr(streamfit, "stream_stats", lambda *a: pytest.fail("a pass was made"))
    with pytest.raises(ooc.FormulaError, match="exactly one"):
        df.ooc.lstsq("y + a ~ b")


def _drop_a(df):
    del df["a"]


def _rename_b(df):
    df.columns = ["bb" if c == "b" else c for c in df.columns]


def _duplicate_c(df):
    df.insert(0, "c", df["c"], allow_duplicates=True)


@pytest.mark.parametrize("change", [_drop_a, _rename_b, _duplicate_c])
def test_columns_gone_after_the_fit_are_refused(change, tmpdir_env):
    df = make_frame()
    fit = df.ooc.lstsq(FORMULA, chunksize=40)
    change(df)
    with pytest.raises(ooc.DataError, match="cannot be read as it was fitted"):
        _ = fit.fittedvalues
    assert _stores(tmpdir_env) == []


def _as_nanoseconds(df):
    df.index = pd.to_datetime(df.index.to_numpy(), unit="ns")


def _renamed_index(df):
    df.index = df.index.rename("other")


def _strings_to_ints(df):
    df.index = pd.Index([int(v) for v in df.index], dtype=object)


@pytest.mark.parametrize(
    ("labels", "change"),
    [
        (lambda n: pd.RangeIndex(n), _as_nanoseconds),
        (lambda n: pd.RangeIndex(n, name="row"), _renamed_index),
        (lambda n: pd.Index([str(i) for i in range(n)], dtype=object), _strings_to_ints),
    ],
)
def test_labels_of_another_kind_with_equal_bytes_are_refused(labels, change, tmpdir_env):
    df = make_frame(200)
    df.index = labels(len(df))
    fit = df.ooc.lstsq(FORMULA, chunksize=30)
    change(df)
    with pytest.raises(ooc.DataError, match="changed after it was fitted"):
        _ = fit.fittedvalues
    assert _stores(tmpdir_env) == []


def test_a_formula_that_differs_on_each_evaluation(monkeypatch, tmp_path):
    """Rows built again must be the fitted ones: in the refinement pass and on writing."""
    df = make_frame(300).dropna()
    rng = np.random.default_rng(0)

    def jitter(v):
        return np.asarray(v) + rng.normal(scale=1e-3, size=len(v))

    monkeypatch.setattr(solve, "needs_refinement", lambda *a: True)
    with pytest.raises(ooc.DataError, match=r"refinement.*other values each time"):
        df.ooc.lstsq("jitter(y) ~ a + b", chunksize=50)
    monkeypatch.undo()
    fit = df.ooc.lstsq("jitter(y) ~ a + b", chunksize=50)
    with pytest.raises(ooc.DataError, match="other values each time"):
        _ = fit.resid
    # stored once with path=, the fit and its rows agree
    stored = df.ooc.lstsq("jitter(y) ~ a + b", chunksize=50, path=tmp_path / "j.nc")
    np.testing.assert_allclose(float((stored.resid**2).sum()), stored.ssr, rtol=1e-10)


def test_bad_compression_is_refused_at_the_call():
    with pytest.raises(ooc.ArgumentError, match="compression"):
        make_frame().ooc.lstsq(FORMULA, compression="bogus")
