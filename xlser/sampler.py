"""Hierarchical cross-lingual batch sampler (Mi et al., 2026, §2.2).

Each batch is built top-down so that cross-lingual positive pairs always exist for the
language-aware SupCon loss:

1. draw ``n_languages`` distinct training languages uniformly;
2. draw ``n_emotions`` distinct emotions uniformly (one set shared by all chosen languages);
3. draw ``n_per_pair`` items from every (language, emotion) pool, without replacement inside the
   batch and independently across batches.

With the paper's 3 x 4 x 3 = 36, every anchor has 2 same-language and 6 cross-lingual positives.
The single-language systems (Baseline 1, Upper bound) use :class:`ClassBalancedBatchSampler`,
the same procedure with one language (4 emotions x 9 items).
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Sampler

__all__ = ["ClassBalancedBatchSampler", "HierarchicalBatchSampler", "batch_composition"]


def _as_list(labels: Any) -> list[Hashable]:
    """Per-item labels (list, tuple, numpy array or tensor) as a list of Python scalars."""
    return labels.tolist() if hasattr(labels, "tolist") else list(labels)


def _distinct(labels: list[Hashable]) -> list[Hashable]:
    """Distinct labels, sorted when they are comparable, else in order of first appearance."""
    unique = list(dict.fromkeys(labels))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def _check_positive_int(**values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def batch_composition(
    batch: Sequence[int], languages: Sequence[Hashable], emotions: Sequence[Hashable]
) -> Counter[tuple[Hashable, Hashable]]:
    """Count the items of a batch per (language, emotion) pair.

    Args:
        batch: Dataset indices, as yielded by the samplers.
        languages: Per-item language labels of the whole dataset.
        emotions: Per-item emotion labels of the whole dataset.

    Returns:
        ``Counter`` mapping ``(language, emotion)`` to its number of items in the batch.

    Example:
        >>> batch_composition([0, 1, 2, 3], ["en", "en", "de", "de"], ["sad", "sad", "sad", "ang"])
        Counter({('en', 'sad'): 2, ('de', 'sad'): 1, ('de', 'ang'): 1})
    """
    languages, emotions = _as_list(languages), _as_list(emotions)
    return Counter((languages[i], emotions[i]) for i in batch)


class HierarchicalBatchSampler(Sampler[list[int]]):
    """Language -> emotion -> items batch sampler (Mi et al., 2026, §2.2).

    The global batch is ordered language-major, then emotion, then item. Under DDP
    (``world_size > 1``) every rank draws the same global batch and keeps the strided slice
    ``batch[rank::world_size]``, which spreads every (language, emotion) pair over the ranks;
    gather embeddings across ranks to compute the contrastive loss on the full batch.

    The paper requires ``n_languages, n_emotions, n_per_pair >= 2`` so that every anchor has
    same-language and cross-lingual positives; values of 1 are allowed (e.g. for ablations).

    Args:
        languages: Per-item language labels of the training set (str or int; list, array, tensor).
        emotions: Per-item emotion labels, same length.
        n_languages: ``N_lang``, distinct languages per batch.
        n_emotions: ``N_cls``, distinct emotions per batch (shared by all chosen languages).
        n_per_pair: ``N_sam``, items per (language, emotion) pair.
        num_batches: Batches per epoch; default ``ceil(len(dataset) / batch_size)``.
        seed: Non-negative base seed; batches depend only on ``(seed, epoch)``.
        replacement: Draw items of a pool with replacement (allows pools smaller than
            ``n_per_pair``); default: without replacement inside a batch.
        rank: This process's rank.
        world_size: Number of DDP processes; must divide ``batch_size``.

    Raises:
        ValueError: On bad counts, too few languages or emotions, or a (language, emotion) pool
            too small for ``n_per_pair`` (empty, when ``replacement=True``).

    Example:
        >>> langs = ["en"] * 8 + ["de"] * 8
        >>> emos = ["sad", "ang"] * 8
        >>> s = HierarchicalBatchSampler(langs, emos, n_languages=2, n_emotions=2, n_per_pair=2)
        >>> len(s), s.batch_size
        (2, 8)
        >>> batch = next(iter(s))
        >>> sorted(batch_composition(batch, langs, emos).values())
        [2, 2, 2, 2]
    """

    _count_name = "n_per_pair"

    def __init__(
        self,
        languages: Sequence[Hashable] | Any,
        emotions: Sequence[Hashable] | Any,
        n_languages: int = 3,
        n_emotions: int = 4,
        n_per_pair: int = 3,
        num_batches: int | None = None,
        seed: int = 0,
        replacement: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__()
        languages, emotions = _as_list(languages), _as_list(emotions)
        if len(languages) != len(emotions):
            raise ValueError(
                f"languages and emotions must have the same length, got {len(languages)} "
                f"and {len(emotions)}"
            )
        _check_positive_int(
            n_languages=n_languages,
            n_emotions=n_emotions,
            **{self._count_name: n_per_pair},
            world_size=world_size,
        )
        if num_batches is not None:
            _check_positive_int(num_batches=num_batches)
        if not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank!r}")
        self.language_set = tuple(_distinct(languages))
        self.emotion_set = tuple(_distinct(emotions))
        self.n_languages, self.n_emotions, self.n_per_pair = n_languages, n_emotions, n_per_pair
        self.seed, self.replacement, self.epoch = int(seed), bool(replacement), 0
        self.rank, self.world_size = rank, world_size
        if n_languages > len(self.language_set):
            raise ValueError(
                f"n_languages={n_languages} but the data have only {len(self.language_set)} "
                f"languages {list(self.language_set)}"
            )
        if n_emotions > len(self.emotion_set):
            raise ValueError(
                f"n_emotions={n_emotions} but the data have only {len(self.emotion_set)} "
                f"emotions {list(self.emotion_set)}"
            )
        if self.batch_size % world_size:
            raise ValueError(
                f"batch_size={self.batch_size} must be divisible by world_size={world_size}"
            )
        pools: dict[tuple[Hashable, Hashable], list[int]] = {
            (lang, emo): [] for lang in self.language_set for emo in self.emotion_set
        }
        for i, key in enumerate(zip(languages, emotions)):
            pools[key].append(i)
        self._pools = {key: np.asarray(idx, dtype=np.int64) for key, idx in pools.items()}
        self._check_pools()
        self.num_batches = (
            num_batches if num_batches is not None else math.ceil(len(languages) / self.batch_size)
        )

    def _pool_name(self, language: Hashable, emotion: Hashable) -> str:
        return f"(language={language!r}, emotion={emotion!r})"

    def _check_pools(self) -> None:
        need = 1 if self.replacement else self.n_per_pair
        small = [(key, len(idx)) for key, idx in self._pools.items() if len(idx) < need]
        if not small:
            return
        listed = ", ".join(f"{self._pool_name(*key)} has {n}" for key, n in small[:10])
        more = f" and {len(small) - 10} more" if len(small) > 10 else ""
        if self.replacement:
            hint = "every pool that can be drawn needs at least 1 item; remove that label"
        else:
            hint = f"use replacement=True or a lower {self._count_name}"
        raise ValueError(
            f"pools with fewer than {need} items ({self._count_name}={self.n_per_pair}): "
            f"{listed}{more}; {hint}"
        )

    @property
    def batch_size(self) -> int:
        """Global batch size ``n_languages * n_emotions * n_per_pair`` (all ranks together)."""
        return self.n_languages * self.n_emotions * self.n_per_pair

    def set_epoch(self, epoch: int) -> None:
        """Use the batches of ``epoch`` (deterministic in ``(seed, epoch)``) on the next pass."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        n_lang, n_emo = len(self.language_set), len(self.emotion_set)
        for _ in range(self.num_batches):
            langs = rng.choice(n_lang, size=self.n_languages, replace=False)
            emos = rng.choice(n_emo, size=self.n_emotions, replace=False)
            batch = []
            for li in langs:
                for ei in emos:
                    pool = self._pools[self.language_set[li], self.emotion_set[ei]]
                    batch.append(rng.choice(pool, size=self.n_per_pair, replace=self.replacement))
            yield np.concatenate(batch)[self.rank :: self.world_size].tolist()


