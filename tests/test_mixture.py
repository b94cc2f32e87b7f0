"""The Gaussian mixture of training codes that ``sample`` draws from."""

import warnings

import numpy as np
import pytest

from sklearn_ali import _mixture
from sklearn_ali._mixture import check_code_mixture, draw_codes, fit_code_mixture

CENTRES = np.array([[-4.0, 0.0, 0.0], [4.0, 1.0, -1.0]])


def two_blobs(n, seed=0):
    rng = np.random.RandomState(seed)
    return CENTRES[rng.randint(2, size=n)] + 0.1 * rng.standard_normal((n, 3))


def test_draws_follow_the_codes_density():
    codes = two_blobs(2000)
    mixture = fit_code_mixture(lambda rows: rows, codes, seed=0)
    drawn = draw_codes(mixture, 4000, np.random.RandomState(0))
    nearest = np.linalg.norm(drawn[:, None] - CENTRES, axis=2)
    # Every draw lies on a blob (10 std would be 1.0), and the two are drawn
    # about equally often, as the codes are.
    assert nearest.min(1).max() < 1.0
    assert 0.45 < (nearest.argmin(1) == 0).mean() < 0.55
    assert drawn.std(0)[1] == pytest.approx(codes.std(0)[1], rel=0.1)
    np.testing.assert_array_equal(
        drawn, draw_codes(mixture, 4000, np.random.RandomState(0))
    )


def test_a_random_subset_of_rows_is_read_in_chunks(monkeypatch):
    monkeypatch.setattr(_mixture, "CODE_MIXTURE_ROWS", 50)
    monkeypatch.setattr(_mixture, "_READ_CHUNK", 20)
    X = np.arange(300, dtype=np.float64)[:, None] * np.ones(3)
    seen = []

    def encode(rows):
        seen.append(rows[:, 0].astype(int))
        return rows / 300

    mixture = fit_code_mixture(encode, X, seed=0)
    assert [len(rows) for rows in seen] == [20, 20, 10]
    rows = np.concatenate(seen)
    assert len(np.unique(rows)) == 50 and rows.max() > 150
    np.testing.assert_array_equal(rows, np.sort(rows))
    other = []
    fit_code_mixture(lambda rows: other.append(rows[:, 0]) or rows / 300, X, seed=1)
    assert not np.array_equal(np.concatenate(other), rows)
    check_code_mixture(mixture, 3)


def test_rows_up_to_the_subset_size_are_encoded_whole():
    X = two_blobs(40)
    given = []
    fit_code_mixture(lambda rows: given.append(rows) or rows, X, seed=0)
    assert len(given) == 1 and given[0] is X


def test_few_or_identical_codes_give_a_valid_mixture_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        few = fit_code_mixture(lambda rows: rows, np.ones((3, 2)), seed=0)
    assert few["weights"].shape == (3,)
    check_code_mixture(few, 2)
    assert np.isfinite(draw_codes(few, 10, np.random.RandomState(0))).all()


def _edited(edit):
    mixture = fit_code_mixture(lambda rows: rows, two_blobs(200), seed=0)
    edit(mixture)
    return mixture


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.pop("weights"),
        lambda m: m.update(extra=np.ones(2)),
        lambda m: m.update(weights=m["weights"] * 2),
        lambda m: m.update(weights=m["weights"].astype(np.float32)),
        lambda m: m.update(means=m["means"][:, :2]),
        lambda m: m["means"].__setitem__((0, 0), np.nan),
        lambda m: m["scale_tril"].__setitem__((0, 0, 1), 1.0),
        lambda m: m["scale_tril"].__setitem__((0, 1, 1), 0.0),
        lambda m: m.update(weights=list(m["weights"])),
        lambda m: m.update({k: np.repeat(v, 11, axis=0) / 11 for k, v in m.items()}),
    ],
    ids=[
        "missing",
        "extra",
        "weights-sum",
        "float32",
        "code-size",
        "nan",
        "upper-triangle",
        "zero-diagonal",
        "not-an-array",
        "too-many-components",
    ],
)
def test_a_bad_mixture_is_refused(edit):
    with pytest.raises(ValueError, match="code_mixture_ is not a"):
        check_code_mixture(_edited(edit), 3)


def test_a_fitted_mixture_passes_the_check():
    check_code_mixture(_edited(lambda m: None), 3)
    with pytest.raises(ValueError, match="of 4-d codes"):
        check_code_mixture(_edited(lambda m: None), 4)
