"""The public network contract: builders, the preset registry, the modules."""

import math

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from torch import nn

from sklearn_ali import ALIClassifier, ALITransformer, io, networks
from sklearn_ali.networks import (
    ARCHITECTURES,
    Decoder,
    Encoder,
    JointDiscriminator,
    build_celeba,
    build_cifar10,
    build_conv,
    build_mlp,
    build_svhn,
    check_networks,
)

# Each preset with an input shape it accepts and small sizes.
PRESETS = {
    "mlp": ((10,), {"hidden_layer_sizes": (16, 8)}),
    "conv": ((1, 12, 12), {"width": 4}),
    "svhn": ((3, 32, 32), {}),
    "cifar10": ((3, 32, 32), {}),
    "celeba": ((3, 64, 64), {}),
}


def test_registry_lists_the_presets():
    assert {
        "mlp": build_mlp,
        "conv": build_conv,
        "svhn": build_svhn,
        "cifar10": build_cifar10,
        "celeba": build_celeba,
    } == ARCHITECTURES
    options = ALITransformer._parameter_constraints["architecture"][0].options
    assert options == {"auto", *ARCHITECTURES}


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("n_outputs", [None, 1, 3])
def test_builders_honour_the_contract(name, n_outputs):
    shape, options = PRESETS[name]
    if n_outputs is not None:
        options = {**options, "n_outputs": n_outputs}
    torch.manual_seed(0)
    encoder, decoder, discriminator = ARCHITECTURES[name](shape, 5, **options)
    assert isinstance(encoder, Encoder)
    assert isinstance(decoder, Decoder)
    assert isinstance(discriminator, JointDiscriminator)
    x = torch.rand(4, *shape)
    with torch.no_grad():
        z = encoder.sample(x)[0]
        assert z.shape == (4, 5)
        assert decoder(z).shape == x.shape
        logits = discriminator(x, z)
    assert logits.shape == ((4, 3) if n_outputs == 3 else (4,))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_one_output_is_the_default_network(name):
    # n_outputs=1 builds, weight for weight, what the builders built before
    # they took it, so saved models keep loading.
    shape, options = PRESETS[name]
    torch.manual_seed(0)
    default = ARCHITECTURES[name](shape, 5, **options)
    torch.manual_seed(0)
    explicit = ARCHITECTURES[name](shape, 5, n_outputs=1, **options)
    for a, b in zip(default, explicit, strict=True):
        a_state, b_state = a.state_dict(), b.state_dict()
        assert list(a_state) == list(b_state)
        for key in a_state:
            torch.testing.assert_close(a_state[key], b_state[key], rtol=0, atol=0)


def test_decoder_parameters_keep_sequential_names():
    decoder = build_mlp(6, 2, (8,))[1]
    reference = torch.nn.Sequential(*decoder)
    assert list(decoder.state_dict()) == list(reference.state_dict())


# -- networks of one's own ------------------------------------------------------


def tiny_builder(
    input_shape, n_components, *, stochastic, dropout, spectral_norm, n_outputs
):
    """A user's own networks: one hidden layer each, any input shape."""
    n_in = math.prod(input_shape)
    head = nn.Linear(32, n_components * (2 if stochastic else 1))
    blocks = [nn.Sequential(nn.Flatten(), nn.Linear(n_in, 32), nn.ReLU())]
    encoder = Encoder(blocks, head, n_components, stochastic)
    decoder = Decoder(nn.Linear(n_components, n_in), nn.Unflatten(1, input_shape))
    joint = nn.Sequential(
        nn.Dropout(dropout), nn.Linear(n_in + n_components, 32), nn.LeakyReLU(0.2)
    )
    joint.append(nn.Linear(32, n_outputs))
    discriminator = JointDiscriminator(nn.Flatten(), nn.Identity(), joint, n_outputs)
    return encoder, decoder, discriminator


def single_logit_builder(input_shape, n_components, **options):
    """Breaks the contract for a classifier: ignores n_outputs."""
    return tiny_builder(input_shape, n_components, **{**options, "n_outputs": 1})


