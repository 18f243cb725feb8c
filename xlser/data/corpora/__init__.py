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
manifest; the loaders here only find files and labels.
"""

from __future__ import annotations

from xlser.data.corpora import cafe, emodb, esd, meld, urdu
from xlser.data.corpora._common import (
    CorpusSpec,
    Item,
    LayoutError,
    Scan,
    Skipped,
)

CORPORA: dict[str, CorpusSpec] = {
    c.name: c for c in (meld.CORPUS, esd.CORPUS, emodb.CORPUS, cafe.CORPUS, urdu.CORPUS)
}
"""Registry: corpus name -> :class:`CorpusSpec`, in the order of :data:`xlser.LANGUAGES`."""


def get_corpus(name: str) -> CorpusSpec:
    """The :class:`CorpusSpec` called ``name``; an unknown name raises ``ValueError`` with the choices."""
    try:
        return CORPORA[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; choose from {list(CORPORA)}") from None


__all__ = ["CORPORA", "CorpusSpec", "Item", "LayoutError", "Scan", "Skipped", "get_corpus"]
