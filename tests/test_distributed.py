"""The same calls on a real ``dask.distributed`` LocalCluster (2 worker processes).

Each answer is computed twice, on the local threaded scheduler and with a Client active, and
must agree to 1e-10: lstsq and svd of a DataFrame and a Dataset, PCA of a chunked field and
of a stored design (all three solvers), stored scores and U written from worker results.
"""

from __future__ import annotations

import os

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
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
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
    expected = "gram_rows" if solver == "randomized" else "fold_rows"
    assert expected in ran, ran  # folded on the workers, not in this process
    rtol = RTOL if solver != "randomized" else 1e-8
    np.testing.assert_allclose(
        there.explained_variance_.values, here.explained_variance_.values, rtol=rtol
    )
    np.testing.assert_allclose(
        there.components_.values, here.components_.values, atol=1e-9, equal_nan=True
    )
    assert there.n_samples_seen_ == 300


@pytest.mark.parametrize("solver", ["covariance_eigh", "randomized"])
def test_pca_dropping_missing_steps_on_the_workers(cluster, solver):
    ds = make_field(nt=300, seed=9)
    sst = ds["sst"].values.copy()
    wet = np.argwhere(~np.isnan(sst[0]))[0]
    sst[[4, 77, 260], wet[0], wet[1]] = np.nan  # three steps miss one ocean cell
    ds = ds.assign(sst=(ds["sst"].dims, sst)).chunk({"time": 25})
    kw = {"svd_solver": solver, "random_state": 0, "batch_size": 20, "missing": "drop"}
    here = ds.ooc.pca(4, dim="time", variables=["sst"], **kw)
    ran: list = []
    there = _on(cluster, lambda: ds.ooc.pca(4, dim="time", variables=["sst"], **kw), ran)
    assert ("gram_rows" if solver == "randomized" else "fold_rows") in ran, ran
    assert here.n_samples_seen_ == there.n_samples_seen_ == 297
    np.testing.assert_allclose(
        there.explained_variance_.values,
        here.explained_variance_.values,
        rtol=RTOL if solver != "randomized" else 1e-8,
    )


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
    assert {"fold_rows", "project_block"} <= set(ran), ran
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


# -- a worker killed mid-computation ------------------------------------------------------------


def _kill_a_worker_while(cluster, fn):
    """Run ``fn`` with a Client; SIGKILL one worker process once tasks are running.

    Returns ``(result or exception, whether the kill landed while fn was running)``.
    """
    import os
    import signal
    import threading
    import time

    with distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        out: dict = {}

        def work() -> None:
            try:
                out["value"] = fn()
            except Exception as exc:  # the test inspects it
                out["error"] = exc

        thread = threading.Thread(target=work)
        thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(client.processing().values()):
            time.sleep(0.01)
        time.sleep(0.05)
        landed = thread.is_alive()
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        thread.join(120)
        assert not thread.is_alive()
        client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker
    return out, landed


def _many_blocks_design(tmp_path, n=60_000, chunk=40):
    df = make_frame(n=n, seed=12)
    return df.ooc.design(FORMULA, chunksize=chunk, path=tmp_path / "many.nc")


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """A design of 1,500 small chunks: a fit long enough to kill a worker during it."""
    return _many_blocks_design(tmp_path_factory.mktemp("many"))


def test_killed_worker_does_not_change_lstsq(cluster, many, tmp_path):
    design = many
    ref = design.lstsq()
    out, landed = _kill_a_worker_while(cluster, design.lstsq)
    assert landed, "the kill came after the fit: make the fit longer"
    assert "error" not in out, out.get("error")
    np.testing.assert_allclose(out["value"].params.to_numpy(), ref.params.to_numpy(), rtol=RTOL)


def test_killed_worker_while_u_is_written(cluster, many):
    design = many
    ref = design.svd()
    out, landed = _kill_a_worker_while(cluster, design.svd)
    assert landed
    assert "error" not in out, out.get("error")
    np.testing.assert_allclose(out["value"].U.values, ref.U.values, atol=1e-12)
    assert not [f for f in os.listdir(os.path.dirname(design.path)) if ".tmp-" in f]


