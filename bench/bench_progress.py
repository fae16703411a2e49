"""Benchmark of what progress bars cost: each long call with ``progress=False``, ``"auto"``
(the default) and ``True``, side by side in one run, as ratios.

On ``--rows`` rows of synthetic data (eight standard-normal columns ``x1 ... x8``, a
4-level categorical ``g`` with string categories and a 0/1 response ``hit``), the design
``hit ~ x1 + ... + x8 + C(g)`` (12 columns) is stored once; then each of these calls runs
with the three settings:

- on the threaded scheduler: the design build from the DataFrame (``df.ooc.design``),
  ``design.lstsq()``, a logistic ``design.glm("binomial")``, ``design.pca(5)``,
  ``design.svd()`` (its ``U`` computed and stored), ``ooc.read_csv`` of a CSV of the same
  rows, and ``lstsq`` and the GLM again on a store of small blocks
  (``--fine-chunksize`` rows each: many leaf tasks, the worst case for a per-task cost);
- on a ``dask.distributed`` LocalCluster (2 worker processes x 1 thread): ``design.lstsq()``
  and the GLM on both stores. There ``"auto"`` and ``True`` compute the graph through
  ``client.compute`` and ``as_completed`` (the bar counts the leaves' futures) where
  ``False`` takes plain ``dask.compute``.

What a setting costs is what registering and counting the leaf tasks costs (``"auto"``
and ``True``) plus drawing (``True`` at once; ``"auto"`` only for a pass past 2 s). The
bars' output goes to ``os.devnull`` (``sys.stderr`` is redirected around each timed
call); its length is counted, which tells whether ``"auto"`` drew anything.

The settings are interleaved: each round runs the three (in an order rotated from round
to round, so none always runs first), one warm-up round then ``--repeats`` timed ones;
each time is the best of its setting's rounds. On the cluster the scheduler is left to
forget the previous call's tasks before each call (the keys repeat: a call could be
answered from the previous one's results). Outputs (a store's files are hashed,
coefficients and components compared) must be identical across settings and rounds: the
script stops otherwise. The report (markdown) goes to stdout and, with ``--out FILE``, to
a file; ``docs/benchmarks.md`` quotes a full run.

Run from the repository root::

    python bench/bench_progress.py [--rows 2000000] [--repeats 3] [--fine-chunksize 20000]
                                   [--out FILE] [--smoke]
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    CpuMonitor,
    Report,
    Timing,
    build_parser,
    machine_info,
    machine_markdown,
    markdown_table,
    ratio,
    resolve_args,
    scratch_dir,
    seconds,
)

import ooc_accessor as ooc

NUMERIC = [f"x{i}" for i in range(1, 9)]
LEVELS = ("north", "south", "east", "west")
FORMULA = "hit ~ " + " + ".join(NUMERIC) + " + C(g)"
#: rows of a full run
DEFAULT_ROWS = 2_000_000
DEFAULT_REPEATS = 3
#: rows per block of the store of small blocks (full run; a smoke run: SMOKE_FINE_CHUNKSIZE)
DEFAULT_FINE_CHUNKSIZE = 20_000
SMOKE_FINE_CHUNKSIZE = 2_500
PCA_COMPONENTS = 5
#: the settings compared; the first is the reference of the ratios and of the results
SETTINGS: tuple[bool | str, ...] = (False, "auto", True)
#: "auto" over False above this is looked into (the brief's threshold)
AUTO_COST_LIMIT = 1.03
EXTRA_PACKAGES = ("distributed", "tqdm")


def label(setting: bool | str) -> str:
    """``False``, ``"auto"`` or ``True``, as the report writes them."""
    return f'"{setting}"' if isinstance(setting, str) else str(setting)


# -- data --------------------------------------------------------------------------------
def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """``x1 ... x8`` (standard normal), ``g`` (a Categorical of four strings) and ``hit``
    (Bernoulli, logit a linear predictor of every term), no missing values."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({k: rng.normal(size=n) for k in NUMERIC})
    codes = rng.integers(0, len(LEVELS), size=n)
    df["g"] = pd.Categorical.from_codes(codes, list(LEVELS))
    eta = -0.2 + df[NUMERIC].to_numpy() @ np.linspace(0.5, -0.3, len(NUMERIC))
    eta += np.array([0.0, 0.3, -0.4, 0.2])[codes]
    df["hit"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    return df


def file_digest(path: str | os.PathLike, names: tuple[str, ...] | None = None) -> str:
    """SHA-1 of the named variables (default: all) of an HDF5 file, read block by block.

    Hashes values, shapes and dtypes, never the file's bytes: those hold times and ids
    that differ from write to write.
    """
    sha = hashlib.sha1()
    with h5py.File(path, "r") as f:
        for name in sorted(names or f.keys()):
            ds = f[name]
            if not isinstance(ds, h5py.Dataset):
                continue
            sha.update(f"{name}{ds.shape}{ds.dtype}".encode())
            if ds.dtype.kind == "O":
                sha.update(repr(ds.asstr()[...].tolist()).encode())
                continue
            step = max(1, 2**22 // max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:]))))
            for a in range(0, ds.shape[0] if ds.shape else 1, step):
                sha.update(np.ascontiguousarray(ds[a : a + step] if ds.shape else ds[()]))
    return sha.hexdigest()


# -- timing --------------------------------------------------------------------------------
class CountingSink:
    """``os.devnull`` as a text stream that counts what is written to it (the bars)."""

    def __init__(self) -> None:
        self._null = open(os.devnull, "w")
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return self._null.write(text)

    def flush(self) -> None:
        self._null.flush()

    def fileno(self) -> int:
        return self._null.fileno()

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        self._null.close()


@dataclass
class Case:
    """One call of the benchmark: how to run it, and what of its result is compared.

    ``run(setting)`` is timed; ``values(result)`` (untimed) gives the compared outputs, a
    dict of arrays or digests; ``setup()`` (untimed) runs before each call.
    """

    name: str
    run: Callable[[bool | str], Any]
    values: Callable[[Any], dict[str, Any]]
    setup: Callable[[], None] | None = None


@dataclass
class Measured:
    """A case's times, bar output and agreement for each setting."""

    case: Case
    timings: dict[bool | str, Timing] = field(default_factory=dict)
    #: characters the bars wrote, per setting, over all the setting's rounds
    chars: dict[bool | str, int] = field(default_factory=dict)
    #: the largest difference of any output from the first ``False`` run's (0: identical)
    max_diff: float = 0.0
    compared: list[str] = field(default_factory=list)


def difference(value: Any, reference: Any) -> float:
    """Largest absolute difference of two arrays; 0 or inf for two digests (equal or not)."""
    if isinstance(reference, str):
        return 0.0 if value == reference else float("inf")
    a, b = np.asarray(value, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b), initial=0.0))


