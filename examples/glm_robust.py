"""Robust errors, tests and GLMs with statsmodels' names: the code of docs/guide/glm_robust.md.

On a synthetic panel (firms observed many times, noise that grows with ``x``) the script
fits least squares with heteroscedasticity-robust (HC0-HC3) and firm-clustered errors, runs
t, F and Wald tests and compares nested models, then fits a logistic GLM and a Poisson GLM
with an exposure, and shows what separation and non-convergence raise. Each design is built
into a temporary NetCDF store (in ``tmpdir``) and fitted block by block. Every number it
checks is compared with statsmodels' fit of the same rows.

Run: ``python examples/glm_robust.py`` (300,000 rows, under a minute) or ``--small``
(5,000 rows, seconds). Nothing is left on disk.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf

import ooc_accessor as ooc


def make_data(n: int, seed: int = 0) -> pd.DataFrame:
    """Rows of 500 firms in 4 sectors: a continuous, a binary and a count outcome."""
    rng = np.random.default_rng(seed)
    firm = rng.integers(0, 500, size=n)
    firm_effect = rng.normal(scale=0.5, size=500)[firm]
    x, z = rng.normal(size=n), rng.normal(size=n)
    sector = np.array(["energy", "finance", "health", "retail"])[firm % 4]
    years = rng.uniform(0.5, 5.0, size=n)
    rate = np.exp(-1.0 + 0.3 * x - 0.2 * z + 0.4 * (sector == "energy"))
    hit_p = 1 / (1 + np.exp(-(0.5 + 1.0 * x - 0.5 * z)))
    return pd.DataFrame(
        {
            "y": 1 + 2 * x - z + firm_effect + rng.normal(size=n) * (0.5 + np.abs(x)),
            "x": x,
            "z": z,
            "w": 0.5 * x + rng.normal(size=n),  # irrelevant to y: the nested test drops it
            "sector": sector,
            "firm": firm,
            "hit": (rng.uniform(size=n) < hit_p).astype(float),
            "claims": rng.poisson(rate * years).astype(float),
            "years": years,
        }
    )


def num(value: object) -> float:
    """A test's statistic as a float (statsmodels gives scalars or 1x1 arrays)."""
    return float(np.squeeze(value))


def check(label: str, ours: pd.Series, theirs: pd.Series, rtol: float) -> None:
    """Stop the script when ours and statsmodels' differ by more than ``rtol``."""
    err = float(np.max(np.abs(ours[theirs.index].to_numpy() / theirs.to_numpy() - 1)))
    print(f"  {label} vs statsmodels: max relative error {err:.1e}")
    if not err < rtol:
        raise SystemExit(f"{label} differs from statsmodels' by {err:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--small", action="store_true", help="5,000 rows: a quick check")
    args = parser.parse_args()
    df = make_data(5_000 if args.small else args.rows)

    with tempfile.TemporaryDirectory() as tmp, ooc.set_options(tmpdir=tmp):
        print("== least squares, robust errors ==")
        fit = df.ooc.lstsq("y ~ x + z + w + C(sector)", cov_type="HC3")
        print(fit.summary().tables[1].to_string(float_format=lambda v: f"{v:.4f}"))
        ses = pd.DataFrame({f"HC{i}": getattr(fit, f"HC{i}_se") for i in range(4)})
        print(ses.loc[["x", "z"]].to_string(float_format=lambda v: f"{v:.5f}"))
        clustered = fit.get_robustcov_results("cluster", groups=df["firm"])
        print(f"x: HC3 se {fit.bse['x']:.5f}, clustered by firm {clustered.bse['x']:.5f}")
        ref = smf.ols("y ~ x + z + w + C(sector)", df).fit(cov_type="HC3")
        check("HC3 bse", fit.bse, ref.bse, 1e-8)
        ref_cl = ref.get_robustcov_results("cluster", groups=df["firm"])
        check("cluster bse", clustered.bse, pd.Series(ref_cl.bse, ref.params.index), 1e-8)

        print("\n== tests ==")
        t = fit.t_test("x = -2 * z")
        print(
            f"t_test('x = -2 * z'): effect {num(t.effect):.4f}, t {num(t.tvalue):.3f}, "
            f"p {num(t.pvalue):.3f}"
        )
        f = fit.f_test("x = 0, z = 0")
        print(f"f_test('x = 0, z = 0'): F {num(f.fvalue):.1f}, p {num(f.pvalue):.2e}")
        wald = fit.wald_test("w = 0", use_f=False)
        print(f"wald_test('w = 0'): chi2 {num(wald.statistic):.3f}, p {num(wald.pvalue):.3f}")
        full = df.ooc.lstsq("y ~ x + z + w + C(sector)")
        small = df.ooc.lstsq("y ~ x + z + C(sector)")
        fval, pval, df_diff = full.compare_f_test(small)
        print(f"compare_f_test (drop w): F {fval:.3f}, p {pval:.3f}, df_diff {df_diff:.0f}")
        ref_f = smf.ols("y ~ x + z + w + C(sector)", df).fit()
        ref_small = smf.ols("y ~ x + z + C(sector)", df).fit()
        # F is the small difference of two large SSRs: both sides carry its cancellation
        # (~1e-9 relative at 300,000 rows), so the tolerance is looser than elsewhere
        check(
            "compare_f_test F",
            pd.Series([fval]),
            pd.Series([ref_f.compare_f_test(ref_small)[0]]),
            1e-6,
        )

        print("\n== logistic GLM ==")
        logit = df.ooc.glm("hit ~ x + z + C(sector)", family="binomial")
        print(logit.summary().tables[1].to_string(float_format=lambda v: f"{v:.4f}"))
        print(
            f"converged {logit.converged} in {logit.fit_history['iteration']} iterations; "
            f"deviance {logit.deviance:.2f}, aic {logit.aic:.2f}"
        )
        ref = smf.glm("hit ~ x + z + C(sector)", df, family=sm.families.Binomial()).fit()
        check("logit params", logit.params, ref.params, 1e-7)
        check("logit bse", logit.bse, ref.bse, 1e-6)

        print("\n== Poisson GLM with exposure ==")
        pois = df.ooc.glm("claims ~ x + z + C(sector)", "poisson", exposure="years")
        print(pois.params.to_string(float_format=lambda v: f"{v:.4f}"))
        ref = smf.glm(
            "claims ~ x + z + C(sector)", df, family=sm.families.Poisson(), exposure=df["years"]
        ).fit()
        check("Poisson params", pois.params, ref.params, 1e-7)
        rates = pois.predict(df.head(3), exposure=np.ones(3))
        print("predicted yearly rates, first rows:", np.round(np.asarray(rates), 4))

        print("\n== when a fit cannot be trusted ==")
        sep = pd.DataFrame({"hit": [0.0, 0.0, 0.0, 1.0, 1.0, 1.0], "x": [1, 2, 3, 4, 5, 6.0]})
        try:
            sep.ooc.glm("hit ~ x", family="binomial")
        except ooc.PerfectSeparationError as exc:
            print(f"separation: {type(exc).__name__}: {str(exc)[:90]}...")
        try:
            df.ooc.glm("hit ~ x + z + C(sector)", family="binomial", maxiter=2)
        except ooc.ConvergenceError as exc:
            print(f"maxiter=2: {type(exc).__name__}: {str(exc)[:90]}...")
    print("OK: glm_robust")


if __name__ == "__main__":
    main()
