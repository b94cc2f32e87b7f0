"""Semi-supervised classification: ALIClassifier against other learners.

For MNIST-5k (4,000 training pool, 1,000 test, the split of
``semi_supervised.py``) or scikit-learn's digits, draw 100 and 1,000
class-balanced labelled rows from the training pool (the rest of the pool is
unlabelled, ``y == -1``), fit each learner and report its test error, mean ±
std over ``--draws`` labelled draws, and its fit time in seconds (mean over the
draws). Every learner sees the same draws.

Learners:

- ``ALIClassifier``: defaults, ``random_state=draw``, fitted on the whole
  pool with -1 for unlabelled rows.
- ``ALI features + LinearSVC``: the default ``ALITransformer``, fitted once per
  run on the pool without labels (shared by every draw and label count);
  features standardised with the pool's statistics; LinearSVC's C picked by
  3-fold stratified cross-validation on the labelled draw alone, over C in
  {0.001, 0.01, 0.1, 1, 10, 100} (a test-free choice: the protocol of
  ``semi_supervised.py`` picks C on a labelled validation split, which this
  benchmark does not have). The grid reaches C = 100 because a
  10-column embedding such as UMAP's needs a weak penalty: capped at 0.1
  it gave UMAP 16.5 % error with 100 labels instead of 11.9 %. Its fit
  time is the transformer's fit plus the mean time of the SVM's grid
  search.
- ``PCA (50) + LinearSVC``, ``BernoulliRBM (256) + LinearSVC`` and
  ``UMAP (10) + LinearSVC``: the peers of ``semi_supervised.py`` (UMAP
  where umap-learn, the ``benchmarks`` extra, is installed), fitted once per
  run without labels on the pool's pixels scaled to [0, 1], then the same
  standardisation and cross-validated LinearSVC as the ALI features.
- ``LabelSpreading``: knn kernel (7 neighbours), flattened pixels scaled to
  [0, 1], the whole pool with -1 for unlabelled rows.
- ``SelfTraining SVC``: ``SelfTrainingClassifier(SVC(probability=True,
  gamma="scale"))`` on the same pixels and pool, its probabilities written
  ``CalibratedClassifierCV(SVC(gamma="scale"), ensemble=False)`` (the same
  5-fold Platt scaling; ``probability=True`` is deprecated from
  scikit-learn 1.9).
- ``ALIClassifier labelled only``: the same model (discriminator, encoder and
  decoder) fitted on the labelled rows only, fully labelled ``y``: what the
  unlabelled rows buy. Its ``max_epochs`` is scaled so that it takes as many
  optimizer steps as the semi-supervised fit (with 100 labels and the
  defaults, 800 epochs of one batch against 20 epochs of 40 batches);
  otherwise 100 rows would get 20 steps.

Targets (MNIST-5k): ALIClassifier error <= 4 % with 100 labels and <= 2.5 %
with 1,000 (the feature-quality issue's; the semi-supervised issue asked for
<= 5 % and <= 2.5 %), with a default fit of at most 3 minutes on 2 idle CPU
cores.

Usage::

    python benchmarks/classifier.py                      # MNIST-5k, 3 draws
    python benchmarks/classifier.py --dataset digits --draws 5
    python benchmarks/classifier.py --learners ALIClassifier LinearSVC
    python benchmarks/classifier.py --max-epochs 5       # shorter ALI fits
    python benchmarks/classifier.py --set spectral_norm=False  # ALIClassifier settings
    python benchmarks/classifier.py --quick              # smoke run, seconds
"""

import argparse
import time
import warnings

import numpy as np
from semi_supervised import add_set_option, flat, load, machine_line, peers, split
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier
from sklearn.svm import SVC, LinearSVC

