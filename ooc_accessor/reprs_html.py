"""The notebook (HTML) face of a :class:`~ooc_accessor.reprs.Report`, and the mixins that
give the public classes their ``__repr__`` and ``_repr_html_``.

As xarray's: a compact header, collapsible sections (``<details>``, no JavaScript),
JupyterLab's theme colours where it defines them (dark themes), and the text repr in a
``<pre>`` shown instead when the page drops the ``<style>`` (GitHub's and some sanitising
viewers do): the styled part is hidden by an inline ``display:none`` that only the
stylesheet undoes. Every user string (formula, column names, paths) is escaped.
"""

from __future__ import annotations

import copy
import html
from typing import Any

from .reprs import Report, Section, Table, head_tail, pca_state, render_text

__all__ = ["EstimatorReport", "Reported", "render_html"]

#: table rows shown in HTML before keeping only the head and tail (as pandas' max_rows)
HTML_MAX_ROWS = 20
#: names (terms) listed in a section before eliding the middle
HTML_MAX_NAMES = 100

_CSS = """
.ooc-repr .ooc-wrap { display: block !important; min-width: 300px; max-width: 760px;
  font-family: var(--jp-content-font-family, sans-serif); font-size: 13px; }
.ooc-repr .ooc-fallback { display: none; }
.ooc-repr .ooc-header { padding: 4px 0; margin-bottom: 4px;
  border-bottom: 1px solid var(--jp-border-color2, #ccc); }
.ooc-repr .ooc-kind { font-weight: bold; color: var(--jp-content-font-color2, #555); }
.ooc-repr .ooc-headline { font-family: monospace; margin-left: 0.5em; }
.ooc-repr .ooc-note { color: #b00020; margin: 2px 0; }
.ooc-repr summary { cursor: pointer; font-weight: bold; }
.ooc-repr .ooc-preview { font-weight: normal; margin-left: 0.5em;
  color: var(--jp-content-font-color3, #777); }
.ooc-repr dl { display: grid; grid-template-columns: max-content auto; gap: 0 1em;
  margin: 2px 0 6px 1em; }
.ooc-repr dt { color: var(--jp-content-font-color2, #555); }
.ooc-repr dd { margin: 0; font-family: monospace; word-break: break-all; }
.ooc-repr table { border-collapse: collapse; margin: 2px 0 6px 1em; }
.ooc-repr th, .ooc-repr td { padding: 1px 8px; text-align: right; font-family: monospace; }
.ooc-repr tbody th { text-align: left; }
.ooc-repr .ooc-names { font-family: monospace; margin: 2px 0 6px 1em; }
"""


def _e(text: Any) -> str:
    """A value as HTML text (quotes too: values may end up in attributes)."""
    return html.escape(str(text), quote=True)


