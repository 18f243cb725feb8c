"""The GPU benchmark: wav2vec2-base PEFT training throughput, MFU, peak memory, the grid's GPU-hours.

Run this one command on a CUDA machine::

    .venv/bin/python bench/gpu.py

It trains the full profile's model (wav2vec2-base architecture with LoRA + adapters + gates, random
weights unless ``--encoder`` names a local checkpoint; the speed is the same) on batches of 36
random waveforms whose lengths follow a hierarchical 3 x 4 x 3 sampler over modelled durations of
the EN-DE training set (MELD, ESD, CaFE, URDU sized like the paper's Table 1; cropped at 10 s; see
``bench/memory.py``), in up to five ways, alternating rounds:

* baseline: fp32, eager attention, the CNN keeping its backward graph (HF's default);
* candidate: bf16 autocast (fp16 + loss scaling where the GPU has no bf16), SDPA, frozen CNN;
* cached (when the model has ``forward_features``): the candidate fed the frozen CNN's output
  computed beforehand, as the trainer's front-end cache does;
* cached + chunks (``--chunks 3``, default): the cached way with each batch run as three
  length-sorted sub-batches (``model.length_chunks``: same loss, less padding);
* cached + compiled (``--compile``): the cached way with each Transformer layer compiled
  (``train.compile``).

For each: audio-seconds trained per second (unpadded audio), model FLOPs per step (counted with
``torch.utils.flop_counter.FlopCounterMode`` on one step per batch, forward + backward),
model FLOPs utilisation against the device's dense bf16 peak (a table of known GPUs, else
``--peak-tflops``), and peak memory (``torch.cuda.max_memory_allocated`` over that way's steps,
less what was allocated before its model was built). Then the projected GPU-hours of the full grid:
9 tasks x 6 systems = 54 runs per seed, each ``max_epochs`` x batches per epoch (the full profile's
config, Table 1 training sizes) x the measured step time; training steps only, at the epoch budget
(early stopping ends runs sooner).

Without a GPU it prints one message and exits 0 (the last line is JSON with ``"skipped": true``).
``--device cpu`` runs the same code on the CPU at small sizes, to check it.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import typing

import numpy as np
import torch
from _common import emit, interleaved, median, setup

if typing.TYPE_CHECKING:
    from _steps import Stepper

    from xlser.config import ExperimentConfig

PEAK_BF16_TFLOPS = (  # dense bf16 (V100: fp16) tensor-core peaks; first match of the name wins
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.0),
    ("H200", 989.0),
    ("GH200", 989.0),
    ("A100", 312.0),
    ("V100", 125.0),
    ("L4", 121.0),
    ("RTX 4090", 165.0),
)
LANGUAGE_CORPUS = {"en": "meld", "zh": "esd", "de": "emodb", "fr": "cafe", "ur": "urdu"}
SR = 16000


def peak_tflops(name: str, given: float | None) -> float | None:
    if given:
        return given
    for key, value in PEAK_BF16_TFLOPS:
        if key.lower() in name.lower():
            return value
    return None


def batch_lengths(n_batches: int, batch: int, max_seconds: float, seed: int) -> list[list[int]]:
    """Lengths (samples) of ``n_batches`` hierarchical batches of the EN-DE training set."""
    from memory import TRAINING_SETS, corpus_table

    from xlser.sampler import HierarchicalBatchSampler

    table = corpus_table(seed)
    langs = TRAINING_SETS["de"]
    dur = np.concatenate([table[lang]["train"] for lang in langs])
    lang_of = np.concatenate([[lang] * len(table[lang]["train"]) for lang in langs])
    emo = np.concatenate([table[lang]["emotion"] for lang in langs])
    per_pair = max(1, batch // 12)
    sampler = HierarchicalBatchSampler(lang_of, emo, 3, 4, per_pair, seed=seed)
    out = []
    for idx in list(sampler)[:n_batches]:
        secs = np.minimum(dur[np.asarray(idx)], max_seconds)
        out.append([int(s * SR) for s in secs])
    return out


def grid_steps(cfg: ExperimentConfig) -> dict[str, int]:
    """Training steps of each of the 54 runs of one seed at the full profile's epoch budget."""
    from xlser.data.splits import PAPER_SIZES
    from xlser.systems import SYSTEM_SPECS
    from xlser.tasks import TASKS, parse_task, training_languages

    train_size = {lang: PAPER_SIZES[c][0] for lang, c in LANGUAGE_CORPUS.items()}
    steps = {}
    for task in TASKS:
        t = parse_task(task)
        for system in SYSTEM_SPECS:
            n = sum(train_size[lang] for lang in training_languages(t, system))
            per_epoch = cfg.sampler.num_batches or math.ceil(n / cfg.batch_size)
            steps[f"{task}/{system}"] = cfg.train.max_steps or cfg.train.max_epochs * per_epoch
    return steps


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_flops(stepper: Stepper, batches: list) -> float:
    """Mean FLOPs of one training step (forward + backward) over ``batches``."""
    from torch.utils.flop_counter import FlopCounterMode

    total = 0
    for b in batches:
        with FlopCounterMode(display=False) as fc:
            stepper.step(b)
        total += fc.get_total_flops()
    return total / len(batches)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--device", default="cuda", help="cuda (default) or cpu (a check at small sizes)"
    )
    ap.add_argument("--batch", type=int, default=36)
    ap.add_argument("--batches", type=int, default=4, help="distinct batches, one round of steps")
    ap.add_argument("--repeats", type=int, default=5, help="timed rounds per way")
    ap.add_argument("--max-seconds", type=float, default=10.0, help="training crop (default 10)")
    ap.add_argument("--encoder", default="facebook/wav2vec2-base", help="architecture/checkpoint")
    ap.add_argument("--pretrained", action="store_true", help="load weights instead of random")
    ap.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, if unknown")
    ap.add_argument("--no-cached", action="store_true", help="skip the cached front-end way")
    ap.add_argument(
        "--chunks",
        type=int,
        default=3,
        help="also time the cached way as this many length-sorted sub-batches "
        "(model.length_chunks; default 3, 1: skip)",
    )
    ap.add_argument(
        "--compile",
        action="store_true",
        help="also time the fastest way with torch.compile (train.compile); compiling takes minutes",
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            "bench/gpu.py: no CUDA device here (torch.cuda.is_available() is False); nothing to "
            "measure. Run it on a machine with an NVIDIA GPU, or `--device cpu` to check the code."
        )
        emit(
            {
                "bench": "gpu",
                "baseline": "fp32, eager, CNN graph kept",
                "candidate": "bf16, SDPA, frozen CNN",
                "ratio": None,
                "batch": args.batch,
                "skipped": True,
                "reason": "no CUDA device",
            }
        )
        return 0
    from _steps import Stepper, feature_batch, random_items, waveform_batch

    from xlser.config import ExperimentConfig

    setup(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    peak = peak_tflops(name, args.peak_tflops) if device.type == "cuda" else args.peak_tflops
    bf16_ok = device.type != "cuda" or torch.cuda.is_bf16_supported()
    half = torch.bfloat16 if bf16_ok else torch.float16
    print(f"device: {name}; dense bf16 peak: {f'{peak:g} TFLOPS' if peak else 'unknown'}")
    if peak is None:
        print("  (pass --peak-tflops N for model FLOPs utilisation)")

    def cfg_for(attn: str):
        over = {
            "model.encoder": args.encoder,
            "model.random_init": not args.pretrained,
            "model.attn_implementation": attn,
        }
        return ExperimentConfig.from_profile("full", **over)

    lengths = batch_lengths(args.batches, args.batch, args.max_seconds, seed=0)
    items = [random_items(ls, seed=i) for i, ls in enumerate(lengths)]
    audio_s = [sum(ls) / SR for ls in lengths]
    pad = 1 - sum(sum(ls) for ls in lengths) / sum(len(ls) * max(ls) for ls in lengths)
    print(
        f"batches: {args.batches} x {args.batch} utterances, {np.mean(audio_s):.0f} s of audio "
        f"each on average (crop {args.max_seconds:g} s), padding {100 * pad:.0f} %"
    )

    ways = {
        "fp32_eager": dict(attn="eager", amp=None, frozen=False, cached=False),
        "bf16_sdpa_frozen": dict(attn="sdpa", amp=half, frozen=True, cached=False),
        "bf16_sdpa_cached": dict(attn="sdpa", amp=half, frozen=True, cached=True),
    }
    if args.chunks > 1:
        ways[f"bf16_sdpa_cached_chunks{args.chunks}"] = dict(
            attn="sdpa", amp=half, frozen=True, cached=True, chunks=args.chunks
        )
    if args.compile:
        ways["bf16_sdpa_cached_compiled"] = dict(
            attn="sdpa", amp=half, frozen=True, cached=True, compile=True
        )
    steppers, inputs, peak_mem, flops = {}, {}, {}, {}
    oom: list[str] = []
    for key, w in list(ways.items()):
        before = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        st = Stepper(
            cfg_for(w["attn"]),
            seed=0,
            device=device,
            amp=w["amp"],
            frozen_cnn=w["frozen"],
            compile=w.get("compile", False),
        )
        if w["cached"] and (args.no_cached or not hasattr(st.model, "forward_features")):
            del ways[key], st
            continue
        try:
            if w["cached"]:
                bs = [feature_batch(st.model, it, device) for it in items]
            else:
                bs = [waveform_batch(it).to(device) for it in items]
            if w.get("chunks"):  # model.length_chunks: length-sorted sub-batches
                bs = [b.split_by_length(w["chunks"]) for b in bs]
            if w.get("compile"):  # the same model FLOPs as uncompiled; these steps compile
                t = time.perf_counter()
                for b in bs:
                    st.step(b)
                sync(device)
                compile_s = time.perf_counter() - t
                print(f"{key}: first steps (compilation) took {compile_s:.0f} s")
                flops[key] = flops.get(key.removesuffix("_compiled"), float("nan"))
            else:
                flops[key] = count_flops(st, bs)  # also the warm-up
            sync(device)
        except torch.OutOfMemoryError:
            print(f"{key}: out of memory at batch {args.batch} (try --max-seconds 5)")
            oom.append(key)
            del ways[key], st
            bs = None
            torch.cuda.empty_cache()
            continue
        if device.type == "cuda":
            peak_mem[key] = (torch.cuda.max_memory_allocated(device) - before) / 2**30
        steppers[key], inputs[key] = st, bs

    def run(key):
        sync(device)
        t = time.perf_counter()
        for b in inputs[key]:
            steppers[key].step(b)
        sync(device)
        return time.perf_counter() - t

    times = interleaved(
        {k: (lambda k=k: run(k)) for k in ways}, repeats=args.repeats, warmup=1, clock="wall"
    )
    steps = len(items)
    res = {}
    for k in ways:
        step_s = median(times[k]) / steps
        res[k] = {
            "step_s": step_s,
            "audio_s_per_s": float(np.mean(audio_s)) / step_s,
            "tflops_per_step": flops[k] / 1e12,
            "achieved_tflops": flops[k] / 1e12 / step_s,
            "mfu": (flops[k] / step_s / (peak * 1e12)) if peak else None,
            "peak_mem_gib": peak_mem.get(k),
        }
    print(
        f"{'way':>26} {'step s':>8} {'audio-s/s':>10} {'TFLOP/step':>11} {'TFLOPS':>8} {'MFU':>7} {'peak GiB':>9}"
    )
    for k, r in res.items():
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a"
        mem = f"{r['peak_mem_gib']:.1f}" if r["peak_mem_gib"] is not None else "n/a"
        print(
            f"{k:>26} {r['step_s']:>8.3f} {r['audio_s_per_s']:>10.0f} {r['tflops_per_step']:>11.2f} "
            f"{r['achieved_tflops']:>8.1f} {mfu:>7} {mem:>9}"
        )
    base, cand = res.get("fp32_eager"), res.get("bf16_sdpa_frozen")
    ratio = cand["audio_s_per_s"] / base["audio_s_per_s"] if base and cand else None
    if ratio is not None:
        print(f"bf16 + SDPA + frozen CNN vs fp32 eager: {ratio:.2f}x audio-seconds per second")
    if base and "bf16_sdpa_cached" in res:
        c = res["bf16_sdpa_cached"]["audio_s_per_s"] / base["audio_s_per_s"]
        print(f"with the cached front end: {c:.2f}x")
    chunked = f"bf16_sdpa_cached_chunks{args.chunks}"
    if "bf16_sdpa_cached" in res and chunked in res:
        c = res[chunked]["audio_s_per_s"] / res["bf16_sdpa_cached"]["audio_s_per_s"]
        print(f"{args.chunks} length-sorted sub-batches on top of the cached way: {c:.2f}x")
    if "bf16_sdpa_cached" in res and "bf16_sdpa_cached_compiled" in res:
        c = (
            res["bf16_sdpa_cached_compiled"]["audio_s_per_s"]
            / res["bf16_sdpa_cached"]["audio_s_per_s"]
        )
        print(f"torch.compile on top of the cached way: {c:.2f}x")

    cfg = cfg_for("sdpa")
    per_run = grid_steps(cfg)
    total_steps = sum(per_run.values())
    hours = {k: total_steps * r["step_s"] / 3600 for k, r in res.items()}
    per_epoch = {k: v / cfg.train.max_epochs for k, v in hours.items()}
    print(
        f"full grid, one seed: 54 runs, {total_steps:,} steps at max_epochs = "
        f"{cfg.train.max_epochs} (early stopping, patience {cfg.train.patience}, ends runs sooner)"
    )
    for k in res:
        print(f"  {k:>26}: {hours[k]:8.1f} GPU-hours ({per_epoch[k]:.2f} per epoch of every run)")
    emit(
        {
            "bench": "gpu",
            "baseline": "fp32, eager attention, CNN graph kept",
            "candidate": f"{'bf16' if bf16_ok else 'fp16'} autocast, SDPA, frozen CNN",
            "metric": "audio-seconds trained per second (median of rounds); ratio = candidate / baseline",
            "ratio": round(ratio, 3) if ratio is not None else None,
            "skipped": False,
            "out_of_memory": oom,
            "device": name,
            "peak_tflops": peak,
            "batch": args.batch,
            "batches": args.batches,
            "repeats": args.repeats,
            "max_seconds": args.max_seconds,
            "mean_audio_s_per_batch": round(float(np.mean(audio_s)), 2),
            "padding_fraction": round(pad, 3),
            "ways": res,
            "grid": {
                "runs": len(per_run),
                "max_epochs": cfg.train.max_epochs,
                "steps": total_steps,
                "gpu_hours": hours,
                "gpu_hours_per_epoch": per_epoch,
            },
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
