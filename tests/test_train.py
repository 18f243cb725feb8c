"""The training loop on the synthetic corpus: zero-shot data selection, eq. 12, and 20 smoke steps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xlser.config import ExperimentConfig
from xlser.data.synthetic import WorldConfig, synthesize
from xlser.train import Trainer, make_batch_sampler, run_experiment, task_data


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return synthesize(out, WorldConfig(scale="tiny"), seed=0, progress=False)


def cfg_for(manifest, **kw):
    over = {
        "data.manifests": [str(manifest)],
        "data.synthesize_if_missing": False,
        "data.max_seconds": 1.0,
        "train.eval_every": 10_000,
    }
    over.update(kw)
    return ExperimentConfig.from_profile("smoke", **over)


@pytest.mark.parametrize("system", ["baseline1", "baseline2", "proposed", "upper_bound"])
def test_zero_shot_selection(manifest, system):
    cfg = cfg_for(manifest, task="en-de", system=system)
    d = task_data(cfg)
    train_langs = set(d.train["language"])
    expected = {"baseline1": {"en"}, "upper_bound": {"de"}}.get(system, {"en", "zh", "fr", "ur"})
    assert train_langs == expected
    assert set(d.val["language"]) == expected  # model selection never looks at the target (but UB)
    assert set(d.test["language"]) == {"de"} and set(d.test["split"]) == {"test"}
    assert set(d.train["split"]) == {"train"}
    assert d.speakers == sorted(set(d.train["speaker"]))


def test_sampler_per_system(manifest):
    d = task_data(cfg_for(manifest, system="proposed"))
    s = make_batch_sampler(cfg_for(manifest, system="proposed"), d.train, 0)
    batch = next(iter(s))
    langs = d.train["language"].to_numpy()[batch]
    assert len(batch) == 36 and len(set(langs)) == 3
    cfg1 = cfg_for(manifest, system="baseline1", **{"sampler.replacement": True})  # tiny pools
    d1 = task_data(cfg1)
    s1 = make_batch_sampler(cfg1, d1.train, 0)
    emos = d1.train["emotion"].to_numpy()[next(iter(s1))]
    assert sorted(np.unique(emos, return_counts=True)[1]) == [9, 9, 9, 9]


def test_twenty_smoke_steps_lower_each_loss(manifest):
    cfg = cfg_for(manifest, system="proposed", seed=0, **{"train.max_steps": 20, "train.lr": 2e-3})
    trainer = Trainer(cfg, progress=False)
    trainer.fit()
    h = trainer.state.history
    assert len(h) == 20
    for key in ("ce", "scl", "adv"):
        first = np.mean([r[key] for r in h[:5]])
        last = np.mean([r[key] for r in h[-5:]])
        assert last < first, (key, first, last)
    # eq. 12: the logged total is CE + 1.0 * SCL + 0.3 * ADV
    r = h[-1]
    assert r["loss"] == pytest.approx(r["ce"] + 1.0 * r["scl"] + 0.3 * r["adv"], rel=1e-5)


def test_ablations_drop_their_term(manifest):
    for system, absent in [("wo_scl", "scl"), ("wo_adv", "adv"), ("baseline2", "scl")]:
        t = Trainer(cfg_for(manifest, system=system, **{"train.max_steps": 1}), progress=False)
        t.fit()
        assert absent not in t.state.history[0]
    t = Trainer(cfg_for(manifest, system="wo_adv", **{"train.max_steps": 1}), progress=False)
    assert t.model.speaker_head is None if hasattr(t.model, "speaker_head") else True


def test_run_experiment_writes_and_resumes(manifest, tmp_path):
    cfg = cfg_for(manifest, system="wo_adv", **{"train.max_steps": 3})
    m = run_experiment(cfg, tmp_path / "run", progress=False)
    for f in (
        "config.yaml",
        "model.safetensors",
        "trainer_state.json",
        "metrics.json",
        "log.jsonl",
    ):
        assert (tmp_path / "run" / f).is_file(), f
    assert m["steps"] == 3 and m["target"] == "de" and 0 <= m["uar"] <= 100
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == m
    stamp = (tmp_path / "run" / "metrics.json").stat().st_mtime_ns
    assert run_experiment(cfg, tmp_path / "run", progress=False) == m  # finished: not run again
    assert (tmp_path / "run" / "metrics.json").stat().st_mtime_ns == stamp


def test_train_cli(manifest, tmp_path, capsys):
    from xlser.cli import main

    args = [
        "train",
        "--profile",
        "smoke",
        "--task",
        "en-fr",
        "--system",
        "baseline2",
        "--seed",
        "1",
        "--set",
        f"data.manifests=[{manifest}]",
        "--set",
        "train.max_steps=2",
        "--set",
        "train.eval_every=1000",
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(args) == 0
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert (m["task"], m["system"], m["seed"], m["steps"]) == ("en-fr", "baseline2", 1, 2)
    assert "target UAR" in capsys.readouterr().out
    assert main(["train", "--profile", "smoke", "--set", "loss.temprature=1"]) == 2
    assert "did you mean 'loss.temperature'" in capsys.readouterr().err


class _Interrupt:
    """A hook that stops the process (as Ctrl-C would) at a given step."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_step_end(self, trainer, logs):
        if logs["step"] == self.at_step:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_to_the_same_result(manifest, tmp_path):
    from safetensors.torch import load_file

    cfg = cfg_for(manifest, system="proposed", **{"train.max_epochs": 3, "train.eval_every": None})
    whole = run_experiment(cfg, tmp_path / "whole", progress=False)
    steps_per_epoch = whole["steps"] // 3
    with pytest.raises(KeyboardInterrupt):  # dies in the second epoch, after one checkpoint
        run_experiment(
            cfg, tmp_path / "cut", progress=False, hooks=[_Interrupt(steps_per_epoch + 1)]
        )
    assert (tmp_path / "cut" / "checkpoint.pt").is_file()
    assert not (tmp_path / "cut" / "metrics.json").exists()
    other = cfg_for(
        manifest, system="proposed", **{"train.max_epochs": 4, "train.eval_every": None}
    )
    with pytest.raises(ValueError, match="another config"):
        run_experiment(other, tmp_path / "cut", progress=False)
    resumed = run_experiment(cfg, tmp_path / "cut", progress=False)
    assert not (tmp_path / "cut" / "checkpoint.pt").exists()
    drop = ("wall_s",)
    assert {k: v for k, v in resumed.items() if k not in drop} == {
        k: v for k, v in whole.items() if k not in drop
    }
    a, b = (
        load_file(tmp_path / "whole" / "model.safetensors"),
        load_file(tmp_path / "cut" / "model.safetensors"),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
