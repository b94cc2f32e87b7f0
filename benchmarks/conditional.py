"""Conditional ALI on MNIST-5k: does the condition come back out?

A default ``ConditionalALI`` is fitted on the MNIST-5k training pool (4,000
digits; the split of ``benchmarks/semi_supervised.py``) conditioned on the
digit. An ``MLPClassifier`` trained on the same pool's real digits (the
judge of ``benchmarks/sample_quality.py``) then reads the class back from:

* samples: ``sample(n, y=c)`` for each digit c, ``--n-per-class`` each: how
  often the judge reads c (target: >= 90 %); and the same for the decoder's
  draws, ``discriminator_rejection=False`` (what figures before the
  rejection became ``sample``'s default measured);
* cycles: ``decode(encode(x, y), y)`` of the 1,000 test digits: how often
  it reads y (target: >= 90 %);
* swaps: ``decode(encode(x, y), y')`` with y' = (y + 1) mod 10: how often it
  reads y', the condition rather than the code.

Each is printed beside the judge's accuracy on the real test digits, the
ceiling of what it can read.

Usage::

    python benchmarks/conditional.py
    python benchmarks/conditional.py --set learning_rate=1e-3 max_epochs=40
    python benchmarks/conditional.py --quick     # smoke run, seconds
"""

import argparse
import time

import numpy as np
from sample_quality import real_digit_judge
from semi_supervised import add_set_option, load, machine_line, split

from sklearn_ali import ConditionalALI

TARGET = 0.9


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    add_set_option(parser)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    print(machine_line())
    X, y = load("mnist")
    if args.quick:
        X, y = X[:600], y[:600]
        args.n_per_class = 10
    X_pool, X_test, y_pool, y_test = split(X, y, args.seed)

    judge = real_digit_judge(X_pool, y_pool, args.quick, args.seed)
    real = judge.score(X_test, y_test)
    print(
        f"judge: MLPClassifier(256) on {len(X_pool)} real digits, test "
        f"accuracy {100 * real:.1f} %"
    )

    model = ConditionalALI(random_state=args.seed, **dict(args.params))
    if args.quick:
        model.set_params(max_epochs=1, conv_width=8, n_components=16)
    start = time.perf_counter()
    model.fit(X_pool, y_pool)
    fit_time = time.perf_counter() - start
    shown = {"max_epochs": model.max_epochs, **dict(args.params)}
    settings = ", ".join(f"{k}={v!r}" for k, v in shown.items())
    print(f"ConditionalALI({settings}) fit {fit_time:.1f} s")

    conditions = np.repeat(np.arange(10), args.n_per_class)
    samples = model.sample(len(conditions), y=conditions, random_state=args.seed)
    draws = model.sample(
        len(conditions),
        y=conditions,
        random_state=args.seed,
        discriminator_rejection=False,
    )
    codes = model.encode(X_test, y_test)
    swapped = (y_test + 1) % 10
    rows = {
        "samples": (samples, conditions),
        "decoder's draws": (draws, conditions),
        "cycles": (model.decode(codes, y_test), y_test),
        "swaps (y + 1)": (model.decode(codes, swapped), swapped),
    }
    print(f"\n{'read back':<16}{'rows':>6}{'condition read %':>18}{'target %':>10}")
    for name, (data, condition) in rows.items():
        read = np.mean(judge.predict(data) == condition)
        target = (
            ""
            if name in ("swaps (y + 1)", "decoder's draws")
            else f"{100 * TARGET:.0f}"
        )
        print(f"{name:<16}{len(data):>6}{100 * read:>18.1f}{target:>10}".rstrip())
    print(f"{'real test':<16}{len(X_test):>6}{100 * real:>18.1f}")


if __name__ == "__main__":
    main()
