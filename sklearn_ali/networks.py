"""ALI's three networks: encoder G_z(x), decoder G_x(z) and joint critic D(x, z).

The contract the estimators train and use, and which networks of one's own
must keep:

- the encoder is an :class:`Encoder`: ``encoder(x)`` returns ``(mu, sigma)``
  (``sigma`` None for a deterministic encoder), and ``mean``, ``sample`` and
  ``hidden_features`` give mu, a reparametrised draw and the features of
  ``features="hidden"``;
- the decoder is a :class:`Decoder`: ``decoder(z)`` maps codes of shape
  ``(n, n_components)`` to x in network units, shaped like the encoder's
  input;
- the discriminator is a :class:`JointDiscriminator`: ``discriminator(x, z)``
  returns logits, of shape ``(n,)`` for one output (positive means "from the
  encoder joint") and ``(n, n_outputs)`` for several.

x in network units is what the estimators feed the encoder: ``(n, n_features)``
rows for the MLP, ``(n, C, H, W)`` images in [0, 1] for the convnets.

The builders make the three networks of a preset: :func:`build_mlp` for flat
data, :func:`build_conv`, which sizes itself to images of at least 8x8 pixels,
and the paper's appendix tables: :func:`build_svhn` and :func:`build_cifar10`
for 3x32x32 images, :func:`build_celeba` for 3x64x64 images.
:data:`ARCHITECTURES` maps the names of the estimators' ``architecture``
parameter to them. Every builder is called as
``builder(input_shape, n_components, *, stochastic, dropout, spectral_norm,
n_outputs, **options)``, ``input_shape`` being the encoder's input shape
without the batch dimension, and ``n_outputs`` the discriminator's number of
logits.

Networks of one's own: pass a function with that signature (no
``**options``: the estimator passes only the keywords above) as the
estimators' ``architecture``. It returns ``(encoder, decoder,
discriminator)``; the encoder is an :class:`Encoder` built from one's own
``blocks`` and ``head``, the decoder and discriminator any modules with the
shapes above (:class:`Decoder` and :class:`JointDiscriminator` are there to
build them from). :func:`check_networks` runs each network once and names
what breaks the contract; the estimators call it before training. Such a
model persists with joblib (the builder is stored by reference, so it must
be importable, a module-level function), not with ``sklearn_ali.io``, which
stores architectures by name.
"""

import math
from numbers import Integral, Real

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ARCHITECTURES",
    "Decoder",
    "Encoder",
    "JointDiscriminator",
    "Dropout",
    "SpectralNorm",
    "build_conv",
    "build_mlp",
    "build_svhn",
    "build_cifar10",
    "build_celeba",
    "build_conditional",
    "Maxout",
    "check_networks",
    "ConditionalDecoder",
    "ConditionalDiscriminator",
    "ConditionalEncoder",
]

