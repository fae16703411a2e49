"""A design built on a dask.distributed cluster without the client reading a row.

The learn pass runs on the workers (merged states equal patsy's ``dmatrices`` on the whole
frame), the workers write part stores, and the store is assembled over them (HDF5 virtual
datasets): a part removed or replaced under it is refused naming the part, the pair can be
moved and opened from anywhere, temporaries and rebuilds remove their parts, and the
client's I/O does not grow with the rows.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pandas as pd
import patsy
import pytest
import xarray as xr

import ooc_accessor as ooc
from ooc_accessor.assemble import parts_dir_of
from ooc_accessor.manifest import seal

distributed = pytest.importorskip("distributed")

FORMULA = "y ~ a + center(b) + standardize(c) + scale(w) + C(g, Sum) + C(h):a + np.log(w)"


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as cl,
    ):
        yield cl


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(3, 2, size=n),
            "c": rng.uniform(-1, 5, size=n),
            "w": rng.uniform(0.5, 2, size=n),
            "g": rng.choice(["m", "k", "b"], size=n),
            "h": rng.choice(["x", "y"], size=n),
        }
    )
    df.loc[int(0.9 * n) :, "g"] = "zz"  # a level seen only in the last worker's blocks
    df["y"] = 1 + df.a - 0.5 * df.b + rng.normal(size=n)
    df.loc[7, "y"] = np.nan  # a dropped row
    return df.rename_axis("row")


def _dataset(df: pd.DataFrame, chunk: int) -> xr.Dataset:
    return xr.Dataset.from_dataframe(df).chunk({"row": chunk})


def _tasks(client, fn) -> tuple[object, set[str]]:
    with distributed.get_task_stream(client) as stream:
        out = fn()
    return out, {str(t["key"]).strip("('").split("-")[0] for t in stream.data}


@pytest.fixture(scope="module")
def built(client, tmp_path_factory):
    """One assembled store (and the frame it came from), built once for the module."""
    d = tmp_path_factory.mktemp("built")
    df = _frame(3000)
    _, ran = _tasks(
        client,
        lambda: _dataset(df, 250).ooc.design(FORMULA, dim="row", chunksize=170, path=d / "s.nc"),
    )
    return df, d / "s.nc", ran


def _copy(built, tmp_path) -> str:
    """The built store and its parts directory copied to ``tmp_path``."""
    _, path, _ = built
    for name in os.listdir(path.parent):
        src = path.parent / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp_path / name)
    return str(tmp_path / "s.nc")


def _parts(path) -> list[str]:
    full = parts_dir_of(str(path))  # the directory the store names
    return sorted(os.path.join(full, n) for n in os.listdir(full) if n.startswith("part-"))


# -- the learn pass and the columns --------------------------------------------------------
def test_learned_on_the_workers_equals_patsy_on_the_whole_frame(built):
    df, path, ran = built
    assert {"learn_part", "build_part"} <= ran, ran
    y, x = patsy.dmatrices(FORMULA, df, return_type="dataframe")
    design = ooc.open_design(path)
    assert design.terms == list(x.columns)  # C(g, Sum) with 'zz' from the last blocks
    np.testing.assert_allclose(design.X.values, x.to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(design.y.values, y.to_numpy().ravel())
    np.testing.assert_array_equal(design.obs, x.index)
    assert design.n_dropped == 1


@pytest.mark.parametrize("chunk", [1, 37, 3000])
def test_chunking_does_not_change_the_columns(client, chunk):
    df = _frame(600, seed=1)
    ds = _dataset(df, max(chunk, 60))
    got = ds.ooc.design(FORMULA, dim="row", chunksize=chunk)
    _, x = patsy.dmatrices(FORMULA, df, return_type="dataframe")
    assert got.terms == list(x.columns)
    np.testing.assert_allclose(got.X.values, x.to_numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ C(i) + C(flag) + C(g, Treatment('m')) + C(h, levels=['y', 'x'])",
        "y ~ 0 + C(g, Helmert):C(h) + C(i, Poly) + standardize(np.log(w))",
        "y ~ C(g, Sum):c + I(a * 2) + center(a):C(flag)",
    ],
)
def test_codings_and_kinds_equal_patsy(client, formula):
    df = _frame(900, seed=4)
    df["i"] = (df.a * 2).round().clip(-2, 2).astype(int)  # ints, sniffed and sorted
    df["flag"] = df.b > 3  # bools
    got, ran = _tasks(client, lambda: _dataset(df, 150).ooc.design(formula, dim="row"))
    assert "learn_part" in ran, ran
    _, x = patsy.dmatrices(formula, df, return_type="dataframe")
    assert got.terms == list(x.columns)
    np.testing.assert_allclose(got.X.values, x.to_numpy(), rtol=1e-12, atol=1e-12)


def test_a_users_file_at_the_target_is_refused_before_any_work(client, tmp_path):
    target = tmp_path / "mine.nc"
    target.write_bytes(b"the user's own data")
    with pytest.raises(ooc.StoreError, match=r"mine\.nc"):
        _dataset(_frame(600), 100).ooc.design(FORMULA, dim="row", path=target)
    assert os.listdir(tmp_path) == ["mine.nc"]
    assert target.read_bytes() == b"the user's own data"


def test_unmergeable_state_is_learned_on_the_client(client):
    df = _frame(600, seed=2)
    formula = "y ~ center(standardize(b)) + a"  # nested transforms: two passes
    got, ran = _tasks(client, lambda: _dataset(df, 100).ooc.design(formula, dim="row"))
    assert "learn_part" not in ran
    _, x = patsy.dmatrices(formula, df, return_type="dataframe")
    np.testing.assert_allclose(got.X.values, x.to_numpy(), rtol=1e-12, atol=1e-12)


# -- the assembled store ----------------------------------------------------------------
def test_fits_equal_a_single_file_store(built, client):
    df, path, _ = built
    design = ooc.open_design(path)
    single = df.ooc.design(FORMULA, chunksize=170)  # a single file, built here
    assert single.path != design.path and "parts" not in h5py.File(single.path).attrs
    fit, ref = design.lstsq(), single.lstsq()
    np.testing.assert_allclose(fit.params.to_numpy(), ref.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(fit.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-10)
    svd = design.svd(3)
    np.testing.assert_allclose(svd.s.values, single.svd(3).s.values, rtol=1e-10)
    # every block is one chunk of one part
    bounds = np.cumsum([0] + [h5py.File(p)["X"].shape[0] for p in _parts(path)])
    assert all(
        np.searchsorted(bounds, a, "right") == np.searchsorted(bounds, b - 1, "right")
        for a, b in design.blocks()
    )


def test_any_hdf5_reader_sees_one_store(built):
    df, path, _ = built
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds.X.shape == (len(df) - 1, len(ooc.open_design(path).terms))
        np.testing.assert_array_equal(ds.X.values, ooc.open_design(path).X.values)


def test_moved_with_its_parts_and_opened_from_elsewhere(built, tmp_path):
    os.mkdir(tmp_path / "a")
    src = _copy(built, tmp_path / "a")
    os.rename(tmp_path / "a", tmp_path / "b")  # the store and its parts directory, together
    moved = str(tmp_path / "b" / "s.nc")
    code = textwrap.dedent(
        f"""
        import ooc_accessor as ooc
        d = ooc.open_design({moved!r})
        print(float(d.X.values.sum()))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True
    )
    ref = ooc.open_design(built[1]).X.values.sum()
    assert float(out.stdout) == pytest.approx(ref, rel=1e-12)
    assert not os.path.exists(src)


