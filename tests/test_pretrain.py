"""Pretraining the tiny encoders: the folder format, the shipped encoders, and reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import Wav2Vec2Model

from xlser.cli import main
from xlser.config import ExperimentConfig, ModelConfig
from xlser.encoder import ENCODER_ASSETS, load_encoder, resolve_checkpoint
from xlser.pretrain import PretrainConfig, mfcc_targets, pretrain, units_per_frame
from xlser.world.config import WorldConfig

SOURCES = ("en", "zh", "de", "fr")


def _small_world(n: int = 24) -> WorldConfig:
    w = WorldConfig()
    for d in w.designs.values():
        d.pretrain_utterances = n
    return w


def test_mfcc_frames_align_with_the_cnn_frames():
    waves = [np.random.default_rng(0).standard_normal(n).astype(np.float32) for n in (16000, 7777)]
    cfg = ModelConfig(encoder="tiny")
    enc, _ = load_encoder(cfg, "en")
    for w, m in zip(waves, mfcc_targets(waves)):
        t = int(enc._get_feat_extract_output_lengths(len(w)))
        assert m.shape == (t, 39) == (units_per_frame(len(w)), 39)


def test_pretrain_writes_a_folder_from_pretrained_loads(tmp_path):
    out = tmp_path / "de"
    cfg = PretrainConfig(max_steps=3, batch_size=4, n_units=8, kmeans_frames=2000)
    rec = pretrain("de", out, cfg, world=_small_world(), progress=False)
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "pretrain.json",
    } <= names
    model = Wav2Vec2Model.from_pretrained(out)
    assert model.config.hidden_size == 64 and model.config.feat_extract_norm == "group"
    assert json.loads((out / "pretrain.json").read_text()) == rec
    assert rec["pool_utterances"] == 24 and rec["pretrain"]["max_steps"] == 3
    with pytest.raises(FileExistsError, match="--overwrite"):
        pretrain("de", out, cfg, world=_small_world(), progress=False)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not an encoder folder"):
        pretrain("de", foreign, cfg, world=_small_world(), progress=False, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "keep"


def test_cli_pretrain_max_steps(tmp_path, capsys, monkeypatch):
    import xlser.pretrain as mod

    small = _small_world(16)  # the CLI's own code path, on a smaller pool
    real = mod.pretrain
    monkeypatch.setattr(mod, "pretrain", lambda *a, **k: real(*a, **{**k, "world": small}))
    assert main(["pretrain", "--language", "fr", "--out", str(tmp_path / "fr"),
                 "--max-steps", "2", "--quiet"]) == 0  # fmt: skip
    assert "fr encoder, 2 steps" in capsys.readouterr().out
    assert main(["pretrain", "--language", "fr", "--out", str(tmp_path / "x"),
                 "--max-steps", "0", "--quiet"]) == 2  # fmt: skip


@pytest.mark.parametrize("lang", SOURCES)
def test_smoke_profile_loads_the_shipped_encoder_of_the_source_language(lang):
    folder = ENCODER_ASSETS / lang
    rec = json.loads((folder / "pretrain.json").read_text())
    assert rec["language"] == lang and rec["loss_last_50"] < rec["chance_loss"]
    cfg = ExperimentConfig.from_profile("smoke", task=f"{lang}-{'de' if lang != 'de' else 'fr'}")
    assert resolve_checkpoint(cfg.model, lang) == str(folder)
    enc, info = load_encoder(cfg.model, lang)
    assert info.kind == "pretrained" and info.name == str(folder)
    ref = Wav2Vec2Model.from_pretrained(folder)
    assert all(torch.equal(a, b) for a, b in zip(enc.state_dict().values(),
                                                 ref.state_dict().values()))  # fmt: skip


def test_shipped_encoders_are_small():
    total = sum(p.stat().st_size for p in ENCODER_ASSETS.rglob("*") if p.is_file())
    assert total <= 5 * 2**20


@pytest.mark.slow
def test_the_recorded_command_reproduces_the_shipped_encoder_closely(tmp_path):
    """Re-run the French encoder's recorded command: same masked-unit loss to 0.05 nats and
    nearly the same weights (thread counts may change float summation order)."""
    rec = json.loads((ENCODER_ASSETS / "fr" / "pretrain.json").read_text())
    cfg = PretrainConfig(**rec["pretrain"])
    torch.set_num_threads(1)
    again = pretrain("fr", tmp_path / "fr", cfg, progress=False)
    assert again["loss_last_50"] == pytest.approx(rec["loss_last_50"], abs=0.05)
    a = Wav2Vec2Model.from_pretrained(ENCODER_ASSETS / "fr").state_dict()
    b = Wav2Vec2Model.from_pretrained(tmp_path / "fr").state_dict()
    flat_a = torch.cat([v.flatten().float() for v in a.values()])
    flat_b = torch.cat([v.flatten().float() for v in b.values()])
    assert torch.nn.functional.cosine_similarity(flat_a, flat_b, dim=0) > 0.95
