"""The source distribution: its metadata, its contents, and its tests running.

The sdist is built without build isolation (no index needed), unpacked, and
a part of its own test suite runs against its own copy of the package.
"""

import email
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import sklearn_ali

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("build")


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    """The unpacked sdist's root folder and its PKG-INFO."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (archive,) = out.glob("sklearn_ali-*.tar.gz")
    # The "data" filter (Python >= 3.10.12) refuses paths leaving ``out``.
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(archive) as tar:
        tar.extractall(out, **safe)
    (root,) = (p for p in out.iterdir() if p.is_dir())
    info = email.message_from_string((root / "PKG-INFO").read_text())
    return root, info


def test_metadata(sdist):
    _, info = sdist
    assert info["Version"] == sklearn_ali.__version__  # the one version source
    assert info["License-Expression"] == "BSD-3-Clause"
    assert info["License-File"] == "LICENSE"
    assert info["Requires-Python"] == ">=3.10"
    classifiers = info.get_all("Classifier")
    assert "Programming Language :: Python :: 3.10" in classifiers
    extras = info.get_all("Provides-Extra")
    assert {"plot", "dask", "datasets", "benchmarks", "docs", "dev"} <= set(extras)
    # Every requirement of an extra installs on every supported Python.
    requires = info.get_all("Requires-Dist")
    sphinx = [r for r in requires if r.startswith("sphinx>=") and "docs" in r]
    assert any('python_version < "3.11"' in r for r in sphinx), sphinx


def test_contents(sdist):
    root, _ = sdist
    for name in (
        "LICENSE",
        "README.md",
        "CONTRIBUTING.md",  # the README links it
        "pyproject.toml",
        "tests/conftest.py",
    ):
        assert (root / name).is_file(), name
    for folder in ("tests", "examples", "benchmarks", "sklearn_ali"):
        tracked = {p.relative_to(ROOT) for p in (ROOT / folder).rglob("*.py")}
        shipped = {p.relative_to(root) for p in (root / folder).rglob("*.py")}
        assert tracked - shipped == set(), folder
    # The gallery's kept output: the sdist's docs show the same figures.
    gallery = [p for p in (ROOT / "docs" / "auto_examples").rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in gallery)
    missing = [p for p in gallery if not (root / p.relative_to(ROOT)).is_file()]
    assert not missing, missing


def test_the_sdists_tests_pass(sdist):
    root, _ = sdist
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    where = subprocess.run(
        [sys.executable, "-c", "import sklearn_ali; print(sklearn_ali.__file__)"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(root)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_networks.py",
            "tests/test_data_path.py",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
