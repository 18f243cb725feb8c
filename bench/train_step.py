"""Throughput of one training step (eq. 12, batch 36) of the smoke model on this machine's CPU.

Prints steps/s and seconds of audio per second for SDPA and eager attention, and their ratio, measured
in this run. Usage: ``.venv/bin/python bench/train_step.py``
"""

from __future__ import annotations

import time

import torch

from xlser.book import experiment
from xlser.train import Trainer


def bench(attn: str, steps: int = 8) -> tuple[float, float]:
    cfg = experiment("smoke", system="proposed", **{"model.attn_implementation": attn})
    trainer = Trainer(cfg, progress=False)
    it = iter(trainer._loader(0))
    batches = [next(it) for _ in range(steps + 1)]
    trainer.train_step(batches[0])  # warm-up
    t = time.perf_counter()
    audio = 0.0
    for b in batches[1:]:
        trainer.train_step(b)
        audio += float(b.lengths.sum()) / cfg.data.sample_rate
    dt = time.perf_counter() - t
    return steps / dt, audio / dt


def main() -> None:
    torch.manual_seed(0)
    print(f"torch threads: {torch.get_num_threads()}")
    results = {attn: bench(attn) for attn in ("sdpa", "eager")}
    for attn, (sps, aps) in results.items():
        print(f"{attn:>6}: {sps:.2f} steps/s, {aps:.0f} s of audio per s")
    print(f"sdpa/eager speed ratio: {results['sdpa'][0] / results['eager'][0]:.2f}")


if __name__ == "__main__":
    main()
