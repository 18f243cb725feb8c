"""The registries of systems and corpora: each entry says what its name means, unknown names list
the registered ones, and the tables derived from them agree with the paper."""

from __future__ import annotations

import pytest

from xlser import EMOTIONS, LANGUAGES
from xlser.config import SYSTEMS
from xlser.data.corpora import CORPORA, CorpusSpec, get_corpus
from xlser.data.splits import PAPER_SIZES
from xlser.errors import XlserError
from xlser.registry import Registry, UnknownNameError
from xlser.systems import SYSTEM_SPECS, SystemSpec
from xlser.tasks import (
    MULTILINGUAL_SYSTEMS,
    PAPER_TABLE1,
    TASKS,
    TaskError,
    parse_task,
    selection_languages,
    training_languages,
)


def test_unknown_name_error_is_xlsers_and_a_lookup_error():
    reg = Registry("thing", {"a": 1}, where="here")
    with pytest.raises(UnknownNameError) as e:
        reg["b"]
    assert all(isinstance(e.value, t) for t in (XlserError, KeyError, ValueError))
    assert str(e.value) == "unknown thing 'b'; registered: a (to add one, see here)"
    assert reg.get("b") is None and dict(reg) == {"a": 1}


# ---------------------------------------------------------------------------------------- systems


def test_systems_are_one_list():
    assert tuple(SYSTEM_SPECS) == SYSTEMS
    assert MULTILINGUAL_SYSTEMS == ("baseline2", "proposed", "wo_scl", "wo_adv")


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("system", SYSTEMS)
def test_training_and_selection_languages(task, system):
    t, spec = parse_task(task), SYSTEM_SPECS[system]
    train, val = training_languages(t, system), selection_languages(task, system)
    expected = {
        "baseline1": (t.source,),
        "upper_bound": (t.target,),
    }.get(system, (t.source, *t.non_target))  # the paper's §3.2, written out
    assert train == val == expected
    assert (t.target in val) is (system == "upper_bound")  # zero-shot: never select on the target
    assert spec.multilingual is (len(train) == 4)


def test_objective_terms_of_each_system():
    terms = {s.name: (s.use_scl, s.use_adv) for s in SYSTEM_SPECS.values()}
    assert terms == {
        "baseline1": (False, False),
        "baseline2": (False, False),
        "proposed": (True, True),
        "wo_scl": (False, True),
        "wo_adv": (True, False),
        "upper_bound": (False, False),
    }


def test_unknown_system_and_task():
    with pytest.raises(UnknownNameError, match="unknown system 'best'; registered: baseline1"):
        training_languages("en-de", "best")
    with pytest.raises(TaskError, match="source-target") as e:
        parse_task("en-xx")
    assert isinstance(e.value, XlserError)
    with pytest.raises(ValueError, match="never selects on the target"):
        SystemSpec("peek", "Peek", "source+non_target", "target", False, False)


# ---------------------------------------------------------------------------------------- corpora


def test_each_corpus_module_owns_its_facts():
    assert list(CORPORA) == ["meld", "esd", "emodb", "cafe", "urdu"]
    assert tuple(c.language for c in CORPORA.values()) == LANGUAGES
    for spec in CORPORA.values():
        assert sorted(set(spec.labels.values())) == sorted(EMOTIONS), spec.name
        assert not set(spec.labels) & set(spec.dropped), spec.name
        assert spec.layout and PAPER_SIZES[spec.name] == spec.paper_sizes
    assert CORPORA["meld"].paper_is_official and not CORPORA["emodb"].paper_is_official


def test_paper_sizes_reproduce_table1():
    """Table 1's #Samples: the train sizes of the source and the non-target languages."""
    by_language = {c.language: c.paper_sizes[0] for c in CORPORA.values()}
    for task in TASKS:
        t = parse_task(task)
        assert sum(by_language[lang] for lang in t.multilingual) == PAPER_TABLE1[task][0]


def test_unknown_corpus_lists_registered():
    for lookup in (get_corpus, CORPORA.__getitem__, PAPER_SIZES.__getitem__):
        with pytest.raises(UnknownNameError) as e:
            lookup("ravdess")
        assert "unknown corpus 'ravdess'; registered: meld, esd, emodb, cafe, urdu" in str(e.value)
        assert "xlser.data.corpora" in str(e.value)  # where a new one is added
    assert get_corpus(" EmoDB ") is CORPORA["emodb"]


def test_corpus_spec_checks_its_label_map():
    spec = CORPORA["urdu"]
    with pytest.raises(ValueError, match="labels must map onto"):
        CorpusSpec("x", "X", "ur", "X/", spec.scan, (1, 1, 1), {"A": "angry"})
