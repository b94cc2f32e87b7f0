"""
Saving and loading a fitted model
=================================

A fitted :class:`~sklearn_ali.ALITransformer` is saved and loaded with
``joblib`` like any scikit-learn estimator, or without pickle with
:func:`sklearn_ali.io.dump` and :func:`sklearn_ali.io.load`. This example
checks that a loaded copy gives exactly the same outputs as the original and
that a saved model loads in a fresh process that sees no GPU. Run on a machine
with a GPU, it also trains there and shows where the networks end up and how
such a model loads without one; run without a GPU (the page's output says
which it had), that part loads the CPU model instead. It needs the ``plot`` extra
(``pip install "sklearn-ali[plot]"``).
"""

# %%
# A small model
# -------------
# 200 epochs on scikit-learn's 8x8 digits, kept as images ``(n, 1, 8, 8)``,
# with the other training settings the convolutional network's defaults (a
# learning rate of 2e-3 falling linearly to 0, no spectral normalisation, a
# cycle term of weight 20), which reconstruct these digits faithfully in
# about half a minute on two CPU cores.
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

import sklearn_ali.io
from sklearn_ali import ALITransformer
from sklearn_ali.plotting import plot_reconstructions

X = load_digits().images[:, None]
params = dict(n_components=16, max_epochs=200, random_state=0)
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):  # tests/test_examples.py
    X = X[:200]
    params.update(conv_width=8, max_epochs=1)
# sphinx_gallery_end_ignore


def network_devices(model):
    """The device of each of the model's networks."""
    return {
        name: str(next(getattr(model, name).parameters()).device)
        for name in ("encoder_", "decoder_", "discriminator_")
    }


model = ALITransformer(**params).fit(X)
print(f"trained on {model.device_!r}; networks now on {network_devices(model)}")

# %%
# With joblib
# -----------
# ``joblib.dump`` pickles the whole estimator, networks included. The copy
# that ``joblib.load`` returns gives the same features, codes,
# reconstructions and samples, bit for bit.
folder = tempfile.TemporaryDirectory()


def compare(model, loaded, X):
    """Print whether every output of ``loaded`` equals ``model``'s."""
    Z = model.encode(X[:20])
    checks = {
        "transform": (model.transform(X), loaded.transform(X)),
        "encode": (Z, loaded.encode(X[:20])),
        "inverse_transform": (model.inverse_transform(Z), loaded.inverse_transform(Z)),
        "sample": (model.sample(16, random_state=0), loaded.sample(16, random_state=0)),
    }
    for name, (before, after) in checks.items():
        print(f"  {name:<18} identical: {np.array_equal(before, after)}")


path = Path(folder.name, "ali_digits.joblib")
joblib.dump(model, path)
loaded = joblib.load(path)
print(f"{path.name}, {path.stat().st_size / 1e6:.2f} MB, loaded back:")
compare(model, loaded, X)

# %%
# Digits (top of each panel) and their reconstructions G(E(x)) by each model:
fig = plt.figure(figsize=(8.0, 2.6), layout="constrained")
left, right = fig.subfigures(1, 2)
plot_reconstructions(model, X[:6], n_cols=6, fig=left)
plot_reconstructions(loaded, X[:6], n_cols=6, fig=right)
left.suptitle("original model")
right.suptitle("loaded model")

# %%
# Without pickle
# --------------
# Loading a pickle can run any code the file names, so only load pickles you
# trust. :func:`sklearn_ali.io.dump` writes a `safetensors
# <https://huggingface.co/docs/safetensors>`_ file instead: the parameters,
# fitted attributes and training history as JSON, the weights as tensors.
# :func:`sklearn_ali.io.load` rebuilds the networks with the package's own
# code and only copies the stored weights in; it puts them on the CPU unless
# given another ``device``.
path = Path(folder.name, "ali_digits.safetensors")
sklearn_ali.io.dump(model, path)
loaded = sklearn_ali.io.load(path)
print(f"{path.name}, {path.stat().st_size / 1e6:.2f} MB, loaded back:")
compare(model, loaded, X)

# %%
# Models trained on a GPU
# -----------------------
# ``device="auto"`` (the default) trains on a GPU when there is one. With the
# default ``keep_on_device=False`` the networks move to the CPU at the end of
# ``fit``, so the saved model holds only CPU tensors and loads anywhere. With
# ``keep_on_device=True`` they stay on the GPU, where ``transform`` is faster;
# such a pickle still loads on a machine without CUDA, because skorch maps
# its networks to the CPU when it unpickles them there. Where this runs with a
# GPU, it trains both kinds there and loads each in a fresh Python process
# that cannot see the GPU (``CUDA_VISIBLE_DEVICES=""``), which transforms the
# same digits. Without a GPU there is no GPU-trained model to show, so the
# same fresh process loads the CPU model's pickle instead.
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


def load_without_gpu(path, X, features):
    """Load ``path`` in a process without CUDA and compare its features."""
    data_path = path.with_suffix(".npz")
    np.savez(data_path, X=X, features=features)
    done = subprocess.run(
        [sys.executable, "-c", CPU_ONLY_CHECK, str(path), str(data_path)],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
    )
    print(done.stdout.rstrip() or f"  failed:\n{done.stderr}")


if torch.cuda.is_available():
    for keep in (False, True):
        gpu_model = ALITransformer(device="cuda", keep_on_device=keep, **params)
        gpu_model.fit(X)
        print(
            f"keep_on_device={keep}: trained on {gpu_model.device_!r}, "
            f"networks now on {network_devices(gpu_model)}"
        )
        path = Path(folder.name, f"ali_digits_cuda_keep_{keep}.joblib")
        joblib.dump(gpu_model, path)
        load_without_gpu(path, X, gpu_model.transform(X))
else:
    print("No CUDA device here: the CPU model, loaded in a fresh process:")
    path = Path(folder.name, "ali_digits.joblib")
    joblib.dump(model, path)
    load_without_gpu(path, X, model.transform(X))

# %%
folder.cleanup()
plt.show()