def test_failed_u_pass_leaves_no_store(tmp_path):
    """Workers that keep dying: the SVD fails cleanly, the design stays valid, no U file."""
    import dask

    design = _many_blocks_design(tmp_path, n=20_000)
    ref = design.lstsq()
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as fragile:
            out, landed = _kill_a_worker_while(fragile, design.svd)
    assert landed
    if "error" in out:  # the kill hit a running task: the U pass failed
        assert isinstance(out["error"], distributed.KilledWorker), out["error"]
    u_files = [f for f in os.listdir(tmp_path) if f.startswith(("ooc-design-", ".ooc"))]
    assert not [f for f in u_files if ".tmp-" in f]
    reopened = ooc.open_design(tmp_path / "many.nc")  # the design store is untouched
    np.testing.assert_allclose(reopened.lstsq().params.to_numpy(), ref.params, rtol=RTOL)


def test_dataset_design_is_built_by_the_workers(cluster, tmp_path):
    df = make_frame(n=3000, seed=13)
    df["when"] = np.arange(len(df))
    ds = xr.Dataset.from_dataframe(df).chunk({"row": 250})
    formula = FORMULA + " + center(w) + np.log(w)"
    here = ds.ooc.design(formula, dim="row", chunksize=100, path=tmp_path / "here.nc")
    ran: list = []
    _on(
        cluster,
        lambda: ds.ooc.design(formula, dim="row", chunksize=100, path=tmp_path / "there.nc"),
        ran,
    )
    assert "build_part" in ran, ran
    # the store is assembled over the workers' parts, kept in one directory beside it
    files = sorted(os.listdir(tmp_path))
    assert files[1:] == ["here.nc", "there.nc"] and files[0].startswith(".there.nc.parts-")
    reopened = ooc.open_design(tmp_path / "there.nc")
    assert reopened.n_obs == here.n_obs and reopened.n_dropped == here.n_dropped == 5
    np.testing.assert_array_equal(reopened.X.values, here.X.values)
    np.testing.assert_array_equal(reopened.y.values, here.y.values)
    np.testing.assert_array_equal(reopened.obs, here.obs)
    fit_here, fit_there = here.lstsq(), _on(cluster, reopened.lstsq)
    np.testing.assert_allclose(fit_there.params.values, fit_here.params.values, rtol=RTOL)
    assert reopened.spec == here.spec


def test_bad_data_on_the_cluster_leaves_nothing(cluster, tmp_path):
    df = make_frame(n=2000, seed=14)
    ds = xr.Dataset.from_dataframe(df)
    ds["b"] = ds["b"].where(ds["row"] != 1000 + 7 * 1500, np.inf)  # in a late block
    ds = ds.chunk({"row": 200})
    with pytest.raises(ooc.DataError, match=r"variable 'b' holds 1 infinite value.*11500"):
        _on(cluster, lambda: ds.ooc.design(FORMULA, dim="row", path=tmp_path / "bad.nc"))
    assert os.listdir(tmp_path) == []


def test_killed_worker_while_the_design_is_built(cluster, tmp_path):
    df = make_frame(n=40_000, seed=15)
    ds = xr.Dataset.from_dataframe(df).chunk({"row": 40})
    ref = ds.ooc.design(FORMULA, dim="row", chunksize=40, path=tmp_path / "ref.nc")
    target = tmp_path / "killed.nc"
    out, landed = _kill_a_worker_while(
        cluster, lambda: ds.ooc.design(FORMULA, dim="row", chunksize=40, path=target)
    )
    assert landed
    assert "error" not in out, out.get("error")
    files = sorted(os.listdir(tmp_path))  # its parts directory, no stray part, no temp
    assert files[1:] == ["killed.nc", "ref.nc"] and files[0].startswith(".killed.nc.parts-")
    parts = [n for n in os.listdir(tmp_path / files[0]) if n.startswith("part-")]
    assert len(parts) == 2  # one part per worker thread
    got = ooc.open_design(target)
    np.testing.assert_array_equal(got.X.values, ref.X.values)
    np.testing.assert_array_equal(got.obs, ref.obs)


