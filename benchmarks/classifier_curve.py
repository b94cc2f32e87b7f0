"""ALIClassifier's test error epoch by epoch, for choosing its settings.

One class-balanced labelled draw (``RandomState(--draw)``) of 100 and/or
1,000 labels from the MNIST-5k training pool (the split of
``semi_supervised.py``; the rest of the pool unlabelled), one
``ALIClassifier(random_state=--draw)`` fit per label count with the
settings of ``--set``, and the test error on the 1,000 test digits every
``--every`` epochs (read through the public ``score`` from a skorch
callback; scoring draws no random numbers, so the fit is the same as
without it). One draw is a noisy reading (about 1.5 points at 100 labels
between draws): ``benchmarks/classifier.py`` gives the mean over draws.

Usage::

    python benchmarks/classifier_curve.py --set learning_rate=2e-3 max_epochs=40
    python benchmarks/classifier_curve.py --labels 100 --every 1
    python benchmarks/classifier_curve.py --quick     # smoke run, seconds
"""

import argparse
import time

import numpy as np
from classifier import balanced_draw, masked
from semi_supervised import add_set_option, load, machine_line, split
from skorch.callbacks import Callback

from sklearn_ali import ALIClassifier


class TestError(Callback):
    """Print the test error of the model being fitted every ``every`` epochs."""

    # The estimator, test data and start time: class attributes, because
    # the estimator deep-copies its callbacks at fit.
    watched = None

    def __init__(self, every=5):
        self.every = every

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every and epoch != net.epochs_planned_:
            return
        model, X_test, y_test, start = TestError.watched
        error = 100 * (1 - model.score(X_test, y_test))
        net.history.record("test_error", error)
        elapsed = time.perf_counter() - start
        print(f"  epoch {epoch:>3}: test error {error:5.2f} %  ({elapsed:.0f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--draw", type=int, default=0)
    parser.add_argument("--every", type=int, default=5, help="epochs between scores")
    add_set_option(parser)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    print(machine_line())
    X, y = load("mnist")
    params = dict(args.params)
    if args.quick:
        X, y = X[:600], y[:600]
        args.labels = [50]
        params.update(max_epochs=2, conv_width=8, n_components=8)
        args.every = 1
    X_pool, X_test, y_pool, y_test = split(X, y, 0)
    settings = ", ".join(f"{k}={v!r}" for k, v in params.items())
    for n_labeled in args.labels:
        labeled = balanced_draw(y_pool, n_labeled, np.random.RandomState(args.draw))
        model = ALIClassifier(
            random_state=args.draw, callbacks=[TestError(args.every)], **params
        )
        print(f"\nALIClassifier({settings}), {n_labeled} labels, draw {args.draw}")
        TestError.watched = (model, X_test, y_test, time.perf_counter())
        model.fit(X_pool, masked(y_pool, labeled))
        error = 100 * (1 - model.score(X_test, y_test))
        print(f"final: {n_labeled} labels, test error {error:.2f} %")


if __name__ == "__main__":
    main()
