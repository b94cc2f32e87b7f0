import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from skorch.history import History  # noqa: E402

from sklearn_ali import plotting  # noqa: E402
from sklearn_ali.plotting import (  # noqa: E402
    plot_image_grid,
    plot_interpolations,
    plot_latent_scatter,
    plot_reconstructions,
    plot_samples,
    plot_toy_data,
    plot_training_curves,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def make_history(n_epochs=3, keys=("d_loss", "g_loss", "d_real_acc", "d_fake_acc")):
    history = History()
    for epoch in range(1, n_epochs + 1):
        history.new_epoch()
        history.record("epoch", epoch)
        for i, key in enumerate(keys):
            history.record(key, 0.5 + 0.1 * i - 0.01 * epoch)
    return history


class FakeALI:
    """Duck-typed stand-in for a fitted ALITransformer, fully deterministic.

    ``encode`` keeps the first ``n_components`` features; ``inverse_transform``
    fills every feature of a row with the row's mean code, so decoded values
    are easy to predict.
    """

    def __init__(self, image_shape=(1, 8, 8), n_features=None, n_components=3):
        self.image_shape_ = image_shape
        self.n_features = (
            int(np.prod(image_shape)) if image_shape is not None else n_features
        )
        self.n_components = n_components
        self.history_ = make_history()
        self.decoded_codes = []

    def _shape(self, n):
        if self.image_shape_ is None:
            return (n, self.n_features)
        return (n, *self.image_shape_)

    def sample(self, n_samples, random_state=None):
        self.sample_random_state = random_state
        values = np.arange(n_samples * self.n_features, dtype=float) % 256
        return values.reshape(self._shape(n_samples))

    def encode(self, X):
        X = np.asarray(X, dtype=float)
        return X.reshape(len(X), -1)[:, : self.n_components]

    def inverse_transform(self, Z):
        Z = np.asarray(Z, dtype=float)
        self.decoded_codes.append(Z)
        flat = np.repeat(Z.mean(axis=1, keepdims=True), self.n_features, axis=1)
        return flat.reshape(self._shape(len(Z)))


def image_axes(fig):
    return [ax for ax in fig.axes if ax.get_images()]


def images_of(fig):
    return [ax.get_images()[0].get_array() for ax in image_axes(fig)]


# --------------------------------------------------------------------------
# plot_image_grid
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("images", "image_shape", "expected_image_shape"),
    [
        (np.ones((10, 1, 8, 8)), None, (8, 8)),
        (np.ones((10, 8, 8)), None, (8, 8)),
        (np.ones((10, 3, 6, 5)), None, (6, 5, 3)),
        (np.ones((10, 64)), None, (8, 8)),  # square width: shape inferred
        (np.ones((10, 24)), (4, 6), (4, 6)),
        (np.ones((10, 90)), (3, 6, 5), (6, 5, 3)),
        (np.ones((10, 1, 8, 8)), (8, 8), (8, 8)),
    ],
)
def test_image_grid_shapes(images, image_shape, expected_image_shape):
    fig = plot_image_grid(images, n_cols=4, image_shape=image_shape)
    axes = image_axes(fig)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(axes) == len(fig.axes) == 10
    for ax in axes:
        assert len(ax.get_images()) == 1
        assert ax.get_images()[0].get_array().shape == expected_image_shape
        assert not ax.get_xticks().size and not ax.get_yticks().size
    # 10 images on 4 columns: 3 rows, last one partly filled
    rows = {round(ax.get_position().y0, 6) for ax in axes}
    cols = {round(ax.get_position().x0, 6) for ax in axes}
    assert (len(rows), len(cols)) == (3, 4)


def test_image_grid_fewer_images_than_columns():
    fig = plot_image_grid(np.zeros((3, 1, 4, 4)), n_cols=8)
    cols = {round(ax.get_position().x0, 6) for ax in fig.axes}
    assert len(fig.axes) == len(cols) == 3


