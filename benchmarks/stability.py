"""Ablation of ALITransformer's stabilisers: what each default buys.

Each variant switches off (or changes) one choice of the default estimator and
is fitted on several seeds. For each fit the script reports whether training
stayed finite, whether the discriminator won outright (accuracy >= 0.99 on
both joints at the last epoch), the last epoch's discriminator loss and
accuracies, the semi-supervised test error of LinearSVC on the default
features (``features="hidden"``; ``--features mean`` for the latent mean)
through ``semi_supervised_score`` with 100 and 1,000 labels, next to raw
pixels, and a collapse check: a logistic regression trained on the real
training pool reads 1,000 of the decoder's prior draws G(z) (``sample``
with ``codes="prior", discriminator_rejection=False``), and the script prints how evenly
they spread over the ten classes (``classifier_sample_score``'s normalised
entropy, 1 = even) and the rarest class's share. A summary per variant
closes the output: fits that stayed finite, discriminator wins, and the
error's mean, standard deviation and range across seeds.

Variants:

- ``default``: the estimator's defaults; the data are images, so the
  ``"auto"`` training parameters are the conv network's (rate 2e-3 decayed
  linearly, 40 epochs, no spectral norm, the cycle term at weight 20), with
  dropout 0.2 in D and the non-saturating loss;
- ``spectral norm`` (the MLP's default); ``no dropout``; ``no cycle term``
  (the paper's pure ALI); ``D lr / 4`` (slower discriminator);
  ``deterministic`` (BiGAN's encoder); ``cycle weight 1``; learning rates
  1e-4 and 5e-4;
- ``sampling recipe``: the same settings as ``default``, named explicitly
  (they were measured under this name before they became the defaults).

"latent mmd" is the MMD² of the test rows' latent means against as many
prior draws (0 when E(x) is distributed as the prior).

Usage::

    python benchmarks/stability.py --dataset digits --seeds 3
    python benchmarks/stability.py --dataset mnist --seeds 1 --max-epochs 10
    python benchmarks/stability.py --dataset mnist --seeds 10 --variants default
    python benchmarks/stability.py --quick
"""

import argparse
import platform
import time

