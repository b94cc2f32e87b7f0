"""The data path: from the user's array to the networks' batches.

Data that need not fit in memory (memmaps, h5py, zarr and dask arrays) are
read in batches of rows, in their own dtype, and give exactly what the same
data in memory give; data kept on the device are gathered there.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from skorch.callbacks import Callback

from sklearn_ali import ALIClassifier, ALITransformer, ConditionalALI, _scaling
from sklearn_ali._batches import ReadAhead

SMALL = {"max_epochs": 2, "random_state": 0, "hidden_layer_sizes": (16,)}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def images(digits):
    """uint8 images (n, 1, 8, 8), as image files and datasets store them."""
    return (digits[0].reshape(-1, 1, 8, 8) * 15).astype(np.uint8)


class RowCounting:
    """An array-like that records how many rows each read returns."""

    def __init__(self, array):
        self.array = array
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim
        self.reads = []

    def __getitem__(self, index):
        out = self.array[index]
        self.reads.append(len(out))
        return out


def h5py_dataset(tmp_path, array):
    h5py = pytest.importorskip("h5py")
    f = h5py.File(tmp_path / "data.h5", "w")
    f.create_dataset("X", data=array, chunks=(32, *array.shape[1:]))
    return f["X"]


def zarr_array(tmp_path, array):
    zarr = pytest.importorskip("zarr")
    z = zarr.open_array(
        tmp_path / "data.zarr",
        mode="w",
        shape=array.shape,
        chunks=(32, *array.shape[1:]),
        dtype=array.dtype,
    )
    z[:] = array
    return z


def dask_array(tmp_path, array):
    da = pytest.importorskip("dask.array")
    return da.from_array(array, chunks=(64, *array.shape[1:]))


def memmap(tmp_path, array):
    np.save(tmp_path / "data.npy", array)
    return np.load(tmp_path / "data.npy", mmap_mode="r")


SOURCES = {"memmap": memmap, "h5py": h5py_dataset, "zarr": zarr_array}
SOURCES["dask"] = dask_array


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("kind", ["images", "tabular"])
def test_fit_and_transform_match_in_memory(tmp_path, source, kind, digits, images):
    X = images if kind == "images" else digits[0].astype(np.float32)
    stored = SOURCES[source](tmp_path, X)
    params = {**SMALL, "conv_width": 4} if kind == "images" else SMALL

    in_memory = ALITransformer(**params).fit(X)
    lazy = ALITransformer(**params).fit(stored)

    np.testing.assert_array_equal(lazy.data_offset_, in_memory.data_offset_)
    np.testing.assert_array_equal(lazy.data_scale_, in_memory.data_scale_)
    expected = in_memory.transform(X)
    got = lazy.transform(stored)
    if source == "dask":
        got = got.compute()
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype


def test_batches_are_read_row_wise_and_stay_integers(monkeypatch):
    """No read returns all of X, and the net receives uint8 pixels."""
    images = (load_digits().images[:, None] * 15).astype(np.uint8)  # 1797 rows
    monkeypatch.setattr(_scaling, "_CHUNK_VALUES", 64 * 100)  # statistics
    counting = RowCounting(images)
    seen = set()

    class Dtypes(Callback):
        def on_batch_begin(self, net, batch=None, **kwargs):
            seen.add(batch[0].dtype)

    ali = ALITransformer(
        **{**SMALL, "max_epochs": 1, "batch_size": 50, "conv_width": 4},
        callbacks=[Dtypes()],
    ).fit(counting)
    assert seen == {torch.uint8}
    # The statistics' chunks; batches: 50; the encoder's pass for the mixture
    # of the training codes: 512.
    assert max(counting.reads) == 512 < len(images)
    counting.reads.clear()
    ali.transform(counting)
    assert max(counting.reads) == 512 < len(images)


def test_unsorted_and_repeated_rows_read_from_h5py(tmp_path, images):
    stored = h5py_dataset(tmp_path, images)
    rows = np.array([5, 3, 3, 250, 0])
    np.testing.assert_array_equal(_scaling.read_rows(stored, rows), images[rows])


def test_classifier_and_conditional_on_h5py(tmp_path, digits):
    X, y = digits
    X = X.astype(np.float32)
    stored = h5py_dataset(tmp_path, X)
    y_semi = np.where(np.arange(len(y)) < 100, y, -1)
    lazy = ALIClassifier(**SMALL).fit(stored, y_semi)
    eager = ALIClassifier(**SMALL).fit(X, y_semi)
    np.testing.assert_array_equal(lazy.predict_proba(stored), eager.predict_proba(X))
    lazy = ConditionalALI(**SMALL).fit(stored, y)
    eager = ConditionalALI(**SMALL).fit(X, y)
    np.testing.assert_array_equal(lazy.encode(stored, y), eager.encode(X, y))


def test_streaming_statistics_match_one_pass(monkeypatch):
    """Chunks merged by the pairwise update give the two-pass statistics."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 6)) * [1, 1e-3, 1e3, 1e150, 1, 1] + [0, 5, -7, 0, 1e6, 3]
    X[:, 5] = 3.0  # constant
    X[500:, 0] *= 8  # a later chunk raises the feature's exponent
    whole = _scaling._standard_scaling(X)
    monkeypatch.setattr(_scaling, "_CHUNK_VALUES", 6 * 37)  # 37 rows a chunk
    chunked = _scaling._standard_scaling(X)
    for a, b in zip(whole, chunked):
        # Feature 4 (mean 1e6, spread 1) merges means 1e6 apart from its
        # spread: the update's rounding shows at 1e-11.
        np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(whole[1][:5], X[:, :5].std(axis=0), rtol=1e-12)
    assert whole[1][5] == 2.0  # a constant: its magnitude's power of two


