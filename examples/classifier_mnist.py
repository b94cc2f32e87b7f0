"""Semi-supervised MNIST: ALIClassifier next to the feature pipeline

Two ways to use a few labels among many unlabelled digits, on the
5,000-digit MNIST subset (``load_mnist_5k``: 4,000 training digits, of which
100 class-balanced ones keep their label, and 1,000 test digits):

- ``ALIClassifier``, the ALI paper's semi-supervised model: labels in the
  discriminator, trained once on all training digits with ``y == -1`` for
  the unlabelled ones; it predicts by itself;
- the feature pipeline: ``ALITransformer`` fitted on the training digits
  without labels, frozen (``FrozenEstimator``), then ``StandardScaler`` and
  ``LinearSVC`` fitted on the labelled digits only.

Both keep their defaults. The script prints each one's test accuracy and fit
time and saves their confusion matrices side by side. Which one to pick, and
the figures over several labelled draws, are in the user guide and
``docs/benchmarks.md`` (``benchmarks/classifier.py``).

Usage::

    python examples/classifier_mnist.py [--quick] [--n-labeled 1000]
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from sklearn_ali import ALIClassifier, ALITransformer  # noqa: E402
from sklearn_ali.datasets import load_mnist_5k  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny settings, runs in seconds"
    )
    parser.add_argument("--n-labeled", type=int, default=None, help="default 100")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the PNG (default: examples/output/)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)

    if args.quick:
        n_train, n_test, n_labeled = 500, 200, 50
        params = dict(n_components=8, conv_width=8, max_epochs=1)
    else:
        n_train, n_test, n_labeled = 4000, 1000, 100
        params = {}  # the estimators' defaults
    n_labeled = args.n_labeled or n_labeled

    # load_mnist_5k is sorted by class: shuffle before splitting.
    mnist = load_mnist_5k()
    order = np.random.RandomState(args.seed).permutation(len(mnist.target))
    X_train, X_test, y_train, y_test = train_test_split(
        mnist.images[order],
        mnist.target[order],
        train_size=n_train,
        test_size=n_test,
        stratify=mnist.target[order],
        random_state=args.seed,
    )
    # Keep n_labeled class-balanced labels; -1 marks the unlabelled digits.
    labeled, _ = train_test_split(
        np.arange(n_train),
        train_size=n_labeled,
        stratify=y_train,
        random_state=args.seed,
    )
    y_semi = np.full(n_train, -1)
    y_semi[labeled] = y_train[labeled]
    print(
        f"MNIST-5k: {n_train} training digits ({n_labeled} labelled), "
        f"{n_test} test digits"
    )

    # 1. Labels in the discriminator: one fit on every training digit.
    clf = ALIClassifier(random_state=args.seed, **params)
    start = time.perf_counter()
    clf.fit(X_train, y_semi)
    clf_time = time.perf_counter() - start

    # 2. Features learned without labels, then a linear SVM on the labelled
    # digits alone.
    ali = ALITransformer(random_state=args.seed, **params)
    start = time.perf_counter()
    ali.fit(X_train)
    # A fixed, small C: thousands of standardised features and a hundred
    # labels call for strong regularisation (benchmarks/classifier.py picks C
    # by cross-validation instead).
    pipe = make_pipeline(FrozenEstimator(ali), StandardScaler(), LinearSVC(C=0.01))
    pipe.fit(X_train[labeled], y_train[labeled])
    pipe_time = time.perf_counter() - start

    models = {
        "ALIClassifier": (clf, clf_time),
        "ALITransformer + LinearSVC": (pipe, pipe_time),
    }
    print(f"\n{'model':<28}{'test accuracy':>14}{'fit':>9}")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, (name, (model, fit_time)) in zip(axes, models.items()):
        accuracy = model.score(X_test, y_test)
        print(f"{name:<28}{accuracy:>14.3f}{fit_time:>8.1f}s")
        ConfusionMatrixDisplay.from_estimator(
            model, X_test, y_test, ax=ax, colorbar=False
        )
        ax.set_title(f"{name}\naccuracy {accuracy:.3f}, {n_labeled} labels")
    fig.tight_layout()
    path = args.output_dir / "classifier_mnist.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"\nSaved {path}")


if __name__ == "__main__":
    main()
