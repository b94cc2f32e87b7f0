"""How training and validation batches are drawn and read.

A dataset (:class:`RowBatches`) is indexed by whole batches; samplers
(:class:`RandomBatches`, :class:`LabelledBatches`) give an epoch's index
lists, each rank its share under data-parallel training; the batches are
read on the host (a DataLoader, or :class:`ReadAhead` for a GPU) or gathered
on the device from a resident copy of the data (:class:`ResidentBatches`).
:class:`LabelledHoldOut` is the semi-supervised game's validation split,
and :class:`NetBatchesMixin` is the part of ALINet that puts these together.
"""

import math
import queue
import threading

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from ._scaling import read_rows, to_torch_rows


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


class RandomBatches(torch.utils.data.Sampler):
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
        rng = permutation_rng(self.generator)
        order = torch.randperm(self.n_samples, generator=rng).tolist()
        rank, world = self.shard
        share = self.batch_size // world
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start + rank * share : start + (rank + 1) * share]


class ResidentBatches:
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


def copy_rows_to(X, device, chunk=4096):
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


class ReadAhead:
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


def permutation_rng(generator):
    """A generator seeded from ``generator`` (None: the global RNG), as
    ``RandomSampler`` seeds its own."""
    seed = int(torch.empty((), dtype=torch.int64).random_(generator=generator))
    return torch.Generator().manual_seed(seed)


def targets_of(dataset):
    """The (n,) target tensor of a RowBatches or a Subset of one."""
    if isinstance(dataset, torch.utils.data.Subset):
        return targets_of(dataset.dataset)[torch.as_tensor(dataset.indices)]
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
        targets = targets_of(dataset)
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


class LabelledBatches(torch.utils.data.Sampler):
    """Random pool batches, each followed by ``n_extra`` labelled rows.

    Pool batches are as :class:`RandomBatches` makes them. The extra rows
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

    @property
    def n_prior(self):
        """Pool rows of this rank's batches, which come first in each."""
        return self.batch_size // self.shard[1]

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


def random_batches(dataset, batch_size, generator=None, shard=(0, 1)):
    """The default training sampler: a :class:`RandomBatches` over ``dataset``."""
    return RandomBatches(len(dataset), batch_size, generator, shard)


def labelled_batches(dataset, batch_size, generator=None, shard=(0, 1)):
    """The semi-supervised game's training sampler (a :class:`LabelledBatches`).

    When fewer than half the training rows are labelled, each batch of
    ``batch_size`` pool rows is followed by ``batch_size // 2`` labelled rows,
    drawn in turn from random permutations of the labelled rows, that enter
    only the class loss (as Salimans et al. draw a labelled batch per step):
    with 100 labels among thousands of rows, most pool batches would
    otherwise hold a handful of labelled rows or none.
    """
    labelled = torch.nonzero(targets_of(dataset) >= 0).flatten()
    n_extra = batch_size // 2 if 2 * len(labelled) < len(dataset) else 0
    if len(labelled) == 0:
        n_extra = 0  # a warm-start epoch on unlabelled rows only
    return LabelledBatches(
        len(dataset), labelled, batch_size, n_extra, generator=generator, shard=shard
    )


class WithPrior:
    """Batches of ``batches`` with ``n_prior`` appended: ``(x, y, n_prior)``.

    The game pairs the first ``n_prior`` rows of a batch with prior draws;
    the rows after them are extras (see :class:`LabelledBatches`).
    """

    def __init__(self, batches, n_prior):
        self.batches = batches
        self.n_prior = n_prior

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            yield (*batch, self.n_prior)


class NetBatchesMixin:
    """ALINet's data path: an epoch's batches, drawn by the game's sampler and
    read whole, on the host or from a copy of the data on the device."""

    def get_iterator(self, dataset, training=False):
        # Replaced, not extended: skorch's builds a DataLoader per epoch that
        # collates rows one by one; here an epoch's batches come from the
        # game's sampler and are read whole (see _batches). The
        # iterator_train__*/iterator_valid__* settings that skorch's version
        # would pass to the DataLoader are refused, not silently dropped.
        ignored = sorted(
            key
            for key in vars(self)
            if key.startswith(("iterator_train__", "iterator_valid__"))
        )
        if ignored:
            raise ValueError(
                f"ALINet draws and reads its batches itself, so {ignored} would "
                "have no effect: batch_size sets the batch size, and the order "
                "of training batches is the game's (seeded by random_state)."
            )
        sampler = self._batch_sampler(dataset, training)
        batches = self._batches(dataset, sampler)
        n_prior = getattr(sampler, "n_prior", None)
        return batches if n_prior is None else WithPrior(batches, n_prior)

    def n_train_batches(self, dataset):
        """The training steps of an epoch over ``dataset`` on this rank."""
        return len(self._batch_sampler(dataset, training=True))

    def _batch_sampler(self, dataset, training):
        """Index lists of the batches of an epoch.

        drop_last in training: a trailing batch of one sample breaks batch
        norm. Held-out rows are scored whole on every rank (the same weights
        give the same valid_loss everywhere).
        """
        batch_size = min(self.batch_size, len(dataset))
        if training:
            make = self.game.sampler or random_batches
            return make(dataset, batch_size, self._batch_generator, self._shard)
        return BatchSampler(SequentialSampler(dataset), batch_size, False)

    def _batches(self, dataset, sampler):
        """The batches of ``dataset`` in ``sampler``'s order, each one read.

        Gathered on the device from a resident copy of the data (see
        ``data_on_device``), or read on the host (RowBatches: one read per
        batch): pinned and read ahead for a GPU.
        """
        resident = self._resident_data(dataset)
        if resident is not None:
            return ResidentBatches(*resident, sampler)
        if str(self.device).startswith("cuda"):
            return ReadAhead(dataset, sampler)
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
            x = copy_rows_to(base.X, self.device)
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
