"""Evaluation protocols of the ALI paper.

- :func:`semi_supervised_score`: features from a (usually unsupervised)
  transformer, then an L2-SVM trained on a few labelled examples, repeated over
  random labelled draws (the SVHN protocol of Table 1).
- :func:`count_modes`: mode coverage of generated samples on a mixture of
  Gaussians (the 2-D toy experiment).
- :func:`classifier_sample_score`: how a classifier trained on real data
  reads generated samples or reconstructions (confidence, class balance,
  class kept).
"""

import numbers
import time
import warnings

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils import Bunch, _safe_indexing, check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from ._validation import check_int, check_positive_float

__all__ = ["classifier_sample_score", "count_modes", "semi_supervised_score"]

# Labelled draws averaged per value of C during model selection.
_N_SELECTION_DRAWS = 5
# On separable labelled sets with a large C, liblinear's dual solver runs to
# whatever cap it is given (on MNIST-5k raw pixels, minutes per setting at
# 10,000); twice sklearn's default keeps the protocol's hundreds of fits
# affordable.
_SVM_MAX_ITER = 2_000
_SEED_HIGH = np.iinfo(np.int32).max
# Rows of samples scored against all the means at once in count_modes.
_COUNT_MODES_CHUNK = 8192


def semi_supervised_score(
    transformer,
    X,
    y,
    *,
    X_test=None,
    y_test=None,
    n_labeled=1000,
    n_repeats=100,
    validation_size=0.2,
    test_size=0.2,
    C_grid=(0.001, 0.01, 0.1, 1.0, 10.0),
    standardize=True,
    random_state=None,
):
    """Semi-supervised test error of an L2-SVM on learned features.

    Implements the protocol of the ALI paper (Dumoulin et al., 2017, Table 1):
    features are computed once, the SVM's ``C`` is chosen on a held-out
    validation split, and then a linear SVM with squared hinge loss
    (:class:`~sklearn.svm.LinearSVC`) is trained on ``n_labeled``
    class-balanced labelled examples and scored on the test set, for
    ``n_repeats`` random labelled draws.

    Parameters
    ----------
    transformer : estimator, Pipeline or "passthrough"
        Any scikit-learn transformer (or a Pipeline of transformers) whose
        ``transform`` maps samples to features; outputs with more than two
        dimensions are flattened per sample. If it is fitted it is used as
        is. Otherwise a clone is fitted **without labels** on the training
        part of ``X`` (the unlabelled pool, validation rows included, never
        the test rows). ``"passthrough"`` uses the raw samples, flattened.
    X : array-like of shape (n_samples, ...)
        Samples, in whatever form ``transformer`` accepts (for example
        images of shape (n_samples, 3, 32, 32)).
    y : array-like of shape (n_samples,)
        Class labels of ``X``. Only the SVM sees them.
    X_test : array-like of shape (n_test_samples, ...), default=None
        Test samples. If None, a stratified ``test_size`` split of ``X`` is
        held out.
    y_test : array-like of shape (n_test_samples,), default=None
        Labels of ``X_test``; required exactly when ``X_test`` is given.
    n_labeled : int, default=1000
        Labelled examples per draw. Each draw takes
        ``n_labeled // n_classes`` examples of every class, so the number
        actually used (reported in the result) is a multiple of the number
        of classes.
    n_repeats : int, default=100
        Number of random labelled draws, each scored on the test set.
    validation_size : float or int, default=0.2
        Fraction (float in (0, 1)) or number (int) of the training samples
        held out, stratified, to choose ``C``. The paper holds out 10,000
        SVHN training images.
    test_size : float or int, default=0.2
        Fraction or number of samples of ``X`` held out, stratified, as the
        test set when ``X_test`` is None; ignored otherwise.
    C_grid : sequence of float, default=(0.001, 0.01, 0.1, 1.0, 10.0)
        Candidate values of the SVM's ``C``. Each is scored by the mean
        validation accuracy over a few labelled draws; ties go to the
        earliest value.
    standardize : bool, default=True
        If True, features are standardised with a
        :class:`~sklearn.preprocessing.StandardScaler` fitted on the
        unlabelled training pool (unsupervised statistics only).
    random_state : int, RandomState instance or None, default=None
        Controls the splits, the labelled draws and the SVM. Pass an int for
        reproducible results.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With attributes

        mean_error : float
            Mean test error over the draws, a fraction in [0, 1].
        std_error : float
            Standard deviation (ddof=0) of the test error over the draws.
        errors : ndarray of shape (n_repeats,)
            Test error of each draw.
        best_C : float
            The value of ``C`` chosen on the validation split.
        validation_scores : dict
            Mean validation accuracy for every value in ``C_grid``.
        n_labeled : int
            Labelled examples actually used per draw.
        n_repeats : int
            Number of draws.
        n_features : int
            Dimension of the features.
        fit_time : float
            Seconds spent fitting the transformer (0 if it was already
            fitted or ``"passthrough"``).
        transform_time : float
            Seconds spent computing the features.
        transformer : estimator or None
            The fitted transformer that produced the features (None for
            ``"passthrough"``).

    Raises
    ------
    ValueError
        On inconsistent inputs, or when a class has fewer than
        ``n_labeled // n_classes`` examples available for labelling.

    Notes
    -----
    Error bars from this protocol only reflect the choice of labelled
    examples; the transformer is trained once. To include training
    variability, call the function for several transformer seeds.

    References
    ----------
    V. Dumoulin et al., "Adversarially Learned Inference", ICLR 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_ali.evaluation import semi_supervised_score
    >>> X, y = load_digits(return_X_y=True)
    >>> result = semi_supervised_score(
    ...     "passthrough", X, y, n_labeled=100, n_repeats=3, random_state=0
    ... )
    >>> bool(result.mean_error < 0.3)
    True
    """
    rng = _check_random_state(random_state)
    n_labeled = check_int(n_labeled, "n_labeled", minimum=1)
    n_repeats = check_int(n_repeats, "n_repeats", minimum=1)
    validation_size = _check_split_size(validation_size, "validation_size")
    C_grid = _check_C_grid(C_grid)
    if not isinstance(standardize, (bool, np.bool_)):
        raise TypeError(f"standardize must be True or False; got {standardize!r}.")
    y = _check_labels(y, "y")
    n_samples = _num_samples(X, "X")
    if n_samples != len(y):
        raise ValueError(f"X has {n_samples} samples but y has {len(y)} labels.")
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("y must contain at least two classes.")
    if n_labeled < len(classes):
        raise ValueError(
            f"n_labeled={n_labeled} is smaller than the number of classes "
            f"({len(classes)}); at least one labelled example per class is needed."
        )
    n_per_class = n_labeled // len(classes)

    if (X_test is None) != (y_test is None):
        raise ValueError("Pass both X_test and y_test, or neither.")
    if X_test is None:
        test_size = _check_split_size(test_size, "test_size")
        pool_idx, test_idx = train_test_split(
            np.arange(n_samples),
            test_size=test_size,
            stratify=y,
            random_state=rng.randint(_SEED_HIGH),
        )
        y_test = y[test_idx]
    else:
        y_test = _check_labels(y_test, "y_test")
        n_test = _num_samples(X_test, "X_test")
        if n_test != len(y_test):
            raise ValueError(
                f"X_test has {n_test} samples but y_test has {len(y_test)} labels."
            )
        unseen = np.setdiff1d(y_test, classes)
        if unseen.size:
            raise ValueError(f"y_test has labels absent from y: {unseen.tolist()}.")
        pool_idx = np.arange(n_samples)

    try:
        labeled_idx, val_idx = train_test_split(
            pool_idx,
            test_size=validation_size,
            stratify=y[pool_idx],
            random_state=rng.randint(_SEED_HIGH),
        )
    except ValueError as exc:
        # train_test_split names its own test_size, not validation_size.
        raise ValueError(
            f"validation_size={validation_size} cannot be held out of the "
            f"{len(pool_idx)} training samples ({exc})"
        ) from exc
    _check_class_counts(y[labeled_idx], classes, n_per_class)

    transformer, fit_time = _fit_transformer(
        transformer, X, None if X_test is not None else pool_idx
    )
    start = time.perf_counter()
    features = _transform(transformer, X, n_samples, "X")
    if X_test is not None:
        test_features = _transform(transformer, X_test, len(y_test), "X_test")
    transform_time = time.perf_counter() - start
    if X_test is None:
        test_features = features[test_idx]
    elif test_features.shape[1] != features.shape[1]:
        raise ValueError(
            f"The features of X_test have {test_features.shape[1]} columns but "
            f"those of X have {features.shape[1]}; X_test must be in the form "
            "of X."
        )

    if standardize:
        scaler = StandardScaler(with_mean=not sparse.issparse(features))
        scaler.fit(features[pool_idx])
        features = scaler.transform(features)
        test_features = scaler.transform(test_features)

    validation_scores = {}
    for C in C_grid:
        accuracies = [
            _fit_svm(features, y, draw, C, rng).score(features[val_idx], y[val_idx])
            for draw in _balanced_draws(
                y, labeled_idx, classes, n_per_class, _N_SELECTION_DRAWS, rng
            )
        ]
        validation_scores[C] = float(np.mean(accuracies))
    best_C = max(validation_scores, key=validation_scores.get)

    errors = np.array(
        [
            1.0 - _fit_svm(features, y, draw, best_C, rng).score(test_features, y_test)
            for draw in _balanced_draws(
                y, labeled_idx, classes, n_per_class, n_repeats, rng
            )
        ]
    )
    return Bunch(
        mean_error=float(errors.mean()),
        std_error=float(errors.std()),
        errors=errors,
        best_C=best_C,
        validation_scores=validation_scores,
        n_labeled=n_per_class * len(classes),
        n_repeats=n_repeats,
        n_features=features.shape[1],
        fit_time=fit_time,
        transform_time=transform_time,
        transformer=transformer,
    )


