"""SERModel: padding-aware pooling, heads, attention-mask policy, GRL coefficient, gradients."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from transformers import Wav2Vec2Model

from xlser.adapters import apply_peft, trainable_parameters
from xlser.config import ExperimentConfig, ModelConfig, PeftConfig
from xlser.encoder import load_encoder, tiny_wav2vec2_config
from xlser.model import SERModel, SEROutput, build_model, frame_mask, masked_mean


def smoke_cfg(**overrides) -> ExperimentConfig:
    return ExperimentConfig.from_profile("smoke", **overrides)


def padded_batch(lengths: list[int], seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    waves = [torch.randn(n, generator=g) for n in lengths]
    batch = torch.zeros(len(waves), max(lengths))
    for i, w in enumerate(waves):
        batch[i, : len(w)] = w
    return waves, batch


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_masked_mean_equals_unpadded_row_means(dtype):
    torch.manual_seed(0)
    lengths = torch.tensor([7, 1, 5, 7])
    hidden = torch.randn(4, 7, 3, dtype=dtype) * 10
    mask = torch.arange(7)[None] < lengths[:, None]
    hidden[~mask] = 1e6  # garbage in padded frames must not leak
    pooled = masked_mean(hidden, mask)
    assert pooled.shape == (4, 3) and pooled.dtype == dtype
    expected = torch.stack([hidden[i, :n].mean(0) for i, n in enumerate(lengths.tolist())])
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(pooled, expected, rtol=0, atol=tol)


def test_masked_mean_accumulates_in_float32():
    h = torch.randn(2, 5, 4).to(torch.bfloat16)
    out = masked_mean(h, torch.ones(2, 5, dtype=torch.bool))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, h.float().mean(1))


def test_frame_mask_counts_match_unpadded_forward():
    enc, _ = load_encoder(ModelConfig(encoder="tiny"), "en")
    lengths = torch.tensor([400, 719, 720, 16000, 12345])
    mask = frame_mask(enc, lengths, n_frames=60)
    with torch.no_grad():
        for n, row in zip(lengths.tolist(), mask):
            frames = enc.eval()(torch.randn(1, n)).last_hidden_state.shape[1]
            assert row.sum().item() == frames and row[:frames].all()
    with pytest.raises(ValueError, match="receptive field"):
        frame_mask(enc, torch.tensor([399, 1000]), n_frames=3)


def layer_norm_model(peft: bool) -> SERModel:
    """A tiny encoder whose padded and unpadded outputs agree: layer-norm CNN + attention mask."""
    torch.manual_seed(0)
    cfg = ModelConfig(
        encoder="tiny",
        tiny_feat_extract_norm="layer",
        tiny_stable_layer_norm=True,
        spec_augment=False,
    )
    enc, info = load_encoder(cfg, "en")
    if peft:
        apply_peft(enc, PeftConfig())
        for p in enc.parameters():  # non-zero LoRA B so every PEFT piece acts
            if p.requires_grad:
                p.data.normal_(0, 0.1)
    return SERModel(enc, n_speakers=3, use_attention_mask=True, info=info).eval()


@pytest.mark.parametrize("peft", [False, True], ids=["plain", "peft"])
def test_padded_batch_equals_per_utterance_forward(peft):
    model = layer_norm_model(peft)
    lengths = [16000, 9001, 4000, 3200]
    waves, batch = padded_batch(lengths)
    with torch.no_grad():
        out = model(batch, torch.tensor(lengths))
        single = torch.cat([model(w[None], torch.tensor([len(w)])).embeddings for w in waves])
    # Exact up to float reassociation (padded frames are masked and zeroed before the pos conv).
    torch.testing.assert_close(out.embeddings, single, rtol=1e-4, atol=1e-5)


def test_group_norm_pools_exactly_the_valid_frames():
    """wav2vec2-base style (group norm, no mask): padding changes the CNN output slightly (HF docs),
    so compare pooling given the same hidden states, and the unpadded longest row end to end."""
    torch.manual_seed(0)
    model = build_model(smoke_cfg(**{"model.spec_augment": False}), n_speakers=0).eval()
    assert model.use_attention_mask is False
    lengths = [8000, 5000, 1000]
    waves, batch = padded_batch(lengths, seed=1)
    with torch.no_grad():
        out = model(batch, torch.tensor(lengths))
        hidden = model.encoder(batch).last_hidden_state
        mask = frame_mask(model.encoder, torch.tensor(lengths), hidden.shape[1])
        torch.testing.assert_close(out.embeddings, masked_mean(hidden, mask), rtol=0, atol=0)
        assert mask.sum(1).tolist() == [24, 15, 2]
        longest = model(waves[0][None], torch.tensor([8000])).embeddings
    torch.testing.assert_close(out.embeddings[0], longest[0], rtol=1e-4, atol=1e-5)


def test_per_utterance_batching_is_exact_for_group_norm():
    """``model.batching=per_utterance`` (Han et al.'s one-utterance forward): each row of a
    padded batch gets exactly the embedding of its unpadded forward, which plain padding does not."""
    torch.manual_seed(0)
    cfg = smoke_cfg(**{"model.spec_augment": False, "model.batching": "per_utterance"})
    model = build_model(cfg, n_speakers=0).eval()
    lengths = [8000, 5000, 1000]
    waves, batch = padded_batch(lengths, seed=2)
    with torch.no_grad():
        out = model(batch, torch.tensor(lengths))
        single = torch.cat([model(w[None]).embeddings for w in waves])
        model.per_utterance = False
        padded = model(batch, torch.tensor(lengths)).embeddings
    torch.testing.assert_close(out.embeddings, single, rtol=0, atol=0)
    assert not torch.allclose(padded[2], single[2], atol=1e-4)  # padding leaks into group norm


def test_forward_shapes_and_optional_heads():
    torch.manual_seed(0)
    x, lengths = torch.randn(3, 4000), torch.tensor([4000, 3000, 2000])
    model = build_model(smoke_cfg(**{"model.projection_dim": 16}), n_speakers=7).eval()
    out = model(x, lengths)
    assert isinstance(out, SEROutput)
    assert out.embeddings.shape == (3, 64) and out.emotion_logits.shape == (3, 4)
    assert out.speaker_logits.shape == (3, 7) and out.projections.shape == (3, 16)
    bare = build_model(smoke_cfg(), n_speakers=0).eval()
    out = bare(x)  # lengths=None: no padding
    assert out.speaker_logits is None and out.projections is None and bare.speaker_head is None
    bare.set_grl_coeff(0.5)  # no-op without a speaker head


def test_head_parameter_counts():
    linear = trainable_parameters(build_model(smoke_cfg(), n_speakers=10))
    assert linear["emotion_head"] == 64 * 4 + 4
    assert linear["speaker_head"] == 64 * 256 + 256 + 256 * 10 + 10
    assert "projection" not in linear
    mlp = trainable_parameters(
        build_model(smoke_cfg(**{"model.classifier_type": "han_mlp", "model.projection_dim": 8}), 0)
    )
    assert mlp["emotion_head"] == (64 * 128 + 128) + (128 * 16 + 16) + (16 * 4 + 4)
    assert mlp["speaker_head"] == 0
    assert mlp["projection"] == (64 * 64 + 64) + (64 * 8 + 8)
    groups = ("lora", "adapter", "gate", "emotion_head", "speaker_head", "projection")
    assert mlp["trainable"] == sum(mlp[k] for k in groups)


def test_attention_mask_policy(tmp_path):
    assert build_model(smoke_cfg(), 0).use_attention_mask is False  # auto, base-like checkpoint
    assert build_model(smoke_cfg(**{"model.attention_mask": "always"}), 0).use_attention_mask
    Wav2Vec2Model(tiny_wav2vec2_config(ModelConfig())).save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"return_attention_mask": True}))
    cfg = smoke_cfg(
        task="zh-de", **{"model.encoder": "auto", "model.checkpoints": {"zh": str(tmp_path)}}
    )
    model = build_model(cfg, 0)
    assert model.info.name == str(tmp_path) and model.use_attention_mask is True
    cfg.model.attention_mask = "never"
    assert build_model(cfg, 0).use_attention_mask is False


def test_attention_mask_reaches_encoder_only_when_enabled(monkeypatch):
    model = build_model(smoke_cfg(), 0).eval()
    seen = []
    original = model.encoder.forward
    monkeypatch.setattr(
        model.encoder,
        "forward",
        lambda x, attention_mask=None: seen.append(attention_mask) or original(x),
    )
    lengths = torch.tensor([4000, 2500])
    model(torch.randn(2, 4000), lengths)
    model.use_attention_mask = True
    model(torch.randn(2, 4000), lengths)
    assert seen[0] is None
    assert seen[1].sum(1).tolist() == [4000, 2500]


def test_grl_coefficient_and_modes():
    model = build_model(smoke_cfg(), n_speakers=4)
    assert model.speaker_head.grl_coeff == 1.0  # adv_weight_mode "loss": GRL 1, w_adv on the loss
    grl_mode = build_model(smoke_cfg(**{"loss.adv_weight_mode": "grl"}), n_speakers=4)
    assert grl_mode.speaker_head.grl_coeff == pytest.approx(0.3)

    e = torch.randn(5, 64, requires_grad=True)
    speakers = torch.tensor([0, 1, 2, 3, 0])
    grads = []
    for coeff in (1.0, 0.25):
        model.set_grl_coeff(coeff)
        model.speaker_head.eval()
        (g,) = torch.autograd.grad(F.cross_entropy(model.speaker_head(e), speakers), e)
        grads.append(g)
    assert model.speaker_head.grl_coeff == 0.25
    torch.testing.assert_close(grads[1], 0.25 * grads[0])


def test_backward_reaches_peft_and_heads_only():
    torch.manual_seed(0)
    cfg = smoke_cfg(**{"model.projection_dim": 8, "model.layerdrop": 0.0})  # no skipped layers
    model = build_model(cfg, n_speakers=4).train()
    out = model(torch.randn(4, 6000), torch.tensor([6000, 5000, 4000, 3000]))
    loss = F.cross_entropy(out.emotion_logits, torch.tensor([0, 1, 2, 3]))
    loss = loss + 0.3 * F.cross_entropy(out.speaker_logits, torch.tensor([0, 1, 2, 3]))
    loss = loss + out.projections.pow(2).mean()
    loss.backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n.split(".")[0] for n in trainable} == {
        "encoder",
        "emotion_head",
        "speaker_head",
        "projection",
    }
    for name, p in model.named_parameters():
        assert (p.grad is not None) is (name in trainable), name
    assert model.encoder.encoder.layers[0].gate.g.grad.abs().sum() > 0
