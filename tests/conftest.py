"""Shared pytest setup: GPU tests skip themselves without CUDA; torch uses the machine's 2 cores;
one tiny synthetic world for the modules that train on it."""

from __future__ import annotations

import pytest
import torch

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """The manifest of a tiny synthetic world (seed 0), synthesised once per session. Tests may
    write caches beside it but never edit it (they write edited copies under ``tmp_path``)."""
    from xlser.world.synthesis import WorldConfig, synthesize

    out = tmp_path_factory.mktemp("synth")
    return synthesize(out, WorldConfig(scale="tiny"), seed=0, progress=False)
