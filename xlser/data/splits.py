"""Split rules for the real corpora: the paper's sizes, scaled; stratified or speaker-independent.

The paper (§3.1) gives split sizes after the 4-class filter but not the splits themselves:

=========  ======  ======================  ===================
corpus     total   train / val / test      rule
=========  ======  ======================  ===================
MELD       11353   8245 / 897 / 2211       official CSVs
ESD (zh)   14000   11200 / 1400 / 1400     seeded, stratified
EMO-DB     339     266 / 35 / 38           seeded, stratified
CaFE       504     420 / 42 / 42           seeded, stratified
URDU       400     300 / 20 / 80           seeded, stratified
=========  ======  ======================  ===================

**Sizes** (:func:`scaled_sizes`) for a tree of ``n`` usable files and the paper's
``(train, val, test)`` with total ``N``::

    val  = round_half_up(val_paper  * n / N)
    test = round_half_up(test_paper * n / N)
    train = n - val - test

computed in exact integer arithmetic, so ``n == N`` gives the paper's sizes exactly.

**Stratified random split** (:func:`random_split`, ``--split paper``): the test size, then the val
size, is shared across emotions by the largest-remainder method (:func:`largest_remainder`): emotion
``e`` with ``n_e`` files gets ``floor(size * n_e / n)``, and the seats left go one each to the largest
fractional remainders (ties: :data:`xlser.EMOTIONS` order), never more than the files the emotion has
left. Within each emotion (in EMOTIONS order) the files, sorted by ``utt_id``, are permuted by one
``numpy.random.default_rng(seed)``; the first ``test_e`` go to test, the next ``val_e`` to val, the
rest to train. Same files + same seed -> same split.

**Speaker-independent split** (:func:`speaker_split`, ``--split speaker``): target sizes as above;
speakers (sorted, then permuted by ``default_rng(seed)``) are taken in turn: a speaker goes to test
while test holds fewer utterances than its target, then to val likewise, the rest to train; a speaker
is never put in test or val when that would leave no speaker for val (if its target is non-zero) or
for train. Whole speakers, so sizes only approximate the targets and are not stratified. Needs at
least 3 speakers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from xlser import EMOTIONS
from xlser.data.corpora import CORPORA
from xlser.errors import XlserError
from xlser.registry import Registry

PAPER_SIZES: Registry[tuple[int, int, int]] = Registry(
    "corpus", {name: c.paper_sizes for name, c in CORPORA.items()}, CORPORA.where
)
"""The paper's (train, val, test) sizes per corpus after the 4-class filter (Mi et al., 2026,
§3.1), read from each corpus module's ``PAPER_SPLIT`` (:data:`xlser.data.corpora.CORPORA`)."""


class SplitError(XlserError, ValueError):
    """A split cannot be drawn from the files found; the message says what is missing."""


def _round_half_up(num: int, den: int) -> int:
    """``round(num / den)`` with halves rounded up, for non-negative integers."""
    return (2 * num + den) // (2 * den)


