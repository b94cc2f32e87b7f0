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
  real/generated loss beside the joint score's;
* ``pack2``, ``pack4``, ...: PacGAN's packing (Lin et al., NeurIPS 2018):
  the joint head scores m pairs of one joint at once, their x and z branch
  features side by side, so that D sees a sample of each joint rather than
  one pair and can punish a joint that lacks variety.

Usage::

    python benchmarks/feature_variants.py nc256+rw3 --max-epochs 20 --every 5
    python benchmarks/feature_variants.py aug --quick     # smoke run, seconds
"""

import argparse
from functools import partial

import torch
from learning_curve import load_shuffled, probe_fit
from torch.nn import Linear
from torch.nn import functional as F

from sklearn_ali import ALITransformer
from sklearn_ali.networks import _joint_head, build_conv
from sklearn_ali.objectives import (
    LOSSES,
    Game,
    ali_losses,
    ali_validation_loss,
    game_diagnostics,
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


def variant_losses(
    encoder,
    decoder,
    discriminator,
    x,
    z_prior,
    *,
    loss,
    reconstruction_weight,
    gradient_penalty,
    latent_weight,
    augment_images,
    unary,
    pack,
):
    """ALI's game with the variant's terms (see ``variant_game``)."""
    if (unary or pack > 1) and gradient_penalty:
        raise ValueError("the unary and packed variants have no gradient penalty")
    if unary and pack > 1:
        raise ValueError("the unary and packed variants do not combine")
    if pack > 1:
        d_loss, g_loss, diagnostics = _packed_losses(
            encoder,
            decoder,
            discriminator,
            x,
            z_prior,
            loss=loss,
            reconstruction_weight=reconstruction_weight,
            pack=pack,
            augment_images=augment_images,
        )
    elif unary:
        d_loss, g_loss, diagnostics = _unary_losses(
            encoder,
            decoder,
            discriminator,
            x,
            z_prior,
            loss=loss,
            reconstruction_weight=reconstruction_weight,
            augment_images=augment_images,
        )
    else:
        if augment_images:
            discriminator = _Augmented(discriminator)
        d_loss, g_loss, diagnostics = ali_losses(
            encoder,
            decoder,
            discriminator,
            x,
            z_prior,
            loss=loss,
            reconstruction_weight=reconstruction_weight,
            gradient_penalty=gradient_penalty,
        )
    if latent_weight:
        z_cycle = encoder.mean(decoder(z_prior))
        g_loss = g_loss + latent_weight * (z_cycle - z_prior).abs().mean()
    return d_loss, g_loss, diagnostics


def _branch_features(encoder, decoder, discriminator, x, z_prior, rows, augment_images):
    """``(z_q, h_x, h_z)``: the encoder's codes of all of x, and D's x and z
    branch features of the first ``rows`` pairs of each joint, the encoder
    joint's first: shapes (n, k), (2 * rows, ·) and (2 * rows, ·)."""
    z_q, _ = encoder.sample(x)
    x_p = decoder(z_prior)  # every row: batch norm sees the whole batch
    images = torch.cat([x[:rows], x_p[:rows]])
    if augment_images:
        images = augment(images)
    h_x = discriminator.x_branch(images).flatten(1)
    h_z = discriminator.z_branch(torch.cat([z_q[:rows], z_prior[:rows]])).flatten(1)
    return z_q, h_x, h_z


def _unary_losses(
    encoder,
    decoder,
    discriminator,
    x,
    z_prior,
    *,
    loss,
    reconstruction_weight,
    augment_images=False,
):
    """ALI's game with BigBiGAN's unary scores s_x and s_z beside s_xz."""
    n = len(x)
    adversarial = LOSSES[loss]
    z_q, h_x, h_z = _branch_features(
        encoder, decoder, discriminator, x, z_prior, n, augment_images
    )
    scores = [
        discriminator.joint(torch.cat([h_x, h_z], 1)).flatten(),
        discriminator.unary_x(h_x).flatten(),
        discriminator.unary_z(h_z).flatten(),
    ]
    d_loss = g_loss = 0.0
    for score in scores:
        d_q, d_p = score.float().split([n, n])
        d_loss = d_loss + adversarial.discriminator(d_q, d_p)
        g_loss = g_loss + adversarial.generators(d_q, d_p)
    recon = reconstruction_error(decoder(z_q), x)
    g_loss = g_loss + reconstruction_weight * recon
    d_q, d_p = scores[0].float().split([n, n])
    diagnostics = game_diagnostics(
        adversarial, d_loss, g_loss, d_q, d_p, recon, z_q, z_prior
    )
    return d_loss, g_loss, diagnostics


