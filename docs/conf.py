"""Sphinx configuration of the ooc_accessor docs (offline: nothing here needs the network)."""

import os
import sys

import sphinx_autosummary_accessors

# the source tree next to docs/, so a checkout's own copy is documented
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import ooc_accessor

project = "ooc_accessor"
author = "ooc_accessor developers"
copyright = "ooc_accessor developers"
release = ooc_accessor.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_autosummary_accessors",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates", sphinx_autosummary_accessors.templates_path]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
autodoc_default_options = {"member-order": "bysource"}

# the class pages list their members themselves (see _templates/autosummary/class.rst)
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_heading_anchors = 3
# benchmarks.md quotes the bench scripts' reports verbatim, whose headings start at level 4
suppress_warnings = ["myst.header"]

html_theme = "pydata_sphinx_theme"
html_title = "ooc_accessor"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path: list[str] = []


def _skip_foreign(app, what, name, obj, skip, options):
    """Leave out what IncrementalPCA inherits from scikit-learn (documented by sklearn,
    with cross-references into sklearn's own site that would not resolve here)."""
    if (getattr(obj, "__module__", None) or "").startswith("sklearn"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign)
