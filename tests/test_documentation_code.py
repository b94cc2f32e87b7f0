"""The documentation's code runs and shows what it really gives.

* Every docstring example (``>>>``) of the package runs under doctest, its
  output checked.
* Every Python code block of README.md, docs/quickstart.rst and
  docs/user_guide.rst runs, each document's blocks in order in one namespace
  (as one script would), in a fresh process whose working directory is a
  temporary folder.

Tiny settings: the blocks run as written, on the data they define, but every
sklearn-ali fit trains at most ``SKLEARN_ALI_DOCS_MAX_EPOCHS`` epochs (set to
1 here). ``tests/docs_hook/sitecustomize.py`` applies that cap; this module
puts its folder on ``PYTHONPATH`` so that it also reaches the processes the
blocks start (joblib's workers of a ``GridSearchCV``). The README and the user
guide say so.
"""

import doctest
import importlib
import importlib.metadata
import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sklearn_ali

REPO_ROOT = Path(__file__).resolve().parents[1]
HOOK = Path(__file__).resolve().parent / "docs_hook"
DOCUMENTS = [
    "README.md",
    "docs/index.rst",
    "docs/quickstart.rst",
    "docs/user_guide.rst",
]
MAX_EPOCHS = 1

# Examples marked ``# doctest: +SKIP``, and why: they read data that are not
# shipped with any package (their loaders are tested on stand-in files in
# tests/test_datasets.py). Any other skip fails the test.
SKIPPED_EXAMPLES = {
    "sklearn_ali.datasets.load_svhn": "needs the official SVHN files",
    "sklearn_ali.datasets.load_cifar10": "needs the official CIFAR-10 files",
}

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(sklearn_ali.__path__, "sklearn_ali.")
)


def _examples(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    # Only objects defined in the module: re-exports are tested where they live.
    return [t for t in finder.find(module) if t.examples]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    runner = doctest.DocTestRunner(optionflags=flags)
    skipped = set()
    for test in _examples(module_name):
        if any(ex.options.get(doctest.SKIP) for ex in test.examples):
            skipped.add(test.name)
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} docstring examples failed"
    expected_skips = {n for n in SKIPPED_EXAMPLES if n.startswith(module_name + ".")}
    assert skipped == expected_skips


def test_every_module_with_examples_is_found():
    # A module whose source holds ">>>" but whose examples the finder misses
    # (an example outside a docstring, say) would go untested.
    for name in MODULES:
        path = importlib.import_module(name).__file__
        in_source = Path(path).read_text(encoding="utf-8").count(">>> ")
        found = sum(len(t.examples) for t in _examples(name))
        assert found == in_source, name


def test_transformer_example_states_both_widths(digits_images):
    # The ALITransformer example shows the default hidden features and the
    # latent mean: the widths it prints come from the estimator.
    from sklearn_ali import ALITransformer

    doc = ALITransformer.__doc__
    kw = dict(n_components=8, max_epochs=2, random_state=0)
    hidden = ALITransformer(**kw).fit_transform(digits_images)
    mean = ALITransformer(features="mean", **kw).fit_transform(digits_images)
    assert f"{hidden.shape}" in doc and f"{mean.shape}" in doc
    assert hidden.shape[1] > mean.shape[1] == 8


# --- code blocks of the documents ------------------------------------------

_RST_DIRECTIVE = re.compile(r"^(\s*)\.\. code-block::\s*(\S+)\s*$")
_MD_FENCE = re.compile(r"^```(\S*)\s*$")


def _indent(line):
    return len(line) - len(line.lstrip())


def rst_blocks(text):
    """``(language, first line number, code)`` of each rst code block.

    Literal blocks introduced by ``::`` count as Python; the documents use
    ``.. code-block::`` for everything else.
    """
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _RST_DIRECTIVE.match(line)
        if match:
            language, base = match.group(2), len(match.group(1))
        elif line.rstrip().endswith("::") and not line.lstrip().startswith(".."):
            language, base = "python", _indent(line)
        else:
            i += 1
            continue
        i += 1
        # Directive options, then the indented body.
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1
        first = i
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            i += 1
        body = lines[first:i]
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
            first += 1
        depth = min(_indent(b) for b in body if b.strip())
        blocks.append((language, first + 1, "\n".join(b[depth:] for b in body)))
    return blocks


