"""Devices and seeds: where the networks run, and torch's RNG for one fit."""

import math
import threading
from contextlib import contextmanager

import numpy as np
import torch

SEED_BOUND = np.iinfo(np.int32).max


def resolve_device(device, name="device"):
    """``device`` (or "auto") as the string of an available torch device.

    Raises ValueError naming ``name`` for what is no device, holds no data
    (meta) or is not available here; ``fit`` and ``io.load`` share it.
    """
    requested = device
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name}={requested!r} is not a torch device.") from exc
    if device.type == "cpu":
        return str(device)
    if device.type == "meta":
        raise ValueError(
            f"{name}={requested!r} holds no data; the networks cannot train on it."
        )
    # torch.cuda, torch.mps, torch.xpu, ... answer is_available(); an
    # unavailable device otherwise fails only deep inside skorch's fit.
    backend = getattr(torch, device.type, None)
    if hasattr(backend, "is_available"):
        available = backend.is_available()
        count = backend.device_count() if hasattr(backend, "device_count") else 1
    else:  # plugin backends (hpu, xla, ...): allocating is the probe
        try:
            torch.empty(0, device=device)
            available, count = True, math.inf
        except (RuntimeError, ImportError):
            available = False
    if not available:
        raise ValueError(
            f"{name}={requested!r} was requested but "
            f"{device.type.upper()} is not available."
        )
    if device.index is not None and device.index >= count:
        raise ValueError(
            f"{name}={requested!r} was requested but only {count} "
            f"{device.type.upper()} device(s) are available."
        )
    return str(device)


def autocast_bfloat16(precision, device, *, images):
    """Whether training on ``device`` runs under bfloat16 autocast.

    ``precision="auto"`` asks for it for images where bfloat16 products are
    native: CUDA, and CPUs with AVX-512 BF16 (AMX implies it). Elsewhere the
    CPU emulates bfloat16 and would train slower than in float32. Rows stay
    float32: bfloat16 keeps 8 bits of a standardised feature, about 0.016
    near 2, coarser than structure that tabular data may carry (the toy
    grid's components are 0.018 wide), where pixels in [0, 1] lose nothing
    of their 8 bits.
    """
    if precision != "auto":
        return precision == "bfloat16"
    if not images:
        return False
    device = torch.device(device)
    if device.type == "cuda":
        return True
    if device.type == "cpu":
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        return bool(probe is not None and probe())
    return False


def rank_seed(seed, rank):
    """torch's seed on ``rank``: the noise of each rank's share must differ."""
    return seed if rank == 0 else (seed + 104729 * rank) % SEED_BOUND


# torch's RNG is one per process: fits in threads take turns with it, so each
# is seeded alone (reproducible) and the caller's state comes back unchanged.
TORCH_RNG_LOCK = threading.RLock()


@contextmanager
def seeded_torch(seed, device):
    """Seed torch's global RNGs for the block; restore them after it."""
    device = torch.device(device)
    devices = [device.index or 0] if device.type == "cuda" else []
    with TORCH_RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
