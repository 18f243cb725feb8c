"""``python -m xlser config``: every key with value, documentation and source tag; the shared CLI
policy of the commands that build a config (``--profile``, ``--config``, ``--set``)."""

from __future__ import annotations

import dataclasses

import pytest

import xlser.cli
from xlser.config import SOURCE_TAGS, SOURCES, ExperimentConfig, save_config
from xlser.config_cli import field_docs, one_line


def run(argv, monkeypatch, capsys, commands=("xlser.config_cli",)):
    monkeypatch.setattr(xlser.cli, "COMMANDS", commands)
    code = xlser.cli.main(argv)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def key_lines(lines):
    """``{key: (value, tag, doc)}`` of the key lines (not comments, headers or blanks)."""
    out = {}
    for line in lines:
        if not line or line.startswith(("#", "[")):
            continue
        key, rest = line.split(maxsplit=1)
        value, _, after = rest.partition("  [")
        tag, _, doc = after.partition("]")
        out[key] = (value.strip(), tag, doc.strip())
    return out


def test_full_lists_every_key_once_with_tag_and_doc(monkeypatch, capsys):
    code, lines, _ = run(["config", "--profile", "full"], monkeypatch, capsys)
    assert code == 0
    assert len(lines) < 150
    keys = key_lines(lines)
    assert set(keys) == set(SOURCES)  # the world is absent from the full profile: one key, null
    assert keys["data.world"][0] == "null"
    lam = keys["loss.cross_lingual_pos_weight"]
    assert lam[:2] == ("2.5", "secondary") and lam[2].startswith("λ")
    assert keys["loss.w_scl"][:2] == ("1.0", "secondary")
    assert keys["loss.w_adv"][:2] == ("0.3", "secondary")
    assert [keys[f"sampler.{k}"][:2] for k in ("n_languages", "n_emotions", "n_per_pair")] == [
        ("3", "secondary"),
        ("4", "secondary"),
        ("3", "secondary"),
    ]
    assert keys["train.select_metric"][1] == "reproduction"
    assert keys["model.classifier_type"][1] == "paper"
    assert all(doc for _, _, doc in keys.values())  # every key has its one-line documentation
    assert all(tag in SOURCE_TAGS for _, tag, _ in keys.values())
    assert sum(line.startswith("# [") for line in lines) == len(SOURCE_TAGS) + 1  # the legend


def test_smoke_is_compact_and_tags_what_smoke_changes(monkeypatch, capsys):
    code, lines, _ = run(["config", "--profile", "smoke"], monkeypatch, capsys)
    assert code == 0 and len(lines) < 150
    keys = key_lines(lines)
    assert keys["train.lr"][:2] == ("0.001", "smoke")
    assert keys["train.weight_decay"][1] == "reproduction"
    assert keys["loss.cross_lingual_pos_weight"][:2] == ("2.5", "secondary")
    assert keys["data.world.designs"][0] == "<5 entries>"  # a table in one line
    assert not any(k.startswith("data.world.designs.") for k in keys)
    code, every, _ = run(["config", "--profile", "smoke", "--all"], monkeypatch, capsys)
    every = key_lines(every)
    assert keys.keys() - every.keys() == {f"data.world.{t}" for t in
                                           ("designs", "phonetics", "consonants", "channels",
                                            "emotions", "dialects", "speakers")}  # fmt: skip
    assert every["data.world.designs.de.mirrors"][0].startswith("EMO-DB")
    assert len(every) > 300


def test_set_and_config_file_are_tagged_set(monkeypatch, capsys, tmp_path):
    argv = ["config", "--profile", "full", "--set", "loss.cross_lingual_pos_weight=1",
            "--system", "wo_adv", "--task", "EN->FR"]  # fmt: skip
    code, lines, _ = run(argv, monkeypatch, capsys)
    keys = key_lines(lines)
    assert keys["loss.cross_lingual_pos_weight"][:2] == ("1.0", "set")
    assert keys["system"][:2] == ("wo_adv", "set") and keys["task"][:2] == ("en-fr", "set")
    assert keys["loss.w_scl"][1] == "secondary"
    path = save_config(ExperimentConfig.from_profile("smoke", **{"loss.w_adv": 0.5}),
                       tmp_path / "c.yaml")  # fmt: skip
    code, lines, _ = run(["config", "--config", str(path)], monkeypatch, capsys)
    keys = key_lines(lines)
    assert code == 0 and keys["loss.w_adv"][:2] == ("0.5", "set")
    assert keys["profile"][0] == "smoke" and keys["train.lr"][1] == "smoke"
    argv = ["config", "--profile", "smoke", "--set", "data.world.dialect_strength=0"]
    keys = key_lines(run(argv, monkeypatch, capsys)[1])
    assert keys["data.world.dialect_strength"][:2] == ("0.0", "set")


def test_unknown_set_key_names_the_key(monkeypatch, capsys):
    code, _, err = run(["config", "--set", "loss.lamda=2"], monkeypatch, capsys)
    assert code == 2
    assert "'loss.lamda'" in err and "Traceback" not in err
    code, _, err = run(["config", "--set", "loss.pos_norm=median"], monkeypatch, capsys)
    assert code == 2 and "loss.pos_norm='median'" in err and "weight_sum" in err


def test_closed_values_are_choices_and_tasks_checked_at_parsing(monkeypatch, capsys):
    for argv, words in [
        (["config", "--profile", "gpu"], ["--profile", "invalid choice", "'gpu'"]),
        (["config", "--system", "best"], ["--system", "invalid choice", "upper_bound"]),
        (["config", "--task", "en-xx"], ["--task", "source-target"]),
        (["config", "--seed", "-1"], ["--seed", "integer >= 0"]),
    ]:
        with pytest.raises(SystemExit) as e:
            run(argv, monkeypatch, capsys)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert all(w in err for w in words), (argv, err)


def test_commands_that_build_a_config_share_the_options(monkeypatch, capsys):
    commands = ("xlser.config_cli", "xlser.summary", "xlser.train")
    monkeypatch.setattr(xlser.cli, "COMMANDS", commands)
    sub = next(a for a in xlser.cli.build_parser()._actions if a.dest == "command")
    for name in ("config", "summary", "train"):
        options = {o for a in sub.choices[name]._actions for o in a.option_strings}
        assert {"--profile", "--config", "--set", "--task"} <= options, name
        profile = next(a for a in sub.choices[name]._actions if "--profile" in a.option_strings)
        assert profile.default is None and tuple(profile.choices) == ("smoke", "full")


def test_only_xlsers_errors_are_one_line(monkeypatch, capsys):
    from xlser.cli import REPORTED
    from xlser.errors import XlserError

    assert XlserError in REPORTED
    assert not any(issubclass(ValueError, e) or issubclass(KeyError, e) for e in REPORTED)


def test_field_docs_and_one_line():
    from xlser.config import LossConfig

    docs = field_docs(LossConfig)
    assert set(docs) == {f.name for f in dataclasses.fields(LossConfig)}
    assert one_line(docs["cross_lingual_pos_weight"]).startswith("λ: weight of same-emotion")
    assert one_line("See Han et al. 2025 for it. Then more.") == "See Han et al. 2025 for it."
    assert one_line("``a`` and :class:`~x.y.Z` and :mod:`x.y`.") == "a and Z and x.y."
    assert one_line("word " * 40).endswith(" …") and len(one_line("word " * 40)) <= 112
