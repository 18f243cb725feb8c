"""``summary`` command and :func:`xlser.summary.summarize`: exact counts for both profiles."""

from __future__ import annotations

import argparse
import json

import pytest

from xlser.cli import COMMANDS
from xlser.config import ExperimentConfig
from xlser.encoder import EncoderNotFoundError
from xlser.summary import JSON_KEYS, SMOKE_N_SPEAKERS, default_n_speakers, register_cli, summarize


def expected(d: int, inter: int, layers: int, n_speakers: int, r: int = 8, b: int = 48) -> dict:
    """Hand formulas of the task brief (default PEFT, linear emotion head, speaker head h=256)."""
    lora = layers * (4 * r * (d + d) + r * (d + inter) + r * (inter + d))
    adapter = layers * ((d * b + b) + (b * d + d))
    gate = layers * d
    emotion = d * 4 + 4
    speaker = (d * 256 + 256 + 256 * n_speakers + n_speakers) if n_speakers else 0
    counts = {"lora": lora, "adapter": adapter, "gate": gate, "emotion_head": emotion}
    counts["speaker_head"] = speaker
    counts["trainable"] = sum(counts.values())
    return counts


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers())
    args = parser.parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


def test_registered_in_cli():
    assert "xlser.summary" in COMMANDS


def test_summarize_smoke_exact():
    counts = summarize(ExperimentConfig.from_profile("smoke"), n_speakers=SMOKE_N_SPEAKERS)
    exp = expected(64, 256, 2, SMOKE_N_SPEAKERS)
    assert {k: counts[k] for k in exp} == exp
    assert set(counts) == set(JSON_KEYS)


def test_cli_json_smoke_matches_summarize(capsys):
    code, out = run_cli(["summary", "--json"], capsys)
    assert code == 0
    counts = json.loads(out)  # the whole stdout is one JSON object
    assert list(counts) == list(JSON_KEYS)
    assert all(type(v) is int for v in counts.values())
    assert counts == summarize(ExperimentConfig.from_profile("smoke"), SMOKE_N_SPEAKERS)


def test_cli_full_random_init_is_exact_wav2vec2_base(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out = run_cli(["summary", "--profile", "full", "--random-init", "--json"], capsys)
    assert code == 0
    counts = json.loads(out)
    exp = expected(768, 3072, 12, 288)  # en-de: Table 1 has 288 training speakers
    assert {k: counts[k] for k in exp} == exp
    assert exp == {
        "lora": 1327104,
        "adapter": 894528,
        "gate": 9216,
        "emotion_head": 3076,
        "speaker_head": 270880,
        "trainable": 2504804,
    }
    assert counts["total"] == 94371712 + exp["trainable"]  # Wav2Vec2Model(Wav2Vec2Config())


def test_cli_text_and_options(capsys):
    code, out = run_cli(["summary", "--task", "zh-fr", "--n-speakers", "0"], capsys)
    assert code == 0
    assert "task zh-fr" in out and "speakers 0" in out
    assert "trainable params: 31,332 || all params:" in out  # 31,072 PEFT + 260 emotion head
    assert out.splitlines()[5].split() == ["speaker_head", "0"]


def test_default_n_speakers():
    assert default_n_speakers(ExperimentConfig.from_profile("smoke")) == SMOKE_N_SPEAKERS
    full = {
        t: default_n_speakers(ExperimentConfig.from_profile("full", task=t))
        for t in ("en-de", "de-fr", "fr-zh")
    }
    assert full == {"en-de": 288, "de-fr": 286, "fr-zh": 288}


def test_full_without_checkpoint_offline_says_how(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderNotFoundError, match="huggingface-cli download"):
        run_cli(["summary", "--profile", "full", "--json"], capsys)
    assert capsys.readouterr().out == ""
