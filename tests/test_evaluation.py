import math

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from sklearn_ali.datasets import make_gaussian_grid
from sklearn_ali.evaluation import (
    _balanced_draws,
    count_modes,
    semi_supervised_score,
)

FAST = {"n_labeled": 100, "n_repeats": 3}


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


class CountingPCA(TransformerMixin, BaseEstimator):
    """PCA that records how it is called (class-level: clones share it)."""

    calls = []

    def __init__(self, n_components=16):
        self.n_components = n_components

    def fit(self, X, y=None):
        CountingPCA.calls.append(("fit", len(X), y))
        self.pca_ = PCA(self.n_components, random_state=0).fit(X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        CountingPCA.calls.append(("transform", len(X), None))
        return self.pca_.transform(X)


@pytest.fixture
def counting_pca():
    CountingPCA.calls = []
    return CountingPCA()


# semi_supervised_score ---------------------------------------------------------


def test_passthrough_beats_chance_and_is_deterministic(digits):
    X, y = digits
    result = semi_supervised_score("passthrough", X, y, random_state=0, **FAST)
    assert result.mean_error < 0.3  # chance is 0.9
    assert result.errors.shape == (3,)
    assert np.all((result.errors >= 0) & (result.errors <= 1))
    assert result.mean_error == pytest.approx(result.errors.mean())
    assert result.std_error == pytest.approx(result.errors.std())
    assert result.best_C in (0.001, 0.01, 0.1, 1.0, 10.0)
    assert set(result.validation_scores) == {0.001, 0.01, 0.1, 1.0, 10.0}
    assert all(0 <= s <= 1 for s in result.validation_scores.values())
    assert result.validation_scores[result.best_C] == max(
        result.validation_scores.values()
    )
    assert (result.n_labeled, result.n_repeats, result.n_features) == (100, 3, 64)
    assert result.fit_time == 0 and result.transformer is None

    again = semi_supervised_score("passthrough", X, y, random_state=0, **FAST)
    np.testing.assert_array_equal(again.errors, result.errors)
    assert again.best_C == result.best_C
    assert again.validation_scores == result.validation_scores


def test_unfitted_transformer_fitted_once_without_labels(digits, counting_pca):
    X, y = digits
    result = semi_supervised_score(
        counting_pca, X, y, test_size=0.2, random_state=0, **FAST
    )
    fits = [call for call in CountingPCA.calls if call[0] == "fit"]
    transforms = [call for call in CountingPCA.calls if call[0] == "transform"]
    assert len(fits) == 1 and len(transforms) == 1
    # Fitted on the pool (validation included), never on the test rows.
    n_test = math.ceil(0.2 * len(X))
    assert fits[0] == ("fit", len(X) - n_test, None)
    # Features for every row at once.
    assert transforms[0][1] == len(X)
    assert result.n_features == 16 and result.fit_time > 0
    assert result.transformer is not counting_pca
    check_is_fitted(result.transformer)
    # The user's estimator stays untouched.
    assert not hasattr(counting_pca, "pca_")
    assert result.mean_error < 0.5


def test_prefitted_transformer_is_used_as_is(digits, counting_pca):
    X, y = digits
    counting_pca.fit(X)
    CountingPCA.calls = []
    result = semi_supervised_score(counting_pca, X, y, random_state=0, **FAST)
    assert [call[0] for call in CountingPCA.calls] == ["transform"]
    assert result.fit_time == 0 and result.transformer is counting_pca


def test_pipeline_and_x_test(digits, counting_pca):
    X, y = digits
    X_train, y_train, X_test, y_test = X[:1200], y[:1200], X[1200:], y[1200:]
    pipeline = make_pipeline(StandardScaler(), counting_pca)
    result = semi_supervised_score(
        pipeline,
        X_train,
        y_train,
        X_test=X_test,
        y_test=y_test,
        standardize=False,
        random_state=1,
        **FAST,
    )
    # With a separate test set all of X is the unlabelled pool.
    assert [call[:2] for call in CountingPCA.calls] == [
        ("fit", 1200),
        ("transform", 1200),
        ("transform", len(X_test)),
    ]
    assert result.errors.shape == (3,) and result.mean_error < 0.5


def test_images_are_flattened(digits):
    X, y = digits
    images = X.reshape(-1, 1, 8, 8)
    flat = semi_supervised_score("passthrough", X, y, random_state=3, **FAST)
    nd = semi_supervised_score("passthrough", images, y, random_state=3, **FAST)
    assert nd.n_features == 64
    np.testing.assert_array_equal(nd.errors, flat.errors)


def test_labelled_draws_are_class_balanced():
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), [30, 12, 50, 9])
    candidates = rng.permutation(len(y))[:80]
    classes = np.unique(y)
    draws = list(_balanced_draws(y, candidates, classes, 5, 10, rng))
    assert len(draws) == 10
    for draw in draws:
        assert len(np.unique(draw)) == 20
        assert set(draw) <= set(candidates)
        np.testing.assert_array_equal(np.bincount(y[draw], minlength=4), [5] * 4)
    assert not np.array_equal(np.sort(draws[0]), np.sort(draws[1]))