@pytest.mark.parametrize("scale", [1.0, 255.0, 16.0])
def test_image_grid_rescales_to_unit_range(scale):
    images = np.linspace(0.0, 1.0, 2 * 16).reshape(2, 1, 4, 4) * scale
    arrays = images_of(plot_image_grid(images))
    assert min(a.min() for a in arrays) == pytest.approx(0.0)
    assert max(a.max() for a in arrays) == pytest.approx(1.0)
    # one range for the whole grid: the first (darker) image is not stretched
    assert arrays[0].max() < 0.5


def test_image_grid_keeps_unit_range_images_unchanged():
    images = np.full((2, 1, 4, 4), 0.25)
    images[1] = 0.5
    arrays = images_of(plot_image_grid(images))
    np.testing.assert_allclose(arrays[0], 0.25)
    np.testing.assert_allclose(arrays[1], 0.5)


def test_image_grid_rgb_and_negative_range():
    images = np.linspace(-1.0, 1.0, 2 * 3 * 16).reshape(2, 3, 4, 4)
    arrays = images_of(plot_image_grid(images))
    assert arrays[0].shape == (4, 4, 3)
    assert min(a.min() for a in arrays) == pytest.approx(0.0)
    assert max(a.max() for a in arrays) == pytest.approx(1.0)


def test_image_grid_into_given_figure_with_title():
    fig = plt.figure()
    returned = plot_image_grid(np.zeros((5, 4, 4)), title="digits", fig=fig)
    assert returned is fig
    assert len(fig.axes) == 5
    assert fig._suptitle.get_text() == "digits"


@pytest.mark.parametrize(
    ("images", "image_shape", "match"),
    [
        (np.zeros((4, 10)), None, "perfect square"),
        (np.zeros((4, 2, 5, 5)), None, "1 or 3 channels"),
        (np.zeros((4, 64)), (3, 8, 8), "holds 192 values"),
        (np.zeros((4, 64)), (64,), r"\(H, W\) or \(C, H, W\)"),
        (np.zeros((0, 1, 4, 4)), None, "at least one image"),
        (np.zeros((2, 1, 1, 4, 4)), None, r"\(n, C, H, W\)"),
    ],
)
def test_image_grid_invalid_input(images, image_shape, match):
    with pytest.raises(ValueError, match=match):
        plot_image_grid(images, image_shape=image_shape)


# --------------------------------------------------------------------------
# Estimator image plots
# --------------------------------------------------------------------------


@pytest.mark.parametrize("image_shape", [(1, 8, 8), (3, 6, 6)])
def test_plot_samples(image_shape):
    est = FakeALI(image_shape=image_shape)
    fig = plot_samples(est, n_samples=12, random_state=7, n_cols=4)
    assert len(image_axes(fig)) == 12
    assert est.sample_random_state == 7
    expected = image_shape[1:] if image_shape[0] == 1 else (*image_shape[1:], 3)
    assert images_of(fig)[0].shape == expected


def test_plot_samples_default_count_and_given_figure():
    fig = plt.figure()
    assert plot_samples(FakeALI(), fig=fig) is fig
    assert len(image_axes(fig)) == 64


def test_tabular_estimator_with_non_square_features_raises():
    est = FakeALI(image_shape=None, n_features=2, n_components=2)
    with pytest.raises(ValueError, match=r"tabular data \(image_shape_ is None\)"):
        plot_samples(est)
    with pytest.raises(ValueError, match="image_shape"):
        plot_reconstructions(est, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="image_shape"):
        plot_interpolations(est, np.zeros(2), np.ones(2))


def test_tabular_estimator_with_image_shape_or_square_features():
    flat = FakeALI(image_shape=None, n_features=12)
    fig = plot_samples(flat, n_samples=5, image_shape=(3, 4))
    assert images_of(fig)[0].shape == (3, 4)
    square = FakeALI(image_shape=None, n_features=64)
    assert images_of(plot_samples(square, n_samples=5))[0].shape == (8, 8)


