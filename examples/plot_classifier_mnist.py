"""
Semi-supervised MNIST: ALIClassifier next to the feature pipeline
=================================================================

Two ways to use a few labels among many unlabelled digits of the MNIST
subset (:func:`~sklearn_ali.datasets.load_mnist_5k`): 4,000 training digits,
of which 100 class-balanced ones keep their label, and 1,000 test digits.

- :class:`~sklearn_ali.ALIClassifier`, the ALI paper's semi-supervised model,
  puts the labels in the discriminator. It is trained once on all training
  digits, with ``y == -1`` for the unlabelled ones, and predicts by itself.
- The feature pipeline fits :class:`~sklearn_ali.ALITransformer` on the
  training digits without labels, freezes it, and trains
  :class:`~sklearn.preprocessing.StandardScaler` and
  :class:`~sklearn.svm.LinearSVC` on the labelled digits only.

Both keep their defaults. Which one to pick, and the figures over several
labelled draws, are in the user guide and :doc:`/benchmarks`. The example
needs the ``datasets`` and ``plot`` extras.
"""

# %%
# Few labels, many digits
# -----------------------
# scikit-learn's convention for semi-supervised data: -1 marks the rows
# without a label.

# sphinx_gallery_start_ignore
import os

# sphinx_gallery_end_ignore
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from sklearn_ali import ALIClassifier, ALITransformer
from sklearn_ali.datasets import load_mnist_5k

n_train, n_test, n_labeled = 4000, 1000, 100
params = {}  # the estimators' defaults
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):  # tests/test_examples.py
    n_train, n_test, n_labeled = 500, 200, 50
    params = dict(n_components=8, conv_width=8, max_epochs=1)
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
labeled, _ = train_test_split(
    np.arange(n_train), train_size=n_labeled, stratify=y_train, random_state=0
)
y_semi = np.full(n_train, -1)
y_semi[labeled] = y_train[labeled]
print(f"{n_train} training digits ({n_labeled} labelled), {n_test} test digits")

# %%
# Labels in the discriminator
# ---------------------------
# One fit on every training digit, labelled or not.
clf = ALIClassifier(random_state=0, **params)
start = time.perf_counter()
clf.fit(X_train, y_semi)
clf_time = time.perf_counter() - start

# %%
# Features learned without labels
# -------------------------------
# A fixed, small C: thousands of standardised features and a hundred labels
# call for strong regularisation (``benchmarks/classifier.py`` picks C by
# cross-validation instead).
start = time.perf_counter()
ali = ALITransformer(random_state=0, **params).fit(X_train)
pipe = make_pipeline(FrozenEstimator(ali), StandardScaler(), LinearSVC(C=0.01))
pipe.fit(X_train[labeled], y_train[labeled])
pipe_time = time.perf_counter() - start

# %%
# Comparison
# ----------
# Test accuracy, fit time and the confusion matrices on the test digits.
models = {
    "ALIClassifier": (clf, clf_time),
    "ALITransformer + LinearSVC": (pipe, pipe_time),
}
print(f"{'model':<28}{'test accuracy':>14}{'fit':>9}")
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
for ax, (name, (model, fit_time)) in zip(axes, models.items()):
    accuracy = model.score(X_test, y_test)
    print(f"{name:<28}{accuracy:>14.3f}{fit_time:>8.1f}s")
    ConfusionMatrixDisplay.from_estimator(model, X_test, y_test, ax=ax, colorbar=False)
    ax.set_title(f"{name}\naccuracy {accuracy:.3f}, {n_labeled} labels")

plt.show()
