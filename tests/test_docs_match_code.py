"""What the documentation states about the code is read from the code.

Each test keeps one kind of sentence from drifting: the API page against the
modules' ``__all__``, the documented extras against ``pyproject.toml``, the
names and widths of the "hidden" features against a fitted model, links to
the benchmarks page against plain paths, and the current joblib API.
"""

import importlib
import importlib.metadata
import re
from collections import Counter
from pathlib import Path

import pytest

import sklearn_ali
from sklearn_ali import ALITransformer

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
PACKAGE = REPO_ROOT / "sklearn_ali"

# Public modules whose every name in __all__ has an API entry; the top level
# lists its submodules too, which are pages of their own.
API_MODULES = [
    "sklearn_ali",
    "sklearn_ali.networks",
    "sklearn_ali.objectives",
    "sklearn_ali.io",
    "sklearn_ali.onnx",
    "sklearn_ali.datasets",
    "sklearn_ali.evaluation",
    "sklearn_ali.plotting",
]
NOT_API_ENTRIES = {"__version__", "io", "networks", "objectives"}


def api_entries(text):
    """``{module: names}`` documented by api.rst's autosummary/autodata."""
    entries, module, in_summary = {}, None, False
    for line in text.splitlines():
        if m := re.match(r"\.\. currentmodule:: (\S+)", line):
            module, in_summary = m.group(1), False
        elif line.startswith(".. autosummary::"):
            in_summary = True
        elif m := re.match(r"\.\. autodata:: (\S+)", line):
            entries.setdefault(module, set()).add(m.group(1))
            in_summary = False
        elif in_summary and re.match(r"   [A-Za-z_]\w*$", line):
            entries.setdefault(module, set()).add(line.strip())
        elif in_summary and line and not line.startswith(" "):
            in_summary = False
    return entries


def test_api_entry_parser_reads_both_directives():
    text = (
        ".. currentmodule:: pkg\n\n.. autosummary::\n   :toctree: generated/\n\n"
        "   A\n   b\n\nSome text.\n\n.. autodata:: C\n   :no-value:\n"
    )
    assert api_entries(text) == {"pkg": {"A", "b", "C"}}


def test_api_page_lists_exactly_the_public_names():
    entries = api_entries((DOCS / "api.rst").read_text(encoding="utf-8"))
    for name in API_MODULES:
        public = set(importlib.import_module(name).__all__) - NOT_API_ENTRIES
        documented = entries.get(name, set())
        assert public - documented == set(), f"{name}: not on docs/api.rst"
        assert documented - public == set(), f"{name}: on docs/api.rst, not public"


def quickstart_extras():
    text = (DOCS / "quickstart.rst").read_text(encoding="utf-8")
    section = text.split("**Optional extras.**", 1)[1].split("\n\n\n", 1)[0]
    return set(re.findall(r"^``(\w+)``$", section, flags=re.M))


def test_quickstart_lists_every_extra():
    # The installed metadata: tomllib, which could read pyproject.toml, is
    # not in Python 3.10.
    extras = set(importlib.metadata.metadata("sklearn-ali").get_all("Provides-Extra"))
    assert quickstart_extras() == extras


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits().data[:120]


@pytest.mark.parametrize(
    "params, blocks",
    [
        # The MLP: one block per hidden layer, the last three kept.
        ({"hidden_layer_sizes": (8, 8)}, ["block0", "block1"]),
        ({"hidden_layer_sizes": (8, 8, 8, 8)}, ["block1", "block2", "block3"]),
        # The conv net sizes itself to the images: one level for 8x8.
        ({"image_shape": (1, 8, 8), "conv_width": 4}, ["block0"]),
    ],
)
def test_hidden_features_are_the_blocks_the_docs_name(digits, params, blocks):
    ali = ALITransformer(n_components=3, max_epochs=1, random_state=0, **params)
    ali.fit(digits)
    parts = Counter(n.rsplit("_", 1)[0] for n in ali.get_feature_names_out())
    assert list(parts) == [f"alitransformer_{b}" for b in blocks] + [
        "alitransformer_mu"
    ]
    assert parts["alitransformer_mu"] == 3
    assert ali.transform(digits[:2]).shape[1] == sum(parts.values())
    # What the docstrings say of those names.
    doc = type(ali).get_feature_names_out.__doc__
    assert "counted from ``block0``" in doc
    features_doc = ALITransformer.__doc__.split("features :", 1)[1]
    assert "one per\n        entry of ``hidden_layer_sizes``" in features_doc


def test_default_hidden_width_is_the_documented_one(digits):
    ali = ALITransformer(max_epochs=1, random_state=0).fit(digits)
    width = sum(ali.get_params()["hidden_layer_sizes"]) + ali.n_components
    assert ali.transform(digits[:2]).shape[1] == width
    assert f"{width - ali.n_components:,} +\n        ``n_components``" in (
        ALITransformer.__doc__
    )


def test_docstrings_link_the_benchmarks_page():
    # A plain path renders as literal text on the API pages.
    for path in PACKAGE.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "docs/benchmarks.md" not in text, path.name


@pytest.mark.parametrize(
    "document", ["docs/user_guide.rst", "docs/quickstart.rst", "README.md"]
)
def test_documents_use_joblibs_current_backend_api(document):
    text = (REPO_ROOT / document).read_text(encoding="utf-8")
    assert "parallel_backend(" not in text


def test_gallery_uses_joblibs_current_backend_api():
    for path in (REPO_ROOT / "examples").glob("*.py"):
        assert "parallel_backend(" not in path.read_text(encoding="utf-8"), path


def test_io_dump_is_documented_for_every_estimator():
    doc = sklearn_ali.io.dump.__doc__
    for name in ("ALITransformer", "ALIClassifier", "ConditionalALI"):
        assert name in doc, name