def test_plot_reconstructions():
    est = FakeALI()
    X = np.arange(10 * 64, dtype=float).reshape(10, 1, 8, 8) % 17
    fig = plot_reconstructions(est, X, n_cols=6)
    axes = image_axes(fig)
    assert len(axes) == 12
    assert axes[0].get_ylabel() == "data"
    assert axes[6].get_ylabel() == "reconstruction"
    top = {round(ax.get_position().y0, 6) for ax in axes[:6]}
    bottom = {round(ax.get_position().y0, 6) for ax in axes[6:]}
    assert len(top) == len(bottom) == 1 and top.pop() > bottom.pop()
    # the fake decoder fills each image with the mean of its first 3 pixels
    arrays = images_of(fig)
    expected = X[0].ravel()[:3].mean() / X[:6].max()
    np.testing.assert_allclose(arrays[6], expected)


def test_plot_reconstructions_clips_to_len_X_and_rejects_zero():
    est = FakeALI()
    fig = plot_reconstructions(est, np.ones((3, 1, 8, 8)), n_cols=8)
    assert len(image_axes(fig)) == 6
    with pytest.raises(ValueError, match="n_cols"):
        plot_reconstructions(est, np.ones((3, 1, 8, 8)), n_cols=0)


def test_plot_interpolations_single_pair():
    est = FakeALI(n_components=2)
    x_start = np.zeros((1, 8, 8))
    x_end = np.full((1, 8, 8), 4.0)
    fig = plot_interpolations(est, x_start, x_end, n_steps=5)
    assert len(image_axes(fig)) == 5
    codes = est.decoded_codes[-1]
    assert codes.shape == (5, 2)
    np.testing.assert_allclose(codes[:, 0], [0.0, 1.0, 2.0, 3.0, 4.0])


def test_plot_interpolations_several_pairs():
    est = FakeALI(n_components=2)
    x_start = np.zeros((3, 1, 8, 8))
    x_end = np.arange(1.0, 4.0)[:, None, None, None] * np.ones((3, 1, 8, 8))
    fig = plot_interpolations(est, x_start, x_end, n_steps=4)
    assert len(image_axes(fig)) == 12
    rows = {round(ax.get_position().y0, 6) for ax in image_axes(fig)}
    assert len(rows) == 3
    codes = est.decoded_codes[-1].reshape(3, 4, 2)
    np.testing.assert_allclose(codes[:, 0], 0.0)
    np.testing.assert_allclose(codes[:, -1, 0], [1.0, 2.0, 3.0])


def test_plot_interpolations_tabular_pairs_as_rows():
    est = FakeALI(image_shape=None, n_features=16, n_components=2)
    fig = plot_interpolations(est, np.zeros((2, 16)), np.ones((2, 16)), n_steps=3)
    assert len(image_axes(fig)) == 6
    assert images_of(fig)[0].shape == (4, 4)
    fig = plot_interpolations(est, np.zeros(16), np.ones(16), n_steps=3)
    assert len(image_axes(fig)) == 3


@pytest.mark.parametrize(
    ("x_end", "n_steps", "match"),
    [
        (np.ones((2, 1, 8, 8)), 4, "as many samples"),
        (np.ones((1, 8, 8)), 1, "n_steps"),
        (np.ones((1, 7, 7)), 4, "Cannot read"),
    ],
)
def test_plot_interpolations_invalid(x_end, n_steps, match):
    with pytest.raises(ValueError, match=match):
        plot_interpolations(FakeALI(), np.zeros((1, 8, 8)), x_end, n_steps=n_steps)


# --------------------------------------------------------------------------
# Scatter plots
# --------------------------------------------------------------------------


