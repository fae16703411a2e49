"""Step 9's adversary, options, temporary stores and progress: breaks found and fixed.

- overlapping ``with ooc.set_options`` blocks in two threads left one block's value set for
  good (each block now removes its own values, whatever order blocks end in);
- a streamed fit made inside ``with set_options(tmpdir=D)`` wrote its design, asked for
  after the block, to the system's temporary directory (the directory is decided at the fit);
- a relative ``$OOC_ACCESSOR_TMPDIR`` was resolved at each later write (now: when read);
- a temporary design built on a cluster wrote its parts (every row) world-readable;
- ``progress="auto"`` drew bars for passes of hundredths of a second (a new description or a
  restarted pass drew at once, ignoring the 2 s delay).
"""

from __future__ import annotations

import os
import stat
import threading

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ooc_accessor as ooc

DEFAULTS = {"chunk_memory": 16 * 2**20, "tmpdir": None, "progress": "auto"}


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    df = pd.DataFrame(rng.standard_normal((600, 2)), columns=["x", "z"])
    df["y"] = 1 + df.x - 2 * df.z + rng.standard_normal(600)
    return df


@pytest.mark.parametrize("a_leaves_first", [True, False])
def test_overlapping_blocks_in_threads_leave_nothing(a_leaves_first: bool) -> None:
    a_in, b_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def a() -> None:
        with ooc.set_options(chunk_memory="64MiB", progress=False):
            a_in.set()
            b_in.wait()
            if not a_leaves_first:
                first_out.wait()
        if a_leaves_first:
            first_out.set()

    def b() -> None:
        a_in.wait()
        with ooc.set_options(chunk_memory="1MiB"):
            b_in.set()
            if a_leaves_first:
                first_out.wait()
                seen["b"] = ooc.get_options()["chunk_memory"]
        if not a_leaves_first:
            first_out.set()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert ooc.get_options() == DEFAULTS
    if a_leaves_first:
        assert seen["b"] == 2**20  # B's own block is still in force after A's ended


def test_blocks_ended_out_of_order_leave_nothing() -> None:
    a = ooc.set_options(progress=False)
    b = ooc.set_options(progress=True, chunk_memory="1MiB")
    a.__exit__(None, None, None)
    assert ooc.get_options()["progress"] is True
    b.__exit__(None, None, None)
    assert ooc.get_options() == DEFAULTS


def test_a_plain_call_stays_until_set_back(tmp_path) -> None:
    ooc.set_options(progress=False)
    with ooc.set_options(progress=True):
        assert ooc.get_options()["progress"] is True
    assert ooc.get_options()["progress"] is False
    ooc.set_options(progress="auto")
    assert ooc.get_options() == DEFAULTS


@pytest.mark.parametrize("kind", ["frame", "dataset"])
def test_deferred_design_goes_to_the_fit_time_tmpdir(frame, tmp_path, kind) -> None:
    place = tmp_path / "scratch"
    place.mkdir()
    data = frame if kind == "frame" else xr.Dataset.from_dataframe(frame).chunk({"index": 100})
    extra = {} if kind == "frame" else {"dim": "index"}
    with ooc.set_options(tmpdir=place):
        fit = data.ooc.lstsq("y ~ x + z", **extra)
        assert os.listdir(place) == []  # a streamed fit writes nothing
    resid = np.asarray(fit.resid)
    written = os.listdir(place)
    assert len(written) == 1 and written[0].startswith("ooc-design-")
    expected = frame.y - np.column_stack([np.ones(600), frame.x, frame.z]) @ fit.params.values
    np.testing.assert_allclose(resid, expected, rtol=1e-10, atol=1e-10)


def test_relative_environment_tmpdir_is_resolved_when_read(frame, tmp_path, monkeypatch) -> None:
    (tmp_path / "rel").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OOC_ACCESSOR_TMPDIR", "rel")
    fit = frame.ooc.lstsq("y ~ x")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert np.isfinite(np.asarray(fit.resid)).all()
    assert len(os.listdir(tmp_path / "rel")) == 1
    assert os.listdir(tmp_path / "elsewhere") == []


def test_cluster_parts_of_a_temporary_design_are_private(frame, tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    old = os.umask(0o022)
    try:
        ds = xr.Dataset.from_dataframe(frame).chunk({"index": 100})
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
            ) as cluster,
            distributed.Client(cluster),
            ooc.set_options(tmpdir=tmp_path),
        ):
            design = ds.ooc.design("y ~ x + z", 100, dim="index")
            fit = design.lstsq()
            modes = {
                os.path.relpath(os.path.join(root, name), tmp_path): stat.S_IMODE(
                    os.stat(os.path.join(root, name)).st_mode
                )
                for root, dirs, files in os.walk(tmp_path)
                for name in dirs + files
            }
    finally:
        os.umask(old)
    parts = [p for p in modes if ".parts-" in p and p.endswith(".nc")]
    assert parts, modes  # the cluster built the design in parts
    dirs = {os.path.dirname(p) for p in parts}
    assert dirs and all(modes[d] == 0o700 for d in dirs), modes
    assert all(modes[p] & 0o077 == 0 for p in parts), modes
    assert np.isfinite(fit.params.values).all()


def test_a_kept_designs_parts_follow_the_umask(frame, tmp_path) -> None:
    distributed = pytest.importorskip("distributed")
    old = os.umask(0o027)
    try:
        ds = xr.Dataset.from_dataframe(frame).chunk({"index": 100})
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
            ) as cluster,
            distributed.Client(cluster),
        ):
            ds.ooc.design("y ~ x", 100, tmp_path / "kept.nc", dim="index")
    finally:
        os.umask(old)
    (parts,) = [p for p in os.listdir(tmp_path) if ".parts-" in p]
    assert stat.S_IMODE(os.stat(tmp_path / parts).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(tmp_path / "kept.nc").st_mode) == 0o640


def test_auto_progress_draws_nothing_for_quick_calls(frame, tmp_path, capfd) -> None:
    frame.to_csv(tmp_path / "f.csv", index=False)
    capfd.readouterr()
    ooc.read_csv(tmp_path / "f.csv")
    frame.ooc.lstsq("y ~ bs(x, df=4) + z")
    out = capfd.readouterr()
    assert out.err == "" and out.out == ""
