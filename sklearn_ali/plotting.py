"""Plotting utilities for fitted :class:`~sklearn_ali.ALITransformer` models.

matplotlib is an optional dependency, installed with
``pip install "sklearn-ali[plot]"``. It is imported only when a plotting function
is called, so importing this module never requires it.

Grid functions (:func:`plot_image_grid`, :func:`plot_samples`,
:func:`plot_reconstructions`, :func:`plot_interpolations`, and for
:class:`~sklearn_ali.ConditionalALI` :func:`plot_conditional_grid` and
:func:`plot_condition_swap`)
take ``fig=`` (a Figure or SubFigure to draw in) and return the
:class:`matplotlib.figure.Figure`; the functions that draw on Axes
(:func:`plot_latent_scatter`, :func:`plot_toy_data`,
:func:`plot_training_curves`, :func:`plot_latent_match`) take ``ax=`` and
return the Axes they drew on.
A grid's column count is ``n_cols`` everywhere (``n_steps`` of
:func:`plot_interpolations` counts interpolation points, one a column).
"""

import functools
import math
from collections.abc import Mapping

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

from .objectives import LATENT_DIAGNOSTIC, LOSS_DIAGNOSTICS, LOSSES

__all__ = [
    "plot_condition_swap",
    "plot_conditional_grid",
    "plot_image_grid",
    "plot_interpolations",
    "plot_latent_match",
    "plot_latent_scatter",
    "plot_reconstructions",
    "plot_samples",
    "plot_toy_data",
    "plot_training_curves",
]

# Layout of image grids, in inches.
_CELL_INCHES = 1.0
_MAX_GRID_WIDTH_INCHES = 12.0
_PAD_INCHES = 0.1
_TITLE_INCHES = 0.35
_ROW_LABEL_INCHES = 0.3

# Above this many classes a legend hides more than it explains (the ALI toy
# data has 25 mixture components).
_MAX_AUTO_LEGEND_CLASSES = 10


def _renamed(**renamed):
    """Refuse keywords that were renamed, naming the new one."""

    def decorate(function):
        @functools.wraps(function)
        def refuse(*args, **kwargs):
            for old, new in renamed.items():
                if old in kwargs:
                    raise TypeError(
                        f"{function.__name__}() takes {new}= where it took "
                        f"{old}=; got {old}={kwargs[old]!r}."
                    )
            return function(*args, **kwargs)

        return refuse

    return decorate


