"""Self-supervised pretraining of the tiny wav2vec 2.0 encoders of the smoke profile.

The paper starts every task from a wav2vec 2.0 Base checkpoint pretrained on the *source* language
(§3.3). Offline, xlser makes its own: one tiny ``Wav2Vec2Model`` (the base model's structure at
smoke sizes) per source language, pretrained on that language's unlabelled pretraining pool of the
synthetic world (its own speakers, in no SER split; emotion labels are never used).

The objective is HuBERT's first iteration (Hsu et al., 2021): k-means units of MFCCs (+ deltas)
are the targets, and the encoder predicts the units of *masked* frames from their context::

    wave (B, S) ─CNN─▶ (B, T, C) ─proj+mask─▶ (B, T, D) ─Transformer─▶ (B, T, D) ─linear─▶ (B, T, K)
    MFCC+Δ+ΔΔ (B, T, 39) ─k-means─▶ units (B, T)           CE on masked frames only

MFCC frames use the CNN's window (400 samples) and hop (320), so unit ``t`` is frame ``t``.
:func:`pretrain` writes a Hugging Face folder (``save_pretrained``: ``config.json``,
``model.safetensors``) plus ``preprocessor_config.json`` and ``pretrain.json`` (the command, seed,
world version and final loss), which the smoke profile loads through the same ``from_pretrained``
path as the full profile's checkpoints.

>>> units_per_frame(16000, 400, 320)  # frames of a 1-s clip: the CNN's count
49
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xlser.config import ConfigError, ModelConfig

__all__ = ["PretrainConfig", "mfcc_targets", "pretrain", "units_per_frame"]


@dataclass
class PretrainConfig:
    """Settings of :func:`pretrain` (HuBERT iteration 1 at smoke scale; U = our choice)."""

    max_steps: int = 500
    batch_size: int = 12
    crop_seconds: float = 1.5
    """Random crops (shorter clips set a shorter crop for their batch)."""
    lr: float = 5e-4
    warmup: float = 0.1
    """Share of steps with a linear learning-rate warm-up, then cosine decay (U)."""
    n_units: int = 64
    """k-means clusters of MFCC+Δ+ΔΔ frames (HuBERT: 100 on LibriSpeech)."""
    kmeans_frames: int = 60000
    mask_prob: float = 0.5
    mask_length: int = 5
    """Span masking as wav2vec 2.0/HuBERT (p 0.65-0.8, length 10 at 20 ms on long utterances;
    shorter spans for 1-4 s clips, U)."""
    seed: int = 0


def units_per_frame(n_samples: int, window: int = 400, hop: int = 320) -> int:
    """Frames of a clip of ``n_samples`` through a ``window``/``hop`` front end (no padding)."""
    return (n_samples - window) // hop + 1


def mfcc_targets(waves: list[np.ndarray], sr: int = 16000) -> list[np.ndarray]:
    """MFCC (13) + Δ + ΔΔ per CNN frame of each wave, standardised later by k-means' scaler.

    Frames: 25 ms window, 20 ms hop, no centring, so their count equals the CNN's output frames.
    """
    import torchaudio

    mfcc = torchaudio.transforms.MFCC(
        sample_rate=sr,
        n_mfcc=13,
        melkwargs={"n_fft": 512, "win_length": 400, "hop_length": 320, "n_mels": 40,
                   "center": False},
    )  # fmt: skip
    out = []
    for w in waves:
        x = torch.from_numpy(np.pad(w, (0, 112))).float()  # n_fft 512 > window 400
        m = mfcc(x)[:, : units_per_frame(len(w))]  # (13, T)
        d1 = torchaudio.functional.compute_deltas(m)
        d2 = torchaudio.functional.compute_deltas(d1)
        out.append(torch.cat([m, d1, d2]).T.numpy())  # (T, 39)
    return out


def _kmeans(feats: list[np.ndarray], k: int, n_frames: int, seed: int):
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.preprocessing import StandardScaler

    X = np.concatenate(feats)
    rng = np.random.default_rng(seed)
    X = X[rng.choice(len(X), size=min(n_frames, len(X)), replace=False)]
    scaler = StandardScaler().fit(X)
    km = MiniBatchKMeans(k, random_state=seed, n_init=3, batch_size=4096).fit(scaler.transform(X))
    return [km.predict(scaler.transform(f)).astype(np.int64) for f in feats]


def _normalise(w: np.ndarray) -> np.ndarray:
    return (w - w.mean()) / np.sqrt(w.var() + 1e-7)


def _batch(waves, units, idx, crop, rng):
    """Random aligned crops of waves and their units: (B, S) float and (B, T) long."""
    n = min(crop, *(len(waves[i]) for i in idx))
    n_frames = units_per_frame(n)
    xs, ys = [], []
    for i in idx:
        f0 = int(rng.integers(0, (len(waves[i]) - n) // 320 + 1))  # frame-aligned offset
        xs.append(_normalise(waves[i][f0 * 320 : f0 * 320 + n]))
        ys.append(units[i][f0 : f0 + n_frames])
    return torch.from_numpy(np.stack(xs)).float(), torch.from_numpy(np.stack(ys))


def pretrain(
    language: str,
    out: str | Path,
    cfg: PretrainConfig | None = None,
    model_cfg: ModelConfig | None = None,
    world=None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Pretrain a tiny encoder on ``language``'s unlabelled pool; write a HF folder to ``out``.

    Returns the record written to ``out/pretrain.json``.
    """
    from tqdm.auto import tqdm
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices

    from xlser.encoder import tiny_wav2vec2_config
    from xlser.world.config import WORLD_VERSION
    from xlser.world.synthesis import pretraining_pool

    cfg, model_cfg = cfg or PretrainConfig(), model_cfg or ModelConfig()
    out = Path(out)
    if cfg.max_steps < 1:
        raise ConfigError(f"--max-steps must be >= 1, got {cfg.max_steps}")
    if out.exists() and any(out.iterdir()):
        if not (out / "pretrain.json").is_file():
            raise FileExistsError(
                f"{out} is not empty and is not an encoder folder xlser wrote; choose another --out"
            )
        if not overwrite:
            raise FileExistsError(f"{out} already holds a pretrained encoder; pass --overwrite")
    t0 = time.time()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    w, waves = pretraining_pool(language, world)
    units = _kmeans(mfcc_targets(waves), cfg.n_units, cfg.kmeans_frames, cfg.seed)

    config = tiny_wav2vec2_config(model_cfg)
    config.mask_time_prob, config.mask_time_length = cfg.mask_prob, cfg.mask_length
    model = Wav2Vec2Model(config)
    head = nn.Linear(config.hidden_size, cfg.n_units)
    params = [*model.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    warm = max(1, int(cfg.warmup * cfg.max_steps))

    def lr_at(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, cfg.max_steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    crop = int(cfg.crop_seconds * 16000)
    losses = []
    model.train()
    for _ in tqdm(range(cfg.max_steps), desc=f"pretrain {language}", disable=not progress):
        idx = rng.choice(len(waves), size=cfg.batch_size, replace=False)
        x, y = _batch(waves, units, idx, crop, rng)  # (B, S), (B, T)
        mask = _compute_mask_indices(tuple(y.shape), cfg.mask_prob, cfg.mask_length, min_masks=2)
        mask = torch.from_numpy(mask)  # (B, T) bool
        h = model(x, mask_time_indices=mask).last_hidden_state  # (B, T, D)
        loss = F.cross_entropy(head(h[mask]), y[mask])  # masked frames only
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())

    out.mkdir(parents=True, exist_ok=True)
    model.config.mask_time_prob, model.config.mask_time_length = 0.05, 2  # fine-tuning default
    model.save_pretrained(out, safe_serialization=True)
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
        return_attention_mask=False,
    ).save_pretrained(out)  # fmt: skip
    record = {
        "command": f"python -m xlser pretrain --language {language} --out DIR "
        f"--max-steps {cfg.max_steps} --seed {cfg.seed}",
        "language": language,
        "objective": "HuBERT iteration 1: masked prediction of k-means units of MFCC+deltas",
        "pretrain": asdict(cfg),
        "pool_utterances": len(waves),
        "pool_seconds": round(sum(len(x) for x in waves) / 16000, 1),
        "world_version": WORLD_VERSION,
        "world_seed": w.seed,
        "loss_first_50": round(float(np.mean(losses[:50])), 4),
        "loss_last_50": round(float(np.mean(losses[-50:])), 4),
        "chance_loss": round(math.log(cfg.n_units), 4),
        "wall_s": round(time.time() - t0, 1),
        "torch": torch.__version__,
    }
    from xlser.io import atomic_write_text

    atomic_write_text(out / "pretrain.json", json.dumps(record, indent=2) + "\n")
    return record


def register_cli(subparsers) -> None:
    p = subparsers.add_parser(
        "pretrain",
        help="pretrain a tiny wav2vec2 encoder on one language of the synthetic world",
        description="HuBERT-style masked prediction of MFCC k-means units on the world's "
        "unlabelled pretraining pool of one language; writes a Hugging Face folder.",
    )
    p.add_argument("--language", required=True, choices=["en", "zh", "de", "fr", "ur"])
    p.add_argument("--out", required=True, help="output folder (empty or an xlser encoder)")
    p.add_argument("--max-steps", type=int, default=PretrainConfig.max_steps)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an encoder xlser wrote")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    rec = pretrain(
        args.language,
        args.out,
        PretrainConfig(max_steps=args.max_steps, seed=args.seed),
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(
        f"{args.out}: {rec['language']} encoder, {args.max_steps} steps in {rec['wall_s']} s; "
        f"masked-unit loss {rec['loss_first_50']} -> {rec['loss_last_50']} "
        f"(chance {rec['chance_loss']})"
    )
    return 0
