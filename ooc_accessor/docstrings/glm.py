"""Examples of the GLM result.

Attached to the objects' docstrings by :func:`ooc_accessor.docstrings.attach`.
"""

from __future__ import annotations

from ..stats.glmresults import GLMResults

#: (object, attribute or None) -> sections appended to its docstring
SECTIONS = {
    (GLMResults, None): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> glm.params.round(4)
Intercept   -0.4261
x            0.2513
dtype: float64
>>> round(glm.deviance, 4), bool(glm.converged), glm.nobs
(3.5099, True, 8)
""",
    (GLMResults, "conf_int"): r"""
Parameters
----------
alpha : float, default 0.05
    The intervals' level is ``1 - alpha``.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> glm.conf_int().round(3)
               0      1
Intercept -1.746  0.893
x          0.035  0.468
""",
    (GLMResults, "cov_params"): r"""
Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> glm.cov_params().round(4)
           Intercept       x
Intercept     0.4532 -0.0698
x            -0.0698  0.0122
""",
    (GLMResults, "get_distribution"): r"""
Parameters
----------
exog : array-like, optional
    Design rows to evaluate at (default: the fitted rows, lazily).
exposure, offset : array-like, optional
    As in the fit, for ``exog``'s rows.
var_weights : float or array-like, default 1.0
    Variance weights for ``exog``'s rows.
n_trials : float or array-like, default 1.0
    Binomial trials per row.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> dist = glm.get_distribution()
>>> type(dist).__name__
'rv_discrete_frozen'
""",
    (GLMResults, "get_robustcov_results"): r"""
**kwds
    ``groups`` (with ``use_correction`` and ``df_correction``) for ``"cluster"``;
    the HC types take none.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> robust = glm.get_robustcov_results("HC0")
>>> robust.cov_type, robust.bse.round(4).to_dict()
('HC0', {'Intercept': 0.3985, 'x': 0.0625})
""",
    (GLMResults, "info_criteria"): r"""
Parameters
----------
crit : {"aic", "bic", "qaic"}
    The criterion.
scale : float, optional
    The dispersion for ``"qaic"``.
dk_params : int, default 0
    Parameters to count beyond the fit's.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> bool(round(glm.info_criteria("aic"), 4) == round(glm.aic, 4))
True
""",
    (GLMResults, "llf_scaled"): r"""
Parameters
----------
scale : float, optional
    The dispersion; the fitted one when None.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> bool(round(glm.llf_scaled(), 4) == round(glm.llf, 4))
True
""",
    (GLMResults, "predict"): r"""
Parameters
----------
data : pandas.DataFrame or xarray.Dataset, optional
    The rows to predict; without it, the fitted rows (lazy).
which : {"mean", "linear", "var_unscaled"}, default "mean"
    Means, linear predictors, or the variance function at the means.
offset, exposure : str or array-like, optional
    A column name, or one value per row of ``data``, entering as in the fit.
chunksize : int or "auto", default "auto"
    Rows per block.
dim : str, optional
    A Dataset's sample dimension (default: the fit's).

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> glm.predict(pd.DataFrame({"x": [9.0, 10.0]})).round(4)
0    6.2671
1    8.0574
Name: predicted, dtype: float64
>>> glm.predict(pd.DataFrame({"x": [9.0]}), which="linear").round(4)
0    1.8353
Name: predicted, dtype: float64
""",
    (GLMResults, "pseudo_rsquared"): r"""
Parameters
----------
kind : {"cs", "mcf"}, default "cs"
    Cox-Snell or McFadden.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> round(glm.pseudo_rsquared("mcf"), 4)
0.1984
""",
    (GLMResults, "summary"): r"""
Parameters
----------
alpha : float, default 0.05
    The confidence intervals' level is ``1 - alpha``.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> text = str(glm.summary())
>>> text.splitlines()[0].strip()
'Generalized Linear Model Regression Results'
""",
    (GLMResults, "summary2"): r"""
Parameters
----------
yname : str, optional
    The response's name in the table.
xname : list of str, optional
    The terms' names in the table.
title : str, optional
    The table's title.
alpha : float, default 0.05
    The confidence intervals' level is ``1 - alpha``.
float_format : str, default "%.4f"
    How numbers are printed.

Examples
--------
>>> import pandas as pd
>>> import ooc_accessor as ooc
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "n": [1, 0, 2, 2, 3, 2, 5, 4]})
>>> glm = df.ooc.glm("n ~ x", family="poisson")
>>> type(glm.summary2()).__name__
'Summary'
""",
}