def count_modes(samples, means, std, *, n_std=3.0):
    """Count the mixture components covered by generated samples.

    Each sample is assigned to the component with the highest responsibility.
    With equal weights and a shared isotropic standard deviation this is the
    nearest mean. Following the ALI paper, a mode is covered when at least
    one sample is assigned to it.

    Distances are compared without forming squared norms, so a sample far
    from every mean (say at 1e200) still goes to its truly nearest mean, and
    is not of high quality.

    Parameters
    ----------
    samples : array-like of shape (n_samples, n_dims)
        Generated samples, for example 10,000 draws from a trained decoder.
    means : array-like of shape (n_modes, n_dims)
        Means of the mixture components, for example the ``centers`` returned
        by :func:`sklearn_ali.datasets.make_gaussian_grid`.
    std : float
        Standard deviation shared by the components along each axis.
    n_std : float, default=3.0
        A sample is of high quality when it lies within ``n_std * std``
        (Euclidean distance) of its assigned mean.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With attributes

        n_modes : int
            Number of covered modes.
        covered : ndarray of shape (n_modes,), dtype bool
            Whether each mode received at least one sample.
        counts : ndarray of shape (n_modes,), dtype int64
            Samples assigned to each mode.
        high_quality_fraction : float
            Fraction of samples within ``n_std * std`` of their assigned mean.
        n_modes_high_quality : int
            Modes with at least one high-quality sample.
        assignments : ndarray of shape (n_samples,), dtype int64
            Index of the mode each sample is assigned to.

    Examples
    --------
    >>> from sklearn_ali.datasets import make_gaussian_grid
    >>> from sklearn_ali.evaluation import count_modes
    >>> X, _, centers = make_gaussian_grid(
    ...     2000, return_centers=True, random_state=0
    ... )
    >>> count_modes(X, centers, std=0.05).n_modes
    25
    """
    samples = _check_points(samples, "samples")
    means = _check_points(means, "means")
    if samples.shape[1] != means.shape[1]:
        raise ValueError(
            f"samples have {samples.shape[1]} dimensions but means have "
            f"{means.shape[1]}."
        )
    std = check_positive_float(std, "std")
    n_std = check_positive_float(n_std, "n_std")

    assignments = _nearest_means(samples, means)
    distances = _norms(samples, means[assignments])
    counts = np.bincount(assignments, minlength=len(means)).astype(np.int64)
    high_quality = distances <= n_std * std
    return Bunch(
        n_modes=int(np.count_nonzero(counts)),
        covered=counts > 0,
        counts=counts,
        high_quality_fraction=float(high_quality.mean()),
        n_modes_high_quality=int(np.unique(assignments[high_quality]).size),
        assignments=assignments,
    )


