"""The frozen front end, computed once: cached CNN features of every utterance.

PEFT freezes wav2vec 2.0's CNN feature encoder (paper §3.3), so its output for an utterance never
changes during training. Computing it once per utterance and reusing it every step is exact and
saves the CNN's forward pass (the biggest part of a step on short clips); on wav2vec2-base,
Sampath et al. (2025) report +88 % training speed from the same trick.

Exact means: each utterance goes through the CNN alone, unpadded (as Han et al.'s one-utterance
batches do), normalised over its whole length; padding is added afterwards at the frame level
and masked in attention and pooling, and training crops are taken at the frame level. So a cached
batch equals running every utterance on its own, which a zero-padded waveform batch through a
group-norm CNN does not.

The cache is valid when no CNN parameter trains and no input transform acts on the waveform
before the CNN (:func:`cache_valid`); otherwise the trainer falls back to waveform batches. It is
stored beside the manifest as ``.xlser-cache/frontend-<key>.safetensors``; the key hashes the CNN
weights, the sample rate, the normalisation and every utterance's id, file size and mtime, so a
changed file or encoder gets a new cache.

>>> feats = [torch.ones(5, 2), 2 * torch.ones(3, 2)]
>>> x, n = pad_frames(feats)
>>> tuple(x.shape), n.tolist(), x[1, 3:].abs().sum().item()
((2, 5, 2), [5, 3], 0.0)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from xlser import EMOTIONS, LANGUAGES
from xlser.data.audio import AudioError, label_index, load_audio, map_tensors, split_by_length

__all__ = ["FeatureBatch", "FrontendCache", "cache_valid", "pad_frames"]

FRAME_HOP = 320
"""Samples per CNN frame (20 ms at 16 kHz) in every wav2vec 2.0 Base-style CNN."""


@dataclass
class FeatureBatch:
    """A batch of cached CNN features. Shapes: ``features (B, T, C)``, the rest ``(B,)``."""

    features: Tensor
    n_frames: Tensor
    emotion: Tensor
    language: Tensor
    speaker: Tensor
    utt_id: list[str]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> FeatureBatch:
        return map_tensors(self, lambda v: v.to(device, non_blocking=non_blocking))

    def __len__(self) -> int:
        return len(self.utt_id)

    def split_by_length(self, k: int) -> list[FeatureBatch]:
        """``k`` sub-batches by ascending frame count, each trimmed to its longest
        (:func:`xlser.data.audio.split_by_length`)."""
        return split_by_length(self, self.n_frames, k)

    def pin_memory(self) -> FeatureBatch:
        """Page-locked copies, so that ``to(cuda, non_blocking=True)`` does not wait."""
        return map_tensors(self, torch.Tensor.pin_memory)


def cache_valid(encoder: nn.Module) -> bool:
    """True when no parameter of the CNN feature encoder trains (PEFT froze it)."""
    return not any(p.requires_grad for p in encoder.feature_extractor.parameters())


def pad_frames(feats: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Zero-pad ``[(T_i, C)]`` to ``(B, max T, C)``; also return the lengths ``(B,)``."""
    n = torch.tensor([len(f) for f in feats])  # (B,)
    x = feats[0].new_zeros(len(feats), int(n.max()), feats[0].shape[1])  # (B, T, C)
    for b, f in enumerate(feats):
        x[b, : len(f)] = f
    return x, n


