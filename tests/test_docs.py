"""The Sphinx documentation builds without warnings and shows the gallery."""

import os
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("myst_parser")
pytest.importorskip("pydata_sphinx_theme")
pytest.importorskip("latex2mathml")
sphinx_gallery = pytest.importorskip("sphinx_gallery.gen_rst")

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
sys.path.insert(0, str(DOCS))  # check_rendering
GALLERY = DOCS / "auto_examples"
RUN_EXAMPLES = sorted((REPO_ROOT / "examples").glob("plot_*.py"))
REFRESH = (
    "run the example again: python -m sphinx -b html docs docs/_build/html "
    "(docs/conf.py)"
)


@pytest.mark.parametrize("example", RUN_EXAMPLES, ids=lambda p: p.name)
def test_gallery_output_comes_from_this_source(example):
    # Sphinx-Gallery keeps the md5 of the source it ran: the figures and
    # output kept in docs/auto_examples belong to the example as it is now.
    md5_file = GALLERY / f"{example.name}.md5"
    assert md5_file.is_file(), f"{example.name} has no gallery output: {REFRESH}"
    current = sphinx_gallery.get_md5sum(example, mode="t")
    assert md5_file.read_text() == current, f"{example.name} changed: {REFRESH}"
    record = GALLERY / f"{example.stem}.run.txt"
    assert "CPU cores" in record.read_text(encoding="utf-8")
    assert sorted(GALLERY.glob(f"images/sphx_glr_{example.stem}_*.png"))


def build_docs(root, *, warnings_are_errors=True, **env):
    """Build a copy of docs/ in ``root`` offline, without running any example."""
    shutil.copytree(REPO_ROOT / "examples", root / "examples")
    shutil.copytree(
        DOCS, root / "docs", ignore=shutil.ignore_patterns("_build", "generated")
    )
    out = root / "html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            *(["-W", "--keep-going"] if warnings_are_errors else []),
            "-q",
            "-b",
            "html",
            "-d",
            str(root / "doctrees"),
            # Examples whose kept output is stale render without figures
            # instead of running for minutes here.
            "-D",
            "plot_gallery=0",
            str(root / "docs"),
            str(out),
        ],
        env={**os.environ, "SKLEARN_ALI_DOCS_OFFLINE": "1", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"sphinx-build failed (exit {result.returncode}):\n"
        f"{result.stdout}\n{result.stderr}"
    )
    return out


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    return build_docs(tmp_path_factory.mktemp("repo"))


def test_docs_build_without_warnings(built_docs):
    assert (built_docs / "index.html").is_file()
    assert (built_docs / "generated" / "sklearn_ali.ALITransformer.html").is_file()


@pytest.mark.parametrize("example", RUN_EXAMPLES, ids=lambda p: p.name)
def test_gallery_page_shows_figures_and_run(built_docs, example):
    page = (built_docs / "auto_examples" / f"{example.stem}.html").read_text(
        encoding="utf-8"
    )
    figures = re.findall(rf"sphx_glr_{example.stem}_\d+\.png", page)
    assert figures, f"{example.name}'s page shows no figure"
    for name in set(figures):
        assert (built_docs / "_images" / name).is_file()
    assert "Total running time of the script" in page
    assert "Run on:" in page and "CPU cores" in page


def test_formulas_are_mathml_without_a_cdn(built_docs):
    # Offline readers (and offline builds) have no MathJax from a CDN.
    text = (built_docs / "user_guide.html").read_text(encoding="utf-8")
    assert "<math" in text
    assert "mathjax" not in text.lower()
    assert "\\operatorname" not in text and "\\(" not in text


def test_run_time_listings_are_left_out(built_docs):
    # Sphinx-Gallery writes one at the root and one in the gallery at each
    # build; conf.py's exclude_patterns must name both.
    assert not (built_docs / "sg_execution_times.html").exists()
    assert not (built_docs / "auto_examples" / "sg_execution_times.html").exists()


def test_benchmarks_page_is_linked_from_the_api_pages(built_docs):
    page = (built_docs / "generated" / "sklearn_ali.ALITransformer.html").read_text(
        encoding="utf-8"
    )
    assert 'href="../benchmarks.html"' in page


def test_gallery_shows_unrun_example_as_code(built_docs):
    page = (built_docs / "auto_examples" / "svhn_cifar10.html").read_text(
        encoding="utf-8"
    )
    assert "load_svhn" in page


@pytest.mark.parametrize("name", ["ALITransformer", "ALIClassifier", "ConditionalALI"])
def test_html_repr_links_to_the_api_page(built_docs, name):
    import sklearn_ali
    from sklearn_ali._base import DOCS_URL

    estimator = getattr(sklearn_ali, name)()
    link = estimator._get_doc_link()
    assert link.startswith(DOCS_URL) and link in estimator._repr_html_()
    # The page the link names is one the docs build makes.
    page = link.split("/en/", 1)[1].split("/", 1)[1]
    assert (built_docs / page).is_file()
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (documentation,) = re.findall(r'^Documentation = "(.*)"$', pyproject, re.M)
    assert documentation.startswith(DOCS_URL)


def write_inventory(path, project, entries):
    """An intersphinx inventory (objects.inv, version 2) of ``entries``."""
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        "# Version: 1\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = "".join(f"{name} py:class 1 {uri} -\n" for name, uri in entries)
    path.write_bytes(header.encode() + zlib.compress(body.encode()))


def test_links_to_scikit_learn_go_through_intersphinx(tmp_path):
    # Offline, an inventory from a folder stands in for the one online.
    inventories = tmp_path / "inventories"
    inventories.mkdir()
    write_inventory(
        inventories / "sklearn.inv",
        "scikit-learn",
        [
            (name, f"modules/generated/{name}.html#$")
            for name in ("sklearn.pipeline.Pipeline", "sklearn.decomposition.PCA")
        ],
    )
    # Not -W: the stand-in lacks the glossary terms of scikit-learn's own
    # docstrings, which the real inventory has.
    out = build_docs(
        tmp_path / "repo",
        warnings_are_errors=False,
        SKLEARN_ALI_DOCS_INVENTORIES=str(inventories),
    )
    site = "https://scikit-learn.org/stable/modules/generated/"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert (
        f'href="{site}sklearn.pipeline.Pipeline.html#sklearn.pipeline.Pipeline"'
        in index
    )
    # numpydoc's "See Also" entries resolve the same way.
    api = (out / "generated" / "sklearn_ali.ALITransformer.html").read_text(
        encoding="utf-8"
    )
    assert (
        f'href="{site}sklearn.decomposition.PCA.html#sklearn.decomposition.PCA"' in api
    )


def test_pages_render_in_a_browser(built_docs):
    # docs/check_rendering.py opens the built pages in headless Chromium:
    # code that fits, formulas drawn, no empty sidebar or second table of
    # contents, legible figures, the gallery's main example first.
    check = pytest.importorskip("check_rendering")
    if check.find_chromium() is None:
        pytest.skip("no Chromium or Chrome binary")
    assert check.check(built_docs) == 0
