r"""Language-aware supervised contrastive loss (Mi et al., 2026, §2.2, eq. 5-8).

SupCon's :math:`\mathcal{L}^{sup}_{out}` (Khosla et al., 2020) with one change by Mi et al. (2026):
every positive pair (same emotion) whose two utterances come from *different* languages gets the
weight λ (``cross_lingual_pos_weight``, 2.5); same-language positives keep weight 1. Negatives are
never weighted.

.. math::

    \mathcal{L}_{SCL} = \frac{1}{|\tilde I|}\sum_{i\in\tilde I} \frac{-1}{|P(i)|}
    \sum_{p\in P(i)} w_{ip}\,\log\frac{\exp(\mathrm{sim}(e_i,e_p)/\tau)}
    {\sum_{a\in A(i)}\exp(\mathrm{sim}(e_i,e_a)/\tau)}

with :math:`P(i)` the other samples of the anchor's emotion, :math:`A(i)` all samples but the anchor,
:math:`\tilde I` the anchors with at least one positive, and cosine similarity. The paper's
text fixes the sets, the weight and the cosine similarity; the normalisation (``pos_norm``,
``anchor_reduce``) and τ are this reproduction's reading (the book's appendix *Reconstruction
notes*).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xlser import distributed
from xlser.config import LossConfig

TAU = LossConfig.temperature
"""τ's default (0.07), defined once in :class:`xlser.config.LossConfig`."""
LAMBDA = LossConfig.cross_lingual_pos_weight
"""λ's default (2.5), defined once in :class:`xlser.config.LossConfig`."""

__all__ = [
    "ANCHOR_REDUCES",
    "POS_NORMS",
    "LanguageAwareSupConLoss",
    "language_aware_supcon",
    "positive_weights",
]

POS_NORMS = ("count", "weight_sum")
"""Allowed ``pos_norm`` values: ``1/|P(i)|`` (default) or ``1/sum_p w_ip``."""
ANCHOR_REDUCES = ("mean", "sum")
"""Allowed ``anchor_reduce`` values: reduction over anchors that have a positive."""


