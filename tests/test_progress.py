"""Progress bars on the long passes (ooc_accessor.progress).

Each pass run with ``progress=True`` writes a tqdm bar to stderr naming the pass, with the
full row count done (``5.00k/5.00k``), a rate in rows/s, MB/s and the elapsed/remaining
field; on the threaded scheduler and on a real ``distributed.LocalCluster``. The bar is
closed when the call returns or raises (tqdm holds no instance afterwards); ``False``, the
option and "auto" on a fast call print nothing; numbers are the same with and without bars.
"""

from __future__ import annotations

import os
import re
import sys
import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from patsy import stateful_transform
from tqdm.std import tqdm

import ooc_accessor as ooc

N = 5000
ROWS = "5.00k/5.00k"  # tqdm's unit_scale form of 5000 of 5000
CHUNK = 500


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=N),
            "z": rng.normal(size=N),
            "g": rng.choice(["a", "b", "c"], size=N),
        }
    )
    df["y"] = 1.0 + 2.0 * df.x - df.z + rng.normal(size=N)
    df["c"] = rng.poisson(np.exp(0.2 + 0.3 * df.x))
    return df


def _bars(text: str) -> dict[str, str]:
    """The last line drawn of each bar in tqdm's output, by its description."""
    last: dict[str, str] = {}
    for line in re.split(r"[\r\n]+", text):
        m = re.match(r"\s*(.+?):\s+\d+%\|", line)
        if m:
            last[m.group(1)] = line
    return last


def _check(bars: dict[str, str], name: str, done: str = ROWS) -> None:
    """``name``'s bar finished: all rows, a rate, MB/s, elapsed<remaining."""
    assert name in bars, f"no bar {name!r} in {sorted(bars)}"
    line = bars[name]
    assert "100%" in line and f" {done} [" in line, line
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, [\d.]+[kM]?rows/s, [\d.e+-]+ MB/s\]", line), line


def _closed() -> None:
    assert len(tqdm._instances) == 0


def _run(capsys, fn):
    capsys.readouterr()
    out = fn()
    _closed()
    return out, _bars(capsys.readouterr().err)


def test_design_learn_and_build(capsys, frame):
    design, bars = _run(capsys, lambda: frame.ooc.design("y ~ x + C(g)", CHUNK, progress=True))
    _check(bars, "design: learn")
    _check(bars, "design: build")
    assert design.n_obs == N


def test_lstsq_stored_streamed_robust_and_refined(capsys, frame):
    design = frame.ooc.design("y ~ x + z", CHUNK, progress=False)
    fit, bars = _run(capsys, lambda: design.lstsq(progress=True))
    _check(bars, "lstsq")
    assert np.array_equal(fit.params, design.lstsq(progress=False).params)
    # from the data: the learn pass, then build and fold in one pass
    fit2, bars = _run(capsys, lambda: frame.ooc.lstsq("y ~ x + z", chunksize=CHUNK, progress=True))
    _check(bars, "design: learn")
    _check(bars, "lstsq: build and fit")
    assert np.allclose(fit2.params, fit.params, rtol=1e-12, atol=0)
    # a robust covariance is one more pass, on a bar of its own
    robust, bars = _run(
        capsys,
        lambda: frame.ooc.lstsq("y ~ x + z", chunksize=CHUNK, cov_type="HC1", progress=True),
    )
    _check(bars, "a pass after the fit")
    plain = frame.ooc.lstsq("y ~ x + z", chunksize=CHUNK, cov_type="HC1", progress=False)
    assert np.array_equal(robust.bse, plain.bse)


def test_glm_one_bar_per_iteration(capsys, frame):
    fit, bars = _run(
        capsys, lambda: frame.ooc.glm("c ~ x", "poisson", chunksize=CHUNK, progress=True)
    )
    _check(bars, "GLM: start")
    iterations = sorted(int(k.split()[-1]) for k in bars if k.startswith("IRLS iteration"))
    assert iterations == list(range(len(iterations))) and len(iterations) >= 3
    for k in iterations:
        _check(bars, f"IRLS iteration {k}")
    quiet = frame.ooc.glm("c ~ x", "poisson", chunksize=CHUNK, progress=False)
    assert np.array_equal(fit.params, quiet.params)
    with ooc.set_options(progress=True):  # a pass after the call: the option decides
        _, bars = _run(capsys, lambda: fit.llnull)
    _check(bars, "GLM: final pass")


def test_svd_r_and_u_passes(capsys, frame):
    design = frame.ooc.design("0 + x + z", CHUNK, progress=False)

    def run():
        res = design.svd(progress=True)
        return res, np.asarray(res.U)

    (res, u), bars = _run(capsys, run)
    _check(bars, "svd: R pass")
    _check(bars, "svd: U pass")
    quiet = design.svd(progress=False)
    assert np.array_equal(res.s, quiet.s) and np.array_equal(u, np.asarray(quiet.U))


