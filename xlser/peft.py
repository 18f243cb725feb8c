r"""Parameter-efficient fine-tuning of wav2vec 2.0: LoRA + bottleneck adapter + weight gating.

Mi et al. (2026, §3.3) fine-tune the encoder with LoRA (Hu et al., 2022), a bottleneck adapter
(Houlsby et al., 2019) and weight gating (Lashkarashvili et al., 2024), as Han et al. (2025) do.
The paper gives no sizes; ``PeftConfig``'s defaults are those of Han et al.'s public code (the
book's appendix *Reconstruction notes*). For a post-LN layer (wav2vec2-base):

.. math::

    h &\leftarrow \sigma(g) \odot h  && \text{weight gate, } g_0 = 1\\
    h &\leftarrow \mathrm{LN}_1(h + \mathrm{MHSA}_{LoRA}(h))\\
    f &= \mathrm{FFN}_{LoRA}(h)\\
    h &\leftarrow \mathrm{LN}_2(h + f + \mathrm{BA}(f))
       && \mathrm{BA}(f) = W_{up} \mathrm{ReLU}(W_{down} f)

For a pre-LN layer (``Wav2Vec2EncoderLayerStableLayerNorm``, large/XLS-R style) the analogous
placement is used: the adapter again acts on the FFN output inside the residual,
``h <- h + f + BA(f)`` with ``f = FFN(LN_2(h))``, and the gate scales the layer input (before
``LN_1`` and the residual) or output. The flavour is read from the loaded config
(:func:`xlser.encoder.layer_flavour`), never assumed.

How it is wired, one piece per PEFT method (config in :class:`xlser.config.PeftConfig`):

* **LoRA** goes through the ``peft`` library's ``inject_adapter_in_model``: the target ``nn.Linear``
  layers are replaced in place by ``peft`` LoRA layers, and the result is still the same
  ``Wav2Vec2Model`` (no ``PeftModel`` wrapper), so HF methods such as
  ``_get_feat_extract_output_lengths`` keep working. LoRA ``B`` starts at zero.
* **Adapter** and **gate** are modules registered *inside* the HF modules (``feed_forward.adapter``,
  ``layer.gate``), so they are in ``state_dict()`` and move with ``.to()``, and applied by forward
  hooks on those modules. The hook on ``feed_forward`` returns ``f + BA(f)``, which is exactly the
  placement above for both layer flavours; no HF forward code is copied.

:func:`apply_peft` is the one entry point: it freezes the whole encoder (CNN feature encoder,
feature projection, positional conv, all LayerNorms, all base weights) and leaves trainable exactly
the LoRA ``A``/``B`` matrices, the adapters and the gates.

>>> from xlser.config import ModelConfig, PeftConfig
>>> from xlser.encoder import load_encoder
>>> encoder, _ = load_encoder(ModelConfig(encoder="tiny"), "en")
>>> encoder = apply_peft(encoder, PeftConfig())
>>> counts = trainable_parameters(encoder)
>>> counts["lora"], counts["adapter"], counts["gate"], counts["trainable"]
(18432, 12512, 128, 31072)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from xlser.config import PeftConfig
from xlser.encoder import layer_flavour

__all__ = [
    "PARAMETER_GROUPS",
    "BottleneckAdapter",
    "WeightGate",
    "add_bottleneck_adapters",
    "add_lora",
    "add_weight_gates",
    "apply_peft",
    "encoder_layers",
    "format_trainable_parameters",
    "print_trainable_parameters",
    "trainable_parameters",
]

PARAMETER_GROUPS: tuple[str, ...] = (
    "lora",
    "adapter",
    "gate",
    "emotion_head",
    "speaker_head",
    "projection",
)
"""Groups of :func:`trainable_parameters`; the heads are the top-level modules of ``SERModel``."""


class BottleneckAdapter(nn.Module):
    """Houlsby et al. (2019) bottleneck adapter: ``Linear(dim, b) -> ReLU -> Linear(b, dim)``.

    Returns ``BA(x)`` only; the caller adds the residual (here ``f + BA(f)`` on the FFN output,
    as in Han et al.'s code). With ``zero_init`` the up projection starts at zero, so ``BA(x) = 0`` at init.

    Args:
        dim: Model width ``D`` (768 for wav2vec2-base).
        bottleneck: Bottleneck width ``b`` (48 = 768 / 16, Han et al.).
        zero_init: Zero the up projection (weights and bias) instead of PyTorch's default init.

    Shapes:
        ``(..., dim) -> (..., dim)``.

    Example:
        >>> ba = BottleneckAdapter(8, bottleneck=2, zero_init=True)
        >>> ba(torch.randn(3, 5, 8)).abs().max().item()
        0.0
    """

    def __init__(self, dim: int, bottleneck: int = 48, zero_init: bool = False) -> None:
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.act = nn.ReLU()
        self.up = nn.Linear(bottleneck, dim)
        if zero_init:
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.up(self.act(self.down(x)))  # (..., D) -> (..., b) -> (..., D)


class WeightGate(nn.Module):
    """Weight gating ``h <- sigmoid(g) * h`` with one gate vector ``g`` per layer.

    Lashkarashvili et al. (2024) gate each layer's output; Han et al. (2025) its input. ``g``
    starts at ``init`` (1, so the gate starts at ``sigmoid(1) = 0.731``).

    Args:
        dim: Model width ``D``.
        init: Initial value of every entry of ``g``.

    Shapes:
        ``(..., dim) -> (..., dim)``.

    Example:
        >>> gate = WeightGate(4)
        >>> round(gate(torch.ones(4))[0].item(), 4)
        0.7311
    """

    def __init__(self, dim: int, init: float = 1.0) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.full((dim,), float(init)))

    def forward(self, h: Tensor) -> Tensor:
        return torch.sigmoid(self.g).to(h.dtype) * h  # (D,) * (B, T, D) -> (B, T, D)


# ----------------------------------------------------------------------------- wiring


def encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    """The Transformer layers of a ``Wav2Vec2Model``, checked against its configured flavour."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import (
        Wav2Vec2EncoderLayer,
        Wav2Vec2EncoderLayerStableLayerNorm,
    )

    expected = {"post_ln": Wav2Vec2EncoderLayer, "pre_ln": Wav2Vec2EncoderLayerStableLayerNorm}
    cls = expected[layer_flavour(encoder)]
    layers = encoder.encoder.layers
    for i, layer in enumerate(layers):
        if not isinstance(layer, cls):
            raise TypeError(
                f"encoder.layers[{i}] is {type(layer).__name__}, but the config "
                f"(do_stable_layer_norm={encoder.config.do_stable_layer_norm}) implies "
                f"{cls.__name__}"
            )
    return layers