def _import_pyplot():
    """Return ``matplotlib.pyplot``, or explain how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sklearn_ali.plotting requires matplotlib: pip install 'sklearn-ali[plot]'"
        ) from exc
    return plt


# --------------------------------------------------------------------------
# Image handling
# --------------------------------------------------------------------------


def _square_image_shape(n_features):
    """Guess ``(1, s, s)`` for flat grayscale images, or None if not square."""
    side = math.isqrt(n_features)
    return (1, side, side) if side > 1 and side * side == n_features else None


def _as_chw_shape(image_shape):
    """Normalise an ``(H, W)`` or ``(C, H, W)`` shape to ``(C, H, W)``."""
    shape = tuple(int(s) for s in image_shape)
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) != 3:
        raise ValueError(f"image_shape must be (H, W) or (C, H, W); got {shape}.")
    return shape


def _to_nchw(images, image_shape=None):
    """Return ``images`` as a float ``(n, C, H, W)`` array.

    Raises a ValueError naming ``image_shape`` when flat input has no shape
    that can be inferred.
    """
    images = np.asarray(images, dtype=float)
    if images.ndim == 0 or len(images) == 0:
        raise ValueError("Expected at least one image; got an empty array.")
    if image_shape is None:
        if images.ndim == 4:
            return images
        if images.ndim == 3:
            return images[:, None]
        if images.ndim != 2:
            raise ValueError(
                "images must have shape (n, C, H, W), (n, H, W) or (n, d); "
                f"got {images.shape}."
            )
        image_shape = _square_image_shape(images.shape[1])
        if image_shape is None:
            raise ValueError(
                f"Cannot show flat data with {images.shape[1]} features as "
                "images: the number of features is not a perfect square, so "
                "pass image_shape=(C, H, W) or (H, W)."
            )
    shape = _as_chw_shape(image_shape)
    per_image = images[0].size
    if math.prod(shape) != per_image:
        raise ValueError(
            f"image_shape {shape} holds {math.prod(shape)} values, but each "
            f"image has {per_image}."
        )
    return images.reshape(len(images), *shape)


def _to_display(images):
    """Turn ``(n, C, H, W)`` images into what ``imshow`` expects, in [0, 1].

    One value range is used for the whole batch so that brightness stays
    comparable across images (e.g. data above its reconstruction). The range
    always covers [0, 1], so 0-1 images are shown unchanged while 0-255 (or
    0-16, as in ``load_digits``) images are divided by their maximum.
    """
    n_channels = images.shape[1]
    if n_channels not in (1, 3):
        raise ValueError(
            f"Images must have 1 or 3 channels; got {n_channels} "
            f"(shape {images.shape}). Channels go on axis 1: (n, C, H, W)."
        )
    finite = images[np.isfinite(images)]
    low = min(float(finite.min()), 0.0) if finite.size else 0.0
    high = max(float(finite.max()), 1.0) if finite.size else 1.0
    scaled = (images - low) / (high - low)
    if n_channels == 1:
        return scaled[:, 0]
    # RGB float images outside [0, 1] make imshow warn and clip anyway.
    return np.clip(scaled.transpose(0, 2, 3, 1), 0.0, 1.0)


def _figure_size_inches(fig):
    """Size of a Figure or SubFigure in inches."""
    return fig.bbox.width / fig.dpi, fig.bbox.height / fig.dpi


def _draw_image_grid(
    plt, images, *, n_cols, cmap="gray", title=None, fig=None, row_labels=None
):
    """Draw display-ready images one per Axes; return ``(fig, axes)``."""
    n_images = len(images)
    n_cols = max(1, min(int(n_cols), n_images))
    n_rows = -(-n_images // n_cols)
    cell = min(_CELL_INCHES, _MAX_GRID_WIDTH_INCHES / n_cols)
    left = _PAD_INCHES + (_ROW_LABEL_INCHES if row_labels else 0.0)
    top = _PAD_INCHES + (_TITLE_INCHES if title else 0.0)
    if fig is None:
        width = left + n_cols * cell + _PAD_INCHES
        height = top + n_rows * cell + _PAD_INCHES
        fig = plt.figure(figsize=(width, height))
    else:
        width, height = _figure_size_inches(fig)

    # A gridspec of its own keeps these margins from touching anything else
    # already drawn on a Figure passed in by the caller.
    grid = fig.add_gridspec(
        n_rows,
        n_cols,
        left=min(left / width, 0.3),
        right=1.0 - min(_PAD_INCHES / width, 0.1),
        bottom=min(_PAD_INCHES / height, 0.1),
        top=1.0 - min(top / height, 0.3),
        wspace=0.05,
        hspace=0.05,
    )
    axes = []
    for i, image in enumerate(images):
        ax = fig.add_subplot(grid[i // n_cols, i % n_cols])
        ax.imshow(
            image,
            cmap=cmap if image.ndim == 2 else None,
            vmin=0.0,
            vmax=1.0,
            interpolation="nearest",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        axes.append(ax)
    if row_labels:
        for row, label in enumerate(row_labels):
            axes[row * n_cols].set_ylabel(label, fontsize="small")
    if title:
        fig.suptitle(title)
    return fig, axes


def _estimator_images(estimator, data, image_shape):
    """Shape an estimator's output as images, explaining tabular failures."""
    if image_shape is None:
        image_shape = getattr(estimator, "image_shape_", None)
    data = np.asarray(data)
    if (
        image_shape is None
        and data.ndim == 2
        and _square_image_shape(data.shape[1]) is None
    ):
        raise ValueError(
            f"{type(estimator).__name__} was fitted on tabular data "
            f"(image_shape_ is None) and its {data.shape[1]} features do not "
            "form a square image. Pass image_shape=(C, H, W) or (H, W), or "
            "use plot_toy_data / plot_latent_scatter for tabular data."
        )
    return _to_nchw(data, image_shape)


def _as_input_batch(estimator, x):
    """Return ``x`` as a batch the estimator accepts, adding a batch axis if
    ``x`` is a single sample."""
    x = np.asarray(x)
    image_shape = getattr(estimator, "image_shape_", None)
    if image_shape is not None:
        # Reshaping also accepts (H, W), (n, H, W) and flat rows for images.
        per_image = math.prod(image_shape)
        if x.size == 0 or x.size % per_image:
            raise ValueError(
                f"Cannot read an array of shape {x.shape} as images of shape "
                f"{tuple(image_shape)}."
            )
        return x.reshape(-1, *image_shape)
    if x.ndim == 1:
        return x[None]
    if x.ndim != 2:
        raise ValueError(
            "For a tabular model, pass one sample as a 1-D array or several "
            f"as a 2-D array (one row each); got shape {x.shape}."
        )
    return x


