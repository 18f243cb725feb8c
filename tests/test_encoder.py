"""Encoder building and loading: tiny config, local save_pretrained round trip, offline errors."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import Wav2Vec2Config, Wav2Vec2Model
from transformers.models.wav2vec2.modeling_wav2vec2 import (
    Wav2Vec2EncoderLayer,
    Wav2Vec2EncoderLayerStableLayerNorm,
)

from xlser.config import ModelConfig
from xlser.encoder import (
    EncoderNotFoundError,
    load_encoder,
    resolve_checkpoint,
    tiny_wav2vec2_config,
)
from xlser.tasks import SOURCE_CHECKPOINTS


def test_tiny_config_matches_base_structure():
    c = tiny_wav2vec2_config(ModelConfig())
    base = Wav2Vec2Config()
    assert c.feat_extract_norm == base.feat_extract_norm == "group"
    assert c.do_stable_layer_norm is base.do_stable_layer_norm is False
    assert list(c.conv_kernel) == list(base.conv_kernel)
    assert list(c.conv_stride) == list(base.conv_stride)
    assert torch.tensor(c.conv_stride).prod().item() == 320
    assert c.hidden_size == 64 and c.num_hidden_layers == 2 and c.intermediate_size == 256


def test_tiny_encoder_frames_and_info():
    enc, info = load_encoder(ModelConfig(encoder="tiny"), "en")
    assert isinstance(enc, Wav2Vec2Model)
    assert enc.config._attn_implementation == "sdpa"
    assert (info.kind, info.hidden_size, info.num_layers) == ("tiny", 64, 2)
    assert (info.layer_flavour, info.feat_extract_norm) == ("post_ln", "group")
    assert (info.return_attention_mask, info.do_normalize, info.preprocessor_found) == (
        False,
        True,
        False,
    )
    assert all(type(layer) is Wav2Vec2EncoderLayer for layer in enc.encoder.layers)
    x = torch.randn(1, 16000)
    with torch.no_grad():
        h = enc.eval()(x).last_hidden_state
    assert h.shape == (1, 49, 64)  # 20 ms frames, 400-sample receptive field
    assert int(enc._get_feat_extract_output_lengths(torch.tensor(16000))) == 49


def test_tiny_stable_layer_norm_flavour_and_eager():
    cfg = ModelConfig(
        encoder="tiny",
        tiny_stable_layer_norm=True,
        tiny_feat_extract_norm="layer",
        attn_implementation="eager",
    )
    enc, info = load_encoder(cfg, "en")
    assert info.layer_flavour == "pre_ln" and info.feat_extract_norm == "layer"
    assert all(type(layer) is Wav2Vec2EncoderLayerStableLayerNorm for layer in enc.encoder.layers)
    assert enc.config._attn_implementation == "eager"


def test_truncation():
    enc, info = load_encoder(ModelConfig(encoder="tiny", tiny_layers=3, num_encoder_layers=2), "en")
    assert len(enc.encoder.layers) == 2 == info.num_layers == enc.config.num_hidden_layers
    with pytest.raises(ValueError, match="num_encoder_layers"):
        load_encoder(ModelConfig(encoder="tiny", num_encoder_layers=5), "en")


@pytest.mark.parametrize("spec_augment", [True, False])
def test_spec_augment_switch(spec_augment):
    torch.manual_seed(0)
    enc, _ = load_encoder(ModelConfig(encoder="tiny", spec_augment=spec_augment), "en")
    assert (enc.config.mask_time_prob > 0) is spec_augment
    h = torch.randn(2, 60, 64)
    masked = enc.train()._mask_hidden_states(h.clone())
    assert torch.equal(masked, h) is not spec_augment


def test_resolve_checkpoint():
    assert resolve_checkpoint(ModelConfig(), "zh") == SOURCE_CHECKPOINTS["zh"]
    assert resolve_checkpoint(ModelConfig(checkpoints={"zh": "/m/zh"}), "zh") == "/m/zh"
    assert resolve_checkpoint(ModelConfig(encoder="org/model"), "zh") == "org/model"
    with pytest.raises(ValueError, match="model.checkpoints.ur"):
        resolve_checkpoint(ModelConfig(), "ur")


@pytest.fixture
def saved_tiny(tmp_path):
    """A tiny random pre-LN model saved like a hub checkpoint, with a preprocessor config."""
    cfg = ModelConfig(encoder="tiny", tiny_stable_layer_norm=True, tiny_feat_extract_norm="layer")
    torch.manual_seed(1)
    model = Wav2Vec2Model(tiny_wav2vec2_config(cfg))
    model.save_pretrained(tmp_path)
    pre = {
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "return_attention_mask": True,
        "do_normalize": False,
        "sampling_rate": 16000,
    }
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(pre))
    return tmp_path, model


def test_local_save_pretrained_round_trip(saved_tiny):
    path, model = saved_tiny
    for cfg in (
        ModelConfig(encoder=str(path)),
        ModelConfig(checkpoints={"en": str(path)}),  # encoder="auto"
    ):
        enc, info = load_encoder(cfg, "en")
        assert info.kind == "pretrained" and info.name == str(path)
        assert info.return_attention_mask is True and info.do_normalize is False
        assert info.preprocessor_found and info.layer_flavour == "pre_ln"
        assert enc.config._attn_implementation == "sdpa"
        ref = model.state_dict()
        got = enc.state_dict()
        assert ref.keys() == got.keys()
        for k in ref:
            assert torch.equal(ref[k], got[k]), k


def test_local_random_init_keeps_architecture(saved_tiny):
    path, model = saved_tiny
    enc, info = load_encoder(ModelConfig(encoder=str(path), random_init=True), "en")
    assert info.kind == "random_init" and info.note == ""
    assert info.layer_flavour == "pre_ln" and info.return_attention_mask is True
    assert enc.config.to_diff_dict() == model.config.to_diff_dict()
    w0 = model.encoder.layers[0].attention.q_proj.weight
    assert not torch.equal(enc.encoder.layers[0].attention.q_proj.weight, w0)


def test_preprocessor_missing_gives_base_defaults(tmp_path):
    Wav2Vec2Model(tiny_wav2vec2_config(ModelConfig())).save_pretrained(tmp_path)
    _, info = load_encoder(ModelConfig(encoder=str(tmp_path)), "de")
    assert not info.preprocessor_found
    assert (info.return_attention_mask, info.do_normalize) == (False, True)


def test_missing_hub_id_offline_says_how_to_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "xlser-tests/no-such-checkpoint"
    with pytest.raises(EncoderNotFoundError) as err:
        load_encoder(ModelConfig(encoder=name), "fr")
    msg = str(err.value)
    assert f"huggingface-cli download {name} --local-dir" in msg
    assert "HF_HUB_OFFLINE" in msg and "model.checkpoints.fr" in msg and "model.encoder" in msg
    assert isinstance(err.value, FileNotFoundError)  # the CLI reports it in one line


def test_missing_paper_checkpoint_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderNotFoundError, match="facebook/wav2vec2-base-960h"):
        load_encoder(ModelConfig(), "en")


def test_missing_local_folder(tmp_path):
    with pytest.raises(EncoderNotFoundError, match="does not exist"):
        load_encoder(ModelConfig(encoder=str(tmp_path / "nope")), "en")


def test_random_init_uncached_hub_id_falls_back_to_base(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    enc, info = load_encoder(ModelConfig(random_init=True, num_encoder_layers=2), "zh")
    assert info.kind == "random_init" and "wav2vec2-base" in info.note
    assert info.name == SOURCE_CHECKPOINTS["zh"]
    assert (info.hidden_size, info.layer_flavour, info.feat_extract_norm) == (
        768,
        "post_ln",
        "group",
    )
    assert enc.config.intermediate_size == 3072 and info.num_layers == 2


def test_layerdrop_override():
    assert load_encoder(ModelConfig(encoder="tiny"), "en")[0].config.layerdrop == 0.1  # HF default
    assert load_encoder(ModelConfig(encoder="tiny", layerdrop=0.0), "en")[0].config.layerdrop == 0.0
