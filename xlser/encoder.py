"""Building and loading the wav2vec 2.0 encoder (Baevski et al., 2020; Mi et al., 2026, §3.3).

Every task starts from the wav2vec 2.0 Base checkpoint matched to its **source** language
(:data:`xlser.tasks.SOURCE_CHECKPOINTS`). :func:`load_encoder` resolves ``ModelConfig.encoder``:

* ``"xlser-tiny"``: the tiny ``Wav2Vec2Model`` pretrained by xlser on the source language of the
  synthetic world (:mod:`xlser.pretrain`; shipped in ``xlser/assets/encoders``), the smoke profile's;
* ``"tiny"``: a tiny *random* ``Wav2Vec2Model`` (:func:`tiny_wav2vec2_config`);
* ``"auto"``: ``ModelConfig.checkpoints[lang]`` if set, else the paper's checkpoint for ``lang``;
* anything else: a Hugging Face hub id or a local folder holding ``save_pretrained`` output.

With ``random_init`` the chosen checkpoint's *architecture* is built with random weights and nothing
is downloaded: its ``config.json`` is read from the local folder or the HF cache, and when it is not
there, ``Wav2Vec2Config()`` (whose defaults are the wav2vec2-base architecture) is used instead.

Besides the model, :func:`load_encoder` returns an :class:`EncoderInfo` with what the rest of the
pipeline must respect: whether the checkpoint's feature extractor passes an attention
mask (``return_attention_mask``, False for wav2vec2-base) and normalises audio (``do_normalize``),
and the layer flavour, post-LN (``Wav2Vec2EncoderLayer``) or pre-LN
(``Wav2Vec2EncoderLayerStableLayerNorm``).

>>> from xlser.config import ModelConfig
>>> encoder, info = load_encoder(ModelConfig(encoder="tiny"), "en")
>>> info.hidden_size, info.num_layers, info.layer_flavour, info.return_attention_mask
(64, 2, 'post_ln', False)
>>> int(encoder._get_feat_extract_output_lengths(16000))  # 320x downsampling: 50 frames per second
49
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from torch import nn
from transformers import Wav2Vec2Config, Wav2Vec2Model

from xlser.config import ModelConfig
from xlser.errors import UsageError
from xlser.tasks import SOURCE_CHECKPOINTS

__all__ = [
    "EncoderInfo",
    "EncoderNotFoundError",
    "layer_flavour",
    "load_encoder",
    "resolve_checkpoint",
    "tiny_wav2vec2_config",
]

LayerFlavour = Literal["post_ln", "pre_ln"]
ENCODER_ASSETS = Path(__file__).resolve().parent / "assets" / "encoders"
"""Where the tiny pretrained encoders of the smoke profile live (one folder per source language)."""
logger = logging.getLogger(__name__)


def display_name(name: str) -> str:
    """``name`` as a run folder records it: a shipped encoder as ``xlser/assets/encoders/<lang>``
    (the same on every machine), anything else unchanged.

    >>> display_name(str(ENCODER_ASSETS / "de"))
    'xlser/assets/encoders/de'
    """
    try:
        rel = Path(name).resolve().relative_to(ENCODER_ASSETS)
    except (ValueError, OSError):
        return name
    return f"xlser/assets/encoders/{rel.as_posix()}"


class EncoderNotFoundError(FileNotFoundError):
    """The checkpoint is neither a local folder nor in the HF cache, and could not be downloaded."""


@dataclass
class EncoderInfo:
    """What was loaded, and the preprocessing the checkpoint expects."""

    name: str
    """``"tiny"``, the hub id or the local folder that was asked for."""
    kind: Literal["tiny", "pretrained", "random_init"]
    """Tiny random model, pretrained weights, or the checkpoint's architecture, random weights."""
    hidden_size: int
    """``D``: 768 for wav2vec2-base."""
    num_layers: int
    """Transformer layers kept (after ``num_encoder_layers`` truncation)."""
    layer_flavour: LayerFlavour
    """``post_ln`` (``do_stable_layer_norm=False``, base) or ``pre_ln`` (large/XLS-R style)."""
    feat_extract_norm: str
    """CNN normalisation, ``group`` (base: padding changes its output slightly) or ``layer``."""
    return_attention_mask: bool = False
    """From ``preprocessor_config.json``; False for wav2vec2-base: pad with zeros, pass no mask."""
    do_normalize: bool = True
    """From ``preprocessor_config.json``; zero-mean, unit-variance audio per utterance."""
    sampling_rate: int = 16000
    preprocessor_found: bool = False
    """Whether a ``preprocessor_config.json`` was read (otherwise the base defaults above)."""
    note: str = ""
    """Anything to know, e.g. that the base architecture stood in for a missing config."""


