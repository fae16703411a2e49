"""GLM families and links, by name or as statsmodels instances.

The families are statsmodels' own (``statsmodels.genmod.families``): their variance, link,
deviance and log-likelihood functions are applied to one block of rows at a time, so a
fit's deviance and ``llf`` are statsmodels' sums, merged over blocks.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from statsmodels.genmod import families as smf
from statsmodels.genmod.families import links as sml

from ..errors import ArgumentError, ArgumentTypeError, DataError

__all__ = ["FAMILIES", "LINKS", "check_response", "resolve_family"]

#: family names accepted by ``glm(family=)``, and the statsmodels class each one means
FAMILIES: dict[str, type[smf.Family]] = {
    "binomial": smf.Binomial,
    "poisson": smf.Poisson,
    "gamma": smf.Gamma,
    "gaussian": smf.Gaussian,
    "inverse_gaussian": smf.InverseGaussian,
    "negativebinomial": smf.NegativeBinomial,
    "tweedie": smf.Tweedie,
}
_ALIASES = {"negative_binomial": "negativebinomial", "inversegaussian": "inverse_gaussian"}

#: link names accepted by ``glm(link=)``
LINKS: dict[str, type[sml.Link]] = {
    "logit": sml.Logit,
    "probit": sml.Probit,
    "cauchy": sml.Cauchy,
    "cloglog": sml.CLogLog,
    "loglog": sml.LogLog,
    "log": sml.Log,
    "identity": sml.Identity,
    "inverse_power": sml.InversePower,
    "inverse_squared": sml.InverseSquared,
    "sqrt": sml.Sqrt,
}


def _link(link: Any) -> sml.Link | None:
    if link is None or isinstance(link, sml.Link):
        return link
    if isinstance(link, type) and issubclass(link, sml.Link):
        return link()
    if isinstance(link, str):
        key = link.lower().replace("-", "_")
        if key in LINKS:
            return LINKS[key]()
        raise ArgumentError(f"link={link!r} is not one of {sorted(LINKS)} (or a statsmodels Link)")
    raise ArgumentTypeError(
        f"link must be a name such as 'log' or a statsmodels Link, not {type(link).__name__}"
    )


def resolve_family(family: Any, link: Any = None) -> smf.Family:
    """A statsmodels family instance from a name (with an optional ``link``) or an instance.

    Parameters
    ----------
    family : str or statsmodels Family
        One of :data:`FAMILIES`' names, or an instance (kept with its own link; a
        Binomial instance carrying a statsmodels model's trials, ``n``, is copied with
        ``n = 1``).
    link : str or statsmodels Link, optional
        With a family name: its link (the family's canonical link by default). With an
        instance, a link must not be given as well (the instance has one).
    """
    if isinstance(family, smf.Family):
        if link is not None:
            raise ArgumentError(
                "link= was given with a family instance, which has its own link: pass "
                f"{type(family).__name__}(link=...) or the family's name with link="
            )
        if isinstance(family, smf.Binomial) and np.any(np.asarray(family.n) != 1):
            # statsmodels' GLM of (successes, failures) leaves its trials on the instance
            # (family.n, one per row of *that* model): here a count is a proportion with
            # var_weights, so the instance's own rows must not enter the fit
            family = copy.copy(family)
            family.n = 1
        return family
    if isinstance(family, type) and issubclass(family, smf.Family):
        family = family.__name__
    if not isinstance(family, str):
        raise ArgumentTypeError(
            f"family must be a name such as 'binomial' or a statsmodels family, not "
            f"{type(family).__name__}"
        )
    key = family.lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in FAMILIES:
        raise ArgumentError(
            f"family={family!r} is not one of {sorted(FAMILIES)} (or a statsmodels family "
            "instance, e.g. sm.families.Tweedie(var_power=1.5))"
        )
    cls = FAMILIES[key]
    lk = _link(link)
    if lk is not None and not isinstance(lk, tuple(cls.links)):
        names = sorted(n for n, c in LINKS.items() if issubclass(c, tuple(cls.links)))
        raise ArgumentError(
            f"link {type(lk).__name__} cannot be used with the {key} family; its links: {names}"
        )
    kwargs: dict[str, Any] = {"link": lk}
    if cls is smf.NegativeBinomial:
        kwargs["alpha"] = 1.0  # statsmodels' default, said without its warning
    return cls(**kwargs)


def check_response(family: smf.Family, y: np.ndarray, start: int, response: str) -> None:
    """Refuse a block of y outside the family's support, naming the first bad row.

    ``start`` is the block's first stored row (for the message).
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    name = type(family).__name__
    if isinstance(family, smf.Binomial):
        bad, need = (y < 0) | (y > 1), "between 0 and 1 (a 0/1 outcome or a proportion)"
    elif isinstance(family, (smf.Poisson, smf.NegativeBinomial)):
        bad, need = y < 0, "non-negative (counts)"
    elif isinstance(family, (smf.Gamma, smf.InverseGaussian)):
        bad, need = y <= 0, "positive"
    elif isinstance(family, smf.Tweedie):
        bad, need = y < 0, "non-negative"
    else:
        bad, need = np.zeros(y.shape, dtype=bool), ""
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"the {name} family needs {response!r} {need}, but stored row {start + i} has "
            f"{y[i]!r}: fix those values, or choose a family whose support they are in"
        )
