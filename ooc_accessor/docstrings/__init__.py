"""The Examples (and a few Parameters) sections of the public docstrings.

They live here, not beside the code, for two reasons: the modules they document are at
the ~600-line limit (``pca.py``, ``design.py``), and runnable examples are long. Each
module maps an object to the numpydoc sections appended to its own docstring;
:func:`attach` appends them once, when ``ooc_accessor`` is imported, so ``help()``,
Sphinx and ``doctest`` all see one complete docstring. ``tests/test_doctests.py`` runs
every example and checks every public name has one.
"""

from __future__ import annotations

import inspect
from typing import Any

from . import designs, errors, glm, lstsq, pca

__all__ = ["attach"]

_MODULES = (errors, designs, lstsq, glm, pca)


def _target(owner: Any, attr: str | None) -> Any:
    """The function or class whose ``__doc__`` to extend (a property's getter)."""
    if attr is None:
        return owner
    member = inspect.getattr_static(owner, attr)
    if isinstance(member, property):
        return member.fget
    return getattr(owner, attr)  # a plain function, or scikit-learn's set_output wrapper


def _indent_of(doc: str) -> str:
    """The indentation of a docstring's body lines (what ``inspect.cleandoc`` strips)."""
    body = [line for line in doc.expandtabs().splitlines()[1:] if line.strip()]
    if not body:
        return ""
    width = min(len(line) - len(line.lstrip()) for line in body)
    return " " * width


def _extend(doc: str, sections: str) -> str:
    indent = _indent_of(doc)
    text = sections.strip("\n")
    if not text.startswith(("Parameters", "Examples")):
        # more entries of an existing trailing Parameters section (e.g. ``**kwds``)
        head, _, rest = text.partition("\n\nExamples")
        extra = "\n".join(indent + line if line else line for line in head.splitlines())
        doc = doc.rstrip() + "\n" + extra + "\n"
        text = "Examples" + rest
    added = "\n".join(indent + line if line.strip() else "" for line in text.splitlines())
    return doc.rstrip() + "\n\n" + added + "\n" + indent


def attach() -> None:
    """Append every module's sections to their objects' docstrings (once)."""
    for module in _MODULES:
        for (owner, attr), sections in module.SECTIONS.items():
            target = _target(owner, attr)
            doc = target.__doc__ or ""
            if "\nExamples\n" in inspect.cleandoc(doc):
                continue  # already attached (a reload), or written in place
            target.__doc__ = _extend(doc, sections)
