"""The estimator base of the ALI family: fit orchestration.

``BaseALI`` holds the shared parameters and their constraints, training
anew or on (warm start, ``partial_fit``), joining a data-parallel group,
building the networks and the skorch net that plays the estimator's game.
It is composed of one mixin per other concern: parameter and data checks
(``_checks``), batched inference and the dask dispatch (``_inference``) and
fitted-state persistence (``_state``). A subclass adds its ``__init__``
(explicit keyword arguments, as scikit-learn requires), its public methods,
its tags and its ``game``.
"""

import copy
from numbers import Integral, Real

import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _is_fitted, check_is_fitted
from skorch.dataset import ValidSplit

from . import _distributed
from ._batches import RowBatches
from ._callbacks import (
    CycleWeightSchedule,
    EpochTable,
    FitProgressBar,
    LinearDecay,
    TrainingDivergedError,
)
from ._checks import TRAINING_PARAMS, ChecksMixin, is_auto, structure_value
from ._devices import (
    SEED_BOUND,
    autocast_bfloat16,
    rank_seed,
    resolve_device,
    seeded_torch,
)
from ._inference import FEATURES, InferenceMixin
from ._scaling import check_scaled_range, fit_scaling
from ._state import PersistenceMixin
from ._training import ALIModule, ALINet
from ._version import __version__
from .networks import ARCHITECTURES, check_networks
from .objectives import ALI, LOSSES

# Where .readthedocs.yaml publishes the documentation (pyproject.toml's
# "Documentation" URL): an estimator's HTML repr links to its API page there.
DOCS_URL = "https://sklearn-ali.readthedocs.io/en"


