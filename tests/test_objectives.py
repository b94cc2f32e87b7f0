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
