"""Peak anonymous memory of a Python snippet, measured from outside its process.

:func:`run_measured` starts a fresh interpreter that imports the heavy modules, reports its
``RssAnon`` (the baseline), waits for the parent's go, runs the snippet and prints the
snippet's result as JSON. Meanwhile the parent reads ``/proc/<pid>/status`` every few
milliseconds and keeps the largest ``RssAnon`` seen after the go.

``RssAnon`` counts only anonymous pages (heap, malloc arenas, numpy buffers, thread stacks):
file pages of the HDF5 store read through the page cache or a memmap show up in ``VmRSS``
(as ``RssFile``) but are not memory the process owns, so they are left out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from typing import Any

#: modules imported before the baseline is taken, so their cost is not counted as growth
DEFAULT_IMPORTS = ("numpy", "pandas", "xarray", "dask", "h5py", "scipy.linalg", "ooc_accessor")

_KIB = 1024  # /proc/<pid>/status says "kB" but means KiB
_READY = "@@MEMTOOLS-READY"
_RESULT = "@@MEMTOOLS-RESULT"

_CHILD = """\
import json, sys
{imports}

def _rss_anon_kb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/self/status")

print({ready!r}, _rss_anon_kb(), flush=True)
sys.stdin.readline()  # wait for the parent's sampler

def _snippet():
{body}

_out = _snippet()
print({result!r}, json.dumps(_out), flush=True)
"""


def rss_anon_kb(pid: int) -> int | None:
    """``RssAnon`` of process ``pid`` in KiB, or ``None`` once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None  # a zombie has no memory lines


@dataclass
class Measurement:
    """What :func:`run_measured` saw.

    Attributes
    ----------
    baseline_mb : float
        ``RssAnon`` after the imports, before the snippet (MB, 10**6 bytes).
    peak_mb : float
        Largest ``RssAnon`` sampled while the snippet ran (MB).
    seconds : float
        Wall time from the go to the exit of the child (snippet and teardown).
    samples : int
        Number of ``/proc`` samples taken while it ran.
    result : Any
        The snippet's return value, through JSON.
    """

    baseline_mb: float
    peak_mb: float
    seconds: float
    samples: int
    result: Any = field(repr=False)

    @property
    def growth_mb(self) -> float:
        """Peak less baseline (MB): the memory the snippet itself needed."""
        return self.peak_mb - self.baseline_mb


def run_measured(
    body: str,
    *,
    imports: tuple[str, ...] = DEFAULT_IMPORTS,
    interval: float = 0.01,
    timeout: float = 600.0,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Run ``body`` as a function in a fresh interpreter and sample its peak ``RssAnon``.

    Parameters
    ----------
    body : str
        Statements of a function body; its ``return`` value must be JSON-serializable and is
        handed back as :attr:`Measurement.result`.
    imports : tuple of str
        Modules imported before the baseline is measured (``import numpy as np`` is
        always added, so the body may use ``np``).
    interval : float
        Seconds between samples.
    timeout : float
        Seconds before the child is killed and :class:`TimeoutError` raised.
    env : dict, optional
        Extra environment variables for the child.

    Returns
    -------
    Measurement

    Raises
    ------
    RuntimeError
        The child failed; its stderr is in the message.
    """
    lines = [f"import {m}" for m in imports] + ["import numpy as np"]
    code = _CHILD.format(
        imports="\n".join(lines),
        ready=_READY,
        result=_RESULT,
        body=textwrap.indent(textwrap.dedent(body).strip("\n"), "    "),
    )
    child_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
    )
    try:
        return _sample(proc, interval, timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _sample(proc: subprocess.Popen, interval: float, timeout: float) -> Measurement:
    """Handshake with the child, sample it until it exits, and parse its output."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stderr: list[str] = []
    drain = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
    drain.start()
    first = proc.stdout.readline()
    if not first.startswith(_READY):
        proc.wait(timeout=timeout)
        drain.join()
        raise RuntimeError(f"child failed before its baseline:\n{first}{''.join(stderr)}")
    baseline_kb = int(first.split()[1])
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    peak_kb, samples = baseline_kb, 0
    t0 = time.perf_counter()
    proc.stdin.write("go\n")
    proc.stdin.flush()
    deadline = t0 + timeout
    while proc.poll() is None:
        kb = rss_anon_kb(proc.pid)
        if kb is not None:
            peak_kb = max(peak_kb, kb)
            samples += 1
        if time.perf_counter() > deadline:
            proc.kill()
            raise TimeoutError(f"child ran longer than {timeout} s")
        time.sleep(interval)
    reader.join()
    drain.join()
    text = "".join(out)
    results = [ln for ln in text.splitlines() if ln.startswith(_RESULT)]
    if proc.returncode != 0 or not results:
        raise RuntimeError(
            f"child exited with status {proc.returncode}:\n{text}\n{''.join(stderr)}"
        )
    # from the go to the exit: the snippet plus interpreter teardown
    seconds = time.perf_counter() - t0
    result = json.loads(results[-1][len(_RESULT) :])
    return Measurement(baseline_kb * _KIB / 1e6, peak_kb * _KIB / 1e6, seconds, samples, result)
