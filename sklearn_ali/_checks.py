"""Parameter and data checks of the ALI estimators (a mixin of the base).

``_check_params`` runs every check that needs no data, before X is read;
``_validate_X`` checks X (in memory, or lazily read) as scikit-learn's
``validate_data`` does, and the resolvers turn ``image_shape`` and
``architecture`` into what the networks are built from.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import validate_data
from skorch.callbacks import Callback, EpochScoring

from ._scaling import is_lazy_array

MIN_IMAGE_SIDE = 8

# Numeric hyperparameters checked against bools beyond their constraints.
NUMERIC_PARAMS = (
    "n_components",
    "conv_width",
    "max_epochs",
    "batch_size",
    "learning_rate",
    "discriminator_learning_rate",
    "dropout",
    "reconstruction_weight",
    "reconstruction_weight_end",
    "generator_steps",
    "gradient_penalty",
    "distributed_timeout",
)

#: The training parameters that an estimator may leave at ``"auto"``, to be
#: chosen for its architecture in ``fit`` (``training_params_``).
TRAINING_PARAMS = (
    "max_epochs",
    "learning_rate",
    "learning_rate_schedule",
    "spectral_norm",
    "reconstruction_weight",
    "dropout",
)

#: Those of ``TRAINING_PARAMS`` that took ``"auto"`` after the others: a model
#: stored before then lacks them in ``training_params_`` and holds their values
#: in its parameters.
LATER_TRAINING_PARAMS = ("dropout",)


def is_auto(value):
    """Whether a parameter is left at ``"auto"`` (any other value is used as given)."""
    return isinstance(value, str) and value == "auto"


def structure_value(value):
    """A structural hyperparameter as compared for a warm start.

    Sequences by their items: hidden_layer_sizes=[32] builds what (32,)
    built (and io's JSON brings tuples back as lists).
    """
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value


def is_number(value, kind):
    """isinstance(value, kind), refusing bools (an Integral to Python)."""
    return isinstance(value, kind) and not isinstance(value, (bool, np.bool_))


class ChecksMixin:
    """The checks of ``BaseALI``: parameters, callbacks, X and its shape."""

    def _check_validation_split(self, n_samples):
        """Refuse a validation_fraction that leaves too few rows to train on."""
        fraction = self.validation_fraction
        if fraction == 0:
            return
        n_valid = math.ceil(fraction * n_samples)
        if n_samples - n_valid < 2:
            raise ValueError(
                f"validation_fraction={fraction} of {n_samples} samples leaves "
                f"{n_samples - n_valid} for training; at least 2 are needed."
            )

    def _check_validation_callbacks(self):
        """Without a validation set, refuse callbacks that need one."""
        if self.validation_fraction == 0:
            for name, callback in self._named_callbacks():
                if isinstance(callback, type):
                    try:
                        callback = callback()
                    except TypeError:
                        continue  # needs arguments: nothing to inspect
                monitor = getattr(callback, "monitor", None)
                if (isinstance(monitor, str) and monitor.startswith("valid")) or (
                    isinstance(callback, EpochScoring) and not callback.on_train
                ):
                    raise ValueError(
                        f"Callback {name!r} ({type(callback).__name__}) needs a "
                        "validation loss or set, and there is none: set "
                        "validation_fraction (e.g. 0.1) to hold out part of X, "
                        "or make the callback monitor a training quantity."
                    )

    def _named_callbacks(self):
        """``(name, callback)`` for each entry of ``callbacks``.

        Valid entries are what skorch accepts: a ``Callback`` instance or
        subclass, or a ``(name, callback)`` pair (tuple or list) of the same;
        anything else is a TypeError naming the entry.
        """

        def is_callback(cb):
            if isinstance(cb, type):
                return issubclass(cb, Callback)
            return isinstance(cb, Callback)

        for i, entry in enumerate(self.callbacks or []):
            name, callback = None, entry
            if isinstance(entry, (tuple, list)):
                if len(entry) != 2 or not isinstance(entry[0], str):
                    callback = None  # not a pair: refused below
                else:
                    name, callback = entry
            if not is_callback(callback):
                raise TypeError(
                    f"callbacks[{i}] is {entry!r}; expected a skorch Callback "
                    "(instance or class) or a (name, Callback) tuple."
                )
            yield name or f"callbacks[{i}]", callback

    def _check_params(self):
        """Every check of the parameters that needs no data, before X is read.

        Beyond scikit-learn's ``_parameter_constraints`` (which ``fit``
        validates first): bools for numbers, the sequences' items, the form
        of ``image_shape``, the callbacks' entries and whether they need a
        validation set.
        """
        # scikit-learn's Interval constraints take True for 1 and False for 0,
        # which here would only hide a mistake.
        for name in NUMERIC_PARAMS:
            if isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(
                    f"{name} must be a number, not a bool; got {getattr(self, name)!r}."
                )
        sizes = self.hidden_layer_sizes
        if len(sizes) == 0 or not all(is_number(s, Integral) and s > 0 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a non-empty sequence of positive "
                f"integers; got {sizes!r}."
            )
        betas = self.betas
        if len(betas) != 2 or not all(is_number(b, Real) and 0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1); got {betas!r}.")
        if self.image_shape is not None:
            shape = tuple(self.image_shape)
            if len(shape) != 3 or not all(
                isinstance(s, Integral) and s > 0 for s in shape
            ):
                raise ValueError(
                    "image_shape must be (channels, height, width) with positive "
                    f"integers; got {self.image_shape!r}."
                )
        # Entries skorch would only trip over mid-fit.
        for _ in self._named_callbacks():
            pass
        self._check_validation_callbacks()

    def _resolve_image_shape(self, image_shape, n_features):
        if self.image_shape is not None:
            shape = tuple(self.image_shape)  # its form checked by _check_params
            if image_shape is not None and tuple(image_shape) != shape:
                raise ValueError(
                    f"image_shape={shape} does not match the 4-D input's image "
                    f"shape {tuple(image_shape)}."
                )
            if math.prod(shape) != n_features:
                raise ValueError(
                    f"image_shape={shape} holds {math.prod(shape)} values but X "
                    f"has {n_features} features."
                )
            return shape
        return None if image_shape is None else tuple(int(s) for s in image_shape)

    def _resolve_architecture(self):
        arch = self.architecture
        if callable(arch):
            return arch  # a builder of one's own, checked on what it builds
        if arch == "auto":
            arch = "mlp" if self.image_shape_ is None else "conv"
        if arch != "mlp" and self.image_shape_ is None:
            raise ValueError(
                f"architecture={arch!r} needs images: pass X as (n, C, H, W) or "
                "set image_shape for flat images."
            )
        if arch == "conv" and min(self.image_shape_[1:]) < MIN_IMAGE_SIDE:
            channels, height, width = self.image_shape_
            if width <= 4 and min(channels, height) >= MIN_IMAGE_SIDE:
                hint = (
                    " Images are read as (n, channels, height, width); these look "
                    "channels-last, (n, height, width, channels): pass "
                    "X.transpose(0, 3, 1, 2)."
                )
            else:
                hint = " Use architecture='mlp'."
            raise ValueError(
                f"architecture='conv' needs images of at least {MIN_IMAGE_SIDE}x"
                f"{MIN_IMAGE_SIDE} pixels; got {self.image_shape_}.{hint}"
            )
        return arch

    def _validate_X(self, X, *, reset):
        """Validate X; return it 2-D, or 4-D if lazy, and the image shape of 4-D input.

        In-memory X is checked by scikit-learn's ``validate_data`` (a memmap
        is not copied); an array-like read in chunks (see
        ``is_lazy_array``) has its shape and dtype checked here and its
        values in the streaming passes that read it.
        """
        lazy = is_lazy_array(X)
        if isinstance(X, torch.utils.data.Dataset) and not lazy:
            # numpy would read it whole, item by item, before any check.
            raise TypeError(
                f"X is a torch Dataset ({type(X).__name__}), which is read "
                "item by item; pass an array-like of rows with shape and "
                "slicing instead: a numpy array or memmap, an h5py or zarr "
                "dataset, a dask array or a tensor."
            )
        image_shape = None
        ndim = len(X.shape) if lazy else getattr(X, "ndim", None)
        if ndim is not None and ndim > 2 and not hasattr(X, "tocsr"):
            if ndim != 4:
                hint = ""
                if ndim == 3:
                    hint = (
                        " For single-channel images of shape (n, height, width), "
                        "add a channel axis: X[:, None]."
                    )
                raise ValueError(
                    f"X has {ndim} dimensions; expected (n_samples, n_features) or "
                    f"(n_samples, channels, height, width).{hint}"
                )
            if not lazy:
                X = np.asarray(X)
            image_shape = tuple(int(s) for s in X.shape[1:])
            fitted_shape = getattr(self, "image_shape_", None)
            if not reset and fitted_shape and image_shape != fitted_shape:
                raise ValueError(
                    f"X has image shape {image_shape}, but "
                    f"{type(self).__name__} was fitted on images of shape "
                    f"{fitted_shape}."
                )
            if not lazy:
                # Not reshape(len(X), -1): numpy cannot infer -1 for 0
                # samples, and validate_data below names the empty input.
                X = X.reshape(len(X), math.prod(X.shape[1:]))
        if lazy:
            X = self._validate_lazy_X(X, reset=reset)
            if not reset:
                self._check_input_kind(image_shape)
            return X, image_shape
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype="numeric",
            ensure_min_samples=2 if reset else 1,
            # The passes that read X (scaling, batches) check its values and
            # name the first row with a NaN or inf, which validate_data
            # does not.
            ensure_all_finite=False,
        )
        if X.dtype.kind not in "fiub":
            raise ValueError(f"X must hold numbers; got dtype {X.dtype}.")
        if not reset:
            self._check_input_kind(image_shape)
        return X, image_shape

    def _check_input_kind(self, image_shape):
        """Refuse flat rows for a model fitted on 4-D images, and images for
        one fitted on rows that are not images.

        Both hold n_features_in_ values a row, so the mistake would pass
        every other check; outputs such as ``inverse_transform`` follow the
        fitted input's shape, not the new one's.
        """
        fitted_ndim = getattr(self, "_input_ndim_", None)
        ndim = 2 if image_shape is None else 4
        if fitted_ndim is None or ndim == fitted_ndim:
            return
        if fitted_ndim == 2 and self.image_shape_ is not None:
            return  # flat images of a declared image_shape: both layouts hold
        name = type(self).__name__
        if fitted_ndim == 4:
            raise ValueError(
                f"X is 2-D (rows of {self.n_features_in_} features), but {name} "
                f"was fitted on images of shape {self.image_shape_}: pass X "
                f"shaped (n_samples, {', '.join(map(str, self.image_shape_))}), "
                f"for example X.reshape(-1, {', '.join(map(str, self.image_shape_))})."
            )
        raise ValueError(
            f"X is 4-D (images of shape {image_shape}), but {name} was fitted on "
            f"rows of {self.n_features_in_} features: pass X shaped "
            f"(n_samples, {self.n_features_in_}), for example X.reshape(len(X), -1)."
        )

    def _validate_lazy_X(self, X, *, reset):
        """What ``validate_data`` checks, but the values, of a lazy array-like."""
        name = type(self).__name__
        shape = tuple(X.shape)
        if len(shape) not in (2, 4):
            raise ValueError(
                f"X has {len(shape)} dimensions; expected (n_samples, n_features) "
                "or (n_samples, channels, height, width)."
            )
        if any(not isinstance(s, Integral) for s in shape):
            raise ValueError(
                f"X has shape {shape}, of unknown size: compute the chunk sizes "
                "first (dask: X.compute_chunk_sizes())."
            )
        dtype = np.dtype(X.dtype)
        if dtype.kind not in "fiub":
            raise ValueError(f"X must hold numbers; got dtype {dtype}.")
        n_samples, n_features = shape[0], math.prod(shape[1:])
        minimum = 2 if reset else 1
        if n_samples < minimum:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={shape}) while a "
                f"minimum of {minimum} is required by {name}."
            )
        if n_features < 1:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={shape}) while a minimum "
                f"of 1 is required by {name}."
            )
        if reset:
            self.n_features_in_ = n_features
            vars(self).pop("feature_names_in_", None)
        else:
            if n_features != self.n_features_in_:
                raise ValueError(
                    f"X has {n_features} features, but {name} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            if hasattr(self, "feature_names_in_"):
                warnings.warn(
                    f"X does not have valid feature names, but {name} was fitted "
                    "with feature names",
                    UserWarning,
                    stacklevel=3,
                )
        return X
