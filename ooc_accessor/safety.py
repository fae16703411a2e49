"""A store is data: the formula code a store holds is checked, never trusted.

patsy evaluates each factor's code with Python's ``eval``, whose builtins reach
``__import__`` and whose ``np`` reaches ``np.load``. A formula the user typed is the user's
own code; a formula read from a file is not. Before a stored spec is turned back into
patsy objects, :func:`check_spec` re-derives every factor code from the stored formula
(any extra, missing or altered code is refused), checks each code's syntax tree (``ast``,
never ``eval``) against an allow-list (column names, literals, operators, numpy's
elementwise math, patsy's own functions and contrasts), and checks the other stored
values that reach code (transform classes and their restored attributes, contrast
matrices, column names). Anything else raises :class:`~ooc_accessor.errors.UnsafeCodeError`
naming the store, the code and the offender, unless the user names it in ``trust``.

Nothing here imports patsy's evaluation machinery: this module only reads text.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

from .errors import ArgumentError, ArgumentTypeError, StoreError, UnsafeCodeError

__all__ = [
    "CONTRASTS",
    "NUMPY_FUNCTIONS",
    "PATSY_FUNCTIONS",
    "check_code",
    "check_spec",
    "float_evaluable",
    "offence",
    "trust_names",
]

#: numpy's elementwise math, reached as ``np.<name>`` or ``numpy.<name>``: nothing that
#: reads or writes files, calls a Python function it is given, or reaches a submodule
NUMPY_FUNCTIONS = frozenset(
    """
    abs absolute fabs sign negative positive reciprocal square sqrt cbrt power float_power
    exp exp2 expm1 log log1p log2 log10 logaddexp logaddexp2
    sin cos tan arcsin arccos arctan arctan2 hypot sinh cosh tanh arcsinh arccosh arctanh
    deg2rad rad2deg degrees radians floor ceil trunc rint round around fix clip
    minimum maximum fmin fmax mod fmod remainder divmod add subtract multiply divide
    true_divide floor_divide where isnan isinf isfinite signbit copysign heaviside
    logical_and logical_or logical_not logical_xor greater greater_equal less less_equal
    equal not_equal sinc i0 nan_to_num
    """.split()
)
#: numpy constants a formula may name as ``np.<name>``
NUMPY_CONSTANTS = frozenset({"pi", "e", "nan", "inf", "euler_gamma"})
_NUMPY = frozenset({"np", "numpy"})
#: patsy's builtins a formula may call
PATSY_FUNCTIONS = frozenset(
    {"C", "I", "Q", "center", "standardize", "scale", "bs", "cr", "cc", "te"}
)
#: patsy's contrasts (called with literal arguments only)
CONTRASTS = frozenset({"Treatment", "Sum", "Helmert", "Poly", "Diff"})

#: patsy's own stateful transforms: the attributes each keeps after learning, by kind
#: ("int", "bool", "array": numeric array, "array?": numeric array or None, a tuple: one
#: of those strings)
TRANSFORM_STATE: dict[str, dict[str, Any]] = {
    "Center": {"_sum": "array", "_count": "int"},
    "Standardize": {"current_n": "int", "current_mean": "array", "current_M2": "array"},
    "BS": {"_degree": "int", "_all_knots": "array"},
    "CR": {"_name": ("cr",), "_cyclic": "bool", "_all_knots": "array", "_constraints": "array?"},
    "CC": {"_name": ("cc",), "_cyclic": "bool", "_all_knots": "array", "_constraints": "array?"},
    "TE": {"_constraints": "array?"},
}
_STOBJ = re.compile(r"^_patsy_stobj\d+__(\w+?)__$")


def _dunder(name: str) -> bool:
    """Python's special names (``__import__``, ``__class__``) and patsy's internal ones."""
    return name.startswith("__") or name.endswith("__")


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attribute lookups on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)  # parses literals only; never evaluates code
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


#: the largest constant a formula's constant arithmetic may make (bits), e.g. 2 ** 4096:
#: ``10 ** 10 ** 10`` or ``'a' * 10 ** 10`` would stall or exhaust memory before any check
_MAX_BITS = 4096


def _constant(node: ast.AST) -> bool:
    """Whether ``node`` is made of literals and operators only (Python folds it itself)."""
    return not any(isinstance(n, (ast.Name, ast.Call, ast.Attribute)) for n in ast.walk(node))


def _container(node: ast.AST) -> bool:
    return isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)) or (
        isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes))
    )


class _NotFoldedError(Exception):
    """Internal: a constant expression :func:`_fold` will not compute (never leaves here)."""


def _fold(node: ast.AST) -> Any:
    """The value of a constant expression, bounded (:class:`_NotFoldedError` past the bounds)."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, bytes)) and len(node.value) > _MAX_BITS:
            raise _NotFoldedError("too long")
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        v = _fold(node.operand)
        return (
            -v if isinstance(node.op, ast.USub) else (~v if isinstance(node.op, ast.Invert) else v)
        )
    if not isinstance(node, ast.BinOp):
        raise _NotFoldedError("not arithmetic")
    a, b = _fold(node.left), _fold(node.right)
    if not all(isinstance(v, (int, float, complex)) for v in (a, b)):
        raise _NotFoldedError("constant arithmetic on text or containers")
    op = type(node.op)
    if op is ast.Pow and isinstance(a, int) and isinstance(b, int):
        if b > 0 and abs(a) > 1 and b * max(abs(a).bit_length(), 1) > _MAX_BITS:
            raise _NotFoldedError("too large")
    if op is ast.LShift and (not isinstance(b, int) or b > _MAX_BITS):
        raise _NotFoldedError("too large")
    ops = {
        ast.Add: lambda: a + b,
        ast.Sub: lambda: a - b,
        ast.Mult: lambda: a * b,
        ast.Div: lambda: a / b,
        ast.FloorDiv: lambda: a // b,
        ast.Mod: lambda: a % b,
        ast.Pow: lambda: a**b,
        ast.LShift: lambda: a << b,
        ast.RShift: lambda: a >> b,
        ast.BitAnd: lambda: a & b,
        ast.BitOr: lambda: a | b,
        ast.BitXor: lambda: a ^ b,
    }
    if op not in ops:
        raise _NotFoldedError("unknown operator")
    out = ops[op]()
    if isinstance(out, int) and out.bit_length() > _MAX_BITS:
        raise _NotFoldedError("too large")
    return out


