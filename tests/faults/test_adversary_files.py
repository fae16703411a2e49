"""The user's files against an adversary (Step 6): what is taken for a store, temporaries.

A file at a target is overwritten only when provably one of this library's stores (the
mark in its user block, or readable with the library's attributes); an HDF5 file HDF5
cannot open now (locked by a writer, damaged) and without the mark is refused.
``Design.save`` writes through the library's own exclusive, marked temporaries with the
same space checks and errors as the store writers. Stale-temporary cleanup removes only
files carrying the mark naming them. Temporary stores are private (0600), and a store
made from a user's CSV is never more widely readable than the CSV.
"""

from __future__ import annotations

import os
import resource
import socket
import stat
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pandas as pd
import pytest

import ooc_accessor as ooc
from ooc_accessor import files


def _frame(n: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n)})
    df["y"] = 1 + 2 * df.a + rng.normal(size=n)
    return df


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# -- what is taken for a store ---------------------------------------------------------------
LOCKER = textwrap.dedent(
    """
    import sys, time, h5py, numpy as np
    f = h5py.File(sys.argv[1], "w"); f["precious"] = np.arange(10.0); f.flush()
    print("ready", flush=True); time.sleep(60)
    """
)


def test_locked_user_hdf5_is_not_overwritten(tmp_path):
    user = tmp_path / "user.h5"
    csv = tmp_path / "in.csv"
    _frame().to_csv(csv, index=False)
    p = subprocess.Popen([sys.executable, "-c", LOCKER, str(user)], stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline().strip() == b"ready"
        with pytest.raises(ooc.StoreError, match=r"user\.h5'.*cannot be opened now"):
            _frame().ooc.design("y ~ a", path=user)
        with pytest.raises(ooc.CSVError, match=r"user\.h5'.*cannot be opened now"):
            ooc.read_csv(csv, user, progress=False)
        with pytest.raises(ooc.StoreError, match=r"user\.h5'.*another process"):
            _frame().ooc.design("y ~ a").save(user)
    finally:
        p.kill()
        p.wait()
    with h5py.File(user, "r") as f:
        np.testing.assert_array_equal(f["precious"][()], np.arange(10.0))
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "user.h5"]


@pytest.mark.parametrize("userblock", [0, 512, 2048])
def test_damaged_user_hdf5_is_not_overwritten(tmp_path, userblock):
    user = tmp_path / "user.h5"
    with h5py.File(user, "w", userblock_size=max(userblock, 512) if userblock else None) as f:
        f["v"] = np.arange(1000.0)
    raw = bytearray(user.read_bytes())
    del raw[userblock + 200 :]  # truncated: HDF5 cannot open it
    user.write_bytes(bytes(raw))
    with pytest.raises(ooc.StoreError, match=r"cannot be opened now.*damaged"):
        _frame().ooc.design("y ~ a", path=user)
    assert user.read_bytes() == bytes(raw)


def test_damaged_store_of_ours_is_rewritten(tmp_path):
    """Our mark survives damage to the HDF5 data: the store is rebuilt in place."""
    target = tmp_path / "d.nc"
    _frame(seed=1).ooc.design("y ~ a", path=target)
    raw = target.read_bytes()
    target.write_bytes(raw[:700])
    d = _frame(seed=2).ooc.design("y ~ a", path=target)
    np.testing.assert_allclose(d.y.values, _frame(seed=2).y.to_numpy(), rtol=1e-15)


def test_forged_mark_without_hdf5_is_not_ours(tmp_path):
    target = tmp_path / "notes.nc"
    target.write_bytes(b"ooc_accessor temporary " + b"0" * 64 + b"\nmy notes")
    assert files.store_status(str(target)) == "other"
    with pytest.raises(ooc.StoreError, match="not an ooc_accessor store"):
        _frame().ooc.design("y ~ a", path=target)


