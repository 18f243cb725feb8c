"""The nine zero-shot tasks of the paper (Table 1), which languages each system trains on, and the
source-matched checkpoints (§3.3).

A task is written ``source-target`` (``en-de`` is the paper's EN→DE). The training set of the
multilingual systems is the source plus every other non-target language (eq. 1); the target is never
seen in training.

>>> t = parse_task("en-de")
>>> t.source, t.target, t.non_target
('en', 'de', ('zh', 'fr', 'ur'))
>>> training_languages(t, "baseline1"), training_languages(t, "upper_bound")
(('en',), ('de',))
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from xlser import LANGUAGES
from xlser.errors import XlserError
from xlser.systems import SYSTEM_SPECS

TASKS: tuple[str, ...] = (
    "en-de",
    "zh-de",
    "fr-de",
    "en-fr",
    "zh-fr",
    "de-fr",
    "en-zh",
    "de-zh",
    "fr-zh",
)
"""The paper's nine tasks, in Table 1's order (CN is written ``zh``)."""

SOURCE_CHECKPOINTS: dict[str, str] = {
    "en": "facebook/wav2vec2-base-960h",
    "zh": "TencentGameMate/chinese-wav2vec2-base",
    "de": "facebook/wav2vec2-base-de-voxpopuli-v2",
    "fr": "facebook/wav2vec2-base-fr-voxpopuli",
}
"""wav2vec 2.0 Base checkpoint matched to each source language (paper §3.3). Urdu is never a source."""

MULTILINGUAL_SYSTEMS: tuple[str, ...] = tuple(
    s.name for s in SYSTEM_SPECS.values() if s.multilingual
)
"""``("baseline2", "proposed", "wo_scl", "wo_adv")``: the systems trained on source + non-target."""


class TaskError(XlserError, ValueError):
    """A task name that is not ``source-target``; the message lists the allowed languages."""


@dataclass(frozen=True)
class Task:
    """A zero-shot task: train on ``source`` (+ ``non_target``), test on ``target``."""

    source: str
    target: str

    @property
    def name(self) -> str:
        return f"{self.source}-{self.target}"

    @property
    def non_target(self) -> tuple[str, ...]:
        """The auxiliary languages: every language but the source and the target."""
        return tuple(lang for lang in LANGUAGES if lang not in (self.source, self.target))

    @property
    def multilingual(self) -> tuple[str, ...]:
        """The multilingual training set's languages (eq. 1): the source, then the non-target."""
        return (self.source, *self.non_target)

    @property
    def checkpoint(self) -> str:
        return SOURCE_CHECKPOINTS[self.source]


def parse_task(name: str) -> Task:
    """Parse ``"en-de"`` (also ``"en->de"``, ``"EN→DE"``) into a :class:`Task`."""
    s = name.strip().lower().replace("→", "-").replace("->", "-")
    s = s.replace("cn", "zh")
    parts = s.split("-")
    if len(parts) != 2 or parts[0] not in SOURCE_CHECKPOINTS or parts[1] not in LANGUAGES:
        raise TaskError(
            f"task {name!r} is not 'source-target' with source in {sorted(SOURCE_CHECKPOINTS)} "
            f"and target in {list(LANGUAGES)}; the paper's tasks are {list(TASKS)}"
        )
    if parts[0] == parts[1]:
        raise TaskError(f"task {name!r}: source and target must differ")
    return Task(parts[0], parts[1])


def training_languages(task: Task | str, system: str) -> tuple[str, ...]:
    """Languages whose train splits a system uses (paper §3.2; :attr:`SystemSpec.trains_on`).

    Baseline 1: the source only. Upper bound: the target only (not zero-shot).
    Baseline 2, Proposed and the ablations: the source and the three non-target languages.
    An unknown system raises :class:`~xlser.registry.UnknownNameError` listing the six.
    """
    t = parse_task(task) if isinstance(task, str) else task
    return SYSTEM_SPECS[system].languages(t, "train")


def selection_languages(task: Task | str, system: str) -> tuple[str, ...]:
    """Languages whose validation splits select a system's checkpoint (:attr:`SystemSpec.selects_on`).

    >>> selection_languages("en-de", "baseline1"), selection_languages("en-de", "upper_bound")
    (('en',), ('de',))
    """
    t = parse_task(task) if isinstance(task, str) else task
    return SYSTEM_SPECS[system].languages(t, "val")


def table1(manifest: pd.DataFrame, tasks: tuple[str, ...] = TASKS) -> pd.DataFrame:
    """Table 1 from manifests: per task, the multilingual training set's #samples and #speakers.

    #Samples is the number of ``train`` rows of the source and non-target languages; #Spk the number
    of distinct (corpus-namespaced) speakers among them.
    """
    train = manifest[manifest["split"] == "train"]
    rows = []
    for name in tasks:
        t = parse_task(name)
        sub = train[train["language"].isin(t.multilingual)]
        rows.append(
            {
                "task": t.name,
                "source": t.source,
                "non_target": ", ".join(t.non_target),
                "target": t.target,
                "n_samples": len(sub),
                "n_speakers": sub["speaker"].nunique(),
            }
        )
    return pd.DataFrame(rows)


PAPER_TABLE1: dict[str, tuple[int, int]] = {
    "en-de": (20165, 288),
    "zh-de": (20165, 288),
    "fr-de": (20165, 288),
    "en-fr": (20011, 286),
    "zh-fr": (20011, 286),
    "de-fr": (20011, 286),
    "en-zh": (9231, 288),
    "de-zh": (9231, 288),
    "fr-zh": (9231, 288),
}
"""The paper's Table 1 (#Samples, #Spk), for display beside the computed table. Labelled as the paper's."""
