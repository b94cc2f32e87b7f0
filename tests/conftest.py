import numpy as np
import pytest
from sklearn.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    """200 load_digits images (8x8, values 0-16) and labels."""
    data = load_digits()
    return data.images[:200].copy(), data.target[:200].copy()


@pytest.fixture(scope="session")
def digits_images(digits):
    return digits[0][:, None]  # (200, 1, 8, 8)


@pytest.fixture(scope="session")
def digits_flat(digits):
    return digits[0].reshape(len(digits[0]), -1)  # (200, 64)


@pytest.fixture
def tiny():
    """Keyword arguments of a model that fits in well under a second."""
    return dict(n_components=4, hidden_layer_sizes=(16,), conv_width=8, max_epochs=2)


@pytest.fixture(scope="session")
def rng():
    return np.random.RandomState(0)
