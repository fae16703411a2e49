"""What a result shows when printed: a small report built from stored attributes only.

Each public object (:class:`~ooc_accessor.design.Design`, the least-squares, GLM and SVD
results, :class:`~ooc_accessor.pca.IncrementalPCA`) describes itself as a
:class:`Report`: a headline, sections of label/value items and at most one table. This
module builds those reports and renders them as text (the ``__repr__``);
:mod:`ooc_accessor.reprs_html` renders the same report as HTML for notebooks.

A report never reads a row nor runs a pass over the data: it uses what the object holds
(the O(p^2) factors, counts, the store's path) and ``os.stat`` for sizes. A value that
would need a pass (a GLM's ``llf`` before it was asked for) is shown as "not computed"
with the attribute to ask; a store file that is gone is reported, never raised on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import OOCError
from .stats.summary import fmt

__all__ = [
    "Report",
    "Section",
    "Table",
    "design_report",
    "glm_report",
    "head_tail",
    "lstsq_report",
    "pca_state",
    "render_text",
    "svd_report",
]

#: rows of a table the text repr shows before it keeps only the head and tail (as pandas)
TEXT_MAX_ROWS = 10
#: items of a list (terms, singular values) shown in text before eliding the middle
TEXT_MAX_ITEMS = 6


@dataclass
class Table:
    """A labeled table: one row label (a term, a component) and one cell per column."""

    columns: list[str]
    index: list[str]
    cells: list[list[str]]


@dataclass
class Section:
    """A titled group of ``(label, value)`` items, optionally with a table."""

    title: str
    items: list[tuple[str, str]] = field(default_factory=list)
    table: Table | None = None
    #: a one-line preview shown beside a collapsed section's title in HTML
    preview: str = ""
    #: whether the HTML section starts expanded
    expanded: bool = True
    #: a list of names (terms) shown in full in HTML, elided in text
    names: list[str] | None = None
    #: the section's items as the (short) text repr shows them; default: all of them and
    #: the table (given, the table is left to the HTML)
    text: list[tuple[str, str]] | None = None


@dataclass
class Report:
    """An object's description: ``kind`` (e.g. "ooc.Design"), a headline (the formula)."""

    kind: str
    headline: str
    sections: list[Section]
    #: a warning shown first (a deleted store, a rank-deficient fit)
    notes: list[str] = field(default_factory=list)


