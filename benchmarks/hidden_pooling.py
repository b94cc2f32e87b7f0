"""Which encoder layers, pooled how, make the best "hidden" features?

``features="hidden"`` (the default) concatenates the encoder's last three
hidden layers, conv maps max-pooled to at most 4x4, with the latent mean mu.
This script fits the default ``ALITransformer`` once on the training pool of
``semi_supervised.py`` (same data, shuffle and split), then scores other
readings of the same fitted networks with ``semi_supervised_score`` (100 and
1,000 labels): other pooling grids and kinds, fewer levels, and the
discriminator's x branch (the features DCGAN used), alone or beside the
encoder's.

A variant maps each encoder level (0 = first of the last three) to a list of
readings: ``"max<k>"`` / ``"avg<k>"`` (adaptive pooling to a k x k grid, also
when the map is smaller) or ``"full"`` (the whole map); ``"mu"`` adds the
latent mean, ``"dx"`` the discriminator x branch's conv maps (each max-pooled
to 4x4 where larger).

Usage::

    python benchmarks/hidden_pooling.py --dataset mnist --repeats 5 \\
        --c-grid 0.0003 0.001 0.003 0.01
    python benchmarks/hidden_pooling.py --dataset digits --repeats 10
    python benchmarks/hidden_pooling.py --quick
"""

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from semi_supervised import add_c_grid_option, load, machine_line, split

from sklearn_ali import ALITransformer
from sklearn_ali.evaluation import semi_supervised_score

VARIANTS = {
    "default": {0: ["max4"], 1: ["max4"], 2: ["full"], "mu": True},
    "max 4x4 everywhere": {0: ["max4"], 1: ["max4"], 2: ["max4"], "mu": True},
    "avg 4x4": {0: ["avg4"], 1: ["avg4"], 2: ["avg4"], "mu": True},
    "max 3x3": {0: ["max3"], 1: ["max3"], 2: ["max3"], "mu": True},
    "max 2x2": {0: ["max2"], 1: ["max2"], 2: ["max2"], "mu": True},
    "max+avg 2x2": {
        0: ["max2", "avg2"],
        1: ["max2", "avg2"],
        2: ["max2", "avg2"],
        "mu": True,
    },
    "max 1x1": {0: ["max1"], 1: ["max1"], 2: ["max1"], "mu": True},
    "max 2x2, last level whole": {0: ["max2"], 1: ["max2"], 2: ["full"], "mu": True},
    "discriminator x branch": {"dx": True},
    "encoder 4x4 + discriminator": {
        0: ["max4"],
        1: ["max4"],
        2: ["max4"],
        "mu": True,
        "dx": True,
    },
}


def read(ali, x, variant):
    """Features of a batch of scaled, network-shaped images ``x``."""
    encoder = ali.net_.encoder_
    _, hidden = encoder.hidden_activations(x)
    parts = []
    for level, h in enumerate(hidden[-3:]):
        for reading in variant.get(level, []):
            if reading == "full":
                parts.append(h.flatten(1))
                continue
            pool = (
                F.adaptive_max_pool2d if reading[:3] == "max" else F.adaptive_avg_pool2d
            )
            parts.append(pool(h, int(reading[3:])).flatten(1))
    if variant.get("mu"):
        parts.append(encoder.mean(x))
    if variant.get("dx"):
        h = x
        for block in list(ali.net_.discriminator_.x_branch)[:-1]:  # last: Flatten
            h = block(h)
            parts.append(F.adaptive_max_pool2d(h, min(4, h.shape[-1])).flatten(1))
    return torch.cat(parts, 1)


def features(ali, X, variant):
    x = ali.network_input(X)
    ali.net_.module_.eval()
    with torch.inference_mode():
        parts = [read(ali, batch, variant) for batch in x.split(512)]
    return torch.cat(parts).double().numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["mnist", "digits"], default="mnist")
    parser.add_argument("--repeats", type=int, default=10, help="labelled draws")
    parser.add_argument("--seed", type=int, default=0)
    add_c_grid_option(parser)
    parser.add_argument("--variants", nargs="*", choices=list(VARIANTS))
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()

    X, y = load(args.dataset)
    ali = ALITransformer(random_state=args.seed)
    label_counts = (100, 1000)
    names = args.variants or list(VARIANTS)
    if args.quick:
        X, y = X[:600], y[:600]
        ali.set_params(max_epochs=1)
        label_counts, args.repeats, names = (100,), 2, names[:2]
    X_pool, X_test, y_pool, y_test = split(X, y, args.seed)
    print(machine_line())
    start = time.perf_counter()
    ali.fit(X_pool)
    print(
        f"# {args.dataset}: default ALITransformer fitted on {len(X_pool)} images "
        f"in {time.perf_counter() - start:.1f} s; {len(X_test)} test images"
    )
    print(
        f"{'variant':<30}{'dim':>6}"
        + "".join(f"{f'error %, {n} labels':>22}" for n in label_counts)
    )
    for name in names:
        pool, test = (features(ali, data, VARIANTS[name]) for data in (X_pool, X_test))
        cells = ""
        for n_labeled in label_counts:
            result = semi_supervised_score(
                "passthrough",
                pool.astype(np.float64),
                y_pool,
                X_test=test.astype(np.float64),
                y_test=y_test,
                n_labeled=n_labeled,
                n_repeats=args.repeats,
                C_grid=args.c_grid,
                random_state=args.seed,
            )
            error = f"{100 * result.mean_error:.2f} ± {100 * result.std_error:.2f}"
            cells += f"{error:>22}"
        print(f"{name:<30}{pool.shape[1]:>6}{cells}", flush=True)


if __name__ == "__main__":
    main()
