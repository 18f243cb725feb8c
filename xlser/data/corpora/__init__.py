"""Loaders for the five real corpora, each reading the tree exactly as the corpus is distributed.

=========  ========  ========  =====================================================================
name       corpus    language  module
=========  ========  ========  =====================================================================
``meld``   MELD      en        :mod:`xlser.data.corpora.meld` (video; official train/dev/test)
``esd``    ESD       zh        :mod:`xlser.data.corpora.esd` (Mandarin speakers 0001-0010 only)
``emodb``  EMO-DB    de        :mod:`xlser.data.corpora.emodb`
``cafe``   CaFE      fr        :mod:`xlser.data.corpora.cafe` (label from the file name letter)
``urdu``   URDU      ur        :mod:`xlser.data.corpora.urdu`
=========  ========  ========  =====================================================================

Use :func:`xlser.data.prepare.prepare_corpus` (CLI ``python -m xlser prepare``) to turn a tree into a
manifest; the loaders here only find files and labels. Each corpus module owns everything about its
corpus: the label map, the expected layout (quoted when a root does not match), the paper's split
sizes and the ``scan`` that walks the tree, gathered in the module's ``CORPUS``
(:class:`CorpusSpec`). :data:`CORPORA` is the registry of those; the ``prepare`` command's choices
and :data:`xlser.data.splits.PAPER_SIZES` are read from it, and an unknown name is an error that
lists the registered ones.

**How to add a corpus.** Write ``xlser/data/corpora/<name>.py`` after the pattern of ``emodb.py``:
``NAME, TITLE, LANGUAGE``, the raw-label map (``EMOTION_MAP``: letter, folder or CSV value -> one
of :data:`xlser.EMOTIONS`) and the labels dropped on purpose, ``LAYOUT`` (the distributed tree, as
a user would recognise it), ``PAPER_SPLIT`` (train, val, test after the 4-class filter), and
``scan(root, exclude) -> Scan`` built on :func:`~xlser.data.corpora._common.walk_files` (find
files by name at any depth; skip, never guess, what cannot be labelled); end with
``CORPUS = CorpusSpec(...)``. Then add the module to the import and its ``CORPUS`` to
:data:`CORPORA` below (one line), and a small fake tree to ``tests/corpus_trees.py`` for its
tests. A corpus in a language outside :data:`xlser.LANGUAGES` also needs that language there.
"""

from __future__ import annotations

from xlser.data.corpora import cafe, emodb, esd, meld, urdu
from xlser.data.corpora._common import (
    CorpusError,
    CorpusSpec,
    Item,
    LayoutError,
    Scan,
    Skipped,
)
from xlser.registry import Registry, UnknownNameError

CORPORA: Registry[CorpusSpec] = Registry(
    "corpus",
    {c.name: c for c in (meld.CORPUS, esd.CORPUS, emodb.CORPUS, cafe.CORPUS, urdu.CORPUS)},
    where="the module docstring of xlser.data.corpora",
)
"""Registry: corpus name -> :class:`CorpusSpec`, in the order of :data:`xlser.LANGUAGES`."""


def get_corpus(name: str) -> CorpusSpec:
    """The :class:`CorpusSpec` called ``name`` (any case); an unknown name raises
    :class:`~xlser.registry.UnknownNameError` (a ``ValueError``) listing the registered ones."""
    return CORPORA[name.strip().lower()]


__all__ = [
    "CORPORA",
    "CorpusError",
    "CorpusSpec",
    "Item",
    "LayoutError",
    "Scan",
    "Skipped",
    "UnknownNameError",
    "get_corpus",
]
