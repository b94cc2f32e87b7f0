"""Feature quality during training: one ALITransformer fit, scored every k epochs.

A skorch callback scores the encoder's "mean" and "hidden" features of all
MNIST-5k images every ``--every`` epochs: LinearSVC (C fixed at 0.01, features
standardised) trained on class-balanced draws of 100 and 1,000 labels from
4,000 training images, test error on the other 1,000 (mean of 3 draws). A
quicker, fixed-C variant of ``semi_supervised.py``, made for choosing defaults
(epochs, cycle weight) from one run per setting. Each row also shows the
discriminator's loss and its accuracies on encoder ("acc q") and decoder
("acc p") pairs, and the L1 reconstruction error.

Usage::

    python benchmarks/learning_curve.py --max-epochs 15 --every 5 \\
        --reconstruction-weight 10
    python benchmarks/learning_curve.py --quick
"""

import argparse
import platform
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from skorch.callbacks import Callback

from sklearn_ali import ALITransformer
from sklearn_ali.datasets import load_mnist_5k

N_TEST = 1000


def error(features, y, n_labeled, draws=3, C=0.01):
    train, test = slice(N_TEST, None), slice(0, N_TEST)
    scaler = StandardScaler().fit(features[train])
    F_train, F_test = (
        scaler.transform(features[train]),
        scaler.transform(features[test]),
    )
    y_train, y_test = y[train], y[test]
    errors = []
    for seed in range(draws):
        rng = np.random.RandomState(seed)
        rows = np.concatenate(
            [
                rng.choice(np.flatnonzero(y_train == k), n_labeled // 10, replace=False)
                for k in range(10)
            ]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            svm = LinearSVC(C=C, dual=True, max_iter=2000).fit(
                F_train[rows], y_train[rows]
            )
        errors.append(1 - svm.score(F_test, y_test))
    return 100 * float(np.mean(errors))


class ScoreFeatures(Callback):
    """Scores the encoder's features every ``every`` epochs."""

    def __init__(self, every, x, y, label_counts):
        self.every, self.x, self.y, self.label_counts = every, x, y, label_counts

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every:
            return
        encoder = net.encoder_
        encoder.eval()
        # The probe data live on the CPU; the encoder trains where the net does.
        device = next(encoder.parameters()).device
        batches = [b.to(device) for b in self.x.split(500)]
        with torch.inference_mode():
            mean = torch.cat([encoder(b)[0] for b in batches]).float().cpu().numpy()
            hidden = torch.cat([encoder.hidden_features(b) for b in batches])
            hidden = hidden.float().cpu()
        encoder.train()
        row = net.history[-1]
        cells = "".join(
            f"{error(f, self.y, n):>12.2f}"
            for f in (mean, hidden.numpy())
            for n in self.label_counts
        )
        print(
            f"{epoch:>6}{sum(net.history[:, 'dur']):>8.0f}{row['d_loss']:>8.3f}"
            f"{row['d_real_acc']:>7.3f}{row['d_fake_acc']:>7.3f}"
            f"{row['recon_loss']:>7.3f}{cells}",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--reconstruction-weight", type=float, default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()

    X, y, label_counts = load_shuffled(args.quick)
    if args.quick:
        args.max_epochs, args.every = 1, 1
    params = {"max_epochs": args.max_epochs, "random_state": args.seed}
    if args.reconstruction_weight is not None:
        params["reconstruction_weight"] = args.reconstruction_weight
    if args.learning_rate is not None:
        params["learning_rate"] = args.learning_rate
    probe_fit(
        ALITransformer(**params),
        X,
        y,
        args.every,
        label_counts,
        f"ALITransformer({params})",
    )


def load_shuffled(quick):
    """MNIST-5k images (n, 1, 28, 28) and labels, shuffled, and the label counts."""
    X, y = load_mnist_5k(return_X_y=True)
    order = np.random.RandomState(0).permutation(len(X))
    X, y = X[order].reshape(-1, 1, 28, 28), y[order]
    if quick:
        return X[:1200], y[:1200], (100,)
    return X, y, (100, 1000)


def probe_fit(ali, X, y, every, label_counts, description):
    """Fit ``ali`` on X, printing the probe's table every ``every`` epochs."""
    # The networks see pixels scaled to [0, 1], as ALITransformer scales them.
    x = torch.tensor(X / 255.0, dtype=torch.float32)
    scorer = ScoreFeatures(every, x, y, label_counts)
    print(
        f"# machine: {platform.machine()}, torch threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}; {description}"
    )
    heads = "".join(
        f"{f'{f} {n}':>12}" for f in ("mean", "hidden") for n in label_counts
    )
    print(
        f"{'epoch':>6}{'fit s':>8}{'d_loss':>8}{'acc q':>7}{'acc p':>7}{'L1':>7}{heads}"
    )
    ali.set_params(callbacks=[scorer]).fit(X)


if __name__ == "__main__":
    main()