def tiny_wav2vec2_config(cfg: ModelConfig) -> Wav2Vec2Config:
    """A tiny wav2vec 2.0 with the base model's structure (Baevski et al., 2020) for smoke runs.

    Same seven-layer CNN kernels and strides as wav2vec2-base (320x downsampling, 20 ms frames, 400
    sample receptive field) with ``tiny_conv_dim`` channels; ``feat_extract_norm`` and the layer
    flavour follow ``cfg.tiny_feat_extract_norm`` / ``cfg.tiny_stable_layer_norm`` (default: group
    norm and post-LN, like wav2vec2-base, so the smoke profile exercises the same code paths).

    Args:
        cfg: The model config; its ``tiny_*`` fields give the sizes.

    Returns:
        A ``Wav2Vec2Config``.

    Example:
        >>> c = tiny_wav2vec2_config(ModelConfig())
        >>> c.hidden_size, c.num_hidden_layers, c.conv_stride, c.do_stable_layer_norm
        (64, 2, [5, 2, 2, 2, 2, 2, 2], False)
    """
    return Wav2Vec2Config(
        hidden_size=cfg.tiny_hidden_size,
        num_hidden_layers=cfg.tiny_layers,
        num_attention_heads=cfg.tiny_heads,
        intermediate_size=cfg.tiny_intermediate_size,
        conv_dim=(cfg.tiny_conv_dim,) * 7,
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        feat_extract_norm=cfg.tiny_feat_extract_norm,
        do_stable_layer_norm=cfg.tiny_stable_layer_norm,
        vocab_size=8,
        mask_time_length=2,  # 10 frames x 2 spans (HF's minimum) would mask ~20 % of a 2-s clip
    )


def layer_flavour(encoder: Wav2Vec2Model) -> LayerFlavour:
    """``"pre_ln"`` if the loaded config has ``do_stable_layer_norm``, else ``"post_ln"``."""
    return "pre_ln" if encoder.config.do_stable_layer_norm else "post_ln"


def resolve_checkpoint(cfg: ModelConfig, source_language: str) -> str:
    """The checkpoint ``cfg`` asks for: ``"tiny"``, a hub id, or a local folder (paper §3.3).

    ``"xlser-tiny"`` is the tiny encoder xlser pretrained on the source language of the synthetic
    world (:mod:`xlser.pretrain`), shipped in the package (``xlser/assets/encoders/<lang>``).

    Example:
        >>> resolve_checkpoint(ModelConfig(), "de")
        'facebook/wav2vec2-base-de-voxpopuli-v2'
        >>> resolve_checkpoint(ModelConfig(checkpoints={"de": "/models/de"}), "de")
        '/models/de'
    """
    if cfg.encoder == "xlser-tiny":
        folder = ENCODER_ASSETS / source_language
        if not (folder / "config.json").is_file():
            raise EncoderNotFoundError(
                f"no pretrained tiny encoder for source language {source_language!r} in "
                f"{folder}; make one with `python -m xlser pretrain --language "
                f"{source_language} --out {folder}` or set model.encoder"
            )
        return str(folder)
    if cfg.encoder != "auto":
        return cfg.encoder
    if source_language in cfg.checkpoints:
        return cfg.checkpoints[source_language]
    if source_language not in SOURCE_CHECKPOINTS:
        raise UsageError(
            f"no checkpoint for source language {source_language!r}: model.encoder='auto' knows "
            f"{sorted(SOURCE_CHECKPOINTS)}; "
            f"set model.checkpoints.{source_language} or model.encoder"
        )
    return SOURCE_CHECKPOINTS[source_language]


