"""How much of the CPU a default fit uses: images/s against matmul peak.

For each torch thread count asked for, in one process:

- the machine's matmul peak in the fit's arithmetic (bfloat16 where the
  fit trains under bfloat16 autocast, see ``precision``; else float32),
  GFLOP/s of a 2048 x 2048 x 2048 ``torch.mm`` (the best of several
  back-to-back calls, measured just before each fit, because a shared
  machine's clock moves);
- a default ``ALITransformer`` fit (its architecture, width, batch size and
  game as the estimator chooses them), timed from the end of its first epoch
  to the end of its last (``speed.EpochClock``), in images/s;
- the FLOPs of one training step (forward, both players' backward passes),
  counted by ``torch.utils.flop_counter.FlopCounterMode`` on the second batch
  of the fit, per image;
- the share of peak: images/s x FLOPs per image / peak.

The data are random pixels of MNIST's shape (1x28x28) or random rows for the
MLP: speed does not depend on content. ``--set NAME=VALUE ...`` passes estimator
parameters (e.g. ``architecture=\"mlp\"``). ``--compile`` compiles the
forward pass of each network (encoder, decoder, discriminator) with
``torch.compile`` at the start of each fit; the compilation falls in the
untimed first epoch, and the script prints how long that epoch took.

Usage::

    python benchmarks/throughput.py                 # 4,000 images, 1 and 2 threads
    python benchmarks/throughput.py --threads 2 --repeats 5
    python benchmarks/throughput.py --threads 2 --compile
    python benchmarks/throughput.py --quick         # smoke run, seconds
"""

import argparse
import statistics
import time

import numpy as np
import torch
from semi_supervised import add_set_option, machine_line
from skorch.callbacks import Callback
from speed import EpochClock
from torch.utils.flop_counter import FlopCounterMode

from sklearn_ali import ALITransformer
from sklearn_ali._devices import autocast_bfloat16


class StepFlops(Callback):
    """Counts the FLOPs of the second training batch (the first warms up)."""

    def on_train_begin(self, net, **kwargs):
        self.batches_, self.flops_, self._counter = 0, None, None

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        self.batches_ += training
        if training and self.batches_ == 2:
            self._counter = FlopCounterMode(display=False)
            self._counter.__enter__()
            self.images_ = len(batch[0])

    def on_batch_end(self, net, training=False, **kwargs):
        if self._counter is not None:
            self._counter.__exit__(None, None, None)
            self.flops_ = self._counter.get_total_flops() / self.images_
            self._counter = None


class CompileNetworks(Callback):
    """``torch.compile`` of each network's forward, in place, as a fit begins."""

    def on_train_begin(self, net, **kwargs):
        # The discriminator's loss backpropagates with retain_graph=True (the
        # generators' loss reuses the graph), which donated buffers forbid.
        torch._functorch.config.donated_buffer = False
        module = net.module_
        for network in (module.encoder, module.decoder, module.discriminator):
            network.compile()


def matmul_peak(n=2048, calls=8, dtype=torch.float32):
    """GFLOP/s of the best of ``calls`` n x n x n products in ``dtype``."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(calls):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def timed_fit(X, epochs, seed, params, compile=False):
    """``(images/s, FLOPs/image, first epoch s, fitted estimator)``."""
    callbacks = [("epoch_clock", EpochClock()), ("step_flops", StepFlops())]
    if compile:
        callbacks.append(("compile", CompileNetworks()))
    ali = ALITransformer(
        max_epochs=1 + epochs,
        device="cpu",
        callbacks=callbacks,
        random_state=seed,
        **params,
    )
    start = time.perf_counter()
    ali.fit(X)
    callbacks = dict(ali.net_.callbacks_)
    ends = callbacks["epoch_clock"].ends_
    batch = min(ali.batch_size, len(X))
    images = epochs * (len(X) // batch) * batch
    rate = images / (ends[-1] - ends[0])
    first = ends[0] - start  # set-up and the first epoch
    return rate, callbacks["step_flops"].flops_, first, ali


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    add_set_option(parser)
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile each network's forward at the start of the fit",
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n_images, args.epochs, args.repeats = 300, 1, 1
    params = dict(args.params)
    # The peak in the arithmetic the fit's products run in.
    rng = np.random.default_rng(args.seed)
    if params.get("architecture") == "mlp":
        X = rng.random((args.n_images, 784), dtype=np.float32)
    else:
        X = rng.integers(0, 256, (args.n_images, 1, 28, 28), dtype=np.uint8)
    bf16 = autocast_bfloat16(params.get("precision", "auto"), "cpu", images=X.ndim == 4)
    dtype = torch.bfloat16 if bf16 else torch.float32

    print(machine_line())
    print(
        f"# default ALITransformer fit, {args.n_images} x {X.shape[1:]} random "
        f"inputs, {args.epochs} timed epochs, median of {args.repeats}; "
        f"parameters {params or 'defaults'}; products in {dtype}"
        + ("; networks compiled (torch.compile)" if args.compile else "")
    )
    header = (
        f"{'threads':>7}{'images/s':>10}{'MFLOP/image':>13}"
        f"{'GFLOP/s':>9}{'peak GFLOP/s':>14}{'share':>7}{'first epoch s':>15}"
    )
    print(header)
    threads_before = torch.get_num_threads()
    try:
        for threads in args.threads:
            torch.set_num_threads(threads)
            rates, shares, peaks, firsts, flops = [], [], [], [], None
            for r in range(args.repeats):
                peak = matmul_peak(dtype=dtype)
                rate, flops, first, ali = timed_fit(
                    X, args.epochs, args.seed + r, params, compile=args.compile
                )
                firsts.append(first)
                rates.append(rate)
                peaks.append(peak)
                shares.append(rate * flops / 1e9 / peak)
            rate, peak = statistics.median(rates), statistics.median(peaks)
            print(
                f"{threads:>7}{rate:>10.0f}{flops / 1e6:>13.1f}"
                f"{rate * flops / 1e9:>9.1f}{peak:>14.1f}"
                f"{statistics.median(shares):>7.2f}"
                f"{statistics.median(firsts):>15.1f}",
                flush=True,
            )
    finally:
        torch.set_num_threads(threads_before)
    print(
        f"# architecture {ali.architecture_}, batch {ali.batch_size}; share: "
        "median over repeats of images/s x FLOPs/image / the peak (matmul in "
        "the fit's arithmetic) measured just before that fit"
    )


if __name__ == "__main__":
    main()