def add_lora(encoder: nn.Module, cfg: PeftConfig) -> nn.Module:
    """Inject LoRA (Hu et al., 2022) into ``cfg.lora_targets`` of every encoder layer via ``peft``.

    ``W x -> W_0 x + (alpha / r) B A dropout(x)``, ``B = 0`` at init. ``inject_adapter_in_model``
    replaces the target ``nn.Linear`` modules in place (names such as
    ``encoder.layers.0.attention.q_proj.lora_A.default.weight``) and freezes every non-LoRA weight.
    """
    from peft import LoraConfig, inject_adapter_in_model

    n_layers = len(encoder_layers(encoder))
    targets = [f"encoder.layers.{i}.{t}" for i in range(n_layers) for t in cfg.lora_targets]
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        bias="none",
    )
    return inject_adapter_in_model(lora, encoder)


def _add_adapter_output(module: nn.Module, args: Any, f: Tensor) -> Tensor:
    """Forward hook on ``feed_forward``: ``f -> f + BA(f)`` (the layer then adds its residual)."""
    return f + module.adapter(f)  # (B, T, D)


def add_bottleneck_adapters(encoder: nn.Module, bottleneck: int, zero_init: bool) -> nn.Module:
    """Add a :class:`BottleneckAdapter` on the FFN output of every layer (Houlsby et al., 2019).

    Post-LN: ``h = LN_2(h + f + BA(f))``; pre-LN: ``h = h + f + BA(f)``, ``f = FFN(LN_2(h))``.
    """
    dim = encoder.config.hidden_size
    for layer in encoder_layers(encoder):
        ff = layer.feed_forward
        ff.adapter = BottleneckAdapter(dim, bottleneck, zero_init).to(ff.output_dense.weight.device)
        ff.register_forward_hook(_add_adapter_output)
    return encoder


