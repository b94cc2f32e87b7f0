"""The games the estimators play: what a reader opens to see the maths.

A game is a value, a :class:`Game`: its losses on one batch, the names of
the diagnostics it records, its validation loss, whether its batches carry
targets, how its training batches are drawn, and its options. The training
net (:class:`sklearn_ali.ALINet`) takes a game as a parameter, plays it on
its networks and steps the optimizer; the estimators name theirs
(:data:`ALI`, :data:`SEMI_SUPERVISED`, :data:`CONDITIONAL`).

The adversarial part of every game is an :class:`AdversarialLoss`, chosen by
the ``loss`` option (the estimators' ``loss`` parameter): the
non-saturating game of the ALI paper, or the hinge game of SAGAN and
BigBiGAN (:data:`LOSSES`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
import torch.nn.functional as F

from ._batches import labelled_batches

__all__ = [
    "ALI",
    "CONDITIONAL",
    "HINGE",
    "LATENT_DIAGNOSTIC",
    "LOSSES",
    "LOSS_DIAGNOSTICS",
    "PLAYER_LOSSES",
    "NON_SATURATING",
    "SEMI_SUPERVISED",
    "AdversarialLoss",
    "Game",
    "ali_losses",
    "ali_validation_loss",
    "class_logits",
    "conditional_losses",
    "conditional_validation_loss",
    "game_diagnostics",
    "input_gradient_penalty",
    "latent_mmd",
    "reconstruction_error",
    "semi_supervised_losses",
    "semi_supervised_validation_loss",
]


@dataclass(frozen=True)
class AdversarialLoss:
    """The adversarial part of a game, on the discriminator's scores.

    ``d_q`` scores encoder pairs (x, G_z(x)), the "real" side, and ``d_p``
    decoder pairs (G_x(z), z); both have shape (n,).

    Attributes
    ----------
    name : str
        The value of the estimators' ``loss`` parameter that selects it.
    discriminator, generators : callable
        ``(d_q, d_p) -> scalar``: what D, and the encoder and decoder,
        minimise.
    diagnostics : tuple of str
        Names of what ``measure`` returns, as the history records them: shares
        of pairs in [0, 1].
    measure : callable
        ``(d_q, d_p) -> Tensor of shape (len(diagnostics),)``, detached.
    labels : tuple of str
        What each diagnostic is, for plots.
    axis_label : str
        What the diagnostics have in common, for a plot's axis.
    balance : float or None
        The diagnostics' value in a game neither player wins (0.5 for
        accuracies: D can no longer tell the joints apart), or None.
    """

    name: str
    discriminator: Callable
    generators: Callable
    diagnostics: tuple
    measure: Callable
    labels: tuple
    axis_label: str
    balance: float | None = None


def _bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


# softplus(-d_q) + softplus(d_p) for D, the labels swapped for the generators:
# the minimax game's fixed points, with strong gradients where D saturates.
#: The non-saturating loss (Goodfellow et al., 2014), ``loss="non_saturating"``.
NON_SATURATING = AdversarialLoss(
    name="non_saturating",
    discriminator=lambda d_q, d_p: _bce(d_q, 1.0) + _bce(d_p, 0.0),
    generators=lambda d_q, d_p: _bce(d_q, 0.0) + _bce(d_p, 1.0),
    # Scores are log-odds, so their sign is D's verdict.
    diagnostics=("d_real_acc", "d_fake_acc"),
    measure=lambda d_q, d_p: torch.stack(
        [(d_q > 0).float().mean(), (d_p < 0).float().mean()]
    ),
    labels=(
        "D accuracy on encoder pairs (x, E(x))",
        "D accuracy on decoder pairs (G(z), z)",
    ),
    axis_label="discriminator accuracy",
    balance=0.5,
)

# The hinge game (Lim & Ye 2017; SAGAN, BigBiGAN): D is a critic pushing
# encoder pairs above +1 and decoder pairs below -1; the generators lower the
# gap between the two sides' mean scores.
#: The hinge loss (Lim & Ye, 2017), ``loss="hinge"``.
HINGE = AdversarialLoss(
    name="hinge",
    discriminator=lambda d_q, d_p: F.relu(1 - d_q).mean() + F.relu(1 + d_p).mean(),
    generators=lambda d_q, d_p: d_q.mean() - d_p.mean(),
    # Unbounded scores have no accuracy; what D still learns from is the
    # pairs inside its margin (the others give it no gradient). The gap of
    # the mean scores is the adversarial part of g_loss.
    diagnostics=("d_real_in_margin", "d_fake_in_margin"),
    measure=lambda d_q, d_p: torch.stack(
        [(d_q < 1).float().mean(), (d_p > -1).float().mean()]
    ),
    labels=(
        "encoder pairs inside D's margin (score < 1)",
        "decoder pairs inside D's margin (score > -1)",
    ),
    axis_label="share of pairs inside the margin",
)

#: The adversarial losses by name: what the estimators' ``loss`` selects.
LOSSES = MappingProxyType({loss.name: loss for loss in (NON_SATURATING, HINGE)})

#: The players' losses every game records, by name, and what they are (for
#: plots): the discriminator's, the generators', and the cycle term.
LOSS_DIAGNOSTICS = MappingProxyType(
    {
        "d_loss": "discriminator loss",
        "g_loss": "generator loss",
        "recon_loss": "reconstruction loss",
    }
)
_D_LOSS, _G_LOSS, _CYCLE_LOSS = LOSS_DIAGNOSTICS
#: The two players' losses, as the history names them.
PLAYER_LOSSES = (_D_LOSS, _G_LOSS)

#: The two-sample statistic of the latent space every game records, and what
#: it is (for plots): :func:`latent_mmd` of E(x) against prior draws.
LATENT_DIAGNOSTIC = ("latent_mmd", "MMD² of E(x) against the prior N(0, I)")


def _adversarial_loss(name):
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"loss must be one of {sorted(LOSSES)}; got {name!r}."
        ) from None


@dataclass(frozen=True)
class Game:
    """One game: everything the training net needs to play it.

    Attributes
    ----------
    name : str
        A short name, for messages.
    losses : callable
        ``losses(encoder, decoder, discriminator, x, *targets, z_prior,
        **options) -> (d_loss, g_loss, diagnostics)``: both players' scalar
        losses on one batch and the detached diagnostics, in the order
        ``diagnostic_names(**options)`` gives.
    validation_loss : callable
        ``validation_loss(module, x, *targets) -> (loss, y_pred)`` on
        held-out rows, under ``torch.no_grad``: the ``valid_loss``.
    targets : bool
        Whether batches carry targets (class indices or conditions), passed
        after ``x``.
    extra_diagnostics : tuple of str
        Names of the diagnostics after ALI's (the adversarial loss's, then
        ``recon_loss`` and ``latent_mmd``).
    sampler : callable or None
        ``sampler(dataset, batch_size, generator, shard)`` -> the training
        epoch's index lists; None: random batches of ``batch_size`` rows.
        A sampler with an ``n_prior`` attribute makes the first ``n_prior``
        rows of each batch the ones the game pairs with prior draws.
    options : mapping
        The options ``losses`` takes and their defaults; the net passes its
        ``game__<option>`` settings over them.
    """

    name: str
    losses: Callable
    validation_loss: Callable
    targets: bool = False
    extra_diagnostics: tuple = ()
    sampler: Callable | None = None
    # A dict, which pickles (a fitted model's net holds its game).
    options: dict = field(
        default_factory=lambda: {
            "loss": "non_saturating",
            "reconstruction_weight": 0.0,
            "gradient_penalty": 0.0,
        }
    )

    def resolve_options(self, **options):
        """This game's options: the defaults, overridden by ``options``."""
        unknown = options.keys() - self.options.keys()
        if unknown:
            raise ValueError(
                f"The {self.name} game has no options {sorted(unknown)}; it takes "
                f"{sorted(self.options)}."
            )
        resolved = {**self.options, **options}
        _adversarial_loss(resolved["loss"])
        return resolved

    def diagnostic_names(self, **options):
        """Names of the per-batch diagnostics ``losses`` returns, in order."""
        loss = _adversarial_loss(self.resolve_options(**options)["loss"])
        return (
            _D_LOSS,
            _G_LOSS,
            *loss.diagnostics,
            _CYCLE_LOSS,
            LATENT_DIAGNOSTIC[0],
            *self.extra_diagnostics,
        )