@pytest.mark.parametrize("images", [False, True])
def test_transformer_trains_networks_of_ones_own(images):
    X = load_digits().data[:200]
    if images:
        X = X.reshape(-1, 1, 8, 8)
    ali = ALITransformer(
        architecture=tiny_builder, n_components=4, max_epochs=2, random_state=0
    )
    Z = ali.fit(X).transform(X)
    assert ali.architecture_ is tiny_builder
    assert isinstance(ali.encoder_.blocks[0][1], nn.Linear)
    # hidden features: the one hidden layer (32) and mu (4)
    assert Z.shape == (200, 36)
    assert ali.inverse_transform(Z).shape == X.shape
    again = clone(ali).fit(X).transform(X)
    np.testing.assert_array_equal(Z, again)


def test_classifier_trains_networks_of_ones_own_and_persists_with_joblib(tmp_path):
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300].copy()
    y[::2] = -1
    clf = ALIClassifier(architecture=tiny_builder, max_epochs=2, random_state=0)
    clf.fit(X, y)
    assert clf.discriminator_.n_outputs == 11
    proba = clf.predict_proba(X)
    joblib.dump(clf, tmp_path / "clf.joblib")
    loaded = joblib.load(tmp_path / "clf.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)
    with pytest.raises(ValueError, match="stores architectures by name.*joblib"):
        io.dump(clf, tmp_path / "clf")
    assert not (tmp_path / "clf").exists()


def test_a_builder_breaking_the_contract_is_named_before_training():
    X, y = load_digits(return_X_y=True)
    clf = ALIClassifier(architecture=single_logit_builder, max_epochs=1)
    with pytest.raises(ValueError, match=r"discriminator\(x, z\) must have shape"):
        clf.fit(X[:50], y[:50])
    assert not hasattr(clf, "net_")


@pytest.mark.parametrize(
    "networks, error, match",
    [
        (lambda nets: nets[:2], TypeError, r"must return \(encoder, decoder"),
        (
            lambda nets: (nn.Linear(64, 4), *nets[1:]),
            TypeError,
            "encoder must be a sklearn_ali.networks.Encoder",
        ),
        (
            lambda nets: (nets[0], "decoder", nets[2]),
            TypeError,
            "decoder must be a torch.nn.Module; got str",
        ),
        (
            lambda nets: (nets[0], Decoder(nn.Linear(4, 64)), nets[2]),
            ValueError,
            r"decoder\(z\) must have shape \(2, 1, 8, 8\); got shape \(2, 64\)",
        ),
    ],
)
def test_check_networks_names_what_breaks_the_contract(networks, error, match):
    nets = tiny_builder(
        (1, 8, 8), 4, stochastic=True, dropout=0.0, spectral_norm=False, n_outputs=1
    )
    with pytest.raises(error, match=match):
        check_networks(networks(nets), (1, 8, 8), 4)


def test_check_networks_wants_the_encoder_asked_for_and_keeps_modes():
    nets = tiny_builder(
        (10,), 3, stochastic=False, dropout=0.5, spectral_norm=False, n_outputs=1
    )
    with pytest.raises(ValueError, match="asked for a stochastic encoder"):
        check_networks(nets, (10,), 3)
    nets[2].eval()
    check_networks(nets, (10,), 3, stochastic=False)
    assert [net.training for net in nets] == [True, True, False]


# -- the paper's tables, layer by layer -------------------------------------------


def _layers(module, kind):
    """(in, out, kernel, stride) of each layer of a kind, in order."""
    out = []
    for layer in module.modules():
        if isinstance(layer, kind):
            if isinstance(layer, nn.Linear):
                out.append((layer.in_features, layer.out_features))
            else:
                out.append(
                    (layer.in_channels, layer.out_channels, *layer.kernel_size[:1])
                    + layer.stride[:1]
                )
    return out


def test_cifar10_preset_follows_the_papers_table():
    encoder, decoder, disc = build_cifar10((3, 32, 32), 64)
    # G_z and G_x: the SVHN table with a 64-d latent, leaky slope 0.1
    assert _layers(encoder, nn.Conv2d) == [
        (3, 32, 5, 1),
        (32, 64, 4, 2),
        (64, 128, 4, 1),
        (128, 256, 4, 2),
        (256, 512, 4, 1),
        (512, 512, 1, 1),
        (512, 128, 1, 1),  # mu and sigma of 64 dimensions
    ]
    assert _layers(decoder, nn.ConvTranspose2d) == [
        (64, 256, 4, 1),
        (256, 128, 4, 2),
        (128, 64, 4, 1),
        (64, 32, 4, 2),
        (32, 32, 5, 1),
    ]
    slopes = {
        m.negative_slope for m in encoder.modules() if isinstance(m, nn.LeakyReLU)
    }
    assert slopes == {0.1}
    # D: maxout with 2 pieces (twice the channels), no batch norm
    assert _layers(disc.x_branch, nn.Conv2d) == [
        (3, 64, 5, 1),
        (32, 128, 4, 2),
        (64, 256, 4, 1),
        (128, 512, 4, 2),
        (256, 1024, 4, 1),
    ]
    assert _layers(disc.z_branch, nn.Linear) == [(64, 1024), (512, 1024)]
    assert _layers(disc.joint, nn.Linear) == [(1024, 2048), (1024, 2048), (1024, 1)]
    assert sum(isinstance(m, networks.Maxout) for m in disc.modules()) == 9
    assert not any(isinstance(m, nn.BatchNorm2d) for m in disc.modules())
    drops = [m.p for m in disc.x_branch.modules() if isinstance(m, nn.Dropout)]
    assert drops == [0.2, 0.5, 0.5, 0.5, 0.5]


def test_celeba_preset_follows_the_papers_table():
    encoder, decoder, disc = build_celeba((3, 64, 64), 256)
    assert _layers(encoder, nn.Conv2d) == [
        (3, 64, 2, 1),
        (64, 128, 7, 2),
        (128, 256, 5, 2),
        (256, 256, 7, 2),
        (256, 512, 4, 1),
        (512, 512, 1, 1),  # mu and sigma of 256 dimensions
    ]
    assert _layers(decoder, nn.ConvTranspose2d) == [
        (256, 512, 4, 1),
        (512, 256, 7, 2),
        (256, 256, 5, 2),
        (256, 128, 7, 2),
        (128, 64, 2, 1),
    ]
    assert _layers(disc.x_branch, nn.Conv2d) == _layers(encoder.blocks, nn.Conv2d)
    assert _layers(disc.z_branch, nn.Linear) == [(256, 1024), (1024, 1024)]
    assert _layers(disc.joint, nn.Linear) == [(1536, 2048), (2048, 2048), (2048, 1)]
    slopes = {
        m.negative_slope for m in decoder.modules() if isinstance(m, nn.LeakyReLU)
    }
    assert slopes == {0.02}


@pytest.mark.parametrize(
    "name, shape", [("cifar10", (3, 32, 32)), ("celeba", (3, 64, 64))]
)
def test_paper_presets_train_a_step_on_images_of_their_shape(name, shape):
    X = np.random.RandomState(0).randint(0, 256, size=(8, *shape)).astype(np.uint8)
    ali = ALITransformer(
        architecture=name, n_components=16, max_epochs=1, batch_size=8, random_state=0
    )
    before = ALITransformer(
        architecture=name,
        n_components=16,
        max_epochs=1,
        batch_size=8,
        learning_rate=1e-30,
        random_state=0,
    ).fit(X)
    ali.fit(X)
    assert np.isfinite(ali.history_[-1]["d_loss"])
    assert ali.sample(2, random_state=0).shape == (2, *shape)
    moved = [
        not torch.equal(a, b)
        for a, b in zip(ali.encoder_.parameters(), before.encoder_.parameters())
    ]
    assert all(moved)


@pytest.mark.parametrize("name", ["svhn", "cifar10", "celeba"])
def test_paper_presets_name_the_size_they_need(name):
    with pytest.raises(ValueError, match=f"architecture='{name}' needs"):
        ARCHITECTURES[name]((3, 16, 16), 8)


@pytest.mark.parametrize(
    "build, args, kwargs, error, match",
    [
        (networks.build_mlp, ((64,), 0), {}, ValueError, "n_components must be a pos"),
        (
            networks.build_mlp,
            ((64,), True),
            {},
            TypeError,
            "n_components must be a pos",
        ),
        (networks.build_mlp, ((64,), 2.5), {}, TypeError, "n_components"),
        (networks.build_mlp, ((64,), 4, ()), {}, ValueError, "at least one layer"),
        (
            networks.build_mlp,
            ((64,), 4, (0,)),
            {},
            ValueError,
            r"hidden_layer_sizes\[0\]",
        ),
        (networks.build_mlp, ((64,), 4), {"output": "tanh"}, ValueError, "output must"),
        (networks.build_mlp, ((0,), 4), {}, ValueError, r"input shape\[0\]"),
        (networks.build_mlp, ((64,), 4), {"dropout": 1.5}, ValueError, "dropout"),
        (networks.build_conv, ((1, 4, 4), 4), {}, ValueError, "at least 8x8"),
        (networks.build_conv, ((1, 8, 8), 4), {"width": 0}, ValueError, "width must"),
        (networks.build_conv, ((8, 8), 4), {}, ValueError, r"must be \(C, H, W\)"),
        (networks.build_svhn, ((3, 32, 32), 0), {}, ValueError, "n_components"),
        (networks.build_cifar10, ((3, 32, 32), -1), {}, ValueError, "n_components"),
        (networks.build_celeba, ((3, 64, 64), 0), {}, ValueError, "n_components"),
    ],
)
def test_builders_name_bad_arguments(build, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        build(*args, **kwargs)


def test_check_networks_names_the_network_whose_forward_fails():
    torch.manual_seed(0)
    networks_64 = networks.build_mlp((64,), 4, (16,))
    # Networks for 64 features checked against 50: torch's matmul error is
    # named by the network and the probe's shape.
    with pytest.raises(
        ValueError,
        match=r"encoder\(x\) failed on a probe batch of "
        r"shape \(2, 50\)",
    ):
        check_networks(networks_64, (50,), 4)
    encoder, decoder, discriminator = networks_64

    class NaNDecoder(nn.Module):
        def forward(self, z):
            return torch.full((len(z), 64), float("nan"))

    with pytest.raises(ValueError, match=r"decoder\(z\) gives NaN"):
        check_networks((encoder, NaNDecoder(), discriminator), (64,), 4)


@pytest.mark.parametrize("p", [0.2, 0.5])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_dropout_keeps_one_minus_p_and_rescales_them(p, layout):
    # The CPU mask is drawn another way than nn.Dropout's: the same law.
    drop = networks.Dropout(p)
    x = torch.ones(50, 8, 25, 25).contiguous(memory_format=layout)
    torch.manual_seed(0)
    y = drop(x)
    kept = y != 0
    n = x.numel()
    # 6 standard deviations of a binomial count: fails a wrong rate, not chance.
    assert abs(kept.sum().item() - (1 - p) * n) < 6 * math.sqrt(n * p * (1 - p))
    assert torch.allclose(y[kept], torch.tensor(1 / (1 - p)))
    assert y.is_contiguous(memory_format=layout)
    # Masks differ along every axis (no repeated rows or channels).
    assert not torch.equal(kept[0], kept[1]) and not torch.equal(kept[:, 0], kept[:, 1])
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)  # torch's seed fixes the mask


def test_dropout_gradient_flows_through_kept_elements_only():
    drop = networks.Dropout(0.3)
    x = torch.randn(40, 30, requires_grad=True)
    y = drop(x)
    y.sum().backward()
    assert torch.equal(x.grad, (y != 0).float() / 0.7)


def test_dropout_is_identity_in_eval_and_matches_nn_dropout_elsewhere():
    drop, reference = networks.Dropout(0.4), nn.Dropout(0.4)
    x = torch.randn(16, 32)
    assert torch.equal(drop.eval()(x), x)
    assert isinstance(drop, nn.Dropout) and repr(drop) == repr(reference)
    assert torch.equal(networks.Dropout(1.0)(x), torch.zeros_like(x))
    assert torch.equal(networks.Dropout(0.0)(x), x)
    # Off the CPU (here the meta device) it is nn.Dropout's own forward.
    meta = torch.empty(4, 4, device="meta")
    assert drop.train()(meta).shape == (4, 4)


@pytest.mark.parametrize("size", [(14, 14), (7, 7), (5, 9), (2, 6), (8, 8)])
def test_window_pooling_is_adaptive_max_pooling(size):
    # The ONNX export pools "hidden" feature maps by explicit windows; the
    # features must be the ones transform gives.
    from torch.nn import functional as F

    from sklearn_ali.networks import _window_max_pool2d

    h = torch.randn(3, 5, *size, generator=torch.Generator().manual_seed(0))
    assert torch.equal(_window_max_pool2d(h, 4), F.adaptive_max_pool2d(h, 4))