def test_non_finite_values_are_named_by_row(tmp_path, digits):
    X = digits[0].astype(np.float32)
    X[123, 4] = np.nan
    stored = h5py_dataset(tmp_path, X)
    with pytest.raises(ValueError, match="NaN or infinity.*row 123"):
        ALITransformer(**SMALL).fit(stored)
    ali = ALITransformer(**SMALL).fit(digits[0])
    with pytest.raises(ValueError, match="NaN or infinity.*row 123"):
        ali.transform(stored)


def test_lazy_input_is_checked_like_arrays(tmp_path, digits):
    X = digits[0].astype(np.float32)
    ali = ALITransformer(**SMALL).fit(X)
    with pytest.raises(ValueError, match="X has 63 features, but ALITransformer"):
        ali.transform(h5py_dataset(tmp_path, X[:, :63]))
    with pytest.raises(ValueError, match="must hold numbers"):
        ALITransformer(**SMALL).fit(RowCounting(X.astype("U3")))
    with pytest.raises(ValueError, match="3 dimensions"):
        ALITransformer(**SMALL).fit(RowCounting(X.reshape(-1, 8, 8)))


def test_a_torch_dataset_is_refused_before_it_is_read():
    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return 10**9

        def __getitem__(self, i):
            raise AssertionError("read")

    with pytest.raises(TypeError, match="torch Dataset .*Items.*array-like"):
        ALITransformer(**SMALL).fit(Items())


def test_partial_fit_refuses_out_of_range_lazy_data(tmp_path, digits):
    X = digits[0].astype(np.float64)
    ali = ALITransformer(**SMALL).fit(X)
    far = X.copy()
    far[7] = 1e300
    with pytest.raises(ValueError, match="exceeds float32's range"):
        ali.partial_fit(RowCounting(far))
    assert len(ali.history_) == 2  # the failed call left the model as it was


def test_dask_transform_is_lazy_and_blockwise(digits):
    da = pytest.importorskip("dask.array")
    X, y = digits
    ali = ALITransformer(**SMALL).fit(X)
    lazy = ali.transform(da.from_array(X, chunks=(70, 32)))
    assert isinstance(lazy, da.Array)
    assert lazy.shape == (len(X), ali._n_features_out)
    assert lazy.chunks[0] == (70, 70, 70, 70, 20)
    np.testing.assert_array_equal(lazy.compute(), ali.transform(X))

    y_semi = np.where(np.arange(len(y)) < 100, y, -1)
    clf = ALIClassifier(**SMALL).fit(X, y_semi)
    Xd = da.from_array(X, chunks=100)
    np.testing.assert_array_equal(clf.predict(Xd).compute(), clf.predict(X))
    np.testing.assert_array_equal(clf.predict_proba(Xd).compute(), clf.predict_proba(X))
    cond = ConditionalALI(**SMALL).fit(X, y)
    np.testing.assert_array_equal(cond.encode(Xd, y).compute(), cond.encode(X, y))


class OnDevice(ALITransformer):
    """Keeps the training data on its device (the CPU here) as CUDA would."""

    def _net_settings(self, **kwargs):
        return {**super()._net_settings(**kwargs), "data_on_device": True}


def test_data_kept_on_the_device_train_the_same_model(images):
    """Gathering batches from a resident copy changes nothing but where."""
    params = {**SMALL, "conv_width": 4, "validation_fraction": 0.2}
    resident, seen = [], set()

    class Watch(Callback):
        def on_batch_begin(self, net, batch=None, **kwargs):
            seen.add(batch[0].dtype)
            resident.append(vars(net).get("_resident"))

    host = ALITransformer(**params).fit(images)
    device = OnDevice(**params, callbacks=[Watch()]).fit(images)
    np.testing.assert_array_equal(device.transform(images), host.transform(images))
    assert device.history_[-1, "valid_loss"] == host.history_[-1, "valid_loss"]
    assert seen == {torch.uint8}
    assert resident[0][1].dtype == torch.uint8
    assert resident[0][1].shape == images.shape
    assert "_resident" not in vars(device.net_)  # released after fit


def test_read_ahead_yields_in_order_and_raises_in_the_caller():
    data = torch.arange(40).reshape(20, 2)

    class Rows(torch.utils.data.Dataset):
        def __getitem__(self, idx):
            if 13 in idx:
                raise KeyError("row 13 is unreadable")
            return data[idx], None

    batches = [[0, 1], [5, 4], [9]]
    got = [x.tolist() for x, _ in ReadAhead(Rows(), batches, pin=False)]
    assert got == [data[b].tolist() for b in batches]
    reader = iter(ReadAhead(Rows(), [[1], [13], [2]], pin=False))
    assert next(reader)[0].tolist() == [[2, 3]]
    with pytest.raises(KeyError, match="row 13"):
        next(reader)
    # A consumer that stops early stops the reader thread too.
    early = iter(ReadAhead(Rows(), [[i] for i in range(12)], depth=1, pin=False))
    next(early)
    early.close()
