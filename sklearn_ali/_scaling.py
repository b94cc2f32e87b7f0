"""Data <-> network units: the scaling learned in fit, applied per batch.

Images are scaled to [0, 1] by the data's global minimum and maximum, flat
tabular data to zero mean and unit variance per feature. The networks see
``(X - offset) / scale``, computed as ``shift + X * factor`` in one pass per
batch, so that integer pixels stay integers until then.
"""

import math

import numpy as np
import torch


def _fit_scaling(X, *, images):
    """(offset, scale) of 2-D X: global range for images, per feature otherwise.

    Raises ValueError when X cannot be scaled for the networks.
    """
    if images:
        lo, hi = float(X.min()), float(X.max())
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


def _scaling_tensors(offset, scale, *, images):
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


# numpy dtypes that torch reads in place (native byte order).
_TORCH_READABLE = frozenset(
    np.dtype(name)
    for name in ("float32", "float64", "uint8", "int8", "int16", "int32", "int64")
)


def _scale_into(X, out, shift, factor):
    """out[:] = shift + X * factor, in one fused pass; return out.

    X is a 2-D numpy array, read in place where torch can; the arithmetic
    runs in the promoted dtype of X and the scaling (float64 for tabular
    data) and is rounded once, into the float32 ``out``.
    """
    if X.dtype not in _TORCH_READABLE:  # float16, bool, uint16+, big-endian
        X = X.astype(np.float64)
    elif not X.flags.writeable or any(stride < 0 for stride in X.strides):
        # torch.from_numpy warns on read-only memory (joblib's memmaps) and
        # rejects negative strides.
        X = np.array(X)
    torch.addcmul(shift, torch.from_numpy(X), factor, out=out)
    # X is finite (validated), so anything else is a float32 overflow. A sum
    # is the cheapest pass that sees an inf (it costs a tenth of a small
    # model's transform less than isfinite); only a non-finite sum, of huge
    # but finite values too, needs the exact check.
    if not math.isfinite(out.sum()) and not torch.isfinite(out).all():
        raise ValueError(
            "X scaled by the fitted scaling exceeds float32's range (about "
            "3.4e38), in which the networks run: X holds values far outside "
            "the spread of the data seen in fit."
        )
    return out


def _standard_scaling(X):
    """Per-feature mean and scale of 2-D X, in float64.

    The scale is the standard deviation. Each feature is first scaled by a
    power of two (exact) to magnitudes below 1, so that the squares of the
    variance neither overflow (X.std is inf beyond ~1e154) nor underflow
    (0 below ~1e-154). A constant feature, whose std is only the rounding
    error of its mean, gets scale 1, or its magnitude where that is larger
    so that the rounding error stays far below 1 once scaled.
    """
    X = np.array(X, dtype=np.float64)  # a copy, as X.std makes
    _, exponent = np.frexp(np.maximum(X.max(axis=0), -X.min(axis=0)))
    np.ldexp(X, -exponent, out=X)
    mean = X.mean(axis=0)
    X -= mean
    np.square(X, out=X)
    var = X.mean(axis=0)
    # StandardScaler's bound on the variance that rounding alone produces.
    eps, n = np.finfo(np.float64).eps, len(X)
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    # 2 ** (exponent - 1) <= the feature's largest magnitude: finite.
    scale = np.where(constant, np.maximum(np.ldexp(1.0, exponent - 1), 1.0), 0.0)
    np.ldexp(np.sqrt(var), exponent, out=scale, where=~constant)
    return np.ldexp(mean, exponent), scale


def _shift_factor(offset, scale):
    """(shift, factor) in float64 with x_scaled = shift + x * factor."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        factor = 1.0 / np.asarray(scale, dtype=np.float64)
        shift = -np.asarray(offset, dtype=np.float64) * factor
    return shift, factor
