"""ALIClassifier: ALI with labels in D, a semi-supervised classifier."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from skorch.callbacks import EarlyStopping

from sklearn_ali import ALIClassifier, io
from sklearn_ali._batches import LabelledBatches
from sklearn_ali.objectives import (
    SEMI_SUPERVISED,
    semi_supervised_losses,
)


def semi_labels(y, n_labelled):
    """y with all but the first ``n_labelled`` rows marked unlabelled (-1)."""
    y = np.asarray(y).copy()
    y[n_labelled:] = -1
    return y


@pytest.fixture(scope="module")
def fitted(digits):
    """A small classifier fitted on 200 digits, 60 of them labelled."""
    images, target = digits
    X, y = images[:, None], semi_labels(target, 60)
    clf = ALIClassifier(n_components=4, conv_width=8, max_epochs=2, random_state=0).fit(
        X, y
    )
    return clf, X, y


def test_shapes_and_classes(fitted, digits):
    clf, X, y = fitted
    np.testing.assert_array_equal(clf.classes_, np.unique(y[y != -1]))
    assert clf.predict(X).shape == (len(X),)
    assert set(clf.predict(X)) <= set(clf.classes_)
    assert clf.predict_proba(X).shape == (len(X), len(clf.classes_))
    assert clf.encode(X).shape == (len(X), 4)
    assert clf.transform(X).shape == (len(X), len(clf.get_feature_names_out()))
    assert clf.discriminator_(torch.zeros(2, 1, 8, 8), torch.zeros(2, 4)).shape == (
        2,
        len(clf.classes_) + 1,
    )
    assert 0 <= clf.score(X, digits[1]) <= 1


def test_predict_proba_is_a_distribution_and_predict_its_argmax(fitted):
    clf, X, _ = fitted
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64
    assert (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])


def test_prediction_is_deterministic(fitted):
    clf, X, _ = fitted
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))


def test_history_records_the_class_loss(fitted):
    clf, _, _ = fitted
    for key in (*SEMI_SUPERVISED.diagnostic_names(), "train_loss"):
        assert np.isfinite(clf.history_[:, key]).all()


def test_same_random_state_gives_the_same_model(digits_flat, digits, tiny):
    y = semi_labels(digits[1], 50)
    a = ALIClassifier(**tiny, random_state=3).fit(digits_flat, y)
    b = ALIClassifier(**tiny, random_state=3).fit(digits_flat, y)
    np.testing.assert_array_equal(
        a.predict_proba(digits_flat), b.predict_proba(digits_flat)
    )


def test_string_labels_with_integer_minus_one(digits_flat, tiny):
    names = np.array(["cat", "dog", "-1"], dtype=object)
    y = names[np.arange(len(digits_flat)) % 3]
    y[::4] = -1  # the integer marks unlabelled rows; the string "-1" is a class
    clf = ALIClassifier(**tiny, random_state=0).fit(digits_flat, y)
    np.testing.assert_array_equal(clf.classes_, ["-1", "cat", "dog"])
    assert set(clf.predict(digits_flat)) <= {"-1", "cat", "dog"}
    assert clf.predict_proba(digits_flat).shape == (len(digits_flat), 3)


def test_numpy_string_labels_are_refused_as_in_self_training(digits_flat, tiny):
    y = np.array(["cat", "dog"])[np.arange(len(digits_flat)) % 2]
    with pytest.raises(ValueError, match="use dtype object, and use -1"):
        ALIClassifier(**tiny).fit(digits_flat, y)


def test_fully_labelled_y_works(digits_flat, digits, tiny):
    clf = ALIClassifier(**tiny, random_state=0).fit(digits_flat, digits[1])
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.history_[-1, "class_loss"] > 0


@pytest.mark.parametrize(
    "y, match",
    [
        (np.full(200, -1), "no labelled row"),
        (np.r_[np.full(100, 7), np.full(100, -1)], "one class only"),
        (None, "requires y to be passed"),
        (np.zeros(199), "X has 200 samples but y has 199"),
        (np.linspace(0, 1, 200), "Unknown label type"),
        (np.r_[np.arange(199) % 3, np.nan], "holds NaN"),
        (
            np.array([*(np.arange(198) % 3).tolist(), "a", -1], dtype=object),
            "mixes strings",
        ),
    ],
)
def test_bad_y_is_a_clear_error(digits_flat, tiny, y, match):
    clf = ALIClassifier(**tiny)
    with pytest.raises(ValueError, match=match):
        clf.fit(digits_flat, y)
    assert not hasattr(clf, "classes_")  # a failed fit leaves no fitted state


def test_bad_classes_and_label_kinds_are_named(digits_flat, digits, tiny):
    y = semi_labels(digits[1], 60)
    with pytest.raises(ValueError, match="classes holds NaN"):
        ALIClassifier(**tiny).partial_fit(digits_flat, y, classes=[*range(10), np.nan])
    clf = ALIClassifier(random_state=0, **tiny).fit(digits_flat, y)
    before = clf.predict_proba(digits_flat)
    with pytest.raises(ValueError, match="labels of kind 'str'"):
        strings = np.array([-1 if v < 0 else str(v) for v in y], dtype=object)
        clf.partial_fit(digits_flat, strings)
    np.testing.assert_array_equal(clf.predict_proba(digits_flat), before)


def test_unfitted_model_raises_not_fitted(digits_flat, tiny):
    for method in ("predict", "predict_proba", "transform", "encode"):
        with pytest.raises(NotFittedError):
            getattr(ALIClassifier(**tiny), method)(digits_flat)


def test_validation_scores_held_out_labelled_rows(digits_flat, digits, tiny):
    y = semi_labels(digits[1], 100)
    clf = ALIClassifier(
        **tiny,
        validation_fraction=0.2,
        callbacks=[EarlyStopping(patience=5)],
        random_state=0,
    ).fit(digits_flat, y)
    valid = clf.history_[:, "valid_loss"]
    assert np.isfinite(valid).all() and (np.asarray(valid) > 0).all()
    # 20 of the 100 labelled rows are held out, every unlabelled row trains.
    batches = clf.history_[-1, "batches"]
    assert sum(b.get("valid_batch_size", 0) for b in batches) == 20


def test_validation_that_leaves_no_labelled_row_to_train_is_an_error(
    digits_flat, digits, tiny
):
    y = semi_labels(digits[1], 2)  # classes 0 and 1, one row each
    with pytest.raises(ValueError, match="leaving none for training"):
        ALIClassifier(**tiny, validation_fraction=0.6).fit(digits_flat, y)


def test_warm_start_continues_and_checks_the_labels(digits_flat, digits, tiny):
    y = semi_labels(digits[1], 50)
    clf = ALIClassifier(**tiny, warm_start=True, random_state=0).fit(digits_flat, y)
    clf.fit(digits_flat, np.full(len(y), -1))  # unlabelled rows only: fine
    assert len(clf.history_) == 2 * tiny["max_epochs"]
    with pytest.raises(ValueError, match=r"labels \[42\] not among the classes"):
        clf.fit(digits_flat, np.r_[42, y[1:]])
    assert len(clf.history_) == 2 * tiny["max_epochs"]


def test_the_default_schedule_ends_at_zero_and_partial_fit_keeps_the_rate(
    digits_flat, digits, tiny
):
    clf = ALIClassifier(random_state=0, **tiny).fit(digits_flat, digits[1])
    assert clf.learning_rate_schedule == "linear"
    assert [g["lr"] for g in clf.net_.optimizer_.param_groups] == [0, 0]
    clf.partial_fit(digits_flat, digits[1])
    rates = [g["lr"] for g in clf.net_.optimizer_.param_groups]
    assert rates == [clf.learning_rate] * 2


def test_partial_fit_takes_the_classes_on_the_first_call(digits_flat, digits, tiny):
    y = semi_labels(digits[1], 50)
    clf = ALIClassifier(**tiny, random_state=0)
    clf.partial_fit(
        digits_flat[:100], np.where(y[:100] < 5, y[:100], -1), classes=np.arange(10)
    )
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    clf.partial_fit(digits_flat[100:], y[100:])
    assert len(clf.history_) == 2


@pytest.mark.parametrize("labels", ["int", "str"])
def test_joblib_and_io_round_trips_keep_the_model(
    tmp_path, digits_flat, digits, tiny, labels
):
    y = semi_labels(digits[1], 60).astype(object)
    if labels == "str":
        y[:60] = [f"digit {d}" for d in y[:60]]
    else:
        y = y.astype(int)
    clf = ALIClassifier(**tiny, random_state=0).fit(digits_flat, y)
    joblib.dump(clf, tmp_path / "clf.joblib")
    path = tmp_path / "clf.safetensors"
    io.dump(clf, path)
    for loaded in (joblib.load(tmp_path / "clf.joblib"), io.load(path)):
        assert type(loaded) is ALIClassifier
        assert loaded.classes_.dtype == clf.classes_.dtype
        np.testing.assert_array_equal(loaded.classes_, clf.classes_)
        np.testing.assert_array_equal(
            loaded.predict_proba(digits_flat), clf.predict_proba(digits_flat)
        )
        np.testing.assert_array_equal(
            loaded.predict(digits_flat), clf.predict(digits_flat)
        )


def test_io_refuses_a_file_without_classes(tmp_path, digits_flat, digits, tiny):
    clf = ALIClassifier(**tiny, random_state=0).fit(digits_flat, digits[1])
    state = clf._io_state()
    del state["attributes"]["classes_"]
    with pytest.raises(ValueError, match="classes_"):
        ALIClassifier._from_io_state(state, device="cpu")


def test_batches_add_labelled_rows_when_labels_are_few():
    labelled = torch.tensor([3, 7, 11])
    sampler = LabelledBatches(20, labelled, batch_size=8, n_extra=4)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 2
    pool = [i for b in batches for i in b[:8]]
    assert len(set(pool)) == 16  # pool rows without repetition
    extras = [i for b in batches for i in b[8:]]
    assert len(extras) == 8 and set(extras) <= {3, 7, 11}
    # Each labelled row in turn: counts differ by at most one.
    counts = np.bincount(extras)[[3, 7, 11]]
    assert counts.max() - counts.min() <= 1


class _Fixed(torch.nn.Module):
    """A stand-in network whose output is a fixed tensor."""

    def __init__(self, out):
        super().__init__()
        self.out = out

    def forward(self, *args):
        return self.out

    def sample(self, x):
        return self.out, self.out


def test_objective_is_the_k_plus_one_class_cross_entropy():
    # Two pool rows (one labelled), one extra labelled row, two decoder pairs.
    logits = torch.tensor(
        [
            [1.0, -2.0, 0.5],
            [0.2, 0.3, -1.0],
            [2.0, 0.0, 0.0],
            [0.0, 1.0, 2.0],
            [-1.0, 0.0, 0.5],
        ]
    )  # (n_q + n_p, K + 1), K = 2
    y = torch.tensor([1, -1, 0])
    x = torch.zeros(3, 2)
    d_loss, g_loss, diag = semi_supervised_losses(
        _Fixed(torch.zeros(3, 2)),
        _Fixed(torch.zeros(2, 2)),
        _Fixed(logits),
        x,
        y,
        torch.zeros(2, 2),
        reconstruction_weight=0.0,
    )
    log_p = torch.log_softmax(logits, dim=1)
    p_real = log_p[:, :2].logsumexp(1)
    # Labelled rows: -log p(y | real); pool rows: -log p(real); decoder
    # pairs: -log p(generated).
    class_loss = (
        -(
            torch.log_softmax(logits[0, :2], 0)[1]
            + torch.log_softmax(logits[2, :2], 0)[0]
        )
        / 2
    )
    expected_d = -p_real[:2].mean() - log_p[3:, 2].mean() + class_loss
    torch.testing.assert_close(d_loss, expected_d)
    p_gen = log_p[:, 2]
    expected_g = -p_gen[:2].mean() - p_real[3:].mean()
    torch.testing.assert_close(g_loss, expected_g)
    torch.testing.assert_close(diag[-1], class_loss)


@pytest.mark.parametrize("loss", ["non_saturating", "hinge"])
def test_it_learns_digits_from_100_labels(loss):
    """A few seconds of training beat the same networks untrained by far."""
    data = load_digits()
    rng = np.random.RandomState(0)
    order = rng.permutation(len(data.target))
    test, pool = order[:400], order[400:]
    X = data.images[:, None]  # (1797, 1, 8, 8)
    y = semi_labels(data.target[pool], 100)  # 100 labels, 1,297 unlabelled
    clf = ALIClassifier(max_epochs=10, loss=loss, random_state=0)
    # The same networks, seed and batches with weights that cannot move: an
    # honest "at initialisation" (max_epochs=0 does not exist).
    untrained = clone(clf).set_params(max_epochs=1, learning_rate=1e-30)
    chance = untrained.fit(X[pool], y).score(X[test], data.target[test])
    trained = clf.fit(X[pool], y).score(X[test], data.target[test])
    assert chance < 0.3
    assert trained > chance + 0.4