import numpy as np
import torch
from game_diagnostics import codes_vs_prior
from semi_supervised import (  # same data, same shuffle
    SAMPLING_RECIPE,
    add_c_grid_option,
    load,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_ali import ALITransformer, TrainingDivergedError
from sklearn_ali._transformer import AUTO_TRAINING_PARAMS
from sklearn_ali.evaluation import classifier_sample_score, semi_supervised_score

VARIANTS = {
    "default": {},
    "spectral norm": {"spectral_norm": True},
    "no dropout": {"dropout": 0.0},
    "no cycle term": {"reconstruction_weight": 0.0},
    # Both datasets are images here: a quarter of the conv network's rate.
    "D lr / 4": {
        "discriminator_learning_rate": 0.25
        * AUTO_TRAINING_PARAMS["conv"]["learning_rate"]
    },
    "deterministic": {"encoder": "deterministic"},
    "cycle weight 1": {"reconstruction_weight": 1.0},
    "lr 1e-4": {"learning_rate": 1e-4},
    "lr 5e-4": {"learning_rate": 5e-4},
    "sampling recipe": SAMPLING_RECIPE,
}


def score(transformer, X_pool, y_pool, X_test, y_test, label_counts, args):
    return [
        semi_supervised_score(
            transformer,
            X_pool,
            y_pool,
            X_test=X_test,
            y_test=y_test,
            n_labeled=n,
            n_repeats=args.repeats,
            C_grid=args.c_grid,
            random_state=0,
        ).mean_error
        for n in label_counts
    ]


def sample_reader(X_pool, y_pool):
    """A classifier of real images, for reading the decoder's samples."""
    flatten = FunctionTransformer(lambda X: X.reshape(len(X), -1))
    reader = make_pipeline(flatten, StandardScaler(), LogisticRegression(C=0.05))
    return reader.fit(X_pool, y_pool)


def summarise(name, rows, label_counts):
    errors = np.array([r["errors"] for r in rows]) * 100
    cells = "".join(
        f"{n} labels {e.mean():.2f} ± {e.std():.2f} ({e.min():.2f}-{e.max():.2f}); "
        for n, e in zip(label_counts, errors.T)
    )
    print(
        f"{name}: finite {sum(r['finite'] for r in rows)}/{len(rows)}, "
        f"D wins {sum(r['wins'] for r in rows)}/{len(rows)}, error % {cells}"
        f"sample class balance {min(r['balance'] for r in rows):.3f} at worst, "
        f"rarest class {100 * min(r['rarest'] for r in rows):.1f} % at worst"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5, help="labelled draws")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--features", choices=["hidden", "mean"], default="hidden")
    add_c_grid_option(parser)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()

    X, y = load(args.dataset)
    if args.quick:
        X, y = X[:400], y[:400]
        args.seeds, args.max_epochs, args.repeats = 1, 1, 2
        args.variants = args.variants[:2]
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    label_counts = (100,) if args.quick else (100, 1000)
    print(
        f"# machine: {platform.machine()}, torch threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}; {args.dataset}: pool {len(X_pool)}, "
        f"test {len(X_test)}"
    )
    raw = score(
        "passthrough",
        X_pool.reshape(len(X_pool), -1),
        y_pool,
        X_test.reshape(len(X_test), -1),
        y_test,
        label_counts,
        args,
    )
    print(
        "raw pixels: "
        + ", ".join(f"{n} labels {100 * e:.2f} %" for n, e in zip(label_counts, raw))
    )
    reader = sample_reader(X_pool, y_pool)
    head = "".join(f"{f'err% {n}':>11}" for n in label_counts)
    print(
        f"{'variant':<18}{'seed':>5}{'finite':>7}{'D wins':>7}{'d_loss':>8}"
        f"{'acc q':>7}{'acc p':>7}{'mmd':>7}{head}{'balance':>8}{'rarest':>7}"
        f"{'fit s':>8}"
    )
    summaries = {}
    for name in args.variants:
        for seed in range(args.seeds):
            params = dict(VARIANTS[name], features=args.features, random_state=seed)
            if args.max_epochs:
                params["max_epochs"] = args.max_epochs
            ali = ALITransformer(**params)
            start = time.perf_counter()
            finite = True
            try:
                ali.fit(X_pool)
            except TrainingDivergedError:
                finite = False
            fit_s = time.perf_counter() - start
            last = ali.history_[-1]
            wins = last["d_real_acc"] >= 0.99 and last["d_fake_acc"] >= 0.99
            errors = score(ali, X_pool, y_pool, X_test, y_test, label_counts, args)
            samples = classifier_sample_score(
                # The decoder's draws: how stably the decoder trains.
                reader,
                ali.sample(
                    1000,
                    random_state=seed,
                    codes="prior",
                    discriminator_rejection=False,
                ),
            )
            rarest = samples.class_fractions.min()
            mmd = codes_vs_prior(ali, X_test, seed)
            cells = "".join(f"{100 * e:>11.2f}" for e in errors)
            print(
                f"{name:<18}{seed:>5}{'yes' if finite else 'NO':>7}"
                f"{'yes' if wins else 'no':>7}{last['d_loss']:>8.3f}"
                f"{last['d_real_acc']:>7.3f}{last['d_fake_acc']:>7.3f}{mmd:>7.3f}{cells}"
                f"{samples.class_balance:>8.3f}{100 * rarest:>6.1f}%{fit_s:>8.1f}",
                flush=True,
            )
            summaries.setdefault(name, []).append(
                dict(
                    finite=finite,
                    wins=wins,
                    errors=errors,
                    balance=samples.class_balance,
                    rarest=rarest,
                )
            )
    print()
    for name, rows in summaries.items():
        summarise(name, rows, label_counts)


if __name__ == "__main__":
    main()