# ---------------------------------------------------------------------------
# building blocks


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose CPU mask is drawn four times faster.

    Same module, same semantics (each element kept with probability
    ``1 - p`` and scaled by ``1 / (1 - p)``), same state and repr; on other
    devices it is ``nn.Dropout``. On the CPU, PyTorch draws dropout masks
    with ``bernoulli_``, which runs on one thread, element by element: for a
    200 x 64 x 14 x 14 batch it took 18.6 ms against 4.6 ms for ``random_``
    (:doc:`/benchmarks`, "Throughput"), and it left the second core
    idle. Here the mask compares 31-bit integers from ``random_`` (the same
    generator, so ``torch.manual_seed`` still fixes it) with ``p * 2**31``,
    and the arithmetic after it runs on every thread, in the input's memory
    layout.
    """

    def forward(self, x):
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        if self.p == 1:
            return x * 0
        bits = torch.empty_like(x, dtype=torch.int32).random_()  # [0, 2**31)
        keep = bits >= round(self.p * 2**31)
        return (x * (1 / (1 - self.p))).mul_(keep)


class SpectralNorm(nn.Module):
    """A Linear or Conv2d layer whose weight is divided by its spectral norm.

    One power iteration per training forward pass estimates the largest
    singular value (Miyato et al., ICLR 2018). Unlike torch's parametrization
    this is a plain module, so fitted estimators pickle with joblib.
    """

    def __init__(self, layer, eps=1e-12):
        super().__init__()
        self.layer = layer
        self.eps = eps
        n_out = layer.weight.shape[0]
        n_in = layer.weight[0].numel()
        self.register_buffer("u", F.normalize(torch.randn(n_out), dim=0, eps=eps))
        self.register_buffer("v", F.normalize(torch.randn(n_in), dim=0, eps=eps))

    def forward(self, x):
        w = self.layer.weight
        w_mat = w.flatten(1)
        if self.training:
            with torch.no_grad():
                self.v.copy_(F.normalize(w_mat.t() @ self.u, dim=0, eps=self.eps))
                self.u.copy_(F.normalize(w_mat @ self.v, dim=0, eps=self.eps))
        # Under CPU autocast the product is bfloat16; dot wants one dtype.
        sigma = torch.dot(self.u, (w_mat @ self.v).to(self.u.dtype))
        w = w / sigma
        if isinstance(self.layer, nn.Conv2d):
            return self.layer._conv_forward(x, w, self.layer.bias)
        return F.linear(x, w, self.layer.bias)


def _maybe_sn(layer, use_sn):
    return SpectralNorm(layer) if use_sn else layer


def _conv_sizes(size, min_size=4):
    """Spatial sizes of a stack of 4/2/1 convolutions, halving down to ``min_size``."""
    sizes = [size]
    while max(sizes[-1]) > min_size:
        sizes.append(tuple((s - 2) // 2 + 1 for s in sizes[-1]))
    return sizes


def _conv_widths(n_levels, width, max_width=512):
    return [min(width * 2**i, max_width) for i in range(n_levels)]


def _pooled(h, size=4):
    # Large early feature maps dominate a concatenation; pooling them to a
    # small grid keeps "hidden" features a few thousand wide (as DCGAN did).
    if h.dim() == 4 and max(h.shape[-2:]) > size:
        exporting = torch.compiler.is_exporting()
        h = (_window_max_pool2d if exporting else F.adaptive_max_pool2d)(h, size)
    return h.flatten(1)


def _window_max_pool2d(h, size):
    """``F.adaptive_max_pool2d(h, size)`` as maxima over explicit windows.

    The same values, from slices and reductions that ``torch.onnx`` exports
    (it has no adaptive max pooling): output cell i covers rows
    ``floor(i * H / size)`` to ``ceil((i + 1) * H / size)``, and the maximum
    over a rectangle is the maximum over its rows' maxima.
    """
    height, width = h.shape[-2:]
    rows = [
        h[..., i * height // size : -(-(i + 1) * height // size), :]
        for i in range(size)
    ]
    h = torch.cat([r.amax(-2, keepdim=True) for r in rows], dim=-2)
    cols = [
        h[..., j * width // size : -(-(j + 1) * width // size)] for j in range(size)
    ]
    return torch.cat([c.amax(-1, keepdim=True) for c in cols], dim=-1)


# ---------------------------------------------------------------------------
# encoder


class Encoder(nn.Module):
    """G_z(x): a stack of ``blocks`` then a linear ``head`` giving mu (and sigma).

    With ``stochastic=True`` the head outputs ``2 * n_components`` values: the
    mean and a pre-softplus scale, so z = mu + softplus(s) * eps (BigBiGAN's
    parametrisation, which avoids the exploding exp of a log-sigma).
    """

    def __init__(self, blocks, head, n_components, stochastic=True):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.head = head
        self.n_components = n_components
        self.stochastic = stochastic

    def hidden_activations(self, x):
        """``(last, [each block's output])``: the blocks' activations for x."""
        hidden = []
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        return x, hidden

    def forward(self, x):
        out = self.head(self.hidden_activations(x)[0]).flatten(1)  # (n, k) or (n, 2k)
        if self.stochastic:
            mu, s = out.chunk(2, dim=1)
            return mu, F.softplus(s) + 1e-4
        return out, None

    def mean(self, x):
        """mu(x) alone: a stochastic encoder skips sigma's half of the head."""
        return _leading_outputs(
            self.head, self.hidden_activations(x)[0], self.n_components
        )

    def sample(self, x, noise=None):
        """Reparametrised draw z ~ q(z | x); returns ``(z, mu)``."""
        mu, sigma = self(x)
        if sigma is None:
            return mu, mu
        noise = torch.randn_like(mu) if noise is None else noise
        return mu + sigma * noise, mu

    def hidden_features(self, x, n_hidden=3):
        """Last ``n_hidden`` hidden activations (pooled, flattened) and mu."""
        x, hidden = self.hidden_activations(x)
        mu = _leading_outputs(self.head, x, self.n_components)
        return torch.cat([_pooled(h) for h in hidden[-n_hidden:]] + [mu], dim=1)

    def hidden_feature_parts(self, x, n_hidden=3):
        """``(name, width)`` of each part of ``hidden_features(x)``, in order.

        The blocks' pooled outputs are named by their position among the
        encoder's blocks (``"block0"`` is the first), then ``"mu"``.
        """
        _, hidden = self.hidden_activations(x)
        first = len(hidden) - len(hidden[-n_hidden:])
        parts = [
            (f"block{first + i}", _pooled(h).shape[1])
            for i, h in enumerate(hidden[-n_hidden:])
        ]
        return [*parts, ("mu", self.n_components)]


def _leading_outputs(head, x, k):
    """``head(x).flatten(1)[:, :k]``, computing only those k outputs.

    Inference wants mu, the first half of a stochastic head; slicing the
    weights of the head's final Linear or Conv2d (every builder's head ends
    in one) skips the other half's work.
    """
    if isinstance(head, nn.Sequential):
        *rest, head = head
        for layer in rest:
            x = layer(x)
    weight = head.weight[:k]
    bias = None if head.bias is None else head.bias[:k]
    if isinstance(head, nn.Linear):
        return F.linear(x, weight, bias)
    return head._conv_forward(x, weight, bias).flatten(1)


# ---------------------------------------------------------------------------
# decoder


class Decoder(nn.Sequential):
    """G_x(z): layers applied in turn to codes ``(n, n_components)``.

    A Sequential: its parameters are named ``0.weight``, ... as
    ``sklearn_ali.io`` files (format version 1) store them.
    """


# ---------------------------------------------------------------------------
# discriminator


class JointDiscriminator(nn.Module):
    """D(x, z): separate x and z branches whose features a joint MLP scores.

    ``joint`` ends in ``n_outputs`` logits per pair. One logit (ALI's game)
    comes back as shape ``(n,)``, positive meaning "from the encoder joint";
    several as ``(n, n_outputs)``.
    """

    def __init__(self, x_branch, z_branch, joint, n_outputs=1):
        super().__init__()
        self.x_branch = x_branch
        self.z_branch = z_branch
        self.joint = joint
        self.n_outputs = n_outputs

    def forward(self, x, z):
        h = torch.cat([self.x_branch(x).flatten(1), self.z_branch(z).flatten(1)], 1)
        logits = self.joint(h)
        if self.n_outputs == 1:
            return logits.flatten()  # (n,)
        return logits.flatten(1)  # (n, n_outputs)


def _critic_mlp(sizes, dropout, use_sn, slope=0.2, last_linear=False):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [Dropout(dropout), _maybe_sn(nn.Linear(n_in, n_out), use_sn)]
        if not (last_linear and i == len(sizes) - 2):
            layers.append(nn.LeakyReLU(slope))
    return nn.Sequential(*layers)


def _joint_head(n_in, width, dropout, use_sn, n_outputs=1):
    return _critic_mlp([n_in, width, n_outputs], dropout, use_sn, last_linear=True)


# ---------------------------------------------------------------------------
# MLP family


def _dense_block(n_in, n_out, slope=0.2):
    return nn.Sequential(
        nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.LeakyReLU(slope)
    )


def _check_builder_args(
    input_shape=None, *, image=False, min_side=1, dropout=0.0, **sizes
):
    """Raise ValueError (TypeError for a wrong type) naming a builder
    argument that would build no network, or a broken one, deep inside torch.

    ``sizes`` are positive integers by name (``n_components``,
    ``n_outputs``, ``width``) or, for ``hidden_layer_sizes``, a non-empty
    sequence of them. ``image`` asks for a ``(C, H, W)`` input of sides at
    least ``min_side``.
    """

    def positive_int(name, value):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be a positive integer; got {value!r}.")
        if value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")

    for name, value in sizes.items():
        if name == "hidden_layer_sizes":
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                raise TypeError(
                    "hidden_layer_sizes must be a sequence of positive integers; "
                    f"got {value!r}."
                )
            if len(value) == 0:
                raise ValueError(
                    "hidden_layer_sizes must hold at least one layer width; got ()."
                )
            for i, width in enumerate(value):
                positive_int(f"hidden_layer_sizes[{i}]", width)
        else:
            positive_int(name, value)
    if isinstance(dropout, bool) or not isinstance(dropout, Real):
        raise TypeError(f"dropout must be a number in [0, 1); got {dropout!r}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")
    if input_shape is None:
        return
    shape = (input_shape,) if isinstance(input_shape, Integral) else input_shape
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(
            "the input shape must be a tuple of positive integers; got "
            f"{input_shape!r}."
        ) from None
    if image and len(shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W); got {input_shape!r}.")
    for i, side in enumerate(shape):
        positive_int(f"input shape[{i}]", side)
    if image and min(shape[1:]) < min_side:
        raise ValueError(
            f"image_shape={tuple(shape)}: images must be at least {min_side}x"
            f"{min_side} pixels."
        )


def build_mlp(
    input_shape,
    n_components,
    hidden_layer_sizes=(512, 512),
    *,
    stochastic=True,
    dropout=0.2,
    spectral_norm=True,
    n_outputs=1,
    output="linear",
):
    """Encoder, decoder and discriminator for flat data.

    Parameters
    ----------
    input_shape : int or tuple of int
        Number of features, or a shape whose product it is.

    n_components : int
        Size of the latent code z.

    hidden_layer_sizes : tuple of int, default=(512, 512)
        Widths of the encoder's hidden layers, mirrored by the decoder and
        the discriminator's x branch.

    stochastic : bool, default=True
        Whether the encoder outputs a scale besides the mean.

    dropout : float, default=0.2
        Dropout on every discriminator layer's input.

    spectral_norm : bool, default=True
        Spectral normalisation of the discriminator's layers.

    n_outputs : int, default=1
        Logits of the discriminator per pair.

    output : {"linear", "sigmoid"}, default="linear"
        ``"sigmoid"`` makes the decoder emit values in [0, 1] (pixels);
        ``"linear"`` suits standardised tabular data.

    Returns
    -------
    encoder : Encoder
    decoder : Decoder
    discriminator : JointDiscriminator
    """
    _check_builder_args(
        input_shape,
        dropout=dropout,
        n_components=n_components,
        n_outputs=n_outputs,
        hidden_layer_sizes=hidden_layer_sizes,
    )
    if output not in ("linear", "sigmoid"):
        raise ValueError(f'output must be "linear" or "sigmoid"; got {output!r}.')
    n_features = (
        input_shape if isinstance(input_shape, Integral) else math.prod(input_shape)
    )
    sizes = [n_features, *hidden_layer_sizes]
    k_out = 2 * n_components if stochastic else n_components
    encoder = Encoder(
        [_dense_block(a, b) for a, b in zip(sizes[:-1], sizes[1:])],
        nn.Linear(sizes[-1], k_out),
        n_components,
        stochastic,
    )

    rev = [n_components, *hidden_layer_sizes[::-1]]
    dec = [_dense_block(a, b) for a, b in zip(rev[:-1], rev[1:])]
    dec.append(nn.Linear(rev[-1], n_features))
    if output == "sigmoid":
        dec.append(nn.Sigmoid())
    decoder = Decoder(*dec)

    z_width = hidden_layer_sizes[-1]
    discriminator = JointDiscriminator(
        _critic_mlp(sizes, dropout, spectral_norm),
        _critic_mlp([n_components, z_width], dropout, spectral_norm),
        _joint_head(
            sizes[-1] + z_width, 2 * sizes[-1], dropout, spectral_norm, n_outputs
        ),
        n_outputs,
    )
    return encoder, decoder, discriminator


# ---------------------------------------------------------------------------
# convolutional family


def _down(c_in, c_out, *, norm, use_sn=False, dropout=0.0, slope=0.2):
    layers = [Dropout(dropout)] if dropout else []
    layers.append(_maybe_sn(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm), use_sn))
    if norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.LeakyReLU(slope))
    return nn.Sequential(*layers)


