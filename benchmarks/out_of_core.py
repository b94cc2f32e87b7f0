"""Memory of fit and transform on data read from disk: a 60,000-image memmap.

60,000 uint8 images of 1x28x28 pixels (MNIST-5k's 5,000 real digits, each
used 12 times) are written to disk as ``.npy`` and opened with
``np.load(mmap_mode="r")``, and (with ``--h5py``) as an h5py dataset. An
``ALITransformer`` (the MLP, one epoch by default) is fitted on them, then
transforms them. A thread samples the process's *anonymous* resident memory
(``RssAnon`` in ``/proc/self/status``: heap and torch's buffers, not the
file's pages in the page cache, which the kernel can drop at will) and the
peak growth over the level before each call is reported, next to the size
of a float32 copy of the data (179 MiB), which is what ``fit`` made before
it read data in batches.

Usage::

    python benchmarks/out_of_core.py                  # memmap, 60,000 images
    python benchmarks/out_of_core.py --h5py --epochs 1
    python benchmarks/out_of_core.py --quick          # smoke run, seconds
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from speed import RSSPeak, release_free_memory

from sklearn_ali import ALITransformer
from sklearn_ali.datasets import load_mnist_5k

MB = 2**20  # MiB


def anonymous_memory():
    """RssAnon of this process in bytes (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise OSError("no RssAnon in /proc/self/status")


def peak_growth():
    """Peak anonymous memory above the level at entry (``.extra``), sampled."""
    release_free_memory()
    return RSSPeak(anonymous_memory, interval=0.002)


def write_images(folder, n_images, h5py_file):
    """n_images uint8 digits on disk; return the opened array-likes."""
    digits = load_mnist_5k().data.reshape(-1, 1, 28, 28).astype(np.uint8)
    path = Path(folder) / "images.npy"
    out = np.lib.format.open_memmap(path, "w+", np.uint8, (n_images, 1, 28, 28))
    for start in range(0, n_images, len(digits)):
        out[start : start + len(digits)] = digits[: n_images - start]
    out.flush()
    del out
    sources = {"memmap": np.load(path, mmap_mode="r")}
    if h5py_file:
        import h5py

        f = h5py.File(Path(folder) / "images.h5", "w")
        f.create_dataset("X", data=sources["memmap"], chunks=(256, 1, 28, 28))
        sources["h5py"] = f["X"]
    return sources


def measure(name, X, args):
    ali = ALITransformer(
        architecture="mlp",
        max_epochs=args.epochs,
        device="cpu",
        random_state=0,
    )
    ALITransformer(architecture="mlp", max_epochs=1, random_state=0).fit(
        np.asarray(X[:200])
    )  # loads torch's kernels and allocator outside the measurement
    with peak_growth() as fit:
        start = time.perf_counter()
        ali.fit(X)
        fit_seconds = time.perf_counter() - start
    with peak_growth() as transform:
        features = ali.transform(X)
    float32_copy = np.prod(X.shape) * 4
    print(
        f"{name:<10}{X.shape[0]:>8}{float32_copy / MB:>14.0f}"
        f"{fit.extra / MB:>12.1f}{fit_seconds:>8.1f}"
        f"{transform.extra / MB:>16.1f}{features.nbytes / MB:>10.1f}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--h5py", action="store_true", help="also an h5py dataset")
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n_images, args.epochs = 2000, 1
    print(
        f"# machine: {platform.processor() or platform.machine()}, torch threads "
        f"{torch.get_num_threads()}, torch {torch.__version__}"
    )
    print(
        f"{'source':<10}{'images':>8}{'float32 MiB':>14}{'fit +MiB':>12}{'fit s':>8}"
        f"{'transform +MiB':>16}{'out MiB':>10}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for name, X in write_images(folder, args.n_images, args.h5py).items():
            measure(name, X, args)
    print(
        "+MiB: peak anonymous memory (RssAnon) above the level before the call; "
        "out MiB: transform's float64 output"
    )


if __name__ == "__main__":
    main()
