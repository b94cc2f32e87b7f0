"""Overhead of ALITransformer over bare PyTorch: fit and transform speed, memory.

Everything runs in one process on the CPU (``device="cpu"``), side by side:

(a) ``fit`` throughput (images/s) of ALITransformer versus a hand-written
    PyTorch loop that trains the very same modules: after the estimator's fit,
    ``fresh_networks`` builds a fresh, identically shaped set
    (new initial weights). The loop uses the data already scaled as ``fit``
    scales it (a float32 tensor, ``network_input``; ``fit`` itself reads
    raw rows and scales each batch on the device), a random permutation
    per epoch, the same batch size with the last incomplete batch dropped, the
    same epochs, and the same step: reparametrised encoder sample, decoder on
    prior noise, the joint discriminator on the concatenated real/fake batch,
    non-saturating BCE-with-logits losses, the L1 reconstruction term with
    ``reconstruction_weight``, ``autograd.grad`` for each player and two Adam
    steps. (Drawing the batch order from the global RNG the way skorch's
    DataLoader does, this loop reproduces the estimator's weights bit for bit;
    checked with torch 2.13 and skorch 1.4.) The first (warm-up) epoch is
    excluded from both; the estimator's time runs from the end of its first
    epoch to the end of its last (as seen by a callback that runs after
    skorch's own), so it includes skorch's per-batch and per-epoch bookkeeping
    and callbacks, but not the one-off validation, scaling and network
    construction. Runs alternate between the two and are repeated; medians are
    reported. Two models: the conv architecture on MNIST-sized 28x28 images
    (random pixels: speed does not depend on content) and the MLP on 64-feature
    tabular data.
(b) ``transform`` throughput (``features="mean"``, what the bare calls
    compute) versus a bare ``encoder_`` forward pass in
    inference mode over the pre-scaled float32 tensor, in batches of the size
    ``transform`` uses internally. ``transform`` gets the raw data, as a user
    would pass it, so its validation, scaling, dtype conversions and float64
    output count against it. Two bare calls: ``encoder_(x)[0]``, the module's
    forward (mu and sigma), which the target is set against; and
    ``encoder_.mean(x)``, which computes mu alone as ``transform`` does, so
    that its ratio is the estimator's own overhead.
(c) Peak memory of ``transform`` for a growing number of rows of 784 float32
    features through an MLP model: numpy allocations traced by ``tracemalloc``
    and the peak resident memory sampled by a thread, both above the level
    before the call, next to the size of the returned array.

Targets: fit time ratio estimator / bare <= 1.05; transform throughput >= 0.95
of the bare forward pass; transform's peak extra memory flat in n beyond the
output array itself.

Usage::

    python benchmarks/speed.py                # 5,000 images, 3 repeats
    python benchmarks/speed.py --repeats 5 --epochs 2
    python benchmarks/speed.py --quick        # smoke run, seconds
"""

import argparse
import contextlib
import ctypes
import gc
import math
import os
import platform
import statistics
import threading
import time
import tracemalloc

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.nn import functional as F

from sklearn_ali import ALITransformer, networks
from sklearn_ali._callbacks import _LinearToZero

# Rows per forward pass of the estimator's transform, which the bare loop
# matches (tests/test_benchmarks.py checks that the two agree).
INFERENCE_BATCH = 512

MB = 2**20


class EpochClock(Callback):
    """Records the time at the end of every epoch, after skorch's callbacks."""

    def on_train_begin(self, net, **kwargs):
        self.ends_ = []

    def on_epoch_end(self, net, **kwargs):
        _sync(net.device)
        self.ends_.append(time.perf_counter())


def _sync(device):
    # CUDA kernels run asynchronously: a clock read needs the queue drained.
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


class Options:
    """Where and how both sides train: device, bf16 autocast, channels_last."""

    device = "cpu"
    amp = False
    channels_last = False
    data_on_device = "auto"


class NetOptions(Callback):
    """Sets the net's CUDA-only switches from ``Options`` as training begins.

    ``fit`` turns bf16 and channels_last on whenever it trains on CUDA; the
    benchmark compares both settings, so it sets them on the net (public
    ALINet parameters) before the first batch.
    """

    def __init__(self, conv):
        self.conv = conv

    def on_train_begin(self, net, **kwargs):
        net.use_amp = Options.amp
        net.channels_last = Options.channels_last and self.conv
        net.data_on_device = Options.data_on_device
        if str(net.device).startswith("cuda"):
            layout = (
                torch.channels_last if net.channels_last else torch.contiguous_format
            )
            net.module_.to(memory_format=layout)


