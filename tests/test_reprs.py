"""Text and HTML reprs: the values shown are the object's, user text is escaped, a repr
reads no row (it works on a deleted store) and stays short for many terms."""

from __future__ import annotations

import html
import math
import os
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import make_frame
from sklearn.base import BaseEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ooc_accessor as ooc
from ooc_accessor.errors import RankWarning
from ooc_accessor.reprs import nbytes, num, short

FORMULA = "y ~ a + b + C(cat1)"


def _row(text: str, label: str) -> list[str]:
    """The cells of the text table's row for ``label``."""
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] == label:
            return cells[1:]
    raise AssertionError(f"no row {label!r} in\n{text}")


def _check_coefficients(text: str, fit, terms=None) -> None:
    """Each shown row holds that term's params, bse, t, p and interval, in that order."""
    ci = np.asarray(fit.conf_int(), dtype=float)
    for i, term in enumerate(fit.terms if terms is None else terms):
        j = list(fit.terms).index(term)
        want = [
            num(float(np.asarray(v)[j])) for v in (fit.params, fit.bse, fit.tvalues, fit.pvalues)
        ] + [num(ci[j, 0]), num(ci[j, 1])]
        assert _row(text, term) == want, (i, term)


# -- Design -----------------------------------------------------------------------------------
def test_design_text_and_html_show_the_store(tmp_path):
    df = make_frame(300)  # 5 rows with a missing value in a used column (a, cat1, y)
    design = df.ooc.design(FORMULA, chunksize=64)
    text = repr(design)
    assert text.splitlines()[0] == f"<ooc.Design {FORMULA!r}>"
    assert len(text.splitlines()) <= 6  # short in a terminal
    size = nbytes(os.stat(design.path).st_size)
    assert f"{design.path} ({size}, temporary: removed when garbage-collected)" in text
    # 295 rows kept: blocks of 64 rows -> ceil(295 / 64) = 5 blocks
    assert design.n_obs == 295 and design.n_dropped == 5
    assert "295 (5 dropped) in 5 blocks of 64; weights: none" in text
    assert "y: y; X: 7: Intercept, C(cat1)[T.beta], C(cat1)[T.delta], ..." in text
    page = design._repr_html_()
    for piece in (FORMULA, design.path, size, "295", "5", "64", "temporary", "C(cat1)[T.eps]"):
        assert html.escape(piece) in page, piece
    # the text repr is the fallback a page without the stylesheet shows
    assert f"<pre class='ooc-fallback'>{html.escape(text, quote=True)}</pre>" in page

    one = df.ooc.design(FORMULA, chunksize=300)
    assert "295 (5 dropped) in 1 block of 300" in repr(one)
    assert "295 rows, 1 block" in one._repr_html_()

    kept = design.save(tmp_path / "d.nc")
    assert "kept" in repr(kept) and "temporary" not in repr(kept)


def test_design_with_weights_and_a_dataset():
    df = make_frame(120)
    design = df.ooc.design("y ~ a", weights="w", chunksize=50)
    assert "weights: column 'w'" in repr(design)
    ds = xr.Dataset(
        {"t": ("time", np.arange(10.0)), "u": ("time", np.arange(10.0) ** 2)},
        coords={"time": pd.date_range("2000", periods=10)},
    )
    d2 = ds.ooc.design("u ~ t", dim="time", chunksize=4)
    assert "xarray (rows along &#x27;time&#x27;)" in d2._repr_html_()
    assert "10 (0 dropped) in 3 blocks of 4" in repr(d2)


def test_a_deleted_store_is_reported_not_raised():
    df = make_frame(200)
    design = df.ooc.design(FORMULA)
    fit = design.lstsq()
    svd = design.svd()
    os.remove(svd.path)
    os.remove(design.path)
    text = repr(design)
    assert f"the store file {design.path} is missing (deleted?)" in text
    assert "(missing, temporary" in text
    assert "is missing (deleted?)" in design._repr_html_()
    # the fit's repr is made of the numbers it holds: no row is read
    _check_coefficients(repr(fit), fit)
    assert "C(cat1)[T.gamma]" in fit._repr_html_()
    assert f"the store of U {svd.path} is missing" in repr(svd)
    assert "missing" in svd._repr_html_()


