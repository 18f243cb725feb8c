"""Speed of the vectorised language-aware SupCon loss (eq. 8) against a per-anchor loop.

Forward + backward of :func:`xlser.losses.language_aware_supcon` vs a loop written anchor by anchor
from eq. 8, on random ``(B, 768)`` embeddings with 4 emotions and 3 languages, for the paper's batch
(36) and larger ones (up to 1024). The two are timed in turn, round by round, and the medians give the
ratio. At large ``B`` the loop is timed on a random subset of anchors and scaled to all ``B`` anchors
(each anchor costs the same ``B - 1`` similarities); the output says where. The target is a ratio of at
least 50 at ``B = 256``.

Clock and threads: one thread and process CPU time by default, as in ``bench/forward.py`` (on a
shared machine two threads' wall time measured the neighbours' load: up to 20x swings).

Usage: ``.venv/bin/python bench/supcon.py [--sizes 36 72 144 256 1024] [--repeats 3]``
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from _common import CLOCKS, emit, interleaved, median, setup

from xlser.losses import language_aware_supcon

TARGET_B, TARGET_RATIO = 256, 50.0


def loop_supcon(e, y, lang, tau=0.07, lam=2.5, anchors=None):
    """Eq. 8 anchor by anchor (count normalisation, mean over the anchors with positives).

    ``anchors`` restricts the sum to those anchor indices (all by default); each anchor still
    contrasts with all ``B - 1`` others.
    """
    z = F.normalize(e, dim=1)
    total, n = e.new_zeros(()), 0
    for i in range(len(z)) if anchors is None else anchors:
        others = [a for a in range(len(z)) if a != i]
        denom = torch.logsumexp(torch.stack([z[i] @ z[a] / tau for a in others]), 0)
        pos = [p for p in others if y[p] == y[i]]
        if not pos:
            continue
        w = [lam if lang[p] != lang[i] else 1.0 for p in pos]
        total = total - sum(wp * (z[i] @ z[p] / tau - denom) for wp, p in zip(w, pos)) / len(pos)
        n += 1
    return total / max(n, 1)


def row_loop_supcon(e, y, lang, tau=0.07, lam=2.5):
    """Eq. 8 with one loop over anchors, each anchor's row of similarities vectorised."""
    z = F.normalize(e, dim=1)  # (B, D)
    b = len(z)
    total, n = e.new_zeros(()), 0
    for i in range(b):
        others = torch.arange(b) != i  # (B,)
        logits = (z[i] @ z.T / tau)[others]  # (B - 1,)
        pos = (y[others] == y[i]).float()  # (B - 1,)
        if not pos.any():
            continue
        w = torch.where(lang[others] != lang[i], lam, 1.0) * pos  # (B - 1,)
        log_prob = logits - torch.logsumexp(logits, 0)  # (B - 1,)
        total = total - (w * log_prob).sum() / pos.sum()
        n += 1
    return total / max(n, 1)