def test_n_labeled_not_multiple_of_classes(digits):
    X, y = digits
    result = semi_supervised_score(
        "passthrough", X, y, n_labeled=25, n_repeats=1, random_state=0
    )
    assert result.n_labeled == 20


def test_too_few_examples_per_class(digits):
    X, y = digits
    with pytest.raises(ValueError, match="per class"):
        semi_supervised_score("passthrough", X, y, n_labeled=2000, n_repeats=1)
    with pytest.raises(ValueError, match="number of classes"):
        semi_supervised_score("passthrough", X, y, n_labeled=5, n_repeats=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_repeats": 0}, ValueError, "n_repeats"),
        ({"n_labeled": 1.5}, TypeError, "n_labeled"),
        ({"validation_size": 1.5}, ValueError, "validation_size"),
        ({"validation_size": 0}, ValueError, "validation_size"),
        ({"test_size": "half"}, TypeError, "test_size"),
        ({"C_grid": ()}, ValueError, "C_grid"),
        ({"C_grid": (1.0, -1.0)}, ValueError, "C_grid"),
        ({"C_grid": 1.0}, ValueError, "C_grid"),
        ({"X_test": np.zeros((3, 64))}, ValueError, "y_test"),
    ],
)
def test_bad_arguments(digits, kwargs, error, match):
    X, y = digits
    with pytest.raises(error, match=match):
        semi_supervised_score("passthrough", X, y, **kwargs)


def test_bad_data(digits):
    X, y = digits
    with pytest.raises(ValueError, match="samples"):
        semi_supervised_score("passthrough", X, y[:-1])
    with pytest.raises(ValueError, match="1-D"):
        semi_supervised_score("passthrough", X, y[:, None])
    with pytest.raises(ValueError, match="two classes"):
        semi_supervised_score("passthrough", X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="passthrough"):
        semi_supervised_score("identity", X, y)
    with pytest.raises(TypeError, match="transform"):
        semi_supervised_score(object(), X, y)
    with pytest.raises(ValueError, match="absent from y"):
        semi_supervised_score(
            "passthrough", X[y < 5], y[y < 5], X_test=X[:10], y_test=np.full(10, 7)
        )
    with pytest.raises(ValueError, match="y_test"):
        semi_supervised_score("passthrough", X, y, X_test=X[:10], y_test=y[:9])
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        semi_supervised_score("passthrough", X_nan, y, **FAST)


# count_modes -------------------------------------------------------------------


def test_count_modes_full_grid():
    X, y, centers = make_gaussian_grid(10_000, return_centers=True, random_state=0)
    result = count_modes(X, centers, 0.05)
    assert result.n_modes == 25 and result.n_modes_high_quality == 25
    assert result.covered.dtype == bool and result.covered.all()
    np.testing.assert_array_equal(result.counts, np.bincount(y))
    np.testing.assert_array_equal(result.assignments, y)
    # In 2-D, P(|x - mu| <= 3 std) = 1 - exp(-4.5) ~ 0.989.
    assert 0.98 < result.high_quality_fraction <= 1.0


def test_count_modes_subset_of_modes():
    X, y, centers = make_gaussian_grid(5_000, return_centers=True, random_state=1)
    kept = [0, 7, 12, 24]
    result = count_modes(X[np.isin(y, kept)], centers, 0.05)
    assert result.n_modes == 4 and result.n_modes_high_quality == 4
    np.testing.assert_array_equal(np.flatnonzero(result.covered), kept)
    assert result.counts.sum() == np.isin(y, kept).sum()
    assert result.counts[1] == 0


def test_count_modes_low_quality_samples():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.array([[0.01, 0.0], [4.0, 0.0], [6.0, 0.0], [5.5, 3.0]])
    result = count_modes(samples, centers, std=0.1)
    np.testing.assert_array_equal(result.counts, [2, 2])
    assert result.n_modes == 2
    assert result.n_modes_high_quality == 1
    assert result.high_quality_fraction == pytest.approx(0.25)
    loose = count_modes(samples, centers, std=0.1, n_std=60.0)
    assert loose.high_quality_fraction == 1.0


