"""Mobile-manipulation skills: closed-loop base driving and arm pick/place on the moving base.

``drive/scripted-v1`` drives the Husky to a pose: optionally reverse straight out of a dock,
turn toward the goal, drive with heading feedback, turn to the final heading. Skid-steer turning
slips badly in open loop, so every phase closes the loop on the measured pose. A contact with
anything but the floor (or no progress) ends the run as "blocked"; the budget is sim time.

The arm skills are the tabletop ones (``grasp/scripted-v1``, ``place/scripted-v1``) run on the
mobile world: targets stay in the world frame, the safety layer checks them in the arm's frame.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from policywright.errors import SafetyViolation
from policywright.sim._mobile import (
    BASE_FRONT,
    BASE_HALF_WIDTH,
    TABLE_TOP_Z,
    MobileWorld,
    dock_pose,
    sample_mobile,
)
from policywright.sim._scene import BLOCK_SIZE
from policywright.skills._base import CONTROL_HZ, SUBSTEPS, SkillResult, run_skill
from policywright.skills._info import SkillEvalReport, SkillInfo
from policywright.skills._scripted import (
    GRASP_DEPTH,
    TRANSIT_SPEED,
    MoveGoal,
    MoveSkill,
    PickGoal,
    PickSkill,
    PlaceGoal,
    PlaceSkill,
)

__all__ = [
    "SKILL_INFOS",
    "BaseAction",
    "BaseObservation",
    "DriveGoal",
    "DriveResult",
    "DriveSkill",
    "FetchSkill",
    "drive_to",
    "go_to_table",
    "mobile_pick",
    "mobile_place",
    "run_drive",
    "stow_arm",
]

logger = logging.getLogger(__name__)

_DT: Final[float] = 1.0 / CONTROL_HZ
#: Cruise speed (m/s) and turn-rate cap (rad/s) of the drive skill.
CRUISE_SPEED: Final[float] = 0.5
TURN_RATE: Final[float] = 1.2
DRIVE_TURN_RATE: Final[float] = 0.25
POS_TOL: Final[float] = 0.02
YAW_TOL: Final[float] = math.radians(1.0)
#: Radius swept by the chassis corners when turning in place, plus a margin.
TURN_CLEARANCE: Final[float] = math.hypot(BASE_FRONT, BASE_HALF_WIDTH) + 0.1
#: Distance of the pre-dock pose before the dock (room to turn there).
PREDOCK: Final[float] = 0.5
_STALL_S: Final[float] = 1.5
_BLOCKED_SETTLE_STEPS: Final[int] = 120
#: The point the (balanced) base pivots about when it turns in place: measured 2 cm ahead of
#: the base centre over 90-degree turns either way.
PIVOT_AHEAD: Final[float] = 0.02

DriveStatus = Literal["ok", "blocked", "timeout", "stopped"]


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


@dataclass(frozen=True)
class BaseObservation:
    """What the drive skill sees each control step.

    Attributes:
        x: Base x (m, world). y: Base y. yaw: heading (rad).
        v: Forward speed (m/s). w: Turn rate (rad/s).
        contacts: Objects the robot touches (besides the floor and the held block).
        sim_time: Simulated seconds since the world was built.
    """

    x: float
    y: float
    yaw: float
    v: float
    w: float
    contacts: tuple[str, ...]
    sim_time: float


@dataclass(frozen=True)
class BaseAction:
    """Forward speed ``v`` (m/s) and turn rate ``w`` (rad/s)."""

    v: float
    w: float


@dataclass(frozen=True)
class DriveGoal:
    """Drive the base to ``(x, y)``, then (if given) turn to ``yaw``.

    Attributes:
        x: Goal x (m, world).
        y: Goal y.
        yaw: Final heading (rad), None to keep the arrival heading.
        reverse: First back up straight by this distance (leave a dock before turning).
        tol: Position tolerance (m).
    """

    x: float
    y: float
    yaw: float | None = None
    reverse: float = 0.0
    tol: float = POS_TOL


class DriveResult(BaseModel):
    """How a drive ended.

    Attributes:
        status: "ok", "blocked" (touched something or made no progress), "timeout" (sim-time
            budget spent) or "stopped".
        message: Human- and LLM-readable explanation.
        sim_time: Simulated seconds the drive took.
        info: ``position_error_m``, ``yaw_error_deg``, ``contacts``.
    """

    model_config = ConfigDict(extra="forbid")

    status: DriveStatus
    message: str = ""
    sim_time: float = 0.0
    info: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the status is "ok"."""
        return self.status == "ok"