from sklearn_ali import ALIClassifier, ALITransformer

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
CV_FOLDS = 3
LEARNERS = {
    "ALIClassifier": "ALIClassifier",
    "LinearSVC": "ALI features + LinearSVC",
    "PCA": "PCA (50) + LinearSVC",
    "BernoulliRBM": "BernoulliRBM (256) + LinearSVC",
    "UMAP": "UMAP (10) + LinearSVC",
    "LabelSpreading": "LabelSpreading",
    "SelfTraining": "SelfTraining SVC",
    "supervised": "ALIClassifier labelled only",
}
TARGETS = {100: 5.0, 1000: 2.5}
# Learners that are a transformer's features + LinearSVC, and the name of
# the transformer in semi_supervised.peers (None: the ALITransformer).
FEATURE_LEARNERS = {
    "LinearSVC": None,
    "PCA": "PCA (50)",
    "BernoulliRBM": "BernoulliRBM (256)",
    "UMAP": "UMAP (10)",
}


def balanced_draw(y, n_labeled, rng):
    """Indices of ``n_labeled`` rows of y, as many of each class."""
    classes = np.unique(y)
    per_class = n_labeled // len(classes)
    return np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(y == c), size=per_class, replace=False)
                for c in classes
            ]
        )
    )


def masked(y, labeled):
    """y with -1 outside the labelled rows."""
    y_semi = np.full(len(y), -1, dtype=y.dtype)
    y_semi[labeled] = y[labeled]
    return y_semi


def pixels(X, X_max):
    """Flattened pixels in [0, 1]."""
    return flat(X).astype(np.float64) / X_max


