"""
Grid search over ALI's hyperparameters, locally and on dask
===========================================================

:class:`~sklearn_ali.ALITransformer` is an ordinary scikit-learn estimator, so
it can be tuned inside a :class:`~sklearn.pipeline.Pipeline` with
:class:`~sklearn.model_selection.GridSearchCV`, and the search can be spread
over a dask cluster through joblib.

This example searches the number of latent dimensions and the features that
``transform`` returns (the latent mean alone, or the encoder's hidden layers
too) for the pipeline ALITransformer -> StandardScaler -> LinearSVC on
scikit-learn's 8x8 digits. It needs the ``plot`` extra, and the ``dask``
extra for its last part (``pip install "sklearn-ali[dask,plot]"``); without
dask that part is skipped.
"""

# %%
# The data and the grid
# ---------------------
# The digits keep their image shape ``(n, 1, 8, 8)``, so ALITransformer
# builds its convolutional networks. ALITransformer's default number of
# epochs would make each of the search's fits long, so every model trains for
# 10 epochs: enough to rank the grid points.

# sphinx_gallery_start_ignore
import os

# sphinx_gallery_end_ignore
import time

import joblib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from sklearn_ali import ALITransformer

digits = load_digits()
X, y = digits.images[:, None], digits.target
ali_params = dict(max_epochs=10)
param_grid = {"ali__n_components": [8, 32], "ali__features": ["mean", "hidden"]}
cv = 3
# sphinx_gallery_start_ignore
if os.environ.get("SKLEARN_ALI_EXAMPLES_QUICK"):  # tests/test_examples.py
    X, y = X[:200], y[:200]
    ali_params = dict(conv_width=8, max_epochs=1)
    param_grid = {"ali__n_components": [2, 4], "ali__features": ["mean"]}
    cv = 2
# sphinx_gallery_end_ignore
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(f"{len(X_train)} training digits, {len(X_test)} test digits, {X.shape[1:]}")


# %%
# The search
# ----------
# One function builds the search, so that both runs below search the same
# thing. ``n_jobs=2`` runs two fits at a time in worker processes (joblib's
# default loky backend).
def make_search():
    pipe = Pipeline(
        [
            ("ali", ALITransformer(random_state=0, **ali_params)),
            ("scale", StandardScaler()),
            ("svm", LinearSVC(C=0.01)),
        ]
    )
    return GridSearchCV(pipe, param_grid, cv=cv, n_jobs=2)


def report(search):
    """Print the mean CV accuracy of each grid point and the best one's test score."""
    results = search.cv_results_
    for params, mean, std in zip(
        results["params"], results["mean_test_score"], results["std_test_score"]
    ):
        shown = ", ".join(f"{k.split('__')[1]}={v}" for k, v in params.items())
        print(f"  {shown:<32} CV accuracy {mean:.3f} +- {std:.3f}")
    best = ", ".join(f"{k}={v!r}" for k, v in search.best_params_.items())
    print(f"  best: {best}, test accuracy {search.score(X_test, y_test):.3f}")


search = make_search()
start = time.perf_counter()
search.fit(X_train, y_train)
print(f"GridSearchCV(n_jobs=2) in {time.perf_counter() - start:.1f} s")
report(search)

# %%
# The mean cross-validated accuracy of every grid point:
results = search.cv_results_
n_components = sorted(set(results["param_ali__n_components"]))
features = sorted(set(results["param_ali__features"]))
scores = np.empty((len(features), len(n_components)))
for params, score in zip(results["params"], results["mean_test_score"]):
    i = features.index(params["ali__features"])
    j = n_components.index(params["ali__n_components"])
    scores[i, j] = score
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
image = ax.imshow(scores, cmap="viridis")
for (i, j), score in np.ndenumerate(scores):
    ax.text(j, i, f"{score:.3f}", ha="center", va="center", color="w")
ax.set_xticks(range(len(n_components)), n_components)
ax.set_yticks(range(len(features)), features)
ax.set_xlabel("ali__n_components")
ax.set_ylabel("ali__features")
ax.set_title("mean CV accuracy")
fig.colorbar(image, ax=ax)

# %%
# The same search on dask
# -----------------------
# Under ``joblib.parallel_config(backend="dask")`` the search's fits run on
# the workers of a dask cluster; on a real cluster only the
# :class:`~dask.distributed.Client`'s address changes. Here the cluster is a
# :class:`~dask.distributed.LocalCluster` whose two workers are threads of
# this process (``processes=False``): worker processes would start by
# re-running this script, as Python's "spawn" start method re-imports the
# main module, unless its code sat under ``if __name__ == "__main__":``.
# Fits in threads of one process take turns, since torch has one random
# generator per process, so this cluster shows the API rather than a
# speed-up. With a fixed ``random_state``, training on the CPU is
# reproducible for a given number of torch threads; but joblib's loky
# workers run one thread each here (the cores divided by ``n_jobs``) while
# the dask threads share the process's two, and sums split over other
# threads round differently (bfloat16 products the most), so the two
# searches' scores may differ in the last decimals.
try:
    from dask.distributed import Client, LocalCluster
except ImportError:
    print(
        "dask.distributed is not installed: skipping the search on dask "
        '(pip install "sklearn-ali[dask]").'
    )
else:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        dask_search = make_search()
        start = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            dask_search.fit(X_train, y_train)
        print(f"GridSearchCV on dask in {time.perf_counter() - start:.1f} s")
    report(dask_search)
    gap = np.abs(
        search.cv_results_["mean_test_score"]
        - dask_search.cv_results_["mean_test_score"]
    ).max()
    print(f"largest difference of a CV score between the backends: {gap:.3f}")

# %%
plt.show()
