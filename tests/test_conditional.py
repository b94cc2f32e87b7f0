"""ConditionalALI: ALI given an observed condition y."""

import copy

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from skorch.callbacks import EarlyStopping

from sklearn_ali import ConditionalALI, io
from sklearn_ali.networks import ConditionalDecoder, ConditionalEncoder


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.images[:300, None], data.target[:300]  # (300, 1, 8, 8)


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return ConditionalALI(
        n_components=4, conv_width=8, max_epochs=2, random_state=0
    ).fit(X, y)


def small(**params):
    return ConditionalALI(
        n_components=4, conv_width=8, max_epochs=1, random_state=0, **params
    )


def test_class_labels_give_one_hot_conditions_and_shapes(fitted, digits):
    X, y = digits
    assert fitted.n_conditions_ == 10
    np.testing.assert_array_equal(fitted.classes_, np.arange(10))
    assert isinstance(fitted.encoder_, ConditionalEncoder)
    assert isinstance(fitted.decoder_, ConditionalDecoder)
    Z = fitted.encode(X[:7], y[:7])
    assert Z.shape == (7, 4)
    assert fitted.decode(Z, y[:7]).shape == (7, 1, 8, 8)
    assert fitted.decode(Z, 3).shape == (7, 1, 8, 8)  # one condition for all
    assert fitted.sample(5, y=2, random_state=0).shape == (5, 1, 8, 8)
    assert fitted.sample(3, y=[0, 1, 2]).shape == (3, 1, 8, 8)


def test_the_condition_changes_what_is_decoded(fitted):
    Z = np.random.RandomState(0).standard_normal((4, 4))
    as_zero, as_one = fitted.decode(Z, 0), fitted.decode(Z, 1)
    assert np.abs(as_zero - as_one).max() > 1e-3
    np.testing.assert_array_equal(fitted.decode(Z, [0, 0, 0, 0]), as_zero)


def test_sampling_is_seeded_and_leaves_torch_rng_alone(fitted):
    import torch

    state = torch.get_rng_state()
    a = fitted.sample(4, y=5, random_state=1)
    assert torch.equal(state, torch.get_rng_state())
    np.testing.assert_array_equal(a, fitted.sample(4, y=5, random_state=1))


