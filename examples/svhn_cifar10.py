"""The ALI paper's semi-supervised protocol on SVHN or CIFAR-10 (GPU)

For users with the data files and a GPU: trains ``ALITransformer`` with the
paper's network for the data set (``architecture="svhn"`` with 256 latent
dimensions, or ``architecture="cifar10"`` with 64) on the training split
without labels, then scores an L2-SVM (``LinearSVC``) on
the encoder's hidden layers and latent mean (``features="hidden"``) with the
protocol of the paper's Table 1 (``semi_supervised_score``): 10,000 training
images held out to choose the SVM's C, 1,000 class-balanced labelled
examples drawn 100 times, test error on the official test split reported as
mean +- std. The paper reports 19.14 +- 0.50 % on SVHN for ALI + L2-SVM.
The fitted model is saved with joblib and figures of samples and
reconstructions are written to the output folder.

Data: ``load_svhn(data_home)`` reads ``train_32x32.mat`` and
``test_32x32.mat``, ``load_cifar10(data_home)`` reads the extracted
``cifar-10-batches-py`` batches; ``--download`` fetches missing files from
the official sites (about 240 MB for SVHN, 170 MB for CIFAR-10).
``device="auto"`` trains on CUDA when available; on two CPU cores a single
SVHN epoch takes hours, so use a GPU. ``--max-epochs`` defaults to
ALITransformer's default (the paper trains 100 epochs on SVHN). The features
of the 73,257 SVHN training images take about 1.6 GB in float32.

With ``--quick`` the script runs the same code on a few hundred random uint8
images of the real shape (3, 32, 32) with one training epoch and a reduced
protocol, on the CPU in seconds: the error it prints is meaningless (random
labels) but it shows the pipeline works without the data.

Usage::

    python examples/svhn_cifar10.py --dataset svhn --data-home ~/data/svhn
    python examples/svhn_cifar10.py --dataset cifar10 --data-home ~/data --download
    python examples/svhn_cifar10.py --quick
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import joblib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sklearn_ali import ALITransformer  # noqa: E402
from sklearn_ali.datasets import load_cifar10, load_svhn  # noqa: E402
from sklearn_ali.evaluation import semi_supervised_score  # noqa: E402
from sklearn_ali.plotting import plot_reconstructions, plot_samples  # noqa: E402


def load_data(args):
    """Return (X_train, y_train, X_test, y_test) as float32 images."""
    if args.quick:
        rng = np.random.RandomState(args.seed)
        n_train, n_test = 200, 100
        X = rng.randint(0, 256, size=(n_train + n_test, 3, 32, 32), dtype=np.uint8)
        y = np.arange(n_train + n_test) % 10
        X_train, X_test = X[:n_train], X[n_train:]
        y_train, y_test = y[:n_train], y[n_train:]
    else:
        loader = load_svhn if args.dataset == "svhn" else load_cifar10
        X_train, y_train = loader(
            args.data_home, "train", download=args.download, return_X_y=True
        )
        X_test, y_test = loader(
            args.data_home, "test", download=args.download, return_X_y=True
        )
    # float32 input gives float32 features: half the memory of float64.
    return X_train.astype(np.float32), y_train, X_test.astype(np.float32), y_test


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="random images of the real shape, tiny settings, runs in seconds",
    )
    parser.add_argument("--dataset", choices=["svhn", "cifar10"], default="svhn")
    parser.add_argument(
        "--data-home",
        type=Path,
        default=None,
        help="folder with the data files (default: the svhn or cifar10 folder "
        "in scikit-learn's data home)",
    )
    parser.add_argument(
        "--download", action="store_true", help="fetch missing data files"
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="training epochs (default: ALITransformer's default)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the PNGs and the model (default: examples/output/)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)

    X_train, y_train, X_test, y_test = load_data(args)
    name = "random images" if args.quick else args.dataset.upper()
    print(
        f"{name}: {len(X_train)} training and {len(X_test)} test images of "
        f"shape {X_train.shape[1:]}"
    )

    ali_params = dict(
        architecture=args.dataset,  # the paper's network for each data set
        n_components=256 if args.dataset == "svhn" else 64,
        features="hidden",
        device="auto",
        random_state=args.seed,
    )
    if args.quick:
        ali_params["max_epochs"] = 1
        protocol = dict(
            n_labeled=100, n_repeats=2, validation_size=0.2, C_grid=(0.001, 0.01)
        )
    else:
        ali_params["verbose"] = 1
        protocol = dict(n_labeled=1000, n_repeats=100, validation_size=10_000)
    if args.max_epochs is not None:
        ali_params["max_epochs"] = args.max_epochs

    # An unfitted transformer: semi_supervised_score fits a clone without
    # labels on the training images and returns it.
    result = semi_supervised_score(
        ALITransformer(**ali_params),
        X_train,
        y_train,
        X_test=X_test,
        y_test=y_test,
        random_state=args.seed,
        **protocol,
    )
    ali = result.transformer
    print(
        f"ALITransformer trained on {ali.device_!r} for "
        f"{len(ali.history_)} epochs in {result.fit_time:.1f} s; features: "
        f"{result.n_features} dimensions ({result.transform_time:.1f} s)"
    )
    print(
        f"L2-SVM with {result.n_labeled} labels, {result.n_repeats} draws, "
        f"C={result.best_C:g}: test error "
        f"{100 * result.mean_error:.2f} +- {100 * result.std_error:.2f} %"
    )

    prefix = "random" if args.quick else args.dataset
    start = time.perf_counter()
    model_path = args.output_dir / f"ali_{prefix}.joblib"
    joblib.dump(ali, model_path)
    print(f"Saved {model_path} in {time.perf_counter() - start:.1f} s")
    for fig, suffix in (
        (plot_samples(ali, 64, random_state=args.seed), "samples"),
        (plot_reconstructions(ali, X_test, n_images=10), "reconstructions"),
    ):
        path = args.output_dir / f"{prefix}_{suffix}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        print(f"Saved {path}")


if __name__ == "__main__":
    main()
