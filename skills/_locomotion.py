"""Legged locomotion skills for the floor world: a scripted trot and a behaviour-cloned one.

Both variants sit behind one closed-loop wrapper (:func:`run_locomotion`): at 60 Hz it reads the
robot's odometry, turns the remaining error into a velocity command (vx, vy, wz) for the gait,
and watches for trouble:

* contact with anything but the floor, or |roll| / |pitch| > 0.5 rad -> stand still, "blocked";
* the base tipped past 1 rad or on the floor -> "fell" (the world needs ``safe_stop``);
* the sim-time budget spent -> stand still, "timeout";
* a driver that returns NaN / wrong-shaped joint targets -> stand still, "failed".

The variants differ only in who turns (phase, command, proprioception) into 12 joint targets:
``locomotion/scripted-v1`` uses the analytic trot; ``locomotion/learned-v1`` an MLP cloned from
it (``python -m policywright.skills.train_locomotion``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from policywright.errors import SkillLoadError, UnknownNameError
from policywright.sim._a1 import A1, OBS_DIM, wrap_angle
from policywright.sim._floor import FloorSpec, FloorWorld, LandmarkSpec
from policywright.skills._info import SkillEvalReport, SkillInfo
from policywright.skills._mlp import MLP

__all__ = [
    "LEARNED_ID",
    "SCRIPTED_ID",
    "SKILL_INFOS",
    "LocoGoal",
    "LocomotionResult",
    "LocomotionSkill",
    "evaluate_locomotion",
    "run_locomotion",
]

logger = logging.getLogger(__name__)

SCRIPTED_ID: Final = "locomotion/scripted-v1"
LEARNED_ID: Final = "locomotion/learned-v1"
WEIGHTS_PATH: Final = Path(__file__).parent / "weights" / "locomotion_learned_v1.npz"

CONTROL_HZ: Final[int] = 60
SUBSTEPS: Final[int] = 4
#: Top speeds of the wrapper (m/s, rad/s).
V_MAX: Final[float] = 0.4
W_MAX: Final[float] = 1.0
#: Stop when this close (m / rad); braking carries the robot about this much further.
STOP_TOL_M: Final[float] = 0.008
STOP_TOL_RAD: Final[float] = math.radians(1.5)
#: The obstacle guard: tilt beyond this (rad) while walking means something is in the way.
GUARD_TILT_RAD: Final[float] = 0.5
_SETTLE_S: Final[float] = 0.25

LocoStatus = Literal["ok", "blocked", "fell", "timeout", "failed", "stopped"]


@dataclass(frozen=True)
class LocoGoal:
    """Walk by (forward_m, left_m) in the robot's frame, then turn by ``turn_deg``.

    Raises:
        ValueError: A value is NaN or infinite.
    """

    forward_m: float = 0.0
    left_m: float = 0.0
    turn_deg: float = 0.0

    def __post_init__(self) -> None:
        for name in ("forward_m", "left_m", "turn_deg"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"locomotion goal {name} must be a finite number, got {v!r}")

    def budget_s(self) -> float:
        """A generous sim-time budget for this goal (s)."""
        dist = math.hypot(self.forward_m, self.left_m)
        return 4.0 + 3.0 * dist / V_MAX + 2.0 * abs(math.radians(self.turn_deg)) / W_MAX


class LocomotionResult(BaseModel):
    """How a locomotion run ended.

    Attributes:
        status: "ok", "blocked" (touched an obstacle or tilted; the robot stopped upright),
            "fell", "timeout" or "failed" (the policy produced invalid joint targets).
        message: Human- and LLM-readable explanation.
        sim_time: Simulated seconds the run took.
        info: Final errors: ``forward_error_m`` (along the path, + = overshoot),
            ``lateral_error_m``, ``turn_error_deg``; ``blocked_by`` when blocked.
    """

    model_config = ConfigDict(extra="forbid")

    status: LocoStatus
    message: str = ""
    sim_time: float = 0.0
    info: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the status is "ok"."""
        return self.status == "ok"


