"""sklearn-ali: Adversarially Learned Inference as scikit-learn estimators."""

from . import io, networks
from ._classifier import ALIClassifier
from ._training import ALINet, TrainingDivergedError
from ._transformer import ALITransformer

__version__ = "0.1.0"

__all__ = [
    "ALIClassifier",
    "ALINet",
    "ALITransformer",
    "TrainingDivergedError",
    "__version__",
    "io",
    "networks",
]
