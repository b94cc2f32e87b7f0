"""Grid search over ALITransformer hyperparameters, locally and on dask

``ALITransformer`` is an ordinary scikit-learn estimator, so it can be tuned
inside a Pipeline with ``GridSearchCV``. This script searches
``ali__n_components`` and ``ali__features`` (the latent mean alone, or the
encoder's hidden layers too) for the pipeline ALITransformer ->
StandardScaler -> LinearSVC on the 8x8 ``load_digits`` images, shaped
(n, 1, 8, 8) so that the convolutional architecture is used, with 3-fold
cross-validation and ``n_jobs=2`` (joblib's process-based loky backend).

It then runs the same search under ``joblib.parallel_config(backend="dask")``
on a ``dask.distributed.LocalCluster`` of two single-threaded worker
processes, which is how the search would be spread over a real cluster (only
the Client's address changes). With a fixed ``random_state`` training on the
CPU is deterministic, so both searches report the same scores. That part is
skipped with a message when dask.distributed is not installed
(``pip install "sklearn-ali[dask]"``).

With ALITransformer's default number of epochs each search's 12
cross-validation fits (plus the final refit) would take several minutes on
two CPU cores, so each model is trained for ``--max-epochs 10``. The figure shows the
mean cross-validated accuracy of every grid point.

Usage::

    python examples/grid_search.py [--quick] [--no-dask] [--output-dir DIR]
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import joblib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from sklearn_ali import ALITransformer  # noqa: E402


def make_search(param_grid, ali_params, cv, seed):
    pipe = Pipeline(
        [
            ("ali", ALITransformer(random_state=seed, **ali_params)),
            ("scale", StandardScaler()),
            ("svm", LinearSVC(C=0.01)),
        ]
    )
    return GridSearchCV(pipe, param_grid, cv=cv, n_jobs=2)


def report(name, search, seconds, X_test, y_test):
    print(f"\n{name}: {seconds:.1f} s")
    results = search.cv_results_
    for params, mean, std in zip(
        results["params"], results["mean_test_score"], results["std_test_score"]
    ):
        shown = ", ".join(f"{k.split('__')[1]}={v}" for k, v in params.items())
        print(f"  {shown:<32} CV accuracy {mean:.3f} +- {std:.3f}")
    best = ", ".join(f"{k}={v!r}" for k, v in search.best_params_.items())
    print(
        f"  best: {best} (CV {search.best_score_:.3f}); refitted pipeline's "
        f"test accuracy {search.score(X_test, y_test):.3f}"
    )


def run_on_dask(param_grid, ali_params, cv, seed, X, y, X_test, y_test):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print(
            "\ndask.distributed is not installed: skipping the dask search. "
            'Install it with pip install "sklearn-ali[dask]".'
        )
        return None
    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"\nStarted {client} in {time.perf_counter() - start:.1f} s")
        search = make_search(param_grid, ali_params, cv, seed)
        start = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            search.fit(X, y)
        seconds = time.perf_counter() - start
    report("GridSearchCV under joblib's dask backend", search, seconds, X_test, y_test)
    return search


def plot_scores(search, path):
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
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"\nSaved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny settings, runs in seconds"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the PNG (default: examples/output/)",
    )
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument(
        "--no-dask", action="store_true", help="skip the search on dask"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)

    digits = load_digits()
    X, y = digits.images[:, None], digits.target  # (1797, 1, 8, 8)
    if args.quick:
        X, y = X[:200], y[:200]
        ali_params = dict(conv_width=8, max_epochs=1)
        param_grid = {"ali__n_components": [2, 4], "ali__features": ["mean"]}
        cv = 2
    else:
        ali_params = dict(max_epochs=10)
        param_grid = {
            "ali__n_components": [8, 32],
            "ali__features": ["mean", "hidden"],
        }
        cv = 3
    if args.max_epochs is not None:
        ali_params["max_epochs"] = args.max_epochs
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    n_fits = (
        cv * len(param_grid["ali__n_components"]) * len(param_grid["ali__features"])
    )
    print(
        f"load_digits: {len(X_train)} training images {X_train.shape[1:]}, "
        f"{len(X_test)} test images; {n_fits} fits of {cv}-fold CV, "
        f"ALITransformer({', '.join(f'{k}={v}' for k, v in ali_params.items())})"
    )

    search = make_search(param_grid, ali_params, cv, args.seed)
    start = time.perf_counter()
    search.fit(X_train, y_train)
    report(
        "GridSearchCV(n_jobs=2), loky backend",
        search,
        time.perf_counter() - start,
        X_test,
        y_test,
    )
    plot_scores(search, args.output_dir / "grid_search.png")

    if not args.no_dask:
        dask_search = run_on_dask(
            param_grid, ali_params, cv, args.seed, X_train, y_train, X_test, y_test
        )
        if dask_search is not None:
            same = np.allclose(
                search.cv_results_["mean_test_score"],
                dask_search.cv_results_["mean_test_score"],
            )
            print(f"\nSame CV scores with both backends: {same}")


if __name__ == "__main__":
    main()