def test_pca_fold_partial_fit_randomized_and_scores(capsys, frame):
    x = frame[["x", "z"]].to_numpy()
    pca, bars = _run(capsys, lambda: frame[["x", "z"]].ooc.pca(2, batch_size=CHUNK, progress=True))
    _check(bars, "PCA fold")
    quiet = frame[["x", "z"]].ooc.pca(2, batch_size=CHUNK, progress=False)
    assert np.array_equal(pca.components_, quiet.components_)
    with ooc.set_options(progress=True):  # the estimator follows the option
        est = ooc.IncrementalPCA(2, batch_size=CHUNK)
        _, bars = _run(capsys, lambda: est.partial_fit(x))
        _check(bars, "PCA partial_fit")
        scores, bars = _run(capsys, lambda: est.transform(x))
        _check(bars, "PCA scores")
        rnd = ooc.IncrementalPCA(1, svd_solver="randomized", batch_size=CHUNK, random_state=0)
        _, bars = _run(capsys, lambda: rnd.fit(x))
    for name in ("mean", "variances", "final pass"):
        _check(bars, f"PCA randomized: {name}")
    assert any(k.startswith("PCA randomized: pass 1 of") for k in bars)
    assert np.allclose(scores, (x - est.mean_) @ est.components_.T, rtol=1e-12, atol=1e-12)


def test_stored_scores(capsys, frame):
    design = frame.ooc.design("0 + x + z", CHUNK, progress=False)
    pca = design.pca(2, progress=False)
    with ooc.set_options(progress=True):
        scores, bars = _run(capsys, lambda: pca.transform(design))
    _check(bars, "PCA scores")
    assert scores.shape == (N, 2)


def test_read_csv_one_bar_for_the_call(capsys, frame, tmp_path):
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    size = path.stat().st_size
    ds, err = None, ""
    capsys.readouterr()
    ds = ooc.read_csv(path, tmp_path / "f.nc", chunksize=CHUNK, progress=True)
    _closed()
    err = capsys.readouterr().err
    assert "read_csv: sealing the store" in err  # the phase after the last chunk shows
    last = _bars(err)["read_csv: sealing the store"]
    total = tqdm.format_sizeof(size, divisor=1000)
    assert "100%" in last and f" {total}/{total} [" in last, last
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, [\d.]+[kM]?B/s\]", last), last
    assert ds.sizes["index"] == N


def test_off_and_auto_print_nothing(capsys, frame):
    capsys.readouterr()
    design = frame.ooc.design("y ~ x", CHUNK, progress=False)
    design.lstsq(progress=False)
    with ooc.set_options(progress=False):
        frame.ooc.lstsq("y ~ x", chunksize=CHUNK)
        frame.ooc.glm("c ~ x", "poisson", chunksize=CHUNK)
    # "auto" (the default): a fast call draws nothing
    assert ooc.get_options()["progress"] == "auto"
    design.lstsq()
    frame[["x", "z"]].ooc.pca(2)
    assert capsys.readouterr().err == ""
    _closed()
    # the call's own argument wins over the option
    with ooc.set_options(progress=False):
        design.lstsq(progress=True)
    _check(_bars(capsys.readouterr().err), "lstsq")
    with pytest.raises(ooc.ArgumentError, match="progress must be True, False or 'auto'"):
        design.lstsq(progress="yes")


def test_auto_waits_two_seconds_and_nothing_draws_after_the_call(capsys, frame):
    from ooc_accessor import progress

    for mode, delay in (("auto", 2.0), (True, 0)):
        with ooc.set_options(progress=mode), progress.task("t", 10) as bar:
            assert bar._tqdm.delay == delay
    with ooc.set_options(progress=False), progress.task("t", 10) as bar:
        assert bar._tqdm is None
    _closed()
    design = frame.ooc.design("y ~ x", CHUNK, progress=False)
    capsys.readouterr()
    design.lstsq(progress=True)
    assert "lstsq" in capsys.readouterr().err
    time.sleep(0.3)  # tqdm's monitor thread, had it a bar left, would redraw it by now
    assert capsys.readouterr().err == ""


def test_a_pass_patsy_repeats_restarts_its_bar(capsys, frame):
    """A stateful transform of the user's own: patsy's passes over the data, each named."""
    design, bars = _run(capsys, lambda: frame.ooc.design("y ~ mine(x)", CHUNK, progress=True))
    assert "design: learn, pass 2" in bars and design.n_obs == N
    _check(bars, "design: build")


