"""Variants of the default ALI on MNIST-5k, probed every few epochs.

An exploration tool for the feature-quality work: it fits one variant of the
default ``ALITransformer`` on all 5,000 MNIST-5k digits (without labels) and
probes the latent mean and the hidden features with the cheap fixed-C
LinearSVC of ``benchmarks/learning_curve.py`` (100 and 1,000 labels, error on
the first 1,000 shuffled digits). The figures compare variants with each
other, not with the protocol of ``benchmarks/semi_supervised.py``.

A variant is a ``+``-joined list of tokens:

* ``nc256``, ``rw3``, ``width64``, ``lr5e-4``, ``drop0.1``, ``det``: the
  estimator's ``n_components``, ``reconstruction_weight``, ``conv_width``,
  ``learning_rate``, ``dropout``, ``encoder="deterministic"``;
* ``latent1``: a latent cycle term, weight 1, mean |E(G(z)) - z| added to the
  generators' loss (ALICE's other direction);
* ``aug``: the discriminator sees every image of both joints randomly
  shifted by up to 2 pixels with a 5x5 cutout (DiffAugment-style; the
  gradient reaches the decoder through the augmentation);
* ``unary``: BigBiGAN's unary scores: linear heads on the discriminator's x
  and z branch features score x alone and z alone, each with its own
  real/generated loss beside the joint score's.

Usage::

    python benchmarks/feature_variants.py nc256+rw3 --max-epochs 20 --every 5
    python benchmarks/feature_variants.py aug --quick     # smoke run, seconds
"""

import argparse
from functools import partial

import torch
from learning_curve import load_shuffled, probe_fit
from torch.nn import functional as F

from sklearn_ali import ALIModule, ALINet, ALITransformer
from sklearn_ali.objectives import (
    ali_diagnostics,
    ali_losses,
    reconstruction_error,
)


def augment(x):
    """Per-image random shift of up to 2 pixels and a 5x5 cutout."""
    n, side = len(x), x.shape[-1]
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    shifts = torch.randint(-2, 3, (n, 2), device=x.device).float()
    theta[:, :, 2] = shifts * 2 / side
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    x = F.grid_sample(x, grid, mode="nearest", align_corners=False)
    cy, cx = (torch.randint(0, side, (n, 1, 1), device=x.device) for _ in "yx")
    rows = torch.arange(side, device=x.device).view(1, side, 1)
    cols = torch.arange(side, device=x.device).view(1, 1, side)
    hole = ((rows - cy).abs() <= 2) & ((cols - cx).abs() <= 2)
    return x * (~hole).unsqueeze(1)


class _Augmented(torch.nn.Module):
    def __init__(self, discriminator):
        super().__init__()
        self.discriminator = discriminator

    def forward(self, x, z):
        return self.discriminator(augment(x), z)


class VariantNet(ALINet):
    """ALINet whose step adds the variant's terms to ALI's game."""

    latent_weight = 0.0
    augment = False
    unary = False

    def game_losses(self, batch):
        x = self._prepare(batch)
        z = torch.randn(len(x), self.n_components, device=x.device)
        m = self.module_
        disc = _Augmented(m.discriminator) if self.augment else m.discriminator
        losses = ali_losses
        if self.unary:
            losses = partial(_unary_losses, augment_images=self.augment)
            disc = m.discriminator
        d_loss, g_loss, diagnostics = losses(
            m.encoder,
            m.decoder,
            disc,
            x,
            z,
            criterion=self.criterion_,
            reconstruction_weight=self.reconstruction_weight,
        )
        if self.latent_weight:
            z_cycle = m.encoder.mean(m.decoder(z))
            g_loss = g_loss + self.latent_weight * (z_cycle - z).abs().mean()
        return d_loss, g_loss, diagnostics


