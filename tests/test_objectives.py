"""The games as values: their losses, diagnostics, options and the loss choice."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError
from test_classifier import _Fixed

from sklearn_ali import ALIClassifier, ALITransformer, ConditionalALI, io
from sklearn_ali.objectives import (
    ALI,
    CONDITIONAL,
    HINGE,
    LOSSES,
    NON_SATURATING,
    SEMI_SUPERVISED,
    ali_losses,
    conditional_losses,
    semi_supervised_losses,
)

HINGE_KEYS = ("d_real_in_margin", "d_fake_in_margin")


def _losses(scores, loss, reconstruction_weight=0.0):
    n = len(scores) // 2
    return ali_losses(
        _Fixed(torch.zeros(n, 2)),
        _Fixed(torch.zeros(n, 3)),
        _Fixed(scores),
        torch.ones(n, 3),
        torch.zeros(n, 2),
        loss=loss,
        reconstruction_weight=reconstruction_weight,
    )


def test_the_hinge_game_is_a_margin_critic():
    d_q, d_p = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 0.0, 1.0])
    d_loss, g_loss, diagnostics = _losses(torch.cat([d_q, d_p]), "hinge", 0.5)
    # D: encoder pairs above +1, decoder pairs below -1; only pairs inside
    # the margin cost anything.
    expected_d = torch.tensor([0.0, 0.5, 2.0]).mean() + torch.tensor([0, 1, 2.0]).mean()
    torch.testing.assert_close(d_loss, expected_d)
    # Generators: the gap of the mean scores, plus the cycle term (|0 - 1|).
    torch.testing.assert_close(g_loss, d_q.mean() - d_p.mean() + 0.5 * 1.0)
    names = ALI.diagnostic_names(loss="hinge")
    assert names == ("d_loss", "g_loss", *HINGE_KEYS, "recon_loss", "latent_mmd")
    values = dict(zip(names, diagnostics.tolist()))
    assert values["d_real_in_margin"] == pytest.approx(2 / 3)  # 0.5 and -1
    assert values["d_fake_in_margin"] == pytest.approx(2 / 3)  # 0 and 1
    assert values["recon_loss"] == pytest.approx(1.0)


def test_the_non_saturating_game_is_the_papers():
    d_q, d_p = torch.tensor([2.0, -0.5]), torch.tensor([-1.0, 0.5])
    d_loss, g_loss, diagnostics = _losses(torch.cat([d_q, d_p]), "non_saturating")
    softplus = torch.nn.functional.softplus
    torch.testing.assert_close(d_loss, softplus(-d_q).mean() + softplus(d_p).mean())
    torch.testing.assert_close(g_loss, softplus(d_q).mean() + softplus(-d_p).mean())
    names = ALI.diagnostic_names()
    assert names[:5] == ("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "recon_loss")
    assert names[5:] == ("latent_mmd",)
    values = dict(zip(names, diagnostics.tolist()))
    assert values["d_real_acc"] == 0.5 and values["d_fake_acc"] == 0.5


def test_each_game_names_its_diagnostics_once():
    assert LOSSES == {"non_saturating": NON_SATURATING, "hinge": HINGE}
    assert SEMI_SUPERVISED.diagnostic_names(loss="hinge")[-1] == "class_loss"
    assert CONDITIONAL.diagnostic_names() == ALI.diagnostic_names()
    with pytest.raises(ValueError, match=r"no options \['criterion'\]"):
        ALI.resolve_options(criterion=None)
    with pytest.raises(ValueError, match="loss must be one of"):
        ALI.diagnostic_names(loss="wasserstein")


@pytest.mark.parametrize("cls", [ALITransformer, ALIClassifier, ConditionalALI])
def test_every_estimator_refuses_an_unknown_loss(cls, digits_flat, tiny):
    X = digits_flat[:40]
    y = np.arange(40) % 3
    with pytest.raises(InvalidParameterError, match="'loss' parameter"):
        cls(loss="wasserstein", **tiny).fit(X, y)


def _digits_split():
    data = load_digits()
    order = np.random.RandomState(0).permutation(len(data.target))
    return data.images[:, None], data.target, order[:400], order[400:]


def test_the_hinge_game_learns_digits():
    """Seconds of the hinge game, with no cycle term, pull the decoder's
    samples towards the data: their mean image and pixel spread approach
    held-out digits' far more than the same networks' untrained samples
    (measured: 1.8 against 7.0, the default game 1.9)."""
    X, _, test, pool = _digits_split()
    ali = ALITransformer(
        loss="hinge",
        reconstruction_weight=0.0,
        n_components=16,
        max_epochs=15,
        learning_rate=1e-3,
        random_state=0,
    )
    untrained = clone(ali).set_params(max_epochs=1, learning_rate=1e-30)

    def distance(model):
        samples = model.fit(X[pool]).sample(400, random_state=0)
        return (
            np.abs(samples.mean(0) - X[test].mean(0)).mean()
            + np.abs(samples.std(0) - X[test].std(0)).mean()
        )

    chance = distance(untrained)
    learned = distance(ali)
    assert np.isfinite(ali.history_[:, "d_loss"]).all()
    assert learned < 0.5 * chance, (learned, chance)


@pytest.mark.parametrize("cls", [ALITransformer, ALIClassifier, ConditionalALI])
def test_the_hinge_game_round_trips_through_io(cls, tmp_path, digits_flat, tiny):
    X = digits_flat[:120]
    y = np.where(np.arange(120) < 60, np.arange(120) % 10, -1)
    if cls is ConditionalALI:
        y = np.arange(120) % 10
    model = cls(loss="hinge", random_state=0, **tiny).fit(X, y)
    assert set(HINGE_KEYS) <= set(model.history_[-1])
    assert "d_real_acc" not in model.history_[-1]
    io.dump(model, tmp_path / "model.safetensors", include_optimizer=True)
    loaded = io.load(tmp_path / "model.safetensors")
    assert loaded.loss == "hinge"
    assert loaded.net_.game_options["loss"] == "hinge"
    args = (X, y) if cls is ConditionalALI else (X,)
    np.testing.assert_array_equal(loaded.encode(*args), model.encode(*args))
    # Training goes on in the same game.
    loaded.set_params(warm_start=True).fit(X, y)
    assert set(HINGE_KEYS) <= set(loaded.history_[-1])


def test_the_latent_statistic_tells_the_prior_from_clustered_codes():
    """latent_mmd, in every history, is about 0 for codes drawn as the prior
    and large for codes gathered in a few tight clusters."""
    from sklearn_ali.objectives import latent_mmd

    g = torch.Generator().manual_seed(0)
    prior = torch.randn(200, 8, generator=g)
    matched = latent_mmd(torch.randn(200, 8, generator=g), prior)
    centres = 3 * torch.randn(5, 8, generator=g)
    clustered = centres.repeat(40, 1) + 0.01 * torch.randn(200, 8, generator=g)
    mismatched = latent_mmd(clustered, prior)
    assert abs(float(matched)) < 0.02
    assert float(mismatched) > 0.3
    assert float(latent_mmd(prior[:1], prior)) == 0.0  # one code: no estimate


def test_every_history_records_the_latent_statistic(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    values = ali.history_[:, "latent_mmd"]
    assert len(values) == tiny["max_epochs"] and np.isfinite(values).all()


class _Linear(torch.nn.Module):
    """D(x, z[, y]) = a.x + b.z (+ c.y): its input gradient is (a, b) everywhere."""

    def __init__(self, n_x, n_z, n_y=0, n_outputs=None):
        super().__init__()
        shape = () if n_outputs is None else (n_outputs,)
        g = torch.Generator().manual_seed(0)
        self.a = torch.nn.Parameter(torch.randn(n_x, *shape, generator=g))
        self.b = torch.nn.Parameter(torch.randn(n_z, *shape, generator=g))
        self.c = torch.randn(n_y, *shape, generator=g)

    def forward(self, x, z, y=None):
        out = torch.tensordot(x, self.a, 1) + torch.tensordot(z, self.b, 1)
        return out if y is None else out + torch.tensordot(y, self.c, 1)


class _Encoder(torch.nn.Module):
    """z = W x: encoder codes that carry a graph, as a trained encoder's do."""

    def __init__(self, n_x, n_z):
        super().__init__()
        self.w = torch.nn.Linear(n_x, n_z)

    def sample(self, x, y=None):
        z = self.w(x)
        return z, z


