"""Semi-supervised MNIST: ALI features and a linear SVM

The main use of sklearn-ali: ``ALITransformer`` learns features from
*unlabelled* images, and a linear SVM trained on a handful of labels
classifies them. The script fits ALI once on 4,000 unlabelled digits of the
5,000-digit MNIST subset (``load_mnist_5k``, shuffled, images shaped
(n, 1, 28, 28)), then follows the ALI paper's protocol
(``semi_supervised_score``: the SVM's C is chosen on a validation split, then
``LinearSVC`` is trained on random class-balanced labelled draws and scored on
1,000 held-out test digits) with 100 and 1,000 labels and 5 draws each. It
prints a table of test error (mean +- std over the draws) for ALI's hidden
encoder layers (``transform``'s default, the paper's SVHN features), ALI's
latent mean and raw pixels.
It also shows the literal ``Pipeline([("ali", ALITransformer()), ("svm",
LinearSVC())])``, fitted on 300 labelled digits only (so ALI sees only those),
and the same pipeline reusing the ALI trained on all unlabelled digits
(``FrozenEstimator``) with an SVM trained on 100 labels.

ALITransformer keeps all its defaults (``--max-epochs`` overrides the number
of epochs). With the default of 20 epochs at the time of writing, the
unsupervised fit took 94 s on two otherwise idle CPU cores and the whole
script 2 min 39 s (``docs/benchmarks.md``); ``--max-epochs 10`` halves the
fit. The SVM's C
grid is limited to C <= 0.003 (``--c-grid``; ``semi_supervised_score``
searches up to C = 10 by default): the validation splits picked C <= 0.01 for
every feature set here, and with larger C each liblinear fit on the 2,752
hidden features takes several seconds, dozens of them per label count.

Usage::

    python examples/semi_supervised_mnist.py [--quick] [--max-epochs 10]
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from sklearn_ali import ALITransformer  # noqa: E402
from sklearn_ali.datasets import load_mnist_5k  # noqa: E402
from sklearn_ali.evaluation import semi_supervised_score  # noqa: E402
from sklearn_ali.plotting import plot_training_curves  # noqa: E402


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
        "--c-grid",
        type=float,
        nargs="+",
        default=[0.0003, 0.001, 0.003],
        help="candidate values of the SVM's C",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)

    if args.quick:
        n_train, n_test, label_counts, n_repeats = 500, 200, (20, 100), 2
        n_pipeline = 100
        ali_params = dict(n_components=16, conv_width=8, max_epochs=1)
    else:
        n_train, n_test, label_counts, n_repeats = 4000, 1000, (100, 1000), 5
        n_pipeline = 300
        ali_params = {}  # ALITransformer's defaults
    if args.max_epochs is not None:
        ali_params["max_epochs"] = args.max_epochs

    # load_mnist_5k is sorted by class: shuffle before splitting.
    mnist = load_mnist_5k()
    order = np.random.RandomState(args.seed).permutation(len(mnist.target))
    images, target = mnist.images[order], mnist.target[order]
    X_train, X_test, y_train, y_test = train_test_split(
        images,
        target,
        train_size=n_train,
        test_size=n_test,
        stratify=target,
        random_state=args.seed,
    )
    print(
        f"MNIST-5k: {len(X_train)} unlabelled training digits, {len(X_test)} "
        f"test digits, images {X_train.shape[1:]}"
    )

    # 1. The literal pipeline: ALI and the SVM both see only labelled digits.
    pipe = Pipeline(
        [
            ("ali", ALITransformer(random_state=args.seed, **ali_params)),
            ("svm", LinearSVC()),
        ]
    )
    start = time.perf_counter()
    pipe.fit(X_train[:n_pipeline], y_train[:n_pipeline])
    pipe_time = time.perf_counter() - start
    print(
        f"\nPipeline(ALITransformer -> LinearSVC) fitted on {n_pipeline} labelled "
        f"digits in {pipe_time:.1f} s: test accuracy "
        f"{pipe.score(X_test, y_test):.3f}"
    )

    # 2. One ALI fit on all unlabelled training digits, reused below;
    # verbose=2 prints each epoch's losses as it ends.
    print(f"\nTraining ALI on {len(X_train)} unlabelled digits:")
    ali = ALITransformer(random_state=args.seed, verbose=2, **ali_params)
    start = time.perf_counter()
    ali.fit(X_train)
    ali_time = time.perf_counter() - start
    last = ali.history_[-1]
    print(
        f"ALITransformer(max_epochs={ali.max_epochs}, reconstruction_weight="
        f"{ali.reconstruction_weight}, ...) fitted on {len(X_train)} unlabelled "
        f"digits in {ali_time:.1f} s "
        f"(last epoch: d_loss {last['d_loss']:.3f}, g_loss {last['g_loss']:.3f}, "
        f"recon_loss {last['recon_loss']:.3f})"
    )

    # The semi-supervised classifier: the fitted ALI, frozen, then an SVM
    # trained on the smallest labelled set.
    n_few = label_counts[0]
    frozen = Pipeline([("ali", FrozenEstimator(ali)), ("svm", LinearSVC())])
    frozen.fit(X_train[:n_few], y_train[:n_few])
    print(
        f"Pipeline(FrozenEstimator(ALI fitted without labels) -> LinearSVC) on "
        f"{n_few} labelled digits: test accuracy {frozen.score(X_test, y_test):.3f}"
    )

    # 3. The paper's protocol. ``features`` only affects transform, so the
    # same fitted model gives both the hidden layers (the default) and the
    # latent mean.
    default_features = ali.features
    rows = []
    for name in ("ALI hidden", "ALI mean", "raw pixels"):
        if name == "raw pixels":
            transformer, fit_time = "passthrough", 0.0
        else:
            features = "mean" if name == "ALI mean" else "hidden"
            transformer, fit_time = ali.set_params(features=features), ali_time
        for n_labeled in label_counts:
            start = time.perf_counter()
            result = semi_supervised_score(
                transformer,
                X_train,
                y_train,
                X_test=X_test,
                y_test=y_test,
                n_labeled=n_labeled,
                n_repeats=n_repeats,
                C_grid=args.c_grid,
                random_state=args.seed,
            )
            eval_time = time.perf_counter() - start
            rows.append((name, result, fit_time, eval_time))
    ali.set_params(features=default_features)

    print(
        f"\nTest error over {n_repeats} labelled draws "
        "(features standardised, C chosen on a validation split)"
    )
    header = (
        f"{'features':<12}{'dim':>6}{'labels':>8}{'test error (%)':>18}"
        f"{'best C':>8}{'ALI fit':>9}{'SVMs':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, r, fit_time, eval_time in rows:
        error = f"{100 * r.mean_error:.2f} +- {100 * r.std_error:.2f}"
        print(
            f"{name:<12}{r.n_features:>6}{r.n_labeled:>8}{error:>18}"
            f"{r.best_C:>8g}{fit_time:>8.1f}s{eval_time:>7.1f}s"
        )

    fig = plot_training_curves(ali)
    path = args.output_dir / "semi_supervised_mnist_training.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"\nSaved {path}")


if __name__ == "__main__":
    main()
