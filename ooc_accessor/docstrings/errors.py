"""Examples of when each error and warning is raised.

Attached to the objects' docstrings by :func:`ooc_accessor.docstrings.attach`.
"""

from __future__ import annotations

from .. import errors

#: (object, attribute or None) -> sections appended to its docstring
SECTIONS = {
    (errors.AccessorAttributeError, None): r"""
Examples
--------
Raised for a method a DataArray's accessor does not offer; also an ``AttributeError``:

>>> import xarray as xr
>>> import ooc_accessor as ooc
>>> da = xr.DataArray([1.0, 2.0, 3.0], dims="time", name="y")
>>> hasattr(da.ooc, "lstsq")
False
>>> try:
...     da.ooc.lstsq("y ~ 1")
... except ooc.AccessorAttributeError as err:
...     print(type(err).__name__, "-", str(err)[:60])
AccessorAttributeError - DataArray.ooc has no 'lstsq': a formula needs named columns;
""",
    (errors.PlotError, None): r"""
Examples
--------
Raised by ``fit.plot.coef()``, ``pca.plot.scree()``... when matplotlib is missing; also an
``ImportError``, so code that already guards the import catches it:

>>> import ooc_accessor as ooc
>>> issubclass(ooc.PlotError, ImportError) and issubclass(ooc.PlotError, ooc.OOCError)
True
>>> str(ooc.PlotError("plots need matplotlib: pip install ooc_accessor[plot]"))
'plots need matplotlib: pip install ooc_accessor[plot]'
""",
    (errors.OOCError, None): r"""
Examples
--------
Every error the library raises is one, so one ``except`` catches them all:

>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> try:
...     df.ooc.lstsq("y ~ nonesuch")
... except ooc.OOCError as err:
...     print(type(err).__name__, "-", str(err)[:60])
MissingColumnError - formula 'y ~ nonesuch' uses 'nonesuch', which is not a colum
""",
    (errors.ArgumentError, None): r"""
Examples
--------
Raised for an argument's value that cannot be used; it is also a ``ValueError``:

>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> try:
...     df.ooc.lstsq("y ~ x", missing="ignore")
... except ooc.ArgumentError as err:
...     print(type(err).__name__, "-", str(err)[:60])
ArgumentError - missing must be one of ('drop', 'raise'), not 'ignore': 'dro
""",
    (errors.ArgumentTypeError, None): r"""
Examples
--------
Raised for an argument of the wrong type, or a keyword the call does not take;
it is also a ``TypeError``:

>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> try:
...     df.ooc.lstsq("y ~ x", chunksze=4)
... except ooc.ArgumentTypeError as err:
...     print(type(err).__name__, "-", str(err)[:60])
ArgumentTypeError - lstsq() got an unknown keyword 'chunksze' (did you mean 'chu
""",
    (errors.FormulaError, None): r"""
Examples
--------
Raised when the formula does not parse:

>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> try:
...     df.ooc.lstsq("y ~ x +")
... except ooc.FormulaError as err:
...     print(type(err).__name__, "-", str(err)[:60])
FormulaError - cannot parse formula 'y ~ x +'; fix it where the caret point
""",
    (errors.MissingColumnError, None): r"""
Examples
--------
Raised when the formula names a column the data lacks; also a ``KeyError``:

>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> try:
...     df.ooc.lstsq("y ~ z")
... except ooc.MissingColumnError as err:
...     print(type(err).__name__, "-", str(err)[:60])
MissingColumnError - formula 'y ~ z' uses 'z', which is not a column of the frame
""",
    (errors.ColumnTypeError, None): r"""
Examples
--------
Raised when a column's dtype cannot be used as the formula uses it:

>>> import numpy as np
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> try:
...     df.ooc.lstsq("y ~ np.log(g)")
... except ooc.ColumnTypeError as err:
...     print(type(err).__name__, "-", str(err)[:60])
ColumnTypeError - column 'g' has dtype str but 'np.log(g)' uses it as numbers;
""",
    (errors.DataError, None): r"""
Examples
--------
Raised when the data cannot give a fit, e.g. an infinite value:

>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> df.loc[2, "x"] = float("inf")
>>> try:
...     df.ooc.lstsq("y ~ x")
... except ooc.DataError as err:
...     print(type(err).__name__, "-", str(err)[:60])
DataError - column 'x' holds 1 infinite value(s), the first at row 2; re
""",
    (errors.PerfectSeparationError, None): r"""
Examples
--------
Raised when a binomial GLM's predictor separates the outcomes exactly:

>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "hit": [0, 0, 0, 1, 1, 1]})
>>> try:
...     df.ooc.glm("hit ~ x", family="binomial")
... except ooc.PerfectSeparationError as err:
...     print(type(err).__name__, "-", str(err)[:60])
PerfectSeparationError - perfect separation or prediction in the Binomial GLM of 'hit
""",
    (errors.PerfectSeparationWarning, None): r"""
Examples
--------
Warned when some fitted probabilities are numerically 0 or 1 (quasi-separation):

>>> import warnings
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 3, 4, 5], "hit": [0, 0, 0, 1, 1, 1]})
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     glm = df.ooc.glm("hit ~ x", family="binomial")
>>> [w.category.__name__ for w in caught]
['PerfectSeparationWarning']
""",
    (errors.PrecisionWarning, None): r"""
Examples
--------
Warned when the covariance solver cannot give a tiny component's variance to
full precision (``svd_solver="full"`` can):

>>> import warnings
>>> import numpy as np
>>> import ooc_accessor as ooc
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(50, 3))
>>> X[:, 2] = X[:, 0] + 1e-9 * rng.normal(size=50)  # a near-exact dependence
>>> pca = ooc.IncrementalPCA(3, svd_solver="covariance_eigh").fit(X)
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     ev = pca.explained_variance_
>>> [w.category.__name__ for w in caught]
['PrecisionWarning']
""",
    (errors.RankWarning, None): r"""
Examples
--------
Warned when the design is rank deficient (the fit is the minimum-norm one):

>>> import warnings
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     fit = df.ooc.lstsq("y ~ x + I(2 * x)")
>>> [w.category.__name__ for w in caught], fit.rank
(['RankWarning'], 2)
""",
    (errors.ConvergenceError, None): r"""
Examples
--------
Raised when IRLS does not converge in ``maxiter`` iterations:

>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> try:
...     df.ooc.glm("y ~ x", family="poisson", maxiter=1)
... except ooc.ConvergenceError as err:
...     print(type(err).__name__, "-", str(err)[:60])
ConvergenceError - the Poisson GLM of 'y ~ x' did not converge in 1 IRLS iterat
""",
    (errors.UnseenLevelError, None): r"""
Examples
--------
Raised when new data holds a categorical level the fit never saw:

>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> try:
...     fit.predict(pd.DataFrame({"x": [1.0], "g": ["c"]}))
... except ooc.UnseenLevelError as err:
...     print(type(err).__name__, "-", str(err)[:60])
UnseenLevelError - level 'c' of factor 'g' was not seen when the design was bui
""",
    (errors.NotFittedError, None): r"""
Examples
--------
Raised when an estimator is used before it is fitted:

>>> import numpy as np
>>> import ooc_accessor as ooc
>>> try:
...     ooc.IncrementalPCA(1).transform(np.ones((2, 2)))
... except ooc.NotFittedError as err:
...     print(type(err).__name__, "-", str(err)[:60])
NotFittedError - this IncrementalPCA is not fitted yet; call fit or partial_f
""",
    (errors.CSVError, None): r"""
Examples
--------
Raised for a CSV file that cannot be parsed; nothing is left at ``path``:

>>> import os
>>> import tempfile
>>> import ooc_accessor as ooc
>>> with tempfile.TemporaryDirectory() as tmp:
...     bad = os.path.join(tmp, "bad.csv")
...     with open(bad, "w") as f:
...         _ = f.write("a,b\n1,2\n3,4,5\n")
...     try:
...         ooc.read_csv(bad, progress=False)
...     except ooc.CSVError as err:
...         print(type(err).__name__, "-", str(err)[-60:])
CSVError - ='skip' (or sep=/quotechar=/encoding= if the format differs)
""",
    (errors.CSVNotFoundError, None): r"""
Examples
--------
Raised when a CSV path or glob names no file; also a ``FileNotFoundError``:

>>> import ooc_accessor as ooc
>>> try:
...     ooc.read_csv("no_such_file.csv")
... except ooc.CSVNotFoundError as err:
...     print(type(err).__name__, "-", str(err)[:60])
CSVNotFoundError - no CSV file at 'no_such_file.csv'; check the path (or pass a
""",
    (errors.ChunkingError, None): r"""
Examples
--------
Raised when dask chunks cannot be read a block of rows at a time in bounded
memory, e.g. a field split along its features into huge chunks (nothing is computed):

>>> import dask.array as da
>>> import xarray as xr
>>> import ooc_accessor as ooc
>>> field = xr.DataArray(
...     da.zeros((100, 1_000_000), chunks=(100, 500_000)), dims=("time", "cell")
... )
>>> try:
...     field.ooc.pca(1, dim="time")
... except ooc.ChunkingError as err:
...     print(type(err).__name__, "-", str(err)[-60:])
ChunkingError - , 'cell': -1}) (dask copies each chunk once through memory).
""",
    (errors.StoreError, None): r"""
Examples
--------
Raised for a file that is not a complete, undamaged store; also an ``OSError``:

>>> import os
>>> import tempfile
>>> import ooc_accessor as ooc
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "not_a_store.nc")
...     with open(path, "w") as f:
...         _ = f.write("hello")
...     try:
...         ooc.open_design(path)
...     except ooc.StoreError as err:
...         print(type(err).__name__, "-", str(err)[-60:])
StoreError - , or rebuild it from its source with .ooc.design(..., path=)
""",
    (errors.StoreNotFoundError, None): r"""
Examples
--------
Raised when a store path names no file; also a ``FileNotFoundError``:

>>> import ooc_accessor as ooc
>>> try:
...     ooc.open_design("no_such_store.nc")
... except ooc.StoreNotFoundError as err:
...     print(type(err).__name__, "-", str(err)[:60])
StoreNotFoundError - no design store at 'no_such_store.nc'; rebuild it from its s
""",
    (errors.UnsafeCodeError, None): r"""
Examples
--------
Raised when a store's formula calls a function outside the allow-list:

>>> import os
>>> import tempfile
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> def shift(v):
...     return v + 1
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = os.path.join(tmp, "design.nc")
...     df.ooc.design("y ~ shift(x)", path=path).close()
...     try:
...         ooc.open_design(path)
...     except ooc.UnsafeCodeError as err:
...         print(type(err).__name__, "-", str(err)[-60:])
...     trusted = ooc.open_design(path, {"shift": shift}, trust=["shift"])
...     print(trusted.terms)
...     trusted.close()
UnsafeCodeError - n eval_env that defines it); else rebuild it from its source
['Intercept', 'shift(x)']
""",
}
