"""Plots (``fit.plot``, ``pca.plot``): what is drawn equals the fit's own numbers.

Each plot is rendered with the Agg backend to a PNG and checked by what its Axes hold:
tick labels, interval ends, scatter offsets, bar heights, mesh values, against statsmodels,
numpy and the fitted attributes on the same data; the residual plot reads only the blocks
holding its sampled rows.
"""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
import xarray as xr
from matplotlib.collections import LineCollection, QuadMesh

import ooc_accessor as ooc
from ooc_accessor import lazy
from ooc_accessor.plot import FitPlot, PCAPlot

matplotlib.use("Agg")  # files, never a window
N = 600


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(3, 2, size=n),
            "g": rng.choice(["lo", "mid", "hi"], size=n),
        }
    )
    df["y"] = 1 + 2 * df.a - 0.5 * df.b + df.g.map({"lo": 0, "mid": 1, "hi": -1})
    df["y"] += rng.normal(size=n)
    df["k"] = rng.poisson(np.exp(0.3 + 0.4 * df.a))
    df.loc[[5, 40], "a"] = np.nan  # dropped rows: the sample is over the fitted rows
    df.index = pd.Index(np.arange(n) * 3 + 100, name="row")
    return df


def saved(ax, tmp_path, name: str) -> None:
    """The figure renders to a PNG that is not blank."""
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=60)
    assert path.stat().st_size > 3000
    img = plt.imread(path)
    assert img[..., :3].std() > 0.05


def sampled(total: int, n: int, seed: int = 0) -> np.ndarray:
    """The rows the plot documents drawing: uniform, without replacement, sorted."""
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


# -- coefficients ---------------------------------------------------------------------------
def test_coef_draws_conf_int_under_the_fits_covariance(tmp_path):
    df = frame()
    fit = df.ooc.lstsq("y ~ a + b + C(g)", cov_type="HC3", chunksize=97)
    ax = fit.plot.coef(alpha=0.1)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["C(g)[T.lo]", "C(g)[T.mid]", "a", "b"]  # no intercept by default
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    ends = np.array([[s[0][0], s[1][0]] for s in lines.get_segments()])
    ci = fit.conf_int(0.1).loc[names].to_numpy()
    np.testing.assert_allclose(ends, ci, rtol=1e-12, atol=0)
    ref = smf.ols("y ~ a + b + C(g)", df).fit(cov_type="HC3").conf_int(0.1).loc[names]
    np.testing.assert_allclose(ends, ref.to_numpy(), rtol=1e-9)
    points = ax.lines[0].get_xdata()
    np.testing.assert_allclose(points, fit.params[names].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), np.arange(4))
    assert ax.lines[1].get_xdata()[0] == 0  # the line at 0
    assert ax.get_xlabel() == "coefficient (90% interval, HC3 covariance)"
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # the first coefficient on top
    saved(ax, tmp_path, "coef")

    ax = fit.plot.coef(intercept=True)
    assert ax.get_yticklabels()[0].get_text() == "Intercept"
    _, own = plt.subplots()
    ax = fit.plot.coef(ax=own, names=["b", "a"])
    assert ax is own
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "a"]
    seg = ax.collections[0].get_segments()
    np.testing.assert_allclose(seg[0][:, 0], fit.conf_int().loc["b"].to_numpy(), rtol=1e-12)


def test_coef_of_a_glm_on_a_dataset():
    df = frame()
    ds = xr.Dataset.from_dataframe(df.dropna()).chunk(row=150)
    glm = ds.ooc.glm("k ~ a + b", family="poisson", dim="row")
    ax = glm.plot.coef(intercept=True)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert names == ["Intercept", "a", "b"]
    ends = np.array([[s[0][0], s[1][0]] for s in ax.collections[0].get_segments()])
    np.testing.assert_allclose(ends, glm.conf_int().values, rtol=1e-12)
    ref = smf.glm("k ~ a + b", df.dropna(), family=sm.families.Poisson()).fit()
    np.testing.assert_allclose(ends, ref.conf_int().to_numpy(), rtol=1e-7)
    assert ax.get_title() == "GLM coefficients of k"


