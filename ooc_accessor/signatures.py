"""Public calls checked against their own signatures, as the accessors check theirs.

Python refuses a misspelt keyword, a missing argument or one too many with a bare
``TypeError`` naming an internal function; the library's public methods and functions name
them with :class:`~ooc_accessor.errors.ArgumentTypeError` (also a ``TypeError``), the call
as the user wrote it, and the keywords it accepts. :func:`checked` wraps one function,
:func:`checked_methods` every public method of a class (its mixins' included). The wrapper
keeps the signature and docstring (``functools.wraps``: ``help()``, Sphinx, numpydoc and
``inspect.signature`` see the original), and binds the arguments before the call, so a
``TypeError`` raised inside the method is never mistaken for a bad call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from .arguments import check_keywords
from .errors import ArgumentTypeError

__all__ = ["checked", "checked_methods"]

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def checked(fn: F, name: str | None = None) -> F:
    """``fn`` refusing a call its signature does not take with :class:`ArgumentTypeError`.

    Parameters
    ----------
    fn : callable
        A function or a method's function (its ``self`` is left out of the messages).
    name : str, optional
        The name the messages use (default ``fn.__qualname__``, e.g. ``Design.lstsq``;
        a class's ``__init__`` is named as the class, ``IncrementalPCA``).

    Examples
    --------
    >>> from ooc_accessor.signatures import checked
    >>> def scale(x, *, factor=1.0):
    ...     return x * factor
    >>> checked(scale)(2, factr=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ooc_accessor.errors.ArgumentTypeError: scale() got an unknown keyword 'factr' (did you...
    """
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    method = bool(params) and params[0].name == "self"
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    names = [p.name for p in params if p.kind in _NAMED]
    open_keywords = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            sig.bind(*args, **kwargs)
        except TypeError as exc:
            label = name or fn.__qualname__
            if method and args and name is None:  # the class the user holds, not a mixin
                label = f"{type(args[0]).__name__}.{fn.__name__}"
                label = label.removesuffix(".__init__")  # a constructor: as the user called it
            if not open_keywords:  # a misspelt keyword: named with the closest one
                check_keywords(label, kwargs, names)
            takes = f"its parameters are {', '.join(names)}" if names else "it takes none"
            raise ArgumentTypeError(f"{label}() {exc}; {takes}") from None
        return fn(*args, **kwargs)

    call._ooc_checked = True  # type: ignore[attr-defined]
    return call  # type: ignore[return-value]


def checked_methods(cls: C) -> C:
    """Every public method of ``cls`` (inherited ones included) wrapped by :func:`checked`.

    A method is wrapped where it is defined (this package's base classes and mixins, once,
    so every class sharing it shares its docstring), and a message names the class of the
    object it was called on (``LstsqResult.t_test``); properties, private names and other
    packages' methods are left as they are.
    """
    for klass in cls.__mro__:
        if not klass.__module__.startswith("ooc_accessor"):
            continue
        for attr, raw in list(vars(klass).items()):
            if attr.startswith("_") or getattr(raw, "_ooc_checked", False):
                continue
            if isinstance(raw, (staticmethod, classmethod)):
                func = raw.__func__
                if inspect.isfunction(func) and not getattr(func, "_ooc_checked", False):
                    label = f"{klass.__name__}.{attr}"
                    setattr(klass, attr, type(raw)(checked(func, label)))
            elif inspect.isfunction(raw):
                setattr(klass, attr, checked(raw))
    return cls
