"""sklearn-ali: Adversarially Learned Inference as a scikit-learn transformer."""

from . import io, networks
from ._training import ALINet, TrainingDivergedError
from ._transformer import ALITransformer

__version__ = "0.1.0"

__all__ = [
    "ALINet",
    "ALITransformer",
    "TrainingDivergedError",
    "__version__",
    "io",
    "networks",
]