def classifier_sample_score(
    classifier, samples, *, X_real=None, X_source=None, y_source=None
):
    """Score generated data through a classifier trained on real data.

    A fitted probabilistic classifier (``predict_proba`` and ``classes_``)
    trained on real labelled data reads the generated ``samples``:

    * **confidence**: the mean of the largest predicted probability. Readable
      samples get confident predictions; blotches and blends of two classes
      do not. Compared with the same figure on real held-out data
      (``X_real``), as ``confidence_ratio``.
    * **class balance**: the fraction of samples predicted as each class, and
      its normalised entropy (1 when the classes are equally frequent, 0 when
      one class takes every sample): a collapsed decoder scores low.
    * **class kept** (with ``X_source``): for reconstructions ``samples[i]``
      of ``X_source[i]``, how often the classifier gives the reconstruction
      the class of its source: the true label ``y_source`` when given, else
      the classifier's own reading of the source.

    Limits: the figures are only as good as the classifier. A classifier can
    be confident on images no person would read as digits (adversarial or
    out-of-distribution inputs), so a high confidence is evidence, not proof,
    of quality; look at the samples too. Nothing here sees diversity within a
    class, and a decoder that copied training images would score perfectly.
    Use a classifier that was not trained on the samples' source rows, and
    the same classifier when comparing models.

    Parameters
    ----------
    classifier : fitted classifier with ``predict_proba``
        For example a ``LogisticRegression`` or an ``MLPClassifier`` trained
        on real data, in the units and shape ``samples`` come in (flatten
        images with a ``FunctionTransformer`` in a pipeline if needed).
    samples : array-like
        Generated data, for example ``ali.sample(1000)``, or reconstructions
        ``ali.inverse_transform(ali.encode(X_source))``.
    X_real : array-like, default=None
        Real held-out data for the reference confidence.
    X_source : array-like, default=None
        The data ``samples`` reconstruct, row for row.
    y_source : array-like of shape (n_samples,), default=None
        True labels of ``X_source``.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With attributes

        confidence : float
            Mean largest predicted probability on ``samples``.
        real_confidence, confidence_ratio : float or None
            The same on ``X_real``, and ``confidence / real_confidence``.
        class_fractions : ndarray of shape (n_classes,)
            Fraction of samples predicted as each of ``classes``.
        class_balance : float
            Entropy of ``class_fractions`` divided by log(n_classes).
        classes : ndarray
            ``classifier.classes_``.
        class_kept : float or None
            Fraction of reconstructions given their source's class.

    Raises
    ------
    TypeError
        If ``classifier`` has no ``predict_proba``.
    ValueError
        If ``classifier`` knows fewer than two classes (the class balance is
        undefined), if ``samples``, ``X_real`` or ``X_source`` is empty, if
        the probabilities are not finite values in [0, 1] with one column per
        class, if ``X_source`` and ``samples`` differ in length, or if
        ``y_source`` is given without ``X_source``, in another shape, or with
        labels the classifier does not know.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_ali.evaluation import classifier_sample_score
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=2000).fit(X[:1000], y[:1000])
    >>> score = classifier_sample_score(clf, X[1000:], X_real=X[1000:])
    >>> round(score.confidence_ratio, 3)
    1.0
    """
    if not hasattr(classifier, "predict_proba"):
        raise TypeError(
            f"classifier must have predict_proba; {type(classifier).__name__} "
            "has not (use a probabilistic classifier such as LogisticRegression)."
        )
    check_is_fitted(classifier)
    classes = np.asarray(classifier.classes_)
    if classes.ndim != 1 or len(classes) < 2:
        # The normalised entropy divides by log(n_classes): 0/0 for one class.
        raise ValueError(
            "classifier must know at least two classes; its classes_ is "
            f"{classes.tolist()!r}."
        )
    if y_source is not None and X_source is None:
        raise ValueError("y_source labels the rows of X_source; pass X_source with it.")
    proba = _predict_proba(classifier, samples, "samples")
    confidence = float(proba.max(axis=1).mean())
    real_confidence = ratio = None
    if X_real is not None:
        real_confidence = float(
            _predict_proba(classifier, X_real, "X_real").max(axis=1).mean()
        )
        ratio = confidence / real_confidence
    predicted = proba.argmax(axis=1)
    fractions = np.bincount(predicted, minlength=len(classes)) / len(predicted)
    nonzero = fractions[fractions > 0]
    balance = float(-(nonzero * np.log(nonzero)).sum() / np.log(len(classes)))
    kept = None
    if X_source is not None:
        source = _predict_proba(classifier, X_source, "X_source").argmax(axis=1)
        if len(source) != len(predicted):
            raise ValueError(
                f"X_source has {len(source)} rows but samples has "
                f"{len(predicted)}; reconstructions pair with their sources "
                "row for row."
            )
        target = classes[source]
        if y_source is not None:
            target = np.asarray(y_source)
            if target.shape != (len(predicted),):
                raise ValueError(
                    f"y_source has shape {target.shape}; expected ({len(predicted)},)."
                )
            # A label the classifier cannot predict (often 3 against "3")
            # would silently count as never kept.
            known = set(classes.tolist())
            unknown = [v for v in np.unique(target).tolist() if v not in known]
            if unknown:
                raise ValueError(
                    f"y_source holds labels absent from classifier.classes_: "
                    f"{unknown[:5]!r}; classes_ is {classes.tolist()!r}."
                )
        kept = float(np.mean(classes[predicted] == target))
    return Bunch(
        confidence=confidence,
        real_confidence=real_confidence,
        confidence_ratio=ratio,
        class_fractions=fractions,
        class_balance=balance,
        classes=classes,
        class_kept=kept,
    )


