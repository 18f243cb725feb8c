r"""Several processes, one model: DistributedDataParallel (DDP) under ``torchrun``.

::

    torchrun --nproc_per_node=4 -m xlser train --profile full --task en-de --system proposed

``torchrun`` starts one process per GPU and sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
:func:`init_from_env` joins them into a process group (NCCL on CUDA, gloo on CPU) and each rank
trains on ``cuda:LOCAL_RANK``. One process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) is the plain
run: every helper here is then the identity, and nothing is initialised.

What a run with ``W`` processes computes, and why it equals the one-process run on the same global
batch of ``B`` utterances (tested on two gloo processes):

* **Batches.** Every rank draws the *same* global batch from the sampler (same seed) and keeps the
  strided slice ``batch[rank::W]`` (:mod:`xlser.sampler`), so each (language, emotion) pair is
  spread over the ranks and every rank holds ``b = B / W`` utterances (``W`` must divide ``B``).
* **Gradients.** DDP averages the ranks' gradients: ``g = (1/W) sum_r grad L_r``.
* **CE and the speaker adversary** are means over the rank's ``b`` rows; with equal ``b`` on every
  rank, ``(1/W) sum_r (1/b) sum_{i in r} = (1/B) sum_i``: the global-batch mean.
* **SupCon** needs every pair of the global batch. Each rank all-gathers the embeddings (with
  :func:`all_gather_with_grad`, whose backward *sums* each rank's gradient with respect to the
  gathered rows back to the rank that owns them) and the labels, and computes the loss ``L`` of the
  whole global batch, as one process would. Rank ``s``'s gradient for its own rows is then
  ``sum_r dL/dz_s = W dL/dz_s``, and DDP's average divides the ``W`` back out:
  ``(1/W) sum_s W dL/dz_s dz_s/dtheta = dL/dtheta``. So nothing is rescaled
  (:class:`xlser.losses.LanguageAwareSupConLoss`).
* **Randomness.** Rank 0 keeps the run's seed (its dropout, SpecAugment and LayerDrop draws are the
  one-process run's); rank ``r > 0`` reseeds from ``(seed, r)`` after the model is built
  (:func:`rank_seed`), so masks are independent across ranks, as they are across the rows of one
  process's batch. LayerDrop then skips layers per rank (for that rank's ``b`` rows) rather than for
  the whole batch: the same expected update.
* **Unused parameters.** A layer that LayerDrop skipped on one rank, a speaker head whose loss
  weight is 0, or an unused projection leaves parameters without a gradient on some ranks; DDP is
  built with ``find_unused_parameters=True`` (one graph walk a step), which reduces those as zeros on
  the ranks that skipped them. The all-gather's backward is the first collective of every backward
  pass (SupCon's nodes are created after the model's heads), so its order relative to DDP's gradient
  buckets is the same on every rank even when the ranks skipped different layers.
* **Evaluation** is sharded: each rank predicts every ``W``-th row and the parts are gathered
  (:func:`all_gather_object`), so every rank holds the same metrics and makes the same
  model-selection and early-stopping decisions; logged training losses are averaged over ranks.
* **Files.** Rank 0 alone writes the run folder (:func:`on_main`); the others write nothing and
  wait at barriers where they would otherwise read a file before it is written.

>>> world_size(), rank(), is_main()  # one process: no process group
(1, 0, True)
>>> t = torch.ones(2, 3)
>>> all_gather_with_grad(t) is t
True
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

__all__ = [
    "all_gather",
    "all_gather_object",
    "all_gather_with_grad",
    "barrier",
    "env_world_size",
    "init_from_env",
    "is_distributed",
    "is_main",
    "local_rank",
    "main_first",
    "mean_over_ranks",
    "on_main",
    "rank",
    "rank_seed",
    "shutdown",
    "world_size",
    "wrap",
]

T = TypeVar("T")


# ----------------------------------------------------------------------------- the process group


def env_world_size() -> int:
    """``WORLD_SIZE`` as set by ``torchrun`` (1 when unset)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    """``LOCAL_RANK`` as set by ``torchrun`` (0 when unset): this process's GPU on its machine."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def init_from_env(device: torch.device, timeout_s: float = 1800.0) -> bool:
    """Join the process group that ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``): NCCL when ``device`` is CUDA (and make it this process's current device),
    gloo on CPU. Does nothing for one process or when the group exists. Returns whether several
    processes train together."""
    if env_world_size() <= 1:
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(
            "nccl" if device.type == "cuda" else "gloo", timeout=timedelta(seconds=timeout_s)
        )
    return is_distributed()


def shutdown() -> None:
    """Leave the process group (end of a ``torchrun`` command); no-op without one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_distributed() -> bool:
    """Whether this process is one of several in an initialised process group."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_main() -> bool:
    """Rank 0: the process that writes files and shows progress."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op for one process)."""
    if is_distributed():
        dist.barrier()


def rank_seed(seed: int, r: int | None = None) -> int:
    """The seed of rank ``r`` (default: this rank): ``seed`` itself on rank 0, an independent
    stream derived from ``(seed, r)`` elsewhere.

    >>> rank_seed(7, 0), rank_seed(7, 1) != rank_seed(7, 2)
    (7, True)
    """
    r = rank() if r is None else r
    return seed if r == 0 else int(np.random.SeedSequence([seed, r]).generate_state(1)[0])


def wrap(module: torch.nn.Module, device: torch.device) -> torch.nn.Module | None:
    """``module`` inside DDP when several processes train, else None. ``find_unused_parameters``:
    LayerDrop and zero-weighted heads leave parameters unused on some steps (module docstring);
    buffers are not broadcast at every forward (the model has none that training changes)."""
    if not is_distributed():
        return None
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index if device.index is not None else local_rank()]
    return DistributedDataParallel(
        module,
        device_ids=ids if device.type == "cuda" else None,
        find_unused_parameters=True,
        broadcast_buffers=False,
    )


