"""ALITransformer: Adversarially Learned Inference as a scikit-learn transformer."""

from numbers import Integral

import numpy as np
from sklearn.base import (
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseALI
from ._checks import TRAINING_PARAMS, is_number
from ._devices import SEED_BOUND
from ._inference import EncoderFeaturesMixin
from ._mixture import draw_codes, fit_code_mixture
from ._state import register

# What the training parameters left at "auto" stand for. On images the conv
# network trains with ALIClassifier's settings and a heavier cycle term: on
# MNIST-5k they drew digits rather than stroke fragments, with every class
# represented, kept the class of more reconstructions and brought the codes
# closer to the prior, with features as good or better, at twice the fit
# time. On rows the MLP trains with the 2-D toy grid's settings: its
# components are 0.05 wide, and a discriminator held to a small slope by
# spectral normalisation, or shown one of a point's two coordinates by
# dropout, cannot tell a point on a mode from one beside it; a slow rate
# decaying to 0 lets the decoder sharpen. They also gave better features
# with 100 labels on digits' flat rows (and worse with 1,000). The paper's
# presets were not measured with either; they keep DCGAN's settings. The
# figures are on the benchmarks page, "Training settings keyed to the
# architecture" and "The MLP's defaults: the toy grid's settings".
AUTO_TRAINING_PARAMS = {
    "conv": {
        "max_epochs": 40,
        "learning_rate": 2e-3,
        "learning_rate_schedule": "linear",
        "spectral_norm": False,
        "reconstruction_weight": 20.0,
        "dropout": 0.2,
    },
    "mlp": {
        "max_epochs": 20,
        "learning_rate": 1e-4,
        "learning_rate_schedule": "linear",
        "spectral_norm": False,
        "reconstruction_weight": 3.0,
        "dropout": 0.0,
    },
    "other": {
        "max_epochs": 20,
        "learning_rate": 2e-4,
        "learning_rate_schedule": "constant",
        "spectral_norm": True,
        "reconstruction_weight": 10.0,
        "dropout": 0.2,
    },
}


@register
class ALITransformer(EncoderFeaturesMixin, TransformerMixin, BaseALI):
    """Adversarially Learned Inference (ALI / BiGAN) feature learner.

    ``fit`` trains ALI's encoder G_z(x), decoder G_x(z) and joint
    discriminator D(x, z) adversarially (Dumoulin et al., ICLR 2017);
    ``transform`` returns encoder features, so that
    ``Pipeline([("ali", ALITransformer()), ("svm", LinearSVC())])`` is a
    semi-supervised classifier whose feature learner uses no labels.

    Data are scaled by the estimator itself (learned in ``fit``): images to
    [0, 1] with the data's global minimum and maximum, flat tabular data to
    zero mean and unit variance per feature. ``inverse_transform`` and
    ``sample`` return values in the input's units.

    Training runs on skorch (``net_``) and on the GPU when there is one.

    Parameters
    ----------
    n_components : int, default=64
        Size of the latent code z (prior N(0, I)).

    architecture : str or callable, default="auto"
        Network family: ``"auto"``, ``"mlp"``, ``"conv"``, ``"svhn"``,
        ``"cifar10"`` or ``"celeba"`` (:data:`sklearn_ali.networks.ARCHITECTURES`),
        or a builder. ``"auto"`` uses ``"conv"`` for image-shaped data (4-D
        input, or ``image_shape`` given) and ``"mlp"`` otherwise. ``"conv"``
        sizes itself to the image (at least 8x8). ``"svhn"``, ``"cifar10"``
        (3x32x32) and ``"celeba"`` (3x64x64) are the paper's appendix tables,
        listed in the user guide. A callable builds networks of one's
        own: ``architecture(input_shape, n_components, *, stochastic,
        dropout, spectral_norm, n_outputs)`` returns ``(encoder, decoder,
        discriminator)`` keeping the contract of :mod:`sklearn_ali.networks`
        (checked before training); ``input_shape`` is ``(C, H, W)`` for
        images, ``(n_features,)`` for rows. ``hidden_layer_sizes`` and
        ``conv_width`` then play no part.

    image_shape : tuple of int (channels, height, width), default=None
        Shape of images passed flat as ``(n_samples, C*H*W)``. Not needed for
        4-D input.

    hidden_layer_sizes : tuple of int, default=(256, 256, 256)
        Widths of the MLP encoder's hidden layers (mirrored by the decoder and
        the discriminator's x branch). Three layers of 256 put the toy grid's
        samples on its modes where two of 512 did not (see ``max_epochs``).

    conv_width : int, default=32
        Channels of the first conv level; each further level doubles them.

    encoder : {"stochastic", "deterministic"}, default="stochastic"
        ``"stochastic"`` reparametrises z = mu + sigma * eps (ALI);
        ``"deterministic"`` maps x to a single z (BiGAN).

    features : {"hidden", "mean", "sample"}, default="hidden"
        What ``transform`` returns: the outputs of the encoder's last three
        blocks (all of them when it has fewer; conv maps max-pooled to at
        most 4x4) concatenated with mu, as in the paper's SVHN protocol; the
        encoder mean mu(x) alone; or a draw from q(z | x). How many blocks
        ``"hidden"`` takes depends on the architecture: the MLP has one per
        entry of ``hidden_layer_sizes`` (three with the defaults, 768 +
        ``n_components`` columns), the conv net one per level it sizes to the
        images (one for 8x8, three for 28x28), the SVHN net six (the last
        three are taken); ``get_feature_names_out`` names each column's
        block. ``"hidden"`` is the default because it is the better
        feature for a linear classifier on every data set measured (MNIST-5k:
        16.7 % error with 100 labels against 25.3 % for mu; see
        :doc:`/benchmarks`), at the price of width (2,752 features for
        28x28 images, against ``n_components``). Its last ``n_components``
        columns are mu, so ``inverse_transform(transform(X))`` still
        reconstructs X; ``encode`` returns mu whatever this is.

    max_epochs : int or "auto", default="auto"
        Passes over the training data. ``"auto"``: 40 for the ``"conv"``
        architecture, 20 for the others. The six training parameters left
        at ``"auto"`` (this one, ``learning_rate``,
        ``learning_rate_schedule``, ``spectral_norm``,
        ``reconstruction_weight`` and ``dropout``) are chosen for the
        architecture in ``fit`` and stored in ``training_params_``. For the
        ``"conv"`` network they are :class:`ALIClassifier`'s settings with a
        heavier cycle term: on MNIST-5k they drew digits rather than stroke
        fragments, with every class represented, kept the class of more
        reconstructions and brought the codes closer to the prior, with
        features as good or better, at twice the fit time. For the
        ``"mlp"`` network (rows) they are the settings that put the samples
        of the paper's 2-D toy grid on its modes: a slow rate decaying to 0,
        a light cycle term, and a discriminator without spectral
        normalisation or dropout, which could not otherwise tell a point on
        one of the grid's narrow modes from one beside it. On digits' flat
        rows they gave better features with 100 labels and worse with 1,000.
        The paper's presets keep DCGAN's settings (see :doc:`/benchmarks`).
        40 epochs of the 28x28 conv network on 4,000 MNIST digits take about
        2 minutes on 2 otherwise idle CPU cores with native bfloat16 (see
        ``precision``), 2.4 to 3.2 minutes in float32 (the same machine on
        two days).

    batch_size : int, default=100
        Samples per adversarial step.

    learning_rate : float or "auto", default="auto"
        Adam learning rate of the encoder and decoder. ``"auto"`` (see
        ``max_epochs``): 2e-3 for the ``"conv"`` architecture, as in
        :class:`ALIClassifier`; 1e-4 for the ``"mlp"``, as for the paper's toy
        grid; 2e-4, DCGAN's rate, for the others.

    discriminator_learning_rate : float, default=None
        Adam learning rate of the discriminator; ``None`` uses
        ``learning_rate``.

    generator_steps : int, default=1
        Optimizer steps of the encoder and decoder per step of the
        discriminator. The first is taken together with the discriminator's,
        from one play of the game; each other one plays the same batch again
        with new prior draws and steps the encoder and decoder alone (the
        history records the first play). More steps weaken the discriminator's
        lead and cost time per epoch: on MNIST-5k, ``generator_steps=2`` with
        the ``"conv"`` network's 40 epochs gave decoder draws (``sample``
        without rejection) that an SVC of real digits read with confidence
        0.71-0.76 times as often as real digits (seeds 0, 1 and 3; 0.60-0.66
        with one step), with the discriminator right on 0.62-0.69 of the pairs
        (0.72-0.75 with one step), at about 1.7 times the fit time. The hidden
        features stayed within a labelled draw's spread with 100 labels and
        lost 0.4-1.0 points with 1,000; the latent means lost 10-13 points with
        100 labels (see :doc:`/benchmarks`).

    learning_rate_schedule : {"constant", "linear", "auto"}, default="auto"
        How both players' learning rates move during ``fit``: kept, or
        decayed linearly to 0 over the fit's ``max_epochs``, after every
        batch (skorch's ``LRScheduler`` with ``LambdaLR``). ``"auto"`` (see
        ``max_epochs``): ``"linear"`` for the ``"conv"`` and ``"mlp"``
        architectures, ``"constant"`` for the others. Smaller steps
        at the end let the game settle: on the 2-D toy grid the decoder
        puts its samples on the modes only with the decay (see
        :doc:`/benchmarks`). A warm start decays again over its own
        epochs; ``partial_fit``, one pass with no planned end, trains at
        the constant rates.

    betas : tuple of float, default=(0.5, 0.999)
        Adam's betas for both players.

    dropout : float or "auto", default="auto"
        Dropout on every discriminator layer's input. ``"auto"`` (see
        ``max_epochs``): 0 for the ``"mlp"`` architecture, whose first layer
        would otherwise hide each coordinate of a 2-D point one time in five;
        0.2 for the others.

    spectral_norm : bool or "auto", default="auto"
        Spectral normalisation of the discriminator's layers, which keeps it
        from winning outright early in training at DCGAN's learning rate.
        ``"auto"`` (see ``max_epochs``): off for the ``"conv"`` and ``"mlp"``
        architectures, on for the others.

    reconstruction_weight : float or "auto", default="auto"
        Weight of the L1 cycle term ``|x - G_x(G_z(x))|`` (ALICE, Li et al. 2017)
        in the encoder/decoder loss, on scaled data (mean over features). It
        makes the encoder carry the content of x into z: with weight 1 the
        latent means were worse features than raw pixels on MNIST-5k, with 10
        they beat them. 0 gives the paper's pure ALI. ``"auto"`` (see
        ``max_epochs``): 20 for the ``"conv"`` architecture, 3 for the
        ``"mlp"``, 10 for the others.

    reconstruction_weight_end : float, default=None
        The cycle term's weight at the last epoch, reached linearly from
        ``reconstruction_weight`` at the first (set at each epoch's start);
        ``None`` keeps the weight throughout. A cycle term that lightens as the
        fit goes on leaves the decoder more to the game: on MNIST-5k, 120
        epochs of the ``"conv"`` network with the weight moved from 20 to 5
        gave decoder draws (``sample`` without rejection) that an SVC of real
        digits read with confidence 0.77-0.80 times as often as real digits
        (five seeds), against 0.74 with the weight kept (one seed) and
        0.60-0.68 for the 40-epoch defaults; 90-92 % of their reconstructions
        kept their class, against 93.5 % with the weight kept. At the defaults'
        40 epochs the samples stayed where they were (see :doc:`/benchmarks`).
        A warm start moves the weight over its own epochs; ``partial_fit``
        keeps it.

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
        Keep the trained networks on ``device`` after ``fit`` (faster
        ``transform`` on a GPU). By default they are moved to the CPU.

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
        Data-parallel training over several processes (PyTorch
        DistributedDataParallel). ``"auto"``: when the script was launched
        by ``torchrun`` with several processes (or a ``torch.distributed``
        process group of several ranks is initialised), ``fit`` trains one
        model over all of them: each rank trains on its share of every
        batch of ``batch_size`` rows, on ``cuda:LOCAL_RANK`` when
        ``device`` is ``"auto"`` or ``"cuda"``, and every rank ends with the
        same weights and history; only rank 0 prints. Every rank must call
        ``fit`` alike; processes a rank starts itself (joblib's workers)
        train alone. ``False``: train in this process alone. ``True``: as
        ``"auto"``, but ``fit`` raises if there is no group of several
        processes. See "Scaling out" in the user guide.

    distributed_timeout : float, default=300.0
        Seconds a data-parallel ``fit`` waits for every rank to join the
        process group (and, once joined, for each collective step). Past
        it, ``fit`` raises an error naming the ranks that did not join
        (a rank that never calls ``fit``, say), where it would otherwise
        wait forever.

    validation_fraction : float, default=0.0
        Fraction of X held out (at random, seeded by ``random_state``) to
        score each epoch: ``valid_loss`` in the history is the mean absolute
        reconstruction error ``|x - G_x(mu(x))|`` of the held-out rows, in
        scaled units, which tracks how much of x the features carry. Needed
        by callbacks that monitor validation, such as skorch's
        ``EarlyStopping()`` and ``Checkpoint()`` with their defaults, or
        ``EpochScoring``. 0 trains on all of X.

    warm_start : bool, default=False
        When True, ``fit`` on a fitted model continues training its networks
        and optimizer for ``max_epochs`` more epochs (the scaling of the first
        fit is kept) instead of starting anew. The hyperparameters that shape
        the networks must not change in between.

    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (e.g. ``Checkpoint``, ``EarlyStopping``,
        ``LRScheduler``, ``GradientNormClipping``), copied at ``fit``. They
        see one optimizer, ``net_.optimizer_``, with a parameter group per
        player, so ``LRScheduler`` schedules both players.

    verbose : int, default=0
        ``1`` shows one progress bar over the fit, carrying the epoch and the
        current losses; ``2`` prints a table of the losses after each epoch
        (a skorch net's ``verbose=1``), coloured only on a terminal.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batching, dropout and noise. On the CPU a
        fixed value gives identical results; torch's global RNG is left as it
        was.

    Attributes
    ----------
    net_ : ALINet
        The trained skorch net.

    encoder_, decoder_, discriminator_ : torch.nn.Module
        The trained networks (properties of ``net_``).

    history_ : skorch.history.History
        Per-epoch ``d_loss``, ``g_loss``, ``d_real_acc`` and ``d_fake_acc``
        (discriminator accuracy on encoder and decoder pairs), ``recon_loss``,
        ``train_loss`` (``d_loss + g_loss``, skorch's training loss), ``dur``
        and, with ``validation_fraction``, ``valid_loss`` and
        ``valid_loss_best``.

    n_components_ : int
        Size of the trained networks' latent code; post-fit methods use it,
        not ``n_components``.

    image_shape_ : tuple of int or None
        ``(C, H, W)`` of image data, ``None`` for tabular data.

    architecture_ : str or callable
        The architecture used: a preset's name, or the builder passed.

    code_mixture_ : dict
        The Gaussian mixture of the training codes that ``sample`` draws
        codes from: ``weights`` (k,), ``means`` (k, n_components) and the
        covariances' Cholesky factors ``scale_tril`` (k, n_components,
        n_components), k = min(20, n_samples), fitted by
        :class:`~sklearn.mixture.GaussianMixture` to mu(x) of at most 10,000
        training rows at the end of ``fit``. ``partial_fit`` removes it (the
        networks no longer give those codes), as does a fit stopped by
        divergence.

    training_params_ : dict
        ``max_epochs``, ``learning_rate``, ``learning_rate_schedule``,
        ``spectral_norm``, ``reconstruction_weight`` and ``dropout`` as the
        last training call used them, ``"auto"`` resolved for ``architecture_``.

    device_ : str
        The device training ran on.

    data_offset_, data_scale_ : ndarray
        Scaling learned in ``fit``: the networks see
        ``(X - data_offset_) / data_scale_``.

    n_features_in_ : int
        Number of features seen in ``fit`` (C*H*W for images).

    feature_names_in_ : ndarray of str
        Names of features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    sklearn.neural_network.BernoulliRBM : A shallow generative feature learner.
    sklearn.decomposition.PCA : A linear feature learner.

    References
    ----------
    V. Dumoulin, I. Belghazi, B. Poole, O. Mastropietro, A. Lamb, M. Arjovsky,
    A. Courville, "Adversarially Learned Inference", ICLR 2017.

    J. Donahue, P. Krähenbühl, T. Darrell, "Adversarial Feature Learning",
    ICLR 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_ali import ALITransformer
    >>> X = load_digits().images[:200, None]  # (200, 1, 8, 8)
    >>> ali = ALITransformer(n_components=8, max_epochs=2, random_state=0)
    >>> ali.fit_transform(X).shape  # blocks' outputs, then mu(x)
    (200, 520)
    >>> ali.set_params(features="mean").transform(X).shape  # mu(x) alone
    (200, 8)
    """

    def __init__(
        self,
        n_components=64,
        *,
        architecture="auto",
        image_shape=None,
        hidden_layer_sizes=(256, 256, 256),
        conv_width=32,
        encoder="stochastic",
        features="hidden",
        max_epochs="auto",
        batch_size=100,
        learning_rate="auto",
        discriminator_learning_rate=None,
        generator_steps=1,
        learning_rate_schedule="auto",
        betas=(0.5, 0.999),
        dropout="auto",
        spectral_norm="auto",
        reconstruction_weight="auto",
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
        self.features = features
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

    _parameter_constraints = {
        **BaseALI._parameter_constraints,
        **{
            name: [*BaseALI._parameter_constraints[name], StrOptions({"auto"})]
            for name in TRAINING_PARAMS
        },
    }

    def _auto_training_params(self):
        arch = self.architecture_
        return AUTO_TRAINING_PARAMS[arch if arch in ("conv", "mlp") else "other"]

    # -- fit ---------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train ALI on X; ``y`` is ignored (ALI learns without labels).

        With ``warm_start=True`` and a fitted model, training continues from
        the fitted networks and optimizer for ``max_epochs`` more epochs, with
        the scaling learned in the first fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training data: tabular rows, flat images (with ``image_shape``)
            or images. Float or integer pixels (0-255 or 0-1) are fine.

        y : None
            Ignored.

        Returns
        -------
        self : ALITransformer
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            If a loss, weight or optimizer state becomes NaN or infinite. The
            weights of the last finite epoch are restored and the estimator
            can still transform.
        """
        return self._fit(X, epochs=None, resume=self.warm_start)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train ALI for one epoch on X: one pass over X in ``batch_size``
        batches.

        The first call initialises the model (the scaling is learned from
        this X, so pass a representative batch); later calls continue from
        the current networks and optimizer. Unlike
        ``BernoulliRBM.partial_fit``, which takes one gradient step on X as a
        single batch, each call takes ``ceil(len(X) / batch_size)`` steps.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training data, shaped as in the first call.

        y : None
            Ignored.

        Returns
        -------
        self : ALITransformer
            The fitted estimator.
        """
        return self._fit(X, epochs=1, resume=True, one_pass=True)

    def _train(self, net, data, epochs, *, one_pass=False):
        # The mixture of the codes the networks gave before is not theirs now.
        vars(self).pop("code_mixture_", None)
        super()._train(net, data, epochs, one_pass=one_pass)
        if not one_pass:
            # partial_fit's rows may be one batch of a stream: too few for a
            # density of the data's codes.
            seed = (self._seed_ + len(net.history)) % SEED_BOUND
            self.code_mixture_ = fit_code_mixture(self._mean_codes, data.X, seed)

    # -- transform and friends ---------------------------------------------

    def inverse_transform(self, X):
        """Decode latent codes into data, in the input's units and shape.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components) or \
                (n_samples, n_hidden_features)
            Latent codes (for example ``encode(X)``), or the features of
            ``transform(X)`` with ``features="hidden"``, whose last
            ``n_components`` columns, mu, are decoded.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features) or (n, C, H, W)
            G_x(z), the decoder's output, shaped like the training input.
        """
        check_is_fitted(self)
        return self._decode(self._check_codes(X))

    def sample(
        self,
        n_samples=1,
        random_state=None,
        *,
        codes="auto",
        discriminator_rejection="auto",
    ):
        """Draw samples from the fitted model: x = G_x(z) for codes z drawn
        where the training data's codes lie.

        ALI's encoder brings the data's codes close to the prior N(0, I) but
        not onto all of it, and the decoder turns prior draws from where no
        datum's code lies into shapes between the data's. Two ways around
        this:

        - ``codes="mixture"``: codes drawn from ``code_mixture_``, a Gaussian
          mixture of 20 components that ``fit`` fitted to the codes mu(x) of
          (at most 10,000 of) the training rows ("ex-post density
          estimation", Ghosh et al., 2020). The default for every
          architecture but the MLP, with the cycle term (without it the
          decoder is trained on prior draws only, and on digits it decoded
          the data's codes worse than those).
          On MNIST-5k (ten seeds) the RBF SVC judge of the benchmarks was
          confident on 0.92-0.98 times as many of these samples as of real
          digits (mean 0.95), every class 7.3 % of them or more, and the
          samples lay about as far from their closest training digit as
          real test digits do (:doc:`/benchmarks`). Drawing them costs
          little more than decoding.
        - ``codes="prior"`` with discriminator rejection sampling (Azadi et
          al., 2019): each prior draw is kept with probability
          min(1, exp(D(x, z) - M)). At its optimum ALI's D(x, z) is
          log q(x, z) / p(x, z), the log-ratio of the encoder joint to the
          decoder joint, so the kept draws follow the encoder joint, whose x
          are distributed as the data. Draws come in rounds of 20 per sample
          asked for (at least 100, at most 10,000) until ``n_samples`` are
          kept, and M is the 99th percentile of D's logits on the first
          round; a call costs about 20 decoder and discriminator passes per
          sample. The default for the MLP: on the 2-D toy grid it put
          92-96 % of the samples within 3 std of a mode (ten seeds), where
          the mixture's 20 components, fewer than the grid's 25 modes, put
          76.6 and 91.5 % there (two seeds). On MNIST-5k the judge's ratio
          was 0.72-0.86 (mean 0.80).

        ``inverse_transform`` decodes any codes, with neither.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.

        random_state : int, RandomState instance or None, default=None
            Seeds the codes and the rejection's uniform draws; torch's global
            RNG is not used.

        codes : {"auto", "mixture", "prior"}, default="auto"
            Where the codes come from. ``"mixture"``: ``code_mixture_``.
            ``"prior"``: N(0, I). ``"auto"``: the mixture for every
            architecture but the MLP, where the cycle term trained the
            decoder on the data's codes (``reconstruction_weight`` > 0); the
            prior for the MLP, without the cycle term, and for models without
            a mixture (``partial_fit``, a fit stopped by divergence and models
            stored by versions before the mixture leave none).

        discriminator_rejection : {"auto", True, False}, default="auto"
            Whether the discriminator rejects prior draws. ``"auto"``: with
            prior codes and the default ``loss="non_saturating"``, whose D
            estimates the log-ratio; not with ``loss="hinge"``, whose critic
            does not, and not with the mixture's codes, against which D's
            logit is no such ratio (``True`` is refused with either).
            ``False``: G_x(z) for every code drawn.

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
        mixture = self._check_code_source(codes)
        rejection = self._check_rejection(discriminator_rejection, mixture=mixture)
        rng = check_random_state(random_state)
        if mixture:
            return self._decode(draw_codes(self.code_mixture_, n_samples, rng))
        if rejection:
            return self._decode(self._rejection_codes(n_samples, rng))
        Z = rng.standard_normal((n_samples, self.n_components_))
        return self._decode(Z)

    def _check_code_source(self, codes):
        """``sample``'s ``codes`` as a bool: whether they come from the mixture."""
        if not isinstance(codes, str) or codes not in ("auto", "mixture", "prior"):
            raise ValueError(
                f'codes must be "auto", "mixture" or "prior"; got {codes!r}.'
            )
        fitted = hasattr(self, "code_mixture_")
        if codes == "mixture" and not fitted:
            raise ValueError(
                'codes="mixture" needs the mixture of the training codes that '
                "fit fits; this model has none (partial_fit and a fit stopped "
                "by divergence leave none, and models stored by versions "
                'before it have none). Call fit, or sample with codes="prior".'
            )
        # Auto is the prior for the MLP: on the 2-D toy grid the mixture's 20
        # components straddle the 25 modes' codes, and its draws fell between
        # modes more often than the rejection's. And without the cycle term,
        # which trains the decoder on the data's codes: it then learns to
        # decode prior draws only, and on digits decoded the data's codes
        # worse than those.
        auto = (
            fitted
            and self.architecture_ != "mlp"
            and self.training_params_["reconstruction_weight"] > 0
        )
        return codes == "mixture" or (codes == "auto" and auto)

    def _check_codes(self, Z):
        Z = check_array(Z, dtype=(np.float64, np.float32))
        if Z.shape[1] != self.n_components_:
            # Only then probe the encoder for the width of "hidden" features,
            # which end with mu (Encoder.hidden_features).
            width = self._hidden_width()
            if Z.shape[1] == width:
                Z = Z[:, width - self.n_components_ :]
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"Latent codes have {Z.shape[1]} columns; this model was fitted "
                f"with n_components={self.n_components_} (codes), and its "
                f'features="hidden" have {width} columns.'
            )
        return Z
