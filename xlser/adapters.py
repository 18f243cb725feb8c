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
feature projection, positional conv, all LayerNorms, all base weights) and adds every method of the
registry :data:`PEFT_METHODS` that the config switches on, so trainable are exactly the LoRA
``A``/``B`` matrices, the adapters and the gates. :func:`trainable_parameters` groups parameters by
the same registry; a trainable encoder parameter that no registered method claims is an error.

**How to add a PEFT method.** Write ``add_<method>(encoder, ...)`` here, which attaches the method
to every layer of the frozen encoder (as a module registered inside the HF modules, applied by a
forward hook, or through ``peft``); give :class:`xlser.config.PeftConfig` a switch field and the
fields of its sizes (each with a docstring: ``python -m xlser config`` shows them); and add one
:class:`PeftMethod` line to :data:`PEFT_METHODS`: its group name, an ``add(encoder, cfg)``
function, the name prefix(es) of its parameters (a dotted part of the parameter name starts with
one, e.g. ``lora_`` in ``...q_proj.lora_A.default.weight``) and its config fields. Counting,
``python -m xlser summary`` and the registry-parametrised tests in ``tests/test_adapters.py``
(only its parameters train when it is alone; give the test its hand-computed count) then cover it.

>>> from xlser.config import ModelConfig, PeftConfig
>>> from xlser.encoder import load_encoder
>>> encoder, _ = load_encoder(ModelConfig(encoder="tiny"), "en")
>>> encoder = apply_peft(encoder, PeftConfig())
>>> counts = trainable_parameters(encoder)
>>> counts["lora"], counts["adapter"], counts["gate"], counts["trainable"]
(18432, 12512, 128, 31072)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from xlser.config import WG_POSITIONS, ConfigError, PeftConfig
from xlser.encoder import layer_flavour
from xlser.registry import Registry

__all__ = [
    "HEAD_GROUPS",
    "PARAMETER_GROUPS",
    "PEFT_METHODS",
    "BottleneckAdapter",
    "PeftMethod",
    "UnregisteredParameterError",
    "WeightGate",
    "add_bottleneck_adapters",
    "add_lora",
    "add_weight_gates",
    "apply_peft",
    "encoder_layers",
    "format_trainable_parameters",
    "parameter_group",
    "print_trainable_parameters",
    "trainable_parameters",
]

HEAD_GROUPS: tuple[str, ...] = ("emotion_head", "speaker_head", "projection")
"""Top-level modules of ``SERModel`` counted as groups of their own (not PEFT methods)."""


class UnregisteredParameterError(RuntimeError):
    """A trainable parameter that no registered PEFT method (and no head) claims: a wiring bug."""


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
    if position not in WG_POSITIONS:
        raise ConfigError(f"peft.wg_position must be one of {list(WG_POSITIONS)}, got {position!r}")
    dim = encoder.config.hidden_size
    for layer in encoder_layers(encoder):
        layer.gate = WeightGate(dim, init).to(layer.final_layer_norm.weight.device)
        if position == "layer_input":
            layer.register_forward_pre_hook(_gate_layer_input, with_kwargs=True)
        else:
            layer.register_forward_hook(_gate_layer_output)
    return encoder


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class PeftMethod:
    """One entry of :data:`PEFT_METHODS`: how a method is added and how its parameters are named."""

    name: str
    """Its group in :func:`trainable_parameters` and ``python -m xlser summary``."""
    add: Callable[[nn.Module, PeftConfig], Any] = field(repr=False)
    """``add(encoder, cfg)``: attach the method to every layer of a frozen encoder, in place."""
    prefixes: tuple[str, ...]
    """The method owns a parameter when a dotted part of its name starts with one of these."""
    switch: str
    """The :class:`~xlser.config.PeftConfig` field that turns the method on."""
    options: tuple[str, ...]
    """The other :class:`~xlser.config.PeftConfig` fields the method reads (its sizes)."""

    def owns(self, name: str) -> bool:
        """Whether parameter ``name`` is one of this method's.

        >>> PEFT_METHODS["lora"].owns("encoder.layers.0.attention.q_proj.lora_A.default.weight")
        True
        >>> PEFT_METHODS["gate"].owns("encoder.layers.0.attention.q_proj.base_layer.weight")
        False
        """
        return any(part.startswith(self.prefixes) for part in name.split("."))