def fresh_networks(ali):
    """Networks shaped as ``ali``'s, newly initialised, from the public builders."""
    options = {
        "stochastic": ali.encoder == "stochastic",
        "dropout": ali.training_params_["dropout"],
        "spectral_norm": ali.training_params_["spectral_norm"],
    }
    if ali.architecture_ == "mlp":
        output = "linear" if ali.image_shape_ is None else "sigmoid"
        return networks.build_mlp(
            ali.n_features_in_,
            ali.n_components_,
            tuple(ali.hidden_layer_sizes),
            output=output,
            **options,
        )
    return networks.ARCHITECTURES[ali.architecture_](
        ali.image_shape_, ali.n_components_, width=ali.conv_width, **options
    )


# -- (a) fit --------------------------------------------------------------


def estimator_fit(X, epochs, seed, architecture="auto"):
    """Fit for 1 + ``epochs`` epochs; return the model and the timed seconds."""
    ali = ALITransformer(
        architecture=architecture,
        max_epochs=1 + epochs,
        device=Options.device,
        keep_on_device=True,
        callbacks=[
            ("net_options", NetOptions(conv=X.ndim == 4 and architecture != "mlp")),
            ("epoch_clock", EpochClock()),
        ],
        random_state=seed,
    )
    ali.fit(X)
    ends = dict(ali.net_.callbacks_)["epoch_clock"].ends_
    return ali, ends[-1] - ends[0]