# -- Design.save ---------------------------------------------------------------------------
@pytest.mark.parametrize("kept", [False, True])
def test_save_leaves_files_of_temporary_like_names_alone(tmp_path, kept):
    notes = tmp_path / "model.nc.tmp-save"
    notes.write_text("user's notes\n")
    secret = tmp_path / "important.txt"
    secret.write_text("important\n")
    os.symlink(secret, tmp_path / "model2.nc.tmp-save")
    src = _frame().ooc.design("y ~ a", path=tmp_path / "k.nc" if kept else None)
    src.save(tmp_path / "model.nc")
    src2 = _frame(seed=3).ooc.design("y ~ a", path=tmp_path / "k2.nc" if kept else None)
    src2.save(tmp_path / "model2.nc")
    assert notes.read_text() == "user's notes\n"
    assert secret.read_text() == "important\n"
    for name, seed in (("model.nc", 0), ("model2.nc", 3)):
        d = ooc.open_design(tmp_path / name)
        np.testing.assert_allclose(d.y.values, _frame(seed=seed).y.to_numpy(), rtol=1e-15)
    left = {"model.nc.tmp-save", "important.txt", "model2.nc.tmp-save", "model.nc", "model2.nc"}
    if kept:
        left |= {"k.nc", "k2.nc"}
    assert set(os.listdir(tmp_path)) == left


def test_create_temp_is_exclusive(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("x")
    tmp = files.temp_path(str(tmp_path / "s.nc"))
    os.symlink(victim, tmp)
    with pytest.raises(FileExistsError):
        files.create_temp(tmp)
    assert victim.read_text() == "x"


SAVE_FULL = textwrap.dedent(
    """
    import os, resource, signal, sys, warnings
    import numpy as np, pandas as pd
    import ooc_accessor as ooc
    d = ooc.open_design(sys.argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = os.path.getsize(sys.argv[1]) // 2
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    try:
        d.save(sys.argv[2])
    except ooc.StoreError as e:
        print("StoreError", e)
    """
)


def test_save_on_a_full_disk(tmp_path):
    kept = tmp_path / "kept.nc"
    _frame(n=20000).ooc.design("y ~ a", path=kept)
    before = kept.read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", SAVE_FULL, str(kept), str(tmp_path / "copy.nc")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("StoreError"), out.stdout + out.stderr
    assert "copy.nc" in out.stdout and "file-size limit" in out.stdout
    assert os.listdir(tmp_path) == ["kept.nc"]
    assert kept.read_bytes() == before
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] == resource.RLIM_INFINITY


# -- stale temporaries -------------------------------------------------------------------------
def test_stale_cleanup_keeps_unmarked_lookalikes(tmp_path):
    pid, host = _dead_pid(), socket.gethostname()
    empty = tmp_path / f".d.nc.tmp-abc-{pid}@{host}"
    empty.write_bytes(b"")
    h5 = tmp_path / f".d.nc.tmp-abd-{pid}@{host}"
    with h5py.File(h5, "w", userblock_size=512) as f:  # a user block of zeros
        f["keep"] = np.arange(5.0)
    ours = tmp_path / f".d.nc.tmp-abe-{pid}@{host}"
    files.create_temp(str(ours))  # killed right after creating its temporary
    _frame().ooc.design("y ~ a", path=tmp_path / "d.nc")
    assert sorted(os.listdir(tmp_path)) == sorted(["d.nc", empty.name, h5.name])
    with h5py.File(h5, "r") as f:
        np.testing.assert_array_equal(f["keep"][()], np.arange(5.0))


# -- modes ---------------------------------------------------------------------------------
def test_temporary_stores_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        csv = tmp_path / "in.csv"
        _frame().to_csv(csv, index=False)
        d = _frame().ooc.design("y ~ a")
        ds = ooc.read_csv(csv, progress=False)
        paths = [d.path, ds["y"].encoding["source"]]
    finally:
        os.umask(old)
    for p in paths:
        assert _mode(p) == 0o600, p
    np.testing.assert_allclose(ds["y"].values, _frame().y.to_numpy(), rtol=1e-15)


