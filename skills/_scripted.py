"""Scripted skills: pick, place, path tracking and straight moves, built from motion phases."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from policywright.sim import GRIPPER_MAX_WIDTH, TabletopWorld
from policywright.skills._base import CONTROL_HZ, ArmAction, ArmObservation, SkillResult

__all__ = [
    "MoveGoal",
    "MoveSkill",
    "PathGoal",
    "PathSkill",
    "PickGoal",
    "PickSkill",
    "PlaceGoal",
    "PlaceSkill",
]

_DT: Final[float] = 1.0 / CONTROL_HZ
#: Average speed of free-space moves (m/s); smoothstep peaks at 1.5x this.
TRANSIT_SPEED: Final[float] = 0.5
#: Average speed of approach/descent moves near objects (m/s).
APPROACH_SPEED: Final[float] = 0.2
PREGRASP_HEIGHT: Final[float] = 0.12
GRASP_DEPTH: Final[float] = 0.005
LIFT_HEIGHT: Final[float] = 0.15
RETREAT_HEIGHT: Final[float] = 0.10
CLOSE_TIME: Final[float] = 0.5
OPEN_TIME: Final[float] = 0.3
_SMOOTHSTEP_PEAK: Final[float] = 1.5
# A pick target this close to the grasp point counts as the object already in the hand.
_ALREADY_HELD_RADIUS: Final[float] = 0.03


def _smoothstep(s: float) -> float:
    s = min(max(s, 0.0), 1.0)
    return s * s * (3.0 - 2.0 * s)


Vec3 = tuple[float, float, float]


def _vec(xyz: Sequence[float] | np.ndarray) -> Vec3:
    a = np.asarray(xyz, dtype=float).reshape(3)
    return (float(a[0]), float(a[1]), float(a[2]))


# ---------------------------------------------------------------------------------------------
# Phases: small state machines; a scripted skill is a queue of them.


@dataclass
class _Ctx:
    """What phases share: the last commanded action (so motion is continuous)."""

    xyz: Vec3
    yaw: float
    width: float
    failure: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


class _Phase:
    def start(self, ctx: _Ctx, obs: ArmObservation) -> None:
        """Called once before the first step."""

    def step(self, ctx: _Ctx, obs: ArmObservation) -> bool:
        """Update ctx's command; return True when the phase is over."""
        raise NotImplementedError


class _Move(_Phase):
    """Smoothstep straight line from the last command to ``to``, then settle."""

    def __init__(
        self,
        to: Vec3,
        speed: float,
        *,
        width: float | None = None,
        yaw: float | None = None,
        tol: float = 0.004,
        settle_max: float = 0.4,
    ) -> None:
        self.to, self.speed, self.width, self.yaw = to, speed, width, yaw
        self.tol, self.settle_max = tol, settle_max

    def start(self, ctx: _Ctx, obs: ArmObservation) -> None:
        self.src = np.asarray(ctx.xyz)
        self.dst = np.asarray(self.to)
        dist = float(np.linalg.norm(self.dst - self.src))
        self.duration = max(dist / self.speed, _DT) if dist > 1e-9 else 0.0
        self.t = 0.0
        self.settle = 0.0
        if self.width is not None:
            ctx.width = self.width
        if self.yaw is not None:
            ctx.yaw = self.yaw

    def step(self, ctx: _Ctx, obs: ArmObservation) -> bool:
        if self.t < self.duration:
            self.t = min(self.t + _DT, self.duration)
            s = _smoothstep(self.t / self.duration)
            ctx.xyz = _vec(self.src + s * (self.dst - self.src))
            return False
        ctx.xyz = self.to
        err = float(np.linalg.norm(np.asarray(obs.ee_pos) - self.dst))
        self.settle += _DT
        return err < self.tol or self.settle >= self.settle_max


class _Hold(_Phase):
    """Keep the pose, set the gripper, wait."""

    def __init__(self, width: float, duration: float) -> None:
        self.width, self.duration = width, duration

    def start(self, ctx: _Ctx, obs: ArmObservation) -> None:
        self.t = 0.0
        ctx.width = self.width

    def step(self, ctx: _Ctx, obs: ArmObservation) -> bool:
        self.t += _DT
        return self.t >= self.duration


