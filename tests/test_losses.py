"""Tests for the language-aware SupCon loss (Mi et al., 2026, §2.2, eq. 8)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from xlser.losses import LanguageAwareSupConLoss, language_aware_supcon, positive_weights


def reference_eq8(emb, emo, lang, tau, lam, pos_norm, anchor_reduce):
    """Plain per-anchor loop written directly from eq. 5-8, in Python floats."""
    z = [[float(v) for v in row] for row in emb]
    z = [[v / math.sqrt(sum(u * u for u in row)) for v in row] for row in z]
    emo, lang = emo.tolist(), lang.tolist()
    n = len(z)

    def sim(i, j):
        return sum(a * b for a, b in zip(z[i], z[j]))

    per_anchor = []
    for i in range(n):
        positives = [p for p in range(n) if p != i and emo[p] == emo[i]]
        if not positives:
            continue
        denom = sum(math.exp(sim(i, a) / tau) for a in range(n) if a != i)
        weights = {p: (lam if lang[p] != lang[i] else 1.0) for p in positives}
        total = sum(weights[p] * math.log(math.exp(sim(i, p) / tau) / denom) for p in positives)
        norm = len(positives) if pos_norm == "count" else sum(weights.values())
        per_anchor.append(-total / norm)
    if not per_anchor:
        return 0.0
    return sum(per_anchor) / (len(per_anchor) if anchor_reduce == "mean" else 1)


def standard_supcon_out(z, labels, tau):
    """Khosla et al. (2020) L_out, mean over anchors with positives (HobbitLong-style masks)."""
    z = torch.nn.functional.normalize(z, dim=1)
    n = z.shape[0]
    logits = z @ z.T / tau
    not_self = 1.0 - torch.eye(n, dtype=z.dtype)
    mask = (labels[:, None] == labels[None, :]).to(z.dtype) * not_self
    exp_logits = torch.exp(logits) * not_self
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    n_pos = mask.sum(1)
    keep = n_pos > 0
    mean_log_prob_pos = (mask * log_prob).sum(1)[keep] / n_pos[keep]
    return -mean_log_prob_pos.mean()


def random_batch(seed, n=10, dim=5, n_emo=3, n_lang=3):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(n, dim, generator=g, dtype=torch.float64)
    emo = torch.randint(0, n_emo, (n,), generator=g)
    emo[-1] = n_emo  # a singleton emotion: an anchor without positives
    lang = torch.randint(0, n_lang, (n,), generator=g)
    return emb, emo, lang


@pytest.mark.parametrize(
    "pos_norm,anchor_reduce,lam,tau",
    list(itertools.product(["count", "weight_sum"], ["mean", "sum"], [1.0, 2.5], [0.07, 0.5])),
)
def test_matches_per_anchor_loop(pos_norm, anchor_reduce, lam, tau):
    for seed in range(4):
        emb, emo, lang = random_batch(seed)
        got = language_aware_supcon(emb, emo, lang, tau, lam, pos_norm, anchor_reduce)
        want = reference_eq8(emb, emo, lang, tau, lam, pos_norm, anchor_reduce)
        assert got.dtype == torch.float64
        assert got.item() == pytest.approx(want, rel=1e-10, abs=1e-12)


def test_module_equals_functional():
    emb, emo, lang = random_batch(7)
    loss = LanguageAwareSupConLoss(0.2, 1.7, "weight_sum", "sum")
    want = language_aware_supcon(emb, emo, lang, 0.2, 1.7, "weight_sum", "sum")
    assert loss(emb, emo, lang).item() == want.item()
    assert "pos_norm='weight_sum'" in repr(loss)


def test_lambda_one_count_is_standard_supcon():
    for seed in range(3):
        emb, emo, lang = random_batch(seed, n=12)
        got = language_aware_supcon(emb, emo, lang, temperature=0.1, cross_lingual_pos_weight=1.0)
        assert got.item() == pytest.approx(standard_supcon_out(emb, emo, 0.1).item(), rel=1e-10)


def test_weight_sum_equals_count_when_all_weights_equal():
    emb, emo, lang = random_batch(3)
    kw = dict(temperature=0.3, cross_lingual_pos_weight=1.0)
    a = language_aware_supcon(emb, emo, lang, pos_norm="count", **kw)
    b = language_aware_supcon(emb, emo, lang, pos_norm="weight_sum", **kw)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    # one language only: every weight is 1 whatever λ is
    same = torch.zeros_like(lang)
    c = language_aware_supcon(emb, emo, same, 0.3, 2.5, pos_norm="count")
    d = language_aware_supcon(emb, emo, same, 0.3, 2.5, pos_norm="weight_sum")
    assert c.item() == pytest.approx(d.item(), rel=1e-12)


def test_hand_computed_value():
    # unit vectors: e0=(1,0), e1=(0,1), e2=(1,1)/√2, e3=(-1,0); cosines c01=0, c02=s, c03=-1,
    # c12=s, c13=0, c23=-s with s=1/√2. emotions [0,0,0,1] (anchor 3 has no positive),
    # languages [0,1,0,0]; τ=0.5, λ=2.5, pos_norm count, mean over anchors 0,1,2.
    emb = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-0.5, 0.0]])
    emo, lang = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 1, 0, 0])
    s = 1 / math.sqrt(2)
    z0 = 1 + math.exp(2 * s) + math.exp(-2)  # anchor 0: logits 0, 2s, -2
    z1 = 2 + math.exp(2 * s)  # anchor 1: logits 0, 2s, 0
    z2 = 2 * math.exp(2 * s) + math.exp(-2 * s)  # anchor 2: logits 2s, 2s, -2s
    l0 = -(2.5 * (0 - math.log(z0)) + 1.0 * (2 * s - math.log(z0))) / 2  # p=1 cross, p=2 same
    l1 = -(2.5 * (0 - math.log(z1)) + 2.5 * (2 * s - math.log(z1))) / 2  # both cross
    l2 = -(1.0 * (2 * s - math.log(z2)) + 2.5 * (2 * s - math.log(z2))) / 2  # p=0 same, p=1 cross
    want = (l0 + l1 + l2) / 3
    got = language_aware_supcon(emb, emo, lang, temperature=0.5, cross_lingual_pos_weight=2.5)
    assert got.item() == pytest.approx(want, rel=1e-6)
    assert want == pytest.approx(2.07223, abs=1e-5)  # (2.19431 + 2.75839 + 1.26399) / 3
    summed = language_aware_supcon(emb, emo, lang, 0.5, 2.5, anchor_reduce="sum")
    assert summed.item() == pytest.approx(l0 + l1 + l2, rel=1e-6)


def test_scale_invariance_fp32_and_bf16():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(36, 16, generator=g)
    emo = torch.arange(4).repeat_interleave(3).repeat(3)
    lang = torch.arange(3).repeat_interleave(12)
    base = language_aware_supcon(emb, emo, lang)
    big = language_aware_supcon(emb * 1e3, emo, lang)
    assert big.item() == pytest.approx(base.item(), rel=1e-5)
    emb_bf16 = (emb * 1e3).bfloat16().requires_grad_()
    low = language_aware_supcon(emb_bf16, emo, lang)
    assert torch.isfinite(low)
    assert low.item() == pytest.approx(base.item(), rel=2e-2)
    low.backward()
    assert emb_bf16.grad.dtype == torch.bfloat16
    assert torch.isfinite(emb_bf16.grad.float()).all()


def test_autocast_does_not_lower_the_similarity_precision():
    g = torch.Generator().manual_seed(1)
    emb = torch.randn(36, 16, generator=g)
    emo = torch.arange(4).repeat_interleave(3).repeat(3)
    lang = torch.arange(3).repeat_interleave(12)
    want = language_aware_supcon(emb, emo, lang)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = language_aware_supcon(emb, emo, lang)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(want.item(), rel=1e-6)


def test_low_temperature_is_finite():
    emb, emo, lang = random_batch(1)
    emb = emb.float().requires_grad_()
    loss = language_aware_supcon(emb, emo, lang, temperature=1e-3)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(emb.grad).all()


def test_no_positive_batch_is_exact_zero_with_grad():
    emb = torch.randn(4, 3, requires_grad=True)
    loss = language_aware_supcon(emb, torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 0, 1]))
    assert loss.item() == 0.0
    assert loss.requires_grad
    loss.backward()
    assert torch.equal(emb.grad, torch.zeros_like(emb))


def test_anchors_without_positives_are_excluded_from_mean():
    emb, emo, lang = random_batch(5)
    with_singleton = language_aware_supcon(emb, emo, lang, 0.5, 2.5, anchor_reduce="sum")
    mean = language_aware_supcon(emb, emo, lang, 0.5, 2.5, anchor_reduce="mean")
    n_anchors = sum(int((emo == e).sum()) for e in emo.unique() if (emo == e).sum() > 1)
    assert mean.item() == pytest.approx(with_singleton.item() / n_anchors, rel=1e-12)


def test_gradcheck_float64():
    emb, emo, lang = random_batch(2, n=6, dim=3, n_emo=2, n_lang=2)
    emb.requires_grad_()
    for pos_norm in ("count", "weight_sum"):
        assert torch.autograd.gradcheck(
            lambda e, pn=pos_norm: language_aware_supcon(e, emo, lang, 0.5, 2.5, pn), (emb,)
        )


def test_sampler_batch_structure_positives():
    # 3 languages x 4 emotions x 3 items, language-major as the sampler yields it
    lang = torch.arange(3).repeat_interleave(12)
    emo = torch.arange(4).repeat_interleave(3).repeat(3)
    w = positive_weights(emo, lang, 2.5)
    assert w.shape == (36, 36)
    assert torch.equal((w == 1.0).sum(1), torch.full((36,), 2))  # same-language positives
    assert torch.equal((w == 2.5).sum(1), torch.full((36,), 6))  # cross-lingual positives
    assert torch.equal((w > 0).sum(1), torch.full((36,), 8))
    assert torch.all(w.diagonal() == 0)
    # per anchor, "count" divides by 8 and "weight_sum" by 2 + 6 * 2.5 = 17
    emb = torch.randn(36, 8, dtype=torch.float64)
    c = language_aware_supcon(emb, emo, lang, 0.1, 2.5, "count", "sum")
    s = language_aware_supcon(emb, emo, lang, 0.1, 2.5, "weight_sum", "sum")
    assert c.item() == pytest.approx(s.item() * 17 / 8, rel=1e-10)


def test_argument_validation():
    with pytest.raises(ValueError, match="count.*weight_sum"):
        LanguageAwareSupConLoss(pos_norm="avg")
    with pytest.raises(ValueError, match="mean.*sum"):
        LanguageAwareSupConLoss(anchor_reduce="max")
    with pytest.raises(ValueError, match="temperature"):
        LanguageAwareSupConLoss(temperature=0.0)
    with pytest.raises(ValueError, match="cross_lingual_pos_weight"):
        LanguageAwareSupConLoss(cross_lingual_pos_weight=0.0)
    loss = LanguageAwareSupConLoss()
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5,\)"):
        loss(torch.randn(4, 3), torch.zeros(5, dtype=torch.long), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(4,\)"):
        loss(torch.randn(4), torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long))
