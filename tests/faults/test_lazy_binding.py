"""Lazy outputs stay bound to the store they were made from (Step 6, class 2).

``design.X``/``y``, ``fit.resid``/``fittedvalues``, ``svd.U``, stored PCA scores and the
outputs of ``fit.update()`` are dask arrays read from a store long after they were made.
A store replaced at the same path (a new store renamed over it) or removed must give a
StoreError naming the path (StoreNotFoundError for a removed one) when the output is read,
never another store's rows and never a bare h5py/OSError/FileNotFoundError.
"""

from __future__ import annotations

import os
import shutil
import time

import dask
import h5py
import numpy as np
import pandas as pd
import pytest

import ooc_accessor as ooc


def _frame(seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["y"] = seed + 2 * df.a - df.b + rng.normal(size=n)
    return df


def _design(path, seed: int) -> ooc.Design:
    return _frame(seed).ooc.design("y ~ a + b", chunksize=7, path=path)


# each kind: (make the lazy output from a design at `path`, the store path it reads)
def _x(d):
    return d.X, d.path


def _y(d):
    return d.y, d.path


def _resid(d):
    return d.lstsq().resid, d.path


def _fitted(d):
    return d.lstsq().fittedvalues, d.path


def _u(d):
    res = d.svd()
    _u.keep = res  # the temporary U store lives as long as its result
    return res.U, res.path


def _scores(d):
    scores = d.pca(2).transform(d)
    return scores, scores.encoding["source"]


def _update_resid(d):
    fit = d.lstsq().update(_frame(5, 20))
    return fit.resid, d.path


def _update_new_rows(d):
    fit = d.lstsq().update(_frame(5, 20))
    new = fit._designs()[-1]  # the store of the rows update() added
    _update_new_rows.keep = fit
    return fit.resid, new.path


KINDS = {
    "X": _x,
    "y": _y,
    "resid": _resid,
    "fittedvalues": _fitted,
    "U": _u,
    "scores": _scores,
    "update-resid": _update_resid,
    "update-new-rows": _update_new_rows,
}


def _replace(store_path: str, tmp_path) -> None:
    """Write another store of the same kind at ``store_path`` (copied, renamed over it)."""
    other = _design(tmp_path / "other.nc", seed=99)
    names = _vars(store_path)
    if "U" in names:
        made = other.svd()
        src = made.path
    elif "scores" in names:
        made = other.pca(2).transform(other)
        src = made.encoding["source"]
    else:
        made, src = other, other.path
    shutil.copyfile(src, tmp_path / "copy.nc")
    os.replace(tmp_path / "copy.nc", store_path)
    del made


def _vars(path: str) -> set[str]:
    with h5py.File(path, "r") as f:
        return set(f.keys())


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_replaced_store_is_refused(tmp_path, kind):
    d = _design(tmp_path / "d.nc", seed=1)
    lazy, store_path = KINDS[kind](d)
    before = np.asarray(lazy.compute())
    _replace(store_path, tmp_path)
    with pytest.raises(ooc.StoreError, match=r"was replaced") as info:
        lazy.compute()
    assert str(store_path) in str(info.value)
    assert not isinstance(info.value, FileNotFoundError)
    # nothing was read from the other store on the way: the first read is refused whole
    assert before.shape == lazy.shape


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_removed_store_is_store_not_found(tmp_path, kind):
    d = _design(tmp_path / "d.nc", seed=1)
    lazy, store_path = KINDS[kind](d)
    lazy.compute()
    os.remove(store_path)
    with pytest.raises(ooc.StoreNotFoundError, match=r"no store at") as info:
        lazy.compute()
    assert isinstance(info.value, FileNotFoundError)
    assert str(store_path) in str(info.value)


def test_replaced_before_first_read(tmp_path):
    """An output made but never read is still bound to the store it was made from."""
    d = _design(tmp_path / "d.nc", seed=1)
    x = d.X  # nothing read yet
    res = d.svd()
    u = res.U
    _design(tmp_path / "d.nc", seed=2)  # a new design written at the same path
    with pytest.raises(ooc.StoreError, match=r"d\.nc.* was replaced"):
        x.compute()
    # U's store itself is untouched: U still reads (it was computed from the old rows)
    assert np.isfinite(np.asarray(u)).all()


def test_values_unchanged_while_store_stands(tmp_path):
    """Binding changes nothing while the store is the same: X and y read as written."""
    df = _frame(3)
    d = df.ooc.design("y ~ a + b", chunksize=7, path=tmp_path / "d.nc")
    np.testing.assert_array_equal(d.X.values[:, 1], df.a.to_numpy())
    np.testing.assert_array_equal(d.y.values, df.y.to_numpy())
    assert list(d.X.indexes["obs"]) == list(df.index)
    assert d.X.chunks[0][0] == 7
    fit = d.lstsq()
    np.testing.assert_allclose(
        fit.resid.values + fit.fittedvalues.values, df.y.to_numpy(), rtol=1e-12
    )


def test_sync_scheduler_too(tmp_path):
    d = _design(tmp_path / "d.nc", seed=1)
    resid = d.lstsq().resid
    _design(tmp_path / "d.nc", seed=2)
    with dask.config.set(scheduler="sync"), pytest.raises(ooc.StoreError, match="replaced"):
        resid.compute()


def test_local_cluster(tmp_path):
    """On a dask.distributed cluster the worker's chunk reads check the store too."""
    distributed = pytest.importorskip("distributed")
    d = _design(tmp_path / "d.nc", seed=1)
    resid = d.lstsq().resid
    expected = resid.values
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        np.testing.assert_allclose(resid.compute().values, expected, rtol=1e-12)
        _design(tmp_path / "d.nc", seed=2)
        # the same graph again: the scheduler must have forgotten the last run's keys, or
        # it answers with their held results (or errors) instead of reading the file
        _wait_forgotten(client)
        with pytest.raises(ooc.StoreError, match="replaced"):
            resid.compute()
        os.remove(tmp_path / "d.nc")
        _wait_forgotten(client)
        with pytest.raises(ooc.StoreNotFoundError, match=r"d\.nc"):
            resid.compute()


def _wait_forgotten(client, timeout=30.0):
    """Wait until the scheduler holds no task (released keys are forgotten asynchronously)."""
    deadline = time.monotonic() + timeout
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
        assert time.monotonic() < deadline, "the scheduler kept the last run's tasks"
        time.sleep(0.05)
