"""The regression workflow, end to end, on data whose design matrix we keep out of memory.

Part 1, a DataFrame: a user's raw table has 4 numeric columns and a 5-level categorical; the
model has interactions, so its design matrix (12 columns of float64) is larger than the
table. We build the design chunk by chunk into a NetCDF file, fit it by a tall-skinny QR over
the stored blocks, print statsmodels' summary table, and print the peak memory beside the
size of the design on disk.

Part 2, a CSV that never enters pandas whole: the same kind of table written as a CSV file is
streamed into a chunked NetCDF store (``ooc.read_csv``), opened as a lazy xarray Dataset, and
fitted from there in one call (``ds.ooc.lstsq``: each block built and folded into the R
factor as it is built, nothing written); then the SVD and PCA of its numeric columns.

Run: ``python examples/quickstart.py [--rows N] [--csv-rows M]`` (5,000,000 and 1,000,000
rows by default, about a minute).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time

import numpy as np
import pandas as pd

import ooc_accessor as ooc  # registers the .ooc accessor

FORMULA = "y ~ a + b + c + d + d:c + a:b + a:c + C(cat1)"


def rss_anon_mb() -> float:
    """This process's anonymous resident memory (heap, not file pages), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakMemory:
    """Samples RssAnon every 5 ms in a thread and keeps the maximum."""

    def __init__(self) -> None:
        self.peak = rss_anon_mb()
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


def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic raw data: 4 numeric columns, a 5-level categorical, a few missing values."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.normal(size=n),
            "d": rng.normal(size=n),
            "cat1": pd.Categorical.from_codes(
                rng.integers(0, 5, size=n), ["north", "south", "east", "west", "centre"]
            ),
        }
    )
    effect = np.array([0.0, 1.0, -0.5, 0.25, 2.0])[df["cat1"].cat.codes]
    df["y"] = (
        1.0
        + 0.5 * df.a
        - 2.0 * df.b
        + 0.3 * df.c
        + df.d
        + 0.2 * df.d * df.c
        - 0.1 * df.a * df.b
        + effect
        + rng.normal(scale=2.0, size=n)
    )
    df.loc[df.sample(frac=0.001, random_state=seed).index, "b"] = np.nan  # sensor gaps
    df.index = pd.RangeIndex(10_000, 10_000 + n, name="record")
    return df


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    frame_demo(args.rows)
    csv_demo(args.csv_rows)


def frame_demo(rows: int) -> None:
    """Part 1: a DataFrame's design stored, fitted, summarized."""
    print("== Part 1: a DataFrame ==")

    df = make_data(rows)
    print(f"raw data: {len(df):,} rows, {df.memory_usage(deep=True).sum() / 1e6:.0f} MB in memory")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "design.nc")
        base = rss_anon_mb()
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            design = df.ooc.design(FORMULA, path=path)
            t1 = time.perf_counter()
            fit = design.lstsq()
            t2 = time.perf_counter()
        print(design)
        print(
            f"design stored in {t1 - t0:.1f} s, fitted in {t2 - t1:.2f} s "
            f"({len(design.blocks())} blocks of {design.chunk_rows:,} rows)\n"
        )
        print(fit.summary())
        print(f"\nrows dropped for missing values: {design.n_dropped:,}")
        print(
            f"design on disk: {os.path.getsize(path) / 1e6:.0f} MB; "
            f"peak memory growth while building and fitting it: {mem.peak - base:.0f} MB "
            f"(anonymous RSS, {mem.peak:.0f} MB in all)"
        )
        resid = fit.resid  # lazy: computed from the store block by block when asked
        print(
            f"residual standard deviation, computed lazily from the store: "
            f"{float(resid.std()):.4f} (sqrt(scale) = {np.sqrt(fit.scale):.4f})"
        )
        design.close()


def csv_demo(rows: int) -> None:
    """Part 2: CSV -> NetCDF (read_csv) -> lstsq, then SVD + PCA, on a lazy Dataset."""
    print("\n== Part 2: a CSV file, streamed to NetCDF ==")
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "raw.csv")
        make_data(rows, seed=1).to_csv(csv)
        size = os.path.getsize(csv) / 1e6
        base = rss_anon_mb()
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            ds = ooc.read_csv(csv, os.path.join(tmp, "raw.nc"), index_col="record")
            t1 = time.perf_counter()
            # the main job in one call: each block built and folded as it is built; the
            # design is written only if fittedvalues/resid ask for its rows
            fit = ds.ooc.lstsq(FORMULA, dim="record")
            t2 = time.perf_counter()
            numeric = ds.ooc.design("0 + a + b + c + d", dim="record")
            svd = numeric.svd()
            pca = numeric.pca(2)
            t3 = time.perf_counter()
        print(
            f"read_csv: {size:.0f} MB of CSV ({rows:,} rows) to NetCDF in {t1 - t0:.1f} s "
            f"({size / (t1 - t0):.0f} MB/s); a lazy Dataset:"
        )
        print(ds)
        print(f"\nds.ooc.lstsq in {t2 - t1:.1f} s; coefficients (an xarray DataArray by term):")
        print(fit.params.to_series().to_string(float_format=lambda v: f"{v:9.4f}"))
        dropped = ds.sizes["record"] - int(fit.nobs)
        print(f"R^2 = {fit.rsquared:.4f}, nobs = {fit.nobs:,.0f}, dropped = {dropped}")
        print(f"\nSVD and PCA of a + b + c + d in {t3 - t2:.1f} s:")
        print("singular values:", np.array2string(svd.s.values, precision=2))
        print("U (lazy, stored):", dict(svd.U.sizes))
        print(
            "PCA explained variance ratio:",
            np.array2string(np.asarray(pca.explained_variance_ratio_), precision=4),
        )
        print("PCA components (by term):")
        print(pca.components_.to_pandas().to_string(float_format=lambda v: f"{v:8.4f}"))
        print(f"peak memory growth over part 2: {mem.peak - base:.0f} MB (anonymous RSS)")
        numeric.close()
        ds.close()


if __name__ == "__main__":
    main()
