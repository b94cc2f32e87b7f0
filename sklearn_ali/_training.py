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
- ``train_step_single`` computes each player's gradients of its own loss,
  from ``game_losses`` (:func:`sklearn_ali.objectives.ali_losses`; a
  subclass with another game overrides only that); skorch's ``train_step``
  zeroes them, notifies ``on_grad_computed`` and steps the optimizer;
- ``validation_step`` scores held-out rows by their reconstruction error,
  the ``valid_loss`` that ``EarlyStopping`` and ``Checkpoint`` monitor.
"""

import gc
import math
import queue
import threading
import warnings
from collections import defaultdict
from functools import partial

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochTimer,
    PassthroughScoring,
    PrintLog,
)
from skorch.utils import to_tensor
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from . import _distributed
from ._scaling import read_rows, scale_batch, to_torch_rows
from .objectives import (
    ALI_DIAGNOSTICS,
    SEMI_SUPERVISED_DIAGNOSTICS,
    ali_losses,
    conditional_losses,
    reconstruction_error,
    semi_supervised_losses,
)

# Per-batch quantities recorded in the history.
BATCH_KEYS = ALI_DIAGNOSTICS
PLAYERS = ("generators", "discriminator")


class TrainingDivergedError(RuntimeError):
    """Raised when ALI's losses or weights become NaN or infinite during ``fit``."""


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


class RowBatches(torch.utils.data.Dataset):
    """A dataset indexed by *lists* of rows, so that a batch is one read.

    Per-sample ``__getitem__`` plus collation costs more than a small network's
    forward pass on the CPU; reading whole batches keeps skorch's loop as fast
    as a hand-written one.

    ``X`` is a tensor, a numpy array (a memmap too) or an array-like read in
    chunks (h5py, zarr, dask; see ``sklearn_ali._scaling.read_rows``); rows
    come out as tensors in X's own dtype, integer pixels as integers, shaped
    ``(len(idx), *shape)``, and the net scales them where they land. ``X``
    and ``y`` (None: no targets) are what skorch's ``data_from_dataset``
    reads, e.g. for ``EpochScoring``.
    """

    def __init__(self, X, y=None, *, shape=None):
        self.X = X
        self.y = y
        self.shape = shape

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, idx):
        if torch.is_tensor(self.X):
            x = self.X[idx]
        else:
            x = to_torch_rows(read_rows(self.X, np.asarray(idx)))
        if self.shape is not None:
            x = x.reshape(len(x), *self.shape)
        # (X, y) batches, as skorch's callbacks unpack them.
        return x, None if self.y is None else self.y[idx]


class _EpochMeans(Callback):
    """Records each epoch's batch-size-weighted mean of every batch quantity."""

    def on_epoch_end(self, net, **kwargs):
        batches = [b for b in net.history[-1, "batches"] if "train_batch_size" in b]
        sizes = [b["train_batch_size"] for b in batches]
        for key in getattr(net, "batch_keys", BATCH_KEYS):
            if batches and key in batches[0]:
                total = sum(b[key] * n for b, n in zip(batches, sizes))
                net.history.record(key, total / sum(sizes))


def _all_finite(tensors):
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


def _cpu_copy(state):
    """A detached CPU copy of a (nested) state dict."""
    if torch.is_tensor(state):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: _cpu_copy(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_cpu_copy(v) for v in state]
    return state


def _tensors(state):
    if torch.is_tensor(state):
        yield state
    elif isinstance(state, dict):
        for v in state.values():
            yield from _tensors(v)
    elif isinstance(state, list):
        for v in state:
            yield from _tensors(v)