def offence(code: str, trust: frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """What in ``code`` is outside the allow-list: ``(description, name)``, or None.

    Parameters
    ----------
    code : str
        One factor's Python expression, e.g. ``"np.log(x)"``.
    trust : frozenset of str
        Dotted names of functions the user opted in to (``"myfunc"``, ``"mod.f"``).
    """
    try:
        tree = ast.parse(code, mode="eval")
        return _expr(tree.body, trust)
    except (SyntaxError, ValueError):
        return "is not a Python expression", code
    except (RecursionError, MemoryError):
        return "is nested too deeply to check", code[:40]


def _first(found: Iterable[tuple[str, str] | None]) -> tuple[str, str] | None:
    return next((f for f in found if f is not None), None)


def _expr(node: ast.AST, trust: frozenset[str]) -> tuple[str, str] | None:
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, (bool, int, float, complex, str)):
            return None
        return f"holds the constant {node.value!r}", repr(node.value)
    if isinstance(node, ast.Name):
        return (f"names {node.id!r}", node.id) if _dunder(node.id) else None
    if isinstance(node, (ast.List, ast.Tuple)):
        return _first(_expr(e, trust) for e in node.elts)
    if isinstance(node, ast.BinOp):
        found = _first(_expr(e, trust) for e in (node.left, node.right))
        text = ast.unparse(node)
        if found is None and any(map(_container, (node.left, node.right))):
            # [x] * 10**9 or 'a' * n: a list or text grown by arithmetic, never a number
            return f"does arithmetic on a list or text ({text!r})", text
        if found is None and _constant(node.left) and _constant(node.right):
            try:
                _fold(node)
            except (_NotFoldedError, TypeError, ArithmeticError):
                return f"computes the constant {text!r}, too large or not a number", text
        return found
    if isinstance(node, ast.UnaryOp):
        return _expr(node.operand, trust)
    if isinstance(node, ast.BoolOp):
        return _first(_expr(e, trust) for e in node.values)
    if isinstance(node, ast.Compare):
        return _first(_expr(e, trust) for e in (node.left, *node.comparators))
    if isinstance(node, ast.IfExp):
        return _first(_expr(e, trust) for e in (node.test, node.body, node.orelse))
    if isinstance(node, ast.Attribute):
        name = _dotted(node)
        if name in trust:
            return None
        head, _, rest = (name or "").partition(".")
        if head in _NUMPY and rest in NUMPY_CONSTANTS:
            return None
        text = name or ast.unparse(node)
        return f"looks up the attribute {text!r}", text
    if isinstance(node, ast.Call):
        return _call(node, trust)
    text = ast.unparse(node)
    return f"holds a {type(node).__name__} ({text!r}), which no formula needs", text


