"""Benchmark of GLMs by IRLS over a stored design, against statsmodels and glum in memory.

On ``--rows`` rows of synthetic data (eight standard-normal columns ``x1 ... x8``, a
6-level categorical ``g`` with string categories, and three responses drawn from the same
linear predictor: a 0/1 ``hit``, a count ``cnt`` with an exposure ``expo`` and a positive
``pos``), the right-hand side ``x1 + ... + x8 + C(g) + x1:C(g) + x2:x3`` (20 design columns)
is stored once per response with ``df.ooc.design(..., path=)``. One run measures

1. the fits of three models from their stores: a logistic ``design.glm("binomial")``, a
   Poisson with exposure and a Gamma with the log link; beside them ``design.lstsq()`` on
   the logistic store (one TSQR pass over the same blocks: the unit an IRLS iteration is
   compared with), statsmodels' ``GLM(y, X, family).fit()`` on the same X and y held in
   memory, and glum's ``GeneralizedLinearRegressor(family, alpha=0)`` (at its default
   tolerance and at ``gradient_tol=1e-8``) when glum is installed; every method's
   coefficients are compared with statsmodels';
2. the memory of a logistic GLM of a larger stored design (``--memory-rows``, 10M rows by
   default: a 1.7 GB store): the fit runs in a fresh interpreter whose anonymous memory
   (``RssAnon``) is sampled, then ``design.lstsq()`` in another, so that the time of an IRLS
   iteration is set against one lstsq pass at that size too.

Each time is the best of ``--repeats`` runs after a warm-up (the memory section's children:
the best of their repeats, the first one included). Stores sit in the page cache (they were
just written). The report (markdown) goes to stdout and, with ``--out FILE``, to a file;
``docs/benchmarks.md`` quotes a full run. Data files live in a temporary directory removed
at the end.

Run from the repository root::

    python bench/bench_glm.py [--rows 2000000] [--memory-rows 10000000] [--repeats 3]
                              [--out FILE] [--smoke]
"""

from __future__ import annotations

import gc
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import statsmodels.api as sm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    CpuMonitor,
    Report,
    SampledRun,
    Timing,
    best_of,
    build_parser,
    child_handshake,
    child_result,
    machine_info,
    machine_markdown,
    markdown_table,
    ratio,
    resolve_args,
    run_sampled,
    scratch_dir,
    seconds,
)

import ooc_accessor  # registers the .ooc accessor

BENCH_DIR = Path(__file__).resolve().parent
NUMERIC = [f"x{i}" for i in range(1, 9)]
LEVELS = ("north", "south", "east", "west", "centre", "island")
RHS = " + ".join(NUMERIC) + " + C(g) + x1:C(g) + x2:x3"
#: rows of a full run: statsmodels holds X and its working copies in memory
DEFAULT_ROWS = 2_000_000
#: rows of the memory section of a full run (the issue's 10M x 20 design, ~1.7 GB stored)
DEFAULT_MEMORY_ROWS = 10_000_000
#: rows of the memory section of a ``--smoke`` run
SMOKE_MEMORY_ROWS = 20_000
DEFAULT_REPEATS = 3
#: the library's coefficients must agree with statsmodels' to this (max relative)
PARAMS_RTOL = 1e-7
#: targets of the issue
ITERATION_TARGET = 2.0  # one IRLS iteration / one lstsq pass, at most
MEMORY_TARGET_MB = 500.0  # peak RssAnon growth of the 10M-row logistic GLM, under
#: seconds a memory-section child may run
CHILD_TIMEOUT = 3_600.0
EXTRA_PACKAGES = ("glum", "tabmat")

_CHILD_CODE = (
    "import sys; sys.path.insert(0, {bench!r}); import bench_glm; bench_glm.child_main(sys.argv[1])"
)


