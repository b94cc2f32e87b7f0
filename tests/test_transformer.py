"""Behaviour of ALITransformer that users rely on."""

import copy
import io
import pickle
import sys
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC
from skorch.callbacks import Callback
from torch import nn

from sklearn_ali import ALIClassifier, ALITransformer
from sklearn_ali import _inference as inference_module
from sklearn_ali._checks import TRAINING_PARAMS
from sklearn_ali._mixture import draw_codes
from sklearn_ali._transformer import AUTO_TRAINING_PARAMS
from sklearn_ali.networks import SpectralNorm, build_conv, build_mlp, build_svhn

# -- shapes and architectures ----------------------------------------------


def test_tabular_input_uses_mlp_and_standardises(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    assert ali.architecture_ == "mlp"
    assert ali.image_shape_ is None
    assert ali.n_features_in_ == 64
    np.testing.assert_allclose(ali.data_offset_, digits_flat.mean(0))
    # Default features: the hidden layer (16 units) then mu (4).
    assert ali.transform(digits_flat).shape == (200, 16 + 4)
    assert ali.sample(5, random_state=0).shape == (5, 64)
    assert ali.inverse_transform(np.zeros((3, 4))).shape == (3, 64)


def test_image_input_uses_conv_and_keeps_image_shape(digits_images, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    assert ali.architecture_ == "conv"
    assert ali.image_shape_ == (1, 8, 8)
    assert ali.n_features_in_ == 64
    # Default features: the one conv level (8 channels, 4x4 maps), then mu.
    assert ali.transform(digits_images).shape == (200, 8 * 4 * 4 + 4)
    assert ali.sample(3, random_state=0).shape == (3, 1, 8, 8)
    assert ali.inverse_transform(ali.encode(digits_images[:2])).shape == (2, 1, 8, 8)


def test_inverse_transform_decodes_the_mu_that_hidden_features_end_with(
    digits_images, tiny
):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    hidden = ali.transform(digits_images[:5])
    np.testing.assert_array_equal(hidden[:, -4:], ali.encode(digits_images[:5]))
    np.testing.assert_array_equal(
        ali.inverse_transform(hidden),
        ali.inverse_transform(ali.encode(digits_images[:5])),
    )
    with pytest.raises(ValueError, match=r"n_components=4.*132 columns"):
        ali.inverse_transform(hidden[:, 1:])


def test_flat_images_with_image_shape(digits_flat, tiny):
    ali = ALITransformer(image_shape=(1, 8, 8), random_state=0, **tiny)
    ali.fit(digits_flat)
    assert ali.architecture_ == "conv"
    # Flat in, flat out: inverse_transform mirrors the input layout.
    assert ali.sample(2, random_state=0).shape == (2, 64)
    # The same images as 4-D are accepted at transform.
    np.testing.assert_allclose(
        ali.transform(digits_flat[:5]),
        ali.transform(digits_flat[:5].reshape(5, 1, 8, 8)),
    )


@pytest.mark.parametrize(
    "shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64), (2, 12, 20)]
)
def test_conv_networks_size_themselves_to_the_image(shape):
    torch.manual_seed(0)
    encoder, decoder, discriminator = build_conv(shape, 5, width=4)
    x = torch.rand(3, *shape)
    mu, sigma = encoder(x)
    assert mu.shape == sigma.shape == (3, 5)
    assert decoder(mu).shape == x.shape
    assert discriminator(x, mu).shape == (3,)


@pytest.mark.parametrize(
    "build, shape",
    [
        (lambda s, k: build_mlp(s[0], k, (16, 8)), (10,)),
        (lambda s, k: build_mlp(s[0], k, (16,), stochastic=False), (10,)),
        (lambda s, k: build_conv(s, k, width=4), (1, 12, 12)),
        (lambda s, k: build_svhn(s, k), (3, 32, 32)),
    ],
    ids=["mlp", "mlp-deterministic", "conv", "svhn"],
)
def test_encoder_mean_computes_only_mu(build, shape):
    torch.manual_seed(0)
    encoder = build(shape, 5)[0].eval()
    x = torch.rand(4, *shape)
    with torch.inference_mode():
        mu = encoder(x)[0]
        torch.testing.assert_close(encoder.mean(x), mu, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(encoder.hidden_features(x)[:, -5:], mu)


def test_svhn_architecture_trains_on_32x32_colour_images():
    X = np.random.RandomState(0).randint(0, 256, (8, 3, 32, 32)).astype(np.uint8)
    ali = ALITransformer(
        n_components=16,
        architecture="svhn",
        features="hidden",
        max_epochs=1,
        batch_size=4,
        random_state=0,
    ).fit(X)
    features = ali.transform(X)
    # 4x4x256 pooled + 512 + 512 hidden units + the 16-d mean.
    assert features.shape == (8, 4096 + 512 + 512 + 16)
    assert ali.sample(2, random_state=0).shape == (2, 3, 32, 32)


def test_hidden_features_concatenate_hidden_layers_and_mean(digits_flat):
    ali = ALITransformer(
        n_components=4,
        hidden_layer_sizes=(16, 8),
        features="hidden",
        max_epochs=1,
        random_state=0,
    ).fit(digits_flat)
    features = ali.transform(digits_flat)
    assert features.shape == (200, 16 + 8 + 4)
    # The last columns are the latent mean.
    np.testing.assert_allclose(features[:, -4:], ali.encode(digits_flat), rtol=1e-5)
    assert len(ali.get_feature_names_out()) == 28


def test_hidden_feature_names_say_which_layer(digits_flat, digits_images):
    ali = ALITransformer(
        n_components=4,
        hidden_layer_sizes=(16, 8),
        max_epochs=1,
        random_state=0,
    ).fit(digits_flat)
    names = list(ali.get_feature_names_out())
    assert names == (
        [f"alitransformer_block0_{j}" for j in range(16)]
        + [f"alitransformer_block1_{j}" for j in range(8)]
        + [f"alitransformer_mu_{j}" for j in range(4)]
    )
    # The mu columns are encode's.
    pytest.importorskip("pandas")
    frame = ali.set_output(transform="pandas").transform(digits_flat)
    mu = frame[[f"alitransformer_mu_{j}" for j in range(4)]].to_numpy()
    np.testing.assert_allclose(mu, ali.encode(digits_flat), rtol=1e-5)

    conv = ALITransformer(n_components=4, conv_width=2, max_epochs=1, random_state=0)
    names = conv.fit(digits_images).get_feature_names_out()
    assert len(names) == conv.transform(digits_images[:2]).shape[1]
    parts = [name.rsplit("_", 1)[0] for name in names]
    assert parts[-1] == "alitransformer_mu"
    assert all(p.startswith("alitransformer_block") for p in parts[:-4])


def test_feature_names_and_pandas_output(digits_flat, tiny):
    pd = pytest.importorskip("pandas")
    ali = ALITransformer(features="mean", random_state=0, **tiny)
    out = ali.set_output(transform="pandas").fit_transform(digits_flat)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"alitransformer{i}" for i in range(4)]


def test_post_fit_methods_use_the_fitted_model_not_later_params(digits_images, tiny):
    ali = ALITransformer(features="mean", random_state=0, **tiny).fit(digits_images)
    features = ali.transform(digits_images[:3])
    samples = ali.sample(2, random_state=0)
    ali.set_params(
        n_components=8,
        architecture="mlp",
        image_shape=(4, 4, 4),
        hidden_layer_sizes=(3,),
        conv_width=2,
    )
    assert ali.n_components_ == 4
    assert len(ali.get_feature_names_out()) == 4
    np.testing.assert_array_equal(ali.transform(digits_images[:3]), features)
    np.testing.assert_array_equal(ali.sample(2, random_state=0), samples)
    assert ali.inverse_transform(np.zeros((2, 4))).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="n_components=4"):
        ali.inverse_transform(np.zeros((2, 8)))
    drawn = ali.set_params(features="sample").transform(digits_images[:3])
    assert drawn.shape == (3, 4)
    # features stays switchable on the fitted model.
    ali.set_params(features="hidden")
    hidden = ali.transform(digits_images[:3])
    assert hidden.shape[1] == len(ali.get_feature_names_out()) > 4


# -- scaling -----------------------------------------------------------------


def test_outputs_are_in_input_units(digits_images, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    assert float(ali.data_offset_) == 0.0 and float(ali.data_scale_) == 16.0
    samples = ali.sample(50, random_state=0)
    # A sigmoid decoder scaled back to the data's 0-16 range.
    assert samples.min() >= 0.0 and samples.max() <= 16.0
    assert samples.max() > 1.0


def test_scaling_makes_pixel_units_irrelevant(digits_images, tiny):
    """0-16, 0-1 and 0-255 versions of the same images give the same model."""
    as_16 = ALITransformer(random_state=0, **tiny).fit(digits_images)
    as_01 = ALITransformer(random_state=0, **tiny).fit(digits_images / 16.0)
    as_255 = ALITransformer(random_state=0, **tiny).fit(
        np.round(digits_images * 255 / 16).astype(np.uint8)
    )
    z = as_16.transform(digits_images)
    np.testing.assert_allclose(as_01.transform(digits_images / 16.0), z, atol=1e-4)
    # Prior codes: the mixtures of the two models' codes, fitted to codes of
    # rounded pixels for one of them, may part ways where a code lies
    # between two components.
    np.testing.assert_allclose(
        as_255.sample(4, random_state=1, codes="prior") / 255 * 16,
        as_16.sample(4, random_state=1, codes="prior"),
        atol=0.2,
    )


def test_transform_preserves_float_dtype(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    assert ali.transform(digits_flat.astype(np.float32)).dtype == np.float32
    assert ali.transform(digits_flat).dtype == np.float64
    assert ali.transform(digits_flat.astype(np.int64)).dtype == np.float64


def test_transform_reads_any_numeric_array_layout(tmp_path, digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    expected = ali.transform(digits_flat)
    path = tmp_path / "X.npy"
    np.save(path, digits_flat)
    layouts = {
        # joblib hands parallel workers read-only memory maps.
        "read-only memmap": np.load(path, mmap_mode="r"),
        "Fortran order": np.asfortranarray(digits_flat),
        "negative strides": digits_flat[::-1],
        "big-endian": digits_flat.astype(">f8"),
    }
    for name, X in layouts.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            Z = ali.transform(X)
        if name == "negative strides":
            Z = Z[::-1]
        np.testing.assert_allclose(Z, expected, rtol=1e-6, err_msg=name)
    for dtype in (np.float16, np.uint16, bool):
        X = digits_flat.astype(dtype)
        np.testing.assert_allclose(
            ali.transform(X), ali.transform(X.astype(np.float64)), rtol=1e-6
        )


@pytest.mark.parametrize("images", [False, True])
def test_decoding_allocates_about_its_output(images, digits_flat, tiny):
    import tracemalloc

    X = digits_flat.reshape(-1, 1, 8, 8) if images else digits_flat
    ali = ALITransformer(random_state=0, **tiny).fit(X)
    Z = np.random.RandomState(0).standard_normal((20_000, 4))
    output_nbytes = 20_000 * 64 * 8
    tracemalloc.start()
    try:
        decoded = ali.inverse_transform(Z)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded.nbytes == output_nbytes
    assert peak < 1.5 * output_nbytes, peak / output_nbytes


def test_tabular_scaling_keeps_precision_under_large_offsets(digits_flat, tiny):
    # In float32, 1e8 + x rounds to a multiple of 8 and the digits are lost;
    # scaled in float64, shifted data and a shifted model agree.
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat + 1e8)
    unshifted = copy.deepcopy(ali)
    unshifted.data_offset_ = ali.data_offset_ - 1e8
    np.testing.assert_allclose(
        ali.transform(digits_flat + 1e8),
        unshifted.transform(digits_flat),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("factor", [1e40, 1e300, 1e-300])
def test_tabular_scaling_survives_extreme_magnitudes(factor, digits_flat, tiny):
    # Squares of 1e300 overflow float64 and squares of 1e-300 underflow, so
    # a plain X.std gave inf or 0 and the data collapsed to a constant.
    base = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat * factor)
    std = digits_flat.std(axis=0)
    varying = std > 0
    np.testing.assert_allclose(ali.data_offset_, digits_flat.mean(0) * factor)
    np.testing.assert_allclose(ali.data_scale_[varying], std[varying] * factor)
    np.testing.assert_allclose(
        ali.transform(digits_flat * factor), base.transform(digits_flat), atol=1e-6
    )
    samples = ali.sample(5, random_state=0)
    assert np.isfinite(samples).all()
    np.testing.assert_allclose(
        samples[:, varying] / factor,
        base.sample(5, random_state=0)[:, varying],
        rtol=1e-5,
        atol=1e-6,
    )


def test_constant_features_are_not_scaled_by_rounding_noise(digits_flat, tiny):
    X = digits_flat.copy()
    X[:, 1] = 0.3  # its float64 mean is off by one ulp: std 5.6e-17
    X[:, 2] = -1e300  # an ulp of its mean is 1e284: scale 1 overflows
    ali = ALITransformer(random_state=0, **tiny).fit(X)
    np.testing.assert_array_equal(ali.data_scale_[:2], [1.0, 1.0])
    assert 0.5e300 <= ali.data_scale_[2] <= 1e300  # a power of 2 below it
    np.testing.assert_allclose(ali.data_offset_[1:3], [0.3, -1e300])
    assert np.isfinite(ali.transform(X)).all()
    assert np.isfinite(ali.sample(3, random_state=0)).all()


@pytest.mark.parametrize("factor, shift", [(1e50, 0.0), (1e-300, 0.0), (1.0, 1e8 / 3)])
def test_image_scaling_survives_extreme_values(factor, shift, digits_images, tiny):
    # A float32 scaling factor underflows to 0 (or overflows) for such
    # ranges, and a float32 shift of (1e8 / 3) / 16 is off by up to 0.06.
    base = ALITransformer(random_state=0, **tiny).fit(digits_images)
    X = digits_images * factor + shift
    ali = ALITransformer(random_state=0, **tiny).fit(X)
    np.testing.assert_allclose(
        ali.transform(X), base.transform(digits_images), atol=1e-5
    )
    np.testing.assert_allclose(
        (ali.sample(5, random_state=0) - shift) / factor,
        base.sample(5, random_state=0),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "images, X, match",
    [
        (False, lambda X: X * 1e-310, "standard deviation .* too small to invert"),
        (True, lambda X: X * 1e-310, r"range \(max - min\) is too small"),
        (True, lambda X: np.where(X > 8, 1e308, -1e308), "overflows float64"),
    ],
)
def test_data_that_cannot_be_scaled_is_refused(images, X, match, digits, tiny):
    data = digits[0][:, None] if images else digits[0].reshape(200, -1)
    with warnings.catch_warnings():
        # scikit-learn's finiteness check sums X, which overflows here.
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match=match):
            ALITransformer(**tiny).fit(X(data))


@pytest.mark.parametrize("images", [False, True])
def test_transform_refuses_values_beyond_float32_once_scaled(images, digits, tiny):
    X = digits[0][:, None] if images else digits[0].reshape(200, -1)
    ali = ALITransformer(random_state=0, **tiny).fit(X)
    for method in (ali.transform, ali.encode):
        with pytest.raises(ValueError, match="exceeds float32's range"):
            method(X * 1e40)


def test_decoding_refuses_to_overflow(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    with pytest.raises(ValueError, match="codes exceed float32's range"):
        ali.inverse_transform(np.full((2, 4), 1e39))
    # Whether trained weights carry codes of 3e38 past float32's range is
    # rounding, not behaviour: a finite result or the named error.
    try:
        edge = ali.inverse_transform(np.full((2, 4), 3e38))
    except ValueError as error:
        assert "decoder's float32 output overflowed" in str(error)
    else:
        assert np.isfinite(edge).all()
    huge = ALITransformer(random_state=0, **tiny).fit(digits_flat * 1e300)
    assert np.isfinite(huge.inverse_transform(np.ones((2, 4)))).all()
    with pytest.raises(ValueError, match="exceed float64's range"):
        huge.inverse_transform(np.full((2, 4), 1e10))


def test_non_finite_outputs_of_finite_inputs_name_the_weights(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    expected = ali.transform(digits_flat)
    broken = copy.deepcopy(ali)
    with torch.no_grad():  # as a diverged or edited model would hold
        broken.net_.decoder_[-1].weight.fill_(float("nan"))
        broken.net_.encoder_.head.weight.fill_(float("nan"))
    for method, args in [
        (broken.transform, (digits_flat,)),
        (broken.encode, (digits_flat,)),
        (broken.inverse_transform, (np.ones((3, 4)),)),
        (broken.sample, (3,)),
    ]:
        with pytest.raises(ValueError, match="weights are likely diverged"):
            method(*args)
    np.testing.assert_array_equal(ali.transform(digits_flat), expected)


def test_inputs_of_the_other_layout_and_bad_features_after_fit(
    digits_flat, digits_images, tiny
):
    on_images = ALITransformer(random_state=0, **tiny).fit(digits_images)
    with pytest.raises(ValueError, match=r"X is 2-D .* fitted on images"):
        on_images.transform(digits_flat)
    on_rows = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    with pytest.raises(ValueError, match=r"X is 4-D .* fitted on rows"):
        on_rows.transform(digits_images)
    on_rows.set_params(features="foo")
    before = on_rows.net_
    with pytest.raises(ValueError, match="features='foo' is not one of"):
        on_rows.transform(digits_flat)
    with pytest.raises(ValueError, match="'features' parameter .* Got 'foo'"):
        on_rows.fit(digits_flat)  # refused before anything is trained
    assert on_rows.net_ is before
    with pytest.raises(ValueError, match="features='foo' is not one of"):
        on_rows.get_feature_names_out()


def test_image_layout_hints(tiny):
    rng = np.random.RandomState(0)
    with pytest.raises(ValueError, match=r"add a channel axis: X\[:, None\]"):
        ALITransformer(**tiny).fit(rng.rand(20, 8, 8))
    with pytest.raises(ValueError, match=r"channels-last.*X.transpose\(0, 3, 1, 2\)"):
        ALITransformer(**tiny).fit(rng.rand(20, 32, 32, 3))


def test_training_on_keeps_its_promises(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    before = ali.transform(digits_flat)
    with pytest.raises(ValueError, match="at least 2 samples"):
        ali.partial_fit(digits_flat[:1])
    np.testing.assert_array_equal(ali.transform(digits_flat), before)
    # A list builds what a tuple built: training on is allowed.
    warm = ALITransformer(random_state=0, warm_start=True, **tiny).fit(digits_flat)
    warm.set_params(hidden_layer_sizes=list(tiny["hidden_layer_sizes"]))
    warm.fit(digits_flat)
    assert len(warm.history_) == 2 * tiny["max_epochs"]


def test_nan_in_a_memmap_names_the_row(tmp_path, digits_flat, tiny):
    X = np.lib.format.open_memmap(
        tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=digits_flat.shape
    )
    X[:] = digits_flat
    X[37, 5] = np.nan
    with pytest.raises(ValueError, match="first at row 37"):
        ALITransformer(**tiny).fit(X)
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    with pytest.raises(ValueError, match="first at row 37"):
        ali.transform(X)


# -- reproducibility ---------------------------------------------------------


def test_same_random_state_same_features(digits_images, tiny):
    a = ALITransformer(random_state=3, **tiny).fit_transform(digits_images)
    b = ALITransformer(random_state=3, **tiny).fit_transform(digits_images)
    c = ALITransformer(random_state=4, **tiny).fit_transform(digits_images)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_leaves_global_torch_rng_alone(digits_flat, tiny):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ALITransformer(random_state=0, **tiny).fit(digits_flat)
    ALITransformer(random_state=None, **tiny).fit(digits_flat)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_sample_and_sample_features_are_seeded(digits_flat, tiny):
    ali = ALITransformer(features="sample", random_state=0, **tiny).fit(digits_flat)
    np.testing.assert_array_equal(
        ali.sample(4, random_state=7), ali.sample(4, random_state=7)
    )
    assert not np.allclose(ali.sample(4, random_state=7), ali.sample(4, random_state=8))
    drawn = ali.transform(digits_flat)
    np.testing.assert_array_equal(drawn, ali.transform(digits_flat))
    assert not np.allclose(drawn, ali.encode(digits_flat))


class _Critic(torch.nn.Module):
    """A stand-in discriminator: ``score(x, z)`` as D's logit per pair."""

    def __init__(self, score):
        super().__init__()
        self.score = score

    def forward(self, x, z):
        return self.score(x, z)


def test_rejection_with_an_undecided_discriminator_keeps_every_draw(digits_flat, tiny):
    # Equal logits put every draw at the bound: all are kept, in order, so the
    # samples are the decoder's draws of the same seed.
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    ali.net_.module_.discriminator = _Critic(lambda x, z: torch.zeros(len(x), 1))
    np.testing.assert_array_equal(
        ali.sample(5, random_state=3, codes="prior"),
        ali.sample(5, random_state=3, codes="prior", discriminator_rejection=False),
    )


def test_rejection_keeps_the_draws_the_discriminator_reads_as_real(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)

    # D reads bright images as real: 3 logits per standard deviation of the
    # mean brightness within its batch.
    def brightness(x, z):
        mean = x.mean(1)
        return 3 * (mean - mean.mean()) / mean.std()

    ali.net_.module_.discriminator = _Critic(brightness)
    kept = ali.sample(2000, random_state=0, codes="prior").mean(1)
    drawn = ali.sample(
        2000, random_state=0, codes="prior", discriminator_rejection=False
    ).mean(1)
    assert kept.mean() > drawn.mean() + drawn.std() / 2
    np.testing.assert_array_equal(
        ali.sample(7, random_state=4, codes="prior"), ali.sample(7, 4, codes="prior")
    )
    assert not np.allclose(
        ali.sample(7, random_state=4, codes="prior"), ali.sample(7, 5, codes="prior")
    )


def test_rejection_follows_the_loss_and_refuses_bad_values(digits_flat, tiny):
    hinge = ALITransformer(loss="hinge", random_state=0, **tiny).fit(digits_flat)
    # The hinge critic's score is not a log-ratio: "auto" does not reject.
    np.testing.assert_array_equal(
        hinge.sample(3, random_state=0, codes="prior"),
        hinge.sample(3, random_state=0, codes="prior", discriminator_rejection=False),
    )
    with pytest.raises(ValueError, match="needs a discriminator trained with loss="):
        hinge.sample(3, discriminator_rejection=True)
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    for value in ("yes", 1, None):
        with pytest.raises(ValueError, match='discriminator_rejection must be "auto"'):
            ali.sample(3, discriminator_rejection=value)
    ali.net_.module_.discriminator = _Critic(lambda x, z: x.mean(1) * np.nan)
    with pytest.raises(ValueError, match="The discriminator gave NaN"):
        ali.sample(3, codes="prior")
    # Without rejection the discriminator is not read, nor with the mixture's
    # codes, which "auto" does not reject.
    assert ali.sample(3, codes="prior", discriminator_rejection=False).shape == (3, 64)
    assert ali.sample(3, codes="mixture").shape == (3, 64)
    with pytest.raises(ValueError, match="holds for codes of the prior only"):
        ali.sample(3, codes="mixture", discriminator_rejection=True)


def test_fit_fits_a_mixture_of_the_training_codes_and_sample_draws_from_it(
    digits_images, digits_flat, tiny
):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    mixture = ali.code_mixture_
    assert mixture["means"].shape == (20, 4)
    assert mixture["scale_tril"].shape == (20, 4, 4)
    # After EM's last M-step the weighted means are the mean of the codes it
    # fitted: here mu(x) of all 200 training rows.
    np.testing.assert_allclose(
        mixture["weights"] @ mixture["means"],
        ali.encode(digits_images).mean(0),
        atol=1e-5,
    )
    drawn = ali.sample(6, random_state=1)
    np.testing.assert_array_equal(drawn, ali.sample(6, random_state=1, codes="mixture"))
    np.testing.assert_array_equal(
        drawn,
        ali.inverse_transform(draw_codes(mixture, 6, np.random.RandomState(1))),
    )
    assert not np.allclose(drawn, ali.sample(6, random_state=1, codes="prior"))
    assert not np.allclose(drawn, ali.sample(6, random_state=2))
    for value in ("data", None, 1):
        with pytest.raises(ValueError, match='codes must be "auto", "mixture"'):
            ali.sample(3, codes=value)
    # The MLP fits one too, but samples the prior by default (with the
    # discriminator's rejection), as does a model trained without the cycle
    # term, whose decoder learned to decode prior draws only.
    mlp = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    pure = ALITransformer(reconstruction_weight=0.0, random_state=0, **tiny)
    pure.fit(digits_images)
    for model in (mlp, pure):
        assert model.code_mixture_["means"].shape == (20, 4)
        np.testing.assert_array_equal(
            model.sample(5, random_state=0),
            model.sample(5, random_state=0, codes="prior"),
        )
    np.testing.assert_array_equal(
        mlp.sample(5, random_state=0, codes="mixture"),
        mlp.inverse_transform(
            draw_codes(mlp.code_mixture_, 5, np.random.RandomState(0))
        ),
    )


def test_partial_fit_leaves_no_mixture_and_sample_draws_from_the_prior(
    digits_images, tiny
):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    first = ali.code_mixture_
    assert not np.array_equal(
        ali.sample(4, random_state=0), ali.sample(4, random_state=0, codes="prior")
    )
    ali.partial_fit(digits_images)
    # The mixture was of codes the networks no longer give.
    assert not hasattr(ali, "code_mixture_")
    np.testing.assert_array_equal(
        ali.sample(4, random_state=0), ali.sample(4, random_state=0, codes="prior")
    )
    with pytest.raises(ValueError, match='codes="mixture" needs the mixture'):
        ali.sample(4, codes="mixture")
    # A warm start's fit fits one of its own networks' codes.
    ali.set_params(warm_start=True).fit(digits_images)
    assert not np.allclose(ali.code_mixture_["means"], first["means"])
    np.testing.assert_allclose(
        ali.code_mixture_["weights"] @ ali.code_mixture_["means"],
        ali.encode(digits_images).mean(0),
        atol=1e-5,
    )


def test_deterministic_encoder_draws_its_mean(digits_flat, tiny):
    ali = ALITransformer(encoder="deterministic", features="sample", random_state=0)
    ali.set_params(**tiny).fit(digits_flat)
    np.testing.assert_array_equal(ali.transform(digits_flat), ali.encode(digits_flat))


# -- inference mode and batching ---------------------------------------------


def test_transform_is_per_sample_and_batched(monkeypatch, digits_images, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    full = ali.transform(digits_images)
    # Eval mode: no dropout or batch statistics, so rows do not interact.
    np.testing.assert_allclose(ali.transform(digits_images[3:4]), full[3:4], rtol=1e-5)
    np.testing.assert_array_equal(ali.transform(digits_images), full)

    seen = []
    first_block = ali.encoder_.blocks[0]
    first_block.register_forward_hook(lambda m, i, o: seen.append(len(i[0])))
    monkeypatch.setattr(inference_module, "INFERENCE_BATCH", 64)
    np.testing.assert_allclose(ali.transform(digits_images), full, rtol=1e-5)
    assert seen == [64, 64, 64, 8]


def test_modules_are_in_eval_mode_after_fit(digits_images, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    for module in (ali.encoder_, ali.decoder_, ali.discriminator_):
        assert not module.training
        assert next(module.parameters()).device.type == "cpu"


# -- training history and callbacks ------------------------------------------


def test_history_records_both_players(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).set_params(max_epochs=3)
    ali.fit(digits_flat)
    history = ali.history_
    assert len(history) == 3
    for key in ("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "recon_loss", "dur"):
        values = history[:, key]
        assert len(values) == 3 and np.all(np.isfinite(values))
    assert all(0 <= a <= 1 for a in history[:, "d_real_acc"])
    # Batch-level records too (two batches of 100).
    assert [b["train_batch_size"] for b in history[-1, "batches"]] == [100, 100]


def test_verbose_2_prints_the_epoch_table(capsys, digits_flat, tiny):
    ALITransformer(verbose=2, random_state=0, **tiny).fit(digits_flat)
    captured = capsys.readouterr()
    header = [line for line in captured.out.splitlines() if "d_loss" in line]
    assert len(header) == 1 and "g_loss" in header[0] and "epoch" in header[0]
    assert captured.err == ""  # no progress bar
    ALITransformer(verbose=0, random_state=0, **tiny).fit(digits_flat)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    "terminal, no_color, coloured",
    [(False, "", False), (True, "", True), (True, "1", False)],
)
def test_epoch_table_is_coloured_on_a_terminal_only(
    capsys, monkeypatch, digits_flat, tiny, terminal, no_color, coloured
):
    # skorch colours a new best valid_loss; in a file or a pipe the codes
    # would be text.
    monkeypatch.setattr(sys.stdout, "isatty", lambda: terminal, raising=False)
    monkeypatch.setenv("NO_COLOR", no_color)
    ali = ALITransformer(verbose=2, validation_fraction=0.25, random_state=0, **tiny)
    ali.fit(digits_flat)
    table = capsys.readouterr().out
    assert "valid_loss" in table
    assert ("\x1b[" in table) == coloured


def test_train_loss_has_no_best_flag(digits_flat, tiny):
    # d_loss + g_loss: its minimum marks no better model.
    ali = ALITransformer(validation_fraction=0.25, random_state=0, **tiny)
    ali.fit(digits_flat)
    assert "train_loss" in ali.history_[-1]
    assert "train_loss_best" not in ali.history_[-1]
    assert "valid_loss_best" in ali.history_[-1]


def test_verbose_1_shows_one_bar_with_the_losses(capsys, digits_flat, tiny):
    ALITransformer(verbose=1, random_state=0, **tiny).fit(digits_flat)
    captured = capsys.readouterr()
    assert captured.out == ""  # no table
    # One bar over both epochs (2 x 2 batches), its postfix the latest losses.
    final = captured.err.replace("\r", "\n").strip().splitlines()[-1]
    assert "4/4" in final and "epoch=2" in final
    assert "d_loss=" in final and "g_loss=" in final


def test_warm_start_may_change_verbose(capsys, digits_flat, tiny):
    # verbose=1 disables skorch's PrintLog; a warm start with another verbose
    # brings it back (skorch's set_params alone cannot).
    ali = ALITransformer(verbose=1, random_state=0, **tiny).fit(digits_flat)
    ali.set_params(warm_start=True, verbose=2).fit(digits_flat)
    table = capsys.readouterr().out
    assert len(ali.history_) == 4 and "d_loss" in table
    ali.set_params(verbose=1).fit(digits_flat)
    captured = capsys.readouterr()
    assert captured.out == "" and "d_loss=" in captured.err
    ali.set_params(verbose=0).fit(digits_flat)
    assert capsys.readouterr() == ("", "") and len(ali.history_) == 8


def test_user_callbacks_run_and_are_not_mutated(digits_flat, tiny):
    from skorch.callbacks import Callback, EarlyStopping

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs_ = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs_ += 1

    counter = CountEpochs()
    stopper = EarlyStopping(monitor="g_loss", patience=1, threshold=10.0)
    ali = ALITransformer(callbacks=[counter, ("stop", stopper)], random_state=0)
    ali.set_params(**tiny).set_params(max_epochs=20).fit(digits_flat)
    # EarlyStopping cut training short; the copy in the net counted epochs.
    assert len(ali.history_) < 20
    assert dict(ali.net_.callbacks_)["CountEpochs"].epochs_ == len(ali.history_)
    assert not hasattr(counter, "epochs_")  # the parameter itself is untouched


# -- sklearn integration -----------------------------------------------------


# -- training settings chosen for the architecture -----------------------------


def _trained_with(model):
    """What the skorch net trained with, read from the net, not the estimator."""
    net = model.net_
    return {
        "epochs": len(model.history_),
        "final_lr": [g["lr"] for g in net.optimizer_.param_groups],
        "spectral_norm": any(
            isinstance(m, SpectralNorm) for m in model.discriminator_.modules()
        ),
        "reconstruction_weight": net.game_options["reconstruction_weight"],
        "dropout": max(
            (m.p for m in model.discriminator_.modules() if isinstance(m, nn.Dropout)),
            default=0.0,
        ),
    }


def _small_mlp(input_shape, n_components, **options):
    """A builder of one's own: the MLP preset at a test's size."""
    return build_mlp(input_shape, n_components, (16,), **options)


@pytest.mark.parametrize(
    "layout, key", [("images", "conv"), ("rows", "mlp"), ("builder", "other")]
)
def test_auto_training_params_follow_the_architecture(
    layout, key, digits_images, digits_flat, tiny
):
    X = digits_images if layout == "images" else digits_flat
    small = {k: v for k, v in tiny.items() if k != "max_epochs"}
    if layout == "builder":
        small["architecture"] = _small_mlp
    ali = ALITransformer(random_state=0, **small).fit(X)
    expected = AUTO_TRAINING_PARAMS[key]
    built = {"images": "conv", "rows": "mlp"}.get(layout, _small_mlp)
    assert ali.architecture_ == built
    assert ali.training_params_ == expected
    assert ali.learning_rate == "auto"  # the parameter is left as given
    trained = _trained_with(ali)
    assert trained["epochs"] == expected["max_epochs"]
    linear = expected["learning_rate_schedule"] == "linear"
    assert trained["final_lr"] == [0 if linear else expected["learning_rate"]] * 2
    for name in ("spectral_norm", "reconstruction_weight", "dropout"):
        assert trained[name] == expected[name]


def test_each_architecture_sets_every_auto_parameter_its_own_way():
    settings = list(AUTO_TRAINING_PARAMS.values())
    assert all(s.keys() == set(TRAINING_PARAMS) for s in settings)
    # Pairwise different, so the test above can tell which one fit chose.
    assert len({tuple(sorted(s.items())) for s in settings}) == len(settings)


def test_a_value_given_wins_over_auto_for_that_parameter_only(digits_images, tiny):
    ali = ALITransformer(
        learning_rate=1e-3, spectral_norm=True, random_state=0, **tiny
    ).fit(digits_images)
    conv = AUTO_TRAINING_PARAMS["conv"]
    assert ali.training_params_ == {
        **conv,
        "max_epochs": tiny["max_epochs"],
        "learning_rate": 1e-3,
        "spectral_norm": True,
    }
    assert _trained_with(ali)["spectral_norm"]
    assert _trained_with(ali)["reconstruction_weight"] == conv["reconstruction_weight"]


def test_partial_fit_resolves_auto_as_fit_does(digits_images, digits_flat, tiny):
    for X, key in [(digits_images, "conv"), (digits_flat, "mlp")]:
        ali = ALITransformer(random_state=0, **tiny)
        ali.partial_fit(X)
        rate = AUTO_TRAINING_PARAMS[key]["learning_rate"]
        assert _trained_with(ali)["final_lr"] == [rate] * 2  # one pass: no decay
        assert ali.training_params_["learning_rate"] == rate


def test_a_warm_start_may_name_the_value_auto_stood_for(digits_images, tiny):
    ali = ALITransformer(warm_start=True, random_state=0, **tiny).fit(digits_images)
    # "auto" built the conv discriminator without spectral normalisation:
    # naming that value keeps the networks, naming the other cannot.
    ali.set_params(spectral_norm=False).fit(digits_images)
    assert len(ali.history_) == 2 * tiny["max_epochs"]
    before = dict(ali.training_params_)
    with pytest.raises(ValueError, match=r"\['spectral_norm'\] changed"):
        ali.set_params(spectral_norm=True, learning_rate=1e-5).fit(digits_images)
    assert ali.training_params_ == before
    assert len(ali.history_) == 2 * tiny["max_epochs"]
    ali.set_params(spectral_norm="auto", learning_rate=1e-5).fit(digits_images)
    assert ali.training_params_["learning_rate"] == 1e-5


def test_only_the_transformer_takes_auto_training_params(digits_flat, digits, tiny):
    with pytest.raises(ValueError, match="spectral_norm"):
        ALITransformer(spectral_norm="on", **tiny).fit(digits_flat)
    with pytest.raises(ValueError, match="learning_rate"):
        ALIClassifier(learning_rate="auto", **tiny).fit(digits_flat, digits[1])


def test_clone_and_params_round_trip(tiny):
    ali = ALITransformer(n_components=7, features="hidden", random_state=1)
    params = ali.get_params()
    assert params["n_components"] == 7 and params["features"] == "hidden"
    twin = clone(ali).set_params(**tiny)
    assert twin.n_components == 4 and twin.features == "hidden"


def test_pipeline_is_a_semi_supervised_classifier(digits_flat, digits, tiny):
    y = digits[1]
    pipe = Pipeline(
        [("ali", ALITransformer(random_state=0, **tiny)), ("svm", LinearSVC())]
    )
    pipe.fit(digits_flat, y)
    assert pipe.predict(digits_flat).shape == (200,)
    assert pipe.score(digits_flat, y) > 0.2  # far above 10 % chance


def test_grid_search_over_latent_size_in_parallel(tmp_path, digits_flat, digits, tiny):
    from skorch.callbacks import Callback

    class RecordThreads(Callback):
        def __init__(self, path):
            self.path = path

        def on_train_begin(self, net, **kwargs):
            with open(self.path, "a") as f:
                f.write(f"{torch.get_num_threads()}\n")

    log = tmp_path / "threads.txt"
    ali = ALITransformer(callbacks=[RecordThreads(str(log))], random_state=0, **tiny)
    pipe = Pipeline([("ali", ali), ("svm", LinearSVC())])
    search = GridSearchCV(pipe, {"ali__n_components": [2, 4]}, cv=2, n_jobs=2)
    search.fit(digits_flat, digits[1])
    assert search.best_params_["ali__n_components"] in (2, 4)
    best_ali = search.best_estimator_.named_steps["ali"]
    assert best_ali.encode(digits_flat).shape[1] in (2, 4)
    # Worker processes share the cores instead of each using all of them.
    threads = [int(t) for t in log.read_text().split()]
    assert len(threads) >= 4
    assert max(threads[:-1]) <= max(1, torch.get_num_threads() // 2)


def test_joblib_round_trip_gives_identical_transform(tmp_path, digits_images, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    path = tmp_path / "ali.joblib"
    joblib.dump(ali, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(
        loaded.transform(digits_images), ali.transform(digits_images)
    )
    np.testing.assert_array_equal(
        loaded.sample(3, random_state=0), ali.sample(3, random_state=0)
    )
    assert len(loaded.history_) == len(ali.history_)
    # The networks are stored once, under skorch's device mapping: the net's
    # init argument is the trained module again.
    assert loaded.net_.module is loaded.net_.module_
    assert "module" not in ali.net_.__getstate__()


def test_model_pickled_with_cuda_device_loads_on_cpu(digits_flat, tiny):
    """A net saved on a CUDA machine is mapped to the CPU when CUDA is absent.

    Without a GPU the state is simulated: the skorch net claims ``cuda`` as
    it does for a model trained with ``keep_on_device=True``; unpickling
    must map it to the CPU and transform as before.
    """
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    expected = ali.transform(digits_flat)
    ali.net_.device = "cuda"
    buffer = io.BytesIO()
    pickle.dump(ali, buffer)
    buffer.seek(0)
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    with pytest.warns(UserWarning, match="CUDA"):
        loaded = pickle.load(buffer)
    assert torch.device(loaded.net_.device).type == "cpu"
    np.testing.assert_allclose(loaded.transform(digits_flat), expected, rtol=1e-6)


# -- input validation --------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.full((10, 3), np.nan), "NaN"),
        (np.full((10, 3), np.inf), "infinity"),
        (np.array([["a", "b"], ["c", "d"]]), "string|numeric"),
        (np.zeros((1, 3)), "1 sample"),
        (np.zeros((0, 3)), "0 sample"),
        (np.zeros(5), "2D array"),
        (np.zeros((4, 2, 3)), "3 dimensions"),
    ],
)
def test_fit_rejects_bad_input(bad, match, tiny):
    with pytest.raises(ValueError, match=match):
        ALITransformer(**tiny).fit(bad)


def test_sparse_input_is_rejected(tiny):
    with pytest.raises(TypeError, match="[Ss]parse"):
        ALITransformer(**tiny).fit(sp.random(20, 5, format="csr", random_state=0))


def test_transform_checks_features_and_image_shape(digits_images, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    with pytest.raises(ValueError, match="64 features"):
        ali.transform(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="image shape"):
        ali.transform(np.zeros((3, 1, 4, 16)))
    with pytest.raises(ValueError, match="NaN"):
        ali.transform(np.full((3, 1, 8, 8), np.nan))
    with pytest.raises(ValueError, match="n_components=4"):
        ali.inverse_transform(np.zeros((2, 3)))


@pytest.mark.parametrize(
    "method, args",
    [
        ("transform", (np.zeros((2, 3)),)),
        ("encode", (np.zeros((2, 3)),)),
        ("inverse_transform", (np.zeros((2, 3)),)),
        ("sample", (2,)),
        ("get_feature_names_out", ()),
    ],
)
def test_unfitted_model_raises_not_fitted(method, args):
    with pytest.raises(NotFittedError):
        getattr(ALITransformer(), method)(*args)
    with pytest.raises(NotFittedError):
        ALITransformer().encoder_  # noqa: B018


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"architecture": "resnet"}, "architecture"),
        ({"features": "logits"}, "features"),
        ({"encoder": "variational"}, "encoder"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"dropout": 1.0}, "dropout"),
        ({"hidden_layer_sizes": (16, 0)}, "hidden_layer_sizes"),
        ({"betas": (0.5,)}, "betas"),
        ({"image_shape": (8, 8)}, "image_shape"),
        ({"image_shape": (1, 4, 4)}, "image_shape"),
        ({"architecture": "conv"}, "needs images"),
        ({"architecture": "svhn", "image_shape": (1, 8, 8)}, "needs 32x32 images"),
        ({"device": "not-a-device"}, "device"),
    ],
)
def test_invalid_parameters_are_named(params, match, digits_flat, tiny):
    with pytest.raises(ValueError, match=match):
        ALITransformer(**{**tiny, **params}).fit(digits_flat)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hidden_layer_sizes": (True,)}, "hidden_layer_sizes"),
        # torch's own complaint would be "both floats or both Tensors".
        ({"betas": (False, 0.9)}, r"betas must be two numbers in \[0, 1\)"),
        ({"n_components": True}, "n_components must be a number, not a bool"),
        ({"learning_rate": True}, "learning_rate must be a number, not a bool"),
    ],
)
def test_bools_are_not_numbers(params, match, digits_flat, tiny):
    with pytest.raises(ValueError, match=match):
        ALITransformer(**{**tiny, **params}).fit(digits_flat)


@pytest.mark.parametrize(
    "callbacks",
    [[object()], [("name", object())], [("name", None)], ["ProgressBar"], [(1, 2)]],
)
def test_bad_callbacks_are_named_before_training(callbacks, digits_flat, tiny):
    with pytest.raises(TypeError, match=r"callbacks\[0\] is .*skorch Callback"):
        ALITransformer(callbacks=callbacks, **tiny).fit(digits_flat)


def test_callbacks_may_be_classes(digits_flat, tiny):
    from skorch.callbacks import Callback, EpochTimer

    class Noop(Callback):
        pass

    callbacks = [Noop, ("timer2", EpochTimer)]
    ali = ALITransformer(callbacks=callbacks, **tiny).fit(digits_flat)
    assert {"Noop", "timer2"} <= set(dict(ali.net_.callbacks_))


def test_empty_image_input_is_named(digits_images, tiny):
    with pytest.raises(ValueError, match="0 sample"):
        ALITransformer(**tiny).fit(np.zeros((0, 1, 8, 8)))
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    with pytest.raises(ValueError, match="0 sample"):
        ali.transform(np.zeros((0, 1, 8, 8)))


@pytest.mark.parametrize("n_samples", [True, 0, -1, 2.0])
def test_sample_needs_a_positive_integer(n_samples, digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        ali.sample(n_samples)
    assert ali.sample(np.int64(2)).shape == (2, 64)


def test_conv_needs_images_of_at_least_8_pixels(tiny):
    X = np.random.RandomState(0).rand(20, 1, 4, 4)
    with pytest.raises(ValueError, match="at least 8x8"):
        ALITransformer(**tiny).fit(X)
    # The MLP handles small images.
    mlp = ALITransformer(architecture="mlp", **tiny).fit(X)
    assert mlp.sample(1).shape == (1, 1, 4, 4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_request_without_cuda_is_a_clear_error(digits_flat, tiny):
    with pytest.raises(ValueError, match="CUDA is not available"):
        ALITransformer(device="cuda", **tiny).fit(digits_flat)


@pytest.mark.parametrize("device", ["mps", "xpu"])
def test_unavailable_accelerator_is_a_clear_error(device, digits_flat, tiny):
    backend = getattr(torch, device, None)
    if backend is not None and backend.is_available():
        pytest.skip(f"needs a machine without {device}")
    with pytest.raises(ValueError, match=f"{device.upper()} is not available"):
        ALITransformer(device=device, **tiny).fit(digits_flat)


def test_meta_device_is_refused(digits_flat, tiny):
    with pytest.raises(ValueError, match="holds no data"):
        ALITransformer(device="meta", **tiny).fit(digits_flat)


def test_auto_device_is_cpu_without_cuda(digits_flat, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    assert ali.device_ == ("cuda" if torch.cuda.is_available() else "cpu")


# -- arithmetic of the training steps ----------------------------------------


class _RecordDtypes(Callback):
    """Records the dtype of the discriminator's logits in training batches."""

    def on_train_begin(self, net, **kwargs):
        self.dtypes_ = set()
        self._hook = net.module_.discriminator.register_forward_hook(
            lambda module, args, out: self.dtypes_.add(out.dtype)
        )

    def on_train_end(self, net, **kwargs):
        self._hook.remove()


@pytest.mark.parametrize(
    ("precision", "dtype"), [("bfloat16", torch.bfloat16), ("float32", torch.float32)]
)
@pytest.mark.parametrize("images", [True, False])
def test_precision_sets_the_training_arithmetic(
    precision, dtype, images, digits_images, digits_flat, tiny
):
    X = digits_images if images else digits_flat
    ali = ALITransformer(
        precision=precision,
        callbacks=[("dtypes", _RecordDtypes())],
        random_state=0,
        **tiny,
    ).fit(X)
    assert dict(ali.net_.callbacks_)["dtypes"].dtypes_ == {dtype}
    # Weights and features stay float32 / the input's dtype either way.
    assert {p.dtype for p in ali.net_.module_.parameters()} == {torch.float32}
    features = ali.transform(X)
    assert features.dtype == np.float64 and np.isfinite(features).all()
    again = ALITransformer(precision=precision, random_state=0, **tiny).fit(X)
    np.testing.assert_array_equal(again.transform(X), features)


def test_precision_auto_follows_the_hardware(digits_flat, digits_images, tiny):
    from sklearn_ali._devices import autocast_bfloat16

    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert autocast_bfloat16("auto", "cpu", images=True) == bool(probe())
    assert autocast_bfloat16("auto", "cuda", images=True)
    assert not autocast_bfloat16("auto", "cuda", images=False)
    assert not autocast_bfloat16("float32", "cuda", images=True)
    assert autocast_bfloat16("bfloat16", "cpu", images=False)
    rows = ALITransformer(random_state=0, **tiny).fit(digits_flat)
    assert not rows.net_.use_amp  # rows keep float32 resolution
    images = ALITransformer(random_state=0, **tiny).fit(digits_images)
    assert images.net_.use_amp == autocast_bfloat16("auto", "cpu", images=True)


def test_bfloat16_training_is_not_float32_training(digits_images, tiny):
    fits = {
        p: ALITransformer(precision=p, random_state=0, **tiny).fit(digits_images)
        for p in ("bfloat16", "float32")
    }
    a, b = (fits[p].transform(digits_images) for p in fits)
    assert not np.array_equal(a, b)
    # ...but the same networks trained alike: the features barely move.
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


# -- GPU (runs where CUDA is present) ----------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
def test_cuda_fit_moves_networks_to_cpu(digits_images, tiny):
    ali = ALITransformer(device="cuda", random_state=0, **tiny).fit(digits_images)
    assert ali.device_.startswith("cuda")
    assert next(ali.encoder_.parameters()).device.type == "cpu"
    assert np.isfinite(ali.transform(digits_images)).all()


@cuda
@pytest.mark.parametrize("fmt", ["joblib", "io"])
def test_cuda_keep_on_device_and_load_on_cpu(fmt, tmp_path, digits_images, tiny):
    """A GPU-trained model, callbacks holding CUDA tensors included, loads on a
    machine without CUDA and transforms as on the GPU."""
    import subprocess
    import sys

    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import StepLR

    from sklearn_ali import io

    ali = ALITransformer(
        device="cuda",
        keep_on_device=True,
        callbacks=[LRScheduler(policy=StepLR, step_size=1)],
        random_state=0,
        **tiny,
    )
    ali.fit(digits_images)
    assert next(ali.encoder_.parameters()).is_cuda
    expected = ali.transform(digits_images)
    path = tmp_path / "gpu.model"
    if fmt == "joblib":
        joblib.dump(ali, path)
        load = "import joblib; m = joblib.load"
    else:
        io.dump(ali, path, include_optimizer=True)
        load = "from sklearn_ali.io import load; m = load"
    np.save(tmp_path / "x.npy", digits_images)
    np.save(tmp_path / "expected.npy", expected)
    code = (
        "import numpy as np, torch; "
        f"{load}(r'{path}'); "
        f"x = np.load(r'{tmp_path / 'x.npy'}'); "
        f"e = np.load(r'{tmp_path / 'expected.npy'}'); "
        # bf16 autocast ran on the GPU only in training; inference is float32
        # on both, so only kernel differences remain.
        "np.testing.assert_allclose(m.transform(x), e, rtol=1e-4, atol=1e-4); "
        "assert torch.device(m.net_.device).type == 'cpu'; "
        "m.set_params(device='cpu').partial_fit(x); "
        "assert np.isfinite(m.transform(x)).all()"
    )
    env = {**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_networks_too_large_for_memory_are_named(digits_flat, tiny):
    ali = ALITransformer(**{**tiny, "n_components": 10**12})
    with pytest.raises(ValueError, match="do not fit in memory"):
        ali.fit(digits_flat)
    assert not hasattr(ali, "net_")


def test_network_input_is_what_the_encoder_reads(digits_images, tiny):
    ali = ALITransformer(random_state=0, **tiny).fit(digits_images)
    x = ali.network_input(digits_images)
    assert x.dtype == torch.float32 and x.shape == (len(digits_images), 1, 8, 8)
    assert float(x.min()) >= 0 and float(x.max()) <= 1  # pixels scaled to [0, 1]
    with torch.inference_mode():
        mu = ali.encoder_.mean(x).numpy()
    np.testing.assert_allclose(mu, ali.encode(digits_images), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="fitted on images"):
        ali.network_input(digits_images.reshape(len(digits_images), -1))
