"""Samples by the three ways ``sample`` draws codes, on several seeds.

For each seed, ``ALITransformer`` (the defaults, or ``--set``) is fitted
without labels on MNIST-5k's training pool (the split of
``benchmarks/semi_supervised.py``), and ``--n-samples`` samples are drawn
three ways:

* ``sample()``, as a user calls it: codes from the Gaussian mixture that
  ``fit`` fitted to the training codes (``codes="mixture"``);
* ``prior + DRS``: prior draws kept or rejected by the discriminator
  (``codes="prior"``, discriminator rejection sampling with the default
  ``loss``), what ``sample`` did before the mixture;
* ``G(z)``: the decoder's draws of the prior as they come
  (``codes="prior", discriminator_rejection=False``), what every earlier
  samples figure measured.

Each gives:

* ``ratio``: the share of samples on which ``game_levers.py``'s judge (an RBF
  SVC trained on the pool's real digits) is confident (top probability
  >= 0.8), divided by the same share on real test digits (target >= 0.8);
* ``rarest``: the rarest class among the samples by the judge's reading
  (target >= 5 %);
* ``nn dist``: the mean Euclidean distance (pixels in [0, 1]) from a sample
  to its nearest training digit, beside the same for real test digits: a
  sampler that copied training digits would fall below the test digits'
  distance;
* ``s``: the seconds ``sample`` took.

Also printed: the share of prior draws the rejection keeps in expectation,
the mean of min(1, exp(logit - M)) over the first round's logits.

Usage::

    python benchmarks/rejection_sampling.py                 # seeds 0-9, defaults
    python benchmarks/rejection_sampling.py --seeds 3 --first-seed 5
    python benchmarks/rejection_sampling.py --quick         # smoke run
"""

import argparse
import time

import numpy as np
from game_levers import CONFIDENT, rbf_judge, unit_rows
from semi_supervised import add_set_option, load, machine_line, split
from sklearn.metrics import pairwise_distances_argmin_min

from sklearn_ali import ALITransformer
from sklearn_ali._inference import REJECTION_DRAWS, REJECTION_QUANTILE

KEPT_SHARE_DRAWS = REJECTION_DRAWS[1]  # one full round

# (column width, sample's options) of the three ways, as the header names them.
WAYS = (
    (15, {}),
    (18, {"codes": "prior"}),
    (11, {"codes": "prior", "discriminator_rejection": False}),
)


def reading(judge, samples, real, pool):
    """(ratio to real, rarest class %, mean distance to the nearest pool row)."""
    rows = unit_rows(samples)
    proba = judge.predict_proba(rows)
    shares = np.bincount(proba.argmax(1), minlength=10) / len(proba)
    distance = pairwise_distances_argmin_min(rows, pool)[1].mean()
    return (proba.max(1) >= CONFIDENT).mean() / real, 100 * shares.min(), distance


def kept_share(ali, seed):
    """Expected share of prior draws that the rejection keeps, from D's logits
    on one full round of draws, read as ``sample`` reads them."""
    rng = np.random.default_rng(seed)
    logits = ali._decoded_logits(
        rng.standard_normal((KEPT_SHARE_DRAWS, ali.n_components_))
    )
    bound = np.quantile(logits, REJECTION_QUANTILE)
    return np.minimum(np.exp(logits - bound), 1).mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--n-samples", type=int, default=2000)
    add_set_option(parser)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    print(machine_line())
    X, y = load("mnist")
    params = dict(args.params)
    if args.quick:
        X, y, args.n_samples, args.seeds = X[:600], y[:600], 100, 1
        params = {"n_components": 8, "conv_width": 8, "max_epochs": 1, **params}
    print(
        f"# ALITransformer({', '.join(f'{k}={v!r}' for k, v in params.items())}), "
        f"{args.n_samples} samples each way; judge: RBF SVC, confident at "
        f"p >= {CONFIDENT}"
    )
    print(
        f"{'seed':>4}{'fit s':>7}{'real %':>8}{'test nn':>9}{'kept':>6}"
        f" | {'sample(): ratio':>15}{'rarest':>8}{'nn dist':>8}{'s':>6}"
        f" | {'prior + DRS: ratio':>18}{'rarest':>8}{'nn dist':>8}{'s':>6}"
        f" | {'G(z): ratio':>11}{'rarest':>8}{'nn dist':>8}{'s':>6}"
    )
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        X_pool, X_test, y_pool, _ = split(X, y, seed)
        judge, _ = rbf_judge(seed)
        pool = unit_rows(X_pool)
        judge.fit(pool, y_pool)
        real = (judge.predict_proba(unit_rows(X_test)).max(1) >= CONFIDENT).mean()
        test_distance = pairwise_distances_argmin_min(unit_rows(X_test), pool)[1]
        ali = ALITransformer(random_state=seed, **params)
        start = time.perf_counter()
        ali.fit(X_pool)
        fit_time = time.perf_counter() - start
        cells = []
        for width, options in WAYS:
            start = time.perf_counter()
            samples = ali.sample(args.n_samples, random_state=seed, **options)
            seconds = time.perf_counter() - start
            ratio, rarest, distance = reading(judge, samples, real, pool)
            cells.append(
                f"{ratio:>{width}.2f}{rarest:>8.1f}{distance:>8.2f}{seconds:>6.1f}"
            )
        print(
            f"{seed:>4}{fit_time:>7.0f}{100 * real:>8.1f}{test_distance.mean():>9.2f}"
            f"{kept_share(ali, seed):>6.2f} | {' | '.join(cells)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