class LocomotionSkill:
    """A gait driver (scripted or learned) behind the closed-loop locomotion wrapper.

    Args:
        skill_id: :data:`SCRIPTED_ID` or :data:`LEARNED_ID`.
        weights: Weights file for the learned variant (default: the shipped one).

    Raises:
        SkillLoadError: The learned variant's weights are missing, corrupt or do not fit.
        UnknownNameError: Unknown skill id.
    """

    def __init__(self, skill_id: str = SCRIPTED_ID, weights: str | Path | None = None) -> None:
        if skill_id not in (SCRIPTED_ID, LEARNED_ID):
            raise UnknownNameError("locomotion skill", skill_id, [SCRIPTED_ID, LEARNED_ID])
        self.id = skill_id
        self._mlp: MLP | None = None
        if skill_id == LEARNED_ID:
            mlp = MLP.from_npz(weights if weights is not None else WEIGHTS_PATH)
            if mlp.in_dim != OBS_DIM or mlp.out_dim != 12:
                raise SkillLoadError(
                    f"locomotion weights map {mlp.in_dim} -> {mlp.out_dim}; need {OBS_DIM} -> 12"
                )
            self._mlp = mlp

    def driver(self, robot: A1) -> np.ndarray:
        """Joint targets for the robot's current phase, command and proprioception."""
        if self._mlp is None:
            return robot.scripted_targets()
        return np.asarray(self._mlp(robot.observation()), dtype=float)

    def run(
        self, world: FloorWorld, goal: LocoGoal, max_sim_s: float | None = None
    ) -> LocomotionResult:
        """Execute a goal in closed loop; see :func:`run_locomotion`."""
        return run_locomotion(world, goal, skill=self, max_sim_s=max_sim_s)


def _guard(world: FloorWorld) -> tuple[LocoStatus, str] | None:
    if world.fallen:
        return "fell", "the robot fell over"
    touching = world.foreign_contacts()
    if touching:
        return "blocked", f"touched {', '.join(touching)}"
    roll, pitch = world.robot.roll_pitch()
    if max(abs(roll), abs(pitch)) > GUARD_TILT_RAD:
        return "blocked", f"tilted {math.degrees(max(abs(roll), abs(pitch))):.0f} deg"
    return None