# -- escaping ---------------------------------------------------------------------------------
def test_user_text_is_escaped_in_html():
    rng = np.random.default_rng(1)
    n = 80
    df = pd.DataFrame(
        {
            "<script>": rng.normal(size=n),
            "a&b": rng.normal(size=n),
            "g": rng.choice(["<b>x</b>", "q\"'"], size=n),
        }
    )
    df["y"] = df["<script>"] + rng.normal(size=n)
    formula = "y ~ Q('<script>') + Q('a&b') + C(g)"
    design = df.ooc.design(formula)
    fit = design.lstsq()
    glm = design.glm()
    pca = df.ooc.pca(2, columns=["<script>", "a&b"])
    for obj in (design, fit, glm, design.svd()):
        page = obj._repr_html_()
        assert "<script>" not in page and "<b>x</b>" not in page
        assert "a&b" not in page and "q\"'" not in page
        assert "Q(&#x27;&lt;script&gt;&#x27;)" in page
        assert "Q(&#x27;a&amp;b&#x27;)" in page
    page = fit._repr_html_()
    assert "C(g)[T.q&quot;&#x27;]" in page  # a level's quotes too
    page = pca._repr_html_()
    assert "<script>" not in page[page.index("<div class='ooc-repr'>") :]  # the state's part


# -- least squares ----------------------------------------------------------------------------
def test_lstsq_repr_shows_the_fit():
    df = make_frame(300)
    fit = df.ooc.lstsq(FORMULA)
    text = repr(fit)
    head = text.splitlines()
    assert head[0] == f"<ooc.LstsqResult OLS {FORMULA!r}>"
    assert head[1].split(": ", 1)[1] == (
        f"y on 7 terms: nobs 295 (5 dropped), df_resid {short(fit.df_resid)}, rank 7 of 7"
    )
    assert f"R²:  {short(fit.rsquared)} (adj. {short(fit.rsquared_adj)}), cov_type nonrobust" in (
        text
    )
    assert head[3].split() == ["coef", "std", "err", "t", "P>|t|", "[0.025", "0.975]"]
    _check_coefficients(text, fit)
    page = fit._repr_html_()
    assert "<table>" in page and "Coefficients (7)" in page
    for v in (fit.params["b"], fit.bse["b"], fit.pvalues["b"]):
        assert f"<td>{num(v)}</td>" in page
    robust = df.ooc.lstsq(FORMULA, cov_type="HC3")
    assert "cov_type HC3" in repr(robust)
    _check_coefficients(repr(robust), robust)  # the robust standard errors


def test_many_terms_show_head_and_tail():
    rng = np.random.default_rng(2)
    cols = {f"x{i:02d}": rng.normal(size=200) for i in range(30)}
    df = pd.DataFrame(cols)
    df["y"] = df.sum(axis=1) + rng.normal(size=200)
    formula = "y ~ " + " + ".join(cols)
    fit = df.ooc.lstsq(formula)
    text = repr(fit)
    assert len(text.splitlines()) == 3 + 1 + 11 + 1  # header, columns, 5+...+5 rows, footer
    shown = ["Intercept", "x00", "x01", "x02", "x03", "x25", "x26", "x27", "x28", "x29"]
    _check_coefficients(text, fit, shown)
    assert "x10" not in text.split("\n", 3)[3]
    assert "[31 rows; 21 not shown]" in text
    page = fit._repr_html_()
    assert "31 rows; 11 not shown" in page  # HTML keeps 10 + 10
    assert "<th>x08</th>" in page and "<th>x20</th>" in page and "<th>x15</th>" not in page
    design = df.ooc.design(formula)
    assert "X: 31: Intercept, x00, x01, ..., x27, x28, x29" in repr(design)
    assert "x15" in design._repr_html_()  # the HTML lists every term


