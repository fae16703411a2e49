"""read_csv: CSV files streamed into a NetCDF store, dtypes decided across chunks.

Every fit is checked against pandas.read_csv of the whole file + statsmodels.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import xarray as xr

import ooc_accessor as ooc

N = 600
FORMULA = "y ~ x + n + C(g) + C(name) + x:n"


def write_tricky_csv(path, n: int = N, seed: int = 0) -> None:
    """A CSV whose dtypes a first chunk gets wrong.

    - ``g``: a category whose level "late" appears only in the last 50 rows;
    - ``n``: ints, with empty fields (NaN) only after row 400;
    - ``name``: quoted strings holding commas and quotes;
    - ``later``: empty for the first 300 rows, then text;
    - ``when``: dates.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    nvals = rng.integers(0, 20, size=n)
    g = rng.choice(["a", "b", "c"], size=n).astype(object)
    g[-50:] = np.where(rng.random(50) < 0.5, "late", g[-50:])
    names = np.array(["Smith, John", 'O"Brien, Pat', "Lee", "Doe, Jane, Jr."])[
        rng.integers(0, 4, size=n)
    ]
    effect = pd.Series(g).map({"a": 0.0, "b": 1.0, "c": -1.0, "late": 3.0}).to_numpy()
    y = 1 + 2 * x + 0.1 * nvals + effect + (names == "Lee") + rng.normal(size=n)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        w.writerow(["y", "x", "n", "g", "name", "later", "when"])
        for i in range(n):
            nv = "" if i > 400 and i % 7 == 0 else str(nvals[i])
            later = "" if i < 300 else f"v{i % 3}"
            when = (pd.Timestamp("2020-01-01") + pd.Timedelta(days=i)).strftime("%Y-%m-%d")
            w.writerow([repr(float(y[i])), repr(float(x[i])), nv, g[i], names[i], later, when])


@pytest.fixture
def tricky(tmp_path):
    path = tmp_path / "tricky.csv"
    write_tricky_csv(path)
    return path