def _up(c_in, c_out, size_in, size_out, *, last=False):
    # output_padding recovers odd sizes (7 -> 14 is exact, 3 -> 7 needs one).
    pad = tuple(o - 2 * i for i, o in zip(size_in, size_out))
    conv = nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, output_padding=pad, bias=last)
    if last:
        return nn.Sequential(conv, nn.Sigmoid())
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU())


class _Unflatten(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.view(len(x), *self.shape)


def build_conv(
    image_shape,
    n_components,
    *,
    width=32,
    stochastic=True,
    dropout=0.2,
    spectral_norm=True,
    n_outputs=1,
):
    """Networks for ``(C, H, W)`` images in [0, 1], H and W at least 8.

    Each level halves the spatial size (4x4 kernels, stride 2) and doubles the
    channels, until the maps are at most 4x4; the decoder mirrors the encoder
    exactly, odd sizes included (28 -> 14 -> 7 -> 3 and back).

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, H, W)``.

    n_components : int
        Size of the latent code z.

    width : int, default=32
        Channels of the first level; each further level doubles them (up to
        512).

    stochastic : bool, default=True
        Whether the encoder outputs a scale besides the mean.

    dropout : float, default=0.2
        Dropout on every discriminator layer's input.

    spectral_norm : bool, default=True
        Spectral normalisation of the discriminator's layers.

    n_outputs : int, default=1
        Logits of the discriminator per pair.

    Returns
    -------
    encoder : Encoder
    decoder : Decoder
    discriminator : JointDiscriminator
    """
    _check_builder_args(
        image_shape,
        image=True,
        min_side=8,
        dropout=dropout,
        n_components=n_components,
        n_outputs=n_outputs,
        width=width,
    )
    channels, height, width_px = image_shape
    sizes = _conv_sizes((height, width_px))
    widths = _conv_widths(len(sizes) - 1, width)
    chans = [channels, *widths]
    flat = chans[-1] * math.prod(sizes[-1])
    k_out = 2 * n_components if stochastic else n_components

    encoder = Encoder(
        [_down(a, b, norm=True) for a, b in zip(chans[:-1], chans[1:])],
        nn.Sequential(nn.Flatten(), nn.Linear(flat, k_out)),
        n_components,
        stochastic,
    )

    n_up = len(sizes) - 1
    decoder = Decoder(
        nn.Linear(n_components, flat),
        nn.BatchNorm1d(flat),
        nn.ReLU(),
        _Unflatten((chans[-1], *sizes[-1])),
        *[
            _up(chans[i + 1], chans[i], sizes[i + 1], sizes[i], last=i == 0)
            for i in reversed(range(n_up))
        ],
    )

    z_width = 2 * chans[-1]
    x_branch = nn.Sequential(
        *[
            _down(a, b, norm=False, use_sn=spectral_norm, dropout=dropout)
            for a, b in zip(chans[:-1], chans[1:])
        ],
        nn.Flatten(),
    )
    discriminator = JointDiscriminator(
        x_branch,
        _critic_mlp([n_components, z_width, z_width], dropout, spectral_norm),
        _joint_head(flat + z_width, 2 * z_width, dropout, spectral_norm, n_outputs),
        n_outputs,
    )
    return encoder, decoder, discriminator


# ---------------------------------------------------------------------------
# the paper's SVHN table (3x32x32)


def _conv_bn(c_in, c_out, k, s, slope):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, s, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(slope),
    )


