"""Benchmark of the main job: a CSV to a fitted regression, against the script it replaces.

On a synthetic CSV of N rows (columns ``y, a, b, c, d, cat1, region``: five numeric columns,
``cat1`` a string factor with 5 levels and ``region`` one with 30; ``y`` linear in the terms
below plus noise) and the formula ``y ~ a + b + c + d + d:c + a:b + a:c + C(cat1) +
C(region)`` (41 design columns), one run times, at each size of ``--rows`` (2M and 10M rows
by default):

1. the library: ``ds = ooc.read_csv(csv, store)``, then ``ds.ooc.lstsq(formula)``; read_csv
   and design + fit are timed apart and together;
2. the hand-made script it replaces, written out as its user must write it: a pre-scan of
   the file for the levels of ``cat1`` and ``region`` (``pd.read_csv(usecols=...,
   chunksize=...)``, so that every chunk gets the same columns), then ``pd.read_csv(
   chunksize=...)`` -> ``patsy.dmatrices`` per chunk with the levels given (``C(cat1,
   levels=L1)``) -> append to resizable h5py datasets (one HDF5 chunk per block) ->
   ``da.linalg.solve(X.T @ X, X.T @ y)`` with dask over the h5py datasets
   (``da.from_array``, one dask block per HDF5 chunk); all of it counts;
3. the bare parse: ``pd.read_csv(csv, chunksize=...)`` iterated, nothing kept.

Each contender runs in its own fresh interpreter (imports done before the clock starts)
while this process samples the child's ``RssAnon`` in ``/proc/PID/status``; the report gives
each time, the ratios library / script (the issue's target: at most 0.35) and library / bare
parse (target: at most 4), read_csv's throughput against the bare parse's (target: at least
0.7x), and the library's peak anonymous-memory growth against its bound
(a few blocks + O(p^2): :data:`BOUND_BLOCKS` blocks of the library's rows per chunk, each
the parsed CSV columns plus the design columns in float64, plus :data:`BOUND_SLACK_MB`).
The script and the parse read the library's rows per chunk. The library's coefficients
are checked to equal the script's (rtol 1e-6), so that both give the same answer.

The CSV is written (untimed) before each size's runs and read right after, from the page
cache; stores and the h5py file go beside it. The report (markdown) goes to stdout and,
with ``--out FILE``, to a file; ``--json FILE`` also writes the figures. Data files live in
a temporary directory (inside ``--workdir`` when given) removed at the end; at 10M rows
they take at most about 4 GB at once (the CSV, 0.6 GB, and the script's float64 design,
3.4 GB: each contender's output is removed after its runs). The data and the three
contenders' code are in ``_e2e_contenders.py``.

Run from the repository root::

    python bench/bench_e2e.py [--rows 2000000 10000000] [--repeats 1] [--out FILE]
    python bench/bench_e2e.py --smoke   # 1,500 and 3,000 rows in 500-row chunks
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from _common import (  # noqa: E402 - the helpers sit beside the scripts, not in a package
    CpuMonitor,
    Report,
    SampledRun,
    build_parser,
    machine_info,
    machine_markdown,
    markdown_table,
    ratio,
    resolve_args,
    run_sampled,
    seconds,
    write_json,
)
from _e2e_contenders import (  # noqa: E402 - the contenders, as the children import them
    CAT1_LEVELS,
    FLOAT_FORMAT,
    FORMULA,
    REGIONS,
    make_csv,
)

#: sizes of a full run, and of a ``--smoke`` run with its rows per chunk
DEFAULT_ROWS = (2_000_000, 10_000_000)
SMOKE_ROWS = (1_500, 3_000)
SMOKE_CHUNKSIZE = 500
#: the issue's targets: library / script and library / bare parse, at most
SCRIPT_TARGET = 0.35
PARSE_TARGET = 4.0
#: the issue's target on read_csv alone: at least this share of the bare parse's MB/s
READ_TARGET = 0.7
#: the library's memory bound: this many blocks (parsed CSV columns + design columns, in
#: float64, at its rows per chunk) plus this slack for the interpreter's own growth
BOUND_BLOCKS = 4
BOUND_SLACK_MB = 64.0
#: the library's coefficients must equal the script's to this (relative, each)
PARAMS_RTOL = 1e-6
#: seconds after which a child is killed
DEFAULT_TIMEOUT = 3_600.0
#: packages listed in the machine section besides those of ``_common.PACKAGES``
EXTRA_PACKAGES = ("formulaic", "pyarrow")

#: what a child runs: the contenders' module, from the bench folder, with the spec given
_CHILD_CODE = (
    "import sys; sys.path.insert(0, {bench!r}); "
    "import _e2e_contenders; _e2e_contenders.child_main(sys.argv[1])"
)


# -- running -----------------------------------------------------------------------------
@dataclass
class Contender:
    """One contender at one size: its best run (by the child's own clock)."""

    key: str
    run: SampledRun | None = None

    @property
    def result(self) -> dict[str, Any]:
        """The child's figures (empty if it gave none)."""
        return (self.run.result if self.run is not None else None) or {}

    @property
    def ok(self) -> bool:
        """Whether the child finished its work."""
        return self.result.get("outcome") == "ok"

    @property
    def seconds(self) -> float | None:
        """The work's wall time, timed inside the child."""
        return self.result.get("seconds") if self.ok else None

    def why(self) -> str:
        """How a failed run ended, for the notes."""
        if self.run is None:
            return "not run"
        if self.run.returncode is None:
            return "timed out"
        if self.result.get("error"):
            return f"failed: `{self.result['error']}`".replace("|", "/")
        tail = (self.run.stderr.strip().splitlines() or ["no output"])[-1][:160]
        return f"failed (exit {self.run.returncode}): `{tail}`".replace("|", "/")


@dataclass
class Size:
    """The runs of one size of CSV."""

    rows: int
    nbytes: int
    write_seconds: float
    contenders: dict[str, Contender] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Contender:
        return self.contenders[key]


def run_child(spec: dict[str, Any], timeout: float) -> SampledRun:
    """Run one contender in a fresh interpreter and sample its memory."""
    code = _CHILD_CODE.format(bench=str(BENCH_DIR))
    return run_sampled([sys.executable, "-c", code, json.dumps(spec)], timeout=timeout)


def best_run(spec: dict[str, Any], repeats: int, timeout: float) -> SampledRun:
    """The fastest of ``repeats`` runs of one contender (its output file removed each time)."""
    best: SampledRun | None = None
    for _ in range(repeats):
        if spec.get("out"):
            Path(spec["out"]).unlink(missing_ok=True)
        run = run_child(spec, timeout)
        took = (run.result or {}).get("seconds", math.inf)
        if best is None or took < (best.result or {}).get("seconds", math.inf):
            best = run
    if spec.get("out"):
        Path(spec["out"]).unlink(missing_ok=True)
    assert best is not None
    return best


def run_size(n: int, directory: Path, args: Any) -> Size:
    """Write the CSV of ``n`` rows, run the three contenders on it, remove the files."""
    csv = directory / f"data-{n}.csv"
    say = lambda text: print(f"bench_e2e: {n:,} rows: {text}", file=sys.stderr, flush=True)  # noqa: E731
    say("writing the CSV")
    took = make_csv(csv, n)
    size = Size(n, csv.stat().st_size, took)
    say(f"{size.nbytes / 1e6:,.0f} MB in {took:.0f} s")
    base = {"csv": str(csv), "chunksize": args.chunksize}
    lib = Contender("library")
    lib.run = best_run(
        {**base, "method": "library", "out": str(directory / "store.nc")},
        args.repeats,
        args.timeout,
    )
    say(f"library: {lib.seconds} s")
    size.contenders["library"] = lib
    # the others read as many rows at a time as the library did
    if lib.ok:
        rows = lib.result["chunk_rows"]
    else:
        rows = args.chunksize if isinstance(args.chunksize, int) else 500_000
    for key, out in (("script", str(directory / "script.h5")), ("parse", "")):
        c = Contender(key)
        spec = {**base, "method": key, "out": out, "rows": rows}
        c.run = best_run(spec, args.repeats, args.timeout)
        say(f"{key}: {c.seconds} s")
        size.contenders[key] = c
    csv.unlink()
    return size


# -- checks and report -------------------------------------------------------------------
def params_check(size: Size) -> tuple[bool, str]:
    """Whether the library's coefficients equal the script's (same terms, rtol each)."""
    lib, script = size["library"], size["script"]
    if not (lib.ok and script.ok):
        return False, "not compared (a contender failed)"
    if lib.result["terms"] != script.result["terms"]:
        return False, "DIFFERENT TERMS: " + ", ".join(
            sorted(set(lib.result["terms"]) ^ set(script.result["terms"]))[:4]
        )
    a, b = np.asarray(lib.result["params"]), np.asarray(script.result["params"])
    worst = float(np.max(np.abs(a - b) / np.abs(b)))
    same = worst <= PARAMS_RTOL and lib.result["nobs"] == script.result["nobs"]
    verdict = "OK" if same else "DIFFER"
    return same, (
        f"{len(a)} coefficients, largest relative difference {worst:.1e} (rtol "
        f"{PARAMS_RTOL:g}); nobs {lib.result['nobs']:,.0f} and {script.result['nobs']:,.0f}: "
        f"{verdict}"
    )


def bound_mb(size: Size) -> float | None:
    """The library's memory bound at this size: a few blocks + O(p^2) (MB)."""
    lib = size["library"]
    if not lib.ok:
        return None
    p = len(lib.result["terms"])
    block = lib.result["chunk_rows"] * (7 + p + 1) * 8  # CSV columns, X and y, float64
    return (BOUND_BLOCKS * block + 8 * p * p) / 1e6 + BOUND_SLACK_MB


def _mb(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.0f}"


def _rate(nbytes: int, secs: float | None) -> str:
    return "n/a" if not secs else _megabytes(nbytes / secs)


def _megabytes(nbytes: float) -> str:
    """Bytes as MB (10**6), three significant digits below 100 MB."""
    mb = nbytes / 1e6
    return f"{mb:.3g}" if mb < 100 else f"{mb:,.0f}"


def size_table(size: Size) -> str:
    """Markdown table of one size: each time, throughput, ratios, memory and notes."""
    lib, script, parse = size["library"], size["script"], size["parse"]
    total, ref_s, ref_p = lib.seconds, script.seconds, parse.seconds
    r = lib.result

    def growth(c: Contender) -> str:
        return _mb(c.run.growth_mb) if c.run is not None else "n/a"

    rows = []
    if lib.ok:
        rows += [
            [
                "ooc `read_csv` (part of the row below)",
                seconds(r["read_seconds"]),
                _rate(size.nbytes, r["read_seconds"]),
                ratio(r["read_seconds"], ref_s),
                ratio(r["read_seconds"], ref_p),
                "",
                f"parse + write the {_megabytes(r['store_bytes'])} MB store; "
                f"{r['chunk_rows']:,} rows per chunk",
            ],
            [
                "ooc `ds.ooc.lstsq(formula)` (design + fit; part of the row below)",
                seconds(r["fit_seconds"]),
                "",
                ratio(r["fit_seconds"], ref_s),
                ratio(r["fit_seconds"], ref_p),
                "",
                f"{len(r['terms'])} design columns",
            ],
        ]
    rows.append(
        [
            "**ooc `read_csv` + `ds.ooc.lstsq`**",
            seconds(total),
            _rate(size.nbytes, total),
            ratio(total, ref_s),
            ratio(total, ref_p),
            growth(lib),
            "the library's job" if lib.ok else lib.why(),
        ]
    )
    s = script.result
    note = (
        f"pre-scan {seconds(s['prescan_seconds'])} s, chunked `dmatrices` + h5py append "
        f"{seconds(s['build_seconds'])} s, dask solve {seconds(s['solve_seconds'])} s"
        if script.ok
        else script.why()
    )
    rows.append(
        [
            "hand-made script: pre-scan levels, pandas chunks -> patsy -> h5py -> dask",
            seconds(ref_s),
            _rate(size.nbytes, ref_s),
            "1.00x",
            ratio(ref_s, ref_p),
            growth(script),
            note,
        ]
    )
    p = parse.result
    note = f"{p['chunks']} chunks of {p['rows']:,} rows in all" if parse.ok else parse.why()
    rows.append(
        [
            "bare parse: `pd.read_csv(chunksize=)` iterated",
            seconds(ref_p),
            _rate(size.nbytes, ref_p),
            ratio(ref_p, ref_s),
            "1.00x",
            growth(parse),
            note,
        ]
    )
    headers = [
        "path",
        "seconds",
        "MB/s",
        "vs script",
        "vs bare parse",
        "peak RssAnon growth (MB)",
        "notes",
    ]
    return markdown_table(headers, rows)


def _ratio_value(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _verdict(value: float | None, limit: float | None, *, at_least: bool = False) -> str:
    """``met``, ``MISSED``, or ``n/a`` when there is no value or no limit."""
    if value is None or limit is None or math.isnan(value):
        return "n/a"
    return "met" if (value >= limit if at_least else value <= limit) else "MISSED"


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def size_targets(size: Size) -> list[str]:
    """The issue's targets at one size, with the measured values."""
    lib, parse = size["library"], size["parse"]
    to_script = _ratio_value(lib.seconds, size["script"].seconds)
    to_parse = _ratio_value(lib.seconds, parse.seconds)
    # read_csv's throughput over the bare parse's: the parse's time over read_csv's
    read_speed = _ratio_value(parse.seconds, lib.result.get("read_seconds"))
    bound = bound_mb(size)
    growth = lib.run.growth_mb if lib.run is not None else None
    n, p = f"{size.rows:,} rows", len(lib.result.get("terms", []))
    return [
        f"- {n}: library / script = {_times(to_script)} (target at most {SCRIPT_TARGET}x): "
        f"{_verdict(to_script, SCRIPT_TARGET)}",
        f"- {n}: library / bare parse = {_times(to_parse)} (target at most "
        f"{PARSE_TARGET:g}x): {_verdict(to_parse, PARSE_TARGET)}",
        f"- {n}: read_csv's MB/s / the bare parse's = {_times(read_speed)} (target at least "
        f"{READ_TARGET}x): {_verdict(read_speed, READ_TARGET, at_least=True)}",
        f"- {n}: library's peak RssAnon growth {_mb(growth)} MB, bound {_mb(bound)} MB "
        f"({BOUND_BLOCKS} blocks of {lib.result.get('chunk_rows', 0):,} rows x (7 CSV + {p} "
        f"design + 1) float64 columns + 8p² bytes + {BOUND_SLACK_MB:g} MB): "
        f"{_verdict(growth, bound)}",
    ]


def target_lines(sizes: list[Size]) -> list[str]:
    """The issue's targets at each size, and the library's memory against rows."""
    lines = [line for size in sizes for line in size_targets(size)]
    grown = [s for s in sizes if s["library"].run is not None]
    if len(grown) > 1:
        first, last = grown[0], grown[-1]
        g0, g1 = first["library"].run.growth_mb, last["library"].run.growth_mb
        lines.append(
            f"- Memory against rows: from {first.rows:,} to {last.rows:,} rows "
            f"({last.rows / first.rows:.1f}x) the library's growth went from {_mb(g0)} to "
            f"{_mb(g1)} MB ({ratio(g1, g0)})."
        )
    return lines


def to_json(sizes: list[Size], args: Any, info: dict[str, Any]) -> dict[str, Any]:
    """The run's figures as a JSON-ready dict."""
    out = []
    for size in sizes:
        entry: dict[str, Any] = {
            "rows": size.rows,
            "csv_bytes": size.nbytes,
            "params_equal": params_check(size)[0],
            "bound_mb": bound_mb(size),
        }
        for key, c in size.contenders.items():
            res = {k: v for k, v in c.result.items() if k not in ("params", "terms")}
            if c.run is not None:
                res.update(growth_mb=c.run.growth_mb, peak_mb=c.run.peak_mb)
            entry[key] = res
        entry["ratio_library_to_script"] = _ratio_value(
            size["library"].seconds, size["script"].seconds
        )
        entry["ratio_library_to_parse"] = _ratio_value(
            size["library"].seconds, size["parse"].seconds
        )
        entry["read_csv_throughput_vs_parse"] = _ratio_value(
            size["parse"].seconds, size["library"].result.get("read_seconds")
        )
        out.append(entry)
    return {
        "benchmark": "end to end",
        "formula": FORMULA,
        "repeats": args.repeats,
        "smoke": args.smoke,
        "targets": {
            "library_to_script": SCRIPT_TARGET,
            "library_to_parse": PARSE_TARGET,
            "read_csv_throughput_vs_parse": READ_TARGET,
        },
        "sizes": out,
        "machine": info,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) its markdown report."""
    sizes_kw: dict[str, Any] = {
        "smoke_rows": SMOKE_ROWS,
        "smoke_chunksize": SMOKE_CHUNKSIZE,
        "default_repeats": 1,
    }
    parser = build_parser(__doc__.splitlines()[0], DEFAULT_ROWS, **sizes_kw)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="directory for the CSV and the stores (a temporary one inside it, removed at "
        "the end; default: the system's temporary directory)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds after which a contender is stopped (default {DEFAULT_TIMEOUT:.0f})",
    )
    args = resolve_args(parser, DEFAULT_ROWS, argv, **sizes_kw)
    report = Report(args.out)
    monitor = CpuMonitor()
    sizes = []
    with tempfile.TemporaryDirectory(prefix="ooc-bench-e2e-", dir=args.workdir) as tmp:
        for n in args.rows:
            sizes.append(run_size(n, Path(tmp), args))
    monitor.stop()

    runs = "once" if args.repeats == 1 else f"{args.repeats} times (the best kept)"
    report.add("### End to end: CSV -> design -> lstsq")
    report.add()
    report.add(
        f"Formula `{FORMULA}`. Data: `y, a, b, c, d` written with `{FLOAT_FORMAT}`, `cat1` "
        f"(strings, {len(CAT1_LEVELS)} levels) and `region` (strings, {len(REGIONS)} levels), "
        "y linear in the terms plus N(0, 1) noise; no missing values. Each path runs "
        f"{runs} in a fresh interpreter, timed inside it after its imports; MB/s is the "
        "CSV's size over that time (MB = 10^6 bytes), read from the page cache. Memory: "
        "the child's peak `RssAnon` growth over its post-import baseline, sampled every "
        f"15 ms. chunksize={args.chunksize!r} for the library; the script and the parse "
        "read the library's rows per chunk."
        + (" A `--smoke` run: its timings and verdicts mean nothing." if args.smoke else "")
    )
    ok = True
    for size in sizes:
        report.add()
        report.add(
            f"#### {size.rows:,} rows ({_megabytes(size.nbytes)} MB CSV, written untimed in "
            f"{size.write_seconds:.0f} s)"
        )
        report.add()
        report.add(size_table(size))
        report.add()
        same, text = params_check(size)
        ok &= same
        report.add(f"Coefficients, library against the script: {text}.")
    report.add()
    report.add("#### Targets")
    report.add()
    for line in target_lines(sizes):
        report.add(line)
    report.add()
    report.add("#### Machine")
    report.add()
    info = machine_info(EXTRA_PACKAGES)
    report.add(machine_markdown(info, monitor))
    report.write()
    write_json(args.json, to_json(sizes, args, info))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
