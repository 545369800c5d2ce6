"""``grasp/cautious-v1``: a closed-loop grasp written from scratch against the Skill protocol.

Where the scripted grasp replays smooth precomputed moves, this one is a speed-limited
"carrot" controller: every control step it moves the commanded target at most ``v * dt``
towards the current phase's waypoint, and a phase ends when the measured end effector is
there. The descent is slow (5 cm/s), which is what makes it cautious.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from policywright.sim import GRIPPER_MAX_WIDTH, TabletopWorld, sample_scene
from policywright.skills import (
    CONTROL_HZ,
    ArmAction,
    ArmObservation,
    PickGoal,
    SkillEvalReport,
    SkillInfo,
    SkillResult,
    evaluate_grasp,
    run_skill,
)

__all__ = ["SKILL_INFOS", "CautiousGrasp"]

_DT = 1.0 / CONTROL_HZ
_PREGRASP = 0.12  # above the block centre
_DEPTH = 0.005  # grasp this far below the centre
_LIFT = 0.15
_TRANSIT_SPEED = 0.3
_DESCENT_SPEED = 0.05
_LIFT_SPEED = 0.1
_TOL = 0.004
_SETTLE_S = 0.5


class CautiousGrasp:
    """Open, rise, go above the object, descend slowly, close, lift, verify the hold."""

    id = "grasp/cautious-v1"

    def __init__(self) -> None:
        self._phases: list[tuple[str, tuple[float, float, float], float, float]] = []
        self._index = 0
        self._result: SkillResult | None = None

    def reset(self, world: TabletopWorld, goal: PickGoal) -> None:
        """Plan the waypoints and check them all before anything moves."""
        x, y, z = goal.xyz
        start = world.arm.target_xyz
        pre = (x, y, z + _PREGRASP)
        up = (start[0], start[1], max(start[2], pre[2]))
        grasp = (x, y, z - _DEPTH)
        lift = (x, y, z + _LIFT)
        world.safety.check_path(np.asarray([start, up, pre, grasp, lift], dtype=float))
        world.safety.check_speed(_TRANSIT_SPEED)
        # (name, waypoint, speed, gripper width); "close" waits with the gripper shut.
        self._phases = [
            ("rise", up, _TRANSIT_SPEED, GRIPPER_MAX_WIDTH),
            ("above", pre, _TRANSIT_SPEED, GRIPPER_MAX_WIDTH),
            ("descend", grasp, _DESCENT_SPEED, GRIPPER_MAX_WIDTH),
            ("close", grasp, 0.0, 0.0),
            ("lift", lift, _LIFT_SPEED, 0.0),
        ]
        self._index = 0
        self._carrot = np.asarray(start, dtype=float)
        self._yaw = goal.yaw
        self._t_phase = 0.0
        self._result = None
        held = world.arm.held_object()
        if held is not None:
            self._result = SkillResult(
                status="failed", message=f"the gripper already holds {held}; place it first"
            )

    def act(self, obs: ArmObservation) -> ArmAction:
        """Advance the carrot towards the current waypoint; switch phases when it is reached."""
        name, waypoint, speed, width = self._phases[self._index]
        self._t_phase += _DT
        target = np.asarray(waypoint, dtype=float)
        gap = target - self._carrot
        dist = float(np.linalg.norm(gap))
        step = speed * _DT
        self._carrot = target if dist <= step else self._carrot + gap * (step / dist)
        reached = float(np.linalg.norm(np.asarray(obs.ee_pos) - target)) < _TOL
        settled = dist <= step and (reached or self._t_phase > dist / max(speed, 1e-9) + _SETTLE_S)
        if name == "close":
            settled = self._t_phase >= 0.6
        if settled:
            self._index += 1
            self._t_phase = 0.0
            if self._index == len(self._phases):
                self._finish(obs)
        xyz = (float(self._carrot[0]), float(self._carrot[1]), float(self._carrot[2]))
        return ArmAction(xyz, self._yaw, width)

    def _finish(self, obs: ArmObservation) -> None:
        if obs.held_object is None:
            self._result = SkillResult(status="failed", message="nothing is held after the grasp")
        else:
            self._result = SkillResult(
                status="ok",
                message=f"picked {obs.held_object}",
                info={"held_object": obs.held_object},
            )

    @property
    def done(self) -> bool:
        """True once the lift is over (or the grasp was refused)."""
        return self._result is not None

    def result(self) -> SkillResult:
        """How the grasp ended."""
        if self._result is None:
            return SkillResult(status="failed", message="the grasp has not finished")
        return self._result


def _evaluate(trials: int, seed: int) -> SkillEvalReport:
    # The same seeded pick-and-place trials as grasp/scripted-v1, so the two compare fairly.
    return evaluate_grasp(CautiousGrasp.id, trials, seed)


def _smoke() -> dict[str, Any]:
    with TabletopWorld(sample_scene(0)) as world:
        det = world.detect()
        block = sorted(n for n, d in det.items() if d.kind == "block")[0]
        x, y, z = (float(v) for v in det[block].position)
        res = run_skill(CautiousGrasp(), world, PickGoal((x, y, z)))
        if not res.ok or world.arm.held_object() != block:
            raise RuntimeError(f"cautious grasp smoke run failed: {res.message}")
        ee = world.arm.ee_pos()
        return {"sim_time": round(res.sim_time, 6), "ee": [round(float(v), 5) for v in ee]}


#: Named by the entry point ``policywright.skills: example``.
SKILL_INFOS: list[SkillInfo] = [
    SkillInfo(
        id=CautiousGrasp.id,
        family="grasp",
        summary="Closed-loop carrot-controller grasp with a slow 5 cm/s descent (example plugin).",
        world="tabletop",
        factory=CautiousGrasp,
        evaluate=_evaluate,
        smoke=_smoke,
    )
]
