"""Tests for gradient reversal and the speaker adversary (Mi et al., 2026, §2.3;
Ganin & Lempitsky, 2015)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from xlser.adversarial import (
    ADV_WEIGHT_MODES,
    GradientReversal,
    SpeakerAdversary,
    adversarial_terms,
    dann_coeff,
    grad_reverse,
)


@pytest.mark.parametrize("coeff", [0.0, 0.3, 1.0, 2.5])
def test_grad_reverse_forward_identity_and_backward(coeff):
    x = torch.randn(4, 5, requires_grad=True)
    y = grad_reverse(x, coeff)
    assert torch.equal(y, x)
    upstream = torch.randn(4, 5)
    y.backward(upstream)
    assert torch.allclose(x.grad, -coeff * upstream)


def test_grad_reverse_inside_a_graph_matches_chain_rule():
    # d/dx sum(GRL(x^2) * 3) = -coeff * 3 * 2x
    x = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    (grad_reverse(x**2, 0.7) * 3).sum().backward()
    assert torch.allclose(x.grad, -0.7 * 3 * 2 * x.detach())


def test_gradient_reversal_module_coeff_is_settable():
    grl = GradientReversal()
    assert grl.coeff == 1.0
    grl.coeff = 0.25
    x = torch.ones(2, 3, requires_grad=True)
    grl(x).sum().backward()
    assert torch.equal(x.grad, torch.full((2, 3), -0.25))
    assert "coeff=0.25" in repr(grl)


def test_speaker_adversary_layers_and_shape():
    adv = SpeakerAdversary(dim=12, n_speakers=7, hidden=5, dropout=0.2, grl_coeff=0.5)
    kinds = [type(m) for m in adv.net]
    assert kinds == [GradientReversal, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert (adv.net[1].in_features, adv.net[1].out_features) == (12, 5)
    assert (adv.net[4].in_features, adv.net[4].out_features) == (5, 7)
    assert adv.net[3].p == 0.2
    assert adv.grl_coeff == 0.5
    adv.grl_coeff = 0.1
    assert adv.net[0].coeff == 0.1
    assert adv(torch.randn(3, 12)).shape == (3, 7)


def test_defaults_match_spec():
    adv = SpeakerAdversary(dim=768, n_speakers=288)
    assert adv.net[1].out_features == 256 and adv.net[3].p == 0.1 and adv.grl_coeff == 1.0


@pytest.mark.parametrize("coeff", [1.0, 0.3])
def test_encoder_gradient_is_reversed_head_gradient_is_not(coeff):
    torch.manual_seed(0)
    adv = SpeakerAdversary(dim=6, n_speakers=4, hidden=8, grl_coeff=coeff).eval()
    speakers = torch.tensor([0, 1, 2, 3, 1])
    e = torch.randn(5, 6)

    e_grl = e.clone().requires_grad_()
    F.cross_entropy(adv(e_grl), speakers).backward()
    head_grads_grl = [p.grad.clone() for p in adv.parameters()]
    adv.zero_grad()

    e_plain = e.clone().requires_grad_()
    F.cross_entropy(adv.net[1:](e_plain), speakers).backward()  # same head, no GRL
    head_grads_plain = [p.grad.clone() for p in adv.parameters()]

    assert e_plain.grad.abs().sum() > 0
    assert torch.allclose(e_grl.grad, -coeff * e_plain.grad, atol=1e-7)
    for a, b in zip(head_grads_grl, head_grads_plain):
        assert torch.allclose(a, b)


def test_dann_coeff():
    assert dann_coeff(0.0) == 0.0
    assert dann_coeff(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert 0.9999 < dann_coeff(1.0) < 1.0
    assert dann_coeff(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    values = [dann_coeff(p / 20) for p in range(21)]
    assert all(a < b for a, b in zip(values, values[1:]))
    assert dann_coeff(-1.0) == 0.0 and dann_coeff(2.0) == dann_coeff(1.0)  # clipped
    assert dann_coeff(0.1, gamma=1.0) == pytest.approx(2 / (1 + math.exp(-0.1)) - 1)


def test_adversarial_terms_modes():
    assert ADV_WEIGHT_MODES == ("loss", "grl")
    loss_weight, grl_coeff = adversarial_terms("loss", 0.3)
    assert (loss_weight, grl_coeff) == (0.3, 1.0)
    assert tuple(adversarial_terms("grl", 0.3)) == (1.0, 0.3)
    assert tuple(adversarial_terms("loss", 0.3, schedule=0.5)) == (0.3, 0.5)
    terms = adversarial_terms("grl", 0.3, schedule=0.5)
    assert terms.loss_weight == 1.0 and terms.grl_coeff == pytest.approx(0.15)
    with pytest.raises(ValueError, match="'loss', 'grl'"):
        adversarial_terms("both", 0.3)


def test_modes_give_same_encoder_gradient_different_head_gradient():
    # (a) w * L_adv with γ=1 and (b) L_adv with γ=w give the same encoder gradient;
    # only (a) scales the head's own gradient by w.
    torch.manual_seed(1)
    e = torch.randn(5, 6)
    speakers = torch.tensor([0, 1, 2, 0, 1])
    grads = {}
    for mode in ADV_WEIGHT_MODES:
        torch.manual_seed(2)
        adv = SpeakerAdversary(6, 3, hidden=4, dropout=0.0)
        weight, adv.grl_coeff = adversarial_terms(mode, 0.3)
        x = e.clone().requires_grad_()
        (weight * F.cross_entropy(adv(x), speakers)).backward()
        grads[mode] = (x.grad, adv.net[4].weight.grad)
    assert torch.allclose(grads["loss"][0], grads["grl"][0], atol=1e-7)
    assert torch.allclose(grads["loss"][1], 0.3 * grads["grl"][1], atol=1e-7)
