"""The networks' former module, kept so that joblib pickles written before
:mod:`sklearn_ali.networks` became public still find their classes."""

from .networks import (  # noqa: F401
    Decoder,
    Encoder,
    JointDiscriminator,
    SpectralNorm,
    _Unflatten,
)
