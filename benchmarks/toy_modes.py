"""Mode coverage on the 25-Gaussian grid: default ALITransformer versus a GAN.

The ALI paper's 2-D toy experiment (Dumoulin et al., ICLR 2017):
data from a mixture of 25 Gaussians (std 0.05) centred on {-4, -2, 0, 2, 4}^2
(``make_gaussian_grid``). For every seed,

- the default ``ALITransformer(n_components=2, random_state=seed)`` is fitted
  on the training set (tabular data, so the MLP architecture and the training
  settings that ``"auto"`` picks for it; the paper's 2-D latent, which
  ``--n-components`` changes);
- a GAN is trained with the same decoder as generator and a discriminator that
  sees x only: the x branch of ALITransformer's MLP discriminator followed by
  a head built like its joint head (same widths, dropout, spectral
  normalisation, leaky ReLU), both from ``sklearn_ali.networks``. The GAN is a
  short plain-torch loop with the same data scaling, Adam settings, epochs,
  batch size and simultaneous updates from one concatenated batch;
- 10,000 samples of each model are assigned to the nearest component
  (``count_modes``): a mode is covered when a sample lands on it; a sample is
  of high quality within 3 std of its mean. ALI's are ``sample``'s, as a user
  draws them (kept or rejected by the discriminator, see
  ``ALITransformer.sample``); its decoder's prior draws G(z) without the
  rejection (``codes="prior", discriminator_rejection=False``, what figures
  before 2026-12-07's sixth session measured) are counted too, as "ALI
  G(z)"; the GAN's are its generator's draws.

Each seed draws its own training set (``--n-train``, 100,000 points an
epoch, as in the paper; the estimator's default 20 epochs then take 20,000
steps, the paper's 100 take 100,000) and held-out set (``--n-heldout``,
2,500).

For ALI the script also measures the encoder on a held-out set from the same
mixture: the latent means ``encode(X_heldout)`` should look like the prior
(|per-dimension mean| near 0, per-dimension std near 1, both averaged over
dimensions), and the reconstruction ``inverse_transform(encode(x))`` should
land on x's own component (fraction reported) and close to x (mean distance,
in units of the component std).

The paper reports, over 10 runs with random learning rate, beta1 and
initialisation scale: ALI 13.4 +- 5.8 covered modes (min 8, max 25), GAN
10.4 +- 9.2 (min 1, max 22).

Target (the "win the game" issue): with the defaults, 25/25 modes on 10 of
10 seeds with at least 80 % of the samples within 3 std of a mode.

Usage::

    python benchmarks/toy_modes.py                 # 10 seeds, defaults
    python benchmarks/toy_modes.py --seeds 3 --n-train 10000 --n-components 64
    python benchmarks/toy_modes.py --seeds 1 --set spectral_norm=True
    python benchmarks/toy_modes.py --seeds 1 --variant pack2
    python benchmarks/toy_modes.py --quick         # smoke run, seconds

``--variant`` fits ALI as ``benchmarks/feature_variants.py``'s variant of
that name, on the MLP preset (``pack2``: PacGAN's packing of D's pairs).
"""

import argparse
import platform
import time
from functools import partial

import numpy as np
import torch
from feature_variants import build_variant
from semi_supervised import add_set_option
from torch.nn import functional as F

from sklearn_ali import ALITransformer
from sklearn_ali._callbacks import _LinearToZero
from sklearn_ali.datasets import make_gaussian_grid
from sklearn_ali.evaluation import count_modes
from sklearn_ali.networks import SpectralNorm, build_mlp

STD = 0.05  # standard deviation of every mixture component
N_MODES = 25
# Printed on the header's first line, whether set or not.
HEADER_PARAMS = ("n_components", "hidden_layer_sizes", "max_epochs", "batch_size")
PAPER = {"ALI": "13.4 ± 5.8 (min 8, max 25)", "GAN": "10.4 ± 9.2 (min 1, max 22)"}


def make_gan(ali, n_features):
    """Generator shaped like fitted ``ali``'s decoder and an x-only discriminator."""
    hidden = tuple(ali.hidden_layer_sizes)
    spectral_norm = ali.training_params_["spectral_norm"]
    dropout = ali.training_params_["dropout"]
    _, generator, ali_discriminator = build_mlp(
        n_features,
        ali.n_components,
        hidden,
        stochastic=ali.encoder == "stochastic",
        dropout=dropout,
        spectral_norm=spectral_norm,
        output="linear",
    )
    width = hidden[-1]
    discriminator = torch.nn.Sequential(
        ali_discriminator.x_branch,
        joint_head_like(width, 2 * width, dropout, spectral_norm),
    )
    return generator, discriminator


def joint_head_like(n_in, width, dropout, spectral_norm):
    """A head built as ALI's joint head is, layer for layer."""

    def linear(a, b):
        layer = torch.nn.Linear(a, b)
        return SpectralNorm(layer) if spectral_norm else layer

    return torch.nn.Sequential(
        torch.nn.Dropout(dropout),
        linear(n_in, width),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Dropout(dropout),
        linear(width, 1),
    )


