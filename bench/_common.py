"""Shared helpers of the benchmarks: thread setup, interleaved timing, medians and the JSON line.

Every benchmark measures a baseline and a candidate in the same process, interleaved round by round
(so a neighbour's load hits both alike), takes the median of each, prints readable lines and, last,
one JSON line (:func:`emit`) with at least ``bench``, ``baseline``, ``candidate``, ``ratio`` and the
sizes it ran at. Absolute times on a shared machine are noise; the ratio is the figure.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]


def setup(threads: int = 2, seed: int = 0) -> None:
    """Pin the intra-op thread count (the benchmarks' reference machine has 2 cores) and seed."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (Linux), else :func:`platform.processor`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What the figures were measured on (for the JSON line)."""
    return {
        "cpu": cpu_name(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""``wall``: elapsed time. ``cpu``: this process's CPU time (all threads); with one thread it is the
time the work took on a core, unaffected by other processes waiting for the same cores."""


def interleaved(
    fns: dict[str, Callable[[], float | None]],
    repeats: int,
    warmup: int = 1,
    clock: str = "wall",
) -> dict[str, list[float]]:
    """Run each callable ``warmup`` times, then ``repeats`` rounds of one call each, in turn.

    A callable may return its own elapsed seconds (e.g. after a CUDA sync, or scaled from a
    subsample); if it returns None, the ``clock`` time of the call is used.

    Returns:
        ``{name: [seconds per round]}``.
    """
    now = CLOCKS[clock]
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = now()
            own = fn()
            times[name].append(own if own is not None else now() - t)
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float]) -> str:
    """``median [min-max]`` in milliseconds, for the readable lines."""
    return f"{1e3 * median(xs):.2f} ms [{1e3 * min(xs):.2f}-{1e3 * max(xs):.2f}]"


def emit(record: dict[str, Any]) -> None:
    """Print the benchmark's one JSON line; it must be the last line of output."""
    keys = ("bench", "baseline", "candidate", "ratio")
    missing = [k for k in keys if k not in record]
    if missing:
        raise KeyError(f"benchmark JSON line lacks {missing}")
    print(json.dumps({**record, "machine": machine()}, default=_jsonable), flush=True)


def _jsonable(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if hasattr(x, "item"):
        return x.item()
    return str(x)