def _convt_bn(c_in, c_out, k, s, slope):
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, k, s, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(slope),
    )


def _paper_init(module):
    # Appendix: weights N(0, 0.01), biases 0.
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.01)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _svhn_generators(channels, n_components, stochastic, slope):
    """The SVHN (and CIFAR-10) tables' G_z and G_x for (C, 32, 32) images."""
    k_out = 2 * n_components if stochastic else n_components
    encoder = Encoder(
        [
            _conv_bn(channels, 32, 5, 1, slope),  # 32 -> 28
            _conv_bn(32, 64, 4, 2, slope),  # -> 13
            _conv_bn(64, 128, 4, 1, slope),  # -> 10
            _conv_bn(128, 256, 4, 2, slope),  # -> 4
            _conv_bn(256, 512, 4, 1, slope),  # -> 1
            _conv_bn(512, 512, 1, 1, slope),
        ],
        nn.Conv2d(512, k_out, 1, 1),
        n_components,
        stochastic,
    )
    decoder = Decoder(
        _Unflatten((n_components, 1, 1)),
        _convt_bn(n_components, 256, 4, 1, slope),  # 1 -> 4
        _convt_bn(256, 128, 4, 2, slope),  # -> 10
        _convt_bn(128, 64, 4, 1, slope),  # -> 13
        _convt_bn(64, 32, 4, 2, slope),  # -> 28
        _convt_bn(32, 32, 5, 1, slope),  # -> 32
        _conv_bn(32, 32, 1, 1, slope),
        nn.Conv2d(32, channels, 1, 1),
        nn.Sigmoid(),
    )
    return encoder, decoder


