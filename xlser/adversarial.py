"""Speaker-adversarial branch: gradient reversal and speaker classifier (Mi et al., 2026, §2.3, eq. 9-10).

The gradient reversal layer (GRL) of Ganin & Lempitsky (2015) is the identity in the forward pass
and multiplies the gradient by ``-coeff`` in the backward pass. Put in front of a speaker
classifier, the classifier *minimises* the speaker cross-entropy while the encoder below the GRL
*maximises* it, which removes speaker information from the embedding (Mi et al., 2026, eq. 9-10).

How the adversarial weight β (``w_adv``, 0.3) enters eq. 12 (§2.5) is not fixed by the paper, so it
is an option (``adv_weight_mode``; see the book's appendix *Reconstruction notes*):

* ``"loss"`` (default): total loss ``... + w_adv * L_adv`` and GRL coefficient 1. The
  speaker head's own gradient is then scaled by ``w_adv`` too.
* ``"grl"``: total loss ``... + L_adv`` (head trained on the unscaled loss) and GRL
  coefficient ``w_adv``, so only the encoder sees the scaled, reversed gradient.

In both modes the GRL coefficient is further multiplied by an optional schedule such as
:func:`dann_coeff` (Ganin et al., 2016).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

__all__ = [
    "ADV_WEIGHT_MODES",
    "AdversarialTerms",
    "GradientReversal",
    "SpeakerAdversary",
    "adversarial_terms",
    "dann_coeff",
    "grad_reverse",
]

ADV_WEIGHT_MODES = ("loss", "grl")
"""Allowed ``adv_weight_mode`` values, see :func:`adversarial_terms`."""


class _GradReverse(torch.autograd.Function):
    """Identity forward, ``-coeff * grad`` backward (Ganin & Lempitsky, 2015)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, coeff: float) -> Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        return -ctx.coeff * grad_output, None


def grad_reverse(x: Tensor, coeff: float = 1.0) -> Tensor:
    """Gradient reversal ``GRL_γ`` (Ganin & Lempitsky, 2015).

    Args:
        x: Any tensor.
        coeff: γ; the backward pass returns ``-coeff * grad``.

    Returns:
        ``x`` unchanged (a view), with the reversed gradient attached.

    Shapes:
        Any shape; the output has the shape of ``x``.

    Example:
        >>> x = torch.ones(2, requires_grad=True)
        >>> grad_reverse(x, coeff=0.5).sum().backward()
        >>> x.grad.tolist()
        [-0.5, -0.5]
    """
    return _GradReverse.apply(x, float(coeff))


class GradientReversal(nn.Module):
    """Module form of :func:`grad_reverse`; ``coeff`` may be changed during training.

    Args:
        coeff: γ, the gradient-reversal scale (settable attribute, e.g. for a DANN schedule).

    Example:
        >>> grl = GradientReversal(coeff=2.0)
        >>> x = torch.ones(3, requires_grad=True)
        >>> grl(x).sum().backward()
        >>> x.grad.tolist()
        [-2.0, -2.0, -2.0]
    """

    def __init__(self, coeff: float = 1.0) -> None:
        super().__init__()
        self.coeff = float(coeff)

    def forward(self, x: Tensor) -> Tensor:
        return grad_reverse(x, self.coeff)

    def extra_repr(self) -> str:
        return f"coeff={self.coeff}"


class SpeakerAdversary(nn.Module):
    """Speaker classifier behind a GRL, eq. 9 (Mi et al., 2026; Ganin et al., 2016).

    ``GRL -> Linear(dim, hidden) -> ReLU -> Dropout -> Linear(hidden, n_speakers)``; the layer order
    is the paper's, ``hidden`` and ``dropout`` are reconstructed defaults. Train it with
    ``F.cross_entropy(logits, speakers)`` (eq. 10).

    Args:
        dim: Embedding size ``D``.
        n_speakers: Number of training speakers ``|S|`` (namespaced per corpus).
        hidden: Hidden width ``h``.
        dropout: Dropout probability ``p``.
        grl_coeff: Initial GRL coefficient γ (settable via the ``grl_coeff`` attribute).

    Shapes:
        forward: ``(B, dim) -> (B, n_speakers)`` logits.

    Example:
        >>> adv = SpeakerAdversary(dim=8, n_speakers=5, hidden=4)
        >>> tuple(adv(torch.randn(3, 8)).shape)
        (3, 5)
    """

    def __init__(
        self,
        dim: int,
        n_speakers: int,
        hidden: int = 256,
        dropout: float = 0.1,
        grl_coeff: float = 1.0,
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            GradientReversal(grl_coeff),
            nn.Linear(dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_speakers),
        )

    @property
    def grl_coeff(self) -> float:
        """γ of the gradient reversal layer."""
        return self.net[0].coeff

    @grl_coeff.setter
    def grl_coeff(self, value: float) -> None:
        self.net[0].coeff = float(value)

    def forward(self, e: Tensor) -> Tensor:
        return self.net(e)


def dann_coeff(progress: float, gamma: float = 10.0) -> float:
    """DANN schedule ``2 / (1 + exp(-gamma * p)) - 1`` (Ganin et al., 2016).

    Args:
        progress: Training progress ``p``; clipped to ``[0, 1]``.
        gamma: Steepness (10 in DANN).

    Returns:
        A coefficient rising from 0 at ``p = 0`` to about 1 at ``p = 1``.

    Example:
        >>> [round(dann_coeff(p), 4) for p in (0.0, 0.1, 1.0)]
        [0.0, 0.4621, 0.9999]
    """
    p = min(max(float(progress), 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


class AdversarialTerms(NamedTuple):
    """Where β goes: ``loss_weight`` multiplies ``L_adv``; ``grl_coeff`` is the GRL's γ."""

    loss_weight: float
    grl_coeff: float


def adversarial_terms(mode: str, w_adv: float, schedule: float = 1.0) -> AdversarialTerms:
    """Split the adversarial weight β between the loss and the GRL (``loss.adv_weight_mode``).

    Args:
        mode: ``"loss"`` (default): ``(w_adv, schedule)``;
            ``"grl"``: ``(1, w_adv * schedule)``.
        w_adv: β (0.3 in the paper).
        schedule: Extra factor on the GRL coefficient, e.g. ``dann_coeff(progress)``; 1 = constant.

    Returns:
        ``AdversarialTerms(loss_weight, grl_coeff)``: use
        ``loss = ce + w_scl * scl + loss_weight * adv`` with ``adversary.grl_coeff = grl_coeff``.

    Example:
        >>> adversarial_terms("loss", 0.3)
        AdversarialTerms(loss_weight=0.3, grl_coeff=1.0)
        >>> adversarial_terms("grl", 0.3)
        AdversarialTerms(loss_weight=1.0, grl_coeff=0.3)
    """
    if mode == "loss":
        return AdversarialTerms(float(w_adv), float(schedule))
    if mode == "grl":
        return AdversarialTerms(1.0, float(w_adv) * float(schedule))
    raise ValueError(f"adv_weight_mode must be one of {ADV_WEIGHT_MODES}, got {mode!r}")
