"""Data loading: loader throughput vs a training step's consumption; resampling once vs every draw.

Part 1, on the smoke run's training rows (waveform path, ``model.frontend_cache="off"``): the
trainer's waveform loader (:class:`xlser.trainer.WaveformInputs`: a ``DataLoader`` over
:class:`xlser.data.audio.SERDataset` with the picklable collate, kept for the whole run with
persistent workers) drawing the same hierarchical batches with ``num_workers`` 0 and 2 (wall
clock, and after the first batch), against the utterances per second one training step of the
smoke model consumes (:meth:`xlser.train.Trainer.train_step` on those batches, loaded
beforehand). The ratio is the loader's headroom: above 1 it keeps up. Also timed: the same
2-worker loader built afresh for every pass (``close()`` first), as the trainer did before its
workers persisted, i.e. the workers' start-up that each epoch and validation used to pay.

Part 2, resampling: CaFE's clips are 48 kHz and the sampler draws small corpora many times per
epoch. Random clips with modelled CaFE durations (not the corpus itself) are written at 48 kHz
into a temporary folder (removed afterwards) and drawn as the dataset draws them: read, resampled
and cropped every draw (``data.resample_cache=false``) vs through the library's resample-once
cache (:func:`xlser.data.resampled.at_rate`, ``data.resample_cache=true``: the lookup of the copy,
then reading it), alternating rounds. Also printed: what writing the copies cost once.

Usage: ``.venv/bin/python bench/data.py [--batches 8] [--clips 48] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from _common import CLOCKS, emit, interleaved, median, setup

from xlser.book import experiment
from xlser.data.audio import load_audio
from xlser.data.resampled import at_rate
from xlser.train import Trainer, task_data


def loader_vs_step(batches: int, repeats: int, workers: int) -> dict:
    from xlser.trainer import WaveformInputs

    cfg = experiment("smoke", system="proposed", **{"model.frontend_cache": "off"})
    data = task_data(cfg, progress=False)
    trainer = Trainer(cfg, data=data, progress=False)
    idx = list(itertools.islice(iter(trainer.batch_sampler), batches))
    loaded = list(trainer.inputs.train_batches(data.train, idx, 0))
    n_utt = sum(len(b) for b in idx)
    loaders = {}
    for w in (0, workers):
        c = experiment(
            "smoke", system="proposed", **{"model.frontend_cache": "off", "data.num_workers": w}
        )
        loaders[f"loader_w{w}"] = WaveformInputs(data.train, data.speakers, c, torch.device("cpu"))
    fresh = f"fresh_w{workers}"  # the same loader, its workers started anew every pass
    loaders[fresh] = WaveformInputs(data.train, data.speakers, c, torch.device("cpu"))

    first: dict[str, list[float]] = {k: [] for k in loaders}  # seconds to the first batch

    def load(key):
        if key == fresh:
            loaders[key].close()
        t = time.perf_counter()
        for i, _ in enumerate(loaders[key].train_batches(data.train, idx, 0)):
            if i == 0:
                first[key].append(time.perf_counter() - t)

    def train():
        for b in loaded:
            trainer.train_step(b)

    ways = {k: (lambda k=k: load(k)) for k in loaders}
    ways["train_step"] = train
    times = interleaved(ways, repeats=repeats, warmup=1, clock="wall")
    ups = {k: n_utt / median(v) for k, v in times.items()}
    rest = n_utt - len(idx[0])  # after the first batch: the steady rate, start-up excluded
    steady = {
        k: rest / median([t - f for t, f in zip(times[k], first[k][-repeats:])]) for k in loaders
    }
    return {
        "first_batch_s": {k: round(median(v), 3) for k, v in first.items()},
        "steady_utt_per_s": {k: round(v, 1) for k, v in steady.items()},
        "steady_headroom": steady[f"loader_w{workers}"] / ups["train_step"],
        "batch": cfg.batch_size,
        "batches": batches,
        "crop_s": cfg.data.max_seconds,
        "utt_per_s": {k: round(v, 1) for k, v in ups.items()},
        "headroom": ups[f"loader_w{workers}"] / ups["train_step"],
        "headroom_w0": ups["loader_w0"] / ups["train_step"],
        "persistent_vs_fresh": ups[f"loader_w{workers}"] / ups[fresh],
        "startup_saved_s": round(median(first[fresh]) - median(first[f"loader_w{workers}"]), 3),
    }


def resampling(clips: int, repeats: int, clock: str, max_seconds: float = 10.0) -> dict:
    from memory import modelled_durations

    rng = np.random.default_rng(0)
    secs = modelled_durations("cafe", clips, rng)
    now = CLOCKS[clock]
    with tempfile.TemporaryDirectory(prefix="xlser-bench-") as tmp:
        hi, cache = [], Path(tmp) / "audio-16000"
        for i, s in enumerate(secs):
            p = Path(tmp) / f"clip{i}_48k.wav"
            sf.write(p, (0.1 * rng.standard_normal(int(s * 48000))).astype(np.float32), 48000)
            hi.append(p)
        t = now()
        for p in hi:  # the first draw of each file writes its copy
            at_rate(p, 16000, cache)
        once_s = now() - t

        def draw(cached: bool):
            g = np.random.default_rng(1)
            for p in hi:
                src = at_rate(p, 16000, cache) if cached else p
                load_audio(src, 16000, max_seconds, crop="random", generator=g)

        times = interleaved(
            {"every_draw_48k": lambda: draw(False), "resampled_once_16k": lambda: draw(True)},
            repeats=repeats,
            warmup=1,
            clock=clock,
        )
    per = {k: median(v) / clips for k, v in times.items()}
    saved = per["every_draw_48k"] - per["resampled_once_16k"]
    return {
        "clips": clips,
        "mean_clip_s": round(float(secs.mean()), 2),
        "ms_per_draw": {k: round(1e3 * v, 3) for k, v in per.items()},
        "ratio": per["every_draw_48k"] / per["resampled_once_16k"],
        "once_ms_per_clip": round(1e3 * once_s / clips, 3),
        "draws_to_break_even": round(once_s / clips / saved, 2) if saved > 0 else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, default=8, help="batches per round (default 8)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clips", type=int, default=48, help="48 kHz clips for part 2 (default 48)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    setup(args.threads)
    t0 = time.perf_counter()
    lv = loader_vs_step(args.batches, args.repeats, args.workers)
    u = lv["utt_per_s"]
    print(
        f"smoke run, {lv['batches']} batches of {lv['batch']} ({lv['crop_s']:g} s crops), wall "
        f"clock, {args.threads} thread(s) in the main process:"
    )
    for k, v in u.items():
        print(f"  {k:>11}: {v:8.1f} utterances/s")
    for k, v in lv["steady_utt_per_s"].items():
        print(
            f"  {k:>11}: first batch after {lv['first_batch_s'][k]:.2f} s, then {v:.1f} "
            "utterances/s"
        )
    print(
        f"  loader with {args.workers} workers / training step: {lv['headroom']:.2f}x, "
        f"{lv['steady_headroom']:.2f}x after start-up "
        f"(0 workers: {lv['headroom_w0']:.2f}x); above 1 the loader keeps up"
    )
    print(
        f"  persistent workers vs workers started anew each pass: "
        f"{lv['persistent_vs_fresh']:.2f}x ({lv['startup_saved_s']:.2f} s of start-up saved per "
        "epoch or validation)"
    )
    rs = resampling(args.clips, args.repeats, "cpu")
    m = rs["ms_per_draw"]
    print(
        f"resampling, {rs['clips']} random clips of modelled CaFE length (mean "
        f"{rs['mean_clip_s']:.1f} s), CPU clock: read 48 kHz + resample every draw "
        f"{m['every_draw_48k']:.2f} ms vs read the 16 kHz copy {m['resampled_once_16k']:.2f} ms "
        f"-> {rs['ratio']:.1f}x; writing the copy cost {rs['once_ms_per_clip']:.1f} ms per clip "
        f"once (= {rs['draws_to_break_even']} draws)"
    )
    print(f"({time.perf_counter() - t0:.0f} s)")
    emit(
        {
            "bench": "data",
            "baseline": "a training step's consumption (utterances/s)",
            "candidate": f"the trainer's waveform loader with num_workers={args.workers}",
            "metric": "utterances/s, wall clock (median of rounds); ratio = candidate / baseline",
            "ratio": round(lv["headroom"], 2),
            "loader": lv,
            "resampling": {
                "baseline": "load_audio of a 48 kHz file (resampled every draw)",
                "candidate": "at_rate + load_audio of its 16 kHz copy (resample_cache)",
                **rs,
                "ratio": round(rs["ratio"], 2),
            },
            "repeats": args.repeats,
            "threads": args.threads,
        }
    )


if __name__ == "__main__":
    main()
