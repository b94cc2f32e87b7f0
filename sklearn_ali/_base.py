"""The estimator base of the ALI family: what fitting and using ALI's networks needs.

``_BaseALI`` holds the shared parameters and their checks, the scaling, the
device, building the networks and the skorch net, training anew or on (warm
start, ``partial_fit``), batched encoding and decoding, and the persistence
hooks of ``sklearn_ali.io``. A subclass adds its ``__init__`` (explicit
keyword arguments, as scikit-learn requires), its public methods and tags.
"""

import copy
import math
import threading
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _is_fitted, check_is_fitted, validate_data
from skorch.callbacks import Callback, EpochScoring, PrintLog
from skorch.dataset import ValidSplit
from skorch.history import History

from . import _distributed
from ._batches import RowBatches
from ._scaling import (
    FLOAT32_OVERFLOW,
    _fit_scaling,
    _scaling_tensors,
    check_finite,
    check_scaled_range,
    is_dask_array,
    is_lazy_array,
    read_rows,
    scale_batch,
    to_torch_rows,
)
from ._training import ALIModule, ALINet, FitProgressBar, TrainingDivergedError
from .networks import ARCHITECTURES, check_networks
from .objectives import ALI, LOSSES

# Rows per forward pass in transform/inverse_transform/sample: bounds memory
# independently of n_samples.
_INFERENCE_BATCH = 512
_MIN_IMAGE_SIDE = 8
FEATURES = frozenset({"mean", "sample", "hidden"})


