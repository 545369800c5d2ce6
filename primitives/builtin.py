"""The built-in tabletop primitive API: what a planner's program can call.

Each function's signature and docstring are its prompt listing (see ``policywright primitives``).
Positions are metres in the world frame: x points away from the robot ("top" is far), y to the
robot's left ("left"). Perception primitives read the cameras (segmentation + depth), never the
simulator's poses.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from policywright.errors import PrimitiveError
from policywright.primitives._context import PrimitiveContext, normalise_name
from policywright.primitives._registry import PrimitiveSpec, primitive
from policywright.primitives._types import XY, XYZ, Array2, Array3, Array4, Array6, Points, Target
from policywright.sim import (
    BOWL_RADIUS,
    LOCATIONS,
    TABLE_Z,
    WORKSPACE,
    nearest_corner,
    nearest_side,
)
from policywright.sim import (
    denormalize_xy as _denormalize_xy,
)
from policywright.sim import (
    normalize_xy as _normalize_xy,
)
from policywright.skills import SkillResult
from policywright.skills import follow_path as _follow_path
from policywright.skills import go_home as _go_home
from policywright.skills import move_ee as _move_ee
from policywright.skills import pick as _pick
from policywright.skills import place as _place

__all__ = ["TABLETOP_PRIMITIVES", "resolve_target_xy"]

#: Code-as-Policies' success thresholds (xy distance) for "on top of".
ON_BOWL_OR_LOCATION_M = 0.06
ON_BLOCK_M = 0.04


#: The slowest speed follow_path accepts (m/s).
MIN_PATH_SPEED = 0.02


def _xy(v: object) -> list[float]:
    arr = np.asarray(v, dtype=float)
    return [float(arr[0]), float(arr[1])]


def _location(name: str) -> tuple[float, float] | None:
    key = normalise_name(name)
    return LOCATIONS.get(key)


def _target_xy(ctx: PrimitiveContext, target: str | list[float]) -> list[float]:
    if isinstance(target, list):
        return [float(target[0]), float(target[1])]
    loc = _location(target)
    if loc is not None:
        return [float(loc[0]), float(loc[1])]
    seen = ctx.before_pick
    if seen is not None:
        # While an object is held above the scene it hides part of what is under it (a bowl
        # it was just lifted from, say) and biases that detection by centimetres. Nothing but
        # the held object moved since the pick, so the view from just before it is the better one.
        key = normalise_name(target)
        held = ctx.tabletop.arm.held_object()
        if key in seen and key != held:
            return _xy(seen[key].position)
    return _xy(ctx.resolve(target).position)


def _check(result: SkillResult, what: str) -> None:
    if result.status != "ok":
        raise PrimitiveError(f"{what} {result.status}: {result.message}")


# --------------------------------------------------------------------------- perception


@primitive(read_only=True, category="perception")
def get_obj_names(ctx: PrimitiveContext) -> list[str]:
    """Names of the objects the cameras detect, e.g. ["red block", "blue bowl"].

    Returns:
        The detected object names, sorted.
    """
    return sorted(ctx.detections())


@primitive(read_only=True, category="perception")
def get_obj_pos(ctx: PrimitiveContext, name: str) -> Array2:
    """Detected xy position of an object's centre.

    Args:
        name: the object's name, e.g. "red block".

    Returns:
        np.array([x, y]) in metres.
    """
    return _xy(ctx.resolve(name).position)


@primitive(read_only=True, category="perception")
def get_obj_pos3d(ctx: PrimitiveContext, name: str) -> Array3:
    """Detected xyz position of an object's centre (z is height in the world frame).

    Args:
        name: the object's name.

    Returns:
        np.array([x, y, z]) in metres.
    """
    return [float(v) for v in ctx.resolve(name).position]


@primitive(read_only=True, category="perception")
def get_bbox(ctx: PrimitiveContext, name: str) -> Array6:
    """Detected axis-aligned bounding box of an object.

    Args:
        name: the object's name.

    Returns:
        np.array([x_min, y_min, z_min, x_max, y_max, z_max]) in metres.
    """
    return [float(v) for v in ctx.resolve(name).bbox]


@primitive(read_only=True, category="perception")
def get_color(ctx: PrimitiveContext, name: str) -> str:
    """The colour word nearest to the object's perceived colour, e.g. "red".

    Args:
        name: the object's name.

    Returns:
        One of blue, red, green, orange, yellow, purple, pink, cyan, brown, gray.
    """
    return str(ctx.resolve(name).color)


@primitive(read_only=True, category="perception")
def is_obj_visible(ctx: PrimitiveContext, name: str) -> bool:
    """Whether the cameras detect an object of that name.

    Args:
        name: the object's name.

    Returns:
        True if it is detected.
    """
    return normalise_name(name) in ctx.detections()


@primitive(read_only=True, category="perception")
def get_ee_pos(ctx: PrimitiveContext) -> Array3:
    """Current position of the end effector (between the fingertips).

    Returns:
        np.array([x, y, z]) in metres.
    """
    return [float(v) for v in ctx.tabletop.arm.ee_pos()]


@primitive(read_only=True, category="perception")
def get_held_object(ctx: PrimitiveContext) -> str | None:
    """The object the gripper holds, or None.

    Returns:
        The held object's name, or None when the gripper is empty.
    """
    return ctx.tabletop.arm.held_object()


@primitive(read_only=True, category="perception")
def is_on(ctx: PrimitiveContext, a: str, b: str) -> bool:
    """Whether object a rests on (or in) b, with Code-as-Policies' thresholds.

    b may be a bowl (a within 6 cm in xy and higher), a block (within 4 cm and higher)
    or a named location (within 6 cm).

    Args:
        a: the object on top, e.g. "red block".
        b: an object or a named location, e.g. "blue bowl" or "top left corner".

    Returns:
        True if a is on b.
    """
    oa = ctx.resolve(a)
    pa = np.asarray(oa.position, dtype=float)
    loc = _location(b)
    if loc is not None:
        return bool(np.hypot(pa[0] - loc[0], pa[1] - loc[1]) < ON_BOWL_OR_LOCATION_M)
    ob = ctx.resolve(b)
    pb = np.asarray(ob.position, dtype=float)
    limit = ON_BLOCK_M if ob.kind == "block" else ON_BOWL_OR_LOCATION_M
    return bool(np.hypot(*(pa[:2] - pb[:2])) < limit and pa[2] > pb[2])


# --------------------------------------------------------------------------- queries


@primitive(read_only=True, category="query")
def get_location_names(ctx: PrimitiveContext) -> list[str]:
    """Names of the table's named locations (corners, sides, middle).

    Returns:
        e.g. ["top left corner", ..., "middle"].
    """
    return list(LOCATIONS)


@primitive(read_only=True, category="query")
def get_location_pos(ctx: PrimitiveContext, name: str) -> Array2:
    """Xy position of a named location, e.g. "top left corner" or "bottom side".

    Args:
        name: one of get_location_names().

    Returns:
        np.array([x, y]) in metres.
    """
    loc = _location(name)
    if loc is None:
        from policywright.errors import UnknownNameError

        raise PrimitiveError(str(UnknownNameError("location", name, list(LOCATIONS))))
    return [float(loc[0]), float(loc[1])]


@primitive(read_only=True, category="query")
def get_corner_name(ctx: PrimitiveContext, pos: XY) -> str:
    """The name of the table corner nearest to a position.

    Args:
        pos: [x, y] in metres.

    Returns:
        e.g. "top left corner".
    """
    return nearest_corner(pos)


@primitive(read_only=True, category="query")
def get_side_name(ctx: PrimitiveContext, pos: XY) -> str:
    """The name of the table side nearest to a position.

    Args:
        pos: [x, y] in metres.

    Returns:
        e.g. "left side".
    """
    return nearest_side(pos)


@primitive(read_only=True, category="query")
def denormalize_xy(ctx: PrimitiveContext, pos: XY) -> Array2:
    """Map normalised workspace coordinates to metres.

    (0, 0) is the bottom left corner (near the robot, on its left) and (1, 1) the top right
    corner; u runs left to right, v bottom to top.

    Args:
        pos: [u, v], each in [0, 1].

    Returns:
        np.array([x, y]) in metres.
    """
    return _xy(_denormalize_xy(pos))


@primitive(read_only=True, category="query")
def normalize_xy(ctx: PrimitiveContext, pos: XY) -> Array2:
    """Map a position in metres to normalised workspace coordinates (inverse of denormalize_xy).

    Args:
        pos: [x, y] in metres.

    Returns:
        np.array([u, v]).
    """
    return _xy(_normalize_xy(pos))


@primitive(read_only=True, category="query")
def get_workspace_bounds(ctx: PrimitiveContext) -> Array4:
    """The workspace rectangle that the named locations span.

    Returns:
        np.array([x_min, y_min, x_max, y_max]) in metres.
    """
    return [float(v) for v in WORKSPACE]


@primitive(read_only=True, category="query")
def shift_target(ctx: PrimitiveContext, target: Target, dx: float, dy: float) -> Array2:
    """The xy of a target moved by an offset (keeps a correction such as "a bit to the left").

    Args:
        target: an object name, a location name or an [x, y] position.
        dx: metres along x (positive = away from the robot, "top").
        dy: metres along y (positive = the robot's left).

    Returns:
        np.array([x, y]).
    """
    x, y = resolve_target_xy(ctx, target)
    return [x + float(dx), y + float(dy)]


def resolve_target_xy(ctx: PrimitiveContext, target: str | list[float]) -> list[float]:
    """The xy a placing primitive would aim at for ``target`` (object, location or xy)."""
    return _target_xy(ctx, target)


# --------------------------------------------------------------------------- actions


def _grasp_yaw(ctx: PrimitiveContext, xyz: list[float]) -> float:
    """Gripper yaw for a top-down grasp at ``xyz``: 0, or radial inside a bowl.

    A block resting off-centre in a bowl has the wall a few cm away; closing the fingers along
    the bowl's radius keeps them off the wall (measured: 15/16 grasps radial vs 14/16 at yaw 0
    over blocks 2-3.5 cm off-centre, and the failures at yaw 0 leave the block on the rim).
    """
    for det in ctx.detections().values():
        if det.kind != "bowl":
            continue
        dx, dy = xyz[0] - det.position[0], xyz[1] - det.position[1]
        r = math.hypot(dx, dy)
        if 0.01 < r < BOWL_RADIUS:
            yaw = math.atan2(dy, dx)
            # The gripper is symmetric under a half turn: keep the yaw in [-pi/2, pi/2).
            return (yaw + math.pi / 2) % math.pi - math.pi / 2
    return 0.0


def _pick_obj(ctx: PrimitiveContext, obj: str | list[float]) -> None:
    if isinstance(obj, list):
        xyz = [float(obj[0]), float(obj[1]), TABLE_Z + 0.02]
    else:
        xyz = [float(v) for v in ctx.resolve(obj).position]
    ctx.tabletop.safety.check_pose(xyz)
    yaw = _grasp_yaw(ctx, xyz)
    before = dict(ctx.detections())
    ctx.invalidate()
    skill_id = ctx.skill_id("grasp", "grasp/scripted-v1")
    _check(_pick(ctx.tabletop, xyz, yaw, skill_id=skill_id), f"pick({obj!r})")
    ctx.before_pick = before


def _place_at(ctx: PrimitiveContext, target: str | list[float]) -> None:
    if ctx.tabletop.arm.held_object() is None:
        raise PrimitiveError("place(): the gripper holds nothing (pick something first)")
    xy = _target_xy(ctx, target)
    ctx.tabletop.safety.check_pose([xy[0], xy[1], TABLE_Z + 0.05])
    ctx.invalidate()
    _check(_place(ctx.tabletop, xy), f"place({target!r})")
    ctx.invalidate()
    ctx.before_pick = None


@primitive(category="action")
def put_first_on_second(ctx: PrimitiveContext, obj: Target, target: Target) -> None:
    """Pick up obj and place it on target; blocks until done.

    Placing on a location or a block that already has something on it stacks on top.

    Args:
        obj: the object to pick, by name (e.g. "red block") or by [x, y] position.
        target: where to put it: an object ("blue bowl"), a location ("top left corner")
            or an [x, y] position.
    """
    _pick_obj(ctx, obj)
    _place_at(ctx, target)


@primitive(category="action")
def pick(ctx: PrimitiveContext, obj: Target) -> None:
    """Grasp an object from above and lift it.

    Args:
        obj: the object to pick, by name or by [x, y] position.
    """
    _pick_obj(ctx, obj)


@primitive(category="action")
def place(ctx: PrimitiveContext, target: Target) -> None:
    """Place the held object on target (releases above whatever is already there).

    Args:
        target: an object name, a location name or an [x, y] position.
    """
    _place_at(ctx, target)


@primitive(category="action")
def move_ee_to(ctx: PrimitiveContext, pos: XYZ) -> None:
    """Move the end effector in a straight line to a position, gripper pointing down.

    Args:
        pos: [x, y, z] in metres (world frame; the table top is at z = 0.625).
    """
    ctx.tabletop.safety.check_pose(pos)
    ctx.invalidate()
    _check(_move_ee(ctx.tabletop, [float(v) for v in pos]), f"move_ee_to({pos!r})")


@primitive(category="action")
def follow_path(
    ctx: PrimitiveContext,
    points: Points,
    height: float = 0.1,
    speed: float = 0.2,
    frame: Literal["table", "image"] = "table",
) -> float:
    """Move the end effector along a path of points, gripper pointing down.

    Args:
        points: with frame="table": [x, y] points (at `height` above the table) or [x, y, z]
            points (world frame), tracked as straight segments. With frame="image": [u, v]
            pixel coordinates in the 320x240 top camera image (u = column from the left edge,
            0..319; v = row from the top edge, 0..239; the robot is at the bottom of the image,
            its left on the image's left, the far side of the table at the top); each pixel is
            mapped to the point `height` above the table that the camera sees there, and the
            path is smoothed (corners rounded) before it is tracked.
        height: height above the table for [x, y] and [u, v] points, in metres.
        speed: speed along the path in m/s.
        frame: "table" (metres) or "image" (top camera pixels).

    Returns:
        The mean cross-track error of the tracked path, in metres.
    """
    if not (math.isfinite(height) and math.isfinite(speed)) or speed <= 0:
        raise PrimitiveError("follow_path(): height and speed must be finite, speed > 0")
    if speed < MIN_PATH_SPEED:
        # The skill's sim-time budget grows as 1/speed: a tiny speed holds the engine (and
        # the robot) for the whole budget while nothing useful moves.
        raise PrimitiveError(
            f"follow_path(): speed must be at least {MIN_PATH_SPEED} m/s (got {speed:g})"
        )
    skill_id = ctx.skill_id("path", "path/scripted-v1")
    world = ctx.tabletop
    world.safety.check_speed(speed)
    if frame == "image":
        if any(len(p) != 2 for p in points):
            raise PrimitiveError('follow_path(frame="image"): points must be [u, v] pixels')
        uvz = [[float(p[0]), float(p[1]), TABLE_Z + height] for p in points]
        ctx.invalidate()
        try:
            result = _follow_path(world, uvz, speed=speed, frame="image", skill_id=skill_id)
        except ValueError as exc:  # a pixel outside the image or off the table
            raise PrimitiveError(f"follow_path(): {exc}") from None
    else:
        xyz = [
            [float(p[0]), float(p[1]), float(p[2]) if len(p) == 3 else TABLE_Z + height]
            for p in points
        ]
        world.safety.check_path(xyz)
        ctx.invalidate()
        result = _follow_path(world, xyz, speed=speed, skill_id=skill_id)
    _check(result, "follow_path()")
    return float(result.info.get("mean_error_m", 0.0))


@primitive(category="action")
def go_home(ctx: PrimitiveContext) -> None:
    """Retract the arm to its home pose, out of the cameras' view."""
    ctx.invalidate()
    _check(_go_home(ctx.tabletop), "go_home()")


# --------------------------------------------------------------------------- communication


@primitive(read_only=True, category="communication", worlds=("*",))
def say(ctx: PrimitiveContext, msg: str) -> None:
    """Tell the user something (shown in the run's output).

    Args:
        msg: the message.
    """
    ctx.say(msg[:500])


@primitive(read_only=True, category="check", worlds=("*",))
def verdict(ctx: PrimitiveContext, success: bool, reason: str) -> None:
    """Report whether the command was achieved (check programs only; call it exactly once).

    Args:
        success: True if the command was achieved.
        reason: what was measured, e.g. "red block is 1.2 cm from the blue bowl's centre".
    """
    ctx.verdicts.append((success, reason[:1000]))


TABLETOP_PRIMITIVES: tuple[PrimitiveSpec, ...] = (
    get_obj_names,
    get_obj_pos,
    get_obj_pos3d,
    get_bbox,
    get_color,
    is_obj_visible,
    get_ee_pos,
    get_held_object,
    is_on,
    get_location_names,
    get_location_pos,
    get_corner_name,
    get_side_name,
    denormalize_xy,
    normalize_xy,
    get_workspace_bounds,
    shift_target,
    put_first_on_second,
    pick,
    place,
    move_ee_to,
    follow_path,
    go_home,
    say,
    verdict,
)
