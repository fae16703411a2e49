"""A regression from a CSV larger than you want in pandas: the code of docs/guide/regression_csv.md.

The script writes a synthetic CSV (two numeric regressors, a 30-level string column
``region``, a ``firm`` id, noise that grows with ``x1``) to a temporary directory, then:

1. streams it into a chunked NetCDF store with ``ooc.read_csv`` (a lazy Dataset);
2. fits ``y ~ x1 + x2 + x1:x2 + C(region)`` by ``ds.ooc.lstsq`` (one pass, nothing written),
   prints the summary, HC3 and firm-clustered standard errors, and predictions with
   intervals for new rows;
3. asks for the residuals, which writes the temporary design store into ``tmpdir``;
4. checks the coefficients against numpy (normal equations accumulated over the CSV read in
   chunks by pandas) and, at small sizes, the HC3 errors against statsmodels.

Run: ``python examples/regression_csv.py`` (3,000,000 rows, a CSV of ~100 MB, about a
minute and a half) or ``--small`` (20,000 rows, seconds). Nothing is left on disk.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd

import ooc_accessor as ooc

FORMULA = "y ~ x1 + x2 + x1:x2 + C(region)"
REGIONS = [f"r{i:02d}" for i in range(30)]


def write_csv(path: str, n: int, seed: int = 0, rows_per_write: int = 500_000) -> None:
    """The synthetic CSV, written in slices so it never sits whole in memory."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(scale=0.5, size=len(REGIONS))
    for start in range(0, n, rows_per_write):
        m = min(rows_per_write, n - start)
        code = rng.integers(0, len(REGIONS), size=m)
        x1 = rng.normal(size=m)
        x2 = rng.uniform(0, 10, size=m)
        noise = rng.normal(size=m) * (0.5 + np.abs(x1))  # heteroscedastic: HC errors matter
        chunk = pd.DataFrame(
            {
                "y": 1.0 + 2.0 * x1 - 0.3 * x2 + 0.1 * x1 * x2 + effect[code] + noise,
                "x1": x1,
                "x2": x2,
                "region": np.asarray(REGIONS)[code],
                "firm": rng.integers(0, 400, size=m),
            }
        )
        chunk.to_csv(path, mode="a", header=start == 0, index=False, float_format="%.6g")


def reference_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The formula's design columns by patsy's names, built by hand with numpy."""
    cols = {"Intercept": np.ones(len(frame))}
    for level in REGIONS[1:]:  # treatment coding against the first level, as patsy
        cols[f"C(region)[T.{level}]"] = (frame["region"].to_numpy() == level).astype(float)
    cols["x1"] = frame["x1"].to_numpy()
    cols["x2"] = frame["x2"].to_numpy()
    cols["x1:x2"] = cols["x1"] * cols["x2"]
    return cols


def reference_params(csv: str, terms: list[str]) -> np.ndarray:
    """numpy: X'X and X'y summed over pandas chunks of the same CSV, then solved."""
    p = len(terms)
    xtx, xty = np.zeros((p, p)), np.zeros(p)
    for frame in pd.read_csv(csv, chunksize=500_000):
        cols = reference_columns(frame)
        x = np.column_stack([cols[t] for t in terms])
        xtx += x.T @ x
        xty += x.T @ frame["y"].to_numpy()
    return np.linalg.solve(xtx, xty)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--small", action="store_true", help="20,000 rows: a quick check")
    args = parser.parse_args()
    n = 20_000 if args.small else args.rows

    with tempfile.TemporaryDirectory() as tmp, ooc.set_options(tmpdir=tmp, chunk_memory="32MB"):
        csv = os.path.join(tmp, "sales.csv")
        write_csv(csv, n)
        print(f"CSV: {n:,} rows, {os.path.getsize(csv) / 1e6:.0f} MB")

        # 1. CSV -> chunked NetCDF store, opened as a lazy Dataset (strings kept as codes)
        t0 = time.perf_counter()
        ds = ooc.read_csv(csv, os.path.join(tmp, "sales.nc"))
        t1 = time.perf_counter()
        store_mb = os.path.getsize(os.path.join(tmp, "sales.nc")) / 1e6
        print(f"read_csv: {t1 - t0:.1f} s, store {store_mb:.0f} MB, dims {dict(ds.sizes)}")

        # 2. the fit: each block built and folded into the R factor, nothing written
        fit = ds.ooc.lstsq(FORMULA, dim="index")
        t2 = time.perf_counter()
        print(f"lstsq: {t2 - t1:.1f} s, {fit.nobs:,.0f} rows, {len(fit.params)} terms")
        print(fit.summary())

        # robust errors: one more pass over the rows each
        hc3 = fit.get_robustcov_results("HC3")
        clustered = ds.ooc.lstsq(
            FORMULA, dim="index", cov_type="cluster", cov_kwds={"groups": "firm"}
        )
        se = pd.DataFrame(
            {
                "nonrobust": fit.bse.to_series(),
                "HC3": hc3.bse.to_series(),
                "cluster(firm)": clustered.bse.to_series(),
            }
        ).loc[["x1", "x2", "x1:x2"]]
        print("standard errors:")
        print(se.to_string(float_format=lambda v: f"{v:.5f}"))

        # predictions with intervals for new rows (a DataFrame here: in memory)
        new = pd.DataFrame({"x1": [0.0, 1.0], "x2": [5.0, 2.0], "region": ["r00", "r07"]})
        frame = hc3.get_prediction(new).summary_frame(alpha=0.05)
        print("predictions (HC3 covariance):")
        print(frame.to_string(float_format=lambda v: f"{v:.3f}"))

        # 3. residuals are as long as the data: asking for them writes the design into tmpdir
        before = set(os.listdir(tmp))
        resid_sd = float(fit.resid.std())
        written = sorted(set(os.listdir(tmp)) - before)
        size = sum(
            os.path.getsize(os.path.join(tmp, f))
            for f in written
            if os.path.isfile(os.path.join(tmp, f))
        )
        print(
            f"residual sd {resid_sd:.4f}; temporary design written to tmpdir: {size / 1e6:.1f} MB"
        )

        # 4. the check: numpy's normal equations on the same CSV
        terms = list(fit.params["term"].values)
        ref = reference_params(csv, terms)
        err = np.max(np.abs(fit.params.values - ref) / np.maximum(np.abs(ref), 1.0))
        print(f"params vs numpy: max relative error {err:.1e}")
        if not err < 1e-8:
            raise SystemExit(f"params differ from numpy's by {err:.1e}")
        if n <= 200_000:  # statsmodels holds the whole design in memory: small sizes only
            import statsmodels.formula.api as smf

            sm_fit = smf.ols(FORMULA, pd.read_csv(csv)).fit(cov_type="HC3")
            bse = sm_fit.bse[terms].to_numpy()
            err = np.max(np.abs(hc3.bse.values / bse - 1))
            print(f"HC3 standard errors vs statsmodels: max relative error {err:.1e}")
            if not err < 1e-8:
                raise SystemExit(f"HC3 errors differ from statsmodels' by {err:.1e}")
        del fit, hc3, clustered, ds
    print("OK: regression_csv")


if __name__ == "__main__":
    main()
