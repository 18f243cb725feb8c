"""Dropout with cheap random masks, for training on CPU (a speed-up, not a change of method).

On CPU, ``torch.nn.functional.dropout`` draws one 32-bit random number per element; on the smoke
model that was about 45 % of a training step (19 dropout calls a step: the encoder's hidden,
activation and attention dropout, LoRA's input dropout, the speaker head's). :func:`keep_mask` draws
64 random bits at a time and cuts them into four 16-bit numbers, four times fewer draws.

What changes: the drop probability is rounded to a multiple of 1/65,536 (``p = 0.1`` becomes
0.100006), and kept values are scaled by the exact inverse of the rounded keep probability, so
``E[dropout(x)] = x`` still holds exactly. The masks come from torch's global generator, so
``torch.manual_seed`` makes them reproducible; they differ from torch's own dropout masks.

:func:`use_fast_dropout` swaps every ``nn.Dropout`` of a model for :class:`FastDropout` and points
Hugging Face attention at :func:`fast_attention` (registered with ``AttentionInterface``), which keeps
SDPA whenever no dropout applies. ``train.dropout_impl`` chooses: ``auto`` (fast on CPU, torch's on
GPU, where dropout is cheap), ``fast`` or ``torch``.

>>> _ = torch.manual_seed(0)
>>> m = keep_mask((400_000,), p=0.1)
>>> round(1 - m.float().mean().item(), 3)  # share dropped
0.1
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["FastDropout", "fast_attention", "fast_dropout", "keep_mask", "use_fast_dropout"]

ATTENTION_NAME = "xlser_fast"
_LEVELS = 1 << 16


def _threshold(p: float) -> int:
    """Drop probability ``p`` as a count of the 65,536 16-bit values (rounded)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    return round(p * _LEVELS)


def _uniform16(shape: tuple[int, ...], device: torch.device | str) -> Tensor:
    """Uniform int16 numbers, four per 64-bit draw of torch's global generator."""
    n = math.prod(shape)
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=device)
    bits.random_(
        -(2**63), None
    )  # every 64-bit pattern equally likely (from = int64 min, to = None)
    return bits.view(torch.int16)[:n].view(shape)


def keep_mask(shape: tuple[int, ...], p: float, device: torch.device | str = "cpu") -> Tensor:
    """Bernoulli keep mask: True with probability ``1 - round(p * 65536) / 65536``.

    Shapes:
        ``shape`` -> bool tensor of that shape.
    """
    return _uniform16(shape, device) >= _threshold(p) - 2**15  # P(u >= t - 32768) = 1 - t/65536


def fast_dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """``F.dropout(x, p, training)`` with :func:`keep_mask`'s masks (unbiased)."""
    if not training or p == 0.0:
        return x
    t = _threshold(p)
    if t >= _LEVELS:
        return x * 0.0
    u = _uniform16(tuple(x.shape), x.device)  # same shape as x
    scale = torch.tensor(_LEVELS / (_LEVELS - t), dtype=x.dtype, device=x.device)
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    return x * torch.where(u >= t - 2**15, scale, zero)  # one pass builds the scaled mask


class FastDropout(nn.Dropout):
    """``nn.Dropout`` with :func:`fast_dropout`'s masks (``inplace`` is ignored)."""

    def forward(self, x: Tensor) -> Tensor:
        return fast_dropout(x, self.p, self.training)


def fast_attention(
    module: nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    head_mask: Tensor | None = None,
    **kwargs,
) -> tuple[Tensor, Tensor | None]:
    """Hugging Face attention function: SDPA without dropout, else eager attention whose
    attention-probability dropout is :func:`fast_dropout`.

    Shapes:
        ``query, key, value (B, H, T, d)``, additive ``attention_mask (B, 1, T, T)`` ->
        ``(B, T, H, d)`` and the attention weights (eager path) or None.
    """
    if (dropout == 0.0 or not module.training) and head_mask is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=0.0, scaling=scaling, **kwargs
        )
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling  # (B, H, T, T)
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = torch.softmax(weights, dim=-1)
    if head_mask is not None:
        weights = weights * head_mask.view(1, -1, 1, 1)
    weights = fast_dropout(weights, dropout, module.training)
    out = torch.matmul(weights, value).transpose(1, 2).contiguous()  # (B, T, H, d)
    return out, weights


def _register_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(ATTENTION_NAME, fast_attention)


def use_fast_dropout(model: nn.Module) -> int:
    """Swap ``model``'s ``nn.Dropout`` modules for :class:`FastDropout` (in place) and route its
    Hugging Face attention through :func:`fast_attention`. Returns how many modules changed."""
    changed = 0
    for m in model.modules():
        if type(m) is nn.Dropout:
            m.__class__ = FastDropout
            changed += 1
        config = getattr(m, "config", None)
        if getattr(config, "attention_dropout", 0.0) and getattr(
            config, "_attn_implementation", None
        ) in ("eager", "sdpa"):
            _register_attention()
            config._attn_implementation_internal = ATTENTION_NAME
            changed += 1
    return changed
