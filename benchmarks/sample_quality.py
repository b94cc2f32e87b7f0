"""Samples and reconstructions of MNIST-5k through a classifier trained on real digits.

A default ``ALITransformer`` is fitted without labels on the MNIST-5k
training pool (4,000 digits; the split of ``benchmarks/semi_supervised.py``).
An ``MLPClassifier`` trained on the same pool's real digits and labels then
reads, through ``sklearn_ali.evaluation.classifier_sample_score``:

* 1,000 of the decoder's prior draws ``ali.sample(1000, codes="prior",
  discriminator_rejection=False)`` (the figures recorded before the
  rejection became ``sample``'s default; ``rejection_sampling.py`` reads
  ``sample`` as a user calls it): their mean confidence against the
  confidence on the 1,000 real test digits (target: within 20 %), and how
  evenly the ten classes are represented (class fractions, normalised
  entropy);
* the reconstructions ``inverse_transform(encode(X_test))`` of the test
  digits: how often they keep the true class (target: >= 90 %).

Usage::

    python benchmarks/sample_quality.py
    python benchmarks/sample_quality.py --max-epochs 40
    python benchmarks/sample_quality.py --quick     # smoke run, seconds
"""

import argparse
import time

import numpy as np
from semi_supervised import add_set_option, load, machine_line, split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_ali import ALITransformer
from sklearn_ali.evaluation import classifier_sample_score


def to_unit_rows(X):
    """Images in 0-255 units to flat rows in [0, 1]."""
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1) / 255.0


def real_digit_judge(X_pool, y_pool, quick, seed):
    """An MLPClassifier(256) on real digits as [0, 1] rows, the judge of samples."""
    return make_pipeline(
        FunctionTransformer(to_unit_rows),
        MLPClassifier(
            hidden_layer_sizes=(256,), max_iter=30 if quick else 200, random_state=seed
        ),
    ).fit(X_pool, y_pool)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    add_set_option(parser)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    print(machine_line())
    X, y = load("mnist")
    if args.quick:
        X, y = X[:600], y[:600]
        args.n_samples = 100
    X_pool, X_test, y_pool, y_test = split(X, y, args.seed)

    classifier = real_digit_judge(X_pool, y_pool, args.quick, args.seed)
    print(
        f"classifier: MLPClassifier(256) on {len(X_pool)} real digits, test "
        f"accuracy {classifier.score(X_test, y_test):.3f}"
    )

    ali = ALITransformer(random_state=args.seed, **dict(args.params))
    if args.max_epochs is not None:
        ali.set_params(max_epochs=args.max_epochs)
    if args.quick:
        ali.set_params(max_epochs=1, conv_width=8, n_components=16)
    start = time.perf_counter()
    ali.fit(X_pool)
    fit_time = time.perf_counter() - start

    samples = ali.sample(
        args.n_samples,
        random_state=args.seed,
        codes="prior",
        discriminator_rejection=False,
    )
    score = classifier_sample_score(classifier, samples, X_real=X_test)
    reconstructions = ali.inverse_transform(ali.encode(X_test))
    kept = classifier_sample_score(
        classifier, reconstructions, X_source=X_test, y_source=y_test
    ).class_kept
    fractions = " ".join(f"{100 * f:.1f}" for f in score.class_fractions)
    # The training parameters as the fit resolved them, then the others set.
    shown = {**ali.training_params_, **dict(args.params)}
    settings = ", ".join(f"{k}={v!r}" for k, v in shown.items())
    print(f"ALITransformer({settings}) fit {fit_time:.1f} s")
    print(
        f"confidence: samples {score.confidence:.3f}, real test digits "
        f"{score.real_confidence:.3f}, ratio {score.confidence_ratio:.3f} "
        "(target >= 0.8)"
    )
    print(
        f"class balance {score.class_balance:.3f} (1 = even); % per class "
        f"0-9: {fractions}"
    )
    print(f"reconstructions keep the true class: {100 * kept:.1f} % (target >= 90)")


if __name__ == "__main__":
    main()