def run_locomotion(
    world: FloorWorld,
    goal: LocoGoal,
    *,
    skill: LocomotionSkill | None = None,
    max_sim_s: float | None = None,
) -> LocomotionResult:
    """Walk by ``goal`` (robot frame) then turn, in closed loop on odometry.

    Translation commands the speed ``min(0.4, 1.5 * remaining + 0.05)`` along the path, a
    cross-track correction sideways and ``wz = -2 * heading error`` to hold the start heading.
    Turning commands ``wz = clip(2.5 * error, +-1 rad/s)`` and holds position. Each phase ends by
    switching to the stand pose.

    Args:
        world: The floor world.
        goal: Where to go.
        skill: The gait driver; default the scripted one.
        max_sim_s: Sim-time budget (default :meth:`LocoGoal.budget_s`).

    Returns:
        The result; on anything but "fell" the robot is left standing still.
    """
    sk = skill if skill is not None else LocomotionSkill(SCRIPTED_ID)
    budget = goal.budget_s() if max_sim_s is None else float(max_sim_s)
    robot = world.robot
    t0 = world.sim_time
    x0, y0, yaw0 = robot.pose()
    c0, s0 = math.cos(yaw0), math.sin(yaw0)
    tx = x0 + c0 * goal.forward_m - s0 * goal.left_m
    ty = y0 + s0 * goal.forward_m + c0 * goal.left_m
    dist = math.hypot(goal.forward_m, goal.left_m)
    ux, uy = ((tx - x0) / dist, (ty - y0) / dist) if dist > 1e-9 else (c0, s0)
    yaw_goal = yaw0 + math.radians(goal.turn_deg)

    def errors() -> dict[str, float]:
        x, y, yaw = robot.pose()
        ex, ey = x - tx, y - ty
        return {
            "forward_error_m": ex * ux + ey * uy,
            "lateral_error_m": -ex * uy + ey * ux,
            "turn_error_deg": math.degrees(wrap_angle(yaw - yaw_goal)),
        }

    def finish(status: LocoStatus, message: str, **extra: Any) -> LocomotionResult:
        robot.driver = None
        if status != "fell":
            robot.stand()
            world.step(int(_SETTLE_S * 240))
            if world.fallen:
                status, message = "fell", f"{message}; then the robot fell over"
        info: dict[str, Any] = {**errors(), **extra, "skill_id": sk.id}
        return LocomotionResult(
            status=status, message=message, sim_time=world.sim_time - t0, info=info
        )

    stage = "translate" if dist > 1e-4 else "turn"
    robot.driver = sk.driver
    try:
        while True:
            trouble = _guard(world)
            if trouble is not None:
                status, why = trouble
                return finish(status, f"{sk.id}: {why}", blocked_by=world.foreign_contacts())
            stop = getattr(world, "stop_check", None)
            if stop is not None and stop():
                robot.stand()
                return finish("stopped", f"{sk.id} stopped on request")
            if world.sim_time - t0 >= budget:
                return finish(
                    "timeout", f"{sk.id} did not finish within {budget:.1f} s of sim time"
                )
            x, y, yaw = robot.pose()
            if stage == "translate":
                ex, ey = tx - x, ty - y
                along = ex * ux + ey * uy
                if along <= STOP_TOL_M:
                    robot.stand()
                    world.step(int(_SETTLE_S * 240))
                    if abs(goal.turn_deg) < 1e-6:
                        break
                    stage = "turn"
                    robot.driver = sk.driver
                    continue
                cross = -ex * uy + ey * ux
                v = min(V_MAX, 1.5 * along + 0.05)
                lat = float(np.clip(2.0 * cross, -0.1, 0.1))
                wx, wy = v * ux - lat * uy, v * uy + lat * ux
                vx = math.cos(yaw) * wx + math.sin(yaw) * wy
                vy = -math.sin(yaw) * wx + math.cos(yaw) * wy
                wz = float(np.clip(-2.0 * wrap_angle(yaw - yaw0), -W_MAX, W_MAX))
            else:
                err = wrap_angle(yaw_goal - yaw)
                if abs(err) <= STOP_TOL_RAD:
                    break
                wz = float(np.clip(2.5 * err, -W_MAX, W_MAX))
                vx = vy = 0.0
            robot.set_command(vx, vy, wz)
            try:
                world.step(SUBSTEPS)
            except ValueError as exc:
                return finish("failed", f"{sk.id}: {exc}")
    finally:
        robot.driver = None
    return finish("ok", f"{sk.id}: done")


# --------------------------------------------------------------------------- evaluation


def _eval_world(rng: np.random.Generator) -> FloorWorld:
    yaw = float(rng.uniform(-180.0, 180.0))
    xy = (float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.5, 0.5)))
    return FloorWorld(FloorSpec(robot_xy=xy, robot_yaw_deg=yaw, landmarks=[]))