# -- residuals --------------------------------------------------------------------------------
def test_resid_sample_equals_numpy_at_the_sampled_rows(tmp_path):
    df = frame()
    fit = df.ooc.lstsq("y ~ a + b + C(g)", path=tmp_path / "d.nc", chunksize=50)
    ref = smf.ols("y ~ a + b + C(g)", df).fit()
    total = N - 2
    ax = fit.plot.resid(n=120, random_state=7)
    xy = ax.collections[0].get_offsets()
    rows = sampled(total, 120, 7)
    assert xy.shape == (120, 2)
    np.testing.assert_allclose(xy[:, 0], ref.fittedvalues.to_numpy()[rows], rtol=1e-9)
    np.testing.assert_allclose(xy[:, 1], ref.resid.to_numpy()[rows], rtol=1e-7, atol=1e-12)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("fitted values", "residuals")
    assert ax.get_title() == f"residuals of y: 120 of {total} rows (a uniform sample)"
    assert ax.lines[0].get_ydata()[0] == 0
    saved(ax, tmp_path, "resid")

    # the same seed, the same rows; another seed, others; n past the rows: all of them
    again = fit.plot.resid(n=120, random_state=7).collections[0].get_offsets()
    np.testing.assert_array_equal(again, xy)
    other = fit.plot.resid(n=120, random_state=8).collections[0].get_offsets()
    assert not np.array_equal(other, xy)
    ax = fit.plot.resid(n=10_000, kind="pearson")
    xy = ax.collections[0].get_offsets()
    assert xy.shape == (total, 2)
    np.testing.assert_allclose(xy[:, 1], ref.resid_pearson, rtol=1e-7, atol=1e-12)
    assert ax.get_title() == f"residuals of y: {total} of {total} rows (all)"
    assert ax.get_ylabel() == "pearson residuals"


def test_resid_of_a_streamed_and_updated_fit():
    # no path: the design is written when its rows are first needed; update() adds a store
    df, more = frame(), frame(250, seed=1)
    fit = df.ooc.lstsq("y ~ a + b", chunksize=64).update(more)
    both = pd.concat([df, more])
    ref = smf.ols("y ~ a + b", both).fit()
    total = len(ref.resid)
    ax = fit.plot.resid(n=300)
    rows = sampled(total, 300)
    assert rows.max() >= N - 2  # rows of both stores are drawn
    xy = ax.collections[0].get_offsets()
    np.testing.assert_allclose(xy[:, 0], ref.fittedvalues.to_numpy()[rows], rtol=1e-9)
    np.testing.assert_allclose(xy[:, 1], ref.resid.to_numpy()[rows], rtol=1e-7, atol=1e-12)
    assert ax.get_title() == f"residuals of y: 300 of {total} rows (a uniform sample)"


@pytest.fixture(scope="module")
def poisson():
    """A Poisson GLM of a chunked Dataset, and statsmodels' on the same rows."""
    df = frame().dropna()
    ds = xr.Dataset.from_dataframe(df).chunk(row=64)
    glm = ds.ooc.glm("k ~ a + C(g)", family="poisson", dim="row")
    return glm, smf.glm("k ~ a + C(g)", df, family=sm.families.Poisson()).fit()


@pytest.mark.parametrize("kind", ["response", "pearson", "deviance"])
def test_glm_resid_kinds_equal_statsmodels(kind, poisson):
    glm, ref = poisson
    ax = glm.plot.resid(n=200, kind=kind, random_state=1)
    xy = ax.collections[0].get_offsets()
    rows = sampled(N - 2, 200, 1)
    want = getattr(ref, f"resid_{kind}").to_numpy()[rows]
    np.testing.assert_allclose(xy[:, 0], ref.fittedvalues.to_numpy()[rows], rtol=1e-8)
    np.testing.assert_allclose(xy[:, 1], want, rtol=1e-7, atol=1e-10)


