"""The public network contract: builders, the preset registry, the modules."""

import pytest
import torch

from sklearn_ali import ALITransformer, networks
from sklearn_ali.networks import (
    ARCHITECTURES,
    Decoder,
    Encoder,
    JointDiscriminator,
    build_conv,
    build_mlp,
    build_svhn,
)

# Each preset with an input shape it accepts and small sizes.
PRESETS = {
    "mlp": ((10,), {"hidden_layer_sizes": (16, 8)}),
    "conv": ((1, 12, 12), {"width": 4}),
    "svhn": ((3, 32, 32), {}),
}


def test_registry_lists_the_presets():
    assert {"mlp": build_mlp, "conv": build_conv, "svhn": build_svhn} == ARCHITECTURES
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


def test_former_module_still_resolves_pickled_classes():
    from sklearn_ali import _networks

    for name in ("Encoder", "Decoder", "JointDiscriminator", "SpectralNorm"):
        assert getattr(_networks, name) is getattr(networks, name)