class _Decoder(torch.nn.Linear):
    def forward(self, z, y=None):
        return super().forward(z)


@pytest.mark.parametrize("game", ["ali", "conditional"])
def test_the_gradient_penalty_is_gamma_times_d_s_squared_input_gradient(game):
    """gamma / 2 * (R1 + R2): with a linear D, whose gradient w.r.t. (x, z) is
    (a, b) at every pair, the penalty adds gamma * (|a|² + |b|²) to D's loss,
    and nothing to the generators'; the observed condition y is not
    penalised."""
    n, n_x, n_z = 5, 3, 2
    x = torch.rand(n, n_x)
    z_prior = torch.randn(n, n_z)
    decoder, encoder = _Decoder(n_z, n_x), _Encoder(n_x, n_z)
    if game == "ali":
        D, losses, targets = _Linear(n_x, n_z), ali_losses, ()
    else:
        D, losses = _Linear(n_x, n_z, 4), conditional_losses
        targets = (torch.eye(4)[torch.arange(n) % 4],)
    plain = losses(encoder, decoder, D, x, *targets, z_prior)
    penalised = losses(encoder, decoder, D, x, *targets, z_prior, gradient_penalty=3.0)
    expected = 3.0 * (D.a.square().sum() + D.b.square().sum())
    torch.testing.assert_close(penalised[0] - plain[0], expected)
    torch.testing.assert_close(penalised[1], plain[1])
    # The penalty trains D: its gradient reaches D's weights (2 * gamma * a).
    grad_plain = torch.autograd.grad(plain[0], D.a)[0]
    grad_penalised = torch.autograd.grad(penalised[0], D.a)[0]
    torch.testing.assert_close(grad_penalised - grad_plain, 6.0 * D.a)