def evaluate_locomotion(skill_id: str, trials: int = 5, seed: int = 0) -> SkillEvalReport:
    """Seeded trials of ``forward(0.75 m)`` and ``turn(30 deg)`` from random start poses.

    Each trial builds a fresh world (random start pose from ``seed``), walks 0.75 m forward,
    then turns +-30 degrees. A trial succeeds if both end "ok" within 3 cm and 4 degrees.

    Args:
        skill_id: :data:`SCRIPTED_ID` or :data:`LEARNED_ID`.
        trials: Number of trials.
        seed: Seed of the start poses.

    Returns:
        The report: ``precision`` is the mean forward error (cm); ``details`` holds the forward
        and turn errors (mean / max), lateral drift, fall rate and statuses.
    """
    skill = LocomotionSkill(skill_id)
    rng = np.random.default_rng(seed)
    fwd: list[float] = []
    lat: list[float] = []
    turn: list[float] = []
    falls = 0
    successes = 0
    sim_time = 0.0
    statuses: list[str] = []
    for _ in range(trials):
        world = _eval_world(rng)
        try:
            sign = 1.0 if rng.uniform() < 0.5 else -1.0
            r1 = skill.run(world, LocoGoal(forward_m=0.75))
            r2 = skill.run(world, LocoGoal(turn_deg=30.0 * sign)) if r1.status != "fell" else r1
        finally:
            world.close()
        statuses.append(f"{r1.status}/{r2.status}")
        falls += int("fell" in (r1.status, r2.status))
        fe = abs(float(r1.info["forward_error_m"]))
        te = abs(float(r2.info["turn_error_deg"]))
        fwd.append(fe)
        lat.append(abs(float(r1.info["lateral_error_m"])))
        turn.append(te)
        sim_time += r1.sim_time + r2.sim_time
        successes += int(r1.ok and r2.ok and fe <= 0.03 and te <= 4.0)
    n = max(trials, 1)
    return SkillEvalReport(
        skill_id=skill_id,
        trials=trials,
        successes=successes,
        precision=100.0 * float(np.mean(fwd)) if fwd else None,
        precision_unit="cm mean |forward(0.75 m) error|",
        sim_time_s=sim_time / n,
        details={
            "forward_error_cm_mean": 100.0 * float(np.mean(fwd)) if fwd else None,
            "forward_error_cm_max": 100.0 * float(np.max(fwd)) if fwd else None,
            "lateral_drift_cm_max": 100.0 * float(np.max(lat)) if lat else None,
            "turn_error_deg_mean": float(np.mean(turn)) if turn else None,
            "turn_error_deg_max": float(np.max(turn)) if turn else None,
            "fall_rate": falls / n,
            "statuses": statuses,
        },
    )


def _smoke(skill_id: str) -> None:
    world = FloorWorld(FloorSpec())
    try:
        res = LocomotionSkill(skill_id).run(world, LocoGoal(forward_m=0.3))
        if not res.ok or abs(float(res.info["forward_error_m"])) > 0.05:
            raise RuntimeError(f"{skill_id} smoke run failed: {res.status} {res.info}")
    finally:
        world.close()


def _train(out_dir: str | Path | None = None, seed: int = 0) -> Path:
    from policywright.skills.train_locomotion import train

    out = Path(out_dir) / WEIGHTS_PATH.name if out_dir is not None else WEIGHTS_PATH
    return train(out, seed=seed)


def _obstacle_spec(distance_m: float = 0.8) -> FloorSpec:
    """A scene with a 20 cm box straight ahead of the robot (tests and demos)."""
    return FloorSpec(
        landmarks=[
            LandmarkSpec(
                name="brown box",
                kind="box",
                color="brown",
                position=(distance_m, 0.0),
                size=(0.2, 0.6, 0.2),
            )
        ]
    )


SKILL_INFOS: Final[tuple[SkillInfo, ...]] = (
    SkillInfo(
        id=SCRIPTED_ID,
        family="locomotion",
        summary="A1 trot (analytic leg IK) in a closed-loop walk/turn wrapper",
        world="floor",
        factory=lambda: LocomotionSkill(SCRIPTED_ID),
        learned=False,
        evaluate=lambda trials, seed: evaluate_locomotion(SCRIPTED_ID, trials, seed),
        smoke=lambda: _smoke(SCRIPTED_ID),
    ),
    SkillInfo(
        id=LEARNED_ID,
        family="locomotion",
        summary="A1 gait MLP behaviour-cloned from the scripted trot, same closed-loop wrapper",
        world="floor",
        factory=lambda: LocomotionSkill(LEARNED_ID),
        learned=True,
        evaluate=lambda trials, seed: evaluate_locomotion(LEARNED_ID, trials, seed),
        train=_train,
        smoke=lambda: _smoke(LEARNED_ID),
        weights=(WEIGHTS_PATH,),
    ),
)