def measure(
    case: Case, repeats: int, settle: Callable[[], None] | None = None, *, warmup: bool = True
) -> Measured:
    """Run ``case`` with every setting in ``repeats`` interleaved rounds, after an untimed
    one (``warmup``), each call's stderr counted into ``os.devnull``."""
    out = Measured(case, {s: Timing() for s in SETTINGS}, dict.fromkeys(SETTINGS, 0))
    reference: dict[str, Any] | None = None
    first = 0 if warmup else 1
    for rnd in range(first, repeats + 1):
        k = rnd % len(SETTINGS)
        for setting in SETTINGS[k:] + SETTINGS[:k]:
            if case.setup is not None:
                case.setup()
            gc.collect()  # a previous call's garbage is not collected inside this one
            if settle is not None:
                settle()
            sink = CountingSink()
            try:
                with contextlib.redirect_stderr(sink):
                    t0 = time.perf_counter()
                    result = case.run(setting)
                    elapsed = time.perf_counter() - t0
            finally:
                sink.close()
            out.chars[setting] += sink.chars
            values = case.values(result)
            del result
            if rnd:
                out.timings[setting].times.append(elapsed)
            if reference is None:
                reference, out.compared = values, list(values)
            for key, ref in reference.items():
                out.max_diff = max(out.max_diff, difference(values[key], ref))
    return out


# -- the cluster -----------------------------------------------------------------------------
def _import_library() -> str:
    """Run on each worker: import the library before the first timed call."""
    import ooc_accessor

    return ooc_accessor.__version__


def _scheduler_task_count(dask_scheduler: Any) -> int:
    return len(dask_scheduler.tasks)


@contextlib.contextmanager
def local_cluster(scratch: Path) -> Iterator[Any]:
    """A Client on a LocalCluster of 2 worker processes x 1 thread, made the default."""
    import dask
    import distributed

    # the nannies leave distributed's pre-spawn environment (OMP_NUM_THREADS=1 ...) in this
    # process's os.environ; it is put back afterwards so the machine section shows the run's
    saved = dict(os.environ)
    # every dask-scratch-space (the scheduler's too) inside the run's scratch directory
    with dask.config.set({"temporary-directory": str(scratch)}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            local_directory=str(scratch),
        )
        client = distributed.Client(cluster)
        try:
            client.wait_for_workers(2)
            client.run(_import_library)
            yield client
        finally:
            client.close()
            cluster.close()
            os.environ.clear()
            os.environ.update(saved)


