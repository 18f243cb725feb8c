"""The training loop on the synthetic corpus: zero-shot data selection, eq. 12, the exact front-end
cache, run-folder ownership, and resuming inside an epoch to the same result."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from xlser.config import ExperimentConfig
from xlser.experiment import RunFolderError
from xlser.frontend import FeatureBatch
from xlser.train import Trainer, make_batch_sampler, run_experiment, task_data


@pytest.fixture
def manifest(tiny_world):
    return tiny_world


def cfg_for(manifest, **kw):
    over = {
        "data.manifests": [str(manifest)],
        "data.synthesize_if_missing": False,
        "data.max_seconds": 1.0,
        "train.eval_every": 10_000,
        "train.log_every": 1,
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


def _history(cfg):
    trainer = Trainer(cfg, task_data(cfg), progress=False)
    trainer.fit()
    return [r for r in trainer.state.history if r["kind"] == "train"]


@pytest.mark.parametrize(
    ("system", "terms"), [("baseline2", ("ce",)), ("proposed", ("scl", "adv"))]
)
def test_twenty_smoke_steps_lower_the_losses(manifest, system, terms):
    """CE alone falls within 20 steps; with SCL and ADV on, the contrastive and speaker terms fall
    (CE may not yet: on this tiny corpus SCL's gradients dominate its first steps)."""
    cfg = cfg_for(manifest, system=system, seed=0, **{"train.max_steps": 20, "train.lr": 2e-3})
    h = _history(cfg)
    assert len(h) == 20
    for key in terms:
        first = np.mean([r[key] for r in h[:5]])
        last = np.mean([r[key] for r in h[-5:]])
        assert last < first, (key, first, last)
    if system == "proposed":  # eq. 12: the logged total is CE + 1.0 * SCL + 0.3 * ADV
        r = h[-1]
        assert r["loss"] == pytest.approx(r["ce"] + 1.0 * r["scl"] + 0.3 * r["adv"], rel=1e-5)


def test_ablations_drop_their_term(manifest):
    for system, absent in [("wo_scl", "scl"), ("wo_adv", "adv"), ("baseline2", "scl")]:
        cfg = cfg_for(manifest, system=system, **{"train.max_steps": 1})
        t = Trainer(cfg, task_data(cfg), progress=False)
        t.fit()
        assert absent not in t.state.history[0]
    cfg = cfg_for(manifest, system="wo_adv", **{"train.max_steps": 1})
    assert Trainer(cfg, task_data(cfg), progress=False).model.speaker_head is None


def test_frontend_cache_equals_running_the_cnn(manifest):
    """Cached features through forward_features == each utterance through the whole encoder."""
    fixed = {"model.spec_augment": False, "sampler.replacement": True}
    cfg = cfg_for(manifest, system="baseline1", **fixed)
    d = task_data(cfg)
    t = Trainer(cfg, d, progress=False)
    assert isinstance(next(t.inputs.eval_batches(d.test, 4))[1], FeatureBatch)
    assert not any(p.requires_grad for p in t.model.encoder.feature_extractor.parameters())
    assert not t.model.encoder.feature_extractor._requires_grad  # no backward graph through it
    cached = t.predict(d.test)["embeddings"]
    off = cfg_for(manifest, system="baseline1", **fixed, **{"model.frontend_cache": "off"})
    t2 = Trainer(off, task_data(off), model=t.model, progress=False)
    ref = np.stack([t2.predict(d.test.iloc[[i]])["embeddings"][0] for i in range(len(d.test))])
    np.testing.assert_allclose(cached, ref, rtol=2e-3, atol=2e-3)  # float16 cache


def test_run_experiment_writes_and_resumes(manifest, tmp_path):
    cfg = cfg_for(manifest, system="wo_adv", **{"train.max_steps": 3})
    m = run_experiment(cfg, tmp_path / "run", progress=False)
    for f in (
        "run.json",
        "config.yaml",
        "model.safetensors",
        "trainer_state.json",
        "metrics.json",
        "log.jsonl",
        "predictions.csv",
        "embeddings.safetensors",
    ):
        assert (tmp_path / "run" / f).is_file(), f
    assert m["steps"] == 3 and m["target"] == "de" and 0 <= m["uar"] <= 100
    assert m["test_n"] == 4 and sum(map(sum, m["confusion"])) == 4
    assert m["encoder"].endswith("assets/encoders/en")  # the source-matched tiny encoder
    import pandas as pd
    from safetensors.torch import load_file

    preds = pd.read_csv(tmp_path / "run" / "predictions.csv")
    emb = load_file(tmp_path / "run" / "embeddings.safetensors")["embeddings"]
    assert len(preds) == emb.shape[0] and preds.is_target.sum() == 4
    assert set(preds.language) == {"en", "zh", "fr", "ur", "de"}
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == m
    stamp = (tmp_path / "run" / "metrics.json").stat().st_mtime_ns
    assert run_experiment(cfg, tmp_path / "run", progress=False) == m  # finished: not run again
    assert (tmp_path / "run" / "metrics.json").stat().st_mtime_ns == stamp


def test_run_folder_ownership(manifest, tmp_path):
    small = {"train.max_steps": 1, "sampler.replacement": True}  # tiny pools
    cfg = cfg_for(manifest, system="baseline1", **small)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "config.yaml").write_text("my own config")
    (foreign / "log.jsonl").write_text("my log")
    for overwrite in (False, True):
        with pytest.raises(RunFolderError, match="not an xlser run folder"):
            run_experiment(cfg, foreign, progress=False, overwrite=overwrite)
    assert (foreign / "config.yaml").read_text() == "my own config"
    assert (foreign / "log.jsonl").read_text() == "my log"
    first = run_experiment(cfg, tmp_path / "r", progress=False)
    # how the audio is read is not part of the run: the finished run is returned, not refused
    io_only = cfg_for(manifest, system="baseline1", **small,
                      **{"data.num_workers": 2, "data.resample_cache": False})  # fmt: skip
    assert run_experiment(io_only, tmp_path / "r", progress=False) == first
    other = cfg_for(manifest, system="baseline2", **small)
    with pytest.raises(RunFolderError, match="system: 'baseline1' -> 'baseline2'"):
        run_experiment(other, tmp_path / "r", progress=False)  # never the old system's metrics
    (tmp_path / "r" / "notes.txt").write_text("keep")
    m = run_experiment(other, tmp_path / "r", progress=False, overwrite=True)
    assert m["system"] == "baseline2" and (tmp_path / "r" / "notes.txt").read_text() == "keep"


