"""Shared helpers of the benchmark scripts: the CLI, timing, tables and machine information.

Every ``bench/bench_*.py`` script takes the options of :func:`parse_args` (``--rows``,
``--smoke``, ``--repeats``, ``--chunksize``, ``--out``), times with :func:`best_of`, prints
markdown built with :func:`markdown_table`, and ends with :func:`machine_markdown`, so its
output can be pasted into ``docs/benchmarks.md`` as it is. ``tests/test_bench_smoke.py``
runs each of them with ``--smoke``.

The /proc side (the CPU other processes used, child processes sampled for memory) lives in
``_process.py``; its names are re-exported here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from _process import (  # noqa: F401 - re-exported: the scripts import these from here
    CHILD_READY,
    CHILD_RESULT,
    CpuMonitor,
    SampledRun,
    child_handshake,
    child_result,
    proc_status_kb,
    run_sampled,
)

#: rows of a ``--smoke`` run: every code path, in seconds
SMOKE_ROWS = 20_000
#: rows per stored block in a ``--smoke`` run, so that even 20k rows make several blocks
SMOKE_CHUNKSIZE = 5_000
#: timed repeats (after one warm-up) of a full run
DEFAULT_REPEATS = 5
#: packages whose versions the machine section lists
PACKAGES = (
    "ooc_accessor",
    "numpy",
    "scipy",
    "pandas",
    "dask",
    "xarray",
    "patsy",
    "h5py",
    "h5netcdf",
    "statsmodels",
    "threadpoolctl",
)
#: environment variables that change how BLAS and OpenMP run, recorded when set
THREAD_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "DASK_NUM_WORKERS",
)


# -- command line ------------------------------------------------------------------------
def parse_args(
    description: str, default_rows: int, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """The options every benchmark script takes, with ``--smoke`` defaults resolved.

    Parameters
    ----------
    description : str
        The script's one-line description (``--help``).
    default_rows : int
        Rows of a full run.
    argv : sequence of str, optional
        The arguments (``sys.argv[1:]`` when ``None``).

    Returns
    -------
    argparse.Namespace
        ``rows`` (int), ``repeats`` (int), ``chunksize`` (int or ``"auto"``), ``smoke``
        (bool) and ``out`` (Path or None).
    """
    parser = build_parser(description, default_rows)
    return resolve_args(parser, default_rows, argv)


def build_parser(
    description: str,
    default_rows: int,
    *,
    smoke_rows: int | Sequence[int] = SMOKE_ROWS,
    smoke_chunksize: int = SMOKE_CHUNKSIZE,
    default_repeats: int = DEFAULT_REPEATS,
) -> argparse.ArgumentParser:
    """The parser of :func:`parse_args`, for a script that adds options of its own.

    Parameters
    ----------
    description : str
        The script's one-line description (``--help``).
    default_rows : int or sequence of int
        Rows of a full run. A sequence makes ``--rows`` take one or more sizes (a list),
        for a script that runs at several sizes.
    smoke_rows : int or sequence of int
        Rows of a ``--smoke`` run (a sequence when ``default_rows`` is one).
    smoke_chunksize : int
        Rows per block of a ``--smoke`` run (as said in ``--help``).
    default_repeats : int
        Timed repeats of a full run (as said in ``--help``).

    Returns
    -------
    argparse.ArgumentParser
        Add the script's own options to it, then call :func:`resolve_args` with the same
        defaults.
    """
    parser = argparse.ArgumentParser(description=description)
    if isinstance(default_rows, int):
        parser.add_argument(
            "--rows",
            type=int,
            default=None,
            help=f"rows of the main data (default {default_rows:,})",
        )
    else:
        parser.add_argument(
            "--rows",
            type=int,
            nargs="+",
            default=None,
            help=f"rows of the data, one run per size (default {_sizes(default_rows)})",
        )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a tiny run that checks the script works ({_sizes(smoke_rows)} rows, 1 repeat, "
        f"{smoke_chunksize:,}-row blocks); its timings mean nothing",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help=f"timed repeats after one warm-up; the best is reported (default {default_repeats})",
    )
    parser.add_argument(
        "--chunksize",
        type=_chunksize,
        default=None,
        help='rows per stored block, or "auto" (the library\'s default)',
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    return parser


def resolve_args(
    parser: argparse.ArgumentParser,
    default_rows: int | Sequence[int],
    argv: Sequence[str] | None = None,
    *,
    smoke_rows: int | Sequence[int] = SMOKE_ROWS,
    smoke_chunksize: int = SMOKE_CHUNKSIZE,
    default_repeats: int = DEFAULT_REPEATS,
) -> argparse.Namespace:
    """Parse ``argv`` with a parser of :func:`build_parser` and fill in the defaults.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        From :func:`build_parser` (and the script's own options).
    default_rows : int or sequence of int
        Rows of a full run (a sequence: ``rows`` is a list of sizes).
    argv : sequence of str, optional
        The arguments (``sys.argv[1:]`` when ``None``).
    smoke_rows, smoke_chunksize, default_repeats
        As given to :func:`build_parser`.

    Returns
    -------
    argparse.Namespace
        As :func:`parse_args`, plus the script's own options; ``rows`` is a list of int
        when ``default_rows`` is a sequence.
    """
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = smoke_rows if args.smoke else default_rows
    if not isinstance(args.rows, int):
        args.rows = [int(n) for n in args.rows]
    if args.repeats is None:
        args.repeats = 1 if args.smoke else default_repeats
    if args.chunksize is None:
        args.chunksize = smoke_chunksize if args.smoke else "auto"
    sizes = [args.rows] if isinstance(args.rows, int) else args.rows
    if min(sizes) < 1 or args.repeats < 1:
        parser.error("--rows and --repeats must be positive")
    return args


def _sizes(rows: int | Sequence[int]) -> str:
    """``2,000,000`` or ``2,000,000 and 10,000,000``, for ``--help``."""
    sizes = [rows] if isinstance(rows, int) else list(rows)
    return " and ".join(f"{n:,}" for n in sizes)


def _chunksize(text: str) -> int | str:
    if text == "auto":
        return text
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("chunksize must be a positive int or 'auto'")
    return value


# -- timing ------------------------------------------------------------------------------
@dataclass
class Timing:
    """Wall times of the repeats of one measurement, and what its first call returned.

    Attributes
    ----------
    times : list of float
        Seconds of each timed repeat (the warm-up is not among them).
    value : Any
        The return value of the warm-up call (e.g. the fitted coefficients).
    """

    times: list[float] = field(default_factory=list)
    value: Any = None

    @property
    def best(self) -> float:
        """The smallest time: the one least disturbed by the rest of the machine."""
        return min(self.times)

    @property
    def spread(self) -> float:
        """Largest over smallest time, a measure of the noise of this measurement."""
        return max(self.times) / min(self.times)


def best_of(
    fn: Callable[[], Any],
    repeats: int,
    *,
    warmup: bool = True,
    setup: Callable[[], Any] | None = None,
) -> Timing:
    """Time ``fn()`` ``repeats`` times (after one untimed warm-up call) with a wall clock.

    Parameters
    ----------
    fn : callable
        The work, called with no arguments.
    repeats : int
        Timed calls.
    warmup : bool
        Make one untimed call first (imports, page cache, BLAS threads); its return value
        is kept in :attr:`Timing.value`. Without it, the first timed call's value is kept.
    setup : callable, optional
        Called, untimed, before every call (e.g. to remove the previous call's output).

    Returns
    -------
    Timing
    """
    timing = Timing()
    if warmup:
        if setup is not None:
            setup()
        timing.value = fn()
    for i in range(repeats):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        out = fn()
        timing.times.append(time.perf_counter() - t0)
        if i == 0 and not warmup:
            timing.value = out
    return timing


@contextmanager
def scratch_dir(prefix: str = "ooc-bench-") -> Iterator[Path]:
    """A temporary directory for the data files of a run, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


# -- machine information -----------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's description of the BLAS (and OpenMP) libraries loaded now."""
    from threadpoolctl import threadpool_info

    return threadpool_info()


def machine_info(extra_packages: Sequence[str] = ()) -> dict[str, Any]:
    """CPU, cores, RAM, OS, Python and package versions, BLAS and thread settings.

    Call it at the end of a run, when numpy, scipy and the rest have loaded their BLAS.

    Parameters
    ----------
    extra_packages : sequence of str
        Packages whose versions are listed besides those of :data:`PACKAGES` (e.g. a
        contender only one script runs).
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    try:
        load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "ram_gb": _ram_gb(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "packages": {name: _version(name) for name in (*PACKAGES, *extra_packages)},
        "blas": blas_info(),
        "env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
        "load_average": load,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }


def machine_markdown(info: dict[str, Any], monitor: CpuMonitor | None = None) -> str:
    """The machine section of a report, as a markdown bullet list."""
    pkgs = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    lines = [
        f"- Date: {info['date']}; command: `{info['command']}`",
        f"- CPU: {info['cpu']}; cores: {info['cores']}; RAM: {info['ram_gb']:.1f} GiB",
        f"- OS: {info['os']}; Python {info['python']}",
        f"- Packages: {pkgs}",
    ]
    for lib in info["blas"]:
        arch = f", architecture {lib['architecture']}" if lib.get("architecture") else ""
        where = Path(lib["filepath"])
        lines.append(
            f"- {lib['user_api'].upper()}: {lib['internal_api']} {lib.get('version') or ''}"
            f"{arch}, {lib['num_threads']} threads by default "
            f"(`{where.parent.name}/{where.name}`)"
        )
    env = ", ".join(f"`{k}={v}`" for k, v in info["env"].items()) or "none set"
    lines.append(f"- Thread/BLAS environment variables: {env}")
    load = f"- Load average (1/5/15 min) at the end: {info['load_average']}"
    if monitor is not None:
        load += (
            f"; other processes kept {monitor.others:.2f} CPUs busy on average during the "
            f"{monitor.seconds:.0f} s run"
        )
    lines.append(load)
    return "\n".join(lines)


# -- output ------------------------------------------------------------------------------
def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table; the first column is left-aligned, the others right-aligned."""
    out = ["| " + " | ".join(headers) + " |"]
    out.append("|" + ":---|" + "---:|" * (len(headers) - 1))
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def seconds(t: float | None) -> str:
    """Seconds with three significant digits, or "n/a" for none."""
    if t is None:
        return "n/a"
    return f"{t:.3g}" if t < 100 else f"{t:.0f}"


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` as ``1.23x``, or "n/a"."""
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    """Write a run's figures as JSON (for scripts that take ``--json FILE``); no-op for None.

    Non-finite floats are written as ``null`` so that any JSON reader takes the file.
    """
    import json
    import math

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(clean(payload), indent=2, default=str) + "\n")


class Report:
    """Collects the markdown of a run; prints each part as it comes and writes the whole.

    Parameters
    ----------
    out : Path, optional
        Where :meth:`write` puts the report.
    """

    def __init__(self, out: Path | None = None) -> None:
        self.out = out
        self.parts: list[str] = []

    def add(self, text: str = "") -> None:
        """Print ``text`` and keep it for the file."""
        print(text, flush=True)
        self.parts.append(text)

    def write(self) -> None:
        """Write everything added so far to ``out`` (when given)."""
        if self.out is not None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.out.write_text("\n".join(self.parts) + "\n")