def scatter_collections(ax):
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def legend_labels(ax):
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_latent_scatter_from_estimator_coloured_by_class():
    est = FakeALI(image_shape=None, n_features=4, n_components=3)
    X = np.arange(30 * 4, dtype=float).reshape(30, 4)
    y = np.repeat([2, 0, 1], 10)
    ax = plot_latent_scatter(est, X, y)
    (collection,) = scatter_collections(ax)
    np.testing.assert_allclose(collection.get_offsets(), X[:, :2])
    assert legend_labels(ax) == ["0", "1", "2"]
    colors = collection.get_facecolors()
    assert len(np.unique(colors, axis=0)) == 3
    # same class, same colour
    np.testing.assert_array_equal(colors[0], colors[9])
    assert ax.get_xlabel() == "$z_{1}$"


def test_latent_scatter_from_codes_with_dims_and_many_classes():
    codes = np.random.default_rng(0).normal(size=(100, 4))
    y = np.arange(100) % 25
    fig, ax = plt.subplots()
    returned = plot_latent_scatter(codes, y=y, dims=(2, 3), ax=ax, title="latent")
    assert returned is ax
    (collection,) = scatter_collections(ax)
    np.testing.assert_allclose(collection.get_offsets(), codes[:, 2:])
    assert len(np.unique(collection.get_facecolors(), axis=0)) == 25
    assert ax.get_legend() is None  # "auto": too many classes for a legend
    assert ax.get_title() == "latent"
    ax = plot_latent_scatter(codes, y=y, legend=True)
    assert len(legend_labels(ax)) == 25


def test_latent_scatter_without_labels():
    ax = plot_latent_scatter(np.zeros((7, 2)))
    (collection,) = scatter_collections(ax)
    assert len(collection.get_offsets()) == 7
    assert ax.get_legend() is None


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((FakeALI(),), {}, "X is required"),
        ((np.zeros((5, 2)), np.arange(5)), {}, "pass the labels as y"),
        ((np.zeros((5, 1)),), {}, "at least two latent dimensions"),
        ((np.zeros((5, 3)),), {"dims": (0, 3)}, "no dimensions"),
        ((np.zeros((5, 2)),), {"y": np.arange(4)}, "y has 4 entries"),
        ((np.zeros((5, 2)),), {"y": np.arange(5), "legend": "yes"}, "legend"),
    ],
)
def test_latent_scatter_invalid(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_latent_scatter(*args, **kwargs)


def test_toy_data_with_components_and_overlay():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = np.arange(50) % 5
    ax = plot_toy_data(X, y)
    (collection,) = scatter_collections(ax)
    assert len(collection.get_offsets()) == 50
    assert legend_labels(ax) == ["0", "1", "2", "3", "4"]
    assert ax.get_aspect() == 1.0

    ax = plot_toy_data(X, label="data")
    plot_toy_data(X[:20] + 1, ax=ax, color="C1", label="samples")
    assert [len(c.get_offsets()) for c in scatter_collections(ax)] == [50, 20]
    assert ax.get_legend_handles_labels()[1] == ["data", "samples"]


def test_toy_data_rejects_non_2d_points():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot_toy_data(np.zeros((5, 3)))


# --------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------


def line_labels(ax):
    return [line.get_label() for line in ax.get_lines()]


def test_training_curves_losses_and_accuracies():
    keys = ("d_loss", "g_loss", "recon_loss", "d_real_acc", "d_fake_acc")
    loss_ax, acc_ax = plot_training_curves(make_history(4, keys))
    assert line_labels(loss_ax) == [
        "discriminator loss",
        "generator loss",
        "reconstruction loss",
    ]
    assert legend_labels(loss_ax) == line_labels(loss_ax)
    assert legend_labels(acc_ax) == [
        "D accuracy on encoder pairs (x, E(x))",
        "D accuracy on decoder pairs (G(z), z)",
        "chance",
    ]
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_xdata(), [1, 2, 3, 4])
    assert acc_ax.get_ylim() == (-0.02, 1.02)


