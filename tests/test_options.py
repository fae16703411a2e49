"""``ooc.set_options``: checked values, restored after a ``with`` block (also on an error),
``chunk_memory`` sizing ``chunksize="auto"`` without changing answers, ``tmpdir`` placing every
temporary store."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import ooc_accessor as ooc


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 6000
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    df["g"] = pd.Categorical(rng.choice(["a", "b", "c"], n))
    df["y"] = 1 + 2 * df.x - df.z + rng.normal(size=n)
    df["k"] = rng.poisson(np.exp(0.3 + 0.2 * df.x))
    return df


def test_defaults_and_restore() -> None:
    before = ooc.get_options()
    assert before == {"chunk_memory": 16 * 2**20, "tmpdir": None, "progress": "auto"}
    with ooc.set_options(chunk_memory="1MiB", progress=False) as opts:
        assert isinstance(opts, ooc.set_options)
        assert ooc.get_options()["chunk_memory"] == 2**20
        assert ooc.get_options()["progress"] is False
    assert ooc.get_options() == before


def test_restored_when_the_block_raises() -> None:
    before = ooc.get_options()
    with pytest.raises(KeyError), ooc.set_options(chunk_memory=2**20):
        raise KeyError("boom")
    assert ooc.get_options() == before


def test_nested_blocks_restore_in_order() -> None:
    with ooc.set_options(chunk_memory="1MiB"):
        with ooc.set_options(chunk_memory="2MiB"):
            assert ooc.get_options()["chunk_memory"] == 2 * 2**20
        assert ooc.get_options()["chunk_memory"] == 2**20
    assert ooc.get_options()["chunk_memory"] == 16 * 2**20


def test_get_options_is_a_copy() -> None:
    ooc.get_options()["chunk_memory"] = 1
    assert ooc.get_options()["chunk_memory"] == 16 * 2**20


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"chunk_memory": "lots"}, ooc.ArgumentError, "chunk_memory='lots'"),
        ({"chunk_memory": 10}, ooc.ArgumentError, "below"),
        ({"chunk_memory": True}, ooc.ArgumentTypeError, "chunk_memory"),
        ({"chunk_memory": 2.5e6}, ooc.ArgumentTypeError, "chunk_memory"),
        ({"tmpdir": "/no/such/directory/here"}, ooc.ArgumentError, "not an existing directory"),
        ({"tmpdir": 3}, ooc.ArgumentTypeError, "tmpdir"),
        ({"progress": "yes"}, ooc.ArgumentError, "progress"),
        ({"chunk_size": "1MB"}, ooc.ArgumentError, "unknown option"),
    ],
)
def test_bad_values_are_refused(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ooc.set_options(**kwargs)
    assert ooc.get_options()["chunk_memory"] == 16 * 2**20


def test_one_bad_value_sets_nothing(tmp_path) -> None:
    before = ooc.get_options()
    with pytest.raises(ooc.ArgumentError):
        ooc.set_options(tmpdir=str(tmp_path), progress="sometimes")
    assert ooc.get_options() == before


def test_set_without_with_is_global(tmp_path) -> None:
    try:
        ooc.set_options(tmpdir=tmp_path)
        assert ooc.get_options()["tmpdir"] == str(tmp_path)
    finally:
        ooc.set_options(tmpdir=None)
    assert ooc.get_options()["tmpdir"] is None


def test_chunk_memory_sizes_auto_blocks_not_answers(frame: pd.DataFrame, tmp_path) -> None:
    whole = frame.ooc.design("y ~ x + z + C(g)", path=tmp_path / "whole.nc")
    with ooc.set_options(chunk_memory="64kiB"):
        small = frame.ooc.design("y ~ x + z + C(g)", path=tmp_path / "small.nc")
    assert len(whole.blocks()) == 1
    # 64 KiB of 6 float64 columns (1, b, c, x, z and y): ~1365 rows, floored at 1024
    assert len(small.blocks()) > 1
    assert max(b - a for a, b in small.blocks()) <= 64 * 2**10 // 8
    fw, fs = whole.lstsq(), small.lstsq()
    np.testing.assert_allclose(fs.params.values, fw.params.values, rtol=1e-12)
    np.testing.assert_allclose(fs.bse.values, fw.bse.values, rtol=1e-12)


def test_chunk_memory_sizes_read_csv_chunks(frame: pd.DataFrame, tmp_path) -> None:
    csv = tmp_path / "f.csv"
    frame[["x", "z", "y"]].to_csv(csv, index=False)
    big = ooc.read_csv(csv, path=tmp_path / "big.nc")
    with ooc.set_options(chunk_memory="64kiB"):
        small = ooc.read_csv(csv, path=tmp_path / "small.nc")
    n_big = len(next(iter(big.chunks.values())))
    n_small = len(next(iter(small.chunks.values())))
    assert n_small > n_big
    xr.testing.assert_equal(big.load(), small.load())


def test_tmpdir_holds_every_temporary_store(frame: pd.DataFrame, tmp_path) -> None:
    place = tmp_path / "scratch"
    place.mkdir()
    with ooc.set_options(tmpdir=place):
        svd = frame.ooc.svd("0 + x + z")
        u = svd.U
        glm = frame.ooc.glm("k ~ x", family="poisson")
        resid = frame.ooc.lstsq("y ~ x + z").resid
        made = sorted(os.listdir(place))
    # the SVD's design and U, the GLM's design, the residuals' design
    assert len(made) >= 4
    assert all(name.startswith("ooc-") and name.endswith(".nc") for name in made)
    assert u.shape == (len(frame), 2)
    assert np.isfinite(glm.params.values).all()
    np.testing.assert_allclose(float(resid.sum().compute()), 0.0, atol=1e-8)


def test_explicit_environment_tmpdir_is_second(frame: pd.DataFrame, tmp_path, monkeypatch) -> None:
    env, opt = tmp_path / "env", tmp_path / "opt"
    env.mkdir()
    opt.mkdir()
    monkeypatch.setenv("OOC_ACCESSOR_TMPDIR", str(env))
    svd = frame.ooc.svd("0 + x + z")
    assert svd.U.shape[0] == len(frame)
    assert os.listdir(env) and not os.listdir(opt)
    with ooc.set_options(tmpdir=opt):
        svd2 = frame.ooc.svd("0 + x + z")
        assert svd2.U.shape[0] == len(frame)
    assert os.listdir(opt)