# ----------------------------------------------------------------------------- collectives


def all_gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate every rank's ``x`` along dim 0, rank order, keeping gradients: the backward
    sums the gradients of all ranks with respect to this rank's rows (module docstring).

    Shapes:
        ``(b, ...)`` on each rank (the same ``b`` everywhere) -> ``(W * b, ...)``.
    """
    if not is_distributed():
        return x
    from torch.distributed.nn.functional import all_gather as gather_keep_grad

    if torch.is_grad_enabled() and not x.requires_grad:
        # e.g. LayerDrop skipped every trainable layer on this rank: its rows then need no
        # gradient here, but the other ranks' backward waits for this rank's part of the
        # all-gather's backward collective, which autograd runs only for inputs needing grad
        x = x.detach().requires_grad_()
    return torch.cat(gather_keep_grad(x.contiguous()), dim=0)


def all_gather(x: Tensor) -> Tensor:
    """Concatenate every rank's ``x`` along dim 0 without gradients (labels).

    Shapes:
        ``(b, ...)`` -> ``(W * b, ...)``.
    """
    if not is_distributed():
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def all_gather_object(obj: T) -> list[T]:
    """Every rank's ``obj`` (picklable), in rank order: ``[obj]`` for one process."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def mean_over_ranks(x: Tensor) -> Tensor:
    """The mean of ``x`` over the ranks (a float tensor; no gradient; ``x`` for one process)."""
    if not is_distributed():
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / world_size()


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only and give every rank its result; an exception raised there is
    raised on every rank (so no rank waits forever for a rank that failed)."""
    return _on_main(fn, share=True)


def main_first(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0, then (if it succeeded) on the other ranks: for work that may write a
    shared file the first time (a synthetic corpus, a cache) and only reads it afterwards."""
    out = _on_main(fn, share=False)
    return out if is_main() else fn()


def _on_main(fn: Callable[[], T], share: bool) -> T:
    if not is_distributed():
        return fn()
    box: list[Any] = [None]
    result: Any = None
    error: BaseException | None = None
    if is_main():
        try:
            result = fn()
            box[0] = ("ok", result if share else None)
        except BaseException as e:  # raised below, on every rank
            error = e
            try:
                pickle.dumps(e)
            except Exception:  # an exception that cannot travel: send its message
                e = RuntimeError(f"rank 0 failed: {type(e).__name__}: {e}")
            box[0] = ("error", e)
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise error if is_main() else value
    return result if is_main() else value
