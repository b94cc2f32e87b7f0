"""ALI's adversarial training, as a skorch ``NeuralNet``.

skorch runs the loop (epochs, callbacks, history, progress bar, devices);
this module supplies what is specific to ALI: three modules and two
optimizers, the simultaneous discriminator/generator step, and a guard that
stops training on a non-finite loss and restores the last good weights.
"""

import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PrintLog
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

# Per-batch quantities recorded in the history, in the order train_step stacks them.
BATCH_KEYS = ("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "recon_loss")
_MODULES = ("encoder", "decoder", "discriminator")


class TrainingDivergedError(RuntimeError):
    """Raised when ALI's losses become NaN or infinite during ``fit``."""


class TensorBatches(torch.utils.data.Dataset):
    """A dataset indexed by *lists* of rows, so one batch is one tensor gather.

    Per-sample ``__getitem__`` plus collation costs more than a small network's
    forward pass on the CPU; gathering whole batches keeps skorch's loop as fast
    as a hand-written one.
    """

    def __init__(self, X):
        self.X = X

    def __len__(self):
        return len(self.X)

    def __getitem__(self, idx):
        return self.X[idx]


class _EpochMeans(Callback):
    """Records each epoch's batch-size-weighted mean of every batch quantity."""

    def on_epoch_end(self, net, **kwargs):
        batches = net.history[-1, "batches"]
        sizes = [b["train_batch_size"] for b in batches]
        for key in BATCH_KEYS:
            if batches and key in batches[0]:
                total = sum(b[key] * n for b, n in zip(batches, sizes))
                net.history.record(key, total / sum(sizes))


class DivergenceGuard(Callback):
    """Stops training on a non-finite loss and restores the last good weights.

    A snapshot is taken at the start and after every epoch whose losses are
    finite, so the restored weights are those of the last finite epoch.
    """

    def on_train_begin(self, net, **kwargs):
        self._snapshot(net)

    def on_train_end(self, net, **kwargs):
        # The copies served only during training; a pickled model need not
        # carry them.
        self.snapshot_ = None

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if all(math.isfinite(row.get(key, 0.0)) for key in ("d_loss", "g_loss")):
            self._snapshot(net)
            return
        for name, state in self.snapshot_.items():
            getattr(net, name).load_state_dict(state)
        self.snapshot_ = None
        kept = f"after epoch {self.epoch_}" if self.epoch_ else "of initialisation"
        raise TrainingDivergedError(
            f"ALI training diverged: non-finite loss at epoch {row['epoch']} "
            f"(d_loss={row.get('d_loss')}, g_loss={row.get('g_loss')}). The "
            f"weights {kept}, the last finite ones, were restored. Try a "
            "smaller learning_rate, or keep spectral_norm=True."
        )

    def _snapshot(self, net):
        self.epoch_ = net.history[-1]["epoch"] if len(net.history) else 0
        # Kept on the CPU: GPU memory is scarcer, and CUDA tensors here would
        # not be mapped to the CPU when a model is unpickled without CUDA.
        self.snapshot_ = {
            name: {
                k: v.detach().to("cpu", copy=True)
                for k, v in getattr(net, name).state_dict().items()
            }
            for name in (m + "_" for m in _MODULES)
        }


class ALINet(NeuralNet):
    """skorch net training ALI's encoder, decoder and joint discriminator.

    The encoder and decoder share one optimizer (``optimizer_``), the
    discriminator has its own (``optimizer_d_``). Both are updated
    simultaneously from the same batch, as in the authors' code.

    Parameters
    ----------
    encoder, decoder, discriminator : torch.nn.Module
        The three networks (see ``sklearn_ali._networks``).
    n_components : int
        Latent size; the prior is N(0, I) in that many dimensions.
    lr_d : float
        Discriminator learning rate (``lr`` is the generators').
    betas : tuple of float
        Adam's betas for both optimizers.
    reconstruction_weight : float
        Weight of the L1 cycle term ``|x - G_x(G_z(x))|`` (ALICE) in the
        encoder/decoder loss; 0 gives the paper's pure adversarial ALI.
    use_amp : bool
        bf16 autocast on CUDA.
    channels_last : bool
        channels_last memory format for conv networks on CUDA.
    **kwargs
        Any other :class:`skorch.NeuralNet` argument (``lr``, ``max_epochs``,
        ``batch_size``, ``callbacks``, ``device``, ...).
    """

    def __init__(
        self,
        encoder,
        decoder,
        discriminator,
        *,
        n_components,
        lr_d=None,
        betas=(0.5, 0.999),
        reconstruction_weight=0.0,
        use_amp=False,
        channels_last=False,
        **kwargs,
    ):
        # skorch accepts torch modules as plain attributes only before its
        # own __init__ has run.
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator
        kwargs.setdefault("optimizer", torch.optim.Adam)
        kwargs.setdefault("train_split", None)
        super().__init__(module=None, criterion=torch.nn.BCEWithLogitsLoss, **kwargs)
        self.n_components = n_components
        self.lr_d = lr_d
        self.betas = betas
        self.reconstruction_weight = reconstruction_weight
        self.use_amp = use_amp
        self.channels_last = channels_last

    # -- pickling ----------------------------------------------------------

    def __getstate__(self):
        state = super().__getstate__()
        # The init arguments are the very modules held in encoder_ etc.;
        # pickled again they would double the file and escape skorch's
        # mapping of CUDA tensors to the CPU on machines without CUDA.
        for name in _MODULES:
            state[name] = None
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        for name in _MODULES:
            if self.__dict__.get(name) is None and name + "_" in self.__dict__:
                self.__dict__[name] = self.__dict__[name + "_"]

    # -- skorch set-up ---------------------------------------------------

    def get_default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("epoch_means", _EpochMeans()),
            ("divergence_guard", DivergenceGuard()),
            ("print_log", PrintLog(keys_ignored=["train_batch_count"])),
        ]

    def initialize_module(self):
        self.encoder_ = self.encoder
        self.decoder_ = self.decoder
        self.discriminator_ = self.discriminator
        if self.channels_last and str(self.device).startswith("cuda"):
            for net in (self.encoder_, self.decoder_, self.discriminator_):
                net.to(memory_format=torch.channels_last)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        generators = [*self.encoder_.parameters(), *self.decoder_.parameters()]
        self.optimizer_ = self.optimizer(generators, lr=self.lr, betas=self.betas)
        lr_d = self.lr if self.lr_d is None else self.lr_d
        self.optimizer_d_ = self.optimizer(
            self.discriminator_.parameters(), lr=lr_d, betas=self.betas
        )
        return self

    def get_iterator(self, dataset, training=False):
        batch_size = min(self.batch_size, len(dataset))
        # drop_last: a trailing batch of one sample breaks batch norm.
        sampler = BatchSampler(
            RandomSampler(dataset) if training else SequentialSampler(dataset),
            batch_size,
            drop_last=training,
        )
        return DataLoader(
            dataset,
            sampler=sampler,
            batch_size=None,
            pin_memory=str(self.device).startswith("cuda"),
        )

    # -- the adversarial step -------------------------------------------

    def _prepare(self, batch):
        # Pinned host memory + non_blocking: the copy overlaps the previous step.
        x = batch.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4 and x.is_cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _autocast(self, x):
        return torch.autocast(
            "cuda", torch.bfloat16, enabled=self.use_amp and x.is_cuda
        )

    def compute_losses(self, x):
        """Both players' losses for one batch, and the batch diagnostics.

        Non-saturating ALI losses on D's logits: D minimises
        softplus(-d_q) + softplus(d_p), encoder and decoder minimise
        softplus(d_q) + softplus(-d_p). Real and generated pairs go through D
        as one batch.
        """
        n = len(x)
        z_p = torch.randn(n, self.n_components, device=x.device)
        with self._autocast(x):
            z_q, _ = self.encoder_.sample(x)
            x_p = self.decoder_(z_p)
            logits = self.discriminator_(torch.cat([x, x_p]), torch.cat([z_q, z_p]))
            d_q, d_p = logits.float().split([n, n])
            ones, zeros = torch.ones_like(d_q), torch.zeros_like(d_q)
            d_loss = self.criterion_(d_q, ones) + self.criterion_(d_p, zeros)
            g_loss = self.criterion_(d_q, zeros) + self.criterion_(d_p, ones)
            recon = torch.zeros((), device=x.device)
            if self.reconstruction_weight > 0:
                recon = (self.decoder_(z_q).float() - x).abs().mean()
                g_loss = g_loss + self.reconstruction_weight * recon
        metrics = torch.stack(
            [
                d_loss.detach(),
                g_loss.detach(),
                (d_q > 0).float().mean(),
                (d_p < 0).float().mean(),
                recon.detach(),
            ]
        )
        return d_loss, g_loss, metrics

    def train_step(self, batch, **fit_params):
        self._set_training(True)
        x = self._prepare(batch)
        d_loss, g_loss, metrics = self.compute_losses(x)
        d_params = list(self.discriminator_.parameters())
        g_params = [
            p for group in self.optimizer_.param_groups for p in group["params"]
        ]
        # Gradients of each player's loss w.r.t. its own parameters only:
        # one forward pass serves both updates.
        d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, g_params, allow_unused=True)
        for params, grads in ((d_params, d_grads), (g_params, g_grads)):
            for p, g in zip(params, grads):
                p.grad = g
        self.optimizer_d_.step()
        self.optimizer_.step()
        return {
            "loss": d_loss.detach() + g_loss.detach(),
            "y_pred": None,
            "metrics": metrics,
        }

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        metrics, sizes = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            metrics.append(step["metrics"])
            sizes.append(len(batch))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        # One device-to-host copy per epoch: a per-batch .item() would stall
        # the GPU pipeline after every step.
        values = torch.stack(metrics).cpu().tolist() if metrics else []
        for row, vals, n in zip(self.history[-1, "batches"], values, sizes):
            row.update(zip(BATCH_KEYS, vals))
            row[prefix + "_batch_size"] = n
        self.history.record(prefix + "_batch_count", len(values))