# --------------------------------------------------------------------------
# Image grids
# --------------------------------------------------------------------------


def plot_image_grid(
    images, *, n_cols=8, image_shape=None, cmap="gray", title=None, fig=None
):
    """Show images on a grid, one Axes per image without ticks.

    Parameters
    ----------
    images : array-like of shape (n, C, H, W), (n, H, W) or (n, d)
        Images with 1 or 3 channels. Flat rows need ``image_shape`` unless
        ``d`` is a perfect square, in which case square grayscale images are
        assumed.
    n_cols : int, default=8
        Number of grid columns (reduced to ``n`` when there are fewer images).
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)`` used to reshape each image. Required for
        flat input whose width is not a perfect square.
    cmap : str or matplotlib.colors.Colormap, default="gray"
        Colormap for 1-channel images; ignored for RGB images.
    title : str, default=None
        Figure title.
    fig : matplotlib.figure.Figure or matplotlib.figure.SubFigure, default=None
        Where to draw. The grid is added next to any existing content, so
        pass an empty Figure (or a SubFigure). A new Figure sized to the grid
        is created when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The Figure (or the SubFigure passed as ``fig``) holding the grid.

    Notes
    -----
    Pixel values are mapped linearly to [0, 1] with a single range for the
    whole grid: the smallest range containing both the data and [0, 1]. Images
    already in [0, 1] are therefore shown as they are, while 0-255 images are
    divided by their maximum.
    """
    plt = _import_pyplot()
    display = _to_display(_to_nchw(images, image_shape))
    fig, _ = _draw_image_grid(
        plt, display, n_cols=n_cols, cmap=cmap, title=title, fig=fig
    )
    return fig


def plot_samples(
    estimator, n_samples=64, *, random_state=None, n_cols=8, image_shape=None, fig=None
):
    """Show images drawn by a fitted model's ``sample``.

    For :class:`~sklearn_ali.ALITransformer` these are decoder draws
    ``G_x(z)`` for codes drawn from the mixture of the training codes (every
    architecture but the MLP) or from N(0, I) and kept by the discriminator
    (the MLP); see its ``sample``.

    Parameters
    ----------
    estimator : ALITransformer
        Fitted model exposing ``sample(n_samples, random_state=None)``.
    n_samples : int, default=64
        Number of images to draw.
    random_state : int, RandomState instance or None, default=None
        Passed to ``estimator.sample`` for reproducible draws.
    n_cols : int, default=8
        Number of grid columns.
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)`` for a model fitted on flattened images;
        by default taken from ``estimator.image_shape_``.
    fig : matplotlib.figure.Figure or matplotlib.figure.SubFigure, default=None
        Where to draw; a new Figure is created when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The Figure holding one Axes per sample.

    Raises
    ------
    ValueError
        If the model is tabular and no image shape is given or can be
        inferred.
    """
    plt = _import_pyplot()
    samples = estimator.sample(n_samples, random_state=random_state)
    display = _to_display(_estimator_images(estimator, samples, image_shape))
    fig, _ = _draw_image_grid(plt, display, n_cols=n_cols, fig=fig)
    return fig