# -- data --------------------------------------------------------------------------------
def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """The benchmark's raw data: numeric ``x1 ... x8``, a categorical ``g``, three responses.

    Parameters
    ----------
    n : int
        Rows.
    seed : int
        Seed of the generator.

    Returns
    -------
    pandas.DataFrame
        Columns ``x1 ... x8`` (standard normal), ``g`` (a pandas Categorical with six string
        categories), ``expo`` (uniform on 0.5-3), and the responses of one linear predictor
        ``eta`` of every design term: ``hit`` (Bernoulli, logit ``eta``), ``cnt`` (Poisson,
        mean ``expo * exp(eta / 2)``) and ``pos`` (Gamma, shape 2, mean ``exp(eta / 2)``).
        No missing values, so every method sees all rows.
    """
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({k: rng.normal(size=n) for k in NUMERIC})
    codes = rng.integers(0, len(LEVELS), size=n)
    df["g"] = pd.Categorical.from_codes(codes, list(LEVELS))
    slopes = np.linspace(0.6, -0.4, len(NUMERIC))
    eta = -0.3 + df[NUMERIC].to_numpy() @ slopes
    eta += np.array([0.0, 0.4, -0.3, 0.2, 0.5, -0.6])[codes]
    eta += np.array([0.0, 0.2, -0.2, 0.1, 0.3, -0.1])[codes] * df["x1"].to_numpy()
    eta += 0.15 * df["x2"].to_numpy() * df["x3"].to_numpy()
    df["expo"] = rng.uniform(0.5, 3.0, size=n)
    df["hit"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    df["cnt"] = rng.poisson(df["expo"].to_numpy() * np.exp(eta / 2)).astype(np.float64)
    df["pos"] = rng.gamma(2.0, np.exp(eta / 2) / 2.0)
    return df


# -- the models --------------------------------------------------------------------------
@dataclass(frozen=True)
class Model:
    """One GLM of the benchmark, as each contender spells it."""

    key: str
    label: str
    response: str
    family: str
    link: str | None = None
    exposure: bool = False

    def sm_family(self) -> Any:
        """The statsmodels family instance."""
        links = sm.families.links
        if self.family == "binomial":
            return sm.families.Binomial()
        if self.family == "poisson":
            return sm.families.Poisson()
        return sm.families.Gamma(links.Log() if self.link == "log" else None)


MODELS = (
    Model("logistic", "logistic (binomial, logit)", "hit", "binomial"),
    Model("poisson", "Poisson (log) with exposure", "cnt", "poisson", exposure=True),
    Model("gamma", "Gamma (log link)", "pos", "gamma", link="log"),
)


@dataclass
class Data:
    """One model's stored design and the same rows in memory."""

    design: ooc_accessor.Design
    x: np.ndarray
    y: np.ndarray
    exposure: np.ndarray | None


# -- the contenders (each returns ``(params, iterations)``) -------------------------------
def fit_ooc(model: Model, data: Data) -> tuple[np.ndarray, int]:
    """``design.glm(family, link, exposure=)``: IRLS, one pass over the store per iteration.

    Only the coefficients are read (``llf`` and the null deviance would cost one more pass).
    """
    fit = data.design.glm(model.family, model.link, exposure=data.exposure)
    return fit.params.to_numpy(), int(fit.fit_history["iteration"])


def fit_lstsq(data: Data) -> tuple[np.ndarray, int]:
    """``design.lstsq()``: one TSQR pass over the same store."""
    return data.design.lstsq().params.to_numpy(), 1


def fit_statsmodels(model: Model, data: Data) -> tuple[np.ndarray, int]:
    """statsmodels ``GLM(y, X, family, exposure=).fit()`` (IRLS) on in-memory arrays."""
    res = sm.GLM(data.y, data.x, family=model.sm_family(), exposure=data.exposure).fit()
    return np.asarray(res.params), int(res.fit_history["iteration"])


def glum_version() -> str | None:
    """glum's version, or None when it is not installed."""
    try:
        import glum
    except ImportError:
        return None
    return str(glum.__version__)


def fit_glum(model: Model, data: Data, **options: Any) -> tuple[np.ndarray, int]:
    """glum ``GeneralizedLinearRegressor(family, link, alpha=0)`` on the same X (its
    intercept column included, so ``fit_intercept=False``); the exposure as the offset
    ``log(expo)``."""
    from glum import GeneralizedLinearRegressor

    est = GeneralizedLinearRegressor(
        family=model.family,
        link=model.link or "auto",
        alpha=0,
        fit_intercept=False,
        **options,
    )
    offset = None if data.exposure is None else np.log(data.exposure)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. glum's note that alpha=0 is unregularized
        est.fit(data.x, data.y, offset=offset)
    return np.asarray(est.coef_), int(est.n_iter_)


# -- the fits table -------------------------------------------------------------------------
@dataclass
class FitRow:
    """One method on one model: its timing, iterations and agreement with statsmodels."""

    model: Model
    key: str
    name: str
    timing: Timing
    iterations: int
    params_diff: float | None = None


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest relative difference of ``a`` from ``b``, elementwise."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def store_data(design: ooc_accessor.Design, exposure: np.ndarray | None) -> Data:
    """X and y of a store read whole into memory (untimed), beside the store itself."""
    with h5py.File(design.path, "r") as f:
        x, y = f["X"][:], f["y"][:].reshape(-1)
    return Data(design, x, y, exposure)


def build_stores(
    frame: pd.DataFrame, directory: Path, chunksize: int | str
) -> tuple[dict[str, ooc_accessor.Design], float]:
    """One store per model (same X, its own y); the seconds of the first build."""
    designs, first = {}, 0.0
    for m in MODELS:
        t0 = time.perf_counter()
        designs[m.key] = frame.ooc.design(
            f"{m.response} ~ {RHS}", chunksize=chunksize, path=directory / f"{m.key}.nc"
        )
        first = first or time.perf_counter() - t0
    return designs, first


def contenders(model: Model, data: Data, glum: bool) -> dict[str, tuple[str, Callable]]:
    """The methods timed on ``model``: key -> (table name, call)."""
    fam = repr(model.family) + (f", {model.link!r}" if model.link else "")
    expo = ", exposure=" if model.exposure else ""
    out: dict[str, tuple[str, Callable]] = {
        "ooc": (f"ooc `design.glm({fam}{expo})`", lambda: fit_ooc(model, data)),
        "statsmodels": (
            f"statsmodels `GLM(y, X, {model.sm_family().__class__.__name__}{expo}).fit()`, "
            "in memory",
            lambda: fit_statsmodels(model, data),
        ),
    }
    if glum:
        out["glum"] = (
            "glum `GeneralizedLinearRegressor(alpha=0)`, in memory, default tolerance",
            lambda: fit_glum(model, data),
        )
        out["glum_tight"] = (
            "glum, the same with `gradient_tol=1e-8`",
            lambda: fit_glum(model, data, gradient_tol=1e-8),
        )
    return out


def time_models(
    designs: dict[str, ooc_accessor.Design],
    frame: pd.DataFrame,
    repeats: int,
    glum: bool,
) -> list[FitRow]:
    """Time every contender on every model, and lstsq on the logistic store."""
    expo = frame["expo"].to_numpy()
    rows: list[FitRow] = []
    for model in MODELS:
        data = store_data(designs[model.key], expo if model.exposure else None)
        got = []
        for key, (name, fn) in contenders(model, data, glum).items():
            t = best_of(fn, repeats)
            got.append(FitRow(model, key, name, t, t.value[1]))
        reference = next(r for r in got if r.key == "statsmodels").timing.value[0]
        for r in got:
            r.params_diff = max_rel(r.timing.value[0], reference)
        if model.key == "logistic":
            t = best_of(lambda data=data: fit_lstsq(data), repeats)
            name = "ooc `design.lstsq()` on the logistic store (one TSQR pass)"
            got.insert(1, FitRow(model, "lstsq", name, t, 1))
        rows += got
        del data
        gc.collect()
    return rows


def fit_table(rows: list[FitRow]) -> str:
    """Markdown table of the fits; ratios are to statsmodels on the same model."""
    body = []
    for r in rows:
        sm_row = next(s for s in rows if s.model is r.model and s.key == "statsmodels")
        per_iteration = r.timing.best / max(r.iterations, 1)
        body.append(
            [
                f"{r.model.label}: {r.name}",
                seconds(r.timing.best),
                r.iterations if r.key != "lstsq" else "(1 pass)",
                seconds(per_iteration),
                "n/a" if r.key == "lstsq" else ratio(r.timing.best, sm_row.timing.best),
                "n/a" if r.params_diff is None else f"{r.params_diff:.1e}",
            ]
        )
    return markdown_table(
        ["fit", "best (s)", "iterations", "s / iteration", "vs statsmodels", "params vs sm"],
        body,
    )


def iteration_table(rows: list[FitRow]) -> tuple[str, dict[str, float]]:
    """Markdown table of an IRLS iteration against one lstsq pass; the ratios by model."""
    lstsq = next(r for r in rows if r.key == "lstsq").timing.best
    body, ratios = [], {}
    for r in rows:
        if r.key != "ooc":
            continue
        k = r.iterations
        per_iteration = r.timing.best / k
        per_pass = r.timing.best / (k + 1)
        ratios[r.model.key] = per_iteration / lstsq
        body.append(
            [
                r.model.label,
                k,
                k + 1,
                seconds(r.timing.best),
                seconds(per_iteration),
                seconds(per_pass),
                seconds(lstsq),
                ratio(per_iteration, lstsq),
                ratio(per_pass, lstsq),
            ]
        )
    table = markdown_table(
        [
            "model",
            "iterations",
            "passes over X",
            "glm (s)",
            "s / iteration",
            "s / pass",
            "lstsq pass (s)",
            "iteration / lstsq",
            "pass / lstsq",
        ],
        body,
    )
    return table, ratios


# -- memory: the logistic GLM of a larger store, in a child --------------------------------
def child_main(spec_json: str) -> None:
    """In a fresh interpreter: run ``design.glm("binomial")`` or ``design.lstsq()`` on a
    stored design ``repeats`` times, sampled by the parent (:func:`run_sampled`)."""
    spec = json.loads(spec_json)
    import scipy.linalg  # noqa: F401 - loaded before the baseline
    import statsmodels.genmod.families  # noqa: F401

    design = ooc_accessor.open_design(spec["path"])
    child_handshake()
    times, iterations = [], 0
    for _ in range(spec["repeats"]):
        t0 = time.perf_counter()
        if spec["kind"] == "glm":
            fit = design.glm("binomial")
            _ = fit.params
            iterations = int(fit.fit_history["iteration"])
        else:
            design.lstsq().params  # noqa: B018 - the fit is the work
        times.append(time.perf_counter() - t0)
    child_result({"times": times, "iterations": iterations})


@dataclass
class MemoryRun:
    """The memory section: the store, and the sampled GLM and lstsq children."""

    rows: int
    columns: int
    chunk_rows: int
    blocks: int
    store_mb: float
    build_seconds: float
    runs: dict[str, SampledRun] = field(default_factory=dict)


def run_memory(rows: int, directory: Path, chunksize: int | str, repeats: int) -> MemoryRun:
    """Store a logistic design of ``rows`` rows, then fit it in sampled children."""
    frame = make_frame(rows, seed=1)
    path = directory / "memory.nc"
    t0 = time.perf_counter()
    design = frame.ooc.design(f"hit ~ {RHS}", chunksize=chunksize, path=path)
    build = time.perf_counter() - t0
    del frame
    gc.collect()
    out = MemoryRun(
        rows,
        len(design.terms),
        design.chunk_rows,
        len(design.blocks()),
        path.stat().st_size / 1e6,
        build,
    )
    design.close()
    del design
    code = _CHILD_CODE.format(bench=str(BENCH_DIR))
    for kind in ("glm", "lstsq"):
        spec = {"path": str(path), "kind": kind, "repeats": repeats}
        out.runs[kind] = run_sampled(
            [sys.executable, "-c", code, json.dumps(spec)], timeout=CHILD_TIMEOUT
        )
    path.unlink()
    return out


def memory_ok(mem: MemoryRun) -> bool:
    """Both children finished and reported."""
    return all(r.returncode == 0 and r.result for r in mem.runs.values())


def memory_table(mem: MemoryRun) -> str:
    """Markdown table of the two children: time, iterations, memory."""
    body = []
    names = {
        "glm": 'ooc `open_design(path).glm("binomial")`',
        "lstsq": "ooc `open_design(path).lstsq()` (one TSQR pass)",
    }
    for kind, run in mem.runs.items():
        if run.returncode != 0 or not run.result:
            tail = run.stderr.strip().splitlines()[-1:] or ["no output"]
            body.append([names[kind], "FAILED", "", "", "", "", tail[0]])
            continue
        times = run.result["times"]
        k = run.result["iterations"]
        body.append(
            [
                names[kind],
                seconds(min(times)),
                " / ".join(seconds(t) for t in times),
                k if kind == "glm" else "(1 pass)",
                f"{run.baseline_mb:.0f}",
                f"{run.peak_mb:.0f}",
                f"{run.growth_mb:.0f}",
            ]
        )
    return markdown_table(
        [
            "child process",
            "best (s)",
            "each run (s)",
            "iterations",
            "RssAnon baseline (MB)",
            "peak (MB)",
            "growth (MB)",
        ],
        body,
    )


def memory_figures(mem: MemoryRun) -> tuple[float, float]:
    """The GLM's peak growth (MB) and its iteration over one lstsq pass."""
    glm, lstsq = mem.runs["glm"], mem.runs["lstsq"]
    per_iteration = min(glm.result["times"]) / glm.result["iterations"]
    return glm.growth_mb, per_iteration / min(lstsq.result["times"])


# -- report ------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    """``met`` or ``MISSED``."""
    return "met" if ok else "MISSED"


def targets(ratios: dict[str, float], mem: MemoryRun | None, rows: int) -> list[str]:
    """One markdown bullet per target of the issue, with the measured value."""
    out = [
        f"- {rows:,} rows: one IRLS iteration / one lstsq pass = "
        + ", ".join(f"{v:.2f}x ({k})" for k, v in ratios.items())
        + f" (target at most {ITERATION_TARGET}x): "
        + verdict(max(ratios.values()) <= ITERATION_TARGET)
    ]
    if mem is not None and memory_ok(mem):
        growth, it = memory_figures(mem)
        out += [
            f"- {mem.rows:,} rows ({mem.store_mb:,.0f} MB store): the logistic GLM's peak "
            f"RssAnon growth = {growth:.0f} MB (target under {MEMORY_TARGET_MB:.0f} MB): "
            f"{verdict(growth < MEMORY_TARGET_MB)}",
            f"- {mem.rows:,} rows: one IRLS iteration / one lstsq pass = {it:.2f}x "
            f"(target at most {ITERATION_TARGET}x): {verdict(it <= ITERATION_TARGET)}",
        ]
    elif mem is not None:
        out.append(f"- {mem.rows:,} rows: the memory children FAILED (see the table)")
    return out


def parse(argv: list[str] | None) -> Any:
    """The command line: ``_common``'s options and ``--memory-rows``."""
    parser = build_parser(__doc__.splitlines()[0], DEFAULT_ROWS, default_repeats=DEFAULT_REPEATS)
    parser.add_argument(
        "--memory-rows",
        type=int,
        default=None,
        help=f"rows of the memory section's store (default {DEFAULT_MEMORY_ROWS:,}; "
        f"{SMOKE_MEMORY_ROWS:,} with --smoke; 0 leaves the section out)",
    )
    args = resolve_args(parser, DEFAULT_ROWS, argv, default_repeats=DEFAULT_REPEATS)
    if args.memory_rows is None:
        args.memory_rows = SMOKE_MEMORY_ROWS if args.smoke else DEFAULT_MEMORY_ROWS
    return args


@dataclass
class Run:
    """Everything one run measured."""

    shape: tuple[int, int, int, int, int]  # rows, columns, chunk rows, blocks, store bytes
    build_seconds: float
    fits: list[FitRow]
    memory: MemoryRun | None
    glum: str | None


def measure(args: Any) -> Run:
    """Build the stores, time the fits, then the memory section (if asked for)."""
    glum = glum_version()
    frame = make_frame(args.rows)
    with scratch_dir() as tmp:
        designs, build_s = build_stores(frame, tmp, args.chunksize)
        d = designs["logistic"]
        shape = (d.n_obs, len(d.terms), d.chunk_rows, len(d.blocks()), Path(d.path).stat().st_size)
        fits = time_models(designs, frame, args.repeats, glum is not None)
        for design in designs.values():
            design.close()
            Path(design.path).unlink()
        del designs, d, design, frame
        gc.collect()
        mem = (
            run_memory(args.memory_rows, tmp, args.chunksize, args.repeats)
            if args.memory_rows
            else None
        )
    return Run(shape, build_s, fits, mem, glum)


def write_report(report: Report, run: Run, args: Any, monitor: CpuMonitor) -> float:
    """Add the run's sections to ``report``; the library's worst params difference."""
    n, p, chunk_rows, n_blocks, nbytes = run.shape
    mem = run.memory
    report.add(f"### GLM (IRLS): {n:,} rows x {p} design columns")
    report.add()
    report.add(
        f"Right-hand side `{RHS}` (6-level `g`), one store per response ({nbytes / 1e6:.0f} MB "
        f"each, built in {run.build_seconds:.1f} s); {n_blocks} stored blocks of "
        f"{chunk_rows:,} rows (chunksize={args.chunksize!r}); every time is the best of "
        f"{args.repeats} after a warm-up, in seconds. statsmodels and glum fit X and y read "
        "whole from the store (untimed)."
        + ("" if run.glum else " glum is not installed: its rows are left out.")
        + (" A `--smoke` run: its timings and verdicts mean nothing." if args.smoke else "")
    )
    report.add()
    report.add("#### Fits")
    report.add()
    report.add(fit_table(run.fits))
    report.add()
    worst = max(r.params_diff for r in run.fits if r.key == "ooc")
    report.add(
        f"The library's coefficients agree with statsmodels' to {worst:.1e} (largest "
        f"relative difference over the three models; tolerance {PARAMS_RTOL:g}): "
        f"{'OK' if worst <= PARAMS_RTOL else 'DIFFER'}."
    )
    report.add()
    report.add("#### IRLS iteration against one lstsq pass")
    report.add()
    table, ratios = iteration_table(run.fits)
    report.add(table)
    report.add()
    report.add(
        "An iteration is statsmodels' (its `fit_history['iteration']`, which the library "
        "matches). A fit reads X and y once per iteration and once more (the pass that finds "
        "convergence; the first pass starts from statsmodels' starting means), so passes "
        "over X = iterations + 1, and y alone once before them; s / iteration is the whole "
        "fit's time over the iterations, s / pass over the passes over X."
    )
    if mem is not None:
        report.add()
        report.add(
            f"#### Memory: logistic GLM of a {mem.rows:,} x {mem.columns} stored design "
            f"({mem.store_mb:,.0f} MB)"
        )
        report.add()
        report.add(
            f"{mem.blocks} blocks of {mem.chunk_rows:,} rows, built in {mem.build_seconds:.0f} "
            f"s; each child is a fresh interpreter that opens the store, reports its RssAnon "
            f"baseline, then fits {args.repeats} time(s) while the parent samples its RssAnon "
            "every 15 ms (growth: the peak over all the fits less the baseline)."
        )
        report.add()
        report.add(memory_table(mem))
    report.add()
    report.add("#### Targets")
    report.add()
    for line in targets(ratios, mem, n):
        report.add(line)
    report.add()
    report.add("#### Machine")
    report.add()
    report.add(machine_markdown(machine_info(EXTRA_PACKAGES), monitor))
    return worst


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its markdown report."""
    args = parse(argv)
    report = Report(args.out)
    monitor = CpuMonitor()
    run = measure(args)
    monitor.stop()
    worst = write_report(report, run, args, monitor)
    report.write()
    ok = worst <= PARAMS_RTOL and (run.memory is None or memory_ok(run.memory))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
