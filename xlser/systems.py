"""The six systems of the paper (§3.2): what each trains on, what it selects on, which losses it uses.

=================  ==========================  =====================  =============================
system             trains on (train splits)    selects on (val)       objective (eq. 12)
=================  ==========================  =====================  =============================
``baseline1``      source                      source                 CE
``baseline2``      source + 3 non-target       the same               CE
``proposed``       source + 3 non-target       the same               CE + w_scl·SCL + w_adv·ADV
``wo_scl``         source + 3 non-target       the same               CE + w_adv·ADV
``wo_adv``         source + 3 non-target       the same               CE + w_scl·SCL
``upper_bound``    target (not zero-shot)      target                 CE
=================  ==========================  =====================  =============================

Every other module asks a :class:`SystemSpec` (``SYSTEM_SPECS[name]``) instead of testing system
names. Model selection and early stopping use the validation splits of the languages a system
trains on, never the target's unless it trains on the target (Upper bound).

**How to add a system.** Add its name to the :data:`System` ``Literal`` (which gives
``--system`` its choices and lets configs validate it) and one :class:`SystemSpec` line to
:data:`SYSTEM_SPECS`: its Table 2 label, the languages it trains and selects on, and whether its
objective has SCL and ADV. The trainer, the sampler choice, ``grid`` and ``report`` read the spec;
the paper's numbers (:mod:`xlser.paper`) exist only for the paper's six.

>>> SYSTEM_SPECS["wo_adv"].use_scl, SYSTEM_SPECS["wo_adv"].use_adv
(True, False)
>>> from xlser.tasks import parse_task
>>> SYSTEM_SPECS["baseline2"].languages(parse_task("en-de")), SYSTEM_SPECS["upper_bound"].languages(
...     parse_task("en-de"), "val")
(('en', 'zh', 'fr', 'ur'), ('de',))
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any, Literal

from xlser.registry import Registry

__all__ = ["LANGUAGE_SETS", "SYSTEM_SPECS", "LanguageSet", "System", "SystemSpec"]

System = Literal["baseline1", "baseline2", "proposed", "wo_scl", "wo_adv", "upper_bound"]
"""The systems' names, in the order of the paper's Table 2 (``config.system`` takes these)."""

LanguageSet = Literal["source", "source+non_target", "target"]
LANGUAGE_SETS: tuple[str, ...] = typing.get_args(LanguageSet)


@dataclass(frozen=True)
class SystemSpec:
    """What one system trains on, selects on, and optimises (paper §3.2, eq. 12)."""

    name: str
    label: str
    """The name the paper's Table 2 uses."""
    trains_on: LanguageSet
    """Whose train splits it trains on: the source, the source and the non-target languages
    (eq. 1), or the target."""
    selects_on: LanguageSet
    """Whose validation splits choose the checkpoint and stop training early."""
    use_scl: bool
    """Its objective has the language-aware SupCon term ``w_scl·SCL``."""
    use_adv: bool
    """Its objective has the speaker-adversarial term ``w_adv·ADV``."""

    def __post_init__(self) -> None:
        for key in ("trains_on", "selects_on"):
            if getattr(self, key) not in LANGUAGE_SETS:
                raise ValueError(f"SystemSpec {self.name}: {key} must be one of {LANGUAGE_SETS}")
        if self.selects_on == "target" and self.trains_on != "target":
            raise ValueError(
                f"SystemSpec {self.name}: a zero-shot system never selects on the target"
            )

    @property
    def multilingual(self) -> bool:
        """Trains on the source and the non-target languages (else on one language)."""
        return self.trains_on == "source+non_target"

    def languages(self, task: Any, which: Literal["train", "val"] = "train") -> tuple[str, ...]:
        """The languages whose ``which`` split the system uses on ``task``, source first.

        Args:
            task: A :class:`xlser.tasks.Task` (anything with ``source``, ``target``, ``non_target``).
            which: ``"train"`` (:attr:`trains_on`) or ``"val"`` (:attr:`selects_on`).
        """
        chosen = {"train": self.trains_on, "val": self.selects_on}[which]
        return {
            "source": (task.source,),
            "source+non_target": (task.source, *task.non_target),
            "target": (task.target,),
        }[chosen]


def _spec(name, label, trains_on, use_scl=False, use_adv=False) -> SystemSpec:
    return SystemSpec(name, label, trains_on, trains_on, use_scl, use_adv)


SYSTEM_SPECS: Registry[SystemSpec] = Registry(
    "system",
    {
        s.name: s
        for s in (
            _spec("baseline1", "Baseline 1", "source"),
            _spec("baseline2", "Baseline 2", "source+non_target"),
            _spec("proposed", "Proposed", "source+non_target", use_scl=True, use_adv=True),
            _spec("wo_scl", "w/o SCL", "source+non_target", use_adv=True),
            _spec("wo_adv", "w/o ADV", "source+non_target", use_scl=True),
            _spec("upper_bound", "Upper bound", "target"),
        )
    },
    where="the module docstring of xlser.systems",
)
"""Registry: system name -> :class:`SystemSpec`, in the order of :data:`System`."""

if tuple(SYSTEM_SPECS) != typing.get_args(System):  # one list of names, checked at import
    raise RuntimeError("xlser.systems: SYSTEM_SPECS and System must list the same systems in order")