def _gate_layer_input(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Forward pre-hook on an encoder layer: ``h -> sigmoid(g) * h`` before attention (Han)."""
    if args:
        return (module.gate(args[0]), *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": module.gate(kwargs["hidden_states"])}


def _gate_layer_output(module: nn.Module, args: Any, outputs: tuple) -> tuple:
    """Forward hook on an encoder layer: gate the output hidden states (Lashkarashvili)."""
    return (module.gate(outputs[0]), *outputs[1:])


def add_weight_gates(
    encoder: nn.Module, position: str = "layer_input", init: float = 1.0
) -> nn.Module:
    """Add one :class:`WeightGate` per layer, at its input (Han et al., 2025) or output.

    Args:
        encoder: A ``Wav2Vec2Model``.
        position: ``"layer_input"`` (before attention and the residual) or ``"layer_output"``.
        init: Initial gate logit ``g``.
    """
    if position not in ("layer_input", "layer_output"):
        raise ValueError(f"peft.wg_position must be layer_input or layer_output, got {position!r}")
    dim = encoder.config.hidden_size
    for layer in encoder_layers(encoder):
        layer.gate = WeightGate(dim, init).to(layer.final_layer_norm.weight.device)
        if position == "layer_input":
            layer.register_forward_pre_hook(_gate_layer_input, with_kwargs=True)
        else:
            layer.register_forward_hook(_gate_layer_output)
    return encoder


def apply_peft(encoder: nn.Module, cfg: PeftConfig) -> nn.Module:
    """Freeze the encoder and add the PEFT modules that ``cfg`` switches on (Mi et al., 2026, §3.3).

    Frozen: the CNN feature encoder, feature projection, positional conv, all LayerNorms and all
    base weights (and ``masked_spec_embed``). Trainable: LoRA ``A``/``B``, adapters, gates.

    Args:
        encoder: A ``Wav2Vec2Model`` (either layer flavour); modified in place.
        cfg: Which methods and their sizes.

    Returns:
        The same ``encoder`` object.
    """
    if getattr(encoder, "_xlser_peft", None) is not None:
        raise RuntimeError("apply_peft was already applied to this encoder")
    encoder.requires_grad_(False)
    if cfg.lora:
        add_lora(encoder, cfg)
    if cfg.adapter:
        add_bottleneck_adapters(encoder, cfg.adapter_dim, cfg.adapter_zero_init)
    if cfg.weight_gate:
        add_weight_gates(encoder, cfg.wg_position, cfg.wg_init)
    encoder._xlser_peft = cfg
    return encoder


# ----------------------------------------------------------------------------- counting


def trainable_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable parameter counts by group, in the style of peft's ``print_trainable_parameters``.

    Groups (trainable parameters only): ``lora`` (LoRA ``A``/``B``), ``adapter``
    (:class:`BottleneckAdapter`), ``gate`` (:class:`WeightGate`), and the top-level modules
    ``emotion_head``, ``speaker_head`` and ``projection`` of an ``SERModel``. ``projection`` is only
    present when the model has one. ``trainable`` counts every trainable parameter, ``total`` every
    parameter (trainable or not).

    Args:
        model: An encoder after :func:`apply_peft`, or an ``SERModel``.

    Returns:
        ``{group: count, ..., "trainable": n, "total": n}``.
    """
    owner: dict[int, str] = {}
    for name, module in model.named_modules():
        top = name.split(".")[0]
        if isinstance(module, BottleneckAdapter):
            group = "adapter"
        elif isinstance(module, WeightGate):
            group = "gate"
        elif name == top and top in ("emotion_head", "speaker_head", "projection"):
            group = top
        else:
            continue
        for p in module.parameters():
            owner[id(p)] = group
    counts = {g: 0 for g in PARAMETER_GROUPS if g != "projection"}
    if getattr(model, "projection", None) is not None:
        counts["projection"] = 0
    counts["trainable"] = counts["total"] = 0
    for name, p in model.named_parameters():
        counts["total"] += p.numel()
        if not p.requires_grad:
            continue
        counts["trainable"] += p.numel()
        group = "lora" if "lora_" in name else owner.get(id(p))
        if group is not None:
            counts[group] += p.numel()
    return counts


def format_trainable_parameters(counts: dict[str, int]) -> str:
    """A small table of :func:`trainable_parameters`, ending with peft's one-line summary.

    Example:
        >>> counts = {"lora": 10, "gate": 2, "trainable": 12, "total": 100}
        >>> print(format_trainable_parameters(counts))
        lora          10
        gate           2
        trainable params: 12 || all params: 100 || trainable%: 12.0000
    """
    groups = {k: v for k, v in counts.items() if k not in ("trainable", "total")}
    width = max([len(f"{v:,}") for v in counts.values()] + [1])
    lines = [f"{k:<12} {v:>{width},}" for k, v in groups.items()]
    pct = 100 * counts["trainable"] / max(counts["total"], 1)
    lines.append(
        f"trainable params: {counts['trainable']:,} || all params: {counts['total']:,} "
        f"|| trainable%: {pct:.4f}"
    )
    return "\n".join(lines)


def print_trainable_parameters(model: nn.Module) -> None:
    """Print :func:`format_trainable_parameters` of ``model`` (peft's method of that name)."""
    print(format_trainable_parameters(trainable_parameters(model)))