def test_resid_reads_only_the_blocks_holding_sampled_rows(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    n, rows_per_block = 20_000, 200
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["y"] = df.a - df.b + rng.normal(size=n)
    fit = df.ooc.lstsq("y ~ a + b", path=tmp_path / "d.nc", chunksize=rows_per_block)
    reads: list[tuple[str, slice]] = []
    real = lazy.StoreArray.read

    def counted(self, f, key):  # the real read, recorded
        reads.append((self.name, key[0]))
        return real(self, f, key)

    monkeypatch.setattr(lazy.StoreArray, "read", counted)
    ax = fit.plot.resid(n=6, random_state=2)
    blocks = set(sampled(n, 6, 2) // rows_per_block)
    read = {(name, k.start // rows_per_block) for name, k in reads}
    # X and y, once each, of the sampled rows' blocks only: 12 of the 200 reads a pass takes
    assert read == {(v, b) for v in ("X", "y") for b in blocks}
    assert len(reads) == len(read)
    assert all(k.stop - k.start == rows_per_block for _, k in reads)
    np.testing.assert_allclose(
        ax.collections[0].get_offsets()[:, 1],
        fit.resid.values[sampled(n, 6, 2)],
        rtol=1e-12,
    )


# -- PCA ---------------------------------------------------------------------------------------
def test_scree_bars_are_the_explained_variance_ratios(tmp_path):
    df = frame()[["a", "b", "y"]].dropna()
    pca = df.ooc.pca(n_components=3)
    ax = pca.plot.scree()
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, pca.explained_variance_ratio_.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), np.cumsum(pca.explained_variance_ratio_), rtol=1e-12
    )
    ref = np.linalg.svd(df.to_numpy() - df.to_numpy().mean(0), compute_uv=False) ** 2
    np.testing.assert_allclose(heights, ref / ref.sum(), rtol=1e-10)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("component", "explained variance ratio")
    saved(ax, tmp_path, "scree")
    ax = pca.plot.scree(cumulative=False)
    assert len(ax.patches) == 3 and not ax.lines


def test_components_of_columns_are_named_bars(tmp_path):
    df = frame()[["a", "b", "y"]].dropna()
    pca = df.ooc.pca(n_components=3)
    axs = pca.plot.components(n=2, color="C3")
    assert axs.shape == (2,)
    for i, ax in enumerate(axs):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "y"]
        heights = [p.get_height() for p in ax.patches]
        np.testing.assert_allclose(heights, pca.components_.iloc[i].to_numpy(), rtol=1e-12)
        ratio = pca.explained_variance_ratio_.iloc[i]
        assert ax.get_title() == f"component {i} ({ratio:.1%})"
    saved(axs[0], tmp_path, "bars")
    # a plain scikit-learn fit: ndarray attributes, names from feature_names_in_
    plain = ooc.IncrementalPCA(n_components=2).fit(df)
    axs = plain.plot.components()
    assert [t.get_text() for t in axs[1].get_xticklabels()] == ["a", "b", "y"]
    np.testing.assert_allclose(
        [p.get_height() for p in axs[1].patches], plain.components_[1], rtol=1e-12
    )


def field(n: int = 80, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    lat, lon = np.linspace(-40, 40, 5), np.arange(0.0, 360, 45)
    sst = rng.normal(size=(n, 5, 8)) * np.cos(np.deg2rad(lat))[:, None]
    sst[:, 1, 2] = np.nan  # land: missing at every sample
    t2m = rng.normal(size=(n, 5, 8))
    return xr.Dataset(
        {"sst": (("time", "lat", "lon"), sst), "t2m": (("time", "lat", "lon"), t2m)},
        coords={"time": np.arange(n), "lat": lat, "lon": lon},
    )


def test_components_of_a_field_are_maps_on_one_symmetric_scale(tmp_path):
    ds = field().chunk(time=16)  # chunked: the PCA reads blocks
    pca = ds.ooc.pca(n_components=4, dim="time", variables=["sst"])
    axs = pca.plot.components(n=3)
    assert axs.shape == (3,)
    comps = pca.components_
    meshes = [next(c for c in ax.collections if isinstance(c, QuadMesh)) for ax in axs]
    top = float(np.nanmax(np.abs(comps.values[:3])))
    for i, (ax, mesh) in enumerate(zip(axs, meshes, strict=True)):
        shown = np.ma.filled(mesh.get_array().astype(np.float64), np.nan)
        np.testing.assert_array_equal(shown, comps.isel(component=i).values)
        assert np.ma.getmaskarray(mesh.get_array())[1, 2]  # land left blank
        assert mesh.get_clim() == (-top, top)
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("lon", "lat")
        assert ax.get_title() == f"component {i} ({float(pca.explained_variance_ratio_[i]):.1%})"
    # the cell edges lie around the coordinates: centred on lon 0 and lat -40
    x, y = meshes[0].get_coordinates()[0, 0]
    assert (x, y) == (-22.5, -50.0)
    fig = axs[0].figure
    assert len(fig.axes) == 4  # three maps and one colorbar
    saved(axs[0], tmp_path, "maps")

    # two variables: one column each; the scale is shared by both
    both = field().chunk(time=20).ooc.pca(n_components=2, dim="time")
    grid = both.plot.components(cmap="viridis")
    assert grid.shape == (2, 2)
    assert grid[1, 1].get_title().startswith("t2m: component 1")
    comps = both.components_
    top = max(float(np.nanmax(np.abs(comps[v].values))) for v in ("sst", "t2m"))
    cells = [(0, "sst"), (0, "t2m"), (1, "sst"), (1, "t2m")]
    for ax, (i, v) in zip(grid.ravel(), cells, strict=True):
        mesh = ax.collections[0]
        assert mesh.get_clim() == (-top, top) and mesh.get_cmap().name == "viridis"
        shown = np.ma.filled(mesh.get_array().astype(np.float64), np.nan)
        np.testing.assert_array_equal(shown, comps[v].isel(component=i).values)


def test_a_curvilinear_field_is_mapped_on_its_2d_longitudes_and_latitudes():
    rng = np.random.default_rng(4)
    y, x = np.arange(4)[:, None], np.arange(5)[None, :]
    lon, lat = 10 + 2.0 * x + 0.5 * y, 40 + 1.5 * y + 0.2 * x
    da = xr.DataArray(
        rng.normal(size=(50, 4, 5)),
        dims=("time", "y", "x"),
        coords={"nav_lon": (("y", "x"), lon), "nav_lat": (("y", "x"), lat)},
        name="t",
    )
    da.nav_lon.attrs["units"] = "degrees_east"
    da.nav_lat.attrs["standard_name"] = "latitude"
    pca = da.chunk(time=10).ooc.pca(n_components=2, dim="time")
    ax = pca.plot.components()[1]
    mesh = ax.collections[0]
    np.testing.assert_array_equal(mesh.get_array(), pca.components_[1].values)
    corners = mesh.get_coordinates()  # cell edges: midway between the centres
    np.testing.assert_allclose(corners[1:-1, 1:-1, 0], (lon[:-1, :-1] + lon[1:, 1:]) / 2)
    np.testing.assert_allclose(corners[1:-1, 1:-1, 1], (lat[:-1, :-1] + lat[1:, 1:]) / 2)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("nav_lon", "nav_lat")


def test_a_single_feature_dim_gives_bars_by_coordinate():
    rng = np.random.default_rng(1)
    da = xr.DataArray(
        rng.normal(size=(60, 4)),
        dims=("sample", "station"),
        coords={"station": ["oslo", "bergen", "tromso", "bodo"]},
    ).chunk(sample=20)
    pca = da.ooc.pca(n_components=2, dim="sample")
    axs = pca.plot.components()
    labels = [t.get_text() for t in axs[0].get_xticklabels()]
    assert labels == ["oslo", "bergen", "tromso", "bodo"]
    np.testing.assert_allclose(
        [p.get_height() for p in axs[1].patches], pca.components_[1].values, rtol=1e-12
    )
    assert axs[0].get_xlabel() == "station"


def test_names_with_dollar_signs_are_shown_verbatim(tmp_path):
    # two "$" would start matplotlib's mathtext: the names are escaped, drawn as written
    df = frame().rename(columns={"a": "cost $ in $", "y": "$y$"})
    fit = df.ooc.lstsq('Q("$y$") ~ Q("cost $ in $") + b')
    ax = fit.plot.coef()
    assert ax.get_yticklabels()[0].get_text() == r'Q("cost \$ in \$")'
    assert ax.get_title() == r'OLS coefficients of Q("\$y\$")'
    saved(ax, tmp_path, "dollars")
    pca = df[["cost $ in $", "b"]].dropna().ooc.pca(n_components=1)
    ax = pca.plot.components()[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [r"cost \$ in \$", "b"]
    saved(ax, tmp_path, "dollar_bars")


def test_maps_and_bars_side_by_side_for_mixed_variables():
    rng = np.random.default_rng(2)
    ds = field(60).assign(
        nino=("time", rng.normal(size=60)),
        st=(("time", "station"), rng.normal(size=(60, 3))),
    )
    ds = ds.assign_coords(station=["a", "b", "c"])
    pca = ds.ooc.pca(n_components=2, dim="time", variables=["sst", "nino", "st"])
    grid = pca.plot.components(cmap="PuOr")  # for the maps; the bars take no cmap
    assert grid.shape == (2, 3)
    comps = pca.components_
    assert grid[0, 0].collections[0].get_cmap().name == "PuOr"
    assert [t.get_text() for t in grid[1, 1].get_xticklabels()] == ["nino"]
    assert grid[1, 1].patches[0].get_height() == float(comps["nino"][1])
    assert [t.get_text() for t in grid[0, 2].get_xticklabels()] == ["a", "b", "c"]
    np.testing.assert_array_equal([p.get_height() for p in grid[0, 2].patches], comps["st"][0])


# -- misuse ------------------------------------------------------------------------------------
def test_misuse_is_named():
    df = frame()
    fit = df.ooc.lstsq("y ~ a + b")
    with pytest.raises(ooc.ArgumentError, match=r"names=\['c'\].*\['Intercept', 'a', 'b'\]"):
        fit.plot.coef(names=["a", "c"])
    with pytest.raises(ooc.ArgumentError, match="alpha"):
        fit.plot.coef(alpha=1.5)
    with pytest.raises(ooc.ArgumentError, match="'deviance' is for GLM fits"):
        fit.plot.resid(kind="deviance")
    with pytest.raises(ooc.ArgumentError, match="kind='working'"):
        fit.plot.resid(kind="working")
    with pytest.raises(ooc.ArgumentError, match=r"kind=\['pearson'\]"):
        fit.plot.resid(kind=["pearson"])
    with pytest.raises(ooc.ArgumentError, match="random_state='seed' cannot seed"):
        fit.plot.resid(random_state="seed")
    with pytest.raises(ooc.ArgumentError, match="n=0"):
        fit.plot.resid(n=0)
    with pytest.raises(ooc.ArgumentTypeError, match="n must be a positive int"):
        fit.plot.resid(n=2.5)
    with pytest.raises(ooc.ArgumentTypeError, match="ax must be a matplotlib Axes"):
        fit.plot.coef(ax="left")
    with pytest.raises(ooc.ArgumentError, match="intercept=True"):
        df.ooc.lstsq("y ~ 1").plot.coef()

    pca = ooc.IncrementalPCA(n_components=2)
    for draw in (pca.plot.scree, pca.plot.components):
        with pytest.raises(ooc.NotFittedError, match="not fitted yet"):
            draw()
    pca.fit(df[["a", "b", "y"]].dropna())
    with pytest.raises(ooc.ArgumentError, match="n=3 must be at least 1 and at most 2"):
        pca.plot.components(n=3)
    _, one = plt.subplots()
    with pytest.raises(ooc.ArgumentError, match="ax must hold 2 matplotlib Axes"):
        pca.plot.components(ax=one)
    assert pca.plot.components(n=1, ax=one)[0] is one

    cube = xr.DataArray(
        np.random.default_rng(0).normal(size=(30, 2, 3, 2)), dims=("t", "z", "y", "x")
    )
    with pytest.raises(ooc.ArgumentError, match=r"3 feature dims \['z', 'y', 'x'\]"):
        cube.ooc.pca(n_components=2, dim="t").plot.components()


def test_plot_is_no_estimator_parameter_and_the_class_attribute_is_documented():
    pca = ooc.IncrementalPCA(n_components=2)
    assert "plot" not in pca.get_params() and "plot" not in vars(pca)
    assert ooc.IncrementalPCA.plot is PCAPlot
    assert ooc.LstsqResult.plot is FitPlot and ooc.GLMResults.plot is FitPlot


def test_without_matplotlib_a_plot_says_what_to_install(monkeypatch):
    fit = frame().ooc.lstsq("y ~ a")
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.axes"):
        monkeypatch.setitem(sys.modules, name, None)  # import now fails, as uninstalled
    with pytest.raises(ooc.PlotError, match=r"pip install ooc_accessor\[plot\]") as err:
        fit.plot.coef()
    assert isinstance(err.value, ImportError) and isinstance(err.value, ooc.OOCError)


def test_importing_the_library_does_not_import_matplotlib():
    code = "import sys, ooc_accessor; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
