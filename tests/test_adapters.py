"""PEFT wiring: the registry, exact counts, freezing, identity at init, placement in both layer
flavours."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math

import pytest
import torch
from transformers import Wav2Vec2Model

from xlser.adapters import (
    PARAMETER_GROUPS,
    PEFT_METHODS,
    BottleneckAdapter,
    UnregisteredParameterError,
    WeightGate,
    apply_peft,
    format_trainable_parameters,
    parameter_group,
    trainable_parameters,
)
from xlser.config import LORA_TARGETS, ModelConfig, PeftConfig
from xlser.encoder import load_encoder
from xlser.registry import UnknownNameError

TINY = ModelConfig(encoder="tiny")
TINY_PRE_LN = ModelConfig(
    encoder="tiny", tiny_stable_layer_norm=True, tiny_feat_extract_norm="layer"
)


def expected_counts(d: int, inter: int, layers: int, cfg: PeftConfig) -> dict[str, int]:
    """Hand formulas: LoRA r*(d_in + d_out) per target; adapter two Linear; gate d per layer."""
    shapes = {
        "attention.q_proj": (d, d),
        "attention.k_proj": (d, d),
        "attention.v_proj": (d, d),
        "attention.out_proj": (d, d),
        "feed_forward.intermediate_dense": (d, inter),
        "feed_forward.output_dense": (inter, d),
    }
    b = cfg.adapter_dim
    lora = layers * sum(cfg.lora_r * sum(shapes[t]) for t in cfg.lora_targets)
    adapter = layers * ((d * b + b) + (b * d + d))
    return {
        "lora": lora if cfg.lora else 0,
        "adapter": adapter if cfg.adapter else 0,
        "gate": layers * d if cfg.weight_gate else 0,
    }


def tiny(model_cfg: ModelConfig = TINY, seed: int = 0) -> Wav2Vec2Model:
    torch.manual_seed(seed)
    return load_encoder(model_cfg, "en")[0].eval()


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def base_peft():
    """wav2vec2-base architecture (Wav2Vec2Config() defaults, random weights) with default PEFT."""
    torch.manual_seed(0)
    encoder, info = load_encoder(
        ModelConfig(encoder="facebook/wav2vec2-base", random_init=True), "en"
    )
    assert (info.hidden_size, info.num_layers) == (768, 12)
    n_base = n_params(encoder)
    return apply_peft(encoder, PeftConfig()), n_base


def test_base_exact_counts(base_peft):
    encoder, n_base = base_peft
    counts = trainable_parameters(encoder)
    exp = expected_counts(768, 3072, 12, PeftConfig())
    assert exp == {"lora": 12 * (4 * 8 * 1536 + 2 * 8 * 3840), "adapter": 12 * 74544, "gate": 9216}
    assert {k: counts[k] for k in exp} == exp == {"lora": 1327104, "adapter": 894528, "gate": 9216}
    assert counts["trainable"] == sum(exp.values()) == 2230848
    assert n_base == 94371712  # Wav2Vec2Model(Wav2Vec2Config()), incl. masked_spec_embed
    assert counts["total"] == n_base + counts["trainable"]


def test_base_everything_else_frozen(base_peft):
    encoder, _ = base_peft
    for name, p in encoder.named_parameters():
        peft_param = "lora_A" in name or "lora_B" in name or ".adapter." in name or ".gate." in name
        assert p.requires_grad is peft_param, name
    frozen = [
        encoder.feature_extractor,
        encoder.feature_projection,
        encoder.encoder.pos_conv_embed,
        encoder.encoder.layer_norm,
    ] + [m for m in encoder.modules() if isinstance(m, torch.nn.LayerNorm)]
    for module in frozen:
        assert not any(p.requires_grad for p in module.parameters())
    q = encoder.encoder.layers[3].attention.q_proj
    assert not q.base_layer.weight.requires_grad and not q.base_layer.bias.requires_grad


def test_lora_is_peft_library_layer_and_scaled(base_peft):
    encoder, _ = base_peft
    from peft.tuners.lora import LoraLayer

    assert isinstance(encoder, Wav2Vec2Model)
    lora_layers = [m for m in encoder.modules() if isinstance(m, LoraLayer)]
    assert len(lora_layers) == 6 * 12
    assert all(m.scaling["default"] == 2.0 for m in lora_layers)  # alpha 16 / r 8
    assert all(torch.count_nonzero(m.lora_B["default"].weight) == 0 for m in lora_layers)


SWITCHES = list(itertools.product([True, False], repeat=3))


@pytest.mark.parametrize(("lora", "adapter", "gate"), SWITCHES)
def test_tiny_counts_and_switches(lora, adapter, gate):
    cfg = PeftConfig(lora=lora, adapter=adapter, weight_gate=gate)
    encoder = apply_peft(tiny(), cfg)
    counts = trainable_parameters(encoder)
    exp = expected_counts(64, 256, 2, cfg)
    assert {k: counts[k] for k in exp} == exp
    assert counts["trainable"] == sum(exp.values())
    assert any("lora_" in n for n, _ in encoder.named_parameters()) is lora
    assert any(isinstance(m, BottleneckAdapter) for m in encoder.modules()) is adapter
    assert any(isinstance(m, WeightGate) for m in encoder.modules()) is gate


def test_lashkarashvili_lora_targets_and_truncation():
    cfg = PeftConfig(lora_targets=list(LORA_TARGETS[:4]), adapter_dim=16)
    encoder = apply_peft(
        tiny(ModelConfig(encoder="tiny", tiny_layers=3, num_encoder_layers=2)), cfg
    )
    counts = trainable_parameters(encoder)
    assert counts["lora"] == 2 * 4 * 8 * (64 + 64)
    assert counts["adapter"] == 2 * ((64 * 16 + 16) + (16 * 64 + 64))


def test_apply_twice_raises():
    encoder = apply_peft(tiny(), PeftConfig())
    with pytest.raises(RuntimeError, match="already"):
        apply_peft(encoder, PeftConfig())


def _out(encoder: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return encoder(x).last_hidden_state


@pytest.mark.parametrize("model_cfg", [TINY, TINY_PRE_LN], ids=["post_ln", "pre_ln"])
@pytest.mark.parametrize(
    "peft_cfg",
    [
        PeftConfig(adapter=False, weight_gate=False),  # LoRA B = 0
        PeftConfig(lora=False, adapter_zero_init=True, weight_gate=False),
        PeftConfig(adapter_zero_init=True, weight_gate=False),
    ],
    ids=["lora", "adapter_zero_init", "lora+adapter_zero_init"],
)
def test_identity_at_init(model_cfg, peft_cfg):
    base = tiny(model_cfg)
    peft_model = apply_peft(copy.deepcopy(base), peft_cfg).eval()
    x = torch.randn(2, 4000)
    torch.testing.assert_close(_out(peft_model, x), _out(base, x), rtol=0, atol=1e-6)


def test_default_adapter_init_changes_output():
    base = tiny()
    adapted = apply_peft(copy.deepcopy(base), PeftConfig(lora=False, weight_gate=False)).eval()
    x = torch.randn(1, 4000)
    assert not torch.allclose(_out(adapted, x), _out(base, x), atol=1e-4)


def _capture(module: torch.nn.Module, store: list, output: bool = False):
    if output:
        return module.register_forward_hook(lambda m, a, out: store.append(out[0].detach()))
    return module.register_forward_pre_hook(lambda m, a: store.append(a[0].detach()))


def test_gate_scales_layer_input_by_sigmoid_one():
    base = tiny()
    gated = apply_peft(copy.deepcopy(base), PeftConfig(lora=False, adapter=False)).eval()
    seen_base, seen_gated = [], []
    # In a post-LN layer the attention sees the (gated) layer input itself.
    _capture(base.encoder.layers[0].attention, seen_base)
    _capture(gated.encoder.layers[0].attention, seen_gated)
    x = torch.randn(2, 4000)
    _out(base, x), _out(gated, x)
    sig1 = 1 / (1 + math.exp(-1))
    torch.testing.assert_close(seen_gated[0], sig1 * seen_base[0])


def test_gate_at_layer_output():
    base = tiny()
    gated = apply_peft(
        copy.deepcopy(base), PeftConfig(lora=False, adapter=False, wg_position="layer_output")
    )
    seen_base, seen_gated = [], []
    _capture(base.encoder.layers[0], seen_base, output=True)
    # Registered after the gate hook, so this hook sees the gated output.
    _capture(gated.encoder.layers[0], seen_gated, output=True)
    x = torch.randn(2, 4000)
    _out(base, x), _out(gated.eval(), x)
    torch.testing.assert_close(seen_gated[0], torch.sigmoid(torch.tensor(1.0)) * seen_base[0])


def _reference_layer(layer: torch.nn.Module, h: torch.Tensor, pre_ln: bool) -> torch.Tensor:
    """Spec §5.2 by hand (eval mode): gate at input, LoRA layers, adapter on the FFN output."""
    ff = layer.feed_forward

    def ffn(x):
        return ff.output_dense(ff.intermediate_act_fn(ff.intermediate_dense(x)))

    h = torch.sigmoid(layer.gate.g) * h
    if pre_ln:  # h + MHSA(LN1 h); then h + f + BA(f), f = FFN(LN2 h)
        h = h + layer.attention(layer.layer_norm(h))[0]
        f = ffn(layer.final_layer_norm(h))
        return h + f + ff.adapter(f)
    h = layer.layer_norm(h + layer.attention(h)[0])  # post-LN: LN1(h + MHSA h)
    f = ffn(h)
    return layer.final_layer_norm(h + f + ff.adapter(f))  # LN2(h + f + BA(f))


@pytest.mark.parametrize("model_cfg", [TINY, TINY_PRE_LN], ids=["post_ln", "pre_ln"])
def test_placement_matches_spec_formula(model_cfg):
    encoder = apply_peft(tiny(model_cfg), PeftConfig()).eval()
    torch.manual_seed(3)
    for p in encoder.parameters():  # make every PEFT piece non-trivial
        if p.requires_grad:
            p.data.normal_(0, 0.2)
    layer = encoder.encoder.layers[1]
    h = torch.randn(2, 7, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            layer(h)[0], _reference_layer(layer, h, model_cfg is TINY_PRE_LN)
        )


@pytest.mark.parametrize("model_cfg", [TINY, TINY_PRE_LN], ids=["post_ln", "pre_ln"])
def test_gradients_reach_peft_params_only(model_cfg):
    no_layerdrop = dataclasses.replace(model_cfg, layerdrop=0.0)  # every layer must run
    encoder = apply_peft(tiny(no_layerdrop), PeftConfig()).train()
    x = torch.randn(2, 4000)
    out = encoder(x).last_hidden_state
    assert out.shape == (2, 12, 64)
    out.pow(2).mean().backward()
    for name, p in encoder.named_parameters():
        if not p.requires_grad:
            assert p.grad is None, name
            continue
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if "lora_A" not in name:  # A's gradient is B^T(...) = 0 while B = 0
            assert p.grad.abs().sum() > 0, name


def test_format_trainable_parameters():
    text = format_trainable_parameters(trainable_parameters(apply_peft(tiny(), PeftConfig())))
    assert text.splitlines()[0].split() == ["lora", "18,432"]
    assert "trainable params: 31,072 || all params:" in text


# ------------------------------------------------------------------------------ the registry

# Hand formulas per registered method for the tiny encoder (D = 64, FFN 256, 2 layers) and the
# default PeftConfig: LoRA r (d_in + d_out) per target, adapter two Linear layers, gate D per layer.
TINY_ALONE = {
    "lora": 2 * (4 * 8 * (64 + 64) + 8 * (64 + 256) + 8 * (256 + 64)),  # 18,432
    "adapter": 2 * ((64 * 48 + 48) + (48 * 64 + 64)),  # 12,512
    "gate": 2 * 64,  # 128
}


def alone(name: str) -> PeftConfig:
    """The default PeftConfig with every registered method but ``name`` switched off."""
    return PeftConfig(**{m.switch: m.name == name for m in PEFT_METHODS.values()})


def test_registry_covers_config_and_counts():
    assert list(PEFT_METHODS) == ["lora", "adapter", "gate"]
    assert set(TINY_ALONE) == set(PEFT_METHODS)  # a new method needs its formula here
    assert PARAMETER_GROUPS == ("lora", "adapter", "gate", "emotion_head", "speaker_head",
                                "projection")  # fmt: skip
    # every PeftConfig field is exactly one method's switch or option
    owned = [f for m in PEFT_METHODS.values() for f in (m.switch, *m.options)]
    assert sorted(owned) == sorted(f.name for f in dataclasses.fields(PeftConfig))
    assert TINY_ALONE == {"lora": 18432, "adapter": 12512, "gate": 128}


@pytest.mark.parametrize("name", list(PEFT_METHODS))
def test_each_method_alone_trains_only_its_parameters(name):
    encoder = apply_peft(tiny(), alone(name))
    method = PEFT_METHODS[name]
    trainable = {n for n, p in encoder.named_parameters() if p.requires_grad}
    owned = {n for n, _ in encoder.named_parameters() if method.owns(n)}
    assert trainable == owned and trainable
    assert all(parameter_group(n) == name for n in trainable)
    counts = trainable_parameters(encoder)
    assert counts[name] == counts["trainable"] == TINY_ALONE[name]
    assert all(counts[other] == 0 for other in PEFT_METHODS if other != name)


def test_unregistered_trainable_parameter_is_an_error():
    encoder = apply_peft(tiny(), PeftConfig())
    encoder.encoder.layers[1].prompt = torch.nn.Linear(4, 4)  # trainable, claimed by no method
    with pytest.raises(UnregisteredParameterError, match=r"'encoder.layers.1.prompt.weight'"):
        trainable_parameters(encoder)
    encoder.encoder.layers[1].prompt.requires_grad_(False)  # frozen: counted in total only
    assert trainable_parameters(encoder)["trainable"] == sum(TINY_ALONE.values())


def test_unknown_method_lists_registered():
    with pytest.raises(
        UnknownNameError, match="unknown PEFT method 'ia3'; registered: lora, adapter, gate"
    ):
        PEFT_METHODS["ia3"]
