"""The vectorized formula engine equals patsy: the same columns, names and values.

For each formula, ``df.ooc.design(formula, chunksize=k)`` for k in (3, 17, whole) has X,
y, term names and kept rows equal to ``patsy.dmatrices(formula, df, NA_action="drop")``
on the whole frame: exactly for codings and products, within 1e-12 for
center/standardize/scale (their moments are merged per block instead of patsy's
row-by-row update). Also new data through ``Design.build`` and ``predict``, and the same
design on dask's threaded scheduler and on a distributed LocalCluster.
"""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import patsy
import pytest
import xarray as xr

import ooc_accessor  # noqa: F401  (registers .ooc)
from ooc_accessor.errors import DataError

N = 48


def engine_frame(n: int = N, seed: int = 3) -> pd.DataFrame:
    """Numbers with NaN, ints, bools, str/object/Categorical factors, a late level."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c"], n).astype(object)
    g[rng.random(n) < 0.08] = None
    b = rng.normal(size=n)
    b[rng.random(n) < 0.08] = np.nan
    late = np.where(np.arange(n) < n - 10, rng.choice(["p", "q"], n), "z")
    cat = pd.Categorical(
        rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi", "unused"]
    )
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "a": rng.normal(size=n),
            "b": b,
            "c": rng.normal(loc=3.0, scale=2.0, size=n),
            "pos": rng.uniform(0.5, 4.0, n),
            "k": rng.integers(0, 4, n),
            "flag": rng.random(n) < 0.4,
            "g": g,
            "s": pd.array(rng.choice(["u", "v", "w"], n), dtype="str"),
            "o": rng.choice(["x1", "x2"], n).astype(object),
            "cat": cat,
            "late": late,
        },
        index=pd.Index(np.arange(n) * 3 + 7, name="row"),
    )


EXACT = [
    "y ~ a + b + C(g)",
    "y ~ C(g, Treatment(reference='c')) + s",
    "y ~ C(g, Sum) + C(k, Helmert)",
    "y ~ C(k, Poly) + C(s, Diff)",
    "y ~ C(s, levels=['w', 'u', 'v']) + a",
    "y ~ k + C(k) + flag",
    "y ~ o + cat + C(cat, Sum)",
    "y ~ g:cat + a:g + a:b:s",
    "y ~ g * flag * o",
    "y ~ 0 + g + a",
    "y ~ s + a - 1",
    "y ~ np.log(pos) + I(a * b) + I(k * pos)",
    "y ~ late + a:late",
]
TRANSFORMS = ["y ~ center(a) + standardize(c) + scale(pos) + center(k)", "y ~ standardize(c):g"]


def patsy_design(formula: str, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    y, x = patsy.dmatrices(formula, df, NA_action="drop", return_type="dataframe")
    return y, x


def check_equal(design, formula: str, df: pd.DataFrame, atol: float) -> None:
    y, x = patsy_design(formula, df)
    assert list(design.terms) == list(x.columns)
    obs = design.X[design.X.dims[0]].values
    np.testing.assert_array_equal(obs, x.index.to_numpy())
    got = design.X.values
    if atol == 0:
        np.testing.assert_array_equal(got, x.to_numpy())
        np.testing.assert_array_equal(design.y.values, y.to_numpy()[:, 0])
    else:
        np.testing.assert_allclose(got, x.to_numpy(), rtol=0, atol=atol)
    assert design.n_dropped == len(df) - len(x)


@pytest.mark.parametrize("chunk", [3, 17, N])
@pytest.mark.parametrize("formula", EXACT)
def test_columns_equal_patsy(formula, chunk):
    df = engine_frame()
    check_equal(df.ooc.design(formula, chunksize=chunk), formula, df, atol=0)


@pytest.mark.parametrize("chunk", [3, 17, N])
@pytest.mark.parametrize("formula", TRANSFORMS)
def test_transforms_equal_patsy(formula, chunk):
    df = engine_frame()
    check_equal(df.ooc.design(formula, chunksize=chunk), formula, df, atol=1e-12)


def test_levels_seen_only_in_the_last_block():
    df = engine_frame()
    design = df.ooc.design("y ~ late", chunksize=25)  # 'z' only in the last 10 rows
    assert "late[T.z]" in list(design.terms)
    check_equal(design, "y ~ late", df, atol=0)


def test_nan_and_none_rows_dropped_as_patsy():
    df = engine_frame()
    design = df.ooc.design("y ~ b + g", chunksize=5)
    _, x = patsy_design("y ~ b + g", df)
    assert design.n_dropped == (df.b.isna() | df.g.isna()).sum() > 0
    np.testing.assert_array_equal(design.X["obs"].values, x.index.to_numpy())


@pytest.mark.parametrize(
    "formula", ["y ~ C(g, Sum) + a:s + cat + flag", "y ~ center(a) + standardize(c):g"]
)
def test_build_new_rows_and_predict(formula):
    df = engine_frame(n=150)
    df["cat"] = df["cat"].cat.remove_unused_categories()  # a full-rank fit
    _, x = patsy_design(formula, df)
    new = df.dropna().iloc[::-1].iloc[:25]
    new = new.assign(cat=new["cat"].astype(str).astype(pd.CategoricalDtype(["mid", "lo", "hi"])))
    (want,) = patsy.build_design_matrices(
        [x.design_info], new.assign(cat=new["cat"].astype(str)), return_type="dataframe"
    )
    design = df.ooc.design(formula, chunksize=37)
    built = design.build(new)
    np.testing.assert_allclose(built.X.values, want.to_numpy(), rtol=0, atol=1e-12)
    assert list(built.terms) == list(want.columns)
    fit = df.ooc.lstsq(formula, chunksize=37)
    pred = fit.predict(new)
    np.testing.assert_allclose(
        np.asarray(pred), want.to_numpy() @ np.asarray(fit.params), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_array_equal(np.asarray(pred.index), new.index.to_numpy())


def _dataset(df: pd.DataFrame, chunk: int) -> xr.Dataset:
    cols = ["y", "a", "b", "c", "k", "flag"]
    ds = xr.Dataset({c: ("row", df[c].to_numpy()) for c in cols})
    ds["g"] = ("row", df["s"].to_numpy(dtype=object))
    return ds.assign_coords(row=df.index.to_numpy()).chunk({"row": chunk})


DASK_FORMULA = "y ~ a + b + C(g, Sum) + a:g + center(c) + C(k) + flag"


def test_threaded_dask_scheduler():
    df = engine_frame()
    ds = _dataset(df, 20)
    with dask.config.set(scheduler="threads"):
        design = ds.ooc.design(DASK_FORMULA, dim="row", chunksize=17)
    check_equal(design, DASK_FORMULA, df.assign(g=df["s"].astype(object)), atol=1e-12)


def test_distributed_local_cluster():
    distributed = pytest.importorskip("distributed")
    df = engine_frame()
    ds = _dataset(df, 20)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with distributed.get_task_stream(client) as stream:
            design = ds.ooc.design(DASK_FORMULA, dim="row", chunksize=17)
    ran = {str(t["key"]).strip("('").split("-")[0] for t in stream.data}
    assert "build_part" in ran, ran  # the blocks were built on the workers
    check_equal(design, DASK_FORMULA, df.assign(g=df["s"].astype(object)), atol=1e-12)


def test_int_factor_whose_first_block_holds_only_0_and_1():
    # patsy's chunked sniff stops once its levels equal {False, True}, as {0, 1} does:
    # it lost levels 2 and 3 here; the design has the levels of the whole frame
    df = pd.DataFrame({"y": np.arange(12.0), "k": [0, 1, 1, 0, 2, 3, 0, 1, 2, 3, 0, 1]})
    design = df.ooc.design("y ~ C(k)", chunksize=4)
    assert list(design.terms) == ["Intercept", "C(k)[T.1]", "C(k)[T.2]", "C(k)[T.3]"]
    check_equal(design, "y ~ C(k)", df, atol=0)


def test_a_product_that_overflows_is_refused_by_name():
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "a": [1e200, 1, 2, 3], "b": [1e200, 1, 2, 5]})
    with pytest.raises(DataError, match="'a:b' is inf at row 0"):
        df.ooc.design("y ~ a:b", chunksize=2)