@pytest.mark.parametrize("chunksize", [7, 333, "auto"])
def test_fit_equals_pandas_and_statsmodels(tricky, tmp_path, chunksize):
    ds = ooc.read_csv(tricky, tmp_path / "t.nc", chunksize=chunksize, parse_dates=["when"])
    whole = pd.read_csv(tricky, parse_dates=["when"])
    # dtypes as a whole-file read decides them
    assert ds["n"].dtype == np.float64 and whole["n"].dtype == np.float64
    assert int(ds["n"].isnull().sum()) == int(whole["n"].isna().sum()) > 0
    assert ds["when"].dtype == whole["when"].dtype  # pandas' unit, kept
    assert set(pd.unique(ds["g"].values)) == {"a", "b", "c", "late"}
    assert ds["name"].values[:20].tolist() == whole["name"].iloc[:20].tolist()
    assert int(ds["later"].isnull().sum()) == 300
    assert list(ds.data_vars) == list(whole.columns)
    np.testing.assert_array_equal(ds["x"].values, whole["x"].to_numpy())
    np.testing.assert_array_equal(ds["when"].values, whole["when"].to_numpy())

    fit = ds.ooc.lstsq(FORMULA, chunksize=97)
    ref = smf.ols(FORMULA, whole).fit()
    assert isinstance(fit.params, xr.DataArray) and fit.params.dims == ("term",)
    assert list(fit.params["term"].values) == list(ref.params.index)
    np.testing.assert_allclose(fit.params.values, ref.params.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(fit.bse.values, ref.bse.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(fit.rsquared, ref.rsquared, rtol=1e-9)
    assert fit.nobs == ref.nobs
    resid = fit.resid
    assert resid.dims == ("index",)
    np.testing.assert_allclose(resid.values, ref.resid.to_numpy(), rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(resid["index"].values, ref.resid.index.to_numpy())


def test_several_files_by_glob_and_index_col(tmp_path):
    parts = []
    for k in range(3):
        df = pd.DataFrame(
            {"id": np.arange(k * 50, (k + 1) * 50), "v": np.arange(50) * 0.5 + k, "s": "t"}
        )
        df.to_csv(tmp_path / f"part{k}.csv", index=False)
        parts.append(df)
    ds = ooc.read_csv(tmp_path / "part*.csv", tmp_path / "all.nc", chunksize=20, index_col="id")
    whole = pd.concat(parts).set_index("id")
    assert ds["v"].dims == ("id",)
    np.testing.assert_array_equal(ds["id"].values, whole.index.to_numpy())
    np.testing.assert_array_equal(ds["v"].values, whole["v"].to_numpy())
    assert ds.attrs["sources"][0].endswith("part0.csv")


def test_files_with_other_columns_are_named(tmp_path):
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(tmp_path / "one.csv", index=False)
    pd.DataFrame({"a": [1, 2], "c": [3, 4]}).to_csv(tmp_path / "two.csv", index=False)
    target = tmp_path / "x.nc"
    with pytest.raises(ooc.CSVError, match=r"two\.csv' has columns \['a', 'c'\].*one\.csv"):
        ooc.read_csv([tmp_path / "one.csv", tmp_path / "two.csv"], target)
    assert not target.exists()
    assert os.listdir(tmp_path) == sorted(os.listdir(tmp_path)) and not [
        f for f in os.listdir(tmp_path) if ".tmp-" in f
    ]


def test_malformed_line_names_file_and_line_and_keeps_previous_store(tmp_path):
    good = tmp_path / "good.csv"
    pd.DataFrame({"a": np.arange(10), "b": np.arange(10.0)}).to_csv(good, index=False)
    target = tmp_path / "store.nc"
    ooc.read_csv(good, target)
    before = target.read_bytes()
    bad = tmp_path / "bad.csv"
    lines = ["a,b"] + [f"{i},{i}.5" for i in range(500)] + ["1,2,3"] + ["4,5"]
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ooc.CSVError, match=r"bad\.csv'.*line 502"):
        ooc.read_csv(bad, target, chunksize=100)
    assert target.read_bytes() == before  # the previous, complete store is untouched
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]
    ds = ooc.open_csv_store(target)
    assert int(ds.sizes["index"]) == 10


def test_numbers_then_text_names_the_column_and_the_fix(tmp_path):
    path = tmp_path / "mixed.csv"
    rows = ["k,v"] + [f"{i},{i}" for i in range(300)] + ["x300,1"]
    path.write_text("\n".join(rows) + "\n")
    msg = r"column 'k' was read as int.*dtype=\{'k': str\}"
    with pytest.raises(ooc.ColumnTypeError, match=msg):
        ooc.read_csv(path, tmp_path / "m.nc", chunksize=100)
    assert not (tmp_path / "m.nc").exists()
    # the fix the message gives works, and keeps every value's text
    ds = ooc.read_csv(path, tmp_path / "m.nc", chunksize=100, dtype={"k": str})
    assert ds["k"].values[-1] == "x300" and ds["k"].values[5] == "5"


def test_all_missing_first_chunks_then_values(tmp_path):
    path = tmp_path / "late.csv"
    late = [f"{i},{i * 2},2021-01-0{i % 9 + 1}" for i in range(250, 260)]
    rows = ["a,b,c"] + [f"{i},," for i in range(250)] + late
    path.write_text("\n".join(rows) + "\n")
    ds = ooc.read_csv(path, tmp_path / "l.nc", chunksize=100, parse_dates=["c"])
    whole = pd.read_csv(path, parse_dates=["c"])
    assert ds["b"].dtype == np.float64 and whole["b"].dtype == np.float64
    np.testing.assert_array_equal(ds["b"].values, whole["b"].to_numpy())
    assert ds["c"].dtype == whole["c"].dtype  # pandas' unit, kept
    np.testing.assert_array_equal(ds["c"].values, whole["c"].to_numpy())


def test_int_column_stays_int_without_missing(tmp_path):
    path = tmp_path / "ints.csv"
    pd.DataFrame({"k": np.arange(1000) * 3, "f": np.linspace(0, 1, 1000)}).to_csv(path, index=False)
    ds = ooc.read_csv(path, tmp_path / "i.nc", chunksize=64)
    assert ds["k"].dtype == np.int64
    assert ds.chunks["index"][0] == 64


def test_empty_csv_and_missing_file(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    with pytest.raises(ooc.CSVError, match=r"empty\.csv' has no rows"):
        ooc.read_csv(empty, tmp_path / "e.nc")
    assert not (tmp_path / "e.nc").exists()
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        ooc.read_csv(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match=r"no CSV file matches"):
        ooc.read_csv(tmp_path / "none*.csv")


def test_temporary_store_is_removed_with_the_dataset(tricky):
    ds = ooc.read_csv(tricky, progress=False)
    path = ds.encoding.get("source") or ds["x"].encoding["source"]
    assert os.path.exists(path)
    ds.close()
    del ds
    import gc

    gc.collect()
    assert not os.path.exists(path)