def _penalised_inputs(gradient_penalty, *inputs):
    """D's inputs, made differentiable when the penalty needs their gradient.

    Inputs that already carry a graph (the generators' outputs, concatenated
    with data) are kept: their gradient is read off the same forward pass.
    """
    if not gradient_penalty:
        return inputs
    return tuple(
        t if t.requires_grad else t.detach().requires_grad_(True) for t in inputs
    )


def input_gradient_penalty(scores, inputs):
    """Each pair's ``|grad D|²``, D's gradient w.r.t. its ``inputs``; shape (n,).

    ``scores`` are D's per-pair scores, shape (n,); ``inputs`` the tensors
    (x and z) whose rows made them. Pairs are scored independently (D has no
    batch statistics), so the gradient of the scores' sum gives each pair's
    own gradient. The graph is kept, so that the penalty trains D.
    """
    grads = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    return sum(g.float().flatten(1).square().sum(1) for g in grads)


def ali_losses(
    encoder,
    decoder,
    discriminator,
    x,
    z_prior,
    *,
    loss="non_saturating",
    reconstruction_weight=0.0,
    gradient_penalty=0.0,
):
    """ALI's adversarial game on one batch, with the optional ALICE cycle term.

    The discriminator scores pairs from the encoder joint q(x, z) = q(x)q(z|x)
    and the decoder joint p(x, z) = p(z)p(x|z). With logits d_q = D(x, G_z(x))
    and d_p = D(G_x(z), z), and the default non-saturating losses (same fixed
    points as the minimax game, stronger gradients when D saturates):

    - D minimises softplus(-d_q) + softplus(d_p);
    - encoder and decoder minimise softplus(d_q) + softplus(-d_p)
      + reconstruction_weight * ``mean |x - G_x(G_z(x))|``.

    With ``loss="hinge"``, D minimises relu(1 - d_q) + relu(1 + d_p) and the
    generators d_q - d_p (batch means), plus the same cycle term. Real and
    generated pairs go through D as one batch.

    With ``gradient_penalty`` = gamma > 0, D also minimises
    ``gamma / 2 * (E_q |grad D|² + E_p |grad D|²)``, its squared gradient w.r.t.
    its inputs (x, z) at the pairs of both joints: the R1 and R2 penalties
    of Mescheder et al. (2018), which keep D from growing steep where the
    joints differ, so that it cannot read them apart with certainty.

    Parameters
    ----------
    encoder, decoder, discriminator : torch.nn.Module
        G_z (``sample(x) -> (z, mu)``), G_x and D(x, z) -> logits.
    x : Tensor of shape (n, ...)
        A batch of scaled data.
    z_prior : Tensor of shape (n, n_components)
        Draws from the prior N(0, I).
    loss : {"non_saturating", "hinge"}
        The adversarial loss (see :data:`LOSSES`).
    reconstruction_weight : float
        Weight of the cycle term; 0 gives the paper's pure ALI.
    gradient_penalty : float
        Weight gamma of the penalty on D's input gradient; 0: none.

    Returns
    -------
    d_loss, g_loss : Tensor
        Scalar losses of the discriminator and of encoder + decoder.
    diagnostics : Tensor
        Detached, named by ``ALI.diagnostic_names(loss=loss)``.
    """
    n = len(x)
    z_q, _ = encoder.sample(x)  # (n, k)
    x_p = decoder(z_prior)  # (n, ...)
    inputs = _penalised_inputs(
        gradient_penalty, torch.cat([x, x_p]), torch.cat([z_q, z_prior])
    )
    logits = discriminator(*inputs)  # (2n,)
    d_q, d_p = logits.float().split([n, n])
    adversarial = _adversarial_loss(loss)
    d_loss = adversarial.discriminator(d_q, d_p)
    if gradient_penalty:
        # Both joints' means of |grad|² (n pairs each): gamma/2 * (R1 + R2).
        penalty = input_gradient_penalty(logits, inputs)  # (2n,)
        d_loss = d_loss + gradient_penalty * penalty.mean()
    g_loss = adversarial.generators(d_q, d_p)
    recon = torch.zeros((), device=x.device)
    if reconstruction_weight > 0:
        recon = reconstruction_error(decoder(z_q), x)
        g_loss = g_loss + reconstruction_weight * recon
    diagnostics = game_diagnostics(
        adversarial, d_loss, g_loss, d_q, d_p, recon, z_q, z_prior
    )
    return d_loss, g_loss, diagnostics


