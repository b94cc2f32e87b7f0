"""ALIClassifier: ALI with labels in D, a scikit-learn semi-supervised classifier."""

import math

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import (
    ClassifierMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._base import BaseALI
from ._batches import LabelledHoldOut
from ._inference import EncoderFeaturesMixin, over_dask_blocks
from ._state import register
from ._validation import check_label_kind, check_label_values
from .objectives import SEMI_SUPERVISED, class_logits

# The label of unlabelled rows, scikit-learn's semi-supervised convention.
UNLABELLED = -1


@register
class ALIClassifier(EncoderFeaturesMixin, ClassifierMixin, TransformerMixin, BaseALI):
    """Semi-supervised classification with ALI: labels in the discriminator.

    The model of Dumoulin et al. (ICLR 2017, section 4.3), after Salimans et
    al. (2016): ALI's encoder G_z(x), decoder G_x(z) and joint discriminator
    D(x, z) are trained adversarially as in
    :class:`~sklearn_ali.ALITransformer`, but D outputs K+1 logits, one per
    class and one for "generated". Encoder pairs (x, G_z(x)) must be one of
    the K classes, their own class when x is labelled; decoder pairs
    (G_x(z), z) must be "generated". Encoder and decoder play the usual
    non-saturating game on real versus generated, with the same cycle term
    as ALITransformer. The unlabelled rows teach D what real pairs look
    like, the labelled ones which class they belong to.

    ``fit(X, y)`` takes ``y == -1`` as unlabelled (as ``LabelSpreading`` and
    ``SelfTrainingClassifier`` do); a fully labelled ``y`` is fine too.
    ``predict_proba`` is the softmax of D's K class logits for the pair
    (x, mu(x)), mu(x) being the encoder's mean: a deterministic code, so
    predictions are reproducible and need no random draws. On digits with
    100 labels, predicting from one draw of z ~ q(z | x), or averaging the
    probabilities of ten draws, was no more accurate than mu.

    Data are scaled as in ALITransformer; training runs on skorch (``net_``)
    and on the GPU when there is one.

    Parameters
    ----------
    n_components : int, default=64
        Size of the latent code z (prior N(0, I)).

    architecture : str or callable, default="auto"
        Network family, as in ALITransformer: ``"conv"`` for image-shaped
        data, ``"mlp"`` otherwise, or a builder of one's own networks (see
        :mod:`sklearn_ali.networks`); its discriminator must output
        ``n_outputs = n_classes + 1`` logits.

    image_shape : tuple of int (channels, height, width), default=None
        Shape of images passed flat as ``(n_samples, C*H*W)``. Not needed for
        4-D input.

    hidden_layer_sizes : tuple of int, default=(512, 512)
        Widths of the MLP encoder's hidden layers (mirrored by the decoder and
        the discriminator's x branch).

    conv_width : int, default=32
        Channels of the first conv level; each further level doubles them.

    encoder : {"stochastic", "deterministic"}, default="stochastic"
        ``"stochastic"`` reparametrises z = mu + sigma * eps (ALI);
        ``"deterministic"`` maps x to a single z (BiGAN).

    features : {"hidden", "mean", "sample"}, default="hidden"
        What ``transform`` returns, as in ALITransformer: the outputs of the
        encoder's last three blocks (fewer when it has fewer) concatenated
        with mu, mu alone, or a draw from q(z | x). Predictions do not depend
        on it.

    max_epochs : int, default=40
        Passes over the training data (all rows, labelled or not). Twice
        ALITransformer's MLP, as its conv network: on MNIST-5k the test
        error was still falling after 20 epochs, most with 1,000 labels
        (:doc:`/benchmarks`).

    batch_size : int, default=100
        Rows per adversarial step. When fewer than half the rows are
        labelled, each step also draws ``batch_size // 2`` labelled rows for
        the class loss (they do not enter the adversarial game), cycling
        through the labelled rows in random order: with a few labels among
        many rows most batches would otherwise have few or none.

    learning_rate : float, default=2e-3
        Adam learning rate of the encoder and decoder (and of the
        discriminator unless ``discriminator_learning_rate`` is set). Ten
        times the rate of ALITransformer's MLP, the same as its conv
        network's: the discriminator is also the classifier, and on
        MNIST-5k 2e-3 took the error with 100 labels from 16.0 %
        (2e-4) to 10.7 % after 20 epochs on one draw, with no sign of
        instability (:doc:`/benchmarks`).

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

    learning_rate_schedule : {"constant", "linear"}, default="linear"
        How both players' learning rates move during ``fit``: kept, or
        decayed linearly to 0 over the fit's ``max_epochs``, after every
        batch (skorch's ``LRScheduler`` with ``LambdaLR``). Smaller steps
        at the end let the game settle; the default on every network
        (``ALITransformer`` decays on its conv network only), because on
        MNIST-5k the decay took the test error from 4.3 to 3.7 % with 100
        labels and from 3.1 to 2.5 % with 1,000 (3 draws, same draws and
        machine; see :doc:`/benchmarks`).
        The decay halves the mean rate: on small data, where a fit takes
        few steps, raise ``max_epochs`` with it (on 1,437 digits it cost
        1.9 points with 1,000 labels at 40 epochs and none at 80). A warm
        start decays again over its own epochs; ``partial_fit``, one pass
        with no planned end, trains at the constant rates.

    betas : tuple of float, default=(0.5, 0.999)
        Adam's betas for both players.

    dropout : float, default=0.2
        Dropout on every discriminator layer's input.

    spectral_norm : bool, default=False
        Spectral normalisation of the discriminator's layers, off by default
        on every network (``ALITransformer`` keeps it on its MLP and the
        paper's presets): the discriminator is also the classifier,
        and a 1-Lipschitz network cannot spread the class logits of nearby
        images apart. On MNIST-5k with 100 labels, turning it off took the
        error from 9.40 to 5.13 % (3 draws), on digits with 1,000 labels
        from 9.91 to 4.17 % (:doc:`/benchmarks`). Dropout, the cycle term
        and the divergence guard still stand against a winning
        discriminator.

    reconstruction_weight : float, default=10.0
        Weight of the L1 cycle term ``|x - G_x(G_z(x))|`` in the
        encoder/decoder loss, as in ALITransformer; 0 gives the paper's game.

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
        Fraction of the *labelled* rows held out (at random, seeded by
        ``random_state``; unlabelled rows all stay in training) to score
        each epoch: ``valid_loss`` in the history is the cross-entropy (log
        loss) of their predicted class probabilities, what ``EarlyStopping``
        and ``Checkpoint`` monitor. A ValueError is raised when the fraction
        leaves no labelled row for training. 0 trains on all of X.

    warm_start : bool, default=False
        When True, ``fit`` on a fitted model continues training its networks
        and optimizer for ``max_epochs`` more epochs; the labels of ``y`` must
        be among ``classes_``.

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
        The class labels, sorted; ``-1`` (unlabelled) is not among them.

    net_ : ALINet
        The trained skorch net.

    encoder_, decoder_, discriminator_ : torch.nn.Module
        The trained networks; the discriminator has ``n_classes + 1`` outputs.

    history_ : skorch.history.History
        Per-epoch ``d_loss``, ``g_loss``, ``d_real_acc``, ``d_fake_acc``,
        ``recon_loss`` (as in ALITransformer, ``d_loss`` including the class
        loss), ``class_loss`` (the cross-entropy of the labelled rows of the
        training batches), ``train_loss``, ``dur`` and, with
        ``validation_fraction``, ``valid_loss`` and ``valid_loss_best``.

    n_components_ : int
        Size of the trained networks' latent code.

    image_shape_ : tuple of int or None
        ``(C, H, W)`` of image data, ``None`` for tabular data.

    architecture_ : str or callable
        The architecture used: a preset's name, or the builder passed.

    training_params_ : dict
        ``max_epochs``, ``learning_rate``, ``learning_rate_schedule``,
        ``spectral_norm``, ``reconstruction_weight`` and ``dropout`` as the
        last training call used them: this estimator's parameters of those names.

    device_ : str
        The device training ran on.

    data_offset_, data_scale_ : ndarray
        Scaling learned in ``fit``.

    n_features_in_ : int
        Number of features seen in ``fit`` (C*H*W for images).

    feature_names_in_ : ndarray of str
        Names of features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    ALITransformer : The unsupervised model, for a feature pipeline.
    sklearn.semi_supervised.SelfTrainingClassifier : Self-training with any
        classifier, with the same ``y == -1`` convention.

    Notes
    -----
    Labels may be numbers or strings. As in ``SelfTrainingClassifier``,
    string labels must come in an array of dtype ``object`` in which the
    *integer* ``-1`` marks unlabelled rows; a numpy string array (dtype
    ``str``) cannot hold that integer and is refused, and the string ``"-1"``
    is an ordinary class.

    References
    ----------
    V. Dumoulin, I. Belghazi, B. Poole, O. Mastropietro, A. Lamb, M. Arjovsky,
    A. Courville, "Adversarially Learned Inference", ICLR 2017.

    T. Salimans, I. Goodfellow, W. Zaremba, V. Cheung, A. Radford, X. Chen,
    "Improved Techniques for Training GANs", NeurIPS 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_ali import ALIClassifier
    >>> digits = load_digits()
    >>> X, y = digits.images[:200, None], digits.target[:200].copy()
    >>> y[50:] = -1  # 50 labelled rows, 150 unlabelled
    >>> clf = ALIClassifier(n_components=8, max_epochs=2, random_state=0)
    >>> clf.fit(X, y).predict_proba(X).shape
    (200, 10)
    """

    game = SEMI_SUPERVISED

    def __init__(
        self,
        n_components=64,
        *,
        architecture="auto",
        image_shape=None,
        hidden_layer_sizes=(512, 512),
        conv_width=32,
        encoder="stochastic",
        features="hidden",
        max_epochs=40,
        batch_size=100,
        learning_rate=2e-3,
        discriminator_learning_rate=None,
        generator_steps=1,
        learning_rate_schedule="linear",
        betas=(0.5, 0.999),
        dropout=0.2,
        spectral_norm=False,
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

    # -- fit ---------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train ALI with labels in D on X and y.

        With ``warm_start=True`` and a fitted model, training continues from
        the fitted networks and optimizer for ``max_epochs`` more epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training data: tabular rows, flat images (with ``image_shape``)
            or images, labelled and unlabelled rows together.

        y : array-like of shape (n_samples,)
            Class labels, ``-1`` for unlabelled rows. At least one labelled
            row of each of two classes is needed.

        Returns
        -------
        self : ALIClassifier
            The fitted estimator.

        Raises
        ------
        TrainingDivergedError
            If a loss, weight or optimizer state becomes NaN or infinite. The
            weights of the last finite epoch are restored.
        """
        return self._fit(X, y, epochs=None, resume=self.warm_start)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one epoch on X and y: one pass over X in ``batch_size``
        batches (``ceil(len(X) / batch_size)`` steps).

        The first call initialises the model (scaling and classes); later
        calls continue from the current networks and optimizer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training data, shaped as in the first call.

        y : array-like of shape (n_samples,)
            Class labels, ``-1`` for unlabelled rows; on later calls, the
            labels must be among ``classes_``.

        classes : array-like of shape (n_classes,), default=None
            Every class of the problem, for the first call (later calls
            ignore it). By default the classes of the first call's ``y``.

        Returns
        -------
        self : ALIClassifier
            The fitted estimator.
        """
        return self._fit(X, y, epochs=1, resume=True, one_pass=True, classes=classes)

    def _encode_targets(self, y, n_samples, *, reset, classes=None):
        """Labels as class indices 0..K-1, -1 unlabelled; sets ``classes_``."""
        name = type(self).__name__
        if y is None:
            raise ValueError(
                f"{name} requires y to be passed, but the target y is None."
            )
        y = column_or_1d(y, warn=True)
        if len(y) != n_samples:
            raise ValueError(
                f"X has {n_samples} samples but y has {len(y)}; they must match."
            )
        if y.dtype.kind in "US":
            raise ValueError(
                "y has dtype string. If you wish to predict on string targets, "
                "use dtype object, and use -1 as the label for unlabeled samples."
            )
        labelled = y != UNLABELLED  # (n,) bool
        check_label_values(y[labelled], "y")
        if reset:
            if not labelled.any():
                raise ValueError(
                    f"y has no labelled row: every entry is {UNLABELLED} "
                    f"(unlabelled). {name} needs labelled rows of at least two "
                    "classes; for features learned without labels use "
                    "ALITransformer."
                )
            check_classification_targets(y[labelled])
            if classes is not None:
                classes = column_or_1d(classes)
                check_label_values(classes, "classes")
                self.classes_ = np.unique(classes[classes != UNLABELLED])
            else:
                self.classes_ = np.unique(y[labelled])
            if len(self.classes_) < 2:
                raise ValueError(
                    f"y has labelled rows of one class only "
                    f"({self.classes_.tolist()}); {name} needs at least two "
                    "classes."
                )
        elif labelled.any():
            check_classification_targets(y[labelled])
        check_label_kind(y[labelled], self.classes_, "y")
        unknown = np.setdiff1d(y[labelled], self.classes_)
        if len(unknown):
            raise ValueError(
                f"y has labels {unknown.tolist()} not among the classes "
                f"{self.classes_.tolist()}."
            )
        n_labelled = int(labelled.sum())
        if self.validation_fraction > 0:
            n_valid = math.ceil(self.validation_fraction * n_labelled)
            if n_labelled - n_valid < 1:
                raise ValueError(
                    f"validation_fraction={self.validation_fraction} holds out "
                    f"{n_valid} of the {n_labelled} labelled rows of y, leaving "
                    "none for training; lower it or label more rows."
                )
        codes = np.full(n_samples, UNLABELLED, dtype=np.int64)
        codes[labelled] = np.searchsorted(self.classes_, y[labelled])
        return codes

    def _check_validation_split(self, n_samples):
        # The split holds out labelled rows only, checked with the labels.
        return

    def _n_discriminator_outputs(self):
        # One logit per class and one for "generated".
        return len(self.classes_) + 1

    def _net_settings(self, *, seed):
        settings = super()._net_settings(seed=seed)
        if self.validation_fraction > 0:
            settings["train_split"] = LabelledHoldOut(
                self.validation_fraction, random_state=seed
            )
        return settings

    # -- prediction ----------------------------------------------------------

    def _class_logits(self, X):
        """D's K class logits for (x, mu(x)), float64, shape (n, K)."""
        check_is_fitted(self)
        X, _ = self._validate_X(X, reset=False)
        module = self.net_.module_
        module.discriminator.eval()
        logits = self._batched_encode(X, lambda x, noise: class_logits(module, x))
        return logits.astype(np.float64, copy=False)

    @over_dask_blocks(lambda self: len(self.classes_), lambda self, X: np.float64)
    def predict_proba(self, X):
        """Class probabilities: the softmax of D's class logits for (x, mu(x)).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Data shaped as in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of the classes of ``classes_``, in that order.
        """
        return softmax(self._class_logits(X), axis=1)

    @over_dask_blocks(lambda self: len(self.classes_), lambda self, X: np.float64)
    def predict_log_proba(self, X):
        """Logarithms of ``predict_proba``, computed stably from the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Data shaped as in ``fit``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return log_softmax(self._class_logits(X), axis=1)

    @over_dask_blocks(lambda self: None, lambda self, X: self.classes_.dtype)
    def predict(self, X):
        """The most probable class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Data shaped as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        logits = self._class_logits(X)  # checks that the model is fitted
        return self.classes_[np.argmax(logits, axis=1)]

    # -- transform -----------------------------------------------------------

    # -- persistence ---------------------------------------------------------

    @classmethod
    def _check_io_attributes(cls, attributes):
        super()._check_io_attributes(attributes)
        classes = attributes.get("classes_")
        if not (
            isinstance(classes, np.ndarray)
            and classes.ndim == 1
            and len(classes) >= 2
            and len(np.unique(classes)) == len(classes)
        ):
            raise ValueError(
                f"fitted attribute classes_={classes!r} is not an array of at "
                "least two distinct labels."
            )