def settler(client: Any, timeout: float = 10.0) -> Callable[[], None]:
    """Waits until the scheduler has forgotten every task of the previous call (the keys
    repeat, so a call could otherwise be answered from the previous one's results)."""

    def settle() -> None:
        deadline = time.perf_counter() + timeout
        while client.run_on_scheduler(_scheduler_task_count) and time.perf_counter() < deadline:
            time.sleep(0.01)

    return settle


# -- the cases -------------------------------------------------------------------------------
def fit_cases(design: ooc.Design, blocks: str) -> list[Case]:
    """``lstsq`` and the logistic GLM on ``design``; ``blocks`` describes its blocks."""

    def lstsq(setting: bool | str) -> Any:
        return design.lstsq(progress=setting)

    def glm(setting: bool | str) -> Any:
        return design.glm("binomial", progress=setting)

    def params(res: Any) -> dict[str, Any]:
        return {"params": np.asarray(res.params), "bse": np.asarray(res.bse)}

    return [
        Case(f"`design.lstsq()`, {blocks}", lstsq, params),
        Case(f"`design.glm('binomial')`, {blocks}", glm, params),
    ]


def threaded_cases(
    df: pd.DataFrame, design: ooc.Design, fine: ooc.Design, csv: Path, scratch: Path, chunk: Any
) -> list[Case]:
    """Every call of the threaded scheduler's table."""
    built, stored = scratch / "built.nc", scratch / "csv.nc"

    def remove(path: Path) -> Callable[[], None]:
        return lambda: path.unlink(missing_ok=True)

    def build(setting: bool | str) -> Any:
        return df.ooc.design(FORMULA, chunksize=chunk, path=built, progress=setting)

    def build_values(d: ooc.Design) -> dict[str, Any]:
        d.close()
        return {"X, y stored": file_digest(built, ("X", "y"))}

    def pca(setting: bool | str) -> Any:
        return design.pca(PCA_COMPONENTS, progress=setting, random_state=0)

    def pca_values(est: Any) -> dict[str, Any]:
        return {
            "components_": np.asarray(est.components_),
            "explained_variance_": np.asarray(est.explained_variance_),
            "mean_": np.asarray(est.mean_),
        }

    def svd(setting: bool | str) -> Any:
        return design.svd(progress=setting)

    def svd_values(res: Any) -> dict[str, Any]:
        return {"s": np.asarray(res.s), "Vt": np.asarray(res.Vt), "U stored": file_digest(res.path)}

    def read_csv(setting: bool | str) -> Any:
        return ooc.read_csv(csv, path=stored, chunksize=chunk, progress=setting)

    def csv_values(ds: Any) -> dict[str, Any]:
        ds.close()
        return {"variables stored": file_digest(stored)}

    fits = fit_cases(design, "stored blocks")
    blocks = f"{fine.chunk_rows:,}-row blocks ({len(fine.blocks())})"
    return [
        Case("`df.ooc.design(...)` (build from the DataFrame)", build, build_values, remove(built)),
        *fits,
        Case(f"`design.pca({PCA_COMPONENTS})`", pca, pca_values),
        Case("`design.svd()` (U computed and stored)", svd, svd_values),
        Case("`ooc.read_csv` (the same rows as CSV)", read_csv, csv_values, remove(stored)),
        *fit_cases(fine, blocks),
    ]


# -- the report ----------------------------------------------------------------------------
def results_table(measured: list[Measured]) -> str:
    headers = [
        "call",
        *(f"{label(s)} (s)" for s in SETTINGS),
        f'"auto" / {label(SETTINGS[0])}',
        f"True / {label(SETTINGS[0])}",
        'max/min over rounds (False, "auto", True)',
        'bar output, "auto" / True (chars)',
        "outputs: max difference",
    ]
    rows = []
    base = SETTINGS[0]
    for m in measured:
        t = m.timings
        rows.append(
            [
                m.case.name,
                *(seconds(t[s].best) for s in SETTINGS),
                ratio(t["auto"].best, t[base].best),
                ratio(t[True].best, t[base].best),
                ", ".join(f"{t[s].spread:.2f}" for s in SETTINGS),
                f"{m.chars['auto']:,} / {m.chars[True]:,}",
                f"{m.max_diff:.1g}" if m.max_diff else "0 (identical)",
            ]
        )
    return markdown_table(headers, rows)


def check_outputs(measured: list[Measured]) -> str:
    """The results line; raises when any output differs between settings or rounds."""
    differ = [m for m in measured if m.max_diff != 0.0]
    if differ:
        names = "; ".join(f"{m.case.name}: {m.max_diff:.3g}" for m in differ)
        raise SystemExit(f"outputs DIFFER between the progress settings: {names}")
    compared = sorted({k for m in measured for k in m.compared})
    return (
        f"Outputs of every call ({', '.join(compared)}) are identical across the three "
        "settings and all rounds (max difference 0; stored files compared by SHA-1 of "
        "their variables): OK."
    )