class DivergenceGuard(Callback):
    """Stops training on a non-finite loss or weight; restores the last good state.

    A snapshot of the networks (weights and buffers) and of the optimizer
    (Adam's moments) is taken at the start and after every epoch whose
    losses, weights, buffers and optimizer state are all finite. A finite loss
    alone is not enough: the losses of an epoch are computed before its last
    step, which can overflow the weights.
    """

    def on_train_begin(self, net, **kwargs):
        self.snapshot_ = None
        self.pending_ = True

    def on_epoch_begin(self, net, **kwargs):
        # Taken here, not at train begin: callbacks such as LoadInitState
        # change the weights in their own on_train_begin.
        if self.pending_:
            self.pending_ = False
            if self._state_is_finite(net):  # a broken warm start keeps None
                # The new epoch's row exists already; it is not completed.
                self._snapshot(net, completed=len(net.history) - 1)

    def on_train_end(self, net, **kwargs):
        # The copies served only during training; a pickled model need not
        # carry them.
        self.snapshot_ = None

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        losses_finite = all(
            math.isfinite(row.get(key, 0.0)) for key in ("d_loss", "g_loss")
        )
        if losses_finite and self._state_is_finite(net):
            self._snapshot(net, completed=row["epoch"])
            return
        snapshot, self.snapshot_ = self.snapshot_, None
        if snapshot is None:
            raise TrainingDivergedError(
                f"ALI training diverged at epoch {row['epoch']} and no finite "
                "weights were left to restore."
            )
        net.restore(snapshot)
        kept = f"after epoch {self.epoch_}" if self.epoch_ else "of initialisation"
        what = "loss" if not losses_finite else "weights or optimizer state"
        raise TrainingDivergedError(
            f"ALI training diverged: non-finite {what} at epoch {row['epoch']} "
            f"(d_loss={row.get('d_loss')}, g_loss={row.get('g_loss')}). The "
            f"weights {kept}, the last finite ones, were restored, with their "
            "optimizer state. Try a smaller learning_rate, or keep "
            "spectral_norm=True; conditions given as attributes (ConditionalALI) "
            "enter the networks unscaled, so bring large ones to a moderate "
            "scale."
        )

    @staticmethod
    def _state_is_finite(net):
        return _all_finite(net.module_.state_dict().values()) and _all_finite(
            _tensors(net.optimizer_.state_dict()["state"])
        )

    def _snapshot(self, net, completed):
        self.epoch_ = completed
        self.snapshot_ = net.snapshot()


class FitProgressBar(Callback):
    """One progress bar over the whole fit, carrying the current losses.

    skorch's ``ProgressBar`` draws a bar per epoch; a fit of many short
    epochs reads better as one bar whose postfix shows the epoch and the
    latest batch's losses.
    """

    def __init__(self, keys=("d_loss", "g_loss", "recon_loss", "valid_loss")):
        self.keys = keys

    def on_train_begin(self, net, **kwargs):
        self.pbar_ = None

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        import tqdm

        if self.pbar_ is not None:
            return
        # Sized from the training split, which excludes held-out rows.
        n = len(dataset_train)
        per_epoch = n // max(1, min(net.batch_size, n))
        epochs = getattr(net, "epochs_planned_", net.max_epochs)
        self.pbar_ = tqdm.tqdm(total=epochs * per_epoch, unit="batch", leave=True)

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        row = net.history[-1, "batches", -1]
        postfix = {"epoch": len(net.history)}
        postfix.update({k: row[k] for k in self.keys if k in row})
        if len(net.history) > 1 and "valid_loss" in net.history[-2]:
            postfix["valid_loss"] = net.history[-2, "valid_loss"]
        self.pbar_.set_postfix(postfix, refresh=False)
        self.pbar_.update()

    def on_train_end(self, net, **kwargs):
        if self.pbar_ is not None:
            self.pbar_.close()

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("pbar_", None)
        return state


class _RandomBatches(torch.utils.data.Sampler):
    """Random batches of ``batch_size`` rows, each row once an epoch (drop_last).

    The order is ``RandomSampler``'s + ``BatchSampler(drop_last=True)``'s:
    a permutation from a generator seeded by ``generator`` (torch's global
    RNG when None). With ``shard=(rank, world)``, a batch is rank's equal
    share, ``batch_size // world`` rows, of the batch all ranks draw alike.
    """

    def __init__(self, n_samples, batch_size, generator=None, shard=(0, 1)):
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.generator = generator
        self.shard = shard

    def __len__(self):
        return self.n_samples // self.batch_size

    def __iter__(self):
        rng = _permutation_rng(self.generator)
        order = torch.randperm(self.n_samples, generator=rng).tolist()
        rank, world = self.shard
        share = self.batch_size // world
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start + rank * share : start + (rank + 1) * share]