class _EncoderFeaturesMixin(ClassNamePrefixFeaturesOutMixin, TransformerMixin):
    """``transform`` and ``encode`` of the estimators with ``features``, and
    the names of the columns ``transform`` returns.

    A TransformerMixin itself: scikit-learn wraps ``transform`` for
    ``set_output`` in the class that defines it.
    """

    @property
    def _n_features_out(self):
        # A property, not a fitted value: ``features`` may be switched on a
        # fitted model (one fit, several feature sets).
        check_is_fitted(self)
        self._check_features()
        if self.features != "hidden":
            return self.n_components_
        return self._hidden_width()

    def _check_features(self):
        # features is read after fit: a set_params(features=...) on a fitted
        # model bypasses fit's parameter validation.
        if not isinstance(self.features, str) or self.features not in FEATURES:
            raise ValueError(
                f"features={self.features!r} is not one of {sorted(FEATURES)}."
            )

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of ``transform``.

        With ``features="hidden"``, ``<estimator>_<part>_<index>``: the part
        is the encoder block the column comes from (``block1``, ...) or
        ``mu``, the latent mean; otherwise ``<estimator><index>``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against the names seen in ``fit``; unused otherwise.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        self._check_features()
        names = super().get_feature_names_out(input_features)
        return self._hidden_feature_names() if self.features == "hidden" else names

    def transform(self, X):
        """Encode X into features (see ``features``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Data shaped as in ``fit``: in memory, a memmap, an h5py or zarr
            dataset (read in batches) or a dask array.

        Returns
        -------
        X_new : ndarray or dask array of shape (n_samples, n_features_out)
            Encoder features, in X's float dtype (float64 for integer input);
            a dask array, computed block by block, for a dask X.
        """
        check_is_fitted(self)
        self._check_features()
        if is_dask_array(X):
            return self._over_dask_blocks(
                self.transform,
                X,
                n_outputs=self._n_features_out,
                dtype=_feature_dtype(X),
            )
        X, _ = self._validate_X(X, reset=False)
        return self._batched_encode(X, self._encode_batch)

    def encode(self, X):
        """Latent means mu(x), whatever ``features`` is.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Data shaped as in ``fit``.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        if is_dask_array(X):
            return self._over_dask_blocks(
                self.encode, X, n_outputs=self.n_components_, dtype=_feature_dtype(X)
            )
        X, _ = self._validate_X(X, reset=False)
        return self._batched_encode(X, lambda x, noise: self.net_.encoder_.mean(x))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# Where .readthedocs.yaml publishes the documentation (pyproject.toml's
# "Documentation" URL): an estimator's HTML repr links to its API page there.
DOCS_URL = "https://sklearn-ali.readthedocs.io/en"


class _BaseALI(BaseEstimator):
    """Base of the ALI estimators; not to be used directly.

    Subclasses define ``__init__`` with the parameters of
    ``_parameter_constraints`` (and their own).
    """

    _doc_link_module = "sklearn_ali"

    @property
    def _doc_link_template(self):
        from . import __version__

        # Read the Docs serves the newest release as "stable" and the main
        # branch as "latest".
        version = "latest" if "dev" in __version__ else "stable"
        return (
            f"{DOCS_URL}/{version}/generated/"
            "{estimator_module}.{estimator_name}.html"
        )

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "architecture": [StrOptions({"auto", *ARCHITECTURES}), callable],
        "image_shape": [tuple, list, None],
        "hidden_layer_sizes": [tuple, list],
        "conv_width": [Interval(Integral, 1, None, closed="left")],
        "encoder": [StrOptions({"stochastic", "deterministic"})],
        "features": [StrOptions(set(FEATURES))],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "discriminator_learning_rate": [
            Interval(Real, 0, None, closed="neither"),
            None,
        ],
        "betas": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "spectral_norm": ["boolean"],
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "loss": [StrOptions(set(LOSSES))],
        "device": [str, torch.device],
        "keep_on_device": ["boolean"],
        "distributed": [StrOptions({"auto"}), "boolean"],
        "distributed_timeout": [Interval(Real, 0, None, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "warm_start": ["boolean"],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    # -- fitted networks, owned by the skorch net --------------------------

    @property
    def encoder_(self):
        check_is_fitted(self)
        return self.net_.encoder_

    @property
    def decoder_(self):
        check_is_fitted(self)
        return self.net_.decoder_

    @property
    def discriminator_(self):
        check_is_fitted(self)
        return self.net_.discriminator_

    def _hidden_width(self):
        return sum(width for _, width in self._hidden_parts())

    def _hidden_parts(self):
        """``(name, width)`` of the parts of the "hidden" features, probed.

        An encoder of one's own without ``hidden_feature_parts`` has one
        "hidden" part before "mu".
        """
        probe = torch.zeros(2, *self._network_input_shape())
        probe = probe.to(self._module_device())
        encoder = self.net_.encoder_
        training = encoder.training
        encoder.eval()
        try:
            with torch.inference_mode():
                if hasattr(encoder, "hidden_feature_parts"):
                    return encoder.hidden_feature_parts(probe)
                width = encoder.hidden_features(probe).shape[1]
        finally:
            encoder.train(training)
        return [("hidden", width - self.n_components_), ("mu", self.n_components_)]

    def _hidden_feature_names(self):
        """Names of the "hidden" features: ``<estimator>_<part>_<index>``,
        the part being the encoder block a column comes from, or ``mu``."""
        prefix = type(self).__name__.lower()
        return np.asarray(
            [
                f"{prefix}_{part}_{j}"
                for part, width in self._hidden_parts()
                for j in range(width)
            ],
            dtype=object,
        )

    @property
    def history_(self):
        check_is_fitted(self)
        return self.net_.history

    # -- fit ---------------------------------------------------------------

    def _fit(self, X, y=None, *, epochs, resume, **target_options):
        """Train for ``epochs``: anew, or on from the fitted model with ``resume``.

        ``y`` and ``target_options`` go to ``_encode_targets``.
        """
        if resume and _is_fitted(self):
            return self._continue(X, y, epochs=epochs)
        return self._fit_new(X, y, epochs=epochs, **target_options)

    def _encode_targets(self, y, n_samples, *, reset, **options):
        """The training targets as network-ready values, or None (no targets).

        Called after X is validated and before the networks are built, so a
        subclass can set fitted attributes the networks depend on (classes).
        ALI learns without labels: y is ignored.
        """
        return None

    def _training_data(self, X, targets):
        """The dataset skorch trains on: raw rows of X with their targets.

        Rows are read per batch, in X's dtype, and scaled by the net where
        the batch lands: X is never copied whole.
        """
        return RowBatches(
            X,
            None if targets is None else torch.as_tensor(targets),
            shape=self._network_input_shape(),
        )

    def _fit_new(self, X, y=None, *, epochs, **target_options):
        """Initialise everything from X and train; a failure leaves self as it was."""
        saved = self._fitted_state()
        try:
            self._check_hyperparameters()
            X, image_shape = self._validate_X(X, reset=True)
            self.image_shape_ = self._resolve_image_shape(image_shape, X.shape[1])
            self._input_ndim_ = 2 if image_shape is None else 4
            self.architecture_ = self._resolve_architecture()
            targets = self._encode_targets(y, X.shape[0], reset=True, **target_options)
            self._fit_scaling(X)  # also checks, in one pass, that X is finite
            self.device_ = self._resolve_device()
            rank = self._join_data_parallel(X.shape)
            self._check_validation_split(X.shape[0])
            seed = check_random_state(self.random_state).randint(_SEED_BOUND)
            self._seed_ = self._same_on_all_ranks(int(seed))
            data = self._training_data(X, targets)
            cuda = torch.device(self.device_).type == "cuda"
            with _seeded_torch(_rank_seed(self._seed_, rank), self.device_):
                net = self._make_net(*self._allocated_networks(), cuda=cuda)
                self._structure_ = self._structure()
                self.net_ = net
                net.initialize()
                self._train(net, data, epochs)
        except TrainingDivergedError:
            raise  # the restored, finite model is kept
        except BaseException:
            self._restore_fitted_state(saved)
            raise
        return self

    def _continue(self, X, y=None, *, epochs):
        """Train the fitted networks further; a failure leaves them as they were."""
        self._check_hyperparameters()
        changed = [
            name
            for name, value in self._structure().items()
            if _structure_value(value) != _structure_value(self._structure_[name])
        ]
        if changed:
            raise ValueError(
                f"Cannot continue training: {changed} changed since the model was "
                "fitted, and they shape the networks. Fit a new model "
                "(warm_start=False) to change them."
            )
        X, _ = self._validate_X(X, reset=False)
        if X.shape[0] < 2:
            # A first fit asks for two rows too (validate_data's minimum).
            raise ValueError(
                f"Training on needs at least 2 samples (the networks' batch "
                f"normalisation needs two rows a batch); got {X.shape[0]}."
            )
        targets = self._encode_targets(y, X.shape[0], reset=False)
        check_scaled_range(X, *self._scaling())
        net = self.net_
        saved = self._fitted_state()
        backup = net.snapshot()
        epochs_before, device_before = len(net.history), net.device
        # A different seed for every continuation, reproducible from the first.
        seed = (self._seed_ + 7919 * len(net.history)) % _SEED_BOUND
        data = self._training_data(X, targets)
        try:
            self.device_ = self._resolve_device()
            rank = self._join_data_parallel(X.shape)
            self._check_validation_split(X.shape[0])
            device = self.device_
            cuda = torch.device(device).type == "cuda"
            with _seeded_torch(_rank_seed(seed, rank), device):
                settings = self._net_settings(cuda=cuda, seed=seed)
                # skorch's set_params cannot bring back a default callback
                # that was set to None (PrintLog, after a fit with verbose=1);
                # initialize_callbacks reads the init argument itself.
                net.callbacks__print_log = settings.pop("callbacks__print_log")
                net.set_params(**settings)
                net.initialize_callbacks()
                net.move_to(device)
                if net.channels_last:
                    net.module_.to(memory_format=torch.channels_last)
                self._train(net, data, epochs)
        except TrainingDivergedError:
            raise
        except BaseException:
            net.restore(backup)
            del net.history[epochs_before:]
            net.move_to(device_before)
            self._restore_fitted_state(saved)
            raise
        return self

    def _join_data_parallel(self, shape):
        """Join torchrun's process group (see ``distributed``); this rank.

        On CUDA under torchrun, ``device_`` becomes this process's GPU,
        cuda:LOCAL_RANK, unless ``device`` named one. Every rank must train
        on data of the same ``shape`` (X's); otherwise every rank raises,
        where training would wait forever for the ranks with fewer batches.
        """
        if self.distributed is False:
            return 0
        device = torch.device(self.device_)
        if (
            device.type == "cuda"
            and device.index is None
            and _distributed.launched_world_size() > 1
        ):
            self.device_ = str(_distributed.local_device("cuda"))
        rank, world = _distributed.join_process_group(
            self.device_, timeout=self.distributed_timeout
        )
        if self.distributed is True and world == 1:
            raise ValueError(
                "distributed=True, but this process is alone: launch the script "
                "with torchrun --nproc_per_node N (or initialise a "
                "torch.distributed process group of several processes), or "
                'set distributed="auto".'
            )
        if world > 1:
            shapes = _distributed.gather_object(tuple(int(n) for n in shape))
            if len(set(shapes)) > 1:
                raise ValueError(
                    "Data-parallel training needs the same X on every process "
                    f"(each trains on its share of every batch), but the {world} "
                    f"processes passed X of shapes {shapes} (by rank)."
                )
        return rank

    def _data_parallel_world(self):
        """(rank, world_size) this estimator trains over."""
        if self.distributed is False:
            return 0, 1
        return _distributed.active_world()

    def _same_on_all_ranks(self, value):
        """Rank 0's ``value`` on every rank of a data-parallel fit."""
        if self._data_parallel_world()[1] == 1:
            return value
        return _distributed.broadcast_object(value)

    def _train(self, net, data, epochs):
        net.epochs_planned_ = epochs
        try:
            net.partial_fit(data, epochs=epochs)
        finally:
            # Also after a divergence: the restored model must be usable.
            self._finish_fit(net)

    def _fitted_state(self):
        return {k: v for k, v in vars(self).items() if k.endswith("_")}

    def _restore_fitted_state(self, saved):
        for name in [k for k in vars(self) if k.endswith("_")]:
            delattr(self, name)
        vars(self).update(saved)

    def _structure(self):
        """The hyperparameters the networks are built from."""
        return {
            name: getattr(self, name)
            for name in (
                "n_components",
                "architecture",
                "image_shape",
                "hidden_layer_sizes",
                "conv_width",
                "encoder",
                "dropout",
                "spectral_norm",
            )
        }

    def _check_validation_split(self, n_samples):
        fraction = self.validation_fraction
        if fraction == 0:
            self._check_validation_callbacks()
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

    def _check_hyperparameters(self):
        # scikit-learn's Interval constraints take True for 1 and False for 0,
        # which here would only hide a mistake.
        for name in _NUMERIC_PARAMS:
            if isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(
                    f"{name} must be a number, not a bool; got {getattr(self, name)!r}."
                )
        sizes = self.hidden_layer_sizes
        if len(sizes) == 0 or not all(_is_number(s, Integral) and s > 0 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a non-empty sequence of positive "
                f"integers; got {sizes!r}."
            )
        betas = self.betas
        if len(betas) != 2 or not all(
            _is_number(b, Real) and 0 <= b < 1 for b in betas
        ):
            raise ValueError(f"betas must be two numbers in [0, 1); got {betas!r}.")
        self._check_callbacks()

    def _check_callbacks(self):
        """Refuse entries skorch would only trip over mid-fit."""
        for _ in self._named_callbacks():
            pass

    def _resolve_image_shape(self, image_shape, n_features):
        if self.image_shape is not None:
            shape = tuple(self.image_shape)
            if len(shape) != 3 or not all(
                isinstance(s, Integral) and s > 0 for s in shape
            ):
                raise ValueError(
                    "image_shape must be (channels, height, width) with positive "
                    f"integers; got {self.image_shape!r}."
                )
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
        if arch == "conv" and min(self.image_shape_[1:]) < _MIN_IMAGE_SIDE:
            channels, height, width = self.image_shape_
            if width <= 4 and min(channels, height) >= _MIN_IMAGE_SIDE:
                hint = (
                    " Images are read as (n, channels, height, width); these look "
                    "channels-last, (n, height, width, channels): pass "
                    "X.transpose(0, 3, 1, 2)."
                )
            else:
                hint = " Use architecture='mlp'."
            raise ValueError(
                f"architecture='conv' needs images of at least {_MIN_IMAGE_SIDE}x"
                f"{_MIN_IMAGE_SIDE} pixels; got {self.image_shape_}.{hint}"
            )
        return arch

    def _fit_scaling(self, X):
        self.data_offset_, self.data_scale_ = _fit_scaling(
            X, images=self.image_shape_ is not None
        )

    def _resolve_device(self):
        return resolve_device(self.device)

    def _build_networks(self):
        # Stored with the networks: post-fit methods must follow the trained
        # decoder, not a later set_params(n_components=...).
        self.n_components_ = self.n_components
        build, options = self._builder()
        shape, k = self._network_input_shape(), self.n_components_
        networks = build(shape, k, **options)
        if callable(self.architecture_):  # a builder of one's own
            check_networks(
                networks,
                shape,
                k,
                n_outputs=options["n_outputs"],
                stochastic=options["stochastic"],
            )
        return networks

    def _allocated_networks(self):
        """``_build_networks()``, with a failed allocation named by its sizes."""
        try:
            return self._build_networks()
        except (RuntimeError, MemoryError) as exc:
            if "alloc" not in str(exc) and not isinstance(exc, MemoryError):
                raise
            sizes = {
                name: getattr(self, name)
                for name in ("n_components", "hidden_layer_sizes", "conv_width")
            }
            raise ValueError(
                f"The networks for {sizes} do not fit in memory on "
                f"device={self.device_!r}: choose smaller sizes."
            ) from exc

    def _builder(self):
        """The architecture's builder and the keywords this estimator passes."""
        arch = self.architecture_
        options = {
            "stochastic": self.encoder == "stochastic",
            "dropout": self.dropout,
            "spectral_norm": self.spectral_norm,
            "n_outputs": self._n_discriminator_outputs(),
        }
        if callable(arch):
            return arch, options
        return ARCHITECTURES[arch], {**options, **self._architecture_options()}

    def _n_discriminator_outputs(self):
        # ALI's game scores each pair with one logit.
        return 1

    def _architecture_options(self):
        """The builder's keywords that only one preset takes."""
        if self.architecture_ == "mlp":
            # Flat images come back through a sigmoid, in [0, 1] as scaled.
            output = "linear" if self.image_shape_ is None else "sigmoid"
            return {
                "hidden_layer_sizes": tuple(self.hidden_layer_sizes),
                "output": output,
            }
        if self.architecture_ == "conv":
            return {"width": self.conv_width}
        return {}

    # The game this estimator's networks play (sklearn_ali.objectives). A
    # subclass plays another by setting its own; the game's options are read
    # from the estimator's attributes of the same names.
    game = ALI

    def _make_net(self, encoder, decoder, discriminator, *, cuda):
        return ALINet(
            ALIModule(encoder, decoder, discriminator),
            game=self.game,
            n_components=self.n_components_,
            **self._net_settings(cuda=cuda, seed=getattr(self, "_seed_", 0)),
        )

    def _net_settings(self, *, cuda, seed):
        """ALINet's settings from this estimator's hyperparameters."""
        callbacks = [copy.deepcopy(cb) for cb in self.callbacks or []]
        rank, world = self._data_parallel_world()
        verbose = self.verbose if rank == 0 else 0  # rank 0 speaks for all
        settings = {
            "lr": self.learning_rate,
            "optimizer__betas": tuple(self.betas),
            "use_amp": cuda,
            "channels_last": cuda and len(self._network_input_shape()) == 3,
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size,
            "scaling": self._scaling(),
            "device": self.device_,
            "distributed": world > 1,
            "verbose": verbose,
            "train_split": None,
            # verbose=1 is one bar with the losses; verbose>=2 a table per epoch.
            "callbacks__print_log": None
            if verbose == 1
            else PrintLog(keys_ignored=["train_batch_count", "valid_batch_count"]),
        }
        # The game's options are this estimator's parameters of those names.
        settings.update(
            {f"game__{name}": getattr(self, name) for name in self.game.options}
        )
        if verbose == 1:
            callbacks.append(("progress_bar", FitProgressBar()))
        settings["callbacks"] = callbacks
        if self.discriminator_learning_rate is not None:
            settings["optimizer_d__lr"] = self.discriminator_learning_rate
        if self.validation_fraction > 0:
            settings["train_split"] = ValidSplit(
                self.validation_fraction, stratified=False, random_state=seed
            )
        return settings

    def _finish_fit(self, net):
        if not self.keep_on_device and net.device != "cpu":
            net.move_to("cpu")
        net.module_.eval()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = False
        return tags

    # -- private helpers ----------------------------------------------------

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

    def _network_input_shape(self):
        """The encoder's input shape, without the batch dimension."""
        if self.architecture_ == "mlp" or self.image_shape_ is None:
            return (self.n_features_in_,)
        return self.image_shape_

    def _module_device(self):
        return next(self.net_.encoder_.parameters()).device

    def _to_network_input(self, X, device="cpu"):
        """Scale X, rows or (n, C, H, W) images, into one network-shaped tensor.

        The whole of X, for benchmarks and diagnostics; fit and transform
        read X per batch instead.
        """
        scaling = self._scaling()
        batches = [
            self._network_batch(
                read_rows(X, slice(i, i + _INFERENCE_BATCH)), "cpu", scaling
            )
            for i in range(0, X.shape[0], _INFERENCE_BATCH)
        ]
        return torch.cat(batches).to(device)

    def _network_batch(self, rows, device, scaling, first_row=0):
        """Raw rows of X (numpy) as a scaled, network-shaped batch on ``device``.

        The rows travel in their own dtype (integer pixels as integers) and
        are scaled there by ``scaling`` (``_scaling()``'s tensors, on
        ``device``). Raises ValueError where the fitted scaling takes a value
        beyond float32's range.
        """
        x = to_torch_rows(rows).to(device).reshape(len(rows), -1)
        x = scale_batch(x, *scaling)
        # A sum is the cheapest pass that sees an inf (it costs a tenth of a
        # small model's transform less than isfinite); only a non-finite sum,
        # of huge but finite values too, needs the exact check.
        if not math.isfinite(x.sum()) and not torch.isfinite(x).all():
            check_finite(rows, first_row)
            raise ValueError(FLOAT32_OVERFLOW)
        return x.reshape(len(rows), *self._network_input_shape())

    def _scaling(self):
        """(shift, factor) tensors with x_scaled = shift + x * factor."""
        return _scaling_tensors(
            self.data_offset_, self.data_scale_, images=self.image_shape_ is not None
        )

    def _encode_batch(self, x, noise=None):
        encoder = self.net_.encoder_
        if self.features == "hidden":
            return encoder.hidden_features(x)
        if self.features == "sample":
            return encoder.sample(x, noise=noise)[0]
        return encoder.mean(x)

    def _batched_encode(self, X, fn, condition=None):
        """``fn(x, noise)`` over batches of X, or ``fn(x, noise, c)`` with the
        matching rows ``c`` of a ``condition`` tensor."""
        out_dtype = _feature_dtype(X)
        device = self._module_device()
        scaling = tuple(t.to(device) for t in self._scaling())
        self.net_.encoder_.eval()
        out = None  # allocated once the first batch gives the width
        # features="sample" draws its noise from random_state, not torch's RNG.
        sample = getattr(self, "features", None) == "sample"  # not every model has it
        rng = check_random_state(self.random_state) if sample else None
        n_samples = X.shape[0]
        with torch.inference_mode():
            for start in range(0, n_samples, _INFERENCE_BATCH):
                rows = read_rows(X, slice(start, start + _INFERENCE_BATCH))
                x = self._network_batch(rows, device, scaling, first_row=start)
                noise = None
                if rng is not None:
                    noise = rng.standard_normal((len(x), self.n_components_))
                    noise = torch.tensor(noise, dtype=torch.float32, device=device)
                args = (x, noise)
                if condition is not None:
                    c = condition[start : start + _INFERENCE_BATCH]
                    args += (c.to(device),)
                features = fn(*args).float().cpu().numpy()
                _check_finite_output(features, "encoder", start)
                if out is None:
                    out = np.empty((n_samples, features.shape[1]), dtype=out_dtype)
                out[start : start + len(x)] = features
        return out

    def _over_dask_blocks(self, method, X, *others, n_outputs, dtype):
        """``method(X_block, *other_blocks)`` over X's blocks of rows, lazily.

        For X a dask array: the result is a dask array whose blocks a
        cluster's workers compute in parallel, each with its own copy of this
        fitted model. ``others`` (say, conditions) are split as X's rows;
        ``n_outputs`` None gives a 1-D result.
        """
        import dask.array as da

        self._validate_X(X, reset=False)  # shape and dtype now, values per block
        # Blocks of whole rows: row axis "r", the other axes in one block each.
        arrays = []
        for i, array in enumerate((X, *others)):
            array = da.asarray(array)
            array = array.rechunk((X.chunks[0], *(-1,) * (array.ndim - 1)))
            arrays += [array, "r" + "abcdefghijkl"[4 * i : 4 * i + array.ndim - 1]]
        if n_outputs is None:
            out_index, new_axes, meta = "r", {}, np.empty((0,), dtype)
        else:
            out_index, new_axes = "rz", {"z": n_outputs}
            meta = np.empty((0, n_outputs), dtype)
        return da.blockwise(
            method,
            out_index,
            *arrays,
            new_axes=new_axes,
            concatenate=True,
            dtype=dtype,
            meta=meta,
        )

    def _decode(self, Z, condition=None):
        """G_x(z), or G_x(z, c) given rows of a ``condition`` tensor, in X's units."""
        largest = max(Z.max(), -Z.min())
        if largest > np.finfo(np.float32).max:
            raise ValueError(
                f"Latent codes exceed float32's range (largest magnitude "
                f"{largest:.3g}); the decoder runs in float32."
            )
        device = self._module_device()
        decoder = self.net_.decoder_
        decoder.eval()
        X = np.empty((len(Z), self.n_features_in_))
        with torch.inference_mode():
            for start in range(0, len(Z), _INFERENCE_BATCH):
                z = torch.tensor(
                    Z[start : start + _INFERENCE_BATCH], dtype=torch.float32
                )
                args = (z.to(device),)
                if condition is not None:
                    c = condition[start : start + _INFERENCE_BATCH]
                    args += (c.to(device),)
                x = decoder(*args).float().cpu().numpy()
                if not np.isfinite(x).all():
                    largest = np.abs(Z[start : start + len(x)]).max()
                    if largest <= _PLAUSIBLE_CODE:
                        _check_finite_output(x, "decoder", start)
                    raise ValueError(
                        "The decoder's float32 output overflowed for latent "
                        f"codes of magnitude up to {largest:.3g}, too far "
                        "from the N(0, I) prior to decode."
                    )
                # Scaled in place per batch: ``X * scale + offset`` over the
                # whole output would hold two more output-sized temporaries.
                out = X[start : start + len(x)]
                out[...] = x.reshape(len(x), -1)
                with np.errstate(over="ignore", invalid="ignore"):
                    np.multiply(out, self.data_scale_, out=out)
                    out += self.data_offset_
                if not np.isfinite(out).all():
                    raise ValueError(
                        "Decoded values exceed float64's range once scaled back "
                        "to X's units by data_scale_ (up to "
                        f"{np.max(self.data_scale_):.3g})."
                    )
        if self._input_ndim_ == 4:
            return X.reshape(len(X), *self.image_shape_)
        return X

    # -- persistence: the hooks of sklearn_ali.io ---------------------------
    # sklearn_ali.io writes what _io_state returns and hands it back to
    # _from_io_state: what a fitted model is made of is known only here.

    # Attributes of net_: the trained networks and their optimizers.
    _io_modules = ("encoder_", "decoder_", "discriminator_")
    _io_optimizers = ("optimizer_",)

    def _io_state(self, *, include_optimizer=False):
        """This fitted model as data and tensors, for ``sklearn_ali.io.dump``.

        A dict of ``params`` (``get_params()``, with ``callbacks`` None
        because callbacks are code, and a ``torch.device`` as its string),
        ``attributes`` (every instance attribute ending in ``_`` but
        ``net_``), ``modules`` (the state dicts of ``net_``'s networks),
        ``history`` (``net_.history`` as a list) and, with
        ``include_optimizer``, ``optimizers`` (the state dicts of ``net_``'s
        optimizers).
        """
        check_is_fitted(self)
        params = self.get_params(deep=False)
        if callable(params["architecture"]):
            raise ValueError(
                "sklearn_ali.io stores architectures by name, and this model was "
                f"built by architecture={params['architecture']!r}, a builder of "
                "its own: persist it with joblib.dump, which stores the builder "
                "by reference (and needs it importable where the model loads)."
            )
        params["callbacks"] = None
        if isinstance(params["device"], torch.device):
            params["device"] = str(params["device"])
        net = self.net_
        state = {
            "params": params,
            "attributes": {
                name: value
                for name, value in vars(self).items()
                if name.endswith("_") and name != "net_"
            },
            "modules": {
                name: getattr(net, name).state_dict() for name in self._io_modules
            },
            "history": net.history.to_list(),
        }
        if include_optimizer:
            state["optimizers"] = {
                name: getattr(net, name).state_dict() for name in self._io_optimizers
            }
        return state

    @classmethod
    def _from_io_state(cls, state, *, device):
        """The fitted model an ``_io_state`` dict describes, for ``io.load``.

        The estimator is constructed from the stored parameters and validated,
        the fitted attributes are checked and set, the networks and ``net_``
        are built as ``fit`` builds them (``net_`` on ``device``, initialised)
        and the stored weights, history and optimizer state copied in.
        Raises ValueError on anything missing or inconsistent.
        """
        # Imported here: sklearn_ali.io imports this module for its registry.
        from .io import (
            _check_layout,
            _load_module_state,
            _load_optimizer_state,
            check_module_state,
        )

        _check_layout(
            state,
            {"params": dict, "attributes": dict, "modules": dict, "history": list},
            optional={"optimizers": dict},
        )
        unknown = state["params"].keys() - set(cls._get_param_names())
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}.")
        model = cls(**state["params"])
        model._validate_params()
        model._check_hyperparameters()
        cls._check_io_attributes(state["attributes"])
        vars(model).update(state["attributes"])
        if not all(isinstance(row, dict) for row in state["history"]):
            raise ValueError("the stored history is not a list of dicts.")
        stored = {"modules": cls._io_modules, "optimizers": cls._io_optimizers}
        for key, names in stored.items():
            if key in state and state[key].keys() != set(names):
                raise ValueError(
                    f"the stored {key} are {sorted(state[key])}; expected "
                    f"{sorted(names)}."
                )

        model._check_io_private_attributes(state["attributes"])
        # The stored tensors are checked against networks built on the meta
        # device first: tampered sizes must not allocate what they name.
        with torch.device("meta"):
            networks = model._build_networks()
        for name, network in zip(cls._io_modules, networks):
            where = f"modules/{name}"
            stored = state["modules"][name]
            check_module_state(network.state_dict(), stored, where)
        # The weights drawn here are overwritten; the caller's torch RNG is
        # left as it was.
        with _seeded_torch(0, "cpu"):
            net = model._make_net(
                *model._build_networks(), cuda=torch.device(device).type == "cuda"
            )
            net.device = device
            net.initialize()
        model.net_ = net
        for name in cls._io_modules:
            module = getattr(net, name)
            _load_module_state(module, state["modules"][name], f"modules/{name}")
            module.eval()
        for name, optimizer_state in state.get("optimizers", {}).items():
            _load_optimizer_state(
                getattr(net, name), optimizer_state, f"optimizers/{name}"
            )
        net.history = History(state["history"])
        model._check_finite_outputs()
        return model

    def _check_io_private_attributes(self, attributes):
        """Raise ValueError unless the seed and structure are what fit sets."""
        seed = attributes.get("_seed_", 0)
        if type(seed) is not int or not 0 <= seed < _SEED_BOUND:
            raise ValueError(
                f"fitted attribute _seed_={seed!r} is not an int in [0, {_SEED_BOUND})."
            )
        if "_structure_" in attributes:
            stored = attributes["_structure_"]
            expected = self._structure()
            if not isinstance(stored, dict) or stored.keys() != expected.keys():
                raise ValueError(
                    f"fitted attribute _structure_={stored!r} does not name the "
                    f"structural parameters {sorted(expected)}."
                )
            changed = [
                name
                for name, value in expected.items()
                if _structure_value(value) != _structure_value(stored[name])
            ]
            if changed:
                raise ValueError(
                    f"fitted attribute _structure_ disagrees with the stored "
                    f"parameters on {changed}."
                )

    def _check_finite_outputs(self):
        """Raise ValueError unless the networks map finite inputs to finite
        outputs: weights that are finite can still be invalid together."""
        device = self._module_device()
        x = torch.zeros(2, *self._network_input_shape(), device=device)
        z = torch.zeros(2, self.n_components_, device=device)
        with torch.inference_mode():
            outputs = self._probe_networks(x, z)
        for network, out in outputs.items():
            if not torch.isfinite(out).all():
                raise ValueError(
                    f"the stored {network} gives NaN or infinite outputs for "
                    "finite inputs: its weights are diverged or were tampered "
                    "with."
                )

    def _probe_networks(self, x, z):
        """Outputs of the encoder and decoder for inputs ``x`` and codes ``z``."""
        return {
            "encoder": self.net_.encoder_.mean(x),
            "decoder": self.net_.decoder_(z),
        }

    @classmethod
    def _check_io_attributes(cls, attributes):
        """Raise ValueError unless these could be the fitted attributes of fit."""
        bad = [
            name
            for name in attributes
            if not name.isidentifier()
            or not name.endswith("_")
            or name.startswith("__")
            or name == "net_"
            or hasattr(cls, name)  # the properties encoder_, history_, ...
        ]
        if bad:
            raise ValueError(f"{bad} cannot be fitted attributes.")
        required = (
            "n_features_in_",
            "image_shape_",
            "_input_ndim_",
            "architecture_",
            "data_offset_",
            "data_scale_",
            "device_",
        )
        missing = [name for name in required if name not in attributes]
        if missing:
            raise ValueError(f"the fitted attributes {missing} are missing.")

        def check(name, ok, expected):
            if not ok:
                raise ValueError(
                    f"fitted attribute {name}={attributes[name]!r} is not {expected}."
                )

        n = attributes["n_features_in_"]
        check("n_features_in_", type(n) is int and n > 0, "a positive int")
        shape = attributes["image_shape_"]
        check(
            "image_shape_",
            shape is None
            or (
                type(shape) is tuple
                and len(shape) == 3
                and all(type(s) is int and s > 0 for s in shape)
                and math.prod(shape) == n
            ),
            f"None or (C, H, W) with C*H*W = n_features_in_ = {n}",
        )
        ndims = (2,) if shape is None else (2, 4)
        check("_input_ndim_", attributes["_input_ndim_"] in ndims, f"in {ndims}")
        archs = ("mlp",) if shape is None else tuple(ARCHITECTURES)
        check("architecture_", attributes["architecture_"] in archs, f"in {archs}")
        scaling_shape = (n,) if shape is None else ()
        for name in ("data_offset_", "data_scale_"):
            value = attributes[name]
            check(
                name,
                isinstance(value, np.ndarray)
                and value.dtype == np.float64
                and value.shape == scaling_shape
                and np.isfinite(value).all()
                and (name == "data_offset_" or (value > 0).all()),
                f"a finite float64 array of shape {scaling_shape}"
                + (", positive" if name == "data_scale_" else ""),
            )
        check("device_", isinstance(attributes["device_"], str), "a string")
        if "feature_names_in_" in attributes:
            names = attributes["feature_names_in_"]
            check(
                "feature_names_in_",
                isinstance(names, np.ndarray)
                and names.dtype == object
                and names.shape == (n,)
                and all(isinstance(s, str) for s in names),
                f"an object array of {n} strings",
            )


