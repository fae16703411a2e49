"""What a notebook shows: a real kernel (ipykernel's "python3", run by nbclient) fits small
data and displays each result; each cell's ``text/html`` output shows what it should."""

from __future__ import annotations

import html
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import ooc_accessor

#: the package the test imports (a worktree's copy): the kernel must import the same one
PACKAGE_ROOT = str(Path(ooc_accessor.__file__).resolve().parents[1])

SETUP = """\
import numpy as np
import pandas as pd
import xarray as xr
import ooc_accessor as ooc

rng = np.random.default_rng(0)
n = 300
df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                   "g": rng.choice(["lo", "mid", "hi"], size=n)})
df["y"] = 1 + 2 * df.a - df.b + rng.normal(size=n)
df["hit"] = (df.a + rng.normal(size=n) > 0) * 1.0
ds = xr.Dataset({"t2m": ("time", df.y.to_numpy()), "elev": ("time", df.a.to_numpy())},
                coords={"time": pd.date_range("2000-01-01", periods=n)})
print(ooc.__file__)
"""

#: (cell source, pieces its text/html output must show), pieces as the user wrote them
CELLS = [
    (
        "design = df.ooc.design('y ~ a + b + C(g)', chunksize=100)\ndesign",
        ["ooc.Design", "y ~ a + b + C(g)", "C(g)[T.mid]", "300 rows, 3 blocks", "temporary"],
    ),
    (
        "fit = df.ooc.lstsq('y ~ a + b + C(g)')\nfit",
        ["ooc.LstsqResult OLS", "y ~ a + b + C(g)", "<dt>nobs</dt><dd>300</dd>", "C(g)[T.mid]"],
    ),
    (
        "glm = df.ooc.glm('hit ~ a + b', family='binomial')\nglm",
        ["ooc.GLMResults Binomial(Logit)", "hit ~ a + b", "<dt>converged</dt><dd>True</dd>"],
    ),
    (
        "svd = df.ooc.svd('0 + a + b', k=2)\nsvd",
        ["ooc.SVDResult", "0 + a + b", "<dt>shape</dt><dd>300 x 2</dd>", "<dt>k</dt><dd>2</dd>"],
    ),
    (
        "pca = df.ooc.pca(n_components=2, columns=['a', 'b', 'y'])\npca",
        [
            "sk-estimator",  # scikit-learn's diagram
            "<dt>solver</dt><dd>full</dd>",
            "<dt>n_samples_seen_</dt><dd>300</dd>",
            "<dt>n_components_</dt><dd>2</dd>",
        ],
    ),
    (
        "xfit = ds.ooc.lstsq('t2m ~ elev', dim='time')\nxfit",
        ["ooc.LstsqResult OLS", "t2m ~ elev", "<dt>nobs</dt><dd>300</dd>", "<th>elev</th>"],
    ),
    (
        "xpca = ds.ooc.pca(n_components=1, dim='time', variables=['t2m', 'elev'])\nxpca",
        ["<dt>n_samples_seen_</dt><dd>300</dd>", "<dt>n_features_in_</dt><dd>2</dd>"],
    ),
    (
        "ooc.IncrementalPCA(n_components=5)",
        ["IncrementalPCA(n_components=5)", "no (call fit or partial_fit)"],
    ),
]


def test_notebook_displays_each_result(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)] + [
        nbformat.v4.new_code_cell(source) for source, _ in CELLS
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    env["OOC_ACCESSOR_TMPDIR"] = str(tmp_path)  # the kernel's temporary stores
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=env)

    for cell, (source, pieces) in zip(nb.cells[1:], CELLS, strict=True):
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert len(results) == 1, (source, cell.outputs)
        page = results[0].data["text/html"]
        for piece in pieces:
            # the formula's quotes and the like are escaped; tags given literally are ours
            assert piece in page or html.escape(piece) in page, (source, piece)
        assert results[0].data["text/plain"].splitlines()[0] in html.unescape(page)
    # the kernel imported the package under test, not another installed copy
    printed = "".join(o.text for o in nb.cells[0].outputs if o.output_type == "stream")
    assert printed.strip() == str(Path(ooc_accessor.__file__).resolve())