def _packed_losses(
    encoder,
    decoder,
    discriminator,
    x,
    z_prior,
    *,
    loss,
    reconstruction_weight,
    pack,
    augment_images=False,
):
    """ALI's game with PacGAN's packing: D scores packs of ``pack`` pairs.

    A batch's rows come shuffled, so consecutive pairs make random packs;
    rows past the last whole pack sit out D's half of the step.
    """
    n = len(x)
    m = n - n % pack  # pairs that fill whole packs
    if m == 0:
        raise ValueError(f"a batch of {n} rows makes no pack of {pack}")
    adversarial = LOSSES[loss]
    z_q, h_x, h_z = _branch_features(
        encoder, decoder, discriminator, x, z_prior, m, augment_images
    )
    h = torch.cat([h_x, h_z], 1)  # (2m, f)
    packs = h.reshape(2 * m // pack, -1)  # (2m / pack, pack * f), one joint each
    d_q, d_p = discriminator.packed_joint(packs).float().flatten().split(m // pack)
    d_loss = adversarial.discriminator(d_q, d_p)
    g_loss = adversarial.generators(d_q, d_p)
    recon = reconstruction_error(decoder(z_q), x)
    g_loss = g_loss + reconstruction_weight * recon
    diagnostics = game_diagnostics(
        adversarial, d_loss, g_loss, d_q, d_p, recon, z_q, z_prior
    )
    return d_loss, g_loss, diagnostics


def variant_game(latent_weight=0.0, augment_images=False, unary=False, pack=1):
    """ALI's game with the variant's terms, as a game of its own."""
    losses = partial(
        variant_losses,
        latent_weight=latent_weight,
        augment_images=augment_images,
        unary=unary,
        pack=pack,
    )
    return Game("ALI variant", losses, ali_validation_loss)


def build_unary(image_shape, n_components, *, width=32, **options):
    """The conv preset, its discriminator with BigBiGAN's unary heads."""
    encoder, decoder, discriminator = build_conv(
        image_shape, n_components, width=width, **options
    )
    # Widths of the branch features, from a probe in eval mode (no
    # spectral-norm power iteration, no dropout).
    discriminator.eval()
    with torch.no_grad():
        n_x = discriminator.x_branch(torch.zeros(2, *image_shape)).flatten(1).shape[1]
        n_z = discriminator.z_branch(torch.zeros(2, n_components)).flatten(1).shape[1]
    discriminator.train()
    discriminator.unary_x = torch.nn.Linear(n_x, 1)
    discriminator.unary_z = torch.nn.Linear(n_z, 1)
    return encoder, decoder, discriminator


def build_packed(input_shape, n_components, *, pack, base=build_conv, **options):
    """``base``'s networks with a second joint head that scores packs of pairs.

    The head is ``base``'s joint head (same hidden width, dropout and
    spectral normalisation) on ``pack`` times its input; the pairwise head
    stays for the estimator's checks of its networks and is not trained.
    """
    encoder, decoder, discriminator = base(input_shape, n_components, **options)
    first = next(m for m in discriminator.joint.modules() if isinstance(m, Linear))
    # The estimator passes every builder its dropout and spectral_norm.
    discriminator.packed_joint = _joint_head(
        pack * first.in_features,
        first.out_features,
        options["dropout"],
        options["spectral_norm"],
    )
    return encoder, decoder, discriminator


def variant_estimator(game, **params):
    """An ALITransformer playing ``game``: a subclass naming it."""
    return type("VariantALI", (ALITransformer,), {"game": game})(**params)


def build_variant(variant, params, base=None):
    """The estimator of ``variant`` (tokens, see ``parse``); ``params`` win.

    ``base`` builds the networks a packed variant adds its head to: by
    default the conv preset at the variant's ``conv_width``. The unary
    variant's heads exist for the conv preset only.
    """
    more, terms = parse(variant)
    params = {**more, **params}
    if terms.get("unary") and base is not None:
        raise SystemExit("the unary variant builds the conv preset only")
    if terms.get("unary"):
        # A builder of one's own receives no conv_width: it is bound here.
        width = params.pop("conv_width", 32)
        params["architecture"] = partial(build_unary, width=width)
    elif terms.get("pack", 1) > 1:
        if base is None:
            base = partial(build_conv, width=params.pop("conv_width", 32))
        params["architecture"] = partial(build_packed, pack=terms["pack"], base=base)
    return variant_estimator(variant_game(**terms), **params)


PARAMS = {
    "nc": ("n_components", int),
    "rw": ("reconstruction_weight", float),
    "width": ("conv_width", int),
    "lr": ("learning_rate", float),
    "drop": ("dropout", float),
}


def parse(variant):
    """``(estimator parameters, variant_game keywords)`` of a variant."""
    params, terms = {}, {}
    for token in variant.split("+"):
        if token in ("", "base"):
            continue
        if token == "aug":
            terms["augment_images"] = True
        elif token == "unary":
            terms["unary"] = True
        elif token.startswith("pack"):
            terms["pack"] = int(token[len("pack") :])
        elif token == "det":
            params["encoder"] = "deterministic"
        elif token.startswith("latent"):
            terms["latent_weight"] = float(token[len("latent") :] or 1.0)
        else:
            prefix = next((p for p in PARAMS if token.startswith(p)), None)
            if prefix is None:
                raise SystemExit(f"unknown variant token {token!r}")
            name, kind = PARAMS[prefix]
            params[name] = kind(token[len(prefix) :])
    return params, terms


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", help="e.g. base, nc256+rw3, aug, latent1")
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    params = {"max_epochs": args.max_epochs, "random_state": args.seed}
    X, y, label_counts = load_shuffled(args.quick)
    if args.quick:
        params.update(max_epochs=1, conv_width=8)
        args.every = 1
    more, terms = parse(args.variant)
    description = f"variant {args.variant}: {more | params}, terms {terms}"
    ali = build_variant(args.variant, params)
    probe_fit(ali, X, y, args.every, label_counts, description)


if __name__ == "__main__":
    main()
