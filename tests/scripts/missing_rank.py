"""Run by tests/test_distributed.py under torchrun: rank 1 never calls fit;
rank 0's fit must stop within distributed_timeout and name rank 1."""

import os
import sys
import time

from sklearn.datasets import load_digits

from sklearn_ali import ALITransformer

if os.environ["RANK"] != "0":
    time.sleep(20)  # alive, but never joins
    sys.exit(0)
X = load_digits().data[:100]
model = ALITransformer(hidden_layer_sizes=(8,), max_epochs=1, distributed_timeout=3)
start = time.monotonic()
try:
    model.fit(X)
except RuntimeError as error:
    print(f"ERROR after {time.monotonic() - start:.1f} s: {error}")
    assert not hasattr(model, "net_")
