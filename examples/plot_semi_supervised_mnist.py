"""
Semi-supervised MNIST: ALI features and a linear SVM
====================================================

The main use of sklearn-ali: :class:`~sklearn_ali.ALITransformer` learns
features from *unlabelled* images, and a linear SVM trained on a handful of
labels classifies them.

This example fits ALI once, without labels, on 4,000 digits of the
5,000-digit MNIST subset (:func:`~sklearn_ali.datasets.load_mnist_5k`), then
scores its features with the ALI paper's protocol
(:func:`~sklearn_ali.evaluation.semi_supervised_score`) against raw pixels.
It needs the ``datasets`` and ``plot`` extras
(``pip install "sklearn-ali[datasets,plot]"``).
"""

# sphinx_gallery_thumbnail_number = 2

# %%
# The data
# --------
# ``load_mnist_5k`` is sorted by class, so it is shuffled before the split.
# Images keep their shape ``(n, 1, 28, 28)``: ALITransformer then builds its
# convolutional networks.

# sphinx_gallery_start_ignore
import os

# sphinx_gallery_end_ignore
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from sklearn_ali import ALITransformer
from sklearn_ali.datasets import load_mnist_5k
from sklearn_ali.evaluation import semi_supervised_score
from sklearn_ali.plotting import plot_samples, plot_training_curves

n_train, n_test = 4000, 1000
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):  # tests/test_examples.py
    n_train, n_test = 500, 200
# sphinx_gallery_end_ignore
mnist = load_mnist_5k()
order = np.random.RandomState(0).permutation(len(mnist.target))
X_train, X_test, y_train, y_test = train_test_split(
    mnist.images[order],
    mnist.target[order],
    train_size=n_train,
    test_size=n_test,
    stratify=mnist.target[order],
    random_state=0,
)
print(f"{len(X_train)} training digits, {len(X_test)} test digits, {X_train.shape[1:]}")

# %%
# Training ALI without labels
# ---------------------------
# ALITransformer keeps all its defaults; ``verbose=2`` prints each epoch's
# losses as it ends. ``fit`` sees no labels. Its training parameters default
# to ``"auto"``: ``training_params_`` shows what they became for the
# convolutional network that images get.
ali = ALITransformer(random_state=0, verbose=2)
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):
    ali.set_params(n_components=16, conv_width=8, max_epochs=1)
# sphinx_gallery_end_ignore
start = time.perf_counter()
ali.fit(X_train)
ali_time = time.perf_counter() - start
print(f"fitted on {len(X_train)} unlabelled digits in {ali_time:.1f} s")
print(ali.training_params_)

# %%
# The training curves show the game: the discriminator's loss (log 4 = 1.39
# when it cannot tell the encoder's pairs (x, E(x)) from the decoder's
# (G(z), z)), the generators' loss, the cycle term, and the discriminator's
# accuracy on each kind of pair.
plot_training_curves(ali)

# %%
# Samples: the decoder's draws G(z) with z ~ N(0, I), kept or rejected by the
# discriminator (``ALITransformer.sample``):
plot_samples(ali, 64, random_state=0)

# %%
# A semi-supervised classifier
# ----------------------------
# The fitted ALI, frozen so that the pipeline's ``fit`` does not retrain it,
# feeds a linear SVM trained on 100 labelled digits. Thousands of features
# and a hundred labels call for standardised features and a small C.
n_labeled = 100
clf = Pipeline(
    [
        ("ali", FrozenEstimator(ali)),
        ("scale", StandardScaler()),
        ("svm", LinearSVC(C=0.001)),
    ]
)
clf.fit(X_train[:n_labeled], y_train[:n_labeled])
print(f"test accuracy with {n_labeled} labels: {clf.score(X_test, y_test):.3f}")

# %%
# The paper's protocol
# --------------------
# :func:`~sklearn_ali.evaluation.semi_supervised_score` computes the features
# once, standardises them, chooses the SVM's C on a validation split and
# trains :class:`~sklearn.svm.LinearSVC` on several random class-balanced
# labelled draws, scoring each on the held-out test digits. ``transform``
# returns the encoder's hidden layers by default (``features="hidden"``);
# ``features="mean"`` gives the latent mean alone. Both are compared with raw
# pixels. The C grid stops at 0.003: larger values were never chosen on
# these features and make each SVM fit on the 2,752 hidden features slow.
label_counts, n_repeats = (100, 1000), 5
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):
    label_counts, n_repeats = (20, 100), 2
# sphinx_gallery_end_ignore
feature_sets = {"ALI hidden": "hidden", "ALI mean": "mean", "raw pixels": None}
errors = {}
for name, features in feature_sets.items():
    # A fitted transformer is used as it is: ``features`` only affects
    # ``transform``, so one fit gives both ALI feature sets.
    transformer = (
        "passthrough" if features is None else ali.set_params(features=features)
    )
    for n_labeled in label_counts:
        errors[name, n_labeled] = semi_supervised_score(
            transformer,
            X_train,
            y_train,
            X_test=X_test,
            y_test=y_test,
            n_labeled=n_labeled,
            n_repeats=n_repeats,
            C_grid=(0.0003, 0.001, 0.003),
            random_state=0,
        )
ali.set_params(features="hidden")

print(f"test error (%) over {n_repeats} labelled draws")
print(f"{'features':<12}{'dim':>6}" + "".join(f"{n:>16}" for n in label_counts))
for name in feature_sets:
    cells = [errors[name, n] for n in label_counts]
    row = "".join(
        f"{100 * r.mean_error:>9.2f} +- {100 * r.std_error:<4.2f}" for r in cells
    )
    print(f"{name:<12}{cells[0].n_features:>6}{row}")

# %%
# The figures over more draws and seeds, beside PCA and BernoulliRBM
# features, are in :doc:`/benchmarks`.
plt.show()