@pytest.mark.parametrize(
    "csv_mode,umask,want",
    [(0o600, 0o022, 0o600), (0o640, 0o002, 0o640), (0o664, 0o077, 0o600), (0o644, 0o022, 0o644)],
)
def test_read_csv_store_no_wider_than_its_csv(tmp_path, csv_mode, umask, want):
    csv = tmp_path / "in.csv"
    _frame().to_csv(csv, index=False)
    os.chmod(csv, csv_mode)
    old = os.umask(umask)
    try:
        ooc.read_csv(csv, tmp_path / "s.nc", progress=False)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "s.nc") == want


def test_save_of_a_temporary_store_gets_the_umask_mode(tmp_path):
    old = os.umask(0o027)
    try:
        _frame().ooc.design("y ~ a").save(tmp_path / "m.nc")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "m.nc") == 0o640


# -- CSV integers of every width, dates of every unit ----------------------------------------
BIG = [18446744073709551615, 9223372036854775808, 1, 0, 12345678901234567890]


@pytest.mark.parametrize("chunksize", [1, 2, 3, 100])
@pytest.mark.parametrize("first_small", [False, True])
def test_csv_uint64_round_trips(tmp_path, chunksize, first_small):
    import xarray as xr

    ids = ([5, 7, 9] if first_small else []) + BIG
    csv = tmp_path / "u.csv"
    csv.write_text("id,v\n" + "".join(f"{i},{k}\n" for k, i in enumerate(ids)))
    whole = pd.read_csv(csv)
    assert whole["id"].dtype == np.uint64
    out = tmp_path / "u.nc"
    ds = ooc.read_csv(csv, out, chunksize=chunksize, progress=False)
    assert ds["id"].dtype == np.uint64
    assert ds["id"].values.tolist() == ids
    assert ooc.open_csv_store(out)["id"].values.tolist() == ids
    with xr.open_dataset(out, engine="h5netcdf") as raw:
        assert raw["id"].values.tolist() == ids