class _ResidentBatches:
    """Batches gathered on the device from data resident there.

    The epoch's index lists come from ``sampler`` and go to the device in
    one copy (from pinned memory, not waiting for the device), so that each
    step launches a gather and no host-to-device copy.
    """

    def __init__(self, x, y, rows, sampler):
        self.x, self.y, self.rows, self.sampler = x, y, rows, sampler

    def __len__(self):
        return len(self.sampler)

    def __iter__(self):
        # The draw a DataLoader's iterator makes for its workers' seeds: the
        # random stream, and so the model, stay as when reading on the host.
        torch.empty((), dtype=torch.int64).random_()
        batches = list(self.sampler)
        flat = torch.tensor([i for batch in batches for i in batch], dtype=torch.int64)
        if self.x.is_cuda:
            flat = flat.pin_memory()
        flat = flat.to(self.x.device, non_blocking=True)
        if self.rows is not None:
            flat = self.rows[flat]
        for idx in flat.split([len(batch) for batch in batches]):
            yield self.x[idx], None if self.y is None else self.y[idx]


def _copy_rows_to(X, device, chunk=4096):
    """All of X (tensor, numpy array or lazy array-like) on ``device``, raw.

    Copied in chunks of rows, so that the host holds one chunk at a time.
    """
    if torch.is_tensor(X):
        return X.to(device)
    n, out = X.shape[0], None
    for start in range(0, n, chunk):
        rows = to_torch_rows(read_rows(X, slice(start, start + chunk)))
        if out is None:
            out = torch.empty((n, *rows.shape[1:]), dtype=rows.dtype, device=device)
        out[start : start + len(rows)] = rows
    return out


class _ReadAhead:
    """Batches ``dataset[idx]`` read ``depth`` ahead, pinned, in a thread.

    For a GPU: reading rows and pinning them for the next batches overlap
    the device's work on this one (numpy, h5py and zarr reads and torch's
    copies release the GIL). The epoch's order is drawn from ``sampler``
    in the calling thread.
    """

    def __init__(self, dataset, sampler, depth=2, pin=True):
        self.dataset = dataset
        self.sampler = sampler
        self.depth = depth
        self.pin = pin

    def __len__(self):
        return len(self.sampler)

    def __iter__(self):
        batches = list(self.sampler)
        slots = queue.Queue(maxsize=self.depth)
        stop = threading.Event()

        def put(item):
            while not stop.is_set():
                try:
                    slots.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def read():
            try:
                for idx in batches:
                    batch = self.dataset[idx]
                    if self.pin:
                        batch = tuple(
                            t.pin_memory() if torch.is_tensor(t) else t for t in batch
                        )
                    if not put((batch, None)):
                        return
                put((None, None))
            except BaseException as exc:  # raised in the consumer
                put((None, exc))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            while True:
                batch, error = slots.get()
                if error is not None:
                    raise error
                if batch is None:
                    return
                yield batch
        finally:
            stop.set()
            reader.join()


def _permutation_rng(generator):
    """A generator seeded from ``generator`` (None: the global RNG), as
    ``RandomSampler`` seeds its own."""
    seed = int(torch.empty((), dtype=torch.int64).random_(generator=generator))
    return torch.Generator().manual_seed(seed)


def _discriminator_setter(net, param, value):
    """``optimizer_d__<key>=value`` sets ``key`` in D's parameter groups."""
    key = param[len("optimizer_d__") :]
    for group in net.optimizer_.param_groups:
        if group.get("player") == "discriminator":
            group[key] = value