def observe_base(world: MobileWorld) -> BaseObservation:
    """Read the base's observation."""
    x, y, yaw = world.base_pose()
    v, w = world.base_velocity()
    return BaseObservation(x, y, yaw, v, w, tuple(world.robot_contacts()), world.sim_time)


class DriveSkill:
    """Closed-loop go-to-pose for the skid-steer base (reverse, turn, drive, align)."""

    id = "drive/scripted-v1"

    def __init__(self) -> None:
        self._phase = "done"
        self._goal = DriveGoal(0.0, 0.0)
        self._status: DriveStatus = "ok"
        self._message = ""
        self._progress_t = 0.0
        self._best = math.inf
        self._retries = 0
        self._anchor: tuple[float, float] | None = None
        self._backwards = False
        self._last_yaw = 0.0
        self._goal_pivot = (0.0, 0.0)

    def reset(self, world: MobileWorld, goal: DriveGoal) -> None:
        """Start a drive; raises SafetyViolation for a non-finite or out-of-arena goal."""
        world.safety.check_base_target(goal.x, goal.y, goal.yaw)
        if not (math.isfinite(goal.reverse) and 0.0 <= goal.reverse <= 1.5):
            raise SafetyViolation("non-finite", f"reverse distance {goal.reverse} is not valid")
        x, y, yaw = world.base_pose()
        self._goal = goal
        self._start = (x, y, yaw)
        # Where the pivot must end: ahead of the goal along the final heading (or the travel
        # direction when no heading is asked for).
        final = goal.yaw if goal.yaw is not None else math.atan2(goal.y - y, goal.x - x)
        if goal.yaw is None and math.hypot(goal.x - x, goal.y - y) < 0.05:
            final = yaw
        self._goal_pivot = (
            goal.x + PIVOT_AHEAD * math.cos(final),
            goal.y + PIVOT_AHEAD * math.sin(final),
        )
        self._phase = "reverse" if goal.reverse > 0 else "turn"
        self._status, self._message = "ok", ""
        self._progress_t = world.sim_time
        self._best = math.inf
        self._retries = 0
        self._anchor = None
        self._backwards = False
        self._last_yaw = yaw

    @property
    def done(self) -> bool:
        """True once the goal is reached or the drive failed."""
        return self._phase == "done"

    def _fail(self, status: DriveStatus, message: str) -> BaseAction:
        self._phase, self._status, self._message = "done", status, message
        return BaseAction(0.0, 0.0)

    def _travel_heading(self, dx: float, dy: float, dist: float) -> float:
        """The heading to drive on; close goals behind the base are reached in reverse.

        Decided once per approach (in the turn phase) so the choice cannot flip-flop.
        """
        heading = math.atan2(dy, dx)
        if self._phase == "turn":
            yaw = self._last_yaw
            self._backwards = dist < 0.5 and abs(_wrap(heading - yaw)) > 0.75 * math.pi
        return _wrap(heading + math.pi) if self._backwards else heading

    def act(self, obs: BaseObservation) -> BaseAction:
        """The next velocity command."""
        g = self._goal
        if obs.contacts:
            return self._fail("blocked", f"the robot touched {', '.join(obs.contacts)} and stopped")
        # Work on the pivot point: turning in place leaves it (nearly) where it is.
        ch, sh = math.cos(obs.yaw), math.sin(obs.yaw)
        px, py = obs.x + PIVOT_AHEAD * ch, obs.y + PIVOT_AHEAD * sh
        dx, dy = self._goal_pivot[0] - px, self._goal_pivot[1] - py
        dist = math.hypot(dx, dy)
        self._last_yaw = obs.yaw
        # No progress (pushing against something the contacts miss, wheels spinning) -> blocked.
        if self._phase == "drive":
            if dist < self._best - 0.01:
                self._best, self._progress_t = dist, obs.sim_time
            elif obs.sim_time - self._progress_t > _STALL_S:
                return self._fail(
                    "blocked", f"no progress for {_STALL_S:.1f} s, {dist:.2f} m short"
                )
        if self._phase == "reverse":
            sx, sy, syaw = self._start
            back = (obs.x - sx) * math.cos(syaw) + (obs.y - sy) * math.sin(syaw)
            left = g.reverse + back  # back is negative while reversing
            if left <= 0.01:
                self._phase = "turn"
            else:
                yaw_err = _wrap(syaw - obs.yaw)
                return BaseAction(-min(0.3, 1.5 * left + 0.05), float(np.clip(3 * yaw_err, -1, 1)))
        if self._phase == "turn":
            if dist <= g.tol:
                self._phase = "align"
            else:
                err = _wrap(self._travel_heading(dx, dy, dist) - obs.yaw)
                if abs(err) < math.radians(3) and abs(obs.w) < 0.3:
                    self._phase = "drive"
                    self._anchor = None
                    self._best, self._progress_t = dist, obs.sim_time
                else:
                    if self._anchor is None:
                        self._anchor = (px, py)
                    v = 0.0
                    return BaseAction(v, float(np.clip(3.0 * err, -TURN_RATE, TURN_RATE)))
        if self._phase == "drive":
            sign = -1.0 if self._backwards else 1.0
            along = sign * (dx * math.cos(obs.yaw) + dy * math.sin(obs.yaw))
            if along <= 0.004 or dist <= 0.004:
                self._phase = "align"
            else:
                err = _wrap(self._travel_heading(dx, dy, dist) - obs.yaw) if dist > 0.1 else 0.0
                if abs(err) > math.radians(15):
                    # Off course (the tyres slide sideways in curves): stop and turn in place.
                    self._phase, self._anchor = "turn", None
                    return BaseAction(0.0, 0.0)
                cap = CRUISE_SPEED if sign > 0 else 0.3
                v = sign * min(cap, 1.2 * along + 0.04)
                # Gentle steering: a curve at speed makes the base slide outwards.
                return BaseAction(v, float(np.clip(1.5 * err, -DRIVE_TURN_RATE, DRIVE_TURN_RATE)))
        if self._phase == "align":
            if g.yaw is None:
                self._phase = "settle"
            else:
                err = _wrap(g.yaw - obs.yaw)
                if abs(err) < YAW_TOL:
                    self._phase = "settle"
                else:
                    w = float(np.clip(3.0 * err, -TURN_RATE, TURN_RATE))
                    if abs(w) < 0.12:
                        w = math.copysign(0.12, err)  # static friction needs a minimum command
                    return BaseAction(0.0, w)
        if self._phase == "settle":
            if g.yaw is not None and abs(_wrap(g.yaw - obs.yaw)) > 2 * YAW_TOL:
                self._phase = "align"
                return BaseAction(0.0, 0.0)
            if abs(obs.v) < 0.01 and abs(obs.w) < 0.02:
                if dist > max(g.tol, 0.04) and self._retries < 2:
                    # The turn moved the base sideways: approach again.
                    self._retries += 1
                    self._phase, self._anchor = "turn", None
                    return BaseAction(0.0, 0.0)
                self._phase = "done"
            return BaseAction(0.0, 0.0)
        return BaseAction(0.0, 0.0)

    def result(self, obs: BaseObservation) -> DriveResult:
        """The outcome, with the final errors."""
        g = self._goal
        err = math.hypot(g.x - obs.x, g.y - obs.y)
        yaw_err = 0.0 if g.yaw is None else math.degrees(_wrap(g.yaw - obs.yaw))
        info = {
            "position_error_m": err,
            "yaw_error_deg": yaw_err,
            "pose": [obs.x, obs.y, obs.yaw],
            "contacts": list(obs.contacts),
        }
        message = self._message or (
            f"arrived at ({obs.x:.3f}, {obs.y:.3f}), heading {math.degrees(obs.yaw):.1f} deg "
            f"({100 * err:.1f} cm from the goal)"
        )
        return DriveResult(status=self._status, message=message, info=info)