class _Track(_Phase):
    """Arc-length-parametrised tracking of a polyline at constant speed."""

    def __init__(self, points: np.ndarray, speed: float) -> None:
        self.points, self.speed = points, speed
        seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
        self.cum = np.concatenate([[0.0], np.cumsum(seg)])
        self.length = float(self.cum[-1])

    def start(self, ctx: _Ctx, obs: ArmObservation) -> None:
        self.s = 0.0
        self.errors: list[float] = []
        self.settle = 0.0

    def _at(self, s: float) -> Vec3:
        s = min(max(s, 0.0), self.length)
        i = int(np.searchsorted(self.cum, s, side="right") - 1)
        i = min(i, len(self.points) - 2)
        seg_len = self.cum[i + 1] - self.cum[i]
        f = 0.0 if seg_len <= 0 else (s - self.cum[i]) / seg_len
        return _vec(self.points[i] + f * (self.points[i + 1] - self.points[i]))

    def step(self, ctx: _Ctx, obs: ArmObservation) -> bool:
        self.errors.append(_distance_to_polyline(np.asarray(obs.ee_pos), self.points))
        if self.s < self.length:
            self.s = min(self.s + self.speed * _DT, self.length)
            ctx.xyz = self._at(self.s)
            return False
        self.settle += _DT
        err = float(np.linalg.norm(np.asarray(obs.ee_pos) - self.points[-1]))
        if err < 0.003 or self.settle >= 0.4:
            errs = np.asarray(self.errors)
            ctx.info.update(
                mean_error_m=float(errs.mean()),
                max_error_m=float(errs.max()),
                path_length_m=self.length,
            )
            return True
        return False


class _Check(_Phase):
    """Fail the skill unless ``predicate(obs)`` returns None."""

    def __init__(self, predicate: Callable[[ArmObservation], str | None]) -> None:
        self.predicate = predicate

    def step(self, ctx: _Ctx, obs: ArmObservation) -> bool:
        ctx.failure = self.predicate(obs)
        return True


def _distance_to_polyline(p: np.ndarray, pts: np.ndarray) -> float:
    a, b = pts[:-1], pts[1:]
    ab = b - a
    denom = np.maximum(np.sum(ab * ab, axis=1), 1e-12)
    t = np.clip(np.sum((p - a) * ab, axis=1) / denom, 0.0, 1.0)
    closest = a + t[:, None] * ab
    return float(np.min(np.linalg.norm(closest - p, axis=1)))


class _ScriptedSkill:
    """Runs a queue of phases; subclasses build the queue in ``_plan``."""

    id: str = "scripted"

    def __init__(self) -> None:
        self._phases: list[_Phase] = []
        self._index = 0
        self._started = False
        self._ctx = _Ctx((0.0, 0.0, 0.0), 0.0, GRIPPER_MAX_WIDTH)
        self._final: SkillResult | None = None

    def _begin(self, world: TabletopWorld, phases: list[_Phase], waypoints: list[Vec3]) -> None:
        arm = world.arm
        # Check the whole plan before anything moves: refusal must come first.
        world.safety.check_path(np.asarray([arm.target_xyz, *waypoints], dtype=float))
        speeds = [ph.speed * _SMOOTHSTEP_PEAK for ph in phases if isinstance(ph, _Move)]
        speeds += [ph.speed for ph in phases if isinstance(ph, _Track)]
        for v in speeds:
            world.safety.check_speed(v)
        self._ctx = _Ctx(arm.target_xyz, arm.target_yaw, arm.gripper_target)
        self._phases = phases
        self._index = 0
        self._started = False
        self._final = None

    def _finish_now(self, result: SkillResult) -> None:
        self._phases = []
        self._index = 0
        self._final = result

    def act(self, obs: ArmObservation) -> ArmAction:
        """Advance the current phase and return the command."""
        while self._index < len(self._phases):
            phase = self._phases[self._index]
            if not self._started:
                phase.start(self._ctx, obs)
                self._started = True
            finished = phase.step(self._ctx, obs)
            if self._ctx.failure is not None:
                self._index = len(self._phases)
                break
            if not finished:
                break
            self._index += 1
            self._started = False
            if isinstance(phase, _Check):
                continue  # checks take no time: go straight to the next phase
            break
        return ArmAction(self._ctx.xyz, self._ctx.yaw, self._ctx.width)

    @property
    def done(self) -> bool:
        """True once every phase has run (or one failed)."""
        return self._final is not None or self._index >= len(self._phases)

    def result(self) -> SkillResult:
        """The outcome of the run."""
        if self._final is not None:
            return self._final
        if self._ctx.failure is not None:
            return SkillResult(status="failed", message=self._ctx.failure, info=self._ctx.info)
        return SkillResult(status="ok", message=self._ok_message(), info=dict(self._ctx.info))

    def _ok_message(self) -> str:
        return f"{self.id} done"