def loop_anchors(b: int, cap: int) -> int:
    """Anchors the scalar loop is timed on: all up to 36, then fewer as each costs O(B^2)."""
    return min(b, max(4, cap // b))


def run_size(b: int, repeats: int, cap: int, inner: int, clock: str) -> dict:
    """Median seconds per forward + backward of the three versions at batch ``b``."""
    now = CLOCKS[clock]
    g = torch.Generator().manual_seed(b)
    e = torch.randn(b, 768, generator=g, requires_grad=True)
    y = torch.randint(0, 4, (b,), generator=g).tolist()
    lang = torch.randint(0, 3, (b,), generator=g).tolist()
    yt, lt = torch.tensor(y), torch.tensor(lang)
    n_anchors = loop_anchors(b, cap)
    anchors = torch.randperm(b, generator=g)[:n_anchors].tolist() if n_anchors < b else None

    def vec():
        per_call = []  # a few calls per round (one takes about a millisecond); their median
        for _ in range(inner):
            t = now()
            language_aware_supcon(e, yt, lt).backward()
            per_call.append(now() - t)
        return median(per_call) * inner

    def loop():
        t = now()
        loop_supcon(e, y, lang, anchors=anchors).backward()
        return (now() - t) * b / n_anchors  # scaled to all b anchors

    def rows():
        row_loop_supcon(e, yt, lt).backward()

    ways = {"loop": loop, "rows": rows, "vec": vec}
    times = interleaved(ways, repeats=repeats, warmup=1, clock=clock)
    t_vec = median(times["vec"]) / inner
    t_loop, t_rows = median(times["loop"]), median(times["rows"])
    diff = None
    if anchors is None:  # same value from both (only checkable on all anchors)
        with torch.no_grad():
            ref = language_aware_supcon(e, yt, lt)
            diff = max(
                (ref - loop_supcon(e, y, lang)).abs().item(),
                (ref - row_loop_supcon(e, yt, lt)).abs().item(),
            )
    return {
        "batch": b,
        "vectorised_ms": 1e3 * t_vec,
        "loop_ms": 1e3 * t_loop,
        "row_loop_ms": 1e3 * t_rows,
        "ratio": t_loop / t_vec,
        "ratio_vs_row_loop": t_rows / t_vec,
        "loop_anchors_timed": n_anchors,
        "max_abs_diff": diff,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[36, 72, 144, 256, 1024])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--loop-cap",
        type=int,
        default=4096,
        help="time the scalar loop on max(4, CAP // B) random anchors (all if fewer) and scale",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = ap.parse_args()
    setup(args.threads)
    print(
        f"language-aware SupCon, forward + backward, D = 768, {args.threads} thread(s), "
        f"{args.clock} clock"
    )
    print("  loop: scalar per-anchor loop of eq. 8; rows: one loop over anchors, rows vectorised")
    print(
        f"{'batch':>6} {'vectorised ms':>14} {'rows ms':>9} {'loop ms':>10} "
        f"{'loop/vec':>9} {'rows/vec':>9}  loop anchors timed"
    )
    rows = []
    for b in args.sizes:
        r = run_size(b, args.repeats, args.loop_cap, 20 if b <= 256 else 5, args.clock)
        rows.append(r)
        n = r["loop_anchors_timed"]
        how = (
            f"all {b} (max |diff| {r['max_abs_diff']:.1e})"
            if r["max_abs_diff"] is not None
            else f"{n} random of {b}, time x {b / n:g}"
        )
        print(
            f"{b:>6} {r['vectorised_ms']:>14.2f} {r['row_loop_ms']:>9.1f} {r['loop_ms']:>10.1f} "
            f"{r['ratio']:>8.0f}x {r['ratio_vs_row_loop']:>8.1f}x  {how}"
        )
    head = next((r for r in rows if r["batch"] == TARGET_B), rows[-1])
    met = head["ratio"] >= TARGET_RATIO if head["batch"] == TARGET_B else None
    verdict = {True: "met", False: "NOT met", None: "not measured"}[met]
    print(f"target: loop/vec >= {TARGET_RATIO:g}x at B = {TARGET_B}: {verdict}")
    emit(
        {
            "bench": "supcon",
            "baseline": "scalar per-anchor loop of eq. 8",
            "candidate": "xlser.losses.language_aware_supcon",
            "metric": f"{args.clock}-clock seconds per forward+backward (median); "
            "ratio = loop / vectorised",
            "threads": args.threads,
            "batch": head["batch"],
            "ratio": round(head["ratio"], 1),
            "ratio_vs_row_loop": round(head["ratio_vs_row_loop"], 1),
            "target": TARGET_RATIO,
            "target_met": met,
            "repeats": args.repeats,
            "dim": 768,
            "sizes": rows,
        }
    )


if __name__ == "__main__":
    main()