class ALINet(NeuralNet):
    """skorch net training ALI's encoder, decoder and joint discriminator.

    Parameters
    ----------
    module : ALIModule
        The three networks (see ``sklearn_ali.networks``).
    n_components : int
        Latent size; the prior is N(0, I) in that many dimensions.
    reconstruction_weight : float
        Weight of the L1 cycle term ``|x - G_x(G_z(x))|`` (ALICE) in the
        encoder/decoder loss; 0 gives the paper's pure adversarial ALI.
    use_amp : bool
        bf16 autocast on CUDA.
    channels_last : bool
        channels_last memory format for conv networks on CUDA.
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
    """

    prefixes_ = [*NeuralNet.prefixes_, "optimizer_d"]
    # The diagnostics train_step_single returns, in order.
    batch_keys = BATCH_KEYS

    def __init__(
        self,
        module,
        *,
        n_components,
        reconstruction_weight=0.0,
        use_amp=False,
        channels_last=False,
        scaling=None,
        distributed=False,
        data_on_device="auto",
        **kwargs,
    ):
        kwargs.setdefault("optimizer", torch.optim.Adam)
        kwargs.setdefault("train_split", None)
        kwargs.setdefault("criterion", torch.nn.BCEWithLogitsLoss)
        super().__init__(module, **kwargs)
        self.n_components = n_components
        self.reconstruction_weight = reconstruction_weight
        self.use_amp = use_amp
        self.channels_last = channels_last
        self.scaling = scaling
        self.distributed = distributed
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
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("epoch_means", _EpochMeans()),
            ("divergence_guard", DivergenceGuard()),
            (
                "print_log",
                PrintLog(keys_ignored=["train_batch_count", "valid_batch_count"]),
            ),
        ]

    def initialize_module(self):
        super().initialize_module()
        if self.channels_last and str(self.device).startswith("cuda"):
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
        # skorch registers the optimizer__* setters; optimizer_d__* is ours.
        super()._initialize_optimizer(reason)
        self._register_virtual_param("optimizer_d__*", _discriminator_setter)
        return self

    def get_iterator(self, dataset, training=False):
        return self._batches(dataset, self._batch_sampler(dataset, training))

    def _batch_sampler(self, dataset, training):
        """Index lists of the batches of an epoch.

        drop_last in training: a trailing batch of one sample breaks batch
        norm. Held-out rows are scored whole on every rank (the same weights
        give the same valid_loss everywhere).
        """
        batch_size = min(self.batch_size, len(dataset))
        if training:
            return _RandomBatches(
                len(dataset), batch_size, self._batch_generator, self._shard
            )
        return BatchSampler(SequentialSampler(dataset), batch_size, False)

    def _batches(self, dataset, sampler):
        """The batches of ``dataset`` in ``sampler``'s order, each one read.

        Gathered on the device from a resident copy of the data (see
        ``data_on_device``), or read on the host (RowBatches: one read per
        batch): pinned and read ahead for a GPU.
        """
        resident = self._resident_data(dataset)
        if resident is not None:
            return _ResidentBatches(*resident, sampler)
        if str(self.device).startswith("cuda"):
            return _ReadAhead(dataset, sampler)
        return DataLoader(dataset, sampler=sampler, batch_size=None)

    def _resident_data(self, dataset):
        """(x, y, rows) on the device for ``dataset``, or None to read on the host.

        x and y are the whole of a RowBatches' data, copied to the device
        once a fit_loop in chunks of rows (a memmap is not copied whole on
        the host); rows maps a Subset's positions to x's.
        """
        base, rows = dataset, None
        if isinstance(dataset, torch.utils.data.Subset):
            base, rows = dataset.dataset, dataset.indices
        if not isinstance(base, RowBatches) or not self._keeps_on_device(base):
            return None
        cached = vars(self).get("_resident")
        if cached is None or cached[0] is not base:
            x = _copy_rows_to(base.X, self.device)
            if base.shape is not None:
                x = x.reshape(len(x), *base.shape)
            y = None if base.y is None else base.y.to(self.device)
            cached = vars(self)["_resident"] = (base, x, y)
        if rows is not None:
            rows = torch.as_tensor(rows, device=self.device)
        return cached[1], cached[2], rows

    def _keeps_on_device(self, dataset):
        if self.data_on_device != "auto":
            return bool(self.data_on_device)
        device = torch.device(self.device)
        X = dataset.X
        if device.type != "cuda" or not (
            isinstance(X, np.ndarray) or torch.is_tensor(X)
        ):
            return False
        nbytes = X.nbytes + (0 if dataset.y is None else dataset.y.nbytes)
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes <= free // 4

    # Single process: batch order from torch's global RNG and all of each
    # batch; data-parallel: set for each fit_loop (see _begin_data_parallel).
    _batch_generator = None
    _shard = (0, 1)
    _ddp = None

    # -- one batch --------------------------------------------------------

    def _prepare(self, batch):
        # Pinned host memory + non_blocking: the copy overlaps the previous step.
        x = self._scale(batch[0].to(self.device, non_blocking=True))
        if self.channels_last and x.dim() == 4 and x.is_cuda:
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

    def _prepare_targets(self, batch):
        # Targets of the subclasses' games: class indices or conditions.
        return batch[1].to(self.device, non_blocking=True)

    def _autocast(self, x):
        return torch.autocast(
            "cuda", torch.bfloat16, enabled=self.use_amp and x.is_cuda
        )

    def game_losses(self, batch):
        """``(d_loss, g_loss, diagnostics)`` of one batch: the game played.

        The one step a subclass with another objective overrides.
        """
        x = self._prepare(batch)
        z_prior = torch.randn(len(x), self.n_components, device=x.device)
        return self.play(ali_losses, x, z_prior)

    def play(self, objective, x, *batch_tensors):
        """``objective(encoder, decoder, discriminator, x, *batch_tensors, ...)``.

        Calls one of :mod:`sklearn_ali.objectives` (or a function with their
        signature) on this net's networks, criterion and cycle weight, under
        bf16 autocast on CUDA when ``use_amp``.
        """
        # Data-parallel, through DDP's wrapper, which prepares the gradients'
        # all-reduce; otherwise straight on the networks.
        game = self._ddp or partial(_distributed.play, self.module_)
        with self._autocast(x):
            return game(
                objective,
                x,
                *batch_tensors,
                criterion=self.criterion_,
                reconstruction_weight=self.reconstruction_weight,
            )

    def train_step_single(self, batch, **fit_params):
        """Each player's gradient of its own loss, from one forward pass.

        skorch's ``train_step`` has zeroed the gradients and, after this,
        notifies ``on_grad_computed`` and steps the optimizer.
        """
        self._set_training(True)
        d_loss, g_loss, diagnostics = self.game_losses(batch)
        # inputs= confines each loss's gradient to its own player.
        d_params, g_params = self._player_params()
        d_loss.backward(inputs=d_params, retain_graph=True)
        g_loss.backward(inputs=g_params)
        return {
            "loss": d_loss.detach() + g_loss.detach(),
            "y_pred": None,
            "diagnostics": diagnostics,
        }

    def _player_params(self):
        """(discriminator, generators) parameters, as the optimizer groups them."""
        players = {"discriminator": [], "generators": []}
        for group in self.optimizer_.param_groups:
            players[group["player"]] += group["params"]
        return players["discriminator"], players["generators"]

    def validation_step(self, batch, **fit_params):
        """Reconstruction error of held-out rows through mu: the valid_loss.

        It measures how much of x the latent mean carries, which is what the
        features are for (see the user guide for its relation to feature
        quality); the adversarial losses say who is winning, not how well.
        """
        self._set_training(False)
        x = self._prepare(batch)
        with torch.no_grad(), self._autocast(x):
            mu = self.module_.encoder.mean(x)
            loss = reconstruction_error(self.module_.decoder(mu), x)
        return {"loss": loss, "y_pred": mu.float()}

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