def run_drive(
    skill: DriveSkill, world: MobileWorld, goal: DriveGoal, *, max_sim_s: float | None = None
) -> DriveResult:
    """Run a drive at 60 Hz (4 physics substeps per command), every command safety-checked.

    Args:
        skill: The drive skill.
        world: The mobile world.
        goal: Where to go.
        max_sim_s: Sim-time budget; None allows for the distance and the turns.

    Returns:
        The result; on "blocked" or "timeout" the base is stopped where it is.

    Raises:
        SafetyViolation: the goal is out of the arena or not finite (nothing moved).
    """
    t0 = world.sim_time
    skill.reset(world, goal)
    if max_sim_s is None:
        x, y, _ = world.base_pose()
        dist = math.hypot(goal.x - x, goal.y - y) + goal.reverse
        max_sim_s = 15.0 + 2.5 * dist / CRUISE_SPEED
    obs = observe_base(world)
    try:
        while not skill.done:
            stop = getattr(world, "stop_check", None)
            if stop is not None and stop():
                world.stop_base()
                res = skill.result(observe_base(world))
                return res.model_copy(
                    update={
                        "status": "stopped",
                        "message": f"{skill.id} stopped on request",
                        "sim_time": world.sim_time - t0,
                    }
                )
            if world.sim_time - t0 >= max_sim_s:
                world.stop_base()
                world.step(CONTROL_HZ // 2 * SUBSTEPS)
                res = skill.result(observe_base(world))
                return res.model_copy(
                    update={
                        "status": "timeout",
                        "message": f"{skill.id} did not arrive within {max_sim_s:.1f} s of sim "
                        f"time; {res.info['position_error_m']:.2f} m short",
                        "sim_time": world.sim_time - t0,
                    }
                )
            action = skill.act(obs)
            world.set_base_command(action.v, action.w)
            world.step(SUBSTEPS)
            obs = observe_base(world)
    finally:
        world.stop_base()
        # The held joint targets keep the arm still; refresh the Cartesian target it starts from.
        world.arm.sync_target()
    res = skill.result(obs)
    if res.status != "ok":
        # Let the bump die out so the base stands still when the program reacts.
        world.step(_BLOCKED_SETTLE_STEPS)
    return res.model_copy(update={"sim_time": world.sim_time - t0})


# ----------------------------------------------------------------------------------- helpers


def _undock_distance(world: MobileWorld) -> float:
    """How far to back up before turning: the corners need TURN_CLEARANCE from every table."""
    x, y, yaw = world.base_pose()
    need = 0.0
    for det in world.detect().values():
        if det.kind != "table":
            continue
        x0, y0, _, x1, y1, _ = det.bbox
        # Distance from the base centre to the table's rectangle.
        dist = math.hypot(max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1))
        cx, cy = min(max(x, x0), x1), min(max(y, y0), y1)
        ahead = (cx - x) * math.cos(yaw) + (cy - y) * math.sin(yaw)
        if dist < TURN_CLEARANCE and ahead > 0:
            need = max(need, TURN_CLEARANCE - dist + 0.02)
    return float(min(need, 1.0))


