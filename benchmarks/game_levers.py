"""The game's levers on MNIST-5k: who wins, the latent match, samples and features.

For each setting (the defaults, or levers changed), ``ALITransformer`` is
fitted without labels on the MNIST-5k training pool (4,000 digits; the split
of ``benchmarks/semi_supervised.py``), and the script prints one line:

* ``D acc``: the discriminator's diagnostics of the game's adversarial loss,
  averaged over the last three epochs;
* ``latent mmd``: ``latent_mmd`` of the latent means of the 1,000 test
  digits against as many prior draws (0 when E(x) is distributed as the
  prior);
* ``confident``: the share of 1,000 of the decoder's draws G(z) of the
  prior (``sample`` with ``codes="prior", discriminator_rejection=False``:
  the levers act on the decoder;
  ``rejection_sampling.py`` reads ``sample`` as a user calls it) on which an
  RBF SVC trained on
  the pool's real digits is confident (top probability >= 0.8), divided by
  the same share on real test digits (target >= 0.8); ``min class``: the
  rarest class among the samples, by the SVC's reading (target >= 5 %);
* ``rec keep``: the share of test reconstructions ``inverse_transform(encode(x))``
  that the SVC reads as x's class (target >= 90 %);
* features: ``semi_supervised_score`` test error (%) of LinearSVC on the
  "hidden" and "mean" features with 100 and 1,000 labels (3 draws).

Usage::

    python benchmarks/game_levers.py                    # every setting
    python benchmarks/game_levers.py --settings defaults "gradient_penalty=10"
    python benchmarks/game_levers.py --settings classifier --set gradient_penalty=1.0
    python benchmarks/game_levers.py --variant unary    # BigBiGAN's unary scores
    python benchmarks/game_levers.py --settings defaults --anneal dropout=0
    python benchmarks/game_levers.py --quick            # smoke run

``--variant`` takes the tokens of ``benchmarks/feature_variants.py`` (its
game's extra terms and networks) and fits that variant with the conv
network's defaults spelled out (``SAMPLING_RECIPE``): a builder of one's own,
such as the unary scores' networks, would otherwise train with the MLP's.

``--anneal NAME=END`` moves ``dropout`` (the discriminator's) or
``reconstruction_weight`` linearly from the setting's value at the first
epoch to ``END`` at the last: dropout through ``Anneal``, a skorch
callback, the cycle term through the estimators' ``reconstruction_weight_end``.

``--average DECAY ...`` keeps an exponential moving average of all three
networks' weights and batch-norm statistics over the training steps, one
per decay (``AverageWeights``: PyTorch's ``AveragedModel``, updated after
every training batch), and prints a second line for each, read from the fit
with its weights replaced by the average (samples, reconstructions,
features); the fit is the same, so its time and D's accuracies are repeated.
"""

import argparse
import time
import warnings
from functools import partial

import numpy as np
from feature_variants import build_variant
from game_diagnostics import codes_vs_prior
from sample_quality import to_unit_rows
from semi_supervised import (
    CLASSIFIER_SETTINGS,
    SAMPLING_RECIPE,
    VALIDATION_SIZE,
    add_set_option,
    add_settings_option,
    load,
    machine_line,
    split,
)
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC
from skorch.callbacks import Callback
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from sklearn_ali import ALITransformer
from sklearn_ali.evaluation import semi_supervised_score
from sklearn_ali.networks import Dropout
from sklearn_ali.objectives import LOSSES

SETTINGS = {
    "defaults": {},
    "learning_rate=2e-3, spectral_norm=False, max_epochs=40": {
        "learning_rate": 2e-3,
        "spectral_norm": False,
        "max_epochs": 40,
    },
    "gradient_penalty=10, learning_rate=2e-3, spectral_norm=False, max_epochs=40": {
        "gradient_penalty": 10.0,
        "learning_rate": 2e-3,
        "spectral_norm": False,
        "max_epochs": 40,
    },
    "gradient_penalty=10, learning_rate=1e-3, spectral_norm=False": {
        "gradient_penalty": 10.0,
        "learning_rate": 1e-3,
        "spectral_norm": False,
    },
    "classifier": CLASSIFIER_SETTINGS,
    # The same with the cycle term at twice its default weight: better
    # samples, reconstructions and latent match than either on seeds 0-2.
    "sampling recipe": SAMPLING_RECIPE,
}
CONFIDENT = 0.8  # the SVC's top probability that counts as "reads a digit"
ANNEALED = ("dropout", "reconstruction_weight")