class _Mine:
    def __init__(self) -> None:
        self.total, self.n = 0.0, 0

    def memorize_chunk(self, x: np.ndarray) -> None:
        self.total += float(np.sum(x))
        self.n += len(x)

    def memorize_finish(self) -> None:
        pass

    def transform(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x) - self.total / self.n


mine = stateful_transform(_Mine)


def test_closed_when_the_call_raises(capsys, frame):
    bad = frame[["x", "z"]].to_numpy().copy()
    bad[3210, 1] = np.inf  # met mid-pass, in the seventh block
    capsys.readouterr()
    with pytest.raises(ooc.DataError, match="inf"):
        frame.assign(z=bad[:, 1])[["x", "z"]].ooc.pca(2, batch_size=CHUNK, progress=True)
    _closed()
    line = _bars(capsys.readouterr().err)["PCA fold"]
    assert "3.00k/5.00k" in line  # stopped where it failed, left closed
    with pytest.raises(ooc.ConvergenceError):
        frame.ooc.glm("c ~ x", "poisson", chunksize=CHUNK, maxiter=1, progress=True)
    _closed()
    bars = _bars(capsys.readouterr().err)
    _check(bars, "IRLS iteration 1")


# -- dask.distributed -----------------------------------------------------------------------


def test_on_a_cluster(capsys, frame):
    distributed = pytest.importorskip("distributed")
    ds = xr.Dataset.from_dataframe(frame.rename_axis("obs")).chunk({"obs": CHUNK})
    field = ds[["x", "z"]].to_array("f").transpose("obs", "f")
    here = {
        "lstsq": ds.ooc.lstsq("y ~ x + z", dim="obs", chunksize=CHUNK, progress=False).params,
        "glm": ds.ooc.glm("c ~ x", "poisson", dim="obs", chunksize=CHUNK, progress=False).params,
        "pca": field.ooc.pca(2, dim="obs", progress=False).components_,
    }
    local = ds.ooc.design("y ~ x + z", CHUNK, dim="obs", progress=False).svd(progress=False)
    u_here = np.asarray(local.U) * local.s.values
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        design, bars = _run(
            capsys, lambda: ds.ooc.design("y ~ x + z", CHUNK, dim="obs", progress=True)
        )
        _check(bars, "design: learn")
        _check(bars, "design: build")
        fit, bars = _run(capsys, lambda: design.lstsq(progress=True))
        _check(bars, "lstsq")
        np.testing.assert_allclose(fit.params, here["lstsq"], rtol=1e-12)
        glm, bars = _run(
            capsys,
            lambda: ds.ooc.glm("c ~ x", "poisson", dim="obs", chunksize=CHUNK, progress=True),
        )
        _check(bars, "IRLS iteration 0")
        _check(bars, "IRLS iteration 2")
        np.testing.assert_allclose(glm.params, here["glm"], rtol=1e-12)
        pca, bars = _run(capsys, lambda: field.ooc.pca(2, dim="obs", progress=True))
        _check(bars, "PCA fold")
        np.testing.assert_allclose(pca.components_, here["pca"], rtol=1e-10)

        def svd():
            res = design.svd(progress=True)
            return res, np.asarray(res.U)

        (res, u), bars = _run(capsys, svd)
        _check(bars, "svd: R pass")
        _check(bars, "svd: U pass")
        np.testing.assert_allclose(u * res.s.values, u_here, rtol=1e-9, atol=1e-9)
        with ooc.set_options(progress=True):
            scores, bars = _run(capsys, lambda: design.pca(2).transform(design).compute())
        _check(bars, "PCA scores")
        assert scores.shape == (N, 2)


def test_stored_predictions(capsys, frame, tmp_path):
    fit = frame.ooc.lstsq("y ~ x + z", chunksize=CHUNK, progress=False)
    with ooc.set_options(progress=True):
        pred, bars = _run(capsys, lambda: fit.predict(frame, path=tmp_path / "p.nc"))
    _check(bars, "predict (stored)")
    np.testing.assert_allclose(np.asarray(pred), fit.predict(frame), rtol=1e-12)


def test_in_a_notebook(tmp_path):
    """A kernel (no ipywidgets here: tqdm's text bar) shows the bars in the cell's output,
    with no warning from tqdm about the missing widget."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np, pandas as pd, ooc_accessor as ooc\n"
            "df = pd.DataFrame({'x': np.arange(5000.0), 'y': np.arange(5000.0) % 7})\n"
            "fit = df.ooc.lstsq('y ~ x', chunksize=500, progress=True)"
        )
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute(
        cwd=str(tmp_path), env=env
    )
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    _check(_bars(text), "lstsq: build and fit")
    assert "Warning" not in text and "IProgress" not in text
