"""Sphinx configuration for the sklearn-ali documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``.

The example gallery (``docs/auto_examples``) is kept in the repository with
the output of real runs: Sphinx-Gallery runs an example again only when its
source changed, so a build takes minutes, not the hour the examples need.
``-D sphinx_gallery_conf.run_stale_examples=True`` runs every example again.

Without network access set ``SKLEARN_ALI_DOCS_OFFLINE=1``: links to the
documentation of scikit-learn, PyTorch, skorch, numpy and joblib need their
intersphinx inventories, and offline they become plain text, unless
``SKLEARN_ALI_DOCS_INVENTORIES`` names a folder of inventories fetched
elsewhere (``sklearn.inv`` from ``https://scikit-learn.org/stable/objects.inv``,
and so on for the names of ``intersphinx_mapping``).
"""

import os
import re
import sys
from pathlib import Path

from sphinx_gallery.sorting import FunctionSortKey

import sklearn_ali

DOCS = Path(__file__).resolve().parent
OFFLINE = bool(os.environ.get("SKLEARN_ALI_DOCS_OFFLINE"))
INVENTORIES = os.environ.get("SKLEARN_ALI_DOCS_INVENTORIES")
sys.path.insert(0, str(DOCS / "sphinxext"))
from gallery_order import reading_order  # noqa: E402

# -- project -----------------------------------------------------------------

project = "sklearn-ali"
author = "The sklearn-ali developers"
copyright = author
version = release = sklearn_ali.__version__

# -- general -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "run_record",
    "mathml",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "**.ipynb_checkpoints",
    # Sphinx-Gallery's listings of run times, made at each build: one for
    # the whole project and one in the gallery's folder.
    "sg_execution_times.rst",
    "auto_examples/sg_execution_times.rst",
]

# Offline, references to third-party objects cannot resolve; online, the
# type names in numpydoc's parameter lists would still be unresolvable
# strings ("array-like of shape ..."), so broken references are not reported.
nitpicky = False
default_role = "obj"
pygments_style = "sphinx"

# -- autodoc / autosummary ---------------------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"
# Formulas become MathML at build time (docs/sphinxext/mathml.py): they
# render without a script or a CDN, so offline copies show them too.
html_math_renderer = "mathml"

# -- numpydoc ----------------------------------------------------------------

# autosummary already lists the members; numpydoc's own member tables would
# duplicate every entry and warn.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True

# -- MyST (docs/benchmarks.md) -----------------------------------------------

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# -- HTML --------------------------------------------------------------------

# The theme of scikit-learn and much of the scientific Python ecosystem.
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-ali {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
# Pages without sub-pages have nothing for the left sidebar's section
# navigation; the right sidebar's "On this page" is their table of contents.
# The gallery's pages too: the gallery's index, one click away, lists them,
# and their code and figures get the room.
html_sidebars = {
    page: []
    for page in ("index", "quickstart", "user_guide", "benchmarks", "auto_examples/*")
}
html_static_path = ["_static"]
html_css_files = ["custom.css"]


# -- intersphinx --------------------------------------------------------------

DOCUMENTATION = {
    "python": "https://docs.python.org/3",
    "sklearn": "https://scikit-learn.org/stable",
    "torch": "https://docs.pytorch.org/docs/stable",
    "skorch": "https://skorch.readthedocs.io/en/stable",
    "numpy": "https://numpy.org/doc/stable",
    "joblib": "https://joblib.readthedocs.io/en/stable",
}
intersphinx_mapping = {}
for _name, _url in DOCUMENTATION.items():
    _local = Path(INVENTORIES or "", f"{_name}.inv")
    if INVENTORIES and _local.is_file():
        intersphinx_mapping[_name] = (_url, str(_local))
    elif not OFFLINE:
        intersphinx_mapping[_name] = (_url, None)

# -- example gallery ------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": ["auto_examples"],
    # Examples named plot_*.py run; svhn_cifar10.py needs data and a GPU and is
    # shown without running.
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": FunctionSortKey(reading_order, "GALLERY_ORDER"),
    "reset_modules": ("matplotlib", "run_record.record_run"),
    "matplotlib_animations": False,
    "image_srcset": [],
    "min_reported_time": 0,
    # A cell ending in plot_samples(...) would print "<Figure size ...>".
    "capture_repr": (),
    "show_memory": False,
    # Each API page lists the examples that use it (the templates'
    # minigallery); names in the examples' code link to the API pages
    # through this build's own objects.
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("sklearn_ali",),
}

# -- inherited scikit-learn docstrings ----------------------------------------

# ALITransformer's page documents the methods it inherits from scikit-learn
# (fit_transform, get_params, set_output, ...). Their docstrings link to labels
# and glossary terms of scikit-learn's own documentation, which resolve through
# its intersphinx inventory; without it they become plain text. Docstrings of
# sklearn_ali itself are left untouched, so their broken references still fail
# the build.
_CROSS_PROJECT_ROLE = re.compile(r":(?:ref|term):`(?:([^`<]*?)\s*<[^`>]+>|([^`]+))`")


def _unlink_sklearn_roles(app, what, name, obj, options, lines):
    if "sklearn" in intersphinx_mapping:
        return
    module = getattr(obj, "__module__", None) or ""
    if module != "sklearn" and not module.startswith("sklearn."):
        return
    for i, line in enumerate(lines):
        lines[i] = _CROSS_PROJECT_ROLE.sub(lambda m: m.group(1) or m.group(2), line)


def setup(app):
    app.connect("autodoc-process-docstring", _unlink_sklearn_roles)