def _predict_proba(classifier, X, name):
    n_rows = _num_samples(X, name)
    if n_rows == 0:
        raise ValueError(f"{name} is empty.")
    proba = np.asarray(classifier.predict_proba(X))
    expected = (n_rows, len(classifier.classes_))
    if proba.shape != expected:
        raise ValueError(
            f"The classifier's predict_proba on {name} has shape {proba.shape}; "
            f"expected {expected} (one column per entry of classes_)."
        )
    if not np.isfinite(proba).all():
        raise ValueError(f"The classifier's probabilities on {name} are not finite.")
    if proba.min() < 0 or proba.max() > 1:
        raise ValueError(
            f"The classifier's probabilities on {name} are not in [0, 1] "
            f"(they range over [{proba.min()}, {proba.max()}])."
        )
    return proba


def _check_split_size(value, name):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"{name} as an int must be >= 1; got {value}.")
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not 0 < value < 1:
            raise ValueError(f"{name} as a float must be in (0, 1); got {value}.")
        return float(value)
    raise TypeError(f"{name} must be a float in (0, 1) or an int; got {value!r}.")


def _check_C_grid(C_grid):
    if isinstance(C_grid, str) or np.ndim(C_grid) != 1:
        raise ValueError(f"C_grid must be a non-empty sequence; got {C_grid!r}.")
    if any(isinstance(C, (bool, np.bool_)) for C in C_grid):
        raise TypeError(f"C_grid values must be numbers, not bools; got {C_grid!r}.")
    values = np.asarray(C_grid, dtype=float)
    if values.size == 0:
        raise ValueError(f"C_grid must be a non-empty sequence; got {C_grid!r}.")
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"C_grid values must be positive and finite; got {C_grid}.")
    return [float(C) for C in values]