class ClassBalancedBatchSampler(HierarchicalBatchSampler):
    """Single-language class-balanced sampler for Baseline 1 and the Upper bound.

    The paper does not say how single-language systems are batched; this is the reproduction's
    choice (the book's appendix *Reconstruction notes*).

    :class:`HierarchicalBatchSampler` with one language: each batch draws ``n_emotions``
    distinct emotions uniformly, then ``n_per_class`` items of each (default 4 x 9 = 36).

    Args:
        emotions: Per-item emotion labels of the training set.
        n_emotions: Distinct emotions per batch.
        n_per_class: Items per emotion.
        num_batches: Batches per epoch; default ``ceil(len(dataset) / batch_size)``.
        seed: Non-negative base seed.
        replacement: Draw with replacement inside a pool.
        rank: This process's rank.
        world_size: Number of DDP processes; must divide ``batch_size``.

    Example:
        >>> s = ClassBalancedBatchSampler(["sad", "ang", "hap"] * 4, n_emotions=2, n_per_class=3)
        >>> len(s), s.batch_size, len(next(iter(s)))
        (2, 6, 6)
    """

    _count_name = "n_per_class"

    def __init__(
        self,
        emotions: Sequence[Hashable] | Any,
        n_emotions: int = 4,
        n_per_class: int = 9,
        num_batches: int | None = None,
        seed: int = 0,
        replacement: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        emotions = _as_list(emotions)
        super().__init__(
            languages=[None] * len(emotions),
            emotions=emotions,
            n_languages=1,
            n_emotions=n_emotions,
            n_per_pair=n_per_class,
            num_batches=num_batches,
            seed=seed,
            replacement=replacement,
            rank=rank,
            world_size=world_size,
        )

    def _pool_name(self, language: Hashable, emotion: Hashable) -> str:
        return f"(emotion={emotion!r})"
