"""Examples of the least-squares result, its tests, summary and the SVD result.

Attached to the objects' docstrings by :func:`ooc_accessor.docstrings.attach`.
"""

from __future__ import annotations

from ..results import LstsqResult, Summary, SVDResult
from ..stats.glmresults import GLMResults

#: (object, attribute or None) -> sections appended to its docstring
SECTIONS = {
    (LstsqResult, None): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> fit.params.round(4)
Intercept    0.0958
g[T.b]      -0.2125
x            1.0125
dtype: float64
>>> round(fit.rsquared, 4), fit.nobs, fit.df_resid
(0.9994, 6.0, 3.0)
>>> fit.resid.dims
('obs',)
""",
    (LstsqResult, "conf_int"): r"""
Parameters
----------
alpha : float, default 0.05
    The intervals' level is ``1 - alpha``.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> fit.conf_int(alpha=0.1).round(3)
               0      1
Intercept -0.038  0.230
g[T.b]    -0.333 -0.092
x          0.977  1.048
""",
    (LstsqResult, "cov_params"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> fit.cov_params().round(4)
           Intercept  g[T.b]       x
Intercept     0.0032 -0.0005 -0.0007
g[T.b]       -0.0005  0.0026 -0.0002
x            -0.0007 -0.0002  0.0002
""",
    (LstsqResult, "get_influence"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> infl = fit.get_influence()
>>> infl.hat_matrix_diag.round(3).values
array([0.583, 0.583, 0.333, 0.333, 0.583, 0.583])
""",
    (LstsqResult, "get_prediction"): r"""
Parameters
----------
data : pandas.DataFrame or xarray.Dataset
    The rows to predict, with the formula's right-side columns.
weights : str, float or array-like, optional
    Divide the residual variance of ``obs_ci`` (a column name, a scalar, or one per row).
chunksize : int or "auto", default "auto"
    Rows per block.
dim : str, optional
    A Dataset's sample dimension (default: the fit's).
path : str or path-like, optional
    Store the predictions there (kept) and return them lazy.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> new = pd.DataFrame({"x": [7.0, 8.0], "g": ["a", "b"]})
>>> fit.get_prediction(new).summary_frame(alpha=0.05).round(3)
    mean  mean_se  mean_ci_lower  mean_ci_upper  obs_ci_lower  obs_ci_upper
0  7.183    0.069          6.963          7.404         6.891         7.475
1  7.983    0.069          7.763          8.204         7.691         8.275
""",
    (LstsqResult, "get_robustcov_results"): r"""
**kwds
    The covariance's keywords: ``groups`` for ``"cluster"`` (a column name or one
    label per row), ``scale`` for ``"fixed scale"``; the HC types take none.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> robust = fit.get_robustcov_results("HC3")
>>> robust.cov_type, robust.bse.round(4).to_dict()
('HC3', {'Intercept': 0.053, 'g[T.b]': 0.0777, 'x': 0.0218})
""",
    (LstsqResult, "info_criteria"): r"""
Parameters
----------
crit : {"aic", "bic", "aicc", "hqic"}
    The criterion.
dk_params : int, default 0
    Parameters to count beyond the fit's.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> bool(round(fit.info_criteria("aic"), 4) == round(fit.aic, 4))
True
>>> round(fit.info_criteria("hqic"), 4)
-17.3749
""",
    (LstsqResult, "outlier_test"): r"""
Parameters
----------
method : {"bonf", "sidak"}, default "bonf"
    The one-step multiple-testing correction.
alpha : float, default 0.05
    Kept for statsmodels' signature.
labels : None
    statsmodels' relabelling: not offered (the rows keep the source's labels).
order : bool, default False
    statsmodels' sorting: not offered (it would sort all rows in memory).
cutoff : float, optional
    Return only the rows whose corrected p-value is below it, as a DataFrame.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> table = fit.outlier_test()
>>> list(table.data_vars)
['student_resid', 'unadj_p', 'bonf(p)']
>>> table["student_resid"].round(3).values
array([-0.177, -0.177,  1.789, -0.603, -2.475,  1.118])
""",
    (LstsqResult, "predict"): r"""
Parameters
----------
data : pandas.DataFrame or xarray.Dataset
    The rows to predict, with the formula's right-side columns.
chunksize : int or "auto", default "auto"
    Rows per block.
dim : str, optional
    A Dataset's sample dimension (default: the fit's).
path : str or path-like, optional
    Store the predictions there (kept) and return them lazy.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> fit.predict(pd.DataFrame({"x": [7.0, 8.0], "g": ["a", "b"]})).round(4)