def build_svhn(
    image_shape,
    n_components,
    *,
    stochastic=True,
    dropout=0.2,
    spectral_norm=True,
    n_outputs=1,
):
    """The ALI paper's SVHN architecture (appendix table), for 3x32x32 images.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, 32, 32)``: the paper's C is 3 (colour); other sizes are a
        ValueError. Other channel counts serve conditional networks, whose
        encoder and discriminator read the condition as extra channels.

    n_components : int
        Size of the latent code z.

    stochastic : bool, default=True
        Whether the encoder outputs a scale besides the mean.

    dropout : float, default=0.2
        Dropout on every discriminator layer's input.

    spectral_norm : bool, default=True
        Spectral normalisation of the discriminator's layers, in place of the
        paper's batch normalisation.

    n_outputs : int, default=1
        Logits of the discriminator per pair.

    Returns
    -------
    encoder : Encoder
    decoder : Decoder
    discriminator : JointDiscriminator
    """
    _check_builder_args(
        image_shape,
        image=True,
        dropout=dropout,
        n_components=n_components,
        n_outputs=n_outputs,
    )
    channels = image_shape[0]
    if tuple(image_shape[1:]) != (32, 32):
        raise ValueError(
            f"architecture='svhn' needs 32x32 images; got image shape {image_shape}."
        )
    encoder, decoder = _svhn_generators(channels, n_components, stochastic, 0.01)

    def d_conv(c_in, c_out, k, s):
        conv = _maybe_sn(nn.Conv2d(c_in, c_out, k, s), spectral_norm)
        return nn.Sequential(Dropout(dropout), conv, nn.LeakyReLU(0.01))

    def d_dense(n_in, n_out, act=True):
        layers = [Dropout(dropout), _maybe_sn(nn.Linear(n_in, n_out), spectral_norm)]
        return nn.Sequential(*layers, *([nn.LeakyReLU(0.01)] if act else []))

    # The paper uses BN in D(x); spectral normalisation replaces it here
    # because BN couples the real and fake halves of D's batch.
    discriminator = JointDiscriminator(
        nn.Sequential(
            d_conv(channels, 32, 5, 1),
            d_conv(32, 64, 4, 2),
            d_conv(64, 128, 4, 1),
            d_conv(128, 256, 4, 2),
            d_conv(256, 512, 4, 1),
            nn.Flatten(),
        ),
        nn.Sequential(d_dense(n_components, 512), d_dense(512, 512)),
        nn.Sequential(
            d_dense(1024, 1024), d_dense(1024, 1024), d_dense(1024, n_outputs, False)
        ),
        n_outputs,
    )
    for net in (encoder, decoder, discriminator):
        net.apply(_paper_init)
    return encoder, decoder, discriminator


# ---------------------------------------------------------------------------
# the paper's CIFAR-10 table (3x32x32) and CelebA table (3x64x64)