def test_training_curves_from_estimator_without_accuracies():
    est = FakeALI()
    est.history_ = make_history(2, keys=("d_loss", "g_loss"))
    ax = plot_training_curves(est)
    assert ax.figure.axes == [ax]
    assert legend_labels(ax) == ["discriminator loss", "generator loss"]


def test_training_curves_plot_only_epochs_that_recorded_a_key():
    rows = [
        {"epoch": 1, "d_loss": 1.0, "g_loss": 2.0},
        {"epoch": 2, "d_loss": 0.9, "g_loss": 1.5, "d_real_acc": 0.7},
        {"epoch": 3, "d_loss": 0.8, "g_loss": 1.2, "d_real_acc": 0.6},
    ]
    _, acc_ax = plot_training_curves(rows)
    acc_line = acc_ax.get_lines()[0]
    np.testing.assert_array_equal(acc_line.get_xdata(), [2, 3])
    np.testing.assert_allclose(acc_line.get_ydata(), [0.7, 0.6])


def test_training_curves_on_one_axes_uses_twin_axis():
    fig, ax = plt.subplots()
    returned = plot_training_curves(make_history(), ax=ax)
    assert returned is ax
    assert len(fig.axes) == 2  # ax and its twin
    assert len(ax.get_lines()) == 2
    twin = fig.axes[1]
    assert len(twin.get_lines()) == 3
    assert legend_labels(twin) == [
        "discriminator loss",
        "generator loss",
        "D accuracy on encoder pairs (x, E(x))",
        "D accuracy on decoder pairs (G(z), z)",
        "chance",
    ]


def test_training_curves_on_a_pair_of_axes():
    fig, axes = plt.subplots(1, 2)
    assert plot_training_curves(make_history(), ax=axes) is axes
    assert [len(ax.get_lines()) for ax in axes] == [2, 3]
    with pytest.raises(ValueError, match="pair"):
        plot_training_curves(make_history(), ax=[axes[0]])


@pytest.mark.parametrize(
    ("history", "error", "match"),
    [
        (History(), ValueError, "empty"),
        ([{"epoch": 1, "train_loss": 0.3}], ValueError, "none of"),
        ([1.0, 2.0], TypeError, "per-epoch dicts"),
    ],
)
def test_training_curves_invalid_history(history, error, match):
    with pytest.raises(error, match=match):
        plot_training_curves(history)


def test_training_curves_unfitted_estimator():
    class Unfitted:
        def fit(self, X):
            return self

    with pytest.raises(NotFittedError, match="fit it"):
        plot_training_curves(Unfitted())


# --------------------------------------------------------------------------
# Optional dependency
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "args"),
    [
        (plot_image_grid, (np.zeros((2, 4, 4)),)),
        (plot_samples, (FakeALI(),)),
        (plot_reconstructions, (FakeALI(), np.zeros((2, 1, 8, 8)))),
        (plot_interpolations, (FakeALI(), np.zeros((1, 8, 8)), np.ones((1, 8, 8)))),
        (plot_latent_scatter, (np.zeros((3, 2)),)),
        (plot_toy_data, (np.zeros((3, 2)),)),
        (plot_training_curves, (make_history(),)),
    ],
)
def test_missing_matplotlib_raises_import_error(monkeypatch, func, args):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'sklearn-ali\[plot\]'"):
        func(*args)
    with pytest.raises(ImportError, match="requires matplotlib"):
        plotting._import_pyplot()


# --------------------------------------------------------------------------
# Real estimator
# --------------------------------------------------------------------------


def test_plots_from_fitted_ali_transformer():
    ALITransformer = pytest.importorskip("sklearn_ali").__dict__.get("ALITransformer")
    if ALITransformer is None:
        pytest.skip("sklearn_ali.ALITransformer is not available yet")
    from sklearn.datasets import load_digits

    X = load_digits().images[:200][:, None]
    est = ALITransformer(n_components=4, max_epochs=1, random_state=0).fit(X)

    fig = plot_samples(est, n_samples=16, random_state=0, n_cols=4)
    assert len(image_axes(fig)) == 16
    assert images_of(fig)[0].shape == (8, 8)

    fig = plot_reconstructions(est, X, n_cols=5)
    assert len(image_axes(fig)) == 10

    axes = plot_training_curves(est)
    labels = [label for ax in axes for label in legend_labels(ax)]
    assert {"discriminator loss", "generator loss"} <= set(labels)