def _unary_losses(
    encoder,
    decoder,
    discriminator,
    x,
    z_prior,
    *,
    criterion,
    reconstruction_weight,
    augment_images=False,
):
    """ALI's game with BigBiGAN's unary scores s_x and s_z beside s_xz."""
    n = len(x)
    z_q, _ = encoder.sample(x)
    x_p = decoder(z_prior)
    images = torch.cat([x, x_p])
    if augment_images:
        images = augment(images)
    h_x = discriminator.x_branch(images).flatten(1)  # (2n, ·)
    h_z = discriminator.z_branch(torch.cat([z_q, z_prior])).flatten(1)
    scores = [
        discriminator.joint(torch.cat([h_x, h_z], 1)).flatten(),
        discriminator.unary_x(h_x).flatten(),
        discriminator.unary_z(h_z).flatten(),
    ]
    d_loss = g_loss = 0.0
    for score in scores:
        d_q, d_p = score.float().split([n, n])
        ones, zeros = torch.ones_like(d_q), torch.zeros_like(d_q)
        d_loss = d_loss + criterion(d_q, ones) + criterion(d_p, zeros)
        g_loss = g_loss + criterion(d_q, zeros) + criterion(d_p, ones)
    recon = reconstruction_error(decoder(z_q), x)
    g_loss = g_loss + reconstruction_weight * recon
    d_q, d_p = scores[0].float().split([n, n])
    diagnostics = ali_diagnostics(d_loss, g_loss, d_q, d_p, recon)
    return d_loss, g_loss, diagnostics


class VariantALI(ALITransformer):
    def _build_networks(self):
        encoder, decoder, discriminator = super()._build_networks()
        if VariantNet.unary:
            # Widths of the branch features, from a probe in eval mode (no
            # spectral-norm power iteration, no dropout).
            discriminator.eval()
            with torch.no_grad():
                x = torch.zeros(2, *self._network_input_shape())
                n_x = discriminator.x_branch(x).flatten(1).shape[1]
                z = torch.zeros(2, self.n_components_)
                n_z = discriminator.z_branch(z).flatten(1).shape[1]
            discriminator.train()
            discriminator.unary_x = torch.nn.Linear(n_x, 1)
            discriminator.unary_z = torch.nn.Linear(n_z, 1)
        return encoder, decoder, discriminator

    def _make_net(self, encoder, decoder, discriminator, *, cuda):
        return VariantNet(
            ALIModule(encoder, decoder, discriminator),
            n_components=self.n_components_,
            **self._net_settings(cuda=cuda, seed=getattr(self, "_seed_", 0)),
        )


PARAMS = {
    "nc": ("n_components", int),
    "rw": ("reconstruction_weight", float),
    "width": ("conv_width", int),
    "lr": ("learning_rate", float),
    "drop": ("dropout", float),
}


def parse(variant):
    params = {}
    for token in variant.split("+"):
        if token in ("", "base"):
            continue
        if token == "aug":
            VariantNet.augment = True
        elif token == "unary":
            VariantNet.unary = True
        elif token == "det":
            params["encoder"] = "deterministic"
        elif token.startswith("latent"):
            VariantNet.latent_weight = float(token[len("latent") :] or 1.0)
        else:
            prefix = next((p for p in PARAMS if token.startswith(p)), None)
            if prefix is None:
                raise SystemExit(f"unknown variant token {token!r}")
            name, kind = PARAMS[prefix]
            params[name] = kind(token[len(prefix) :])
    return params


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", help="e.g. base, nc256+rw3, aug, latent1")
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    params = {"max_epochs": args.max_epochs, "random_state": args.seed}
    params.update(parse(args.variant))

    X, y, label_counts = load_shuffled(args.quick)
    if args.quick:
        params.update(max_epochs=1, conv_width=8)
        args.every = 1
    description = (
        f"variant {args.variant}: {params}, latent cycle {VariantNet.latent_weight}, "
        f"augment {VariantNet.augment}, unary {VariantNet.unary}"
    )
    probe_fit(VariantALI(**params), X, y, args.every, label_counts, description)


if __name__ == "__main__":
    main()