def md_blocks(text):
    """``(language, first line number, code)`` of each fenced Markdown block."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _MD_FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start = i + 2
        i += 1
        body = []
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        blocks.append((match.group(1), start, "\n".join(body)))
        i += 1
    return blocks


def document_blocks(document):
    text = (REPO_ROOT / document).read_text(encoding="utf-8")
    return md_blocks(text) if document.endswith(".md") else rst_blocks(text)


def python_blocks(document):
    return [
        (line, code)
        for lang, line, code in document_blocks(document)
        if lang == "python"
    ]


# Runs the blocks as one script: one module namespace named __main__ (so that
# functions it defines pickle by reference, as in a script), each block
# compiled under the document's name and line numbers so that a traceback
# points into the document. Prints what the test checks afterwards.
RUNNER = """
import json, sys, types
blocks = json.load(open(sys.argv[1]))
main = types.ModuleType("__main__")
sys.modules["__main__"] = main
for document, line, code in blocks:
    exec(compile("\\n" * (line - 1) + code, document, "exec"), main.__dict__)
import numpy as np
from sklearn_ali._base import BaseALI
report = {}
for name, value in vars(main).items():
    # The estimators of a fitted Pipeline instance (not of the class).
    steps = {} if isinstance(value, type) else getattr(value, "named_steps", {})
    for step, estimator in steps.items():
        if isinstance(estimator, BaseALI) and hasattr(estimator, "history_"):
            report[f"{name}.{step}"] = len(estimator.history_)
    if isinstance(value, BaseALI) and hasattr(value, "history_"):
        report[name] = len(value.history_)
    elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
        report[name] = [float(value.min()), float(value.max())]
print("REPORT", json.dumps(report))
"""


def run_document(document, tmp_path):
    blocks = [(document, line, code) for line, code in python_blocks(document)]
    spec = tmp_path / "blocks.json"
    spec.write_text(json.dumps(blocks), encoding="utf-8")
    work = tmp_path / "cwd"
    work.mkdir()
    env = {
        **os.environ,
        "SKLEARN_ALI_DOCS_MAX_EPOCHS": str(MAX_EPOCHS),
        "PYTHONPATH": os.pathsep.join(
            [str(HOOK), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
        ),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(spec)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{document}:\n{result.stdout}\n{result.stderr}"
    line = next(s for s in result.stdout.splitlines() if s.startswith("REPORT "))
    return json.loads(line.removeprefix("REPORT "))


@pytest.mark.parametrize("document", DOCUMENTS)
def test_document_has_python_blocks(document):
    assert python_blocks(document)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_document_code_runs(document, tmp_path):
    pytest.importorskip("matplotlib")
    if document == "docs/user_guide.rst":
        pytest.importorskip("dask.distributed")
        pytest.importorskip("zarr")
    report = run_document(document, tmp_path)
    # The cap reached the fits: nothing trained longer.
    epochs = {k: v for k, v in report.items() if isinstance(v, int)}
    assert epochs and max(epochs.values()) <= 3 * MAX_EPOCHS, epochs
    if document == "docs/user_guide.rst":
        # The custom architecture's decoder ends in a sigmoid: its samples
        # lie in the range of the training images (digits, 0..16).
        low, high = report["samples"]
        assert 0.0 <= low <= high <= 16.0


@pytest.mark.parametrize("document", DOCUMENTS)
def test_document_mentions_the_epoch_cap(document):
    if document in ("docs/quickstart.rst", "docs/index.rst"):
        pytest.skip("the user guide and the README describe it")
    text = (REPO_ROOT / document).read_text(encoding="utf-8")
    assert "SKLEARN_ALI_DOCS_MAX_EPOCHS" in text


def test_readme_shell_blocks_name_existing_files():
    # The installed metadata (tomllib is not in Python 3.10).
    extras = importlib.metadata.metadata("sklearn-ali").get_all("Provides-Extra")
    for lang, _, code in document_blocks("README.md"):
        if lang != "bash":
            continue
        for script in re.findall(r"python (\S+\.py)", code):
            assert (REPO_ROOT / script).is_file(), script
        for extra in re.findall(r'\.\[(\w+)\]"', code):
            assert extra in extras, extra


def test_block_extraction_keeps_nesting():
    text = (
        "Text::\n\n    x = 1\n\n"
        "Item\n    .. code-block:: python\n\n       y = x + 1\n"
        "       if y:\n           z = y\n\n"
        ".. code-block:: bash\n\n   echo hi\n"
    )
    assert rst_blocks(text) == [
        ("python", 3, "x = 1"),
        ("python", 8, "y = x + 1\nif y:\n    z = y"),
        ("bash", 14, "echo hi"),
    ]
    assert np.all(np.array([b[1] for b in md_blocks("a\n```python\nx\n```\n")]) == 3)
