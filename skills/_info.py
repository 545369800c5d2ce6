"""What a skill registers: :class:`SkillInfo`, and what its evaluation reports.

Built-in skills and third-party ones (entry point group ``policywright.skills``) register the
same way: an entry point names a ``SkillInfo`` or a list of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SkillEvalReport", "SkillInfo"]


class SkillEvalReport(BaseModel):
    """Seeded evaluation of one skill variant.

    Attributes:
        skill_id: The versioned id evaluated.
        trials: Number of seeded trials.
        successes: Trials that met the skill's success criterion.
        precision: Skill-specific precision figure (e.g. mean final error), with ``precision_unit``.
        precision_unit: Unit and meaning of ``precision`` ("mm mean tracking error", ...).
        sim_time_s: Mean simulated seconds per trial.
        details: Extra per-skill figures (fall rate, per-split success, ...).
    """

    model_config = ConfigDict(extra="forbid")

    skill_id: str
    trials: int = Field(ge=0)
    successes: int = Field(ge=0)
    precision: float | None = None
    precision_unit: str = ""
    sim_time_s: float = 0.0
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        """Successes / trials (0 for no trials)."""
        return self.successes / self.trials if self.trials else 0.0


@dataclass(frozen=True)
class SkillInfo:
    """A registered skill variant.

    Attributes:
        id: Versioned id ``"<family>/<variant>-v<N>"``, e.g. ``"grasp/learned-v1"``.
        family: What it does ("grasp", "place", "path", "move", "locomotion", "drive", ...);
            the engine config selects one id per family.
        summary: One line for ``policywright skills list``.
        world: The world kind it runs in ("tabletop", "floor", "mobile").
        factory: Returns a fresh skill instance (loads weights; raises SkillLoadError if the
            weights are missing or corrupt).
        learned: Whether it is a learned policy (else a scripted reference).
        evaluate: ``evaluate(trials, seed) -> SkillEvalReport`` over seeded trials, or None.
        train: ``train(out_dir, seed) -> Path`` reproducing its weights, or None (scripted).
        smoke: ``smoke() -> None`` a short run in a fresh world that raises on failure, used by
            ``check_skill``; None means ``check_skill`` only constructs it. It may return a
            comparable summary of the run (a dict of rounded figures, a ``SkillResult``); then
            ``check_skill`` also requires two runs to return equal summaries (determinism).
        weights: The weights file(s) a learned skill loads (shown by ``policywright skills
            list`` with their size and whether they are present); empty for scripted skills.
    """

    id: str
    family: str
    summary: str
    world: str
    factory: Callable[[], Any]
    learned: bool = False
    evaluate: Callable[[int, int], SkillEvalReport] | None = field(default=None, repr=False)
    train: Callable[..., Any] | None = field(default=None, repr=False)
    smoke: Callable[[], Any] | None = field(default=None, repr=False)
    weights: tuple[Path, ...] = ()