class BaseALI(ChecksMixin, InferenceMixin, PersistenceMixin, BaseEstimator):
    """Base of the ALI estimators; not to be used directly.

    Subclasses define ``__init__`` with the parameters of
    ``_parameter_constraints`` (and their own).
    """

    _doc_link_module = "sklearn_ali"

    @property
    def _doc_link_template(self):
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
        "learning_rate_schedule": [StrOptions({"constant", "linear"})],
        "betas": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "spectral_norm": ["boolean"],
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "reconstruction_weight_end": [Interval(Real, 0, None, closed="left"), None],
        "generator_steps": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions(set(LOSSES))],
        "gradient_penalty": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "keep_on_device": ["boolean"],
        "precision": [StrOptions({"auto", "bfloat16", "float32"})],
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

    @property
    def history_(self):
        check_is_fitted(self)
        return self.net_.history

    # -- fit ---------------------------------------------------------------

    def _fit(self, X, y=None, *, epochs, resume, one_pass=False, **target_options):
        """Train for ``epochs``: anew, or on from the fitted model with ``resume``.

        ``epochs=None`` trains for ``max_epochs`` as resolved for this fit
        (``training_params_``). ``one_pass`` is partial_fit's pass with no
        planned end, which ``learning_rate_schedule`` leaves at the constant
        rates. ``y`` and ``target_options`` go to ``_encode_targets``.
        """
        if resume and _is_fitted(self):
            return self._continue(X, y, epochs=epochs, one_pass=one_pass)
        return self._fit_new(X, y, epochs=epochs, one_pass=one_pass, **target_options)

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

    def _fit_new(self, X, y=None, *, epochs, one_pass=False, **target_options):
        """Initialise everything from X and train; a failure leaves self as it was."""
        saved = self._fitted_state()
        try:
            self._check_params()
            X, image_shape = self._validate_X(X, reset=True)
            self._check_validation_split(X.shape[0])
            self.image_shape_ = self._resolve_image_shape(image_shape, X.shape[1])
            self._input_ndim_ = 2 if image_shape is None else 4
            self.architecture_ = self._resolve_architecture()
            self.training_params_ = self._resolve_training_params()
            if epochs is None:
                epochs = self.training_params_["max_epochs"]
            targets = self._encode_targets(y, X.shape[0], reset=True, **target_options)
            self._fit_scaling(X)  # also checks, in one pass, that X is finite
            self.device_ = self._resolve_device()
            rank = self._join_data_parallel(X.shape)
            seed = check_random_state(self.random_state).randint(SEED_BOUND)
            self._seed_ = self._same_on_all_ranks(int(seed))
            data = self._training_data(X, targets)
            with seeded_torch(rank_seed(self._seed_, rank), self.device_):
                net = self._make_net(*self._allocated_networks())
                self._structure_ = self._structure()
                self.net_ = net
                net.initialize()
                self._train(net, data, epochs, one_pass=one_pass)
        except TrainingDivergedError:
            raise  # the restored, finite model is kept
        except BaseException:
            self._restore_fitted_state(saved)
            raise
        return self

    def _continue(self, X, y=None, *, epochs, one_pass=False):
        """Train the fitted networks further; a failure leaves them as they were."""
        self._check_params()
        changed = [
            name
            for name, value in self._structure().items()
            if structure_value(value) != structure_value(self._structure_[name])
        ]
        if changed:
            raise ValueError(
                f"Cannot continue training: {changed} changed since the model was "
                "fitted, and they shape the networks. Fit a new model "
                "(warm_start=False) to change them."
            )
        X, _ = self._validate_X(X, reset=False)
        self._check_validation_split(X.shape[0])
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
        self.training_params_ = self._resolve_training_params()
        if epochs is None:
            epochs = self.training_params_["max_epochs"]
        backup = net.snapshot()
        epochs_before, device_before = len(net.history), net.device
        # A different seed for every continuation, reproducible from the first.
        seed = (self._seed_ + 7919 * len(net.history)) % SEED_BOUND
        data = self._training_data(X, targets)
        try:
            self.device_ = self._resolve_device()
            rank = self._join_data_parallel(X.shape)
            device = self.device_
            with seeded_torch(rank_seed(seed, rank), device):
                settings = self._net_settings(seed=seed)
                # skorch's set_params cannot bring back a default callback
                # that was set to None (PrintLog, after a fit with verbose=1);
                # initialize_callbacks reads the init argument itself.
                net.callbacks__print_log = settings.pop("callbacks__print_log")
                net.set_params(**settings)
                net.initialize_callbacks()
                net.move_to(device)
                if net.channels_last:
                    net.module_.to(memory_format=torch.channels_last)
                self._train(net, data, epochs, one_pass=one_pass)
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

    def _train(self, net, data, epochs, *, one_pass=False):
        net.epochs_planned_ = epochs
        net.one_pass_ = one_pass
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
        structure = {
            name: getattr(self, name)
            for name in (
                "n_components",
                "architecture",
                "image_shape",
                "hidden_layer_sizes",
                "conv_width",
                "encoder",
            )
        }
        # As built: "auto" and the value it stands for build the same networks.
        resolved = self._resolve_training_params()
        for name in ("dropout", "spectral_norm"):
            structure[name] = resolved[name]
        return structure

    def _resolve_training_params(self):
        """``TRAINING_PARAMS`` as this fit trains with them, ``"auto"`` resolved.

        Reads ``architecture_``, so a warm start resolves as the first fit did.
        """
        auto = self._auto_training_params()
        return {
            name: auto[name] if is_auto(getattr(self, name)) else getattr(self, name)
            for name in TRAINING_PARAMS
        }

    def _auto_training_params(self):
        """What ``"auto"`` stands for in each of ``TRAINING_PARAMS``, given
        ``architecture_``; a subclass whose constraints allow ``"auto"``
        overrides this."""
        return {}

    def _fit_scaling(self, X):
        self.data_offset_, self.data_scale_ = fit_scaling(
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
            "dropout": self.training_params_["dropout"],
            "spectral_norm": self.training_params_["spectral_norm"],
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

    def _make_net(self, encoder, decoder, discriminator):
        return ALINet(
            ALIModule(encoder, decoder, discriminator),
            game=self.game,
            n_components=self.n_components_,
            **self._net_settings(seed=getattr(self, "_seed_", 0)),
        )

    def _net_settings(self, *, seed):
        """ALINet's settings from this estimator's hyperparameters."""
        callbacks = [copy.deepcopy(cb) for cb in self.callbacks or []]
        rank, world = self._data_parallel_world()
        verbose = self.verbose if rank == 0 else 0  # rank 0 speaks for all
        images = len(self._network_input_shape()) == 3
        training = self.training_params_
        settings = {
            "lr": training["learning_rate"],
            "optimizer__betas": tuple(self.betas),
            "use_amp": autocast_bfloat16(self.precision, self.device_, images=images),
            "channels_last": images,
            "max_epochs": training["max_epochs"],
            "batch_size": self.batch_size,
            "generator_steps": self.generator_steps,
            "scaling": self._scaling(),
            "device": self.device_,
            "distributed": world > 1,
            "verbose": verbose,
            "train_split": None,
            # verbose=1 is one bar with the losses; verbose>=2 a table per epoch.
            "callbacks__print_log": None if verbose == 1 else EpochTable(),
        }
        # The game's options are this estimator's parameters of those names,
        # as resolved for this fit where they are training parameters.
        settings.update(
            {
                f"game__{name}": training.get(name, getattr(self, name))
                for name in self.game.options
            }
        )
        if training["learning_rate_schedule"] == "linear":
            callbacks.append(("learning_rate_schedule", LinearDecay()))
        if self.reconstruction_weight_end is not None:
            schedule = CycleWeightSchedule(self.reconstruction_weight_end)
            callbacks.append(("reconstruction_weight_schedule", schedule))
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

    # -- persistence: the hooks of sklearn_ali.io ---------------------------
    # sklearn_ali.io writes what _io_state returns and hands it back to
    # _from_io_state: what a fitted model is made of is known only here.
