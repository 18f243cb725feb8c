"""``python -m xlser summary``: the model's trainable parameters by group (peft style).

:func:`summarize` builds the model of a config (:func:`xlser.model.build_model`) and counts its
parameters with :func:`xlser.adapters.trainable_parameters`. With ``--random-init`` the profile's
encoder is built from its config with random weights, so ``--profile full --random-init`` gives
the exact wav2vec2-base counts with nothing downloaded.

The speaker head's size depends on the number of training speakers. Defaults: for ``full``, the
paper's Table 1 count of the task (288 for targets de and zh, 286 for fr;
:data:`xlser.tasks.PAPER_TABLE1`); for ``smoke``, the fixed :data:`SMOKE_N_SPEAKERS` (only a
display default: training sizes the head from the training speakers in its manifest).

>>> from xlser.config import ExperimentConfig
>>> counts = summarize(ExperimentConfig.from_profile("smoke"), n_speakers=64)
>>> [counts[k] for k in ("lora", "adapter", "gate", "emotion_head", "speaker_head")]
[18432, 12512, 128, 260, 33088]
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from xlser.config import ExperimentConfig
from xlser.tasks import PAPER_TABLE1, parse_task

if TYPE_CHECKING:  # transformers is imported only when a model is built
    from xlser.encoder import EncoderInfo

__all__ = ["SMOKE_N_SPEAKERS", "default_n_speakers", "register_cli", "summarize"]

SMOKE_N_SPEAKERS: int = 64
"""Speaker-head size the smoke summary assumes when ``--n-speakers`` is not given."""

JSON_KEYS: tuple[str, ...] = (
    "lora",
    "adapter",
    "gate",
    "emotion_head",
    "speaker_head",
    "trainable",
    "total",
)
"""Keys of ``summary --json`` (plus ``projection`` when the config has a projection head)."""


def default_n_speakers(cfg: ExperimentConfig) -> int:
    """Paper Table 1's #Spk of ``cfg.task`` for ``full``; :data:`SMOKE_N_SPEAKERS` for ``smoke``.

    Example:
        >>> default_n_speakers(ExperimentConfig.from_profile("full", task="en-fr"))
        286
    """
    if cfg.profile == "smoke":
        return SMOKE_N_SPEAKERS
    return PAPER_TABLE1[parse_task(cfg.task).name][1]


def summarize(cfg: ExperimentConfig, n_speakers: int) -> dict[str, int]:
    """Trainable parameters by group of the model ``cfg`` builds (see :func:`trainable_parameters`).

    Args:
        cfg: The experiment config; its encoder is loaded (or built, with ``model.random_init``).
        n_speakers: Size of the speaker head; 0 leaves it out.

    Returns:
        ``{"lora", "adapter", "gate", "emotion_head", "speaker_head", ["projection"], "trainable",
        "total"}`` -> count.
    """
    return _build_and_count(cfg, n_speakers)[0]


def _build_and_count(cfg: ExperimentConfig, n_speakers: int) -> tuple[dict[str, int], EncoderInfo]:
    from xlser.adapters import trainable_parameters
    from xlser.model import build_model

    model = build_model(cfg, n_speakers)
    return trainable_parameters(model), model.info


def _n_speakers(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"--n-speakers takes an integer >= 0, got {value!r}")
    return int(value)


def _run(args: argparse.Namespace) -> int:
    from xlser.cli import config_from_args

    cfg = config_from_args(args)
    if args.random_init:
        cfg.model.random_init = True
    cfg.validate()
    n_speakers = default_n_speakers(cfg) if args.n_speakers is None else args.n_speakers
    counts, info = _build_and_count(cfg, n_speakers)
    if args.json:
        print(json.dumps(counts))
        return 0
    from xlser.adapters import format_trainable_parameters

    print(
        f"profile {cfg.profile}, task {cfg.task}, encoder {info.name} ({info.kind}, "
        f"{info.num_layers} x {info.layer_flavour} layers, D={info.hidden_size}), "
        f"speakers {n_speakers}"
    )
    print(format_trainable_parameters(counts))
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``summary [--profile P] [--config F] [--set K=V] [--task T] [--random-init] [--json]
    [--n-speakers N]`` (the config options are :func:`xlser.cli.add_config_arguments`)."""
    from xlser.cli import config_parent

    p = sub.add_parser(
        "summary",
        help="trainable parameters by group (LoRA, adapter, gates, heads)",
        description=(
            "Build the model of a profile and print its trainable parameters by group, like peft's "
            "print_trainable_parameters."
        ),
        parents=[config_parent(run=("task",))],
    )
    p.add_argument(
        "--random-init",
        action="store_true",
        help="build the profile's encoder from its config with random weights (no download)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object of integer counts")
    p.add_argument(
        "--n-speakers",
        type=_n_speakers,
        default=None,
        help="speaker-head size (default: paper Table 1 for full, "
        f"{SMOKE_N_SPEAKERS} for smoke; 0: no speaker head)",
    )
    p.set_defaults(func=_run)