@_renamed(n_images="n_cols")
def plot_reconstructions(estimator, X, *, n_cols=8, image_shape=None, fig=None):
    """Show data above their reconstructions ``G_x(E(x))``.

    The reconstruction decodes the latent mean, ``inverse_transform(encode(X))``.
    Pure ALI (``reconstruction_weight=0``) has no reconstruction loss, so
    expect faithful content rather than pixel-exact copies; the default cycle
    term brings reconstructions closer.

    Parameters
    ----------
    estimator : ALITransformer
        Fitted model exposing ``encode`` and ``inverse_transform``.
    X : array-like
        Data in the layout the model was fitted on; the first ``n_cols``
        rows are shown.
    n_cols : int, default=8
        Number of columns: images per row (at most ``len(X)``).
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)`` for a model fitted on flattened images;
        by default taken from ``estimator.image_shape_``.
    fig : matplotlib.figure.Figure or matplotlib.figure.SubFigure, default=None
        Where to draw; a new Figure is created when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The Figure holding ``2 * n_cols`` Axes: data in the top row,
        reconstructions in the bottom row.

    Raises
    ------
    ValueError
        If the model is tabular and no image shape is given or can be
        inferred.
    """
    plt = _import_pyplot()
    if n_cols < 1:
        raise ValueError(f"n_cols must be at least 1; got {n_cols}.")
    X = np.asarray(X)[:n_cols]
    reconstructions = estimator.inverse_transform(estimator.encode(X))
    originals = _estimator_images(estimator, X, image_shape)
    reconstructions = _estimator_images(estimator, reconstructions, image_shape)
    # One display range for both rows, so brightness differences are real.
    display = _to_display(np.concatenate([originals, reconstructions]))
    fig, _ = _draw_image_grid(
        plt, display, n_cols=len(X), fig=fig, row_labels=("data", "reconstruction")
    )
    return fig


@_renamed(n_columns="n_cols")
def plot_conditional_grid(
    estimator, conditions, *, n_cols=8, random_state=None, fig=None
):
    """Samples with one row per condition and one column per fixed z.

    Each column decodes one latent draw z ~ N(0, I) under every condition,
    so that along a column only what the condition describes changes and
    along a row only what z holds (the ALI paper's Figure 7).

    Parameters
    ----------
    estimator : ConditionalALI
        Fitted model.
    conditions : array-like
        One condition per row of the grid: class labels, or rows of
        attributes.
    n_cols : int, default=8
        Latent draws, one per column.
    random_state : int, RandomState instance or None, default=None
        Seeds the latent draws.
    fig : matplotlib.figure.Figure or matplotlib.figure.SubFigure, default=None
        Where to draw; a new Figure is created when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The Figure holding ``len(conditions) * n_cols`` Axes.
    """
    plt = _import_pyplot()
    if n_cols < 1:
        raise ValueError(f"n_cols must be at least 1; got {n_cols}.")
    conditions = np.asarray(conditions)
    n_rows = len(conditions)
    Z = check_random_state(random_state).standard_normal(
        (n_cols, estimator.n_components_)
    )
    Z = np.tile(Z, (n_rows, 1))  # row r, column c: z_c under condition r
    y = np.repeat(conditions, n_cols, axis=0)
    images = _estimator_images(estimator, estimator.decode(Z, y), None)
    labels = [str(c) for c in conditions] if conditions.ndim == 1 else None
    fig, _ = _draw_image_grid(
        plt, _to_display(images), n_cols=n_cols, fig=fig, row_labels=labels
    )
    return fig


@_renamed(n_images="n_cols")
def plot_condition_swap(estimator, X, y, conditions, *, n_cols=8, fig=None):
    """Data encoded with their own condition, decoded under other conditions.

    The top row shows the data; each further row decodes their latent means
    ``encode(X, y)`` under one condition of ``conditions``: what z keeps
    (style) stays, what the condition says changes.

    Parameters
    ----------
    estimator : ConditionalALI
        Fitted model.
    X : array-like
        Data in the layout the model was fitted on; the first ``n_cols``
        rows are shown.
    y : array-like
        Their true conditions.
    conditions : array-like
        The conditions to decode under, one row of the figure each.
    n_cols : int, default=8
        Number of data shown (at most ``len(X)``).
    fig : matplotlib.figure.Figure or matplotlib.figure.SubFigure, default=None
        Where to draw; a new Figure is created when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The Figure holding ``(1 + len(conditions)) * n_cols`` Axes.
    """
    plt = _import_pyplot()
    if n_cols < 1:
        raise ValueError(f"n_cols must be at least 1; got {n_cols}.")
    X = np.asarray(X)[:n_cols]
    y = np.asarray(y)[: len(X)]
    Z = estimator.encode(X, y)
    rows = [_estimator_images(estimator, X, None)]
    for condition in conditions:
        rows.append(_estimator_images(estimator, estimator.decode(Z, condition), None))
    display = _to_display(np.concatenate(rows))
    if np.ndim(conditions) == 1:
        labels = ["data", *(f"as {c}" for c in conditions)]
    else:
        labels = ["data", *(f"condition {i}" for i in range(len(conditions)))]
    fig, _ = _draw_image_grid(plt, display, n_cols=len(X), fig=fig, row_labels=labels)
    return fig


