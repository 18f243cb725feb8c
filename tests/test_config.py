"""Config: profiles, round-trips through YAML/JSON, and errors that name the key and the allowed values."""

from __future__ import annotations

import dataclasses

import pytest

from xlser.config import (
    PROFILES,
    SYSTEMS,
    ConfigError,
    ExperimentConfig,
    asdict,
    from_dict,
    load_config,
    profile,
    save_config,
)


def test_full_profile_has_the_papers_settings():
    cfg = ExperimentConfig.from_profile("full")
    assert (cfg.loss.w_scl, cfg.loss.w_adv, cfg.loss.cross_lingual_pos_weight) == (1.0, 0.3, 2.5)
    assert cfg.loss.temperature == 0.07 and cfg.loss.pos_norm == "count"
    assert (cfg.sampler.n_languages, cfg.sampler.n_emotions, cfg.sampler.n_per_pair) == (3, 4, 3)
    assert cfg.batch_size == 36
    assert (cfg.peft.lora_r, cfg.peft.lora_alpha, cfg.peft.adapter_dim) == (8, 16, 48)
    assert cfg.model.encoder == "auto" and cfg.model.classifier_type == "linear"


def test_smoke_changes_budget_not_method():
    smoke, full = ExperimentConfig.from_profile("smoke"), ExperimentConfig.from_profile("full")
    assert smoke.model.encoder == "xlser-tiny" and smoke.train.device == "cpu"
    assert smoke.data.world is not None and full.data.world is None
    # the method's hyperparameters are the paper's in both profiles
    for part in ("loss", "sampler", "peft"):
        assert asdict(getattr(smoke, part)) == asdict(getattr(full, part))


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize("prof", PROFILES)
def test_round_trip(tmp_path, suffix, prof):
    cfg = ExperimentConfig.from_profile(
        prof,
        system="wo_scl",
        seed=3,
        **{"loss.temperature": 0.1, "model.checkpoints": {"en": "/m"}},
    )
    path = save_config(cfg, tmp_path / f"c{suffix}")
    back = load_config(path)
    assert back == cfg
    assert back.model.checkpoints == {"en": "/m"}


def test_save_refuses_to_overwrite(tmp_path):
    cfg = ExperimentConfig.from_profile("smoke")
    p = save_config(cfg, tmp_path / "c.yaml")
    with pytest.raises(FileExistsError, match="overwrite"):
        save_config(cfg, p)
    save_config(cfg, p, overwrite=True)


def test_partial_file_takes_profile_defaults(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("profile: smoke\nloss:\n  w_adv: 0.0\n")
    cfg = load_config(p)
    assert cfg.loss.w_adv == 0.0 and cfg.loss.w_scl == 1.0 and cfg.model.encoder == "xlser-tiny"


def test_unknown_key_names_key_and_suggests(tmp_path):
    with pytest.raises(ConfigError, match=r"'loss.temprature'.*did you mean 'loss.temperature'"):
        ExperimentConfig.from_profile("smoke", **{"loss.temprature": 0.1})
    p = tmp_path / "c.yaml"
    p.write_text("profile: smoke\nsampler:\n  n_langs: 2\n")
    with pytest.raises(ConfigError, match=r"c.yaml.*sampler.n_langs.*Allowed keys"):
        load_config(p)


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("loss.pos_norm", "median", r"loss.pos_norm='median'.*\['count', 'weight_sum'\]"),
        ("system", "best", r"system='best'.*" + ".*".join(SYSTEMS)),
        ("sampler.n_per_pair", 2.5, "must be an integer"),
        ("sampler.n_per_pair", True, "must be an integer"),
        ("loss.w_adv", "high", "must be a number"),
        ("peft.lora", "yes", "true or false"),
        ("data.max_seconds", "long", "must be a number"),
    ],
)
def test_bad_values_name_key_and_allowed(key, value, match):
    with pytest.raises(ConfigError, match=match):
        ExperimentConfig.from_profile("smoke", **{key: value})


def test_optional_and_int_to_float():
    cfg = ExperimentConfig.from_profile("smoke", **{"data.max_seconds": None, "loss.w_adv": 1})
    assert cfg.data.max_seconds is None
    assert isinstance(cfg.loss.w_adv, float) and cfg.loss.w_adv == 1.0


