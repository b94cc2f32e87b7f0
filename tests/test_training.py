"""The skorch training net: adversarial step, divergence guard, stability."""

import copy

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from skorch.callbacks import Callback

from sklearn_ali import ALINet, ALITransformer, TrainingDivergedError
from sklearn_ali._batches import RowBatches
from sklearn_ali._training import ALIModule
from sklearn_ali.networks import SpectralNorm, build_mlp
from sklearn_ali.objectives import ALI, ali_losses


class PoisonAtEpoch(Callback):
    """Sets the encoder's weights to NaN when epoch ``epoch`` begins."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            with torch.no_grad():
                for p in net.encoder_.parameters():
                    p.fill_(float("nan"))


class RememberWeights(Callback):
    def on_epoch_end(self, net, **kwargs):
        self.weights_ = copy.deepcopy(net.encoder_.state_dict())


def test_nan_stops_training_naming_the_epoch_and_keeps_last_good_weights(
    digits_flat, tiny
):
    remember = RememberWeights()
    ali = ALITransformer(
        callbacks=[remember, PoisonAtEpoch(3)], random_state=0, **tiny
    ).set_params(max_epochs=6)
    with pytest.raises(TrainingDivergedError, match="epoch 3") as excinfo:
        ali.fit(digits_flat)
    assert "weights after epoch 2" in str(excinfo.value)
    kept = dict(ali.net_.callbacks_)["RememberWeights"].weights_
    for name, value in ali.encoder_.state_dict().items():
        # kept was copied on the training device; fit moves the model to the CPU.
        torch.testing.assert_close(value, kept[name].cpu(), msg=name)
    # The restored model is usable. It has no mixture of training codes (fit
    # fits one after training), and sample draws from the prior.
    assert np.isfinite(ali.transform(digits_flat)).all()
    assert len(ali.history_) == 3
    assert not hasattr(ali, "code_mixture_")
    with pytest.raises(ValueError, match='codes="mixture" needs the mixture'):
        ali.sample(3, codes="mixture")
    assert np.isfinite(ali.sample(3, random_state=0, codes="prior")).all()


def test_nan_in_first_epoch_restores_initial_weights(digits_flat, tiny):
    ali = ALITransformer(callbacks=[PoisonAtEpoch(1)], random_state=0, **tiny)
    with pytest.raises(TrainingDivergedError, match="weights of initialisation"):
        ali.fit(digits_flat)
    assert np.isfinite(ali.transform(digits_flat)).all()


def _net(**kwargs):
    torch.manual_seed(0)
    return ALINet(
        ALIModule(*build_mlp(6, 2, (8,))),
        n_components=2,
        max_epochs=2,
        batch_size=10,
        verbose=0,
        **kwargs,
    )


def test_net_holds_one_module_and_a_param_group_per_player():
    net = _net(lr=1e-3, optimizer_d__lr=5e-4).initialize()
    assert net._modules == ["module"] and net._optimizers == ["optimizer"]
    groups = {g["player"]: g for g in net.optimizer_.param_groups}
    assert {id(p) for p in groups["generators"]["params"]} == {
        id(p) for m in (net.encoder_, net.decoder_) for p in m.parameters()
    }
    assert {id(p) for p in groups["discriminator"]["params"]} == {
        id(p) for p in net.discriminator_.parameters()
    }
    assert groups["generators"]["lr"] == 1e-3
    assert groups["discriminator"]["lr"] == 5e-4


def test_train_step_moves_each_player_against_the_other():
    net = _net(lr=1e-2).initialize()
    x = torch.randn(10, 6)
    before = {
        name: [p.detach().clone() for p in getattr(net, name).parameters()]
        for name in ("encoder_", "decoder_", "discriminator_")
    }
    step = net.train_step((x, None))
    assert step["diagnostics"].shape == (len(ALI.diagnostic_names()),)
    for name, old in before.items():
        new = list(getattr(net, name).parameters())
        assert any(not torch.equal(a, b) for a, b in zip(old, new)), name

    # The discriminator's loss goes down under its own updates alone.
    optimizer = torch.optim.Adam(net.discriminator_.parameters(), lr=1e-2)

    def d_loss():
        torch.manual_seed(1)  # the same noise and dropout masks each time
        z = torch.randn(10, 2)
        return ali_losses(
            net.encoder_,
            net.decoder_,
            net.discriminator_,
            x,
            z,
            reconstruction_weight=0.0,
        )[0]

    d_before = d_loss().item()
    for _ in range(20):
        optimizer.zero_grad()
        d_loss().backward()
        optimizer.step()
    assert d_loss().item() < d_before


def test_fit_on_tensor_batches_records_history():
    net = _net(lr=1e-3)
    net.fit(RowBatches(torch.randn(30, 6)), None)
    assert len(net.history) == 2
    assert len(net.history[-1, "batches"]) == 3
    assert np.isfinite(net.history[-1, "d_loss"])
    row = net.history[-1]
    assert row["train_loss"] == pytest.approx(row["d_loss"] + row["g_loss"])


def test_spectral_norm_bounds_the_layer_norm():
    torch.manual_seed(0)
    layer = SpectralNorm(torch.nn.Linear(20, 30))
    layer.layer.weight.data.mul_(10)
    for _ in range(50):  # power iterations converge during training
        layer(torch.randn(4, 20))
    layer.eval()
    w = layer.layer.weight / torch.dot(layer.u, layer.layer.weight @ layer.v)
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, rel=1e-3)


def test_default_training_is_balanced_on_digits():
    """With the defaults on all 1,797 digits, neither player wins and nothing
    is NaN (measured on two seeds: D right on 0.61-0.66 of each joint's pairs
    in the last three epochs, d_loss 1.27-1.28, where log 4 = 1.39 is an even
    game). On a couple of hundred digits D memorises the pairs whatever the
    settings."""
    X = load_digits().images[:, None]
    ali = ALITransformer(n_components=16, random_state=0).fit(X)
    last = ali.history_[-1]
    assert np.isfinite(ali.history_[:, "d_loss"]).all()
    assert last["d_real_acc"] < 0.85 and last["d_fake_acc"] < 0.85
    assert last["d_loss"] > 1.0


def test_fitted_model_does_not_carry_weight_snapshots(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    assert dict(ali.net_.callbacks_)["divergence_guard"].snapshot_ is None