def plot_interpolations(
    estimator, x_start, x_end, *, n_steps=8, image_shape=None, fig=None
):
    """Decode points on the line between two latent means.

    Each pair ``(x_start, x_end)`` is encoded to its latent means ``z0`` and
    ``z1``; the decoder is then applied to ``(1 - t) z0 + t z1`` for ``n_steps``
    evenly spaced ``t`` in [0, 1]. Smooth transitions indicate a latent space
    that organises the data rather than memorising it.

    Parameters
    ----------
    estimator : ALITransformer
        Fitted model exposing ``encode`` and ``inverse_transform``.
    x_start, x_end : array-like
        One sample each (``(C, H, W)`` for image models, ``(d,)`` for tabular
        ones) or several pairs, one per row (``(n_pairs, C, H, W)`` or
        ``(n_pairs, d)``).
    n_steps : int, default=8
        Number of interpolation points per pair, endpoints included.
    image_shape : tuple of int, default=None
        ``(C, H, W)`` or ``(H, W)`` for a model fitted on flattened images;
        by default taken from ``estimator.image_shape_``.
    fig : matplotlib.figure.Figure or matplotlib.figure.SubFigure, default=None
        Where to draw; a new Figure is created when None.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The Figure holding one row of ``n_steps`` Axes per pair.

    Raises
    ------
    ValueError
        If ``n_steps < 2``, if the numbers of start and end samples differ, or
        if the model is tabular and no image shape is given or can be inferred.
    """
    plt = _import_pyplot()
    if n_steps < 2:
        raise ValueError(f"n_steps must be at least 2; got {n_steps}.")
    x_start = _as_input_batch(estimator, x_start)
    x_end = _as_input_batch(estimator, x_end)
    if len(x_start) != len(x_end):
        raise ValueError(
            f"x_start and x_end must hold as many samples; got {len(x_start)} "
            f"and {len(x_end)}."
        )
    z_start = np.asarray(estimator.encode(x_start))
    z_end = np.asarray(estimator.encode(x_end))
    weights = np.linspace(0.0, 1.0, n_steps)[None, :, None]
    path = (1.0 - weights) * z_start[:, None, :] + weights * z_end[:, None, :]
    # Keep the encoder's dtype: a float32 network may reject float64 codes.
    path = path.reshape(-1, z_start.shape[1]).astype(z_start.dtype, copy=False)
    decoded = estimator.inverse_transform(path)
    display = _to_display(_estimator_images(estimator, decoded, image_shape))
    fig, _ = _draw_image_grid(plt, display, n_cols=n_steps, fig=fig)
    return fig


# --------------------------------------------------------------------------
# Scatter plots
# --------------------------------------------------------------------------


def _discrete_colors(cmap, n_colors):
    """Return ``n_colors`` RGBA colours, distinct for each class."""
    import matplotlib as mpl
    from matplotlib.colors import ListedColormap

    if cmap is None:
        cmap = "tab10" if n_colors <= 10 else "tab20" if n_colors <= 20 else "turbo"
    if isinstance(cmap, str):
        cmap = mpl.colormaps[cmap]
    # Qualitative maps (tab10, Set1, ...) are short lists meant to be used in
    # order; long ones (viridis has 256 entries) must be sampled evenly.
    if isinstance(cmap, ListedColormap) and n_colors <= cmap.N <= 32:
        return cmap(np.arange(n_colors))
    return cmap(np.linspace(0.0, 1.0, n_colors))


def _scatter(
    ax, points, y, *, cmap, s, alpha, legend, color=None, label=None, legend_title=None
):
    """Scatter 2-D ``points`` on ``ax``, coloured by the classes in ``y``."""
    if legend not in (True, False, "auto"):
        raise ValueError(f"legend must be True, False or 'auto'; got {legend!r}.")
    if y is None:
        ax.scatter(
            points[:, 0],
            points[:, 1],
            s=s,
            alpha=alpha,
            color=color,
            label=label,
            linewidths=0,
        )
        return
    y = np.asarray(y).ravel()
    if len(y) != len(points):
        raise ValueError(f"y has {len(y)} entries but there are {len(points)} points.")
    classes, class_index = np.unique(y, return_inverse=True)
    colors = _discrete_colors(cmap, len(classes))
    # A single collection keeps the drawing order of the points, so no class
    # is painted over all the others.
    ax.scatter(
        points[:, 0],
        points[:, 1],
        c=colors[class_index],
        s=s,
        alpha=alpha,
        label=label,
        linewidths=0,
    )
    if legend is True or (
        legend == "auto" and len(classes) <= _MAX_AUTO_LEGEND_CLASSES
    ):
        from matplotlib.lines import Line2D

        handles = [
            Line2D([], [], linestyle="", marker="o", color=c, label=str(k))
            for k, c in zip(classes, colors, strict=True)
        ]
        # Outside the plot: 'best' placement is slow for thousands of points.
        ax.legend(
            handles=handles,
            title=legend_title,
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize="small",
        )