class Anneal(Callback):
    """The discriminator's dropout moved linearly from its value at the first
    epoch to ``end`` at the last. (The cycle term's weight moves with the
    estimators' own ``reconstruction_weight_end``.)"""

    def __init__(self, end):
        self.end = end

    def on_train_begin(self, net, **kwargs):
        self.start_ = next(m.p for m in _dropouts(net))

    def on_epoch_begin(self, net, **kwargs):
        # skorch has opened this epoch's history row: len() counts from 1.
        share = (len(net.history) - 1) / max(net.max_epochs - 1, 1)
        for module in _dropouts(net):
            module.p = self.start_ + (self.end - self.start_) * share


class AverageWeights(Callback):
    """An exponential moving average (``decay``) of the networks' weights and
    buffers over the training steps, as BigBiGAN and BigGAN sample from."""

    def __init__(self, decay):
        self.decay = decay

    def on_train_begin(self, net, **kwargs):
        self.average_ = AveragedModel(
            net.module_,
            multi_avg_fn=get_ema_multi_avg_fn(self.decay),
            use_buffers=True,
        )

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.average_.update_parameters(net.module_)


def _dropouts(net):
    return [m for m in net.module_.discriminator.modules() if isinstance(m, Dropout)]


def anneal_params(anneals):
    """Estimator parameters for ``--anneal``'s ``(name, end)`` pairs."""
    params, callbacks = {}, []
    for name, end in anneals:
        if name == "reconstruction_weight":
            params["reconstruction_weight_end"] = end
        else:
            callbacks.append((f"anneal_{name}", Anneal(end)))
    return {**params, "callbacks": callbacks}


def anneal_option(text):
    """``NAME=END`` of ``--anneal``, as ``(name, end)``."""
    name, _, end = text.partition("=")
    if name not in ANNEALED or not end:
        raise argparse.ArgumentTypeError(f"expected NAME=END, NAME in {ANNEALED}")
    return name, float(end)


def unit_rows(X):
    """Images or samples in 0-255 units to flat rows clipped to [0, 1]."""
    return np.clip(to_unit_rows(X), 0, 1)