class Maxout(nn.Module):
    """The maximum over ``pieces`` groups of channels (Goodfellow et al., 2013).

    Follows a layer with ``pieces * n`` outputs and returns ``n``: channel
    ``i`` is the maximum of channels ``i * pieces`` to ``(i + 1) * pieces - 1``.
    """

    def __init__(self, pieces=2):
        super().__init__()
        self.pieces = pieces

    def forward(self, x):
        n, c = x.shape[:2]
        return x.view(n, c // self.pieces, self.pieces, *x.shape[2:]).amax(2)


def build_cifar10(
    image_shape,
    n_components,
    *,
    stochastic=True,
    dropout=0.2,
    dropout_deep=0.5,
    spectral_norm=True,
    n_outputs=1,
    pieces=2,
):
    """The ALI paper's CIFAR-10 architecture (appendix table), for 3x32x32 images.

    The encoder and decoder are the SVHN table's (:func:`build_svhn`) with
    leaky ReLUs of slope 0.1; the paper's latent is 64-d. The discriminator
    has the SVHN table's layers with maxout units of ``pieces`` pieces in
    place of the leaky ReLUs, no batch normalisation, dropout ``dropout`` on
    the first layer of the x and z branches and ``dropout_deep`` on every
    other layer's input.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, 32, 32)``, C = 3 in the paper (more for conditional networks).
    n_components : int
        Size of the latent code z.
    stochastic : bool, default=True
        Whether the encoder outputs a scale besides the mean.
    dropout : float, default=0.2
        Dropout on the input of the first layer of D's x and z branches.
    dropout_deep : float, default=0.5
        Dropout on the input of every other layer of D.
    spectral_norm : bool, default=True
        Spectral normalisation of the discriminator's layers (the paper has
        none; it stabilises training here as in the other presets).
    n_outputs : int, default=1
        Logits of the discriminator per pair.
    pieces : int, default=2
        Pieces of each maxout unit.

    Returns
    -------
    encoder : Encoder
    decoder : Decoder
    discriminator : JointDiscriminator
    """
    _check_builder_args(
        image_shape,
        image=True,
        dropout=dropout,
        n_components=n_components,
        n_outputs=n_outputs,
    )
    channels = image_shape[0]
    if tuple(image_shape[1:]) != (32, 32):
        raise ValueError(
            f"architecture='cifar10' needs 32x32 images; got image shape {image_shape}."
        )
    encoder, decoder = _svhn_generators(channels, n_components, stochastic, 0.1)

    def maxout(layer, p):
        # The layer computes pieces * n_out channels; maxout keeps n_out.
        return nn.Sequential(
            Dropout(p), _maybe_sn(layer, spectral_norm), Maxout(pieces)
        )

    def d_conv(c_in, c_out, k, s, p=dropout_deep):
        return maxout(nn.Conv2d(c_in, pieces * c_out, k, s), p)

    def d_dense(n_in, n_out, p=dropout_deep):
        return maxout(nn.Linear(n_in, pieces * n_out), p)

    discriminator = JointDiscriminator(
        nn.Sequential(
            d_conv(channels, 32, 5, 1, dropout),  # 32 -> 28
            d_conv(32, 64, 4, 2),  # -> 13
            d_conv(64, 128, 4, 1),  # -> 10
            d_conv(128, 256, 4, 2),  # -> 4
            d_conv(256, 512, 4, 1),  # -> 1
            nn.Flatten(),
        ),
        nn.Sequential(d_dense(n_components, 512, dropout), d_dense(512, 512)),
        nn.Sequential(
            d_dense(1024, 1024),
            d_dense(1024, 1024),
            Dropout(dropout_deep),
            _maybe_sn(nn.Linear(1024, n_outputs), spectral_norm),
        ),
        n_outputs,
    )
    for net in (encoder, decoder, discriminator):
        net.apply(_paper_init)
    return encoder, decoder, discriminator


def build_celeba(
    image_shape,
    n_components,
    *,
    stochastic=True,
    dropout=0.2,
    spectral_norm=True,
    n_outputs=1,
):
    """The ALI paper's CelebA architecture (appendix table), for 3x64x64 images.

    Also the shape of the paper's Tiny ImageNet networks (64x64); the
    paper's latent is 256-d. Leaky ReLUs of slope 0.02; batch normalisation
    in the encoder, the decoder and D(x) after its first layer (replaced by
    spectral normalisation here, as in :func:`build_svhn`, because it
    couples the real and fake halves of D's batch); dropout ``dropout`` on
    every discriminator layer's input.

    Parameters
    ----------
    image_shape : tuple of int
        ``(C, 64, 64)``, C = 3 in the paper (more for conditional networks).
    n_components : int
        Size of the latent code z.
    stochastic : bool, default=True
        Whether the encoder outputs a scale besides the mean.
    dropout : float, default=0.2
        Dropout on every discriminator layer's input.
    spectral_norm : bool, default=True
        Spectral normalisation of the discriminator's layers.
    n_outputs : int, default=1
        Logits of the discriminator per pair.

    Returns
    -------
    encoder : Encoder
    decoder : Decoder
    discriminator : JointDiscriminator
    """
    _check_builder_args(
        image_shape,
        image=True,
        dropout=dropout,
        n_components=n_components,
        n_outputs=n_outputs,
    )
    channels = image_shape[0]
    if tuple(image_shape[1:]) != (64, 64):
        raise ValueError(
            f"architecture='celeba' needs 64x64 images; got image shape {image_shape}."
        )
    slope = 0.02
    k_out = 2 * n_components if stochastic else n_components
    encoder = Encoder(
        [
            _conv_bn(channels, 64, 2, 1, slope),  # 64 -> 63
            _conv_bn(64, 128, 7, 2, slope),  # -> 29
            _conv_bn(128, 256, 5, 2, slope),  # -> 13
            _conv_bn(256, 256, 7, 2, slope),  # -> 4
            _conv_bn(256, 512, 4, 1, slope),  # -> 1
        ],
        nn.Conv2d(512, k_out, 1, 1),
        n_components,
        stochastic,
    )
    decoder = Decoder(
        _Unflatten((n_components, 1, 1)),
        _convt_bn(n_components, 512, 4, 1, slope),  # 1 -> 4
        _convt_bn(512, 256, 7, 2, slope),  # -> 13
        _convt_bn(256, 256, 5, 2, slope),  # -> 29
        _convt_bn(256, 128, 7, 2, slope),  # -> 63
        _convt_bn(128, 64, 2, 1, slope),  # -> 64
        nn.Conv2d(64, channels, 1, 1),
        nn.Sigmoid(),
    )

    def d_layer(layer):
        layers = [Dropout(dropout), _maybe_sn(layer, spectral_norm)]
        return nn.Sequential(*layers, nn.LeakyReLU(slope))

    discriminator = JointDiscriminator(
        nn.Sequential(
            d_layer(nn.Conv2d(channels, 64, 2, 1)),  # 64 -> 63
            d_layer(nn.Conv2d(64, 128, 7, 2)),  # -> 29
            d_layer(nn.Conv2d(128, 256, 5, 2)),  # -> 13
            d_layer(nn.Conv2d(256, 256, 7, 2)),  # -> 4
            d_layer(nn.Conv2d(256, 512, 4, 1)),  # -> 1
            nn.Flatten(),
        ),
        nn.Sequential(
            d_layer(nn.Linear(n_components, 1024)), d_layer(nn.Linear(1024, 1024))
        ),
        nn.Sequential(
            d_layer(nn.Linear(1536, 2048)),
            d_layer(nn.Linear(2048, 2048)),
            Dropout(dropout),
            _maybe_sn(nn.Linear(2048, n_outputs), spectral_norm),
        ),
        n_outputs,
    )
    for net in (encoder, decoder, discriminator):
        net.apply(_paper_init)
    return encoder, decoder, discriminator


# ---------------------------------------------------------------------------
# conditional networks (paper section 4.4)


def _with_condition(x, y):
    """x with the condition y appended: as features, or as constant maps.

    A network whose first layer reads these extra inputs adds a linear
    embedding of y to its first pre-activation, the paper's "linearly
    embedded" condition.
    """
    if x.dim() == 4:  # (n, C, H, W) -> (n, C + c, H, W)
        y = y[:, :, None, None].expand(-1, -1, *x.shape[2:])
    return torch.cat([x, y.to(x.dtype)], dim=1)


class ConditionalEncoder(nn.Module):
    """q(z | x, y): an :class:`Encoder` reading x with the condition appended."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        self.n_components = encoder.n_components
        self.stochastic = encoder.stochastic

    def forward(self, x, y):
        return self.encoder(_with_condition(x, y))

    def mean(self, x, y):
        return self.encoder.mean(_with_condition(x, y))

    def sample(self, x, y, noise=None):
        return self.encoder.sample(_with_condition(x, y), noise=noise)

    def hidden_features(self, x, y, n_hidden=3):
        return self.encoder.hidden_features(_with_condition(x, y), n_hidden)

    def hidden_feature_parts(self, x, y, n_hidden=3):
        return self.encoder.hidden_feature_parts(_with_condition(x, y), n_hidden)


class ConditionalDecoder(nn.Module):
    """p(x | z, y): a decoder reading ``[z, y]``."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, z, y):
        return self.decoder(torch.cat([z, y.to(z.dtype)], dim=1))


class ConditionalDiscriminator(nn.Module):
    """D(x, z, y): a joint discriminator reading x and z, each with y appended."""

    def __init__(self, discriminator):
        super().__init__()
        self.discriminator = discriminator
        self.n_outputs = discriminator.n_outputs

    def forward(self, x, z, y):
        return self.discriminator(
            _with_condition(x, y), torch.cat([z, y.to(z.dtype)], dim=1)
        )


def build_conditional(build, input_shape, n_components, n_conditions, **options):
    """Conditional networks from any builder: y enters every network's input.

    The builder is called three times, each network taken from the call
    whose shapes it needs: the encoder reads x with ``n_conditions`` more
    channels (or features) and outputs ``n_components``; the decoder reads
    ``n_components + n_conditions`` values and outputs x; the discriminator
    reads both enlarged inputs. Any builder keeping the contract, presets and
    one's own, thus gives conditional networks.

    Parameters
    ----------
    build : callable
        A builder, ``build(input_shape, n_components, **options)``.
    input_shape : tuple of int
        ``(C, H, W)`` or ``(n_features,)``.
    n_components : int
        Size of the latent code.
    n_conditions : int
        Width of the condition vector y (classes one-hot, or attributes).
    **options
        Passed to every call of ``build``.

    Returns
    -------
    encoder : ConditionalEncoder
    decoder : ConditionalDecoder
    discriminator : ConditionalDiscriminator
    """
    grown = (input_shape[0] + n_conditions, *input_shape[1:])
    encoder = build(grown, n_components, **options)[0]
    decoder = build(input_shape, n_components + n_conditions, **options)[1]
    discriminator = build(grown, n_components + n_conditions, **options)[2]
    return (
        ConditionalEncoder(encoder),
        ConditionalDecoder(decoder),
        ConditionalDiscriminator(discriminator),
    )


#: The presets that the estimators' ``architecture`` parameter names: name -> builder.
ARCHITECTURES = {
    "mlp": build_mlp,
    "conv": build_conv,
    "svhn": build_svhn,
    "cifar10": build_cifar10,
    "celeba": build_celeba,
}


# ---------------------------------------------------------------------------
# the contract, checked


def check_networks(
    networks, input_shape, n_components, *, n_outputs=1, stochastic=True
):
    """Check that ``(encoder, decoder, discriminator)`` keep the contract.

    The estimators call this on what an ``architecture`` builder of one's
    own returns, before training, so that a network of the wrong kind or
    shape fails with a message that names it rather than deep inside a
    training step. Each network runs once on two rows of zeros in eval
    mode, without gradients (no running statistics or power iterations
    move), and is left in the mode it was in.

    Parameters
    ----------
    networks : tuple of three torch.nn.Module
        The encoder, decoder and discriminator.
    input_shape : tuple of int
        The encoder's input shape without the batch dimension: ``(n_features,)``
        for rows, ``(C, H, W)`` for images.
    n_components : int
        Size of the latent code.
    n_outputs : int, default=1
        The discriminator's number of logits.
    stochastic : bool, default=True
        Whether the encoder must return a scale (``sigma``) with its mean.

    Raises
    ------
    TypeError
        If ``networks`` is not three modules, or the encoder not an
        :class:`Encoder`.
    ValueError
        If a network's output has the wrong shape.
    """
    if not (isinstance(networks, (tuple, list)) and len(networks) == 3):
        raise TypeError(
            "an architecture builder must return (encoder, decoder, "
            f"discriminator); got {type(networks).__name__}."
        )
    encoder, decoder, discriminator = networks
    if not isinstance(encoder, Encoder):
        raise TypeError(
            "the encoder must be a sklearn_ali.networks.Encoder (it provides "
            f"mean, sample and hidden_features); got {type(encoder).__name__}."
        )
    for name, net in (("decoder", decoder), ("discriminator", discriminator)):
        if not isinstance(net, nn.Module):
            raise TypeError(
                f"the {name} must be a torch.nn.Module; got {type(net).__name__}."
            )
    if bool(encoder.stochastic) != bool(stochastic):
        kind = "stochastic" if stochastic else "deterministic"
        raise ValueError(
            f"the estimator asked for a {kind} encoder but the builder made "
            f"one with stochastic={encoder.stochastic}."
        )
    modes = [net.training for net in networks]
    n = 2
    x = torch.zeros(n, *input_shape)
    z = torch.zeros(n, n_components)
    expected_logits = (n,) if n_outputs == 1 else (n, n_outputs)
    try:
        for net in networks:
            net.eval()
        with torch.no_grad():
            out = _probe("encoder(x)", encoder, x)
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise ValueError(
                    "encoder(x) must return (mu, sigma) (sigma None for a "
                    f"deterministic encoder); got {type(out).__name__}."
                )
            mu, sigma = out
            _check_shape("encoder(x)[0] (mu)", mu, (n, n_components))
            if stochastic:
                _check_shape("encoder(x)[1] (sigma)", sigma, (n, n_components))
            mean = _probe("encoder.mean(x)", encoder.mean, x)
            _check_shape("encoder.mean(x)", mean, (n, n_components))
            hidden = _probe("encoder.hidden_features(x)", encoder.hidden_features, x)
            if (
                not isinstance(hidden, torch.Tensor)
                or hidden.ndim != 2
                or len(hidden) != n
            ):
                raise ValueError(
                    "encoder.hidden_features(x) must return (n_samples, "
                    f"n_features); got {_describe(hidden)}."
                )
            _check_shape(
                "decoder(z)", _probe("decoder(z)", decoder, z), (n, *input_shape)
            )
            logits = _probe("discriminator(x, z)", discriminator, x, z)
            _check_shape("discriminator(x, z)", logits, expected_logits)
    finally:
        for net, mode in zip(networks, modes):
            net.train(mode)


def _probe(what, fn, *inputs):
    """``fn(*inputs)``, with a failure named by the call and its input shapes."""
    try:
        return fn(*inputs)
    except Exception as exc:
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise ValueError(
            f"{what} failed on a probe batch of shape {shapes} (the contract's "
            f"input): {type(exc).__name__}: {exc}"
        ) from exc


def _describe(value):
    if isinstance(value, torch.Tensor):
        return f"shape {tuple(value.shape)}"
    return repr(value)


def _check_shape(what, tensor, expected):
    shape = tuple(getattr(tensor, "shape", ()))
    if not isinstance(tensor, torch.Tensor) or shape != expected:
        raise ValueError(f"{what} must have shape {expected}; got {_describe(tensor)}.")
    if not tensor.is_floating_point():
        raise ValueError(f"{what} must be a floating-point tensor; got {tensor.dtype}.")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{what} gives NaN or infinite values for inputs of zeros.")
