"""Where the samples fall short: the judge's confidence on images decoded from
codes of several origins.

Fits ``ALITransformer`` (the defaults, or ``--set``) on MNIST-5k's training
pool, then decodes codes drawn in several ways and counts how often
``game_levers.py``'s judge (an RBF SVC on real digits) reads the images with
confidence, as a ratio to real test digits: prior draws (what ``sample``
decodes without its rejection), the same by quartile of their norm and
shrunk towards 0 (BigGAN's truncation), the encoder's latent means and
posterior draws of the test digits, a Gaussian with the means' mean and
covariance, and midpoints of pairs of means. If codes of real digits decode
to confident digits while prior draws do not, the decoder can draw digits
and the shortfall lies in the parts of the prior that no digit's code
reaches.

Also printed: the size of the encoder's posterior noise (z ~ q(z | x) minus
its mean) and the discriminator's mean logit on prior samples that the judge
reads with and without confidence.

Usage::

    python benchmarks/latent_holes.py                      # the defaults, seed 0
    python benchmarks/latent_holes.py --seed 1 --set max_epochs=120
    python benchmarks/latent_holes.py --quick              # smoke run
"""

import argparse
import time

import numpy as np
from game_levers import CONFIDENT, rbf_judge, unit_rows
from semi_supervised import add_set_option, load, machine_line, split

from sklearn_ali import ALITransformer


def summary(proba, real):
    """(confident %, ratio to real, rarest class %) of the judge's probabilities."""
    confident = (proba.max(1) >= CONFIDENT).mean()
    shares = np.bincount(proba.argmax(1), minlength=10) / len(proba)
    return 100 * confident, confident / real, 100 * shares.min()


def code_sets(ali, X_test, n_samples, rng):
    """``(name, codes)`` pairs, each of float32 codes of shape (m, k)."""
    k = ali.n_components_
    prior = rng.standard_normal((n_samples, k)).astype(np.float32)
    norms = np.linalg.norm(prior, axis=1)
    edges = np.quantile(norms, [0, 0.25, 0.5, 0.75, 1])
    means = ali.encode(X_test).astype(np.float32)
    features = ali.features
    try:
        posterior = ali.set_params(features="sample").transform(X_test)
    finally:
        ali.set_params(features=features)
    moments = rng.multivariate_normal(means.mean(0), np.cov(means.T), n_samples).astype(
        np.float32
    )
    partners = means[rng.permutation(len(means))]
    sets = [("prior draws (G(z), no rejection)", prior)]
    for i, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        inside = (norms >= low) & (norms <= high)
        sets.append(
            (f"  prior, |z| quartile {i + 1} ({low:.1f}-{high:.1f})", prior[inside])
        )
    for shrink in (0.8, 0.5):
        sets.append((f"prior draws x {shrink} (truncation)", shrink * prior))
    sets += [
        ("latent means of test digits", means),
        ("q(z | x) draws of test digits", posterior.astype(np.float32)),
        ("Gaussian with the means' mean and covariance", moments),
        ("midpoints of pairs of test digits' means", (means + partners) / 2),
    ]
    return sets, means, posterior


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-samples", type=int, default=2000)
    add_set_option(parser)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    print(machine_line())
    X, y = load("mnist")
    params = dict(args.params)
    if args.quick:
        X, y, args.n_samples = X[:600], y[:600], 200
        params = {"n_components": 8, "conv_width": 8, "max_epochs": 1, **params}
    X_pool, X_test, y_pool, _ = split(X, y, args.seed)
    judge, platt = rbf_judge(args.seed)
    judge.fit(unit_rows(X_pool), y_pool)
    real = (judge.predict_proba(unit_rows(X_test)).max(1) >= CONFIDENT).mean()
    ali = ALITransformer(random_state=args.seed, **params)
    start = time.perf_counter()
    ali.fit(X_pool)
    fit_time = time.perf_counter() - start
    print(
        f"# ALITransformer({', '.join(f'{k}={v!r}' for k, v in params.items())}) "
        f"on {len(X_pool)} digits, seed {args.seed}, fit {fit_time:.0f} s;"
        f" judge: RBF SVC ({platt}), confident on {100 * real:.1f} % of real test "
        f"digits"
    )
    rng = np.random.default_rng(args.seed)
    sets, means, posterior = code_sets(ali, X_test, args.n_samples, rng)
    print(
        f"{'codes decoded':<48}{'n':>6}{'confident %':>13}{'ratio':>7}{'rarest %':>10}"
    )
    readings = []
    for name, codes in sets:
        readings.append(judge.predict_proba(unit_rows(ali.inverse_transform(codes))))
        confident, ratio, rarest = summary(readings[-1], real)
        print(
            f"{name:<48}{len(codes):>6}{confident:>13.1f}{ratio:>7.2f}{rarest:>10.1f}"
        )
    noise = np.sqrt(np.mean((posterior - means) ** 2))
    print(
        f"posterior noise: RMS of q(z | x) draws minus their mean {noise:.3f} "
        "(the prior's: 1)"
    )
    # The first set is the prior draws, as read for the table.
    logits = ali._decoded_logits(sets[0][1])  # D(G(z), z), as sample reads it
    confident = readings[0].max(1) >= CONFIDENT
    parts = [
        f"{label} {logits[mask].mean():.2f} ({mask.sum()})"
        for label, mask in (("confident", confident), ("not", ~confident))
        if mask.any()
    ]
    print(f"D's mean logit on prior samples the judge reads: {', '.join(parts)}")


if __name__ == "__main__":
    main()
