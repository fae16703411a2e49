"""A JSON spec of patsy's design state, and the design infos rebuilt from it.

patsy's ``DesignInfo`` holds the learned state (categorical levels, contrast matrices,
``center()``/``standardize()`` sums) but neither pickles reliably nor serializes. The spec
is plain JSON: it is saved in the store's attributes (no pickles in files) and is what a
dask task carries to rebuild the builder on a worker.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
from patsy import EvalEnvironment, EvalFactor, ModelDesc, PatsyError
from patsy.contrasts import ContrastMatrix
from patsy.desc import Term
from patsy.design_info import DesignInfo, FactorInfo, SubtermInfo

from .errors import FormulaError, OOCError, StoreError
from .factor import Factor, float_desc
from .safety import check_spec

SPEC_VERSION = 1


def _enc(v: Any) -> Any:
    """Encode a level or transform attribute as JSON, tagging what JSON cannot tell apart."""
    if isinstance(v, np.generic) and v.dtype.itemsize > 8:
        return _enc(np.asarray(v))
    if isinstance(v, np.ndarray):
        if v.dtype.kind not in "biuf":
            raise FormulaError(
                f"cannot save transform state {v.ravel()[:3].tolist()} of dtype {v.dtype} in a "
                "design store; a stateful transform must keep numeric arrays, or lists "
                "(e.g. .tolist()) of str, numbers or dates"
            )
        flat = v.ravel()
        # extended precision (standardize() keeps long doubles) survives only as text
        data = (
            [np.format_float_scientific(x, unique=True) for x in flat]
            if v.dtype.itemsize > 8 and v.dtype.kind == "f"
            else flat.tolist()
        )
        return {"__nd__": data, "dtype": v.dtype.str, "shape": list(v.shape)}
    if isinstance(v, np.generic):
        return _enc(v.item())
    if isinstance(v, (pd.Timestamp, np.datetime64, _dt.datetime)):
        return {"__ts__": pd.Timestamp(v).isoformat()}
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x) for x in v]}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, dict):
        return {"__dict__": [[_enc(k), _enc(x)] for k, x in v.items()]}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise FormulaError(
        f"cannot save value {v!r} of type {type(v).__name__} in a design store; "
        "use levels that are str, int, float, bool or dates"
    )


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if isinstance(v, dict):
        if "__nd__" in v:
            return np.asarray(v["__nd__"], dtype=np.dtype(v["dtype"])).reshape(v["shape"])
        if "__ts__" in v:
            return pd.Timestamp(v["__ts__"])
        if "__tuple__" in v:
            return tuple(_dec(x) for x in v["__tuple__"])
        if "__dict__" in v:
            return {_dec(k): _dec(x) for k, x in v["__dict__"]}
    return v


def _factor_code(factor: Any) -> str:
    if not isinstance(factor, EvalFactor):
        raise FormulaError(
            f"factor {factor!r} is not a formula expression; give the formula as a string"
        )
    return factor.code


def design_spec(infos: list[DesignInfo], formula: str) -> dict:
    """The JSON-able spec of ``infos`` (the response's and the predictors' DesignInfo)."""
    factors: dict[str, dict] = {}
    for info in infos:
        for factor, fi in info.factor_infos.items():
            code = _factor_code(factor)
            entry: dict[str, Any] = {"type": fi.type}
            if fi.type == "categorical":
                entry["categories"] = [_enc(c) for c in fi.categories]
            else:
                entry["num_columns"] = fi.num_columns
            entry["transforms"] = {
                name: {"class": type(obj).__name__, "state": _enc(dict(vars(obj)))}
                for name, obj in fi.state.get("transforms", {}).items()
            }
            factors[code] = entry
    matrices = []
    for info in infos:
        codings = []
        for term, subterms in info.term_codings.items():
            subs = [
                {
                    "factors": [_factor_code(f) for f in st.factors],
                    "num_columns": st.num_columns,
                    "contrasts": {
                        _factor_code(f): {
                            "matrix": _enc(np.asarray(cm.matrix, dtype=np.float64)),
                            "suffixes": list(cm.column_suffixes),
                        }
                        for f, cm in st.contrast_matrices.items()
                    },
                }
                for st in subterms
            ]
            codings.append({"term": [_factor_code(f) for f in term.factors], "subterms": subs})
        matrices.append({"column_names": list(info.column_names), "terms": codings})
    return {"version": SPEC_VERSION, "formula": formula, "factors": factors, "matrices": matrices}


def default_eval_env() -> EvalEnvironment:
    """The namespace a reopened formula is evaluated in: numpy as ``np`` and ``numpy``."""
    return EvalEnvironment([{"np": np, "numpy": np}])


def infos_from_spec(
    spec: dict,
    eval_env: EvalEnvironment | None = None,
    *,
    where: str | None = None,
    formula: str | None = None,
    trust: frozenset[str] = frozenset(),
) -> list[DesignInfo]:
    """Rebuild the DesignInfos that :func:`design_spec` described, state included.

    Parameters
    ----------
    spec : dict
    eval_env : patsy.EvalEnvironment, optional
        Where the codes' names are looked up (numpy as ``np`` by default).
    where : str, optional
        The store the spec was read from, e.g. ``"design store '/data/d.nc'"``. A spec read
        from a file is data: given ``where``, every code is re-derived from the spec's
        formula and checked against the allow-list before anything is evaluated
        (:func:`ooc_accessor.safety.check_spec`). ``None``: the spec this session wrote
        from the user's own formula.
    formula : str, optional
        The store's formula attribute (checked against the spec's).
    trust : frozenset of str
        Functions the user opted in to (see :func:`ooc_accessor.open_design`).

    Raises
    ------
    UnsafeCodeError
        A stored code, transform or name outside the allow-list and ``trust``.
    """
    if not isinstance(spec, dict) or spec.get("version") != SPEC_VERSION:
        version = spec.get("version") if isinstance(spec, dict) else None
        raise FormulaError(
            f"design spec version {version!r} is not {SPEC_VERSION}; rebuild the "
            "design with this version of ooc_accessor"
        )
    if where is not None:
        if not isinstance(spec.get("formula"), str):
            raise StoreError(f"{where}: its design spec holds no formula; rebuild the store")
        check_spec(spec, formula, trust, where, model_desc(spec["formula"]))
    env = eval_env if eval_env is not None else default_eval_env()
    try:
        return _rebuild(spec, env)
    except (PatsyError, KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, OOCError):
            raise
        raise FormulaError(
            f"cannot rebuild the saved formula state ({type(exc).__name__}: {exc}); rebuild "
            "the design from its source"
        ) from exc


def _rebuild(spec: dict, env: EvalEnvironment) -> list[DesignInfo]:
    objs: dict[str, EvalFactor] = {}
    infos: dict[str, FactorInfo] = {}
    for code, entry in spec["factors"].items():
        factor = Factor(code)
        state: dict = {}
        # re-runs patsy's own set-up (eval code, fresh transform objects), then restores
        # the learned numbers into those objects
        factor.memorize_passes_needed(state, env)
        for name, saved in entry["transforms"].items():
            obj = state["transforms"].get(name)
            if obj is None or type(obj).__name__ != saved["class"]:
                raise FormulaError(
                    f"cannot restore {saved['class']} in {code!r}: the formula's functions "
                    "resolve differently here; pass the eval_env it was built with"
                )
            vars(obj).clear()
            vars(obj).update(_dec(saved["state"]))
        objs[code] = factor
        if entry["type"] == "categorical":
            infos[code] = FactorInfo(
                factor, "categorical", state, categories=_dec(entry["categories"])
            )
        else:
            infos[code] = FactorInfo(factor, "numerical", state, num_columns=entry["num_columns"])
    out = []
    for matrix in spec["matrices"]:
        codings: OrderedDict = OrderedDict()
        used: set[str] = set()
        for coding in matrix["terms"]:
            term = Term([objs[c] for c in coding["term"]])
            used.update(coding["term"])
            codings[term] = [
                SubtermInfo(
                    [objs[c] for c in st["factors"]],
                    {
                        objs[c]: ContrastMatrix(_dec(cm["matrix"]), cm["suffixes"])
                        for c, cm in st["contrasts"].items()
                    },
                    st["num_columns"],
                )
                for st in coding["subterms"]
            ]
        out.append(DesignInfo(matrix["column_names"], {objs[c]: infos[c] for c in used}, codings))
    return out


def spec_to_json(spec: dict) -> str:
    """Serialize a spec (NaN levels are kept: Python's JSON allows them)."""
    return json.dumps(spec, separators=(",", ":"))


def spec_from_json(text: str) -> dict:
    """Parse :func:`spec_to_json`'s output."""
    return json.loads(text)


def model_desc(formula: str) -> ModelDesc:
    """Parse ``formula`` (no code runs), turning patsy's error into a :class:`FormulaError`.

    Its factors are :class:`~ooc_accessor.factor.Factor`: numeric expressions see integer
    columns as float64.
    """
    if not isinstance(formula, str):
        raise FormulaError(f"formula must be a str like 'y ~ a + b', not {type(formula).__name__}")
    try:
        return float_desc(ModelDesc.from_formula(formula))
    except PatsyError as exc:
        raise FormulaError(
            f"cannot parse formula {formula!r}; fix it where the caret points:\n{exc}"
        ) from exc
    except (RecursionError, MemoryError) as exc:
        raise FormulaError(
            f"cannot parse formula {formula[:60]!r}...: it is nested too deeply "
            f"({type(exc).__name__}); simplify it"
        ) from None
