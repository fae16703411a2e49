"""The design store: reopened identically, rebuilt for new data, atomic, temporary by default."""

from __future__ import annotations

import gc
import json
import os

import h5py
import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.formula.api as smf
from conftest import FORMULA, make_frame

import ooc_accessor as ooc
from ooc_accessor.store import DesignWriter

STATEFUL = "y ~ center(c) + standardize(b) + C(cat1) + center(c):standardize(b)"


def test_open_design_refits_identically(tmp_path):
    df = make_frame(300)
    path = tmp_path / "d.nc"
    design = df.ooc.design(STATEFUL, chunksize=64, path=path)
    reopened = ooc.open_design(path)
    assert reopened.terms == design.terms
    assert reopened.formula == STATEFUL
    assert (reopened.n_obs, reopened.n_dropped) == (design.n_obs, design.n_dropped)
    pd.testing.assert_index_equal(reopened.obs, df.dropna(subset=["c", "b", "cat1", "y"]).index)
    np.testing.assert_array_equal(reopened.lstsq().params, design.lstsq().params)


def test_build_reproduces_levels_and_transform_state(tmp_path):
    df = make_frame(300)
    design = df.ooc.design(STATEFUL, chunksize=50, path=tmp_path / "d.nc")
    # patsy in memory on the full frame is the reference for center/standardize state
    _, x_ref = patsy.dmatrices(STATEFUL, df, return_type="dataframe")
    new = make_frame(90, seed=5)
    expected = patsy.build_design_matrices([x_ref.design_info], new, return_type="dataframe")[0]
    for source in (design, ooc.open_design(tmp_path / "d.nc")):
        built = source.build(new.drop(columns="y"))  # no response: a design for prediction
        assert built.terms == list(x_ref.columns)
        assert built.y is None
        np.testing.assert_allclose(built.X.values, expected.values, rtol=1e-13, atol=1e-13)
        np.testing.assert_array_equal(built.obs, expected.index)


def test_spec_is_plain_json(tmp_path):
    path = tmp_path / "d.nc"
    make_frame(100).ooc.design(STATEFUL, path=path)
    with h5py.File(path, "r") as f:
        spec = json.loads(f.attrs["spec"])
        assert f.attrs["complete"] == 1
    factors = spec["factors"]
    assert factors["C(cat1)"]["categories"] == ["alpha", "beta", "delta", "eps", "gamma"]
    assert factors["center(c)"]["transforms"]  # the learned sum and count are saved


def test_temporary_store_removed_unless_saved(tmp_path):
    df = make_frame(100)
    design = df.ooc.design(FORMULA)
    temp = design.path
    assert os.path.exists(temp)
    del design
    gc.collect()
    assert not os.path.exists(temp)

    design = df.ooc.design(FORMULA)
    temp = design.path
    kept = tmp_path / "kept.nc"
    design.save(kept)
    del design
    gc.collect()
    assert not os.path.exists(temp)
    assert ooc.open_design(kept).n_obs == 95


def test_save_copies_a_kept_store(tmp_path):
    design = make_frame(100).ooc.design(FORMULA, path=tmp_path / "a.nc")
    design.save(tmp_path / "b.nc")
    assert os.path.exists(tmp_path / "a.nc")
    assert ooc.open_design(tmp_path / "b.nc").terms == design.terms


def test_unfinished_writer_leaves_nothing_at_the_target(tmp_path):
    path = tmp_path / "d.nc"
    writer = DesignWriter(str(path), terms=["x"], responses=["y"], chunk_rows=4)
    writer.append(np.ones((3, 1)), np.ones(3), pd.RangeIndex(3))
    assert not path.exists()  # rows go to a temporary name first
    with pytest.raises(ooc.StoreError, match="no design store"):
        ooc.open_design(path)
    writer.abort()
    assert os.listdir(tmp_path) == []


def test_incomplete_store_is_refused(tmp_path):
    path = tmp_path / "d.nc"
    make_frame(100).ooc.design(FORMULA, path=path)
    with h5py.File(path, "a") as f:
        f.attrs["complete"] = 0
    with pytest.raises(ooc.StoreError, match="incomplete"):
        ooc.open_design(path)


def test_a_failed_rebuild_keeps_the_previous_store(tmp_path):
    path = tmp_path / "d.nc"
    first = make_frame(100).ooc.design(FORMULA, path=path)
    params = first.lstsq().params
    bad = make_frame(100).assign(a=np.nan)
    with pytest.raises(ooc.DataError):
        bad.ooc.design(FORMULA, path=path)
    assert os.listdir(tmp_path) == ["d.nc"]
    np.testing.assert_array_equal(ooc.open_design(path).lstsq().params, params)


@pytest.mark.parametrize(
    "index",
    [
        pd.Index([f"r{i}" for i in range(80)], name="key"),  # strings
        pd.date_range("2020-01-01", periods=80, freq="h", name="time"),  # datetimes
        pd.Index(np.arange(80) % 7),  # duplicated integer labels
        pd.Index(np.linspace(0, 1, 80)),  # floats
    ],
    ids=["str", "datetime", "duplicated", "float"],
)
def test_obs_keeps_the_frame_index(index):
    df = make_frame(80).set_axis(index, axis=0)
    fit = df.ooc.lstsq("y ~ a + b", chunksize=9)
    ref = smf.ols("y ~ a + b", df).fit()
    fv = fit.fittedvalues.to_series()
    if isinstance(index, pd.DatetimeIndex):  # xarray decodes times to nanoseconds
        fv.index = fv.index.as_unit(index.unit)
    pd.testing.assert_index_equal(fv.index, ref.fittedvalues.index, check_names=False)
    pd.testing.assert_index_equal(fit._design.obs, ref.fittedvalues.index)
    np.testing.assert_allclose(fv.values, ref.fittedvalues.values, rtol=1e-10)


def test_temporary_stores_go_to_the_configured_directory(tmp_path, monkeypatch):
    from ooc_accessor import store

    monkeypatch.setenv(store.TMPDIR_ENV, str(tmp_path))
    design = make_frame(n=50).ooc.design("y ~ a + b")
    assert os.path.dirname(design.path) == str(tmp_path)
