"""Examples of reading and storing data: read_csv, open_csv_store, open_design, Design.

Attached to the objects' docstrings by :func:`ooc_accessor.docstrings.attach`.
"""

from __future__ import annotations

from .. import csvio, opening
from ..design import Design

#: (object, attribute or None) -> sections appended to its docstring
SECTIONS = {
    (csvio, "read_csv"): r"""
Examples
--------
>>> import os
>>> import tempfile
>>> import ooc_accessor as ooc
>>> with tempfile.TemporaryDirectory() as tmp:
...     csv = os.path.join(tmp, "data.csv")
...     with open(csv, "w") as f:
...         _ = f.write("x,g,y\n1,a,1.1\n2,b,1.9\n3,a,3.2\n4,b,3.9\n")
...     ds = ooc.read_csv(csv, path=os.path.join(tmp, "data.nc"), progress=False)
...     print(dict(ds.sizes), list(ds.data_vars))
...     fit = ds.ooc.lstsq("y ~ x + g", dim="index")
...     print(fit.params.round(3).to_series().to_dict())
...     ds.close()
{'index': 4} ['x', 'g', 'y']
{'Intercept': 0.1, 'g[T.b]': -0.275, 'x': 1.025}
""",
    (csvio, "open_csv_store"): r"""
Parameters
----------
path : str or path-like
    A store written by :func:`read_csv` (with ``path=``).
temporary : bool, default False
    Remove the store when the returned Dataset is garbage collected.
verify : bool, default False
    Read every chunk once now to check its checksum.

Examples
--------
>>> import os
>>> import tempfile
>>> import ooc_accessor as ooc
>>> with tempfile.TemporaryDirectory() as tmp:
...     csv = os.path.join(tmp, "data.csv")
...     with open(csv, "w") as f:
...         _ = f.write("x,y\n1,1.1\n2,1.9\n3,3.2\n")
...     ooc.read_csv(csv, path=os.path.join(tmp, "data.nc"), progress=False).close()
...     ds = ooc.open_csv_store(os.path.join(tmp, "data.nc"), verify=True)
...     print(ds["y"].values)
...     ds.close()
[1.1 1.9 3.2]
""",
    (opening, "open_design"): r"""
Examples
--------
>>> import os
>>> import tempfile
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "design.nc")
...     df.ooc.design("y ~ x + C(g)", path=path).close()
...     design = ooc.open_design(path)
...     print(design.terms, design.n_obs)
...     print(design.lstsq().params.round(4).to_dict())
...     design.close()
['Intercept', 'C(g)[T.b]', 'x'] 6
{'Intercept': 0.0958, 'C(g)[T.b]': -0.2125, 'x': 1.0125}
""",
    (Design, None): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("y ~ x + C(g)", chunksize=4)
>>> design.terms, design.n_obs, design.n_dropped
(['Intercept', 'C(g)[T.b]', 'x'], 6, 0)
>>> design.X.dims
('obs', 'term')
>>> design.discard()
""",
    (Design, "blocks"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("y ~ x + C(g)", chunksize=4)
>>> design.blocks()
[(0, 4), (4, 6)]
>>> design.discard()
""",
    (Design, "build"): r"""
Parameters
----------
data : pandas.DataFrame or xarray.Dataset
    The new rows, with the formula's columns (the response may be absent).
dim : str, optional
    A Dataset's sample dimension.
path : str or path-like, optional
    Where to keep the new store (temporary by default).
chunksize : int or "auto", default "auto"
    Rows per block.
missing : {"drop", "raise"}, default "drop"
    What a row with a missing value does, as in ``design()``.
weights : str or array-like, optional
    A column name or one weight per row, stored with the new design.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("y ~ x + C(g)", chunksize=4)
>>> new = design.build(pd.DataFrame({"x": [7.0, 8.0, 9.0], "g": ["b", "a", "b"]}))
>>> new.X.to_pandas()
term  Intercept  C(g)[T.b]    x
obs
0           1.0        1.0  7.0
1           1.0        0.0  8.0
2           1.0        1.0  9.0
>>> new.discard()
>>> design.discard()
""",
    (Design, "close"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("y ~ x + C(g)", chunksize=4)
>>> design.close()  # the store stays; reading X again reopens it
>>> design.X.shape
(6, 3)
>>> design.discard()
""",
    (Design, "discard"): r"""
Examples
--------
>>> import os
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("y ~ x + C(g)", chunksize=4)
>>> path = design.path
>>> design.discard()
>>> os.path.exists(path)
False
""",
    (Design, "glm"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> design = df.ooc.design("n ~ x")
>>> glm = design.glm(family="poisson")
>>> glm.params.round(4)
Intercept   -0.4261
x            0.2513
dtype: float64
>>> design.discard()
""",
    (Design, "lstsq"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("y ~ x + C(g)", chunksize=4)
>>> design.lstsq().params.round(4)
Intercept    0.0958
C(g)[T.b]   -0.2125
x            1.0125
dtype: float64
>>> design.discard()
""",
    (Design, "pca"): r"""
Parameters
----------
n_components : int, optional
    Components to keep; ``None`` keeps ``min(n_obs, n_terms)``.
progress : bool, optional
    Progress bars on the fit's passes; None follows ``ooc.set_options(progress=)``. A
    later ``transform`` follows the option.
**kwargs
    Other :class:`~ooc_accessor.IncrementalPCA` parameters (``whiten``,
    ``svd_solver``...).

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("0 + x + y")
>>> pca = design.pca(n_components=1)
>>> pca.components_.round(4)
                x       y
component
0          0.7084  0.7058
>>> pca.transform(design).dims
('obs', 'component')
>>> design.discard()
""",
    (Design, "predictor_blocks"): r"""
Parameters
----------
data : pandas.DataFrame or xarray.Dataset
    The rows to build X for (the response may be absent).
chunksize : int or "auto", default "auto"
    Rows per block.
dim : str, optional
    A Dataset's sample dimension.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("y ~ x + C(g)", chunksize=4)
>>> new = pd.DataFrame({"x": [7.0, 8.0, 9.0], "g": ["b", "a", "b"]})
>>> [(start, block.x.shape) for start, block in design.predictor_blocks(new, chunksize=2)]
[(0, (2, 3)), (2, (1, 3))]
>>> design.discard()
""",
    (Design, "save"): r"""
Parameters
----------
path : str or path-like
    Where to keep the store (a new file).

Examples
--------
>>> import os
>>> import tempfile
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("y ~ x + C(g)", chunksize=4)
>>> with tempfile.TemporaryDirectory() as tmp:
...     kept = design.save(os.path.join(tmp, "design.nc"))
...     print(os.path.exists(kept.path), kept.n_obs)
...     kept.close()
True 6
""",
    (Design, "svd"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> design = df.ooc.design("0 + x + y")
>>> design.svd().s.round(4)
component
0    13.5367
1     0.1943
Name: s, dtype: float64
>>> design.discard()
""",
}