def drive_to(
    world: MobileWorld, x: float, y: float, yaw: float | None = None, *, undock: bool = True
) -> DriveResult:
    """Drive the base to ``(x, y)`` (and heading ``yaw``), backing out of a dock first if needed.

    Raises:
        SafetyViolation: the goal is out of the arena or not finite (nothing moved).
    """
    world.safety.check_base_target(x, y, yaw)
    if world.arm.held_object() is None and _arm_out(world):
        stow_arm(world)
    reverse = _undock_distance(world) if undock else 0.0
    return run_drive(DriveSkill(), world, DriveGoal(float(x), float(y), yaw, reverse=reverse))


def _arm_out(world: MobileWorld) -> bool:
    return bool(np.linalg.norm(world.arm.ee_pos() - np.asarray(world.arm.home_xyz())) > 0.05)


def go_to_table(world: MobileWorld, name: str) -> DriveResult:
    """Dock at a table ("table" or "user table") seen by the cameras: pre-dock, then dock.

    The table's side facing the robot is approached head-on; the bumper stops 8 cm short.

    Raises:
        KeyError: the cameras do not see a table of that name.
        SafetyViolation: the dock is out of the arena (nothing moved).
    """
    det = world.detect()[name]
    if det.kind != "table":
        raise KeyError(name)
    x0, y0, _, x1, y1, _ = det.bbox
    bx, by, _ = world.base_pose()
    dx, dy, dyaw = dock_pose((x0, y0, x1, y1), (bx, by))
    px, py = dx - PREDOCK * math.cos(dyaw), dy - PREDOCK * math.sin(dyaw)
    first = drive_to(world, px, py, dyaw)
    if not first.ok:
        return first
    second = run_drive(DriveSkill(), world, DriveGoal(dx, dy, dyaw))
    return second.model_copy(update={"sim_time": first.sim_time + second.sim_time})