def steps_per_epoch(n_rows, batch_size):
    # Training batches drop the last incomplete one.
    return max(1, n_rows // min(batch_size, n_rows))


class Features:
    """A transformer's standardised features of pool and test, fitted once."""

    def __init__(self, X_pool, X_test, transformer):
        self.X_pool, self.X_test, self.transformer = X_pool, X_test, transformer
        self.pool = None

    def get(self):
        if self.pool is None:
            transformer = clone(self.transformer)
            start = time.perf_counter()
            transformer.fit(self.X_pool)
            self.fit_time = time.perf_counter() - start
            pool = transformer.transform(self.X_pool)
            scaler = StandardScaler().fit(pool)
            self.pool = scaler.transform(pool)
            self.test = scaler.transform(transformer.transform(self.X_test))
        return self.pool, self.test, self.fit_time


def fit_and_score(key, data, labeled, draw, max_epochs, params=()):
    """Fit one learner on one labelled draw: (test error %, fit seconds)."""
    X_pool, y_pool, X_test, y_test = (
        data["X_pool"],
        data["y"],
        data["X_test"],
        data["y_test"],
    )
    y_semi = masked(y_pool, labeled)
    extra = 0.0
    if key == "ALIClassifier":
        model = ALIClassifier(random_state=draw, **dict(params))
        if max_epochs is not None:
            model.set_params(max_epochs=max_epochs)
        fit_args, test = (X_pool, y_semi), X_test
    elif key == "supervised":
        model = ALIClassifier(random_state=draw, **dict(params))
        if max_epochs is not None:
            model.set_params(max_epochs=max_epochs)
        # As many optimizer steps as the semi-supervised fit on the pool.
        steps = model.max_epochs * steps_per_epoch(len(X_pool), model.batch_size)
        per_epoch = steps_per_epoch(len(labeled), model.batch_size)
        model.set_params(max_epochs=max(1, steps // per_epoch))
        fit_args, test = (X_pool[labeled], y_pool[labeled]), X_test
    elif key in FEATURE_LEARNERS:
        features, test, extra = data["features", key].get()
        model = GridSearchCV(
            LinearSVC(dual=True, max_iter=10_000, random_state=draw),
            {"C": list(C_GRID)},
            cv=StratifiedKFold(CV_FOLDS, shuffle=True, random_state=draw),
        )
        fit_args = (features[labeled], y_pool[labeled])
    elif key == "LabelSpreading":
        model = LabelSpreading(kernel="knn")
        fit_args, test = (data["pixels_pool"], y_semi), data["pixels_test"]
    else:  # SelfTraining
        # SVC(probability=True) is deprecated from scikit-learn 1.9 in favour
        # of this: Platt scaling fitted by 5-fold cross-validation.
        model = SelfTrainingClassifier(
            CalibratedClassifierCV(
                SVC(gamma="scale", random_state=draw), ensemble=False
            )
        )
        fit_args, test = (data["pixels_pool"], y_semi), data["pixels_test"]
    start = time.perf_counter()
    with warnings.catch_warnings():
        # LinearSVC on few labels with the largest C, LabelSpreading's 30
        # iterations: warnings per fit would bury the table.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*fit_args)
    fit_time = time.perf_counter() - start + extra
    error = 100 * np.mean(model.predict(test) != y_test)
    return error, fit_time


def run(dataset, draws, quick, seed, names=None, max_epochs=None, params=()):
    X, y = load(dataset)
    if quick:
        X, y = X[:600], y[:600]
        max_epochs = 1
    X_pool, X_test, y_pool, y_test = split(X, y, seed)
    X_max = 255.0 if dataset == "mnist" else 16.0
    ali = ALITransformer(random_state=seed)
    if max_epochs is not None:
        ali.set_params(max_epochs=max_epochs)
    data = {
        "X_pool": X_pool,
        "y": y_pool,
        "X_test": X_test,
        "y_test": y_test,
        "pixels_pool": pixels(X_pool, X_max),
        "pixels_test": pixels(X_test, X_max),
        ("features", "LinearSVC"): Features(X_pool, X_test, ali),
    }
    keys = [k for k in LEARNERS if not names or k in names]
    others = (
        peers(quick, seed) if set(keys) & set(FEATURE_LEARNERS) - {"LinearSVC"} else {}
    )
    for key, name in FEATURE_LEARNERS.items():
        if name is None:
            continue
        if name in others:
            data["features", key] = Features(
                data["pixels_pool"], data["pixels_test"], others[name]
            )
        elif key in keys:
            keys.remove(key)  # UMAP where umap-learn is missing
    label_counts = (100,) if quick else (100, 1000)
    # The same labelled draws for every learner.
    labeled = {
        n: [
            balanced_draw(y_pool, n, np.random.RandomState(seed + 1000 * n + draw))
            for draw in range(draws)
        ]
        for n in label_counts
    }
    print(f"\n## {dataset}: {len(X_pool)} training pool, {len(X_test)} test")
    print(f"{'learner':<30}{'labels':>7}{'error % (mean ± std)':>24}{'fit s':>9}")
    results = {}
    for key in keys:
        for n in label_counts:
            scores = [
                fit_and_score(key, data, rows, draw, max_epochs, params)
                for draw, rows in enumerate(labeled[n])
            ]
            errors, times = np.array(scores).T
            results[key, n] = errors.mean()
            print(
                f"{LEARNERS[key]:<30}{n:>7}"
                f"{errors.mean():>17.2f} ± {errors.std():<4.2f}"
                f"{times.mean():>9.1f}",
                flush=True,
            )
    if dataset == "mnist" and "ALIClassifier" in keys:
        here = " / ".join(
            f"{results['ALIClassifier', n]:.2f} %"
            if ("ALIClassifier", n) in results
            else "n/a"
            for n in (100, 1000)
        )
        print(
            "Target: ALIClassifier <= 4 % (100 labels) and <= 2.5 % (1,000) on "
            f"MNIST-5k; here {here}."
        )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["mnist", "digits"], default="mnist")
    parser.add_argument("--draws", type=int, default=3, help="labelled draws")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--learners", nargs="*", choices=list(LEARNERS), help="run only these"
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        help="max_epochs of the ALI models (default: the estimators')",
    )
    add_set_option(parser)  # settings of the ALIClassifier learners
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 600 images, 1 epoch, 1 draw, 100 labels",
    )
    args = parser.parse_args()
    print(machine_line())
    run(
        args.dataset,
        1 if args.quick else args.draws,
        args.quick,
        args.seed,
        args.learners,
        args.max_epochs,
        args.params,
    )


if __name__ == "__main__":
    main()
