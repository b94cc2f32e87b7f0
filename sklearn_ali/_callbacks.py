"""ALINet's callbacks: epoch means, the divergence guard, the logs, the decay.

skorch callbacks, as skorch users write them: ``EpochMeans`` records each
epoch's mean of every diagnostic of the game, ``DivergenceGuard`` stops a fit
whose losses or weights stop being finite and restores the last finite
state, ``FitProgressBar`` is ``verbose=1``'s one bar over the whole fit and
``EpochTable`` ``verbose=2``'s table, coloured on a terminal only.
``LinearDecay`` is ``learning_rate_schedule="linear"``: skorch's
``LRScheduler`` with a ``LambdaLR`` sized to the fit. ``CycleWeightSchedule``
is ``reconstruction_weight_end``: the cycle term's weight moved linearly over
the fit.
"""

import math
import os
import re
import sys

import torch
from skorch.callbacks import Callback, LRScheduler, PrintLog
from torch.optim.lr_scheduler import LambdaLR

from .objectives import LOSS_DIAGNOSTICS, PLAYER_LOSSES


class TrainingDivergedError(RuntimeError):
    """Raised when ALI's losses or weights become NaN or infinite during ``fit``."""


class EpochMeans(Callback):
    """Records each epoch's batch-size-weighted mean of every batch quantity."""

    def on_epoch_end(self, net, **kwargs):
        batches = [b for b in net.history[-1, "batches"] if "train_batch_size" in b]
        sizes = [b["train_batch_size"] for b in batches]
        for key in net.batch_keys:
            if batches and key in batches[0]:
                total = sum(b[key] * n for b, n in zip(batches, sizes))
                net.history.record(key, total / sum(sizes))


def _all_finite(tensors):
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


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
        losses_finite = all(math.isfinite(row.get(key, 0.0)) for key in PLAYER_LOSSES)
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
            f"({', '.join(f'{key}={row.get(key)}' for key in PLAYER_LOSSES)}). The "
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

    def __init__(self, keys=(*LOSS_DIAGNOSTICS, "valid_loss")):
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


# An ANSI SGR sequence, as skorch's PrintLog writes around a best value.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class EpochTable(PrintLog):
    """skorch's ``PrintLog`` (the table of ``verbose=2``), without colour
    codes where they would show as text.

    skorch marks a new best value of a loss with ANSI colours; written to a
    file, a pipe or a notebook's captured output they become ``ESC[36m``
    noise. The colours stay when standard output is a terminal and the
    ``NO_COLOR`` convention (https://no-color.org) is not set.
    """

    def __init__(self, keys_ignored=("train_batch_count", "valid_batch_count"), **kw):
        super().__init__(keys_ignored=list(keys_ignored), **kw)

    def format_row(self, row, key, color):
        formatted = super().format_row(row, key, color)
        if isinstance(formatted, str) and not _colour_terminal():
            formatted = _ANSI.sub("", formatted)
        return formatted


def _colour_terminal():
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


class _LinearToZero:
    """LambdaLR's factor: 1 at a fit's first batch, falling to 0 after its last.

    A class, not a closure, so that a fitted model (which keeps its
    callbacks) pickles.
    """

    def __init__(self, total_steps=1):
        self.total_steps = total_steps

    def __call__(self, step):
        return max(0.0, 1.0 - step / self.total_steps)


class LinearDecay(LRScheduler):
    """Every player's learning rate falls linearly to 0 over a fit, per batch.

    skorch's ``LRScheduler`` with ``LambdaLR``, stepped after every training
    batch. Its length is the fit's planned epochs times the training
    batches of an epoch, known only once the split is made, so the
    scheduler is built at the first epoch rather than at ``on_train_begin``.
    Each fit decays from the rates the estimator has just set, so a warm
    start decays again over its own epochs instead of resuming at 0; a
    ``partial_fit`` pass, which has no planned end, keeps them.
    """

    def __init__(self):
        super().__init__(
            policy=LambdaLR,
            lr_lambda=_LinearToZero(),
            step_every="batch",
            event_name=None,
        )

    def on_train_begin(self, net, **kwargs):
        self.lr_scheduler_ = None
        self.batch_idx_ = 0

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self.lr_scheduler_ is not None or net.one_pass_:
            return
        steps = net.epochs_planned_ * net.n_train_batches(dataset_train)
        self.lr_lambda.total_steps = max(1, steps)
        for group in net.optimizer_.param_groups:
            group["initial_lr"] = group["lr"]  # LambdaLR's base: this fit's rate
        self.lr_scheduler_ = LambdaLR(net.optimizer_, self.lr_lambda)

    def on_batch_end(self, net, training=False, **kwargs):
        if self.lr_scheduler_ is not None:
            super().on_batch_end(net, training=training, **kwargs)


class CycleWeightSchedule(Callback):
    """The cycle term's weight moved linearly over a fit, set at each epoch.

    From the weight the estimator gives the game (``reconstruction_weight``)
    at a fit's first epoch to ``end`` at its last planned one. Each fit
    starts again from the estimator's weight, so a warm start moves over its
    own epochs; a ``partial_fit`` pass, which has no planned end, keeps the
    weight. The net's option is given back at the end, so that a fitted
    model's game options are the estimator's.
    """

    def __init__(self, end):
        self.end = end

    def on_train_begin(self, net, **kwargs):
        self.start_ = net.game_options["reconstruction_weight"]
        self.epoch_ = 0

    def on_epoch_begin(self, net, **kwargs):
        if net.one_pass_:
            return
        share = self.epoch_ / max(net.epochs_planned_ - 1, 1)
        self.epoch_ += 1
        weight = self.start_ + (self.end - self.start_) * min(share, 1.0)
        net.set_params(game__reconstruction_weight=weight)

    def on_train_end(self, net, **kwargs):
        net.set_params(game__reconstruction_weight=self.start_)
