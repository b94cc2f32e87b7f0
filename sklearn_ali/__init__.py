"""sklearn-ali: Adversarially Learned Inference as scikit-learn estimators."""

from . import io, networks, objectives
from ._classifier import ALIClassifier
from ._conditional import ConditionalALI
from ._training import ALIModule, ALINet, TrainingDivergedError
from ._transformer import ALITransformer

__version__ = "0.1.0"

__all__ = [
    "ALIClassifier",
    "ALIModule",
    "ALINet",
    "ALITransformer",
    "ConditionalALI",
    "TrainingDivergedError",
    "__version__",
    "io",
    "networks",
    "objectives",
]