def load_encoder(cfg: ModelConfig, source_language: str) -> tuple[Wav2Vec2Model, EncoderInfo]:
    """Build or load the wav2vec 2.0 encoder for a task whose source is ``source_language``.

    Uses ``cfg.attn_implementation`` (SDPA by default), truncates to ``cfg.num_encoder_layers``,
    sets ``cfg.layerdrop`` if given and, when ``cfg.spec_augment`` is False, switches SpecAugment
    off (``mask_time_prob=0``).
    Random weights come from the global torch RNG: seed it first for reproducible runs.

    Args:
        cfg: The model config.
        source_language: The task's source language (``parse_task(task).source``).

    Returns:
        ``(encoder, info)``: a ``Wav2Vec2Model`` and its :class:`EncoderInfo`.

    Raises:
        EncoderNotFoundError: a hub checkpoint is not cached and cannot be downloaded (offline),
            or a local folder is missing; the message says how to pre-download it.
    """
    name = resolve_checkpoint(cfg, source_language)
    attn = {"attn_implementation": cfg.attn_implementation}
    note = ""
    if name == "tiny":
        kind = "tiny"
        encoder = Wav2Vec2Model._from_config(tiny_wav2vec2_config(cfg), **attn)
        preprocessor = None
    else:
        _check_local_path(name, source_language)
        kind = "random_init" if cfg.random_init else "pretrained"
        if cfg.random_init:  # the architecture only: never download, fall back to the base config
            try:
                config = Wav2Vec2Config.from_pretrained(name, local_files_only=True)
            except OSError:
                config = Wav2Vec2Config()
                note = (
                    f"config.json of {name!r} is not available offline; built the wav2vec2-base "
                    "architecture (Wav2Vec2Config() defaults) with random weights instead"
                )
                logger.warning(note)
            encoder = Wav2Vec2Model._from_config(config, **attn)
        else:
            try:
                encoder = Wav2Vec2Model.from_pretrained(
                    name, local_files_only=_hub_offline(), **attn
                )
            except OSError as e:
                raise EncoderNotFoundError(_how_to_download(name, source_language, e)) from e
        preprocessor = _read_preprocessor_config(name)
    _truncate(encoder, cfg.num_encoder_layers)
    if cfg.layerdrop is not None:
        encoder.config.layerdrop = cfg.layerdrop
    if not cfg.spec_augment:
        encoder.config.apply_spec_augment = False
        encoder.config.mask_time_prob = 0.0
        encoder.config.mask_feature_prob = 0.0
    c = encoder.config
    info = EncoderInfo(
        name=name,
        kind=kind,
        hidden_size=c.hidden_size,
        num_layers=len(encoder.encoder.layers),
        layer_flavour=layer_flavour(encoder),
        feat_extract_norm=c.feat_extract_norm,
        preprocessor_found=preprocessor is not None,
        note=note,
    )
    if preprocessor is not None:
        info.return_attention_mask = bool(preprocessor.get("return_attention_mask", False))
        info.do_normalize = bool(preprocessor.get("do_normalize", True))
        info.sampling_rate = int(preprocessor.get("sampling_rate", 16000))
    return encoder, info


def _truncate(encoder: Wav2Vec2Model, n: int | None) -> None:
    """Keep the first ``n`` layers (Han et al.: ``num_hidden_layers = best_layer + 1``)."""
    if n is None:
        return
    total = len(encoder.encoder.layers)
    if not 1 <= n <= total:
        raise UsageError(f"model.num_encoder_layers={n} must be between 1 and {total}")
    encoder.encoder.layers = nn.ModuleList(list(encoder.encoder.layers)[:n])
    encoder.config.num_hidden_layers = n


def _hub_offline() -> bool:
    """HF offline mode, read at call time (huggingface_hub reads ``HF_HUB_OFFLINE`` at import)."""
    import huggingface_hub.constants

    truthy = {"1", "ON", "YES", "TRUE"}
    env = (os.environ.get(k, "").upper() for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(v in truthy for v in env) or bool(huggingface_hub.constants.HF_HUB_OFFLINE)


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or os.path.isabs(name) or name.count("/") > 1


def _check_local_path(name: str, lang: str) -> None:
    if _looks_like_path(name) and not Path(name).expanduser().is_dir():
        raise EncoderNotFoundError(
            f"encoder folder {name!r} does not exist. Point model.checkpoints.{lang} (or "
            "model.encoder) at a folder holding save_pretrained output (config.json and weights)"
        )


def _read_preprocessor_config(name: str) -> dict | None:
    """``preprocessor_config.json`` of a local folder or a cached hub checkpoint, if any."""
    local = Path(name).expanduser()
    if local.is_dir():
        path = local / "preprocessor_config.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    from transformers.utils import cached_file

    try:
        path = cached_file(
            name,
            "preprocessor_config.json",
            local_files_only=True,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
    except OSError:
        return None
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else None


def _how_to_download(name: str, lang: str, error: Exception) -> str:
    why = "offline mode (HF_HUB_OFFLINE) is on" if _hub_offline() else "it could not be downloaded"
    folder = f"models/{name.rstrip('/').split('/')[-1]}"
    return (
        f"cannot load encoder checkpoint {name!r}: it is not a local folder, not in the "
        f"Hugging Face cache, and {why}.\n"
        f"  On a machine with internet:  huggingface-cli download {name} --local-dir {folder}\n"
        f"  then copy {folder} here and set model.checkpoints.{lang}={folder} "
        f"(or model.encoder={folder});\n"
        "  or fill the cache online once (same HF_HOME) and run with HF_HUB_OFFLINE=1;\n"
        "  or use --random-init (model.random_init=true) for random weights of the architecture.\n"
        f"  ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
    )
