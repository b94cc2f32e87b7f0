"""ALI's adversarial training, as a skorch ``NeuralNet``.

skorch runs the loop (epochs, callbacks, history, progress, devices, the
optimizer step); this module plugs ALI into skorch's documented extension
points (``docs/user/customization.rst``):

- ``module_`` is one :class:`ALIModule` holding the encoder, decoder and
  discriminator, so skorch's ``save_params``, ``Checkpoint`` and
  ``LoadInitState`` save and restore all three networks;
- ``optimizer_`` is one optimizer with a parameter group per player
  (``param_groups[i]["player"]`` is ``"generators"`` or
  ``"discriminator"``). Adam keeps its state per parameter, so this is the
  authors' two simultaneously stepped Adams, and skorch's ``LRScheduler``,
  ``Checkpoint`` and ``lr``/``optimizer__*`` settings reach both players;
  ``optimizer_d__*`` settings reach the discriminator's groups only;
- ``game`` is a :class:`sklearn_ali.objectives.Game`, a value: its losses,
  diagnostics, validation loss, batch contents and sampler. Its options are
  the net's ``game__*`` settings (``game__loss``,
  ``game__reconstruction_weight``), which reach the losses without the net
  knowing them;
- ``train_step_single`` computes each player's gradients of its own loss
  from one play of the game; skorch's ``train_step`` zeroes them, notifies
  ``on_grad_computed`` and steps the optimizer. With ``generator_steps``
  above 1, ``train_step`` then takes that many more steps of the encoder
  and decoder alone on the same batch (``generator_step_single``), each
  through the same skorch step;
- ``validation_step`` scores held-out rows by the game's validation loss,
  the ``valid_loss`` that ``EarlyStopping`` and ``Checkpoint`` monitor.

Three skorch methods are replaced rather than extended, each for a reason
given where it is: ``get_iterator`` (batches are read whole, or gathered on
the device; in ``sklearn_ali._batches``), ``fit_loop`` (data-parallel set-up
around skorch's loop) and ``run_single_epoch`` (no host synchronisation per
batch on a GPU).
"""

import gc
import warnings
from collections import defaultdict
from functools import partial

import torch
from skorch import NeuralNet
from skorch.callbacks import (
    EarlyStopping,
    EpochTimer,
    PassthroughScoring,
)
from skorch.utils import TeeGenerator, to_tensor

from . import _distributed
from ._batches import NetBatchesMixin
from ._callbacks import DivergenceGuard, EpochMeans, EpochTable
from ._scaling import scale_batch
from .objectives import ALI

PLAYERS = ("generators", "discriminator")


def _cpu_copy(state):
    """A detached CPU copy of a (nested) state dict."""
    if torch.is_tensor(state):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: _cpu_copy(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_cpu_copy(v) for v in state]
    return state


class ALIModule(torch.nn.Module):
    """The encoder G_z, decoder G_x and discriminator D as one module.

    ``forward(x)`` is the encoder mean mu(x): what ``net.forward(X)`` and
    skorch's scoring callbacks see as the net's prediction.
    """

    def __init__(self, encoder, decoder, discriminator):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator

    def forward(self, x):
        return self.encoder.mean(x)  # (n, n_components)

    def player_parameters(self, player):
        """Named parameters of ``"generators"`` (encoder and decoder) or D."""
        names = (
            ("discriminator",) if player == "discriminator" else ("encoder", "decoder")
        )
        return [
            (f"{name}.{key}", p)
            for name in names
            for key, p in getattr(self, name).named_parameters()
        ]


def _discriminator_setter(net, param, value):
    """``optimizer_d__<key>=value`` sets ``key`` in D's parameter groups."""
    key = param[len("optimizer_d__") :]
    for group in net.optimizer_.param_groups:
        if group.get("player") == "discriminator":
            group[key] = value