def _check_labels(y, name):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {y.shape}.")
    return y


def _check_random_state(random_state):
    try:
        return check_random_state(random_state)
    except ValueError as exc:
        raise ValueError(
            "random_state must be None, an int in [0, 2**32 - 1] or a "
            f"RandomState instance; got {random_state!r}."
        ) from exc


def _check_points(X, name):
    """check_array(X), with the argument named in every error."""
    try:
        return check_array(X, input_name=name)
    except ValueError as exc:
        # check_array names the input only in its NaN and inf errors.
        if name in str(exc):
            raise
        raise ValueError(f"{name}: {exc}") from exc


def _nearest_means(samples, means):
    """Index of the nearest mean for each sample.

    sklearn's pairwise_distances_argmin_min expands |x - m|^2 into
    |x|^2 - 2 x.m + |m|^2: far from the means |x|^2 swamps the terms that
    tell them apart, and past ~1e154 it overflows, so far samples tied on
    every mean and went to mean 0. argmin |m|^2 / 2 - x.m needs no |x|^2;
    each row and the means are scaled by powers of two (exactly, so the
    argmin is the unscaled one) to keep x.m finite.
    """
    mean_exp = _exponent(np.abs(means).max())
    scaled_means = np.ldexp(means, -mean_exp)
    half_sq_norms = 0.5 * np.einsum("ij,ij->i", scaled_means, scaled_means)
    assignments = np.empty(len(samples), dtype=np.int64)
    for start in range(0, len(samples), _COUNT_MODES_CHUNK):
        rows = slice(start, start + _COUNT_MODES_CHUNK)
        # At least 1 so that 2**(mean_exp - row_exp) stays finite.
        row_exp = np.maximum(_exponent(np.abs(samples[rows]).max(axis=1)), 1)
        scaled_rows = np.ldexp(samples[rows], -row_exp[:, None])
        with np.errstate(over="ignore"):
            scores = np.ldexp(half_sq_norms, mean_exp - row_exp[:, None])
            scores -= scaled_rows @ scaled_means.T
        assignments[rows] = scores.argmin(axis=1)
    return assignments