def scaled_sizes(n: int, paper: Sequence[int]) -> tuple[int, int, int]:
    """(train, val, test) sizes for ``n`` files, scaled from the paper's ``(train, val, test)``.

    >>> scaled_sizes(14000, PAPER_SIZES["esd"]), scaled_sizes(339, PAPER_SIZES["emodb"])
    ((11200, 1400, 1400), (266, 35, 38))
    >>> scaled_sizes(40, PAPER_SIZES["urdu"])
    (30, 2, 8)
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    total = sum(paper)
    val = _round_half_up(paper[1] * n, total)
    test = _round_half_up(paper[2] * n, total)
    while val + test > n:  # only possible for tiny n
        if test >= val and test > 0:
            test -= 1
        else:
            val -= 1
    return n - val - test, val, test


def largest_remainder(
    total: int, weights: Mapping[str, int], caps: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Share ``total`` seats in proportion to ``weights`` (Hamilton's largest-remainder method).

    Each key gets ``floor(total * w / sum(w))``; the seats left go one at a time to the largest
    remainders (ties: key order), skipping keys at their cap (default cap: the key's weight).

    >>> largest_remainder(35, {"happy": 71, "angry": 127, "sad": 62, "neutral": 79})
    {'happy': 7, 'angry': 13, 'sad': 7, 'neutral': 8}
    """
    keys = list(weights)
    caps = {k: weights[k] for k in keys} if caps is None else {k: caps[k] for k in keys}
    wsum = sum(weights.values())
    if total > sum(caps.values()):
        raise ValueError(f"cannot place {total} items in groups holding {sum(caps.values())}")
    if total == 0 or wsum == 0:
        return {k: 0 for k in keys}
    alloc = {k: min(total * weights[k] // wsum, caps[k]) for k in keys}
    # remainder as an exact fraction numerator over wsum
    order = sorted(keys, key=lambda k: (-(total * weights[k] % wsum), keys.index(k)))
    left = total - sum(alloc.values())
    while left > 0:
        for k in order:
            if left == 0:
                break
            if alloc[k] < caps[k]:
                alloc[k] += 1
                left -= 1
    return alloc


def stratified_sizes(
    counts: Mapping[str, int], paper: Sequence[int]
) -> dict[str, tuple[int, int, int]]:
    """Per-emotion (train, val, test) for emotion ``counts``; sums equal :func:`scaled_sizes`.

    >>> s = stratified_sizes({"happy": 3500, "angry": 3500, "sad": 3500, "neutral": 3500},
    ...                      PAPER_SIZES["esd"])
    >>> s["happy"]
    (2800, 350, 350)
    """
    keys = [e for e in EMOTIONS if e in counts] + sorted(k for k in counts if k not in EMOTIONS)
    counts = {k: int(counts[k]) for k in keys}
    _, val, test = scaled_sizes(sum(counts.values()), paper)
    test_e = largest_remainder(test, counts)
    val_e = largest_remainder(val, counts, caps={k: counts[k] - test_e[k] for k in keys})
    return {k: (counts[k] - val_e[k] - test_e[k], val_e[k], test_e[k]) for k in keys}


def random_split(frame: pd.DataFrame, paper: Sequence[int], seed: int = 0) -> pd.Series:
    """Seeded split stratified by emotion (the module docstring has the rule).

    Args:
        frame: rows with ``utt_id`` and ``emotion``.
        paper: the paper's (train, val, test) sizes, scaled to ``len(frame)``.
        seed: the random seed.

    Returns:
        the split of each row, indexed like ``frame``.
    """
    sizes = stratified_sizes(frame["emotion"].value_counts().to_dict(), paper)
    rng = np.random.default_rng(seed)
    split = pd.Series("train", index=frame.index, dtype=object)
    for emotion, (_, n_val, n_test) in sizes.items():
        idx = frame.index[frame["emotion"] == emotion]
        idx = idx[np.argsort(frame.loc[idx, "utt_id"].to_numpy(), kind="stable")]
        perm = idx[rng.permutation(len(idx))]
        split[perm[:n_test]] = "test"
        split[perm[n_test : n_test + n_val]] = "val"
    return split


def speaker_split(frame: pd.DataFrame, paper: Sequence[int], seed: int = 0) -> pd.Series:
    """Seeded speaker-independent split: whole speakers to test, val, train (rule in module docstring).

    Args:
        frame: rows with ``speaker``.
        paper: the paper's (train, val, test) sizes; their scaled val/test sizes are the targets.
        seed: the random seed.
    """
    per_spk = frame["speaker"].value_counts()
    speakers = sorted(per_spk.index)
    if len(speakers) < 3:
        raise SplitError(
            f"--split speaker needs at least 3 speakers (train, val, test); found {len(speakers)}"
        )
    _, target_val, target_test = scaled_sizes(len(frame), paper)
    order = [speakers[i] for i in np.random.default_rng(seed).permutation(len(speakers))]
    assign: dict[str, str] = {}
    n_test = n_val = 0
    for pos, spk in enumerate(order):
        remaining = len(order) - pos - 1  # speakers still unassigned after this one
        val_needs = 1 if target_val > 0 and n_val == 0 else 0
        if n_test < target_test and remaining >= 1 + val_needs:
            assign[spk] = "test"
            n_test += int(per_spk[spk])
        elif n_val < target_val and remaining >= 1:
            assign[spk] = "val"
            n_val += int(per_spk[spk])
        else:
            assign[spk] = "train"
    return frame["speaker"].map(assign).astype(object)