_SEED_BOUND = np.iinfo(np.int32).max


def resolve_device(device, name="device"):
    """``device`` (or "auto") as the string of an available torch device.

    Raises ValueError naming ``name`` for what is no device, holds no data
    (meta) or is not available here; ``fit`` and ``io.load`` share it.
    """
    requested = device
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name}={requested!r} is not a torch device.") from exc
    if device.type == "cpu":
        return str(device)
    if device.type == "meta":
        raise ValueError(
            f"{name}={requested!r} holds no data; the networks cannot train on it."
        )
    # torch.cuda, torch.mps, torch.xpu, ... answer is_available(); an
    # unavailable device otherwise fails only deep inside skorch's fit.
    backend = getattr(torch, device.type, None)
    if hasattr(backend, "is_available"):
        available = backend.is_available()
        count = backend.device_count() if hasattr(backend, "device_count") else 1
    else:  # plugin backends (hpu, xla, ...): allocating is the probe
        try:
            torch.empty(0, device=device)
            available, count = True, math.inf
        except (RuntimeError, ImportError):
            available = False
    if not available:
        raise ValueError(
            f"{name}={requested!r} was requested but "
            f"{device.type.upper()} is not available."
        )
    if device.index is not None and device.index >= count:
        raise ValueError(
            f"{name}={requested!r} was requested but only {count} "
            f"{device.type.upper()} device(s) are available."
        )
    return str(device)