def test_bad_profile_and_env_switch(monkeypatch):
    with pytest.raises(ConfigError, match="profile 'gpu'"):
        ExperimentConfig.from_profile("gpu")
    monkeypatch.setenv("XLSER_PROFILE", "full")
    assert profile() == "full"
    monkeypatch.setenv("XLSER_PROFILE", "fast")
    with pytest.raises(ConfigError, match="XLSER_PROFILE='fast'"):
        profile()
    monkeypatch.delenv("XLSER_PROFILE")
    assert profile() == "smoke"


def test_validate_cross_field():
    cfg = ExperimentConfig.from_profile("smoke", task="en-en")
    with pytest.raises(ValueError, match="differ"):
        cfg.validate()
    cfg = ExperimentConfig.from_profile("smoke", **{"loss.temperature": 0.0})
    with pytest.raises(ConfigError, match="temperature"):
        cfg.validate()
    ExperimentConfig.from_profile("full").validate()


def test_every_field_documented_type_is_checkable():
    """from_dict must accept the dict of every default config (no type it cannot check)."""
    for prof in PROFILES:
        cfg = ExperimentConfig.from_profile(prof)
        assert from_dict(asdict(cfg)) == cfg
        for f in dataclasses.fields(cfg):
            assert f.name in asdict(cfg)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("train.max_steps", 0, "train.max_steps must be >= 1"),
        ("train.max_steps", -1, "train.max_steps must be >= 1"),
        ("train.patience", 0, "train.patience must be >= 1"),
        ("train.eval_every", 0, "train.eval_every must be >= 1"),
        ("train.lr", 0.0, "train.lr must be > 0"),
        ("loss.w_adv", -0.3, "loss.w_adv must be >= 0"),
        ("loss.cross_lingual_pos_weight", 0.0, "cross_lingual_pos_weight must be > 0"),
        ("sampler.n_per_pair", 1, "n_per_pair must be >= 2"),
        ("data.max_seconds", 0.01, "data.max_seconds must be >= 0.025"),
        ("data.world.dialect_strength", -1.0, "dialect_strength must be a finite number >= 0"),
        ("seed", -1, "seed must be >= 0"),
        ("train.device", "gpu", "train.device must be auto, cpu"),
    ],
)
def test_out_of_range_values_name_the_key(key, value, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig.from_profile("smoke", **{key: value}).validate()


def test_malformed_config_file_names_the_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("loss: [unclosed\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML"):
        load_config(p)


def test_sources_tag_every_key_once():
    from xlser.config import SOURCE_TAGS, SOURCES, _flat, source_tags

    assert set(SOURCES) == set(_flat(asdict(ExperimentConfig.from_profile("full"))))
    assert set(SOURCES.values()) == {"paper", "secondary", "reproduction"} < set(SOURCE_TAGS)
    secondary = {k for k, tag in SOURCES.items() if tag == "secondary"}
    assert secondary == {
        "loss.cross_lingual_pos_weight",
        "loss.w_scl",
        "loss.w_adv",
        "sampler.n_languages",
        "sampler.n_emotions",
        "sampler.n_per_pair",
    }
    smoke = {k for k, tag in source_tags("smoke").items() if tag == "smoke"}
    changed = {"data.manifests", "data.world", "data.synthesize_if_missing", "data.max_seconds",
               "model.encoder", "profile", "train.max_steps", "train.eval_every", "train.lr",
               "train.precision", "train.device", "train.patience"}  # fmt: skip
    assert smoke == changed  # SMOKE_OVERRIDES (log_every is the same in both), never the method
    assert not smoke & (secondary | {k for k in SOURCES if k.startswith(("loss.", "peft."))})


def test_option_tuples_come_from_the_literals():
    from xlser.config import (
        ADV_WEIGHT_MODES,
        ANCHOR_REDUCES,
        GRL_SCHEDULES,
        POS_NORMS,
        WG_POSITIONS,
        allowed_values,
    )

    assert allowed_values("peft.wg_position") == WG_POSITIONS == ("layer_input", "layer_output")
    assert allowed_values("loss.pos_norm") == POS_NORMS == ("count", "weight_sum")
    assert allowed_values("loss.anchor_reduce") == ANCHOR_REDUCES == ("mean", "sum")
    assert allowed_values("loss.adv_weight_mode") == ADV_WEIGHT_MODES == ("loss", "grl")
    assert allowed_values("loss.grl_schedule") == GRL_SCHEDULES == ("constant", "dann")
    assert allowed_values("system") == SYSTEMS and allowed_values("profile") == PROFILES
    with pytest.raises(ConfigError, match="'loss.lamda'"):
        allowed_values("loss.lamda")
    with pytest.raises(ConfigError, match="not closed-valued"):
        allowed_values("loss.temperature")