def notes(measured: dict[str, list[Measured]]) -> list[str]:
    """The ratios above :data:`AUTO_COST_LIMIT`, and the largest of each kind."""
    lines = []
    for engine, ms in measured.items():
        for key in ("auto", True):
            worst = max(ms, key=lambda m: m.timings[key].best / m.timings[False].best)
            r = worst.timings[key].best / worst.timings[False].best
            lines.append(
                f"- {engine}: largest {label(key)} / False = {r:.3f} ({worst.case.name}); "
                f"the median over the calls is "
                f"{np.median([m.timings[key].best / m.timings[False].best for m in ms]):.3f}"
            )
        over = [m for m in ms if m.timings["auto"].best > AUTO_COST_LIMIT * m.timings[False].best]
        spread = (
            "; ".join(
                f"{m.case.name}: {ratio(m.timings['auto'].best, m.timings[False].best)}"
                for m in over
            )
            or "none"
        )
        lines.append(f'- {engine}: calls where "auto" costs over 3%: {spread}')
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = build_parser(
        "What progress bars cost: progress=False / 'auto' / True",
        DEFAULT_ROWS,
        default_repeats=DEFAULT_REPEATS,
    )
    parser.add_argument(
        "--fine-chunksize",
        type=int,
        default=None,
        help=f"rows per block of the store of small blocks (default "
        f"{DEFAULT_FINE_CHUNKSIZE:,}; --smoke: {SMOKE_FINE_CHUNKSIZE:,})",
    )
    args = resolve_args(parser, DEFAULT_ROWS, argv, default_repeats=DEFAULT_REPEATS)
    fine_rows = args.fine_chunksize or (
        SMOKE_FINE_CHUNKSIZE if args.smoke else DEFAULT_FINE_CHUNKSIZE
    )
    # a smoke run checks the code paths: its timings mean nothing, so no warm-up round
    warmup = not args.smoke
    report = Report(args.out)
    monitor = CpuMonitor()
    with scratch_dir() as scratch:
        df = make_frame(args.rows)
        csv = scratch / "rows.csv"
        # pyarrow's writer: pandas' to_csv would take a minute at the full size (untimed)
        pacsv.write_csv(pa.Table.from_pandas(df, preserve_index=False), csv)
        with ooc.set_options(progress=False):
            design = df.ooc.design(FORMULA, chunksize=args.chunksize, path=scratch / "main.nc")
            fine = df.ooc.design(FORMULA, chunksize=fine_rows, path=scratch / "fine.nc")
        n_cols = len(design.terms)
        report.add(
            f"#### Progress bars: what they cost, {args.rows:,} rows x {n_cols} design columns"
        )
        report.add()
        report.add(
            f"`{FORMULA}`, stored in {len(design.blocks())} blocks of {design.chunk_rows:,} "
            f"rows (chunksize {args.chunksize!r}; the small-block store: "
            f"{len(fine.blocks())} blocks of {fine.chunk_rows:,}); the CSV is "
            f"{csv.stat().st_size / 1e6:,.0f} MB. Best of {args.repeats} interleaved "
            "rounds"
            + (" after a warm-up round" if warmup else " (no warm-up)")
            + "; the bars write to os.devnull."
        )
        report.add()
        measured: dict[str, list[Measured]] = {}
        cases = threaded_cases(df, design, fine, csv, scratch, args.chunksize)
        measured["threaded"] = [measure(c, args.repeats, warmup=warmup) for c in cases]
        report.add("##### Threaded scheduler")
        report.add()
        report.add(results_table(measured["threaded"]))
        report.add()
        with local_cluster(scratch) as client:
            cases = fit_cases(design, "stored blocks") + fit_cases(
                fine, f"{fine.chunk_rows:,}-row blocks ({len(fine.blocks())})"
            )
            measured["LocalCluster"] = [
                measure(c, args.repeats, settler(client), warmup=warmup) for c in cases
            ]
        report.add(
            "##### dask.distributed LocalCluster (2 worker processes x 1 thread): "
            '"auto" and True count the leaves with `as_completed`'
        )
        report.add()
        report.add(results_table(measured["LocalCluster"]))
        report.add()
        report.add("##### Outputs and ratios")
        report.add()
        report.add(check_outputs([m for ms in measured.values() for m in ms]))
        report.add()
        for line in notes(measured):
            report.add(line)
        report.add()
        design.close()
        fine.close()
    monitor.stop()
    report.add("##### Machine")
    report.add()
    report.add(machine_markdown(machine_info(EXTRA_PACKAGES), monitor))
    report.write()


if __name__ == "__main__":
    main()
