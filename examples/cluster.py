"""The same code on a dask.distributed cluster: the code of docs/guide/cluster.md.

The script writes a station table and a gridded field to a NetCDF file in a temporary
directory (standing in for a disk every worker can read), starts a ``LocalCluster`` of two
workers, one thread each, and runs unchanged ``.ooc`` calls on the file opened lazily:

1. ``ds.ooc.lstsq`` with ``path=``: the workers learn the formula's levels, build the design
   into part stores of their own, then fold its blocks into R factors; the client merges
   small factors only;
2. ``ds.ooc.pca`` of the field: each worker folds a run of blocks into one p x p factor;
3. the SVD's ``U``, written on the shared disk (``ooc.set_options(tmpdir=...)``).

It prints how many tasks each worker ran, then checks the cluster's coefficients against
numpy's ``lstsq`` of the same rows and against the same call on the local threaded scheduler.

Run: ``python examples/cluster.py`` (500,000 rows, worker processes, about a minute) or
``--small`` (20,000 rows, workers as threads of this process: seconds). Nothing is left on
disk.
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import time

import dask
import numpy as np
import xarray as xr
from dask.distributed import Client, LocalCluster, get_task_stream

import ooc_accessor as ooc

FORMULA = "t2m ~ humidity + wind + C(station)"


def write_data(path: str, n: int, seed: int = 0) -> None:
    """Hourly rows from 20 stations, and a 6 x 8 sea-surface field at each step."""
    rng = np.random.default_rng(seed)
    station = rng.integers(0, 20, size=n)
    humidity, wind = rng.uniform(20, 100, size=n), rng.gamma(2.0, 2.0, size=n)
    offset = rng.normal(10, 3, size=20)[station]
    t2m = offset - 0.05 * humidity - 0.3 * wind + rng.normal(size=n)
    modes = rng.normal(size=(3, 6 * 8))
    sst = np.empty((n, 6 * 8), dtype=np.float32)
    for a in range(0, n, 100_000):  # three modes plus noise, a slab at a time
        b = min(n, a + 100_000)
        amp = rng.normal(size=(b - a, 3)) * np.array([3.0, 2.0, 1.0])
        sst[a:b] = 15 + amp @ modes + rng.normal(scale=0.2, size=(b - a, 6 * 8))
    ds = xr.Dataset(
        {
            "t2m": ("time", t2m),
            "humidity": ("time", humidity),
            "wind": ("time", wind),
            "station": ("time", station),
            "sst": (("time", "lat", "lon"), sst.reshape(n, 6, 8)),
        },
        coords={"time": np.arange(n), "lat": np.linspace(-25, 25, 6), "lon": np.arange(8.0)},
    )
    ds.to_netcdf(path, engine="h5netcdf")


def reference_params(path: str, terms: list[str]) -> np.ndarray:
    """numpy's lstsq of the same rows, the design built by hand in patsy's column order."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        station = ds["station"].values
        cols = {"Intercept": np.ones(station.size)}
        for s in range(1, 20):  # treatment coding against station 0, as patsy
            cols[f"C(station)[T.{s}]"] = (station == s).astype(float)
        cols["humidity"], cols["wind"] = ds["humidity"].values, ds["wind"].values
        x = np.column_stack([cols[t] for t in terms])
        return np.linalg.lstsq(x, ds["t2m"].values, rcond=None)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--small", action="store_true", help="20,000 rows, thread workers")
    args = parser.parse_args()
    n = 20_000 if args.small else args.rows
    chunk = max(n // 8, 1_000)  # 8 blocks: enough for both workers to share

    with tempfile.TemporaryDirectory() as shared:  # on a real cluster: a shared filesystem
        source = os.path.join(shared, "stations.nc")
        write_data(source, n)
        # worker processes, as on a real cluster; --small keeps them in this process
        # dask's scratch space (spilled data, worker files) goes in the same directory
        dask.config.set({"temporary-directory": os.path.join(shared, "dask")})
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=not args.small,
            dashboard_address=None,
        )
        with cluster, Client(cluster) as client, ooc.set_options(tmpdir=shared):
            print(f"cluster: {len(client.scheduler_info()['workers'])} workers, 1 thread each")
            ds = xr.open_dataset(source, engine="h5netcdf", chunks={"time": chunk})

            t0 = time.perf_counter()
            with get_task_stream(client) as tasks:
                fit = ds.ooc.lstsq(FORMULA, dim="time", path=os.path.join(shared, "design.nc"))
            t1 = time.perf_counter()
            per_worker = collections.Counter(t["worker"] for t in tasks.data)
            print(f"lstsq on the cluster: {t1 - t0:.1f} s, {fit.nobs:,.0f} rows")
            print(f"  tasks per worker: {sorted(per_worker.values())}")
            print(fit.params.sel(term=["Intercept", "humidity", "wind"]).to_series().to_string())

            pca = ds.ooc.pca(3, dim="time", variables=["sst"])
            ratio = np.asarray(pca.explained_variance_ratio_)
            print(f"pca of sst: explained variance ratio {np.array2string(ratio, precision=4)}")
            print(f"  components_ dims: {dict(pca.components_.sizes)}")

            before = set(os.listdir(shared))
            svd = ds.ooc.svd("0 + humidity + wind", dim="time")
            written = sorted(set(os.listdir(shared)) - before)
            print(f"svd: s = {np.array2string(svd.s.values, precision=1)}; U {dict(svd.U.sizes)}")
            print(f"  stores written to the shared tmpdir: {len(written)}")
            cluster_params = fit.params.values.copy()
            terms = list(fit.params["term"].values)
            del fit, pca, svd
            ds.close()

        # the same call without a cluster: dask's local threaded scheduler
        with xr.open_dataset(source, engine="h5netcdf", chunks={"time": chunk}) as ds:
            local = ds.ooc.lstsq(FORMULA, dim="time").params.values
        diff = np.max(np.abs(cluster_params - local))
        print(f"cluster vs local scheduler: max abs difference {diff:.1e}")
        ref = reference_params(source, terms)
        err = np.max(np.abs(cluster_params - ref) / np.maximum(np.abs(ref), 1.0))
        print(f"params vs numpy lstsq: max relative error {err:.1e}")
        if not (err < 1e-9 and diff < 1e-9):
            raise SystemExit(f"cluster params differ: {err:.1e} from numpy, {diff:.1e} locally")
    print("OK: cluster")


if __name__ == "__main__":
    main()
