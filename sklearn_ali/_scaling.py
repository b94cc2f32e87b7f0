"""Data <-> network units: the scaling learned in fit, applied per batch.

Images are scaled to [0, 1] by the data's global minimum and maximum, flat
tabular data to zero mean and unit variance per feature. The networks see
``(X - offset) / scale``, computed as ``shift + X * factor`` in one pass per
batch where the batch lands (on the GPU when training there), so that
integer pixels stay integers until then.

X need not be in memory: anything array-like with ``shape``, ``dtype`` and
row slicing (``np.memmap``, h5py and zarr datasets, dask arrays) is read in
chunks of rows, for the statistics (one streaming pass), the training
batches and inference.
"""

import math

import numpy as np
import torch

FLOAT32_OVERFLOW = (
    "X scaled by the fitted scaling exceeds float32's range (about 3.4e38), in "
    "which the networks run: X holds values far outside the spread of the data "
    "seen in fit."
)

# Values (not bytes) per chunk of a streaming pass: 32 MB as float64.
_CHUNK_VALUES = 2**22


def fit_scaling(X, *, images):
    """(offset, scale) of X: global range for images, per feature otherwise.

    One streaming pass over chunks of rows of X (2-D, or 4-D images), which
    also checks that every value is finite. Raises ValueError when X cannot
    be scaled for the networks.
    """
    if images:
        lo, hi = _streaming_range(X)
        offset = np.asarray(lo)
        scale = np.asarray(hi - lo if hi > lo else 1.0)
        statistic = "range (max - min)"
    else:
        offset, scale = _standard_scaling(X)
        statistic = "standard deviation"
    shift, factor = _shift_factor(offset, scale)
    # Finite X can still leave float64 here: a range of 1e308 - -1e308,
    # or a spread so small (subnormal) that 1 / spread overflows.
    for bad, problem in (
        (~np.isfinite(scale), "overflows float64"),
        (~np.isfinite(factor), "is too small to invert in float64"),
        (~np.isfinite(shift), "is too small for its offset in float64"),
    ):
        if bad.any():
            where = ""
            if bad.ndim:
                features = np.flatnonzero(bad).tolist()
                more = ", ..." if len(features) > 5 else ""
                where = f" (features {str(features[:5])[1:-1]}{more})"
            raise ValueError(
                f"X's {statistic}{where} {problem}, so X cannot be scaled "
                "for the networks; rescale X (for example by a power of ten) "
                "before fit."
            )
    return offset, scale


def scaling_tensors(offset, scale, *, images):
    """(shift, factor) tensors with x_scaled = shift + x * factor.

    Tabular data are scaled in float64, where an offset can dwarf the
    spread; images in float32, exact enough for pixels, unless the
    factor is no normal float32 (a range beyond ~1e38) or the shift's
    rounding would show (an offset beyond ~1000 ranges).
    """
    shift, factor = _shift_factor(offset, scale)
    dtype = torch.float64
    if (
        images
        and np.all(np.abs(shift) <= 2**10)
        and np.all(factor >= np.finfo(np.float32).tiny)
        and np.all(factor <= np.finfo(np.float32).max)
    ):
        dtype = torch.float32
    # 1-d: torch ignores a 0-d tensor's dtype in type promotion, and a
    # float64 factor must make the arithmetic float64.
    return (
        torch.as_tensor(np.atleast_1d(shift), dtype=dtype),
        torch.as_tensor(np.atleast_1d(factor), dtype=dtype),
    )


def _standard_scaling(X):
    """Per-feature mean and scale of 2-D X, in float64, in one streaming pass.

    The scale is the standard deviation. Each feature is scaled by a power
    of two (exact) to magnitudes below 1, so that the squares of the
    variance neither overflow (X.std is inf beyond ~1e154) nor underflow
    (0 below ~1e-154); chunks of rows are merged by Chan et al.'s pairwise
    update, rescaling what is merged when a chunk raises a feature's
    exponent. X in one chunk gives exactly the two-pass mean and variance.
    A constant feature, whose std is only the rounding error of its mean,
    gets scale 1, or its magnitude where that is larger so that the
    rounding error stays far below 1 once scaled.
    """
    n = 0
    mean = m2 = exponent = None
    for chunk in _chunks(X, dtype=np.float64):  # a float64 copy per chunk
        _, chunk_exponent = np.frexp(np.maximum(chunk.max(axis=0), -chunk.min(axis=0)))
        if exponent is None:
            exponent = chunk_exponent
            mean = m2 = np.zeros(chunk.shape[1])
        else:
            grown = np.maximum(exponent, chunk_exponent)
            mean = np.ldexp(mean, exponent - grown)
            m2 = np.ldexp(m2, 2 * (exponent - grown))
            exponent = grown
        np.ldexp(chunk, -exponent, out=chunk)
        chunk_mean = chunk.mean(axis=0)
        chunk -= chunk_mean
        np.square(chunk, out=chunk)
        chunk_m2 = chunk.sum(axis=0)
        k = len(chunk)
        if n == 0:
            mean, m2 = chunk_mean, chunk_m2
        else:
            delta = chunk_mean - mean
            mean = mean + delta * (k / (n + k))
            m2 = m2 + chunk_m2 + delta**2 * (n * k / (n + k))
        n += k
    var = m2 / n
    # StandardScaler's bound on the variance that rounding alone produces.
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    # 2 ** (exponent - 1) <= the feature's largest magnitude: finite.
    scale = np.where(constant, np.maximum(np.ldexp(1.0, exponent - 1), 1.0), 0.0)
    np.ldexp(np.sqrt(var), exponent, out=scale, where=~constant)
    return np.ldexp(mean, exponent), scale


