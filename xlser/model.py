"""The SER model of Mi et al. (2026): wav2vec 2.0 encoder with PEFT, mean pooling, two heads.

.. code-block:: text

    x (B, S) ─wav2vec2 + LoRA/BA/WG─▶ H (B, T, D) ─masked mean─▶ e (B, D) ─┬─▶ emotion    (B, C)
                                                                        ├─▶ GRL ▶ spk (B, |S|)
                                                                        └─▶ projection (B, P)

* ``H = wav2vec2(x)`` (eq. 3) and ``e = mean_t H_t`` (eq. 4) over the *valid* frames of each
  utterance: the frame mask comes from ``encoder._get_feat_extract_output_lengths(lengths)``, so
  a padded batch pools exactly the frames its utterances produce.
* :meth:`SERModel.forward_features` starts after the frozen CNN, from cached features
  (:mod:`xlser.frontend`): the same layers, with padded frames masked in attention and pooling.
* The emotion head is eq. 11's single linear layer (or Han et al.'s MLP, ``classifier_type``).
* The speaker adversary (eq. 9) is :class:`xlser.adversarial.SpeakerAdversary`; ``n_speakers=0``
  leaves it out (systems without the adversarial loss).
* SupCon (eq. 5-8) uses ``e`` itself unless an optional projection MLP is configured.

The padding mask reaches the encoder only when the checkpoint's feature extractor has
``return_attention_mask`` (``ModelConfig.attention_mask="auto"``); for wav2vec2-base it does not,
and padded inputs are zeros, as HF documents for group-norm checkpoints.

>>> from xlser.config import ExperimentConfig
>>> _ = torch.manual_seed(0)
>>> model = build_model(ExperimentConfig.from_profile("smoke"), n_speakers=5).eval()
>>> out = model(torch.randn(2, 8000), lengths=torch.tensor([8000, 6000]))
>>> tuple(out.embeddings.shape), tuple(out.emotion_logits.shape), tuple(out.speaker_logits.shape)
((2, 64), (2, 4), (2, 5))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from xlser import EMOTIONS
from xlser.adapters import apply_peft
from xlser.adversarial import SpeakerAdversary, adversarial_terms
from xlser.config import ExperimentConfig
from xlser.encoder import EncoderInfo, load_encoder
from xlser.tasks import parse_task

__all__ = ["SERModel", "SEROutput", "build_model", "emotion_head", "frame_mask", "masked_mean"]


@dataclass
class SEROutput:
    """What :meth:`SERModel.forward` returns."""

    embeddings: Tensor
    """``e`` (B, D): masked mean of the last hidden states (eq. 4)."""
    emotion_logits: Tensor
    """(B, C) logits of eq. 11 (softmax is in the loss)."""
    speaker_logits: Tensor | None = None
    """``(B, |S|)`` logits of the speaker adversary behind the GRL (eq. 9), or None without one."""
    projections: Tensor | None = None
    """(B, P) SupCon projections, or None (SupCon then uses ``embeddings``)."""


def masked_mean(hidden: Tensor, frame_mask: Tensor) -> Tensor:
    """Mean over the valid frames of each row: eq. 4 for a padded batch.

    Accumulates in at least float32 (bf16/fp16 inputs give a float32 result).

    Args:
        hidden: Frame features ``H``.
        frame_mask: True on valid frames; every row needs at least one.

    Shapes:
        ``hidden (B, T, D)``, ``frame_mask (B, T)`` -> ``(B, D)``.

    Example:
        >>> h = torch.tensor([[[1.0], [3.0], [100.0]]])
        >>> masked_mean(h, torch.tensor([[True, True, False]]))
        tensor([[2.]])
    """
    dtype = torch.promote_types(hidden.dtype, torch.float32)
    mask = frame_mask.to(dtype).unsqueeze(-1)  # (B, T, 1)
    summed = (hidden.to(dtype) * mask).sum(dim=1)  # (B, T, D) -> (B, D)
    count = mask.sum(dim=1)  # (B, 1)
    return summed / count


def frame_mask(encoder: nn.Module, lengths: Tensor, n_frames: int) -> Tensor:
    """Valid-frame mask from waveform lengths via ``_get_feat_extract_output_lengths``.

    Args:
        encoder: A ``Wav2Vec2Model``.
        lengths: Unpadded waveform lengths in samples.
        n_frames: ``T`` of the padded batch.

    Shapes:
        ``lengths (B,)`` -> ``(B, T)`` bool.

    Example:
        >>> from xlser.config import ModelConfig
        >>> enc, _ = load_encoder(ModelConfig(encoder="tiny"), "en")
        >>> frame_mask(enc, torch.tensor([720, 400]), n_frames=2).tolist()
        [[True, True], [True, False]]
    """
    n_valid = encoder._get_feat_extract_output_lengths(lengths).to(torch.long)  # (B,)
    # checked on CPU only: on a GPU the check would wait for the device every step, and the
    # loaders already refuse audio under 25 ms (xlser.data.audio.MIN_SECONDS)
    if n_valid.device.type == "cpu" and int(n_valid.min()) < 1:
        raise ValueError(
            f"an utterance of {int(lengths.min())} samples is shorter than the encoder's receptive "
            "field (400 samples = 25 ms at 16 kHz); drop or pad such utterances"
        )
    steps = torch.arange(n_frames, device=lengths.device)  # (T,)
    return steps.unsqueeze(0) < n_valid.unsqueeze(1)  # (B, T)


def emotion_head(dim: int, n_classes: int, classifier_type: str = "linear") -> nn.Module:
    """Eq. 11's linear classifier ``W e + b``, or Han et al.'s (2025) MLP ``D-128-16-C`` (ReLU).

    Example:
        >>> emotion_head(768, 4, "han_mlp")
        Sequential(
          (0): Linear(in_features=768, out_features=128, bias=True)
          (1): ReLU()
          (2): Linear(in_features=128, out_features=16, bias=True)
          (3): ReLU()
          (4): Linear(in_features=16, out_features=4, bias=True)
        )
    """
    if classifier_type == "linear":
        return nn.Linear(dim, n_classes)
    if classifier_type == "han_mlp":
        return nn.Sequential(
            nn.Linear(dim, 128), nn.ReLU(), nn.Linear(128, 16), nn.ReLU(), nn.Linear(16, n_classes)
        )
    raise ValueError(f"model.classifier_type must be linear or han_mlp, got {classifier_type!r}")


class SERModel(nn.Module):
    """Encoder (with PEFT) -> masked mean pooling -> emotion head, speaker adversary, projection.

    Mi et al. (2026), eq. 3-4, 9 and 11. The encoder's trainable parameters are whatever
    :func:`xlser.adapters.apply_peft` left trainable; the heads and the projection are trainable.

    Args:
        encoder: A ``Wav2Vec2Model`` (normally after ``apply_peft``).
        n_classes: ``C``, number of emotions (4).
        n_speakers: ``|S|`` for the speaker adversary; 0 leaves it out.
        classifier_type: ``"linear"`` (eq. 11) or ``"han_mlp"``.
        speaker_hidden: Hidden width of the speaker classifier.
        speaker_dropout: Its dropout.
        grl_coeff: Initial GRL coefficient (see :meth:`set_grl_coeff`).
        projection_dim: Output size of the optional SupCon projection MLP ``D-D-P``; None: none.
        use_attention_mask: Pass the sample-level padding mask to the encoder.
        info: The :class:`xlser.encoder.EncoderInfo` of the encoder, kept for reference.
        per_utterance: Run the encoder on each utterance unpadded (``ModelConfig.batching``).
    """

    def __init__(
        self,
        encoder: nn.Module,
        n_classes: int = len(EMOTIONS),
        n_speakers: int = 0,
        classifier_type: str = "linear",
        speaker_hidden: int = 256,
        speaker_dropout: float = 0.1,
        grl_coeff: float = 1.0,
        projection_dim: int | None = None,
        use_attention_mask: bool = False,
        info: EncoderInfo | None = None,
        per_utterance: bool = False,
    ) -> None:
        super().__init__()
        dim = encoder.config.hidden_size
        self.encoder = encoder
        self.info = info
        self.use_attention_mask = use_attention_mask
        self.per_utterance = per_utterance
        self.emotion_head = emotion_head(dim, n_classes, classifier_type)
        self.speaker_head = (
            SpeakerAdversary(dim, n_speakers, speaker_hidden, speaker_dropout, grl_coeff)
            if n_speakers > 0
            else None
        )
        self.projection = (
            nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, projection_dim))
            if projection_dim
            else None
        )

    def set_grl_coeff(self, coeff: float) -> None:
        """Set the GRL coefficient γ (e.g. for a DANN schedule); no-op without a speaker head."""
        if self.speaker_head is not None:
            self.speaker_head.grl_coeff = coeff

    def embed(
        self,
        input_values: Tensor,
        lengths: Tensor | None = None,
        attention_mask: Tensor | None = None,
    ) -> Tensor:
        """Encoder + padding-aware mean pooling (eq. 3-4): ``(B, S)`` waveforms -> ``(B, D)``."""
        B, S = input_values.shape
        if lengths is None:
            lengths = torch.full((B,), S, dtype=torch.long, device=input_values.device)
        mask = None
        if self.use_attention_mask:
            if attention_mask is None:
                attention_mask = torch.arange(S, device=lengths.device)[None] < lengths[:, None]
            mask = attention_mask.to(torch.long)  # (B, S)
        hidden = self.encoder(input_values, attention_mask=mask).last_hidden_state  # (B, T, D)
        valid = frame_mask(self.encoder, lengths, hidden.shape[1])  # (B, T)
        return masked_mean(hidden, valid)  # (B, T, D) -> (B, D)

    def embed_features(self, features: Tensor, n_frames: Tensor) -> Tensor:
        """Eq. 3-4 from the frozen CNN's output: ``(B, T, C)`` features, ``(B,)`` lengths -> ``(B, D)``.

        Wav2Vec2Model's forward after its feature extractor (projection, SpecAugment in training,
        Transformer), with the frame mask passed to attention so padding changes nothing.
        """
        enc = self.encoder
        mask = torch.arange(features.shape[1], device=features.device)[None] < n_frames[:, None]
        hidden, _ = enc.feature_projection(features)  # (B, T, C) -> (B, T, D)
        hidden = enc._mask_hidden_states(hidden, attention_mask=mask)  # SpecAugment (training)
        hidden = enc.encoder(hidden, attention_mask=mask).last_hidden_state  # (B, T, D)
        if enc.adapter is not None:
            hidden = enc.adapter(hidden)
        return masked_mean(hidden, mask)  # (B, T, D) -> (B, D)

    def heads(self, e: Tensor) -> SEROutput:
        """Eq. 9 and 11 (and the optional projection) on pooled embeddings ``e`` (B, D)."""
        return SEROutput(
            embeddings=e,
            emotion_logits=self.emotion_head(e),  # (B, C)
            speaker_logits=self.speaker_head(e) if self.speaker_head is not None else None,
            projections=self.projection(e) if self.projection is not None else None,
        )

    def forward_features(self, features: Tensor, n_frames: Tensor) -> SEROutput:
        """:meth:`forward` from cached CNN features (:class:`xlser.frontend.FeatureBatch`)."""
        return self.heads(self.embed_features(features, n_frames))

    def forward(
        self,
        input_values: Tensor,
        lengths: Tensor | None = None,
        attention_mask: Tensor | None = None,
    ) -> SEROutput:
        """Embed and classify a zero-padded batch of waveforms.

        Args:
            input_values: Waveforms, zero-padded on the right (normalised per utterance if the
                checkpoint's ``do_normalize``).
            lengths: Unpadded lengths in samples; None means no padding.
            attention_mask: Sample-level padding mask; built from ``lengths`` if needed and absent.
                Passed to the encoder only if ``use_attention_mask``.

        Shapes:
            ``input_values (B, S)``, ``lengths (B,)``, ``attention_mask (B, S)`` -> embeddings
            ``(B, D)``, emotion ``(B, C)``, speaker ``(B, |S|)``, projections ``(B, P)``.
        """
        if self.per_utterance and lengths is not None and len(lengths) > 1:
            # exact for group-norm CNNs: each utterance unpadded (without lengths nothing is padded)
            e = torch.cat(
                [
                    self.embed(input_values[b : b + 1, : int(lengths[b])])
                    for b in range(len(lengths))
                ]
            )
        else:
            e = self.embed(input_values, lengths, attention_mask)  # (B, D)
        return self.heads(e)


def build_model(cfg: ExperimentConfig, n_speakers: int) -> SERModel:
    """Encoder for the task's source language + PEFT + heads, as ``cfg`` says.

    The initial GRL coefficient follows ``cfg.loss.adv_weight_mode``
    (:func:`xlser.adversarial.adversarial_terms`): 1 for ``loss``, ``w_adv`` for ``grl``.

    Args:
        cfg: The experiment config (``model``, ``peft``, ``loss`` and ``task`` are read).
        n_speakers: Training speakers for the adversary; 0 leaves it out.
    """
    m = cfg.model
    encoder, info = load_encoder(m, parse_task(cfg.task).source)
    apply_peft(encoder, cfg.peft)
    if not any(p.requires_grad for p in encoder.feature_extractor.parameters()):
        encoder.freeze_feature_encoder()  # else HF's CNN still builds a backward graph
    use_mask = m.attention_mask == "always" or (
        m.attention_mask == "auto" and info.return_attention_mask
    )
    return SERModel(
        encoder,
        n_classes=len(EMOTIONS),
        n_speakers=n_speakers,
        classifier_type=m.classifier_type,
        speaker_hidden=m.speaker_hidden,
        speaker_dropout=m.speaker_dropout,
        grl_coeff=adversarial_terms(cfg.loss.adv_weight_mode, cfg.loss.w_adv).grl_coeff,
        projection_dim=m.projection_dim,
        use_attention_mask=use_mask,
        info=info,
        per_utterance=m.batching == "per_utterance",
    )