def _new_axes(plt, ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5.0), layout="constrained")
    return ax


def plot_latent_scatter(
    estimator_or_codes,
    X=None,
    y=None,
    *,
    dims=(0, 1),
    ax=None,
    cmap=None,
    s=8.0,
    alpha=0.8,
    legend="auto",
    title=None,
):
    """Scatter two latent dimensions, coloured by class or mixture component.

    This is the view of the ALI paper's 2-D toy experiment: points of the same
    mixture component should land close together in latent space.

    Parameters
    ----------
    estimator_or_codes : ALITransformer or array-like of shape (n, k)
        A fitted model, whose ``encode(X)`` gives the codes, or the codes
        themselves (e.g. the output of ``transform``).
    X : array-like, default=None
        Data to encode; required with an estimator and not allowed with codes.
    y : array-like of shape (n,), default=None
        Class or mixture component of each point, drawn with a discrete
        colormap. All points share one colour when None.
    dims : tuple of (int, int), default=(0, 1)
        Latent dimensions on the x and y axes.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new Figure and Axes are created when None.
    cmap : str or matplotlib.colors.Colormap, default=None
        Colormap for the classes. None picks ``"tab10"`` (up to 10 classes),
        ``"tab20"`` (up to 20), else evenly spaced ``"turbo"`` colours.
    s : float, default=8.0
        Marker size in points squared.
    alpha : float, default=0.8
        Marker opacity.
    legend : {"auto", True, False}, default="auto"
        Whether to add a legend of the classes; "auto" adds one for at most
        10 classes.
    title : str, default=None
        Axes title.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes holding the scatter plot (a single ``PathCollection``).

    Raises
    ------
    ValueError
        If ``X`` is missing for an estimator or given with codes, if the codes
        have fewer dimensions than ``dims`` asks for, or if ``y`` has the
        wrong length.
    """
    plt = _import_pyplot()
    if hasattr(estimator_or_codes, "encode"):
        if X is None:
            raise ValueError("X is required when an estimator is given.")
        codes = estimator_or_codes.encode(X)
    else:
        if X is not None:
            # Catches plot_latent_scatter(codes, labels), which would
            # otherwise silently drop the labels.
            raise ValueError(
                "X is only used with an estimator; with codes, pass the labels as y=..."
            )
        codes = estimator_or_codes
    codes = np.asarray(codes, dtype=float)
    dims = tuple(int(d) for d in dims)
    if len(dims) != 2:
        raise ValueError(f"dims must name two latent dimensions; got {dims}.")
    if codes.ndim != 2 or codes.shape[1] <= max(dims):
        raise ValueError(
            f"Latent codes of shape {codes.shape} have no dimensions {dims}; "
            "a 2-D scatter needs at least two latent dimensions."
        )
    ax = _new_axes(plt, ax)
    _scatter(
        ax,
        codes[:, dims],
        y,
        cmap=cmap,
        s=s,
        alpha=alpha,
        legend=legend,
        legend_title="class",
    )
    ax.set_xlabel(f"$z_{{{dims[0] + 1}}}$")
    ax.set_ylabel(f"$z_{{{dims[1] + 1}}}$")
    if title:
        ax.set_title(title)
    return ax