def test_the_semi_supervised_penalty_reads_the_games_pairs_only():
    """Extra labelled rows after the pool enter the class loss alone: adding
    them leaves the penalty as it was."""
    m, n_x, n_z, k = 4, 3, 2, 3
    torch.manual_seed(0)
    D = _Linear(n_x, n_z, n_outputs=k + 1)
    # r = logsumexp(l_1..l_K) - l_K+1 is not linear: its gradient varies by pair.
    D.a.data = torch.randn(n_x, k + 1)
    encoder, decoder = _Encoder(n_x, n_z), _Decoder(n_z, n_x)
    x, extra = torch.rand(m, n_x), torch.rand(3, n_x)
    y, z_prior = torch.tensor([0, -1, 1, -1]), torch.randn(m, n_z)
    y_extra = torch.tensor([2, 0, 1])

    def penalty(x, y):
        plain = semi_supervised_losses(encoder, decoder, D, x, y, z_prior)
        penalised = semi_supervised_losses(
            encoder, decoder, D, x, y, z_prior, gradient_penalty=1.0
        )
        return penalised[0] - plain[0]

    alone = penalty(x, y)
    with_extras = penalty(torch.cat([x, extra]), torch.cat([y, y_extra]))
    assert alone > 0
    torch.testing.assert_close(with_extras, alone)


def _input_gradient(model, X):
    """Mean |grad D(x, mu(x))|² over data pairs, in eval mode."""
    module = model.net_.module_.eval()
    x = model.network_input(X).requires_grad_(True)
    z = module.encoder.mean(x).detach().requires_grad_(True)
    gx, gz = torch.autograd.grad(module.discriminator(x, z).sum(), [x, z])
    return float((gx.flatten(1).square().sum(1) + gz.square().sum(1)).mean())


def test_the_gradient_penalty_flattens_the_discriminator():
    """What the option is for: a discriminator trained under the penalty is
    flatter on the data than one trained without it (measured: |grad|² 0.001
    against 1.3)."""
    X, _, test, pool = _digits_split()
    params = dict(n_components=16, max_epochs=5, learning_rate=1e-3, random_state=0)
    plain = ALITransformer(**params).fit(X[pool])
    penalised = ALITransformer(gradient_penalty=10.0, **params).fit(X[pool])
    assert _input_gradient(penalised, X[test]) < 0.1 * _input_gradient(plain, X[test])
    assert np.isfinite(penalised.history_[:, "d_loss"]).all()
