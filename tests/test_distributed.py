"""The same calls on a real ``dask.distributed`` LocalCluster (2 worker processes).

Each answer is computed twice, on the local threaded scheduler and with a Client active, and
must agree to 1e-10: lstsq and svd of a DataFrame and a Dataset, PCA of a chunked field and
of a stored design (all three solvers), stored scores and U written from worker results.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import FORMULA, make_frame
from test_dataset import make_field

import ooc_accessor as ooc
from ooc_accessor import reduce

distributed = pytest.importorskip("distributed")

RTOL = 1e-10


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cl:
        yield cl


def _on(cluster, fn, ran: list | None = None):
    """``fn()`` with a Client on ``cluster`` active (the default scheduler dask users get).

    ``ran`` receives the names of the task functions the workers ran.
    """
    with distributed.Client(cluster) as client:
        assert reduce.distributed_client() is client
        with distributed.get_task_stream(client) as stream:
            out = fn()
        if ran is not None:
            ran.extend({str(t["key"]).strip("('").split("-")[0] for t in stream.data})
        return out


def test_no_client_means_local_scheduler():
    assert reduce.distributed_client() is None


def test_lstsq_of_a_frame_and_a_dataset(cluster):
    df = make_frame(n=3000, seed=5)
    ds = xr.Dataset.from_dataframe(df).chunk({"row": 400})
    for data, kw in ((df, {}), (ds, {"dim": "row"})):
        here = data.ooc.lstsq(FORMULA, chunksize=137, **kw)
        there = _on(cluster, lambda d=data, k=kw: d.ooc.lstsq(FORMULA, chunksize=137, **k))
        np.testing.assert_allclose(np.asarray(there.params), np.asarray(here.params), rtol=RTOL)
        np.testing.assert_allclose(np.asarray(there.bse), np.asarray(here.bse), rtol=RTOL)
        np.testing.assert_allclose(there.rsquared, here.rsquared, rtol=RTOL)
        np.testing.assert_allclose(there.resid.values, here.resid.values, rtol=1e-9, atol=1e-12)


def test_svd_with_u_computed_on_workers(cluster):
    df = make_frame(n=2000, seed=6).dropna()
    design = df.ooc.design("0 + a + b + c + d + a:b", chunksize=97)
    here = design.svd()
    ran: list = []
    there = _on(cluster, design.svd, ran)
    assert {"_block_r", "project_block"} <= set(ran), ran
    np.testing.assert_allclose(there.s.to_numpy(), here.s.to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(there.Vt.to_numpy(), here.Vt.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(there.U.values, here.U.values, atol=1e-12)
    np.testing.assert_array_equal(there.U["obs"].values, df.index.to_numpy())


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_pca_of_a_chunked_field(cluster, solver):
    ds = make_field(nt=300, seed=8).chunk({"time": 25})
    kw = {"svd_solver": solver, "random_state": 0, "batch_size": 20}
    here = ds.ooc.pca(4, dim="time", variables=["sst"], **kw)
    ran: list = []
    there = _on(cluster, lambda: ds.ooc.pca(4, dim="time", variables=["sst"], **kw), ran)
    expected = "_gram_rows" if solver == "randomized" else "_fold_rows"
    assert expected in ran, ran  # folded on the workers, not in this process
    rtol = RTOL if solver != "randomized" else 1e-8
    np.testing.assert_allclose(
        there.explained_variance_.values, here.explained_variance_.values, rtol=rtol
    )
    np.testing.assert_allclose(
        there.components_.values, here.components_.values, atol=1e-9, equal_nan=True
    )
    assert there.n_samples_seen_ == 300


def test_pca_of_a_stored_design_and_its_stored_scores(cluster):
    df = make_frame(n=4000, seed=9)
    design = df.ooc.design("0 + a + b + c + d + a:c", chunksize=211)
    here = design.pca(3, batch_size=211)
    scores_here = here.transform(design)

    def fit():
        est = design.pca(3, batch_size=211)
        return est, est.transform(design)

    ran: list = []
    there, scores_there = _on(cluster, fit, ran)
    assert {"_fold_rows", "project_block"} <= set(ran), ran
    np.testing.assert_allclose(
        there.explained_variance_.to_numpy(), here.explained_variance_.to_numpy(), rtol=RTOL
    )
    np.testing.assert_allclose(scores_there.values, scores_here.values, atol=1e-10)
    assert scores_there.dims == ("obs", "component")


def test_design_store_opens_and_refits_identically(cluster, tmp_path):
    df = make_frame(n=2500, seed=10)
    path = tmp_path / "design.nc"
    _on(cluster, lambda: df.ooc.design(FORMULA, path=path, chunksize=300))
    reopened = ooc.open_design(path)
    here = reopened.lstsq()
    there = _on(cluster, reopened.lstsq)
    direct = df.ooc.lstsq(FORMULA, chunksize=300)
    np.testing.assert_allclose(there.params.to_numpy(), here.params.to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(here.params.to_numpy(), direct.params.to_numpy(), rtol=RTOL)