# -- formatting -------------------------------------------------------------------------------
def num(v: Any) -> str:
    """A number as a summary table shows it: 4 decimals, or 3 digits in e-notation."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return fmt(v)  # the summary's own format: a repr's table reads as summary()'s


def short(v: Any) -> str:
    """A number in 4 significant digits (the header's statistics)."""
    try:
        return f"{float(v):.4g}"
    except (TypeError, ValueError):
        return str(v)


def nbytes(size: int) -> str:
    """A size on disk in the largest unit under 1024 of it (``"1.5 MiB"``)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop returns


def elide(items: list[str], limit: int = TEXT_MAX_ITEMS) -> str:
    """Items joined by ", ", the middle replaced by "..." beyond ``limit`` of them."""
    if len(items) <= limit:
        return ", ".join(items)
    half = limit // 2
    return ", ".join([*items[:half], "...", *items[-half:]])


def first(items: list[str], limit: int = TEXT_MAX_ITEMS) -> str:
    """The first ``limit`` items joined by ", ", then how many there are in all (for
    spectra, whose leading values matter most)."""
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", ... ({len(items)} in all)"


def _count(n: int, noun: str) -> str:
    """``"1 block"``, ``"4 blocks"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _safe(fn: Any, *args: Any) -> Any:
    """``fn(*args)``, or the library's error message: a repr never raises on a value
    (an overflowing statistic, an unfitted state) but says why it is missing."""
    try:
        return fn(*args)
    except OOCError as exc:
        return f"n/a ({exc})"


def file_state(path: str) -> tuple[str, bool]:
    """``(size on disk, exists)`` of a store file, by ``os.stat`` only."""
    try:
        return nbytes(os.stat(path).st_size), True
    except OSError:
        return "missing", False


# -- the shared coefficient table -------------------------------------------------------------
def coef_table(
    terms: list[str],
    params: Any,
    bse: Any,
    stat: Any,
    pvalues: Any,
    ci: Any,
    stat_name: str,
    alpha: float = 0.05,
) -> Table:
    """statsmodels' coefficient table: coef, std err, t (or z), P>|t|, CI bounds."""
    ci = np.asarray(ci, dtype=float).reshape(len(terms), 2)
    columns = [np.asarray(a, dtype=float) for a in (params, bse, stat, pvalues)]
    cells = [
        [num(c[i]) for c in columns] + [num(ci[i, 0]), num(ci[i, 1])] for i in range(len(terms))
    ]
    lo, hi = f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"
    return Table(["coef", "std err", stat_name, f"P>|{stat_name}|", lo, hi], list(terms), cells)


def _coefficients(result: Any, stat_name: str) -> Section:
    """The coefficient section of a fitted model, from its small stored factors."""

    def build() -> Table:
        return coef_table(
            result.terms,
            result.params,
            result.bse,
            result.tvalues,
            result.pvalues,
            result.conf_int(),
            stat_name,
        )

    table = _safe(build)
    if isinstance(table, str):  # a value float64 cannot hold: say so instead
        return Section("Coefficients", [("coefficients", table)])
    return Section(f"Coefficients ({len(result.terms)})", table=table)


# -- the objects' reports ---------------------------------------------------------------------
def design_report(design: Any) -> Report:
    """A :class:`~ooc_accessor.design.Design`: its store, rows, columns, chunking."""
    size, exists = file_state(design.path)
    temporary = getattr(design, "_finalizer", None) is not None
    life = "temporary: removed when garbage-collected" if temporary else "kept"
    notes = [] if exists else [f"the store file {design.path} is missing (deleted?)"]
    parts = getattr(design, "_part_rows", None)
    store = [
        ("path", design.path),
        ("size on disk", size + (f" (+ {len(parts)} part stores)" if parts else "")),
        ("lifetime", life),
    ]
    blocks = design.blocks()
    weights = "none"
    if design.has_weights:
        weights = f"column {design.weights_column!r}" if design.weights_column else "stored"
    rows = [
        ("rows", str(design.n_obs)),
        ("dropped rows", str(design.n_dropped)),
        ("block rows", str(design.chunk_rows)),
        ("blocks", str(len(blocks))),
        ("weights", weights),
        ("source", f"{design.source_kind} (rows along {design.sample_dim!r})"),
    ]
    terms, responses = list(design.terms), list(design.responses)
    columns = [
        ("response", ", ".join(responses) if responses else "none"),
        ("terms", str(len(terms))),  # the HTML lists them all below
    ]
    lines = [
        ("store", f"{design.path} ({size}, {life})"),
        (
            "rows",
            f"{design.n_obs} ({design.n_dropped} dropped) in {_count(len(blocks), 'block')} "
            f"of {design.chunk_rows}; weights: {weights}",
        ),
        ("columns", f"y: {columns[0][1]}; X: {len(terms)}: {elide(terms)}"),
    ]
    return Report(
        "ooc.Design",
        design.formula,
        [
            Section("Store", store, preview=f"{size}, {life.split(':')[0]}", text=lines[:1]),
            Section(
                "Rows",
                rows,
                preview=f"{_count(design.n_obs, 'row')}, {_count(len(blocks), 'block')}",
                text=lines[1:2],
            ),
            Section(
                "Columns",
                columns,
                preview=_count(len(terms), "term"),
                names=terms,
                text=lines[2:],
                expanded=len(terms) <= 20,  # a long list of names starts folded
            ),
        ],
        notes,
    )


def lstsq_report(fit: Any) -> Report:
    """An :class:`~ooc_accessor.results.LstsqResult`: the fit's size, R², the coefficients."""
    p = len(fit.terms)
    notes = []
    if fit.rank < p:
        notes.append(
            f"rank-deficient: rank {fit.rank} of {p} terms (minimum-norm solution; "
            "see fit.rank and the warning at the fit)"
        )
    nobs, r2 = str(int(fit.nobs)), _safe(lambda: short(fit.rsquared))
    r2_adj = _safe(lambda: short(fit.rsquared_adj))
    items = [
        ("response", fit.response),
        ("model", fit.model_name),
        ("nobs", nobs),
        ("dropped rows", str(fit.n_dropped)),
        ("df model / resid", f"{short(fit.df_model)} / {short(fit.df_resid)}"),
        ("R² / adj. R²", f"{r2} / {r2_adj}"),
        ("cov_type", fit.cov_type),
        ("rank", f"{fit.rank} of {p}"),
    ]
    text = [
        (
            "fit",
            f"{fit.response} on {p} terms: nobs {nobs} ({fit.n_dropped} dropped), "
            f"df_resid {short(fit.df_resid)}, rank {fit.rank} of {p}",
        ),
        ("R²", f"{r2} (adj. {r2_adj}), cov_type {fit.cov_type}"),
    ]
    return Report(
        f"ooc.LstsqResult {fit.model_name}",
        fit._design.formula,
        [Section("Fit", items, text=text), _coefficients(fit, "t" if fit.use_t else "z")],
        notes,
    )


def glm_report(fit: Any) -> Report:
    """A :class:`~ooc_accessor.stats.glmresults.GLMResults`: family, IRLS, deviance."""
    family = type(fit.family).__name__
    link = type(fit.family.link).__name__
    # llf and aic take one more pass over the rows: shown only once that pass has run
    if "_final" in vars(fit):
        llf, aic = _safe(lambda: short(fit.llf)), _safe(lambda: short(fit.aic))
        pending = ""
    else:
        llf = aic = "not computed"
        pending = " (one more pass over the rows: ask fit.llf)"
    iterations, nobs = _iterations(fit), str(int(fit.nobs))
    notes = [] if fit.converged else [f"IRLS did not converge in {iterations} iterations"]
    deviance, scale = short(fit.deviance), short(fit.scale)
    items = [
        ("response", fit.response),
        ("family / link", f"{family} / {link}"),
        ("nobs", nobs),
        ("dropped rows", str(fit.n_dropped)),
        ("df model / resid", f"{short(fit.df_model)} / {short(fit.df_resid)}"),
        ("iterations", str(iterations)),
        ("converged", str(bool(fit.converged))),
        ("deviance", deviance),
        ("scale", scale),
        ("llf", llf + pending),
        ("aic", aic),
        ("cov_type", fit.cov_type),
    ]
    done = "converged" if fit.converged else "NOT converged"
    text = [
        (
            "fit",
            f"{fit.response} on {len(fit.terms)} terms: nobs {nobs} ({fit.n_dropped} dropped), "
            f"df_resid {short(fit.df_resid)}, {iterations} IRLS iterations, {done}",
        ),
        (
            "deviance",
            f"{deviance}, scale {scale}, llf {llf}, aic {aic}, cov_type {fit.cov_type}",
        ),
    ]
    return Report(
        f"ooc.GLMResults {family}({link})",
        fit._design.formula,
        [Section("Fit", items, text=text), _coefficients(fit, "t" if fit.use_t else "z")],
        notes,
    )


def _iterations(fit: Any) -> int:
    return int(fit.fit_history.get("iteration", 0))


def svd_report(svd: Any) -> Report:
    """An :class:`~ooc_accessor.results.SVDResult`: the shape, k, s, where U is stored."""
    design = svd.design
    s = np.asarray(svd.s, dtype=float)
    size, exists = file_state(svd.path)
    notes = [] if exists else [f"the store of U {svd.path} is missing (deleted?)"]
    # over every singular value of X (the SVD keeps the total), as PCA's variance ratio
    energy = np.asarray(svd.share, dtype=float)
    table = Table(
        ["s", "share of s²"],
        [str(i) for i in range(s.size)],
        [[short(v), f"{e:.4f}"] for v, e in zip(s, energy, strict=True)],
    )
    items = [
        ("shape", f"{design.n_obs} x {len(design.terms)}"),
        ("k", str(s.size)),
        ("rank", str(svd.rank)),
        ("U", f"stored at {svd.path} ({size}, removed when garbage-collected)"),
    ]
    return Report(
        "ooc.SVDResult",
        design.formula,
        [
            Section("Decomposition", items),
            Section(
                f"Singular values ({s.size})",
                table=table,
                text=[("s", first([short(v) for v in s]))],
            ),
        ],
        notes,
    )


def pca_state(pca: Any) -> Section:
    """An :class:`~ooc_accessor.pca.IncrementalPCA`'s fitted state (nothing when unfitted)."""
    if not pca.__sklearn_is_fitted__():
        return Section("Fitted state", [("fitted", "no (call fit or partial_fit)")])

    def solved() -> dict[str, Any]:
        return pca._solve()

    sol = _safe(solved)
    items = [
        ("fitted", "yes"),
        ("solver", str(pca.svd_solver_)),
        ("n_samples_seen_", str(int(pca.n_samples_seen_))),
        ("n_features_in_", str(int(pca.n_features_in_))),
    ]
    if isinstance(sol, str):  # n_components above what the rows seen allow
        return Section("Fitted state", [*items, ("components", sol)])
    ratio = np.asarray(sol["ratio"], dtype=float)
    shown = [f"{r:.4f}" for r in ratio]
    items += [
        ("n_components_", str(int(sol["k"]))),
        ("explained_variance_ratio_", f"{first(shown)} (sum {np.sum(ratio):.4f})"),
        ("noise_variance_", short(sol["noise"])),
    ]
    table = Table(
        ["explained_variance_ratio_", "cumulative"],
        [str(i) for i in range(ratio.size)],
        [[a, f"{c:.4f}"] for a, c in zip(shown, np.cumsum(ratio), strict=True)],
    )
    return Section("Fitted state", items, table=table)


def head_tail(table: Table, max_rows: int) -> tuple[list[tuple[str, list[str]]], int]:
    """A table's ``(label, cells)`` rows, beyond ``max_rows`` its head and tail around a
    row of "..." (as pandas); and how many rows that hides."""
    rows = list(zip(table.index, table.cells, strict=True))
    if len(rows) <= max_rows:
        return rows, 0
    half = max_rows // 2
    gap = ("...", ["..."] * len(table.columns))
    return [*rows[:half], gap, *rows[-half:]], len(rows) - 2 * half


# -- text -------------------------------------------------------------------------------------
def _text_table(table: Table, max_rows: int = TEXT_MAX_ROWS) -> list[str]:
    """A table's lines, right-aligned, head and tail only beyond ``max_rows`` rows."""
    rows, hidden = head_tail(table, max_rows)
    label_w = max([len(r[0]) for r in rows] + [0])
    widths = [max([len(c)] + [len(r[1][j]) for r in rows]) for j, c in enumerate(table.columns)]
    head = " " * label_w + "".join(
        f"  {c:>{w}}" for c, w in zip(table.columns, widths, strict=True)
    )
    lines = [head]
    for label, cells in rows:
        body = "".join(f"  {c:>{w}}" for c, w in zip(cells, widths, strict=True))
        lines.append(f"{label:<{label_w}}{body}")
    if hidden:
        lines.append(f"[{len(table.index)} rows; {hidden} not shown]")
    return lines


def render_text(report: Report) -> str:
    """The text repr: a headline, then ``label: value`` lines, then the table."""
    lines = [f"<{report.kind} {report.headline!r}>"]
    lines += [f"  ! {note}" for note in report.notes]
    items = [
        item
        for section in report.sections
        for item in (section.items if section.text is None else section.text)
    ]
    width = max([len(label) for label, _ in items] + [0])
    lines += [f"  {label + ':':<{width + 1}} {value}" for label, value in items]
    for section in report.sections:
        if section.table is not None and section.text is None:
            lines += ["  " + line for line in _text_table(section.table)]
    return "\n".join(lines)
