"""The games the estimators play: what a reader opens to see the maths.

Each function maps one batch to both players' losses and the diagnostics
recorded in the history; the training net (``_training.ALINet``) computes
their gradients and steps the optimizer.
"""

import torch

# Diagnostics of one ALI batch, in the order ``ali_losses`` stacks them.
ALI_DIAGNOSTICS = ("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "recon_loss")


def ali_losses(
    encoder, decoder, discriminator, x, z_prior, *, criterion, reconstruction_weight
):
    """ALI's adversarial game on one batch, with the optional ALICE cycle term.

    The discriminator scores pairs from the encoder joint q(x, z) = q(x)q(z|x)
    and the decoder joint p(x, z) = p(z)p(x|z). With logits d_q = D(x, G_z(x))
    and d_p = D(G_x(z), z), non-saturating losses (same fixed points as the
    minimax game, stronger gradients when D saturates):

    - D minimises softplus(-d_q) + softplus(d_p);
    - encoder and decoder minimise softplus(d_q) + softplus(-d_p)
      + reconstruction_weight * mean |x - G_x(G_z(x))|.

    Real and generated pairs go through D as one batch. ``criterion`` is
    binary cross-entropy on logits, so ``criterion(d, 1)`` is softplus(-d).

    Parameters
    ----------
    encoder, decoder, discriminator : torch.nn.Module
        G_z (``sample(x) -> (z, mu)``), G_x and D(x, z) -> logits.
    x : Tensor of shape (n, ...)
        A batch of scaled data.
    z_prior : Tensor of shape (n, n_components)
        Draws from the prior N(0, I).
    criterion : callable
        ``criterion(logits, targets)``, BCE with logits (skorch's criterion_).
    reconstruction_weight : float
        Weight of the cycle term; 0 gives the paper's pure ALI.

    Returns
    -------
    d_loss, g_loss : Tensor
        Scalar losses of the discriminator and of encoder + decoder.
    diagnostics : Tensor of shape (5,)
        Detached ``ALI_DIAGNOSTICS``.
    """
    n = len(x)
    z_q, _ = encoder.sample(x)  # (n, k)
    x_p = decoder(z_prior)  # (n, ...)
    logits = discriminator(torch.cat([x, x_p]), torch.cat([z_q, z_prior]))  # (2n,)
    d_q, d_p = logits.float().split([n, n])
    ones, zeros = torch.ones_like(d_q), torch.zeros_like(d_q)
    d_loss = criterion(d_q, ones) + criterion(d_p, zeros)
    g_loss = criterion(d_q, zeros) + criterion(d_p, ones)
    recon = torch.zeros((), device=x.device)
    if reconstruction_weight > 0:
        recon = reconstruction_error(decoder(z_q), x)
        g_loss = g_loss + reconstruction_weight * recon
    diagnostics = ali_diagnostics(d_loss, g_loss, d_q, d_p, recon)
    return d_loss, g_loss, diagnostics


def ali_diagnostics(d_loss, g_loss, d_q, d_p, recon):
    """``ALI_DIAGNOSTICS`` of a batch, detached, from its losses and D's logits.

    d_q, d_p : logits of the encoder and decoder pairs; recon : cycle term.
    """
    return torch.stack(
        [
            d_loss.detach(),
            g_loss.detach(),
            (d_q > 0).float().mean(),
            (d_p < 0).float().mean(),
            recon.detach(),
        ]
    )


def reconstruction_error(x_hat, x):
    """Mean absolute error between data and reconstructions, in scaled units."""
    return (x_hat.float() - x).abs().mean()