PEFT_METHODS: Registry[PeftMethod] = Registry(
    "PEFT method",
    {
        m.name: m
        for m in (
            PeftMethod(
                name="lora",
                add=add_lora,
                prefixes=("lora_",),
                switch="lora",
                options=("lora_r", "lora_alpha", "lora_dropout", "lora_targets"),
            ),
            PeftMethod(
                name="adapter",
                add=lambda enc, c: add_bottleneck_adapters(enc, c.adapter_dim, c.adapter_zero_init),
                prefixes=("adapter",),
                switch="adapter",
                options=("adapter_dim", "adapter_zero_init"),
            ),
            PeftMethod(
                name="gate",
                add=lambda enc, c: add_weight_gates(enc, c.wg_position, c.wg_init),
                prefixes=("gate",),
                switch="weight_gate",
                options=("wg_position", "wg_init"),
            ),
        )
    },
    where="the module docstring of xlser.adapters",
)
"""The PEFT methods, in the order :func:`apply_peft` adds them (Mi et al., 2026, §3.3)."""

PARAMETER_GROUPS: tuple[str, ...] = (*PEFT_METHODS, *HEAD_GROUPS)
"""Groups of :func:`trainable_parameters`: the registered PEFT methods, then the heads."""


def apply_peft(encoder: nn.Module, cfg: PeftConfig) -> nn.Module:
    """Freeze the encoder and add the PEFT methods that ``cfg`` switches on (Mi et al., 2026, §3.3).

    Frozen: the CNN feature encoder, feature projection, positional conv, all LayerNorms and all
    base weights (and ``masked_spec_embed``). Trainable: what the methods of :data:`PEFT_METHODS`
    add (LoRA ``A``/``B``, adapters, gates).

    Args:
        encoder: A ``Wav2Vec2Model`` (either layer flavour); modified in place.
        cfg: Which methods and their sizes.

    Returns:
        The same ``encoder`` object.
    """
    if getattr(encoder, "_xlser_peft", None) is not None:
        raise RuntimeError("apply_peft was already applied to this encoder")
    encoder.requires_grad_(False)
    for method in PEFT_METHODS.values():
        if getattr(cfg, method.switch):
            method.add(encoder, cfg)
    encoder._xlser_peft = cfg
    return encoder


# ----------------------------------------------------------------------------- counting


def parameter_group(name: str) -> str | None:
    """The group of parameter ``name``: a head of ``SERModel``, the PEFT method that owns it, or
    ``None`` (a base weight of the encoder).

    >>> parameter_group("encoder.encoder.layers.1.feed_forward.adapter.up.weight")
    'adapter'
    >>> parameter_group("emotion_head.weight"), parameter_group("encoder.masked_spec_embed")
    ('emotion_head', None)
    """
    top = name.split(".")[0]
    if top in HEAD_GROUPS:
        return top
    owners = [m.name for m in PEFT_METHODS.values() if m.owns(name)]
    if len(owners) > 1:
        raise UnregisteredParameterError(
            f"parameter {name!r} matches the prefixes of several PEFT methods {owners}; make the "
            "prefixes of PEFT_METHODS (xlser.adapters) distinct"
        )
    return owners[0] if owners else None


def trainable_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable parameter counts by group, in the style of peft's ``print_trainable_parameters``.

    Groups (trainable parameters only): one per method of :data:`PEFT_METHODS` (``lora``,
    ``adapter``, ``gate``; matched by parameter name), and the top-level modules ``emotion_head``,
    ``speaker_head`` and ``projection`` of an ``SERModel`` (``projection`` only when the model has
    one). ``trainable`` counts every trainable parameter, ``total`` every parameter.

    Args:
        model: An encoder after :func:`apply_peft`, or an ``SERModel``.

    Returns:
        ``{group: count, ..., "trainable": n, "total": n}``.

    Raises:
        UnregisteredParameterError: A trainable parameter that no registered method and no head
            claims (a method added without its :data:`PEFT_METHODS` line); the message names it.
    """
    counts = {g: 0 for g in PARAMETER_GROUPS if g != "projection"}
    if getattr(model, "projection", None) is not None:
        counts["projection"] = 0
    counts["trainable"] = counts["total"] = 0
    for name, p in model.named_parameters():
        counts["total"] += p.numel()
        if not p.requires_grad:
            continue
        group = parameter_group(name)
        if group is None:
            raise UnregisteredParameterError(
                f"trainable parameter {name!r} belongs to no registered PEFT method "
                f"({', '.join(PEFT_METHODS)}) and no head ({', '.join(HEAD_GROUPS)}); register "
                "the method that adds it in xlser.adapters.PEFT_METHODS, or freeze it"
            )
        counts[group] += p.numel()
        counts["trainable"] += p.numel()
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
