"""Tests for the hierarchical cross-lingual and class-balanced batch samplers (§2.2)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from xlser.sampler import ClassBalancedBatchSampler, HierarchicalBatchSampler, batch_composition

LANGS = ["en", "de", "fr", "zh", "ur"]
EMOS = ["ang", "hap", "neu", "sad"]


def make_labels(sizes=None, seed=0):
    """Imbalanced per-item labels, shuffled: pool (l, e) has sizes[l][e] items."""
    rng = np.random.default_rng(seed)
    if sizes is None:
        sizes = rng.integers(3, 40, size=(len(LANGS), len(EMOS)))
    pairs = [(lang, emo) for li, lang in enumerate(LANGS) for ei, emo in enumerate(EMOS)]
    items = [pair for pair, n in zip(pairs, np.ravel(sizes)) for _ in range(int(n))]
    rng.shuffle(items)
    return [lang for lang, _ in items], [emo for _, emo in items]


def test_composition_and_len():
    langs, emos = make_labels()
    s = HierarchicalBatchSampler(langs, emos)
    assert s.batch_size == 36
    assert len(s) == math.ceil(len(langs) / 36)
    batches = list(s)
    assert len(batches) == len(s)
    for batch in batches:
        assert len(batch) == 36 and len(set(batch)) == 36
        assert all(isinstance(i, int) for i in batch)
        comp = batch_composition(batch, langs, emos)
        assert set(comp.values()) == {3} and len(comp) == 12
        assert len({lang for lang, _ in comp}) == 3 and len({emo for _, emo in comp}) == 4
        # one emotion set shared by all languages in the batch
        assert set(comp) == {(lang, emo) for lang, _ in comp for _, emo in comp}
        # language-major, then emotion, then item
        keys = [(langs[i], emos[i]) for i in batch]
        assert keys == [k for k in dict.fromkeys(keys) for _ in range(3)]


def test_labels_as_tensor_and_ints():
    langs, emos = make_labels()
    # ids in the sorted order of the string labels: the same pools, so the same batches
    lang_ids = torch.tensor([sorted(LANGS).index(x) for x in langs])
    emo_ids = np.array([sorted(EMOS).index(x) for x in emos])
    a = list(HierarchicalBatchSampler(lang_ids, emo_ids, n_languages=2, n_emotions=3, seed=4))
    b = list(HierarchicalBatchSampler(langs, emos, n_languages=2, n_emotions=3, seed=4))
    for batch in a:
        comp = batch_composition(batch, lang_ids, emo_ids)
        assert sorted(comp.values()) == [3] * 6
    assert a == b


def test_num_batches_and_determinism():
    langs, emos = make_labels()
    s1 = HierarchicalBatchSampler(langs, emos, num_batches=7, seed=3)
    s2 = HierarchicalBatchSampler(langs, emos, num_batches=7, seed=3)
    assert len(s1) == 7
    assert list(s1) == list(s2)
    assert list(s1) == list(s1)  # same epoch, same batches
    assert list(s1) != list(HierarchicalBatchSampler(langs, emos, num_batches=7, seed=4))


def test_set_epoch_reshuffles_deterministically():
    langs, emos = make_labels()
    s = HierarchicalBatchSampler(langs, emos, num_batches=5, seed=1)
    epoch0 = list(s)
    s.set_epoch(1)
    epoch1 = list(s)
    assert epoch1 != epoch0
    other = HierarchicalBatchSampler(langs, emos, num_batches=5, seed=1)
    other.set_epoch(1)
    assert list(other) == epoch1
    s.set_epoch(0)
    assert list(s) == epoch0


def test_skewed_pool_error_names_language_and_emotion():
    sizes = np.full((len(LANGS), len(EMOS)), 10)
    sizes[LANGS.index("ur"), EMOS.index("hap")] = 2
    langs, emos = make_labels(sizes)
    with pytest.raises(ValueError) as info:
        HierarchicalBatchSampler(langs, emos)
    msg = str(info.value)
    assert "'ur'" in msg and "'hap'" in msg and "has 2" in msg
    assert "replacement=True" in msg and "n_per_pair" in msg
    # lowering n_per_pair or drawing with replacement fixes it
    HierarchicalBatchSampler(langs, emos, n_per_pair=2)
    HierarchicalBatchSampler(langs, emos, replacement=True)


def test_empty_pool_is_an_error_even_with_replacement():
    langs, emos = make_labels()
    langs, emos = langs + ["xx"], emos + ["ang"]  # language 'xx' has no 'hap', 'neu', 'sad'
    with pytest.raises(ValueError, match=r"'xx'.*'hap'.*has 0"):
        HierarchicalBatchSampler(langs, emos, replacement=True)


def test_replacement_on_small_pools():
    langs = ["en", "en", "de", "de", "fr", "fr"]
    emos = ["ang", "sad"] * 3
    s = HierarchicalBatchSampler(langs, emos, 3, 2, n_per_pair=3, replacement=True, num_batches=4)
    for batch in s:
        assert len(batch) == 18
        assert sorted(batch_composition(batch, langs, emos).values()) == [3] * 6


def test_argument_errors():
    langs, emos = make_labels()
    with pytest.raises(ValueError, match="n_languages=6.*5 languages"):
        HierarchicalBatchSampler(langs, emos, n_languages=6)
    with pytest.raises(ValueError, match="n_emotions=5"):
        HierarchicalBatchSampler(langs, emos, n_emotions=5)
    for bad in ({"n_languages": 0}, {"n_emotions": 0}, {"n_per_pair": 0}, {"num_batches": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            HierarchicalBatchSampler(langs, emos, **bad)
    with pytest.raises(ValueError, match="same length"):
        HierarchicalBatchSampler(langs, emos[:-1])
    with pytest.raises(ValueError, match="divisible by world_size=5"):
        HierarchicalBatchSampler(langs, emos, world_size=5)
    with pytest.raises(ValueError, match="rank"):
        HierarchicalBatchSampler(langs, emos, rank=2, world_size=2)
    with pytest.raises(ValueError, match="seed"):
        HierarchicalBatchSampler(langs, emos, seed=-1)


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_ddp_slices_partition_the_global_batch(world_size):
    langs, emos = make_labels()
    full = list(HierarchicalBatchSampler(langs, emos, num_batches=6, seed=2))
    ranks = [
        list(HierarchicalBatchSampler(langs, emos, num_batches=6, seed=2, rank=r, world_size=ws))
        for r, ws in [(r, world_size) for r in range(world_size)]
    ]
    for b, batch in enumerate(full):
        parts = [ranks[r][b] for r in range(world_size)]
        assert all(len(p) == 36 // world_size for p in parts)
        assert sorted(i for p in parts for i in p) == sorted(batch)
        assert parts[1] == batch[1::world_size]  # strided slice


def test_roughly_uniform_language_and_emotion_frequencies():
    langs, emos = make_labels(seed=5)
    s = HierarchicalBatchSampler(langs, emos, n_emotions=2, num_batches=2000, seed=9)
    lang_count, emo_count = Counter(), Counter()
    for batch in s:
        comp = batch_composition(batch, langs, emos)
        lang_count.update({lang for lang, _ in comp})
        emo_count.update({emo for _, emo in comp})
    # each language is in 3/5 of the batches (1200, sd ~22), each emotion in 2/4 (1000, sd ~22)
    assert all(abs(lang_count[lang] - 1200) < 120 for lang in LANGS), lang_count
    assert all(abs(emo_count[emo] - 1000) < 120 for emo in EMOS), emo_count


def test_items_within_pools_are_all_visited():
    sizes = np.full((len(LANGS), len(EMOS)), 5)
    langs, emos = make_labels(sizes)
    seen = {i for batch in HierarchicalBatchSampler(langs, emos, num_batches=200) for i in batch}
    assert seen == set(range(len(langs)))


def test_class_balanced_composition():
    rng = np.random.default_rng(0)
    emos = list(rng.choice(EMOS, size=300, p=[0.1, 0.2, 0.3, 0.4]))
    s = ClassBalancedBatchSampler(emos, seed=1)
    assert s.batch_size == 36 and len(s) == math.ceil(300 / 36)
    for batch in s:
        assert len(set(batch)) == 36
        assert Counter(emos[i] for i in batch) == {emo: 9 for emo in EMOS}
    s3 = ClassBalancedBatchSampler(emos, n_emotions=3, n_per_class=4, num_batches=50, seed=1)
    for batch in s3:
        counts = Counter(emos[i] for i in batch)
        assert len(counts) == 3 and set(counts.values()) == {4}


def test_class_balanced_error_and_ddp():
    emos = ["ang"] * 20 + ["hap"] * 20 + ["neu"] * 20 + ["sad"] * 5
    with pytest.raises(ValueError, match=r"'sad'.*has 5.*n_per_class"):
        ClassBalancedBatchSampler(emos)
    full = list(ClassBalancedBatchSampler(emos, replacement=True, num_batches=3))
    halves = [
        list(ClassBalancedBatchSampler(emos, replacement=True, num_batches=3, rank=r, world_size=2))
        for r in range(2)
    ]
    for b, batch in enumerate(full):
        assert len(halves[0][b]) == len(halves[1][b]) == 18
        assert sorted(halves[0][b] + halves[1][b]) == sorted(batch)
