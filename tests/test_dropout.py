"""xlser.dropout: cheap masks with dropout's distribution, gradients and attention semantics."""

import pytest
import torch
from torch import nn

from xlser.config import ExperimentConfig
from xlser.dropout import (
    ATTENTION_NAME,
    FastDropout,
    _uniform16,
    fast_attention,
    fast_dropout,
    keep_mask,
    use_fast_dropout,
)
from xlser.model import build_model


def test_uniform16_every_bit_is_fair():
    # the sign bit of each 16-bit quarter too (int64 random_ without from=min would fix it at 0)
    torch.manual_seed(0)
    u = _uniform16((400_000,), "cpu").view(-1, 4)
    frac_negative = (u < 0).double().mean(0)
    assert torch.allclose(frac_negative, torch.full((4,), 0.5, dtype=torch.float64), atol=0.005)
    for bit in range(16):  # each bit of the 16 is on half the time (4 sigma = 0.0032)
        on = ((u.to(torch.int32) >> bit) & 1).double().mean()
        assert abs(float(on) - 0.5) < 0.004, bit


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_mask_rate(p):
    torch.manual_seed(1)
    m = keep_mask((500_000,), p)
    kept = m.double().mean().item()
    expected = 1 - round(p * 65536) / 65536
    sd = (expected * (1 - expected) / 500_000) ** 0.5
    assert abs(kept - expected) < 5 * sd


def test_fast_dropout_is_unbiased_and_its_gradient_is_the_scaled_mask():
    torch.manual_seed(2)
    x = torch.full((300_000,), 3.0, requires_grad=True)
    y = fast_dropout(x, 0.1)
    kept = y != 0
    scale = 65536 / (65536 - round(0.1 * 65536))  # exact inverse of the rounded keep rate
    assert torch.allclose(y[kept], torch.tensor(3.0 * scale))
    assert abs(y.mean().item() - 3.0) < 3.0 * 5 * (0.1 / 0.9 / 300_000) ** 0.5
    y.sum().backward()
    assert torch.equal(x.grad, kept.float() * scale)  # d y / d x = mask / keep


def test_fast_dropout_identity_when_off_and_reproducible():
    x = torch.randn(4, 5)
    assert fast_dropout(x, 0.3, training=False) is x
    assert fast_dropout(x, 0.0) is x
    assert torch.equal(fast_dropout(x, 1.0), torch.zeros_like(x))
    torch.manual_seed(3)
    a = fast_dropout(x, 0.3)
    torch.manual_seed(3)
    assert torch.equal(a, fast_dropout(x, 0.3))


def test_fast_dropout_rejects_bad_p():
    with pytest.raises(ValueError, match="probability"):
        fast_dropout(torch.ones(3), 1.5)


def _qkv(seed=0, B=2, H=3, T=5, d=4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, H, T, d, generator=g) for _ in range(3)]


def test_fast_attention_without_dropout_equals_softmax_attention():
    q, k, v = _qkv()
    mask = torch.zeros(2, 1, 5, 5)
    mask[1, :, :, 3:] = torch.finfo(torch.float32).min  # second item: two padded keys
    module = nn.Module().eval()
    module.is_causal = False
    out, _ = fast_attention(module, q, k, v, mask, scaling=0.5, dropout=0.1)
    w = torch.softmax(q @ k.transpose(2, 3) * 0.5 + mask, -1)
    assert torch.allclose(out, (w @ v).transpose(1, 2), atol=1e-5)


def test_fast_attention_dropout_uses_one_mask_on_the_probabilities():
    q, k, v = _qkv(1)
    module = nn.Module().train()
    torch.manual_seed(5)
    out, weights = fast_attention(module, q, k, v, None, scaling=0.5, dropout=0.25)
    torch.manual_seed(5)
    keep = keep_mask((2, 3, 5, 5), 0.25)
    w = torch.softmax(q @ k.transpose(2, 3) * 0.5, -1) * keep / (1 - 16384 / 65536)
    assert torch.allclose(weights, w, atol=1e-6)
    assert torch.allclose(out, (w @ v).transpose(1, 2), atol=1e-5)


def test_use_fast_dropout_swaps_every_dropout_and_the_attention():
    model = build_model(ExperimentConfig.from_profile("smoke"), n_speakers=3)
    n_dropout = sum(type(m) is nn.Dropout for m in model.modules())
    assert n_dropout > 0
    changed = use_fast_dropout(model)
    assert changed == n_dropout + 1  # + the encoder's attention function
    assert not any(type(m) is nn.Dropout for m in model.modules())
    assert sum(isinstance(m, FastDropout) for m in model.modules()) == n_dropout
    assert model.encoder.config._attn_implementation == ATTENTION_NAME
    # in eval mode nothing is random: outputs equal the unchanged model's
    ref = build_model(ExperimentConfig.from_profile("smoke"), n_speakers=3)
    ref.load_state_dict(model.state_dict())
    x = torch.randn(2, 8000)
    with torch.no_grad():
        a, b = model.eval()(x).embeddings, ref.eval()(x).embeddings
    assert torch.allclose(a, b, atol=1e-5)