def _structure_value(value):
    """A structural hyperparameter as compared for a warm start.

    Sequences by their items: hidden_layer_sizes=[32] builds what (32,)
    built (and io's JSON brings tuples back as lists).
    """
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return value


def _rank_seed(seed, rank):
    """torch's seed on ``rank``: the noise of each rank's share must differ."""
    return seed if rank == 0 else (seed + 104729 * rank) % _SEED_BOUND


# Numeric hyperparameters checked against bools beyond their constraints.
_NUMERIC_PARAMS = (
    "n_components",
    "conv_width",
    "max_epochs",
    "batch_size",
    "learning_rate",
    "discriminator_learning_rate",
    "dropout",
    "reconstruction_weight",
    "distributed_timeout",
)


# Latent codes beyond this magnitude are about impossible under N(0, I): a
# decoder that overflows on them is blamed on the codes, on others on itself.
_PLAUSIBLE_CODE = 1e3


def _check_finite_output(values, network, first_row):
    """Raise ValueError where a network's output for finite input is not finite.

    The inputs were checked finite, so the weights are the likely cause:
    a fit that diverged without a non-finite loss, or edited parameters.
    """
    if math.isfinite(values.sum(dtype=np.float64)) or np.isfinite(values).all():
        return
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    row = first_row + int(np.flatnonzero(bad)[0])
    raise ValueError(
        f"The {network} gave NaN or infinite outputs for finite inputs (first "
        f"at row {row}): its weights are likely diverged (a learning_rate too "
        "high for the data) or were tampered with. Refit the model, for "
        "example with a smaller learning_rate."
    )


def _feature_dtype(X):
    """The dtype of features of X: X's float dtype, float64 for integers."""
    dtype = np.dtype(X.dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _is_number(value, kind):
    """isinstance(value, kind), refusing bools (an Integral to Python)."""
    return isinstance(value, kind) and not isinstance(value, (bool, np.bool_))


# torch's RNG is one per process: fits in threads take turns with it, so each
# is seeded alone (reproducible) and the caller's state comes back unchanged.
_TORCH_RNG_LOCK = threading.RLock()


@contextmanager
def _seeded_torch(seed, device):
    """Seed torch's global RNGs for the block; restore them after it."""
    device = torch.device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