def _streaming_range(X):
    """Global (min, max) of X as floats, in one streaming pass."""
    lo, hi = math.inf, -math.inf
    for chunk in _chunks(X):
        lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
    return lo, hi


def check_scaled_range(X, shift, factor):
    """Raise ValueError where ``shift + X * factor`` leaves float32's range.

    One streaming pass, for data the scaling was not fitted on (training
    on, with ``partial_fit`` or a warm start). ``shift`` and ``factor`` are
    the scaling's tensors.
    """
    shift, factor = shift.double().numpy(), factor.double().numpy()
    limit = float(np.finfo(np.float32).max)
    for chunk in _chunks(X):
        lo, hi = chunk.min(axis=0), chunk.max(axis=0)
        with np.errstate(over="ignore", invalid="ignore"):
            ends = np.abs(shift + np.stack([lo, hi]).astype(np.float64) * factor)
        if not np.all(ends <= limit):
            raise ValueError(FLOAT32_OVERFLOW)


def _chunks(X, dtype=None):
    """Chunks of rows of X as 2-D numpy arrays, finite (else ValueError).

    ``dtype`` given, each chunk is a fresh array of that dtype.
    """
    n_features = math.prod(X.shape[1:])
    step = max(1, _CHUNK_VALUES // max(1, n_features))
    for start in range(0, X.shape[0], step):
        chunk = read_rows(X, slice(start, start + step)).reshape(-1, n_features)
        if dtype is not None:
            chunk = chunk.astype(dtype)
        check_finite(chunk, start)
        yield chunk


def check_finite(rows, first_row=0):
    """Raise ValueError naming the first row of ``rows`` with a NaN or inf."""
    if rows.dtype.kind != "f" or math.isfinite(np.sum(rows, dtype=np.float64)):
        return
    bad = ~np.isfinite(rows).reshape(len(rows), -1).all(axis=1)
    if bad.any():
        row = first_row + int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"Input X contains NaN or infinity (first at row {row}); the "
            "networks need finite values."
        )


# -- array-likes that need not be in memory ------------------------------


def is_lazy_array(X):
    """Whether X is an array-like read in chunks (memmap aside: numpy reads it).

    h5py and zarr datasets, dask arrays, xarray and the like: anything with
    ``shape``, a numpy ``dtype`` and slicing that is neither a numpy array,
    a torch tensor, a sparse matrix nor a pandas object.
    """
    if isinstance(X, np.ndarray) or torch.is_tensor(X) or hasattr(X, "tocsr"):
        return False
    if not all(hasattr(X, name) for name in ("shape", "dtype", "__getitem__")):
        return False
    if type(X).__module__.partition(".")[0] == "pandas":
        return False
    try:
        np.dtype(X.dtype)
    except TypeError:
        return False
    return True


def is_dask_array(X):
    """Whether X is a dask array, which inference maps over block by block."""
    return type(X).__module__.startswith("dask.array")


def read_rows(X, rows):
    """Rows of X as a numpy array: a slice, or integer positions in any order.

    Array-likes that read only sorted, distinct positions (h5py) or read
    them through ``oindex`` (zarr) get them so, and the rows come back in
    the order asked; dask arrays are computed.
    """
    if isinstance(X, np.ndarray):
        return X[rows]
    inverse = None
    if not isinstance(rows, slice):
        rows, inverse = np.unique(np.asarray(rows), return_inverse=True)
        if hasattr(X, "oindex"):  # zarr: X[array] is not orthogonal there
            X = X.oindex
    out = X[rows]
    if hasattr(out, "compute"):  # dask
        out = out.compute()
    out = np.asarray(out)
    return out if inverse is None else out[inverse]


# numpy dtypes that torch holds as they are (native byte order).
_TORCH_READABLE = frozenset(
    np.dtype(name)
    for name in ("float32", "float64", "uint8", "int8", "int16", "int32", "int64")
)


def _torch_readable(dtype):
    """The dtype torch holds values of ``dtype`` in, exactly: integers stay
    integers (bool as uint8, uint16 as int32, uint32 as int64), float16 is
    float32, anything else float64."""
    native = dtype.newbyteorder("=")
    if native in _TORCH_READABLE:
        return native
    if dtype.kind == "b":
        return np.dtype(np.uint8)
    if dtype.kind == "u" and dtype.itemsize <= 4:
        return np.dtype(f"int{16 * dtype.itemsize}")
    if dtype.kind == "f" and dtype.itemsize < 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def to_torch_rows(rows):
    """A torch tensor of numpy ``rows``, sharing their memory where torch can."""
    dtype = _torch_readable(rows.dtype)
    if rows.dtype != dtype:
        rows = rows.astype(dtype)
    elif not rows.flags.writeable or any(stride < 0 for stride in rows.strides):
        # torch.from_numpy warns on read-only memory (joblib's memmaps) and
        # rejects negative strides.
        rows = np.array(rows)
    return torch.from_numpy(rows)


def scale_batch(x, shift, factor):
    """The float32 network input ``shift + x * factor`` of a raw batch ``x``.

    Computed in the promoted dtype of x and the scaling (float64 for tabular
    data) and rounded once. ``shift`` and ``factor`` broadcast against x's
    trailing dimensions (per feature) or are one value (images).
    """
    return torch.addcmul(shift, x, factor).to(torch.float32)


def _shift_factor(offset, scale):
    """(shift, factor) in float64 with x_scaled = shift + x * factor."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        factor = 1.0 / np.asarray(scale, dtype=np.float64)
        shift = -np.asarray(offset, dtype=np.float64) * factor
    return shift, factor
