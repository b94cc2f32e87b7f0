"""The games the estimators play: what a reader opens to see the maths.

Each function maps one batch to both players' losses and the diagnostics
recorded in the history; the training net (:class:`sklearn_ali.ALINet`)
computes their gradients and steps the optimizer. ``ALINet.game_losses``
calls one of them; a variant of a game is a subclass of ALINet whose
``game_losses`` returns ``(d_loss, g_loss, diagnostics)`` of its own, built
from these functions or beside them.
"""

__all__ = [
    "ALI_DIAGNOSTICS",
    "SEMI_SUPERVISED_DIAGNOSTICS",
    "ali_diagnostics",
    "ali_losses",
    "conditional_losses",
    "reconstruction_error",
    "semi_supervised_losses",
]

import torch
import torch.nn.functional as F

# Diagnostics of one ALI batch, in the order ``ali_losses`` stacks them.
ALI_DIAGNOSTICS = ("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "recon_loss")
# ... and of a semi-supervised batch: ALI's, then the labelled rows' loss.
SEMI_SUPERVISED_DIAGNOSTICS = (*ALI_DIAGNOSTICS, "class_loss")


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
      + reconstruction_weight * ``mean |x - G_x(G_z(x))|``.

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
        ``criterion(logits, targets)``, BCE with logits (skorch's ``criterion_``).
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


def semi_supervised_losses(
    encoder,
    decoder,
    discriminator,
    x,
    y,
    z_prior,
    *,
    criterion,
    reconstruction_weight,
):
    """ALI with labels in D: the K+1-class game (Salimans et al. 2016).

    D(x, z) outputs K+1 logits l: the K classes and "generated". Pairs from
    the encoder joint must be one of the K real classes, their own class for
    labelled rows; decoder pairs must be "generated". With
    p(real) = sum_k softmax(l)_k, the log-odds real vs generated is

        r = logsumexp(l_1..l_K) - l_{K+1}

    (the numerically stable form of log p(real) - log p(generated)), and the
    losses are

    - D minimises softplus(-r_q) + softplus(r_p) over the first ``len(z_prior)``
      encoder pairs and the decoder pairs (ALI's game on r), plus the
      cross-entropy of the K real-class logits of the labelled rows:
      -log p(y | x, z, real). The two add up to the K+1-class cross-entropy
      the paper states for labelled pairs, -log softmax(l)_y;
    - encoder and decoder play the non-saturating game on r alone,
      softplus(r_q) + softplus(-r_p), plus ALI's cycle term
      reconstruction_weight * ``mean |x - G_x(G_z(x))|``.

    Rows of x beyond ``len(z_prior)`` are extra labelled rows: they enter the
    class loss only, so that a batch can carry more labelled rows than the
    pool holds without showing them to the game more often than other rows.

    Parameters
    ----------
    encoder, decoder, discriminator : torch.nn.Module
        G_z (``sample(x) -> (z, mu)``), G_x and D(x, z) -> (n, K + 1) logits.
    x : Tensor of shape (n, ...)
        A batch of scaled data: ``m = len(z_prior)`` pool rows, then extras.
    y : Tensor of shape (n,)
        Class indices in 0..K-1, -1 for unlabelled rows.
    z_prior : Tensor of shape (m, n_components)
        Draws from the prior N(0, I), m <= n.
    criterion : callable
        ``criterion(logits, targets)``, BCE with logits (skorch's ``criterion_``).
    reconstruction_weight : float
        Weight of the cycle term.

    Returns
    -------
    d_loss, g_loss : Tensor
        Scalar losses of the discriminator and of encoder + decoder.
    diagnostics : Tensor of shape (6,)
        Detached ``SEMI_SUPERVISED_DIAGNOSTICS``; ``class_loss`` is 0 for a
        batch without labelled rows.
    """
    n, m = len(x), len(z_prior)
    z_q, _ = encoder.sample(x)  # (n, k)
    x_p = decoder(z_prior)  # (m, ...)
    logits = discriminator(torch.cat([x, x_p]), torch.cat([z_q, z_prior]))
    l_q, l_p = logits.float().split([n, m])  # (n, K + 1), (m, K + 1)
    r_q = _real_log_odds(l_q[:m])  # (m,)
    r_p = _real_log_odds(l_p)  # (m,)
    ones, zeros = torch.ones_like(r_q), torch.zeros_like(r_q)
    # Masked rather than indexed: no host synchronisation on a GPU.
    labelled = (y >= 0).float()  # (n,)
    per_row = F.cross_entropy(l_q[:, :-1], y.clamp(min=0), reduction="none")  # (n,)
    class_loss = (per_row * labelled).sum() / labelled.sum().clamp(min=1)
    d_loss = criterion(r_q, ones) + criterion(r_p, zeros) + class_loss
    g_loss = criterion(r_q, zeros) + criterion(r_p, ones)
    recon = torch.zeros((), device=x.device)
    if reconstruction_weight > 0:
        recon = reconstruction_error(decoder(z_q[:m]), x[:m])
        g_loss = g_loss + reconstruction_weight * recon
    diagnostics = ali_diagnostics(d_loss, g_loss, r_q, r_p, recon)
    return d_loss, g_loss, torch.cat([diagnostics, class_loss.detach().reshape(1)])


def conditional_losses(
    encoder,
    decoder,
    discriminator,
    x,
    y,
    z_prior,
    *,
    criterion,
    reconstruction_weight,
):
    """Conditional ALI (paper section 4.4): ALI's game given an observed y.

    The encoder joint q(x, z | y) = q(x | y) q(z | x, y) and the decoder
    joint p(x, z | y) = p(z) p(x | z, y) are matched for the y of each row:
    encoder pairs (x, G_z(x, y)) and decoder pairs (G_x(z, y), z) share the
    batch's conditions, so the discriminator D(x, z, y) compares the two
    joints condition by condition. Losses as in :func:`ali_losses`:

    - D minimises softplus(-d_q) + softplus(d_p);
    - encoder and decoder minimise softplus(d_q) + softplus(-d_p)
      + reconstruction_weight * ``mean |x - G_x(G_z(x, y), y)|``.

    Parameters
    ----------
    encoder, decoder, discriminator : torch.nn.Module
        G_z (``sample(x, y) -> (z, mu)``), G_x(z, y) and D(x, z, y) -> (n,)
        logits, as :func:`sklearn_ali.networks.build_conditional` makes them.
    x : Tensor of shape (n, ...)
        A batch of scaled data.
    y : Tensor of shape (n, n_conditions)
        Its conditions: one-hot classes or attributes.
    z_prior : Tensor of shape (n, n_components)
        Draws from the prior N(0, I).
    criterion : callable
        ``criterion(logits, targets)``, BCE with logits (skorch's ``criterion_``).
    reconstruction_weight : float
        Weight of the cycle term.

    Returns
    -------
    d_loss, g_loss : Tensor
        Scalar losses of the discriminator and of encoder + decoder.
    diagnostics : Tensor of shape (5,)
        Detached ``ALI_DIAGNOSTICS``.
    """
    n = len(x)
    z_q, _ = encoder.sample(x, y)  # (n, k)
    x_p = decoder(z_prior, y)  # (n, ...)
    logits = discriminator(
        torch.cat([x, x_p]), torch.cat([z_q, z_prior]), torch.cat([y, y])
    )
    d_q, d_p = logits.float().split([n, n])  # (n,), (n,)
    ones, zeros = torch.ones_like(d_q), torch.zeros_like(d_q)
    d_loss = criterion(d_q, ones) + criterion(d_p, zeros)
    g_loss = criterion(d_q, zeros) + criterion(d_p, ones)
    recon = torch.zeros((), device=x.device)
    if reconstruction_weight > 0:
        recon = reconstruction_error(decoder(z_q, y), x)
        g_loss = g_loss + reconstruction_weight * recon
    return d_loss, g_loss, ali_diagnostics(d_loss, g_loss, d_q, d_p, recon)


def _real_log_odds(logits):
    """log p(real) - log p(generated) from (n, K + 1) logits; shape (n,)."""
    return torch.logsumexp(logits[:, :-1], dim=1) - logits[:, -1]


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