def plot_toy_data(
    X,
    y=None,
    *,
    ax=None,
    cmap=None,
    s=8.0,
    alpha=0.8,
    color=None,
    label=None,
    legend="auto",
    title=None,
):
    """Scatter 2-D data or model samples with equal axis scales.

    Call it twice on the same ``ax`` to overlay samples on the data, e.g.
    ``plot_toy_data(X, label="data")`` then
    ``plot_toy_data(est.sample(1000), ax=ax, color="C1", label="samples")``.

    Parameters
    ----------
    X : array-like of shape (n, 2)
        Points to draw.
    y : array-like of shape (n,), default=None
        Class or mixture component of each point, drawn with a discrete
        colormap.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new Figure and Axes are created when None.
    cmap : str or matplotlib.colors.Colormap, default=None
        Colormap for the classes, as in :func:`plot_latent_scatter`.
    s : float, default=8.0
        Marker size in points squared.
    alpha : float, default=0.8
        Marker opacity.
    color : color, default=None
        Colour of all points when ``y`` is None.
    label : str, default=None
        Label of the points for a legend the caller draws with
        ``ax.legend()``.
    legend : {"auto", True, False}, default="auto"
        Whether to add a legend of the classes in ``y``; "auto" adds one for
        at most 10 classes.
    title : str, default=None
        Axes title.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes holding the scatter plot.

    Raises
    ------
    ValueError
        If ``X`` does not have exactly two columns or ``y`` has the wrong
        length.
    """
    plt = _import_pyplot()
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"plot_toy_data needs points of shape (n, 2); got {X.shape}. Use "
            "plot_latent_scatter for codes or a projection for wider data."
        )
    ax = _new_axes(plt, ax)
    _scatter(
        ax,
        X,
        y,
        cmap=cmap,
        s=s,
        alpha=alpha,
        legend=legend,
        color=color,
        label=label,
        legend_title="component",
    )
    # Mixture components are isotropic; unequal scales would distort them.
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------


def _history_rows(estimator_or_history):
    """Return the per-epoch dicts of an estimator's history or a History."""
    obj = estimator_or_history
    if hasattr(obj, "history_") or hasattr(obj, "fit"):
        history = getattr(obj, "history_", None)
        if history is None:
            raise NotFittedError(
                f"This {type(obj).__name__} has no history_; fit it before "
                "plotting training curves."
            )
    else:
        history = obj
    rows = list(history)
    if not rows:
        raise ValueError("The training history is empty.")
    if not all(isinstance(row, Mapping) for row in rows):
        raise TypeError(
            "Expected a fitted estimator or a History (a list of per-epoch dicts)."
        )
    return rows


def _epoch_series(rows, key):
    """Epochs and values of ``key``, skipping epochs that did not record it."""
    epochs, values = [], []
    for i, row in enumerate(rows):
        if row.get(key) is not None:
            epochs.append(row.get("epoch", i + 1))
            values.append(float(row[key]))
    return epochs, values