def test_a_removed_part_is_refused_naming_it(built, tmp_path):
    path = _copy(built, tmp_path)
    design = ooc.open_design(path)
    x = design.X
    part = _parts(path)[-1]
    os.remove(part)
    with pytest.raises(ooc.StoreNotFoundError, match=os.path.basename(part)):
        x.values  # noqa: B018
    with pytest.raises(ooc.StoreNotFoundError, match=os.path.basename(part)):
        design.lstsq()
    with pytest.raises(ooc.StoreNotFoundError, match=os.path.basename(part)):
        ooc.open_design(path)


def test_a_replaced_part_is_refused(built, client, tmp_path):
    path = _copy(built, tmp_path)
    design = ooc.open_design(path)
    df = _frame(3000, seed=5)  # another store, built alike: parts of the same shape
    other = _dataset(df, 250).ooc.design(FORMULA, dim="row", chunksize=170, path=tmp_path / "o.nc")
    part = _parts(path)[0]
    shutil.copy2(_parts(other.path)[0], part)
    with pytest.raises(ooc.StoreError, match="replaced"):
        design.X.values  # noqa: B018
    with pytest.raises(ooc.StoreError, match="replaced"):
        ooc.open_design(path, verify=False)


def test_a_damaged_part_fails_its_checksum(built, tmp_path):
    path = _copy(built, tmp_path)
    part = _parts(path)[1]
    with h5py.File(part, "r") as f:
        offset = f["X"].id.get_chunk_info(0).byte_offset
    with open(part, "r+b") as fh:
        fh.seek(offset + 11)
        byte = fh.read(1)
        fh.seek(offset + 11)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ooc.StoreError, match="part-00001"):
        ooc.open_design(path)  # verify: every value of every part
    with pytest.raises(ooc.StoreError):
        ooc.open_design(path, verify=False).lstsq()


