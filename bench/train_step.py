"""Throughput of the trainer's training step (eq. 12, batch 36) on the smoke run: SDPA vs eager.

Two :class:`xlser.train.Trainer` objects on the smoke profile (task en-de, Proposed, the shipped
``xlser-tiny`` encoder), one with ``model.attn_implementation="sdpa"`` and one with ``"eager"``, run
the same hierarchical batches of waveforms (the frozen-CNN feature cache off, so each step runs the
whole model), in alternating rounds. Prints steps/s and seconds of audio per second of each and their ratio.

Clock and threads as in ``bench/forward.py``: one thread and process CPU time by default (robust
on a shared machine); ``--threads 2 --clock wall`` for the other way.

Usage: ``.venv/bin/python bench/train_step.py [--steps 3] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools

from _common import emit, interleaved, median, setup

from xlser.book import experiment
from xlser.config import ModelConfig
from xlser.train import Trainer, task_data


def make_trainer(attn: str, data) -> Trainer:
    over = {"system": "proposed", "model.attn_implementation": attn}
    if "frontend_cache" in {f.name for f in dataclasses.fields(ModelConfig)}:
        over["model.frontend_cache"] = "off"  # the waveform path: every step runs the CNN
    cfg = experiment("smoke", **over)
    return Trainer(cfg, data=data, progress=False)


def first_batches(trainer: Trainer, n: int) -> list:
    """The first ``n`` training batches of epoch 0, as the trainer builds them."""
    idx = list(itertools.islice(iter(trainer.batch_sampler), n))
    if hasattr(trainer, "inputs"):
        it = trainer.inputs.train_batches(trainer.data.train, idx, 0)
    else:  # the trainer before the front-end cache
        it = iter(trainer._loader(0))
    return [next(it) for _ in range(n)]


def steps_per_second(
    trainers: dict[str, Trainer], batches: list, repeats: int, clock: str
) -> dict[str, float]:
    """Median steps/s of each trainer's ``train_step`` on the same ``batches``, rounds
    interleaved (:func:`_common.interleaved`, one warm-up round)."""

    def run(tr: Trainer):
        for b in batches:
            tr.train_step(b)

    times = interleaved(
        {k: (lambda tr=tr: run(tr)) for k, tr in trainers.items()},
        repeats=repeats,
        warmup=1,
        clock=clock,
    )
    return {k: len(batches) / median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=3, help="steps per round (default 3)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = ap.parse_args()
    setup(args.threads)
    cfg = experiment("smoke", system="proposed")
    data = task_data(cfg)
    trainers = {attn: make_trainer(attn, data) for attn in ("sdpa", "eager")}
    batches = first_batches(trainers["sdpa"], args.steps)
    sr = cfg.data.sample_rate
    audio_s = sum(float(b.lengths.sum()) for b in batches) / sr

    sps = steps_per_second(trainers, batches, args.repeats, args.clock)
    print(
        f"smoke training step, {cfg.batch_size} utterances ({audio_s / args.steps:.0f} s of audio "
        f"per batch), {args.threads} thread(s), {args.clock} clock, {args.steps} steps x "
        f"{args.repeats} rounds"
    )
    for k, v in sps.items():
        print(f"{k:>6}: {v:.2f} steps/s, {v * audio_s / args.steps:.0f} s of audio per s")
    ratio = sps["sdpa"] / sps["eager"]
    print(f"sdpa / eager speed: {ratio:.2f}x")
    emit(
        {
            "bench": "train_step",
            "baseline": "eager attention",
            "candidate": "sdpa attention",
            "metric": f"steps per {args.clock}-clock second (median of rounds); "
            "ratio = candidate / baseline",
            "ratio": round(ratio, 3),
            "steps_per_s": {k: round(v, 3) for k, v in sps.items()},
            "batch": cfg.batch_size,
            "audio_s_per_batch": round(audio_s / args.steps, 2),
            "steps": args.steps,
            "repeats": args.repeats,
            "threads": args.threads,
        }
    )


if __name__ == "__main__":
    main()