def rbf_judge(seed):
    """An RBF SVC with Platt-scaled probabilities, and whose scaling it is.

    libsvm's own (``probability=True``), which every recorded figure used,
    while scikit-learn has it: it is deprecated from 1.9 and goes in 1.11.
    After that, ``CalibratedClassifierCV``'s 5-fold Platt scaling, which
    scikit-learn names as its replacement; its probabilities differ, so the
    script says which judge it ran.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return SVC(probability=True, random_state=seed), "libsvm's Platt scaling"
    except TypeError:
        judge = CalibratedClassifierCV(SVC(random_state=seed), ensemble=False)
        return judge, "CalibratedClassifierCV's Platt scaling"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    add_settings_option(parser, SETTINGS)
    add_set_option(parser)  # applied on top of every setting
    parser.add_argument(
        "--variant",
        default="",
        help="feature_variants.py's tokens, e.g. unary (see the module's docstring)",
    )
    parser.add_argument(
        "--anneal",
        type=anneal_option,
        nargs="+",
        default=[],
        metavar="NAME=END",
        help=f"one of {ANNEALED}, moved linearly to END over the fit",
    )
    parser.add_argument(
        "--average",
        type=float,
        nargs="+",
        default=[],
        metavar="DECAY",
        help="also read the fit with its weights' moving average (e.g. 0.999)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    print(machine_line())
    X, y = load("mnist")
    extra, label_counts = dict(args.params), (100, 1000)
    if args.quick:
        X, y, args.n_samples, args.repeats = X[:600], y[:600], 100, 1
        extra, label_counts = {**extra, "n_components": 8, "conv_width": 8}, (100,)
    X_pool, X_test, y_pool, y_test = split(X, y, args.seed)
    judge, platt = rbf_judge(args.seed)
    judge.fit(unit_rows(X_pool), y_pool)
    real = (judge.predict_proba(unit_rows(X_test)).max(1) >= CONFIDENT).mean()
    print(
        f"# judge: RBF SVC on {len(X_pool)} real digits, test accuracy "
        f"{judge.score(unit_rows(X_test), y_test):.3f}, confident on "
        f"{100 * real:.1f} % of real test digits (probabilities: {platt})"
    )
    errors = [f"{f} {n}" for f in ("hidden", "mean") for n in label_counts]
    print(
        "setting | fit s | D acc | latent mmd | confident | min class % | "
        "rec keep % | " + " | ".join(f"{e} err %" for e in errors)
    )
    for name in args.settings:
        params = {**SETTINGS[name], **extra}
        label = ", ".join([name, *(f"{k}={v!r}" for k, v in args.params)])
        if args.anneal:
            label += "".join(f", {k} annealed to {v:g}" for k, v in args.anneal)
            params.update(anneal_params(args.anneal))
        if args.quick:
            params["max_epochs"] = 1
        params["random_state"] = args.seed
        params["callbacks"] = params.get("callbacks", []) + [
            (f"average_{decay:g}", AverageWeights(decay)) for decay in args.average
        ]
        if args.variant:
            label = f"{label}, variant {args.variant}"
            ali = build_variant(args.variant, {**SAMPLING_RECIPE, **params})
        else:
            ali = ALITransformer(**params)
        start = time.perf_counter()
        ali.fit(X_pool)
        fit_time = time.perf_counter() - start
        history = ali.history_
        d_acc = "/".join(
            f"{np.mean(history[-3:, key]):.2f}" for key in LOSSES[ali.loss].diagnostics
        )
        read = partial(
            evaluate, judge=judge, real=real, data=(X_pool, y_pool, X_test, y_test)
        )
        row = f"{fit_time:.0f} | {d_acc} | "
        print(f"{label} | {row}{read(ali, args, label_counts)}", flush=True)
        # The fit's own copies: the estimator clones its callbacks.
        fitted = dict(ali.net_.callbacks_)
        for decay in args.average:
            average = fitted[f"average_{decay:g}"].average_.module
            ali.net_.module_.load_state_dict(average.state_dict())
            cells = read(ali, args, label_counts)
            print(f"{label}, weights averaged ({decay:g}) | {row}{cells}", flush=True)


def evaluate(ali, args, label_counts, *, judge, real, data):
    """The line's cells after D's accuracies, read from the fitted ``ali``."""
    X_pool, y_pool, X_test, y_test = data
    mmd = codes_vs_prior(ali, X_test, args.seed)
    samples = ali.sample(
        args.n_samples,
        random_state=args.seed,
        codes="prior",
        discriminator_rejection=False,
    )
    proba = judge.predict_proba(unit_rows(samples))
    confident = (proba.max(1) >= CONFIDENT).mean() / real
    shares = np.bincount(proba.argmax(1), minlength=10) / len(samples)
    rebuilt = ali.inverse_transform(ali.encode(X_test))
    kept = (judge.predict(unit_rows(rebuilt)) == y_test).mean()
    cells = []
    for features in ("hidden", "mean"):
        ali.set_params(features=features)
        for n_labeled in label_counts:
            result = semi_supervised_score(
                ali,
                X_pool,
                y_pool,
                X_test=X_test,
                y_test=y_test,
                n_labeled=n_labeled,
                n_repeats=args.repeats,
                validation_size=VALIDATION_SIZE,
                random_state=args.seed,
            )
            cells.append(f"{100 * result.mean_error:.1f}")
    return (
        f"{mmd:.3f} | {confident:.2f} | {100 * shares.min():.1f} | "
        f"{100 * kept:.1f} | " + " | ".join(cells)
    )


if __name__ == "__main__":
    main()
