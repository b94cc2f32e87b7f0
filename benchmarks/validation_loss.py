"""Does ``valid_loss`` move with feature quality? MNIST-5k, epoch by epoch.

``ALITransformer(validation_fraction=0.1)`` holds out 10 % of the training
pool and records, after every epoch, ``valid_loss``: the mean absolute
reconstruction error |x - G_x(mu(x))| of the held-out rows on scaled pixels.
This script checks whether that number tracks what the features are for.

Data and split are ``semi_supervised.py``'s (MNIST-5k: 4,000 training pool,
1,000 test). After every epoch a callback probes the current encoder mean
mu(x): LinearSVC (C fixed at 0.01, features standardised) trained on a
class-balanced draw of 1,000 labelled pool rows, error on the 1,000 test rows.
The probe runs in eval mode without gradients and inside
``torch.random.fork_rng``, so it does not change the training it watches.

Two models, same seed and same held-out rows: the default
(``reconstruction_weight=10``) and the paper's pure ALI
(``reconstruction_weight=0``), whose mean features are known to be worse.
For each, a table per epoch and the Spearman rank correlation across epochs
between ``valid_loss`` and the probe error (and, for contrast, between the
adversarial losses and the probe error); then the last epochs side by side,
the comparison across models.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/validation_loss.py
    python benchmarks/validation_loss.py --quick     # smoke run, seconds
"""

import argparse
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from semi_supervised import load, machine_line, split  # same data, shuffle and split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from skorch.callbacks import Callback

from sklearn_ali import ALITransformer

PROBE_C = 0.01
CONFIGS = {
    "default": {},
    "reconstruction_weight=0": {"reconstruction_weight": 0.0},
}


def balanced_rows(y, n_labeled, seed):
    rng = np.random.RandomState(seed)
    classes = np.unique(y)
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(y == k), n_labeled // len(classes), replace=False)
            for k in classes
        ]
    )


def probe_error(F_train, y_train, F_test, y_test):
    """Test error (%) of a fixed-C LinearSVC on standardised features."""
    scaler = StandardScaler().fit(F_train)
    svm = LinearSVC(C=PROBE_C, dual=False).fit(scaler.transform(F_train), y_train)
    return 100 * (1 - svm.score(scaler.transform(F_test), y_test))


def make_probe(ali, X_train, y_train, X_test, y_test):
    """A function of the skorch net: the probe error of the current encoder mean.

    A closure rather than callback state: ALITransformer deep-copies its
    callbacks at fit, but not the functions they hold, so the closure still
    sees ``ali`` and scales the raw images exactly as ``fit`` does (with the
    statistics ``fit`` learned before its first epoch).
    """
    scaled = {}

    def mean_features(net, X):
        if id(X) not in scaled:
            scaled[id(X)] = ali.network_input(X)
        x = scaled[id(X)]
        device = next(net.module_.parameters()).device
        return torch.cat(
            [net.module_.encoder.mean(b.to(device)).float().cpu() for b in x.split(500)]
        ).numpy()

    def probe(net):
        was_training = net.module_.training
        net.module_.eval()
        try:
            with torch.random.fork_rng(), torch.no_grad():
                F_train = mean_features(net, X_train)
                F_test = mean_features(net, X_test)
        finally:
            net.module_.train(was_training)
        return probe_error(F_train, y_train, F_test, y_test)

    return probe


class ProbeEachEpoch(Callback):
    """Records ``probe_error`` in the history after each epoch and prints a row."""

    def __init__(self, probe):
        self.probe = probe

    def on_epoch_end(self, net, **kwargs):
        net.history.record("probe_error", self.probe(net))
        row = net.history[-1]
        print(
            f"{row['epoch']:>6}{row['valid_loss']:>12.4f}{row['probe_error']:>10.2f}"
            f"{row['d_loss']:>9.3f}{row['g_loss']:>9.3f}{row['recon_loss']:>8.4f}"
            f"{row['dur']:>7.1f}",
            flush=True,
        )


def rank_correlation(history, key):
    rho, p = spearmanr(history[:, key], history[:, "probe_error"])
    return f"{rho:+.2f} (p={p:.2g})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-epochs", type=int, help="ALI's max_epochs (default: the estimator's)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    print(machine_line())
    start = time.perf_counter()

    X, y = load("mnist")
    n_labeled = 1000
    if args.quick:
        X, y = X[:600], y[:600]
        n_labeled, args.max_epochs = 100, 3
    X_pool, X_test, y_pool, y_test = split(X, y, args.seed)
    rows = balanced_rows(y_pool, n_labeled, args.seed)
    X_lab, y_lab = X_pool[rows], y_pool[rows]
    raw = probe_error(
        X_lab.reshape(len(X_lab), -1), y_lab, X_test.reshape(len(X_test), -1), y_test
    )
    print(
        f"# MNIST-5k: {len(X_pool)} training pool (10 % held out for valid_loss), "
        f"{len(X_test)} test; probe: LinearSVC C={PROBE_C} on {n_labeled} "
        f"labelled pool rows, standardised; raw pixels: {raw:.2f} % error"
    )

    final = {}
    for name, params in CONFIGS.items():
        ali = ALITransformer(validation_fraction=0.1, random_state=args.seed, **params)
        if args.max_epochs:
            ali.set_params(max_epochs=args.max_epochs)
        probe = make_probe(ali, X_lab, y_lab, X_test, y_test)
        ali.set_params(callbacks=[("probe", ProbeEachEpoch(probe))])
        shown = {"validation_fraction": 0.1, "random_state": args.seed, **params}
        shown = ", ".join(f"{k}={v}" for k, v in shown.items())
        print(f"\n## {name}: ALITransformer({shown}), max_epochs={ali.max_epochs}")
        print(
            f"{'epoch':>6}{'valid_loss':>12}{'probe %':>10}{'d_loss':>9}"
            f"{'g_loss':>9}{'recon':>8}{'dur s':>7}"
        )
        ali.fit(X_pool)
        history = ali.history_
        print(
            f"Spearman rho with probe error across epochs: "
            f"valid_loss {rank_correlation(history, 'valid_loss')}, "
            f"d_loss {rank_correlation(history, 'd_loss')}, "
            f"g_loss {rank_correlation(history, 'g_loss')}"
        )
        print(f"training s (sum of dur): {sum(history[:, 'dur']):.1f}")
        final[name] = history[-1]

    print("\n## last epoch, across models")
    print(f"{'model':<26}{'valid_loss':>12}{'probe %':>10}")
    for name, row in final.items():
        print(f"{name:<26}{row['valid_loss']:>12.4f}{row['probe_error']:>10.2f}")
    print(f"\n# wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