def _call(node: ast.Call, trust: frozenset[str]) -> tuple[str, str] | None:
    name = _dotted(node.func)
    if name is None:
        text = ast.unparse(node.func)
        return f"calls {text!r}, which is not a function's name", text
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
        k.arg is None for k in node.keywords
    ):
        return f"unpacks arguments into {name}()", name
    args = [*node.args, *(k.value for k in node.keywords)]
    head, _, rest = name.partition(".")
    if name in trust:
        pass
    elif name == "Q":
        arg = node.args[0] if len(node.args) == 1 and not node.keywords else None
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return "calls Q() with something other than one quoted column name", "Q"
        if _dunder(arg.value):
            return f"looks up {arg.value!r} with Q()", arg.value
        return None
    elif name in CONTRASTS:
        bad = next((a for a in args if not _literal(a)), None)
        if bad is not None:
            text = ast.unparse(bad)
            return f"gives the contrast {name}() the non-literal argument {text!r}", text
        return None
    elif name in PATSY_FUNCTIONS or (head in _NUMPY and rest in NUMPY_FUNCTIONS):
        pass
    else:
        return f"calls {name!r}, which is not on the allow-list", name
    return _first(_expr(a, trust) for a in args)


def trust_names(trust: Any, namespace: Any = None) -> frozenset[str]:
    """The functions a user opted in to, as dotted names (``trust=`` of open_design).

    ``namespace`` (the eval_env's, when known): each trusted name's first part must be
    defined there, so the opt-in names something that can actually run.
    """
    if trust is None:
        return frozenset()
    names = [trust] if isinstance(trust, str) else trust
    try:
        names = list(names)
    except TypeError:
        raise ArgumentTypeError(
            f"trust must be a list of function names like ['myfunc'], not {type(trust).__name__}"
        ) from None
    for name in names:
        if not isinstance(name, str) or not _trustable(name):
            raise ArgumentError(
                f"trust must hold function names like 'myfunc' or 'mymodule.func', not {name!r}"
            )
        head = name.partition(".")[0]
        if namespace is not None and head not in namespace and head not in _NUMPY:
            raise ArgumentError(
                f"trust names {name!r} but the eval_env does not define {head!r}; pass "
                "eval_env=patsy.EvalEnvironment.capture() where it is defined"
            )
    return frozenset(names)


def _trustable(name: str) -> bool:
    """A function name a user may opt in to: dotted identifiers, no special names."""
    return all(p.isidentifier() and not _dunder(p) for p in name.split("."))


def check_code(code: str, trust: frozenset[str], where: str) -> None:
    """Raise :class:`UnsafeCodeError` if ``code`` (read from ``where``) is not allow-listed."""
    found = offence(code, trust)
    if found is None:
        return
    what, name = found
    fix = (
        f"If you trust this store, open it with trust=[{name!r}] (and an eval_env that "
        "defines it); else rebuild it from its source"
        if what.startswith("calls ") and _trustable(name) and name not in PATSY_FUNCTIONS
        else "No opt-in allows this: rebuild the store from its source"
    )
    raise UnsafeCodeError(
        f"{where} holds the formula code {code!r}, which {what}; a store is data and none "
        f"of its code is run unless trusted. {fix}"
    )