def stow_arm(world: MobileWorld) -> SkillResult:
    """Move the end effector to its rest pose above the base (rise first)."""
    home = world.arm.home_xyz()
    goal = MoveGoal(home, TRANSIT_SPEED, yaw=world.arm.base_yaw(), via_height=home[2] - 0.25)
    return run_skill(MoveSkill(), cast(Any, world), goal)


def mobile_pick(world: MobileWorld, xyz: Any) -> SkillResult:
    """Grasp the block centred at ``xyz`` (world) from where the base stands, then stow.

    Runs ``grasp/scripted-v1`` with the gripper aligned with the base's heading.

    Raises:
        SafetyViolation: a waypoint is out of the arm's reach from here (nothing moved).
    """
    target = tuple(float(v) for v in np.asarray(xyz, dtype=float).reshape(3))
    result = run_skill(
        PickSkill(), cast(Any, world), PickGoal(cast(Any, target), world.arm.base_yaw())
    )
    if not result.ok:
        return result
    stow = stow_arm(world)
    return result.model_copy(update={"sim_time": result.sim_time + stow.sim_time})


def mobile_place(world: MobileWorld, xy: Any) -> SkillResult:
    """Release the held block on the table top at ``xy`` (world), then stow.

    Raises:
        SafetyViolation: a waypoint is out of the arm's reach from here (nothing moved).
    """
    x, y = (float(v) for v in np.asarray(xy, dtype=float).reshape(2))
    z = TABLE_TOP_Z + BLOCK_SIZE / 2 + 0.015 - GRASP_DEPTH
    result = run_skill(PlaceSkill(), cast(Any, world), PlaceGoal((x, y, z)))
    if not result.ok:
        return result
    stow = stow_arm(world)
    return result.model_copy(update={"sim_time": result.sim_time + stow.sim_time})


# ----------------------------------------------------------------------------------- evaluation


def fetch_episode(world: MobileWorld, block: str = "red block") -> dict[str, Any]:
    """Go to the table, pick ``block``, go to the user table, put it down: one seeded trial.

    Returns:
        ``success`` (the block rests on the user table's top), ``sim_time``, ``wall_s``,
        ``stage`` (where it stopped) and the final block position.
    """
    t0, w0 = world.sim_time, time.perf_counter()
    out: dict[str, Any] = {"success": False, "stage": "go_to table"}
    try:
        r = go_to_table(world, "table")
        if r.ok:
            out["stage"] = "pick"
            p = mobile_pick(world, world.detect()[block].position)
            if p.ok:
                out["stage"] = "go_to user"
                r = go_to_table(world, "user table")
                if r.ok:
                    out["stage"] = "place"
                    ut = world.detect()["user table"].position
                    pl = mobile_place(world, ut[:2])
                    out["stage"] = "done" if pl.ok else "place"
    except (SafetyViolation, KeyError) as exc:
        out["error"] = str(exc)
    pos = world.true_poses()[block].position
    x0, y0, x1, y1 = world.table_rect("user table")
    out["success"] = bool(
        x0 <= pos[0] <= x1 and y0 <= pos[1] <= y1 and abs(pos[2] - TABLE_TOP_Z - 0.02) < 0.01
    )
    out.update(sim_time=world.sim_time - t0, wall_s=time.perf_counter() - w0, block=list(pos))
    return out


class FetchSkill:
    """``fetch/scripted-v1``: dock at the table, grasp a block, dock at the user, put it down.

    A composition of ``drive/scripted-v1`` and the tabletop ``grasp``/``place`` skills, used as
    the mobile world's end-to-end reference ("bring me the red block").
    """

    id = "fetch/scripted-v1"

    def run(self, world: MobileWorld, block: str = "red block") -> dict[str, Any]:
        """One fetch; see :func:`fetch_episode`."""
        return fetch_episode(world, block)


