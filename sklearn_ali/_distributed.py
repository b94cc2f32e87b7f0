"""Data-parallel training on PyTorch's DistributedDataParallel (DDP).

The same script launched by ``torchrun --nproc_per_node N script.py`` trains
one model: each process (rank) trains on its share of every batch, DDP
all-reduces the gradients of both players, and every rank ends with the
same weights and history. Nothing here is an engine of its own: the process
group is ``torch.distributed``'s, launched and rendezvoused by torchrun, and
the gradient averaging is DDP's.

Why a ``GameCall`` module: DDP prepares its gradient all-reduce in ``forward``
and fires it from the parameters' gradient hooks, so the whole game of a
step (both players' losses from one pass through the three networks) is one
call of one wrapped module. ``ALINet.train_step_single`` then runs a backward
pass per player (``backward(inputs=...)``); between them they mark every
parameter ready once, which is what DDP's reducer waits for.
"""

import datetime
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

# The process torchrun started, marked when it first imports this module:
# child processes (joblib's workers, say) inherit torchrun's environment and
# the mark, and must not take themselves for a rank.
_LAUNCHED_PID = "SKLEARN_ALI_LAUNCHED_PID"
if "WORLD_SIZE" in os.environ:
    os.environ.setdefault(_LAUNCHED_PID, str(os.getpid()))


def launched_world_size():
    """The number of processes torchrun (or a compatible launcher) started,
    1 in a process they did not start themselves."""
    if os.environ.get(_LAUNCHED_PID, str(os.getpid())) != str(os.getpid()):
        return 1
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def active_world():
    """``(rank, world_size)`` of the default process group, (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def local_device(device_type):
    """This process's device of ``device_type`` under torchrun: cuda:LOCAL_RANK."""
    return torch.device(device_type, int(os.environ.get("LOCAL_RANK", "0")))


def join_process_group(device, *, timeout):
    """Join the launcher's process group if there is one; ``(rank, world_size)``.

    Initialised from torchrun's environment (MASTER_ADDR, MASTER_PORT, RANK,
    WORLD_SIZE), with NCCL for CUDA tensors and gloo for CPU tensors (and
    for the small objects every rank agrees on). Each rank first checks in
    on the rendezvous store and waits ``timeout`` seconds for the others:
    torch's own rendezvous would wait its default half hour and then say
    only how many joined, not which ranks are missing.
    """
    if not dist.is_available():
        return 0, 1
    if not dist.is_initialized() and launched_world_size() > 1:
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(torch.device(device))
        timeout = datetime.timedelta(seconds=timeout)
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        store = _check_in(rank, world, timeout)
        dist.init_process_group(
            "cpu:gloo,cuda:nccl" if cuda else "gloo",
            store=store,
            rank=rank,
            world_size=world,
            timeout=timeout,
        )
    return active_world()


def _check_in(rank, world, timeout):
    """The rendezvous store, once every rank has checked in; else RuntimeError.

    The store is torchrun's: its agent hosts it at MASTER_PORT (where it
    says so in TORCHELASTIC_USE_AGENT_STORE), or rank 0 does, as torch's
    ``env://`` rendezvous does.
    """
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        world,
        is_master=rank == 0 and not agent_store,
        timeout=timeout,
        wait_for_workers=False,
    )
    # A restarted launch (torchrun --max-restarts) checks in afresh.
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    prefix = f"sklearn_ali/{attempt}/joined/"
    store.set(f"{prefix}{rank}", "1")
    keys = [f"{prefix}{r}" for r in range(world)]
    try:
        store.wait(keys, timeout)
    except (RuntimeError, dist.DistError) as exc:
        missing = [r for r, key in enumerate(keys) if not store.check([key])]
        raise RuntimeError(
            f"Data-parallel fit: ranks {missing} of {world} did not join within "
            f"distributed_timeout={timeout.total_seconds():g} s. Every process "
            "the launcher started must call fit alike; raise "
            "distributed_timeout if they start slowly, or set "
            "distributed=False to train in each process alone."
        ) from exc
    return dist.PrefixStore("sklearn_ali/process_group", store)


def broadcast_object(obj, src=0):
    """``obj`` as rank ``src`` has it, on every rank."""
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather_object(obj):
    """The list of every rank's ``obj``, by rank, on every rank."""
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


class GameCall(torch.nn.Module):
    """The networks of ``module`` playing a game's losses on one batch, as a call.

    ``forward(losses, x, *tensors, **options)`` is
    ``losses(encoder, decoder, discriminator, x, *tensors, **options)``
    (``losses`` is a :class:`sklearn_ali.objectives.Game`'s).
    """

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, losses, x, *tensors, **options):
        return play(self.module, losses, x, *tensors, **options)


def play(module, losses, x, *tensors, **options):
    """``losses`` on ``module``'s networks: what a ``GameCall`` computes."""
    networks = (module.encoder, module.decoder, module.discriminator)
    return losses(*networks, x, *tensors, **options)


def data_parallel_game(module, device):
    """``GameCall(module)`` in DDP, whose construction gives every rank rank 0's
    weights and buffers; by DDP's default, buffers (batch-norm statistics)
    follow rank 0's at each step.
    """
    device = torch.device(device)
    return DistributedDataParallel(
        GameCall(module),
        device_ids=[device] if device.type == "cuda" else None,
    )


def average(values):
    """The mean of a tensor over the ranks (equal shares), in place."""
    dist.all_reduce(values)
    values /= dist.get_world_size()
    return values


def broadcast_buffers(module, src=0):
    """Rank ``src``'s buffers (batch-norm statistics) on every rank.

    DDP broadcasts them before each step; after the last step each rank's
    are updated by its own share of the batch, so they are made equal again.
    """
    for buffer in module.buffers():
        dist.broadcast(buffer, src=src)
