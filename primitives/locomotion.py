"""Mid-level language actions for the floor world (A1 quadruped and landmarks).

Each function's signature and docstring are its prompt listing. Frames: the world frame is
metres with z up; the robot's pose is (x, y, heading in degrees, 0 = +x, counter-clockwise
positive). ``walk`` and ``turn`` are relative to the robot: forward is where it faces, left is
its left, positive degrees turn left (counter-clockwise).

Outcomes a program can branch on come back as a string: "ok", or "blocked: <what>" when the
robot touched something or could not arrive in time (it then stands still, upright, where it
stopped). A fall raises an error instead: the program cannot continue, the world must be reset.
"""

from __future__ import annotations

import math
from typing import Final

from policywright.errors import PrimitiveError
from policywright.primitives._context import PrimitiveContext
from policywright.primitives._registry import PrimitiveSpec, primitive
from policywright.primitives._types import Array2, Array3
from policywright.sim import FloorWorld
from policywright.skills import LOCOMOTION_SCRIPTED_ID as SCRIPTED_ID
from policywright.skills import LocoGoal, LocomotionResult, LocomotionSkill

__all__ = ["LOCOMOTION_PRIMITIVES"]

MAX_WALK_M: Final[float] = 5.0
MAX_TURN_DEG: Final[float] = 360.0
MIN_STOP_M: Final[float] = 0.35
MAX_STOP_M: Final[float] = 3.0
#: Landmark centre to robot base distance needed to turn in place without touching it (m).
TURN_CLEARANCE_M: Final[float] = 0.7


def _floor(ctx: PrimitiveContext) -> FloorWorld:
    if not isinstance(ctx.world, FloorWorld):
        raise PrimitiveError(f"this primitive needs the floor world, not {ctx.world.kind!r}")
    return ctx.world


def _run(ctx: PrimitiveContext, goal: LocoGoal, what: str) -> str:
    world = _floor(ctx)
    skill = LocomotionSkill(ctx.skill_id("locomotion", SCRIPTED_ID))
    ctx.invalidate()
    result: LocomotionResult = skill.run(world, goal)
    if result.status == "ok":
        return "ok"
    if result.status == "blocked":
        what_by = ", ".join(result.info.get("blocked_by") or []) or "an obstacle"
        return f"blocked: {what} stopped early, the robot touched {what_by}"
    if result.status == "timeout":
        return f"blocked: {what} did not arrive within {result.sim_time:.0f} s"
    if result.status == "fell":
        raise PrimitiveError(f"{what}: the robot fell over; the world must be reset")
    raise PrimitiveError(f"{what} failed: {result.message}")


def _check_range(name: str, value: float, limit: float) -> None:
    if abs(value) > limit:
        raise PrimitiveError(f"{name}={value} is out of range: |{name}| must be at most {limit}")


@primitive(category="action", worlds=("floor",))
def walk(ctx: PrimitiveContext, forward_m: float, left_m: float = 0.0) -> str:
    """Walk by an offset relative to the robot, keeping its heading (trotting gait).

    Arrives within about 1 cm. If the robot touches something, or cannot arrive in time, it
    stops and stands upright where it is, and the result says "blocked: <what>".
    A fall raises an error: the world must then be reset.

    Args:
        forward_m: metres forward (negative walks backwards), at most 5 in size.
        left_m: metres to the robot's left (negative: right), at most 5 in size.

    Returns:
        "ok", or "blocked: <what>".
    """
    _check_range("forward_m", forward_m, MAX_WALK_M)
    _check_range("left_m", left_m, MAX_WALK_M)
    return _run(ctx, LocoGoal(forward_m=forward_m, left_m=left_m), f"walk({forward_m}, {left_m})")


@primitive(category="action", worlds=("floor",))
def turn(ctx: PrimitiveContext, degrees: float) -> str:
    """Turn in place; positive degrees turn left (counter-clockwise).

    Ends within about 2 degrees. A fall raises an error.

    Args:
        degrees: the angle to turn, at most 360 in size.

    Returns:
        "ok", or "blocked: <what>".
    """
    _check_range("degrees", degrees, MAX_TURN_DEG)
    return _run(ctx, LocoGoal(turn_deg=degrees), f"turn({degrees})")


