"""ConditionalALI: ALI given an observed condition y (paper section 4.4)."""

from numbers import Integral

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_array, check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import BaseALI
from ._checks import is_number
from ._inference import feature_dtype, over_dask_blocks
from ._state import register
from ._validation import check_label_kind, check_label_values
from .networks import build_conditional, check_networks
from .objectives import CONDITIONAL


@register
class ConditionalALI(BaseALI):
    """Conditional ALI: encoder q(z | x, y), decoder p(x | z, y), critic D(x, z, y).

    The model of Dumoulin et al. (ICLR 2017, section 4.4): a fully observed
    condition y, class labels or an attribute vector per row, enters the
    encoder, the decoder and the joint discriminator, so ALI's game matches
    the encoder joint q(x, z | y) with the decoder joint p(x, z | y) for each
    condition. The latent code z is then free to hold what y does not say
    (style, pose, stroke), and ``sample`` or ``decode`` with a fixed z and
    varying y changes only what y describes (the paper's Figure 7).

    y enters each network's input: class labels one-hot, attributes as given,
    appended to x (as constant channels for images) and to z. A network's
    first layer then adds a linear embedding of y to its pre-activation, the
    paper's "linearly embedded" condition. Everything else (scaling,
    architectures, the cycle term, training on skorch and the GPU, callbacks,
    validation, warm start, persistence) is as in
    :class:`~sklearn_ali.ALITransformer`.

    Parameters
    ----------
    n_components : int, default=64
        Size of the latent code z (prior N(0, I)).

    architecture : str or callable, default="auto"
        Network family, as in ALITransformer. A builder of one's own (see
        :mod:`sklearn_ali.networks`) is called three times by
        :func:`~sklearn_ali.networks.build_conditional` with input shapes
        grown by the condition's width.

    image_shape : tuple of int (channels, height, width), default=None
        Shape of images passed flat as ``(n_samples, C*H*W)``.

    hidden_layer_sizes : tuple of int, default=(512, 512)
        Widths of the MLP encoder's hidden layers.

    conv_width : int, default=32
        Channels of the first conv level; each further level doubles them.

    encoder : {"stochastic", "deterministic"}, default="stochastic"
        ``"stochastic"`` reparametrises z = mu + sigma * eps (ALI);
        ``"deterministic"`` maps (x, y) to a single z (BiGAN).

    max_epochs : int, default=40
        Passes over the training data. With ``learning_rate``, chosen on
        MNIST-5k, where the condition took hold late: with 20 epochs at
        2e-4 a classifier read it back from 19.6 % of the samples, with 40
        at 2e-3 from 90.3 % (:doc:`/benchmarks`).

    batch_size : int, default=100
        Rows per training step.

    learning_rate : float, default=2e-3
        Adam learning rate of the encoder and decoder (and of the
        discriminator unless ``discriminator_learning_rate`` is set).

    discriminator_learning_rate : float, default=None
        Adam learning rate of the discriminator; ``None`` uses
        ``learning_rate``.

    generator_steps : int, default=1
        Optimizer steps of the encoder and decoder per step of the
        discriminator. The first is taken together with the
        discriminator's, from one play of the game; each other one plays
        the same batch again with new prior draws and steps the encoder and
        decoder alone (the history records the first play). More steps
        weaken the discriminator's lead and cost time per epoch (see
        ``ALITransformer`` and :doc:`/benchmarks`).

    learning_rate_schedule : {"constant", "linear"}, default="constant"
        How both players' learning rates move during ``fit``: kept, or
        decayed linearly to 0 over the fit's ``max_epochs``, after every
        batch (skorch's ``LRScheduler`` with ``LambdaLR``). Smaller steps
        at the end let the game settle: on the 2-D toy grid the decoder
        puts its samples on the modes only with the decay (see
        :doc:`/benchmarks`). A warm start decays again over its own
        epochs; ``partial_fit``, one pass with no planned end, trains at
        the constant rates.

    betas : tuple of float, default=(0.5, 0.999)
        Adam's betas for both players.

    dropout : float, default=0.2
        Dropout on every discriminator layer's input.

    spectral_norm : bool, default=True
        Spectral normalisation of the discriminator's layers.

    reconstruction_weight : float, default=10.0
        Weight of the L1 cycle term ``|x - G_x(G_z(x, y), y)|``; 0 gives the
        paper's game.

    reconstruction_weight_end : float, default=None
        The cycle term's weight at the last epoch, reached linearly from
        ``reconstruction_weight`` at the first, as in ALITransformer;
        ``None`` keeps the weight throughout.

    loss : {"non_saturating", "hinge"}, default="non_saturating"
        The adversarial game's loss: the ALI paper's non-saturating one, or
        the hinge loss of SAGAN and BigBiGAN, whose discriminator is a critic
        held to a margin (see :data:`sklearn_ali.objectives.LOSSES`). The
        history's diagnostics follow it: ``d_real_acc`` and ``d_fake_acc``
        for the first; ``d_real_in_margin`` and ``d_fake_in_margin``, the
        shares of pairs inside the margin, for the hinge.

    gradient_penalty : float, default=0.0
        Weight gamma of a penalty on the discriminator's gradient w.r.t. its
        inputs (x, z), ``gamma / 2 * (E_q |grad D|² + E_p |grad D|²)`` at the
        pairs of both joints (the R1 and R2 penalties of Mescheder et al.,
        2018). It keeps D from growing steep between the joints, so that it
        cannot read them apart with certainty; each step then costs a second
        backward pass through D. 0 turns it off.

    device : str or torch.device, default="auto"
        ``"auto"`` trains on CUDA when available, else on the CPU.

    keep_on_device : bool, default=False
        Keep the trained networks on ``device`` after ``fit``.

    precision : {"auto", "bfloat16", "float32"}, default="auto"
        Arithmetic of the training steps. ``"bfloat16"`` runs them under
        bfloat16 autocast (weights, optimizer and ``transform`` stay
        float32). ``"auto"`` does so for images where bfloat16 products are
        native, on CUDA and on CPUs with AVX-512 BF16 or AMX (1.55-1.6 times
        the images/s of float32 for the default conv net on 2 such cores;
        see :doc:`/benchmarks`), and trains in float32 elsewhere and on
        rows, whose standardised features bfloat16 would round to about
        1/128 of their scale.

    distributed : "auto" or bool, default="auto"
        Data-parallel training over the processes ``torchrun`` launched, as
        in ``ALITransformer``; False trains in this process alone.

    distributed_timeout : float, default=300.0
        Seconds a data-parallel ``fit`` waits for every rank to join the
        process group (and, once joined, for each collective step). Past
        it, ``fit`` raises an error naming the ranks that did not join
        (a rank that never calls ``fit``, say), where it would otherwise
        wait forever.

    validation_fraction : float, default=0.0
        Fraction of rows held out to score each epoch: ``valid_loss`` is
        their reconstruction error given their conditions.

    warm_start : bool, default=False
        When True, ``fit`` on a fitted model continues training for
        ``max_epochs`` more epochs; y must be conditions of the same kind
        (labels among ``classes_``, or as many attributes).

    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, copied at ``fit``.

    verbose : int, default=0
        ``1`` shows one progress bar over the fit, carrying the epoch and the
        current losses; ``2`` prints a table of the losses after each epoch
        (a skorch net's ``verbose=1``), coloured only on a terminal.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batching, dropout, noise and the
        validation split. On the CPU a fixed value gives identical results.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted, when y was 1-D; absent for attributes.

    n_conditions_ : int
        Width of the condition vector: the number of classes, or of
        attributes.

    net_ : ALINet
        The trained skorch net.

    encoder_, decoder_, discriminator_ : torch.nn.Module
        The trained :class:`~sklearn_ali.networks.ConditionalEncoder`,
        :class:`~sklearn_ali.networks.ConditionalDecoder` and
        :class:`~sklearn_ali.networks.ConditionalDiscriminator`.

    history_ : skorch.history.History
        Per-epoch ``d_loss``, ``g_loss``, ``d_real_acc``, ``d_fake_acc``,
        ``recon_loss``, ``train_loss``, ``dur`` and, with
        ``validation_fraction``, ``valid_loss``.

    n_components_ : int
        Size of the trained networks' latent code.

    image_shape_ : tuple of int or None
        ``(C, H, W)`` of image data, ``None`` for tabular data.

    architecture_ : str or callable
        The architecture used.

    training_params_ : dict
        ``max_epochs``, ``learning_rate``, ``learning_rate_schedule``,
        ``spectral_norm``, ``reconstruction_weight`` and ``dropout`` as the
        last training call used them: this estimator's parameters of those names.

    device_ : str
        The device training ran on.

    data_offset_, data_scale_ : ndarray
        Scaling learned in ``fit``.

    n_features_in_ : int
        Number of features seen in ``fit``.

    feature_names_in_ : ndarray of str
        Names of features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    ALITransformer : The unconditional model.
    ALIClassifier : Labels in the discriminator, to predict them.

    References
    ----------
    V. Dumoulin, I. Belghazi, B. Poole, O. Mastropietro, A. Lamb, M. Arjovsky,
    A. Courville, "Adversarially Learned Inference", ICLR 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_ali import ConditionalALI
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X[:200].reshape(-1, 1, 8, 8)
    >>> cali = ConditionalALI(n_components=8, max_epochs=2, random_state=0)
    >>> cali.fit(X, y[:200]).sample(3, y=7, random_state=0).shape
    (3, 1, 8, 8)
    """

    _parameter_constraints = {
        name: constraint
        for name, constraint in BaseALI._parameter_constraints.items()
        if name != "features"  # the codes are encode's; there is no transform
    }

    def __init__(
        self,
        n_components=64,
        *,
        architecture="auto",
        image_shape=None,
        hidden_layer_sizes=(512, 512),
        conv_width=32,
        encoder="stochastic",
        max_epochs=40,
        batch_size=100,
        learning_rate=2e-3,
        discriminator_learning_rate=None,
        generator_steps=1,
        learning_rate_schedule="constant",
        betas=(0.5, 0.999),
        dropout=0.2,
        spectral_norm=True,
        reconstruction_weight=10.0,
        reconstruction_weight_end=None,
        loss="non_saturating",
        gradient_penalty=0.0,
        device="auto",
        keep_on_device=False,
        precision="auto",
        distributed="auto",
        distributed_timeout=300.0,
        validation_fraction=0.0,
        warm_start=False,
        callbacks=None,
        verbose=0,
        random_state=None,
    ):
        self.n_components = n_components
        self.architecture = architecture
        self.image_shape = image_shape
        self.hidden_layer_sizes = hidden_layer_sizes
        self.conv_width = conv_width
        self.encoder = encoder
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.generator_steps = generator_steps
        self.learning_rate_schedule = learning_rate_schedule
        self.betas = betas
        self.dropout = dropout
        self.spectral_norm = spectral_norm
        self.reconstruction_weight = reconstruction_weight
        self.reconstruction_weight_end = reconstruction_weight_end
        self.loss = loss
        self.gradient_penalty = gradient_penalty
        self.device = device
        self.keep_on_device = keep_on_device
        self.precision = precision
        self.distributed = distributed
        self.distributed_timeout = distributed_timeout
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state

    # -- fit ---------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the conditional networks on X given the conditions y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_attributes)
            Conditions: class labels of any type (1-D), or a matrix of binary
            or real attributes (2-D), all finite.

        Returns
        -------
        self : ConditionalALI
            The fitted estimator.
        """
        return self._fit(X, y, epochs=None, resume=self.warm_start)

    # The game this estimator's networks play.
    game = CONDITIONAL

    def _encode_targets(self, y, n_samples, *, reset):
        """Conditions as a float32 tensor (n, n_conditions): one-hot or attributes."""
        conditions = self._conditions(y, reset=reset)
        if len(conditions) != n_samples:
            raise ValueError(
                f"X has {n_samples} samples but y has {len(conditions)}; they "
                "must match."
            )
        return conditions

    def _conditions(self, y, *, reset, what="y"):
        """Validate y and return its condition vectors, a float32 tensor."""
        name = type(self).__name__
        if y is None:
            raise ValueError(
                f"{name} requires y to be passed, but the target y is None: "
                "y gives the condition of each row (class labels or an "
                "attribute matrix)."
            )
        ndim = np.ndim(y)
        if ndim == 2:
            return self._attributes(y, reset=reset, what=what)
        if ndim != 1:
            raise ValueError(
                f"{what} must be class labels of shape (n_samples,) or attributes "
                f"of shape (n_samples, n_attributes); got {ndim} dimensions."
            )
        labels = column_or_1d(y)
        check_label_values(labels, what)
        if reset:
            if type_of_target(labels) == "continuous":
                raise ValueError(
                    f"{what} is 1-D and continuous; 1-D conditions are class "
                    "labels. Pass real-valued conditions as a 2-D attribute "
                    "matrix, for example y.reshape(-1, 1)."
                )
            check_classification_targets(labels)
            self.classes_ = np.unique(labels)
            self.n_conditions_ = len(self.classes_)
        elif not hasattr(self, "classes_"):
            raise ValueError(
                f"{what} is 1-D (class labels) but this model was fitted on "
                f"{self.n_conditions_} attributes: pass a 2-D attribute matrix."
            )
        check_label_kind(labels, self.classes_, what)
        unknown = np.setdiff1d(labels, self.classes_)
        if len(unknown):
            raise ValueError(
                f"{what} has labels {unknown.tolist()} not among the classes "
                f"{self.classes_.tolist()} seen in fit."
            )
        codes = np.searchsorted(self.classes_, labels)
        return torch.nn.functional.one_hot(
            torch.as_tensor(codes), self.n_conditions_
        ).float()

    def _attributes(self, y, *, reset, what):
        y = check_array(
            y, dtype=(np.float64, np.float32), ensure_all_finite=False, input_name=what
        )
        if not np.isfinite(y).all():
            rows = np.flatnonzero(~np.isfinite(y).all(axis=1))
            raise ValueError(
                f"{what} holds NaN or infinite attributes (rows "
                f"{rows[:5].tolist()}{', ...' if len(rows) > 5 else ''}); "
                "conditions must be fully observed."
            )
        # Conditions enter the networks as float32 as they are.
        too_large = np.abs(y) > np.finfo(np.float32).max
        if too_large.any():
            rows = np.flatnonzero(too_large.any(axis=1))
            raise ValueError(
                f"{what} holds attributes beyond float32's range (rows "
                f"{rows[:5].tolist()}{', ...' if len(rows) > 5 else ''}); the "
                "networks read conditions in float32: rescale them."
            )
        if reset:
            self.__dict__.pop("classes_", None)
            self.n_conditions_ = y.shape[1]
        elif hasattr(self, "classes_"):
            raise ValueError(
                f"{what} is an attribute matrix but this model was fitted on "
                f"class labels {self.classes_.tolist()}: pass 1-D labels."
            )
        elif y.shape[1] != self.n_conditions_:
            raise ValueError(
                f"{what} has {y.shape[1]} attributes; this model was fitted on "
                f"{self.n_conditions_}."
            )
        return torch.as_tensor(y, dtype=torch.float32)

    def _build_networks(self):
        self.n_components_ = self.n_components
        build, options = self._builder()
        shape, k = self._network_input_shape(), self.n_components_
        if callable(self.architecture_):  # a builder of one's own, unconditioned
            check_networks(
                build(shape, k, **options),
                shape,
                k,
                stochastic=options["stochastic"],
            )
        return build_conditional(build, shape, k, self.n_conditions_, **options)

    # -- inference -----------------------------------------------------------

    @over_dask_blocks(lambda self: self.n_components_, lambda self, X: feature_dtype(X))
    def encode(self, X, y):
        """Latent means mu(x, y) of q(z | x, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Data shaped as in ``fit``.
        y : array-like of shape (n_samples,) or (n_samples, n_attributes)
            Their conditions, of the kind seen in ``fit``.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X, _ = self._validate_X(X, reset=False)
        conditions = self._encode_targets(y, X.shape[0], reset=False)
        encoder = self.net_.encoder_
        return self._batched_encode(
            X, lambda x, noise, c: encoder.mean(x, c), condition=conditions
        )

    def decode(self, Z, y):
        """Data G_x(z, y) for latent codes Z and conditions y, in X's units.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)
            Latent codes, for example ``encode(X, y)`` or prior draws.
        y : label, attribute vector or array-like
            One condition for every row (a label, or a vector of
            ``n_conditions_`` attributes) or one per row.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features) or (n_samples, C, H, W)
            Decoded data, shaped like the training input.
        """
        check_is_fitted(self)
        Z = check_array(Z, dtype=(np.float64, np.float32))
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"Z has {Z.shape[1]} columns; this model was fitted with "
                f"n_components={self.n_components_}."
            )
        return self._decode(Z, self._per_row_conditions(y, len(Z)))

    def sample(
        self, n_samples=1, *, y, random_state=None, discriminator_rejection="auto"
    ):
        """Draw samples x = G_x(z, y) with z ~ N(0, I), given conditions y, kept
        or rejected by the discriminator.

        As ``ALITransformer.sample``: each draw is kept with probability
        min(1, exp(D(x, z, y) - M)), the discriminator's logit estimating
        log q(x, z | y) / p(x, z | y), M the 99th percentile of its logits on
        a first round of draws (20 per sample, at least 100, at most 10,000)
        spread over the conditions asked for.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        y : label, attribute vector or array-like
            One condition for every sample (a label, or a vector of
            ``n_conditions_`` attributes) or one per sample.
        random_state : int, RandomState instance or None, default=None
            Seeds the latent draws and the rejection's uniform draws; torch's
            global RNG is not used.
        discriminator_rejection : {"auto", True, False}, default="auto"
            Whether the discriminator rejects draws: ``"auto"`` with the
            default ``loss="non_saturating"``, not with ``loss="hinge"``
            (where ``True`` is refused); ``False`` returns G_x(z, y) for
            ``n_samples`` draws of the prior.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features) or (n_samples, C, H, W)
            Samples in the input's units and shape.
        """
        check_is_fitted(self)
        if not is_number(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive integer; got {n_samples!r}."
            )
        conditions = self._per_row_conditions(y, n_samples)
        rejection = self._check_rejection(discriminator_rejection)
        rng = check_random_state(random_state)
        if rejection:
            Z = self._rejection_codes(n_samples, rng, conditions)
        else:
            Z = rng.standard_normal((n_samples, self.n_components_))
        return self._decode(Z, conditions)

    def _per_row_conditions(self, y, n_rows):
        """Conditions for n_rows rows from one condition or one per row."""
        labels = hasattr(self, "classes_")
        one = np.ndim(y) == (0 if labels else 1)
        if one:
            y = [y] if labels else np.asarray(y)[None, :]
        conditions = self._conditions(y, reset=False)
        if one:
            conditions = conditions.expand(n_rows, -1)
        if len(conditions) != n_rows:
            raise ValueError(
                f"y gives {len(conditions)} conditions for {n_rows} rows: pass "
                "one condition for all rows or one per row."
            )
        return conditions

    def _probe_networks(self, x, z):
        c = torch.zeros(len(x), self.n_conditions_, device=x.device)
        return {
            "encoder": self.net_.encoder_.mean(x, c),
            "decoder": self.net_.decoder_(z, c),
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    # -- persistence ---------------------------------------------------------

    @classmethod
    def _check_io_attributes(cls, attributes):
        super()._check_io_attributes(attributes)
        n = attributes.get("n_conditions_")
        if not (type(n) is int and n >= 1):
            raise ValueError(
                f"fitted attribute n_conditions_={n!r} is not a positive int."
            )
        classes = attributes.get("classes_")
        if classes is not None and not (
            isinstance(classes, np.ndarray)
            and classes.ndim == 1
            and len(classes) == n
            and len(np.unique(classes)) == n
        ):
            raise ValueError(
                f"fitted attribute classes_={classes!r} is not an array of "
                f"n_conditions_={n} distinct labels."
            )