def test_rank_deficient_fit_is_flagged():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a": rng.normal(size=100), "y": rng.normal(size=100)})
    df["b"] = 2 * df["a"]
    with pytest.warns(RankWarning):
        fit = df.ooc.lstsq("y ~ a + b")
    text = repr(fit)
    assert "! rank-deficient: rank 2 of 3 terms" in text
    assert "rank 2 of 3" in fit._repr_html_()
    _check_coefficients(text, fit)


def test_dataset_fit_repr():
    rng = np.random.default_rng(4)
    ds = xr.Dataset(
        {"x": ("time", rng.normal(size=60)), "y": ("time", rng.normal(size=60))},
        coords={"time": np.arange(60)},
    )
    fit = ds.ooc.lstsq("y ~ x", dim="time")
    assert isinstance(fit.params, xr.DataArray)
    _check_coefficients(repr(fit), fit)


# -- GLM --------------------------------------------------------------------------------------
def test_glm_repr_and_llf_only_after_its_pass():
    df = make_frame(300)
    df["hit"] = (df["a"].fillna(0) + np.random.default_rng(5).normal(size=300) > 0) * 1.0
    glm = df.ooc.glm("hit ~ a + b", family="binomial")
    text = repr(glm)
    assert text.splitlines()[0] == "<ooc.GLMResults Binomial(Logit) 'hit ~ a + b'>"
    iters = glm.fit_history["iteration"]
    assert f"nobs 297 (3 dropped), df_resid 294, {iters} IRLS iterations, converged" in text
    assert f"deviance: {short(glm.deviance)}, scale 1, llf not computed" in text
    assert "_final" not in vars(glm)  # the repr ran no pass
    _check_coefficients(text, glm)
    assert "P>|z|" in text
    page = glm._repr_html_()
    assert "Binomial / Logit" in page and "not computed" in page
    llf = glm.llf
    text = repr(glm)
    assert f"llf {short(llf)}, aic {short(glm.aic)}" in text
    assert f"<dd>{short(llf)}</dd>" in glm._repr_html_()


# -- SVD --------------------------------------------------------------------------------------
def test_svd_repr():
    df = make_frame(200)
    svd = df.ooc.svd("0 + a + b + c + d", k=3)
    s = np.asarray(svd.s)
    text = repr(svd)
    x = svd.design.X.values
    rank = np.linalg.matrix_rank(x)  # X's rank (4), not the k=3 kept
    assert "shape: 197 x 4" in text and "k:     3" in text and f"rank:  {rank}" in text
    size = nbytes(os.stat(svd.path).st_size)
    assert f"U:     stored at {svd.path} ({size}, removed when garbage-collected)" in text
    assert f"s:     {', '.join(short(v) for v in s)}" in text
    page = svd._repr_html_()
    # each kept value's share of all of X's s² (numpy's), as PCA's variance ratio
    full = np.linalg.svd(x, compute_uv=False)
    share = full[:3] ** 2 / np.sum(full**2)
    assert share.sum() < 0.999
    for v, e in zip(s, share, strict=True):
        assert f"<td>{short(v)}</td><td>{e:.4f}</td>" in page


# -- IncrementalPCA ---------------------------------------------------------------------------
def test_unfitted_pca_keeps_sklearn_repr():
    est = ooc.IncrementalPCA(n_components=5)
    assert repr(est) == "IncrementalPCA(n_components=5)"
    page = est._repr_html_()
    assert "IncrementalPCA" in page and "not fitted" not in page.split("ooc-repr")[0]
    assert "no (call fit or partial_fit)" in page
    long = ooc.IncrementalPCA(3, whiten=True, batch_size=100, svd_solver="randomized")
    # scikit-learn's layout, wrapped at 80 columns
    assert repr(long) == (
        "IncrementalPCA(batch_size=100, n_components=3, svd_solver='randomized',\n"
        "               whiten=True)"
    )