def _check_options(
    temperature: float, cross_lingual_pos_weight: float, pos_norm: str, anchor_reduce: str
) -> None:
    if pos_norm not in POS_NORMS:
        raise ValueError(f"pos_norm must be one of {POS_NORMS}, got {pos_norm!r}")
    if anchor_reduce not in ANCHOR_REDUCES:
        raise ValueError(f"anchor_reduce must be one of {ANCHOR_REDUCES}, got {anchor_reduce!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if not cross_lingual_pos_weight > 0:
        raise ValueError(f"cross_lingual_pos_weight must be > 0, got {cross_lingual_pos_weight!r}")


def _check_inputs(embeddings: Tensor, emotions: Tensor, languages: Tensor) -> None:
    if embeddings.dim() != 2 or not embeddings.is_floating_point():
        raise ValueError(
            f"embeddings must be a float tensor of shape (B, D), got {embeddings.dtype} "
            f"of shape {tuple(embeddings.shape)}"
        )
    b = embeddings.shape[0]
    if tuple(emotions.shape) != (b,) or tuple(languages.shape) != (b,):
        raise ValueError(
            f"emotions and languages must have shape ({b},) to match embeddings "
            f"{tuple(embeddings.shape)}; got emotions {tuple(emotions.shape)} and "
            f"languages {tuple(languages.shape)}"
        )


def positive_weights(
    emotions: Tensor, languages: Tensor, cross_lingual_pos_weight: float = LAMBDA
) -> Tensor:
    """Weights ``w_ip`` of eq. 7 on the positive pairs, 0 elsewhere (Mi et al., 2026).

    Args:
        emotions: Integer emotion labels.
        languages: Integer language labels.
        cross_lingual_pos_weight: λ, the weight of a same-emotion pair across languages.

    Returns:
        Float32 matrix: λ for same-emotion pairs of different languages, 1 for same-emotion pairs
        of the same language, 0 for different emotions and on the diagonal (p ≠ i).

    Shapes:
        emotions, languages: ``(B,)``; returns ``(B, B)``.

    Example:
        >>> w = positive_weights(torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 1, 1]))
        >>> w[0].tolist()
        [0.0, 1.0, 2.5, 0.0]
    """
    eye = torch.eye(emotions.shape[0], dtype=torch.bool, device=emotions.device)
    pos = (emotions[:, None] == emotions[None, :]) & ~eye  # (B, B) P(i), eq. 5
    cross = languages[:, None] != languages[None, :]  # (B, B) l_p != l_i
    w = torch.where(cross, cross_lingual_pos_weight, 1.0)  # (B, B) eq. 7
    return w * pos  # (B, B)


def language_aware_supcon(
    embeddings: Tensor,
    emotions: Tensor,
    languages: Tensor,
    temperature: float = TAU,
    cross_lingual_pos_weight: float = LAMBDA,
    pos_norm: str = "count",
    anchor_reduce: str = "mean",
) -> Tensor:
    """Language-aware SupCon loss, eq. 8 (Khosla et al., 2020; weights of Mi et al., 2026).

    Args:
        embeddings: Utterance embeddings ``e`` (any float dtype, any norm; L2-normalised inside).
        emotions: Integer emotion labels ``y``.
        languages: Integer language labels ``l``.
        temperature: τ.
        cross_lingual_pos_weight: λ, weight of same-emotion pairs from different languages.
        pos_norm: ``"count"`` divides an anchor's weighted sum by ``|P(i)|`` (default);
            ``"weight_sum"`` divides by ``sum_p w_ip`` (pure re-weighting, SupCon scale).
        anchor_reduce: ``"mean"`` (default) or ``"sum"`` over anchors with >= 1 positive.
            Anchors without a positive are excluded.

    Returns:
        Scalar loss, float32 for half/bfloat16/float32 inputs (float64 for float64). A batch
        without any positive pair gives exactly 0 with an all-zero gradient.

    Shapes:
        embeddings: ``(B, D)``; emotions, languages: ``(B,)``; returns ``()``.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
        >>> y, lang = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])
        >>> round(language_aware_supcon(e, y, lang, temperature=1.0).item(), 4)
        1.3786
    """
    _check_options(temperature, cross_lingual_pos_weight, pos_norm, anchor_reduce)
    emotions = torch.as_tensor(emotions, device=embeddings.device)
    languages = torch.as_tensor(languages, device=embeddings.device)
    _check_inputs(embeddings, emotions, languages)
    dtype = torch.promote_types(embeddings.dtype, torch.float32)  # fp32 math for fp16/bf16
    z = F.normalize(embeddings.to(dtype), dim=1)  # (B, D) cosine similarity
    with torch.autocast(z.device.type, enabled=False):  # keep the matmul in fp32 under AMP
        logits = z @ z.T / temperature  # (B, B)
    eye = torch.eye(z.shape[0], dtype=torch.bool, device=z.device)  # (B, B) a != i
    logits = logits.masked_fill(eye, torch.finfo(dtype).min)  # (B, B) exclude self from A(i)
    logits = logits - logits.amax(dim=1, keepdim=True).detach()  # (B, B) stable exp
    log_prob = logits - logits.logsumexp(dim=1, keepdim=True)  # (B, B) log-softmax over A(i)
    w = positive_weights(emotions, languages, cross_lingual_pos_weight).to(dtype)  # (B, B)
    has_pos = (w > 0).any(dim=1)  # (B,) anchors with a positive
    norm = (w > 0).sum(dim=1) if pos_norm == "count" else w.sum(dim=1)  # (B,)
    weighted = torch.where(w > 0, w * log_prob, 0.0).sum(dim=1)  # (B,) sum_p w_ip log p_ip
    per_anchor = -weighted / norm.clamp_min(1e-12)  # (B,) zero for anchors without positives
    if anchor_reduce == "sum":
        return per_anchor.sum()
    return per_anchor.sum() / has_pos.sum().clamp_min(1)  # () mean over anchors with a positive


class LanguageAwareSupConLoss(nn.Module):
    r"""Module form of :func:`language_aware_supcon` (Mi et al., 2026, eq. 8), on the global batch
    when several processes train.

    Under DDP (:mod:`xlser.distributed`) each of the :math:`W` ranks holds :math:`b = B/W` rows of
    the global batch. The module all-gathers the embeddings (keeping gradients) and the labels, so
    every rank computes the one-process loss :math:`L` of all :math:`B` rows (every anchor, every
    positive and negative). Why the DDP gradient then equals the one-process gradient: the
    all-gather's backward sends rank :math:`s` the *sum* over ranks of each rank's
    :math:`\partial L/\partial z_s`, i.e. :math:`W\,\partial L/\partial z_s`; DDP averages the
    ranks' parameter gradients,

    .. math::

        \frac{1}{W}\sum_{s=1}^{W} W\,\frac{\partial L}{\partial z_s}
        \frac{\partial z_s}{\partial\theta} = \frac{\partial L}{\partial\theta},

    so no factor is needed (with only the local rows as anchors, each rank's loss would have to be
    multiplied by :math:`W` and normalised by the global anchor count instead). Computing all
    :math:`B` anchors on every rank costs a :math:`B \times B` similarity matrix (36 x 36), nothing
    beside the encoder. ``gather=False`` keeps the loss local to each process's rows.

    Args:
        temperature: τ (not recovered from the paper; SupCon's 0.07).
        cross_lingual_pos_weight: λ for same-emotion, different-language positives (2.5).
        pos_norm: ``"count"`` (default) or ``"weight_sum"``, see :data:`POS_NORMS`.
        anchor_reduce: ``"mean"`` (default) or ``"sum"``, see :data:`ANCHOR_REDUCES`.
        gather: Under DDP, compute the loss on every rank's rows (default) rather than on this
            process's only; no effect in one process.

    Shapes:
        Called as ``loss(embeddings, emotions, languages)`` with ``(b, D)``, ``(b,)``, ``(b,)``
        (this process's rows); returns a scalar.

    Example:
        >>> loss = LanguageAwareSupConLoss(temperature=1.0)
        >>> e = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
        >>> round(loss(e, torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1])).item(), 4)
        1.3786
    """

    def __init__(
        self,
        temperature: float = TAU,
        cross_lingual_pos_weight: float = LAMBDA,
        pos_norm: str = "count",
        anchor_reduce: str = "mean",
        gather: bool = True,
    ) -> None:
        super().__init__()
        _check_options(temperature, cross_lingual_pos_weight, pos_norm, anchor_reduce)
        self.gather = gather
        self.temperature = temperature
        self.cross_lingual_pos_weight = cross_lingual_pos_weight
        self.pos_norm = pos_norm
        self.anchor_reduce = anchor_reduce

    def forward(self, embeddings: Tensor, emotions: Tensor, languages: Tensor) -> Tensor:
        if self.gather and distributed.is_distributed():  # the global batch, (b, D) -> (B, D)
            device = embeddings.device
            embeddings = distributed.all_gather_with_grad(embeddings)
            emotions = distributed.all_gather(torch.as_tensor(emotions, device=device))
            languages = distributed.all_gather(torch.as_tensor(languages, device=device))
        return language_aware_supcon(
            embeddings,
            emotions,
            languages,
            temperature=self.temperature,
            cross_lingual_pos_weight=self.cross_lingual_pos_weight,
            pos_norm=self.pos_norm,
            anchor_reduce=self.anchor_reduce,
        )

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, "
            f"cross_lingual_pos_weight={self.cross_lingual_pos_weight}, "
            f"pos_norm={self.pos_norm!r}, anchor_reduce={self.anchor_reduce!r}"
        )