def semi_supervised_losses(
    encoder,
    decoder,
    discriminator,
    x,
    y,
    z_prior,
    *,
    loss="non_saturating",
    reconstruction_weight=0.0,
    gradient_penalty=0.0,
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
      encoder pairs and the decoder pairs (ALI's game on r; the hinge game
      on r with ``loss="hinge"``), plus the
      cross-entropy of the K real-class logits of the labelled rows:
      -log p(y | x, z, real). The two add up to the K+1-class cross-entropy
      the paper states for labelled pairs, -log softmax(l)_y;
    - encoder and decoder play the adversarial game on r alone,
      softplus(r_q) + softplus(-r_p), plus ALI's cycle term
      reconstruction_weight * ``mean |x - G_x(G_z(x))|``.

    ``gradient_penalty`` penalises D's gradient of r w.r.t. (x, z) at the
    game's pairs as in :func:`ali_losses`.

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
    loss : {"non_saturating", "hinge"}
        The adversarial loss (see :data:`LOSSES`).
    reconstruction_weight : float
        Weight of the cycle term.
    gradient_penalty : float
        Weight gamma of the penalty on D's input gradient; 0: none.

    Returns
    -------
    d_loss, g_loss : Tensor
        Scalar losses of the discriminator and of encoder + decoder.
    diagnostics : Tensor
        Detached, named by ``SEMI_SUPERVISED.diagnostic_names(loss=loss)``;
        ``class_loss`` is 0 for a batch without labelled rows.
    """
    n, m = len(x), len(z_prior)
    z_q, _ = encoder.sample(x)  # (n, k)
    x_p = decoder(z_prior)  # (m, ...)
    inputs = _penalised_inputs(
        gradient_penalty, torch.cat([x, x_p]), torch.cat([z_q, z_prior])
    )
    logits = discriminator(*inputs)  # (n + m, K + 1)
    l_q, l_p = logits.float().split([n, m])  # (n, K + 1), (m, K + 1)
    r_q = _real_log_odds(l_q[:m])  # (m,)
    r_p = _real_log_odds(l_p)  # (m,)
    adversarial = _adversarial_loss(loss)
    # Masked rather than indexed: no host synchronisation on a GPU.
    labelled = (y >= 0).float()  # (n,)
    per_row = F.cross_entropy(l_q[:, :-1], y.clamp(min=0), reduction="none")  # (n,)
    class_loss = (per_row * labelled).sum() / labelled.sum().clamp(min=1)
    d_loss = adversarial.discriminator(r_q, r_p) + class_loss
    if gradient_penalty:
        # The game's pairs only: extra labelled rows play no adversarial part.
        penalty = input_gradient_penalty(torch.cat([r_q, r_p]), inputs)  # (n + m,)
        d_loss = (
            d_loss + gradient_penalty * torch.cat([penalty[:m], penalty[n:]]).mean()
        )
    g_loss = adversarial.generators(r_q, r_p)
    recon = torch.zeros((), device=x.device)
    if reconstruction_weight > 0:
        recon = reconstruction_error(decoder(z_q[:m]), x[:m])
        g_loss = g_loss + reconstruction_weight * recon
    diagnostics = game_diagnostics(
        adversarial, d_loss, g_loss, r_q, r_p, recon, z_q[:m], z_prior
    )
    return d_loss, g_loss, torch.cat([diagnostics, class_loss.detach().reshape(1)])


def conditional_losses(
    encoder,
    decoder,
    discriminator,
    x,
    y,
    z_prior,
    *,
    loss="non_saturating",
    reconstruction_weight=0.0,
    gradient_penalty=0.0,
):
    """Conditional ALI (paper section 4.4): ALI's game given an observed y.

    The encoder joint q(x, z | y) = q(x | y) q(z | x, y) and the decoder
    joint p(x, z | y) = p(z) p(x | z, y) are matched for the y of each row:
    encoder pairs (x, G_z(x, y)) and decoder pairs (G_x(z, y), z) share the
    batch's conditions, so the discriminator D(x, z, y) compares the two
    joints condition by condition. Losses as in :func:`ali_losses` (shown
    for the default ``loss``):

    - D minimises softplus(-d_q) + softplus(d_p);
    - encoder and decoder minimise softplus(d_q) + softplus(-d_p)
      + reconstruction_weight * ``mean |x - G_x(G_z(x, y), y)|``;
    - with ``gradient_penalty`` > 0, D's gradient w.r.t. (x, z), not the
      observed y, is penalised as in :func:`ali_losses`.

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
    loss : {"non_saturating", "hinge"}
        The adversarial loss (see :data:`LOSSES`).
    reconstruction_weight : float
        Weight of the cycle term.
    gradient_penalty : float
        Weight gamma of the penalty on D's input gradient; 0: none.

    Returns
    -------
    d_loss, g_loss : Tensor
        Scalar losses of the discriminator and of encoder + decoder.
    diagnostics : Tensor
        Detached, named by ``ALI.diagnostic_names(loss=loss)``.
    """
    n = len(x)
    z_q, _ = encoder.sample(x, y)  # (n, k)
    x_p = decoder(z_prior, y)  # (n, ...)
    inputs = _penalised_inputs(
        gradient_penalty, torch.cat([x, x_p]), torch.cat([z_q, z_prior])
    )
    logits = discriminator(*inputs, torch.cat([y, y]))  # (2n,)
    d_q, d_p = logits.float().split([n, n])  # (n,), (n,)
    adversarial = _adversarial_loss(loss)
    d_loss = adversarial.discriminator(d_q, d_p)
    if gradient_penalty:
        penalty = input_gradient_penalty(logits, inputs)  # (2n,)
        d_loss = d_loss + gradient_penalty * penalty.mean()
    g_loss = adversarial.generators(d_q, d_p)
    recon = torch.zeros((), device=x.device)
    if reconstruction_weight > 0:
        recon = reconstruction_error(decoder(z_q, y), x)
        g_loss = g_loss + reconstruction_weight * recon
    diagnostics = game_diagnostics(
        adversarial, d_loss, g_loss, d_q, d_p, recon, z_q, z_prior
    )
    return d_loss, g_loss, diagnostics


def _real_log_odds(logits):
    """log p(real) - log p(generated) from (n, K + 1) logits; shape (n,)."""
    return torch.logsumexp(logits[:, :-1], dim=1) - logits[:, -1]


# Codes per side of a batch's latent_mmd: its cost grows with the square of
# the rows, and a batch's rows are a random draw, so the first ones suffice.
_MMD_ROWS = 256


def game_diagnostics(adversarial, d_loss, g_loss, d_q, d_p, recon, z_q, z_prior):
    """ALI's diagnostics of a batch, detached, in ``Game.diagnostic_names``'
    order: the losses, the adversarial loss's measures of D's scores, the
    cycle term and :func:`latent_mmd` of the encoder's codes and the prior's
    (of the first 256 of each, in larger batches).

    ``adversarial`` is an :class:`AdversarialLoss`; ``d_q``, ``d_p`` D's
    scores of the encoder and decoder pairs; ``recon`` the cycle term;
    ``z_q`` and ``z_prior`` the codes of both joints.
    """
    return torch.cat(
        [
            torch.stack([d_loss.detach(), g_loss.detach()]),
            adversarial.measure(d_q, d_p),
            recon.detach().reshape(1),
            latent_mmd(z_q[:_MMD_ROWS], z_prior[:_MMD_ROWS]).reshape(1),
        ]
    )


def latent_mmd(z_q, z_prior):
    """Unbiased MMD² between codes of the data and draws of the prior N(0, I).

    The kernel is Gaussian with a fixed bandwidth, ``exp(-|a - b|² / (2k))``
    for codes of ``k`` dimensions: the typical distance between two prior
    draws, so that values compare across epochs and models. An encoder whose
    codes E(x) are distributed as the prior gives values about 0 (the
    estimate is unbiased, so batches scatter around 0, below it too); codes
    gathered in small clusters or far from the origin give values up to 2.
    Computed detached, under no gradient.
    """
    with torch.no_grad():
        a, b = z_q.detach().float(), z_prior.detach().float()
        n, m, k = len(a), len(b), a.shape[1]
        if n < 2 or m < 2:
            return torch.zeros((), device=a.device)

        def mean_kernel(u, v, same):
            gram = torch.exp(-torch.cdist(u, v).square() / (2 * k))
            if not same:
                return gram.mean()
            # Unbiased: without the diagonal, whose kernel values are 1.
            return (gram.sum() - len(u)) / (len(u) * (len(u) - 1))

        return (
            mean_kernel(a, a, True)
            + mean_kernel(b, b, True)
            - 2 * mean_kernel(a, b, False)
        )


def reconstruction_error(x_hat, x):
    """Mean absolute error between data and reconstructions, in scaled units."""
    return (x_hat.float() - x).abs().mean()


def class_logits(module, x):
    """The K real-class logits of D(x, mu(x)), shape (n, K)."""
    return module.discriminator(x, module.encoder.mean(x))[:, :-1]


def ali_validation_loss(module, x):
    """Reconstruction error of held-out rows through mu; ``(loss, mu)``.

    It measures how much of x the latent mean carries, which is what the
    features are for (see the user guide for its relation to feature
    quality); the adversarial losses say who is winning, not how well.
    """
    mu = module.encoder.mean(x)  # (n, k)
    return reconstruction_error(module.decoder(mu), x), mu.float()


def semi_supervised_validation_loss(module, x, y):
    """Cross-entropy of held-out labelled rows' class logits; ``(loss, logits)``."""
    logits = class_logits(module, x).float()  # (n, K)
    return F.cross_entropy(logits, y), logits


def conditional_validation_loss(module, x, y):
    """Reconstruction error of held-out rows given their conditions; ``(loss, mu)``."""
    mu = module.encoder.mean(x, y)  # (n, k)
    return reconstruction_error(module.decoder(mu, y), x), mu.float()


#: ALI (and ALICE with a cycle weight): :class:`~sklearn_ali.ALITransformer`.
ALI = Game("ALI", ali_losses, ali_validation_loss)

#: ALI with labels in D: :class:`~sklearn_ali.ALIClassifier`. Training batches
#: carry class indices (-1 unlabelled) and, when few rows are labelled,
#: extra labelled rows after the pool rows (see ``labelled_batches``).
SEMI_SUPERVISED = Game(
    "semi-supervised ALI",
    semi_supervised_losses,
    semi_supervised_validation_loss,
    targets=True,
    extra_diagnostics=("class_loss",),
    sampler=labelled_batches,
)

#: Conditional ALI: :class:`~sklearn_ali.ConditionalALI`. Batches carry the
#: condition vectors, shape (n, n_conditions).
CONDITIONAL = Game(
    "conditional ALI",
    conditional_losses,
    conditional_validation_loss,
    targets=True,
)