def float_evaluable(code: str) -> bool:
    """Whether ``code`` is a numeric expression safe to evaluate with int columns as float64.

    True for column names, literals, arithmetic and allow-listed calls (``I``, ``np.log``,
    ``center``, splines...); False for ``C(...)`` (its levels keep their type), for any
    other call or method (``x.astype(str)``: its meaning is the user's) and for bitwise
    operators (undefined on floats).
    """
    try:
        tree = ast.parse(code, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    top = tree.body
    if isinstance(top, ast.Call) and _dotted(top.func) == "C":
        return False
    bitwise = (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift, ast.Invert)
    if any(isinstance(n, bitwise) for n in ast.walk(tree)):
        return False
    return offence(code) is None


def _is_array(v: Any, optional: bool) -> bool:
    if v is None:
        return optional
    if not (isinstance(v, dict) and set(v) == {"__nd__", "dtype", "shape"}):
        return False
    return (
        isinstance(v["dtype"], str)
        and re.fullmatch(r"[<>|=]?[fiub]\d{1,2}", v["dtype"]) is not None
        and isinstance(v["shape"], list)
        and all(isinstance(n, int) and n >= 0 for n in v["shape"])
        and _numbers(v["__nd__"])
    )


def _numbers(values: Any) -> bool:
    """A flat list of numbers (long doubles are kept as their decimal text)."""
    return isinstance(values, list) and all(
        (isinstance(x, (int, float)) and not isinstance(x, bool))
        or isinstance(x, bool)
        or (isinstance(x, str) and re.fullmatch(r"[-+]?(\d+\.?\d*(e[-+]?\d+)?|inf|nan)", x))
        for x in values
    )


def _state_ok(kind: Any, v: Any) -> bool:
    if isinstance(kind, tuple):
        return v in kind
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "bool":
        return isinstance(v, bool)
    return _is_array(v, optional=kind == "array?")


def _check_transforms(code: str, transforms: Any, trust: frozenset[str], where: str) -> None:
    if not isinstance(transforms, dict):
        raise StoreError(f"{where}: the transforms of {code!r} are not a mapping")
    for name, saved in transforms.items():
        m = _STOBJ.match(name) if isinstance(name, str) else None
        if m is None or not isinstance(saved, dict) or set(saved) != {"class", "state"}:
            raise UnsafeCodeError(
                f"{where} holds a transform entry {name!r} for {code!r} that patsy does not "
                "make; it is refused, never run: rebuild the store from its source"
            )
        cls, state = saved["class"], saved["state"]
        if not isinstance(state, dict) or set(state) != {"__dict__"}:
            raise StoreError(f"{where}: the state of {name!r} in {code!r} is not a mapping")
        items = state["__dict__"]
        if not isinstance(items, list) or not all(
            isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], str) for kv in items
        ):
            raise StoreError(f"{where}: the state of {name!r} in {code!r} is malformed")
        attrs = dict(items)
        if cls in TRANSFORM_STATE and m.group(1) not in trust:
            schema = TRANSFORM_STATE[cls]
            extra = sorted(set(attrs) ^ set(schema))
            if extra:
                raise UnsafeCodeError(
                    f"{where} gives the transform {cls} in {code!r} the attribute(s) {extra}, "
                    f"which patsy's {cls} does not keep ({sorted(schema)}); it is refused, "
                    "never restored: rebuild the store from its source"
                )
            bad = [k for k, kind in schema.items() if not _state_ok(kind, attrs[k])]
            if bad:
                raise StoreError(
                    f"{where}: the learned state {bad[0]!r} of {cls} in {code!r} is not the "
                    "numbers patsy keeps; rebuild the store from its source"
                )
        elif m.group(1) not in trust:
            raise UnsafeCodeError(
                f"{where} holds a transform of class {cls!r} for {code!r}, which is not one of "
                f"patsy's ({', '.join(TRANSFORM_STATE)}); it is refused, never restored. If you "
                f"trust this store, open it with trust=[{m.group(1)!r}] and its eval_env"
            )
        elif any(_dunder(k) for k in attrs):
            raise UnsafeCodeError(
                f"{where} gives the transform {cls!r} in {code!r} a special attribute "
                f"({next(k for k in attrs if _dunder(k))!r}); it is refused, never restored"
            )


_SCALAR = (str, int, float, bool, type(None))


def _level_ok(v: Any) -> bool:
    """A stored categorical level: a plain scalar, a date, or a tuple of those."""
    if isinstance(v, _SCALAR):
        return True
    if isinstance(v, dict) and set(v) == {"__ts__"}:
        return isinstance(v["__ts__"], str)
    if isinstance(v, dict) and set(v) == {"__tuple__"}:
        return isinstance(v["__tuple__"], list) and all(_level_ok(x) for x in v["__tuple__"])
    return False