# ---------------------------------------------------------------------------------------------
# Goals and skills


@dataclass(frozen=True)
class PickGoal:
    """Grasp the object whose centre is at ``xyz`` with the gripper at ``yaw``."""

    xyz: Vec3
    yaw: float = 0.0


@dataclass(frozen=True)
class PlaceGoal:
    """Release the held object with the end effector at ``xyz`` (z is the release height)."""

    xyz: Vec3


@dataclass(frozen=True)
class PathGoal:
    """Track the (N, 3) polyline ``points`` at ``speed`` (m/s)."""

    points: tuple[Vec3, ...]
    speed: float = 0.2


@dataclass(frozen=True)
class MoveGoal:
    """Move in a straight line to ``xyz`` at ``speed`` (average, m/s).

    Attributes:
        xyz: Target end-effector position.
        speed: Average speed; the smooth profile peaks at 1.5x.
        yaw: Gripper yaw, None keeps the current one.
        gripper_width: Gripper opening, None keeps the current one.
        via_height: If set and the end effector is lower, rise vertically to it first.
    """

    xyz: Vec3
    speed: float = 0.3
    yaw: float | None = None
    gripper_width: float | None = None
    via_height: float | None = None


def _check_speed_arg(speed: float) -> None:
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be a positive number, got {speed}")


class PickSkill(_ScriptedSkill):
    """Top-down grasp: open, pre-grasp above, descend, close, lift, verify the hold.

    If the hand already holds an object, the skill does not move: it succeeds when the goal is
    that object and fails otherwise (opening would drop it anywhere).
    """

    id = "grasp/scripted-v1"

    def reset(self, world: TabletopWorld, goal: PickGoal) -> None:
        """Plan the grasp; raises SafetyViolation if any waypoint is unsafe."""
        x, y, z = goal.xyz
        start = world.arm.target_xyz
        pre = (x, y, z + PREGRASP_HEIGHT)
        up = (start[0], start[1], max(start[2], pre[2]))
        grasp = (x, y, z - GRASP_DEPTH)
        lift = (x, y, z + LIFT_HEIGHT)
        self._goal = goal

        def verify(obs: ArmObservation) -> str | None:
            if obs.held_object is None:
                return (
                    f"nothing is held after grasping at ({x:.3f}, {y:.3f}, {z:.3f}); "
                    "the object may not be there or it slipped"
                )
            self._ctx.info["held_object"] = obs.held_object
            return None

        phases: list[_Phase] = [
            _Move(up, TRANSIT_SPEED, width=GRIPPER_MAX_WIDTH),
            _Move(pre, TRANSIT_SPEED, yaw=goal.yaw),
            _Move(grasp, APPROACH_SPEED, tol=0.003),
            _Hold(0.0, CLOSE_TIME),
            _Move(lift, APPROACH_SPEED * 1.5, settle_max=0.2),
            _Check(verify),
        ]
        self._begin(world, phases, [up, pre, grasp, lift])
        held = world.arm.held_object()
        if held is not None:
            # A refused place can leave an object in the hand; opening would drop it anywhere.
            ee = world.arm.ee_pos() + np.array([0.0, 0.0, GRASP_DEPTH])
            if float(np.linalg.norm(ee - np.asarray(goal.xyz))) < _ALREADY_HELD_RADIUS:
                self._finish_now(
                    SkillResult(
                        status="ok",
                        message=f"already holding {held}",
                        info={"held_object": held},
                    )
                )
            else:
                self._finish_now(
                    SkillResult(
                        status="failed",
                        message=f"the gripper already holds {held}; place it before picking "
                        "something else",
                        info={"held_object": held},
                    )
                )

    def _ok_message(self) -> str:
        return f"picked {self._ctx.info.get('held_object')}"