def test_count_modes_validation():
    centers = np.zeros((3, 2))
    with pytest.raises(ValueError, match="dimensions"):
        count_modes(np.zeros((4, 3)), centers, 0.1)
    with pytest.raises(ValueError, match="2D"):
        count_modes(np.zeros(4), centers, 0.1)
    with pytest.raises(ValueError, match="std"):
        count_modes(np.zeros((4, 2)), centers, 0.0)
    with pytest.raises(ValueError, match="n_std"):
        count_modes(np.zeros((4, 2)), centers, 0.1, n_std=-1)


@pytest.mark.parametrize("scale", [1e20, 1e200, 1.7e308])
def test_count_modes_far_samples_go_to_their_nearest_mean(scale):
    # The expanded |x|^2 - 2 x.m + |m|^2 lost the means' differences (1e20)
    # or overflowed (1e200), and such samples all went to mean 0.
    _, _, centers = make_gaussian_grid(10, return_centers=True, random_state=0)
    samples = np.array([[scale, scale], [-scale, scale], [scale, -scale], [4.0, -4.0]])
    result = count_modes(samples, centers, std=0.05)
    # Mode 24 is at (4, 4), mode 4 at (-4, 4), mode 20 at (4, -4).
    np.testing.assert_array_equal(result.assignments, [24, 4, 20, 20])
    assert result.n_modes == 3
    assert result.n_modes_high_quality == 1
    assert result.high_quality_fraction == 0.25


def test_count_modes_means_far_apart():
    means = np.array([[-1e300, 0.0], [1e300, 0.0], [0.0, 1e-300]])
    samples = np.array([[9.5e299, 1.0], [-1.7e308, 0.0], [0.0, 1e-299]])
    result = count_modes(samples, means, std=1e299, n_std=1.0)
    np.testing.assert_array_equal(result.assignments, [1, 0, 2])
    # The second sample is about 1.7e308 from its mean, beyond n_std * std.
    assert result.high_quality_fraction == pytest.approx(2 / 3)
    assert result.n_modes_high_quality == 2


@pytest.mark.parametrize(
    ("samples", "means", "match"),
    [
        (np.zeros((0, 2)), np.zeros((3, 2)), "samples: Found array with 0 sample"),
        (np.zeros((4, 2)), np.zeros((0, 2)), "means: Found array with 0 sample"),
        (None, np.zeros((3, 2)), "samples: Expected 2D array"),
        (np.zeros((4, 2)), np.zeros(2), "means: Expected 2D array"),
        ([["a", "b"]], np.zeros((3, 2)), "samples: dtype='numeric'"),
        ([[1.0, 2.0], [1.0]], np.zeros((3, 2)), "samples: setting an array"),
    ],
)
def test_count_modes_errors_name_the_argument(samples, means, match):
    with pytest.raises(ValueError, match=match):
        count_modes(samples, means, 0.1)


# -- classifier_sample_score ---------------------------------------------------


@pytest.fixture(scope="module")
def digit_classifier():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    X, y = load_digits(return_X_y=True)
    clf = LogisticRegression(max_iter=3000).fit(X[:1000], y[:1000])
    return clf, X[1000:], y[1000:]


def test_classifier_sample_score_reads_real_digits_as_real(digit_classifier):
    from sklearn_ali.evaluation import classifier_sample_score

    clf, X, y = digit_classifier
    score = classifier_sample_score(clf, X, X_real=X, X_source=X, y_source=y)
    assert score.confidence_ratio == pytest.approx(1.0)
    assert score.class_balance > 0.99  # held-out digits are balanced
    assert score.class_kept == pytest.approx(clf.score(X, y))
    assert score.class_fractions.sum() == pytest.approx(1.0)


def test_classifier_sample_score_sees_noise_collapse_and_lost_classes(
    digit_classifier,
):
    from sklearn_ali.evaluation import classifier_sample_score

    clf, X, y = digit_classifier
    rng = np.random.RandomState(0)
    noise = rng.uniform(0, 16, size=X.shape)
    # Less confident than on digits, though far from chance: a linear
    # classifier is overconfident off its data (the documented limit).
    assert classifier_sample_score(clf, noise, X_real=X).confidence_ratio < 0.9
    collapsed = np.repeat(X[:1], 200, axis=0)
    assert classifier_sample_score(clf, collapsed).class_balance == 0.0
    shuffled = X[rng.permutation(len(X))]
    kept = classifier_sample_score(clf, shuffled, X_source=X).class_kept
    assert kept < 0.3


def test_classifier_sample_score_errors(digit_classifier):
    from sklearn.svm import LinearSVC

    from sklearn_ali.evaluation import classifier_sample_score

    clf, X, y = digit_classifier
    with pytest.raises(TypeError, match="predict_proba"):
        classifier_sample_score(LinearSVC().fit(X, y), X)
    with pytest.raises(ValueError, match="row for row"):
        classifier_sample_score(clf, X[:10], X_source=X[:20])
    with pytest.raises(ValueError, match="y_source has shape"):
        classifier_sample_score(clf, X[:10], X_source=X[:10], y_source=y[:5])