@pytest.fixture(scope="module")
def conditional():
    from sklearn.datasets import load_digits

    from sklearn_ali import ConditionalALI

    data = load_digits()
    X, y = data.images[:200, None], data.target[:200]
    model = ConditionalALI(n_components=3, conv_width=4, max_epochs=1, random_state=0)
    return model.fit(X, y), X, y


def test_plot_conditional_grid_rows_are_conditions_columns_fixed_z(conditional):
    from sklearn_ali.plotting import plot_conditional_grid

    model, _, _ = conditional
    fig = plot_conditional_grid(model, [1, 7, 9], n_cols=4, random_state=0)
    axes = image_axes(fig)
    assert len(axes) == 12
    assert [axes[i].get_ylabel() for i in (0, 4, 8)] == ["1", "7", "9"]
    # each column is one z: the third row's second image is z_1 under "9"
    Z = np.random.RandomState(0).standard_normal((4, 3))
    expected = model.decode(Z[1:2], 9)[0, 0]
    shown = images_of(fig)[9]
    # the display scale is shared: compare up to an affine map
    assert np.corrcoef(shown.ravel(), expected.ravel())[0, 1] > 0.999
    with pytest.raises(ValueError, match="n_cols"):
        plot_conditional_grid(model, [1], n_cols=0)


def test_plot_condition_swap_decodes_codes_under_each_condition(conditional):
    from sklearn_ali.plotting import plot_condition_swap

    model, X, y = conditional
    fig = plot_condition_swap(model, X, y, [0, 5], n_cols=3)
    axes = image_axes(fig)
    assert len(axes) == 9
    assert [axes[i].get_ylabel() for i in (0, 3, 6)] == ["data", "as 0", "as 5"]
    expected = model.decode(model.encode(X[:3], y[:3]), 5)[2, 0]
    assert np.corrcoef(images_of(fig)[8].ravel(), expected.ravel())[0, 1] > 0.999


@pytest.mark.parametrize(
    ("func", "old"),
    [
        (plot_reconstructions, "n_images"),
        (plotting.plot_conditional_grid, "n_columns"),
        (plotting.plot_condition_swap, "n_images"),
    ],
)
def test_old_column_names_are_refused_naming_the_new_one(func, old):
    with pytest.raises(TypeError, match=rf"takes n_cols= where it took {old}="):
        func(FakeALI(), np.zeros((2, 1, 8, 8)), **{old: 4})


def test_training_curves_of_the_hinge_game_show_its_margins():
    keys = ("d_loss", "g_loss", "d_real_in_margin", "d_fake_in_margin")
    loss_ax, margin_ax = plot_training_curves(make_history(3, keys))
    assert legend_labels(margin_ax) == [
        "encoder pairs inside D's margin (score < 1)",
        "decoder pairs inside D's margin (score > -1)",
    ]  # no "chance" line: the margins have no balance value
    assert margin_ax.get_ylabel() == "share of pairs inside the margin"


def test_latent_match_plots_the_latent_statistic():
    rows = [{"epoch": e, "d_loss": 1.0, "latent_mmd": 0.5 / e} for e in (1, 2, 3)]
    ax = plotting.plot_latent_match(rows)
    (line, zero) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), [0.5, 0.25, 0.5 / 3])
    assert list(zero.get_ydata()) == [0, 0]
    assert legend_labels(ax)[1] == "codes as the prior"
    with pytest.raises(ValueError, match="latent_mmd"):
        plotting.plot_latent_match([{"epoch": 1, "d_loss": 1.0}])