def test_pca_of_a_dataframe(cluster):
    df = make_frame(n=3000, seed=16).dropna()
    cols = ["a", "b", "c", "d", "w"]
    here = df.ooc.pca(3, columns=cols, batch_size=128)
    there = _on(cluster, lambda: df.ooc.pca(3, columns=cols, batch_size=128))
    np.testing.assert_allclose(
        there.explained_variance_.to_numpy(), here.explained_variance_.to_numpy(), rtol=RTOL
    )
    np.testing.assert_allclose(
        there.components_.to_numpy(), here.components_.to_numpy(), atol=1e-12
    )


def test_a_store_rewritten_at_the_same_path_gets_new_task_keys(cluster, tmp_path):
    """dask keys are hashes of the task's arguments: a path alone would let a cluster that
    still holds the old store's results answer for the new store."""
    path = tmp_path / "same.nc"
    first = make_frame(n=1500, seed=20).ooc.design(FORMULA, path=path, chunksize=100)
    key1 = reduce.lstsq_stats_graph(first.path, first.blocks(), None, first.store_id).key
    new_df = make_frame(n=1500, seed=21)
    second = new_df.ooc.design(FORMULA, path=path, chunksize=100)
    key2 = reduce.lstsq_stats_graph(second.path, second.blocks(), None, second.store_id).key
    assert key1 != key2

    def back_to_back():
        a = ooc.open_design(path).lstsq()
        new_df.assign(y=new_df["y"] * 3).ooc.design(FORMULA, path=path, chunksize=100)
        return a, ooc.open_design(path).lstsq()

    a, b = _on(cluster, back_to_back)
    expected = new_df.assign(y=new_df["y"] * 3).ooc.lstsq(FORMULA, chunksize=100)
    np.testing.assert_allclose(b.params.to_numpy(), expected.params.to_numpy(), rtol=RTOL)
    assert not np.allclose(a.params.to_numpy(), b.params.to_numpy())


def test_svd_of_a_dataset(cluster):
    df = make_frame(n=2500, seed=22).dropna()
    ds = xr.Dataset.from_dataframe(df).chunk({"row": 300})
    here = ds.ooc.svd("0 + a + b + c + d", dim="row", chunksize=150)
    ran: list = []
    there = _on(cluster, lambda: ds.ooc.svd("0 + a + b + c + d", dim="row", chunksize=150), ran)
    assert {"build_part", "_block_r", "project_block"} <= set(ran), ran
    np.testing.assert_allclose(there.s.values, here.s.values, rtol=RTOL)
    np.testing.assert_allclose(there.Vt.values, here.Vt.values, atol=1e-12)
    assert there.U.dims == ("row", "component")
    np.testing.assert_allclose(there.U.values, here.U.values, atol=1e-12)
    np.testing.assert_array_equal(there.U["row"].values, df.index.to_numpy())


def test_glm_on_the_cluster_equals_statsmodels(cluster):
    """IRLS passes run on the workers: the same answers as here and statsmodels'."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from test_glm import DF, check_against

    cases = [
        ("hit ~ x + z + C(g) + x:C(g)", {"family": "binomial"}, sm.families.Binomial(), {}),
        (
            "cnt ~ x + C(g)",
            {"family": "poisson", "exposure": "expo"},
            sm.families.Poisson(),
            {"exposure": DF.expo},
        ),
        (
            "pos ~ x + z",
            {"family": "gamma", "link": "log"},
            sm.families.Gamma(sm.families.links.Log()),
            {},
        ),
    ]
    for formula, kw, fam, skw in cases:
        ran: list = []

        def fit(f=formula, k=kw):
            r = DF.ooc.glm(f, chunksize=173, **k)
            r.llf  # noqa: B018 - the final pass (llf, null deviance) on the workers too
            return r

        there = _on(cluster, fit, ran)
        # the iterations' and the final pass's blocks ran on the workers
        assert {"_irls_block", "_final_block"} <= set(ran)
        s = smf.glm(formula, DF, family=fam, **skw).fit()
        check_against(there, s)
        here = DF.ooc.glm(formula, chunksize=173, **kw)
        np.testing.assert_allclose(np.asarray(there.params), np.asarray(here.params), rtol=RTOL)
