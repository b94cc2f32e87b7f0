"""Run by tests/test_distributed.py under torchrun: each estimator fitted by
two processes; each rank saves what it ends with, for the test to compare."""

import gc
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from sklearn.datasets import load_digits

from sklearn_ali import ALIClassifier, ALITransformer, ConditionalALI

out = Path(sys.argv[1])
X, y = load_digits(return_X_y=True)
X, y = X[:400], y[:400]
y_semi = np.where(np.arange(len(y)) < 120, y, -1)
small = {"hidden_layer_sizes": (32,), "random_state": 0, "verbose": 2}

models = {
    "transformer": (ALITransformer(max_epochs=3, **small), (X,)),
    # 75: shares of 37 rows, one row left over per batch. The linear schedule
    # is sized from this rank's batches (the labelled sampler's).
    "classifier": (
        ALIClassifier(
            max_epochs=2, batch_size=75, learning_rate_schedule="linear", **small
        ),
        (X, y_semi),
    ),
    # Extra generator steps, whose backward passes still give DDP's reducer
    # a gradient of every parameter.
    "conditional": (
        ConditionalALI(
            max_epochs=2, validation_fraction=0.2, generator_steps=2, **small
        ),
        (X, y),
    ),
    # The hinge game through DDP, with the labelled sampler's extra rows, and
    # the gradient penalty's double backward through DDP's wrapper.
    "hinge": (
        ALIClassifier(max_epochs=2, loss="hinge", gradient_penalty=1.0, **small),
        (X, y_semi),
    ),
}
rank = None
for name, (model, data) in models.items():
    model.fit(*data)
    rank = dist.get_rank()
    assert model.net_.distributed and dist.get_world_size() == 2
    state = {k: v.numpy() for k, v in model.net_.module_.state_dict().items()}
    np.savez(out / f"{name}-{rank}.npz", **state)
    (out / f"{name}-{rank}.json").write_text(json.dumps(model.history_.to_list()))
    rates = [group["lr"] for group in model.net_.optimizer_.param_groups]
    (out / f"{name}-{rank}-rates.json").write_text(json.dumps(rates))
    (out / f"{name}-{rank}-features.npy").write_bytes(
        model.encode(X, y).tobytes()
        if name == "conditional"
        else model.encode(X).tobytes()
    )

# Ranks with data of different sizes all stop, rather than wait on each other.
try:
    ALITransformer(max_epochs=1, hidden_layer_sizes=(8,)).fit(X[: 100 + rank])
except ValueError as exc:
    assert "shapes [(100, 64), (101, 64)]" in str(exc), exc
    print(f"rank {rank}: refused X of different shapes")

# The gradients of one data-parallel step are the ranks' mean of their own.
net = models["transformer"][0].net_
torch.manual_seed(rank)
batch = (torch.as_tensor(X[rank::2][:50]), None)


start = net.snapshot()  # spectral norm's power iteration moves on each step


def step_gradients():
    net.restore(start)
    net.optimizer_.zero_grad()
    with torch.random.fork_rng():
        torch.manual_seed(100 + rank)
        net.train_step_single(batch)
    return torch.cat([p.grad.flatten() for p in net.module_.parameters()])


local = step_gradients()
net._begin_data_parallel()
averaged = step_gradients()
del vars(net)["_ddp"]
gc.collect()  # DDP sits in reference cycles; fit_loop collects it so too
mean = local.clone()
dist.all_reduce(mean)
mean /= 2
assert not torch.allclose(local, mean), "the ranks' batches should differ"
assert torch.allclose(averaged, mean, rtol=1e-5, atol=1e-7), "DDP did not average"
print(f"rank {rank}: gradients averaged")

dist.barrier()  # no rank leaves while another still talks to the group
dist.destroy_process_group()
