"""Class 1 of Step 6: features are matched by name, never by position alone.

Wherever the input carries feature names (DataFrame columns, a Dataset's variables, a
DataArray's feature coordinate, a field's stacked lat/lon coordinates, a design's terms),
``fit``/``partial_fit``/``transform``/``inverse_transform`` and the accessor route check them
as scikit-learn does: the same names in the same order give the right answer (checked
against scikit-learn's PCA), anything else an ``ooc.ArgumentError`` (also a ``ValueError``)
naming what is unseen, missing or out of place. Never a silently wrong score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.decomposition import PCA

import ooc_accessor as ooc

NAMES_DIFFER = "The feature names should match those that were passed during fit"


def _frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)) @ rng.normal(size=(5, 5)) + [1, -2, 3, 0, 5]
    return pd.DataFrame(x, columns=["a", "b", "c", "d", "e"], index=np.arange(n) * 3 + 7)


def _fits(df: pd.DataFrame) -> list[ooc.IncrementalPCA]:
    """The same PCA reached by every route: plain fit, partial_fit, accessor, each solver."""
    inc = ooc.IncrementalPCA(3)
    for a in range(0, len(df), 17):  # odd blocks
        inc.partial_fit(df.iloc[a : a + 17])
    return [
        ooc.IncrementalPCA(3).fit(df),
        ooc.IncrementalPCA(3, svd_solver="covariance_eigh", batch_size=1).fit(df),
        ooc.IncrementalPCA(3, svd_solver="randomized", random_state=0).fit(df),
        inc,
        df.ooc.pca(3),
    ]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return _frame()


@pytest.fixture(scope="module")
def fits(df) -> list[ooc.IncrementalPCA]:
    return _fits(df)


# -- DataFrames -------------------------------------------------------------------------------


def test_same_names_give_scikit_learns_scores(df, fits):
    ref = PCA(3, svd_solver="full").fit(df.to_numpy())
    want = ref.transform(df.to_numpy())
    for est in fits:
        got = np.asarray(est.transform(df))
        signs = np.sign(np.sum(got * want, axis=0))  # sklearn's own sign rule may differ
        np.testing.assert_allclose(got * signs, want, rtol=1e-8, atol=1e-8)
        assert list(est.feature_names_in_) == list("abcde")


@pytest.mark.parametrize(
    ("columns", "listing"),
    [
        # reordered: the example (df[df.columns[::-1]])
        (
            ["e", "d", "c", "b", "a"],
            r"must be in the same order as they were in fit.\nOut "
            r"of place: 'e' \(at 4 in fit, at 0 now\)",
        ),
        # two columns swapped, the rest in place
        (["a", "c", "b", "d", "e"], r"Out of place: 'c' \(at 2 in fit, at 1 now\), 'b'"),
        # missing
        (["a", "b", "c", "d"], r"Feature names seen at fit time, yet now missing:\n- e\n"),
        # extra
        (["a", "b", "c", "d", "e", "f"], r"Feature names unseen at fit time:\n- f\n"),
        # renamed (same count: by position it would have "worked")
        (["a", "b", "C", "d", "e"], r"unseen at fit time:\n- C\n.*now missing:\n- c\n"),
    ],
    ids=["reversed", "swapped", "missing", "extra", "renamed"],
)
def test_dataframe_names_that_differ_raise(df, fits, columns, listing):
    bad = df.assign(f=df["a"] * 2, C=df["c"])[columns]
    for est in fits:
        with pytest.raises(ooc.ArgumentError, match=NAMES_DIFFER) as info:
            est.transform(bad)
        assert isinstance(info.value, ValueError)
        assert info.match(f"(?s){listing}")
        assert "X[est.feature_names_in_]" in str(info.value)  # says what to do


def test_selecting_the_fitted_columns_is_the_fix(df, fits):
    est = fits[0]
    shuffled = df[["e", "c", "a", "d", "b"]].assign(z=1.0)
    np.testing.assert_allclose(
        est.transform(shuffled[est.feature_names_in_]), est.transform(df), rtol=1e-12
    )


def test_partial_fit_with_other_names_raises_and_keeps_the_fit(df):
    est = ooc.IncrementalPCA(2).partial_fit(df.iloc[:30])
    before = est.components_.copy()
    with pytest.raises(ooc.ArgumentError, match=r"(?s)same order.*'b' \(at 1 in fit"):
        est.partial_fit(df.iloc[30:][["a", "c", "b", "d", "e"]])
    with pytest.raises(ooc.ArgumentError, match=r"unseen at fit time:\n- x\n"):
        est.partial_fit(df.iloc[30:].rename(columns={"e": "x"}))
    assert est.n_samples_seen_ == 30  # nothing of the refused blocks was folded in
    np.testing.assert_array_equal(est.components_, before)
    est.partial_fit(df.iloc[30:])
    np.testing.assert_allclose(
        np.abs(est.components_), np.abs(ooc.IncrementalPCA(2).fit(df).components_), atol=1e-10
    )


def test_accessor_columns_are_the_names_checked(df):
    est = df.ooc.pca(2, columns=["c", "a", "e"])
    assert list(est.feature_names_in_) == ["c", "a", "e"]
    ref = PCA(2, svd_solver="full").fit(df[["c", "a", "e"]].to_numpy())
    got = est.transform(df[["c", "a", "e"]])
    assert isinstance(got, pd.DataFrame) and got.index.equals(df.index)  # labeled route
    np.testing.assert_allclose(
        np.abs(got.to_numpy()), np.abs(ref.transform(df[["c", "a", "e"]].to_numpy())), 1e-8
    )
    for bad in (df[["a", "c", "e"]], df, df[["c", "a"]]):
        with pytest.raises(ooc.ArgumentError, match=NAMES_DIFFER):
            est.transform(bad)


def test_nan_in_unseen_columns_is_a_names_error_not_a_nan_error(df):
    # scikit-learn's own check: a frame reindexed to other names holds only NaN; the names
    # are the fault to report, before any value is read
    est = ooc.IncrementalPCA(2).fit(df)
    bad = pd.DataFrame(df, columns=[f"z{i}" for i in range(5)])
    with pytest.raises(ooc.ArgumentError, match=r"unseen at fit time:\n- z0\n- z1\n"):
        est.transform(bad)


def test_integer_column_names_are_checked_too(df):
    # scikit-learn only records string names; positions under other labels are still a
    # different feature order, so the library checks any column labels
    numbered = df.set_axis(range(5), axis=1)
    est = ooc.IncrementalPCA(2).fit(numbered)
    assert not hasattr(est, "feature_names_in_")  # as scikit-learn
    with pytest.raises(ooc.ArgumentError, match=r"(?s)same order.*Out of place: 4"):
        est.transform(numbered[[4, 3, 2, 1, 0]])


def test_names_on_one_side_only_warn_as_scikit_learn(df):
    x = df.to_numpy()
    plain = ooc.IncrementalPCA(2).fit(x)
    with pytest.warns(
        UserWarning, match="X has feature names, but IncrementalPCA was fitted"
    ) as record:
        got = plain.transform(df)
    assert record[0].filename == __file__  # points at the caller's line, not the library's
    np.testing.assert_allclose(got, plain.transform(x), rtol=1e-12)
    named = ooc.IncrementalPCA(2).fit(df)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but"):
        got = named.transform(x)
    np.testing.assert_allclose(got, named.transform(df), rtol=1e-12)
    # scikit-learn's estimator behaves alike
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        PCA(2).fit(df).transform(x)


def test_wrong_count_without_names(df):
    est = ooc.IncrementalPCA(2).fit(df.to_numpy())
    with pytest.raises(ooc.ArgumentError, match="X has 4 features, but IncrementalPCA is "):
        est.transform(df.to_numpy()[:, :4])
    with pytest.raises(ooc.ArgumentError, match="X has 6 features, but IncrementalPCA is "):
        est.partial_fit(np.c_[df.to_numpy(), df.to_numpy()[:, 0]])


# -- inverse_transform: component names -----------------------------------------------------


def test_inverse_transform_checks_component_names(df):
    est = ooc.IncrementalPCA(3).fit(df).set_output(transform="pandas")
    scores = est.transform(df)
    assert list(scores.columns) == ["incrementalpca0", "incrementalpca1", "incrementalpca2"]
    back = est.inverse_transform(scores)
    np.testing.assert_allclose(back, est.inverse_transform(scores.to_numpy()), rtol=1e-12)
    with pytest.raises(ooc.ArgumentError, match=r"components are labeled \['incrementalpca2'"):
        est.inverse_transform(scores[scores.columns[::-1]])
    labeled = df.ooc.pca(3)
    lscores = labeled.transform(df)
    np.testing.assert_allclose(labeled.inverse_transform(lscores).to_numpy(), back, rtol=1e-10)
    with pytest.raises(ooc.ArgumentError, match=r"components are labeled \[2, 1, 0\]"):
        labeled.inverse_transform(lscores[[2, 1, 0]])


# -- xarray: Dataset variables, DataArray feature coordinate, field coordinates ----------------


def _table(n: int = 50, seed: int = 1) -> xr.Dataset:
    df = _frame(n, seed)
    return xr.Dataset({c: ("time", df[c].to_numpy()) for c in df.columns})


def test_dataset_variables_are_picked_by_name():
    ds = _table()
    est = ds.ooc.pca(2, dim="time")
    assert list(est.feature_names_in_) == list("abcde")
    reordered = ds[["e", "c", "a", "d", "b"]]  # a Dataset is a mapping: names, not positions
    np.testing.assert_allclose(
        est.transform(reordered).values, est.transform(ds).values, rtol=1e-12
    )
    plain = ooc.IncrementalPCA(2).fit(ds, dim="time")
    np.testing.assert_allclose(
        plain.transform(reordered), np.asarray(est.transform(ds)), rtol=1e-10
    )
    plain.partial_fit(reordered)  # folds the same variables, by name
    assert plain.n_samples_seen_ == 2 * ds.sizes["time"]
    for bad in (ds.drop_vars("c"), ds.rename({"c": "C"})):
        with pytest.raises(ooc.ArgumentError, match=r"now missing:\n- c\n"):
            est.transform(bad)
        with pytest.raises(ooc.ArgumentError, match=r"now missing:\n- c\n"):
            plain.partial_fit(bad)


def _stations(seed: int = 2) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    return xr.DataArray(
        rng.normal(size=(40, 4)) @ rng.normal(size=(4, 4)),
        dims=("time", "station"),
        coords={"station": ["s0", "s1", "s2", "s3"]},
    )


@pytest.mark.parametrize("route", ["accessor", "plain"])
def test_dataarray_feature_coordinate_permuted_or_relabeled(route):
    da = _stations()
    est = (
        da.ooc.pca(2, dim="time")
        if route == "accessor"
        else ooc.IncrementalPCA(2).fit(da, dim="time")
    )
    assert list(est.feature_names_in_) == ["s0", "s1", "s2", "s3"]
    ref = PCA(2, svd_solver="full").fit(da.values)
    np.testing.assert_allclose(
        np.abs(np.asarray(est.transform(da, dim="time"))),
        np.abs(ref.transform(da.values)),
        rtol=1e-8,
    )
    permuted = da.isel(station=[1, 0, 2, 3])
    relabeled = da.assign_coords(station=["s0", "s1", "s2", "x3"])
    with pytest.raises(ooc.ArgumentError, match=r"(?s)coordinate 'station'.*same order"):
        est.transform(permuted, dim="time")
    with pytest.raises(ooc.ArgumentError, match=r"unseen at fit time:\n- x3\n"):
        est.transform(relabeled, dim="time")
    if route == "plain":
        with pytest.raises(ooc.ArgumentError, match=r"same order"):
            est.partial_fit(permuted, dim="time")
    # the fix the message gives: select the fitted labels
    np.testing.assert_allclose(
        np.asarray(est.transform(permuted.sel(station=est.feature_names_in_), dim="time")),
        np.asarray(est.transform(da, dim="time")),
        rtol=1e-12,
    )


def _grid(seed: int = 3) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    return xr.DataArray(
        rng.normal(size=(36, 3, 4)),
        dims=("time", "lat", "lon"),
        coords={"lat": [-10.0, 0.0, 10.0], "lon": [0.0, 90.0, 180.0, 270.0]},
        name="sst",
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        # the grid shifted by half a cell: same shape, other places
        (lambda g: g.assign_coords(lon=g.lon + 45.0), r"coordinate 'lon'.*unseen at fit"),
        (lambda g: g.assign_coords(lat=g.lat[::-1].values), r"coordinate 'lat'.*same order"),
        (lambda g: g.roll(lon=1, roll_coords=True), r"coordinate 'lon'.*same order"),
    ],
    ids=["lon-shifted", "lat-relabeled", "lon-rolled"],
)
def test_field_coordinates_shifted(change, match):
    grid = _grid()
    est = grid.ooc.pca(2, dim="time")
    plain = ooc.IncrementalPCA(2).fit(grid, dim="time")
    bad = change(grid)
    for fitted in (est, plain):
        with pytest.raises(ooc.ArgumentError, match=f"(?s){match}"):
            fitted.transform(bad, dim="time")
    with pytest.raises(ooc.ArgumentError, match=f"(?s){match}"):
        plain.partial_fit(bad, dim="time")
    # dims in another order are the same features (matched by dim name)
    np.testing.assert_allclose(
        est.transform(grid.transpose("lon", "time", "lat"), dim="time").values,
        est.transform(grid, dim="time").values,
        rtol=1e-12,
    )


def test_field_coordinate_on_one_side_is_refused():
    # Step 9: a coordinate on one side only would take the features by position: refused
    grid = _grid()
    est = ooc.IncrementalPCA(2).fit(grid, dim="time")
    with pytest.raises(ooc.ArgumentError, match=r"no coordinate 'lon'.*assign"):
        est.transform(grid.drop_vars("lon"), dim="time")
    plain = ooc.IncrementalPCA(2).fit(grid.drop_vars("lon"), dim="time")
    with pytest.raises(ooc.ArgumentError, match=r"coordinate 'lon'.*not fitted with.*drop_vars"):
        plain.transform(grid, dim="time")
    np.testing.assert_allclose(
        plain.transform(grid.drop_vars("lon"), dim="time"),
        est.transform(grid, dim="time"),
        rtol=1e-12,
    )


def test_dataframe_fit_then_dataarray_transform_checks_names(df):
    est = ooc.IncrementalPCA(2).fit(df)
    da = xr.DataArray(df.to_numpy(), dims=("row", "col"), coords={"col": list("abcde")})
    np.testing.assert_allclose(est.transform(da, dim="row"), est.transform(df), rtol=1e-12)
    with pytest.raises(ooc.ArgumentError, match=r"same order"):
        est.transform(da.isel(col=[0, 2, 1, 3, 4]), dim="row")


# -- a stored design: its terms are the names ----------------------------------------------


def test_design_terms_are_the_names(tmp_path, df):
    design = df.ooc.design("0 + a + b + c", path=tmp_path / "d.nc")
    est = ooc.IncrementalPCA(2).fit(design)
    assert list(est.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_allclose(est.transform(df[["a", "b", "c"]]), est.transform(design), 1e-12)
    with pytest.raises(ooc.ArgumentError, match=r"same order"):
        est.transform(df[["b", "a", "c"]])
    other = df.ooc.design("0 + b + a + c", path=tmp_path / "e.nc")
    with pytest.raises(ooc.ArgumentError, match=r"same order"):
        est.transform(other)


def test_non_index_coordinates_are_labels_too():
    # stations named by a coordinate that is not the dim's index, and a curvilinear grid
    # whose lat/lon are 2-D coordinates over (y, x): both are how features are named
    da = _stations().drop_vars("station")
    da = da.assign_coords(name=("station", ["n0", "n1", "n2", "n3"]))
    est = ooc.IncrementalPCA(2).fit(da, dim="time")
    np.testing.assert_allclose(
        est.transform(da, dim="time"),
        ooc.IncrementalPCA(2).fit(da.values).transform(da.values),
        rtol=1e-12,
    )
    with pytest.raises(ooc.ArgumentError, match=r"(?s)coordinate 'name'.*same order"):
        est.transform(da.isel(station=[0, 1, 3, 2]), dim="time")
    grid = _grid().rename(lat="y", lon="x")
    lat2d, lon2d = np.meshgrid([-10.0, 0.0, 10.0], [0.0, 90.0, 180.0, 270.0], indexing="ij")
    curvi = grid.drop_vars(["y", "x"]).assign_coords(
        lat=(("y", "x"), lat2d), lon=(("y", "x"), lon2d)
    )
    fitted = curvi.ooc.pca(2, dim="time")
    np.testing.assert_allclose(
        fitted.transform(curvi.transpose("time", "x", "y")).values,
        fitted.transform(curvi).values,
        rtol=1e-12,
    )
    moved = curvi.assign_coords(lon=(("y", "x"), lon2d + 1.0))
    with pytest.raises(ooc.ArgumentError, match=r"coordinate 'lon' \('y', 'x'\) differs .* 12 "):
        fitted.transform(moved)