class PlaceSkill(_ScriptedSkill):
    """Move above the target, descend to the release height, open, retreat up."""

    id = "place/scripted-v1"

    def reset(self, world: TabletopWorld, goal: PlaceGoal) -> None:
        """Plan the place; fails at once if nothing is held, raises SafetyViolation if unsafe."""
        x, y, z = goal.xyz
        start = world.arm.target_xyz
        transit_z = max(start[2], z + PREGRASP_HEIGHT)
        up = (start[0], start[1], transit_z)
        above = (x, y, transit_z)
        release = (x, y, z)
        retreat = (x, y, z + RETREAT_HEIGHT)
        held = world.arm.held_object()
        self._held = held
        self._begin(world, [], [up, above, release, retreat])
        if held is None:
            self._finish_now(
                SkillResult(status="failed", message="nothing is held; pick an object first")
            )
            return
        self._ctx.info["released_object"] = held

        def verify(obs: ArmObservation) -> str | None:
            if obs.held_object is not None:
                return f"{obs.held_object} is still held after opening the gripper"
            return None

        self._phases = [
            _Move(up, TRANSIT_SPEED),
            _Move(above, TRANSIT_SPEED),
            _Move(release, APPROACH_SPEED, tol=0.004),
            _Hold(GRIPPER_MAX_WIDTH, OPEN_TIME),
            _Move(retreat, APPROACH_SPEED * 1.5, settle_max=0.1),
            _Check(verify),
        ]
        for v in (TRANSIT_SPEED, APPROACH_SPEED * 1.5):
            world.safety.check_speed(v * _SMOOTHSTEP_PEAK)

    def _ok_message(self) -> str:
        return f"placed {self._held}"


class PathSkill(_ScriptedSkill):
    """Move to the first point, then track the polyline at constant speed along its length."""

    id = "path/scripted-v1"

    def reset(self, world: TabletopWorld, goal: PathGoal) -> None:
        """Plan the tracking; raises SafetyViolation for unsafe points, speed or length."""
        pts = np.asarray(goal.points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 3 or pts.shape[0] < 1:
            raise ValueError(f"path points must be an (N, 3) array, got shape {pts.shape}")
        _check_speed_arg(goal.speed)
        if pts.shape[0] == 1:
            pts = np.vstack([pts, pts])
        first = _vec(pts[0])
        phases: list[_Phase] = [_Move(first, min(TRANSIT_SPEED, max(goal.speed, 0.1)))]
        phases.append(_Track(pts, goal.speed))
        self._begin(world, phases, [first, *(_vec(p) for p in pts)])

    def _ok_message(self) -> str:
        info = self._ctx.info
        return (
            f"followed a {info.get('path_length_m', 0.0):.3f} m path; mean tracking error "
            f"{1000 * info.get('mean_error_m', 0.0):.1f} mm"
        )


class MoveSkill(_ScriptedSkill):
    """A straight-line end-effector move (optionally rising vertically first)."""

    id = "move/scripted-v1"

    def reset(self, world: TabletopWorld, goal: MoveGoal) -> None:
        """Plan the move; raises SafetyViolation for an unsafe target or speed."""
        _check_speed_arg(goal.speed)
        start = world.arm.target_xyz
        waypoints: list[Vec3] = []
        phases: list[_Phase] = []
        if goal.via_height is not None and start[2] < goal.via_height:
            rise = (start[0], start[1], goal.via_height)
            waypoints.append(rise)
            phases.append(_Move(rise, min(goal.speed, TRANSIT_SPEED), settle_max=0.0))
        target = _vec(goal.xyz)
        waypoints.append(target)
        phases.append(_Move(target, goal.speed, width=goal.gripper_width, yaw=goal.yaw))
        self._begin(world, phases, waypoints)

    def _ok_message(self) -> str:
        x, y, z = self._ctx.xyz
        return f"moved to ({x:.3f}, {y:.3f}, {z:.3f})"