def evaluate_drive(trials: int = 10, seed: int = 0) -> SkillEvalReport:
    """Drive to random poses (0.3-1 m away, random final heading); success = within 4 cm and 3°."""
    rng = np.random.default_rng(seed)
    errs, yaw_errs, sims = [], [], []
    ok = 0
    with MobileWorld(sample_mobile(seed)) as world:
        for _ in range(trials):
            world.reset()
            ang = rng.uniform(-math.pi, math.pi)
            # Keep clear of both tables: stay in the open band between them.
            dist = rng.uniform(0.5, 1.0)
            gx, gy = dist * math.cos(ang) * 0.6, dist * math.sin(ang)
            gyaw = float(rng.uniform(-math.pi, math.pi))
            res = run_drive(DriveSkill(), world, DriveGoal(gx, gy, gyaw))
            errs.append(res.info["position_error_m"])
            yaw_errs.append(abs(res.info["yaw_error_deg"]))
            sims.append(res.sim_time)
            ok += int(res.ok and errs[-1] < 0.04 and yaw_errs[-1] < 3.0)
    return SkillEvalReport(
        skill_id=DriveSkill.id,
        trials=trials,
        successes=ok,
        precision=1000 * float(np.mean(errs)) if errs else None,
        precision_unit="mm mean final position error",
        sim_time_s=float(np.mean(sims)) if sims else 0.0,
        details={
            "max_position_error_mm": 1000 * float(np.max(errs)) if errs else None,
            "mean_yaw_error_deg": float(np.mean(yaw_errs)) if yaw_errs else None,
            "max_yaw_error_deg": float(np.max(yaw_errs)) if yaw_errs else None,
        },
    )


def evaluate_fetch(trials: int = 10, seed: int = 0) -> SkillEvalReport:
    """Fetch the red block to the user table in ``trials`` seeded scenes."""
    results = []
    world: MobileWorld | None = None
    try:
        for i in range(trials):
            spec = sample_mobile(seed + i)
            if world is None:
                world = MobileWorld(spec)
            else:
                world.reset(spec)
            results.append(fetch_episode(world))
    finally:
        if world is not None:
            world.close()
    ok = sum(r["success"] for r in results)
    return SkillEvalReport(
        skill_id=FetchSkill.id,
        trials=trials,
        successes=ok,
        sim_time_s=float(np.mean([r["sim_time"] for r in results])) if results else 0.0,
        details={
            "wall_s_mean": float(np.mean([r["wall_s"] for r in results])) if results else 0.0,
            "failed_stages": [r["stage"] for r in results if not r["success"]],
        },
    )


def smoke_drive() -> None:
    """Drive 0.5 m forward in a fresh world; raise if it does not arrive within 3 cm."""
    with MobileWorld(sample_mobile(0)) as world:
        res = run_drive(DriveSkill(), world, DriveGoal(0.5, 0.0, 0.0))
        if not res.ok or res.info["position_error_m"] > 0.03:
            raise RuntimeError(f"drive smoke failed: {res.status}: {res.message}")


def smoke_fetch() -> None:
    """One fetch episode (seed 0); raise unless the red block reaches the user table."""
    with MobileWorld(sample_mobile(0)) as world:
        out = fetch_episode(world)
        if not out["success"]:
            raise RuntimeError(f"fetch smoke failed at {out['stage']}: {out}")


SKILL_INFOS: tuple[SkillInfo, ...] = (
    SkillInfo(
        id=DriveSkill.id,
        family="drive",
        summary="Husky go-to-pose: undock, turn, drive, align, all on measured pose (scripted)",
        world="mobile",
        factory=DriveSkill,
        evaluate=evaluate_drive,
        smoke=smoke_drive,
    ),
    SkillInfo(
        id=FetchSkill.id,
        family="fetch",
        summary="Mobile pick-and-deliver: dock at the table, grasp, dock at the user, place",
        world="mobile",
        factory=FetchSkill,
        evaluate=evaluate_fetch,
        smoke=smoke_fetch,
    ),
)