def test_temporary_design_takes_its_parts_with_it(built, client, tmp_path, monkeypatch):
    monkeypatch.setenv("OOC_ACCESSOR_TMPDIR", str(tmp_path))
    design = _dataset(built[0], 250).ooc.design(FORMULA, dim="row", chunksize=170)
    assert any(".parts-" in n for n in os.listdir(tmp_path))
    del design
    gc.collect()
    assert os.listdir(tmp_path) == []


def test_save_moves_the_parts_and_a_rebuild_replaces_them(built, client, tmp_path, monkeypatch):
    monkeypatch.setenv("OOC_ACCESSOR_TMPDIR", str(tmp_path / "tmp"))
    os.mkdir(tmp_path / "tmp")
    ds = _dataset(built[0], 250)
    ref = ooc.open_design(built[1]).X.values
    kept = ds.ooc.design(FORMULA, dim="row", chunksize=170).save(tmp_path / "kept.nc")
    assert os.listdir(tmp_path / "tmp") == []
    np.testing.assert_array_equal(ooc.open_design(kept.path).X.values, ref)
    first = _parts(kept.path)
    ds.ooc.design(FORMULA, dim="row", chunksize=170, path=tmp_path / "kept.nc")  # rebuilt
    assert not any(os.path.exists(p) for p in first)
    assert sorted(n for n in os.listdir(tmp_path) if ".parts-" in n).__len__() == 1
    copy = ooc.open_design(kept.path).save(tmp_path / "copy.nc")  # a copy: one file
    assert "parts" not in h5py.File(copy.path).attrs
    np.testing.assert_array_equal(ooc.open_design(copy.path).X.values, ref)
    # a single-file store written over the assembled one: its parts go too
    built[0].ooc.design(FORMULA, chunksize=170, path=tmp_path / "kept.nc")
    assert [n for n in os.listdir(tmp_path) if ".parts-" in n] == []


# -- the client's traffic -----------------------------------------------------------------
def _io() -> int:
    with open("/proc/self/io") as fh:
        fields = dict(line.split(": ") for line in fh.read().splitlines())
    return int(fields["rchar"]) + int(fields["wchar"])


def client_bytes(client, tmp_path, n: int, blocks: int = 8) -> tuple[int, int]:
    """Bytes the client process read and wrote building the design of ``n`` rows from a
    file-backed Dataset (the same number of blocks at every size), and the data's bytes."""
    df = _frame(n, seed=3).drop(columns=["g", "h"]).assign(k=lambda d: d.a.round())
    source = tmp_path / f"src-{n}.nc"
    xr.Dataset.from_dataframe(df).to_netcdf(source, engine="h5netcdf")
    formula = "y ~ a + center(b) + standardize(c) + C(k) + np.log(w)"
    with xr.open_dataset(source, engine="h5netcdf", chunks={"row": n // blocks}) as ds:
        ds.ooc.design(formula, dim="row", chunksize=n // blocks, path=tmp_path / "d.nc")  # warm
        before = _io()
        ds.ooc.design(formula, dim="row", chunksize=n // blocks, path=tmp_path / "d.nc")
        used = _io() - before
    return used, os.path.getsize(source)


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="Linux's per-process I/O")
def test_client_traffic_does_not_grow_with_rows(client, tmp_path):
    small, small_data = client_bytes(client, tmp_path, 20_000)
    large, large_data = client_bytes(client, tmp_path, 80_000)
    assert large_data > 3.5 * small_data
    assert large < 1.5 * small, (small, large)
    assert large < 0.5 * large_data, (large, large_data)  # not a pass over the data


@pytest.mark.parametrize("name", ["/tmp/elsewhere.nc", "../up/part-00000.nc", "part-00000.nc"])
def test_a_crafted_part_name_is_refused(built, tmp_path, name):
    """A store is data: its parts are files in its parts directory, never another path
    (even with the manifest rewritten to match)."""
    path = _copy(built, tmp_path)
    with h5py.File(path, "r+") as f:
        table = json.loads(f.attrs["parts"])
        table[0]["file"] = name
        f.attrs["parts"] = json.dumps(table)
        del f.attrs["manifest"]
    seal(path)
    with pytest.raises(ooc.StoreError, match="not a part beside the store"):
        ooc.open_design(path, verify=False)


def test_a_failed_rebuild_leaves_the_old_store_and_its_parts(built, client, tmp_path):
    path = _copy(built, tmp_path)
    before = ooc.open_design(path).X.values
    bad = _frame(3000, seed=6)
    bad.loc[2900, "b"] = np.inf  # in the last worker's blocks
    with pytest.raises(ooc.DataError, match="infinite"):
        _dataset(bad, 250).ooc.design(FORMULA, dim="row", chunksize=170, path=path)
    assert sorted(n for n in os.listdir(tmp_path) if ".parts-" in n) == [
        os.path.basename(parts_dir_of(path))
    ]
    np.testing.assert_array_equal(ooc.open_design(path).X.values, before)