def test_bad_config_leaves_no_folder(manifest, tmp_path):
    cfg = cfg_for(manifest, system="proposed", **{"loss.cross_lingual_pos_weight": -1.0})
    with pytest.raises(ValueError, match="cross_lingual_pos_weight"):
        run_experiment(cfg, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


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


def test_interrupted_run_resumes_inside_an_epoch_to_the_same_result(manifest, tmp_path):
    from safetensors.torch import load_file

    over = {"train.max_steps": 9, "train.eval_every": 3, "train.checkpoint_every": 2,
            "sampler.replacement": True, "sampler.num_batches": 4}  # fmt: skip
    cfg = cfg_for(manifest, system="proposed", **over)
    whole = run_experiment(cfg, tmp_path / "whole", progress=False)
    with pytest.raises(KeyboardInterrupt):  # dies at step 7: checkpoint of step 6, mid-epoch 1
        run_experiment(cfg, tmp_path / "cut", progress=False, hooks=[_Interrupt(7)])
    assert json.loads((tmp_path / "cut" / "checkpoint.json").read_text())["step"] == 6
    assert not (tmp_path / "cut" / "metrics.json").exists()
    other = cfg_for(manifest, system="proposed", **{**over, "train.max_steps": 10})
    with pytest.raises(RunFolderError, match="max_steps: 10 -> 9|max_steps: 9 -> 10"):
        run_experiment(other, tmp_path / "cut", progress=False)
    resumed = run_experiment(cfg, tmp_path / "cut", progress=False)
    assert not (tmp_path / "cut" / "checkpoint.json").exists()
    drop = ("wall_s",)
    assert {k: v for k, v in resumed.items() if k not in drop} == {
        k: v for k, v in whole.items() if k not in drop
    }
    a, b = (
        load_file(tmp_path / "whole" / "model.safetensors"),
        load_file(tmp_path / "cut" / "model.safetensors"),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    logs = [json.loads(x) for x in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    keys = [(r["kind"], r["step"]) for r in logs]
    assert len(keys) == len(set(keys))  # a resumed log has no duplicated records


def test_a_manifest_typo_never_synthesises_into_the_users_folder(tmp_path):
    corpus = tmp_path / "corpus3"
    mine = corpus / "wav" / "real" / "take1.wav"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"RIFF mine")
    cfg = ExperimentConfig.from_profile(
        "smoke", **{"data.manifests": [str(corpus / "mycorpus_typo.csv")]}
    )
    assert cfg.data.synthesize_if_missing  # on in the smoke profile, for its own folder only
    with pytest.raises(FileNotFoundError, match="mycorpus_typo.csv"):
        run_experiment(cfg, tmp_path / "run", progress=False)
    assert mine.read_bytes() == b"RIFF mine"
    assert sorted(p.name for p in corpus.rglob("*")) == ["real", "take1.wav", "wav"]
    assert not (tmp_path / "run").exists()