def test_csv_uint64_beside_negative_ints_is_refused(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("id\n-1\n18446744073709551615\n")
    with pytest.raises(ooc.CSVError, match=r"'id'.*more than 64 bits.*dtype="):
        ooc.read_csv(csv, tmp_path / "m.nc", chunksize=1, progress=False)
    assert not (tmp_path / "m.nc").exists()


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "uint64"])
def test_csv_integer_width_kept_and_fit(tmp_path, dtype):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 100, size=25)
    df = pd.DataFrame({"x": x, "y": 3.0 + 0.5 * x + rng.normal(size=25)})
    csv = tmp_path / "w.csv"
    df.to_csv(csv, index=False)
    ds = ooc.read_csv(csv, tmp_path / "w.nc", chunksize=7, dtype={"x": dtype}, progress=False)
    assert ds["x"].dtype == np.dtype(dtype)
    np.testing.assert_array_equal(ds["x"].values, x)
    fit = ds.ooc.design("y ~ x", chunksize=4).lstsq()
    a = np.column_stack([np.ones(25), x.astype(float)])
    ref = np.linalg.lstsq(a, df.y.to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(np.asarray(fit.params).ravel(), ref, rtol=1e-10)


@pytest.mark.parametrize("chunksize", [1, 2, 100])
def test_csv_integers_beyond_64_bits_refused(tmp_path, chunksize):
    csv = tmp_path / "b.csv"
    csv.write_text("v,a\n1,5\n2,-9223372036854775809\n")
    with pytest.raises(ooc.CSVError, match=r"'a'.*-9223372036854775809.*data row 1.*float"):
        ooc.read_csv(csv, tmp_path / "b.nc", chunksize=chunksize, progress=False)
    # as text when asked: exact
    ds = ooc.read_csv(csv, tmp_path / "b.nc", dtype={"a": str}, progress=False)
    assert ds["a"].values.tolist() == ["5", "-9223372036854775809"]


DATES = ["1500-01-01", "2000-01-01", "2300-06-30", "1677-09-21", "2262-04-12"]


@pytest.mark.parametrize("chunksize", [1, 2, 100])
@pytest.mark.parametrize("as_index", [False, True])
def test_csv_dates_outside_nanoseconds_round_trip(tmp_path, chunksize, as_index):
    import xarray as xr

    csv = tmp_path / "d.csv"
    csv.write_text("d,v\n" + "".join(f"{d},{k}\n" for k, d in enumerate(DATES)))
    kw = {"parse_dates": ["d"], "index_col": "d"} if as_index else {"parse_dates": ["d"]}
    whole = pd.read_csv(csv, **kw)
    out = tmp_path / "d.nc"
    ds = ooc.read_csv(csv, out, chunksize=chunksize, progress=False, **kw)
    want = list(whole.index) if as_index else whole["d"].tolist()
    got = list(ds.indexes["d"]) if as_index else list(pd.to_datetime(ds["d"].values))
    assert got == want == [pd.Timestamp(d) for d in DATES]
    again = ooc.open_csv_store(out)
    got = list(again.indexes["d"]) if as_index else list(pd.to_datetime(again["d"].values))
    assert got == want
    if not as_index:
        assert ds["d"].dtype == whole["d"].dtype
        with xr.open_dataset(out, engine="h5netcdf", decode_times=False) as raw:
            assert raw["d"].attrs["units"] == "microseconds since 1970-01-01"


# -- crafted stores: every attribute read is checked ---------------------------------------------
def _crafted(tmp_path, attrs: dict) -> str:
    import json

    from ooc_accessor import manifest

    path = str(tmp_path / "c.nc")
    df = _frame()
    df["g"] = np.array(["a", "b", "c"])[np.arange(len(df)) % 3]
    df.ooc.design("y ~ a + C(g)", path=path).close()
    with h5py.File(path, "r+") as f:
        for k, v in attrs.items():
            if callable(v):
                spec = json.loads(manifest.plain_attr(f.attrs["spec"]))
                v(spec)
                v = json.dumps(spec)
            f.attrs[k] = v
    manifest.seal(path)
    return path


def _contrast(values, dtype, shape):
    def edit(spec):
        term = next(t for t in spec["matrices"][1]["terms"] if t["term"] == ["C(g)"])
        term["subterms"][0]["contrasts"]["C(g)"]["matrix"] = {
            "__nd__": values,
            "dtype": dtype,
            "shape": shape,
        }

    return edit


@pytest.mark.parametrize(
    "attrs,match",
    [
        ({"chunk_rows": 0}, "'chunk_rows' attribute is 0"),
        ({"chunk_rows": -5}, "'chunk_rows' attribute is -5"),
        ({"chunk_rows": 2.5}, "'chunk_rows'"),
        ({"chunk_rows": "7"}, "'chunk_rows'"),
        ({"n_obs": -1}, "'n_obs'"),
        ({"n_dropped": -3}, "'n_dropped'"),
        ({"spec": "[" * 100_000 + "]" * 100_000}, "nests deeper"),
        ({"spec": '{"a": "' + "[" * 1000 + '"}'}, "spec"),  # brackets in a string: not deep
        ({"spec": _contrast([1000, 0, 0, 1000, 0, 0], "i1", [3, 2])}, "out of the range"),
        ({"spec": _contrast([1, 0, 0, 1, 0], "<f8", [3, 2])}, "for shape"),
        ({"spec": _contrast([1.5, 0, 0, 1, 0, 0], "<i8", [3, 2])}, "non-integers"),
        ({"spec": _contrast([-1, 0, 0, 1, 0, 0], "|u1", [3, 2])}, "out of the range"),
    ],
)
def test_crafted_attribute_is_a_store_error(tmp_path, attrs, match):
    path = _crafted(tmp_path, attrs)
    with pytest.raises(ooc.StoreError, match=match):
        ooc.open_design(path).lstsq()


@pytest.mark.parametrize(
    "attrs,match",
    [
        ({"chunk_rows": 0}, "'chunk_rows' attribute is 0"),
        ({"n_rows": -2}, "'n_rows'"),
        ({"columns": "[" * 50_000}, "nests deeper"),
        ({"columns": "[1, 2]"}, "not a list of names"),
    ],
)
def test_crafted_csv_store_attribute_is_a_store_error(tmp_path, attrs, match):
    from ooc_accessor import manifest

    csv = tmp_path / "in.csv"
    _frame().to_csv(csv, index=False)
    path = str(tmp_path / "s.nc")
    ooc.read_csv(csv, path, progress=False)
    with h5py.File(path, "r+") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
    manifest.seal(path)
    with pytest.raises(ooc.StoreError, match=match):
        ooc.open_csv_store(path)


# -- a sample dimension named like the store's own names ---------------------------------------
@pytest.mark.parametrize("dim", ["term", "X", "y", "response", "component", "weights", "U"])
@pytest.mark.parametrize("given", [True, False])
def test_sample_dim_with_a_reserved_name_is_refused_up_front(dim, given):
    import xarray as xr

    rng = np.random.default_rng(0)
    ds = xr.Dataset({"t": (dim, rng.normal(size=20)), "e": (dim, rng.normal(size=20))})
    kw = {"dim": dim} if given else {}
    with pytest.raises(ooc.ArgumentError, match=rf"named '{dim}'.*rename"):
        ds.ooc.design("t ~ e", **kw)
    with pytest.raises(ooc.ArgumentError, match=rf"named '{dim}'"):
        ds.ooc.lstsq("t ~ e", **kw)


def test_sample_dim_with_a_free_name_fits():
    import xarray as xr

    rng = np.random.default_rng(0)
    e = rng.normal(size=20)
    t = 1 + 2 * e + rng.normal(size=20)
    ds = xr.Dataset({"t": ("station", t), "e": ("station", e)})
    fit = ds.ooc.lstsq("t ~ e", dim="station")
    ref = np.linalg.lstsq(np.column_stack([np.ones(20), e]), t, rcond=None)
    np.testing.assert_allclose(
        fit.resid.values, t - np.column_stack([np.ones(20), e]) @ ref[0], rtol=1e-9, atol=1e-12
    )
    assert fit.resid.dims == ("station",)


def test_crafted_sample_dim_attribute_is_a_store_error(tmp_path):
    path = _crafted(tmp_path, {"sample_dim": "term"})
    with pytest.raises(ooc.StoreError, match="named 'term'"):
        ooc.open_design(path)


# -- damage the manifest must catch ---------------------------------------------------------
_F8 = b"\x11\x20\x3f\x00\x08\x00\x00\x00\x00\x00\x40\x00\x34\x0b\x00\x34\xff\x03\x00\x00"


@pytest.mark.parametrize("delta,bit", [(16, 0), (16, 1), (12, 0), (13, 0)])
def test_flipped_float_datatype_is_refused(tmp_path, delta, bit):
    csv = tmp_path / "f.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"y": rng.normal(size=60), "x": rng.normal(size=60)}).to_csv(csv, index=False)
    path = tmp_path / "f.nc"
    ooc.read_csv(csv, path, chunksize=20, progress=False)
    data = path.read_bytes()
    hits = [i for i in range(len(data)) if data.startswith(_F8, i)]
    assert hits
    for h in hits:
        b = bytearray(data)
        b[h + delta] ^= 1 << bit
        damaged = tmp_path / "g.nc"
        damaged.write_bytes(bytes(b))
        with pytest.raises(ooc.StoreError, match=r"HDF5 datatype changed|damaged"):
            ooc.open_csv_store(damaged).to_dataframe()


def test_undecodable_string_is_a_store_error(tmp_path):
    csv = tmp_path / "s.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "g": ["zzzzqq", "b", "c"]}).to_csv(csv, index=False)
    path = tmp_path / "s.nc"
    ooc.read_csv(csv, path, progress=False)
    data = bytearray(path.read_bytes())
    i = data.index(b"zzzzqq")
    data[i] = 0xE1  # a UTF-8 lead byte without its continuation
    path.write_bytes(bytes(data))
    with pytest.raises(ooc.StoreError, match=r"'g'.*damaged"):
        _ = ooc.open_csv_store(path)["g"].values