# -- semi-supervised training (ALIClassifier) --------------------------------


def _targets_of(dataset):
    """The (n,) target tensor of a RowBatches or a Subset of one."""
    if isinstance(dataset, torch.utils.data.Subset):
        return _targets_of(dataset.dataset)[torch.as_tensor(dataset.indices)]
    return dataset.y


class LabelledHoldOut:
    """skorch ``train_split``: hold out a fraction of the *labelled* rows.

    Unlabelled rows all stay in training, where they are the whole point of
    a semi-supervised fit; ``ceil(fraction * n_labelled)`` labelled rows,
    drawn with ``random_state``, form the validation set.
    """

    def __init__(self, fraction, random_state=None):
        self.fraction = fraction
        self.random_state = random_state

    def __call__(self, dataset, y=None, **fit_params):
        targets = _targets_of(dataset)
        labelled = torch.nonzero(targets >= 0).flatten().numpy()
        n_valid = math.ceil(self.fraction * len(labelled))
        if n_valid == 0 or n_valid == len(labelled):
            raise ValueError(
                f"validation_fraction={self.fraction} of {len(labelled)} "
                "labelled rows leaves "
                + ("no row to validate on" if n_valid == 0 else "none for training")
                + "."
            )
        rng = np.random.RandomState(self.random_state)
        valid = np.sort(rng.choice(labelled, n_valid, replace=False))
        train = np.setdiff1d(np.arange(len(targets)), valid)
        return (
            torch.utils.data.Subset(dataset, train.tolist()),
            torch.utils.data.Subset(dataset, valid.tolist()),
        )