@primitive(category="action", worlds=("floor",))
def go_to(ctx: PrimitiveContext, landmark: str, stop_distance_m: float = 0.45) -> str:
    """Turn towards a landmark and walk straight to it, stopping short of its centre.

    If it stands too close to a landmark to turn, it first steps away from it. The robot
    ends facing the landmark. The path is a straight line: walk around other
    landmarks yourself (turn/walk) if one is in the way, e.g. after a "blocked" result.
    An unknown landmark or a fall raises an error.

    Args:
        landmark: the landmark's name, e.g. "red landmark".
        stop_distance_m: distance (m) from the landmark's centre to stop at, 0.35 to 3.

    Returns:
        "ok", or "blocked: <what>".
    """
    if not MIN_STOP_M <= stop_distance_m <= MAX_STOP_M:
        raise PrimitiveError(
            f"stop_distance_m={stop_distance_m} is out of range [{MIN_STOP_M}, {MAX_STOP_M}]"
        )
    world = _floor(ctx)
    target = ctx.resolve(landmark)
    lx, ly = target.position[0], target.position[1]
    x, y, yaw = world.robot_pose()
    # Turning in place sweeps the body about 0.35 m around the base: step away from a landmark
    # that close first (after a previous go_to the robot stands 0.45 m from one).
    near = [
        (math.hypot(d.position[0] - x, d.position[1] - y), d) for d in ctx.detections().values()
    ]
    if near:
        dist0, obj = min(near, key=lambda t: t[0])
        if dist0 < TURN_CLEARANCE_M:
            ax, ay = (x - obj.position[0]) / dist0, (y - obj.position[1]) / dist0
            back = TURN_CLEARANCE_M - dist0
            step = LocoGoal(
                forward_m=back * (math.cos(yaw) * ax + math.sin(yaw) * ay),
                left_m=back * (-math.sin(yaw) * ax + math.cos(yaw) * ay),
            )
            status = _run(ctx, step, f"go_to({landmark!r}) stepping away from {obj.name}")
            if status != "ok":
                return status
            x, y, yaw = world.robot_pose()
    bearing = math.degrees(math.atan2(ly - y, lx - x) - yaw)
    bearing = (bearing + 180.0) % 360.0 - 180.0
    if abs(bearing) > 1.0:
        status = _run(ctx, LocoGoal(turn_deg=bearing), f"go_to({landmark!r}) turning")
        if status != "ok":
            return status
    # Re-plan from the pose reached: a leftover heading error becomes a small sideways step.
    x, y, yaw = world.robot_pose()
    dx, dy = lx - x, ly - y
    dist = math.hypot(dx, dy)
    if dist <= stop_distance_m:
        return "ok"
    scale = (dist - stop_distance_m) / dist
    fwd = scale * (math.cos(yaw) * dx + math.sin(yaw) * dy)
    left = scale * (-math.sin(yaw) * dx + math.cos(yaw) * dy)
    return _run(ctx, LocoGoal(forward_m=fwd, left_m=left), f"go_to({landmark!r})")


@primitive(category="action", worlds=("floor",))
def stop(ctx: PrimitiveContext) -> str:
    """Stop walking and stand still (walk/turn/go_to already stop when they return).

    Returns:
        "ok", or what had to be done to bring the robot to rest.
    """
    ctx.invalidate()
    done = _floor(ctx).safe_stop()
    return done or "ok"


@primitive(read_only=True, category="perception", worlds=("floor",))
def get_landmark_names(ctx: PrimitiveContext) -> list[str]:
    """Names of the landmarks the overhead camera detects, e.g. ["blue landmark", "red landmark"].

    Returns:
        The detected names, sorted.
    """
    _floor(ctx)
    return sorted(ctx.detections())


@primitive(read_only=True, category="perception", worlds=("floor",))
def get_landmark_pos(ctx: PrimitiveContext, name: str) -> Array2:
    """Detected xy position of a landmark's centre (world frame, metres).

    Args:
        name: the landmark's name, e.g. "red landmark".

    Returns:
        np.array([x, y]) in metres.
    """
    _floor(ctx)
    pos = ctx.resolve(name).position
    return [float(pos[0]), float(pos[1])]


@primitive(read_only=True, category="query", worlds=("floor",))
def get_robot_pose(ctx: PrimitiveContext) -> Array3:
    """The robot's pose from its odometry.

    Returns:
        np.array([x, y, heading_deg]): metres, and degrees counter-clockwise from +x.
    """
    x, y, yaw = _floor(ctx).robot_pose()
    return [x, y, math.degrees(yaw)]


LOCOMOTION_PRIMITIVES: tuple[PrimitiveSpec, ...] = (
    walk,
    turn,
    go_to,
    stop,
    get_landmark_names,
    get_landmark_pos,
    get_robot_pose,
)