def plot_training_curves(estimator_or_history, *, ax=None):
    """Plot the adversarial losses and the discriminator's diagnostics per epoch.

    Losses (``d_loss``, ``g_loss`` and, if recorded, ``recon_loss``) go on one
    Axes; the diagnostics of the game's adversarial loss, if recorded, on a
    second one (:data:`sklearn_ali.objectives.LOSSES` names them). For the
    default non-saturating loss they are D's accuracies on encoder pairs
    ``(x, E(x))`` and decoder pairs ``(G(z), z)`` (``d_real_acc``,
    ``d_fake_acc``), with a line at 0.5, the accuracy of a discriminator that
    can no longer tell the two joints apart; for the hinge loss, the shares of
    pairs inside D's margin (``d_real_in_margin``, ``d_fake_in_margin``).
    Keys missing from the history are skipped.

    Parameters
    ----------
    estimator_or_history : ALITransformer or skorch.history.History
        A fitted model (its ``history_`` is used) or a history: a list of
        per-epoch dicts.
    ax : matplotlib.axes.Axes or pair of Axes, default=None
        Where to draw. With one Axes, losses go on it and accuracies on a
        twin y-axis sharing its x-axis; with a pair, losses go on the first
        and accuracies on the second. When None, a new Figure is created with
        one Axes per kind of curve present, stacked (losses on top).

    Returns
    -------
    ax : matplotlib.axes.Axes or ndarray of Axes
        What the curves were drawn on: ``ax`` as given (one Axes, with the
        diagnostics on its twin; or the pair), or the new Figure's Axes, an
        array of two when both kinds of curve are present.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator has not been fitted.
    ValueError
        If the history is empty or records none of the keys above.
    """
    plt = _import_pyplot()
    rows = _history_rows(estimator_or_history)
    losses = [
        (label, *_epoch_series(rows, key)) for key, label in LOSS_DIAGNOSTICS.items()
    ]
    losses = [curve for curve in losses if curve[1]]
    accuracies, adversarial = [], None
    for candidate in LOSSES.values():
        curves = [
            (label, *_epoch_series(rows, key))
            for key, label in zip(candidate.diagnostics, candidate.labels)
        ]
        curves = [curve for curve in curves if curve[1]]
        if curves and not accuracies:
            accuracies, adversarial = curves, candidate
    if not losses and not accuracies:
        known = [*LOSS_DIAGNOSTICS]
        for candidate in LOSSES.values():
            known += candidate.diagnostics
        raise ValueError(f"The history records none of: {', '.join(known)}.")

    twin = False
    if ax is None:
        n_axes = bool(losses) + bool(accuracies)
        # Stacked, not side by side: a figure narrow enough to be shown at its
        # own size in a page's column (or a notebook's) keeps legends legible.
        fig, axes = plt.subplots(
            n_axes,
            1,
            figsize=(6.4, 3.0 * n_axes),
            squeeze=False,
            sharex=True,
            layout="constrained",
        )
        loss_ax, acc_ax = axes[0, 0], axes[-1, 0]
    elif isinstance(ax, list | tuple | np.ndarray):
        axes = list(np.ravel(ax))
        if len(axes) != 2:
            raise ValueError(f"ax must be one Axes or a pair; got {len(axes)}.")
        loss_ax, acc_ax = axes
    else:
        loss_ax = acc_ax = ax
        if losses and accuracies:
            acc_ax, twin = ax.twinx(), True

    from matplotlib.ticker import MaxNLocator

    if losses:
        for label, epochs, values in losses:
            loss_ax.plot(epochs, values, marker=".", label=label)
        loss_ax.set_xlabel("epoch")
        loss_ax.set_ylabel("loss")
        loss_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if accuracies:
        # Colours continue after the losses so a twin axis never repeats one.
        for i, (label, epochs, values) in enumerate(accuracies, start=len(losses)):
            acc_ax.plot(
                epochs, values, marker=".", linestyle="--", color=f"C{i}", label=label
            )
        if adversarial.balance is not None:
            acc_ax.axhline(
                adversarial.balance,
                color="0.6",
                linestyle=":",
                linewidth=1,
                label="chance",
            )
        acc_ax.set_ylim(-0.02, 1.02)
        acc_ax.set_xlabel("epoch")
        acc_ax.set_ylabel(adversarial.axis_label)
        acc_ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    if twin:
        # One legend for both y-axes, on the twin so the lines don't hide it.
        handles, labels = loss_ax.get_legend_handles_labels()
        more_handles, more_labels = acc_ax.get_legend_handles_labels()
        acc_ax.legend(handles + more_handles, labels + more_labels, fontsize="small")
    else:
        for drawn_ax in {id(a): a for a in (loss_ax, acc_ax)}.values():
            if drawn_ax.get_legend_handles_labels()[0]:
                drawn_ax.legend(fontsize="small")
    if ax is not None:
        return ax
    for drawn_ax in axes[:, 0]:
        drawn_ax.label_outer()  # stacked: one "epoch" axis, at the bottom
    return axes[:, 0] if axes.shape[0] > 1 else axes[0, 0]


def plot_latent_match(estimator_or_history, *, ax=None):
    """Plot, per epoch, how far the encoder's codes are from the prior.

    The history's ``latent_mmd`` (:func:`sklearn_ali.objectives.latent_mmd`):
    the MMD² between the codes E(x) of training batches and prior draws
    N(0, I), Gaussian kernel of bandwidth ``sqrt(n_components)``. A line at 0
    marks codes distributed as the prior; values that stay well above it mean
    the encoder uses only part of the latent space, so decoded prior draws
    fall where no data was encoded.

    Parameters
    ----------
    estimator_or_history : estimator or skorch.history.History
        A fitted model (its ``history_`` is used) or a list of per-epoch dicts.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new Figure with one Axes when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ValueError
        If the history does not record ``latent_mmd``.
    """
    plt = _import_pyplot()
    rows = _history_rows(estimator_or_history)
    key, label = LATENT_DIAGNOSTIC
    epochs, values = _epoch_series(rows, key)
    if not epochs:
        raise ValueError(f"The history does not record {key}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 3.5), layout="constrained")
    from matplotlib.ticker import MaxNLocator

    ax.plot(epochs, values, marker=".", label=label)
    ax.axhline(0.0, color="0.6", linestyle=":", linewidth=1, label="codes as the prior")
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize="small")
    return ax
