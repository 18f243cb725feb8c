"""Speed of the vectorised language-aware SupCon loss against a per-anchor loop written from eq. 8.

Prints the loop/vectorised time ratio (forward + backward) for the paper's batch (36) and larger ones,
measured in this run. Usage: ``.venv/bin/python bench/supcon.py``
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from xlser.losses import language_aware_supcon


def loop_supcon(e, y, lang, tau=0.07, lam=2.5):
    """Eq. 8 anchor by anchor (count normalisation, mean over anchors with positives)."""
    z = F.normalize(e, dim=1)
    total, n = e.new_zeros(()), 0
    for i in range(len(z)):
        others = [a for a in range(len(z)) if a != i]
        denom = torch.logsumexp(torch.stack([z[i] @ z[a] / tau for a in others]), 0)
        pos = [p for p in others if y[p] == y[i]]
        if not pos:
            continue
        w = [lam if lang[p] != lang[i] else 1.0 for p in pos]
        total = total - sum(wp * (z[i] @ z[p] / tau - denom) for wp, p in zip(w, pos)) / len(pos)
        n += 1
    return total / max(n, 1)


def timeit(fn, reps):
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def main() -> None:
    torch.manual_seed(0)
    print(f"{'batch':>6} {'vectorised ms':>14} {'loop ms':>10} {'ratio':>7}  max |diff|")
    for b in (36, 72, 144):
        e = torch.randn(b, 768, requires_grad=True)
        y, lang = torch.randint(0, 4, (b,)), torch.randint(0, 3, (b,))

        def vec(e=e, y=y, lang=lang):
            language_aware_supcon(e, y, lang).backward()

        def loop(e=e, y=y, lang=lang):
            loop_supcon(e, y, lang).backward()

        tv, tl = timeit(vec, 20), timeit(loop, 2)
        diff = (language_aware_supcon(e, y, lang) - loop_supcon(e, y, lang)).abs().item()
        print(f"{b:>6} {1e3 * tv:>14.2f} {1e3 * tl:>10.1f} {tl / tv:>7.0f}x  {diff:.1e}")


if __name__ == "__main__":
    main()