def _table(table: Table, max_rows: int = HTML_MAX_ROWS) -> str:
    """A table's HTML, head and tail only beyond ``max_rows`` rows."""
    rows, hidden = head_tail(table, max_rows)
    head = "".join(f"<th>{_e(c)}</th>" for c in table.columns)
    body = "".join(
        f"<tr><th>{_e(label)}</th>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>"
        for label, cells in rows
    )
    foot = (
        f"<caption style='caption-side:bottom'>{len(table.index)} rows; {hidden} not shown"
        "</caption>"
        if hidden
        else ""
    )
    return f"<table>{foot}<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _names(names: list[str], limit: int = HTML_MAX_NAMES) -> str:
    shown = names
    if len(names) > limit:
        shown = [*names[: limit // 2], f"... {len(names) - limit} more ...", *names[-limit // 2 :]]
    return "<div class='ooc-names'>" + ", ".join(_e(n) for n in shown) + "</div>"


def _section(section: Section) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in section.items)
    parts = [f"<dl>{items}</dl>" if items else ""]
    if section.names is not None:
        parts.append(_names(section.names))
    if section.table is not None:
        parts.append(_table(section.table))
    preview = f"<span class='ooc-preview'>{_e(section.preview)}</span>" if section.preview else ""
    opened = " open" if section.expanded else ""
    return (
        f"<details{opened}><summary>{_e(section.title)}{preview}</summary>"
        + "".join(parts)
        + "</details>"
    )


def render_html(report: Report, text: str | None = None) -> str:
    """The report as a self-contained HTML fragment, with its text as the fallback."""
    fallback = render_text(report) if text is None else text
    notes = "".join(f"<div class='ooc-note'>{_e(n)}</div>" for n in report.notes)
    sections = "".join(_section(s) for s in report.sections)
    return (
        f"<div class='ooc-repr'><style>{_CSS}</style>"
        f"<pre class='ooc-fallback'>{_e(fallback)}</pre>"
        "<div class='ooc-wrap' style='display:none'>"
        f"<div class='ooc-header'><span class='ooc-kind'>{_e(report.kind)}</span>"
        f"<span class='ooc-headline'>{_e(report.headline)}</span></div>"
        f"{notes}{sections}</div></div>"
    )


class Reported:
    """``__repr__`` and ``_repr_html_`` from a class's ``_report`` (a Report builder of
    :mod:`ooc_accessor.reprs`, set as a class attribute)."""

    def _report(self) -> Report:  # pragma: no cover - each class sets its builder
        raise NotImplementedError

    def __repr__(self) -> str:
        return render_text(self._report())

    def _repr_html_(self) -> str:
        return render_html(self._report())


def _wrapped_params(estimator: Any) -> str | None:
    """scikit-learn's parameter repr, wrapped at 80 columns as its own ``__repr__`` does.

    scikit-learn's printer wraps an estimator only when the class's ``__repr__`` is
    ``BaseEstimator.__repr__`` (it dispatches on it); this printer's dispatch also knows
    this class's, so overriding ``__repr__`` keeps the layout. None if scikit-learn's
    (private) printer is not there: the caller falls back to ``BaseEstimator.__repr__``.
    """
    try:
        from sklearn.utils._pprint import _EstimatorPrettyPrinter
    except ImportError:  # pragma: no cover - a future scikit-learn
        return None
    printer = _EstimatorPrettyPrinter(
        compact=True, indent=1, indent_at_name=True, n_max_elements_to_show=30
    )
    dispatch = getattr(printer, "_dispatch", None)
    pprint_estimator = getattr(_EstimatorPrettyPrinter, "_pprint_estimator", None)
    if not isinstance(dispatch, dict) or pprint_estimator is None:  # pragma: no cover
        return None
    # an instance attribute: scikit-learn's class-level table stays as it is
    printer._dispatch = {**dispatch, type(estimator).__repr__: pprint_estimator}
    return printer.pformat(estimator)


class _Short:
    """Stands in for a labelled parameter in the repr: ``<DataArray 'lat' (lat: 3)>``."""

    def __init__(self, obj: Any) -> None:
        sizes = getattr(obj, "sizes", None)
        shape = ", ".join(f"{d}: {n}" for d, n in sizes.items()) if sizes else str(len(obj))
        name = "" if getattr(obj, "name", None) is None else f" {obj.name!r}"
        self.text = f"<{type(obj).__name__}{name} ({shape})>"

    def __repr__(self) -> str:
        return self.text


def _short_params(estimator: Any) -> Any:
    """A shallow copy whose labelled parameters (PCA's ``weights=``) print on one line
    (their own reprs run to several), or the estimator itself when it has none."""
    import pandas as pd
    import xarray as xr

    params = estimator.get_params(deep=False)
    long = {k: v for k, v in params.items() if isinstance(v, xr.DataArray | pd.Series)}
    if not long:
        return estimator
    shown = copy.copy(estimator)
    for key, value in long.items():
        setattr(shown, key, _Short(value))
    return shown


class EstimatorReport:
    """scikit-learn's reprs of an estimator, followed by its fitted state.

    The text keeps scikit-learn's ``IncrementalPCA(n_components=5)`` as its first line
    (inside a ``Pipeline`` scikit-learn formats the steps itself, without calling this
    ``__repr__``, so a pipeline's repr is unchanged); a fitted estimator printed on its own
    adds its state on the following lines. The HTML is scikit-learn's diagram
    (``estimator_html_repr``, also what ``_repr_mimebundle_`` shows) with the state below.
    """

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:  # noqa: N803 - scikit-learn's name
        shown = _short_params(self)
        text = _wrapped_params(shown)
        if text is None or len("".join(text.split())) > N_CHAR_MAX:
            text = super(EstimatorReport, shown).__repr__(N_CHAR_MAX)  # type: ignore[call-arg]
        if not self.__sklearn_is_fitted__():  # type: ignore[attr-defined]
            return text
        items = [(k, v) for k, v in pca_state(self).items if k != "fitted"]
        width = max(len(k) for k, _ in items) + 1
        return "\n".join([text, *(f"  {k + ':':<{width}} {v}" for k, v in items)])

    def _html_repr(self) -> str:
        # scikit-learn's ReprHTMLMixin calls this for _repr_html_ and _repr_mimebundle_;
        # imported here so that a Design's module does not import scikit-learn
        from sklearn.utils import estimator_html_repr

        fitted = self.__sklearn_is_fitted__()  # type: ignore[attr-defined]
        report = Report(
            type(self).__name__, "fitted" if fitted else "not fitted", [pca_state(self)]
        )
        return estimator_html_repr(self) + render_html(report, repr(self))
