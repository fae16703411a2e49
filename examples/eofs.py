"""EOFs of a gridded field on NetCDF, with latitude weighting (docs/guide/eofs.md, end to end).

A synthetic sea-surface-temperature field on (time, lat, lon) -- two known patterns (an
ENSO-like warm bump in the tropical Pacific and a north-south dipole) with their own time
series, plus noise, and a rectangle of land -- is written to a chunked NetCDF file in a
temporary directory, opened lazily with dask chunks along time, and decomposed out of core:

1. ``ds.ooc.pca(..., dim="time", weights=np.sqrt(np.cos(np.deg2rad(ds.lat))))``: each
   grid cell counts by its area (xeofs' convention), land is dropped by itself;
2. the explained variance, the EOFs as maps (``components_``, and ``pca.plot.components()``
   when matplotlib is there), the principal-component time series (``transform``), checked
   against the patterns' true time series;
3. the time and peak memory it took.

Run: ``python examples/eofs.py`` (10 years of daily 5-degree fields, 36 MB of float32, a
few seconds; ``--days N`` for more), or ``python examples/eofs.py --small`` (tiny, for the
tests). Nothing is left on disk.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time

import numpy as np
import xarray as xr

import ooc_accessor as ooc  # noqa: F401 - registers the .ooc accessor

PATTERNS = ("ENSO-like", "dipole")


def make_field(n_time: int, step: float, seed: int = 0) -> tuple[xr.Dataset, np.ndarray]:
    """An SST field (float32, NaN over land) and the true time series of its two patterns."""
    rng = np.random.default_rng(seed)
    lat = np.arange(-90 + step / 2, 90, step)
    lon = np.arange(0, 360, step)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    enso = np.exp(-((la / 15) ** 2) - ((lo - 220) / 50) ** 2)  # tropical Pacific bump
    dipole = np.sin(np.deg2rad(la)) * np.cos(np.deg2rad(la)) * 2  # north vs south
    t = np.arange(n_time)
    series = np.stack(
        [
            4.0 * np.sin(2 * np.pi * t / (n_time / 2.7)) + 0.3 * rng.standard_normal(n_time),
            1.0 * np.sin(2 * np.pi * t / (n_time / 9) + 1.0) + 0.2 * rng.standard_normal(n_time),
        ]
    )
    sst = (
        15.0
        + 12.0 * np.cos(np.deg2rad(la))
        + series[0][:, None, None] * enso
        + series[1][:, None, None] * dipole
        + 0.3 * rng.standard_normal((n_time, lat.size, lon.size))
    ).astype(np.float32)
    land = (np.abs(la - 30) < 20) & (np.abs(lo - 60) < 40)
    sst[:, land] = np.nan
    time_coord = np.datetime64("2000-01-01") + t.astype("timedelta64[D]")
    ds = xr.Dataset(
        {"sst": (("time", "lat", "lon"), sst, {"units": "degC"})},
        coords={"time": time_coord, "lat": lat, "lon": lon},
    )
    return ds, series


def rss_anon_mb() -> float:
    """This process's anonymous resident memory (heap, not file pages), in MB (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class PeakMemory:
    """Samples :func:`rss_anon_mb` every 5 ms in a thread and keeps the largest growth."""

    def __init__(self) -> None:
        self.start = self.peak = rss_anon_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_anon_mb())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> float:
        return self.peak - self.start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny sizes (for the tests)")
    parser.add_argument("--days", type=int, default=3650, help="time steps (default 3650)")
    args = parser.parse_args(argv)
    n_time, step, chunk = (240, 15.0, 120) if args.small else (args.days, 5.0, 365)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sst.nc")
        field, series = make_field(n_time, step)
        field.to_netcdf(
            path, engine="h5netcdf", encoding={"sst": {"chunksizes": (chunk, *field.sst.shape[1:])}}
        )
        size_mb = os.path.getsize(path) / 2**20
        n_cells = field.sst.isel(time=0).size
        del field  # from here on the data lives on disk only

        # -- the guide's code -------------------------------------------------------------
        ds = xr.open_dataset(path, engine="h5netcdf", chunks={"time": chunk})
        weights = np.sqrt(np.cos(np.deg2rad(ds.lat)))  # area weighting, over "lat"
        start, cpu = time.perf_counter(), time.process_time()
        with PeakMemory() as mem:
            pca = ds.ooc.pca(n_components=2, dim="time", variables=["sst"], weights=weights)
        fit_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        print(f"field: {dict(ds.sizes)}, {size_mb:.1f} MB on disk, chunks of {chunk} days")
        print(
            f"fitted in {fit_s:.2f} s ({cpu_s:.2f} s of CPU) with the {pca.svd_solver_!r} solver: "
            f"{pca.n_features_in_} ocean cells (land dropped), {pca.n_samples_seen_} days"
        )
        ratio = pca.explained_variance_ratio_
        print("explained variance ratio:", np.round(ratio.values, 3))

        eofs = pca.components_  # DataArray (component, lat, lon), NaN over land
        top = eofs.sel(component=0)
        peak = top.where(np.abs(top) == np.abs(top).max(), drop=True)
        print(
            f"EOF 0 peaks at lat={float(peak.lat[0]):.1f}, lon={float(peak.lon[0]):.1f}; "
            f"land is NaN: {bool(eofs.isel(component=0).isnull().any())}"
        )
        pcs = pca.transform(ds).compute()  # (time, component), lazy until computed
        for k in range(2):  # each leading PC is one planted pattern's time series
            r = [abs(np.corrcoef(pcs.sel(component=k), s)[0, 1]) for s in series]
            best = int(np.argmax(r))
            print(f"PC {k} is the {PATTERNS[best]} pattern's series: |correlation| {r[best]:.3f}")
        recon = pca.inverse_transform(pcs.isel(time=slice(0, 3)))  # back on (time, lat, lon)
        print(f"reconstructed the first 3 days from 2 EOFs: dims {recon.dims}")

        if hasattr(pca, "plot"):  # the plots (matplotlib) are optional
            import matplotlib

            matplotlib.use("Agg")  # draw to a file, never to a window
            axes = pca.plot.components()
            np.ravel(axes)[0].figure.savefig(os.path.join(tmp, "eofs.png"))
            print("drew the EOF maps with pca.plot.components()")
        ds.close()
        print(
            f"memory: the fit grew this process by {mem.growth:.0f} MB at its peak "
            f"(the field is {n_cells * n_time * 8 / 2**20:.0f} MB as float64)"
        )


if __name__ == "__main__":
    main()
