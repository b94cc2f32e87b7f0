"""Data-parallel training: N processes (torchrun, DDP) against one.

Fits the default ``ALITransformer`` on MNIST-5k's training pool (the split
of ``semi_supervised.py``) for ``--epochs`` epochs, and prints its training
throughput (images per second over the epochs after the first, from the
history's epoch durations) and, on rank 0, the semi-supervised test error
of its features with 100 and 1,000 labels (``semi_supervised_score``,
``--repeats`` labelled draws). The same script runs in one process or under
torchrun, where every rank trains on its share of each batch; the model, the
batch size and the epochs are the same.

Usage, on a machine with 2 cores::

    OMP_NUM_THREADS=2 python benchmarks/data_parallel.py
    torchrun --standalone --nproc_per_node 2 benchmarks/data_parallel.py

(torchrun gives each process 1 thread unless OMP_NUM_THREADS is set.)
"""

import argparse
import os
import time

import numpy as np
import torch.distributed as dist
from semi_supervised import load, machine_line, split

from sklearn_ali import ALITransformer
from sklearn_ali.evaluation import semi_supervised_score


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="the default's")
    parser.add_argument("--repeats", type=int, default=10, help="labelled draws")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke run")
    args = parser.parse_args()
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun's rank, before fit
        print(machine_line() + f", {os.environ.get('WORLD_SIZE', 1)} process(es)")
    X, y = load("mnist")
    if args.quick:
        X, y, args.epochs, args.repeats = X[:600], y[:600], 2, 1
    X_pool, X_test, y_pool, y_test = split(X, y, args.seed)

    ali = ALITransformer(max_epochs=args.epochs, random_state=args.seed)
    start = time.perf_counter()
    ali.fit(X_pool)
    seconds = time.perf_counter() - start
    if ali.net_.distributed and dist.get_rank() != 0:
        return
    durations = [row["dur"] for row in ali.history_]
    images = (len(X_pool) // ali.batch_size) * ali.batch_size
    timed = durations[1:] or durations
    print(
        f"fit: {seconds:.1f} s for {args.epochs} epochs; "
        f"{images * len(timed) / sum(timed):.0f} images/s after the first epoch"
    )
    for n_labeled in (100,) if args.quick else (100, 1000):
        result = semi_supervised_score(
            ali,
            X_pool,
            y_pool,
            X_test=X_test,
            y_test=y_test,
            n_labeled=n_labeled,
            n_repeats=args.repeats,
            random_state=args.seed,
        )
        print(
            f"{n_labeled:>5} labels: error {100 * result.mean_error:.2f} "
            f"± {100 * result.std_error:.2f} %",
            flush=True,
        )
    print(
        "final d_loss / g_loss:",
        *np.round([ali.history_[-1, k] for k in ("d_loss", "g_loss")], 4),
    )


if __name__ == "__main__":
    main()