class _Stand(torch.nn.Module):
    """A stand-in network: ``fn(*inputs)``."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *inputs):
        return self.fn(*inputs)


def test_rejection_keeps_each_rows_condition(fitted):
    model = copy.deepcopy(fitted)
    # An undecided discriminator keeps every draw, in order.
    model.net_.module_.discriminator = _Stand(lambda x, z, y: torch.zeros(len(x)))
    np.testing.assert_array_equal(
        model.sample(5, y=3, random_state=2),
        model.sample(5, y=3, random_state=2, discriminator_rejection=False),
    )

    # A decoder that paints its condition's label and its code's sign, and a
    # discriminator that reads label 3 with z_0 > 0 and label 5 with z_0 < 0
    # as real: each kept code went with its own row's condition.
    def paint(z, y):
        value = y.argmax(1) / 10.0 + 0.01 * torch.sign(z[:, 0])
        return value[:, None, None, None].expand(-1, 1, 8, 8)

    def critic(x, z, y):
        return 1000.0 * torch.sign(z[:, 0]) * (y[:, 3] - y[:, 5])

    model.net_.module_.decoder = _Stand(paint)
    model.net_.module_.discriminator = _Stand(critic)
    labels = [3, 5, 3, 5, 5]
    painted = model.sample(5, y=labels, random_state=0).mean(axis=(1, 2, 3))
    up, down = np.eye(4)[:1], -np.eye(4)[:1]
    three, five = model.decode(up, 3).mean(), model.decode(down, 5).mean()
    np.testing.assert_array_equal(painted, [three, five, three, five, five])
    drawn = model.sample(40, y=3, discriminator_rejection=False).mean(axis=(1, 2, 3))
    assert len(np.unique(drawn)) == 2  # without rejection both signs come


def test_rejection_gives_up_on_a_condition_it_always_rejects(fitted, monkeypatch):
    from sklearn_ali import _inference

    monkeypatch.setattr(_inference, "REJECTION_DRAWS", (20, 20))
    monkeypatch.setattr(_inference, "REJECTION_QUANTILE", 0.5)
    model = copy.deepcopy(fitted)
    # D reads every pair of label 1 as generated, beyond any bound.
    model.net_.module_.discriminator = _Stand(lambda x, z, y: -1000.0 * y[:, 1])
    assert model.sample(4, y=0, random_state=0).shape == (4, 1, 8, 8)
    with pytest.raises(
        ValueError, match="rejected nearly every one of 2000 draws for 1"
    ):
        model.sample(4, y=[0, 1, 0, 1], random_state=0)
    assert model.sample(2, y=[0, 1], discriminator_rejection=False).shape[0] == 2
    with pytest.raises(ValueError, match='discriminator_rejection must be "auto"'):
        model.sample(2, y=0, discriminator_rejection="no")


def test_fit_is_reproducible(digits):
    X, y = digits
    a = small().fit(X, y).sample(3, y=1, random_state=0)
    b = small().fit(X, y).sample(3, y=1, random_state=0)
    np.testing.assert_array_equal(a, b)


def test_string_labels(digits):
    X, y = digits
    names = np.array(["zero", "one", "two"])[y % 3]
    model = small().fit(X, names)
    np.testing.assert_array_equal(model.classes_, ["one", "two", "zero"])
    assert model.sample(2, y="two").shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"labels \['three'\] not among"):
        model.sample(2, y="three")


def test_attribute_matrix_on_rows():
    X, _ = load_digits(return_X_y=True)
    A = np.random.RandomState(0).rand(200, 3)
    model = ConditionalALI(
        n_components=4, hidden_layer_sizes=(16,), max_epochs=1, random_state=0
    ).fit(X[:200], A)
    assert model.architecture_ == "mlp" and model.n_conditions_ == 3
    assert not hasattr(model, "classes_")
    assert model.sample(4, y=[0.1, 0.5, 0.9]).shape == (4, 64)
    assert model.sample(2, y=A[:2]).shape == (2, 64)
    assert model.encode(X[:5], A[:5]).shape == (5, 4)
    with pytest.raises(
        ValueError, match="has 2 attributes; this model was fitted on 3"
    ):
        model.sample(2, y=[0.1, 0.2])
    with pytest.raises(
        ValueError, match="1-D .class labels. but this model was fitted"
    ):
        model.encode(X[:5], np.arange(5))


@pytest.mark.parametrize(
    "y, match",
    [
        (None, "requires y to be passed"),
        (np.zeros((300, 2, 2)), "got 3 dimensions"),
        (np.linspace(0, 1, 300), "1-D and continuous"),
        (np.arange(299) % 10, "X has 300 samples but y has 299"),
        (
            np.where(np.eye(300, 2) > 0, np.nan, 0.0),
            r"NaN or infinite attributes \(rows \[0, 1\]\)",
        ),
        (
            np.where(np.eye(300, 2) > 0, 1e39, 0.0),
            r"beyond float32's range \(rows \[0, 1\]\)",
        ),
        (np.r_[np.arange(299) % 10, np.nan], "holds NaN"),
        (
            np.array([*(np.arange(299) % 10).tolist(), "a"], dtype=object),
            "mixes strings and numbers",
        ),
    ],
)
def test_bad_conditions_are_named_and_keep_a_fitted_model(fitted, digits, y, match):
    X, _ = digits
    model = clone(fitted).fit(X, digits[1])
    before = model.sample(2, y=1, random_state=0)
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)
    np.testing.assert_array_equal(model.sample(2, y=1, random_state=0), before)


def test_bad_calls_after_fit(fitted, digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"labels \[10\] not among the classes"):
        fitted.sample(2, y=10)
    with pytest.raises(ValueError, match="gives 2 conditions for 3 rows"):
        fitted.sample(3, y=[1, 2])
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted.sample(0, y=1)
    with pytest.raises(ValueError, match="attribute matrix but this model was fitted"):
        fitted.encode(X[:2], np.ones((2, 10)))
    with pytest.raises(ValueError, match="Z has 3 columns"):
        fitted.decode(np.zeros((2, 3)), 1)
    with pytest.raises(TypeError):
        fitted.sample(2)  # y is required
    # Labels of another kind never become a class by numpy's promotion.
    for label in ["10", "2", True, np.array(["1", "3"])]:
        with pytest.raises(ValueError, match="labels of kind"):
            fitted.sample(2, y=label)
        with pytest.raises(ValueError, match="labels of kind"):
            fitted.decode(np.zeros((2, 4)), label)


def test_persistence_with_joblib_and_io(fitted, digits, tmp_path):
    X, y = digits
    Z = fitted.encode(X[:10], y[:10])
    joblib.dump(fitted, tmp_path / "m.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "m.joblib").encode(X[:10], y[:10]), Z
    )
    io.dump(fitted, tmp_path / "m")
    loaded = io.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.encode(X[:10], y[:10]), Z)
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    np.testing.assert_array_equal(
        loaded.sample(3, y=4, random_state=0), fitted.sample(3, y=4, random_state=0)
    )


def test_warm_start_callbacks_and_validation(digits):
    X, y = digits
    model = small(
        warm_start=True,
        validation_fraction=0.2,
        callbacks=[EarlyStopping(patience=50)],
    )
    model.fit(X, y)
    assert "valid_loss" in model.history_[-1]
    model.fit(X, y)
    assert len(model.history_) == 2
    with pytest.raises(ValueError, match=r"labels \[10\] not among"):
        model.fit(X, np.where(y == 9, 10, y))
    assert len(model.history_) == 2


def test_linear_schedule_decays_to_zero(digits):
    model = small(learning_rate_schedule="linear").fit(*digits)
    assert [g["lr"] for g in model.net_.optimizer_.param_groups] == [0, 0]


def test_it_learns_digits_conditioned_on_the_class():
    """Seconds of training make samples and cycles carry their condition.

    A classifier of real digits reads the class back from samples drawn
    under each condition and from decode(encode(x, y), y) of held-out
    digits, far more often than from the same networks untrained.
    """
    data = load_digits()
    order = np.random.RandomState(0).permutation(len(data.target))
    test, pool = order[:400], order[400:]
    X, y = data.images[:, None], data.target
    judge = LogisticRegression(max_iter=2000).fit(data.data[pool], y[pool])
    model = ConditionalALI(max_epochs=40, learning_rate=1e-3, random_state=0)
    untrained = clone(model).set_params(max_epochs=1, learning_rate=1e-30)
    conditions = np.repeat(np.arange(10), 30)

    def consistency(model):
        model.fit(X[pool], y[pool])
        samples = model.sample(300, y=conditions, random_state=0)
        cycles = model.decode(model.encode(X[test], y[test]), y[test])
        return (
            np.mean(judge.predict(samples.reshape(300, -1)) == conditions),
            np.mean(judge.predict(cycles.reshape(400, -1)) == y[test]),
        )

    chance_samples, chance_cycles = consistency(untrained)
    samples, cycles = consistency(model)
    assert chance_samples < 0.2 and chance_cycles < 0.2
    assert samples > chance_samples + 0.15
    assert cycles > chance_cycles + 0.6


def test_networks_of_ones_own_are_made_conditional(digits):
    from test_networks import tiny_builder

    X, y = digits
    model = small(architecture=tiny_builder).fit(X, y)
    # the builder's encoder reads the image and 10 condition channels
    assert model.encoder_.encoder.blocks[0][1].in_features == 64 + 10 * 64
    assert model.sample(2, y=3, random_state=0).shape == (2, 1, 8, 8)
