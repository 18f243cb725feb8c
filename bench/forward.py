"""Padded, masked batched training steps vs one utterance per step (Han et al.'s recipe), on CPU.

The same utterances (random waveforms, 1-3 s by default, seeded) go through full training steps
(forward, backward, gradient clipping, AdamW step) of the SER model with PEFT applied
(:func:`xlser.model.build_model`), two ways:

* baseline: ``batch_size = 1``, unpadded, one optimizer step per utterance (Han et al., 2025);
  the loss is CE + w_adv * ADV (a batch of one has no SupCon positives);
* candidate: the utterances as one zero-padded batch with frame masks (``model.batching="padded"``),
  one step of eq. 12 (CE + SCL + ADV).

Also (``--chunks 3``, the default) the batch as three length-sorted sub-batches, each padded only to
its own longest clip, one step (``model.length_chunks=3``: the same loss, less padding, three
encoder passes). Optionally (``--exact``) one step over the batch whose encoder runs each
utterance unpadded (``model.batching="per_utterance"``, exact for group-norm CNNs).

Two configs: ``tiny`` (the smoke profile's encoder architecture, random weights) and ``base`` (wav2vec2-base architecture, random
weights, no download). Base on CPU is slow, so it runs fewer and shorter clips (see the sizes
printed). Rounds alternate the ways; the medians of utterances per second give the ratio. Target:
at least 5x on tiny.

Clock and threads: by default one intra-op thread and the process's CPU time. On a shared,
oversubscribed machine two OpenMP threads wait on each other at every small operator, which slowed
the one-utterance steps 10-20x more than the batched one in our runs (a ratio that measures the
neighbours' load, not batching); one thread's CPU time is the work itself. ``--threads 2 --clock
wall`` measures the other way.

Usage: ``.venv/bin/python bench/forward.py [--configs tiny base] [--exact] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import emit, interleaved, median, setup
from _steps import Stepper, random_items

from xlser.config import ExperimentConfig
from xlser.data.audio import collate

TARGET_RATIO = 5.0


def experiment(config: str, batching: str) -> ExperimentConfig:
    """The smoke profile (tiny) or the full profile with a random-init wav2vec2-base."""
    if config == "tiny":  # the smoke encoder's architecture (random weights: speed is the same)
        over = {"model.encoder": "tiny", "model.batching": batching}
        return ExperimentConfig.from_profile("smoke", **over)
    over = {
        "model.encoder": "facebook/wav2vec2-base",
        "model.random_init": True,
        "model.batching": batching,
    }
    return ExperimentConfig.from_profile("full", **over)


def utterances(n: int, min_s: float, max_s: float, seed: int, sr: int = 16000) -> list[dict]:
    """``n`` random waveforms of uniform random length in ``[min_s, max_s]`` with labels."""
    g = torch.Generator().manual_seed(seed)
    lengths = (min_s + (max_s - min_s) * torch.rand(n, generator=g)) * sr
    return random_items([int(s) for s in lengths.tolist()], seed)


def run_config(
    config: str,
    n: int,
    min_s: float,
    max_s: float,
    repeats: int,
    exact: bool,
    clock: str,
    chunks: int = 3,
) -> dict:
    items = utterances(n, min_s, max_s, seed=0)
    singles = [collate([it]) for it in items]  # (1, S_i) each, unpadded
    padded = collate(items)  # (n, max S_i), zero-padded, frame-masked in the model
    pad_frac = 1 - float(padded.lengths.sum()) / padded.input_values.numel()
    audio_s = float(padded.lengths.sum()) / 16000
    one = Stepper(experiment(config, "padded"), seed=0)
    bat = Stepper(experiment(config, "padded"), seed=0)
    ways = {
        "per_step": lambda: [one.step(b) for b in singles] and None,
        "padded": lambda: bat.step(padded),
    }
    if chunks > 1:
        parts = padded.split_by_length(chunks)
        ch = Stepper(experiment(config, "padded"), seed=0)
        ways[f"chunks{chunks}"] = lambda: ch.step(parts)
        chunk_pad = 1 - float(padded.lengths.sum()) / sum(p.input_values.numel() for p in parts)
    if exact:
        ex = Stepper(experiment(config, "per_utterance"), seed=0)
        ways["per_utterance"] = lambda: ex.step(padded)
    t0 = time.perf_counter()
    times = interleaved(ways, repeats=repeats, warmup=1, clock=clock)
    wall = time.perf_counter() - t0
    ups = {k: n / median(v) for k, v in times.items()}  # utterances per second
    enc = one.model.encoder.config
    return {
        "config": config,
        "encoder": f"{enc.num_hidden_layers} layers x {enc.hidden_size}",
        "utterances": n,
        "clip_s": [min_s, max_s],
        "audio_s": round(audio_s, 2),
        "padding_fraction": round(pad_frac, 3),
        "utt_per_s": {k: round(v, 2) for k, v in ups.items()},
        "ratio": ups["padded"] / ups["per_step"],
        # what the batch would give if its padded samples cost nothing (an estimate, not timed)
        "ratio_without_padding_est": ups["padded"] / (1 - pad_frac) / ups["per_step"],
        "wall_s": round(wall, 1),
        **(
            {
                "chunks": chunks,
                "chunks_padding_fraction": round(chunk_pad, 3),
                "ratio_chunks": ups[f"chunks{chunks}"] / ups["per_step"],
            }
            if chunks > 1
            else {}
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs="+", choices=["tiny", "base"], default=["tiny", "base"])
    ap.add_argument("--n-tiny", type=int, default=36, help="utterances (tiny; one batch of 36)")
    ap.add_argument("--n-base", type=int, default=4, help="utterances (base)")
    ap.add_argument(
        "--tiny-seconds", type=float, nargs=2, default=[1.0, 3.0], metavar=("MIN", "MAX")
    )
    ap.add_argument(
        "--base-seconds", type=float, nargs=2, default=[1.0, 1.5], metavar=("MIN", "MAX")
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--exact", action="store_true", help="also time model.batching=per_utterance")
    ap.add_argument(
        "--chunks",
        type=int,
        default=3,
        help="also time the batch as this many length-sorted sub-batches (model.length_chunks; "
        "1: skip)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = ap.parse_args()
    setup(args.threads)
    print(
        f"training steps (fwd + bwd + clip + AdamW), PEFT, CPU, {args.threads} thread(s), "
        f"{args.clock} clock"
    )
    results = []
    for config in args.configs:
        n, (lo, hi) = (
            (args.n_tiny, args.tiny_seconds)
            if config == "tiny"
            else (args.n_base, args.base_seconds)
        )
        r = run_config(config, n, lo, hi, args.repeats, args.exact, args.clock, args.chunks)
        results.append(r)
        ups = "  ".join(f"{k} {v:.2f} utt/s" for k, v in r["utt_per_s"].items())
        print(
            f"{config:>5} ({r['encoder']}): {n} utterances of {lo:g}-{hi:g} s "
            f"({r['audio_s']:.1f} s of audio, batch padding {100 * r['padding_fraction']:.0f} %)"
        )
        print(f"       {ups}  ->  padded / per-step = {r['ratio']:.1f}x  ({r['wall_s']:.0f} s)")
        print(
            f"       without the batch's padding (estimate: scaled by real / padded samples): "
            f"{r['ratio_without_padding_est']:.1f}x"
        )
        if "chunks" in r:
            print(
                f"       {r['chunks']} length-sorted sub-batches (padding "
                f"{100 * r['chunks_padding_fraction']:.0f} %) / per-step = {r['ratio_chunks']:.1f}x"
            )
    head = next((r for r in results if r["config"] == "tiny"), results[0])
    met = head["ratio"] >= TARGET_RATIO if head["config"] == "tiny" else None
    verdict = {True: "met", False: "NOT met", None: "not measured"}[met]
    print(f"target: >= {TARGET_RATIO:g}x utterances/s on tiny: {verdict}")
    emit(
        {
            "bench": "forward",
            "baseline": "batch_size=1, unpadded, one step per utterance (CE + ADV)",
            "candidate": "one padded, frame-masked batch, one step (CE + SCL + ADV)",
            "metric": f"utterances per {args.clock}-clock second (median of rounds); "
            "ratio = candidate / baseline",
            "threads": args.threads,
            "config": head["config"],
            "ratio": round(head["ratio"], 2),
            "target": TARGET_RATIO,
            "target_met": met,
            "repeats": args.repeats,
            "configs": results,
        }
    )


if __name__ == "__main__":
    main()