@pytest.mark.parametrize(("solver", "shown"), [("auto", "full"), ("covariance_eigh", None)])
def test_fitted_pca_shows_its_state(solver, shown):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    est = ooc.IncrementalPCA(3, svd_solver=solver).fit(x)
    lines = repr(est).splitlines()
    assert lines[0] == BaseEstimator.__repr__(est)
    ratio = est.explained_variance_ratio_
    want = {
        "solver": shown or solver,
        "n_samples_seen_": "300",
        "n_features_in_": "6",
        "n_components_": "3",
        "explained_variance_ratio_": ", ".join(f"{r:.4f}" for r in ratio)
        + f" (sum {ratio.sum():.4f})",
        "noise_variance_": short(est.noise_variance_),
    }
    got = dict(re.match(r"\s+(\S+):\s+(.*)$", line).groups() for line in lines[1:])
    assert got == want
    bundle = est._repr_mimebundle_()
    assert bundle["text/plain"] == repr(est)
    page = bundle["text/html"]
    ours = page[page.index("<div class='ooc-repr'>") :]
    assert est._repr_html_().endswith(ours)  # the same (sklearn numbers its containers)
    assert "sk-estimator" in page  # scikit-learn's diagram first
    for k, v in want.items():
        assert f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" in page
    cumulative = np.cumsum(ratio)
    assert f"<td>{ratio[2]:.4f}</td><td>{cumulative[2]:.4f}</td>" in page


def test_pca_in_a_pipeline_keeps_sklearn_repr():
    df = make_frame(100)[["b", "c", "d"]]
    pipe = make_pipeline(StandardScaler(), ooc.IncrementalPCA(2)).fit(df)
    assert repr(pipe) == (
        "Pipeline(steps=[('standardscaler', StandardScaler()),\n"
        "                ('incrementalpca', IncrementalPCA(n_components=2))])"
    )
    assert "n_samples_seen_" not in repr(pipe)


def test_accessor_pca_on_labeled_input():
    df = make_frame(150)
    pca = df.ooc.pca(2, columns=["b", "c", "d"])
    ratio = np.asarray(pca.explained_variance_ratio_)
    text = repr(pca)
    assert f"explained_variance_ratio_: {ratio[0]:.4f}, {ratio[1]:.4f}" in text
    assert "n_samples_seen_:           150" in text
    assert math.isclose(float(text.split("(sum ")[1].split(")")[0]), ratio.sum(), abs_tol=1e-4)


def test_many_components_show_the_first():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 12)) * np.arange(1, 13)
    est = ooc.IncrementalPCA(10).fit(x)
    ratio = est.explained_variance_ratio_
    shown = ", ".join(f"{r:.4f}" for r in ratio[:6])
    assert f"explained_variance_ratio_: {shown}, ... (10 in all) (sum {ratio.sum():.4f})" in (
        repr(est)
    )
    page = est._repr_html_()
    assert f"<th>9</th><td>{ratio[9]:.4f}</td><td>{ratio.sum():.4f}</td>" in page
    svd = pd.DataFrame(x, columns=[f"c{i}" for i in range(12)]).ooc.svd(
        "0 + " + " + ".join(f"c{i}" for i in range(12))
    )
    s = np.asarray(svd.s)
    assert f"s:     {', '.join(short(v) for v in s[:6])}, ... (12 in all)" in repr(svd)
    assert f"<th>11</th><td>{short(s[11])}</td>" in svd._repr_html_()


def test_pca_weights_print_on_one_line():
    """A labelled ``weights=`` shows as ``<DataArray 'lat' (lat: 3)>``, not its own repr."""
    rng = np.random.default_rng(3)
    da = xr.DataArray(
        rng.normal(size=(40, 3, 4)), dims=("time", "lat", "lon"), coords={"lat": [0, 30, 60]}
    )
    w = np.sqrt(np.cos(np.deg2rad(da.lat)))
    pca = da.ooc.pca(2, dim="time", weights=w)
    first = repr(pca).splitlines()[0]
    assert first == "IncrementalPCA(n_components=2, weights=<DataArray 'lat' (lat: 3)>)"
    assert pca.weights is w  # the estimator's own parameter is untouched
    series = ooc.IncrementalPCA(2, weights=pd.Series([1.0, 2.0], index=["a", "b"]))
    assert repr(series) == "IncrementalPCA(n_components=2, weights=<Series (2)>)"