def _term_sets(termlist: Any) -> set[frozenset[str]]:
    return {frozenset(f.code for f in term.factors) for term in termlist}


def check_spec(spec: Any, formula: Any, trust: frozenset[str], where: str, desc: Any) -> None:
    """Refuse a stored spec holding anything its formula and patsy would not produce.

    Parameters
    ----------
    spec : dict
        The spec as read from the store (see :func:`ooc_accessor.spec.design_spec`).
    formula : str
        The store's ``formula`` attribute (must be the spec's own formula).
    trust : frozenset of str
        Function names the user opted in to.
    where : str
        The store, for messages (``"design store '/data/d.nc'"``).
    desc : patsy.ModelDesc
        The stored formula, parsed (parsing runs no code).

    Raises
    ------
    UnsafeCodeError
        A code, formula, transform or name that is not what the formula yields, or code
        outside the allow-list.
    StoreError
        A spec whose values have the wrong types.
    """
    try:
        _check_spec(spec, formula, trust, where, desc)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise StoreError(
            f"{where}: its design spec is malformed ({type(exc).__name__}: {exc}); rebuild the "
            "store from its source"
        ) from exc


def _check_spec(spec: Any, formula: Any, trust: frozenset[str], where: str, desc: Any) -> None:
    if spec["formula"] != formula:
        raise UnsafeCodeError(
            f"{where} says its formula is {formula!r} but its spec holds {spec['formula']!r}; "
            "it is refused, never run: rebuild the store from its source"
        )
    sides = [_term_sets(desc.lhs_termlist), _term_sets(desc.rhs_termlist)]
    matrices = spec["matrices"]
    if not isinstance(matrices, list) or len(matrices) != 2:
        raise StoreError(f"{where}: its design spec does not hold two matrices (y and X)")
    used: set[str] = set()
    for side, (matrix, expected) in enumerate(zip(matrices, sides, strict=True)):
        names = matrix["column_names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise StoreError(f"{where}: its design spec holds column names that are not text")
        terms = {frozenset(c["term"]) for c in matrix["terms"]}
        # a design for prediction leaves the response out: y's matrix may be empty
        if terms != expected and not (side == 0 and not terms and not names):
            extra = sorted(":".join(sorted(t)) or "1" for t in terms - expected)
            missing = sorted(":".join(sorted(t)) or "1" for t in expected - terms)
            raise UnsafeCodeError(
                f"{where} holds terms {extra} that its formula {formula!r} does not yield "
                f"(and lacks {missing}); it is refused, never run: rebuild the store from "
                "its source"
            )
        for coding in matrix["terms"]:
            term = set(coding["term"])
            used |= term
            for sub in coding["subterms"]:
                if not set(sub["factors"]) <= term or not set(sub["contrasts"]) <= set(
                    sub["factors"]
                ):
                    raise UnsafeCodeError(
                        f"{where} holds a subterm {sub['factors']} of the term "
                        f"{sorted(term)} with factors that term does not have; it is refused, "
                        "never run: rebuild the store from its source"
                    )
                for code, cm in sub["contrasts"].items():
                    if not _is_array(cm["matrix"], False) or not all(
                        isinstance(s, str) for s in cm["suffixes"]
                    ):
                        raise StoreError(f"{where}: the contrast matrix of {code!r} is not numbers")
    factors = spec["factors"]
    if set(factors) != used:
        extra = sorted(set(factors) - used) or sorted(used - set(factors))
        raise UnsafeCodeError(
            f"{where} holds factor code {extra[0]!r}, which its formula {formula!r} does "
            "not yield as the spec says; it is refused, never run: rebuild the store"
        )
    for code, entry in factors.items():
        check_code(code, trust, where)
        if entry["type"] == "categorical":
            if not isinstance(entry["categories"], list) or not all(
                _level_ok(c) for c in entry["categories"]
            ):
                raise StoreError(
                    f"{where}: the levels of {code!r} are not plain values (str, numbers, bool, "
                    "dates); rebuild the store from its source"
                )
        elif entry["type"] != "numerical" or not isinstance(entry["num_columns"], int):
            raise StoreError(f"{where}: the factor {code!r} has no valid type")
        _check_transforms(code, entry["transforms"], trust, where)
