"""The skill interface (closed-loop policies) and the loop that runs them."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from policywright.errors import SafetyViolation
from policywright.sim import TabletopWorld

__all__ = [
    "CONTROL_HZ",
    "SUBSTEPS",
    "ArmAction",
    "ArmObservation",
    "Skill",
    "SkillResult",
    "SkillStatus",
    "observe",
    "run_skill",
]

logger = logging.getLogger(__name__)

#: Control rate of skills (Hz); physics runs SUBSTEPS steps per control step.
CONTROL_HZ: Final[int] = 60
SUBSTEPS: Final[int] = 4
# Commanded motion may exceed the nominal speed limit by this factor before it counts as a jump
# (discretisation of smooth profiles at 60 Hz).
_SPEED_SLACK: Final[float] = 1.05

SkillStatus = Literal["ok", "failed", "timeout", "stopped"]
GoalT_contra = TypeVar("GoalT_contra", contravariant=True)


@dataclass(frozen=True)
class ArmObservation:
    """What a skill sees each control step (plain numbers, so a numpy policy can consume it).

    Attributes:
        ee_pos: End-effector position (x, y, z), metres.
        ee_yaw: Gripper yaw about world z, radians.
        gripper_width: Finger opening, metres.
        held_object: Name of the object both fingers touch, or None.
        sim_time: Simulated seconds since the world was built.
    """

    ee_pos: tuple[float, float, float]
    ee_yaw: float
    gripper_width: float
    held_object: str | None
    sim_time: float

    def as_array(self) -> np.ndarray:
        """A flat float vector ``[x, y, z, yaw, width, holding]`` for learned policies."""
        return np.array(
            [*self.ee_pos, self.ee_yaw, self.gripper_width, float(self.held_object is not None)]
        )


@dataclass(frozen=True)
class ArmAction:
    """One control command: an end-effector target, a yaw and a gripper opening.

    Attributes:
        target_xyz: End-effector target position (m).
        yaw: Gripper yaw about world z (rad).
        gripper_width: Finger opening target (m, 0..0.08).
    """

    target_xyz: tuple[float, float, float]
    yaw: float
    gripper_width: float

    @classmethod
    def from_array(cls, vec: np.ndarray) -> ArmAction:
        """Build from ``[x, y, z, yaw, width]`` (the output layout for learned policies)."""
        v = np.asarray(vec, dtype=float).reshape(5)
        return cls((float(v[0]), float(v[1]), float(v[2])), float(v[3]), float(v[4]))


class SkillResult(BaseModel):
    """How a skill run ended.

    Attributes:
        status: "ok", "failed" (the skill detected it could not do its job), "timeout" (sim-time
            budget exhausted) or "stopped" (preempted by ``should_stop``).
        message: Human- and LLM-readable explanation.
        sim_time: Simulated seconds the run took.
        info: Skill-specific measurements (e.g. tracking error, held object).
    """

    model_config = ConfigDict(extra="forbid")

    status: SkillStatus
    message: str = ""
    sim_time: float = 0.0
    info: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the status is "ok"."""
        return self.status == "ok"


@runtime_checkable
class Skill(Protocol[GoalT_contra]):
    """A closed-loop policy over :class:`ArmObservation` -> :class:`ArmAction`.

    ``reset`` may read the world (e.g. the last commanded target) and must raise
    :class:`~policywright.errors.SafetyViolation` for goals it can tell are unsafe, before
    anything moves. ``act`` is called at :data:`CONTROL_HZ` until ``done``.
    """

    id: str

    def reset(self, world: TabletopWorld, goal: GoalT_contra) -> None:
        """Start a new episode towards ``goal``."""
        ...

    def act(self, obs: ArmObservation) -> ArmAction:
        """Return the next action."""
        ...

    @property
    def done(self) -> bool:
        """True when the skill has finished (successfully or not)."""
        ...

    def result(self) -> SkillResult:
        """The outcome; meaningful once ``done``."""
        ...


def observe(world: TabletopWorld) -> ArmObservation:
    """Read the arm's observation from a world."""
    pos = world.arm.ee_pos()
    return ArmObservation(
        ee_pos=(float(pos[0]), float(pos[1]), float(pos[2])),
        ee_yaw=world.arm.ee_yaw(),
        gripper_width=world.arm.gripper_width(),
        held_object=world.arm.held_object(),
        sim_time=world.sim_time,
    )


def run_skill(
    skill: Skill[Any],
    world: TabletopWorld,
    goal: Any,
    *,
    max_sim_s: float = 20.0,
    should_stop: Callable[[], bool] | None = None,
) -> SkillResult:
    """Run a skill in closed loop at 60 Hz (4 physics substeps per action).

    Every action goes through ``world.arm.command`` (safety-checked); a jump between consecutive
    targets faster than the speed limit is refused as well.

    Args:
        skill: The skill.
        world: The world to act in.
        goal: The skill's goal.
        max_sim_s: Budget in simulated seconds (never wall time).
        should_stop: Polled every control step; True preempts the skill ("stopped").

    Returns:
        The skill's result, or a "timeout"/"stopped" result; ``sim_time`` is the run's duration.

    Raises:
        SafetyViolation: the goal or an action breaks a safety limit (the arm keeps its last
            safe target).
    """
    t0 = world.sim_time
    skill.reset(world, goal)
    if should_stop is None:
        should_stop = getattr(world, "stop_check", None)
    # "slower": the same control actions over more physics substeps (more sim time per step).
    scale = min(1.0, max(0.25, float(getattr(world, "motion_scale", 1.0))))
    substeps = max(SUBSTEPS, round(SUBSTEPS / scale))
    dt = 1.0 / CONTROL_HZ
    limit = world.safety.max_speed * _SPEED_SLACK
    while not skill.done:
        elapsed = world.sim_time - t0
        if should_stop is not None and should_stop():
            return SkillResult(
                status="stopped", message=f"{skill.id} stopped on request", sim_time=elapsed
            )
        if elapsed >= max_sim_s:
            return SkillResult(
                status="timeout",
                message=f"{skill.id} did not finish within {max_sim_s:.1f} s of sim time",
                sim_time=elapsed,
            )
        action = skill.act(observe(world))
        target = np.asarray(action.target_xyz, dtype=float)
        world.safety.check_pose(target)
        step = float(np.linalg.norm(target - np.asarray(world.arm.target_xyz)))
        if math.isfinite(step) and step / dt > limit:
            raise SafetyViolation(
                "speed",
                f"{skill.id} commanded a jump of {step:.3f} m in one control step "
                f"({step / dt:.2f} m/s); the limit is {world.safety.max_speed:.2f} m/s",
            )
        world.arm.command(target, action.yaw, action.gripper_width)
        world.step(substeps)
    result = skill.result()
    return result.model_copy(update={"sim_time": world.sim_time - t0})
