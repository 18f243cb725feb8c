"""Split rules: the paper's sizes exactly at the real totals, proportional scaling, stratification by
emotion, reproducibility by seed, and speaker-independent splits without speaker overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xlser import EMOTIONS
from xlser.data.splits import (
    PAPER_SIZES,
    largest_remainder,
    random_split,
    scaled_sizes,
    speaker_split,
    stratified_sizes,
)

# real 4-class counts per emotion (from each corpus's documentation)
REAL_COUNTS = {
    "esd": {"happy": 3500, "angry": 3500, "sad": 3500, "neutral": 3500},
    "emodb": {"happy": 71, "angry": 127, "sad": 62, "neutral": 79},
    "cafe": {"happy": 144, "angry": 144, "sad": 144, "neutral": 72},
    "urdu": {"happy": 100, "angry": 100, "sad": 100, "neutral": 100},
    "meld": {"happy": 2308, "angry": 1607, "sad": 1002, "neutral": 6436},
}


@pytest.mark.parametrize(
    "corpus, total, expected",
    [
        ("esd", 14000, (11200, 1400, 1400)),
        ("emodb", 339, (266, 35, 38)),
        ("cafe", 504, (420, 42, 42)),
        ("urdu", 400, (300, 20, 80)),
        ("meld", 11353, (8245, 897, 2211)),
    ],
)
def test_paper_sizes_exact_at_real_totals(corpus, total, expected):
    assert sum(REAL_COUNTS[corpus].values()) == total
    assert scaled_sizes(total, PAPER_SIZES[corpus]) == expected
    strat = stratified_sizes(REAL_COUNTS[corpus], PAPER_SIZES[corpus])
    for k in range(3):
        assert sum(v[k] for v in strat.values()) == expected[k]
    for emo, n in REAL_COUNTS[corpus].items():
        assert sum(strat[emo]) == n
        for k in (1, 2):  # each emotion within one of its proportional share
            assert abs(strat[emo][k] - expected[k] * n / total) < 1


def test_stratified_real_values():
    assert stratified_sizes(REAL_COUNTS["esd"], PAPER_SIZES["esd"])["sad"] == (2800, 350, 350)
    assert stratified_sizes(REAL_COUNTS["cafe"], PAPER_SIZES["cafe"]) == {
        "happy": (120, 12, 12),
        "angry": (120, 12, 12),
        "sad": (120, 12, 12),
        "neutral": (60, 6, 6),
    }
    assert stratified_sizes(REAL_COUNTS["urdu"], PAPER_SIZES["urdu"])["happy"] == (75, 5, 20)
    emodb = stratified_sizes(REAL_COUNTS["emodb"], PAPER_SIZES["emodb"])
    assert {e: v[1] for e, v in emodb.items()} == {"happy": 7, "angry": 13, "sad": 7, "neutral": 8}


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 57, 133, 1000])
def test_scaled_sizes_small_and_odd_totals(n):
    for paper in PAPER_SIZES.values():
        tr, va, te = scaled_sizes(n, paper)
        assert tr + va + te == n and min(tr, va, te) >= 0
        total = sum(paper)
        assert abs(va - paper[1] * n / total) <= 0.5 + 1e-9
        assert abs(te - paper[2] * n / total) <= 0.5 + 1e-9


def test_scaled_sizes_rounds_half_up():
    # URDU val: 20 * 10 / 400 = 0.5 -> 1; test 80 * 10 / 400 = 2
    assert scaled_sizes(10, PAPER_SIZES["urdu"]) == (7, 1, 2)


def test_largest_remainder_caps_and_errors():
    assert largest_remainder(3, {"a": 1, "b": 1, "c": 1}) == {"a": 1, "b": 1, "c": 1}
    assert largest_remainder(2, {"a": 5, "b": 1}, caps={"a": 1, "b": 1}) == {"a": 1, "b": 1}
    with pytest.raises(ValueError, match="cannot place"):
        largest_remainder(5, {"a": 1, "b": 1})


def frame(counts, speakers=5, seed=0):
    rows = []
    for emo, n in counts.items():
        for i in range(n):
            rows.append(
                {"utt_id": f"x_{emo}_{i:04d}", "emotion": emo, "speaker": f"x:{i % speakers}"}
            )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_random_split_sizes_stratified_and_seeded():
    counts = {"happy": 71, "angry": 127, "sad": 62, "neutral": 79}  # EMO-DB
    df = frame(counts)
    split = random_split(df, PAPER_SIZES["emodb"], seed=0)
    assert split.value_counts().to_dict() == {"train": 266, "val": 35, "test": 38}
    strat = stratified_sizes(counts, PAPER_SIZES["emodb"])
    got = pd.crosstab(df["emotion"], split)
    for emo in EMOTIONS:
        assert (got.loc[emo, "train"], got.loc[emo, "val"], got.loc[emo, "test"]) == strat[emo]
    # same seed -> same split, independent of row order
    again = random_split(df.sample(frac=1.0, random_state=3), PAPER_SIZES["emodb"], seed=0)
    assert again.sort_index().equals(split.sort_index())
    other = random_split(df, PAPER_SIZES["emodb"], seed=1)
    assert not other.equals(split)
    assert other.value_counts().to_dict() == split.value_counts().to_dict()


def test_random_split_full_esd_size():
    df = frame(REAL_COUNTS["esd"], speakers=10)
    split = random_split(df, PAPER_SIZES["esd"], seed=0)
    assert split.value_counts().to_dict() == {"train": 11200, "val": 1400, "test": 1400}
    assert (pd.crosstab(df["emotion"], split)["val"] == 350).all()


def test_speaker_split_no_overlap_reproducible():
    df = frame(REAL_COUNTS["esd"], speakers=10)  # 10 speakers x 1400
    split = speaker_split(df, PAPER_SIZES["esd"], seed=0)
    spk = {s: set(df["speaker"][split == s]) for s in ("train", "val", "test")}
    assert not (spk["train"] & spk["val"]) and not (spk["train"] & spk["test"])
    assert not (spk["val"] & spk["test"])
    assert split.value_counts().to_dict() == {"train": 11200, "val": 1400, "test": 1400}
    assert speaker_split(df, PAPER_SIZES["esd"], seed=0).equals(split)
    assert any(not speaker_split(df, PAPER_SIZES["esd"], seed=s).equals(split) for s in range(1, 4))


@pytest.mark.parametrize("n_speakers", [3, 4, 12, 29])
def test_speaker_split_always_leaves_train_and_val(n_speakers):
    rng = np.random.default_rng(n_speakers)
    df = frame({"happy": 100, "angry": 100, "sad": 100, "neutral": 100}, speakers=n_speakers)
    for seed in range(5):
        split = speaker_split(df, PAPER_SIZES[rng.choice(["urdu", "cafe"])], seed=seed)
        assert set(split) == {"train", "val", "test"}
        per = pd.DataFrame({"speaker": df["speaker"], "split": split}).groupby("speaker")["split"]
        assert (per.nunique() == 1).all()


def test_speaker_split_needs_three_speakers():
    with pytest.raises(ValueError, match="at least 3 speakers"):
        speaker_split(frame({"happy": 10}, speakers=2), PAPER_SIZES["cafe"])
