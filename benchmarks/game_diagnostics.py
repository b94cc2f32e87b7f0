"""Who wins the game: the discriminator's diagnostics and the latent statistic.

For each setting (the defaults, or one or two levers changed), fits
``ALITransformer`` on digits (8x8 images) and prints per epoch the history's
``latent_mmd`` (the MMD² of the codes E(x) of each training batch against
prior draws, see ``sklearn_ali.objectives.latent_mmd``) and, at the last
epoch, the discriminator's diagnostics of the game's adversarial loss, plus
the MMD² of the latent means of 500 digits against 500 prior draws. A
reference line states what codes drawn from the prior itself give, and what
codes gathered in five tight clusters give.

Usage::

    python benchmarks/game_diagnostics.py                  # every setting
    python benchmarks/game_diagnostics.py --max-epochs 40 --seed 1
    python benchmarks/game_diagnostics.py --quick          # smoke run
"""

import argparse

import numpy as np
import torch
from semi_supervised import add_settings_option, machine_line
from sklearn.datasets import load_digits

from sklearn_ali import ALITransformer
from sklearn_ali.objectives import LOSSES, latent_mmd

SETTINGS = {
    "defaults": {},
    "reconstruction_weight=0": {"reconstruction_weight": 0.0},
    "learning_rate=2e-3, spectral_norm=False": {
        "learning_rate": 2e-3,
        "spectral_norm": False,
    },
    "loss=hinge": {"loss": "hinge"},
    "discriminator_learning_rate=5e-5": {"discriminator_learning_rate": 5e-5},
    "reconstruction_weight=1": {"reconstruction_weight": 1.0},
    "loss=hinge, learning_rate=2e-3, spectral_norm=False": {
        "loss": "hinge",
        "learning_rate": 2e-3,
        "spectral_norm": False,
    },
    "gradient_penalty=10": {"gradient_penalty": 10.0},
    "gradient_penalty=10, learning_rate=2e-3, spectral_norm=False": {
        "gradient_penalty": 10.0,
        "learning_rate": 2e-3,
        "spectral_norm": False,
    },
}


def reference(k, seed):
    """MMD² of prior codes and of clustered codes against the prior, k dims."""
    g = torch.Generator().manual_seed(seed)
    prior = torch.randn(500, k, generator=g)
    matched = latent_mmd(torch.randn(500, k, generator=g), prior)
    centres = 3 * torch.randn(5, k, generator=g)
    clustered = centres.repeat(100, 1) + 0.01 * torch.randn(500, k, generator=g)
    return float(matched), float(latent_mmd(clustered, prior))


def codes_vs_prior(ali, X, seed):
    """MMD² of the latent means of ``X`` against as many prior draws."""
    codes = torch.as_tensor(ali.encode(X), dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    return float(latent_mmd(codes, torch.randn(codes.shape, generator=g)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    add_settings_option(parser, SETTINGS)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    X = load_digits().images[:, None]
    extra = {}
    if args.quick:
        X, args.max_epochs = X[:300], 2
        extra = {"n_components": 8, "conv_width": 8}
    print(machine_line())
    k = extra.get("n_components", ALITransformer().n_components)
    matched, clustered = reference(k, args.seed)
    print(
        f"# reference, {k} dims, 500 codes: drawn from the prior {matched:.3f}, "
        f"five tight clusters {clustered:.3f}"
    )
    for name in args.settings:
        params = SETTINGS[name]
        ali = ALITransformer(
            max_epochs=args.max_epochs, random_state=args.seed, **extra, **params
        ).fit(X)
        history = ali.history_
        per_epoch = " ".join(f"{v:.3f}" for v in history[:, "latent_mmd"])
        adversarial = LOSSES[ali.loss]
        last = ", ".join(
            f"{key} {history[-1, key]:.2f}" for key in adversarial.diagnostics
        )
        codes = codes_vs_prior(ali, X[:500], args.seed)
        print(f"## {name}")
        print(f"latent_mmd by epoch: {per_epoch}")
        print(f"last epoch: {last}; codes vs prior {codes:.3f}")
        assert np.isfinite(history[:, "latent_mmd"]).all()


if __name__ == "__main__":
    main()