def bare_fit(ali, data, epochs, seed):
    """The same training in plain PyTorch; return the timed seconds.

    ``ali`` is a fitted estimator: it supplies the networks' construction and
    the hyperparameters, nothing else. ``data`` is already on the device: the
    best a hand-written loop can do when the data fit there.
    """
    device = torch.device(Options.device)
    cuda = device.type == "cuda"
    with torch.random.fork_rng(devices=[0] if cuda else []):
        torch.manual_seed(seed)
        encoder, decoder, discriminator = fresh_networks(ali)
        for module in (encoder, decoder, discriminator):
            module.to(device)
            if Options.channels_last and ali.architecture_ != "mlp":
                module.to(memory_format=torch.channels_last)
        if Options.channels_last and data.dim() == 4:
            data = data.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast("cuda", torch.bfloat16, enabled=Options.amp and cuda)
        g_params = [*encoder.parameters(), *decoder.parameters()]
        d_params = list(discriminator.parameters())
        betas = tuple(ali.betas)
        training = ali.training_params_  # the fit's settings, "auto" resolved
        lr = training["learning_rate"]
        lr_d = ali.discriminator_learning_rate or lr
        opt_g = torch.optim.Adam(g_params, lr=lr, betas=betas)
        opt_d = torch.optim.Adam(d_params, lr=lr_d, betas=betas)
        weight = training["reconstruction_weight"]
        k = ali.n_components
        batch = min(ali.batch_size, len(data))
        # The estimator's linear decay, stepped after every batch as its is.
        steps = (1 + epochs) * (len(data) // batch)
        schedules = [
            torch.optim.lr_scheduler.LambdaLR(opt, _LinearToZero(steps))
            for opt in (opt_d, opt_g)
            if training["learning_rate_schedule"] == "linear"
        ]
        bce = F.binary_cross_entropy_with_logits
        for module in (encoder, decoder, discriminator):
            module.train()

        start = None
        for epoch in range(1 + epochs):
            if epoch == 1:
                start = time.perf_counter()
            order = torch.randperm(len(data), device=device)
            for i in range(0, len(data) - batch + 1, batch):
                x = data[order[i : i + batch]]
                # drawn first, as the estimator does
                z_p = torch.randn(batch, k, device=device)
                with autocast:
                    z_q, _ = encoder.sample(x)
                    x_p = decoder(z_p)
                    logits = discriminator(torch.cat([x, x_p]), torch.cat([z_q, z_p]))
                    d_q, d_p = logits.float().split([batch, batch])
                    ones, zeros = torch.ones_like(d_q), torch.zeros_like(d_q)
                    d_loss = bce(d_q, ones) + bce(d_p, zeros)
                    g_loss = bce(d_q, zeros) + bce(d_p, ones)
                    if weight > 0:
                        recon = (decoder(z_q).float() - x).abs().mean()
                        g_loss = g_loss + weight * recon
                d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
                g_grads = torch.autograd.grad(g_loss, g_params, allow_unused=True)
                for params, grads in ((d_params, d_grads), (g_params, g_grads)):
                    for p, g in zip(params, grads):
                        p.grad = g
                opt_d.step()
                opt_g.step()
                for schedule in schedules:
                    schedule.step()
        _sync(device)
        return time.perf_counter() - start


def compare_fit(name, X, epochs, repeats, seed, architecture="auto"):
    est_times, bare_times = [], []
    ali = data = None
    for r in range(repeats):
        # Alternate which runs first, so that drifts in machine load hit both.
        # The first run is the estimator's: it defines the networks.
        for which in ("estimator", "bare")[:: 1 if r % 2 == 0 else -1]:
            if which == "estimator":
                ali, seconds = estimator_fit(X, epochs, seed, architecture)
                est_times.append(seconds)
            else:
                if data is None:
                    data = ali.network_input(X, Options.device)
                bare_times.append(bare_fit(ali, data, epochs, seed))
    batch = min(ali.batch_size, len(X))
    images = epochs * (len(X) // batch) * batch
    est, bare = statistics.median(est_times), statistics.median(bare_times)
    print(
        f"{name:<26}{images / est:>13.0f}{images / bare:>11.0f}"
        f"{len(X) * est / images:>10.2f}{est / bare:>13.3f}   <= 1.05",
        flush=True,
    )
    return ali


# -- (b) transform ----------------------------------------------------------


def bare_encode(forward, data):
    with torch.inference_mode():
        outputs = [
            forward(data[i : i + INFERENCE_BATCH])
            for i in range(0, len(data), INFERENCE_BATCH)
        ]
        return torch.cat(outputs).cpu().numpy()


def compare_transform(name, ali, X, repeats):
    # The bare call reads data already on the device; transform gets host
    # arrays, as a user passes them, so its copies count against it.
    data = ali.network_input(X, Options.device)
    encoder = ali.encoder_.eval()
    # The bare calls compute mu; so must transform (the default "hidden"
    # features return every hidden layer, float64, 17 times as many columns).
    ali.set_params(features="mean")
    runs = {
        "estimator": lambda: ali.transform(X),
        "forward": lambda: bare_encode(lambda x: encoder(x)[0], data),
        "mean": lambda: bare_encode(encoder.mean, data),
    }
    times = {which: [] for which in runs}
    start = time.perf_counter()
    for fn in runs.values():
        fn()  # warm-up
    # Each timing spans at least ~0.3 s of back-to-back calls: one call of a
    # small model takes milliseconds, within the noise of a shared machine.
    per_call = (time.perf_counter() - start) / len(runs)
    calls = max(1, math.ceil(0.3 / per_call))
    for r in range(repeats):
        for which in list(runs)[:: 1 if r % 2 == 0 else -1]:
            start = time.perf_counter()
            for _ in range(calls):
                runs[which]()
            times[which].append((time.perf_counter() - start) / calls)
    est, forward, mean = (statistics.median(times[which]) for which in runs)
    for label, bare, target in (
        ("encoder_(x)[0]", forward, ">= 0.95"),
        ("encoder_.mean(x)", mean, "(same ops)"),
    ):
        print(
            f"{name:<26}{label:<18}{len(X) / est:>11.0f}{len(X) / bare:>11.0f}"
            f"{bare / est:>13.3f}   {target}",
            flush=True,
        )


# -- (c) memory ---------------------------------------------------------------


def _rss_reader():
    """A function returning the resident set size in bytes, or None."""
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    try:
        with open("/proc/self/statm") as f:
            f.read()

        def read():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * page

        return read
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        return None
    process = psutil.Process()
    return lambda: process.memory_info().rss


def release_free_memory():
    """Collect garbage and hand freed heap pages back to the OS (glibc).

    Otherwise memory freed by earlier work is reused without raising the
    resident set size, and the sampled peak reads as zero.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class RSSPeak:
    """Samples the resident set size in a thread; ``extra`` is peak - start."""

    def __init__(self, read, interval=5e-4):
        self.read, self.interval = read, interval

    def __enter__(self):
        self.start = self.peak = self.read()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.read())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.read())
        self.extra = self.peak - self.start


def transform_memory(sizes, n_fit, seed):
    rng = np.random.RandomState(seed)
    n_features = 784
    X_fit = rng.random_sample((n_fit, n_features)).astype(np.float32)
    ali = ALITransformer(max_epochs=1, device="cpu", random_state=seed).fit(X_fit)
    read_rss = _rss_reader()
    print(
        f"\n## (c) transform peak memory, MLP on {n_features} float32 features "
        f"(output float32, n_components={ali.n_components}); MB above the level "
        "before the call"
    )
    print(
        f"{'rows':>8}{'input':>9}{'output':>9}{'numpy peak':>12}"
        f"{'- output':>10}{'RSS peak':>10}{'- output':>10}"
    )
    for n in sizes:
        X = rng.random_sample((n, n_features)).astype(np.float32)
        ali.transform(X[:INFERENCE_BATCH])  # warm-up
        rss = rss_minus = "n/a"
        if read_rss is not None:
            release_free_memory()
            with RSSPeak(read_rss) as probe:
                Z = ali.transform(X)
            rss = f"{probe.extra / MB:.1f}"
            rss_minus = f"{(probe.extra - Z.nbytes) / MB:.1f}"
            del Z
        release_free_memory()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        Z = ali.transform(X)
        numpy_peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        print(
            f"{n:>8}{X.nbytes / MB:>9.1f}{Z.nbytes / MB:>9.1f}"
            f"{numpy_peak / MB:>12.1f}{(numpy_peak - Z.nbytes) / MB:>10.1f}"
            f"{rss:>10}{rss_minus:>10}",
            flush=True,
        )
        del X, Z
    print(
        "numpy peak: tracemalloc (numpy allocations only); RSS peak: resident "
        "memory sampled every 0.5 ms (torch's buffers too)\n"
        "target: '- output' columns flat in n"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=5000, help="conv rows")
    parser.add_argument("--n-tabular", type=int, default=5000, help="MLP rows")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--memory-rows", type=int, nargs="+", default=[2000, 8000, 32000]
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=["conv", "mlp", "svhn"],
        default=["conv", "mlp"],
        help="svhn: the paper's network on 3x32x32 images (--n-svhn of them)",
    )
    parser.add_argument("--n-svhn", type=int, default=73257, help="svhn rows")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--amp", choices=["on", "off"], default="off", help="bf16 autocast (CUDA)"
    )
    parser.add_argument(
        "--channels-last", choices=["on", "off"], default="off", help="(CUDA)"
    )
    parser.add_argument(
        "--data-on-device",
        choices=["auto", "on", "off"],
        default="auto",
        help="keep the training data on the device (auto: on CUDA when it fits)",
    )
    parser.add_argument(
        "--skip-memory", action="store_true", help="skip the transform memory part"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n_images, args.n_tabular, args.epochs, args.repeats = 200, 300, 1, 1
        args.n_svhn = 200
        args.memory_rows = [500, 1000, 2000]
    Options.device = args.device
    Options.amp = args.amp == "on"
    Options.channels_last = args.channels_last == "on"
    Options.data_on_device = {"on": True, "off": False}.get(args.data_on_device, "auto")
    gpu = ""
    if torch.device(args.device).type == "cuda":
        gpu = f", GPU {torch.cuda.get_device_name()}"
    print(
        f"# machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}{gpu}; device {args.device}, "
        f"bf16 {args.amp}, channels_last {args.channels_last}, "
        f"data on device {args.data_on_device}"
    )

    rng = np.random.RandomState(args.seed)
    images = rng.randint(0, 256, size=(args.n_images, 1, 28, 28), dtype=np.uint8)
    tabular = rng.standard_normal((args.n_tabular, 64))
    models = [
        (f"conv, {args.n_images} x 1x28x28", images, "auto"),
        (f"mlp, {args.n_tabular} x 64", tabular, "auto"),
    ]
    if "svhn" in args.models:
        svhn = rng.randint(0, 256, size=(args.n_svhn, 3, 32, 32), dtype=np.uint8)
        models.append((f"svhn, {args.n_svhn} x 3x32x32", svhn, "svhn"))
    models = [m for m in models if m[0].split(",")[0] in args.models]

    print(
        f"\n## (a) fit throughput, images/s (median of {args.repeats}, "
        f"{args.epochs} timed epochs after 1 warm-up, "
        f"batch {ALITransformer().batch_size})"
    )
    print(
        f"{'model':<26}{'estimator':>13}{'bare':>11}{'epoch s':>10}"
        f"{'time ratio':>13}   target"
    )
    fitted = [
        (name, compare_fit(name, X, args.epochs, args.repeats, args.seed, arch), X)
        for name, X, arch in models
    ]

    print(
        f"\n## (b) transform throughput, rows/s (median of {args.repeats}, "
        f"batches of {INFERENCE_BATCH})"
    )
    print(
        f"{'model':<26}{'bare call':<18}{'estimator':>11}{'bare':>11}"
        f"{'speed ratio':>13}   target"
    )
    for name, ali, X in fitted:
        compare_transform(name, ali, X, args.repeats)

    if not args.skip_memory:
        transform_memory(args.memory_rows, min(args.n_tabular, 1000), args.seed)


if __name__ == "__main__":
    main()
