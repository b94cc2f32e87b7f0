"""Saving and loading a fitted ALITransformer with joblib

A fitted ``ALITransformer`` is saved with ``joblib.dump`` and loaded with
``joblib.load`` like any scikit-learn estimator. The script checks that the
loaded copy gives exactly the same ``transform``, ``encode``,
``inverse_transform`` and ``sample`` output as the original, and saves a
figure of samples from both.

It also shows where the networks live. ``device="auto"`` trains on a GPU when
there is one, and by default (``keep_on_device=False``) the trained networks
are moved to the CPU at the end of ``fit``, so the saved model holds only CPU
tensors and loads on a machine without a GPU. With ``keep_on_device=True``
they stay on the GPU for faster ``transform`` there; such a model can still
be loaded without CUDA, because skorch maps CUDA tensors to the CPU when it
unpickles its networks on a CPU-only machine. When a GPU is present the script
trains both ways on it and loads each saved file in a fresh Python process
that cannot see the GPU (``CUDA_VISIBLE_DEVICES=""``); without one it trains
on the CPU and says what would differ.

The model is small (load_digits images, 8x8, 20 epochs), so the script runs
in well under a minute.

Usage::

    python examples/persistence.py [--quick] [--output-dir DIR]
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import joblib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from sklearn_ali import ALITransformer  # noqa: E402
from sklearn_ali.plotting import plot_samples  # noqa: E402

# Run in a fresh interpreter that cannot see any GPU: load a saved model,
# transform the saved inputs and compare with the saved features.
CPU_ONLY_CHECK = """
import sys, warnings
import joblib, numpy as np, torch
warnings.simplefilter("ignore")
model_path, data_path = sys.argv[1:3]
model = joblib.load(model_path)
data = np.load(data_path)
features = model.transform(data["X"])
print(f"  CUDA available: {torch.cuda.is_available()}; encoder on "
      f"{next(model.encoder_.parameters()).device}; transform matches: "
      f"{np.allclose(features, data['features'], atol=1e-4)}")
"""


def network_devices(model):
    return {
        name: str(next(getattr(model, name).parameters()).device)
        for name in ("encoder_", "decoder_", "discriminator_")
    }


def check_round_trip(model, X, path):
    """Dump, load and compare every output of the model; return the copy."""
    joblib.dump(model, path)
    loaded = joblib.load(path)
    Z = model.encode(X[:20])
    checks = {
        "transform": (model.transform(X), loaded.transform(X)),
        "encode": (Z, loaded.encode(X[:20])),
        "inverse_transform": (model.inverse_transform(Z), loaded.inverse_transform(Z)),
        "sample": (model.sample(16, random_state=0), loaded.sample(16, random_state=0)),
    }
    size = path.stat().st_size / 1e6
    print(f"Saved {path} ({size:.1f} MB) and loaded it back:")
    for name, (before, after) in checks.items():
        print(f"  {name:<18} identical: {np.array_equal(before, after)}")
    print(f"  networks of the loaded copy: {network_devices(loaded)}")
    return loaded


def load_without_gpu(path, X, features):
    data_path = path.with_suffix(".npz")
    np.savez(data_path, X=X, features=features)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    print(f"Loading {path.name} in a process without CUDA:")
    done = subprocess.run(
        [sys.executable, "-c", CPU_ONLY_CHECK, str(path), str(data_path)],
        env=env,
        capture_output=True,
        text=True,
    )
    print(done.stdout.rstrip() or f"  failed:\n{done.stderr}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny settings, runs in seconds"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the saved models and the PNG (default: examples/output/)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)

    X = load_digits().images[:, None]  # (1797, 1, 8, 8), values 0-16
    params = dict(n_components=16, max_epochs=20, random_state=args.seed)
    if args.quick:
        X = X[:200]
        params.update(conv_width=8, max_epochs=1)

    # 1. The usual case: fit, dump, load, compare.
    model = ALITransformer(**params)
    start = time.perf_counter()
    model.fit(X)
    print(
        f"Fitted on {len(X)} digit images in {time.perf_counter() - start:.1f} s; "
        f"trained on device_={model.device_!r}, keep_on_device="
        f"{model.keep_on_device}, networks now on {network_devices(model)}"
    )
    loaded = check_round_trip(model, X, out / "ali_digits.joblib")

    fig = plt.figure(figsize=(6.4, 3.6), layout="constrained")
    left, right = fig.subfigures(1, 2)
    plot_samples(model, 16, random_state=args.seed, n_cols=4, fig=left)
    plot_samples(loaded, 16, random_state=args.seed, n_cols=4, fig=right)
    left.suptitle("samples, original model")
    right.suptitle("samples, loaded model")
    path = out / "persistence_samples.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"Saved {path}")

    # 2. GPU-trained models.
    print()
    if not torch.cuda.is_available():
        print(
            "No CUDA device here, so training ran on the CPU. On a machine with "
            "a GPU, ALITransformer(device='auto') trains there and, with the "
            "default keep_on_device=False, moves the networks to the CPU at the "
            "end of fit: the saved file loads anywhere. With keep_on_device=True "
            "the networks stay on the GPU; skorch maps them to the CPU when the "
            "file is loaded on a machine without CUDA. Run this script on a GPU "
            "machine to see both cases checked in a process without CUDA."
        )
        return
    for keep in (False, True):
        gpu_model = ALITransformer(device="cuda", keep_on_device=keep, **params)
        gpu_model.fit(X)
        print(
            f"ALITransformer(device='cuda', keep_on_device={keep}): trained on "
            f"{gpu_model.device_!r}, networks now on {network_devices(gpu_model)}"
        )
        path = out / f"ali_digits_cuda_keep_{str(keep).lower()}.joblib"
        joblib.dump(gpu_model, path)
        load_without_gpu(path, X, gpu_model.transform(X))


if __name__ == "__main__":
    main()
