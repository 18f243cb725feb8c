"""The six systems of the paper (§3.2): which languages each trains on and which losses it uses.

* ``baseline1``: source only; CE.
* ``baseline2``: source + 3 non-target; CE.
* ``proposed``: source + 3 non-target; CE + w_scl·SCL + w_adv·ADV.
* ``wo_scl``: source + 3 non-target; CE + w_adv·ADV.
* ``wo_adv``: source + 3 non-target; CE + w_scl·SCL.
* ``upper_bound``: target only (not zero-shot); CE.

>>> SYSTEM_SPECS["wo_adv"].use_scl, SYSTEM_SPECS["wo_adv"].use_adv
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SystemSpec:
    name: str
    label: str
    """The name the paper's Table 2 uses."""
    use_scl: bool
    use_adv: bool
    multilingual: bool
    """Trains on the source and the non-target languages (else on one language)."""


SYSTEM_SPECS: dict[str, SystemSpec] = {
    s.name: s
    for s in (
        SystemSpec("baseline1", "Baseline 1", False, False, False),
        SystemSpec("baseline2", "Baseline 2", False, False, True),
        SystemSpec("proposed", "Proposed", True, True, True),
        SystemSpec("wo_scl", "w/o SCL", False, True, True),
        SystemSpec("wo_adv", "w/o ADV", True, False, True),
        SystemSpec("upper_bound", "Upper bound", False, False, False),
    )
}