0    7.1833
1    7.9833
Name: predicted, dtype: float64
""",
    (LstsqResult, "remove_data"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> fit.remove_data()  # nothing to remove: the result holds no rows
>>> fit.nobs
6.0
""",
    (LstsqResult, "summary"): r"""
Parameters
----------
alpha : float, default 0.05
    The confidence intervals' level is ``1 - alpha``.
slim : bool, default False
    Leave out the residual diagnostics (no pass over the rows).

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> summary = fit.summary(slim=True)
>>> print(summary.table().round(3))
            coef  std err       t  P>|t|  [0.025  0.975]
Intercept  0.096    0.057   1.685  0.191  -0.085   0.277
g[T.b]    -0.212    0.051  -4.141  0.026  -0.376  -0.049
x          1.012    0.015  67.396  0.000   0.965   1.060
""",
    (LstsqResult, "update"): r"""
Parameters
----------
data : pandas.DataFrame or xarray.Dataset
    The new rows, with the formula's columns.
weights : str or array-like, optional
    A column name or one weight per new row (a fit made with weights needs them).
dim : str, optional
    A Dataset's sample dimension.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> first = df.iloc[:4].ooc.lstsq("y ~ x")
>>> both = first.update(df.iloc[4:])
>>> both.nobs, both.params.round(4).to_dict() == df.ooc.lstsq("y ~ x").params.round(4).to_dict()
(6.0, True)
""",
    (GLMResults, "t_test"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> print(fit.t_test("x = 1").summary_frame().round(3))
     coef  std err      t  P>|t|  Conf. Int. Low  Conf. Int. Upp.
c0  1.012    0.015  0.832  0.466           0.965             1.06
""",
    (GLMResults, "f_test"): r"""
Parameters
----------
r_matrix : str, list of str, array or (R, q)
    The hypotheses, e.g. ``"a = 0, b = 0"``, or ``R`` by term.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> test = fit.f_test("x = 0, g[T.b] = 0")
>>> round(float(test.fvalue), 3), round(float(test.pvalue), 6)
(2404.038, 1.6e-05)
""",
    (GLMResults, "wald_test"): r"""
Parameters
----------
r_matrix : str, list of str, array or (R, q)
    The hypotheses, e.g. ``"a = 0, b = 0"``, or ``R`` by term.
use_f : bool, optional
    An F test (True) or chi2 (False); by default the result's ``use_t``.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> test = fit.wald_test("x = 0, g[T.b] = 0", use_f=False)
>>> round(float(test.statistic), 3), round(float(test.pvalue), 6)
(4808.077, 0.0)
""",
    (GLMResults, "wald_test_terms"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> fit.wald_test_terms().table.round(4)
           statistic  pvalue  df_constraint  df_denom
Intercept     2.8390  0.1906              1       3.0
g            17.1495  0.0256              1       3.0
x          4542.2308  0.0000              1       3.0
""",
    (GLMResults, "t_test_pairwise"): r"""
Parameters
----------
term_name : str
    A categorical term, e.g. ``"C(g)"`` or ``"g"``.
method : str or list of str, default "hs"
    statsmodels' multiple-testing correction(s).
alpha : float, default 0.05
    The family-wise error rate.
factor_labels : list, optional
    The levels' labels (default: the term's levels).
ignore : bool, default False
    statsmodels' flag to skip the check of the term's coding.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"g": ["a", "b", "c"] * 3, "y": [1.0, 2.1, 3.3, 0.9, 2.0, 2.9, 1.2, 1.8, 3.1]}
... )
>>> fit = df.ooc.lstsq("y ~ g")
>>> fit.t_test_pairwise("g").result_frame[["coef", "reject-hs"]].round(3)
      coef  reject-hs
b-a  0.933       True
c-a  2.067       True
c-b  1.133       True
""",
    (GLMResults, "compare_f_test"): r"""
Parameters
----------
restricted : LstsqResult
    The smaller, nested fit (its terms a subset of this fit's) on the same rows.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> small = df.ooc.lstsq("y ~ x")
>>> f_value, p_value, df_diff = fit.compare_f_test(small)
>>> round(f_value, 4), round(p_value, 4), df_diff
(17.1495, 0.0256, 1.0)
""",
    (GLMResults, "compare_lr_test"): r"""
Parameters
----------
restricted : LstsqResult or GLMResults
    The smaller, nested fit on the same rows.
large_sample : bool, default False
    The robust form (:meth:`compare_lm_test` with ``use_lr=True``, one more pass).

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> small = df.ooc.lstsq("y ~ x")
>>> stat, p_value, df_diff = fit.compare_lr_test(small)
>>> round(stat, 4), round(p_value, 4), df_diff
(11.4274, 0.0007, 1.0)
""",
    (GLMResults, "compare_lm_test"): r"""
Parameters
----------
restricted : LstsqResult or GLMResults
    The smaller, nested fit on the same rows.
demean : bool, default True
    Centre the scores, as statsmodels.
use_lr : bool, default False
    statsmodels' large-sample (likelihood-ratio) form.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> small = df.ooc.lstsq("y ~ x")
>>> lm, p_value, df_diff = fit.compare_lm_test(small)
>>> round(lm, 4), round(p_value, 4), df_diff
(5.1067, 0.0238, 1.0)
""",
    (SVDResult, None): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> svd = df.ooc.svd("0 + x + y")
>>> svd.s.round(4)
component
0    13.5367
1     0.1943
Name: s, dtype: float64
>>> svd.Vt.round(4)
term            x       y
component
0          0.7046  0.7096
1          0.7096 -0.7046
>>> svd.U.dims, svd.rank
(('obs', 'component'), 2)
""",
    (Summary, None): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> summary = fit.summary(slim=True)
>>> type(summary).__name__
'Summary'
>>> print(summary.as_text().splitlines()[0].strip())
OLS Regression Results
""",
    (Summary, "as_html"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> summary = fit.summary(slim=True)
>>> summary.as_html()[:6]
'<table'
""",
    (Summary, "as_text"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> summary = fit.summary(slim=True)
>>> print(summary.as_text().splitlines()[0].strip())
OLS Regression Results
""",
    (Summary, "table"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame(
...     {"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", "b"] * 3, "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]}
... )
>>> fit = df.ooc.lstsq("y ~ x + g")
>>> summary = fit.summary(slim=True)
>>> summary.table().round(4)
             coef  std err        t   P>|t|  [0.025  0.975]
Intercept  0.0958   0.0569   1.6849  0.1906 -0.0852  0.2768
g[T.b]    -0.2125   0.0513  -4.1412  0.0256 -0.3758 -0.0492
x          1.0125   0.0150  67.3961  0.0000  0.9647  1.0603
""",
}