class FrontendCache:
    """CNN features ``(T_i, C)`` of utterances, by ``utt_id`` (float16 in memory and on disk).

    Build with :meth:`load_or_build`; draw batches with :meth:`batch`.
    """

    def __init__(self, features: list[Tensor], utt_ids: list[str]) -> None:
        self.features = features
        self.index = {u: i for i, u in enumerate(utt_ids)}

    def __len__(self) -> int:
        return len(self.features)

    @staticmethod
    @torch.no_grad()
    def _compute(encoder, rows, sample_rate, normalize, progress, batch_size=32) -> list[Tensor]:
        """Every utterance's CNN output, exact: layer 0 (the one with group norm, whose
        statistics span the whole utterance) runs on each utterance alone; the later layers are
        local convolutions, so they run on zero-padded batches and the valid frames are kept."""
        from tqdm.auto import tqdm

        cnn = encoder.feature_extractor
        was_training = cnn.training
        cnn.eval()
        device = next(cnn.parameters()).device
        first, rest = cnn.conv_layers[0], cnn.conv_layers[1:]
        out: list[Tensor] = []
        paths = rows["path"].tolist()
        bar = tqdm(total=len(paths), desc="front-end cache", unit="utt", disable=not progress)
        for i in range(0, len(paths), batch_size):
            hs = []
            for path in paths[i : i + batch_size]:
                try:
                    w = load_audio(path, sample_rate)  # (S,)
                except AudioError as e:  # names the file and the fix; nothing was cached
                    bar.close()
                    raise AudioError(f"{e} (found while building the front-end cache)") from e
                if normalize:
                    w = (w - w.mean()) / torch.sqrt(w.var(unbiased=False) + 1e-7)
                hs.append(first(w[None, None].to(device))[0].T)  # (T0, C): alone
            x, n = pad_frames(hs)  # (B, T0, C)
            x = x.transpose(1, 2)  # (B, C, T0)
            for layer in rest:
                x = layer(x)  # (B, C, T)
            for b in range(len(hs)):
                out.append(
                    x[b, :, : _frames_after_first(cnn, int(n[b]))].T.to("cpu", torch.float16)
                )
            bar.update(len(hs))
        bar.close()
        cnn.train(was_training)
        return out

    @classmethod
    def load_or_build(
        cls,
        encoder: nn.Module,
        rows: pd.DataFrame,
        folder: str | os.PathLike | None,
        sample_rate: int = 16000,
        normalize: bool = True,
        progress: bool = True,
    ) -> FrontendCache:
        """The cache of ``rows`` for ``encoder``'s CNN: read from ``folder`` if there, else computed
        and written atomically, under a file lock so that parallel runs of a grid build it once.
        ``folder=None`` computes it in memory only."""
        from safetensors.torch import load_file

        from xlser.io import atomic_save_tensors

        rows = rows.drop_duplicates("utt_id").reset_index(drop=True)
        ids = rows["utt_id"].tolist()
        if folder is None:
            return cls(cls._compute(encoder, rows, sample_rate, normalize, progress), ids)
        key = cache_key(encoder, rows, sample_rate, normalize)
        path = Path(folder) / f"frontend-{key}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process builds; the others wait, then read
            if path.is_file():
                try:
                    flat = load_file(str(path))
                    return cls(_unflatten(flat["features"], flat["lengths"]), ids)
                except (OSError, KeyError, RuntimeError, ValueError):
                    pass  # a damaged cache is rebuilt below
            feats = cls._compute(encoder, rows, sample_rate, normalize, progress)
            lengths = torch.tensor([len(f) for f in feats])
            atomic_save_tensors(path, {"features": torch.cat(feats), "lengths": lengths})
        return cls(feats, ids)

    def batch(
        self,
        rows: pd.DataFrame,
        speakers: dict[str, int],
        max_frames: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> FeatureBatch:
        """A padded batch of ``rows``; utterances longer than ``max_frames`` are cropped (at a
        random frame with ``rng``, else from the start), as :func:`~xlser.data.audio.load_audio`
        crops waveforms."""
        feats = []
        for u in rows["utt_id"]:
            f = self.features[self.index[u]]
            if max_frames is not None and len(f) > max_frames:
                start = int(rng.integers(0, len(f) - max_frames + 1)) if rng is not None else 0
                f = f[start : start + max_frames]
            feats.append(f)
        x, n = pad_frames(feats)
        return FeatureBatch(
            features=x.float(),
            n_frames=n,
            emotion=torch.tensor(label_index(rows["emotion"], EMOTIONS, "emotion")),
            language=torch.tensor(label_index(rows["language"], LANGUAGES, "language")),
            speaker=torch.tensor([speakers.get(s, -100) for s in rows["speaker"]]),
            utt_id=rows["utt_id"].tolist(),
        )


def frames_for(seconds: float | None, sample_rate: int = 16000) -> int | None:
    """CNN frames of a crop of ``seconds`` (``None`` stays ``None``): 149 for 3 s at 16 kHz."""
    if seconds is None:
        return None
    return (int(seconds * sample_rate) - 400) // FRAME_HOP + 1


def _frames_after_first(cnn: nn.Module, t0: int) -> int:
    """Output frames of layers 1.. of the CNN for ``t0`` frames out of layer 0 (no padding)."""
    t = t0
    for layer in cnn.conv_layers[1:]:
        conv = layer.conv
        t = (t - conv.kernel_size[0]) // conv.stride[0] + 1
    return t


def cache_key(encoder: nn.Module, rows: pd.DataFrame, sample_rate: int, normalize: bool) -> str:
    """Hash of the CNN weights, the preprocessing and each file's id, size and mtime."""
    h = hashlib.sha1(f"{sample_rate}|{normalize}".encode())
    for name, t in sorted(encoder.feature_extractor.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    for u, p in zip(rows["utt_id"], rows["path"]):
        st = os.stat(p)
        h.update(f"{u}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _unflatten(flat: Tensor, lengths: Tensor) -> list[Tensor]:
    return list(torch.split(flat, lengths.tolist()))
