"""Samples, reconstructions and latent interpolations on MNIST

Fits an ``ALITransformer`` on 4,500 digits of the 5,000-digit MNIST subset
(``load_mnist_5k``, shuffled) and saves four figures made with
``sklearn_ali.plotting``: 64 samples from the decoder G_x(z) with z ~ N(0, I),
held-out digits above their reconstructions G_x(E(x)), decoded straight lines
in latent space between pairs of held-out digits, and the training curves
(losses and the discriminator's accuracies). ALI has no pixel loss of its own
(the default ``reconstruction_weight`` adds an L1 cycle term), so
reconstructions should keep a digit's identity and style rather than copy it
pixel by pixel. To put numbers on that the script prints the mean absolute
reconstruction error and how often a 1-nearest-neighbour classifier on the
training pixels gives a held-out digit and its reconstruction the same label,
and the classes that classifier sees among 1,000 samples (a collapsed decoder
would produce few of them).

ALITransformer keeps its defaults except ``max_epochs``: to stay short the
script trains 12 epochs (``--max-epochs``) instead of the default 20. On two
otherwise idle CPU cores the fit took 66 s and the whole script 1 min 14 s.

Usage::

    python examples/samples_reconstructions.py [--quick] [--output-dir DIR]
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402

from sklearn_ali import ALITransformer  # noqa: E402
from sklearn_ali.datasets import load_mnist_5k  # noqa: E402
from sklearn_ali.plotting import (  # noqa: E402
    plot_interpolations,
    plot_reconstructions,
    plot_samples,
    plot_training_curves,
)


def save(fig, path):
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"Saved {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny settings, runs in seconds"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the PNGs (default: examples/output/)",
    )
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)

    if args.quick:
        n_train, n_test = 400, 100
        ali_params = dict(n_components=16, conv_width=8, max_epochs=1)
    else:
        n_train, n_test = 4500, 500
        ali_params = dict(max_epochs=12)
    if args.max_epochs is not None:
        ali_params["max_epochs"] = args.max_epochs

    # load_mnist_5k is sorted by class: shuffle before splitting.
    mnist = load_mnist_5k()
    order = np.random.RandomState(args.seed).permutation(len(mnist.target))
    images, target = mnist.images[order], mnist.target[order]
    X_train, y_train = images[:n_train], target[:n_train]
    X_test, y_test = images[n_train : n_train + n_test], target[n_train:][:n_test]

    ali = ALITransformer(random_state=args.seed, **ali_params)
    start = time.perf_counter()
    ali.fit(X_train)
    print(
        f"Fitted ALITransformer({', '.join(f'{k}={v}' for k, v in ali_params.items())})"
        f" on {n_train} digits in {time.perf_counter() - start:.1f} s"
    )
    print(
        f"{'epoch':>5}{'d_loss':>9}{'g_loss':>9}{'recon':>8}{'D acc enc':>11}"
        f"{'D acc dec':>11}"
    )
    for row in ali.history_:
        print(
            f"{row['epoch']:>5}{row['d_loss']:>9.3f}{row['g_loss']:>9.3f}"
            f"{row['recon_loss']:>8.3f}{row['d_real_acc']:>11.2f}"
            f"{row['d_fake_acc']:>11.2f}"
        )

    # Numbers behind the pictures, on held-out digits.
    reconstructions = ali.inverse_transform(ali.encode(X_test))
    mae = np.abs(reconstructions - X_test).mean()
    baseline = np.abs(X_train.mean(axis=0) - X_test).mean()
    knn = KNeighborsClassifier(n_neighbors=1).fit(X_train.reshape(n_train, -1), y_train)
    same = knn.predict(reconstructions.reshape(len(X_test), -1)) == y_test
    knn_test = knn.score(X_test.reshape(len(X_test), -1), y_test)
    samples = ali.sample(1000, random_state=args.seed)
    sample_classes = np.bincount(
        knn.predict(samples.reshape(len(samples), -1)), minlength=10
    )
    print(
        f"\nHeld-out digits: mean absolute reconstruction error {mae:.1f} "
        f"(pixels 0-255; the mean training image scores {baseline:.1f})"
    )
    print(
        f"1-NN labels: {knn_test:.1%} of held-out digits and "
        f"{same.mean():.1%} of their reconstructions get their true class"
    )
    print(f"1-NN classes of 1,000 samples (digits 0-9): {sample_classes.tolist()}")

    print()
    out = args.output_dir
    save(plot_samples(ali, 64, random_state=args.seed), out / "mnist_samples.png")
    save(
        plot_reconstructions(ali, X_test, n_images=12),
        out / "mnist_reconstructions.png",
    )
    # Pairs of held-out digits of different classes.
    starts = [np.flatnonzero(y_test == d)[0] for d in (0, 1, 2, 3, 4)]
    ends = [np.flatnonzero(y_test == d)[0] for d in (6, 7, 5, 8, 9)]
    save(
        plot_interpolations(ali, X_test[starts], X_test[ends], n_steps=10),
        out / "mnist_interpolations.png",
    )
    save(plot_training_curves(ali), out / "mnist_training_curves.png")


if __name__ == "__main__":
    main()
