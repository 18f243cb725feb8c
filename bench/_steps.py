"""A training step of eq. 12 for the benchmarks, independent of the trainer's internals.

:class:`Stepper` holds one SER model (:func:`xlser.model.build_model`) and its AdamW optimiser;
:meth:`Stepper.step` is one step on a batch: forward (optionally under autocast), ``L = CE + w_scl *
SCL + w_adv * ADV`` (SCL only when the batch has more than one utterance), backward, gradient
clipping and the optimiser step, as :class:`xlser.train.Trainer` does.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from xlser.config import ExperimentConfig
from xlser.data.audio import collate, map_tensors, split_by_length
from xlser.losses import language_aware_supcon
from xlser.model import build_model

N_SPEAKERS = 12


def random_items(lengths: list[int], seed: int) -> list[dict]:
    """Random waveforms of the given lengths (samples) with cycling labels, as dataset items."""
    g = torch.Generator().manual_seed(seed)
    return [
        {
            "waveform": torch.randn(int(s), generator=g) * 0.1,
            "emotion": i % 4,
            "language": (i // 4) % 3,
            "speaker": i % N_SPEAKERS,
            "utt_id": f"u{i}",
        }
        for i, s in enumerate(lengths)
    ]


@dataclass
class FeatureInputs:
    """CNN features computed beforehand (the frozen front end, cached): ``features (B, T, C)``."""

    features: torch.Tensor
    n_frames: torch.Tensor
    emotion: torch.Tensor
    language: torch.Tensor
    speaker: torch.Tensor
    audio_samples: int

    def to(self, device) -> FeatureInputs:
        return map_tensors(self, lambda v: v.to(device, non_blocking=True))

    def split_by_length(self, k: int) -> list[FeatureInputs]:
        """As :meth:`xlser.frontend.FeatureBatch.split_by_length` (``model.length_chunks``)."""
        return split_by_length(self, self.n_frames, k)


class Stepper:
    """One model + AdamW; :meth:`step` is one training step of eq. 12.

    Args:
        cfg: The experiment (model, PEFT, loss and learning rate are read).
        seed: Seeds the weights, so steppers built alike start alike.
        device: Where the model lives.
        amp: Autocast dtype (``torch.bfloat16``/``torch.float16``) or None for fp32.
        frozen_cnn: ``True``: ``freeze_feature_encoder()`` (no backward graph through the CNN);
            ``False``: HF's default, the CNN keeps its backward graph (its weights stay frozen);
            ``None``: as :func:`build_model` leaves it.
        compile: ``torch.compile`` each Transformer layer, as ``train.compile`` does.
    """

    def __init__(
        self,
        cfg: ExperimentConfig,
        seed: int = 0,
        device: str | torch.device = "cpu",
        amp: torch.dtype | None = None,
        frozen_cnn: bool | None = None,
        compile: bool = False,
    ) -> None:
        torch.manual_seed(seed)
        self.cfg, self.device, self.amp = cfg, torch.device(device), amp
        model = build_model(cfg, n_speakers=N_SPEAKERS)
        if frozen_cnn is True:
            model.encoder.freeze_feature_encoder()
        elif frozen_cnn is False:
            model.encoder.feature_extractor._requires_grad = True  # HF's default flag
        self.model = model.to(self.device).train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=cfg.train.lr)
        fp16 = amp == torch.float16 and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)
        if compile:
            from xlser.trainer import compile_layers

            compile_layers(self.model)

    def autocast(self):
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def forward(self, batch):
        if isinstance(batch, list):  # length-sorted sub-batches (model.length_chunks)
            outs = [self.forward(b) for b in batch]
            return type(outs[0])(
                *(
                    None
                    if getattr(outs[0], f) is None
                    else torch.cat([getattr(o, f) for o in outs])
                    for f in ("embeddings", "emotion_logits", "speaker_logits", "projections")
                )
            )
        if isinstance(batch, FeatureInputs):
            return self.model.forward_features(batch.features, batch.n_frames)
        return self.model(batch.input_values, batch.lengths, batch.attention_mask)

    def loss(self, batch) -> torch.Tensor:
        cfg = self.cfg
        with self.autocast():
            out = self.forward(batch)
        if isinstance(batch, list):  # the labels in the sub-batches' order
            batch = SimpleNamespace(
                **{k: torch.cat([getattr(b, k) for b in batch]) for k in ("emotion", "language",
                                                                           "speaker")}
            )  # fmt: skip
        loss = F.cross_entropy(out.emotion_logits.float(), batch.emotion)
        adv = F.cross_entropy(out.speaker_logits.float(), batch.speaker)
        loss = loss + cfg.loss.w_adv * adv
        if len(batch.emotion) > 1:
            scl = language_aware_supcon(
                out.embeddings.float(),
                batch.emotion,
                batch.language,
                cfg.loss.temperature,
                cfg.loss.cross_lingual_pos_weight,
            )
            loss = loss + cfg.loss.w_scl * scl
        return loss

    def step(self, batch) -> None:
        loss = self.loss(batch)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.params, self.cfg.train.grad_clip or 1.0)
        self.scaler.step(self.opt)
        self.scaler.update()


def waveform_batch(items: list[dict], normalize: bool = True):
    """A zero-padded waveform batch (:func:`xlser.data.audio.collate`)."""
    return collate(items, normalize)


@torch.no_grad()
def feature_batch(model: torch.nn.Module, items: list[dict], device) -> FeatureInputs:
    """The frozen CNN's output of each utterance on its own, padded at the frame level."""
    cnn = model.encoder.feature_extractor
    feats = []
    for it in items:
        w = it["waveform"]
        w = (w - w.mean()) / torch.sqrt(w.var(unbiased=False) + 1e-7)
        feats.append(cnn(w[None].to(device))[0].T)  # (1, S) -> (C, T) -> (T, C)
    n = torch.tensor([len(f) for f in feats])  # (B,)
    x = feats[0].new_zeros(len(feats), int(n.max()), feats[0].shape[1])  # (B, T, C)
    for b, f in enumerate(feats):
        x[b, : len(f)] = f
    return FeatureInputs(
        features=x,
        n_frames=n.to(device),
        emotion=torch.tensor([it["emotion"] for it in items], device=device),
        language=torch.tensor([it["language"] for it in items], device=device),
        speaker=torch.tensor([it["speaker"] for it in items], device=device),
        audio_samples=sum(it["waveform"].numel() for it in items),
    )
