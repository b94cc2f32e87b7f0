"""Conditional ALI on digits: the class from y, the style from z

``ConditionalALI`` is fitted on scikit-learn's 8x8 digits conditioned on the
digit, then shows the two figures of the ALI paper's conditional experiment
(section 4.4, Figure 7):

- a grid with one row per digit and one column per latent draw z: along a
  column z is fixed and only the condition changes, so the style (slant,
  stroke width) should stay while the digit changes;
- a swap: test digits encoded with their own label, z = encode(x, y), then
  decoded as other digits, decode(z, y').

It prints how often a logistic regression trained on real digits reads the
condition back from the samples, the cycles decode(encode(x, y), y) and the
swaps, against its accuracy on real test digits.

With the defaults and 200 epochs (the data are small: 14 batches an epoch)
the fit took 44-47 s on one thread, while another job ran on the second core
(2026-11-23), and the classifier read the condition back from 93.5 % of the
samples, 96.9 % of the cycles and 96.2 % of the swaps (95.8 % of the real
test digits).

Usage::

    python examples/conditional_digits.py [--quick] [--max-epochs 300]
"""

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from sklearn_ali import ConditionalALI  # noqa: E402
from sklearn_ali.plotting import plot_condition_swap, plot_conditional_grid  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny settings, runs in seconds"
    )
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "output",
        help="folder for the PNGs (default: examples/output/)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)

    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.images[:, None],  # (n, 1, 8, 8)
        digits.target,
        test_size=0.25,
        stratify=digits.target,
        random_state=args.seed,
    )
    params = dict(max_epochs=args.max_epochs)
    if args.quick:
        params = dict(max_epochs=1, conv_width=8, n_components=8)
    # Small data: many epochs are still few steps (14 batches an epoch).
    model = ConditionalALI(random_state=args.seed, **params)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    print(
        f"ConditionalALI fitted on {len(X_train)} digits in "
        f"{time.perf_counter() - start:.1f} s ({model.max_epochs} epochs)"
    )

    judge = LogisticRegression(max_iter=2000).fit(
        X_train.reshape(len(X_train), -1), y_train
    )

    def read(images):
        return judge.predict(images.reshape(len(images), -1))

    conditions = np.repeat(np.arange(10), 20)
    samples = model.sample(len(conditions), y=conditions, random_state=args.seed)
    codes = model.encode(X_test, y_test)
    swapped = (y_test + 1) % 10
    print("a classifier of real digits reads back the condition from")
    for name, images, truth in (
        ("samples", samples, conditions),
        ("cycles", model.decode(codes, y_test), y_test),
        ("swaps (y + 1)", model.decode(codes, swapped), swapped),
        ("real test digits", X_test, y_test),
    ):
        print(f"  {name:<18}{100 * np.mean(read(images) == truth):6.1f} %")

    fig = plot_conditional_grid(model, range(10), n_columns=8, random_state=args.seed)
    path = args.output_dir / "conditional_grid.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"Saved {path}")

    fig = plot_condition_swap(model, X_test, y_test, [0, 3, 5, 8], n_images=10)
    path = args.output_dir / "conditional_swap.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"Saved {path}")


if __name__ == "__main__":
    main()
