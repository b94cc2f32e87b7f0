"""Caps every sklearn-ali fit at ``SKLEARN_ALI_DOCS_MAX_EPOCHS`` epochs.

``tests/test_documentation_code.py`` puts this folder on ``PYTHONPATH`` of the
process that runs the documentation's code blocks, so the cap also reaches the
processes that process starts (joblib's workers of ``GridSearchCV(n_jobs=...)``).
The blocks themselves run as written: estimators keep the ``max_epochs`` they
were given, and only the number of epochs each fit trains is capped.
"""

import os

_cap = os.environ.get("SKLEARN_ALI_DOCS_MAX_EPOCHS")
if _cap:
    from sklearn_ali import _base

    _train = _base.BaseALI._train

    def _capped_train(self, net, data, epochs, **options):
        return _train(self, net, data, min(epochs, int(_cap)), **options)

    _base.BaseALI._train = _capped_train