def _norms(a, b):
    """Row-wise |a - b|, without overflow in the differences or squares."""
    half = np.ldexp(a, -1) - np.ldexp(b, -1)
    largest = np.abs(half).max(axis=1)
    scale = np.where(largest > 0, largest, 1.0)
    with np.errstate(over="ignore"):  # a true distance past 1.8e308 is inf
        return 2 * largest * np.sqrt(((half / scale[:, None]) ** 2).sum(axis=1))


def _exponent(values):
    return np.frexp(values)[1]


def _num_samples(X, name):
    if isinstance(X, str):
        raise TypeError(f"{name} must be array-like; got the string {X!r:.40}.")
    if not hasattr(X, "__len__") and not hasattr(X, "shape"):
        raise TypeError(f"{name} must be array-like; got {type(X).__name__}.")
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _check_class_counts(y_labeled, classes, n_per_class):
    counts = np.array([np.count_nonzero(y_labeled == c) for c in classes])
    short = counts < n_per_class
    if short.any():
        detail = ", ".join(
            f"{c!r}: {n}" for c, n in zip(classes[short], counts[short], strict=True)
        )
        raise ValueError(
            f"Each labelled draw needs {n_per_class} examples per class, but the "
            f"labelled pool (training samples outside the validation split) has "
            f"fewer for some classes ({detail}). Lower n_labeled or "
            "validation_size, or provide more data."
        )


def _balanced_draws(y, candidates, classes, n_per_class, n_draws, rng):
    """Yield ``n_draws`` index arrays with ``n_per_class`` rows of each class."""
    by_class = [candidates[y[candidates] == c] for c in classes]
    for _ in range(n_draws):
        yield np.concatenate(
            [rng.choice(rows, size=n_per_class, replace=False) for rows in by_class]
        )


def _fit_transformer(transformer, X, pool_idx):
    """Return the fitted transformer (None for passthrough) and its fit time."""
    if isinstance(transformer, str):
        if transformer != "passthrough":
            raise ValueError(
                "transformer must be an estimator or 'passthrough'; "
                f"got {transformer!r}."
            )
        return None, 0.0
    if not hasattr(transformer, "transform"):
        raise TypeError(
            f"transformer must implement transform; got {type(transformer).__name__}."
        )
    try:
        check_is_fitted(transformer)
        return transformer, 0.0
    except NotFittedError:
        pass
    X_pool = X if pool_idx is None else _safe_indexing(X, pool_idx)
    transformer = clone(transformer)
    start = time.perf_counter()
    transformer.fit(X_pool)
    return transformer, time.perf_counter() - start


def _transform(transformer, X, n_rows, name):
    features = X if transformer is None else transformer.transform(X)
    if not sparse.issparse(features):
        features = np.asarray(features)
        if transformer is None and features.ndim < 2:
            raise ValueError(
                f"{name} must have shape (n_samples, n_features, ...) for "
                f"'passthrough'; got shape {features.shape}."
            )
        if features.ndim == 0 or features.shape[0] != n_rows:
            raise ValueError(
                f"The features of {name} should have {n_rows} rows; got an array "
                f"of shape {features.shape}."
            )
        if features.ndim != 2:
            features = features.reshape(n_rows, -1)
    try:
        return check_array(
            features,
            accept_sparse="csr",
            dtype="numeric",
            input_name=f"features of {name}",
        )
    except ValueError as exc:
        if name in str(exc):
            raise
        raise ValueError(f"features of {name}: {exc}") from exc


def _fit_svm(features, y, rows, C, rng):
    svm = LinearSVC(
        C=C,
        loss="squared_hinge",
        # dual="auto" picks the primal solver once n_labeled exceeds the
        # feature count; on MNIST-5k pixels (1,000 labels, C=1) it took 29 s a
        # fit against 1.6 s for the dual solver, at the same accuracy.
        dual=True,
        max_iter=_SVM_MAX_ITER,
        random_state=rng.randint(_SEED_HIGH),
    )
    # The protocol fits hundreds of SVMs, some with a large C on few
    # examples; liblinear may stop at max_iter there with a solution whose
    # accuracy is settled, and a warning per fit would bury the result.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return svm.fit(features[rows], y[rows])
