"""sklearn-ali: Adversarially Learned Inference as scikit-learn estimators."""

from . import io, networks, objectives
from ._callbacks import TrainingDivergedError
from ._classifier import ALIClassifier
from ._conditional import ConditionalALI
from ._training import ALIModule, ALINet
from ._transformer import ALITransformer
from ._version import __version__

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
