"""Processes of a benchmark run: how busy the rest of the machine was, and child processes.

:class:`CpuMonitor` measures the CPU the other processes used during a run (the timings
assume a quiet machine). :func:`run_sampled` runs one contender in a fresh interpreter and
samples its anonymous memory (``RssAnon``) from ``/proc``; the child side is
:func:`child_handshake` and :func:`child_result`. ``_common`` re-exports every public name,
so scripts import them from there.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


# -- the rest of the machine -------------------------------------------------------------
def _busy_jiffies() -> int:
    """CPU time (clock ticks) spent by every CPU in anything but idle and iowait."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:]
    values = [int(v) for v in fields]
    # user nice system idle iowait irq softirq steal guest guest_nice; guests are in user
    return sum(values[:3]) + sum(values[5:8])


def _own_jiffies() -> int:
    """CPU time (clock ticks) of this process and its waited-for children."""
    with open(f"/proc/{os.getpid()}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # after the command: state ppid ... utime(12) stime(13) cutime(14) cstime(15), 0-based 11..
    return sum(int(v) for v in fields[11:15])


class CpuMonitor:
    """How much CPU the rest of the machine used while a run went on.

    The timings assume a quiet machine; this says whether it was. ``others`` is the mean
    number of CPUs kept busy by other processes (and steal time) between construction and
    :meth:`stop`. Reads ``/proc`` (Linux); elsewhere it reports ``nan``.
    """

    def __init__(self) -> None:
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._t0 = time.monotonic()
        try:
            self._busy0, self._own0 = _busy_jiffies(), _own_jiffies()
        except OSError:
            self._busy0 = self._own0 = -1
        self.others = float("nan")
        self.seconds = 0.0

    def stop(self) -> float:
        """Stop measuring; returns (and keeps in ``others``) the mean CPUs used by others."""
        self.seconds = time.monotonic() - self._t0
        if self._busy0 >= 0 and self.seconds > 0:
            busy = _busy_jiffies() - self._busy0
            own = _own_jiffies() - self._own0
            self.others = max(0.0, (busy - own) / self._tick / self.seconds)
        return self.others


# -- peak memory of a child process ------------------------------------------------------
#: the line a child prints when its imports are done: marker, RssAnon (KiB), address cap
CHILD_READY = "@@BENCH-CHILD-READY"
#: the line before a child's JSON result
CHILD_RESULT = "@@BENCH-CHILD-RESULT"
_KIB = 1024  # /proc/<pid>/status says "kB" but means KiB


def proc_status_kb(pid: int | str, key: str) -> int | None:
    """A ``kB`` field (``"RssAnon"``, ``"VmSize"``...) of ``/proc/<pid>/status``, in KiB.

    Parameters
    ----------
    pid : int or "self"
    key : str

    Returns
    -------
    int or None
        ``None`` once the process has exited (or has no such line: a zombie, not Linux).
    """
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:  # gone, or no /proc
        return None
    return None


def child_handshake(address_space_cap: int | None = None) -> None:
    """In a child of :func:`run_sampled`: report the baseline, cap memory, wait for the go.

    Call it once the child's imports and setup are done: it prints :data:`CHILD_READY` with
    the child's ``RssAnon`` (the baseline of the growth the parent reports), optionally caps
    the address space, and blocks until the parent's sampler is running.

    Parameters
    ----------
    address_space_cap : int, optional
        Bytes the address space (``VmSize``) may grow by from now on, set with
        ``resource.setrlimit(RLIMIT_AS, ...)``: an allocation beyond raises ``MemoryError``
        (or kills the child) instead of exhausting the machine. ``None``, or a platform
        without ``resource`` or ``/proc``, sets no cap; the ready line says which.
    """
    baseline = proc_status_kb("self", "RssAnon")
    capped = 0
    if address_space_cap is not None:
        vm = proc_status_kb("self", "VmSize")
        try:
            import resource

            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            limit = vm * _KIB + int(address_space_cap) if vm is not None else None
            if limit is not None and (hard == resource.RLIM_INFINITY or limit <= hard):
                resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
                capped = int(address_space_cap)
        except (ImportError, OSError, ValueError):
            capped = 0
    print(CHILD_READY, -1 if baseline is None else baseline, capped, flush=True)
    sys.stdin.readline()


def child_result(value: Any) -> None:
    """In a child of :func:`run_sampled`: hand ``value`` (JSON-serializable) to the parent."""
    import json

    print(CHILD_RESULT, json.dumps(value), flush=True)


@dataclass
class SampledRun:
    """What :func:`run_sampled` saw of one child process.

    Attributes
    ----------
    baseline_mb : float
        The child's ``RssAnon`` at its handshake, after its imports (MB, 10**6 bytes);
        ``nan`` where ``/proc`` is missing.
    peak_mb : float
        Largest ``RssAnon`` sampled from the go to the exit (MB).
    seconds : float
        Wall time from the go to the exit (the work, interpreter teardown included).
    samples : int
        ``/proc`` samples taken.
    returncode : int or None
        Exit status (negative: killed by that signal); ``None`` if it timed out.
    result : Any
        The child's :func:`child_result` value, or ``None`` if it gave none.
    stderr : str
        The child's stderr.
    cap : int
        The address-space cap the child set (bytes of growth; 0 for none).
    others : float
        Mean CPUs kept busy by other processes meanwhile (see :class:`CpuMonitor`).
    """

    baseline_mb: float
    peak_mb: float
    seconds: float
    samples: int
    returncode: int | None
    result: Any
    stderr: str
    cap: int
    others: float

    @property
    def growth_mb(self) -> float:
        """Peak less baseline (MB): the anonymous memory the work itself needed."""
        return self.peak_mb - self.baseline_mb


def run_sampled(
    argv: Sequence[str],
    *,
    interval: float = 0.015,
    timeout: float = 3600.0,
    env: dict[str, str] | None = None,
) -> SampledRun:
    """Run a child and sample its anonymous memory (``RssAnon``) until it exits.

    The child (``argv``, e.g. ``[sys.executable, "-c", code]``) does its imports, calls
    :func:`child_handshake`, does the work and reports with :func:`child_result`. The
    parent reads ``/proc/<pid>/status`` every ``interval`` seconds from the go. File pages
    (a memmap, the page cache) are not in ``RssAnon``: only memory the child owns counts.
    A child that fails, is killed or times out is reported, not raised.

    Parameters
    ----------
    argv : sequence of str
        The command.
    interval : float
        Seconds between samples.
    timeout : float
        Seconds from the go after which the child is killed (``returncode`` ``None``).
    env : dict, optional
        The child's environment (the parent's when ``None``).

    Returns
    -------
    SampledRun
    """
    import json
    import subprocess
    import threading

    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    err: list[str] = []
    out: list[str] = []
    drain = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    drain.start()
    baseline_kb, cap = -1, 0
    for line in proc.stdout:  # the child's own prints before the handshake pass through
        if line.startswith(CHILD_READY):
            _, base, cap_text = line.split()
            baseline_kb, cap = int(base), int(cap_text)
            break
        out.append(line)
    else:  # the child ended before its handshake
        proc.wait()
        drain.join()
        return SampledRun(
            float("nan"), float("nan"), 0.0, 0, proc.returncode, None, "".join(err), 0, 0.0
        )
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    monitor = CpuMonitor()
    peak_kb, samples = baseline_kb, 0
    t0 = time.perf_counter()
    try:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    timed_out = False
    while proc.poll() is None:
        kb = proc_status_kb(proc.pid, "RssAnon")
        if kb is not None:
            peak_kb = max(peak_kb, kb)
            samples += 1
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            timed_out = True
            break
        time.sleep(interval)
    proc.wait()
    seconds = time.perf_counter() - t0
    monitor.stop()
    reader.join()
    drain.join()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()
    results = [ln for ln in "".join(out).splitlines() if ln.startswith(CHILD_RESULT)]
    result = json.loads(results[-1][len(CHILD_RESULT) :]) if results else None
    to_mb = _KIB / 1e6
    base_mb = baseline_kb * to_mb if baseline_kb >= 0 else float("nan")
    peak_mb = peak_kb * to_mb if baseline_kb >= 0 else float("nan")
    return SampledRun(
        base_mb,
        peak_mb,
        seconds,
        samples,
        None if timed_out else proc.returncode,
        result,
        "".join(err),
        cap,
        monitor.others,
    )