class _FixedProba(ClassifierMixin, BaseEstimator):
    """A fitted classifier of 10 classes whose predict_proba is given."""

    def __init__(self, proba):
        self.proba = proba

    def fit(self, X, y=None):
        self.classes_ = np.arange(10)
        return self

    def predict_proba(self, X):
        return self.proba(len(X))


@pytest.mark.parametrize(
    ("proba", "match"),
    [
        (lambda n: np.full((n, 3), 1 / 3), r"has shape \(20, 3\); expected \(20, 10\)"),
        (lambda n: np.full((n + 1, 10), 0.1), r"has shape \(21, 10\)"),
        (lambda n: np.full(n, 0.1), r"has shape \(20,\)"),
        (lambda n: np.full((n, 10), -0.1), r"not in \[0, 1\]"),
        (lambda n: np.full((n, 10), 2.0), r"not in \[0, 1\]"),
    ],
)
def test_classifier_sample_score_refuses_malformed_probabilities(proba, match):
    from sklearn_ali.evaluation import classifier_sample_score

    clf = _FixedProba(proba).fit(None)
    with pytest.raises(ValueError, match=match):
        classifier_sample_score(clf, np.zeros((20, 4)))


def test_classifier_sample_score_refuses_a_one_class_classifier():
    # The normalised entropy was 0 / log(1): a NaN class balance.
    from sklearn.dummy import DummyClassifier

    from sklearn_ali.evaluation import classifier_sample_score

    clf = DummyClassifier().fit(np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="at least two classes; its classes_ is"):
        classifier_sample_score(clf, np.zeros((5, 2)))


def test_classifier_sample_score_class_balance_is_defined(digit_classifier):
    # Every figure is finite even for a single sample.
    from sklearn_ali.evaluation import classifier_sample_score

    clf, X, _ = digit_classifier
    score = classifier_sample_score(clf, X[:1], X_real=X[:1], X_source=X[:1])
    assert score.class_balance == 0.0
    assert score.confidence_ratio == 1.0 and score.class_kept == 1.0


def test_classifier_sample_score_refuses_y_source_it_cannot_use(digit_classifier):
    from sklearn_ali.evaluation import classifier_sample_score

    clf, X, y = digit_classifier
    # Ignored before: no class_kept, and no error.
    with pytest.raises(ValueError, match="pass X_source with it"):
        classifier_sample_score(clf, X[:10], y_source=y[:10])
    # "3" never equals 3: class_kept was a silent 0.
    with pytest.raises(ValueError, match="labels absent from classifier.classes_"):
        classifier_sample_score(
            clf, X[:10], X_source=X[:10], y_source=y[:10].astype(str)
        )
    with pytest.raises(ValueError, match=r"absent .*\[100"):
        classifier_sample_score(clf, X[:10], X_source=X[:10], y_source=y[:10] + 100)


def test_classifier_sample_score_names_bad_classifier_and_samples(digit_classifier):
    from sklearn_ali.evaluation import classifier_sample_score

    clf, X, _ = digit_classifier
    with pytest.raises(TypeError, match="classifier must have predict_proba"):
        classifier_sample_score(object(), X)
    with pytest.raises(TypeError, match="samples must be array-like; got the string"):
        classifier_sample_score(clf, "abc")


# semi_supervised_score: argument checks found by a sweep ---------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"standardize": "no"}, TypeError, "standardize must be True or False"),
        ({"random_state": "x"}, ValueError, "random_state must be None, an int"),
        ({"C_grid": [[1.0, 2.0]]}, ValueError, "C_grid must be a non-empty"),
        ({"C_grid": [True]}, TypeError, "C_grid values must be numbers, not bools"),
        ({"C_grid": "abc"}, ValueError, "C_grid must be a non-empty"),
        ({"validation_size": 5000}, ValueError, "validation_size=5000 cannot be"),
    ],
)
def test_semi_supervised_score_sweep_arguments(digits, kwargs, error, match):
    X, y = digits
    with pytest.raises(error, match=match):
        semi_supervised_score("passthrough", X, y, **{**FAST, **kwargs})


def test_semi_supervised_score_sweep_data(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, n_feat"):
        semi_supervised_score("passthrough", X[:, 0], y, **FAST)
    with pytest.raises(ValueError, match="features of X_test have 5 columns but"):
        semi_supervised_score(
            "passthrough", X, y, X_test=X[:10, :5], y_test=y[:10], **FAST
        )
    with pytest.raises(ValueError, match="features of X_test: Found array with 0"):
        semi_supervised_score("passthrough", X, y, X_test=X[:0], y_test=y[:0], **FAST)