def train_gan(ali, X, seed):
    """Train a non-saturating GAN with ``ali``'s settings; return the generator.

    ``ali`` is the fitted ALITransformer: the GAN copies its scaling
    (``data_offset_``, ``data_scale_``), optimiser, epochs, batch size and
    learning-rate schedule (``learning_rate_schedule="linear"``: the same
    linear decay to 0, after every batch), as the fit resolved them
    (``training_params_``).
    """
    data = torch.tensor((X - ali.data_offset_) / ali.data_scale_, dtype=torch.float32)
    batch = min(ali.batch_size, len(data))
    training = ali.training_params_
    lr = training["learning_rate"]
    lr_d = ali.discriminator_learning_rate or lr
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator, discriminator = make_gan(ali, X.shape[1])
        # The generator is the decoder, layer for layer.
        shapes = [p.shape for p in ali.decoder_.parameters()]
        assert [p.shape for p in generator.parameters()] == shapes
        g_params = list(generator.parameters())
        d_params = list(discriminator.parameters())
        opt_g = torch.optim.Adam(g_params, lr=lr, betas=ali.betas)
        opt_d = torch.optim.Adam(d_params, lr=lr_d, betas=ali.betas)
        steps = training["max_epochs"] * (len(data) // batch)
        schedules = [
            torch.optim.lr_scheduler.LambdaLR(opt, _LinearToZero(steps))
            for opt in (opt_g, opt_d)
            if training["learning_rate_schedule"] == "linear"
        ]
        for _ in range(training["max_epochs"]):
            order = torch.randperm(len(data))
            for start in range(0, len(data) - batch + 1, batch):  # drop_last
                x_real = data[order[start : start + batch]]
                x_fake = generator(torch.randn(batch, ali.n_components))
                logits = discriminator(torch.cat([x_real, x_fake])).flatten()
                d_real, d_fake = logits.split([batch, batch])
                ones, zeros = torch.ones_like(d_real), torch.zeros_like(d_real)
                bce = F.binary_cross_entropy_with_logits
                d_loss = bce(d_real, ones) + bce(d_fake, zeros)
                g_loss = bce(d_fake, ones)
                d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
                g_grads = torch.autograd.grad(g_loss, g_params)
                for params, grads in ((d_params, d_grads), (g_params, g_grads)):
                    for p, g in zip(params, grads):
                        p.grad = g
                opt_d.step()
                opt_g.step()
                for schedule in schedules:
                    schedule.step()
    return generator.eval()


def gan_sample(generator, ali, n_samples, seed):
    """Samples in data units, z drawn like ``ALITransformer.sample``."""
    z = np.random.RandomState(seed).standard_normal((n_samples, ali.n_components))
    with torch.inference_mode():
        x = generator(torch.tensor(z, dtype=torch.float32)).numpy()
    return x.astype(np.float64) * ali.data_scale_ + ali.data_offset_


def encoder_diagnostics(ali, X_heldout, y_heldout, centers):
    """How well ALI's encoder maps held-out points to the prior and back."""
    Z = ali.encode(X_heldout)
    X_rec = ali.inverse_transform(Z)
    rec_modes = count_modes(X_rec, centers, std=STD).assignments
    return {
        "z_mean": float(np.abs(Z.mean(axis=0)).mean()),
        "z_std": float(Z.std(axis=0).mean()),
        "rec_same": float(np.mean(rec_modes == y_heldout)),
        "rec_dist": float(np.linalg.norm(X_rec - X_heldout, axis=1).mean() / STD),
    }


def run_seed(seed, args):
    X, _, centers = make_gaussian_grid(
        args.n_train, std=STD, return_centers=True, random_state=seed
    )
    X_heldout, y_heldout = make_gaussian_grid(
        args.n_heldout, std=STD, random_state=np.random.RandomState([seed, 1])
    )
    if args.variant:
        # The MLP preset, as the estimator would build it for this grid.
        hidden = tuple(ALITransformer(**args.params).hidden_layer_sizes)
        base = partial(build_mlp, hidden_layer_sizes=hidden, output="linear")
        params = {"random_state": seed, **args.params, "hidden_layer_sizes": hidden}
        ali = build_variant(args.variant, params, base=base)
    else:
        ali = ALITransformer(random_state=seed, **args.params)
    if args.n_components is not None:
        ali.set_params(n_components=args.n_components)
    if args.max_epochs is not None:
        ali.set_params(max_epochs=args.max_epochs)
    if args.lr_decay:
        ali.set_params(learning_rate_schedule="linear")

    start = time.perf_counter()
    ali.fit(X)
    ali_time = time.perf_counter() - start
    ali_modes = count_modes(ali.sample(args.n_samples, random_state=seed), centers, STD)
    decoder_draws = ali.sample(
        args.n_samples,
        random_state=seed,
        codes="prior",
        discriminator_rejection=False,
    )
    decoder_modes = count_modes(decoder_draws, centers, STD)

    start = time.perf_counter()
    generator = train_gan(ali, X, seed)
    gan_time = time.perf_counter() - start
    gan_modes = count_modes(
        gan_sample(generator, ali, args.n_samples, seed), centers, STD
    )

    return {
        "seed": seed,
        "ALI": ali_modes,
        "ALI G(z)": decoder_modes,
        "GAN": gan_modes,
        "ALI_time": ali_time,
        "GAN_time": gan_time,
        **encoder_diagnostics(ali, X_heldout, y_heldout, centers),
        "ali": ali,
    }


def print_summary(rows):
    print(
        f"\n{'model':<9}{'modes covered (mean ± std)':>25}{'min':>5}{'max':>5}"
        f"{'25/25 seeds':>13}{'≤3σ samples':>13}   paper (10 runs)"
    )
    for model in ("ALI", "ALI G(z)", "GAN"):
        modes = np.array([r[model].n_modes for r in rows])
        hq = np.mean([r[model].high_quality_fraction for r in rows])
        full = int(np.sum(modes == N_MODES))
        print(
            f"{model:<9}{modes.mean():>18.1f} ± {modes.std():<4.1f}"
            f"{modes.min():>5}{modes.max():>5}{f'{full}/{len(rows)}':>13}"
            f"{hq:>13.1%}   {PAPER.get(model, '')}".rstrip()
        )
    print(
        "\nALI encoder on held-out points (mean over seeds): "
        f"|z mean| {np.mean([r['z_mean'] for r in rows]):.3f} (0 is ideal), "
        f"z std {np.mean([r['z_std'] for r in rows]):.3f} (1 is ideal), "
        f"reconstruction on x's mode {np.mean([r['rec_same'] for r in rows]):.1%}, "
        f"reconstruction distance {np.mean([r['rec_dist'] for r in rows]):.2f} std"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=100_000)
    parser.add_argument("--n-heldout", type=int, default=2_500)
    parser.add_argument("--n-samples", type=int, default=10_000, help="decoder draws")
    parser.add_argument(
        "--n-components", type=int, default=2, help="latent size (the paper's 2)"
    )
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="epochs (estimator's default)"
    )
    parser.add_argument(
        "--lr-decay",
        action="store_true",
        help='learning_rate_schedule="linear": rates fall linearly to 0 over '
        "the fit (ALI and the GAN)",
    )
    add_set_option(parser)
    parser.add_argument(
        "--variant",
        default="",
        help="feature_variants.py's tokens for ALI, e.g. pack2 (PacGAN's packing)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    args.params = dict(args.params)
    if args.quick:
        args.seeds, args.n_train, args.n_heldout, args.n_samples = 2, 500, 250, 2000
        args.max_epochs = 1
    print(
        f"# machine: {platform.processor() or platform.machine()}, "
        f"torch threads {torch.get_num_threads()}, torch {torch.__version__}"
    )

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    rows = []
    for seed in seeds:
        row = run_seed(seed, args)
        if not rows:
            ali = row["ali"]
            print(
                f"# {N_MODES} Gaussians (std {STD}), {args.n_train} training and "
                f"{args.n_heldout} held-out points, {args.n_samples} samples per "
                f"model; ALITransformer n_components={ali.n_components}, "
                f"hidden_layer_sizes={tuple(ali.hidden_layer_sizes)}, "
                f"max_epochs={ali.training_params_['max_epochs']}, "
                f"batch_size={ali.batch_size}"
                + "".join(
                    f", {k}={v!r}"
                    for k, v in args.params.items()
                    if k not in HEADER_PARAMS
                )
                + (', learning_rate_schedule="linear"' if args.lr_decay else "")
                + (f", variant {args.variant}" if args.variant else "")
                + "\n"
            )
            print(
                f"{'seed':>4}{'ALI modes':>11}{'ALI ≤3σ':>9}{'G(z) ≤3σ':>10}"
                f"{'GAN modes':>11}"
                f"{'GAN ≤3σ':>9}{'|z mean|':>10}{'z std':>7}{'rec mode':>10}"
                f"{'rec dist σ':>12}{'ALI s':>8}{'GAN s':>8}"
            )
        rows.append(row)
        print(
            f"{seed:>4}{row['ALI'].n_modes:>11}"
            f"{row['ALI'].high_quality_fraction:>9.1%}"
            f"{row['ALI G(z)'].high_quality_fraction:>10.1%}{row['GAN'].n_modes:>11}"
            f"{row['GAN'].high_quality_fraction:>9.1%}{row['z_mean']:>10.3f}"
            f"{row['z_std']:>7.3f}{row['rec_same']:>10.1%}{row['rec_dist']:>12.2f}"
            f"{row['ALI_time']:>8.1f}{row['GAN_time']:>8.1f}",
            flush=True,
        )
    print_summary(rows)
    full = sum(r["ALI"].n_modes == N_MODES for r in rows)
    sharp = sum(
        r["ALI"].n_modes == N_MODES and r["ALI"].high_quality_fraction >= 0.8
        for r in rows
    )
    print(
        f"\nTarget: ALI covers {N_MODES}/{N_MODES} modes with >= 80 % of its "
        f"samples within 3 std of a mode, on 10 of 10 seeds; here {full} of "
        f"{len(rows)} seeds cover every mode, {sharp} of them with >= 80 %."
    )


if __name__ == "__main__":
    main()