class ALINet(NetBatchesMixin, NeuralNet):
    """skorch net training ALI's encoder, decoder and joint discriminator.

    Parameters
    ----------
    module : ALIModule
        The three networks (see ``sklearn_ali.networks``).
    game : sklearn_ali.objectives.Game, default=objectives.ALI
        The game the networks play. Its options are set as ``game__<option>``
        (e.g. ``game__loss="hinge"``, ``game__reconstruction_weight=10.0``:
        the weight of the L1 cycle term ``|x - G_x(G_z(x))|`` of ALICE; 0,
        the default, gives the paper's pure adversarial ALI).
    n_components : int
        Latent size; the prior is N(0, I) in that many dimensions.
    use_amp : bool
        bfloat16 autocast of the training and validation steps (on the
        device's type: CUDA or the CPU).
    channels_last : bool
        channels_last memory format for conv networks.
    scaling : (Tensor, Tensor) or None
        ``(shift, factor)``: batches are raw data, and the networks see
        ``shift + x * factor`` in float32, computed on the net's device.
        None: batches are network input already.
    distributed : bool
        Train data-parallel over the default ``torch.distributed`` process
        group when it has more than one process (see
        ``sklearn_ali._distributed``): each rank trains on an equal share of
        every batch, ``batch_size`` rows in all (the ``batch_size % world``
        rows left over are skipped for that step), DDP averages the
        gradients and the history records the ranks' means.
    generator_steps : int
        Optimizer steps of the encoder and decoder per step of the
        discriminator: the first is taken with the discriminator's, from one
        play of the game, and the others alone on the same batch with fresh
        prior draws (the history records the first).
    data_on_device : "auto" or bool
        Keep the training data, as raw as it is given (uint8 pixels stay
        uint8), on the device for the whole fit and gather each batch there:
        no DataLoader and no host copy per batch. ``"auto"``: on CUDA, for
        data in memory (a numpy array or memmap, or a tensor) that takes at
        most a quarter of the free GPU memory. Otherwise batches are read on
        the host, and on CUDA pinned and read ahead in a thread while the
        GPU works.
    **kwargs
        Any other :class:`skorch.NeuralNet` argument (``lr``, ``max_epochs``,
        ``batch_size``, ``callbacks``, ``device``, ``train_split``,
        ``optimizer__*``, ...) and ``optimizer_d__*``: optimizer settings for
        the discriminator's parameter groups only (e.g. ``optimizer_d__lr``).
        ``iterator_train__*`` and ``iterator_valid__*`` are refused: batches
        are drawn by the game's sampler and read whole (see ``get_iterator``).
    """

    prefixes_ = [*NeuralNet.prefixes_, "optimizer_d", "game"]

    def __init__(
        self,
        module,
        *,
        n_components,
        game=ALI,
        use_amp=False,
        channels_last=False,
        scaling=None,
        distributed=False,
        generator_steps=1,
        data_on_device="auto",
        **kwargs,
    ):
        kwargs.setdefault("optimizer", torch.optim.Adam)
        kwargs.setdefault("train_split", None)
        # skorch requires a criterion; the game computes its own losses.
        kwargs.setdefault("criterion", torch.nn.BCEWithLogitsLoss)
        super().__init__(module, **kwargs)
        self.n_components = n_components
        self.game = game
        self.use_amp = use_amp
        self.channels_last = channels_last
        self.scaling = scaling
        self.distributed = distributed
        self.generator_steps = generator_steps
        self.data_on_device = data_on_device
        # The module and callbacks go into skorch's device-mapped pickle blob
        # beside module_ and optimizer_: objects shared between them (the
        # module is module_, an LRScheduler holds optimizer_) are pickled once,
        # stay shared, and CUDA tensors in them load on CPU-only machines.
        self.cuda_dependent_attributes_ = [
            *self.cuda_dependent_attributes_,
            "module",
            "callbacks",
        ]

    # -- the game ---------------------------------------------------------

    @property
    def game_options(self):
        """The game's options: its defaults, overridden by ``game__*``."""
        return self.game.resolve_options(**self.get_params_for("game"))

    @property
    def batch_keys(self):
        """Names of the per-batch diagnostics the game records, in order."""
        return self.game.diagnostic_names(**self.get_params_for("game"))

    # -- the trained networks ---------------------------------------------

    @property
    def encoder_(self):
        return self.module_.encoder

    @property
    def decoder_(self):
        return self.module_.decoder

    @property
    def discriminator_(self):
        return self.module_.discriminator

    # -- skorch set-up ---------------------------------------------------

    def get_default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            # d_loss + g_loss: the sum of two players' opposed losses, whose
            # minimum marks no better model, so no "best" flag (or colour).
            (
                "train_loss",
                PassthroughScoring(
                    name="train_loss", on_train=True, lower_is_better=None
                ),
            ),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("epoch_means", EpochMeans()),
            ("divergence_guard", DivergenceGuard()),
            ("print_log", EpochTable()),
        ]

    def initialize_module(self):
        super().initialize_module()
        if self.channels_last:
            self.module_.to(memory_format=torch.channels_last)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        """One optimizer, a parameter group (or more) per player.

        ``optimizer__*`` settings (and ``lr``) apply to every group;
        ``optimizer_d__*`` override them in the discriminator's groups.
        """
        d_settings = self.get_params_for("optimizer_d")
        groups, kwargs = [], {}
        for player in PLAYERS:
            (player_groups,), kwargs = self.get_params_for_optimizer(
                "optimizer", self.module_.player_parameters(player)
            )
            for group in player_groups:
                group["player"] = player
                if player == "discriminator":
                    group.update(d_settings)
            groups += player_groups
        self.optimizer_ = self.optimizer(groups, **kwargs)
        return self

    def _initialize_optimizer(self, reason=None):
        # skorch registers the optimizer__* setters here; optimizer_d__* is
        # ours. skorch has no public hook for virtual parameters, so this
        # relies on _register_virtual_param (tests/test_skorch_integration.py
        # fails if it changes).
        super()._initialize_optimizer(reason)
        self._register_virtual_param("optimizer_d__*", _discriminator_setter)
        return self

    def initialize_virtual_params(self):
        super().initialize_virtual_params()
        # game__* options are read where the game is played: set on an
        # initialised net, they are stored, and nothing is re-initialised
        # (skorch would otherwise look for a module or criterion "game").
        self._register_virtual_param("game__*")
        return self

    # Single process: batch order from torch's global RNG and all of each
    # batch; data-parallel: set for each fit_loop (see _begin_data_parallel).
    _batch_generator = None
    _shard = (0, 1)
    _ddp = None

    # -- one batch --------------------------------------------------------

    def _prepare(self, batch):
        # Pinned host memory + non_blocking: the copy overlaps the previous step.
        x = self._scale(batch[0].to(self.device, non_blocking=True))
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _scale(self, x):
        """Raw data on the device -> network input (see ``scaling``)."""
        if self.scaling is None:
            return x
        # A copy per device, made once: set_params(scaling=...) replaces it.
        source, device, tensors = getattr(self, "_device_scaling", (None,) * 3)
        if source is not self.scaling or device != x.device:
            tensors = tuple(t.to(x.device) for t in self.scaling)
            self._device_scaling = (self.scaling, x.device, tensors)
        return scale_batch(x, *tensors)

    def infer(self, x, **fit_params):
        # skorch's predict/forward and scoring callbacks hand raw data here.
        x = self._scale(to_tensor(x, device=self.device))
        return super().infer(x, **fit_params)

    def _autocast(self, x):
        return torch.autocast(x.device.type, torch.bfloat16, enabled=self.use_amp)

    def _unpack(self, batch):
        """``(x, targets, n_prior)`` of a batch, on the device and scaled.

        ``targets`` is ``(y,)`` for a game whose batches carry targets, else
        ``()``; the game pairs the first ``n_prior`` rows with prior draws
        (all of them, unless the sampler says otherwise).
        """
        x = self._prepare(batch)
        targets = ()
        if self.game.targets:
            targets = (batch[1].to(self.device, non_blocking=True),)
        n_prior = min(batch[2], len(x)) if len(batch) > 2 else len(x)
        return x, targets, n_prior

    def play(self, batch):
        """``(d_loss, g_loss, diagnostics)`` of one batch: the game played.

        The game's losses on this net's networks, with prior draws for the
        batch and the game's options, under bfloat16 autocast when
        ``use_amp``.
        """
        x, targets, n_prior = self._unpack(batch)
        z_prior = torch.randn(n_prior, self.n_components, device=x.device)
        # Data-parallel, through DDP's wrapper, which prepares the gradients'
        # all-reduce; otherwise straight on the networks.
        call = self._ddp or partial(_distributed.play, self.module_)
        with self._autocast(x):
            return call(self.game.losses, x, *targets, z_prior, **self.game_options)

    def train_step_single(self, batch, **fit_params):
        """Each player's gradient of its own loss, from one forward pass.

        skorch's ``train_step`` has zeroed the gradients and, after this,
        notifies ``on_grad_computed`` and steps the optimizer.
        """
        self._set_training(True)
        d_loss, g_loss, diagnostics = self.play(batch)
        # inputs= confines each loss's gradient to its own player.
        d_params, g_params = self._player_params()
        d_loss.backward(inputs=d_params, retain_graph=True)
        g_loss.backward(inputs=g_params)
        return {
            "loss": d_loss.detach() + g_loss.detach(),
            "y_pred": None,
            "diagnostics": diagnostics,
        }

    def train_step(self, batch, **fit_params):
        """skorch's step of both players, then ``generator_steps - 1`` steps
        of the encoder and decoder alone, each through skorch's step (zeroed
        gradients, ``on_grad_computed``, the optimizer)."""
        step = super().train_step(batch, **fit_params)

        def generator_step():
            self._zero_grad_optimizer()
            loss = self.generator_step_single(batch, **fit_params)
            self.notify(
                "on_grad_computed",
                named_parameters=TeeGenerator(self.get_all_learnable_params()),
                batch=batch,
                training=True,
            )
            return loss

        for _ in range(self.generator_steps - 1):
            self._step_optimizer(generator_step)
        return step

    def generator_step_single(self, batch, **fit_params):
        """The encoder and decoder's gradient of their loss, on a new play.

        The discriminator's gradients are left unset (None), so that the
        optimizer steps neither its weights nor its moments.
        """
        self._set_training(True)
        d_loss, g_loss, _ = self.play(batch)
        d_params, g_params = self._player_params()
        if self._ddp is not None:
            # DDP's reducer waits for a gradient of every parameter.
            d_loss.backward(inputs=d_params, retain_graph=True)
        g_loss.backward(inputs=g_params)
        for param in d_params:
            param.grad = None
        return g_loss.detach()

    def _player_params(self):
        """(discriminator, generators) parameters, as the optimizer groups them."""
        players = {"discriminator": [], "generators": []}
        for group in self.optimizer_.param_groups:
            players[group["player"]] += group["params"]
        return players["discriminator"], players["generators"]

    def validation_step(self, batch, **fit_params):
        """The game's validation loss on held-out rows: the valid_loss."""
        self._set_training(False)
        x, targets, _ = self._unpack(batch)
        with torch.no_grad(), self._autocast(x):
            loss, y_pred = self.game.validation_loss(self.module_, x, *targets)
        return {"loss": loss, "y_pred": y_pred}

    # -- the loop ----------------------------------------------------------

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self._begin_data_parallel()
        try:
            super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            if any(
                isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience
                for _, cb in self.callbacks_
            ):
                raise  # skorch's EarlyStopping stops training this way
            # skorch ends training quietly on Ctrl-C; say so, in the log and
            # in the history, since the model is then only partly trained.
            epoch = len(self.history)
            if epoch:
                self.history.record("interrupted", True)
            warnings.warn(
                f"ALI training was interrupted (KeyboardInterrupt) during epoch "
                f"{epoch}; the model keeps the weights it had then.",
                RuntimeWarning,
                stacklevel=2,
            )
            raise
        finally:
            data_parallel = vars(self).pop("_ddp", None) is not None
            vars(self).pop("_resident", None)
            vars(self).pop("_batch_generator", None)
            vars(self).pop("_shard", None)
            if data_parallel:
                # DDP's reducer sits in reference cycles: collected now, it
                # lets go of the process group and of the gradient hooks on
                # the parameters before anything else backpropagates.
                gc.collect()
        if data_parallel:
            self._end_data_parallel()
        return self

    def _begin_data_parallel(self):
        """With ``distributed`` and a group of several ranks, wrap the game in DDP.

        Every rank gets rank 0's weights (DDP's construction), the same batch
        order (a generator seeded by rank 0) and its own share of each batch.
        """
        rank, world = _distributed.active_world()
        if not self.distributed or world == 1:
            return
        # Held for this fit_loop only, beside skorch's registry of modules,
        # which refuses modules set outside initialize (and would pickle it).
        vars(self)["_ddp"] = _distributed.data_parallel_game(self.module_, self.device)
        seed = _distributed.broadcast_object(
            int(torch.randint(2**62, (), dtype=torch.int64))
        )
        self._batch_generator = torch.Generator().manual_seed(seed)
        self._shard = (rank, world)

    def _end_data_parallel(self):
        """Every rank ends with rank 0's buffers and history (timings included)."""
        _distributed.broadcast_buffers(self.module_)
        self.history = type(self.history)(
            _distributed.broadcast_object(self.history.to_list())
        )

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # skorch's version reads each batch's loss with .item(), which on CUDA
        # waits for the GPU after every step. Here values are read per batch
        # only where that is free (CPU) or wanted (a progress bar, verbose);
        # otherwise once per epoch, in one device-to-host copy.
        if iterator is None:
            return
        live = self.verbose or not str(self.device).startswith("cuda")
        # Data-parallel training records the ranks' means over the whole
        # batch, once per epoch (one all-reduce); live values are this rank's.
        ranks = self._shard[1] if training and self._ddp is not None else 1
        pending = []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            values = step["loss"].reshape(1).float()
            if "diagnostics" in step:
                values = torch.cat([values, step["diagnostics"]])
            n = len(batch[0]) * ranks
            if live:
                self._record_batch(prefix, values.tolist(), n)
            if not live or ranks > 1:
                pending.append((values, n))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        if pending:
            values = torch.stack([v for v, _ in pending])
            if ranks > 1:
                values = _distributed.average(values)
            rows = values.cpu().tolist()
            batches = self.history[-1, "batches"]
            # The rows on_batch_begin/end opened, in order, for this phase.
            opened = batches[len(batches) - len(rows) :]
            for row, vals, (_, n) in zip(opened, rows, pending):
                row.update(self._batch_record(prefix, vals, n))
        self.history.record(prefix + "_batch_count", len(pending) or len(iterator))

    def _batch_record(self, prefix, values, n):
        record = {prefix + "_loss": values[0], prefix + "_batch_size": n}
        if len(values) > 1:
            record.update(zip(self.batch_keys, values[1:]))
        return record

    def _record_batch(self, prefix, values, n):
        self.history[-1]["batches"][-1].update(self._batch_record(prefix, values, n))

    # -- devices and pickling ----------------------------------------------

    def snapshot(self):
        """A copy of the weights, buffers and optimizer state, for ``restore``.

        Kept on the CPU: GPU memory is scarcer, and CUDA tensors here would
        not be mapped to the CPU when a model is unpickled without CUDA.
        """
        return {
            "module": _cpu_copy(self.module_.state_dict()),
            "optimizer": _cpu_copy(self.optimizer_.state_dict()),
        }

    def restore(self, snapshot):
        """Load a ``snapshot()`` back into the networks and the optimizer."""
        self.module_.load_state_dict(snapshot["module"])
        self.optimizer_.load_state_dict(snapshot["optimizer"])
        return self

    def move_to(self, device):
        """Move the networks and the optimizer state to ``device``."""
        self.module_.to(device)
        for state in self.optimizer_.state.values():
            for key, value in state.items():
                if torch.is_tensor(value) and key != "step":
                    state[key] = value.to(device)
        self.device = str(device)
        return self

    def __getstate__(self):
        # Adam's moments are two thirds of a pickle: they are left out, so a
        # pickled model is about the size of its weights. Training resumed
        # after unpickling (warm_start, partial_fit) restarts the moments;
        # sklearn_ali.io.dump(include_optimizer=True) or skorch's Checkpoint
        # keep them.
        # The device copy of the scaling is remade where the net is used.
        self.__dict__.pop("_device_scaling", None)
        optimizer = self.__dict__.get("optimizer_")
        if optimizer is None or not optimizer.state:
            return super().__getstate__()
        kept, optimizer.state = optimizer.state, defaultdict(dict)
        try:
            return super().__getstate__()
        finally:
            optimizer.state = kept
