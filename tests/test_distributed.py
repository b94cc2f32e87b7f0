"""Data-parallel training: two CPU processes with gloo, launched by torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sklearn_ali import ALITransformer
from sklearn_ali._batches import LabelledBatches, RandomBatches
from sklearn_ali._transformer import AUTO_TRAINING_PARAMS

SCRIPT = Path(__file__).parent / "scripts" / "data_parallel_fit.py"
MODELS = ("transformer", "classifier", "conditional", "hinge")


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """What each of two ranks ended with, and what the launch printed."""
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    out = tmp_path_factory.mktemp("ranks")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    result = subprocess.run(
        [*launch, "--nproc_per_node", "2", str(SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result.stdout


@pytest.mark.parametrize("name", MODELS)
def test_every_rank_ends_with_the_same_model(two_ranks, name):
    out, _ = two_ranks
    weights = [np.load(out / f"{name}-{rank}.npz") for rank in (0, 1)]
    assert weights[0].files == weights[1].files
    for key in weights[0].files:
        np.testing.assert_array_equal(weights[0][key], weights[1][key], key)
    histories = [json.loads((out / f"{name}-{r}.json").read_text()) for r in (0, 1)]
    assert histories[0] == histories[1]
    features = [(out / f"{name}-{r}-features.npy").read_bytes() for r in (0, 1)]
    assert features[0] == features[1]
    losses = [row["d_loss"] for row in histories[0]]
    assert np.all(np.isfinite(losses))


def test_the_hinge_game_records_its_own_diagnostics(two_ranks):
    out, _ = two_ranks
    history = json.loads((out / "hinge-0.json").read_text())
    assert {"d_real_in_margin", "d_fake_in_margin", "class_loss"} <= set(history[-1])
    assert "d_real_acc" not in history[-1]


def test_a_linear_schedule_reaches_zero_on_every_rank(two_ranks):
    out, _ = two_ranks
    # The classifier's schedule as given; the transformer's as "auto" picks
    # it for the MLP on flat rows.
    assert AUTO_TRAINING_PARAMS["mlp"]["learning_rate_schedule"] == "linear"
    for name in ("classifier", "transformer"):
        for rank in (0, 1):
            rates = json.loads((out / f"{name}-{rank}-rates.json").read_text())
            assert rates == [0.0, 0.0]
    rates = json.loads((out / "conditional-0-rates.json").read_text())
    assert all(rate > 0 for rate in rates)  # a constant rate stays


def test_the_history_counts_whole_batches(two_ranks):
    out, _ = two_ranks
    history = json.loads((out / "transformer-0.json").read_text())
    sizes = {b["train_batch_size"] for row in history for b in row["batches"]}
    assert sizes == {100}  # two shares of 50 rows


def test_only_rank_0_prints_gradients_are_averaged_and_shapes_agree(two_ranks):
    _, stdout = two_ranks
    # verbose=2: one table of epochs per model, from rank 0 alone.
    assert stdout.count("train_loss") == len(MODELS)
    assert "rank 0: gradients averaged" in stdout
    assert "rank 1: gradients averaged" in stdout
    assert "rank 0: refused X of different shapes" in stdout
    assert "rank 1: refused X of different shapes" in stdout


def test_distributed_true_needs_a_process_group():
    X = load_digits().data[:50]
    with pytest.raises(ValueError, match="distributed=True, but this process"):
        ALITransformer(max_epochs=1, distributed=True).fit(X)
    ali = ALITransformer(max_epochs=1, hidden_layer_sizes=(8,)).fit(X)
    assert not ali.net_.distributed  # "auto" without torchrun: one process


def test_child_processes_are_not_taken_for_ranks(monkeypatch):
    """Under torchrun, joblib's workers inherit WORLD_SIZE but are no rank."""
    from sklearn_ali import _distributed

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv(_distributed._LAUNCHED_PID, str(os.getpid()))
    assert _distributed.launched_world_size() == 2  # the launched process
    monkeypatch.setenv(_distributed._LAUNCHED_PID, str(os.getpid() + 1))
    assert _distributed.launched_world_size() == 1  # a child of it
    # ... so a fit there trains alone, with distributed="auto".
    X = load_digits().data[:50]
    ali = ALITransformer(max_epochs=1, hidden_layer_sizes=(8,)).fit(X)
    assert not ali.net_.distributed and not torch.distributed.is_initialized()


def test_random_batches_are_random_samplers_batches():
    """One process draws exactly the batches skorch's usual samplers draw."""
    n, size = 103, 10
    torch.manual_seed(3)
    expected = list(
        torch.utils.data.BatchSampler(
            torch.utils.data.RandomSampler(range(n)), size, drop_last=True
        )
    )
    torch.manual_seed(3)
    assert list(RandomBatches(n, size)) == expected


@pytest.mark.parametrize("world", [2, 3])
def test_shards_split_each_batch_equally(world):
    n, size = 100, 20
    shards = [
        list(RandomBatches(n, size, torch.Generator().manual_seed(0), (r, world)))
        for r in range(world)
    ]
    whole = list(RandomBatches(n, size, torch.Generator().manual_seed(0)))
    for step, batch in enumerate(whole):
        parts = [shard[step] for shard in shards]
        assert all(len(p) == size // world for p in parts)
        assert sorted(sum(parts, [])) == sorted(batch[: world * (size // world)])

    labelled = torch.arange(0, n, 7)
    sharded = [
        list(
            LabelledBatches(
                n, labelled, size, 10, torch.Generator().manual_seed(0), (r, world)
            )
        )
        for r in range(world)
    ]
    for parts in zip(*sharded):
        pool = [p[: size // world] for p in parts]
        extras = [p[size // world :] for p in parts]
        assert len(set(sum(pool, []))) == world * (size // world)
        assert all(len(e) == 10 // world for e in extras)
        assert set(sum(extras, [])) <= set(labelled.tolist())


def test_a_rank_that_never_joins_is_named_within_the_timeout():
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    script = Path(__file__).parent / "scripts" / "missing_rank.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    result = subprocess.run(
        [*launch, "--nproc_per_node", "2", str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "ranks [1] of 2 did not join within distributed_timeout=3 s" in (
        result.stdout
    )
    seconds = float(result.stdout.split("ERROR after ")[1].split(" s")[0])
    assert seconds < 60  # the timeout, not torch's default half hour