class _LabelledBatchSampler(torch.utils.data.Sampler):
    """Random pool batches, each followed by ``n_extra`` labelled rows.

    Pool batches are as :class:`_RandomBatches` makes them. The extra rows
    run through random permutations of the labelled rows one after another,
    so each is seen equally often. With ``shard=(rank, world)``, rank gets
    its equal share of the pool rows and of the extra rows.
    """

    def __init__(
        self, n_samples, labelled, batch_size, n_extra, generator=None, shard=(0, 1)
    ):
        self.n_samples = n_samples
        self.labelled = labelled
        self.batch_size = batch_size
        self.n_extra = n_extra
        self.generator = generator
        self.shard = shard

    def __len__(self):
        return self.n_samples // self.batch_size

    def __iter__(self):
        order = torch.randperm(self.n_samples, generator=self.generator).tolist()
        rank, world = self.shard
        pool, extras = self.batch_size // world, self.n_extra // world
        stream = []
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            while len(stream) < self.n_extra:
                perm = torch.randperm(len(self.labelled), generator=self.generator)
                stream += self.labelled[perm].tolist()
            extra, stream = stream[: self.n_extra], stream[self.n_extra :]
            yield (
                order[start + rank * pool : start + (rank + 1) * pool]
                + extra[rank * extras : (rank + 1) * extras]
            )


class SemiSupervisedNet(ALINet):
    """skorch net training ALI with labels in D (``ALIClassifier``).

    The dataset's targets are class indices, -1 for unlabelled rows. When
    fewer than half the training rows are labelled, each training batch of
    ``batch_size`` pool rows is followed by ``batch_size // 2`` labelled
    rows, drawn in turn from random permutations of the labelled rows, that
    enter only the class loss (as Salimans et al. draw a labelled batch per
    step): with 100 labels among thousands of rows, most pool batches would
    otherwise hold a handful of labelled rows or none.

    The objective is :func:`sklearn_ali.objectives.semi_supervised_losses`;
    ``valid_loss`` is the cross-entropy of the K real-class logits
    D(x, mu(x)) of held-out labelled rows (see :class:`LabelledHoldOut`).
    """

    batch_keys = SEMI_SUPERVISED_DIAGNOSTICS

    def _batch_sampler(self, dataset, training):
        if not training:
            return super()._batch_sampler(dataset, training)
        targets = _targets_of(dataset)
        labelled = torch.nonzero(targets >= 0).flatten()
        batch_size = min(self.batch_size, len(dataset))
        n_extra = batch_size // 2 if 2 * len(labelled) < len(dataset) else 0
        if len(labelled) == 0:
            n_extra = 0  # a warm-start epoch on unlabelled rows only
        # The objective tells pool rows from extras by this count.
        self.pool_batch_size_ = batch_size // self._shard[1]
        return _LabelledBatchSampler(
            len(dataset),
            labelled,
            batch_size,
            n_extra,
            generator=self._batch_generator,
            shard=self._shard,
        )

    def game_losses(self, batch):
        x, y = self._prepare(batch), self._prepare_targets(batch)
        # Pool rows come first; a batch not made by get_iterator is all pool.
        n_pool = min(getattr(self, "pool_batch_size_", len(x)), len(x))
        z_prior = torch.randn(n_pool, self.n_components, device=x.device)
        return self.play(semi_supervised_losses, x, y, z_prior)

    def validation_step(self, batch, **fit_params):
        """Cross-entropy of held-out labelled rows: the valid_loss."""
        self._set_training(False)
        x, y = self._prepare(batch), self._prepare_targets(batch)
        with torch.no_grad(), self._autocast(x):
            logits = class_logits(self.module_, x).float()  # (n, K)
            loss = torch.nn.functional.cross_entropy(logits, y)
        return {"loss": loss, "y_pred": logits}


def class_logits(module, x):
    """The K real-class logits of D(x, mu(x)), shape (n, K)."""
    return module.discriminator(x, module.encoder.mean(x))[:, :-1]


class ConditionalNet(ALINet):
    """skorch net training conditional ALI (``ConditionalALI``).

    The dataset's targets are the condition vectors (one-hot classes or
    attributes), shape (n, n_conditions). The objective is
    :func:`sklearn_ali.objectives.conditional_losses`; ``valid_loss`` is the
    reconstruction error of held-out rows, x against G_x(mu(x, y), y).
    """

    def game_losses(self, batch):
        x, y = self._prepare(batch), self._prepare_targets(batch)
        z_prior = torch.randn(len(x), self.n_components, device=x.device)
        return self.play(conditional_losses, x, y, z_prior)

    def validation_step(self, batch, **fit_params):
        """Reconstruction error of held-out rows given their conditions."""
        self._set_training(False)
        x, y = self._prepare(batch), self._prepare_targets(batch)
        with torch.no_grad(), self._autocast(x):
            mu = self.module_.encoder.mean(x, y)
            loss = reconstruction_error(self.module_.decoder(mu, y), x)
        return {"loss": loss, "y_pred": mu.float()}
